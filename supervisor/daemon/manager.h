/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The set of units of the unit path and what runs them: loading and reload
 * diffs, the dependency order (After=/Requires=/Wants=, cycles), operator
 * requests, shutdown, and carrying out the actions of each unit's state
 * machine (supervisor/daemon/service.h) with the lib/ launch API (lib/spawn.h, the
 * same one `ccsupd --run` uses).
 */

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "cgroup.h"
#include "logs.h"
#include "seccomp-profile.h"
#include "service.h"
#include "spawn.h"
#include "unit.h"

typedef struct Manager Manager;
typedef struct Unit Unit;

typedef struct ManagerOptions {
        char **unit_path;          /* directories, highest priority first */
        const char *runtime_dir;
        const char *state_dir;
        const char *log_dir;
        const char *cgroup_root;   /* normally /sys/fs/cgroup */
        CgroupMode cgroup_mode;
        const char *cgroup_parent; /* e.g. "/ccsup" */
        bool fd_store;             /* pidfds in a file-descriptor store: systemd's, or the fd keeper */
        bool journal_relay;        /* journal output through ccsupd (containers outside its unit) */
        uint64_t tmpfs_size, tmpfs_size_bp; /* --tmpfs-size, see SpawnOptions */
        const char *bridge, *bridge_subnet, *bridge_subnet6; /* Mode=bridge (bridge.h) */
        unsigned bridge_mtu;
        int bridge_handover;       /* >= 3: the relays of the ccsupd before a daemon-reexec (bridge.h) */
} ManagerOptions;

/* A file descriptor handed back by the service manager (LISTEN_FDNAMES). */
typedef struct StoredFd {
        char *name;
        int fd;                    /* -1 once taken or closed */
} StoredFd;

struct Unit {
        Manager *manager;
        char *name;
        UnitConfig *config;        /* the effective configuration; NULL if never valid */
        char **load_errors;        /* of the current file; the unit may run an older config */
        char *fragment_path;       /* from the last scan of the unit path */
        char **dropin_paths;
        bool masked;               /* the file is a symlink to /dev/null */

        Service svc;
        bool wanted;               /* should run: not stopped by the operator */
        bool pending_start;        /* start once its After= units are running */
        bool pending_stop;         /* stop once the units ordered after it are stopped */
        bool removed;              /* gone from the unit path: delete once stopped */
        bool initial;              /* its first start attempt has not ended yet */
        char *cycle_error;         /* on a dependency cycle */

        /* Resolved ordering, rebuilt whenever the set of units changes. */
        Unit **after, **before;    /* ordered after / before this unit */
        size_t n_after, n_before;

        /* The current run. */
        SpawnPlan *plan;
        SpawnResult run;           /* pid 0 and fds -1 when there is no container */
        bool exec_done;            /* the sync socket reported a successful execve */
        /* Prelaunch (svc.held): hold_fd, an O_PATH fd of the (unlinked)
         * FIFO the held child waits on before its execve; release_fd, its
         * read end opened at the release, kept until the exec (the child
         * writes a byte to it). no_prelaunch: its last prelaunch failed in
         * setup, so this start is an ordinary one. */
        int hold_fd, release_fd;
        bool held_ready;           /* the child reached its hold point */
        bool no_prelaunch;
        char *start_error;         /* the last start error, for status */
        struct UnitImport *import; /* Image= being imported for this start (launch.c) */
        char *image_digest;        /* the manifest digest the container runs from; NULL: none
                                    * (no container, a directory image, or not known) */
        uint64_t oom_kills_at_start; /* UINT64_MAX: no OOM counter (no memory controller) */
        uint64_t started_realtime, state_changed_realtime;
        ev_io pidfd_io, sync_io;
        ev_timer timer;            /* the state machine's timer */

        /* A container found running at start (runtime state file): not our
         * child, no plan; its end status comes from PIDFD_GET_INFO. */
        bool adopted;
        uint64_t adopted_hash;     /* configuration hash it was started with */
        int adopted_stop_signal;
        ev_timer exit_timer;       /* adopted and ended, but not reaped yet */
        unsigned exit_tries;
        bool fd_stored;            /* its pidfd is in systemd's fd store (pidfd-NAME) */

