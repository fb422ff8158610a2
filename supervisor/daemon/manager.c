/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The units and what decides about them: each unit's state machine
 * (service.h) fed with events, the readiness relay, dispatch in dependency
 * order, operator requests, and the manager's life cycle. */
#include "manager-internal.h"

#include <sys/pidfd.h>
#include <sys/wait.h>

#include "bridge.h"
#include "depgraph.h"
#include "health.h"
#include "log.h"
#include "store.h"
#include "test-switches.h"

/* A unit without a valid configuration: only ever a re-adopted container
 * (its file bad or gone) that gets the default stop timeout. */
static const UnitConfig null_config = { .restart = RESTART_NO,
                                        .stop_timeout_usec = 10 * USEC_PER_SEC };

static void unit_on_cleanup_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void request_start(Manager *m, Unit *u);
static void unit_release_dependants(Unit *u);
static void on_pidfd(struct ev_loop *loop, ev_io *w, int revents);
static void on_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void on_exit_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void on_notify(struct ev_loop *loop, ev_io *w, int revents);
static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents);
static void unit_changed(Unit *u);

/* ------------------------------------------------------------------ units */

const UnitConfig *unit_config(const Unit *u)
{
        return u->config ? u->config : &null_config;
}

bool unit_is_active(const Unit *u)
{
        return service_state_is_active(u->svc.state);
}

/* Requires=, and Mode=container:NAME, which needs NAME's network namespace. */
static bool unit_requires(const Unit *u, const Unit *dep)
{
        return u->config && (strv_contains(u->config->requires, dep->name) ||
                             (u->config->network_mode == NETWORK_CONTAINER &&
                              streq_ptr(u->config->network_container, dep->name)));
}

/* After= (which holds Requires= and Wants=), plus the network container. */
static char **unit_ordering(const UnitConfig *c)
{
        char **l = strv_copy(c->after);

        if (c->network_mode == NETWORK_CONTAINER && c->network_container &&
            !strv_contains(l, c->network_container))
                strv_add(&l, c->network_container);
        return l;
}

Unit *unit_new(Manager *m, const char *name)
{
        Unit *u = xcalloc(1, sizeof(*u));

        u->manager = m;
        u->name = xstrdup(name);
        u->run = (SpawnResult){ .pidfd = -1, .sync_fd = -1 };
        service_init(&u->svc, SERVICE_INACTIVE);
        ev_init(&u->pidfd_io, on_pidfd);
        ev_init(&u->sync_io, unit_on_sync);
        ev_init(&u->timer, on_timer);
        ev_timer_init(&u->cleanup_timer, unit_on_cleanup_timer, CLEANUP_INTERVAL, CLEANUP_INTERVAL);
        ev_timer_init(&u->exit_timer, on_exit_timer, EXIT_INFO_INTERVAL, EXIT_INFO_INTERVAL);
        ev_init(&u->notify_io, on_notify);
        ev_init(&u->watchdog_timer, on_watchdog);
        u->notify_fd = -1;
        u->hold_fd = u->release_fd = -1;
        u->pidfd_io.data = u->sync_io.data = u->timer.data = u->cleanup_timer.data = u;
        u->exit_timer.data = u->notify_io.data = u->watchdog_timer.data = u;
        u->state_changed_realtime = now_usec_realtime();
        u->log = unit_log_new(m->loop, name, m->o.log_dir);
        return u;
}

static void unit_free(Unit *u)
{
        Manager *m = u->manager;

        for (size_t i = 0; i < m->n_hooks; i++)
                if (m->hooks[i].unit_freed)
                        m->hooks[i].unit_freed(m, u, m->hooks[i].userdata);
        ev_io_stop(m->loop, &u->pidfd_io);
        ev_io_stop(m->loop, &u->sync_io);
        ev_timer_stop(m->loop, &u->timer);
        ev_timer_stop(m->loop, &u->cleanup_timer);
        ev_timer_stop(m->loop, &u->exit_timer);
        ev_timer_stop(m->loop, &u->watchdog_timer);
        unit_notify_close(u);
        safe_close(u->hold_fd);
        safe_close(u->release_fd);
        free(u->status_text);
        u->health = health_free(u->health);
        unit_sockets_close(u);
        unit_fdstore_flush(u, u->removed);
        unit_import_free(u);
        unit_log_free(u->log);
        /* A unit deleted once stopped: its trees' mount points go too (a
         * ccsupd that exits or re-executes keeps them for its successor). */
        if (u->removed && u->run.pidfd < 0)
                spawn_remove_trees(m->o.runtime_dir, u->name);
        spawn_result_done(&u->run);
        spawn_plan_free(u->plan);
        cgroup_free(u->dead_cgroup);
        spawn_plan_free(u->dead_plan);
        unit_config_free(u->config);
        strv_free(u->load_errors);
        strv_free(u->dropin_paths);
        free(u->fragment_path);
        free(u->cycle_error);
        free(u->start_error);
        free(u->image_digest);
        free(u->after);
        free(u->before);
        free(u->name);
        free(u);
}

static int unit_cmp(const void *a, const void *b)
{
        return strcmp((*(Unit *const *)a)->name, (*(Unit *const *)b)->name);
}

int unit_name_cmp(const void *key, const void *b)
{
        return strcmp(key, (*(Unit *const *)b)->name);
}

Unit *manager_get_unit(Manager *m, const char *name)
{
        Unit **u = m->n_units ? bsearch(name, m->units, m->n_units, sizeof(Unit *), unit_name_cmp)
                              : NULL;
        return u ? *u : NULL;
}

void manager_add_unit(Manager *m, Unit *u)
{
        m->units = xrealloc(m->units, (m->n_units + 1) * sizeof(Unit *));
        m->units[m->n_units++] = u;
        qsort(m->units, m->n_units, sizeof(Unit *), unit_cmp);
        m->graph_dirty = true;
}

/* ------------------------------------------------------------------ cgroup figures */

void unit_get_stats(Unit *u, CgroupStats *ret)
{
        if (!u->run.cgroup) {
                *ret = (CgroupStats){ UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX };
                return;
        }
        cgroup_get_stats(u->run.cgroup, ret);
}

