/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The control API (CLI.md, "The control API"): sd-bus peer to peer on
 * RUNTIME_DIR/control, driven by the libev loop (no sd-event).
 *
 * Object /org/ccsup, interface org.ccsup.Manager1:
 *   ListUnits() -> a(sssuutss)      name, state, result, main PID, restarts,
 *                                   state change (µs since the epoch),
 *                                   description, sub-state ("" or "ready")
 *   GetUnit(s name) -> a{sv}        the `ccsupctl show` keys (absent = n/a)
 *   GetManager() -> a{sv}           Version, CgroupMode, CgroupPath,
 *                                   UnitPath, StateDirectory, Units (a{su}:
 *                                   per state)
 *   CatUnit(s name) -> a(ss)        (path, text) of the file and drop-ins
 *   StartUnit(s name, b no_block) -> (ss)    state, result once settled
 *   StopUnit(s name, b no_block) -> (ss)
 *   RestartUnit(s name, b no_block) -> (ss)
 *   KillUnit(s name, i signal)
 *   ResetUnit(s name)
 *   Reload() -> a(ss)               (unit, "added"|"removed"|"changed"|"bad"|"masked")
 *   Reexec()                        reply, then ccsupd execve()s itself; the
 *                                   containers are re-adopted, none restarts
 *   Exec(s name, as argv, h stdin, h stdout, h stderr) -> i
 *                                   runs argv inside the running container
 *                                   with the three fds; the reply waits for
 *                                   its end: the exit status as a shell gives
 *                                   it (128 + N: killed by signal N); the
 *                                   command is killed when the caller's
 *                                   connection closes (exec.h)
 *   RemoveImage(s ref) -> u          `ccsupctl image remove`: the number of
 *                                   names removed; refused (ImageInUse, naming
 *                                   the units) while a container runs from
 *                                   the image, Busy while an import holds the
 *                                   store's lock, NoSuchImage
 *   property StateDirectory s       --state-dir, absolute: the image store is
 *                                   its images/ (ccsupctl image)
 *   property Version s
 *   signal UnitChanged(s name, s state, s result)
 * Errors: org.ccsup.Error.NoSuchUnit, org.ccsup.Error.BadUnit,
 * org.ccsup.Error.Failed, org.ccsup.Error.NotRunning (KillUnit, Exec),
 * org.ccsup.Error.NoSuchImage, .ImageInUse, .Busy (RemoveImage),
 * org.ccsup.Error.CommandNotFound, .CommandNotExecutable, .ExecFailed (Exec:
 * the command never ran), org.freedesktop.DBus.Error.AccessDenied (callers
 * other than uid 0 on every method that changes something),
 * org.freedesktop.DBus.Error.InvalidArgs.
 * A stub org.freedesktop.DBus.Hello on /org/freedesktop/DBus lets
 * `busctl --address=unix:path=…` connect.
 */

#include "manager.h"

typedef struct Control Control;

#define CONTROL_INTERFACE "org.ccsup.Manager1"
#define CONTROL_PATH "/org/ccsup"

int control_new(Manager *m, const char *socket_path, Control **ret);
Control *control_free(Control *c);
/* Stops accepting and closes every connection. */
void control_close(Control *c);
