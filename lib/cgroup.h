/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One cgroup per container, whatever the host's hierarchy layout:
 *
 *   v2      one cgroup2 tree at the root: tracking, limits and kills;
 *   hybrid  cgroup2 at ROOT/unified for tracking (CLONE_INTO_CGROUP,
 *           "populated") and v1 controllers at ROOT/<controller> for limits
 *           and kills;
 *   v1      v1 controllers only (the freezer for kills, cgroup.procs for
 *           "populated").
 *
 * Paths given to this API ("/ccsup/web.ctr") are relative to the root of
 * each hierarchy. Nothing here logs; every failing call returns -errno.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CGROUP_ROOT_DEFAULT "/sys/fs/cgroup"

typedef enum CgroupMode {
        CGROUP_MODE_V1,
        CGROUP_MODE_HYBRID,
        CGROUP_MODE_V2,
        _CGROUP_MODE_MAX,
} CgroupMode;

typedef struct Cgroup {
        CgroupMode mode;
        char *path;       /* relative to each hierarchy root */
        char *unified;    /* absolute directory in the cgroup2 tree; NULL on v1 */
        int unified_fd;   /* O_DIRECTORY fd of unified (for CLONE_INTO_CGROUP); -1 on v1 */
        char **v1;        /* absolute directories, one per v1 controller hierarchy */
        char *v1_freezer; /* entry of v1, or NULL */
        char *v1_memory;
        char *v1_pids;
} Cgroup;

const char *cgroup_mode_to_string(CgroupMode m);

/* Looks at what is mounted at root (normally /sys/fs/cgroup). */
int cgroup_detect_mode(const char *root, CgroupMode *ret);

/*
 * Creates the cgroup path (and its parents) in every hierarchy of mode under
 * root. An existing empty cgroup is reused; one that still holds processes
 * gives -EBUSY (a container of that name is already running).
 */
int cgroup_create(const char *root, CgroupMode mode, const char *path, Cgroup **ret);

/*
 * Writes pid into cgroup.procs of every v1 hierarchy, and of the cgroup2 tree
 * too when with_unified (i.e. when the child was not cloned into it).
 */
int cgroup_attach(const Cgroup *cg, pid_t pid, bool with_unified);

/* > 0 when any process is in the cgroup (or its children), 0 when empty. */
int cgroup_is_populated(const Cgroup *cg);

/*
 * Sends SIGKILL to every process of the cgroup: cgroup.kill on v2 where the
 * kernel has it, else every pid of cgroup.procs (v1: with the freezer frozen
 * so nothing forks in between). One pass: call again until
 * cgroup_is_populated() says 0.
 */
int cgroup_kill_all(const Cgroup *cg);

/* Sends sig to every process listed in the cgroup (no freezing). */
int cgroup_signal_all(const Cgroup *cg, int sig);

/*
 * Removes the cgroup from every hierarchy (child cgroups first). -EBUSY
 * while the kernel still holds it (a moment after the last process died):
 * the caller retries from a timer.
 */
int cgroup_remove(Cgroup *cg);

/* Removes path from every hierarchy of mode if it has neither processes nor
 * children (rmdir semantics); never creates anything. */
int cgroup_remove_if_empty(const char *root, CgroupMode mode, const char *path);

/* Limits: -EOPNOTSUPP when the controller is not available. Values of
 * UINT64_MAX mean "max". */
int cgroup_set_memory_max(const Cgroup *cg, uint64_t bytes);
int cgroup_set_pids_max(const Cgroup *cg, uint64_t n);

Cgroup *cgroup_free(Cgroup *cg);
static inline void cgroup_freep(Cgroup **cg) { cgroup_free(*cg); }
