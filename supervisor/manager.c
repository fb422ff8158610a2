/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "manager.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>

#include "bridge.h"
#include "depgraph.h"
#include "fdkeeper.h"
#include "health.h"
#include "log.h"
#include "listen.h"
#include "parse.h"
#include "readiness.h"
#include "registry.h"
#include "store.h"
#include "test-switches.h"
#include "util.h"

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

/* A unit without a valid configuration: only ever a re-adopted container
 * (its file bad or gone) that gets the default stop timeout. */
static const UnitConfig null_config = { .restart = RESTART_NO,
                                        .stop_timeout_usec = 10 * USEC_PER_SEC };

static void manager_dispatch(Manager *m);
static void unit_event(Unit *u, ServiceEvent ev, const void *data);
static void unit_release_dependants(Unit *u);
static void unit_mark_removed(Unit *u);

/* ------------------------------------------------------------------ units */

static const UnitConfig *unit_config(const Unit *u)
{
        return u->config ? u->config : &null_config;
}

static bool unit_is_active(const Unit *u)
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

static void on_pidfd(struct ev_loop *loop, ev_io *w, int revents);
static void on_sync(struct ev_loop *loop, ev_io *w, int revents);
static void on_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void on_cleanup_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void on_exit_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void on_notify(struct ev_loop *loop, ev_io *w, int revents);
static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents);
static void unit_notify_close(Unit *u);
static void unit_changed(Unit *u);
static bool proc_in_cgroup(pid_t pid, const char *path);
static void unit_sockets_close(Unit *u);
static void request_start(Manager *m, Unit *u);
static void unit_import_free(Unit *u);
static void unit_import_abort(Unit *u);
static int unit_image_resolve(Unit *u, ResolvedImage *ret, char **ret_error);
static void unit_fdstore_flush(Unit *u, bool to_systemd);
static char *fdstore_key_name(const char *key, const char *unit);
static char *fdstore_key_unit(const char *key);
static void fdstore_systemd_sync(Unit *u, const char *fdname);

static Unit *unit_new(Manager *m, const char *name)
{
        Unit *u = xcalloc(1, sizeof(*u));

        u->manager = m;
        u->name = xstrdup(name);
        u->run = (SpawnResult){ .pidfd = -1, .sync_fd = -1 };
        service_init(&u->svc, SERVICE_INACTIVE);
        ev_init(&u->pidfd_io, on_pidfd);
        ev_init(&u->sync_io, on_sync);
        ev_init(&u->timer, on_timer);
        ev_timer_init(&u->cleanup_timer, on_cleanup_timer, CLEANUP_INTERVAL, CLEANUP_INTERVAL);
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

static int unit_name_cmp(const void *key, const void *b)
{
        return strcmp(key, (*(Unit *const *)b)->name);
}

Unit *manager_get_unit(Manager *m, const char *name)
{
        Unit **u = m->n_units ? bsearch(name, m->units, m->n_units, sizeof(Unit *), unit_name_cmp)
                              : NULL;
        return u ? *u : NULL;
}

static void manager_add_unit(Manager *m, Unit *u)
{
        m->units = xrealloc(m->units, (m->n_units + 1) * sizeof(Unit *));
        m->units[m->n_units++] = u;
        qsort(m->units, m->n_units, sizeof(Unit *), unit_cmp);
        m->graph_dirty = true;
}

/* ------------------------------------------------------------------ runtime state files */

static char *unit_runtime_file(Unit *u)
{
        return xasprintf("%s/units/%s", u->manager->o.runtime_dir, u->name);
}

/* Field 22 of /proc/PID/stat: the start time in clock ticks since boot, which
 * together with the PID names one process for good. */
static int proc_start_time(pid_t pid, uint64_t *ret)
{
        _cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int)pid), *text = NULL;
        const char *p;
        int r;

        r = read_full_file(path, 4096, &text, NULL);
        if (r < 0)
                return r;
        p = proc_stat_field(text, 22);
        return p && sscanf(p, "%" SCNu64, ret) == 1 ? 0 : -EINVAL;
}

static void unit_write_runtime(Unit *u)
{
        _cleanup_free_ char *path = unit_runtime_file(u), *text = NULL;
        uint64_t start = 0;
        int r;

        (void)proc_start_time(u->run.pid, &start);
        /* Held=1: held before its exec (prelaunch) and not released yet;
         * a ccsupd that finds it so kills it and starts the unit anew. */
        text = xasprintf("PID=%d\nStartTime=%" PRIu64 "\nCgroup=%s\nStartedAt=%" PRIu64 "\n"
                         "ConfigHash=%016" PRIx64 "\nStopSignal=%d\nImageDigest=%s\n%s",
                         (int)u->run.pid, start, unit_cgroup_path(u) ? unit_cgroup_path(u) : "",
                         u->started_realtime, u->adopted ? u->adopted_hash : unit_config(u)->hash,
                         u->plan ? spawn_plan_stop_signal(u->plan)
                         : u->adopted ? u->adopted_stop_signal : 0,
                         u->image_digest ? u->image_digest : "", u->hold_fd >= 0 ? "Held=1\n" : "");
        r = write_file_atomic(path, text, strlen(text), 0644, false);
        if (r < 0)
                log_unit(LOG_WARNING, u->name, "runtime state `%s`: %s", path, strerror(-r));
}

/* ------------------------------------------------------------------ systemd's fd store
 *
 * Under systemd, the pidfd of each running container is kept in the
 * service's file-descriptor store as "pidfd-NAME" from its launch (or its
 * re-adoption) until its run is cleaned up, so that the next ccsupd takes
 * back the very process rather than whatever holds its PID by then. Unit
 * names ([A-Za-z0-9_.@-], at most 64 characters) are valid FDNAME= values
 * as they are: no ':' nor control character, well under 255 characters.
 * In file mode the read ends of the container's output pipes go there too,
 * as "stdout-NAME" and "stderr-NAME": while systemd holds them, a write of
 * the container never fails for want of a reader, and the next ccsupd
 * reads what it wrote in between.
 */

static const char *const stored_prefixes[] = { "pidfd-", "stdout-", "stderr-" };

/* One message to the fd store: systemd's, or without systemd the fd keeper's
 * (supervisor/fdkeeper.h). > 0 when sent, 0 when there is none, or -errno. */
static int fdstore_send(Manager *m, const char *msg, int *fds, unsigned n_fds)
{
        int r;

        if (m->fd_keeper >= 0)
                return (r = fdkeeper_send(m->fd_keeper, msg, fds, n_fds)) < 0 ? r : 1;
        return sd_pid_notify_with_fds(0, 0, msg, fds, n_fds);
}

static void fdstore_remove(Manager *m, const char *name)
{
        _cleanup_free_ char *msg = xasprintf("FDSTOREREMOVE=1\nFDNAME=%s", name);
        int r = fdstore_send(m, msg, NULL, 0);

        if (r < 0)
                log_msg(LOG_WARNING, "fd store: removing `%s`: %s", name, strerror(-r));
}

/* force: also when this ccsupd did not store it (a previous one may have). */
static void unit_fdstore_remove(Unit *u, bool force)
{
        if (!u->manager->o.fd_store || (!u->fd_stored && !force))
                return;
        for (size_t i = 0; i < ELEMENTSOF(stored_prefixes); i++) {
                _cleanup_free_ char *name = xasprintf("%s%s", stored_prefixes[i], u->name);
                fdstore_remove(u->manager, name);
        }
        u->fd_stored = false;
}

static int fdstore_add(Unit *u, const char *prefix, int fd)
{
        _cleanup_free_ char *msg = xasprintf("FDSTORE=1\nFDNAME=%s%s", prefix, u->name);
        int r = fdstore_send(u->manager, msg, &fd, 1);

        if (r <= 0)
                log_unit(LOG_WARNING, u->name, "fd store: %s%s not stored: %s", prefix, u->name,
                         r < 0 ? strerror(-r) : "no NOTIFY_SOCKET");
        return r;
}

static void unit_fdstore_add(Unit *u)
{
        int fds[2];

        if (!u->manager->o.fd_store || u->run.pidfd < 0 || u->fd_stored)
                return;
        if (fdstore_add(u, "pidfd-", u->run.pidfd) <= 0)
                return;
        unit_log_fds(u->log, fds);
        if (fds[0] >= 0)
                (void)fdstore_add(u, "stdout-", fds[0]);
        if (fds[1] >= 0)
                (void)fdstore_add(u, "stderr-", fds[1]);
        u->fd_stored = true;
        log_unit(LOG_DEBUG, u->name, "pidfd of PID %d in the fd store as `pidfd-%s`",
                 (int)u->run.pid, u->name);
}

void manager_set_stored_fds(Manager *m, int n, char **names)
{
        m->stored_fds = xcalloc(n > 0 ? (size_t)n : 1, sizeof(StoredFd));
        for (int i = 0; i < n; i++)
                m->stored_fds[m->n_stored_fds++] = (StoredFd){
                        .name = names && names[i] ? TAKE_PTR(names[i]) : xstrdup("unknown"),
                        .fd = SD_LISTEN_FDS_START + i,
                };
        if (names)
                for (int i = n; names[i]; i++)
                        free(names[i]);
        free(names);
}

