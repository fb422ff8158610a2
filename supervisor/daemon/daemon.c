/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "daemon.h"

#include <ev.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <stdio.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "autoupdate-timer.h"
#include "control.h"
#include "fdkeeper.h"
#include "log.h"
#include "manager.h"
#include "notify.h"
#include "pid1.h"
#include "self-exe.h"
#include "systemd-job.h"
#include "util.h"
#include "watch.h"

typedef struct Daemon {
        struct ev_loop *loop;
        Manager *manager;
        Control *control;
        Notify *notify;
        Watch *watch;
        AutoUpdateTimer *auto_update;
        ev_signal sigterm, sigint, sighup, sigchld;
        char *cgroup_parent;
        bool delegated;
        bool scoped;            /* in UNIT-containers.scope (systemd before 254) */
        bool reload_announced;  /* RELOADING=1 sent for the reload in progress */
        bool reexec;            /* daemon-reexec requested: execve() once the loop ends */
        bool detach;            /* systemd restarts us: exit, the containers left running */
} Daemon;

static void daemon_reload(Daemon *d, const char *why)
{
        ReloadChange *changes = NULL;
        size_t n = 0;

        log_msg(LOG_INFO, "reloading (%s)", why);
        if (manager_reload(d->manager, &changes, &n) >= 0)
                for (size_t i = 0; i < n; i++)
                        log_unit(LOG_INFO, changes[i].name, "%s", changes[i].what);
        reload_changes_free(changes, n);
}

/* Every reload, whoever asked for it (SIGHUP, the watch, ccsupctl). The
 * first load is not a reload for systemd: READY=1 has not been sent yet. */
static void on_manager_reload(Manager *m, bool done, void *userdata)
{
        Daemon *d = userdata;

        if (!done) {
                d->reload_announced = m->ready;
                if (d->reload_announced)
                        notify_reloading(d->notify);
                return;
        }
        if (d->watch)
                watch_sync(d->watch);
        if (d->reload_announced)
                notify_reloaded(d->notify);
        d->reload_announced = false;
}

static void on_watch_reload(void *userdata)
{
        daemon_reload(userdata, "the unit path changed");
}

static void on_sighup(struct ev_loop *loop, ev_signal *w, int revents)
{
        daemon_reload(w->data, "SIGHUP");
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
        Daemon *d = w->data;

        /* PID 1 never exits: stop everything, then reboot (ctrl-alt-del is
         * SIGINT too). */
        if (pid1_enabled()) {
                (void)pid1_request(PID1_REBOOT, w->signum == SIGINT ? "SIGINT" : "SIGTERM");
                return;
        }
        if (d->manager->shutting_down)
                return;
        /* `systemctl restart ccsupd`: systemd sends the SIGTERM of a stop,
         * but starts us again at once; with KillMode=process the containers
         * stay, and the next ccsupd re-adopts them, restarting none. */
        if (w->signum == SIGTERM && systemd_restart_pending()) {
                log_msg(LOG_INFO, "SIGTERM: systemd restarts ccsupd; the containers keep running, "
                                  "for the next ccsupd to re-adopt");
                d->detach = true;
                ev_break(d->loop, EVBREAK_ALL);
                return;
        }
        log_msg(LOG_INFO, "%s: shutting down", w->signum == SIGINT ? "SIGINT" : "SIGTERM");
        notify_stopping(d->notify);
        manager_shutdown(d->manager);
}

static void on_sigchld(struct ev_loop *loop, ev_signal *w, int revents)
{
        /* Containers are reaped through their pidfds (waitid(P_PIDFD)); a
         * waitpid(-1) here would steal their exit statuses. As PID 1, the
         * orphans the kernel hands us are reaped here, around them. */
        pid1_reap();
}

/* CCSUP_REEXEC_FDS: "NAME=FD ..." from the ccsupd we were before a
 * daemon-reexec, taken like fds from systemd's fd store. */
