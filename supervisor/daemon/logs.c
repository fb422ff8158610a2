/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "logs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "log.h"
#include "logrecord.h"
#include "util.h"

/* What one wake-up of a stream reads at most: one pipe's worth, so that a
 * flooding container shares the loop with everything else. */
#define READ_MAX (64U * 1024U)
/* Records are formatted here and written with one write(2) per wake-up. */
#define OUT_MAX (128U * 1024U)
/* Reads per stream when its unit goes away (what it still holds). */
#define DRAIN_MAX 64

typedef struct LogStream LogStream;

struct LogStream {
        UnitLog *log;
        ev_io io;
        int fd;
        bool err;           /* stderr, else stdout */
        bool current;       /* of the current run */
        char *partial;      /* the unfinished line so far (< LOG_LINE_MAX bytes) */
        size_t n_partial;
        LogStream *next;
};

struct UnitLog {
        struct ev_loop *loop;
        char *name;
        char *path;         /* LOG_DIR/NAME.log */
        int fd;             /* the file, open while streams exist */
        uint64_t size;      /* of the file, as written */
        uint64_t max_size;
        uint32_t max_files;
        LogTarget last;
        LogStream *streams;
        uint64_t lost;      /* records that could not be written */
        uint64_t lost_at_failure;
        bool failing;       /* the last write failed (reported once) */
        bool relay;         /* journal through ccsupd: the streams' lines go to jfd[] */
        int jfd[2];         /* journald streams (stdout, stderr) while relaying */
        bool out_err;       /* the stream whose records the output buffer holds */
};

static bool relay_journal;

/* One output buffer for everyone: the loop runs one callback at a time, and
 * each callback leaves it empty. */
static char out[OUT_MAX];
static size_t n_out, n_out_records;
static char in[READ_MAX];

UnitLog *unit_log_new(struct ev_loop *loop, const char *name, const char *log_dir)
{
        UnitLog *l = xcalloc(1, sizeof(*l));

        l->loop = loop;
        l->name = xstrdup(name);
        l->path = xasprintf("%s/%s.log", log_dir, name);
        l->fd = -1;
        l->jfd[0] = l->jfd[1] = -1;
        l->max_size = 1024 * 1024;
        l->max_files = 3;
        l->last = LOG_TARGET_AUTO;
        return l;
}

void unit_log_relay_journal(bool on)
{
        relay_journal = on;
}

LogTarget unit_log_last_target(const UnitLog *l)
{
        return l->last;
}

uint64_t unit_log_lost(const UnitLog *l)
{
        return l->lost;
}

/* ------------------------------------------------------------------ the file */

static void log_file_open(UnitLog *l, bool truncate)
{
        struct stat st;

        l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW |
                     (truncate ? O_TRUNC : 0), 0640);
        if (l->fd < 0) {
                if (!l->failing)
                        log_unit(LOG_WARNING, l->name, "log file `%s`: %s; output is lost until it opens",
                                 l->path, strerror(errno));
                l->failing = true;
                l->lost_at_failure = l->lost;
                return;
        }
        l->size = fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* NAME.log.(k-1) → NAME.log.k ... NAME.log → NAME.log.1, a new NAME.log;
 * with MaxFiles=0 the file starts over. */
static void log_file_rotate(UnitLog *l)
{
        l->fd = safe_close(l->fd);
        for (uint32_t k = l->max_files; k >= 1; k--) {
                _cleanup_free_ char *from = k > 1 ? xasprintf("%s.%u", l->path, k - 1) : xstrdup(l->path);
                _cleanup_free_ char *to = xasprintf("%s.%u", l->path, k);
                if (rename(from, to) < 0 && errno != ENOENT)
                        log_unit(LOG_WARNING, l->name, "log rotation: rename `%s`: %s", from, strerror(errno));
        }
        log_file_open(l, l->max_files == 0);
}

/* Writes the output buffer. A failed or short write is undone (no half
 * record stays in the file) and its records counted as lost. */
