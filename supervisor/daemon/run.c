/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <ev.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "log.h"
#include "parse.h"
#include "run.h"
#include "self-exe.h"
#include "service.h"
#include "spawn.h"
#include "unit.h"
#include "test-switches.h"
#include "util.h"

/* Retrying a cgroup removal the kernel refuses for a moment (EBUSY), and
 * polling "populated" where no event exists (v1): 1 ms, doubling up to
 * 100 ms, about 10 s in all. */
#define RETRY_FIRST 0.001
#define RETRY_MAX 0.1
#define RETRY_MAX_TRIES 110

typedef struct Run {
        const RunOptions *options;
        const UnitConfig *config;
        const SpawnPlan *plan;
        SpawnResult spawn;
        struct ev_loop *loop;
        /* The unit's state machine, the daemon's own (service.c), fed the
         * same events. --run runs the container once: the launch is made by
         * run_unit(), and one the machine asks for later (a restart by the
         * policy) is not carried out; the run ends instead. */
        Service svc;
        bool exec_done; /* the command was executed */
        ev_io sync_io, pidfd_io, signal_io, populated_io;
        ev_timer timer;       /* the service's: start timeout, stop timeout */
        ev_timer retry_timer; /* the cgroup's removal */
        int signal_fd;        /* SIGINT, SIGTERM: blocked since main() */
        int populated_fd;     /* inotify on cgroup.events, made when needed */
        char *error;          /* setup failure from the child */
        int exit_status;
        uint64_t oom_kills;   /* the cgroup's OOM kill counter at start; UINT64_MAX: none */
        unsigned retries;
} Run;

static void run_event(Run *run, ServiceEvent ev, const void *data);

static void run_retry_later(Run *run)
{
        double delay = RETRY_FIRST * (double)(1U << (run->retries < 7 ? run->retries : 7));

        if (++run->retries > RETRY_MAX_TRIES) {
                log_unit(LOG_WARNING, run->config->name, "cgroup `%s` could not be removed", run->spawn.cgroup->path);
                ev_break(run->loop, EVBREAK_ALL);
                return;
        }
        ev_timer_set(&run->retry_timer, delay < RETRY_MAX ? delay : RETRY_MAX, 0.);
        ev_timer_start(run->loop, &run->retry_timer);
}

/* Watches cgroup.events, once: an inotify fd only where a container left
 * processes behind, since closing one costs an SRCU grace period (~10 ms). */
static int run_watch_populated(Run *run)
{
        int r;

        if (run->populated_fd >= 0)
                return 0;
        run->populated_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (run->populated_fd < 0)
                return -errno;
        r = cgroup_watch_populated(run->spawn.cgroup, run->populated_fd);
        if (r < 0) {
                run->populated_fd = safe_close(run->populated_fd);
                return r;
        }
        ev_io_set(&run->populated_io, run->populated_fd, EV_READ);
        ev_io_start(run->loop, &run->populated_io);
        return 1;
}

/* Empties and removes the cgroup; ends the loop once it is gone. Called when
 * PID 1 ended, on every cgroup.events change, and from the retry timer. */
static void run_try_finish(Run *run)
{
        Cgroup *cg = run->spawn.cgroup;
        int r;

        r = cgroup_reap(cg);
        if (r == -EAGAIN) {
                r = run_watch_populated(run);
                if (r < 0) {
                        run_retry_later(run); /* v1: no event */
                        return;
                }
                /* A watch made just now may have missed "populated 0". */
                if (r == 0 || (r = cgroup_reap(cg)) == -EAGAIN)
                        return;
        }
        if (r == -EBUSY) {
                run_retry_later(run);
                return;
        }
        if (r < 0)
                log_unit(LOG_WARNING, run->config->name, "remove cgroup `%s`: %s", cg->path, strerror(-r));
        ev_break(run->loop, EVBREAK_ALL);
}

static void on_populated(struct ev_loop *loop, ev_io *w, int revents)
{
        Run *run = w->data;

        cgroup_event_drain(run->populated_fd);
        if (!ev_is_active(&run->retry_timer))
                run_try_finish(run);
}

static void on_retry_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        run_try_finish(w->data);
}

static void on_sync(struct ev_loop *loop, ev_io *w, int revents)
{
        Run *run = w->data;
        _cleanup_free_ char *msg = NULL;
        int r;

        r = spawn_read_result(run->spawn.sync_fd, &msg);
        if (r == -EAGAIN)
                return;
        ev_io_stop(loop, w);
        if (r < 0) {
                run->error = msg ? TAKE_PTR(msg) : xasprintf("setup failed: %s", strerror(-r));
                return;
        }
        log_unit(LOG_DEBUG, run->config->name, "running as PID %d", (int)run->spawn.pid);
        run->exec_done = true;
        run_event(run, SERVICE_EVENT_READY, NULL);
}

