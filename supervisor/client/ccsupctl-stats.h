/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/*
 * `ccsupctl stats [--no-stream] [UNIT...]` (CLI.md): a table
 * UNIT CPU% MEM MEM-LIMIT PIDS NET-RX NET-TX of the named units (default:
 * every running one), from the counters ccsupd reads in their cgroups
 * (CPUUsageNSec, MemoryCurrent, TasksCurrent; MemoryMax from the unit) and,
 * for a container with a network namespace of its own, the byte counters of
 * its interfaces but lo (/proc/MAINPID/net/dev: what its bridge veth carries,
 * seen from the container's end). CPU% is the CPU time used over one second
 * (100% is one CPU). On a terminal the table is redrawn every second until
 * interrupted; otherwise a table is printed every second; --no-stream
 * prints one. argv[0] is "stats". Returns the exit status (4: a named unit
 * does not exist, 5: ccsupd unreachable).
 */
int verb_stats_run(int argc, char **argv, const char *socket_path, bool no_legend);
