/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The records of a container's log file, written by ccsupd
 * (supervisor/daemon/logs.c) and read by `ccsupctl logs` (supervisor/client/ccsupctl-logs.c):
 * the one definition of the format for both.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

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
static inline void log_joiner_freep(LogJoiner **j)
{
        log_joiner_free(*j);
}
/* Feeds one line of a log file, without its '\n'. */
void log_joiner_feed(LogJoiner *j, const char *line, size_t len);
/* End of input: passes on the pieces still waiting for the rest of their
 * line, in the order their first piece came. */
void log_joiner_flush(LogJoiner *j);

/* ------------------------------------------------------------------ writing */

/*
 * The start of a record, "TIME STREAM F " (the time of t as RFC 3339 UTC
 * with microseconds), NUL-terminated in buf; returns its length. The tag is
 * at len - 2: a writer that splits a line puts 'P' there (LOG_PREFIX_TAG).
 * The writer keeps a LogSecond, the last second formatted: within the same
 * second only the microseconds and the stream are formatted again.
 */
#define LOG_PREFIX_MAX 64
#define LOG_PREFIX_TAG(len) ((len)-2)
typedef struct LogSecond {
        time_t sec;
        char text[20 + 1]; /* "2026-11-27T09:35:51"; empty: none yet (a zeroed LogSecond) */
} LogSecond;
size_t log_record_prefix(LogSecond *cache, char buf[LOG_PREFIX_MAX], const struct timespec *t, bool err);
