/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/*
 * Under systemd: whether the job that systemd runs on our own unit is a
 * restart (`systemctl restart`, `try-restart`, `reload-or-restart`), asked
 * over systemd's private bus (/run/systemd/private, root's; the system bus
 * where that is missing): GetUnitByPID(our PID), its Job, that job's
 * JobType; and whether systemd starts the next ccsupd in our "supervisor"
 * leaf (DelegateSubgroup=supervisor, systemd 254 and later), without which
 * that start fails while the containers' cgroups are below the unit's. A
 * SIGTERM that comes with such a restart leaves the containers running for
 * the next ccsupd, which re-adopts them. false otherwise, and when systemd
 * cannot tell (no systemd, no job, no answer within a second).
 */
bool systemd_restart_pending(void);