static void take_reexec_fds(Manager *m)
{
        _cleanup_free_ char *words = getenv("CCSUP_REEXEC_FDS") ? xstrdup(getenv("CCSUP_REEXEC_FDS")) : NULL;
        char *save = NULL;

        unsetenv("CCSUP_REEXEC_FDS");
        if (!words)
                return;
        for (char *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
                char *eq = strrchr(w, '=');
                int fd;
                if (!eq || sscanf(eq + 1, "%d", &fd) != 1 || fd < 3 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
                        log_msg(LOG_WARNING, "CCSUP_REEXEC_FDS: `%s` ignored", w);
                        continue;
                }
                *eq = '\0';
                manager_add_stored_fd(m, w, fd);
        }
}

static Daemon *the_daemon; /* for the callbacks that get only the manager */

/* The reply to Reexec is out: leave the loop, then execve() (daemon_reexec). */
static void on_reexec(Manager *m)
{
        the_daemon->reexec = true;
        ev_break(m->loop, EVBREAK_ALL);
}

/*
 * daemon-reexec: the runtime state file of every running container, then
 * execve() of our own binary with the original argv, the signal mask as it
 * is (main() blocked SIGINT/SIGTERM/SIGHUP first thing; a pending one stays
 * pending). Every descriptor is O_CLOEXEC: the control socket, the pidfds,
 * the inotify, the signalfd go; but for those handed over by name
 * (CCSUP_REEXEC_FDS: output pipes, [Socket] sockets, fd stores) and the
 * bridge's (CCSUP_REEXEC_BRIDGE: held ports, open [::1] relays and UDP
 * flows, described in a memfd). The PID stays, so the containers stay our
 * children; the new ccsupd re-adopts them from their state files and reads
 * their exit statuses with waitid(P_PIDFD). We run from a sealed copy of
 * our binary (self-exe.c): what is executed is the file at the path it was
 * copied from, so that an upgraded binary is picked up (and sealed again).
 * Returns only on failure.
 */
static void daemon_reexec(Daemon *d, const DaemonOptions *o)
{
        const char *exe = self_exe_path();

        _cleanup_free_ char *fds = manager_reexec_fds(d->manager);
        int bridge = manager_reexec_bridge(d->manager);

        manager_flush_runtime(d->manager);
        /* The [::1] relays, open connections and all (bridge.h). */
        if (bridge >= 0) {
                char n[16];
                snprintf(n, sizeof(n), "%d", bridge);
                setenv("CCSUP_REEXEC_BRIDGE", n, 1);
        }
        /* The output pipes' read ends go over: the containers' writes never
         * meet a pipe without a reader. */
        if (*fds)
                setenv("CCSUP_REEXEC_FDS", fds, 1);
        setenv("CCSUP_REEXEC", "1", 1);
        notify_reloading(d->notify);
        log_msg(LOG_INFO, "re-executing (daemon-reexec)");
        if (exe) {
                execv(exe, o->argv);
                log_msg(LOG_WARNING, "execve `%s`: %s; trying /proc/self/exe", exe, strerror(errno));
                /* The sealed copy again: it must not take its own name for
                 * the binary on disk. */
                (void)setenv("CCSUP_EXE", exe, 1);
        }
        execv("/proc/self/exe", o->argv);
        log_msg(LOG_ERR, "daemon-reexec: execve: %s; going on as before", strerror(errno));
        unsetenv("CCSUP_EXE");
        unsetenv("CCSUP_REEXEC_FDS");
        unsetenv("CCSUP_REEXEC");
        unsetenv("CCSUP_REEXEC_BRIDGE");
        manager_reexec_fds_done(d->manager);
        manager_reexec_bridge_abort(d->manager, bridge);
        notify_reloaded(d->notify);
}

static void on_idle(Manager *m)
{
        ev_break(m->loop, EVBREAK_ALL);
}

/*
 * With --cgroup unset, under systemd with Delegate=yes on a pure cgroup2
 * host (systemd marks delegated cgroups with the trusted.delegate xattr):
 * containers go below our own cgroup, and ccsupd moves itself into a
 * "supervisor" leaf first (no processes in inner cgroups). Else /ccsup.
 */
