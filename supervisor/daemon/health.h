/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Health checks (UNITS.md, [Health]; DESIGN.md, "Health checks"): one
 * HealthCheck per run of a unit that has one, driven by the loop.
 *
 *  - Exec=: the command runs in the container through the exec path
 *    (spawn_exec(), like `ccsupctl exec`); its output goes to a pipe that the
 *    loop reads (4096 bytes kept); exit status 0 is healthy.
 *  - HTTP=, TCP=: no process. The socket is made inside the container's
 *    network namespace (setns() there, socket(), setns() back: a socket
 *    keeps the namespace it was made in), then connected without blocking;
 *    HTTP= sends one GET and reads the status line.
 *
 * Every check has a timer: at TimeoutSec= it is killed (the relay gets
 * SIGKILL, the socket is closed) and counts as a failure. Nothing here
 * blocks the loop. The verdict (starting -> healthy / unhealthy) goes to
 * the manager through manager_unit_health_changed().
 */

#include <stdbool.h>
#include <stdint.h>

#include "manager.h"

typedef enum HealthStatus {
        HEALTH_STATUS_STARTING,  /* no verdict yet */
        HEALTH_STATUS_HEALTHY,
        HEALTH_STATUS_UNHEALTHY, /* Retries= consecutive failures */
        _HEALTH_STATUS_MAX,
} HealthStatus;

typedef struct HealthCheck HealthCheck;

const char *health_status_to_string(HealthStatus s);

/* Whether a run of u would have a check: [Health] Exec=/HTTP=/TCP=, or the
 * image's Healthcheck (from its launch plan). */
bool health_wanted(const Unit *u);

/* Starts the checks of u's current run (its command runs): the first one
 * at once. NULL when u has none. */
HealthCheck *health_start(Unit *u);

/* The run is over or stopping: no more checks; a check in progress is
 * killed. The verdict and the last result stay for `status`. */
void health_halt(HealthCheck *h);

/* Kills what runs (waiting a moment at most for a relay to be reapable). */
HealthCheck *health_free(HealthCheck *h);

HealthStatus health_status(const HealthCheck *h);
/* The last check: its output or error (first line for Exec=), when it
 * ended (realtime, 0 = none yet), and whether it passed. */
const char *health_last_output(const HealthCheck *h);
uint64_t health_last_realtime(const HealthCheck *h);
bool health_last_ok(const HealthCheck *h);
/* The Retries= in force (the unit's, or the image's). */
unsigned health_retries(const HealthCheck *h);
/* Checks run since the start (also counts the one in progress). */
uint64_t health_count(const HealthCheck *h);

/* The manager's side (supervisor/daemon/manager.c): the verdict of u's checks
 * went from old to now (or stayed: nothing to do). */
void manager_unit_health_changed(Unit *u, HealthStatus old, HealthStatus now);
