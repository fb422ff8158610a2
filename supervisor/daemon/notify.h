/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * ccsupd's own readiness protocol with systemd (sd_notify), CLI.md: READY=1
 * once every unit that should run has had its first start attempt end,
 * STATUS= kept current, RELOADING=1 + MONOTONIC_USEC= then READY=1 around
 * reloads, STOPPING=1, WATCHDOG=1 at half of WATCHDOG_USEC. Does nothing
 * when NOTIFY_SOCKET is not set.
 */

#include "manager.h"

typedef struct Notify Notify;

Notify *notify_new(Manager *m);
Notify *notify_free(Notify *n);

void notify_ready(Notify *n);
void notify_reloading(Notify *n);
void notify_reloaded(Notify *n);
void notify_stopping(Notify *n);

/* "12 running, 1 failed": running always, other states when non-zero. */
char *notify_format_status(const unsigned counts[_SERVICE_STATE_MAX]);
