/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Launching a container, asynchronously.
 *
 *   spawn_prepare()    everything that can be decided before a process
 *                      exists: image, user and groups, environment, mounts,
 *                      capabilities, the seccomp BPF (from the cache in
 *                      RUNTIME_DIR/cache when it is there). Reads files; no
 *                      fork. Locks the unit's staging directory
 *                      RUNTIME_DIR/containers/NAME for as long as the plan
 *                      lives: a second start of the same name (another
 *                      ccsupd, a --run) fails with -EBUSY before touching
 *                      anything of the first.
 *   spawn_container()  creates the container's cgroup, clones the child into
 *                      its namespaces (and, where the kernel can, straight
 *                      into the cgroup), finishes cgroup placement, then
 *                      releases the child. Never waits for the child.
 *
 * The caller then watches two fds on its loop:
 *   sync_fd  readable once: spawn_read_result() gives 0 when the command was
 *            executed (EOF: the child's CLOEXEC end closed on execve), or
 *            -errno and the child's message ("bind `/x`: No such file or
 *            directory") when setup failed; the child has then exited.
 *   pidfd    readable when the container's PID 1 ended: waitid(P_PIDFD).
 * After the end: cgroup_kill_all() until cgroup_is_populated() is 0, then
 * cgroup_remove() (retry on -EBUSY from a timer), then spawn_cleanup().
 *
 * Functions that fail with something to tell the operator set *ret_error to
 * a malloc'd message.
 */

#include <stdbool.h>
#include <sys/types.h>

#include "cgroup.h"
#include "seccomp-profile.h"
#include "unit.h"

/* [Socket] (64 at most) and the fd store (UNIT_FDSTORE_MAX): at most this
 * many fds are handed to a container. */
#define SPAWN_LISTEN_MAX (64 + UNIT_FDSTORE_MAX)

/* Exit status of a child that failed before execve (its message says why). */
#define SPAWN_EXIT_SETUP 125

/* 10% of RAM: systemd-nspawn's size for the tmpfs mounts of a container.
 * Kept per mount, so that even ten unsized mounts of one container cannot
 * pin all the memory of the host. */
#define SPAWN_TMPFS_SIZE_DEFAULT_BP 1000

typedef struct SpawnOptions {
        const char *runtime_dir;   /* staging directories: RUNTIME_DIR/containers/NAME */
        const char *state_dir;     /* persistent layers and volumes */
        const char *cgroup_root;   /* normally /sys/fs/cgroup */
        CgroupMode cgroup_mode;
        const char *cgroup_parent; /* e.g. "/ccsup": containers go to PARENT/NAME.ctr */
        /* A compiled default profile shared by every start; used when it was
         * compiled for the unit's capability set, else spawn_prepare()
         * compiles its own. */
        const SeccompProfile *default_seccomp;
        /* A layered image (Image= NAME, oci:, oci-archive:, docker-archive:)
         * already resolved (store_resolve_stored() after an asynchronous
         * import); borrowed. NULL: spawn_prepare() resolves it with
         * store_resolve() under state_dir, importing first if needed,
         * which may take long: fine for --run, never for the daemon. */
        const struct ResolvedImage *image;
        /* The size of every tmpfs the unit does not size itself (the
         * writable root layer of Persistent=no, Tmpfs= without size=) when
         * it has no MemoryMax=: tmpfs_size bytes, else tmpfs_size_bp
         * hundredths of a percent of the host's RAM; both 0:
         * SPAWN_TMPFS_SIZE_DEFAULT_BP (ccsupd --tmpfs-size). */
        uint64_t tmpfs_size, tmpfs_size_bp;
        int stdin_fd, stdout_fd, stderr_fd;
        bool no_clone3;            /* force the clone() + pidfd_open() path (tests) */
        /* No statistics wanted (ccsupd --run): on v1 and hybrid the container
         * then joins only the v1 hierarchies its limits need, which saves a
         * kernel synchronize_rcu() per start. Default: join memory, cpuacct
         * and pids so that cgroup_get_stats() has figures. */
        bool no_accounting;
        /* Prepared in an event loop (the daemon): EnvironmentFile= must be
         * a regular file; a FIFO or device, whose read could wait for ever,
         * is a start error. Without it (--run) any file is read. */
        bool regular_files_only;
        /* [Network] Mode=container:NAME: the child joins the network
         * namespace netns_fd refers to (spawn_open_netns()) instead of
         * making its own; without join_netns that mode is refused.
         * Borrowed: keep it open until spawn_container() has returned. */
        bool join_netns;
        int netns_fd;
        /* Mode=bridge with UserNamespace=: joining a namespace made by
         * ccsupd would leave it host root's, where the container's root may
         * neither bind a port below 1024 nor mount its sysfs. The child
         * makes its own instead, in its clone3 (so it belongs to the
         * container's user namespace), and netns_ready is called with it
         * (an fd, borrowed) before the child goes on, to wire it (veth,
         * addresses, routes). Set, it stands for join_netns in that mode;
         * without a user namespace netns_fd is joined as before. */
        int (*netns_ready)(void *data, int netns_fd, char **ret_error);
        void *netns_ready_data;
        /* Notify=yes: a host directory holding the unit's notify socket
         * ("notify"), bind-mounted read-only at /run/host; the container
         * gets NOTIFY_SOCKET=/run/host/notify (and WATCHDOG_USEC=,
         * WATCHDOG_PID= with WatchdogSec=). A directory rather than the
         * socket itself: a ccsupd that restarts binds a new socket in it,
         * which running containers then see. NULL: no relay (--run). */
        const char *host_dir;
        /* Mode=bridge: host files bind-mounted read-only at /etc/hosts and
         * /etc/resolv.conf (ccsupd rewrites them in place); NULL: none. */
        const char *hosts_file, *resolv_file;
        /* [Socket]: listening sockets, borrowed, that the command gets as
         * fds 3... with LISTEN_FDS=, LISTEN_PID=, LISTEN_FDNAMES= (each
         * named FileDescriptorName=, else the unit name). The order of
         * unit_listen_count(): ListenStream= first. Then the fds of the
         * unit's fd store (FDSTORE=1), which listen_names names: one per
         * fd, NULL ones (or listen_names NULL) get the default name. */
        const int *listen_fds;
        const char *const *listen_names;
        size_t n_listen_fds;
        /* Prelaunch (ccsupd, a unit whose After= units are starting): the
         * child sets up everything, says so on the sync socket
         * (spawn_read_result() gives 1) and waits right before execve in
         * an open for writing of the FIFO hold_fd (O_PATH, borrowed, above
         * 3 + n_listen_fds) refers to, until the caller opens it for
         * reading (keep that open until the sync socket's EOF: the child
         * writes one byte to it). The hold point of ccsup-runtime create. */
        bool hold;
        int hold_fd;
} SpawnOptions;

typedef struct SpawnPlan SpawnPlan;

typedef struct SpawnResult {
        pid_t pid;       /* in ccsupd's pid namespace */
        int pidfd;
        int sync_fd;
        Cgroup *cgroup;
        bool used_clone3;
} SpawnResult;

int spawn_prepare(const UnitConfig *c, const SpawnOptions *o, SpawnPlan **ret, char **ret_error);

/* True when the host's / is the initramfs: containers are chroot'ed and lose
 * CAP_SYS_CHROOT. The caller warns once. */
bool spawn_plan_uses_chroot(const SpawnPlan *p);

/* Lines for the caller to log once: unknown system calls skipped in a
 * Seccomp= profile, MemoryHigh= ignored on cgroup v1. */
char *const *spawn_plan_warnings(const SpawnPlan *p);

/* The cgroup path (relative to the hierarchy roots) the container gets. */
const char *spawn_plan_cgroup_path(const SpawnPlan *p);
void spawn_plan_set_cgroup_path(SpawnPlan *p, const char *path);
/* With SpawnOciOptions.systemd_cgroup: the scope unit the container's
 * cgroup is to be in, and its slice; NULL otherwise. */
const char *spawn_plan_systemd_scope(const SpawnPlan *p, const char **ret_slice);
/* config.json hooks (spawn-oci.h plans); NULL: none. */
struct SpawnHooks;
const struct SpawnHooks *spawn_plan_hooks(const SpawnPlan *p);

/* The command line the plan executes. */
char *const *spawn_plan_argv(const SpawnPlan *p);

/* StopSignal=, else the image's StopSignal, else SIGTERM. */
int spawn_plan_stop_signal(const SpawnPlan *p);

/* The image's Healthcheck (image_config_apply()): argv NULL = none (a
 * directory image, none in the config, or NONE); durations 0 = not given. */
typedef struct SpawnImageHealth {
        char **argv;
        uint64_t interval_usec, timeout_usec, start_period_usec;
        int retries;
} SpawnImageHealth;
const SpawnImageHealth *spawn_plan_image_health(const SpawnPlan *p);

int spawn_container(const SpawnPlan *p, SpawnResult *ret, char **ret_error);

/* An fd (CLOEXEC) of the network namespace of the running process behind
 * pidfd, whose PID is pid: through PIDFD_GET_NET_NAMESPACE where the kernel
 * has it (Linux 6.11), else /proc/PID/ns/net, checked against PID reuse.
 * -ESRCH when the process is gone. */
int spawn_open_netns(int pidfd, pid_t pid);

/*
 * The wait status (WIFEXITED()...) of the ended process behind pidfd, which
 * need not be our child (a container re-adopted after a restart of ccsupd:
 * its reaper is someone else), from PIDFD_GET_INFO (Linux 6.15). -EAGAIN
 * while it is a zombie not reaped yet (the kernel records the status at
 * reaping; no event says when: retry from a timer), -EOPNOTSUPP when the
 * kernel cannot tell.
 */
int spawn_pidfd_exit_status(int pidfd, int *ret_status);

/* Reads the sync socket: 0 = the command runs, -EAGAIN = nothing yet,
 * 1 = set up and waiting for `start` (ccsup-runtime create only; read
 * again for the end), other -errno = setup failed, with *ret_error set. */
int spawn_read_result(int sync_fd, char **ret_error);

/* Removes what spawn_container() left on the host outside the cgroup (the
 * empty staging directory). Call once the container is gone. */
void spawn_cleanup(const SpawnPlan *p);
/* spawn_cleanup() keeps the mount points of UserNamespace='s trees
 * (RUNTIME_DIR/containers/NAME.trees) for the next start: removing one that
 * the dead container's mounts still pin waits for an RCU grace period in
 * the kernel (0.3-1.5 ms measured, on the path of a restart). This removes
 * them, once unit name is gone or ccsupd --run ends. */
void spawn_remove_trees(const char *runtime_dir, const char *name);
/* The same for a trees directory of ccsup-runtime (STAGING.trees). */
void spawn_remove_tree_dir(const char *dir);

void spawn_result_done(SpawnResult *r);

/* ---- running a command inside a running container -------------------------
 *
 * `ccsupctl exec`, and health checks: a command that joins what the
 * container's PID 1 has (its namespaces, root, cgroup) and gets what the
 * unit's plan gives the container's command (user and groups, capabilities,
 * NoNewPrivs, seccomp filter, limits, umask, working directory,
 * environment). Asynchronous like a launch: the caller watches one pidfd.
 */

/*
 * The plan of a container that has none any more (re-adopted after a
 * restart of ccsupd), for spawn_exec() only: from c, like spawn_prepare(),
 * but without side effects: no lock, no directory, no import (a layered
 * image must be in the store: o->image, else store_resolve_stored()).
 * Reads files; no fork.
 */
int spawn_prepare_exec(const UnitConfig *c, const SpawnOptions *o, SpawnPlan **ret,
                       char **ret_error);

typedef struct SpawnExecTarget {
        int pidfd;             /* the container's PID 1 */
        pid_t pid;             /* its PID, in our namespace */
        const Cgroup *cgroup;  /* the container's cgroup (cgroup_open() after a re-adoption) */
} SpawnExecTarget;

typedef struct SpawnExec {
        pid_t pid;       /* the relay (below), in our pid namespace */
        int pidfd;       /* readable once the command has ended, or never ran */
        int sync_fd;
} SpawnExec;

/*
 * Runs argv (argv[0] looked up through the PATH of the plan's environment)
 * in the container t with stdio as its standard input, output and error
 * (borrowed: the child takes its own copies). A relay process is cloned
 * into the container's cgroup, enters the container's mount, UTS, IPC,
 * network, PID and cgroup namespaces (setns() through the pidfd) and its
 * root, and forks the command, which is then a process of the container's
 * PID namespace in its own session; the relay waits for it and reports its
 * wait status. SIGKILL to the relay (spawn_exec_kill()) kills the command
 * too (its parent-death signal); processes the command started in the
 * background stay in the container. Never waits.
 */
int spawn_exec(const SpawnPlan *p, const SpawnExecTarget *t, char *const *argv,
               const int stdio[3], SpawnExec *ret, char **ret_error);

typedef struct SpawnExecEnd {
        int status;     /* the command's wait status (WIFEXITED()...), when it ran */
        int stopped;    /* the signal that stopped it (it was killed then), or 0 */
        bool traced;    /* it ended while traced, and its tracer did not reap it */
        int error;      /* 0 when it ran, else -errno: it never ran */
        bool command;   /* error is the command's own (not found, not executable) */
        char *message;  /* with error: "`nosuch`: No such file or directory" */
} SpawnExecEnd;

/* After e->pidfd became readable: reaps the relay and tells how the command
 * ended. -EAGAIN while the relay runs. */
int spawn_exec_finish(SpawnExec *e, SpawnExecEnd *ret);

/* The exit status a shell would give: the exit code, 128 + the signal that
 * killed (or stopped) the command, 127 command not found, 126 not
 * executable, 125 another setup error. */
int spawn_exec_end_code(const SpawnExecEnd *e);
void spawn_exec_end_done(SpawnExecEnd *e);

/* ccsup-runtime exec --detach: the same, but the command outlives the relay
 * and the caller (handed to the nearest subreaper). Waits until the command
 * executed (or failed: -errno, *ret_error) and gives its PID. */
int spawn_exec_detached(SpawnPlan *p, const SpawnExecTarget *t, char *const *argv,
                        const int stdio[3], pid_t *ret_pid, char **ret_error);

/* SIGKILL to the relay, and so to the command. Reap it with
 * spawn_exec_finish() once the pidfd is readable. */
int spawn_exec_kill(const SpawnExec *e);
/* Closes the fds (the relay must have been reaped). */
void spawn_exec_done(SpawnExec *e);

SpawnPlan *spawn_plan_free(SpawnPlan *p);
static inline void spawn_plan_freep(SpawnPlan **p) { spawn_plan_free(*p); }
