/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * `ccsupctl exec`, ccsupd's side: the calls of the Exec method
 * (supervisor/daemon/control.h), each running one command inside a running
 * container with the caller's three fds as its standard input, output and
 * error (lib/spawn.h, spawn_exec()). The reply waits for the command's end;
 * the loop watches the relay's pidfd, nothing blocks.
 *
 * A container re-adopted after a restart of ccsupd has no launch plan any
 * more: its command gets one prepared from the unit's configuration
 * (spawn_prepare_exec(), no side effects).
 *
 * The reply is the exit status as a shell gives it (0-255, 128 + the
 * signal that killed the command), or an error when it never ran:
 * EXEC_ERROR_NOT_FOUND, EXEC_ERROR_NOT_EXECUTABLE (the command),
 * EXEC_ERROR_FAILED (anything else). When the caller's connection closes
 * (ccsupctl interrupted), its command is killed (SIGKILL).
 */

#include <systemd/sd-bus.h>

#include "manager.h"

#define EXEC_ERROR_NOT_FOUND "org.ccsup.Error.CommandNotFound"
#define EXEC_ERROR_NOT_EXECUTABLE "org.ccsup.Error.CommandNotExecutable"
#define EXEC_ERROR_FAILED "org.ccsup.Error.ExecFailed"

typedef struct ExecCall ExecCall;

/*
 * Runs argv in u's container (running: the caller checked) with stdio
 * (borrowed). 1: the call is taken and answered later; -errno with error
 * set: refused. The call is kept in *list until its command ends.
 */
int exec_call_start(ExecCall **list, Manager *m, Unit *u, char *const *argv, const int stdio[3],
                    sd_bus_message *call, sd_bus_error *error);

/* bus (a client's connection) is closing: the commands of its calls are
 * killed; they leave *list once reaped. */
void exec_calls_disconnected(ExecCall **list, sd_bus *bus);

/* ccsupd goes away (daemon-reexec, exit): every command is killed, its call
 * answered with an error, its relay reaped (waiting a moment at most). */
void exec_calls_abort(ExecCall **list);
