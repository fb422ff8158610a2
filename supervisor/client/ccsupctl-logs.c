/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ccsupctl logs: the container's output, from the journal (entries with
 * SYSLOG_IDENTIFIER=NAME that came in over a stream fd) or from the files
 * LOG_DIR/NAME.log, NAME.log.1 … that ccsupd writes and rotates by renaming.
 * Following a file survives rotation: the directory is watched with inotify,
 * the old file is read to its end, then the new one from its start.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "ccsupctl-logs.h"
#include "logrecord.h"
#include "parse.h"
#include "util.h"

enum { LOGS_OK = 0, LOGS_FAILED = 1, LOGS_USAGE = 2 };

/* ------------------------------------------------------------------ output */

typedef struct Message {
        char *text;
        size_t len;
} Message;

/*
 * Where messages go: straight to stdout, or (for -n) into a ring that keeps
 * the last `limit` of them until sink_drain(). stdout_gone is set once a
 * write to stdout failed (a closed pipe): the caller stops then.
 */
typedef struct Sink {
        bool direct;
        uint64_t limit;
        Message *ring;
        size_t cap, n, head; /* head: the oldest, once the ring is full */
        bool stdout_gone;
        int write_error; /* errno of the failed write */
} Sink;

static void write_message(Sink *s, const char *text, size_t len)
{
        if (s->stdout_gone)
                return;
        if (fwrite(text, 1, len, stdout) != len || putchar('\n') == EOF) {
                s->stdout_gone = true;
                s->write_error = errno;
        }
}

static void sink_add(const char *text, size_t len, void *userdata)
{
        Sink *s = userdata;
        Message *m;

        if (s->direct) {
                write_message(s, text, len);
                return;
        }
        if (s->limit == 0)
                return;
        if (s->n < s->limit) {
                if (s->n == s->cap) {
                        /* grows up to limit, so the ring is full exactly when n == cap */
                        s->cap = s->cap < 16 ? 16 : 2 * s->cap;
                        if (s->cap > s->limit)
                                s->cap = (size_t)s->limit;
                        s->ring = xrealloc(s->ring, s->cap * sizeof(Message));
                }
                m = &s->ring[s->n++];
        } else {
                m = &s->ring[s->head];
                s->head = (s->head + 1) % s->n;
                free(m->text);
        }
        m->text = xmalloc(len + 1);
        memcpy(m->text, text, len);
        m->len = len;
}

/* Writes what the ring holds, oldest first; from then on messages go
 * straight to stdout. */
static void sink_drain(Sink *s)
{
        for (size_t i = 0; i < s->n; i++) {
                Message *m = &s->ring[(s->head + i) % s->n];
                write_message(s, m->text, m->len);
                free(m->text);
        }
        free(s->ring);
        s->ring = NULL;
        s->n = s->cap = s->head = 0;
        s->direct = true;
}

static void sink_done(Sink *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->ring[i].text);
        free(s->ring);
        s->ring = NULL;
        s->n = s->cap = s->head = 0;
}

/* Flushes stdout; false once its reader is gone (EPIPE) or it failed. */
static bool flush_stdout(Sink *s)
{
        if (!s->stdout_gone && fflush(stdout) == EOF) {
                s->stdout_gone = true;
                s->write_error = errno;
        }
        return !s->stdout_gone;
}

/* ------------------------------------------------------------------ files */

/* An open log file, read line by line; buf holds the bytes after the last
 * '\n' read (a record still being written). */
typedef struct LogFile {
        int fd;
        dev_t dev;
        ino_t ino;
        off_t offset;
        char *buf;
        size_t len, cap;
} LogFile;

#define LOG_FILE_INIT ((LogFile){ .fd = -1 })
#define READ_CHUNK 65536

static int logfile_open(LogFile *f, const char *path)
{
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                safe_close(fd);
                return r;
        }
        f->fd = fd;
        f->dev = st.st_dev;
        f->ino = st.st_ino;
        f->offset = 0;
        f->len = 0;
        return 0;
}

static void logfile_close(LogFile *f)
{
        f->fd = safe_close(f->fd);
        free(f->buf);
        *f = LOG_FILE_INIT;
}

