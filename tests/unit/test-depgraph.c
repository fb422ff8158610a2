/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the dependency graph (supervisor/daemon/depgraph.c): start waves and
 * cycle detection, every unit of a cycle named. */
#include "depgraph.h"
#include "tap.h"
#include "util.h"

/* Builds a graph from "a:b,c" lines: a is ordered after b and c. */
typedef struct G {
        DepGraph g;
        char **names;
        size_t *deps[16];
        size_t n_deps[16];
} G;

static size_t idx(G *t, const char *n)
{
        for (size_t i = 0; t->names && t->names[i]; i++)
                if (streq(t->names[i], n))
                        return i;
        strv_add(&t->names, n);
        return strv_length(t->names) - 1;
}

static void build(G *t, const char *const *spec)
{
        *t = (G){};
        for (size_t i = 0; spec[i]; i++) {
                const char *colon = strchr(spec[i], ':');
                char *node = xstrndup(spec[i], colon ? (size_t)(colon - spec[i]) : strlen(spec[i]));
                size_t v = idx(t, node);
                free(node);
                if (!colon)
                        continue;
                for (const char *p = colon + 1; *p;) {
                        size_t l = strcspn(p, ",");
                        char *d = xstrndup(p, l);
                        size_t w = idx(t, d);
                        free(d);
                        t->deps[v] = xrealloc(t->deps[v], (t->n_deps[v] + 1) * sizeof(size_t));
                        t->deps[v][t->n_deps[v]++] = w;
                        p += l + (p[l] == ',');
                }
        }
        t->g = (DepGraph){ .n = strv_length(t->names), .names = t->names, .deps = t->deps,
                           .n_deps = t->n_deps };
}

static void done(G *t)
{
        for (size_t i = 0; i < 16; i++)
                free(t->deps[i]);
        strv_free(t->names);
}

int main(void)
{
        G t;
        char **msgs;
        size_t waves[16];

        /* web <- worker, db <- web, cache alone */
        build(&t, (const char *const[]){ "worker:web", "web:db", "db", "cache", "report:db,web", NULL });
        is_int(depgraph_find_cycles(&t.g, &msgs), 0, "acyclic: no cycle");
        strv_free(msgs);
        depgraph_waves(&t.g, waves);
        is_int(waves[idx(&t, "db")], 0, "db: wave 0");
        is_int(waves[idx(&t, "cache")], 0, "cache: wave 0 (in parallel with db)");
        is_int(waves[idx(&t, "web")], 1, "web: wave 1");
        is_int(waves[idx(&t, "worker")], 2, "worker: wave 2");
        is_int(waves[idx(&t, "report")], 2, "report: after db and web: wave 2");
        done(&t);

        build(&t, (const char *const[]){ "a:b", "b:c", "c:a", "d:a", "e", NULL });
        is_int(depgraph_find_cycles(&t.g, &msgs), 3, "a -> b -> c -> a: three units on the cycle");
        is_str(msgs[idx(&t, "a")], "dependency cycle: a -> b -> c -> a", "a names the cycle");
        is_str(msgs[idx(&t, "b")], "dependency cycle: b -> c -> a -> b", "b names the cycle");
        is_str(msgs[idx(&t, "c")], "dependency cycle: c -> a -> b -> c", "c names the cycle");
        ok(!msgs[idx(&t, "d")], "d depends on the cycle but is not on it");
        ok(!msgs[idx(&t, "e")], "e is unrelated");
        strv_free(msgs);
        depgraph_waves(&t.g, waves);
        is_int(waves[idx(&t, "e")], 0, "e still has a wave");
        is_int(waves[idx(&t, "d")], (long long)SIZE_MAX, "d has no wave (behind a cycle)");
        done(&t);

        build(&t, (const char *const[]){ "x:x", "y:z", "z:y", NULL });
        is_int(depgraph_find_cycles(&t.g, &msgs), 3, "self-loop and a 2-cycle");
        is_str(msgs[idx(&t, "x")], "dependency cycle: x -> x", "self-loop named");
        is_str(msgs[idx(&t, "z")], "dependency cycle: z -> y -> z", "2-cycle named");
        strv_free(msgs);
        done(&t);
        return tap_done();
}