void manager_add_stored_fd(Manager *m, const char *name, int fd)
{
        m->stored_fds = xrealloc(m->stored_fds, (m->n_stored_fds + 1) * sizeof(StoredFd));
        m->stored_fds[m->n_stored_fds++] = (StoredFd){ .name = xstrdup(name), .fd = fd };
}

/* The stored fd PREFIX-NAME, taken out of the list; -1 if none. */
static int manager_take_stored_fd(Manager *m, const char *prefix, const char *name)
{
        for (size_t i = 0; i < m->n_stored_fds; i++) {
                StoredFd *s = &m->stored_fds[i];
                const char *n = startswith(s->name, prefix);
                if (s->fd >= 0 && n && streq(n, name))
                        return TAKE_FD(s->fd);
        }
        return -1;
}

/* The unit name of a stored fd's name ("pidfd-web" → "web"), or NULL. */
static const char *stored_fd_unit(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(stored_prefixes); i++) {
                const char *n = startswith(name, stored_prefixes[i]);
                if (n)
                        return n;
        }
        return NULL;
}

/* The re-adoption is over: the stored fds nobody took are closed, and the
 * store forgets the "pidfd-NAME" (stdout-, stderr-) ones no unit keeps there. */
static void manager_close_stored_fds(Manager *m, bool final)
{
        for (size_t i = 0; i < m->n_stored_fds; i++) {
                StoredFd *s = &m->stored_fds[i];
                const char *n = stored_fd_unit(s->name);
                _cleanup_free_ char *fu = s->fd >= 0 ? fdstore_key_unit(s->name) : NULL;
                if (fu) {
                        /* FDSTORE=1 of a unit that is gone, or beyond its limit. */
                        Unit *u = !final ? manager_get_unit(m, fu) : NULL;
                        _cleanup_free_ char *fdname = u ? fdstore_key_name(s->name, u->name) : NULL;
                        log_msg(LOG_DEBUG, "fd store: `%s` unused, closed", s->name);
                        s->fd = safe_close(s->fd);
                        if (fdname)
                                fdstore_systemd_sync(u, fdname);
                        else if (m->o.fd_store && !final)
                                fdstore_remove(m, s->name);
                } else if (s->fd >= 0) {
                        Unit *u = n && !final ? manager_get_unit(m, n) : NULL;
                        log_msg(LOG_DEBUG, "fd store: `%s` unused, closed", s->name);
                        s->fd = safe_close(s->fd);
                        if (n && m->o.fd_store && !final && !(u && u->fd_stored))
                                fdstore_remove(m, s->name);
                }
                free(s->name);
        }
        free(m->stored_fds);
        m->stored_fds = NULL;
        m->n_stored_fds = 0;
}

/* The PID a pidfd refers to (its fdinfo's "Pid:"), -1 if it has ended, 0
 * if unknown (not a pidfd). */
static pid_t pidfd_get_pid(int fd)
{
        _cleanup_free_ char *path = xasprintf("/proc/self/fdinfo/%d", fd), *text = NULL;
        int pid;

        if (read_full_file(path, 65536, &text, NULL) < 0)
                return 0;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                const char *v = startswith(line, "Pid:");
                if (v && sscanf(v, "%d", &pid) == 1)
                        return pid;
        }
        return 0;
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

/* ------------------------------------------------------------------ running a container */

/* The previous run's cgroup is gone or can be reused: forget it. */
static bool unit_finish_cleanup(Unit *u, bool final)
{
        int r;

        if (!u->dead_cgroup)
                return true;
        r = cgroup_is_populated(u->dead_cgroup);
        if (r > 0) {
                (void)cgroup_kill_all(u->dead_cgroup);
                return false;
        }
        r = cgroup_remove(u->dead_cgroup);
        if ((r == -EBUSY || r == -ENOTEMPTY) && !final)
                return false;
        if (r < 0 && r != -EBUSY && r != -ENOTEMPTY)
                log_unit(LOG_WARNING, u->name, "remove cgroup `%s`: %s", u->dead_cgroup->path,
                         strerror(-r));
        ev_timer_stop(u->manager->loop, &u->cleanup_timer);
        if (u->dead_plan)
                spawn_cleanup(u->dead_plan);
        u->dead_plan = spawn_plan_free(u->dead_plan);
        u->dead_cgroup = cgroup_free(u->dead_cgroup);
        return true;
}

static void on_cleanup_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        Unit *u = w->data;

        if (!unit_finish_cleanup(u, ++u->cleanup_tries >= CLEANUP_MAX_TRIES))
                return;
        manager_dispatch(u->manager); /* a removed unit may go now; shutdown may end */
}

/* The container's PID 1 ended: empty its cgroup and remove it, from a timer
 * when the kernel is not done with it yet. */
static void unit_cleanup_run(Unit *u)
{
        Manager *m = u->manager;
        _cleanup_free_ char *runtime = unit_runtime_file(u);

        (void)unlink(runtime);
        unit_fdstore_remove(u, false);
        ev_timer_stop(m->loop, &u->watchdog_timer);
        u->ready = u->reloading = u->stopping = false;
        health_halt(u->health);
        bridge_detach(m->bridge, u->name); /* no-op unless Mode=bridge */
        ev_io_stop(m->loop, &u->pidfd_io);
        ev_io_stop(m->loop, &u->sync_io);
        ev_timer_stop(m->loop, &u->exit_timer);
        u->hold_fd = safe_close(u->hold_fd);
        u->release_fd = safe_close(u->release_fd);
        u->held_ready = false;
        if (u->adopted) {
                /* No plan to clean up after: its staging directory, empty. */
                _cleanup_free_ char *staging = xasprintf("%s/containers/%s", m->o.runtime_dir, u->name);
                (void)rmdir(staging);
                u->adopted = false;
        }
        if (u->dead_cgroup)
                (void)unit_finish_cleanup(u, true);
        u->dead_cgroup = TAKE_PTR(u->run.cgroup);
        u->dead_plan = TAKE_PTR(u->plan);
        spawn_result_done(&u->run);
        u->run = (SpawnResult){ .pidfd = -1, .sync_fd = -1 };
        free(u->image_digest);
        u->image_digest = NULL;
        u->cleanup_tries = 0;
        if (!u->dead_cgroup) {
                /* The launch failed before a cgroup existed. */
                if (u->dead_plan)
                        spawn_cleanup(u->dead_plan);
                u->dead_plan = spawn_plan_free(u->dead_plan);
                return;
        }
        /* Removal waits for the timer: a restart due sooner reuses the v1
         * directories instead (no rmdir + mkdir in every hierarchy; the
         * cgroup2 one is made anew by cgroup_create_with(), as a cgroup
         * killed through cgroup.kill would SIGKILL the next PID 1). */
        if (cgroup_is_populated(u->dead_cgroup) > 0)
                (void)cgroup_kill_all(u->dead_cgroup);
        ev_timer_set(&u->cleanup_timer, CLEANUP_INTERVAL, CLEANUP_INTERVAL);
        ev_timer_start(m->loop, &u->cleanup_timer);
}

void manager_spawn_options(Manager *m, SpawnOptions *ret)
{
        *ret = (SpawnOptions){
                .runtime_dir = m->o.runtime_dir,
                .state_dir = m->o.state_dir,
                .cgroup_root = m->o.cgroup_root,
                .cgroup_mode = m->o.cgroup_mode,
                .cgroup_parent = m->o.cgroup_parent,
                .default_seccomp = m->seccomp,
                .stdin_fd = -1,
                .stdout_fd = -1,
                .stderr_fd = -1,
                .no_clone3 = test_switches.no_clone3,
                /* Prepared in the loop: nothing may wait on a FIFO. */
                .regular_files_only = true,
                .netns_fd = -1,
                .tmpfs_size = m->o.tmpfs_size,
                .tmpfs_size_bp = m->o.tmpfs_size_bp,
        };
}

/* Mode=container:NAME: NAME's network namespace, while NAME runs. */
static int unit_open_netns(Unit *u, int *ret, char **ret_error)
{
        const char *name = u->config->network_container;
        Unit *t = manager_get_unit(u->manager, name);
        int fd;

        if (!t || t->svc.state != SERVICE_RUNNING || t->run.pidfd < 0) {
                *ret_error = xasprintf("network mode `container:%s`: unit `%s` is %s", name, name,
                                       t ? service_state_to_string(t->svc.state) : "missing");
                return -ESRCH;
        }
        fd = spawn_open_netns(t->run.pidfd, t->run.pid);
        if (fd < 0) {
                *ret_error = xasprintf("network mode `container:%s`: network namespace of PID %d: %s",
                                       name, (int)t->run.pid,
                                       fd == -ESRCH ? "the process is gone" : strerror(-fd));
                return fd;
        }
        *ret = fd;
        return 0;
}