const char *unit_cgroup_path(Unit *u)
{
        if (u->plan)
                return spawn_plan_cgroup_path(u->plan);
        return u->run.cgroup ? u->run.cgroup->path : NULL; /* adopted */
}

/* ------------------------------------------------------------------ readiness relay */

/* The socket of a Notify=yes unit, in RUNTIME_DIR/notify/NAME (which the
 * container sees at /run/host): opened once, kept across its restarts. */
int unit_notify_open(Unit *u, char **ret_error)
{
        Manager *m = u->manager;
        int r;

        if (u->notify_fd >= 0)
                return 0;
        if (!u->notify_dir)
                u->notify_dir = xasprintf("%s/notify/%s", m->o.runtime_dir, u->name);
        r = notify_socket_open(u->notify_dir, &u->notify_fd, ret_error);
        if (r < 0)
                return r;
        ev_io_set(&u->notify_io, u->notify_fd, EV_READ);
        ev_io_start(m->loop, &u->notify_io);
        return 0;
}

void unit_notify_close(Unit *u)
{
        if (u->notify_fd >= 0) {
                _cleanup_free_ char *sock = xasprintf("%s/notify", u->notify_dir);
                ev_io_stop(u->manager->loop, &u->notify_io);
                u->notify_fd = safe_close(u->notify_fd);
                (void)unlink(sock);
                (void)rmdir(u->notify_dir);
        }
        free(u->notify_dir);
        u->notify_dir = NULL;
}

/* A new run: nothing reported yet; the watchdog of the unit file. */
void unit_notify_reset(Unit *u)
{
        const UnitConfig *c = u->config;

        u->ready = u->reloading = u->stopping = u->notify_warned = u->fdstore_warned = false;
        free(u->status_text);
        u->status_text = NULL;
        u->status_errno = 0;
        ev_timer_stop(u->manager->loop, &u->watchdog_timer);
        u->watchdog_usec = c->notify && c->watchdog_usec != USEC_INFINITY ? c->watchdog_usec : 0;
}

void unit_watchdog_arm(Unit *u)
{
        if (u->watchdog_usec == 0)
                return;
        u->watchdog_timer.repeat = (double)u->watchdog_usec / 1e6;
        ev_timer_again(u->manager->loop, &u->watchdog_timer);
}

static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
        Unit *u = w->data;
        _cleanup_free_ char *d = format_duration(u->watchdog_usec);

        ev_timer_stop(loop, w);
        log_unit(LOG_WARNING, u->name, "watchdog timeout: no WATCHDOG=1 for %s", d);
        unit_event(u, SERVICE_EVENT_WATCHDOG, NULL);
}

/* EXTEND_TIMEOUT_USEC=: the start or stop timeout ends no sooner than
 * usec from now. */
static void unit_extend_timeout(Unit *u, uint64_t usec)
{
        struct ev_loop *loop = u->manager->loop;

        if (u->svc.state != SERVICE_STARTING && u->svc.state != SERVICE_STOPPING)
                return;
        if (ev_is_active(&u->timer) && ev_timer_remaining(loop, &u->timer) * 1e6 >= (double)usec)
                return;
        ev_timer_stop(loop, &u->timer);
        ev_timer_set(&u->timer, (double)usec / 1e6, 0.);
        ev_timer_start(loop, &u->timer);
}

static void unit_notify_apply(Unit *u, const NotifyMessage *n)
{
        bool changed = false;

        if (n->status && !streq_ptr(n->status, u->status_text)) {
                free(u->status_text);
                u->status_text = xstrdup(n->status);
                changed = true;
        }
        if (n->has_errno && n->errno_value != u->status_errno) {
                u->status_errno = n->errno_value;
                changed = true;
        }
        if (n->stopping && !u->stopping) {
                log_unit(LOG_INFO, u->name, "the container reports that it is stopping");
                u->stopping = changed = true;
        }
        if (n->reloading && !n->ready && !u->reloading)
                u->reloading = changed = true;
        if (n->watchdog_usec) {
                u->watchdog_usec = n->watchdog_usec;
                unit_watchdog_arm(u);
        } else if (n->watchdog_ping)
                unit_watchdog_arm(u);
        if (n->has_extend)
                unit_extend_timeout(u, n->extend_usec);
        if (n->ready && (!u->ready || u->reloading)) {
                u->ready = changed = true;
                u->reloading = false;
        }
        if (n->ready && u->svc.state == SERVICE_STARTING && u->exec_done &&
            (!u->health || health_status(u->health) == HEALTH_STATUS_HEALTHY))
                unit_event(u, SERVICE_EVENT_READY, NULL); /* tells the hooks too */
        else if (changed)
                unit_changed(u);
        if (n->watchdog_trigger) {
                log_unit(LOG_WARNING, u->name, "the container triggered its watchdog");
                ev_timer_stop(u->manager->loop, &u->watchdog_timer);
                unit_event(u, SERVICE_EVENT_WATCHDOG, NULL);
        }
}

/* A re-adopted Notify=yes container: it runs, so it was ready (a run still
 * starting when the previous ccsupd went counts as ready too: READY=1 may
 * have been lost with it). Its socket is bound anew in the directory that
 * the container sees at /run/host. */
void unit_notify_adopted(Unit *u)
{
        char *msg = NULL;

        unit_notify_reset(u);
        if (unit_notify_open(u, &msg) < 0) {
                log_unit(LOG_WARNING, u->name, "%s", msg);
                free(msg);
        }
        u->ready = true;
        unit_watchdog_arm(u);
}

/* A bad datagram is logged once per run: a container cannot flood the log. */
static void unit_notify_reject(Unit *u, const char *why)
{
        if (u->notify_warned)
                return;
        u->notify_warned = true;
        log_unit(LOG_WARNING, u->name, "notify message dropped: %s (further ones are not logged)", why);
}

