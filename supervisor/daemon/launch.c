/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A start of a unit: its image (imported or pulled by a helper first), its
 * [Socket] sockets, the launch itself and the hold before its exec; and the
 * cleanup of the run before it. */
#include "manager-internal.h"

#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "bridge.h"
#include "health.h"
#include "log.h"
#include "listen.h"
#include "registry.h"
#include "store.h"
#include "test-switches.h"
#include "util.h"

static int unit_image_resolve(Unit *u, ResolvedImage *ret, char **ret_error);

/* ------------------------------------------------------------------ running a container */

/* The previous run's cgroup is gone or can be reused: forget it. */
bool unit_finish_cleanup(Unit *u, bool final)
{
        int r;

        if (!u->dead_cgroup)
                return true;
        r = cgroup_reap(u->dead_cgroup);
        if (r == -EAGAIN || (r == -EBUSY && !final))
                return false;
        if (r < 0 && r != -EBUSY)
                log_unit(LOG_WARNING, u->name, "remove cgroup `%s`: %s", u->dead_cgroup->path,
                         strerror(-r));
        ev_timer_stop(u->manager->loop, &u->cleanup_timer);
        if (u->dead_plan)
                spawn_cleanup(u->dead_plan);
        u->dead_plan = spawn_plan_free(u->dead_plan);
        u->dead_cgroup = cgroup_free(u->dead_cgroup);
        return true;
}

/* The container's PID 1 ended: empty its cgroup and remove it, from a timer
 * when the kernel is not done with it yet. */
void unit_cleanup_run(Unit *u)
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

static bool unit_image_is_remote(const UnitConfig *c)
{
        return c->image_kind == IMAGE_STORE && c->image_ref && registry_ref_is_remote(c->image_ref);
}

void unit_import_free(Unit *u)
{
        if (!u->import)
                return;
        ev_io_stop(u->manager->loop, &u->import->io);
        if (u->import->job.pidfd >= 0)
                store_import_cancel(&u->import->job);
        free(u->import);
        u->import = NULL;
}

void unit_import_abort(Unit *u)
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

/* ------------------------------------------------------------------ [Socket] */

/* The i-th socket of the unit file: its value and type. */
static const char *listen_spec(const UnitConfig *c, size_t i, int *ret_type)
{
        size_t ns = strv_length(c->listen_stream);

        *ret_type = i < ns ? SOCK_STREAM : SOCK_DGRAM;
        return i < ns ? c->listen_stream[i] : c->listen_datagram[i - ns];
}

void unit_sockets_watch(Unit *u, bool on)
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

void unit_sockets_close(Unit *u)
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
                ev_io_init(&u->listen_io[i], unit_on_listen, fds[i], EV_READ);
                u->listen_io[i].data = u;
        }
        return 0;
}

/* After a unit file was (re)loaded: its sockets listen from now on, and
 * those a previous ccsupd or a re-adopted container holds are taken back
 * before they are lost. A running container keeps its sockets until its
 * restart with the new file. */
void unit_sockets_sync(Unit *u)
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
void unit_hold_release(Unit *u)
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

int unit_launch(Unit *u, char **ret_error)
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

void unit_start_failed(Unit *u, int r, char *msg)
{
        ServiceEnd end = { .start_error = true, .code = -r };

        free(u->start_error);
        u->start_error = msg ? msg : xstrdup(strerror(-r));
        log_unit(LOG_ERR, u->name, "%s", u->start_error);
        unit_event(u, SERVICE_EVENT_EXITED, &end);
}

void unit_on_sync(struct ev_loop *loop, ev_io *w, int revents)
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
