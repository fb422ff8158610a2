/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A minimal TAP producer for the unit tests: ok/is/is_str, plan at the end. */

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static inline bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool tap_ok(bool cond, const char *fmt, ...)
{
        va_list ap;
        printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        if (!cond)
                tap_failed++;
        fflush(stdout);
        return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)

#define is_int(got, want, ...)                                                           \
        do {                                                                             \
                long long _g = (long long)(got), _w = (long long)(want);                 \
                if (!ok(_g == _w, __VA_ARGS__))                                          \
                        printf("#   got %lld, want %lld (%s:%d)\n", _g, _w, __FILE__,    \
                               __LINE__);                                                \
        } while (0)

#define is_str(got, want, ...)                                                           \
        do {                                                                             \
                const char *_g = (got), *_w = (want);                                    \
                bool _eq = (_g && _w) ? strcmp(_g, _w) == 0 : _g == _w;                  \
                if (!ok(_eq, __VA_ARGS__))                                               \
                        printf("#   got  \"%s\"\n#   want \"%s\" (%s:%d)\n",             \
                               _g ? _g : "(null)", _w ? _w : "(null)", __FILE__,         \
                               __LINE__);                                                \
        } while (0)

static inline void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...)
{
        va_list ap;
        fputs("# ", stdout);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
}

/* Prints the plan and returns the exit status for main(). */
static inline int tap_done(void)
{
        printf("1..%d\n", tap_n);
        return tap_failed ? 1 : 0;
}