static void on_notify(struct ev_loop *loop, ev_io *w, int revents)
{
        Unit *u = w->data;
        char buf[NOTIFY_MESSAGE_MAX + 1];

        /* A bounded batch per wake-up: other units get their turn. */
        for (int i = 0; i < 16; i++) {
                _cleanup_(notify_message_done) NotifyMessage n = {};
                _cleanup_free_ char *err = NULL;
                const char *path = unit_cgroup_path(u);
                int fds[NOTIFY_FDS_MAX];
                unsigned nfds = 0;
                pid_t pid = 0;
                ssize_t len = notify_receive(u->notify_fd, buf, &pid, fds, &nfds);

                if (len == -EAGAIN)
                        return;
                if (len == -EMSGSIZE)
                        unit_notify_reject(u, "longer than 4096 bytes");
                else if (len < 0)
                        unit_notify_reject(u, len == -EBADMSG ? "no sender credentials" : strerror((int)-len));
                else if (u->run.pidfd < 0 || !path || !proc_in_cgroup(pid, path)) {
                        /* Not from this container: say so, but not in its name. */
                        log_unit(LOG_DEBUG, u->name, "notify message from PID %d ignored: not in the container's cgroup",
                                 (int)pid);
                } else if (notify_parse(buf, (size_t)len, &n, &err) < 0)
                        unit_notify_reject(u, err);
                else {
                        unit_fdstore_apply(u, &n, fds, nfds);
                        unit_notify_apply(u, &n);
                }
                /* What the fd store did not take (after the sender check:
                 * closing the fd of BARRIER=1 lets sd_notify_barrier() return). */
                for (unsigned k = 0; k < nfds; k++)
                        safe_close(fds[k]);
                if (u->notify_fd < 0)
                        return;
        }
}

/* The memory cgroup's OOM killer acted during this run (on PID 1 or any
 * other process of the container). */
static bool unit_oom_killed(Unit *u)
{
        uint64_t n;

        return u->oom_kills_at_start != UINT64_MAX &&
               cgroup_get_oom_kills(u->run.cgroup, &n) >= 0 && n > u->oom_kills_at_start;
}

static void unit_ended(Unit *u, ServiceEnd *end);

/* The end of a re-adopted container, from PIDFD_GET_INFO: 0 when delivered
 * (status known or unknown), -EAGAIN while the kernel has none yet. */
static int unit_adopted_end(Unit *u, bool last_try)
{
        ServiceEnd end = { .unknown = true };
        int status, r;

        r = test_switches.no_pidfd_info ? -EOPNOTSUPP
                                                : spawn_pidfd_exit_status(u->run.pidfd, &status);
        if (r == -EAGAIN && !last_try)
                return r;
        if (r >= 0) {
                end.unknown = false;
                end.killed = !WIFEXITED(status);
                end.code = WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status);
        }
        unit_ended(u, &end);
        return 0;
}

static void on_exit_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        Unit *u = w->data;

        if (unit_adopted_end(u, ++u->exit_tries >= EXIT_INFO_MAX_TRIES) == 0) {
                ev_timer_stop(loop, w);
                return;
        }
        if (u->exit_tries == EXIT_INFO_FAST_TRIES) {
                w->repeat = EXIT_INFO_SLOW_INTERVAL;
                ev_timer_again(loop, w);
        }
}

static void on_pidfd(struct ev_loop *loop, ev_io *w, int revents)
{
        Unit *u = w->data;
        siginfo_t si = {};
        ServiceEnd end = {};

        if (waitid(P_PIDFD, u->run.pidfd, &si, WEXITED | WNOHANG) < 0) {
                if (errno == EINTR || errno == EAGAIN)
                        return;
                if (errno == ECHILD && u->adopted) {
                        /* Not our child: another process reaps it. */
                        ev_io_stop(loop, w);
                        u->exit_tries = 0;
                        u->exit_timer.repeat = EXIT_INFO_INTERVAL;
                        if (unit_adopted_end(u, false) == -EAGAIN)
                                ev_timer_again(loop, &u->exit_timer);
                        return;
                }
                /* Reaped elsewhere: the status is lost, the run still ended. */
                si.si_code = CLD_KILLED;
                si.si_status = SIGKILL;
        } else if (si.si_pid == 0)
                return;
        ev_io_stop(loop, w);
        /* The child's message or EOF may still sit unread in the socket. */
        if (ev_is_active(&u->sync_io))
                unit_on_sync(loop, &u->sync_io, EV_READ);
        ev_io_stop(loop, &u->sync_io);

        end.start_error = !u->exec_done;
        end.killed = si.si_code != CLD_EXITED;
        end.code = si.si_status;
        if (u->svc.held && !u->exec_done && u->svc.state == SERVICE_STARTING) {
                /* Its setup may have needed what the units it is ordered
                 * after make while they start: no result, it starts the
                 * ordinary way once they are running. */
                end.retry = true;
                u->no_prelaunch = true;
                log_unit(LOG_INFO, u->name, "prelaunch ended before the release (%s): it starts once its After= units are running",
                         u->start_error ? u->start_error : end.killed ? "killed" : "exited");
                free(u->start_error);
                u->start_error = NULL;
                unit_event(u, SERVICE_EVENT_EXITED, &end);
                return;
        }
        unit_ended(u, &end);
}

/* The container's PID 1 ended like end: log it, tell the state machine. */
static void unit_ended(Unit *u, ServiceEnd *end)
{
        end->oom = unit_oom_killed(u);
        if (end->unknown)
                log_unit(LOG_NOTICE, u->name, "PID %d ended; the kernel cannot tell how (re-adopted)",
                         (int)u->run.pid);
        else if (end->start_error)
                log_unit(LOG_ERR, u->name, "%s", u->start_error ? u->start_error : "setup failed");
        else if (end->killed)
                log_unit(LOG_INFO, u->name, "PID %d killed by %s%s", (int)u->run.pid,
                         signal_to_string(end->code) ? signal_to_string(end->code) : "?",
                         end->oom ? " (OOM)" : "");
        else
                log_unit(LOG_INFO, u->name, "PID %d exited with status %d%s", (int)u->run.pid,
                         end->code, end->oom ? " (the OOM killer killed a process of the container)" : "");
        unit_event(u, SERVICE_EVENT_EXITED, end);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        unit_event(w->data, SERVICE_EVENT_TIMER, NULL);
}

