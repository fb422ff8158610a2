/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "logrecord.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

size_t log_record_prefix(LogSecond *cache, char buf[LOG_PREFIX_MAX], const struct timespec *t, bool err)
{
        struct tm tm;

        if (!cache->text[0] || t->tv_sec != cache->sec) {
                cache->sec = t->tv_sec;
                gmtime_r(&t->tv_sec, &tm);
                strftime(cache->text, sizeof(cache->text), "%Y-%m-%dT%H:%M:%S", &tm);
        }
        return (size_t)snprintf(buf, LOG_PREFIX_MAX, "%s.%06ldZ %s F ", cache->text, t->tv_nsec / 1000,
                                err ? "stderr" : "stdout");
}

int log_record_parse(const char *line, size_t len, LogRecord *ret)
{
        const char *end = line + len, *s1, *s2, *s3, *tag;
        size_t tag_len;

        /* RFC 3339: "2026-11-27T09:35:51.905587Z"; enough to tell a record
         * from a stray line. */
        s1 = memchr(line, ' ', len);
        if (!s1 || s1 - line < 20 || !isdigit((unsigned char)line[0]) || line[4] != '-' || line[10] != 'T')
                return -EBADMSG;
        s2 = memchr(s1 + 1, ' ', (size_t)(end - s1 - 1));
        if (!s2 || s2 == s1 + 1)
                return -EBADMSG;
        /* An empty message may come without its separating space. */
        tag = s2 + 1;
        s3 = memchr(tag, ' ', (size_t)(end - tag));
        tag_len = (size_t)((s3 ? s3 : end) - tag);
        /* CRI tags are flags separated by ':'; the first says F or P. */
        if (tag_len == 0 || (tag[0] != 'F' && tag[0] != 'P') || (tag_len > 1 && tag[1] != ':'))
                return -EBADMSG;
        *ret = (LogRecord){
                .timestamp = line,
                .timestamp_len = (size_t)(s1 - line),
                .stream = s1 + 1,
                .stream_len = (size_t)(s2 - s1 - 1),
                .message = s3 ? s3 + 1 : end,
                .message_len = s3 ? (size_t)(end - s3 - 1) : 0,
                .partial = tag[0] == 'P',
        };
        return 0;
}

typedef struct Pending {
        char *buf;
        size_t len, cap;
        bool active;
        uint64_t seq; /* when its first piece came */
} Pending;

struct LogJoiner {
        LogLineFn fn;
        void *userdata;
        Pending pending[2]; /* stdout (and any unknown stream), stderr */
        uint64_t seq;
};

LogJoiner *log_joiner_new(LogLineFn fn, void *userdata)
{
        LogJoiner *j = xcalloc(1, sizeof(LogJoiner));

        j->fn = fn;
        j->userdata = userdata;
        return j;
}

void log_joiner_free(LogJoiner *j)
{
        if (!j)
                return;
        free(j->pending[0].buf);
        free(j->pending[1].buf);
        free(j);
}

/* Passes on what a stream has gathered, and starts over. */
static void pending_emit(LogJoiner *j, Pending *p)
{
        j->fn(p->buf ? p->buf : "", p->len, j->userdata);
        p->len = 0;
        p->active = false;
}

void log_joiner_feed(LogJoiner *j, const char *line, size_t len)
{
        LogRecord rec;
        Pending *p;

        if (log_record_parse(line, len, &rec) < 0) {
                j->fn(line, len, j->userdata);
                return;
        }
        p = &j->pending[rec.stream_len == 6 && memcmp(rec.stream, "stderr", 6) == 0];
        if (!p->active && !rec.partial) {
                j->fn(rec.message, rec.message_len, j->userdata);
                return;
        }
        if (p->active && p->len + rec.message_len > LOG_JOIN_MAX)
                pending_emit(j, p);
        if (!p->active) {
                p->active = true;
                p->seq = j->seq++;
        }
        if (p->len + rec.message_len + 1 > p->cap) {
                p->cap = 2 * p->cap > p->len + rec.message_len + 1 ? 2 * p->cap : p->len + rec.message_len + 1;
                p->buf = xrealloc(p->buf, p->cap);
        }
        memcpy(p->buf + p->len, rec.message, rec.message_len);
        p->len += rec.message_len;
        if (!rec.partial)
                pending_emit(j, p);
}

void log_joiner_flush(LogJoiner *j)
{
        Pending *a = &j->pending[0], *b = &j->pending[1];

        if (a->active && b->active && b->seq < a->seq) {
                Pending *t = a;
                a = b;
                b = t;
        }
        if (a->active)
                pending_emit(j, a);
        if (b->active)
                pending_emit(j, b);
}