static void relay_flush(UnitLog *l)
{
        int fd = l->jfd[l->out_err];
        size_t done = 0;

        while (fd >= 0 && done < n_out) {
                ssize_t k = write(fd, out + done, n_out - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                done += (size_t)k;
        }
        if (done < n_out) {
                /* journald too slow (EAGAIN) or gone: the rest is lost, and
                 * counted; the loop never waits for journald. */
                if (!l->failing)
                        log_unit(LOG_WARNING, l->name, "journal stream: %s; output is lost until it "
                                 "accepts again", fd < 0 ? "not open" : strerror(errno));
                if (!l->failing)
                        l->lost_at_failure = l->lost;
                l->failing = true;
                l->lost += n_out_records;
        } else if (l->failing) {
                log_unit(LOG_NOTICE, l->name, "journal stream written again; %" PRIu64 " lines lost",
                         l->lost - l->lost_at_failure);
                l->failing = false;
        }
        n_out = n_out_records = 0;
}

static void log_flush(UnitLog *l)
{
        size_t done = 0;

        if (n_out == 0)
                return;
        if (l->relay) {
                relay_flush(l);
                return;
        }
        if (l->fd < 0)
                log_file_open(l, false);
        while (l->fd >= 0 && done < n_out) {
                ssize_t k = write(l->fd, out + done, n_out - done);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        int e = k < 0 ? errno : ENOSPC;
                        if (done > 0)
                                (void)ftruncate(l->fd, (off_t)l->size);
                        if (!l->failing)
                                log_unit(LOG_WARNING, l->name,
                                         "log file `%s`: %s; output is lost until writing works again",
                                         l->path, strerror(e));
                        if (!l->failing)
                                l->lost_at_failure = l->lost;
                        l->failing = true;
                        break;
                }
                done += (size_t)k;
        }
        if (done == n_out) {
                l->size += n_out;
                if (l->failing)
                        log_unit(LOG_NOTICE, l->name, "log file `%s` written again; %" PRIu64 " lines lost",
                                 l->path, l->lost - l->lost_at_failure);
                l->failing = false;
        } else
                l->lost += n_out_records;
        n_out = n_out_records = 0;
}

/* The start of a record, "TIME STREAM T ", made once per read: a flood
 * formats no number per line. */
typedef struct Prefix {
        char text[LOG_PREFIX_MAX];
        size_t len;
} Prefix;

/* The second the last prefix was made in, formatted. */
static LogSecond prefix_second;

static void prefix_make(Prefix *p, const LogStream *s)
{
        struct timespec now;

        clock_gettime(CLOCK_REALTIME, &now);
        p->len = log_record_prefix(&prefix_second, p->text, &now, s->err);
}

/* The message a then b and a newline, after what the output buffer holds. */
static void out_append_message(const char *a, size_t na, const char *b, size_t nb)
{
        /* a is NULL when no partial line waits: memcpy(NULL, 0) is undefined. */
        if (na > 0)
                memcpy(out + n_out, a, na);
        if (nb > 0)
                memcpy(out + n_out + na, b, nb);
        n_out += na + nb;
        out[n_out++] = '\n';
        n_out_records++;
}

/* Appends one record: the message is a then b (the saved partial line and
 * the new bytes). */
static void log_record(LogStream *s, const Prefix *pre, char tag, const char *a, size_t na, const char *b,
                       size_t nb)
{
        UnitLog *l = s->log;
        size_t len = pre->len + na + nb + 1;

        if (l->relay) {
                /* The bare line: journald adds time and priority. */
                if (n_out > 0 && (l->out_err != s->err || n_out + na + nb + 1 > OUT_MAX))
                        log_flush(l);
                l->out_err = s->err;
                out_append_message(a, na, b, nb);
                return;
        }
        if (l->size + n_out > 0 && l->size + n_out + len > l->max_size) {
                log_flush(l);
                if (l->size > 0 || l->fd < 0)
                        log_file_rotate(l);
        }
        if (n_out + len > OUT_MAX)
                log_flush(l);
        memcpy(out + n_out, pre->text, pre->len);
        out[n_out + LOG_PREFIX_TAG(pre->len)] = tag;
        n_out += pre->len;
        out_append_message(a, na, b, nb);
}

/* Splits data into records: whole lines (F), pieces of lines longer than
 * LOG_LINE_MAX (P); the rest waits in s->partial for more. */