static int daemon_choose_cgroup(Daemon *d, const DaemonOptions *o, CgroupMode mode)
{
        _cleanup_free_ char *own = NULL, *dir = NULL, *leaf = NULL, *pid = NULL;
        char value[8] = "";

        if (o->cgroup) {
                d->cgroup_parent = xstrdup(o->cgroup);
                return 0;
        }
        d->cgroup_parent = xstrdup("/ccsup");
        if (mode != CGROUP_MODE_V2 || !getenv("NOTIFY_SOCKET"))
                return 0;
        own = cgroup_pid_path(0);
        if (!own || streq(own, "/"))
                return 0;
        /* After daemon-reexec we are in our "supervisor" leaf already. */
        size_t l = strlen(own), sl = strlen("/supervisor");
        if (l > sl && streq(own + l - sl, "/supervisor")) {
                _cleanup_free_ char *up = xstrndup(own, l - sl);
                _cleanup_free_ char *updir = xasprintf("%s%s", CGROUP_ROOT_DEFAULT, up);
                if (getxattr(updir, "trusted.delegate", value, sizeof(value) - 1) > 0 && value[0] == '1') {
                        free(own);
                        own = TAKE_PTR(up);
                }
                value[0] = '\0';
        }
        dir = xasprintf("%s%s", CGROUP_ROOT_DEFAULT, own);
        if (getxattr(dir, "trusted.delegate", value, sizeof(value) - 1) <= 0 || value[0] != '1')
                return 0;
        /* systemd before 254: a scope of their own (systemd-job.h). */
        _cleanup_free_ char *scope = NULL;
        if (systemd_scope_open(CGROUP_ROOT_DEFAULT, &scope) > 0) {
                free(d->cgroup_parent);
                d->cgroup_parent = TAKE_PTR(scope);
                d->delegated = d->scoped = true;
                return 0;
        }
        leaf = path_join(dir, "supervisor");
        if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
                return log_unit_errno(LOG_ERR, NULL, -errno, "cgroup `%s`: %s", leaf, strerror(errno));
        pid = path_join(leaf, "cgroup.procs");
        int r = write_string_file(pid, "0");
        if (r < 0)
                return log_unit_errno(LOG_ERR, NULL, r, "move into `%s`: %s", leaf, strerror(-r));
        free(d->cgroup_parent);
        d->cgroup_parent = TAKE_PTR(own);
        d->delegated = true;
        log_msg(LOG_INFO, "delegated cgroup `%s`: containers go below it", d->cgroup_parent);
        return 0;
}

static void daemon_signals(Daemon *d)
{
        ev_signal_init(&d->sigterm, on_stop_signal, SIGTERM);
        ev_signal_init(&d->sigint, on_stop_signal, SIGINT);
        ev_signal_init(&d->sighup, on_sighup, SIGHUP);
        ev_signal_init(&d->sigchld, on_sigchld, SIGCHLD);
        d->sigterm.data = d->sigint.data = d->sighup.data = d->sigchld.data = d;
        ev_signal_start(d->loop, &d->sigterm);
        ev_signal_start(d->loop, &d->sigint);
        ev_signal_start(d->loop, &d->sighup);
        ev_signal_start(d->loop, &d->sigchld);
}

static void on_manager_ready(Manager *m)
{
        log_msg(LOG_INFO, "every unit has been started");
        notify_ready(the_daemon->notify);
}

/*
 * Debian's kernel builds overlayfs as a module. Its on-demand loading is not
 * serialised against concurrent mounts: several containers starting at once
 * on a fresh boot saw "overlay: No such device" while the module was still
 * loading. fsopen() makes the kernel load it now, synchronously, before any
 * container starts.
 */
static void daemon_load_overlay(void)
{
        int fd = (int)syscall(SYS_fsopen, "overlay", 1 /* FSOPEN_CLOEXEC */);
        if (fd < 0)
                log_msg(LOG_WARNING, "overlay filesystem unavailable (%s): images with a writable layer will fail to start",
                        strerror(errno));
        safe_close(fd);
}

