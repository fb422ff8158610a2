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

/* The controllers a container's cgroup may need. On v1 each lives in a
 * hierarchy of its own (or shared: "cpu,cpuacct"); on v2 they are enabled in
 * the ancestors' cgroup.subtree_control. */
typedef enum CgroupController {
        CGROUP_CONTROLLER_CPU,      /* quota, weight */
        CGROUP_CONTROLLER_CPUACCT,  /* v1 usage statistics; v2 has cpu.stat always */
        CGROUP_CONTROLLER_CPUSET,
        CGROUP_CONTROLLER_IO,       /* v2 "io", v1 "blkio" */
        CGROUP_CONTROLLER_MEMORY,
        CGROUP_CONTROLLER_PIDS,
        CGROUP_CONTROLLER_DEVICES,  /* v1 only */
        CGROUP_CONTROLLER_FREEZER,  /* v1 only: race-free kills */
        CGROUP_CONTROLLER_OTHER,    /* any other v1 hierarchy (net_cls, perf_event, ...) */
        _CGROUP_CONTROLLER_MAX,
} CgroupController;

typedef unsigned CgroupMask;
#define CGROUP_MASK(c) (1U << (c))
#define CGROUP_MASK_ALL ((1U << _CGROUP_CONTROLLER_MAX) - 1)
/* What the statistics need on v1 (memory, CPU time, tasks). */
#define CGROUP_MASK_ACCOUNTING                                                        \
        (CGROUP_MASK(CGROUP_CONTROLLER_MEMORY) | CGROUP_MASK(CGROUP_CONTROLLER_CPUACCT) | \
         CGROUP_MASK(CGROUP_CONTROLLER_PIDS))

typedef struct Cgroup {
        CgroupMode mode;
        char *path;       /* relative to each hierarchy root */
        char *unified;    /* absolute directory in the cgroup2 tree; NULL on v1 */
        int unified_fd;   /* O_DIRECTORY fd of unified (for CLONE_INTO_CGROUP); -1 on v1,
                           * and when unified is not a fresh directory */
        char **v1;        /* absolute directories, one per v1 hierarchy joined */
        /* Entries of v1 by controller, NULL where that hierarchy was not
         * joined (or does not exist). */
        char *v1_freezer;
        char *v1_memory;
        char *v1_pids;
        char *v1_cpu;
        char *v1_cpuacct;
        char *v1_cpuset;
        char *v1_blkio;
        char *v1_devices;
} Cgroup;

const char *cgroup_mode_to_string(CgroupMode m);

/* Looks at what is mounted at root (normally /sys/fs/cgroup). */
int cgroup_detect_mode(const char *root, CgroupMode *ret);

/*
 * Creates the cgroup path (and its parents) under root: in the cgroup2 tree
 * (v2, hybrid) and in the v1 hierarchies of the controllers in mask (v1
 * mode always adds the freezer, which kills and tracks there; hybrid tracks
 * and kills in its cgroup2 tree, so a container without limits or
 * accounting joins no v1 hierarchy at all: every v1 migration costs a
 * synchronize_rcu() in the kernel). On v2 it enables the controllers of mask
 * that the hierarchy offers in cgroup.subtree_control of every ancestor of
 * path, from the deepest cgroup that also holds the caller (the delegated
 * root, or the hierarchy's root) down, and does so again on every call: a
 * parent removed and re-created starts with nothing enabled. An existing
 * empty cgroup keeps its v1 directories, but its cgroup2 directory is
 * removed and made anew (a killed one SIGKILLs what is cloned into it);
 * when that fails, unified_fd is -1 and the caller joins it through
 * cgroup_attach(). One that still holds processes gives -EBUSY (a
 * container of that name is already running).
 */
int cgroup_create_with(const char *root, CgroupMode mode, const char *path, CgroupMask mask,
                       Cgroup **ret);
/* The same with every controller (and, on v1, every hierarchy). */
int cgroup_create(const char *root, CgroupMode mode, const char *path, Cgroup **ret);

/*
 * The cgroup path as it exists under root, creating nothing (a container
 * found again after a restart of ccsupd): its cgroup2 directory (v2,
 * hybrid; -ENOENT when missing) and every v1 hierarchy where the path
 * exists. unified_fd is -1: nothing is cloned into an existing cgroup.
 */
int cgroup_open(const char *root, CgroupMode mode, const char *path, Cgroup **ret);

/* The v1 directory of the container for controller c, or NULL. */
const char *cgroup_controller_dir(const Cgroup *cg, CgroupController c);