/* The stop signal, or with watchdog WatchdogSignal= (default SIGABRT). */
static void unit_kill_signal(Unit *u, bool watchdog)
{
        int sig = watchdog ? (u->config && u->config->watchdog_signal > 0 ? u->config->watchdog_signal : SIGABRT)
                : u->plan ? spawn_plan_stop_signal(u->plan)
                : u->adopted && u->adopted_stop_signal > 0 ? u->adopted_stop_signal
                : u->config && u->config->stop_signal > 0 ? u->config->stop_signal : SIGTERM;

        if (u->run.pidfd < 0) {
                unit_import_abort(u);
                return;
        }
        if (!u->exec_done) {
                /* Not the command yet: nothing to be polite to. */
                (void)cgroup_kill_all(u->run.cgroup);
                return;
        }
        log_unit(LOG_DEBUG, u->name, "sending %s to PID %d", signal_to_string(sig), (int)u->run.pid);
        if (pidfd_send_signal(u->run.pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
                log_unit(LOG_WARNING, u->name, "send %s: %s", signal_to_string(sig), strerror(errno));
}

/* Requires= dependents of a unit that failed for good fail too. */
static void unit_propagate_failure(Unit *u)
{
        for (size_t i = 0; i < u->n_before; i++) {
                Unit *v = u->before[i];
                if (v == u || !unit_requires(v, u) || (!unit_is_active(v) && !v->pending_start))
                        continue;
                v->pending_start = false;
                log_unit(LOG_NOTICE, v->name, "required unit `%s` failed", u->name);
                unit_event(v, SERVICE_EVENT_DEPENDENCY_FAILED, NULL);
        }
}

static void unit_execute(Unit *u, const ServiceActions *a)
{
        Manager *m = u->manager;

        if (a->flags & (SERVICE_ACTION_KILL_SIGNAL | SERVICE_ACTION_KILL_WATCHDOG))
                unit_kill_signal(u, a->flags & SERVICE_ACTION_KILL_WATCHDOG);
        if ((a->flags & SERVICE_ACTION_KILL_ALL) && u->run.cgroup) {
                log_unit(LOG_NOTICE, u->name, "stop timeout: killing every process");
                (void)cgroup_kill_all(u->run.cgroup);
        }
        if (a->flags & SERVICE_ACTION_CLEANUP)
                unit_cleanup_run(u);
        if (a->flags & SERVICE_ACTION_TIMER) {
                ev_timer_stop(m->loop, &u->timer);
                if (a->timer_usec != USEC_INFINITY) {
                        ev_now_update(m->loop);
                        ev_timer_set(&u->timer, (double)a->timer_usec / 1e6, 0.);
                        ev_timer_start(m->loop, &u->timer);
                }
                if (u->svc.state == SERVICE_WAITING)
                        u->next_restart_realtime = now_usec_realtime() + a->timer_usec;
        }
        if (a->flags & SERVICE_ACTION_FAILED)
                unit_propagate_failure(u);
        if (a->flags & SERVICE_ACTION_LAUNCH) {
                char *msg = NULL;
                int r = unit_launch(u, &msg);
                if (r < 0)
                        unit_start_failed(u, r, msg);
        }
}

static void unit_changed(Unit *u)
{
        Manager *m = u->manager;

        for (size_t i = 0; i < m->n_hooks; i++)
                if (m->hooks[i].unit_changed)
                        m->hooks[i].unit_changed(m, u, m->hooks[i].userdata);
}

/* The only way into a unit's state machine. */
void unit_event(Unit *u, ServiceEvent ev, const void *data)
{
        ServiceState old = u->svc.state;
        ServiceResult old_result = u->svc.result;
        /* A held container that goes without a result (a restart, a
         * changed file, a failed prelaunch): the start is queued again. */
        bool requeue = u->svc.held || (old == SERVICE_STOPPING && u->svc.requeue_after_stop);
        ServiceActions a;
        int r;

        r = service_handle(&u->svc, unit_config(u), ev, data, now_usec_monotonic(), &a);
        if (r < 0)
                return;
        if (requeue && u->svc.state == SERVICE_INACTIVE && u->wanted && !u->manager->shutting_down)
                u->pending_start = true;
        if (u->svc.state != old) {
                u->state_changed_realtime = now_usec_realtime();
                log_unit(u->svc.state == SERVICE_FAILED ? LOG_WARNING : LOG_DEBUG, u->name,
                         "%s -> %s (%s, %s)", service_state_to_string(old),
                         service_state_to_string(u->svc.state), service_event_to_string(ev),
                         service_result_to_string(u->svc.result));
        }
        if (u->svc.state != SERVICE_STARTING && u->svc.state != SERVICE_RUNNING)
                health_halt(u->health);
        unit_execute(u, &a);
        if (u->svc.state == SERVICE_RUNNING && old != SERVICE_RUNNING)
                unit_release_dependants(u);
        if (u->svc.state != old)
                unit_sockets_update(u);
        /* Stopped for good (not on its way to a restart): as systemd does
         * without FileDescriptorStorePreserve=, the fd store goes. */
        if (u->svc.state != old && u->n_fdstore > 0 &&
            (u->svc.state == SERVICE_INACTIVE || u->svc.state == SERVICE_EXITED ||
             u->svc.state == SERVICE_FAILED || u->svc.state == SERVICE_BAD ||
             u->svc.state == SERVICE_MASKED))
                unit_fdstore_flush(u, true);
        if (u->svc.state != old || u->svc.result != old_result)
                unit_changed(u);
        manager_dispatch(u->manager);
}

/* ------------------------------------------------------------------ health verdicts */

void manager_unit_health_changed(Unit *u, HealthStatus old, HealthStatus now)
{
        const UnitConfig *c = u->config;

        if (now == old)
                return;
        for (size_t i = 0; i < u->manager->n_hooks; i++)
                if (u->manager->hooks[i].health_changed)
                        u->manager->hooks[i].health_changed(u->manager, u, u->manager->hooks[i].userdata);
        if (now == HEALTH_STATUS_HEALTHY) {
                log_unit(LOG_INFO, u->name, "healthy: %s", health_last_output(u->health));
                if (u->svc.state == SERVICE_STARTING && u->exec_done && (!c->notify || u->ready))
                        unit_event(u, SERVICE_EVENT_READY, NULL); /* tells the hooks too */
                else
                        unit_changed(u);
                return;
        }
        if (now != HEALTH_STATUS_UNHEALTHY)
                return;
        log_unit(LOG_WARNING, u->name, "unhealthy after %u failed checks (OnFailure=%s): %s",
                 health_retries(u->health), health_on_failure_to_string(c->health_on_failure),
                 health_last_output(u->health));
        if (c->health_on_failure == HEALTH_ON_FAILURE_NONE) {
                unit_changed(u);
                return;
        }
        unit_event(u, SERVICE_EVENT_UNHEALTHY, NULL);
}

/* ------------------------------------------------------------------ the dependency graph */

static void manager_build_graph(Manager *m)
{
        _cleanup_free_ size_t **deps = xcalloc(m->n_units + 1, sizeof(size_t *));
        _cleanup_free_ size_t *n_deps = xcalloc(m->n_units + 1, sizeof(size_t));
        _cleanup_free_ char **names = xcalloc(m->n_units + 1, sizeof(char *));
        char **cycles = NULL;

        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                free(u->after);
                free(u->before);
                u->after = u->before = NULL;
                u->n_after = u->n_before = 0;
                names[i] = u->name;
        }
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                if (!u->config)
                        continue;
                _cleanup_strv_free_ char **after = unit_ordering(u->config);
                deps[i] = xcalloc(strv_length(after) + 1, sizeof(size_t));
                STRV_FOREACH(name, after) {
                        Unit **d = bsearch(*name, m->units, m->n_units, sizeof(Unit *), unit_name_cmp);
                        if (!d)
                                continue;
                        deps[i][n_deps[i]++] = (size_t)(d - m->units);
                        u->after = xrealloc(u->after, (u->n_after + 1) * sizeof(Unit *));
                        u->after[u->n_after++] = *d;
                        (*d)->before = xrealloc((*d)->before, ((*d)->n_before + 1) * sizeof(Unit *));
                        (*d)->before[(*d)->n_before++] = u;
                }
        }

        DepGraph g = { .n = m->n_units, .names = names, .deps = deps, .n_deps = n_deps };
        (void)depgraph_find_cycles(&g, &cycles);
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                bool was = u->cycle_error != NULL;
                free(u->cycle_error);
                u->cycle_error = TAKE_PTR(cycles[i]);
                if (u->cycle_error && !was) {
                        ServiceReload rl = { SERVICE_LOAD_BAD };
                        log_unit(LOG_ERR, u->name, "%s", u->cycle_error);
                        u->pending_start = false;
                        unit_event(u, SERVICE_EVENT_RELOAD, &rl);
                } else if (!u->cycle_error && was && u->svc.state == SERVICE_BAD && !u->load_errors &&
                           !u->masked && u->config) {
                        ServiceReload rl = { SERVICE_LOAD_CHANGED };
                        unit_event(u, SERVICE_EVENT_RELOAD, &rl);
                        u->pending_start = u->wanted;
                }
                free(deps[i]);
        }
        free(cycles);
        m->graph_dirty = false;
}

