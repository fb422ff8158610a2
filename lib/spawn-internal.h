/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Shared by spawn.c (launching a container) and spawn-exec.c (running a
 * command in a running one): the plan, the sync protocol and the child's
 * setup steps. Not an API: everything else goes through spawn.h.
 */

#include "spawn-hooks.h"
#include <stdint.h>

#include "image.h"
#include "rootfs.h"
#include "spawn.h"
#include "userns.h"
#include "util.h"

#define SPAWN_MESSAGE_MAX 4096

struct SpawnPlan {
        char *name;
        RootfsPlan rootfs;
        char **argv;
        char **env;
        char *working_directory;
        char *hostname;
        ImageUser user;
        /* A layered image: User= is resolved by the child in the merged
         * tree (spawn_child_resolve_user()), from these. */
        bool user_in_child;
        bool regular_files_only;   /* SpawnOptions.regular_files_only */
        char *user_spec, *group_spec;
        char **supplementary_groups;
        bool home_from_user;      /* no HOME in Env/Environment=: the user's */
        int stop_signal;
        SpawnImageHealth image_health; /* the image's Healthcheck */
        mode_t umask;
        RlimitSpec limits[_UNIT_LIMIT_MAX];
        uint64_t caps;            /* the bounding set */
        uint64_t ambient_caps;    /* AmbientCapabilities=: a non-root user's */
        /* ccsup-runtime: process.capabilities' other sets, applied as
         * given (caps_set_all()) instead of from the rule of
         * caps_for_user(); the kernel's execve does the rest. */
        bool caps_as_given;
        uint64_t cap_effective, cap_permitted, cap_inheritable;
        int last_cap;
        int oom_score_adjust;
        bool no_new_privileges;
        bool own_netns;           /* a new one, with lo up */
        int netns_fd;             /* borrowed (SpawnOptions): join it; -1 = none */
        /* SpawnOptions.netns_ready: called with the child's own netns */
        int (*netns_ready)(void *data, int netns_fd, char **ret_error);
        void *netns_ready_data;
        bool init;
        int listen_fds[SPAWN_LISTEN_MAX]; /* borrowed (SpawnOptions): become fds 3... */
        size_t n_listen_fds;
        SeccompProfile *seccomp_owned;
        const SeccompProfile *seccomp; /* NULL = unconfined */
        int stdio[3];
        char *cgroup_root, *cgroup_path;
        /* ccsup-runtime --systemd-cgroup: linux.cgroupsPath SLICE:PREFIX:NAME
         * as the scope PREFIX-NAME.scope in SLICE; cgroup_path is NULL until
         * the runtime has started it (spawn_plan_set_cgroup_path()). */
        char *systemd_slice, *systemd_unit;
        CgroupMode cgroup_mode;
        CgroupMask cgroup_mask;   /* controllers the container's cgroup needs */
        int staging_lock;         /* flock()ed fd of rootfs.staging */
        uint64_t memory_max, memory_high, memory_swap_max, cpu_quota, cpu_weight, pids_max,
                io_weight;
        /* ccsup-runtime's linux.resources.cpu as given: quota (UINT64_MAX:
         * none) per period in microseconds, and shares; 0: not given */
        uint64_t cpu_max_quota, cpu_max_period, cpu_shares;
        char *cpuset;
        char **device_rules;      /* the device allowlist ("c 1:3 rwm"); NULL: Privileged=yes */
        /* per-device I/O limits ("rbps 8:0 1048576", cgroup_set_io_device()),
         * each with the name its error says (io_device_keys[i]) */
        char **io_device_rules, **io_device_keys;
        const char *io_weight_key; /* the name of io_weight in errors; NULL: IOWeight= */
        char **warnings;
        bool no_clone3;
        /* UserNamespace= (spawn-userns.c): the range, and the host paths
         * the parent brings in idmapped (layers, volumes, Bind=...:idmap). */
        bool userns;
        UsernsRange userns_range;
        /* ccsup-runtime's linux.uidMappings/gidMappings, as written to
         * uid_map and gid_map; NULL: "0 BASE COUNT" of the range (which is
         * then the entry of container ID 0). The engine made the root's
         * owners fit: nothing is idmapped. */
        char *userns_uid_map, *userns_gid_map;
        /* Host paths the parent hands over as detached trees (idmapped or
         * not), each attached by the child at tree_targets[i] under
         * RUNTIME/containers/NAME.trees while it is still host root, so
         * that no host directory on the way needs to let the range in.
         * A Devices= node enters as a copy (TREE_NODE): devtmpfs cannot be
         * idmapped, so the parent makes a node of the same device and mode,
         * its owner mapped into the range, on a detached tmpfs of its own
         * (made by host root, so not nodev; reachable from no host path),
         * and hands over that one file. */
        char **tree_sources, **tree_targets;
        enum { TREE_PLAIN, TREE_IDMAP, TREE_NODE } *tree_kind;
        char *trees_dir;
        /* Image trees whose IDs are not known yet (a directory image, a
         * store layer seen first): the parent scans them after the
         * release, while the child builds its root, and the child waits
         * for the verdict (a byte 'k') right before it drops privileges.
         * scan_state_dir: SpawnOptions.state_dir, for check_ids()'s cache. */
        char **scan_paths;
        char *scan_state_dir;
        /* ccsup-runtime create, and ccsupd's prelaunch (SpawnOptions.hold):
         * once set up, the child says so on the sync socket
         * (spawn_read_result() gives 1) and waits, right before execve, in
         * an open for writing of the FIFO that start_fd (O_PATH, above the
         * listen fds) refers to, until `start` (or ccsupd's release) opens
         * it for reading. */
        bool wait_start;
        int start_fd;
        /* process.terminal: a connected unix socket (--console-socket). The
         * child opens a pty in the container's own /dev/pts once its root is
         * set up, sends the master over it (SCM_RIGHTS, as runc does) and
         * makes the slave its stdio and controlling terminal. -1: none
         * (plan_new() leaves 0: console is only read with terminal set). */
        bool terminal;
        int console_fd;
        /* spawn_exec_detached(): the command outlives the relay and the
         * caller (no parent-death signal); the relay reports its PID. */
        bool exec_detach;
        /* Namespaces joined by path (setns() right after clone): uts, ipc. */
        int join_ns_fd[2], join_ns_type[2];
        size_t n_join_ns;
        /* config.json hooks (spawn-hooks.h): prestart and createRuntime run
         * by spawn_container() before it releases the child, createContainer
         * by the child before pivot_root, startContainer by the child after
         * `start`, right before execve; NULL: none. hook_state_head: the
         * state JSON without status and pid; host_pid: the child's PID as
         * the runtime sees it (read by the child from the host's /proc). */
        SpawnHooks *hooks;
        char *hook_state_head;
        pid_t host_pid;
};

