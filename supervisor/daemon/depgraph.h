/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The ordering graph of the units (UNITS.md, [Unit]): node i is ordered after
 * every node of deps[i] (After=, Requires= and Wants=, resolved to indices;
 * names of missing units are left out by the caller). Pure logic, no I/O.
 */

#include <stddef.h>

typedef struct DepGraph {
        size_t n;
        char *const *names;      /* for messages */
        size_t *const *deps;     /* deps[i]: n_deps[i] indices */
        const size_t *n_deps;
} DepGraph;

/*
 * Finds every dependency cycle. Returns a vector of n entries: for a node on
 * a cycle, a message naming one cycle through it ("dependency cycle: a -> b
 * -> a", read "a is ordered after b"), NULL for every other node. Returns the
 * number of nodes on cycles.
 */
size_t depgraph_find_cycles(const DepGraph *g, char ***ret_messages);

/*
 * The start wave of each node of an acyclic graph: 0 for a node without
 * dependencies, else 1 + the highest wave of its dependencies. Nodes of one
 * wave may start in parallel; shutdown runs the waves backwards. Nodes on a
 * cycle get (size_t)-1. ret must hold n entries.
 */
void depgraph_waves(const DepGraph *g, size_t *ret);