/* ------------------------------------------------------------------ image import
 *
 * Image= oci:, oci-archive: and docker-archive: are imported into the store
 * on first use by a helper process (store_import_async()): the unit stays
 * `starting`, the loop watches the helper's pidfd, and the launch goes on
 * when it ends, from the store only (store_resolve_stored() never imports,
 * never waits for the store's lock). A stop (or the start timeout) kills
 * the helper; its end is then the end of the run, a start error.
 */

typedef struct UnitImport {
        StoreImportJob job;
        ev_io io;
        bool aborted;   /* the helper was killed: the start is off */
        bool finished;  /* it ended well: what it imported must be there now */
} UnitImport;

static int unit_launch(Unit *u, char **ret_error);
static void unit_start_failed(Unit *u, int r, char *msg);

static bool unit_image_is_remote(const UnitConfig *c)
{
        return c->image_kind == IMAGE_STORE && c->image_ref && registry_ref_is_remote(c->image_ref);
}

static void unit_import_free(Unit *u)
{
        if (!u->import)
                return;
        ev_io_stop(u->manager->loop, &u->import->io);
        if (u->import->job.pidfd >= 0)
                store_import_cancel(&u->import->job);
        free(u->import);
        u->import = NULL;
}

static void unit_import_abort(Unit *u)
{
        if (!u->import || u->import->aborted || u->import->job.pidfd < 0)
                return;
        log_unit(LOG_INFO, u->name, "stopping the import of image `%s`", u->config->image);
        u->import->aborted = true;
        (void)pidfd_send_signal(u->import->job.pidfd, SIGKILL, NULL, 0);
}

static void on_import(struct ev_loop *loop, ev_io *w, int revents)
{
        Unit *u = w->data;
        UnitImport *imp = u->import;
        _cleanup_free_ char *digest = NULL;
        char *msg = NULL;
        int r;

        ev_io_stop(loop, w);
        r = store_import_finish(&imp->job, &digest, &msg);
        if (imp->aborted || u->svc.state != SERVICE_STARTING) {
                ServiceEnd end = { .start_error = true, .killed = true, .code = SIGKILL };

                free(msg);
                unit_import_free(u);
                unit_event(u, SERVICE_EVENT_EXITED, &end);
                return;
        }
        if (r < 0 && unit_image_is_remote(u->config) && u->config->image_pull == IMAGE_PULL_ALWAYS) {
                /* Pull=always: an unreachable registry does not stop a start
                 * from the stored image (unit_launch() says if there is none). */
                log_unit(LOG_WARNING, u->name, "pull of `%s` failed, starting from the store: %s",
                         u->config->image, msg ? msg : strerror(-r));
                free(msg);
                msg = NULL;
        } else if (r < 0) {
                unit_import_free(u);
                unit_start_failed(u, r, msg);
                return;
        } else
                log_unit(LOG_INFO, u->name, "%s image `%s` (%s)",
                         unit_image_is_remote(u->config) ? "pulled" : "imported", u->config->image, digest);
        imp->finished = true;
        r = unit_launch(u, &msg);
        if (r < 0)
                unit_start_failed(u, r, msg);
}

/* 0 and the image when it is ready (or a directory image: nothing to do),
 * 1 when an import was started, -errno on failure. */
static int unit_image_resolve(Unit *u, ResolvedImage *ret, char **ret_error)
{
        const UnitConfig *c = u->config;
        const char *state_dir = u->manager->o.state_dir;
        char *msg = NULL;
        UnitImport *imp;
        int r;

        if (c->image_kind == IMAGE_DIRECTORY)
                return 0;
        /* A registry image (Pull=) is pulled by the same helper. */
        bool remote = unit_image_is_remote(c), done = u->import && u->import->finished;
        r = remote && c->image_pull == IMAGE_PULL_ALWAYS && !done ? -ENOENT
                                                                  : store_resolve_stored(state_dir, c, ret, &msg);
        /* Imported already, a store name, another error, or just imported
         * and still not there (the source changed meanwhile): no import. */
        if (r != -ENOENT || (c->image_kind == IMAGE_STORE && !remote) ||
            (remote && c->image_pull == IMAGE_PULL_NEVER) || done) {
                unit_import_free(u);
                if (r < 0)
                        *ret_error = msg;
                return r;
        }
        free(msg);
        imp = xcalloc(1, sizeof(*imp));
        r = store_import_async(state_dir, c->image, NULL, &imp->job, ret_error);
        if (r < 0) {
                free(imp);
                return r;
        }
        log_unit(LOG_INFO, u->name, "%s image `%s`", remote ? "pulling" : "importing", c->image);
        ev_io_init(&imp->io, on_import, imp->job.pidfd, EV_READ);
        imp->io.data = u;
        ev_io_start(u->manager->loop, &imp->io);
        u->import = imp;
        return 1;
}

/* ------------------------------------------------------------------ (end of image import) */

/* ------------------------------------------------------------------ readiness relay */

/* The socket of a Notify=yes unit, in RUNTIME_DIR/notify/NAME (which the
 * container sees at /run/host): opened once, kept across its restarts. */
static int unit_notify_open(Unit *u, char **ret_error)
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

static void unit_notify_close(Unit *u)
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
static void unit_notify_reset(Unit *u)
{
        const UnitConfig *c = u->config;

        u->ready = u->reloading = u->stopping = u->notify_warned = u->fdstore_warned = false;
        free(u->status_text);
        u->status_text = NULL;
        u->status_errno = 0;
        ev_timer_stop(u->manager->loop, &u->watchdog_timer);
        u->watchdog_usec = c->notify && c->watchdog_usec != USEC_INFINITY ? c->watchdog_usec : 0;
}

static void unit_watchdog_arm(Unit *u)
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

/* ------------------------------------------------------------------ the fd store */

/*
 * FDSTORE=1 (UNITS.md, Readiness): fds a Notify=yes container hands ccsupd,
 * at most FileDescriptorStoreMax= of them, to get back at its next start
 * after its [Socket] fds. They go with CCSUP_REEXEC_FDS at daemon-reexec,
 * and under systemd into its fd store too (for a killed ccsupd's
 * successor), both as "fdstore-UNIT-FDNAME" with every character of FDNAME
 * but [A-Za-z0-9_.@] written %XX: FDNAME never holds a '-' nor a space
 * then, so the last '-' ends the unit name.
 */

static char *fdstore_key(const char *unit, const char *fdname)
{
        static const char hex[] = "0123456789ABCDEF";
        char *k = xmalloc(strlen("fdstore-") + strlen(unit) + 1 + 3 * strlen(fdname) + 1);
        char *p = stpcpy(stpcpy(stpcpy(k, "fdstore-"), unit), "-");

        for (const unsigned char *c = (const unsigned char *)fdname; *c; c++)
                if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                    *c == '_' || *c == '.' || *c == '@')
                        *p++ = (char)*c;
                else {
                        *p++ = '%';
                        *p++ = hex[*c >> 4];
                        *p++ = hex[*c & 15];
                }
        *p = '\0';
        return k;
}

static int unhex(char c)
{
        return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The fd name of the key "fdstore-UNIT-..." of that unit; NULL if the key
 * is not one of the unit's, or not well-formed. */
static char *fdstore_key_name(const char *key, const char *unit)
{
        const char *p = startswith(key, "fdstore-");
        _cleanup_free_ char *name = NULL;
        char *q;

        if (!p || !(p = startswith(p, unit)) || *p++ != '-' || strchr(p, '-'))
                return NULL;
        q = name = xmalloc(strlen(p) + 1);
        while (*p) {
                if (*p != '%') {
                        *q++ = *p++;
                        continue;
                }
                if (unhex(p[1]) < 0 || unhex(p[2]) < 0)
                        return NULL;
                *q++ = (char)(unhex(p[1]) << 4 | unhex(p[2]));
                p += 3;
        }
        *q = '\0';
        return fdname_is_valid(name) ? TAKE_PTR(name) : NULL;
}

/* The unit name of a key "fdstore-UNIT-...": up to its last '-'. */
static char *fdstore_key_unit(const char *key)
{
        const char *p = startswith(key, "fdstore-"), *dash = p ? strrchr(p, '-') : NULL;

        return dash && dash > p ? xstrndup(p, (size_t)(dash - p)) : NULL;
}

static uint32_t unit_fdstore_max(const Unit *u)
{
        return u->config && u->config->notify ? u->config->fdstore_max : 0;
}

/* Under systemd: the fd in its fd store too, named by its key. */
static void fdstore_systemd_add(Unit *u, const char *fdname, int fd)
{
        _cleanup_free_ char *key = fdstore_key(u->name, fdname), *msg = NULL;
        int r;

        if (!u->manager->o.fd_store)
                return;
        if (strlen(key) > NOTIFY_FDNAME_MAX) {
                log_unit(LOG_WARNING, u->name, "fd store: `%s` not in systemd's fd store: name too long",
                         fdname);
                return;
        }
        msg = xasprintf("FDSTORE=1\nFDNAME=%s", key);
        r = fdstore_send(u->manager, msg, &fd, 1);
        if (r <= 0)
                log_unit(LOG_WARNING, u->name, "fd store: `%s` not in systemd's fd store: %s", fdname,
                         r < 0 ? strerror(-r) : "no NOTIFY_SOCKET");
}

/* Under systemd: its fd store holds what the unit keeps named fdname. */
static void fdstore_systemd_sync(Unit *u, const char *fdname)
{
        _cleanup_free_ char *key = fdstore_key(u->name, fdname);

        if (!u->manager->o.fd_store)
                return;
        fdstore_remove(u->manager, key);
        for (size_t i = 0; i < u->n_fdstore; i++)
                if (streq(u->fdstore[i].name, fdname))
                        fdstore_systemd_add(u, fdname, u->fdstore[i].fd);
}

/* The same open file (one open(), dup()ed or passed twice)? */
static bool same_file(int a, int b)
{
        struct stat sa, sb;
        pid_t self = getpid();

        if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0 || sa.st_dev != sb.st_dev || sa.st_ino != sb.st_ino)
                return false;
        return syscall(SYS_kcmp, self, self, KCMP_FILE, a, b) == 0;
}

