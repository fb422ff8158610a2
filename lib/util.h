/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Small shared helpers: scope-bound cleanup, NULL-terminated string vectors,
 * file reading. Everything here is mechanism; nothing logs.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p) { free(*(void **)p); }
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd)
{
        if (fd >= 0) {
                int saved = errno;
                close(fd); /* never retried on EINTR: the fd is gone either way */
                errno = saved;
        }
        return -1;
}
static inline void closep(int *fd) { safe_close(*fd); }
#define _cleanup_close_ _cleanup_(closep)
static inline void close_pairp(int (*fds)[2]) { safe_close((*fds)[0]); safe_close((*fds)[1]); }
#define _cleanup_close_pair_ _cleanup_(close_pairp)

static inline void fclosep(FILE **f) { if (*f) fclose(*f); }
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand ownership out of a cleanup-scoped variable. */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

static inline bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }
static inline bool streq_ptr(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}
/* Returns the rest of s after prefix, or NULL when s does not start with it. */
static inline const char *startswith(const char *s, const char *prefix)
{
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

/* Allocation failure is not a recoverable condition for this program. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);
char *xvasprintf(const char *fmt, va_list ap) _printf_(1, 0);

/* The error-message convention of lib/ (`char **ret_error`): a function
 * that fails returns -errno and leaves one message, which its caller
 * frees. error_set() replaces *ret_error with the formatted message and
 * returns r; error_prefix() puts "CONTEXT: " before the message already
 * there (or before strerror(-r) when there is none) and returns r. Out of
 * memory aborts, as every x* function does: never a placeholder message. */
int error_set(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
int error_setv(char **ret_error, int r, const char *fmt, va_list ap) _printf_(3, 0);
int error_prefix(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);

/* NULL-terminated string vectors ("strv"). A NULL strv is the empty vector. */
size_t strv_length(char *const *l);
void strv_free(char **l);
static inline void strv_freep(char ***l) { strv_free(*l); }
#define _cleanup_strv_free_ _cleanup_(strv_freep)
/* Appends s (taking ownership) to *l. */
void strv_push(char ***l, char *s);
/* Appends a copy of s. */
void strv_add(char ***l, const char *s);
void strv_addf(char ***l, const char *fmt, ...) _printf_(2, 3);
char **strv_copy(char *const *l);
bool strv_contains(char *const *l, const char *s);
/* Joins with sep; NULL strv gives "". */
char *strv_join(char *const *l, const char *sep);
void strv_sort(char **l);
#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)

/* Reads a whole regular file (at most max bytes; -EFBIG beyond). The buffer is
 * NUL-terminated; *ret_size excludes the terminator. */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size);
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size);
/* Only a regular file, opened without blocking (a FIFO would wait for a
 * writer): -EBADFD for anything else. dirfd as for openat(2). */
int read_regular_file_at(int dirfd, const char *path, size_t max, char **ret, size_t *ret_size);
/* Writes s to an existing file (cgroup, /proc knobs): one write(2). */
int write_string_file(const char *path, const char *s);

/* Writes all of data to fd, again after EINTR or a short write: 0, or
 * -errno (-EIO when write() returns 0). */
int write_all(int fd, const void *data, size_t size);
/* Replaces path whole or not at all: the data into "PATH.tmp" (created with
 * mode, O_NOFOLLOW), fsync()ed when durable, renamed over path; the
 * temporary file removed on failure. 0 or -errno. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode, bool durable);

/* Joins two path components with exactly one '/'. */
char *path_join(const char *a, const char *b);
/* Field n (numbered as in proc_pid_stat(5), n >= 3) of the text of a
 * /proc/PID/stat, or NULL: counted from the last ')', since the command
 * name (field 2) may hold spaces and parentheses. Allocates nothing. */
const char *proc_stat_field(const char *stat, unsigned n);

/* mkdir -p: every missing component of the absolute path, with mode. */
int mkdir_p(const char *path, mode_t mode);
bool path_is_absolute(const char *p);
/* True if p is absolute and has no "..", "." or empty components. */
bool path_is_normalized_absolute(const char *p);

/* Monotonic and realtime clocks in microseconds. */
uint64_t now_usec_monotonic(void);
uint64_t now_usec_realtime(void);