/*
 * Adds an IN_MODIFY watch on cgroup.events (v2, and hybrid's cgroup2 tree)
 * to inotify_fd and returns its watch descriptor: a "populated" flip makes
 * the fd readable, no polling needed. Read it empty with
 * cgroup_event_drain(), then ask cgroup_is_populated(). -EOPNOTSUPP on v1:
 * poll there (bounded). Use one long-lived inotify fd per process: closing
 * an inotify fd waits for an SRCU grace period (about 10 ms here), removing
 * a watch (inotify_rm_watch(), or the cgroup's rmdir) does not.
 */
int cgroup_watch_populated(const Cgroup *cg, int inotify_fd);
/* Reads everything pending on an fd from this API (inotify or eventfd). */
void cgroup_event_drain(int fd);

/*
 * Writes pid into cgroup.procs of every v1 hierarchy, and of the cgroup2 tree
 * too when with_unified (i.e. when the child was not cloned into it).
 */
int cgroup_attach(const Cgroup *cg, pid_t pid, bool with_unified);
/* Every process of the cgroup (as the tracking tree lists it: cgroup2 on
 * hybrid, the freezer on v1) into each of cg's v1 hierarchies: after a
 * hierarchy was added to a running container's cgroup. */
int cgroup_attach_members(const Cgroup *cg);

/* The cgroup2 path of pid (0: ourselves) from /proc/PID/cgroup's "0::"
 * line ("/system.slice/x.service"), malloc'd; NULL without one. */
char *cgroup_pid_path(pid_t pid);

/* > 0 when any process is in the cgroup (or its children), 0 when empty. */
int cgroup_is_populated(const Cgroup *cg);

/*
 * Sends SIGKILL to every process of the cgroup: cgroup.kill on v2 where the
 * kernel has it, else every pid of cgroup.procs (v1: with the freezer frozen
 * so nothing forks in between). One pass: call again until
 * cgroup_is_populated() says 0.
 */
int cgroup_kill_all(const Cgroup *cg);

/* Freezes (or thaws) every process of the cgroup: cgroup.freeze in the
 * cgroup2 tree (pure v2 and hybrid hosts), the v1 freezer on v1 hosts; returns once the kernel says it is
 * done. -EOPNOTSUPP where neither exists. cgroup_is_frozen: 1, 0, <0. */
int cgroup_freeze(const Cgroup *cg, bool freeze);
int cgroup_is_frozen(const Cgroup *cg);

/* Sends sig to every process listed in the cgroup (no freezing). */
int cgroup_signal_all(const Cgroup *cg, int sig);

/*
 * Removes the cgroup from every hierarchy (child cgroups first). -EBUSY
 * while the kernel still holds it (a moment after the last process died):
 * the caller retries from a timer.
 */
int cgroup_remove(Cgroup *cg);

/*
 * One step of getting rid of a dead container's cgroup: SIGKILL to what is
 * left in it, else its removal. 0 once it is gone; -EAGAIN while processes
 * remain (just killed: call again once they are gone); -EBUSY while the
 * kernel still holds it for a moment (call again soon); else -errno.
 */
int cgroup_reap(Cgroup *cg);

/* Removes the parent of cg's path from the hierarchies cg is in, if it has
 * neither processes nor children (rmdir semantics): where a container is
 * the last of its parent, the parent goes with it. */
int cgroup_remove_parent(const Cgroup *cg);

/* Removes path from every hierarchy of mode if it has neither processes nor
 * children (rmdir semantics); never creates anything. */
int cgroup_remove_if_empty(const char *root, CgroupMode mode, const char *path);

/*
 * Limits: -EOPNOTSUPP when the controller (or its interface file) is not
 * available for this cgroup: the caller names the controller in its error.
 * Values of UINT64_MAX mean "max"/unlimited. On v1 and hybrid they go to the
 * v1 hierarchies (create the cgroup with their controllers in the mask).
 */
int cgroup_set_memory_max(const Cgroup *cg, uint64_t bytes);
/* v2 only (memory.high); -EOPNOTSUPP on v1, which has no equivalent. */
int cgroup_set_memory_high(const Cgroup *cg, uint64_t bytes);
/* v2: memory.swap.max. v1: memory.memsw.limit_in_bytes = memory_max + swap
 * (memory and swap together; needs swap accounting), memory_max being the
 * limit given to cgroup_set_memory_max() (UINT64_MAX: none). */