        /* The previous run's cgroup, until it can be removed. */
        Cgroup *dead_cgroup;
        SpawnPlan *dead_plan;
        ev_timer cleanup_timer;
        unsigned cleanup_tries;

        /* Notify=yes (UNITS.md, Readiness): the socket in notify_dir, kept
         * across the container's restarts; what the container reported. */
        int notify_fd;
        ev_io notify_io;
        char *notify_dir;          /* RUNTIME_DIR/notify/NAME, at /run/host inside */
        bool ready;                /* READY=1 in this run (and not reloading since) */
        bool reloading, stopping;  /* RELOADING=1 / STOPPING=1 in this run */
        char *status_text;         /* STATUS= */
        int status_errno;          /* ERRNO=, 0 = none */
        bool notify_warned;        /* a bad datagram was logged in this run */
        ev_timer watchdog_timer;   /* WatchdogSec= or WATCHDOG_USEC= */
        uint64_t watchdog_usec;    /* in force this run; 0 = none */

        /* [Socket]: bound once, kept across the container's restarts and
         * ccsupd's re-execution; rebound when [Socket] changes. */
        int *listen_fds;
        size_t n_listen_fds;
        char *listen_key;          /* unit_listen_key() of the sockets bound */
        ev_io *listen_io;          /* Activation=on-demand: one per fd */
        bool listen_watching;

        /* The fd store (FDSTORE=1, FileDescriptorStoreMax=): fds the
         * container handed over, by FDNAME=, in the order they came; kept
         * across its restarts and ccsupd's re-execution (and, under
         * systemd, in its fd store as "fdstore-NAME-FDNAME"), handed back
         * after the [Socket] fds; dropped when the unit stops for good. */
        StoredFd *fdstore;
        size_t n_fdstore;
        bool fdstore_warned;       /* the limit was hit in this run (logged once) */
        /* [Health] (supervisor/daemon/health.h): the checks of the current run, or
         * the last one's verdict once it ended; replaced at the next start. */
        struct HealthCheck *health;

        UnitLog *log;              /* its output (supervisor/daemon/logs.h) */
        void *waiters;             /* control.c: calls waiting for this unit to settle */
        uint64_t next_restart_realtime;
};

typedef struct ReloadChange ReloadChange;

typedef struct ManagerHooks {
        /* A unit's state, result or configuration changed. */
        void (*unit_changed)(Manager *m, Unit *u, void *userdata);
        /* A unit is about to be freed. */
        void (*unit_freed)(Manager *m, Unit *u, void *userdata);
        /* The verdict of a unit's health checks changed (supervisor/daemon/health.h:
         * u->health has it, with the last check's output). */
        void (*health_changed)(Manager *m, Unit *u, void *userdata);
        /* A reload (not the first load) is done: what it changed. */
        void (*reloaded)(Manager *m, const ReloadChange *changes, size_t n, void *userdata);
        void *userdata;
} ManagerHooks;

struct Manager {
        struct ev_loop *loop;
        ManagerOptions o;
        Unit **units;              /* sorted by name */
        size_t n_units;
        SeccompProfile *seccomp;   /* the default profile, compiled once */
        int devnull;
        int fd_keeper;             /* without systemd: the fd keeper (fdkeeper.h), else -1 */
        struct Bridge *bridge;     /* Mode=bridge units (bridge.h) */
        bool shutting_down;
        bool ready;                /* every first start attempt has ended */
        bool dispatching, dispatch_again, graph_dirty;
        bool adoption_done;        /* the runtime state of a previous ccsupd was read */
        char **scan_notes;         /* skipped files, untrusted dirs: logged when new */
        StoredFd *stored_fds;      /* from the fd store, until the re-adoption is done */
        size_t n_stored_fds;
        ManagerHooks hooks[2];
        size_t n_hooks;
        void (*ready_cb)(Manager *m);
        void (*idle_cb)(Manager *m); /* shutdown finished: nothing active any more */
        /* Around every reload (done = false before, true after). */
        void (*reload_cb)(Manager *m, bool done, void *userdata);
        void *reload_userdata;
        /* daemon-reexec requested (the reply is sent): execve() from the loop. */
        void (*reexec_cb)(Manager *m);
};

int manager_new(struct ev_loop *loop, const ManagerOptions *o, Manager **ret);
Manager *manager_free(Manager *m);