/* Feeds the whole lines of the new bytes buf[old..len) and keeps the rest. */
static void logfile_split(LogFile *f, size_t old, LogJoiner *j)
{
        size_t start = 0;
        char *nl;

        while ((nl = memchr(f->buf + old, '\n', f->len - old))) {
                log_joiner_feed(j, f->buf + start, (size_t)(nl - f->buf) - start);
                start = old = (size_t)(nl - f->buf) + 1;
        }
        /* ccsupd writes whole records: a line this long without its end is
         * not one of them; pass it on rather than grow without bound */
        if (f->len - start > LOG_JOIN_MAX) {
                log_joiner_feed(j, f->buf + start, f->len - start);
                start = f->len;
        }
        memmove(f->buf, f->buf + start, f->len - start);
        f->len -= start;
}

/* Reads to the current end of the file, feeding each whole line. A file
 * that shrank was truncated in place: it is read again from its start. */
static int logfile_read(LogFile *f, LogJoiner *j)
{
        struct stat st;
        ssize_t n;

        if (fstat(f->fd, &st) < 0)
                return -errno;
        if (st.st_size < f->offset) {
                if (lseek(f->fd, 0, SEEK_SET) < 0)
                        return -errno;
                f->offset = 0;
                f->len = 0;
        }
        for (;;) {
                if (f->cap - f->len < READ_CHUNK) {
                        f->cap = f->len + 2 * READ_CHUNK;
                        f->buf = xrealloc(f->buf, f->cap);
                }
                n = read(f->fd, f->buf + f->len, READ_CHUNK);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                f->offset += n;
                f->len += (size_t)n;
                logfile_split(f, f->len - (size_t)n, j);
        }
}

/* At the end of a file that is complete: its last record lacks only '\n'. */
static void logfile_finish(LogFile *f, LogJoiner *j)
{
        if (f->len > 0)
                log_joiner_feed(j, f->buf, f->len);
        f->len = 0;
}

static int uint_cmp_desc(const void *a, const void *b)
{
        unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
        return x < y ? 1 : x > y ? -1 : 0;
}

/* The rotated files of path (path.K … path.1, the oldest first) and path
 * itself, whether it exists or not. Gaps are allowed: ccsupd renames one
 * file at a time. */
static char **log_files(const char *path)
{
        _cleanup_free_ char *dir = xstrdup(path);
        _cleanup_free_ unsigned *nums = NULL;
        size_t n = 0, cap = 0, base_len;
        char **l = NULL, *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : path;
        struct dirent *de;
        DIR *d;

        if (slash)
                *slash = '\0';
        base_len = strlen(base);
        d = opendir(slash ? (*dir ? dir : "/") : ".");
        while (d && (de = readdir(d))) {
                const char *p = de->d_name, *num;
                unsigned long k;
                char *e;

                if (strncmp(p, base, base_len) != 0 || p[base_len] != '.')
                        continue;
                num = p + base_len + 1;
                if (!isdigit((unsigned char)num[0]) || num[0] == '0')
                        continue;
                errno = 0;
                k = strtoul(num, &e, 10);
                if (*e || errno || k > UINT32_MAX)
                        continue;
                if (n == cap) {
                        cap = cap ? 2 * cap : 8;
                        nums = xrealloc(nums, cap * sizeof(unsigned));
                }
                nums[n++] = (unsigned)k;
        }
        if (d)
                closedir(d);
        if (n > 0)
                qsort(nums, n, sizeof(unsigned), uint_cmp_desc);
        for (size_t i = 0; i < n; i++)
                strv_addf(&l, "%s.%u", path, nums[i]);
        strv_add(&l, path);
        return l;
}

static void count_message(_unused_ const char *text, _unused_ size_t len, void *userdata)
{
        (*(uint64_t *)userdata)++;
}

/* Reads a whole file into j; a file that does not exist is empty. */
static int read_file_into(const char *path, LogJoiner *j)
{
        LogFile f = LOG_FILE_INIT;
        int r = logfile_open(&f, path);

        if (r == -ENOENT)
                return 0;
        if (r >= 0)
                r = logfile_read(&f, j);
        if (r >= 0)
                logfile_finish(&f, j);
        logfile_close(&f);
        return r;
}