static int daemon_setup(Daemon *d, const DaemonOptions *o, char **dirs)
{
        _cleanup_free_ char *socket_path = path_join(o->runtime_dir, "control");
        CgroupMode mode;
        int r;

        r = cgroup_detect_mode(CGROUP_ROOT_DEFAULT, &mode);
        if (r < 0)
                return log_unit_errno(LOG_ERR, NULL, r, "no cgroup hierarchy at %s: %s",
                                      CGROUP_ROOT_DEFAULT, strerror(-r));
        r = daemon_choose_cgroup(d, o, mode);
        if (r < 0)
                return r;
        if (mkdir(o->runtime_dir, 0755) < 0 && errno != EEXIST)
                return log_unit_errno(LOG_ERR, NULL, -errno, "runtime directory `%s`: %s",
                                      o->runtime_dir, strerror(errno));

        ManagerOptions mo = {
                .unit_path = dirs,
                .runtime_dir = o->runtime_dir,
                .state_dir = o->state_dir,
                .log_dir = o->log_dir,
                .cgroup_root = CGROUP_ROOT_DEFAULT,
                .cgroup_mode = mode,
                .cgroup_parent = d->cgroup_parent,
                .fd_store = getenv("NOTIFY_SOCKET") != NULL,
                /* journald files a stream's lines under the writer's unit:
                 * ccsupd's, not the scope's, when ccsupd writes them. */
                .journal_relay = d->scoped,
                .tmpfs_size = o->tmpfs_size,
                .tmpfs_size_bp = o->tmpfs_size_bp,
                .bridge = o->bridge,
                .bridge_subnet = o->bridge_subnet,
                .bridge_subnet6 = o->bridge_subnet6,
                .bridge_mtu = o->bridge_mtu,
        };
        /* CCSUP_REEXEC_BRIDGE: from the ccsupd we were (daemon_reexec()). */
        const char *handover = getenv("CCSUP_REEXEC_BRIDGE");
        if (handover && sscanf(handover, "%d", &mo.bridge_handover) == 1 && mo.bridge_handover >= 3)
                (void)fcntl(mo.bridge_handover, F_SETFD, FD_CLOEXEC);
        else
                mo.bridge_handover = -1;
        unsetenv("CCSUP_REEXEC_BRIDGE");
        char **fd_names = NULL;
        daemon_load_overlay();
        r = manager_new(d->loop, &mo, &d->manager);
        if (r < 0)
                return r;
        /* What systemd's fd store passes back: the pidfds of the containers
         * of a previous ccsupd, for their re-adoption. */
        r = sd_listen_fds_with_names(1, &fd_names);
        if (r < 0)
                log_msg(LOG_WARNING, "LISTEN_FDS: %s", strerror(-r));
        else if (r > 0) {
                log_msg(LOG_DEBUG, "%d fd(s) from the fd store", r);
                manager_set_stored_fds(d->manager, r, fd_names);
        } else
                strv_free(fd_names);
        /* Without systemd (and not as PID 1, whose death is the machine's):
         * the fd keeper holds what systemd's fd store would. After a
         * daemon-reexec the fds came over with us; the keeper has them too. */
        bool reexeced = getenv("CCSUP_REEXEC") != NULL;
        unsetenv("CCSUP_REEXEC");
        if (!d->manager->o.fd_store && !pid1_enabled()) {
                r = fdkeeper_open(o->runtime_dir, !reexeced, d->manager);
                if (r < 0)
                        log_msg(LOG_WARNING, "fd keeper: %s; the fds of the containers die with ccsupd",
                                strerror(-r));
                else {
                        d->manager->fd_keeper = r;
                        d->manager->o.fd_store = true;
                }
        }
        take_reexec_fds(d->manager);
        d->manager->ready_cb = on_manager_ready;
        d->manager->idle_cb = on_idle;
        d->manager->reload_cb = on_manager_reload;
        d->manager->reload_userdata = d;
        if (o->argv && o->argv[0])
                d->manager->reexec_cb = on_reexec;
        d->notify = notify_new(d->manager);
        pid1_attach(d->manager);
        r = control_new(d->manager, socket_path, &d->control);
        if (r < 0)
                return r;
        if (o->auto_update_interval_usec)
                d->auto_update = auto_update_timer_new(d->loop, socket_path, o->state_dir,
                                                       o->auto_update_interval_usec);
        if (!o->no_watch) {
                r = watch_new(d->loop, dirs, on_watch_reload, d, &d->watch);
                if (r < 0)
                        return r;
        }
        daemon_signals(d);
        log_msg(LOG_INFO, "ccsupd %s: cgroup %s (%s), unit path %s", PACKAGE_VERSION,
                d->cgroup_parent, cgroup_mode_to_string(mode), o->unit_path);
        if (self_exe_warning())
                log_msg(LOG_WARNING, "%s", self_exe_warning());
        return 0;
}

