/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * One unit's state machine (DESIGN.md, "The state machine"; UNITS.md,
 * "States" and "[Restart]"). Pure logic: no I/O, no clock, no loop. The
 * caller feeds events with the current monotonic time and carries out the
 * actions it gets back; service_handle() is the only function that changes a
 * Service's state.
 *
 * One timer per service; its meaning follows the state:
 *   starting  start timeout (StartTimeoutSec=)   -> stop, result `timeout`
 *             (with Notify=yes it lasts until READY=1; none while held,
 *             it runs from the release)
 *   stopping  stop timeout (StopTimeoutSec=)     -> SIGKILL to the cgroup
 *   waiting   restart delay (the backoff)        -> launch
 */

#include <stdbool.h>
#include <stdint.h>

#include "unit.h"

typedef enum ServiceState {
        SERVICE_INACTIVE,
        SERVICE_STARTING,
        SERVICE_RUNNING,
        SERVICE_STOPPING,
        SERVICE_WAITING,
        SERVICE_EXITED,
        SERVICE_FAILED,
        SERVICE_BAD,
        SERVICE_MASKED,
        _SERVICE_STATE_MAX,
} ServiceState;

typedef enum ServiceResult {
        SERVICE_SUCCESS,
        SERVICE_RESULT_EXIT_CODE,
        SERVICE_RESULT_SIGNAL,
        SERVICE_RESULT_OOM_KILL,
        SERVICE_RESULT_START_ERROR,
        SERVICE_RESULT_TIMEOUT,
        SERVICE_RESULT_WATCHDOG,
        SERVICE_RESULT_UNHEALTHY,
        SERVICE_RESULT_DEPENDENCY,
        SERVICE_RESULT_UNKNOWN, /* a re-adopted container ended; the kernel did not say how */
        _SERVICE_RESULT_MAX,
} ServiceResult;

typedef enum ServiceEvent {
        SERVICE_EVENT_START,             /* operator or manager: run it */
        SERVICE_EVENT_STOP,              /* operator: stop it, never restart */
        SERVICE_EVENT_RESTART,           /* operator: stop if needed, start; clears the backoff */
        SERVICE_EVENT_EXITED,            /* the container's PID 1 ended (data: ServiceEnd) */
        SERVICE_EVENT_READY,             /* the command was executed (or reported ready) */
        SERVICE_EVENT_TIMER,             /* the service's timer fired */
        SERVICE_EVENT_DEPENDENCY_FAILED, /* a Requires= unit failed for good */
        SERVICE_EVENT_RELOAD,            /* the unit file changed (data: ServiceReload) */
        SERVICE_EVENT_RESET,             /* operator: clear failed state and counters */
        SERVICE_EVENT_ADOPT,             /* a container found running at start (data: ServiceAdopt) */
        SERVICE_EVENT_WATCHDOG,          /* Notify=yes: no WATCHDOG=1 in time, or WATCHDOG=trigger */
        SERVICE_EVENT_UNHEALTHY,         /* [Health]: an unhealthy verdict, OnFailure=restart or stop */
        SERVICE_EVENT_PRELAUNCH,         /* manager: launch it, held before its exec (its After= units start) */
        SERVICE_EVENT_RELEASE,           /* manager: a held container may exec now */
        _SERVICE_EVENT_MAX,
} ServiceEvent;

/* How a run ended: data of SERVICE_EVENT_EXITED. */
typedef struct ServiceEnd {
        bool start_error; /* setup failed before the command ran */
        bool killed;      /* death by signal (else exit code) */
        int code;         /* exit code, or the signal number when killed */
        bool oom;         /* the kernel's OOM killer killed it */
        bool unknown;     /* how it ended is lost (a re-adopted container, no PIDFD_GET_INFO) */
        bool retry;       /* held: its setup failed before the hold point; no result, the
                           * manager starts it again the ordinary way */
} ServiceEnd;

/* Data of SERVICE_EVENT_ADOPT: when the container started (monotonic). */
typedef struct ServiceAdopt {
        uint64_t started_usec;
} ServiceAdopt;