/* The index of the first file needed for the last `lines` messages: enough
 * files from the newest back, and one more, which may hold the first pieces
 * of the oldest of those lines. */
static size_t first_file_needed(char **files, size_t n_files, uint64_t lines)
{
        uint64_t count = 0;
        size_t i = n_files - 1;

        if (lines == LOGS_ALL)
                return 0;
        if (lines == 0)
                return i;
        for (;;) {
                LogJoiner *j = log_joiner_new(count_message, &count);
                (void)read_file_into(files[i], j);
                log_joiner_flush(j);
                log_joiner_free(j);
                if (count >= lines || i == 0)
                        break;
                i--;
        }
        return i > 0 ? i - 1 : 0;
}

/* Feeds the messages of the unit's files into j, oldest first. The current
 * file (the last one) is left open in *cur, read to its end, when cur is
 * given (to follow it), else read completely. On failure, *ret_failed is the
 * file that could not be read. */
static int read_files(const char *path, uint64_t lines, LogJoiner *j, LogFile *cur, char **ret_failed)
{
        _cleanup_strv_free_ char **files = log_files(path);
        size_t n = strv_length(files);
        int r = 0;

        for (size_t i = first_file_needed(files, n, lines); i + 1 < n && r >= 0; i++)
                if ((r = read_file_into(files[i], j)) < 0)
                        *ret_failed = xstrdup(files[i]);
        if (r >= 0 && !cur)
                r = read_file_into(path, j);
        else if (r >= 0) {
                r = logfile_open(cur, path);
                if (r == -ENOENT)
                        return 0; /* not written yet */
                if (r >= 0)
                        r = logfile_read(cur, j);
        }
        if (r < 0 && !*ret_failed)
                *ret_failed = xstrdup(path);
        return r;
}

/* SIGINT and SIGTERM, as events: the follow loops end cleanly on them. */
static int signals_fd(void)
{
        sigset_t ss;
        int fd;

        sigemptyset(&ss);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
                return -errno;
        fd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
        return fd < 0 ? -errno : fd;
}

/* Waits for fd (none if negative) or the timeout (ms, -1 none). Returns 1 to
 * go on, 0 when it is time to stop: SIGINT or SIGTERM came, or stdout is a
 * pipe or terminal that nobody reads any more. */
static int wait_for(int fd, short events, int timeout_ms, int sfd)
{
        struct pollfd p[3] = {
                { .fd = sfd, .events = POLLIN },
                /* no events asked: only POLLERR/POLLHUP, the reader is gone */
                { .fd = fcntl(STDOUT_FILENO, F_GETFD) >= 0 ? STDOUT_FILENO : -1 },
                { .fd = fd, .events = events },
        };

        if (poll(p, 3, timeout_ms) < 0)
                return errno == EINTR ? 1 : -errno;
        if (p[0].revents || (p[1].revents & (POLLERR | POLLHUP)))
                return 0;
        return 1;
}

/* Reads what came since the last time: the rest of the open file, then,
 * when path names another file now (rotated, or created at last), that one
 * from its start. */
static int refresh(const char *path, LogFile *cur, LogJoiner *j)
{
        struct stat st;
        int r;

        if (cur->fd >= 0 && (r = logfile_read(cur, j)) < 0)
                return r;
        if (stat(path, &st) < 0)
                return errno == ENOENT ? 0 : -errno; /* between rename and create */
        if (cur->fd >= 0 && st.st_dev == cur->dev && st.st_ino == cur->ino)
                return 0;
        if (cur->fd >= 0) {
                /* ccsupd creates the new file only after its last write to the
                 * old one: read the old one again, now it is complete. */
                if ((r = logfile_read(cur, j)) < 0)
                        return r;
                logfile_finish(cur, j);
                logfile_close(cur);
        }
        r = logfile_open(cur, path);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? r : logfile_read(cur, j);
}

/* Reads the pending inotify events: true if one may concern the file (or
 * events were lost). *wd becomes -1 when the directory went away. */
