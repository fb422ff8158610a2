/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "depgraph.h"

#include "util.h"

/* Tarjan's strongly connected components, recursive: the depth is bounded by
 * the number of units. */
typedef struct Tarjan {
        const DepGraph *g;
        size_t *index, *low, *stack, *scc;
        bool *on_stack;
        size_t next_index, sp, n_scc;
} Tarjan;

static void strongconnect(Tarjan *t, size_t v)
{
        t->index[v] = t->low[v] = t->next_index++;
        t->stack[t->sp++] = v;
        t->on_stack[v] = true;

        for (size_t k = 0; k < t->g->n_deps[v]; k++) {
                size_t w = t->g->deps[v][k];
                if (t->index[w] == SIZE_MAX) {
                        strongconnect(t, w);
                        if (t->low[w] < t->low[v])
                                t->low[v] = t->low[w];
                } else if (t->on_stack[w] && t->index[w] < t->low[v])
                        t->low[v] = t->index[w];
        }
        if (t->low[v] != t->index[v])
                return;
        size_t w;
        do {
                w = t->stack[--t->sp];
                t->on_stack[w] = false;
                t->scc[w] = t->n_scc;
        } while (w != v);
        t->n_scc++;
}

/* The shortest path v -> ... -> v inside v's component, as a message. */
static char *cycle_message(const DepGraph *g, const size_t *scc, size_t v)
{
        _cleanup_free_ size_t *prev = xcalloc(g->n, sizeof(size_t));
        _cleanup_free_ size_t *queue = xcalloc(g->n + 1, sizeof(size_t));
        size_t head = 0, tail = 0, last = SIZE_MAX;

        for (size_t i = 0; i < g->n; i++)
                prev[i] = SIZE_MAX;
        queue[tail++] = v;
        while (head < tail && last == SIZE_MAX) {
                size_t u = queue[head++];
                for (size_t k = 0; k < g->n_deps[u]; k++) {
                        size_t w = g->deps[u][k];
                        if (scc[w] != scc[v])
                                continue;
                        if (w == v) {
                                last = u;
                                break;
                        }
                        if (prev[w] == SIZE_MAX) {
                                prev[w] = u;
                                queue[tail++] = w;
                        }
                }
        }
        /* Walk back from last to v, then print forwards. */
        size_t len = 0;
        for (size_t u = last; u != v; u = prev[u])
                queue[len++] = u;
        _cleanup_strv_free_ char **parts = NULL;
        strv_add(&parts, g->names[v]);
        while (len > 0)
                strv_add(&parts, g->names[queue[--len]]);
        strv_add(&parts, g->names[v]);
        _cleanup_free_ char *path = strv_join(parts, " -> ");
        return xasprintf("dependency cycle: %s", path);
}

size_t depgraph_find_cycles(const DepGraph *g, char ***ret_messages)
{
        Tarjan t = { .g = g };
        size_t *scc_size, n_cyclic = 0;
        char **msgs = xcalloc(g->n + 1, sizeof(char *));

        t.index = xcalloc(g->n, sizeof(size_t));
        t.low = xcalloc(g->n, sizeof(size_t));
        t.stack = xcalloc(g->n, sizeof(size_t));
        t.scc = xcalloc(g->n, sizeof(size_t));
        t.on_stack = xcalloc(g->n, sizeof(bool));
        for (size_t i = 0; i < g->n; i++)
                t.index[i] = SIZE_MAX;
        for (size_t i = 0; i < g->n; i++)
                if (t.index[i] == SIZE_MAX)
                        strongconnect(&t, i);

        scc_size = xcalloc(t.n_scc + 1, sizeof(size_t));
        for (size_t i = 0; i < g->n; i++)
                scc_size[t.scc[i]]++;
        for (size_t v = 0; v < g->n; v++) {
                bool self = false;
                for (size_t k = 0; k < g->n_deps[v]; k++)
                        self = self || g->deps[v][k] == v;
                if (scc_size[t.scc[v]] < 2 && !self)
                        continue;
                msgs[v] = cycle_message(g, t.scc, v);
                n_cyclic++;
        }
        free(scc_size);
        free(t.index);
        free(t.low);
        free(t.stack);
        free(t.scc);
        free(t.on_stack);
        *ret_messages = msgs;
        return n_cyclic;
}

static size_t wave_of(const DepGraph *g, size_t v, size_t *ret, unsigned char *mark)
{
        if (mark[v] == 2)
                return ret[v];
        if (mark[v] == 1)
                return SIZE_MAX; /* on a cycle */
        mark[v] = 1;
        size_t w = 0;
        for (size_t k = 0; k < g->n_deps[v]; k++) {
                size_t d = wave_of(g, g->deps[v][k], ret, mark);
                if (d == SIZE_MAX) {
                        w = SIZE_MAX;
                        break;
                }
                if (d + 1 > w)
                        w = d + 1;
        }
        mark[v] = 2;
        return ret[v] = w;
}

void depgraph_waves(const DepGraph *g, size_t *ret)
{
        _cleanup_free_ unsigned char *mark = xcalloc(g->n + 1, 1);

        for (size_t v = 0; v < g->n; v++)
                wave_of(g, v, ret, mark);
}