/* ------------------------------------------------------------------ dispatch */

static bool unit_is_transitioning(const Unit *d)
{
        return d->pending_start || d->svc.state == SERVICE_STARTING ||
               d->svc.state == SERVICE_WAITING ||
               (d->svc.state == SERVICE_STOPPING && d->svc.start_after_stop);
}

/* Where a unit's start stands with the units it is ordered after. */
typedef enum DepsVerdict {
        DEPS_START,  /* all running (or, for After= alone, not on their way) */
        DEPS_WAIT,   /* not yet */
        DEPS_HOLD,   /* not yet, but each one not running is starting with a container:
                      * it may be prelaunched */
        DEPS_FAILED, /* a Requires= unit is missing or not coming (logged) */
} DepsVerdict;

static DepsVerdict unit_deps_verdict(Manager *m, Unit *u)
{
        bool wait = false, hold = true;

        _cleanup_strv_free_ char **required = strv_copy(u->config->requires);
        if (u->config->network_mode == NETWORK_CONTAINER && u->config->network_container)
                strv_add(&required, u->config->network_container);
        STRV_FOREACH(name, required)
                if (!manager_get_unit(m, *name)) {
                        log_unit(LOG_ERR, u->name, "required unit `%s` does not exist", *name);
                        return DEPS_FAILED;
                }
        for (size_t i = 0; i < u->n_after; i++) {
                Unit *d = u->after[i];
                if (d == u || d->svc.state == SERVICE_RUNNING)
                        continue;
                if (unit_is_transitioning(d)) {
                        wait = true;
                        if (d->pending_start || d->svc.state != SERVICE_STARTING || d->run.pidfd < 0)
                                hold = false;
                        continue;
                }
                if (wait)
                        return DEPS_WAIT; /* decided once the one before is */
                if (unit_requires(u, d)) {
                        log_unit(LOG_NOTICE, u->name, "required unit `%s` is %s", d->name,
                                 service_state_to_string(d->svc.state));
                        return DEPS_FAILED;
                }
        }
        return !wait ? DEPS_START : hold ? DEPS_HOLD : DEPS_WAIT;
}

/* Prelaunch is for units whose launch shows nothing, before their exec,
 * that the units they wait for could change: not Mode=container:NAME (it
 * joins NAME's namespace, which a restart of NAME replaces), not [Socket]
 * (its sockets would accept connections before the order says it may
 * start), not EnvironmentFile= (read at the launch; a dependency may write
 * it). The test switch no_prelaunch turns it off (tests/bench/readiness). */
