/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* `ccsupd --run=FILE.unit`: one container in the foreground, no daemon. */

#include <stdint.h>
#include <syslog.h>

typedef struct RunOptions {
        const char *unit_file;
        const char *runtime_dir;
        const char *state_dir;
        const char *cgroup;    /* parent of the container's cgroup, e.g. "/ccsup" */
        int log_level;         /* LOG_ERR .. LOG_DEBUG */
        uint64_t tmpfs_size, tmpfs_size_bp; /* --tmpfs-size, see SpawnOptions */
} RunOptions;

/*
 * Loads the unit, starts its container with stdin on /dev/null and ccsupd's
 * own stdout/stderr, forwards SIGTERM/SIGINT as the unit's StopSignal (then
 * SIGKILL to the whole cgroup after StopTimeoutSec), and cleans up. Returns
 * the exit status for main: the command's exit code, 128+N for death by
 * signal N, 125 when the container could not be started.
 */
int run_unit(const RunOptions *o);