typedef enum ServiceLoad {
        SERVICE_LOAD_CHANGED, /* new valid configuration: restart if active */
        SERVICE_LOAD_BAD,     /* the file has errors: bad unless running */
        SERVICE_LOAD_MASKED,  /* masked: stop, then masked */
} ServiceLoad;

typedef struct ServiceReload {
        ServiceLoad load;
} ServiceReload;

/* Actions, to be carried out by the caller in this order. */
enum {
        SERVICE_ACTION_KILL_SIGNAL = 1 << 0, /* send the stop signal to the container's PID 1 */
        SERVICE_ACTION_KILL_ALL = 1 << 1,    /* SIGKILL every process of the cgroup */
        SERVICE_ACTION_CLEANUP = 1 << 2,     /* the run is over: reap, empty and remove the cgroup */
        SERVICE_ACTION_LAUNCH = 1 << 3,      /* start a new container */
        SERVICE_ACTION_TIMER = 1 << 4,       /* (re)arm the timer to timer_usec, or disarm it */
        SERVICE_ACTION_FAILED = 1 << 5,      /* ended failed for good: Requires= dependents fail */
        SERVICE_ACTION_KILL_WATCHDOG = 1 << 6, /* send WatchdogSignal= to the container's PID 1 */
};

typedef struct ServiceActions {
        unsigned flags;
        uint64_t timer_usec; /* with SERVICE_ACTION_TIMER: delay from now; USEC_INFINITY disarms */
} ServiceActions;

typedef struct Service {
        ServiceState state;
        ServiceResult result;       /* of the last run (or of the current stop) */
        ServiceResult stop_result;  /* stopping: the result the run gets (success = asked for) */
        bool stop_by_operator;      /* stopping: no restart follows */
        bool start_after_stop;      /* stopping: start again once stopped */
        bool masked_after_stop;     /* stopping: become masked once stopped */
        /* Prelaunch: starting, its container launched and held before its
         * exec until the units it is ordered after are running (the
         * manager decides when). */
        bool held;
        bool requeue_after_stop;    /* stopping a held one: inactive again, result kept; the
                                     * manager queues the start anew */
        unsigned consecutive;       /* automatic restarts since the backoff was reset */
        unsigned restarts;          /* automatic restarts shown to the operator */
        uint64_t started_usec;      /* monotonic: when the current or last run started */
        uint64_t restart_at_usec;   /* monotonic: waiting: when the restart is due */
        bool has_exit;              /* exit_code/exit_signal describe the last end */
        int exit_code, exit_signal;
} Service;

const char *service_state_to_string(ServiceState s);
ServiceState service_state_from_string(const char *s);
const char *service_result_to_string(ServiceResult r);
const char *service_event_to_string(ServiceEvent e);

/* A fresh service (inactive, or bad / masked when its file says so). */
void service_init(Service *s, ServiceState initial);

/* States in which a container exists or is due (a process, a stop in
 * progress, a scheduled restart). */
bool service_state_is_active(ServiceState s);

/* The delay of the n-th consecutive restart (n >= 1):
 * min(DelaySec x 2^(n-1), MaxDelaySec), without overflow. */
uint64_t service_restart_delay(const UnitConfig *c, unsigned n);

/* The result a run that ended like end gets (the stop signal the supervisor
 * sent, if any, counts as clean). */
ServiceResult service_end_result(const UnitConfig *c, const ServiceEnd *end, int sent_signal);

/* Whether the policy restarts after a run that ended with result r. */
bool service_policy_restarts(RestartPolicy p, ServiceResult r);

/*
 * Feeds one event. c is the unit's effective configuration (restart policy,
 * timeouts); data is a ServiceEnd for EXITED, a ServiceReload for RELOAD, a
 * ServiceAdopt for ADOPT (inactive -> running, no action), and NULL otherwise. Returns 1 when the state changed, 0 when it did not (the
 * actions may still be non-empty), -EINVAL for an event that does not apply
 * in this state (e.g. start of a bad unit), which changes nothing.
 */
int service_handle(Service *s, const UnitConfig *c, ServiceEvent ev, const void *data,
                   uint64_t now_usec, ServiceActions *ret);