/* The memory cgroup's OOM killer acted: the result is "oom-kill", exit 137,
 * whatever PID 1 itself did. */
static bool run_check_oom(Run *run)
{
        uint64_t n;

        if (run->oom_kills == UINT64_MAX ||
            cgroup_get_oom_kills(run->spawn.cgroup, &n) < 0 || n <= run->oom_kills)
                return false;
        log_unit(LOG_ERR, run->config->name, "oom-kill: the memory cgroup's OOM killer killed %" PRIu64 " process(es)",
                 n - run->oom_kills);
        run->exit_status = 128 + SIGKILL;
        return true;
}

static void on_pidfd(struct ev_loop *loop, ev_io *w, int revents)
{
        Run *run = w->data;
        siginfo_t si = {};

        if (waitid(P_PIDFD, run->spawn.pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
                return;
        ev_io_stop(loop, w);
        /* The child's message may still sit unread in the socket. */
        if (ev_is_active(&run->sync_io))
                on_sync(loop, &run->sync_io, EV_READ);
        ev_io_stop(loop, &run->sync_io);

        ServiceEnd end = {
                .start_error = run->error != NULL,
                .killed = si.si_code != CLD_EXITED,
                .code = si.si_status,
        };
        run->exit_status = end.killed ? 128 + si.si_status : si.si_status;
        log_unit(LOG_DEBUG, run->config->name, "PID 1 ended, status %d", run->exit_status);
        end.oom = run_check_oom(run);
        run_event(run, SERVICE_EVENT_EXITED, &end);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        Run *run = w->data;

        if (run->svc.state == SERVICE_STARTING) {
                _cleanup_free_ char *d = format_duration(run->config->start_timeout_usec);
                log_unit(LOG_ERR, run->config->name, "start timeout: the setup did not finish within %s", d);
        }
        run_event(run, SERVICE_EVENT_TIMER, NULL);
}

/* The stop signal to the command; before its exec, PID 1 is still ours:
 * nothing to be polite to (as in the daemon). */
static void run_kill_signal(Run *run)
{
        int sig = spawn_plan_stop_signal(run->plan);

        if (!run->exec_done) {
                (void)cgroup_kill_all(run->spawn.cgroup);
                return;
        }
        log_unit(LOG_DEBUG, run->config->name, "stopping with %s", signal_to_string(sig));
        (void)pidfd_send_signal(run->spawn.pidfd, sig, NULL, 0);
}

/* Carries out what the state machine asked for, as the daemon's
 * unit_execute() does, without the launch (see Run). */
static void run_execute(Run *run, const ServiceActions *a)
{
        if (a->flags & SERVICE_ACTION_KILL_SIGNAL)
                run_kill_signal(run);
        if (a->flags & SERVICE_ACTION_KILL_ALL) {
                log_unit(LOG_NOTICE, run->config->name, "stop timeout, killing the container");
                (void)cgroup_kill_all(run->spawn.cgroup);
        }
        if (a->flags & SERVICE_ACTION_CLEANUP)
                run_try_finish(run);
        if (a->flags & SERVICE_ACTION_TIMER) {
                ev_timer_stop(run->loop, &run->timer);
                /* waiting: the delay of a restart that --run does not make */
                if (a->timer_usec != USEC_INFINITY && run->svc.state != SERVICE_WAITING) {
                        ev_now_update(run->loop);
                        ev_timer_set(&run->timer, (double)a->timer_usec / 1e6, 0.);
                        ev_timer_start(run->loop, &run->timer);
                }
        }
}

static void run_event(Run *run, ServiceEvent ev, const void *data)
{
        ServiceState old = run->svc.state;
        ServiceActions a;

        if (service_handle(&run->svc, run->config, ev, data, now_usec_monotonic(), &a) < 0)
                return;
        if (run->svc.state != old)
                log_unit(LOG_DEBUG, run->config->name, "%s -> %s (%s)", service_state_to_string(old),
                         service_state_to_string(run->svc.state), service_event_to_string(ev));
        run_execute(run, &a);
}

static void run_stop(Run *run, int received)
{
        log_unit(LOG_DEBUG, run->config->name, "received %s", signal_to_string(received));
        /* --run forwards each request (CLI.md): a second one is sent too,
         * and the stop timeout keeps running. */
        if (run->svc.state == SERVICE_STOPPING && run->exec_done) {
                run_kill_signal(run);
                return;
        }
        run_event(run, SERVICE_EVENT_STOP, NULL);
}

static void on_signal(struct ev_loop *loop, ev_io *w, int revents)
{
        Run *run = w->data;
        struct signalfd_siginfo si;

        while (read(run->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
                run_stop(run, (int)si.ssi_signo);
}

static void run_watch(Run *run)
{
        ev_io_init(&run->sync_io, on_sync, run->spawn.sync_fd, EV_READ);
        ev_io_init(&run->pidfd_io, on_pidfd, run->spawn.pidfd, EV_READ);
        ev_io_init(&run->signal_io, on_signal, run->signal_fd, EV_READ);
        ev_init(&run->populated_io, on_populated);
        ev_init(&run->timer, on_timer);
        ev_init(&run->retry_timer, on_retry_timer);
        run->sync_io.data = run->pidfd_io.data = run->signal_io.data = run;
        run->populated_io.data = run->timer.data = run->retry_timer.data = run;

        ev_io_start(run->loop, &run->sync_io);
        ev_io_start(run->loop, &run->pidfd_io);
        ev_io_start(run->loop, &run->signal_io);
}

/* SIGINT and SIGTERM as an fd. main() blocked them before anything else, so
 * one that arrived during start-up is pending and read from here: it stops
 * the container instead of killing ccsupd half-way through a launch. */
static int run_signal_fd(void)
{
        sigset_t stop;
        int fd;

        sigemptyset(&stop);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &stop, NULL) < 0)
                return -errno;
        fd = signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

static int load_unit(const char *path, UnitConfig **ret)
{
        _cleanup_strv_free_ char **errors = NULL;
        UnitConfig *c = NULL;
        int r;

        r = unit_load_file(path, &c, &errors);
        if (r < 0) {
                STRV_FOREACH(e, errors)
                        fprintf(stderr, "%s\n", *e);
                if (!errors)
                        log_unit(LOG_ERR, NULL, "%s: %s", path, strerror(-r));
                unit_config_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* Removes the parent cgroup too when this run was its last user. Another
 * ccsupd --run may be creating a sibling right now: failure is fine. */
static void remove_parent_cgroups(const char *parent)
{
        CgroupMode mode;

        if (!streq(parent, "/") && cgroup_detect_mode(CGROUP_ROOT_DEFAULT, &mode) >= 0)
                (void)cgroup_remove_if_empty(CGROUP_ROOT_DEFAULT, mode, parent);
}

static int run_spawn(Run *run, SpawnPlan **ret_plan)
{
        const UnitConfig *c = run->config;
        const RunOptions *o = run->options;
        _cleanup_(spawn_plan_freep) SpawnPlan *plan = NULL;
        _cleanup_close_ int devnull = -1;
        _cleanup_free_ char *msg = NULL;
        SpawnOptions so;
        CgroupMode mode;
        int r;

        if (c->network_mode == NETWORK_CONTAINER) {
                log_unit(LOG_ERR, c->name, "network mode `container:%s` is not supported with --run",
                         c->network_container ? c->network_container : "");
                return -EOPNOTSUPP;
        }
        r = cgroup_detect_mode(CGROUP_ROOT_DEFAULT, &mode);
        if (r < 0) {
                log_unit(LOG_ERR, c->name, "no cgroup hierarchy at %s: %s", CGROUP_ROOT_DEFAULT, strerror(-r));
                return r;
        }
        /* Test switch: a hybrid host can exercise the pure-v1 backend. */
        if (mode == CGROUP_MODE_HYBRID && test_switches.cgroup_v1)
                mode = CGROUP_MODE_V1;
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0) {
                r = -errno;
                log_unit(LOG_ERR, c->name, "/dev/null: %s", strerror(-r));
                return r;
        }
        so = (SpawnOptions){
                .runtime_dir = o->runtime_dir,
                .state_dir = o->state_dir,
                .cgroup_root = CGROUP_ROOT_DEFAULT,
                .cgroup_mode = mode,
                .cgroup_parent = o->cgroup,
                .stdin_fd = devnull,
                .stdout_fd = STDOUT_FILENO,
                .stderr_fd = STDERR_FILENO,
                .no_clone3 = test_switches.no_clone3,
                /* Nobody reads statistics of a --run container. */
                .no_accounting = true,
                .tmpfs_size = o->tmpfs_size,
                .tmpfs_size_bp = o->tmpfs_size_bp,
        };
        r = spawn_prepare(c, &so, &plan, &msg);
        if (r < 0) {
                log_unit(LOG_ERR, c->name, "%s", msg ? msg : strerror(-r));
                return r;
        }
        /* A stop that came while we prepared (reading an EnvironmentFile= can
         * block) must not let the command run: nothing is started yet. */
        struct signalfd_siginfo si;
        if (read(run->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                log_unit(LOG_NOTICE, c->name, "%s before the container was started: not starting it",
                         signal_to_string((int)si.ssi_signo));
                spawn_cleanup(plan);
                spawn_remove_trees(o->runtime_dir, c->name);
                return -ECANCELED;
        }
        STRV_FOREACH(w, spawn_plan_warnings(plan))
                log_unit(LOG_WARNING, c->name, "%s", *w);
        if (spawn_plan_uses_chroot(plan))
                log_unit(LOG_WARNING, NULL,
                         "/ is the initramfs: containers are chroot'ed "
                         "instead of pivoted, and lose CAP_SYS_CHROOT");
        r = spawn_container(plan, &run->spawn, &msg);
        if (r < 0) {
                log_unit(LOG_ERR, c->name, "%s", msg ? msg : strerror(-r));
                spawn_cleanup(plan);
                spawn_remove_trees(o->runtime_dir, c->name);
                return r;
        }
        if (cgroup_get_oom_kills(run->spawn.cgroup, &run->oom_kills) < 0)
                run->oom_kills = UINT64_MAX;
        log_unit(LOG_DEBUG, c->name, "cloned PID %d (%s, cgroup %s, %s)", (int)run->spawn.pid,
                 run->spawn.used_clone3 ? "clone3" : "clone", spawn_plan_cgroup_path(plan),
                 cgroup_mode_to_string(mode));
        *ret_plan = TAKE_PTR(plan);
        return 0;
}

int run_unit(const RunOptions *o)
{
        _cleanup_(unit_config_freep) UnitConfig *c = NULL;
        _cleanup_(spawn_plan_freep) SpawnPlan *plan = NULL;
        Run run = {
                .options = o,
                .spawn = { .pidfd = -1, .sync_fd = -1 },
                .signal_fd = -1,
                .populated_fd = -1,
        };
        ServiceActions start;
        int r;

        log_setup_stderr(o->log_level);
        run.signal_fd = run_signal_fd();
        if (run.signal_fd < 0) {
                log_unit(LOG_ERR, NULL, "signalfd: %s", strerror(-run.signal_fd));
                return SPAWN_EXIT_SETUP;
        }
        if (load_unit(o->unit_file, &c) < 0) {
                safe_close(run.signal_fd);
                return SPAWN_EXIT_SETUP;
        }
        run.config = c;
        if (self_exe_warning())
                log_unit(LOG_WARNING, NULL, "%s", self_exe_warning());

        /* Never ev_default_loop(): it reaps every child in its SIGCHLD
         * handler and would steal the status waitid(P_PIDFD) reads. */
        run.loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
        if (!run.loop) {
                log_unit(LOG_ERR, NULL, "cannot create the event loop");
                safe_close(run.signal_fd);
                return SPAWN_EXIT_SETUP;
        }
        service_init(&run.svc, SERVICE_INACTIVE);
        r = service_handle(&run.svc, c, SERVICE_EVENT_START, NULL, now_usec_monotonic(), &start);
        assert(r >= 0 && (start.flags & SERVICE_ACTION_LAUNCH));
        r = run_spawn(&run, &plan);
        if (r < 0) {
                ev_loop_destroy(run.loop);
                safe_close(run.signal_fd);
                remove_parent_cgroups(o->cgroup);
                /* Stopped before it ran: as if killed during its set-up. */
                return r == -ECANCELED ? 128 + SIGKILL : SPAWN_EXIT_SETUP;
        }
        run.plan = plan;
        run_watch(&run);
        run_execute(&run, &start); /* the start timeout */
        ev_run(run.loop, 0);

        spawn_cleanup(plan);
        spawn_remove_trees(o->runtime_dir, c->name);
        /* Another ccsupd --run may be creating a sibling right now: failure
         * is fine. */
        (void)cgroup_remove_parent(run.spawn.cgroup);
        spawn_result_done(&run.spawn);
        ev_loop_destroy(run.loop);
        safe_close(run.populated_fd);
        safe_close(run.signal_fd);

        if (run.error) {
                log_unit(LOG_ERR, c->name, "%s", run.error);
                free(run.error);
                return SPAWN_EXIT_SETUP;
        }
        return run.exit_status;
}