static bool unit_can_prelaunch(const Unit *u)
{
        const UnitConfig *c = u->config;

        return !u->no_prelaunch && c->network_mode != NETWORK_CONTAINER && unit_listen_count(c) == 0 &&
               strv_length(c->environment_files) == 0 && !test_switches.no_prelaunch;
}

static void dispatch_start(Manager *m, Unit *u)
{
        if (m->shutting_down || u->svc.state == SERVICE_BAD || u->svc.state == SERVICE_MASKED) {
                u->pending_start = false;
                return;
        }
        if (unit_is_active(u)) {
                u->pending_start = false;
                if (u->svc.state == SERVICE_STOPPING)
                        unit_event(u, SERVICE_EVENT_START, NULL);
                return;
        }
        if (!u->config) {
                u->pending_start = false;
                return;
        }
        switch (unit_deps_verdict(m, u)) {
        case DEPS_WAIT:
                return;
        case DEPS_HOLD:
                if (!unit_can_prelaunch(u))
                        return;
                u->pending_start = false;
                unit_event(u, SERVICE_EVENT_PRELAUNCH, NULL);
                return;
        case DEPS_FAILED:
                u->pending_start = false;
                unit_event(u, SERVICE_EVENT_DEPENDENCY_FAILED, NULL);
                return;
        case DEPS_START:
                u->pending_start = false;
                unit_event(u, SERVICE_EVENT_START, NULL);
                return;
        }
}

/* The readiness path: held containers that may go now are let go at once,
 * before the hooks tell the clients; dispatch_held() does the rest. */
static void unit_release_dependants(Unit *u)
{
        if (u->manager->graph_dirty)
                return; /* the order is being rebuilt: dispatch_held() decides */
        for (size_t i = 0; i < u->n_before; i++) {
                Unit *v = u->before[i];
                if (v != u && v->svc.held && v->hold_fd >= 0 && v->config &&
                    unit_deps_verdict(u->manager, v) == DEPS_START)
                        unit_hold_release(v);
        }
}

/* A held unit: released when the ordinary start would happen now (the
 * dependencies are running, or for After= alone not coming); stopped with
 * result `dependency` when a Requires= one is not coming, as a waiting
 * start would fail; else held on (a dependency that restarts included). */
static void dispatch_held(Manager *m, Unit *u)
{
        if (m->shutting_down || !u->config)
                return;
        switch (unit_deps_verdict(m, u)) {
        case DEPS_WAIT:
        case DEPS_HOLD:
                return;
        case DEPS_FAILED:
                unit_event(u, SERVICE_EVENT_DEPENDENCY_FAILED, NULL);
                return;
        case DEPS_START:
                unit_hold_release(u);
                log_unit(LOG_DEBUG, u->name, "released");
                unit_event(u, SERVICE_EVENT_RELEASE, NULL);
                return;
        }
}

static void dispatch_stop(Manager *m, Unit *u)
{
        if (!unit_is_active(u)) {
                u->pending_stop = false;
                return;
        }
        for (size_t i = 0; i < u->n_before; i++) {
                Unit *v = u->before[i];
                if (v != u && unit_is_active(v) && (v->pending_stop || v->svc.state == SERVICE_STOPPING))
                        return; /* units ordered after it stop first */
        }
        u->pending_stop = false;
        unit_event(u, SERVICE_EVENT_STOP, NULL);
}

static bool manager_delete_removed(Manager *m)
{
        size_t j = 0;
        bool deleted = false;

        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                if (u->removed && !unit_is_active(u) && !u->dead_cgroup) {
                        log_unit(LOG_INFO, u->name, "removed");
                        unit_free(u);
                        deleted = true;
                } else
                        m->units[j++] = u;
        }
        m->n_units = j;
        if (deleted)
                m->graph_dirty = true;
        return deleted;
}

/* A unit's first start attempt is over: it ran, failed or waits for a
 * restart, or it waits for dependencies whose own first attempts are over
 * (a dependency that keeps restarting must not hold READY=1 back forever). */
static bool unit_first_attempt_over(const Unit *u)
{
        /* A held unit waits like a pending one. */
        if ((u->svc.state == SERVICE_STARTING && !u->svc.held) ||
            (u->svc.state == SERVICE_STOPPING && (u->svc.start_after_stop || u->svc.requeue_after_stop)))
                return false;
        if (!u->pending_start && !u->svc.held)
                return true;
        for (size_t i = 0; i < u->n_after; i++) {
                const Unit *d = u->after[i];
                if (d != u && (d->initial || d->svc.state == SERVICE_STARTING))
                        return false;
        }
        return true;
}

static void manager_check_ready(Manager *m)
{
        bool progress = true, left = true;

        if (m->ready)
                return;
        while (progress && left) {
                progress = left = false;
                for (size_t i = 0; i < m->n_units; i++) {
                        Unit *u = m->units[i];
                        if (!u->initial)
                                continue;
                        if (unit_first_attempt_over(u)) {
                                u->initial = false;
                                progress = true;
                        } else
                                left = true;
                }
        }
        if (left)
                return;
        m->ready = true;
        if (m->ready_cb)
                m->ready_cb(m);
}

bool manager_is_idle(Manager *m)
{
        for (size_t i = 0; i < m->n_units; i++)
                if (unit_is_active(m->units[i]) || m->units[i]->dead_cgroup)
                        return false;
        return true;
}

void manager_dispatch(Manager *m)
{
        if (m->dispatching) {
                m->dispatch_again = true;
                return;
        }
        m->dispatching = true;
        do {
                m->dispatch_again = false;
                if (m->graph_dirty)
                        manager_build_graph(m);
                for (size_t i = 0; i < m->n_units; i++) {
                        Unit *u = m->units[i];
                        if (u->pending_stop)
                                dispatch_stop(m, u);
                        else if (u->pending_start)
                                dispatch_start(m, u);
                        else if (u->svc.held)
                                dispatch_held(m, u);
                }
                if (manager_delete_removed(m))
                        m->dispatch_again = true;
        } while (m->dispatch_again);
        m->dispatching = false;

        manager_check_ready(m);
        if (m->shutting_down && manager_is_idle(m) && m->idle_cb)
                m->idle_cb(m);
}

