/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "service.h"

#include <errno.h>

#include "util.h"

static const char *const service_state_table[_SERVICE_STATE_MAX] = {
        [SERVICE_INACTIVE] = "inactive",
        [SERVICE_STARTING] = "starting",
        [SERVICE_RUNNING] = "running",
        [SERVICE_STOPPING] = "stopping",
        [SERVICE_WAITING] = "waiting",
        [SERVICE_EXITED] = "exited",
        [SERVICE_FAILED] = "failed",
        [SERVICE_BAD] = "bad",
        [SERVICE_MASKED] = "masked",
};

static const char *const service_result_table[_SERVICE_RESULT_MAX] = {
        [SERVICE_SUCCESS] = "success",
        [SERVICE_RESULT_EXIT_CODE] = "exit-code",
        [SERVICE_RESULT_SIGNAL] = "signal",
        [SERVICE_RESULT_OOM_KILL] = "oom-kill",
        [SERVICE_RESULT_START_ERROR] = "start-error",
        [SERVICE_RESULT_TIMEOUT] = "timeout",
        [SERVICE_RESULT_WATCHDOG] = "watchdog",
        [SERVICE_RESULT_UNHEALTHY] = "unhealthy",
        [SERVICE_RESULT_DEPENDENCY] = "dependency",
        [SERVICE_RESULT_UNKNOWN] = "unknown",
};

static const char *const service_event_table[_SERVICE_EVENT_MAX] = {
        [SERVICE_EVENT_START] = "start",
        [SERVICE_EVENT_STOP] = "stop",
        [SERVICE_EVENT_RESTART] = "restart",
        [SERVICE_EVENT_EXITED] = "exited",
        [SERVICE_EVENT_READY] = "ready",
        [SERVICE_EVENT_TIMER] = "timer",
        [SERVICE_EVENT_DEPENDENCY_FAILED] = "dependency-failed",
        [SERVICE_EVENT_RELOAD] = "reload",
        [SERVICE_EVENT_RESET] = "reset",
        [SERVICE_EVENT_ADOPT] = "adopt",
        [SERVICE_EVENT_WATCHDOG] = "watchdog",
        [SERVICE_EVENT_UNHEALTHY] = "unhealthy",
        [SERVICE_EVENT_PRELAUNCH] = "prelaunch",
        [SERVICE_EVENT_RELEASE] = "release",
};

const char *service_state_to_string(ServiceState s)
{
        return s >= 0 && s < _SERVICE_STATE_MAX ? service_state_table[s] : NULL;
}

ServiceState service_state_from_string(const char *s)
{
        for (int i = 0; i < _SERVICE_STATE_MAX; i++)
                if (streq(service_state_table[i], s))
                        return (ServiceState)i;
        return (ServiceState)-1;
}

const char *service_result_to_string(ServiceResult r)
{
        return r >= 0 && r < _SERVICE_RESULT_MAX ? service_result_table[r] : NULL;
}

const char *service_event_to_string(ServiceEvent e)
{
        return e >= 0 && e < _SERVICE_EVENT_MAX ? service_event_table[e] : NULL;
}

void service_init(Service *s, ServiceState initial)
{
        *s = (Service){ .state = initial, .result = SERVICE_SUCCESS };
}

bool service_state_is_active(ServiceState s)
{
        return s == SERVICE_STARTING || s == SERVICE_RUNNING || s == SERVICE_STOPPING ||
               s == SERVICE_WAITING;
}

uint64_t service_restart_delay(const UnitConfig *c, unsigned n)
{
        uint64_t d = c->restart_delay_usec, max = c->restart_max_delay_usec;

        if (n == 0)
                return 0;
        if (d == USEC_INFINITY)
                return max;
        for (unsigned i = 1; i < n && d < max; i++)
                d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
        return d < max ? d : max;
}

ServiceResult service_end_result(const UnitConfig *c, const ServiceEnd *end, int sent_signal)
{
        if (end->start_error)
                return SERVICE_RESULT_START_ERROR;
        if (end->unknown)
                return SERVICE_RESULT_UNKNOWN;
        /* Whatever PID 1 died of, unless it ended cleanly despite the kill
         * (a shell whose child was killed may exit 0). */
        if (end->oom && (end->killed || !unit_exit_status_is_success(c, end->code)))
                return SERVICE_RESULT_OOM_KILL;
        if (end->killed) {
                if (end->code == sent_signal || unit_signal_is_success(c, end->code))
                        return SERVICE_SUCCESS;
                return SERVICE_RESULT_SIGNAL;
        }
        return unit_exit_status_is_success(c, end->code) ? SERVICE_SUCCESS
                                                          : SERVICE_RESULT_EXIT_CODE;
}