static bool directory_events(int ifd, const char *base, int *wd)
{
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool relevant = false;
        ssize_t n;

        while ((n = read(ifd, buf, sizeof(buf))) > 0)
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *ev = (const struct inotify_event *)p;
                        if (ev->mask & IN_IGNORED)
                                *wd = -1;
                        if ((ev->mask & (IN_Q_OVERFLOW | IN_IGNORED)) || (ev->len && streq(ev->name, base)))
                                relevant = true;
                        p += sizeof(struct inotify_event) + ev->len;
                }
        return relevant;
}

/* `logs -f` on files: runs until wait_for() says stop. The directory is
 * watched rather than the file, so that a rotation (rename, then a new file)
 * is seen. While the directory does not exist, it is looked for each second. */
static int follow_file(const char *path, LogFile *cur, LogJoiner *j, Sink *s)
{
        _cleanup_free_ char *dir = xstrdup(path);
        _cleanup_close_ int ifd = -1, sfd = -1;
        char *slash = strrchr(dir, '/');
        const char *base = slash ? slash + 1 : path;
        uint32_t mask = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR;
        int wd = -1, r;

        if (slash)
                *slash = '\0';
        if ((sfd = signals_fd()) < 0 || (ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0) {
                r = -errno;
                fprintf(stderr, "ccsupctl: cannot follow %s: %s\n", path, strerror(-r));
                return r;
        }
        for (bool check = true;;) {
                if (wd < 0) {
                        wd = inotify_add_watch(ifd, slash ? (*dir ? dir : "/") : ".", mask);
                        if (wd < 0 && errno != ENOENT) {
                                r = -errno;
                                fprintf(stderr, "ccsupctl: cannot watch the directory of %s: %s\n", path,
                                        strerror(-r));
                                return r;
                        }
                        check = true; /* what happened before the watch */
                }
                if (check && (r = refresh(path, cur, j)) < 0) {
                        fprintf(stderr, "ccsupctl: %s: %s\n", path, strerror(-r));
                        return r;
                }
                if (!flush_stdout(s))
                        return 0;
                r = wait_for(ifd, POLLIN, wd < 0 ? 1000 : -1, sfd);
                if (r <= 0)
                        return r;
                check = wd < 0 || directory_events(ifd, base, &wd);
        }
}

static int files_show(const char *path, uint64_t lines, bool follow, Sink *s)
{
        _cleanup_(log_joiner_freep) LogJoiner *j = log_joiner_new(sink_add, s);
        _cleanup_free_ char *failed = NULL;
        LogFile cur = LOG_FILE_INIT;
        int r;

        r = read_files(path, lines, j, follow ? &cur : NULL, &failed);
        if (r < 0)
                fprintf(stderr, "ccsupctl: %s: %s\n", failed, strerror(-r));
        if (r >= 0 && !follow)
                log_joiner_flush(j);
        if (r >= 0)
                sink_drain(s);
        if (r >= 0 && follow)
                r = follow_file(path, &cur, j, s);
        logfile_close(&cur);
        return r;
}

/* ------------------------------------------------------------------ journal */

static int journal_open_unit(const char *unit, sd_journal **ret)
{
        _cleanup_free_ char *match = xasprintf("SYSLOG_IDENTIFIER=%s", unit);
        sd_journal *j = NULL;
        int r;

        /* Only what came in over a stream fd: the container's stdout and
         * stderr, not messages sent by a process that calls itself NAME. */
        if ((r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY)) < 0 ||
            (r = sd_journal_add_match(j, match, 0)) < 0 ||
            (r = sd_journal_add_match(j, "_TRANSPORT=stdout", 0)) < 0 ||
            (r = sd_journal_set_data_threshold(j, 0)) < 0) {
                sd_journal_close(j);
                return r;
        }
        *ret = j;
        return 0;
}

static void journal_entry(sd_journal *j, Sink *s)
{
        const void *data;
        size_t len;

        if (sd_journal_get_data(j, "MESSAGE", &data, &len) >= 0 && len >= strlen("MESSAGE="))
                sink_add((const char *)data + strlen("MESSAGE="), len - strlen("MESSAGE="), s);
}

/* Places the journal so that the next sd_journal_next() returns the first
 * entry not yet shown, after showing the last `lines` entries. */
