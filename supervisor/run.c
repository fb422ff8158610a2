/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/pidfd.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "parse.h"
#include "run.h"
#include "spawn.h"
#include "unit.h"
#include "util.h"

/* Polling cadence while waiting for a container's cgroup to empty and go
 * away: the kernel offers no event for rmdir becoming possible. */
#define CLEANUP_INTERVAL 0.01
#define CLEANUP_MAX_TRIES 1000

typedef enum RunState {
        RUN_STARTING,  /* cloned, setup in progress */
        RUN_RUNNING,   /* the command was executed */
        RUN_STOPPING,  /* stop signal sent */
        RUN_CLEANUP,   /* PID 1 gone: killing the rest, removing the cgroup */
} RunState;

typedef struct Run {
        const RunOptions *options;
        const UnitConfig *config;
        const SpawnPlan *plan;
        SpawnResult spawn;
        struct ev_loop *loop;
        RunState state;
        ev_io sync_io, pidfd_io;
        ev_signal sigterm, sigint;
        ev_timer stop_timer, cleanup_timer;
        char *error;          /* setup failure from the child */
        int exit_status;
        unsigned cleanup_tries;
} Run;

static int log_max_level = LOG_INFO;

static void run_log(int level, const char *name, const char *fmt, ...) _printf_(3, 4);
static void run_log(int level, const char *name, const char *fmt, ...)
{
        va_list ap;

        if (level > log_max_level)
                return;
        fputs("ccsupd: ", stderr);
        if (name)
                fprintf(stderr, "%s: ", name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static void run_start_cleanup(Run *run)
{
        run->state = RUN_CLEANUP;
        ev_timer_stop(run->loop, &run->stop_timer);
        (void)cgroup_kill_all(run->spawn.cgroup);
        ev_timer_start(run->loop, &run->cleanup_timer);
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
        run_log(LOG_DEBUG, run->config->name, "running as PID %d", (int)run->spawn.pid);
        if (run->state == RUN_STARTING)
                run->state = RUN_RUNNING;
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

        run->exit_status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
        run_log(LOG_DEBUG, run->config->name, "PID 1 ended, status %d", run->exit_status);
        run_start_cleanup(run);
}

static void on_cleanup_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        Run *run = w->data;
        Cgroup *cg = run->spawn.cgroup;
        int r;

        if (++run->cleanup_tries > CLEANUP_MAX_TRIES) {
                run_log(LOG_WARNING, run->config->name, "cgroup `%s` could not be removed",
                        cg->path);
                ev_break(loop, EVBREAK_ALL);
                return;
        }
        r = cgroup_is_populated(cg);
        if (r > 0) {
                (void)cgroup_kill_all(cg);
                return;
        }
        r = cgroup_remove(cg);
        if (r == -EBUSY || r == -ENOTEMPTY)
                return;
        if (r < 0)
                run_log(LOG_WARNING, run->config->name, "remove cgroup `%s`: %s", cg->path,
                        strerror(-r));
        ev_timer_stop(loop, w);
        ev_break(loop, EVBREAK_ALL);
}

static void on_stop_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        Run *run = w->data;

        run_log(LOG_NOTICE, run->config->name, "stop timeout, killing the container");
        (void)cgroup_kill_all(run->spawn.cgroup);
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
        Run *run = w->data;
        int sig = run->config->stop_signal > 0 ? run->config->stop_signal : SIGTERM;
        uint64_t timeout = run->config->stop_timeout_usec;

        switch (run->state) {
        case RUN_STARTING:
                /* Not our command yet: nothing to be polite to. */
                (void)cgroup_kill_all(run->spawn.cgroup);
                return;
        case RUN_RUNNING:
                run->state = RUN_STOPPING;
                run_log(LOG_DEBUG, run->config->name, "stopping with %s", signal_to_string(sig));
                (void)pidfd_send_signal(run->spawn.pidfd, sig, NULL, 0);
                if (timeout != USEC_INFINITY) {
                        ev_timer_set(&run->stop_timer, (double)timeout / 1e6, 0.);
                        ev_timer_start(loop, &run->stop_timer);
                }
                return;
        case RUN_STOPPING:
                /* A second request: forward it too, the timer still runs. */
                (void)pidfd_send_signal(run->spawn.pidfd, sig, NULL, 0);
                return;
        case RUN_CLEANUP:
                return;
        }
}

