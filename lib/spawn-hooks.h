/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * runtime-spec hooks (config.json `hooks`): programs run at points of a
 * container's life, each with the container's state JSON on its standard
 * input. Where each kind runs (see ccsup-runtime(8)):
 *
 *   prestart, createRuntime  spawn_container(), in the runtime's namespaces,
 *                            once the child's namespaces exist and before
 *                            it sets up its root (status "creating")
 *   createContainer          the child, in the container's namespaces, its
 *                            mounts made, right before pivot_root; the path
 *                            is a host path (status "creating")
 *   startContainer           the child, after `start`, as the container's
 *                            process (its user, capabilities, seccomp) right
 *                            before execve; the path inside the container
 *                            (status "created")
 *   poststart, poststop      ccsup-runtime, in its own namespaces
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef enum SpawnHookKind {
        SPAWN_HOOK_PRESTART,
        SPAWN_HOOK_CREATE_RUNTIME,
        SPAWN_HOOK_CREATE_CONTAINER,
        SPAWN_HOOK_START_CONTAINER,
        SPAWN_HOOK_POSTSTART,
        SPAWN_HOOK_POSTSTOP,
        _SPAWN_HOOK_MAX,
} SpawnHookKind;

typedef struct SpawnHook {
        char *path;      /* absolute */
        char **argv;     /* NULL: { path } */
        char **env;      /* NULL: empty */
        unsigned timeout; /* seconds; 0: none */
} SpawnHook;

typedef struct SpawnHooks {
        SpawnHook *list[_SPAWN_HOOK_MAX];
        size_t n[_SPAWN_HOOK_MAX];
} SpawnHooks;

/* "createRuntime", as config.json spells it. */
const char *spawn_hook_kind_to_string(SpawnHookKind k);
SpawnHookKind spawn_hook_kind_from_string(const char *s);

void spawn_hooks_done(SpawnHooks *h);
bool spawn_hooks_any(const SpawnHooks *h, SpawnHookKind k);

/* The state JSON a hook reads: head is the state object without its closing
 * brace and without status and pid (spawn_prepare_oci() makes it). */
char *spawn_hook_state(const char *head, const char *status, pid_t pid);

/* Runs one hook to its end (or its timeout: then SIGKILL) with state on its
 * standard input; fails unless it exits with status 0. *ret_error then says
 * why, with the start of what the hook wrote to stdout and stderr. */
int spawn_run_hook(const SpawnHook *h, const char *state, char **ret_error);

/* The hooks of kind k in order, stopping at the first that fails:
 * "`hooks.createRuntime[0]` `/usr/bin/x`: exited with status 1: ...". */
int spawn_run_hooks(const SpawnHooks *h, SpawnHookKind k, const char *state, char **ret_error);