/* ------------------------------------------------------------------ operator requests */

static void unit_on_cleanup_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        Unit *u = w->data;

        if (!unit_finish_cleanup(u, ++u->cleanup_tries >= CLEANUP_MAX_TRIES))
                return;
        manager_dispatch(u->manager); /* a removed unit may go now; shutdown may end */
}

/* Activation=on-demand: the first connection or datagram starts the unit;
 * it waits in the socket for the container to take it. */
void unit_on_listen(struct ev_loop *loop, ev_io *w, int revents)
{
        Unit *u = w->data;

        unit_sockets_watch(u, false);
        if (unit_is_active(u) || !u->config)
                return;
        log_unit(LOG_INFO, u->name, "traffic on a [Socket] socket: starting");
        request_start(u->manager, u);
        manager_dispatch(u->manager);
}

/* Watching for traffic while an on-demand unit has no container. */
void unit_sockets_update(Unit *u)
{
        bool on = u->config && u->config->activation == ACTIVATION_ON_DEMAND && u->n_listen_fds > 0 &&
                  !unit_is_active(u) && !u->removed && u->svc.state != SERVICE_BAD &&
                  u->svc.state != SERVICE_MASKED && !u->pending_start;

        unit_sockets_watch(u, on);
}

static void request_start(Manager *m, Unit *u)
{
        u->wanted = true;
        u->pending_stop = false;
        if (u->pending_start || u->svc.state == SERVICE_RUNNING || u->svc.state == SERVICE_STARTING)
                return;
        u->pending_start = true;
        for (size_t i = 0; i < u->n_after; i++) {
                Unit *d = u->after[i];
                if (d == u || !u->config)
                        continue;
                if ((unit_requires(u, d) || strv_contains(u->config->wants, d->name)) &&
                    !unit_is_active(d) && d->svc.state != SERVICE_BAD && d->svc.state != SERVICE_MASKED)
                        request_start(m, d);
        }
}

int manager_start_unit(Manager *m, Unit *u)
{
        if (u->svc.state == SERVICE_BAD || u->svc.state == SERVICE_MASKED || u->removed)
                return -EINVAL;
        if (m->shutting_down)
                return -ESHUTDOWN;
        request_start(m, u);
        manager_dispatch(m);
        return 0;
}

static void request_stop(Manager *m, Unit *u)
{
        u->wanted = false;
        u->pending_start = false;
        if (!unit_is_active(u) || u->pending_stop)
                return;
        u->pending_stop = true;
        for (size_t i = 0; i < u->n_before; i++) {
                Unit *v = u->before[i];
                if (v != u && unit_requires(v, u) && (unit_is_active(v) || v->pending_start))
                        request_stop(m, v);
        }
}

int manager_stop_unit(Manager *m, Unit *u)
{
        request_stop(m, u);
        manager_dispatch(m);
        return 0;
}

int manager_restart_unit(Manager *m, Unit *u)
{
        if (u->svc.state == SERVICE_BAD || u->svc.state == SERVICE_MASKED || u->removed)
                return -EINVAL;
        if (m->shutting_down)
                return -ESHUTDOWN;
        u->wanted = true;
        u->pending_stop = false;
        if (unit_is_active(u)) {
                unit_event(u, SERVICE_EVENT_RESTART, NULL);
                return 0;
        }
        return manager_start_unit(m, u);
}

int manager_kill_unit(Manager *m, Unit *u, int sig)
{
        int r;

        if (!u->run.cgroup)
                return -ESRCH;
        log_unit(LOG_INFO, u->name, "sending %s to every process", signal_to_string(sig));
        r = cgroup_signal_all(u->run.cgroup, sig);
        return r;
}

int manager_reset_unit(Manager *m, Unit *u)
{
        unit_event(u, SERVICE_EVENT_RESET, NULL);
        /* The counters are not state: the changed hook tells clients anyway. */
        unit_changed(u);
        return 0;
}

void manager_shutdown(Manager *m)
{
        if (!m->shutting_down)
                log_msg(LOG_INFO, "stopping every container");
        m->shutting_down = true;
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                u->pending_start = false;
                if (unit_is_active(u))
                        u->pending_stop = true;
        }
        manager_dispatch(m);
}

/* ------------------------------------------------------------------ image removal */

typedef struct ImageRemoval {
        Manager *m;
        const char *ref;
} ImageRemoval;

/* Under the store's lock, REF resolved to digest: refused when a container
 * runs from it. */
static int image_removal_check(const char *digest, void *userdata, char **ret_error)
{
        ImageRemoval *ir = userdata;
        _cleanup_free_ char *users = NULL;
        size_t n = 0;

        for (size_t i = 0; i < ir->m->n_units; i++) {
                Unit *u = ir->m->units[i];
                char *l;
                if (!u->image_digest || !streq(u->image_digest, digest))
                        continue;
                if (u->svc.state == SERVICE_RUNNING)
                        l = xasprintf("%s%s`%s`", users ? users : "", users ? ", " : "", u->name);
                else
                        l = xasprintf("%s%s`%s` (%s)", users ? users : "", users ? ", " : "", u->name,
                                      service_state_to_string(u->svc.state));
                free(users);
                users = l;
                n++;
        }
        if (n == 0)
                return 0;
        free(*ret_error);
        *ret_error = xasprintf("image `%s` is used by running unit%s %s; stop %s first", ir->ref,
                               n > 1 ? "s" : "", users, n > 1 ? "them" : "it");
        return -ETXTBSY;
}

int manager_remove_image(Manager *m, const char *ref, char **ret_error)
{
        ImageRemoval ir = { .m = m, .ref = ref };
        int r;

        r = store_remove_checked(m->o.state_dir, ref, true, image_removal_check, &ir, ret_error);
        if (r >= 0)
                log_msg(LOG_INFO, "image `%s` removed from the store", ref);
        return r;
}

