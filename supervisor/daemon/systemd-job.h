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
 * that start fails while the containers' cgroups are below the unit's (true
 * then all the same when the containers are in a scope of their own). A
 * SIGTERM that comes with such a restart leaves the containers running for
 * the next ccsupd, which re-adopts them. false otherwise, and when systemd
 * cannot tell (no systemd, no job, no answer within a second).
 */
bool systemd_restart_pending(void);

/*
 * Under a systemd that would start the next ccsupd in its unit's own cgroup
 * (before 254, or DelegateSubgroup= unset), which the kernel refuses while
 * the containers' cgroups below it use controllers: the containers go into a
 * transient scope instead, "UNIT-containers.scope" beside the service in its
 * slice (StartTransientUnit, Delegate=yes, Before=UNIT), held by a keeper
 * process in its "keeper" leaf while no container runs. A restarted ccsupd
 * (systemctl restart, a crash, daemon-reexec) finds the scope active and
 * takes it over. Returns 1 with the scope's cgroup in *ret_cgroup, 0 when
 * the service's own subtree serves (or systemd cannot make the scope: then
 * the containers restart with ccsupd, as before), never an error.
 * cgroup_root: the cgroup2 mount ("/sys/fs/cgroup").
 */
int systemd_scope_open(const char *cgroup_root, char **ret_cgroup);

/* At a stop that stopped the containers: the keeper is killed, and the
 * scope ends (waits up to 5 s for systemd to remove its cgroup). */
void systemd_scope_close(const char *cgroup_root);
