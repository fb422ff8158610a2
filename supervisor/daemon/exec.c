/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "exec.h"

#include <poll.h>
#include <sys/wait.h>

#include "log.h"
#include "parse.h"
#include "util.h"

/* How long ccsupd waits, going away, for a killed relay to be reapable. */
#define ABORT_WAIT_MS 1000

struct ExecCall {
        ExecCall **list;
        struct ev_loop *loop;
        sd_bus_message *call;   /* NULL once the caller is gone */
        char *unit;
        char *command;          /* argv[0], for the log */
        SpawnExec run;
        ev_io io;
        ExecCall *next;
};

static void exec_call_free(ExecCall *x)
{
        for (ExecCall **p = x->list; *p; p = &(*p)->next)
                if (*p == x) {
                        *p = x->next;
                        break;
                }
        ev_io_stop(x->loop, &x->io);
        sd_bus_message_unref(x->call);
        spawn_exec_done(&x->run);
        free(x->unit);
        free(x->command);
        free(x);
}

static void exec_call_reply(ExecCall *x, const SpawnExecEnd *end)
{
        int code = spawn_exec_end_code(end);
        const char *name = !end->command ? EXEC_ERROR_FAILED
                           : code == 127 ? EXEC_ERROR_NOT_FOUND
                                         : EXEC_ERROR_NOT_EXECUTABLE;

        if (end->error < 0)
                log_unit(end->command ? LOG_INFO : LOG_WARNING, x->unit, "exec: %s",
                         end->message ? end->message : strerror(-end->error));
        else if (end->stopped)
                log_unit(LOG_NOTICE, x->unit, "exec `%s` (relay PID %d) stopped (%s): killed, exec has "
                         "no job control; status %d", x->command, (int)x->run.pid,
                         signal_to_string(end->stopped) ? signal_to_string(end->stopped) : "?", code);
        else
                log_unit(end->traced ? LOG_NOTICE : LOG_DEBUG, x->unit,
                         "exec `%s` (relay PID %d) ended: status %d%s%s", x->command, (int)x->run.pid,
                         code, end->traced ? " (traced: its tracer has not reaped it)" : "",
                         x->call ? "" : " (its caller is gone)");
        if (!x->call)
                return;
        if (end->error < 0)
                (void)sd_bus_reply_method_errorf(x->call, name, "%s",
                                                 end->message ? end->message : strerror(-end->error));
        else
                (void)sd_bus_reply_method_return(x->call, "i", (int32_t)code);
}

static void on_relay(struct ev_loop *loop, ev_io *w, int revents)
{
        ExecCall *x = w->data;
        SpawnExecEnd end;
        int r;

        r = spawn_exec_finish(&x->run, &end);
        if (r == -EAGAIN)
                return;
        if (r < 0) {
                /* Cannot wait for it: not ours to wait for any more. */
                log_unit(LOG_WARNING, x->unit, "exec `%s`: waitid: %s", x->command, strerror(-r));
                end = (SpawnExecEnd){ .error = r, .message = xasprintf("waitid: %s", strerror(-r)) };
        }
        exec_call_reply(x, &end);
        spawn_exec_end_done(&end);
        exec_call_free(x);
}

/* A re-adopted container: its plan again, from the unit's configuration. */
static int exec_plan(Manager *m, Unit *u, SpawnPlan **ret, char **ret_error)
{
        SpawnOptions so;

        manager_spawn_options(m, &so);
        if (!u->config) {
                *ret_error = xstrdup("the configuration it was started with is unknown "
                                     "(re-adopted, and its unit file is bad)");
                return -ENOENT;
        }
        if (u->adopted && u->config->hash != u->adopted_hash)
                log_unit(LOG_NOTICE, u->name, "exec: the unit file changed since the container "
                         "started; the command gets the current configuration");
        return spawn_prepare_exec(u->config, &so, ret, ret_error);
}

int exec_call_start(ExecCall **list, Manager *m, Unit *u, char *const *argv, const int stdio[3],
                    sd_bus_message *call, sd_bus_error *error)
{
        _cleanup_(spawn_plan_freep) SpawnPlan *owned = NULL;
        _cleanup_free_ char *msg = NULL;
        SpawnExecTarget t = { .pidfd = u->run.pidfd, .pid = u->run.pid, .cgroup = u->run.cgroup };
        SpawnExec run;
        ExecCall *x;
        int r;

        if (!u->plan) {
                r = exec_plan(m, u, &owned, &msg);
                if (r < 0)
                        return sd_bus_error_setf(error, EXEC_ERROR_FAILED, "exec in `%s`: %s", u->name,
                                                 msg ? msg : strerror(-r));
        }
        r = spawn_exec(u->plan ? u->plan : owned, &t, argv, stdio, &run, &msg);
        if (r < 0) {
                log_unit(LOG_WARNING, u->name, "exec `%s`: %s", argv[0], msg);
                return sd_bus_error_setf(error, EXEC_ERROR_FAILED, "exec in `%s`: %s", u->name, msg);
        }

        x = xcalloc(1, sizeof(*x));
        x->list = list;
        x->loop = m->loop;
        x->call = sd_bus_message_ref(call);
        x->unit = xstrdup(u->name);
        x->command = xstrdup(argv[0]);
        x->run = run;
        ev_io_init(&x->io, on_relay, run.pidfd, EV_READ);
        x->io.data = x;
        ev_io_start(m->loop, &x->io);
        x->next = *list;
        *list = x;
        log_unit(LOG_INFO, u->name, "exec `%s` (relay PID %d)", argv[0], (int)run.pid);
        return 1;
}

void exec_calls_disconnected(ExecCall **list, sd_bus *bus)
{
        for (ExecCall *x = *list; x; x = x->next) {
                if (!x->call || sd_bus_message_get_bus(x->call) != bus)
                        continue;
                log_unit(LOG_INFO, x->unit, "exec `%s`: the caller went away: killing it", x->command);
                (void)spawn_exec_kill(&x->run);
                x->call = sd_bus_message_unref(x->call);
        }
}

void exec_calls_abort(ExecCall **list)
{
        while (*list) {
                ExecCall *x = *list;
                struct pollfd p = { .fd = x->run.pidfd, .events = POLLIN };
                SpawnExecEnd end = {};

                log_unit(LOG_INFO, x->unit, "exec `%s`: killed, ccsupd goes away", x->command);
                (void)spawn_exec_kill(&x->run);
                if (x->call) {
                        sd_bus *bus = sd_bus_message_get_bus(x->call);
                        (void)sd_bus_reply_method_errorf(x->call, EXEC_ERROR_FAILED,
                                                         "ccsupd is going away (daemon-reexec or exit): "
                                                         "the command was killed");
                        (void)sd_bus_flush(bus);
                }
                /* A relay killed is reapable at once, unless its cgroup is frozen. */
                if (poll(&p, 1, ABORT_WAIT_MS) > 0 && spawn_exec_finish(&x->run, &end) == 0)
                        spawn_exec_end_done(&end);
                exec_call_free(x);
        }
}