static int journal_seek(sd_journal *j, uint64_t lines, Sink *s)
{
        int r;

        if (lines == LOGS_ALL || lines > INT_MAX)
                return sd_journal_seek_head(j);
        if ((r = sd_journal_seek_tail(j)) < 0)
                return r;
        r = lines == 0 ? sd_journal_previous(j) : sd_journal_previous_skip(j, lines);
        if (r < 0)
                return r;
        if (r == 0)
                return sd_journal_seek_head(j); /* nothing yet: show whatever comes */
        if (lines > 0)
                journal_entry(j, s);
        return 0;
}

static int journal_next_all(sd_journal *j, Sink *s)
{
        int r = 0;

        while (!s->stdout_gone && (r = sd_journal_next(j)) > 0)
                journal_entry(j, s);
        return s->stdout_gone ? 0 : r;
}

static int journal_follow(sd_journal *j, Sink *s)
{
        _cleanup_close_ int sfd = signals_fd();
        uint64_t t;
        int r, fd, events;

        if (sfd < 0)
                return sfd;
        for (;;) {
                if ((r = journal_next_all(j, s)) < 0)
                        return r;
                if (!flush_stdout(s))
                        return 0;
                if ((fd = sd_journal_get_fd(j)) < 0)
                        return fd;
                if ((r = sd_journal_get_timeout(j, &t)) < 0)
                        return r;
                if (t != UINT64_MAX) {
                        uint64_t now = now_usec_monotonic();
                        t = t > now ? (t - now + 999) / 1000 : 0;
                }
                if ((events = sd_journal_get_events(j)) < 0)
                        return events;
                r = wait_for(fd, (short)events, t == UINT64_MAX ? -1 : t > INT_MAX ? INT_MAX : (int)t, sfd);
                if (r <= 0)
                        return r;
                if ((r = sd_journal_process(j)) < 0)
                        return r;
        }
}

static int journal_show(const char *unit, uint64_t lines, bool follow, Sink *s)
{
        _cleanup_(sd_journal_closep) sd_journal *j = NULL;
        int r;

        r = journal_open_unit(unit, &j);
        /* The fd first: changes after it are seen by sd_journal_process(). */
        if (r >= 0 && follow)
                r = sd_journal_get_fd(j);
        if (r >= 0)
                r = journal_seek(j, lines, s);
        if (r >= 0)
                r = journal_next_all(j, s);
        if (r >= 0)
                sink_drain(s);
        if (r >= 0 && follow)
                r = journal_follow(j, s);
        if (r < 0)
                fprintf(stderr, "ccsupctl: %s: cannot read the journal: %s\n", unit, strerror(-r));
        return r;
}

/* ------------------------------------------------------------------ commands */

static int parse_lines(const char *v, uint64_t *ret)
{
        if (streq(v, "all")) {
                *ret = LOGS_ALL;
                return 0;
        }
        if (parse_uint64(v, ret) < 0) {
                fprintf(stderr, "ccsupctl: logs: invalid number of lines `%s`\n", v);
                return -EINVAL;
        }
        return 0;
}

/* -f, -n N, -nN and clusters such as -fn5. */
static int parse_short_options(const char *arg, int argc, char **argv, int *i, LogsArgs *a)
{
        for (const char *c = arg + 1; *c; c++) {
                if (*c == 'f')
                        a->follow = true;
                else if (*c == 'n') {
                        const char *v = c[1] ? c + 1 : *i + 1 < argc ? argv[++*i] : NULL;
                        if (!v) {
                                fprintf(stderr, "ccsupctl: logs: -n needs a number\n");
                                return -EINVAL;
                        }
                        return parse_lines(v, &a->lines);
                } else {
                        fprintf(stderr, "ccsupctl: logs: unknown option `-%c` (see ccsupctl --help)\n", *c);
                        return -EINVAL;
                }
        }
        return 0;
}

