/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The records of ccsupd's log files (lib/logrecord.h): the prefix the
 * writer makes read back by the parser, the parser on its own, and the
 * reassembly of lines. */

#include <errno.h>

#include "logrecord.h"
#include "tap.h"
#include "util.h"

#define TS "2026-11-27T09:35:51.905587Z"

static void check_parse(const char *line, int want_r, const char *stream, bool partial, const char *message)
{
        LogRecord rec = {};
        int r = log_record_parse(line, strlen(line), &rec);

        is_int(r, want_r, "parse \"%s\": %s", line, want_r ? "rejected" : "accepted");
        if (r < 0 || want_r < 0)
                return;
        _cleanup_free_ char *ts = xstrndup(rec.timestamp, rec.timestamp_len);
        _cleanup_free_ char *st = xstrndup(rec.stream, rec.stream_len);
        _cleanup_free_ char *msg = xstrndup(rec.message, rec.message_len);
        is_str(ts, TS, "  timestamp");
        is_str(st, stream, "  stream");
        is_int(rec.partial, partial, "  tag");
        is_str(msg, message, "  message");
}

/* Collects the joined lines, '|'-separated, so boundaries show. */
typedef struct Collected {
        char *text;
        size_t n;
} Collected;

static void collect(const char *message, size_t len, void *userdata)
{
        Collected *c = userdata;
        _cleanup_free_ char *m = xstrndup(message, len), *old = c->text;

        c->text = xasprintf("%s%s%s", old ? old : "", old ? "|" : "", m);
        c->n++;
}

/* Feeds the lines of text ('\n'-separated, the last one without its '\n'
 * too), flushes, and compares. */
static void check_join(const char *what, const char *text, const char *want, size_t want_n)
{
        Collected c = {};
        LogJoiner *j = log_joiner_new(collect, &c);

        for (const char *p = text; *p;) {
                const char *nl = strchr(p, '\n');
                size_t l = nl ? (size_t)(nl - p) : strlen(p);
                log_joiner_feed(j, p, l);
                p += l + (nl ? 1 : 0);
        }
        log_joiner_flush(j);
        log_joiner_free(j);
        is_str(c.text, want, "%s", what);
        is_int(c.n, want_n, "%s: count", what);
        free(c.text);
}

static void test_parse(void)
{
        check_parse(TS " stdout F hello world", 0, "stdout", false, "hello world");
        check_parse(TS " stderr P piece ", 0, "stderr", true, "piece ");
        check_parse(TS " stdout F ", 0, "stdout", false, "");
        check_parse(TS " stdout F", 0, "stdout", false, "");
        check_parse(TS " stdout F  two  spaces ", 0, "stdout", false, " two  spaces ");
        check_parse(TS " stdout F:x tagged", 0, "stdout", false, "tagged");
        check_parse(TS " stdout X nope", -EBADMSG, NULL, false, NULL);
        check_parse(TS " stdout FF nope", -EBADMSG, NULL, false, NULL);
        check_parse(TS " stdout", -EBADMSG, NULL, false, NULL);
        check_parse(TS "  F empty stream", -EBADMSG, NULL, false, NULL);
        check_parse("hello world F this is not a record", -EBADMSG, NULL, false, NULL);
        check_parse("", -EBADMSG, NULL, false, NULL);
        check_parse("2026-11-27 stdout F short timestamp", -EBADMSG, NULL, false, NULL);

        /* bytes after a NUL are part of the message */
        static const char nul[] = TS " stdout F a\0b";
        LogRecord rec;
        ok(log_record_parse(nul, sizeof(nul) - 1, &rec) == 0 && rec.message_len == 3 &&
                   memcmp(rec.message, "a\0b", 3) == 0,
           "a NUL inside a message is kept");
}