/* Keeps fd (always taken: closed when it is not kept). */
static void unit_fdstore_push(Unit *u, const char *fdname, int fd, bool to_systemd)
{
        uint32_t max = unit_fdstore_max(u);

        for (size_t i = 0; i < u->n_fdstore; i++)
                if (same_file(u->fdstore[i].fd, fd)) {
                        log_unit(LOG_DEBUG, u->name, "fd store: `%s` is stored already", fdname);
                        safe_close(fd);
                        return;
                }
        if (u->n_fdstore >= max) {
                if (!u->fdstore_warned)
                        log_unit(LOG_WARNING, u->name,
                                 "fd store full (FileDescriptorStoreMax=%" PRIu32 "): fd `%s` closed "
                                 "(further ones are not logged)", max, fdname);
                u->fdstore_warned = true;
                safe_close(fd);
                return;
        }
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        u->fdstore = xrealloc(u->fdstore, (u->n_fdstore + 1) * sizeof(StoredFd));
        u->fdstore[u->n_fdstore++] = (StoredFd){ .name = xstrdup(fdname), .fd = fd };
        if (to_systemd)
                fdstore_systemd_add(u, fdname, fd);
        log_unit(LOG_DEBUG, u->name, "fd store: `%s` stored (%zu of %" PRIu32 ")", fdname,
                 u->n_fdstore, max);
}

/* FDSTOREREMOVE=1: every fd named fdname goes. */
static void unit_fdstore_remove_name(Unit *u, const char *fdname)
{
        size_t k = 0, removed = 0;

        for (size_t i = 0; i < u->n_fdstore; i++) {
                if (streq(u->fdstore[i].name, fdname)) {
                        safe_close(u->fdstore[i].fd);
                        free(u->fdstore[i].name);
                        removed++;
                } else
                        u->fdstore[k++] = u->fdstore[i];
        }
        u->n_fdstore = k;
        if (removed > 0)
                fdstore_systemd_sync(u, fdname);
        log_unit(LOG_DEBUG, u->name, "fd store: %zu fd(s) `%s` removed", removed, fdname);
}

/* The unit stopped for good, or is freed: its store is emptied (systemd's
 * too, with to_systemd). */
static void unit_fdstore_flush(Unit *u, bool to_systemd)
{
        if (u->n_fdstore > 0)
                log_unit(LOG_DEBUG, u->name, "fd store: %zu fd(s) closed", u->n_fdstore);
        for (size_t i = 0; i < u->n_fdstore; i++) {
                if (to_systemd && u->manager->o.fd_store) {
                        _cleanup_free_ char *key = fdstore_key(u->name, u->fdstore[i].name);
                        fdstore_remove(u->manager, key);
                }
                safe_close(u->fdstore[i].fd);
                free(u->fdstore[i].name);
        }
        free(u->fdstore);
        u->fdstore = NULL;
        u->n_fdstore = 0;
}

/* After a (re)load: no more than FileDescriptorStoreMax= now allows; the
 * newest go first. */
static void unit_fdstore_trim(Unit *u)
{
        uint32_t max = unit_fdstore_max(u);

        while (u->n_fdstore > max) {
                StoredFd s = u->fdstore[--u->n_fdstore];
                log_unit(LOG_INFO, u->name, "fd store: `%s` closed (FileDescriptorStoreMax=%" PRIu32 ")",
                         s.name, max);
                safe_close(s.fd);
                fdstore_systemd_sync(u, s.name);
                free(s.name);
        }
}

/* At ccsupd's start: the unit's fds that the previous ccsupd kept, from
 * CCSUP_REEXEC_FDS or systemd's fd store (which has them still). */
static void unit_fdstore_take(Unit *u)
{
        Manager *m = u->manager;

        for (size_t i = 0; i < m->n_stored_fds; i++) {
                StoredFd *s = &m->stored_fds[i];
                _cleanup_free_ char *fdname = s->fd >= 0 ? fdstore_key_name(s->name, u->name) : NULL;
                if (!fdname)
                        continue;
                /* Within the limit of the file, if it changed meanwhile. */
                if (u->n_fdstore >= unit_fdstore_max(u))
                        continue; /* closed with the unused ones, and dropped from systemd's store */
                u->fdstore = xrealloc(u->fdstore, (u->n_fdstore + 1) * sizeof(StoredFd));
                u->fdstore[u->n_fdstore++] = (StoredFd){ .name = TAKE_PTR(fdname), .fd = TAKE_FD(s->fd) };
        }
        if (u->n_fdstore > 0)
                log_unit(LOG_DEBUG, u->name, "fd store: %zu fd(s) taken back", u->n_fdstore);
}

/* The fds for the next start: the [Socket] ones, then the store's. */
static void unit_launch_fds(Unit *u, int **ret_fds, const char ***ret_names)
{
        size_t n = u->n_listen_fds + u->n_fdstore;
        int *fds = xcalloc(n + 1, sizeof(int));
        const char **names = xcalloc(n + 1, sizeof(char *));

        for (size_t i = 0; i < u->n_listen_fds; i++)
                fds[i] = u->listen_fds[i];
        for (size_t i = 0; i < u->n_fdstore; i++) {
                fds[u->n_listen_fds + i] = u->fdstore[i].fd;
                names[u->n_listen_fds + i] = u->fdstore[i].name;
        }
        *ret_fds = fds;
        *ret_names = names;
}

/* A notify datagram's fds: FDSTORE=1 keeps them, else they are closed. */
static void unit_fdstore_apply(Unit *u, const NotifyMessage *n, int *fds, unsigned nfds)
{
        const char *fdname = n->fdname ? n->fdname : "stored";

        if (n->fdstore_remove)
                unit_fdstore_remove_name(u, fdname);
        if (!n->fdstore)
                return;
        if (unit_fdstore_max(u) == 0 && nfds > 0) {
                if (!u->fdstore_warned)
                        log_unit(LOG_WARNING, u->name, "FDSTORE=1 ignored: FileDescriptorStoreMax= is 0 "
                                 "(further ones are not logged)");
                u->fdstore_warned = true;
                return;
        }
        for (unsigned k = 0; k < nfds; k++) {
                unit_fdstore_push(u, fdname, fds[k], true);
                fds[k] = -1;
        }
}

/* A re-adopted Notify=yes container: it runs, so it was ready (a run still
 * starting when the previous ccsupd went counts as ready too: READY=1 may
 * have been lost with it). Its socket is bound anew in the directory that
 * the container sees at /run/host. */
static void unit_notify_adopted(Unit *u)
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

/* ------------------------------------------------------------------ [Socket] */

/* The i-th socket of the unit file: its value and type. */
static const char *listen_spec(const UnitConfig *c, size_t i, int *ret_type)
{
        size_t ns = strv_length(c->listen_stream);

        *ret_type = i < ns ? SOCK_STREAM : SOCK_DGRAM;
        return i < ns ? c->listen_stream[i] : c->listen_datagram[i - ns];
}

static void unit_sockets_watch(Unit *u, bool on)
{
        if (u->listen_watching == on)
                return;
        for (size_t i = 0; i < u->n_listen_fds; i++)
                if (on)
                        ev_io_start(u->manager->loop, &u->listen_io[i]);
                else
                        ev_io_stop(u->manager->loop, &u->listen_io[i]);
        u->listen_watching = on;
}

static void unit_sockets_close(Unit *u)
{
        unit_sockets_watch(u, false);
        for (size_t i = 0; i < u->n_listen_fds; i++) {
                struct sockaddr_un un = {};
                socklen_t len = sizeof(un);
                /* A unix socket's file goes with it. */
                if (getsockname(u->listen_fds[i], (struct sockaddr *)&un, &len) == 0 &&
                    un.sun_family == AF_UNIX && un.sun_path[0] == '/')
                        (void)unlink(un.sun_path);
                safe_close(u->listen_fds[i]);
        }
        free(u->listen_fds);
        free(u->listen_io);
        free(u->listen_key);
        u->listen_fds = NULL;
        u->listen_io = NULL;
        u->listen_key = NULL;
        u->n_listen_fds = 0;
}