void manager_count_states(Manager *m, unsigned counts[_SERVICE_STATE_MAX])
{
        memset(counts, 0, sizeof(unsigned) * _SERVICE_STATE_MAX);
        for (size_t i = 0; i < m->n_units; i++)
                counts[m->units[i]->svc.state]++;
}

/* ------------------------------------------------------------------ life cycle */

int manager_new(struct ev_loop *loop, const ManagerOptions *o, Manager **ret)
{
        Manager *m = xcalloc(1, sizeof(*m));
        _cleanup_free_ char *units_dir = path_join(o->runtime_dir, "units");
        char *msg = NULL;
        int r;

        m->loop = loop;
        m->o = *o;
        m->fd_keeper = -1;
        unit_log_relay_journal(o->journal_relay);
        m->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (m->devnull < 0) {
                r = -errno;
                free(m);
                return log_unit_errno(LOG_ERR, NULL, r, "/dev/null: %s", strerror(-r));
        }
        if ((r = mkdir_p(units_dir, 0755)) < 0 || (r = mkdir_p(o->log_dir, 0755)) < 0 ||
            (r = mkdir_p(o->state_dir, 0755)) < 0) {
                log_msg(LOG_ERR, "create directories below `%s`, `%s`, `%s`: %s", o->runtime_dir,
                        o->log_dir, o->state_dir, strerror(-r));
                manager_free(m);
                return r;
        }
        r = bridge_new(&(BridgeOptions){ .name = o->bridge, .subnet = o->bridge_subnet,
                                         .subnet6 = o->bridge_subnet6, .mtu = o->bridge_mtu, .loop = m->loop,
                                         .state_dir = o->state_dir,
                                         .runtime_dir = o->runtime_dir, .handover_fd = o->bridge_handover },
                       &m->bridge, &msg);
        if (r < 0) {
                log_msg(LOG_ERR, "%s", msg);
                free(msg);
                manager_free(m);
                return r;
        }
        r = seccomp_profile_compile_default(&m->seccomp);
        if (r < 0) {
                log_msg(LOG_ERR, "compile the default seccomp profile: %s", strerror(-r));
                manager_free(m);
                return r;
        }
        *ret = m;
        return 0;
}

Manager *manager_free(Manager *m)
{
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_units; i++)
                unit_free(m->units[i]);
        free(m->units);
        manager_close_stored_fds(m, true);
        strv_free(m->scan_notes);
        seccomp_profile_free(m->seccomp);
        bridge_free(m->bridge);
        safe_close(m->devnull);
        free(m);
        return NULL;
}

void manager_add_hooks(Manager *m, const ManagerHooks *h)
{
        if (m->n_hooks < ELEMENTSOF(m->hooks))
                m->hooks[m->n_hooks++] = *h;
}

LogTarget unit_log_target(Unit *u)
{
        LogTarget t = unit_log_last_target(u->log);
        struct stat st;

        if (u->run.pid > 0 && t != LOG_TARGET_AUTO)
                return t;
        t = u->config ? u->config->log_target : LOG_TARGET_AUTO;
        if (t == LOG_TARGET_AUTO)
                t = stat("/run/systemd/journal/stdout", &st) == 0 && S_ISSOCK(st.st_mode)
                            ? LOG_TARGET_JOURNAL : LOG_TARGET_FILE;
        return t;
}

char *manager_reexec_fds(Manager *m)
{
        static const char *const prefix[2] = { "stdout-", "stderr-" };
        _cleanup_free_ char *words = xstrdup("");

        for (size_t i = 0; i < m->n_units; i++) {
                int fds[2];
                unit_log_hand_over(m->units[i]->log);
                unit_log_fds(m->units[i]->log, fds);
                for (int k = 0; k < 2; k++) {
                        char *w;
                        if (fds[k] < 0 || fcntl(fds[k], F_SETFD, 0) < 0)
                                continue;
                        w = xasprintf("%s%s%s%s=%d", words, *words ? " " : "", prefix[k],
                                      m->units[i]->name, fds[k]);
                        free(words);
                        words = w;
                }
                /* [Socket]: the same sockets, so that no connection is refused. */
                for (size_t k = 0; k < m->units[i]->n_listen_fds; k++) {
                        int fd = m->units[i]->listen_fds[k];
                        char *w;
                        if (fcntl(fd, F_SETFD, 0) < 0)
                                continue;
                        w = xasprintf("%s%ssocket%zu-%s=%d", words, *words ? " " : "", k,
                                      m->units[i]->name, fd);
                        free(words);
                        words = w;
                }
                /* The fd store, by unit and name (fdstore_key()). */
                for (size_t k = 0; k < m->units[i]->n_fdstore; k++) {
                        const StoredFd *s = &m->units[i]->fdstore[k];
                        _cleanup_free_ char *key = fdstore_key(m->units[i]->name, s->name);
                        char *w;
                        if (fcntl(s->fd, F_SETFD, 0) < 0)
                                continue;
                        w = xasprintf("%s%s%s=%d", words, *words ? " " : "", key, s->fd);
                        free(words);
                        words = w;
                }
        }
        return TAKE_PTR(words);
}

int manager_reexec_bridge(Manager *m)
{
        int fd = bridge_reexec_save(m->bridge);

        return fd < 0 ? -1 : fd;
}

void manager_reexec_bridge_abort(Manager *m, int fd)
{
        if (fd >= 0)
                bridge_reexec_abort(m->bridge, fd);
}

void manager_reexec_fds_done(Manager *m)
{
        for (size_t i = 0; i < m->n_units; i++) {
                int fds[2];
                unit_log_fds(m->units[i]->log, fds);
                for (int k = 0; k < 2; k++)
                        if (fds[k] >= 0)
                                (void)fcntl(fds[k], F_SETFD, FD_CLOEXEC);
                for (size_t k = 0; k < m->units[i]->n_listen_fds; k++)
                        (void)fcntl(m->units[i]->listen_fds[k], F_SETFD, FD_CLOEXEC);
                for (size_t k = 0; k < m->units[i]->n_fdstore; k++)
                        (void)fcntl(m->units[i]->fdstore[k].fd, F_SETFD, FD_CLOEXEC);
        }
}