static void stream_consume(LogStream *s, const Prefix *ts, const char *data, size_t n)
{
        while (n > 0) {
                const char *nl = memchr(data, '\n', n);
                size_t seg = nl ? (size_t)(nl - data) : n;

                if (s->n_partial + seg >= LOG_LINE_MAX) {
                        size_t take = LOG_LINE_MAX - s->n_partial;
                        log_record(s, ts, 'P', s->partial, s->n_partial, data, take);
                        s->n_partial = 0;
                        data += take;
                        n -= take;
                        continue;
                }
                if (nl) {
                        log_record(s, ts, 'F', s->partial, s->n_partial, data, seg);
                        s->n_partial = 0;
                        data += seg + 1;
                        n -= seg + 1;
                        continue;
                }
                if (!s->partial)
                        s->partial = xmalloc(LOG_LINE_MAX);
                memcpy(s->partial + s->n_partial, data, seg);
                s->n_partial += seg;
                break;
        }
        if (s->n_partial == 0 && s->partial) {
                free(s->partial);
                s->partial = NULL;
        }
}

/* ------------------------------------------------------------------ streams */

static void stream_free(LogStream *s)
{
        UnitLog *l = s->log;

        if (s->n_partial > 0) {
                Prefix pre;
                prefix_make(&pre, s);
                log_record(s, &pre, 'F', s->partial, s->n_partial, "", 0);
        }
        ev_io_stop(l->loop, &s->io);
        safe_close(s->fd);
        free(s->partial);
        for (LogStream **p = &l->streams; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        free(s);
}

/* Reads once: 1 when data came, 0 when none is there, -1 at end of file
 * (s is freed then). */
static int stream_read(LogStream *s)
{
        ssize_t n = read(s->fd, in, sizeof(in));
        Prefix pre;

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n <= 0) {
                stream_free(s);
                return -1;
        }
        prefix_make(&pre, s);
        stream_consume(s, &pre, in, (size_t)n);
        return 1;
}

static void on_stream(struct ev_loop *loop, ev_io *w, int revents)
{
        LogStream *s = w->data;
        UnitLog *l = s->log;

        (void)stream_read(s);
        log_flush(l);
        /* The file stays open only while something may write to it. */
        if (!l->streams) {
                l->fd = safe_close(l->fd);
                l->jfd[0] = safe_close(l->jfd[0]);
                l->jfd[1] = safe_close(l->jfd[1]);
        }
}

static void stream_add(UnitLog *l, int fd, bool err)
{
        LogStream *s = xcalloc(1, sizeof(*s));

        s->log = l;
        s->fd = fd;
        s->err = err;
        s->current = true;
        ev_io_init(&s->io, on_stream, fd, EV_READ);
        s->io.data = s;
        /* Exits, timers and requests first in every loop iteration. */
        ev_set_priority(&s->io, EV_MINPRI);
        ev_io_start(l->loop, &s->io);
        s->next = l->streams;
        l->streams = s;
}

static void streams_not_current(UnitLog *l)
{
        for (LogStream *s = l->streams; s; s = s->next)
                s->current = false;
}

void unit_log_hand_over(UnitLog *l)
{
        Prefix pre;

        for (LogStream *s = l->streams; s; s = s->next) {
                if (s->n_partial == 0)
                        continue;
                prefix_make(&pre, s);
                log_record(s, &pre, 'P', s->partial, s->n_partial, "", 0);
                s->n_partial = 0;
                free(s->partial);
                s->partial = NULL;
        }
        log_flush(l);
}

void unit_log_fds(const UnitLog *l, int ret[2])
{
        ret[0] = ret[1] = -1;
        for (LogStream *s = l->streams; s; s = s->next)
                if (s->current)
                        ret[s->err] = s->fd;
}

static int open_journal(UnitLog *l, int out_fds[2]);

/* Relaying: the journald streams the pipes' lines go to, opened once. */
static int relay_open(UnitLog *l)
{
        int j[2];
        int r;

        l->relay = true;
        if (l->jfd[0] >= 0 && l->jfd[1] >= 0)
                return 0;
        r = open_journal(l, j);
        if (r < 0)
                return r;
        safe_close(l->jfd[0]);
        safe_close(l->jfd[1]);
        for (int i = 0; i < 2; i++) {
                (void)fcntl(j[i], F_SETFL, fcntl(j[i], F_GETFL) | O_NONBLOCK);
                l->jfd[i] = j[i];
        }
        return 0;
}