/* Activation=on-demand: the first connection or datagram starts the unit;
 * it waits in the socket for the container to take it. */
static void on_listen(struct ev_loop *loop, ev_io *w, int revents)
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
static void unit_sockets_update(Unit *u)
{
        bool on = u->config && u->config->activation == ACTIVATION_ON_DEMAND && u->n_listen_fds > 0 &&
                  !unit_is_active(u) && !u->removed && u->svc.state != SERVICE_BAD &&
                  u->svc.state != SERVICE_MASKED && !u->pending_start;

        unit_sockets_watch(u, on);
}

/* The socket a previous ccsupd had: handed over at daemon-reexec, else held
 * by the re-adopted container (fd 3 + i of its PID 1, which Init=yes keeps
 * too). -1 if neither is the socket the unit file names. */
static int unit_socket_take(Unit *u, size_t i, const char *spec, int type)
{
        _cleanup_free_ char *prefix = xasprintf("socket%zu-", i);
        int fd = manager_take_stored_fd(u->manager, prefix, u->name);

        if (fd < 0 && u->adopted && u->run.pidfd >= 0)
                fd = (int)syscall(SYS_pidfd_getfd, u->run.pidfd, 3 + (int)i, 0);
        if (fd < 0)
                return -1;
        if (!listen_fd_matches(fd, spec, type)) {
                safe_close(fd);
                return -1;
        }
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        return fd;
}

/* Binds the unit's sockets unless they are bound already as its file says
 * (a changed [Socket] rebinds). A socket that cannot be bound is an error
 * naming it; nothing is kept half-bound then. */
static int unit_sockets_open(Unit *u, char **ret_error)
{
        const UnitConfig *c = u->config;
        size_t n = unit_listen_count(c);
        _cleanup_free_ char *key = unit_listen_key(c);
        int *fds;
        int r;

        if (n == 0) {
                unit_sockets_close(u);
                return 0;
        }
        if (u->listen_key && streq(u->listen_key, key))
                return 0;
        unit_sockets_close(u);
        fds = xcalloc(n, sizeof(int));
        for (size_t i = 0; i < n; i++) {
                int type;
                const char *spec = listen_spec(c, i, &type);

                fds[i] = unit_socket_take(u, i, spec, type);
                if (fds[i] >= 0)
                        continue;
                r = listen_open(spec, type, c->socket_mode, &fds[i], ret_error);
                if (r < 0) {
                        for (size_t k = 0; k < i; k++)
                                safe_close(fds[k]);
                        free(fds);
                        return r;
                }
        }
        u->listen_fds = fds;
        u->n_listen_fds = n;
        u->listen_key = TAKE_PTR(key);
        u->listen_io = xcalloc(n, sizeof(ev_io));
        for (size_t i = 0; i < n; i++) {
                ev_io_init(&u->listen_io[i], on_listen, fds[i], EV_READ);
                u->listen_io[i].data = u;
        }
        return 0;
}

/* After a unit file was (re)loaded: its sockets listen from now on, and
 * those a previous ccsupd or a re-adopted container holds are taken back
 * before they are lost. A running container keeps its sockets until its
 * restart with the new file. */
static void unit_sockets_sync(Unit *u)
{
        char *msg = NULL;

        if (!u->config || (unit_is_active(u) && !u->adopted && u->n_listen_fds > 0))
                return;
        if (unit_is_active(u) && u->n_listen_fds == 0 && !u->adopted)
                return;
        if (unit_sockets_open(u, &msg) < 0) {
                log_unit(LOG_ERR, u->name, "%s", msg);
                free(u->start_error);
                u->start_error = msg;
        }
        unit_sockets_update(u);
}

/* ------------------------------------------------------------------ launching */

/* SpawnOptions.netns_ready of a Mode=bridge unit with a user namespace. */
static int unit_bridge_connect(void *data, int netns_fd, char **ret_error)
{
        Unit *u = data;

        return bridge_connect(u->manager->bridge, u->name, netns_fd, ret_error);
}

/* Prelaunch: the FIFO a held child waits on, reached only through the fd
 * (unlinked at once: nothing is left behind, whatever happens to ccsupd).
 * Writable for the container's user, whoever it is. */
static int unit_hold_open(Unit *u, char **ret_error)
{
        _cleanup_free_ char *path = xasprintf("%s/hold-%s", u->manager->o.runtime_dir, u->name);
        _cleanup_close_ int fd = -1;

        u->hold_fd = safe_close(u->hold_fd);
        (void)unlink(path);
        if (mkfifo(path, 0600) < 0 || chmod(path, 0622) < 0 ||
            (fd = open(path, O_PATH | O_CLOEXEC)) < 0) {
                int r = -errno;
                (void)unlink(path);
                *ret_error = xasprintf("prelaunch: %s: %s", path, strerror(-r));
                return r;
        }
        (void)unlink(path);
        /* Above every fd the child places (spawn.h, SpawnOptions.hold). */
        u->hold_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3 + SPAWN_LISTEN_MAX);
        if (u->hold_fd < 0)
                return error_set(ret_error, -errno, "prelaunch: %s", strerror(errno));
        return 0;
}

/* Prelaunch: lets the held child go on to its execve (it waits in an open
 * of the FIFO for writing: this open for reading ends that). */
static void unit_hold_release(Unit *u)
{
        char path[64];

        if (u->hold_fd < 0)
                return; /* an import runs: the launch is an ordinary one */
        snprintf(path, sizeof(path), "/proc/self/fd/%d", u->hold_fd);
        u->release_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (u->release_fd < 0) {
                log_unit(LOG_ERR, u->name, "release of the held container: %s", strerror(errno));
                (void)cgroup_kill_all(u->run.cgroup); /* ends as a start error */
        }
        u->hold_fd = safe_close(u->hold_fd);
        unit_write_runtime(u); /* Held=1 no more */
}

static int unit_launch(Unit *u, char **ret_error)
{
        Manager *m = u->manager;
        _cleanup_(spawn_plan_freep) SpawnPlan *plan = NULL;
        _cleanup_(resolved_image_done) ResolvedImage image = {};
        _cleanup_close_ int netns = -1;
        _cleanup_free_ char *hosts = NULL, *resolv = NULL;
        _cleanup_close_pair_ int out[2] = { -1, -1 };
        _cleanup_free_ int *fds = NULL;
        _cleanup_free_ const char **fd_names = NULL;
        SpawnOptions so;
        int r;

        r = unit_image_resolve(u, &image, ret_error);
        if (r != 0)
                return r; /* > 0: an import runs; the launch goes on when it ends */
        u->health = health_free(u->health); /* the previous run's verdict */

        /* A restart reuses the previous run's cgroup when it is empty (its
         * v1 directories: see unit_cleanup_run()). */
        if (u->dead_cgroup) {
                ev_timer_stop(m->loop, &u->cleanup_timer);
                if (cgroup_is_populated(u->dead_cgroup) == 0) {
                        if (u->dead_plan) /* none after a re-adopted or stale container */
                                spawn_cleanup(u->dead_plan);
                        u->dead_plan = spawn_plan_free(u->dead_plan);
                        u->dead_cgroup = cgroup_free(u->dead_cgroup);
                } else
                        (void)unit_finish_cleanup(u, true);
        }
        r = unit_log_open(u->log, u->config, m->devnull, out, ret_error);
        if (r < 0)
                return r;
        if (u->config->network_mode == NETWORK_CONTAINER) {
                r = unit_open_netns(u, &netns, ret_error);
                if (r < 0)
                        return r;
        }
        manager_spawn_options(m, &so);
        so.image = image.layers ? &image : NULL;
        so.stdin_fd = m->devnull;
        so.stdout_fd = out[0];
        so.stderr_fd = out[1];
        so.join_netns = netns >= 0;
        so.netns_fd = netns;
        if (u->config->notify) {
                r = unit_notify_open(u, ret_error);
                if (r < 0)
                        return r;
                so.host_dir = u->notify_dir;
        } else
                unit_notify_close(u);
        unit_notify_reset(u);
        r = unit_sockets_open(u, ret_error);
        if (r < 0)
                return r;
        unit_sockets_watch(u, false);
        unit_fdstore_trim(u);
        unit_launch_fds(u, &fds, &fd_names);
        so.listen_fds = fds;
        so.listen_names = fd_names;
        so.n_listen_fds = u->n_listen_fds + u->n_fdstore;
        if (u->svc.held) {
                r = unit_hold_open(u, ret_error);
                if (r < 0)
                        return r;
                so.hold = true;
                so.hold_fd = u->hold_fd;
        } else
                u->no_prelaunch = false;
        if (u->config->network_mode == NETWORK_BRIDGE) {
                if (u->config->userns != USERNS_NO && !u->config->privileged) {
                        /* the child makes the namespace, wired before it runs */
                        r = bridge_reserve(m->bridge, u->name, u->config, ret_error);
                        so.netns_ready = unit_bridge_connect;
                        so.netns_ready_data = u;
                } else {
                        r = bridge_attach(m->bridge, u->name, u->config, &netns, ret_error);
                        so.join_netns = true;
                        so.netns_fd = netns;
                }
                if (r < 0)
                        return r;
                hosts = bridge_unit_file(m->bridge, u->name, "hosts");
                resolv = bridge_unit_file(m->bridge, u->name, "resolv.conf");
                so.hosts_file = hosts;
                so.resolv_file = resolv;
        }
        r = spawn_prepare(u->config, &so, &plan, ret_error);
        if (r < 0) {
                bridge_detach(m->bridge, u->name);
                return r;
        }
        STRV_FOREACH(w, spawn_plan_warnings(plan))
                log_unit(LOG_WARNING, u->name, "%s", *w);
        r = spawn_container(plan, &u->run, ret_error);
        if (r < 0) {
                bridge_detach(m->bridge, u->name);
                spawn_cleanup(plan);
                u->run = (SpawnResult){ .pidfd = -1, .sync_fd = -1 };
                return r;
        }
        u->plan = TAKE_PTR(plan);
        free(u->image_digest);
        u->image_digest = image.manifest_digest ? xstrdup(image.manifest_digest) : NULL;
        u->exec_done = false;
        u->held_ready = false;
        /* Only clone3(CLONE_INTO_CGROUP) needed the cgroup's directory fd. */
        u->run.cgroup->unified_fd = safe_close(u->run.cgroup->unified_fd);
        u->started_realtime = now_usec_realtime();
        if (cgroup_get_oom_kills(u->run.cgroup, &u->oom_kills_at_start) < 0)
                u->oom_kills_at_start = UINT64_MAX;
        ev_io_set(&u->pidfd_io, u->run.pidfd, EV_READ);
        ev_io_set(&u->sync_io, u->run.sync_fd, EV_READ);
        ev_io_start(m->loop, &u->pidfd_io);
        ev_io_start(m->loop, &u->sync_io);
        unit_write_runtime(u);
        unit_fdstore_add(u);
        log_unit(LOG_DEBUG, u->name, "launched as PID %d (cgroup %s)%s", (int)u->run.pid,
                 spawn_plan_cgroup_path(u->plan),
                 u->hold_fd >= 0 ? ", held before its exec until its After= units are running" : "");
        return 0;
}