int cgroup_set_memory_swap_max(const Cgroup *cg, uint64_t swap, uint64_t memory_max);
/* Percent of one CPU in basis points (50% = 5000), over a 100 ms period:
 * v2 cpu.max, v1 cpu.cfs_quota_us/cpu.cfs_period_us. */
int cgroup_set_cpu_quota(const Cgroup *cg, uint64_t basis_points);
/* quota_usec (UINT64_MAX: none; CGROUP_CPU_QUOTA_KEEP: the quota it has)
 * of CPU time per period_usec, as given. */
#define CGROUP_CPU_QUOTA_KEEP (UINT64_MAX - 1)
int cgroup_set_cpu_max(const Cgroup *cg, uint64_t quota_usec, uint64_t period_usec);
/* v1 cpu.shares as given (2 at least); v2 cpu.weight = shares * 100 / 1024
 * (the default 1024 shares is the default weight 100). */
int cgroup_set_cpu_shares(const Cgroup *cg, uint64_t shares);
/* 1..10000 (default 100): v2 cpu.weight, v1 cpu.shares = weight * 1024 / 100. */
int cgroup_set_cpu_weight(const Cgroup *cg, uint64_t weight);
/* A CPU list ("0-1,3"): cpuset.cpus. */
int cgroup_set_cpuset(const Cgroup *cg, const char *cpus);
int cgroup_set_pids_max(const Cgroup *cg, uint64_t n);
/* 1..10000: v2 io.weight, else io.bfq.weight (1..1000, scaled); v1
 * blkio.weight, else blkio.bfq.weight (BFQ, 1..1000, scaled). */
int cgroup_set_io_weight(const Cgroup *cg, uint64_t weight);
/* One device's I/O limit, rule "KIND MAJOR:MINOR VALUE" with KIND rbps, wbps,
 * riops, wiops (v2 io.max, v1 blkio.throttle.*_device) or weight (v2
 * io.weight, else io.bfq.weight; v1 blkio.weight_device, else
 * blkio.bfq.weight_device). -EINVAL for a malformed rule. */
int cgroup_set_io_device(const Cgroup *cg, const char *rule);

/*
 * The device allowlist: every device node is denied (EPERM on open and
 * mknod) but those of the rules ("c 1:3 rwm", "b 7:0 r", "c 136:* rw").
 * Where the cgroup has a cgroup2 directory (v2, hybrid) a
 * BPF_PROG_TYPE_CGROUP_DEVICE program attached to it (replacing one of an
 * earlier start), else the v1 devices controller (create the cgroup with it
 * in the mask). -EOPNOTSUPP without either; -EINVAL for a bad rule. When
 * the verifier refuses the program, *ret_log (if given) may get its words.
 */
int cgroup_set_devices(const Cgroup *cg, char *const *allow, char **ret_log);

/* ---- OOM kills ---- */

/* How many processes of the cgroup the OOM killer has killed: v2
 * memory.events "oom_kill", v1 memory.oom_control "oom_kill" (Linux 4.13).
 * -EOPNOTSUPP without a memory controller. */
int cgroup_get_oom_kills(const Cgroup *cg, uint64_t *ret);

/*
 * An fd that becomes readable when an OOM event may have happened: v2 an
 * inotify fd watching memory.events; v1 an eventfd registered through
 * cgroup.event_control for memory.oom_control. Non-blocking, CLOEXEC, owned
 * by the caller; read it empty with cgroup_event_drain(), then compare
 * cgroup_get_oom_kills() with its value at start. (The v2 inotify fd may be
 * replaced by a watch on the caller's shared inotify fd: the file is
 * memory.events in cg->unified.) -EOPNOTSUPP without a memory controller.
 */
int cgroup_oom_fd(const Cgroup *cg);

/* ---- statistics ---- */

typedef struct CgroupStats {
        /* UINT64_MAX where unknown (controller not joined, file absent) */
        uint64_t memory_current;  /* v2 memory.current, v1 memory.usage_in_bytes */
        uint64_t memory_peak;     /* v2 memory.peak (Linux 5.19), v1 memory.max_usage_in_bytes */
        uint64_t tasks_current;   /* pids.current, else the number of cgroup.procs lines */
        uint64_t cpu_usage_nsec;  /* v2 cpu.stat usage_usec * 1000, v1 cpuacct.usage */
} CgroupStats;

/* Fills every figure it can find; never fails. */
void cgroup_get_stats(const Cgroup *cg, CgroupStats *ret);

Cgroup *cgroup_free(Cgroup *cg);
static inline void cgroup_freep(Cgroup **cg) { cgroup_free(*cg); }