static void logs_help(void)
{
        printf("Usage: ccsupctl logs [-f] [-n N] UNIT\n"
               "\n"
               "The output of UNIT's container, from the journal or from its log files\n"
               "(LOG_DIR/UNIT.log and the rotated UNIT.log.N, oldest first), one line per\n"
               "line written, without timestamps.\n"
               "\n"
               "  -n, --lines=N   only the last N lines (N or `all`, the default)\n"
               "  -f, --follow    then show new lines as they come, across rotations,\n"
               "                  until interrupted (exit 0)\n"
               "\n"
               "Exit status: 0 (also when nothing was written yet), 1 the output is\n"
               "discarded ([Log] Target=none) or cannot be read, 2 usage, 4 no such unit,\n"
               "5 ccsupd unreachable.\n");
}

int logs_parse_args(int argc, char **argv, LogsArgs *ret)
{
        LogsArgs a = { .lines = LOGS_ALL };
        bool options = true;

        for (int i = 1; i < argc; i++) {
                const char *arg = argv[i], *v;
                int r = 0;

                if (!options || arg[0] != '-' || !arg[1]) {
                        if (a.unit) {
                                fprintf(stderr, "ccsupctl: logs: one unit only\n");
                                return LOGS_USAGE;
                        }
                        a.unit = arg;
                } else if (streq(arg, "--"))
                        options = false;
                else if (streq(arg, "-h") || streq(arg, "--help")) {
                        logs_help();
                        return LOGS_OK;
                } else if (streq(arg, "--follow"))
                        a.follow = true;
                else if ((v = startswith(arg, "--lines=")))
                        r = parse_lines(v, &a.lines);
                else if (streq(arg, "--lines") && i + 1 < argc)
                        r = parse_lines(argv[++i], &a.lines);
                else if (arg[1] != '-')
                        r = parse_short_options(arg, argc, argv, &i, &a);
                else {
                        fprintf(stderr, "ccsupctl: logs: unknown option `%s` (see ccsupctl --help)\n", arg);
                        return LOGS_USAGE;
                }
                if (r < 0)
                        return LOGS_USAGE;
        }
        if (!a.unit) {
                fprintf(stderr, "ccsupctl: logs: no unit given\n");
                return LOGS_USAGE;
        }
        *ret = a;
        return -1;
}

/* A daemon without LogTarget gave LogPath only for file targets. */
static const char *effective_target(const char *target, const char *path)
{
        return target ? target : path ? "file" : "none";
}

int logs_show(const LogsArgs *a, const char *target, const char *path)
{
        Sink s = { .direct = a->lines == LOGS_ALL, .limit = a->lines };
        int r;

        target = effective_target(target, path);
        if (streq(target, "none")) {
                fprintf(stderr, "ccsupctl: %s: output is discarded ([Log] Target=none)\n", a->unit);
                return LOGS_FAILED;
        }
        /* A closed pipe shows as EPIPE: `ccsupctl logs web | head` ends quietly. */
        signal(SIGPIPE, SIG_IGN);
        if (streq(target, "journal"))
                r = journal_show(a->unit, a->lines, a->follow, &s);
        else if (streq(target, "file") && path)
                r = files_show(path, a->lines, a->follow, &s);
        else {
                fprintf(stderr, "ccsupctl: %s: unknown log target `%s`\n", a->unit, target);
                r = -EINVAL;
        }
        sink_done(&s);
        if (r >= 0 && !flush_stdout(&s) && s.write_error != EPIPE) {
                fprintf(stderr, "ccsupctl: write error: %s\n", strerror(s.write_error));
                r = -s.write_error;
        }
        return r < 0 ? LOGS_FAILED : LOGS_OK;
}

void logs_print_tail(const char *unit, const char *target, const char *path, uint64_t n)
{
        Sink s = { .limit = n };

        target = effective_target(target, path);
        if (streq(target, "file") && path) {
                _cleanup_(log_joiner_freep) LogJoiner *j = log_joiner_new(sink_add, &s);
                _cleanup_free_ char *failed = NULL;
                if (read_files(path, n, j, NULL, &failed) >= 0)
                        log_joiner_flush(j);
        } else if (streq(target, "journal")) {
                _cleanup_(sd_journal_closep) sd_journal *j = NULL;
                if (journal_open_unit(unit, &j) >= 0 && journal_seek(j, n, &s) >= 0)
                        (void)journal_next_all(j, &s);
        }
        if (s.n > 0) {
                putchar('\n');
                sink_drain(&s);
        }
        sink_done(&s);
}
