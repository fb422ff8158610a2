/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * `ccsupctl events [--json]` (CLI.md): follows ccsupd's UnitChanged and
 * Reloaded signals and prints each as it comes, one line (or JSON object),
 * until SIGINT or SIGTERM (exit 0). The kind of event (state, ready,
 * reloading, stopping, restart, result, changed) comes from comparing with
 * what the previous signal of the unit (or ListUnits at the start) said.
 * The connection lost (daemon-reexec, a restarted ccsupd) is opened again
 * for up to 10 s.
 */

#include <stdbool.h>

/* argv[0] is "events"; -h, --help prints its usage. Returns the exit status. */
int verb_events_run(int argc, char **argv, const char *socket_path, bool json);
