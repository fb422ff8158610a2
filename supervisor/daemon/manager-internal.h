/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What the parts of the manager share, and nobody else: manager.c keeps the
 * units and decides (each unit's state machine, dispatch, requests);
 * launch.c starts a run and cleans up after one; adopt.c keeps the runtime
 * state files and the fd stores and takes running containers back;
 * reload.c applies a new scan of the unit path. A run's outcome goes back
 * to manager.c only as a service event (unit_event()).
 */

#include "manager.h"
#include "readiness.h"

/* Cadence and bound of the retries while a dead container's cgroup empties
 * and goes away: the kernel offers no event for rmdir becoming possible. */
#define CLEANUP_INTERVAL 0.01
#define CLEANUP_MAX_TRIES 500
/* The same for the exit status of a re-adopted container: the kernel records
 * it when the process is reaped, by a reaper that is not ccsupd. Some reap
 * orphans only every few seconds (a VM's init was seen sweeping every
 * 1.9 s): every 10 ms for half a second, then every 100 ms, for 10 s in all. */
#define EXIT_INFO_INTERVAL 0.01
#define EXIT_INFO_FAST_TRIES 50
#define EXIT_INFO_SLOW_INTERVAL 0.1
#define EXIT_INFO_MAX_TRIES (EXIT_INFO_FAST_TRIES + 95)

/* manager.c: units, the readiness relay, the events of a run, dispatch */
void manager_add_unit(Manager *m, Unit *u);
void unit_on_listen(struct ev_loop *loop, ev_io *w, int revents);
void unit_sockets_update(Unit *u);
void manager_dispatch(Manager *m);
const UnitConfig *unit_config(const Unit *u);
void unit_event(Unit *u, ServiceEvent ev, const void *data);
bool unit_is_active(const Unit *u);
int unit_name_cmp(const void *key, const void *b);
Unit *unit_new(Manager *m, const char *name);
void unit_notify_adopted(Unit *u);
void unit_notify_close(Unit *u);
int unit_notify_open(Unit *u, char **ret_error);
void unit_notify_reset(Unit *u);
void unit_watchdog_arm(Unit *u);

/* launch.c: a start (its image import, sockets, hold) and the cleanup of a run */
void unit_on_sync(struct ev_loop *loop, ev_io *w, int revents);
void unit_cleanup_run(Unit *u);
bool unit_finish_cleanup(Unit *u, bool final);
void unit_hold_release(Unit *u);
void unit_import_abort(Unit *u);
void unit_import_free(Unit *u);
int unit_launch(Unit *u, char **ret_error);
void unit_sockets_close(Unit *u);
void unit_sockets_sync(Unit *u);
void unit_sockets_watch(Unit *u, bool on);
void unit_start_failed(Unit *u, int r, char *msg);

/* adopt.c: runtime state files, the fd stores, re-adoption */
char *fdstore_key(const char *unit, const char *fdname);
void manager_adopt_strays(Manager *m);
void manager_close_stored_fds(Manager *m, bool final);
int manager_take_stored_fd(Manager *m, const char *prefix, const char *name);
bool proc_in_cgroup(pid_t pid, const char *path);
void unit_fdstore_add(Unit *u);
void unit_fdstore_apply(Unit *u, const NotifyMessage *n, int *fds, unsigned nfds);
void unit_fdstore_flush(Unit *u, bool to_systemd);
void unit_fdstore_remove(Unit *u, bool force);
void unit_fdstore_take(Unit *u);
void unit_fdstore_trim(Unit *u);
void unit_launch_fds(Unit *u, int **ret_fds, const char ***ret_names);
char *unit_runtime_file(Unit *u);
bool unit_try_adopt(Unit *u);
void unit_write_runtime(Unit *u);

/* reload.c: the reload of the unit path */
void unit_mark_removed(Unit *u);
