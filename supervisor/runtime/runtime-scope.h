/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

/*
 * ccsup-runtime --systemd-cgroup: the container's cgroup is a transient
 * scope of systemd's, "PREFIX-NAME.scope" in SLICE (linux.cgroupsPath
 * "SLICE:PREFIX:NAME"), started with StartTransientUnit (Delegate=yes) around
 * a keeper process, which holds it until the container is in. The container
 * goes into the scope's "container" leaf, below what systemd writes (a
 * daemon-reload rewrites the scope's own memory.max and friends, never those
 * of a delegated subtree); the keeper waits in the "keeper" leaf meanwhile.
 */

/* Starts the scope and waits (up to 5 s) until it is active with the keeper
 * in its keeper leaf: *ret_cgroup is the container's cgroup
 * ("/SLICE/PREFIX-NAME.scope/container"), *ret_keeper the keeper, for
 * runtime_scope_keeper_done(). unified_root: the cgroup2 mount. */
int runtime_scope_start(const char *unit, const char *slice, const char *id, const char *unified_root,
                        char **ret_cgroup, pid_t *ret_keeper, char **ret_error);

/* The keeper killed, reaped, its leaf removed: the scope lives on with the
 * container, or ends if the container is not there. */
void runtime_scope_keeper_done(pid_t keeper, const char *unified_root, const char *container_cgroup);

/* StopUnit, and a wait (up to 2 s) until systemd has forgotten it; quiet
 * when the scope is gone already. */
void runtime_scope_stop(const char *unit);
