/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * `ccsupctl exec [-i] [--] UNIT [--] CMD [ARG...]` (CLI.md): runs CMD inside
 * the running container of UNIT through ccsupd's Exec method, with our
 * standard output and error (and input with -i, else /dev/null) passed as
 * fds: nothing is copied through ccsupd.
 */

#include <stdbool.h>
#include <systemd/sd-bus.h>

typedef struct ExecArgs {
        bool interactive;   /* -i: our standard input, else /dev/null */
        const char *unit;
        char **argv;        /* the command, NULL-terminated (borrowed) */
} ExecArgs;

/* argv[0] is "exec". Options come before UNIT only: everything after UNIT
 * (and an optional `--` right after it) is the command's. Returns -1 to go
 * on, else an exit status (0 after --help, 2 usage). */
int exec_parse_args(int argc, char **argv, ExecArgs *ret);

/*
 * Makes the Exec call on bus and waits, without a timeout, for the command
 * to end. Returns ccsupctl's exit status: the command's (128 + N when
 * signal N killed it), 127 command not found, 126 not executable, 125 the
 * command could not be started in the container, 1 the unit is not running
 * (each with a message on stderr); or -errno with *error set for what
 * ccsupctl reports like any failed call (no such unit, permission denied,
 * ccsupd unreachable).
 */
int exec_run(sd_bus *bus, const ExecArgs *a, sd_bus_error *error);
