/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of one unit's state machine (supervisor/daemon/service.c): the restart
 * policies against exit codes and signals, the backoff, ResetAfterSec=,
 * MaxRestarts=, operator stops, restarts, reloads, dependency failures,
 * prelaunch (held before the exec). */
#include <signal.h>

#include "service.h"
#include "tap.h"
#include "util.h"

#define MS 1000ULL
#define SEC 1000000ULL

static UnitConfig *config(const char *restart_section)
{
        char *text = xasprintf("[Image]\nImage=/img\n[Process]\nExec=/bin/true\nStopTimeoutSec=3s\n"
                               "StartTimeoutSec=5s\n[Restart]\n%s", restart_section);
        char *paths[] = { (char *)"t.unit", NULL };
        char *texts[] = { text, NULL };
        UnitConfig *c = NULL;
        char **errors = NULL;
        int r = unit_parse_texts("t", paths, texts, &c, &errors);
        if (r < 0)
                tap_diag("unit errors: %s", errors && errors[0] ? errors[0] : "?");
        strv_free(errors);
        free(text);
        return c;
}

static ServiceActions act;
static uint64_t now;

static int ev(Service *s, const UnitConfig *c, ServiceEvent e, const void *data)
{
        return service_handle(s, c, e, data, now, &act);
}

/* Start a service and bring it to running. */
static void run_it(Service *s, const UnitConfig *c)
{
        ev(s, c, SERVICE_EVENT_START, NULL);
        ev(s, c, SERVICE_EVENT_READY, NULL);
}

static void end_with(Service *s, const UnitConfig *c, bool killed, int code)
{
        ServiceEnd e = { .killed = killed, .code = code };
        ev(s, c, SERVICE_EVENT_EXITED, &e);
}

static const char *st(const Service *s)
{
        return service_state_to_string(s->state);
}

/* The state after one run of `policy` ended like (killed, code). */
static const char *policy_outcome(const char *policy, bool killed, int code)
{
        _cleanup_free_ char *sect = xasprintf("Policy=%s\nSuccessExitStatus=7 SIGUSR1\n", policy);
        UnitConfig *c = config(sect);
        Service s;
        service_init(&s, SERVICE_INACTIVE);
        run_it(&s, c);
        end_with(&s, c, killed, code);
        const char *r = st(&s);
        unit_config_free(c);
        return r;
}