static void unit_start_failed(Unit *u, int r, char *msg)
{
        ServiceEnd end = { .start_error = true, .code = -r };

        free(u->start_error);
        u->start_error = msg ? msg : xstrdup(strerror(-r));
        log_unit(LOG_ERR, u->name, "%s", u->start_error);
        unit_event(u, SERVICE_EVENT_EXITED, &end);
}

static void on_sync(struct ev_loop *loop, ev_io *w, int revents)
{
        Unit *u = w->data;
        char *msg = NULL;
        int r;

        r = spawn_read_result(u->run.sync_fd, &msg);
        if (r == -EAGAIN)
                return;
        if (r == 1) {
                /* Prelaunch: set up and waiting for the release. */
                u->held_ready = true;
                log_unit(LOG_DEBUG, u->name, "held before its exec");
                return;
        }
        ev_io_stop(loop, w);
        if (r < 0) {
                /* The child exits right after its message: the pidfd says when. */
                free(u->start_error);
                u->start_error = msg ? msg : xasprintf("setup failed: %s", strerror(-r));
                return;
        }
        u->exec_done = true;
        /* Done with: fds are counted (1000 units stay below RLIMIT_NOFILE). */
        u->run.sync_fd = safe_close(u->run.sync_fd);
        u->release_fd = safe_close(u->release_fd);
        free(u->start_error);
        u->start_error = NULL;
        /* [Health]: the checks start with the command; ready at the first
         * healthy verdict (and READY=1 with Notify=yes). */
        u->health = health_free(u->health);
        u->health = health_start(u);
        if (u->config->notify) {
                /* Ready at READY=1, which may have come already: the
                 * command can run and report before this EOF is read. The
                 * watchdog runs from now on. */
                unit_watchdog_arm(u);
                if (!u->ready)
                        return;
        }
        if (u->health)
                return;
        unit_event(u, SERVICE_EVENT_READY, NULL);
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
                on_sync(loop, &u->sync_io, EV_READ);
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
static void unit_event(Unit *u, ServiceEvent ev, const void *data)
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

static void manager_dispatch(Manager *m)
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

/* ------------------------------------------------------------------ re-adoption
 *
 * A ccsupd that was killed, crashed or restarted (systemd's KillMode=process)
 * left its containers running and their runtime state files behind. The
 * next one takes each one back when the file still names the same process
 * (PID and start time: never a reused PID) in the same cgroup; otherwise it
 * empties and removes that cgroup, by path only, and starts the unit anew.
 */

typedef struct RuntimeState {
        pid_t pid;
        uint64_t start_time, started_at, config_hash;
        int stop_signal;
        bool held;                /* Held=1: held before its exec (prelaunch) */
        char *cgroup;
        char *image_digest;       /* NULL: not recorded (a directory image, an older ccsupd) */
} RuntimeState;

static int runtime_state_read(const char *path, RuntimeState *ret)
{
        _cleanup_free_ char *text = NULL;
        RuntimeState rs = { .pid = 0 };
        int r, pid = 0;

        r = read_full_file(path, 65536, &text, NULL);
        if (r < 0)
                return r;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                const char *v;
                if ((v = startswith(line, "PID=")))
                        (void)sscanf(v, "%d", &pid);
                else if ((v = startswith(line, "StartTime=")))
                        (void)sscanf(v, "%" SCNu64, &rs.start_time);
                else if ((v = startswith(line, "StartedAt=")))
                        (void)sscanf(v, "%" SCNu64, &rs.started_at);
                else if ((v = startswith(line, "ConfigHash=")))
                        (void)sscanf(v, "%" SCNx64, &rs.config_hash);
                else if ((v = startswith(line, "StopSignal=")))
                        (void)sscanf(v, "%d", &rs.stop_signal);
                else if ((v = startswith(line, "Cgroup=")) && !rs.cgroup)
                        rs.cgroup = xstrdup(v);
                else if ((v = startswith(line, "ImageDigest=")) && *v && !rs.image_digest)
                        rs.image_digest = xstrdup(v);
                else if (streq(line, "Held=1"))
                        rs.held = true;
        }
        rs.pid = pid;
        *ret = rs;
        return 0;
}

/* Whether pid is in the cgroup path (or below it) in any hierarchy. */
static bool proc_in_cgroup(pid_t pid, const char *path)
{
        _cleanup_free_ char *file = xasprintf("/proc/%d/cgroup", (int)pid), *text = NULL;
        size_t n = strlen(path);

        if (read_full_file(file, 65536, &text, NULL) < 0)
                return false;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                const char *p = strchr(line, ':');
                p = p ? strchr(p + 1, ':') : NULL;
                if (p && strncmp(p + 1, path, n) == 0 && (p[1 + n] == '\0' || p[1 + n] == '/'))
                        return true;
        }
        return false;
}

/* A pidfd of the process rs names, if it still is that process and in its
 * cgroup. The pidfd comes first: a PID reused after it was taken shows a
 * different start time, so a match names the process the pidfd holds.
 * stored: the pidfd from the fd store (taken over), which refers to rs's
 * PID already (checked by the caller), or -1 for pidfd_open(). */
static int runtime_state_pidfd(const RuntimeState *rs, int stored, int *ret)
{
        _cleanup_close_ int fd = stored;
        uint64_t start;

        if (rs->pid <= 0 || rs->start_time == 0)
                return -EINVAL;
        if (fd < 0)
                fd = pidfd_open(rs->pid, 0);
        if (fd < 0)
                return -errno;
        if (proc_start_time(rs->pid, &start) < 0)
                return -ESRCH;
        if (start != rs->start_time)
                return -ESTALE;
        if (!proc_in_cgroup(rs->pid, rs->cgroup))
                return -EXDEV;
        *ret = TAKE_FD(fd);
        return 0;
}

/* Empties and removes a dead container's cgroup (by path: nothing in it is
 * signalled by PID) through the unit's cleanup timer. */
static void unit_clean_stale_cgroup(Unit *u, const char *path)
{
        Manager *m = u->manager;
        Cgroup *cg = NULL;

        if (cgroup_open(m->o.cgroup_root, m->o.cgroup_mode, path, &cg) < 0)
                return; /* gone already */
        log_unit(LOG_NOTICE, u->name, "removing cgroup `%s` of a container that is gone", path);
        if (cgroup_is_populated(cg) > 0)
                (void)cgroup_kill_all(cg);
        cgroup_free(u->dead_cgroup);
        u->dead_cgroup = cg;
        u->cleanup_tries = 0;
        ev_timer_again(m->loop, &u->cleanup_timer);
}