static void test_join(void)
{
        check_join("whole lines", TS " stdout F one\n" TS " stderr F two\n" TS " stdout F three", "one|two|three", 3);
        check_join("pieces joined", TS " stdout P ab\n" TS " stdout P cd\n" TS " stdout F ef", "abcdef", 1);
        check_join("streams interleaved",
                   TS " stdout P out1-\n" TS " stderr F err1\n" TS " stderr P err2-\n" TS " stdout F out2\n" TS
                      " stderr F end",
                   "err1|out1-out2|err2-end", 3);
        check_join("pieces without their end, flushed in order",
                   TS " stderr P first\n" TS " stdout P second", "first|second", 2);
        check_join("pieces without their end, the other order",
                   TS " stdout P first\n" TS " stderr P second", "first|second", 2);
        check_join("a stray line is passed on", "garbage\n" TS " stdout F ok", "garbage|ok", 2);
        check_join("empty lines", TS " stdout F\n" TS " stdout F ", "|", 2);
        check_join("an empty piece", TS " stdout P \n" TS " stdout F x", "x", 1);
}

/* Lengths of what a joiner passes on. */
typedef struct Sizes {
        size_t longest, total, count;
} Sizes;

static void measure(_unused_ const char *message, size_t len, void *userdata)
{
        Sizes *z = userdata;

        if (len > z->longest)
                z->longest = len;
        z->total += len;
        z->count++;
}

/* A line longer than LOG_JOIN_MAX comes out in pieces of at most that size. */
static void test_bounded(void)
{
        size_t piece = 16384, n = LOG_JOIN_MAX / piece + 2, head = strlen(TS " stdout P ");
        _cleanup_free_ char *line = xmalloc(head + piece + 1);
        Sizes z = {};
        LogJoiner *j = log_joiner_new(measure, &z);

        memset(stpcpy(line, TS " stdout P "), 'x', piece);
        line[head + piece] = '\0';
        for (size_t i = 0; i < n; i++)
                log_joiner_feed(j, line, head + piece);
        log_joiner_flush(j);
        log_joiner_free(j);
        ok(z.longest <= LOG_JOIN_MAX, "longest piece %zu <= %u", z.longest, LOG_JOIN_MAX);
        is_int(z.total, n * piece, "nothing lost");
        is_int(z.count, 2, "split once");
}

/* What ccsupd writes is what ccsupctl reads: a prefix, with each tag and
 * stream, then a message, parses back to its parts. */
static void test_written(void)
{
        struct timespec t = { .tv_sec = 1764236151, .tv_nsec = 905587123 }; /* 2025-11-27T09:35:51 */
        LogSecond second = {};
        char pre[LOG_PREFIX_MAX];

        for (int k = 0; k < 4; k++) {
                bool err = k & 1, partial = k & 2;
                size_t n = log_record_prefix(&second, pre, &t, err);
                if (partial)
                        pre[LOG_PREFIX_TAG(n)] = 'P';
                _cleanup_free_ char *line = xasprintf("%shello world", pre);
                LogRecord rec = {};
                int r = log_record_parse(line, strlen(line), &rec);
                is_int(r, 0, "written record parses: %s", line);
                if (r < 0)
                        continue;
                _cleanup_free_ char *ts = xstrndup(rec.timestamp, rec.timestamp_len);
                _cleanup_free_ char *st = xstrndup(rec.stream, rec.stream_len);
                _cleanup_free_ char *msg = xstrndup(rec.message, rec.message_len);
                is_str(ts, "2025-11-27T09:35:51.905587Z", "  its time, RFC 3339 UTC in microseconds");
                is_str(st, err ? "stderr" : "stdout", "  its stream");
                is_int(rec.partial, partial, "  its tag");
                is_str(msg, "hello world", "  its message");
        }
        /* the next second of a flood: the kept second is formatted anew */
        t.tv_sec++;
        t.tv_nsec = 5000;
        (void)log_record_prefix(&second, pre, &t, false);
        is_str(pre, "2025-11-27T09:35:52.000005Z stdout F ", "the next second is formatted anew");
        /* each writer keeps its own second: a fresh cache is not fooled by another's */
        LogSecond other = {};
        t.tv_sec = 0;
        t.tv_nsec = 0;
        (void)log_record_prefix(&other, pre, &t, true);
        is_str(pre, "1970-01-01T00:00:00.000000Z stderr F ", "another writer formats its own second");
        t.tv_sec = 1764236152;
        (void)log_record_prefix(&second, pre, &t, false);
        is_str(pre, "2025-11-27T09:35:52.000000Z stdout F ", "and the first writer's second is still its own");
}

int main(void)
{
        test_written();
        test_parse();
        test_join();
        test_bounded();
        return tap_done();
}
