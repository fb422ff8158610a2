/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * `ccsupctl logs` and the log lines of `ccsupctl status` (CLI.md): the
 * container's output, read from the journal or from the files that ccsupd
 * writes. ccsupctl.c asks ccsupd where the output goes (GetUnit: LogTarget,
 * LogPath); everything after that happens here, without the daemon.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGS_ALL UINT64_MAX

typedef struct LogsArgs {
        const char *unit;
        uint64_t lines; /* -n; LOGS_ALL by default */
        bool follow;    /* -f */
} LogsArgs;

/* Parses the arguments of `logs` (argv[0] is "logs"): -f, --follow, -n N,
 * -nN, --lines=N, --lines N (N a number or "all"), one UNIT; -h, --help
 * prints the usage (exit status 0). Returns -1 to go on, else an exit status
 * (2 with a message on stderr). */
int logs_parse_args(int argc, char **argv, LogsArgs *ret);

/* Prints the unit's output as `ccsupctl logs` does. target is the unit's
 * LogTarget ("journal", "file", "none"), path its LogPath (file). Returns
 * the exit status: 0, or 1 with the reason on stderr. With follow, runs
 * until SIGINT, SIGTERM or the reader of stdout goes away (exit 0). */
int logs_show(const LogsArgs *a, const char *target, const char *path);

/* For `status`: a blank line and the unit's last n messages; nothing at all
 * when there are none or they cannot be read. */
void logs_print_tail(const char *unit, const char *target, const char *path, uint64_t n);