/* The output of a re-adopted container: in file mode, the read ends of its
 * pipes, from the previous ccsupd (daemon-reexec) or systemd's fd store;
 * else (the previous ccsupd was killed) a new read end of the pipe its PID 1
 * writes to, opened through /proc. */
static void unit_adopt_output(Unit *u, pid_t pid)
{
        static const char *const prefix[2] = { "stdout-", "stderr-" };
        LogTarget t = LOG_TARGET_NONE;
        struct stat st[2] = {};
        bool have[2] = {}, from_previous;
        int fds[2] = { -1, -1 };

        for (int i = 0; i < 2; i++) {
                _cleanup_free_ char *path = xasprintf("/proc/%d/fd/%d", (int)pid, i + 1);
                struct stat fst;
                have[i] = stat(path, &st[i]) == 0;
                fds[i] = manager_take_stored_fd(u->manager, prefix[i], u->name);
                if (fds[i] >= 0 && (fstat(fds[i], &fst) < 0 || !S_ISFIFO(fst.st_mode)))
                        fds[i] = safe_close(fds[i]);
        }
        from_previous = fds[0] >= 0 || fds[1] >= 0;
        if (have[0] && S_ISSOCK(st[0].st_mode))
                t = LOG_TARGET_JOURNAL;
        else if ((have[0] && S_ISFIFO(st[0].st_mode)) || fds[0] >= 0 || fds[1] >= 0)
                /* Pipes: a file, or the journal relayed through us. */
                t = u->manager->o.journal_relay && unit_log_target(u) == LOG_TARGET_JOURNAL ? LOG_TARGET_JOURNAL
                                                                                          : LOG_TARGET_FILE;
        for (int i = 0; i < 2 && !from_previous; i++) {
                _cleanup_free_ char *path = xasprintf("/proc/%d/fd/%d", (int)pid, i + 1);
                /* 2>&1 in the container: one pipe, one reader. */
                if (!have[i] || !S_ISFIFO(st[i].st_mode) ||
                    (i == 1 && have[0] && st[0].st_ino == st[1].st_ino && st[0].st_dev == st[1].st_dev))
                        continue;
                fds[i] = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
                if (fds[i] < 0)
                        log_unit(LOG_WARNING, u->name, "output of PID %d: %s: %s", (int)pid, path,
                                 strerror(errno));
        }
        unit_log_adopt(u->log, t, fds);
}

static void unit_adopt(Unit *u, const RuntimeState *rs, int pidfd, Cgroup *cg, bool from_store)
{
        Manager *m = u->manager;
        uint64_t now_rt = now_usec_realtime(), now_mono = now_usec_monotonic();
        uint64_t age = rs->started_at && rs->started_at < now_rt ? now_rt - rs->started_at : 0;
        ServiceAdopt ad = { .started_usec = age < now_mono ? now_mono - age : 0 };

        u->run = (SpawnResult){ .pid = rs->pid, .pidfd = pidfd, .sync_fd = -1, .cgroup = cg };
        unit_adopt_output(u, rs->pid);
        u->exec_done = true;
        u->adopted = true;
        u->adopted_hash = rs->config_hash;
        u->adopted_stop_signal = rs->stop_signal;
        u->started_realtime = rs->started_at;
        free(u->image_digest);
        u->image_digest = rs->image_digest ? xstrdup(rs->image_digest) : NULL;
        if (!u->image_digest && u->config && u->config->image_kind != IMAGE_DIRECTORY) {
                /* Not recorded: what the unit's Image= names now is the best guess. */
                _cleanup_(resolved_image_done) ResolvedImage ri = {};
                _cleanup_free_ char *ignored = NULL;
                if (store_resolve_stored(m->o.state_dir, u->config, &ri, &ignored) >= 0)
                        u->image_digest = TAKE_PTR(ri.manifest_digest);
        }
        if (cgroup_get_oom_kills(cg, &u->oom_kills_at_start) < 0)
                u->oom_kills_at_start = UINT64_MAX;
        ev_io_set(&u->pidfd_io, pidfd, EV_READ);
        ev_io_start(m->loop, &u->pidfd_io);
        log_unit(LOG_INFO, u->name, "re-adopted PID %d (cgroup %s)", (int)rs->pid, rs->cgroup);
        if (from_store) {
                /* systemd keeps it: what it passes back stays in the store. */
                u->fd_stored = m->o.fd_store;
                log_unit(LOG_INFO, u->name, "adopted %s (PID %d) through the stored pidfd",
                         u->name, (int)rs->pid);
        } else {
                /* A pidfd of the same process may be there (daemon-reexec):
                 * replaced, never doubled. */
                unit_fdstore_remove(u, true);
                unit_fdstore_add(u);
        }
        unit_event(u, SERVICE_EVENT_ADOPT, &ad);
        /* It runs, so it was ready; its checks go on (the unit file's: the
         * image's Healthcheck was in the launch plan, which is gone). */
        u->health = health_free(u->health);
        u->health = health_start(u);
}

/* Takes back the container of u's runtime state file, or cleans up after
 * it. Returns true when adopted. */
static bool unit_try_adopt(Unit *u)
{
        Manager *m = u->manager;
        _cleanup_free_ char *path = unit_runtime_file(u);
        _cleanup_free_ char *prefix = xasprintf("%s/", streq(m->o.cgroup_parent, "/") ? "" : m->o.cgroup_parent);
        RuntimeState rs;
        Cgroup *cg = NULL;
        int fd = -1, stored = manager_take_stored_fd(m, "pidfd-", u->name), r;
        bool had_stored = stored >= 0;
        pid_t stored_pid = 0;

        if (runtime_state_read(path, &rs) < 0) {
                if (had_stored) { /* nothing to adopt: the store forgets it */
                        safe_close(stored);
                        unit_fdstore_remove(u, true);
                }
                return false;
        }
        if (stored >= 0 && (stored_pid = pidfd_get_pid(stored)) != rs.pid) {
                log_unit(LOG_NOTICE, u->name, "stored pidfd refers to %s, not PID %d: ignored",
                         stored_pid < 0 ? "a process that has ended" : stored_pid == 0 ? "no process"
                         : "another process", (int)rs.pid);
                stored = safe_close(stored);
        }
        /* Only a container cgroup of ours is ever emptied by path. */
        if (!rs.cgroup || !startswith(rs.cgroup, prefix) || !path_is_normalized_absolute(rs.cgroup)) {
                log_unit(LOG_WARNING, u->name, "runtime state `%s`: bad cgroup, ignored", path);
                safe_close(stored);
                goto gone;
        }
        if (rs.held) {
                /* The previous ccsupd held it before its exec and cannot
                 * release it any more (the FIFO went with it): killed, and
                 * the unit starts anew, in order. */
                safe_close(stored);
                log_unit(LOG_NOTICE, u->name, "PID %d was held before its exec by the previous ccsupd: killed, started anew",
                         (int)rs.pid);
                unit_clean_stale_cgroup(u, rs.cgroup);
                goto gone;
        }
        r = runtime_state_pidfd(&rs, stored, &fd);
        if (r == 0)
                r = cgroup_open(m->o.cgroup_root, m->o.cgroup_mode, rs.cgroup, &cg);
        if (r < 0) {
                safe_close(fd);
                log_unit(LOG_NOTICE, u->name, "PID %d of the previous run not re-adopted: %s",
                         (int)rs.pid, r == -ESTALE ? "another process (start time differs)"
                                      : r == -EXDEV ? "in another cgroup"
                                      : r == -ESRCH ? "gone" : strerror(-r));
                unit_clean_stale_cgroup(u, rs.cgroup);
                goto gone;
        }
        unit_adopt(u, &rs, fd, cg, stored >= 0);
        free(rs.cgroup);
        free(rs.image_digest);
        return true;
gone:
        if (had_stored)
                unit_fdstore_remove(u, true);
        (void)unlink(path);
        free(rs.cgroup);
        free(rs.image_digest);
        return false;
}

int manager_prepare_reexec(Manager *m)
{
        if (m->shutting_down)
                return -ESHUTDOWN;
        /* A launch or a stop in progress would be lost: its sync socket,
         * its stop timer. */
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                if (u->svc.state == SERVICE_STARTING || u->svc.state == SERVICE_STOPPING ||
                    u->import || (u->run.pidfd >= 0 && !u->exec_done))
                        return -EBUSY;
        }
        return 0;
}

void manager_flush_runtime(Manager *m)
{
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                if (u->run.pidfd >= 0 && u->exec_done && u->run.pid > 0)
                        unit_write_runtime(u);
        }
}

/* Runtime state files of units that are gone from the unit path: their
 * containers are adopted and stopped, or cleaned up. */