int spawn_userns_prepare(SpawnPlan *p, const UnitConfig *c, const SpawnOptions *o, char **ret_error);
/* ccsup-runtime: the root and every bind source enter as plain trees under
 * STAGING.trees; top (its --root) is made searchable down to there. */
int spawn_userns_prepare_oci(SpawnPlan *p, const char *top, char **ret_error);
int spawn_userns_release(const SpawnPlan *p, pid_t pid, int pidfd, int sock, char **ret_error);
/* After the release: scan_paths checked, the child told to go on. */
int spawn_userns_verdict(const SpawnPlan *p, int sock, char **ret_error);
/* In the child, before it drops privileges: waits for the verdict. */
void spawn_userns_child_wait_verdict(const SpawnPlan *p, int fd);
/* Child: waits for the release, attaches the trees, rewrites its copy of the
 * plan to use them, becomes root of its user namespace. */
void spawn_userns_child_enter(SpawnPlan *p, int fd);
void spawn_userns_cleanup(const SpawnPlan *p);
void spawn_userns_plan_done(SpawnPlan *p);

/* One message of the sync protocol, child to parent. error is a positive
 * errno; spawn_exec() adds SPAWN_ERROR_COMMAND when the command itself could
 * not be executed (not found, not executable), and its relay ends with a
 * SpawnExecStatus instead. */
typedef struct SpawnMessage {
        int32_t error;
        char text[SPAWN_MESSAGE_MAX];
} SpawnMessage;

#define SPAWN_ERROR_COMMAND 0x10000

/* ---- the child's steps (after clone, never returning on failure) ---- */

/* Sends (-r, msg) on sync_fd and exits with SPAWN_EXIT_SETUP. */
_Noreturn void spawn_child_fail(int sync_fd, int r, char *msg);
#define spawn_child_failf(fd, r, ...) spawn_child_fail(fd, r, xasprintf(__VA_ARGS__))

/* dup2()s the three fds onto 0, 1, 2 (whatever numbers they have). */
int spawn_setup_stdio(const int stdio[3]);
/* The plan's cgroup limits (and device rules) written to cg; the first that
 * fails names its key and controller in *ret_error. */
int spawn_apply_limits(const SpawnPlan *p, const Cgroup *cg, char **ret_error);
/* Every signal to SIG_DFL, none blocked. */
void spawn_reset_signals(void);
int spawn_apply_rlimits(const RlimitSpec *limits);
/* execvp()'s lookup through PATH of env (not of the caller's environ):
 * -ENOENT not found, -EACCES found but not executable. */
int spawn_find_command(const char *cmd, char *const *env, char **ret);
/* A layered image: User= from /etc/passwd and /etc/group of the current root. */
void spawn_child_resolve_user(SpawnPlan *p, int fd);
void spawn_child_enter_workdir(const SpawnPlan *p, int fd);
/* OOMScoreAdjust= into /proc/self/oom_score_adj, while the process still has
 * CAP_SYS_RESOURCE (needed to go below ccsupd's own) and sees the host's /proc. */
void spawn_child_set_oom_score(const SpawnPlan *p, int fd);
/* Bounding set, seccomp (without NoNewPrivs), user, capabilities (caps_for_user()),
 * NoNewPrivs. */
void spawn_child_drop_privileges(const SpawnPlan *p, uint64_t caps, int fd);
/* The last steps before execve: every fd above 2 CLOEXEC, then the seccomp
 * filter when no-new-privs allows loading it unprivileged. */
void spawn_child_seal(const SpawnPlan *p, int fd);
/* process.terminal: a pty of the devpts at /dev/ptmx, its master sent over
 * p->console_fd, its slave our stdio and controlling terminal (after
 * setsid()). */
void spawn_child_setup_terminal(const SpawnPlan *p, int fd);

/* clone3(CLONE_PIDFD | ns, into cgroup_fd when >= 0), else clone() +
 * pidfd_open(): 0 in the child, the PID in the parent (*ret_clone3 says
 * whether the child was born in cgroup_fd's cgroup), or -errno. */
pid_t spawn_clone(uint64_t ns, bool no_clone3, int cgroup_fd, int *ret_pidfd, bool *ret_clone3);
