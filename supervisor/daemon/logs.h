/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A container's output ([Log] of UNITS.md).
 *
 *   journal  the container's stdout and stderr are journald stream fds
 *            (identifier NAME, priority info / err): its output flows to
 *            journald without passing through ccsupd.
 *   file     two pipes read by the loop, non-blocking, a bounded amount per
 *            wake-up, written to LOG_DIR/NAME.log as records
 *              2026-11-27T09:35:51.905587Z stdout F the line
 *            (RFC 3339 UTC time, stream, F = a whole line or its last
 *            piece, P = a piece of a longer line that goes on in the next
 *            record of that stream: the CRI log format), rotated by size to
 *            NAME.log.1 ... NAME.log.N. A line longer than LOG_LINE_MAX is
 *            split, never dropped; a partial line is written when its
 *            stream ends. What cannot be written (a full disk) is lost and
 *            counted, and reading goes on: the loop never waits on a log.
 *            Relayed instead (unit_log_relay_journal()): two pipes as for
 *            a file, whose lines ccsupd writes to journald streams of its
 *            own, so that journald files them under ccsupd's unit (it takes
 *            a stream's unit from the writer); what journald does not take
 *            at once is lost and counted.
 *   none     /dev/null.
 *
 * One UnitLog per unit. Each run gets its own pipes; the streams of an
 * ended run are read until their end of file (every process holding them
 * is gone), so a restart never cuts what the previous run still had in its
 * pipes.
 */

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "unit.h"

/* Longest record message; a longer line is split into P pieces. */
#define LOG_LINE_MAX (16U * 1024U)

typedef struct UnitLog UnitLog;

UnitLog *unit_log_new(struct ev_loop *loop, const char *name, const char *log_dir);
/* Reads what the streams still hold (up to their end or until they would
 * block), writes partial lines, closes everything. */
UnitLog *unit_log_free(UnitLog *l);

/*
 * The output of a new run: out[0] and out[1] become the container's stdout
 * and stderr (CLOEXEC; the caller closes them once the container has them).
 * auto picks the journal when journald accepts a stream, else a file.
 * Rotation limits are taken from c at every start.
 */
int unit_log_open(UnitLog *l, const UnitConfig *c, int devnull, int out[2], char **ret_error);

/* The target of the current or last run; LOG_TARGET_AUTO before any. */
LogTarget unit_log_last_target(const UnitLog *l);

/* The read ends of the current run's pipes (-1 when not in file mode or at
 * end of file), e.g. for systemd's fd store or a daemon-reexec. */
void unit_log_fds(const UnitLog *l, int ret[2]);

/* Before the pipes go to another ccsupd (daemon-reexec): the unfinished
 * line of each stream is written as a P record, so the next ccsupd's first
 * record of that stream finishes it. */
void unit_log_hand_over(UnitLog *l);

/* A re-adopted container whose output goes to t: takes the read ends of
 * its pipes (either may be -1), which become the current run's streams. */
void unit_log_adopt(UnitLog *l, LogTarget t, int fds[2]);

/* Journal output relayed through ccsupd from now on (on), or the
 * container's stdout and stderr being journald streams (off, the default):
 * for containers whose cgroups lie outside ccsupd's systemd unit
 * (systemd_scope_open()). */
void unit_log_relay_journal(bool on);

/* Lines lost so far (write errors), for tests and status. */
uint64_t unit_log_lost(const UnitLog *l);