static void daemon_teardown(Daemon *d)
{
        d->auto_update = auto_update_timer_free(d->auto_update);
        if (d->watch)
                d->watch = watch_free(d->watch);
        if (d->control)
                d->control = control_free(d->control);
        pid1_detach();
        if (d->manager) {
                CgroupMode mode = d->manager->o.cgroup_mode;
                d->notify = notify_free(d->notify);
                fdkeeper_close(TAKE_FD(d->manager->fd_keeper));
                d->manager = manager_free(d->manager);
                /* Our parent cgroup, if we made it and nobody else uses it. */
                if (!d->delegated && !streq(d->cgroup_parent, "/"))
                        (void)cgroup_remove_if_empty(CGROUP_ROOT_DEFAULT, mode, d->cgroup_parent);
                if (d->scoped)
                        systemd_scope_close(CGROUP_ROOT_DEFAULT);
        }
        ev_signal_stop(d->loop, &d->sigterm);
        ev_signal_stop(d->loop, &d->sigint);
        ev_signal_stop(d->loop, &d->sighup);
        ev_signal_stop(d->loop, &d->sigchld);
        free(d->cgroup_parent);
}

static char **split_path(const char *s)
{
        char **l = NULL;

        for (const char *p = s; *p;) {
                size_t n = strcspn(p, ":");
                if (n > 0)
                        strv_push(&l, xstrndup(p, n));
                p += n;
                if (*p == ':')
                        p++;
        }
        return l;
}

int daemon_run(const DaemonOptions *o)
{
        _cleanup_strv_free_ char **dirs = split_path(o->unit_path);
        Daemon d = {};
        int r;

        log_setup(o->log_level);
        /* As PID 1: mounts, console, crash handlers, before anything else. */
        pid1_setup();
        /* One pidfd per container, and a few per client: the default soft
         * limit of 1024 is too small for a thousand containers. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
        /* Never ev_default_loop(): it reaps every child in its SIGCHLD
         * handler and would steal the statuses waitid(P_PIDFD) reads.
         * EVFLAG_SIGNALFD: main() blocked SIGINT/SIGTERM/SIGHUP first thing,
         * and they are read from a signalfd, so none is lost or fatal during
         * start-up (the launcher resets the mask in each container). */
        d.loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK | EVFLAG_SIGNALFD);
        if (!d.loop) {
                log_msg(LOG_ERR, "cannot create the event loop");
                return 1;
        }
        the_daemon = &d;
        r = daemon_setup(&d, o, dirs);
        if (r >= 0)
                r = manager_reload(d.manager, NULL, NULL);
        if (r >= 0) {
                if (d.watch)
                        watch_sync(d.watch);
                for (;;) {
                        ev_run(d.loop, 0);
                        if (d.detach) {
                                /* As after a crash, but with every state
                                 * file current: nothing stopped, nothing
                                 * removed (no teardown), fds left in
                                 * systemd's store. */
                                manager_flush_runtime(d.manager);
                                notify_stopping(d.notify);
                                fflush(NULL);
                                _exit(0);
                        }
                        if (!d.reexec)
                                break;
                        daemon_reexec(&d, o);
                        d.reexec = false;
                }
                log_msg(LOG_INFO, "every container is stopped%s", pid1_enabled() ? "" : "; exiting");
        }
        daemon_teardown(&d);
        ev_loop_destroy(d.loop);
        the_daemon = NULL;
        if (pid1_enabled())
                pid1_finish();
        return r < 0 ? 1 : 0;
}