static void run_watch(Run *run)
{
        ev_io_init(&run->sync_io, on_sync, run->spawn.sync_fd, EV_READ);
        ev_io_init(&run->pidfd_io, on_pidfd, run->spawn.pidfd, EV_READ);
        ev_signal_init(&run->sigterm, on_stop_signal, SIGTERM);
        ev_signal_init(&run->sigint, on_stop_signal, SIGINT);
        ev_init(&run->stop_timer, on_stop_timer);
        ev_timer_init(&run->cleanup_timer, on_cleanup_timer, 0., CLEANUP_INTERVAL);
        run->sync_io.data = run->pidfd_io.data = run->sigterm.data = run->sigint.data = run;
        run->stop_timer.data = run->cleanup_timer.data = run;

        ev_io_start(run->loop, &run->sync_io);
        ev_io_start(run->loop, &run->pidfd_io);
        ev_signal_start(run->loop, &run->sigterm);
        ev_signal_start(run->loop, &run->sigint);
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
                        run_log(LOG_ERR, NULL, "%s: %s", path, strerror(-r));
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
                run_log(LOG_ERR, c->name, "network mode `container:%s` is not supported with --run",
                        c->network_container ? c->network_container : "");
                return -EOPNOTSUPP;
        }
        r = cgroup_detect_mode(CGROUP_ROOT_DEFAULT, &mode);
        if (r < 0) {
                run_log(LOG_ERR, c->name, "no cgroup hierarchy at %s: %s", CGROUP_ROOT_DEFAULT,
                        strerror(-r));
                return r;
        }
        /* Test hook: a hybrid host can exercise the pure-v1 backend. */
        if (mode == CGROUP_MODE_HYBRID && streq_ptr(getenv("CCSUP_TEST_CGROUP_MODE"), "v1"))
                mode = CGROUP_MODE_V1;
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0) {
                run_log(LOG_ERR, c->name, "/dev/null: %s", strerror(errno));
                return -errno;
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
                .no_clone3 = getenv("CCSUP_TEST_NO_CLONE3") != NULL,
        };
        r = spawn_prepare(c, &so, &plan, &msg);
        if (r < 0) {
                run_log(LOG_ERR, c->name, "%s", msg ? msg : strerror(-r));
                return r;
        }
        if (spawn_plan_uses_chroot(plan))
                run_log(LOG_WARNING, NULL, "/ is the initramfs: containers are chroot'ed "
                        "instead of pivoted, and lose CAP_SYS_CHROOT");
        r = spawn_container(plan, &run->spawn, &msg);
        if (r < 0) {
                run_log(LOG_ERR, c->name, "%s", msg ? msg : strerror(-r));
                spawn_cleanup(plan);
                return r;
        }
        run_log(LOG_DEBUG, c->name, "cloned PID %d (%s, cgroup %s, %s)", (int)run->spawn.pid,
                run->spawn.used_clone3 ? "clone3" : "clone", spawn_plan_cgroup_path(plan),
                cgroup_mode_to_string(mode));
        *ret_plan = TAKE_PTR(plan);
        return 0;
}

int run_unit(const RunOptions *o)
{
        _cleanup_(unit_config_freep) UnitConfig *c = NULL;
        _cleanup_(spawn_plan_freep) SpawnPlan *plan = NULL;
        Run run = { .options = o, .spawn = { .pidfd = -1, .sync_fd = -1 } };
        int r;

        log_max_level = o->log_level;
        if (load_unit(o->unit_file, &c) < 0)
                return SPAWN_EXIT_SETUP;
        run.config = c;

        /* Never ev_default_loop(): it reaps every child in its SIGCHLD
         * handler and would steal the status waitid(P_PIDFD) reads. */
        run.loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
        if (!run.loop) {
                run_log(LOG_ERR, NULL, "cannot create the event loop");
                return SPAWN_EXIT_SETUP;
        }
        r = run_spawn(&run, &plan);
        if (r < 0) {
                ev_loop_destroy(run.loop);
                remove_parent_cgroups(o->cgroup);
                return SPAWN_EXIT_SETUP;
        }
        run.plan = plan;
        run_watch(&run);
        ev_run(run.loop, 0);

        spawn_cleanup(plan);
        remove_parent_cgroups(o->cgroup);
        spawn_result_done(&run.spawn);
        ev_loop_destroy(run.loop);

        if (run.error) {
                run_log(LOG_ERR, c->name, "%s", run.error);
                free(run.error);
                return SPAWN_EXIT_SETUP;
        }
        return run.exit_status;
}