bool service_policy_restarts(RestartPolicy p, ServiceResult r)
{
        if (r == SERVICE_RESULT_DEPENDENCY)
                return false;
        switch (p) {
        case RESTART_ALWAYS:
                return true;
        case RESTART_ON_FAILURE:
                return r != SERVICE_SUCCESS;
        case RESTART_ON_ABNORMAL:
                return r != SERVICE_SUCCESS && r != SERVICE_RESULT_EXIT_CODE;
        default:
                return false;
        }
}

/* Enters state ns: arms the timer that belongs to it. */
static int enter(Service *s, const UnitConfig *c, ServiceState ns, uint64_t now,
                 ServiceActions *a, uint64_t delay)
{
        bool changed = s->state != ns;

        s->state = ns;
        s->held = false;
        a->flags |= SERVICE_ACTION_TIMER;
        switch (ns) {
        case SERVICE_STARTING:
                s->started_usec = now;
                a->timer_usec = c->start_timeout_usec;
                break;
        case SERVICE_STOPPING:
                a->timer_usec = c->stop_timeout_usec;
                break;
        case SERVICE_WAITING:
                s->restart_at_usec = now + delay;
                a->timer_usec = delay;
                break;
        default:
                a->timer_usec = USEC_INFINITY;
                break;
        }
        if (ns != SERVICE_STOPPING) {
                s->stop_by_operator = s->start_after_stop = s->masked_after_stop = false;
                s->requeue_after_stop = false;
                s->stop_result = SERVICE_SUCCESS;
        }
        return changed;
}

static int launch(Service *s, const UnitConfig *c, uint64_t now, ServiceActions *a)
{
        a->flags |= SERVICE_ACTION_LAUNCH;
        return enter(s, c, SERVICE_STARTING, now, a, 0);
}

/* Held: no start timeout until the release (its dependencies have their
 * own); the run starts then. */
static int prelaunch(Service *s, const UnitConfig *c, uint64_t now, ServiceActions *a)
{
        int r = launch(s, c, now, a);

        s->held = true;
        a->timer_usec = USEC_INFINITY;
        return r;
}

/* A held container goes (a restart, a changed file): killed, then inactive
 * with the result it had, and the manager queues the start again, so that
 * it waits for its dependencies as it did. */
static int unhold(Service *s, const UnitConfig *c, uint64_t now, ServiceActions *a)
{
        ServiceResult kept = s->result;
        int r = enter(s, c, SERVICE_STOPPING, now, a, 0);

        s->stop_by_operator = true;
        s->requeue_after_stop = true;
        s->result = kept;
        a->flags |= SERVICE_ACTION_KILL_SIGNAL;
        return r;
}

/* Begins a stop: the stop signal now, SIGKILL at the stop timeout. */
static int begin_stop(Service *s, const UnitConfig *c, bool by_operator, ServiceResult result,
                      uint64_t now, ServiceActions *a)
{
        int r = enter(s, c, SERVICE_STOPPING, now, a, 0);

        s->stop_by_operator = by_operator;
        s->stop_result = result;
        a->flags |= SERVICE_ACTION_KILL_SIGNAL;
        return r;
}

static int fail(Service *s, const UnitConfig *c, ServiceResult result, uint64_t now,
                ServiceActions *a)
{
        s->result = result;
        a->flags |= SERVICE_ACTION_FAILED;
        return enter(s, c, SERVICE_FAILED, now, a, 0);
}

/* A run ended that nobody asked to end: the restart policy decides. */
static int automatic_end(Service *s, const UnitConfig *c, ServiceResult result, uint64_t now,
                         ServiceActions *a)
{
        s->result = result;
        if (now - s->started_usec >= c->restart_reset_after_usec)
                s->consecutive = 0;
        if (!service_policy_restarts(c->restart, result))
                return result == SERVICE_SUCCESS ? enter(s, c, SERVICE_EXITED, now, a, 0)
                                                 : fail(s, c, result, now, a);
        if (c->max_restarts > 0 && s->consecutive >= c->max_restarts)
                return fail(s, c, result == SERVICE_SUCCESS ? SERVICE_RESULT_EXIT_CODE : result,
                            now, a);
        s->consecutive++;
        s->restarts++;
        return enter(s, c, SERVICE_WAITING, now, a, service_restart_delay(c, s->consecutive));
}

static void record_end(Service *s, const ServiceEnd *end)
{
        s->has_exit = !end->start_error && !end->unknown;
        s->exit_code = end->killed ? 0 : end->code;
        s->exit_signal = end->killed ? end->code : 0;
}