static void test_policies(void)
{
        static const struct {
                const char *policy;
                bool killed;
                int code;
                const char *want;
        } t[] = {
                { "no", false, 0, "exited" },          { "no", false, 1, "failed" },
                { "no", true, SIGSEGV, "failed" },     { "on-failure", false, 0, "exited" },
                { "on-failure", false, 7, "exited" },  { "on-failure", false, 1, "waiting" },
                { "on-failure", true, SIGKILL, "waiting" },
                { "on-failure", true, SIGUSR1, "exited" },
                { "on-abnormal", false, 0, "exited" }, { "on-abnormal", false, 1, "failed" },
                { "on-abnormal", true, SIGSEGV, "waiting" },
                { "on-abnormal", true, SIGUSR1, "exited" },
                { "always", false, 0, "waiting" },     { "always", false, 1, "waiting" },
                { "always", true, SIGTERM, "waiting" },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                is_str(policy_outcome(t[i].policy, t[i].killed, t[i].code), t[i].want,
                       "Policy=%s, %s %d -> %s", t[i].policy, t[i].killed ? "signal" : "exit",
                       t[i].code, t[i].want);
}

static void test_results(void)
{
        UnitConfig *c = config("SuccessExitStatus=3 SIGHUP\n");
        ServiceEnd e = { .code = 3 };
        is_int(service_end_result(c, &e, 0), SERVICE_SUCCESS, "exit 3 is clean (SuccessExitStatus)");
        e.code = 4;
        is_int(service_end_result(c, &e, 0), SERVICE_RESULT_EXIT_CODE, "exit 4: exit-code");
        e = (ServiceEnd){ .killed = true, .code = SIGHUP };
        is_int(service_end_result(c, &e, 0), SERVICE_SUCCESS, "SIGHUP is clean");
        e.code = SIGTERM;
        is_int(service_end_result(c, &e, 0), SERVICE_RESULT_SIGNAL, "SIGTERM not sent by us: signal");
        is_int(service_end_result(c, &e, SIGTERM), SERVICE_SUCCESS, "the signal we sent is clean");
        e = (ServiceEnd){ .killed = true, .code = SIGKILL, .oom = true };
        is_int(service_end_result(c, &e, 0), SERVICE_RESULT_OOM_KILL, "OOM kill: oom-kill");
        e = (ServiceEnd){ .code = 137, .oom = true };
        is_int(service_end_result(c, &e, 0), SERVICE_RESULT_OOM_KILL,
               "an init that exits 137 after an OOM kill of its child: oom-kill");
        e = (ServiceEnd){ .code = 3, .oom = true };
        is_int(service_end_result(c, &e, 0), SERVICE_SUCCESS,
               "a clean exit despite an OOM kill inside stays clean");
        e = (ServiceEnd){ .start_error = true, .code = 2 };
        is_int(service_end_result(c, &e, 0), SERVICE_RESULT_START_ERROR, "start error");
        ok(!service_policy_restarts(RESTART_ON_ABNORMAL, SERVICE_RESULT_EXIT_CODE),
           "on-abnormal ignores exit codes");
        ok(service_policy_restarts(RESTART_ON_ABNORMAL, SERVICE_RESULT_START_ERROR),
           "on-abnormal restarts after a start error");
        ok(!service_policy_restarts(RESTART_ALWAYS, SERVICE_RESULT_DEPENDENCY),
           "a dependency failure is never restarted");
        unit_config_free(c);
}

static void test_backoff(void)
{
        UnitConfig *c = config("DelaySec=100ms\nMaxDelaySec=1s\nPolicy=always\nResetAfterSec=10s\n");
        static const uint64_t want[] = { 100 * MS, 200 * MS, 400 * MS, 800 * MS, 1 * SEC, 1 * SEC };
        Service s;

        for (unsigned n = 1; n <= ELEMENTSOF(want); n++)
                is_int(service_restart_delay(c, n), want[n - 1], "delay of restart %u", n);
        is_int(service_restart_delay(c, 200), 1 * SEC, "no overflow at n=200");

        service_init(&s, SERVICE_INACTIVE);
        now = 1000 * SEC;
        run_it(&s, c);
        for (unsigned n = 1; n <= 5; n++) {
                now += 1 * SEC; /* runs of 1s: shorter than ResetAfterSec */
                end_with(&s, c, false, 1);
                is_str(st(&s), "waiting", "run %u ended: waiting", n);
                ok(act.flags & SERVICE_ACTION_TIMER, "timer armed");
                is_int(act.timer_usec, want[n - 1], "restart %u waits %llu ms", n,
                       (unsigned long long)want[n - 1] / MS);
                now += act.timer_usec;
                ev(&s, c, SERVICE_EVENT_TIMER, NULL);
                ok(act.flags & SERVICE_ACTION_LAUNCH, "timer: launch");
                ev(&s, c, SERVICE_EVENT_READY, NULL);
        }
        is_int(s.restarts, 5, "5 restarts counted");
        now += 11 * SEC; /* a long run resets the backoff */
        end_with(&s, c, false, 1);
        is_int(act.timer_usec, 100 * MS, "after a run >= ResetAfterSec the delay is DelaySec again");

        /* restart by the operator clears the backoff */
        ev(&s, c, SERVICE_EVENT_TIMER, NULL);
        ev(&s, c, SERVICE_EVENT_READY, NULL);
        now += 1 * SEC;
        end_with(&s, c, false, 1);
        is_int(act.timer_usec, 200 * MS, "second quick failure: 200ms");
        ev(&s, c, SERVICE_EVENT_RESTART, NULL);
        is_str(st(&s), "starting", "restart while waiting: starting now");
        ev(&s, c, SERVICE_EVENT_READY, NULL);
        now += 1 * SEC;
        end_with(&s, c, false, 1);
        is_int(act.timer_usec, 100 * MS, "restart cleared the backoff");
        ev(&s, c, SERVICE_EVENT_RESET, NULL);
        is_int(s.restarts, 0, "reset clears the counter");
        unit_config_free(c);
}

static void test_max_restarts(void)
{
        UnitConfig *c = config("DelaySec=0\nMaxRestarts=2\n");
        Service s;

        service_init(&s, SERVICE_INACTIVE);
        run_it(&s, c);
        for (int i = 0; i < 2; i++) {
                end_with(&s, c, false, 1);
                is_str(st(&s), "waiting", "failure %d: waiting", i + 1);
                is_int(act.timer_usec, 0, "DelaySec=0: immediate");
                ev(&s, c, SERVICE_EVENT_TIMER, NULL);
                ev(&s, c, SERVICE_EVENT_READY, NULL);
        }
        end_with(&s, c, false, 1);
        is_str(st(&s), "failed", "third failure with MaxRestarts=2: failed");
        ok(act.flags & SERVICE_ACTION_FAILED, "failed for good is announced");
        is_int(s.result, SERVICE_RESULT_EXIT_CODE, "result exit-code");
        ev(&s, c, SERVICE_EVENT_START, NULL);
        is_str(st(&s), "starting", "an operator start works again");
        unit_config_free(c);
}

static void test_stop(void)
{
        UnitConfig *c = config("Policy=always\n");
        Service s;

        service_init(&s, SERVICE_INACTIVE);
        run_it(&s, c);
        is_str(st(&s), "running", "running");
        ev(&s, c, SERVICE_EVENT_STOP, NULL);
        is_str(st(&s), "stopping", "stop: stopping");
        ok(act.flags & SERVICE_ACTION_KILL_SIGNAL, "stop signal sent");
        is_int(act.timer_usec, 3 * SEC, "stop timeout armed");
        ev(&s, c, SERVICE_EVENT_TIMER, NULL);
        ok(act.flags & SERVICE_ACTION_KILL_ALL, "stop timeout: SIGKILL to everything");
        end_with(&s, c, true, SIGKILL);
        is_str(st(&s), "inactive", "operator stop with Policy=always: inactive, no restart");
        is_int(s.result, SERVICE_SUCCESS, "result success");
        ok(act.flags & SERVICE_ACTION_CLEANUP, "cleanup");

        /* stop while waiting cancels the restart */
        run_it(&s, c);
        end_with(&s, c, false, 0);
        is_str(st(&s), "waiting", "always: waiting");
        ev(&s, c, SERVICE_EVENT_STOP, NULL);
        is_str(st(&s), "inactive", "stop while waiting: inactive");
        is_int(act.timer_usec, USEC_INFINITY, "timer disarmed");

        /* restart while running: stop, then start */
        run_it(&s, c);
        ev(&s, c, SERVICE_EVENT_RESTART, NULL);
        is_str(st(&s), "stopping", "restart: stopping first");
        end_with(&s, c, true, SIGTERM);
        is_str(st(&s), "starting", "then starting");
        ok(act.flags & SERVICE_ACTION_LAUNCH, "launched");

        /* start timeout */
        service_init(&s, SERVICE_INACTIVE);
        ev(&s, c, SERVICE_EVENT_START, NULL);
        is_int(act.timer_usec, 5 * SEC, "start timeout armed");
        ev(&s, c, SERVICE_EVENT_TIMER, NULL);
        is_str(st(&s), "stopping", "start timeout: stopping");
        end_with(&s, c, true, SIGTERM);
        is_str(st(&s), "waiting", "start timeout is a failure: restarted");
        is_int(s.result, SERVICE_RESULT_TIMEOUT, "result timeout");

        /* start error */
        service_init(&s, SERVICE_INACTIVE);
        ev(&s, c, SERVICE_EVENT_START, NULL);
        ServiceEnd e = { .start_error = true, .code = 2 };
        ev(&s, c, SERVICE_EVENT_EXITED, &e);
        is_int(s.result, SERVICE_RESULT_START_ERROR, "start error: result start-error");
        is_str(st(&s), "waiting", "start error: restarted");
        unit_config_free(c);
}

static void test_reload_and_dependencies(void)
{
        UnitConfig *c = config("Policy=on-failure\n");
        ServiceReload bad = { SERVICE_LOAD_BAD }, changed = { SERVICE_LOAD_CHANGED },
                      masked = { SERVICE_LOAD_MASKED };
        Service s;

        service_init(&s, SERVICE_INACTIVE);
        run_it(&s, c);
        ev(&s, c, SERVICE_EVENT_RELOAD, &bad);
        is_str(st(&s), "running", "a running unit whose file turns bad keeps running");
        ev(&s, c, SERVICE_EVENT_RELOAD, &changed);
        is_str(st(&s), "stopping", "changed: restart (stopping)");
        end_with(&s, c, true, SIGTERM);
        is_str(st(&s), "starting", "changed: started again");
        ev(&s, c, SERVICE_EVENT_READY, NULL);
        ev(&s, c, SERVICE_EVENT_RELOAD, &masked);
        end_with(&s, c, true, SIGTERM);
        is_str(st(&s), "masked", "masked while running: stopped, then masked");
        is_int(ev(&s, c, SERVICE_EVENT_START, NULL), -EINVAL, "a masked unit does not start");
        ev(&s, c, SERVICE_EVENT_RELOAD, &changed);
        is_str(st(&s), "inactive", "unmasked: inactive");
        ev(&s, c, SERVICE_EVENT_RELOAD, &bad);
        is_str(st(&s), "bad", "an inactive unit whose file is bad: bad");
        is_int(ev(&s, c, SERVICE_EVENT_START, NULL), -EINVAL, "a bad unit does not start");

        service_init(&s, SERVICE_INACTIVE);
        run_it(&s, c);
        ev(&s, c, SERVICE_EVENT_DEPENDENCY_FAILED, NULL);
        is_str(st(&s), "stopping", "dependency failed: stopping");
        end_with(&s, c, true, SIGTERM);
        is_str(st(&s), "failed", "then failed");
        is_int(s.result, SERVICE_RESULT_DEPENDENCY, "result dependency");
        ok(act.flags & SERVICE_ACTION_FAILED, "and its own dependents fail too");
        service_init(&s, SERVICE_INACTIVE);
        ev(&s, c, SERVICE_EVENT_DEPENDENCY_FAILED, NULL);
        is_str(st(&s), "failed", "a unit waiting for its dependency: failed");
        unit_config_free(c);
}

/* A container found running at start: running at once, no launch; an end
 * whose status the kernel could not give is `unknown`, a failure. */
static void test_adopt(void)
{
        UnitConfig *c = config("Policy=on-failure\nDelaySec=0\n");
        ServiceAdopt ad = { .started_usec = 5 * SEC };
        ServiceEnd e = { .unknown = true };
        Service s;

        service_init(&s, SERVICE_INACTIVE);
        now = 100 * SEC;
        is_int(ev(&s, c, SERVICE_EVENT_ADOPT, &ad), 1, "adopt: state changed");
        is_str(st(&s), "running", "adopted: running");
        ok(!(act.flags & SERVICE_ACTION_LAUNCH), "adopted: nothing launched");
        is_int(s.started_usec, 5 * SEC, "adopted: the recorded start");
        is_int(ev(&s, c, SERVICE_EVENT_ADOPT, &ad), -EINVAL, "adopting a running service: refused");
        is_str(service_result_to_string(service_end_result(c, &e, 0)), "unknown",
               "an unknown end: result unknown");
        ev(&s, c, SERVICE_EVENT_EXITED, &e);
        is_str(st(&s), "waiting", "on-failure restarts after an unknown end");
        ok(!s.has_exit, "an unknown end has no exit status");
        is_int(s.result, SERVICE_RESULT_UNKNOWN, "result unknown");
        unit_config_free(c);
}

/* Notify=yes: the watchdog's stop, with its own signal and result. */
static void test_watchdog(void)
{
        UnitConfig *c = config("Policy=on-failure\nDelaySec=1s\n");
        UnitConfig *no = config("Policy=no\n");
        Service s;

        service_init(&s, SERVICE_INACTIVE);
        is_int(ev(&s, c, SERVICE_EVENT_WATCHDOG, NULL), -EINVAL, "watchdog while inactive: refused");
        run_it(&s, c);
        ev(&s, c, SERVICE_EVENT_WATCHDOG, NULL);
        is_str(st(&s), "stopping", "watchdog: stopping");
        ok(act.flags & SERVICE_ACTION_KILL_WATCHDOG, "WatchdogSignal= sent");
        ok(!(act.flags & SERVICE_ACTION_KILL_SIGNAL), "not the stop signal");
        is_int(act.timer_usec, 3 * SEC, "then the stop timeout");
        end_with(&s, c, true, SIGABRT);
        is_str(st(&s), "waiting", "on-failure restarts after a watchdog stop");
        is_int(s.result, SERVICE_RESULT_WATCHDOG, "result watchdog");
        is_int(s.restarts, 1, "counted as a restart");

        /* while still starting (WATCHDOG=trigger before READY=1) */
        service_init(&s, SERVICE_INACTIVE);
        ev(&s, no, SERVICE_EVENT_START, NULL);
        ev(&s, no, SERVICE_EVENT_WATCHDOG, NULL);
        is_str(st(&s), "stopping", "watchdog while starting: stopping");
        end_with(&s, no, false, 0);
        is_str(st(&s), "failed", "Policy=no: failed, even after a clean exit");
        is_int(s.result, SERVICE_RESULT_WATCHDOG, "result watchdog");
        unit_config_free(c);
        unit_config_free(no);
}

/* [Health]: an unhealthy verdict, OnFailure=restart (the policy decides)
 * or stop (failed, no restart). */
static void test_unhealthy(void)
{
        UnitConfig *c = config("Policy=on-failure\nDelaySec=1s\n[Health]\nTCP=80\n");
        UnitConfig *no = config("Policy=no\n[Health]\nTCP=80\n");
        UnitConfig *stop = config("Policy=always\n[Health]\nTCP=80\nOnFailure=stop\n");
        Service s;

        service_init(&s, SERVICE_INACTIVE);
        is_int(ev(&s, c, SERVICE_EVENT_UNHEALTHY, NULL), -EINVAL, "unhealthy while inactive: refused");
        run_it(&s, c);
        ev(&s, c, SERVICE_EVENT_UNHEALTHY, NULL);
        is_str(st(&s), "stopping", "unhealthy: stopping");
        ok(act.flags & SERVICE_ACTION_KILL_SIGNAL, "the stop signal");
        end_with(&s, c, false, 0);
        is_str(st(&s), "waiting", "OnFailure=restart, Policy=on-failure: restarts, even after a clean exit");
        is_int(s.result, SERVICE_RESULT_UNHEALTHY, "result unhealthy");
        is_int(s.restarts, 1, "counted as a restart");

        /* before the first healthy verdict, Policy=no */
        service_init(&s, SERVICE_INACTIVE);
        ev(&s, no, SERVICE_EVENT_START, NULL);
        ev(&s, no, SERVICE_EVENT_UNHEALTHY, NULL);
        is_str(st(&s), "stopping", "unhealthy while starting: stopping");
        end_with(&s, no, false, 0);
        is_str(st(&s), "failed", "Policy=no: failed");
        is_int(s.result, SERVICE_RESULT_UNHEALTHY, "result unhealthy");

        /* OnFailure=stop: never restarted, whatever the policy */
        service_init(&s, SERVICE_INACTIVE);
        run_it(&s, stop);
        ev(&s, stop, SERVICE_EVENT_UNHEALTHY, NULL);
        end_with(&s, stop, false, 0);
        is_str(st(&s), "failed", "OnFailure=stop with Policy=always: failed");
        is_int(s.result, SERVICE_RESULT_UNHEALTHY, "result unhealthy");
        is_int(s.restarts, 0, "no restart");
        unit_config_free(c);
        unit_config_free(no);
        unit_config_free(stop);
}

static void test_prelaunch(void)
{
        UnitConfig *c = config("Policy=always\n");
        ServiceEnd killed = { .killed = true, .code = SIGKILL, .start_error = true };
        ServiceEnd retry = { .start_error = true, .code = 125, .retry = true };
        ServiceReload changed = { SERVICE_LOAD_CHANGED }, masked = { SERVICE_LOAD_MASKED };
        Service s;

        /* held: starting, launched, no start timeout; the release arms it */
        service_init(&s, SERVICE_INACTIVE);
        now = 100 * SEC;
        is_int(ev(&s, c, SERVICE_EVENT_PRELAUNCH, NULL), 1, "prelaunch changes the state");
        is_str(st(&s), "starting", "held: starting");
        ok(s.held, "held");
        ok(act.flags & SERVICE_ACTION_LAUNCH, "launched");
        ok((act.flags & SERVICE_ACTION_TIMER) && act.timer_usec == USEC_INFINITY, "no start timeout while held");
        is_int(ev(&s, c, SERVICE_EVENT_PRELAUNCH, NULL), -EINVAL, "no second prelaunch");
        ev(&s, c, SERVICE_EVENT_TIMER, NULL);
        ok(s.state == SERVICE_STARTING && s.held, "no timeout while held");
        now = 200 * SEC;
        is_int(ev(&s, c, SERVICE_EVENT_RELEASE, NULL), 0, "release: still starting");
        ok(!s.held, "released");
        ok((act.flags & SERVICE_ACTION_TIMER) && act.timer_usec == 5 * SEC, "the start timeout runs from the release");
        ok(s.started_usec == 200 * SEC, "the run starts at the release");
        is_int(ev(&s, c, SERVICE_EVENT_RELEASE, NULL), -EINVAL, "release of a released one: refused");
        ev(&s, c, SERVICE_EVENT_READY, NULL);
        is_str(st(&s), "running", "then ready as ever");

        /* a Requires= unit fails: killed, failed with result dependency, no restart */
        service_init(&s, SERVICE_INACTIVE);
        ev(&s, c, SERVICE_EVENT_PRELAUNCH, NULL);
        ev(&s, c, SERVICE_EVENT_DEPENDENCY_FAILED, NULL);
        is_str(st(&s), "stopping", "dependency failed: stopping");
        ok(act.flags & SERVICE_ACTION_KILL_SIGNAL, "killed");
        ok(!s.held, "no longer held");
        ev(&s, c, SERVICE_EVENT_EXITED, &killed);
        is_str(st(&s), "failed", "then failed (Policy=always)");
        is_int(s.result, SERVICE_RESULT_DEPENDENCY, "result dependency");

        /* the operator's stop: inactive, success */
        service_init(&s, SERVICE_INACTIVE);
        ev(&s, c, SERVICE_EVENT_PRELAUNCH, NULL);
        ev(&s, c, SERVICE_EVENT_STOP, NULL);
        ev(&s, c, SERVICE_EVENT_EXITED, &killed);
        is_str(st(&s), "inactive", "stop of a held one: inactive");
        is_int(s.result, SERVICE_SUCCESS, "result success");

        /* a restart or a changed file: killed, then inactive with the
         * result it had (the manager queues it again); never launched
         * unheld behind the manager's back */
        service_init(&s, SERVICE_INACTIVE);
        s.result = SERVICE_RESULT_EXIT_CODE;
        ev(&s, c, SERVICE_EVENT_PRELAUNCH, NULL);
        ev(&s, c, SERVICE_EVENT_RESTART, NULL);
        is_str(st(&s), "stopping", "restart of a held one: stopping");
        ok(s.requeue_after_stop && !s.start_after_stop, "requeued, not restarted directly");
        ev(&s, c, SERVICE_EVENT_EXITED, &killed);
        is_str(st(&s), "inactive", "then inactive");
        ok(!(act.flags & SERVICE_ACTION_LAUNCH), "no launch");
        is_int(s.result, SERVICE_RESULT_EXIT_CODE, "result kept");
        ok(!s.has_exit, "the kill is no exit of the command");

        service_init(&s, SERVICE_INACTIVE);
        ev(&s, c, SERVICE_EVENT_PRELAUNCH, NULL);
        ev(&s, c, SERVICE_EVENT_RELOAD, &changed);
        ok(s.state == SERVICE_STOPPING && s.requeue_after_stop, "changed file: requeued");
        ev(&s, c, SERVICE_EVENT_STOP, NULL);
        ok(!s.requeue_after_stop, "a stop meanwhile wins");
        ev(&s, c, SERVICE_EVENT_EXITED, &killed);
        is_str(st(&s), "inactive", "inactive");

        service_init(&s, SERVICE_INACTIVE);
        ev(&s, c, SERVICE_EVENT_PRELAUNCH, NULL);
        ev(&s, c, SERVICE_EVENT_RELOAD, &masked);
        ev(&s, c, SERVICE_EVENT_EXITED, &killed);
        is_str(st(&s), "masked", "masked while held: masked");

        /* setup failed before the hold point: no result, inactive */
        service_init(&s, SERVICE_INACTIVE);
        ev(&s, c, SERVICE_EVENT_PRELAUNCH, NULL);
        ev(&s, c, SERVICE_EVENT_EXITED, &retry);
        is_str(st(&s), "inactive", "failed prelaunch: inactive");
        is_int(s.result, SERVICE_SUCCESS, "no result");
        ok(act.flags & SERVICE_ACTION_CLEANUP, "cleaned up");
        is_int(s.restarts, 0, "no restart counted");
        /* ... but after the release a start error is one */
        service_init(&s, SERVICE_INACTIVE);
        ev(&s, c, SERVICE_EVENT_PRELAUNCH, NULL);
        ev(&s, c, SERVICE_EVENT_RELEASE, NULL);
        ev(&s, c, SERVICE_EVENT_EXITED, &retry);
        is_str(st(&s), "waiting", "start error after the release: the policy decides");
        is_int(s.result, SERVICE_RESULT_START_ERROR, "result start-error");
        unit_config_free(c);
}

int main(void)
{
        test_prelaunch();
        test_watchdog();
        test_unhealthy();
        test_policies();
        test_results();
        test_backoff();
        test_max_restarts();
        test_stop();
        test_reload_and_dependencies();
        test_adopt();
        return tap_done();
}
