/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The supervisor daemon: `ccsupd` without --run (CLI.md). */

#include <stdbool.h>
#include <stdint.h>

typedef struct DaemonOptions {
        const char *unit_path;   /* DIR[:DIR...] */
        const char *runtime_dir;
        const char *state_dir;
        const char *log_dir;
        const char *cgroup;      /* NULL: the delegated cgroup, else /ccsup */
        int log_level;
        bool no_watch;
        const char *bridge, *bridge_subnet, *bridge_subnet6; /* NULL: the defaults */
        unsigned bridge_mtu;                                  /* 0: the uplink's */
        uint64_t tmpfs_size, tmpfs_size_bp; /* --tmpfs-size, see SpawnOptions */
        char **argv;             /* main()'s, for daemon-reexec */
        uint64_t auto_update_interval_usec; /* --auto-update-interval; 0: off */
} DaemonOptions;

/* Runs until SIGTERM/SIGINT has stopped every container. Returns the exit
 * status: 0 after a requested shutdown, 1 on a fatal start-up error. */
int daemon_run(const DaemonOptions *o);