static void manager_adopt_strays(Manager *m)
{
        _cleanup_free_ char *dir = path_join(m->o.runtime_dir, "units");
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                Unit *u;
                size_t n = strlen(de->d_name);
                if (!unit_name_is_valid(de->d_name) || manager_get_unit(m, de->d_name) ||
                    (n > 4 && streq(de->d_name + n - 4, ".tmp")))
                        continue;
                u = unit_new(m, de->d_name);
                manager_add_unit(m, u);
                log_unit(LOG_NOTICE, u->name, "no unit file any more: stopping its container");
                (void)unit_try_adopt(u);
                unit_mark_removed(u);
        }
        closedir(d);
}

/* ------------------------------------------------------------------ reload */

void reload_changes_free(ReloadChange *c, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(c[i].name);
        free(c);
}

static void add_change(ReloadChange **c, size_t *n, const char *name, const char *what)
{
        *c = xrealloc(*c, (*n + 1) * sizeof(ReloadChange));
        (*c)[(*n)++] = (ReloadChange){ .name = xstrdup(name), .what = what };
}

static bool strv_equal(char *const *a, char *const *b)
{
        size_t n = strv_length(a);

        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

/* Applies what the unit path now says about an existing or new unit.
 * Returns what changed (NULL: nothing to report); takes c and errors. */
static const char *unit_apply_load(Unit *u, bool is_new, bool masked, UnitConfig *c, char **errors)
{
        bool active = unit_is_active(u);

        if (masked) {
                ServiceReload rl = { SERVICE_LOAD_MASKED };
                unit_config_free(c);
                strv_free(errors);
                bool was = u->masked;
                u->masked = true;
                u->pending_start = false;
                strv_free(u->load_errors);
                u->load_errors = NULL;
                unit_event(u, SERVICE_EVENT_RELOAD, &rl);
                return is_new || !was ? "masked" : NULL;
        }
        bool was_masked = u->masked;
        u->masked = false;

        if (errors) {
                ServiceReload rl = { SERVICE_LOAD_BAD };
                STRV_FOREACH(e, errors)
                        log_unit(LOG_ERR, u->name, "%s", *e);
                strv_free(u->load_errors);
                u->load_errors = errors;
                if (active) {
                        /* Keeps running with its previous configuration. */
                        unit_config_free(c);
                        return "bad";
                }
                unit_config_free(u->config);
                u->config = c;
                if (is_new)
                        u->wanted = true; /* started once its file is fixed, as if dropped in then */
                u->pending_start = false;
                unit_event(u, SERVICE_EVENT_RELOAD, &rl);
                return "bad";
        }

        bool was_bad = u->svc.state == SERVICE_BAD || u->load_errors;
        strv_free(u->load_errors);
        u->load_errors = NULL;
        if (!is_new && !was_bad && !was_masked && u->config && u->config->hash == c->hash) {
                unit_config_free(c);
                return NULL;
        }
        if (!is_new && u->config && u->config->hash == c->hash && active) {
                /* A bad edit reverted: the running configuration is the file's again. */
                unit_config_free(c);
                return "changed";
        }
        unit_config_free(u->config);
        u->config = c;
        if (is_new) {
                u->wanted = true;
                /* On demand: at the first connection (unit_sockets_update). */
                u->pending_start = c->activation != ACTIVATION_ON_DEMAND;
                return "added";
        }
        ServiceReload rl = { SERVICE_LOAD_CHANGED };
        unit_event(u, SERVICE_EVENT_RELOAD, &rl);
        if (!unit_is_active(u) && u->wanted && c->activation != ACTIVATION_ON_DEMAND)
                u->pending_start = true;
        u->manager->graph_dirty = true;
        return "changed";
}

static void unit_mark_removed(Unit *u)
{
        u->removed = true;
        u->wanted = false;
        u->pending_start = false;
        if (unit_is_active(u))
                u->pending_stop = true;
        u->manager->graph_dirty = true;
}

/* Logs what the scan skipped once, not on every reload: a note is logged
 * again only after it was gone for a scan (the file removed and back). */
static void manager_log_scan_notes(Manager *m, char **notes)
{
        STRV_FOREACH(note, notes)
                if (!strv_contains(m->scan_notes, *note))
                        log_msg(LOG_WARNING, "%s", *note);
        strv_free(m->scan_notes);
        m->scan_notes = notes;
}

int manager_reload(Manager *m, ReloadChange **ret_changes, size_t *ret_n)
{
        UnitEntry *entries = NULL;
        size_t n = 0, n_changes = 0;
        ReloadChange *changes = NULL;
        char **notes = NULL;
        bool first = m->n_units == 0, adopt = !m->adoption_done;
        int r;

        if (m->reload_cb)
                m->reload_cb(m, false, m->reload_userdata);
        r = unit_path_enumerate(m->o.unit_path, &entries, &n, &notes);
        if (r < 0) {
                if (m->reload_cb)
                        m->reload_cb(m, true, m->reload_userdata);
                return log_unit_errno(LOG_ERR, NULL, r, "scan the unit path: %s", strerror(-r));
        }
        manager_log_scan_notes(m, notes);

        /* Hold dispatching until the whole set is known, so that ordering
         * sees every unit. */
        m->dispatching = true;
        bool *seen = xcalloc(m->n_units + 1, sizeof(bool));
        size_t n_old = m->n_units;
        Unit **old = xcalloc(n_old + 1, sizeof(Unit *));
        if (n_old > 0)
                memcpy(old, m->units, n_old * sizeof(Unit *));

        for (size_t i = 0; i < n; i++) {
                UnitEntry *e = &entries[i];
                UnitConfig *c = NULL;
                char **errors = NULL;
                Unit *u = manager_get_unit(m, e->name);
                bool is_new = !u;
                const char *what;

                if (!e->masked && unit_load_entry(e, &c, &errors) >= 0) {
                        strv_free(errors);
                        errors = NULL;
                } else if (!e->masked && !errors)
                        strv_addf(&errors, "%s: cannot be loaded", e->fragment_path);
                if (u) {
                        Unit **p = bsearch(e->name, old, n_old, sizeof(Unit *), unit_name_cmp);
                        if (p)
                                seen[p - old] = true;
                        if (u->removed) {
                                u->removed = false;
                                u->wanted = true;
                                u->pending_stop = false;
                                if (!unit_is_active(u))
                                        u->pending_start = true;
                        }
                } else {
                        u = unit_new(m, e->name);
                        manager_add_unit(m, u);
                        if (adopt)
                                (void)unit_try_adopt(u);
                }
                free(u->fragment_path);
                u->fragment_path = e->fragment_path ? xstrdup(e->fragment_path) : NULL;
                if (!strv_equal(u->dropin_paths, e->dropin_paths)) {
                        strv_free(u->dropin_paths);
                        u->dropin_paths = strv_copy(e->dropin_paths);
                }
                what = unit_apply_load(u, is_new, e->masked, c, errors);
                if (is_new && u->adopted && u->config && u->config->notify)
                        unit_notify_adopted(u);
                if (is_new && u->adopted && u->config && u->config->network_mode == NETWORK_BRIDGE)
                        bridge_adopt(m->bridge, u->name, u->config);
                if (is_new && adopt)
                        unit_fdstore_take(u);
                if (what || is_new)
                        unit_fdstore_trim(u);
                if (what || is_new)
                        unit_sockets_sync(u);
                if (is_new && u->adopted && what && streq(what, "added") &&
                    u->config->hash != u->adopted_hash) {
                        /* Edited while no ccsupd watched: as a reload would. */
                        ServiceReload rl = { SERVICE_LOAD_CHANGED };
                        log_unit(LOG_INFO, u->name, "configuration changed: restarting the re-adopted container");
                        unit_event(u, SERVICE_EVENT_RELOAD, &rl);
                }
                if (is_new && what && streq(what, "masked"))
                        what = NULL; /* a masked unit was never there */
                if (first && u->pending_start)
                        u->initial = true;
                if (what && !first)
                        add_change(&changes, &n_changes, u->name, what);
                else if (what && first && !streq(what, "added"))
                        add_change(&changes, &n_changes, u->name, what);
        }
        if (adopt) {
                manager_adopt_strays(m);
                manager_close_stored_fds(m, false);
                m->adoption_done = true;
                bridge_adoption_done(m->bridge);
        }
        for (size_t i = 0; i < n_old; i++)
                if (!seen[i] && !old[i]->removed) {
                        unit_mark_removed(old[i]);
                        add_change(&changes, &n_changes, old[i]->name, "removed");
                }
        free(seen);
        free(old);
        unit_entries_free(entries, n);

        m->graph_dirty = true;
        m->dispatching = false;
        manager_dispatch(m);
        if (m->reload_cb)
                m->reload_cb(m, true, m->reload_userdata);
        for (size_t i = 0; i < m->n_hooks && !first; i++)
                if (m->hooks[i].reloaded)
                        m->hooks[i].reloaded(m, changes, n_changes, m->hooks[i].userdata);

        if (ret_changes) {
                *ret_changes = changes;
                *ret_n = n_changes;
        } else
                reload_changes_free(changes, n_changes);
        return 0;
}

/* ------------------------------------------------------------------ operator requests */

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
