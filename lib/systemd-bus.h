/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>
#include <systemd/sd-bus.h>

/*
 * What ccsupd (systemd-job.c) and ccsup-runtime (runtime-scope.c) share to
 * talk to systemd: its bus, and the keeper process that holds a transient
 * scope while nothing else is in it.
 */
#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_CALL_TIMEOUT_USEC (1000 * 1000)

/* systemd's private bus (/run/systemd/private, root's), the system bus where
 * that is missing; method calls time out after a second. */
int systemd_bus_open(sd_bus **ret);

/* A child that keeps nothing of ours (no fd, default signals and mask) and
 * pauses until it is killed; name is its comm. -errno when fork fails. */
pid_t systemd_keeper_spawn(const char *name);

/* The keeper into the "keeper" leaf of cgroup (below root, the cgroup2
 * mount): the scope's own cgroup must hold no process for controllers to be
 * enabled below it. */
int systemd_keeper_to_leaf(const char *root, const char *cgroup, pid_t pid);

void systemd_sleep_ms(long ms);

/* StartTransientUnit of a scope, mode "fail": unit in slice with pid in it,
 * Delegate=yes (the cgroups below are the caller's), collected once inactive
 * or failed, Before=before unless NULL. Waits for the call, not the job. */
int systemd_start_scope(sd_bus *bus, const char *unit, const char *description, const char *slice,
                        const char *before, pid_t pid, sd_bus_error *error);
