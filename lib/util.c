/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>

static void oom(void)
{
        fputs("out of memory\n", stderr);
        abort();
}

void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *xcalloc(size_t n, size_t m)
{
        void *p = calloc(n ? n : 1, m ? m : 1);
        if (!p)
                oom();
        return p;
}

void *xrealloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p)
                oom();
        return p;
}

char *xstrdup(const char *s)
{
        char *r = strdup(s);
        if (!r)
                oom();
        return r;
}

char *xstrndup(const char *s, size_t n)
{
        char *r = strndup(s, n);
        if (!r)
                oom();
        return r;
}

char *xvasprintf(const char *fmt, va_list ap)
{
        char *r;
        if (vasprintf(&r, fmt, ap) < 0)
                oom();
        return r;
}

char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        char *r = xvasprintf(fmt, ap);
        va_end(ap);
        return r;
}

int error_setv(char **ret_error, int r, const char *fmt, va_list ap)
{
        char *msg = xvasprintf(fmt, ap);

        free(*ret_error);
        *ret_error = msg;
        return r;
}

int error_set(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        error_setv(ret_error, r, fmt, ap);
        va_end(ap);
        return r;
}

int error_prefix(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;
        char *ctx, *msg;

        va_start(ap, fmt);
        ctx = xvasprintf(fmt, ap);
        va_end(ap);
        msg = xasprintf("%s: %s", ctx, *ret_error ? *ret_error : strerror(-r));
        free(ctx);
        free(*ret_error);
        *ret_error = msg;
        return r;
}

size_t strv_length(char *const *l)
{
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

void strv_free(char **l)
{
        for (char **s = l; s && *s; s++)
                free(*s);
        free(l);
}

void strv_push(char ***l, char *s)
{
        size_t n = strv_length(*l);
        *l = xrealloc(*l, (n + 2) * sizeof(char *));
        (*l)[n] = s;
        (*l)[n + 1] = NULL;
}

void strv_add(char ***l, const char *s)
{
        strv_push(l, xstrdup(s));
}

void strv_addf(char ***l, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        strv_push(l, xvasprintf(fmt, ap));
        va_end(ap);
}

char **strv_copy(char *const *l)
{
        char **r = xcalloc(strv_length(l) + 1, sizeof(char *));
        size_t i = 0;
        STRV_FOREACH(s, l)
                r[i++] = xstrdup(*s);
        return r;
}

bool strv_contains(char *const *l, const char *s)
{
        STRV_FOREACH(i, l)
                if (streq(*i, s))
                        return true;
        return false;
}

char *strv_join(char *const *l, const char *sep)
{
        size_t len = 1, seplen = strlen(sep);
        STRV_FOREACH(s, l)
                len += strlen(*s) + seplen;
        char *r = xmalloc(len), *p = r;
        *p = 0;
        STRV_FOREACH(s, l) {
                if (s != l)
                        p = stpcpy(p, sep);
                p = stpcpy(p, *s);
        }
        return r;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

void strv_sort(char **l)
{
        if (!l)
                return; /* qsort(NULL, 0, …) is undefined */
        qsort(l, strv_length(l), sizeof(char *), cmp_str);
}

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_full_fd(fd, max, ret, ret_size);
}

int read_regular_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_size)
{
        /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        struct stat st;

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
        return read_full_fd(fd, max, ret, ret_size);
}

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        size_t cap = 4096, n = 0;
        _cleanup_free_ char *buf = xmalloc(cap);
        for (;;) {
                if (n + 1 >= cap) {
                        if (cap > max + 1)
                                return -EFBIG;
                        cap *= 2;
                        buf = xrealloc(buf, cap);
                }
                ssize_t k = read(fd, buf + n, cap - n - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                n += (size_t)k;
                if (n > max)
                        return -EFBIG;
        }
        buf[n] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = n;
        return 0;
}

int write_string_file(const char *path, const char *s)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t l = strlen(s);
        ssize_t k = write(fd, s, l);
        if (k < 0)
                return -errno;
        if ((size_t)k != l)
                return -EIO;
        return 0;
}

int write_all(int fd, const void *data, size_t size)
{
        const char *p = data;

        while (size > 0) {
                ssize_t k = write(fd, p, size);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -EIO;
                p += k;
                size -= (size_t)k;
        }
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode, bool durable)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
        int fd, r;

        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, size);
        if (r == 0 && durable && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void)unlink(tmp);
        return r;
}

const char *proc_stat_field(const char *stat, unsigned n)
{
        const char *p = strrchr(stat, ')');
        unsigned f = 2;

        if (!p || n < 3)
                return NULL;
        for (p++;;) {
                while (*p == ' ')
                        p++;
                if (!*p)
                        return NULL;
                if (++f == n)
                        return p;
                p += strcspn(p, " ");
        }
}

int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = xstrdup(path);

        for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
                if (s)
                        *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                if (!s)
                        return 0;
                *s = '/';
        }
}

char *path_join(const char *a, const char *b)
{
        size_t la = strlen(a);
        while (la > 0 && a[la - 1] == '/')
                la--;
        while (*b == '/')
                b++;
        return xasprintf("%.*s/%s", (int)la, a, b);
}

bool path_is_absolute(const char *p)
{
        return p && p[0] == '/';
}

bool path_is_normalized_absolute(const char *p)
{
        if (!path_is_absolute(p))
                return false;
        for (const char *c = p + 1; *c;) {
                size_t l = strcspn(c, "/");
                if ((l == 1 && c[0] == '.') || (l == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                if (l == 0 && c[0] == '/')
                        return false; /* "//" */
                c += l;
                if (*c == '/')
                        c++;
        }
        return true;
}

static uint64_t now_usec(clockid_t clk)
{
        struct timespec ts;
        clock_gettime(clk, &ts);
        return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t now_usec_monotonic(void) { return now_usec(CLOCK_MONOTONIC); }
uint64_t now_usec_realtime(void) { return now_usec(CLOCK_REALTIME); }