void manager_add_hooks(Manager *m, const ManagerHooks *h);

/* The fds systemd passed back (sd_listen_fds_with_names(): n fds from
 * SD_LISTEN_FDS_START, names taken over): "pidfd-NAME" ones serve the
 * re-adoption of NAME by the first manager_reload(); all are closed after it. */
void manager_set_stored_fds(Manager *m, int n, char **names);

/* One line of what a reload did: "web changed", for `ccsupctl reload`. */
struct ReloadChange {
        char *name;
        const char *what; /* "added", "removed", "changed", "bad", "masked" */
};
void reload_changes_free(ReloadChange *c, size_t n);

/*
 * (Re)reads the unit path and applies the difference: added units start,
 * removed ones stop, changed ones restart, untouched ones are left alone, a
 * running unit whose file became bad keeps running with its old
 * configuration. The first call loads everything, re-adopts the containers
 * a previous ccsupd left running (RUNTIME_DIR/units/NAME; a changed unit is
 * restarted, a removed or masked one stopped) and starts what should run.
 */
int manager_reload(Manager *m, ReloadChange **ret_changes, size_t *ret_n);

Unit *manager_get_unit(Manager *m, const char *name);

/* Operator requests. Return -ENOENT-free errnos: -EINVAL for a bad or masked
 * unit (start), -ESRCH when nothing runs (kill). */
int manager_start_unit(Manager *m, Unit *u);
int manager_stop_unit(Manager *m, Unit *u);
int manager_restart_unit(Manager *m, Unit *u);
int manager_kill_unit(Manager *m, Unit *u, int sig);
int manager_reset_unit(Manager *m, Unit *u);

/* Stops every unit in reverse dependency order; idle_cb runs when done. */
void manager_shutdown(Manager *m);
bool manager_is_idle(Manager *m);

/* daemon-reexec: 0 when nothing is half-way (-EBUSY: a start or stop in
 * progress, -ESHUTDOWN), then the runtime state file of every running
 * container, for the re-adoption by the next ccsupd. */
int manager_prepare_reexec(Manager *m);
void manager_flush_runtime(Manager *m);

/* daemon-reexec: the fds the next ccsupd takes over ("NAME=FD" words for
 * manager_add_stored_fd()), made inheritable; _done() undoes that when the
 * execve() failed. */
char *manager_reexec_fds(Manager *m);
void manager_reexec_fds_done(Manager *m);
/* daemon-reexec: the bridge's [::1] relays, open connections included, as
 * an inheritable fd for the next ccsupd's bridge_handover (-1: none);
 * _abort() when the execve() failed. */
int manager_reexec_bridge(Manager *m);
void manager_reexec_bridge_abort(Manager *m, int fd);
/* An fd passed by the previous ccsupd (CCSUP_REEXEC_FDS), like one from
 * systemd's fd store. */
void manager_add_stored_fd(Manager *m, const char *name, int fd);

/*
 * `ccsupctl image remove REF` through the daemon: removes REF from the
 * store of --state-dir unless it resolves to an image that a container of
 * this manager runs from (starting, running or stopping): -ETXTBSY, and
 * *ret_error names the units. The check and the removal are one step of
 * the loop, so no launch comes in between. The store's lock is only tried:
 * -EBUSY while an import holds it (the caller may try again). -ENOENT: no
 * such image. Returns the number of names removed.
 */
int manager_remove_image(Manager *m, const char *ref, char **ret_error);

/* Counts of units per state. */
void manager_count_states(Manager *m, unsigned counts[_SERVICE_STATE_MAX]);

/* cgroup figures of a running unit (cgroup_get_stats()); UINT64_MAX when
 * unknown or when nothing runs. */
void unit_get_stats(Unit *u, CgroupStats *ret);

/* The launch options of this manager (directories, cgroups, the default
 * seccomp profile, files read without blocking); stdio and netns unset. */
void manager_spawn_options(Manager *m, SpawnOptions *ret);

/* The cgroup path of the current run, or NULL. */
const char *unit_cgroup_path(Unit *u);

/* Where the unit's output goes: LOG_TARGET_JOURNAL, _FILE or _NONE (auto
 * resolved): that of the current or last run, else what a start would pick. */
LogTarget unit_log_target(Unit *u);
