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

/* ------------------------------------------------------------------ records */

/*
 * One record of a log file (the CRI log format, as Kubernetes writes it):
 *
 *     2026-11-27T09:35:51.905587Z stdout F message text
 *
 * a timestamp, the stream, a tag (F: the record ends a line; P: a piece of a
 * longer line, continued by the next record of the same stream) and the
 * message, each separated by one space. The pointers point into the parsed
 * line.
 */
typedef struct LogRecord {
        const char *timestamp, *stream, *message;
        size_t timestamp_len, stream_len, message_len;
        bool partial; /* tag P */
} LogRecord;

/* Parses one record (line without its '\n'). Returns 0, or -EBADMSG when the
 * line is not a record; *ret is written only on success. */
int log_record_parse(const char *line, size_t len, LogRecord *ret);

/* Receives each whole message, in file order (message without '\n'). */
typedef void (*LogLineFn)(const char *message, size_t len, void *userdata);

/*
 * Puts lines back together from records: the P pieces of a stream are held
 * until the F record of the same stream, then the whole line goes to the
 * callback. Lines that are not records are passed on as they are, so nothing
 * is lost from a damaged file. A line longer than LOG_JOIN_MAX is passed on
 * in pieces of at most that size, so memory stays bounded.
 */
#define LOG_JOIN_MAX (8u * 1024 * 1024)
typedef struct LogJoiner LogJoiner;
LogJoiner *log_joiner_new(LogLineFn fn, void *userdata);
void log_joiner_free(LogJoiner *j);
static inline void log_joiner_freep(LogJoiner **j) { log_joiner_free(*j); }
/* Feeds one line of a log file, without its '\n'. */
void log_joiner_feed(LogJoiner *j, const char *line, size_t len);
/* End of input: passes on the pieces still waiting for the rest of their
 * line, in the order their first piece came. */
void log_joiner_flush(LogJoiner *j);

/* ------------------------------------------------------------------ commands */

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