void unit_log_adopt(UnitLog *l, LogTarget t, int fds[2])
{
        streams_not_current(l);
        l->last = t;
        l->relay = false;
        if (t == LOG_TARGET_JOURNAL && (fds[0] >= 0 || fds[1] >= 0)) {
                /* Pipes of a relayed journal output. */
                int r = relay_open(l);
                if (r < 0)
                        log_unit(LOG_WARNING, l->name, "journal stream: %s; output is lost", strerror(-r));
        }
        for (int i = 0; i < 2; i++) {
                if (fds[i] < 0)
                        continue;
                (void)fcntl(fds[i], F_SETFD, FD_CLOEXEC);
                (void)fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
                stream_add(l, fds[i], i == 1);
        }
}

/* ------------------------------------------------------------------ a run's output */

static int open_journal(UnitLog *l, int out_fds[2])
{
        int a, b;

        a = sd_journal_stream_fd(l->name, LOG_INFO, false);
        if (a < 0)
                return a;
        b = sd_journal_stream_fd(l->name, LOG_ERR, false);
        if (b < 0) {
                safe_close(a);
                return b;
        }
        (void)fcntl(a, F_SETFD, FD_CLOEXEC);
        (void)fcntl(b, F_SETFD, FD_CLOEXEC);
        out_fds[0] = a;
        out_fds[1] = b;
        return 0;
}

int unit_log_open(UnitLog *l, const UnitConfig *c, int devnull, int out_fds[2], char **ret_error)
{
        int p[2][2];
        int r;

        l->max_size = c->log_max_file_size;
        l->max_files = c->log_max_files;
        out_fds[0] = out_fds[1] = -1;
        l->relay = false;

        switch (c->log_target) {
        case LOG_TARGET_NONE:
                out_fds[0] = fcntl(devnull, F_DUPFD_CLOEXEC, 3);
                out_fds[1] = fcntl(devnull, F_DUPFD_CLOEXEC, 3);
                if (out_fds[0] < 0 || out_fds[1] < 0) {
                        r = -errno;
                        out_fds[0] = safe_close(out_fds[0]);
                        *ret_error = xasprintf("output: %s", strerror(-r));
                        return r;
                }
                l->last = LOG_TARGET_NONE;
                return 0;
        case LOG_TARGET_JOURNAL:
        case LOG_TARGET_AUTO:
                if (relay_journal) {
                        r = relay_open(l);
                        if (r == 0)
                                break; /* pipes, as for a file */
                        l->relay = false;
                } else
                        r = open_journal(l, out_fds);
                if (r == 0) {
                        l->last = LOG_TARGET_JOURNAL;
                        return 0;
                }
                if (c->log_target == LOG_TARGET_JOURNAL) {
                        *ret_error = xasprintf("[Log] Target=journal: no journald stream: %s", strerror(-r));
                        return r;
                }
                break;
        default:
                break;
        }

        if (pipe2(p[0], O_CLOEXEC) < 0) {
                r = -errno;
                *ret_error = xasprintf("output pipe: %s", strerror(-r));
                return r;
        }
        if (pipe2(p[1], O_CLOEXEC) < 0) {
                r = -errno;
                safe_close(p[0][0]);
                safe_close(p[0][1]);
                *ret_error = xasprintf("output pipe: %s", strerror(-r));
                return r;
        }
        streams_not_current(l);
        for (int i = 0; i < 2; i++) {
                (void)fcntl(p[i][0], F_SETFL, O_NONBLOCK);
                stream_add(l, p[i][0], i == 1);
                out_fds[i] = p[i][1];
        }
        l->last = l->relay ? LOG_TARGET_JOURNAL : LOG_TARGET_FILE;
        return 0;
}

UnitLog *unit_log_free(UnitLog *l)
{
        if (!l)
                return NULL;
        while (l->streams) {
                LogStream *s = l->streams;
                int r = 1;
                for (int i = 0; i < DRAIN_MAX && r > 0; i++) {
                        r = stream_read(s);
                        log_flush(l);
                }
                if (r >= 0)
                        stream_free(s);
                log_flush(l);
        }
        safe_close(l->fd);
        safe_close(l->jfd[0]);
        safe_close(l->jfd[1]);
        free(l->name);
        free(l->path);
        free(l);
        return NULL;
}