static int on_exited(Service *s, const UnitConfig *c, const ServiceEnd *end, uint64_t now,
                     ServiceActions *a)
{
        switch (s->state) {
        case SERVICE_STARTING:
        case SERVICE_RUNNING:
                if (s->held && end->retry) {
                        a->flags |= SERVICE_ACTION_CLEANUP;
                        return enter(s, c, SERVICE_INACTIVE, now, a, 0);
                }
                record_end(s, end);
                a->flags |= SERVICE_ACTION_CLEANUP;
                return automatic_end(s, c, service_end_result(c, end, 0), now, a);
        case SERVICE_STOPPING:
                a->flags |= SERVICE_ACTION_CLEANUP;
                if (s->requeue_after_stop)
                        return enter(s, c, SERVICE_INACTIVE, now, a, 0); /* never ran: result kept */
                record_end(s, end);
                if (s->masked_after_stop)
                        return enter(s, c, SERVICE_MASKED, now, a, 0);
                if (s->start_after_stop) {
                        s->result = SERVICE_SUCCESS;
                        return launch(s, c, now, a);
                }
                if (s->stop_by_operator) {
                        if (s->stop_result != SERVICE_SUCCESS)
                                return fail(s, c, s->stop_result, now, a);
                        s->result = SERVICE_SUCCESS;
                        return enter(s, c, SERVICE_INACTIVE, now, a, 0);
                }
                /* Stopped by ccsupd itself (start timeout...): a failure. */
                return automatic_end(s, c, s->stop_result, now, a);
        default:
                return 0;
        }
}

static int on_start(Service *s, const UnitConfig *c, bool restart, uint64_t now,
                    ServiceActions *a)
{
        int r;

        switch (s->state) {
        case SERVICE_BAD:
        case SERVICE_MASKED:
                return -EINVAL;
        case SERVICE_STARTING:
        case SERVICE_RUNNING:
                if (!restart)
                        return 0;
                s->consecutive = 0;
                if (s->held)
                        return unhold(s, c, now, a);
                r = begin_stop(s, c, true, SERVICE_SUCCESS, now, a);
                s->start_after_stop = true;
                return r;
        case SERVICE_STOPPING:
                if (s->requeue_after_stop)
                        return 0; /* the manager queues it anyway */
                s->start_after_stop = true;
                s->masked_after_stop = false;
                if (restart)
                        s->consecutive = 0;
                return 0;
        default: /* inactive, exited, failed, waiting: a fresh start */
                s->consecutive = 0;
                return launch(s, c, now, a);
        }
}

static int on_reload(Service *s, const UnitConfig *c, ServiceLoad load, uint64_t now,
                     ServiceActions *a)
{
        bool active = service_state_is_active(s->state);

        switch (load) {
        case SERVICE_LOAD_CHANGED:
                if (s->state == SERVICE_BAD || s->state == SERVICE_MASKED)
                        return enter(s, c, SERVICE_INACTIVE, now, a, 0);
                if (s->state == SERVICE_STOPPING || !active)
                        return 0;
                return on_start(s, c, true, now, a);
        case SERVICE_LOAD_BAD:
                /* A broken edit never takes a working service down. */
                return active ? 0 : enter(s, c, SERVICE_BAD, now, a, 0);
        case SERVICE_LOAD_MASKED:
                if (s->state == SERVICE_STARTING || s->state == SERVICE_RUNNING) {
                        int r = begin_stop(s, c, true, SERVICE_SUCCESS, now, a);
                        s->masked_after_stop = true;
                        return r;
                }
                if (s->state == SERVICE_STOPPING) {
                        s->stop_by_operator = s->masked_after_stop = true;
                        s->start_after_stop = s->requeue_after_stop = false;
                        return 0;
                }
                return enter(s, c, SERVICE_MASKED, now, a, 0);
        }
        return -EINVAL;
}

static int on_dependency_failed(Service *s, const UnitConfig *c, uint64_t now, ServiceActions *a)
{
        switch (s->state) {
        case SERVICE_STARTING:
        case SERVICE_RUNNING:
                return begin_stop(s, c, true, SERVICE_RESULT_DEPENDENCY, now, a);
        case SERVICE_STOPPING:
                s->stop_by_operator = true;
                s->start_after_stop = s->requeue_after_stop = false;
                if (!s->masked_after_stop)
                        s->stop_result = SERVICE_RESULT_DEPENDENCY;
                return 0;
        case SERVICE_WAITING:
        case SERVICE_INACTIVE:
                return fail(s, c, SERVICE_RESULT_DEPENDENCY, now, a);
        default:
                return 0;
        }
}

static int on_timer(Service *s, const UnitConfig *c, uint64_t now, ServiceActions *a)
{
        switch (s->state) {
        case SERVICE_STARTING:
                if (s->held)
                        return 0; /* no start timeout before the release */
                return begin_stop(s, c, false, SERVICE_RESULT_TIMEOUT, now, a);
        case SERVICE_STOPPING:
                /* The stop signal was not enough: kill everything, and wait for
                 * the end, which the kernel delivers promptly now. */
                a->flags |= SERVICE_ACTION_KILL_ALL | SERVICE_ACTION_TIMER;
                a->timer_usec = USEC_INFINITY;
                return 0;
        case SERVICE_WAITING:
                return launch(s, c, now, a);
        default:
                return 0;
        }
}

int service_handle(Service *s, const UnitConfig *c, ServiceEvent ev, const void *data,
                   uint64_t now, ServiceActions *ret)
{
        ServiceActions a = { .timer_usec = USEC_INFINITY };
        int r;

        switch (ev) {
        case SERVICE_EVENT_START:
                r = on_start(s, c, false, now, &a);
                break;
        case SERVICE_EVENT_RESTART:
                r = on_start(s, c, true, now, &a);
                break;
        case SERVICE_EVENT_STOP:
                if (s->state == SERVICE_STARTING || s->state == SERVICE_RUNNING)
                        r = begin_stop(s, c, true, SERVICE_SUCCESS, now, &a);
                else if (s->state == SERVICE_STOPPING) {
                        s->stop_by_operator = true;
                        s->start_after_stop = s->requeue_after_stop = false;
                        r = 0;
                } else if (s->state == SERVICE_WAITING)
                        r = enter(s, c, SERVICE_INACTIVE, now, &a, 0);
                else
                        r = 0;
                break;
        case SERVICE_EVENT_READY:
                r = s->state == SERVICE_STARTING ? enter(s, c, SERVICE_RUNNING, now, &a, 0) : 0;
                break;
        case SERVICE_EVENT_TIMER:
                r = on_timer(s, c, now, &a);
                break;
        case SERVICE_EVENT_WATCHDOG:
                if (s->state != SERVICE_STARTING && s->state != SERVICE_RUNNING)
                        return -EINVAL;
                /* A stop like the start timeout's, with its own signal. */
                r = begin_stop(s, c, false, SERVICE_RESULT_WATCHDOG, now, &a);
                a.flags = (a.flags & ~SERVICE_ACTION_KILL_SIGNAL) | SERVICE_ACTION_KILL_WATCHDOG;
                break;
        case SERVICE_EVENT_UNHEALTHY:
                if (s->state != SERVICE_STARTING && s->state != SERVICE_RUNNING)
                        return -EINVAL;
                /* OnFailure=restart: a failure for the policy, like a
                 * watchdog timeout; OnFailure=stop: failed, as an operator's
                 * stop with a result (no restart). */
                r = begin_stop(s, c, c->health_on_failure == HEALTH_ON_FAILURE_STOP,
                               SERVICE_RESULT_UNHEALTHY, now, &a);
                break;
        case SERVICE_EVENT_EXITED:
                if (!data)
                        return -EINVAL;
                r = on_exited(s, c, data, now, &a);
                break;
        case SERVICE_EVENT_DEPENDENCY_FAILED:
                r = on_dependency_failed(s, c, now, &a);
                break;
        case SERVICE_EVENT_PRELAUNCH:
                if (s->state == SERVICE_BAD || s->state == SERVICE_MASKED ||
                    service_state_is_active(s->state))
                        return -EINVAL;
                s->consecutive = 0;
                r = prelaunch(s, c, now, &a);
                break;
        case SERVICE_EVENT_RELEASE:
                if (s->state != SERVICE_STARTING || !s->held)
                        return -EINVAL;
                /* The run starts now: the start timeout with it. */
                s->held = false;
                s->started_usec = now;
                a.flags |= SERVICE_ACTION_TIMER;
                a.timer_usec = c->start_timeout_usec;
                r = 0;
                break;
        case SERVICE_EVENT_RELOAD:
                if (!data)
                        return -EINVAL;
                r = on_reload(s, c, ((const ServiceReload *)data)->load, now, &a);
                break;
        case SERVICE_EVENT_ADOPT:
                if (!data || s->state != SERVICE_INACTIVE)
                        return -EINVAL;
                r = enter(s, c, SERVICE_RUNNING, now, &a, 0);
                s->started_usec = ((const ServiceAdopt *)data)->started_usec;
                break;
        case SERVICE_EVENT_RESET:
                s->consecutive = s->restarts = 0;
                if (s->state == SERVICE_FAILED || s->state == SERVICE_EXITED) {
                        s->result = SERVICE_SUCCESS;
                        s->has_exit = false;
                        r = enter(s, c, SERVICE_INACTIVE, now, &a, 0);
                } else
                        r = 0;
                break;
        default:
                return -EINVAL;
        }
        if (r >= 0)
                *ret = a;
        return r;
}
