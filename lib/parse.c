/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <signal.h>
#include <strings.h>

#include "parse.h"
#include "util.h"

static bool ascii_isdigit(char c) { return c >= '0' && c <= '9'; }
static bool ascii_isalpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool ascii_isalnum(char c) { return ascii_isdigit(c) || ascii_isalpha(c); }

static bool all_digits(const char *s)
{
        if (!*s)
                return false;
        for (; *s; s++)
                if (!ascii_isdigit(*s))
                        return false;
        return true;
}

int parse_boolean(const char *s)
{
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        }
        return -EINVAL;
}

/* Reads the decimal digits in [s, end); -EINVAL if there are none or a
 * non-digit, -ERANGE on overflow. */
static int parse_digits(const char *s, const char *end, uint64_t *ret)
{
        uint64_t v = 0;

        if (s >= end)
                return -EINVAL;
        for (const char *p = s; p < end; p++)
                if (!ascii_isdigit(*p))
                        return -EINVAL;
        for (const char *p = s; p < end; p++) {
                unsigned d = (unsigned) (*p - '0');

                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int parse_uint64(const char *s, uint64_t *ret)
{
        return parse_digits(s, s + strlen(s), ret);
}

int parse_uint32(const char *s, uint32_t *ret)
{
        uint64_t v;
        int r;

        r = parse_uint64(s, &v);
        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

/* Reads "DIGITS[.DIGITS]" in [s, end) and multiplies it by unit. Digits of
 * the fraction below one unit of the result are dropped (rounding down). */
static int parse_scaled(const char *s, const char *end, uint64_t unit, uint64_t *ret)
{
        const char *dot = memchr(s, '.', (size_t) (end - s));
        uint64_t whole, frac = 0;
        int r;

        r = parse_digits(s, dot ?: end, &whole);
        if (r < 0)
                return r;
        if (dot) {
                if (dot + 1 >= end)
                        return -EINVAL;
                /* floor(0.d1..dk * unit), from the last digit back: each step
                 * is floor((d * unit + previous) / 10), exact and overflow-free
                 * for unit < UINT64_MAX / 10. */
                for (const char *p = end - 1; p > dot; p--) {
                        if (!ascii_isdigit(*p))
                                return -EINVAL;
                        frac = ((uint64_t) (*p - '0') * unit + frac) / 10;
                }
        }
        if (whole > (UINT64_MAX - frac) / unit)
                return -ERANGE;
        *ret = whole * unit + frac;
        return 0;
}

struct unit_suffix {
        const char *suffix;
        uint64_t factor;
};

/* Splits s into a number and the first suffix of the table that ends it
 * right after a digit; the table ends with the entry for no suffix (""). */
static const struct unit_suffix *find_suffix(const char *s, const struct unit_suffix *table,
                                             size_t n, const char **ret_end)
{
        size_t l = strlen(s);

        for (size_t i = 0; i < n; i++) {
                size_t k = strlen(table[i].suffix);

                if (k == 0 || (l > k && streq(s + l - k, table[i].suffix) &&
                               ascii_isdigit(s[l - k - 1]))) {
                        *ret_end = s + l - k;
                        return &table[i];
                }
        }
        return NULL;
}

int parse_duration(const char *s, uint64_t *ret_usec)
{
        static const struct unit_suffix units[] = {
                { "min", 60 * USEC_PER_SEC },
                { "ms", USEC_PER_MSEC },
                { "h", 3600 * USEC_PER_SEC },
                { "s", USEC_PER_SEC },
                { "", USEC_PER_SEC },
        };
        const struct unit_suffix *u;
        const char *end;
        uint64_t v;
        int r;

        if (streq(s, "infinity")) {
                *ret_usec = USEC_INFINITY;
                return 0;
        }
        u = find_suffix(s, units, ELEMENTSOF(units), &end);
        r = parse_scaled(s, end, u->factor, &v);
        if (r < 0)
                return r;
        if (v == USEC_INFINITY)
                return -ERANGE;
        *ret_usec = v;
        return 0;
}

/* The digits of x / unit with the remainder as a fraction, trailing zeros
 * dropped: 1500000 / 1000000 -> "1.5". */
static char *format_fraction(uint64_t x, uint64_t unit, int digits, const char *suffix)
{
        uint64_t f = x % unit;

        while (f % 10 == 0) {
                f /= 10;
                digits--;
        }
        return xasprintf("%" PRIu64 ".%0*" PRIu64 "%s", x / unit, digits, f, suffix);
}

char *format_duration(uint64_t usec)
{
        static const struct unit_suffix units[] = {
                { "h", 3600 * USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC },
                { "s", USEC_PER_SEC },
                { "ms", USEC_PER_MSEC },
        };

        if (usec == USEC_INFINITY)
                return xstrdup("infinity");
        if (usec == 0)
                return xstrdup("0");
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                if (usec % units[i].factor != 0)
                        continue;
                /* Below a second, milliseconds read better than "0.25s". */
                if (units[i].factor == USEC_PER_MSEC && usec >= USEC_PER_SEC)
                        break;
                return xasprintf("%" PRIu64 "%s", usec / units[i].factor, units[i].suffix);
        }
        if (usec >= USEC_PER_SEC)
                return format_fraction(usec, USEC_PER_SEC, 6, "s");
        return format_fraction(usec, USEC_PER_MSEC, 3, "ms");
}

int parse_size(const char *s, uint64_t *ret_bytes)
{
        static const struct unit_suffix units[] = {
                { "K", 1ULL << 10 },
                { "M", 1ULL << 20 },
                { "G", 1ULL << 30 },
                { "T", 1ULL << 40 },
                { "", 1 },
        };
        const struct unit_suffix *u;
        const char *end;
        uint64_t v;
        int r;

        if (streq(s, "infinity")) {
                *ret_bytes = SIZE_INFINITY;
                return 0;
        }
        u = find_suffix(s, units, ELEMENTSOF(units), &end);
        if (u->factor == 1 && memchr(s, '.', (size_t) (end - s)))
                return -EINVAL; /* a fraction of a byte */
        r = parse_scaled(s, end, u->factor, &v);
        if (r < 0)
                return r;
        if (v == SIZE_INFINITY)
                return -ERANGE;
        *ret_bytes = v;
        return 0;
}

char *format_size_spec(uint64_t bytes)
{
        static const struct unit_suffix units[] = {
                { "T", 1ULL << 40 },
                { "G", 1ULL << 30 },
                { "M", 1ULL << 20 },
                { "K", 1ULL << 10 },
        };

        if (bytes == SIZE_INFINITY)
                return xstrdup("infinity");
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (bytes >= units[i].factor && bytes % units[i].factor == 0)
                        return xasprintf("%" PRIu64 "%s", bytes / units[i].factor, units[i].suffix);
        /* Inexact: one decimal of the largest unit, rounded down. */
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (bytes >= units[i].factor)
                        return xasprintf("%" PRIu64 ".%" PRIu64 "%s", bytes / units[i].factor,
                                         bytes % units[i].factor * 10 / units[i].factor,
                                         units[i].suffix);
        return xasprintf("%" PRIu64, bytes);
}

#define SIGNAL_NAME(s) [s] = #s
static const char *const signal_names[] = {
        SIGNAL_NAME(SIGHUP),    SIGNAL_NAME(SIGINT),    SIGNAL_NAME(SIGQUIT),
        SIGNAL_NAME(SIGILL),    SIGNAL_NAME(SIGTRAP),   SIGNAL_NAME(SIGABRT),
        SIGNAL_NAME(SIGBUS),    SIGNAL_NAME(SIGFPE),    SIGNAL_NAME(SIGKILL),
        SIGNAL_NAME(SIGUSR1),   SIGNAL_NAME(SIGSEGV),   SIGNAL_NAME(SIGUSR2),
        SIGNAL_NAME(SIGPIPE),   SIGNAL_NAME(SIGALRM),   SIGNAL_NAME(SIGTERM),
#ifdef SIGSTKFLT
        SIGNAL_NAME(SIGSTKFLT),
#endif
        SIGNAL_NAME(SIGCHLD),   SIGNAL_NAME(SIGCONT),   SIGNAL_NAME(SIGSTOP),
        SIGNAL_NAME(SIGTSTP),   SIGNAL_NAME(SIGTTIN),   SIGNAL_NAME(SIGTTOU),
        SIGNAL_NAME(SIGURG),    SIGNAL_NAME(SIGXCPU),   SIGNAL_NAME(SIGXFSZ),
        SIGNAL_NAME(SIGVTALRM), SIGNAL_NAME(SIGPROF),   SIGNAL_NAME(SIGWINCH),
        SIGNAL_NAME(SIGIO),
#ifdef SIGPWR
        SIGNAL_NAME(SIGPWR),
#endif
        SIGNAL_NAME(SIGSYS),
};

/* Realtime signals are named from SIGRTMIN, which glibc decides at run time;
 * the kernel has at most 33 of them (32..64). */
#define RT_NAME(n) "SIGRTMIN+" #n
static const char *const rt_signal_names[] = {
        RT_NAME(0),  RT_NAME(1),  RT_NAME(2),  RT_NAME(3),  RT_NAME(4),  RT_NAME(5),
        RT_NAME(6),  RT_NAME(7),  RT_NAME(8),  RT_NAME(9),  RT_NAME(10), RT_NAME(11),
        RT_NAME(12), RT_NAME(13), RT_NAME(14), RT_NAME(15), RT_NAME(16), RT_NAME(17),
        RT_NAME(18), RT_NAME(19), RT_NAME(20), RT_NAME(21), RT_NAME(22), RT_NAME(23),
        RT_NAME(24), RT_NAME(25), RT_NAME(26), RT_NAME(27), RT_NAME(28), RT_NAME(29),
        RT_NAME(30), RT_NAME(31), RT_NAME(32),
};

/* Reads "RTMIN[+N]" or "RTMAX[-N]" (after the optional "SIG"). */
static int parse_rt_signal(const char *s)
{
        const char *p;
        uint32_t n = 0;

        if ((p = startswith(s, "RTMIN"))) {
                if (*p && (*p != '+' || parse_uint32(p + 1, &n) < 0))
                        return -EINVAL;
                if (n > (uint32_t) (SIGRTMAX - SIGRTMIN))
                        return -EINVAL;
                return SIGRTMIN + (int) n;
        }
        if ((p = startswith(s, "RTMAX"))) {
                if (*p && (*p != '-' || parse_uint32(p + 1, &n) < 0))
                        return -EINVAL;
                if (n > (uint32_t) (SIGRTMAX - SIGRTMIN))
                        return -EINVAL;
                return SIGRTMAX - (int) n;
        }
        return -EINVAL;
}

/* Numbers between the kernel's first realtime signal and SIGRTMIN (32, 33
 * with glibc) are rejected: the C library keeps them for itself, and they
 * have no name to print. */
int parse_signal(const char *s)
{
        const char *name = startswith(s, "SIG") ?: s;
        uint32_t n;

        if (all_digits(s)) {
                if (parse_uint32(s, &n) < 0 || n < 1 || n > (uint32_t) SIGRTMAX)
                        return -EINVAL;
                if (!signal_to_string((int) n))
                        return -EINVAL;
                return (int) n;
        }
        for (size_t i = 0; i < ELEMENTSOF(signal_names); i++)
                if (signal_names[i] && streq(name, signal_names[i] + 3))
                        return (int) i;
        return parse_rt_signal(name);
}

const char *signal_to_string(int sig)
{
        if (sig > 0 && (size_t) sig < ELEMENTSOF(signal_names) && signal_names[sig])
                return signal_names[sig];
        if (sig >= SIGRTMIN && sig <= SIGRTMAX &&
            (size_t) (sig - SIGRTMIN) < ELEMENTSOF(rt_signal_names))
                return rt_signal_names[sig - SIGRTMIN];
        return NULL;
}

/* Indexed by the kernel's numbers from <linux/capability.h>, so the table
 * cannot drift from them. Capabilities newer than CAP_CHECKPOINT_RESTORE are
 * unknown until they are added here. */
#define CAP_NAME(c) [c] = #c
static const char *const capability_names[] = {
        CAP_NAME(CAP_CHOWN),
        CAP_NAME(CAP_DAC_OVERRIDE),
        CAP_NAME(CAP_DAC_READ_SEARCH),
        CAP_NAME(CAP_FOWNER),
        CAP_NAME(CAP_FSETID),
        CAP_NAME(CAP_KILL),
        CAP_NAME(CAP_SETGID),
        CAP_NAME(CAP_SETUID),
        CAP_NAME(CAP_SETPCAP),
        CAP_NAME(CAP_LINUX_IMMUTABLE),
        CAP_NAME(CAP_NET_BIND_SERVICE),
        CAP_NAME(CAP_NET_BROADCAST),
        CAP_NAME(CAP_NET_ADMIN),
        CAP_NAME(CAP_NET_RAW),
        CAP_NAME(CAP_IPC_LOCK),
        CAP_NAME(CAP_IPC_OWNER),
        CAP_NAME(CAP_SYS_MODULE),
        CAP_NAME(CAP_SYS_RAWIO),
        CAP_NAME(CAP_SYS_CHROOT),
        CAP_NAME(CAP_SYS_PTRACE),
        CAP_NAME(CAP_SYS_PACCT),
        CAP_NAME(CAP_SYS_ADMIN),
        CAP_NAME(CAP_SYS_BOOT),
        CAP_NAME(CAP_SYS_NICE),
        CAP_NAME(CAP_SYS_RESOURCE),
        CAP_NAME(CAP_SYS_TIME),
        CAP_NAME(CAP_SYS_TTY_CONFIG),
        CAP_NAME(CAP_MKNOD),
        CAP_NAME(CAP_LEASE),
        CAP_NAME(CAP_AUDIT_WRITE),
        CAP_NAME(CAP_AUDIT_CONTROL),
        CAP_NAME(CAP_SETFCAP),
        CAP_NAME(CAP_MAC_OVERRIDE),
        CAP_NAME(CAP_MAC_ADMIN),
        CAP_NAME(CAP_SYSLOG),
        CAP_NAME(CAP_WAKE_ALARM),
        CAP_NAME(CAP_BLOCK_SUSPEND),
        CAP_NAME(CAP_AUDIT_READ),
#ifdef CAP_PERFMON /* Linux 5.8 */
        CAP_NAME(CAP_PERFMON),
        CAP_NAME(CAP_BPF),
#endif
#ifdef CAP_CHECKPOINT_RESTORE /* Linux 5.9 */
        CAP_NAME(CAP_CHECKPOINT_RESTORE),
#endif
};

int parse_capability(const char *s)
{
        const char *name = strncasecmp(s, "CAP_", 4) == 0 ? s + 4 : s;

        for (size_t i = 0; i < ELEMENTSOF(capability_names); i++)
                if (capability_names[i] && strcasecmp(name, capability_names[i] + 4) == 0)
                        return (int) i;
        return -EINVAL;
}

const char *capability_to_string(int cap)
{
        if (cap < 0 || (size_t) cap >= ELEMENTSOF(capability_names))
                return NULL;
        return capability_names[cap];
}

int capability_last(void)
{
        return (int) ELEMENTSOF(capability_names) - 1;
}

int parse_umask(const char *s, mode_t *ret)
{
        mode_t m = 0;

        if (!*s)
                return -EINVAL;
        for (const char *p = s; *p; p++)
                if (*p < '0' || *p > '7')
                        return -EINVAL;
        for (const char *p = s; *p; p++) {
                m = m * 8 + (mode_t) (*p - '0');
                if (m > 0777)
                        return -ERANGE;
        }
        *ret = m;
        return 0;
}

int parse_percent(const char *s, uint64_t *ret_basis_points)
{
        size_t l = strlen(s);
        const char *dot, *end;
        uint64_t v;
        int r;

        if (l < 2 || s[l - 1] != '%')
                return -EINVAL;
        end = s + l - 1;
        dot = memchr(s, '.', l - 1);
        if (dot && end - dot - 1 > 2)
                return -EINVAL;
        r = parse_scaled(s, end, 100, &v);
        if (r < 0)
                return r;
        if (v == 0)
                return -ERANGE;
        *ret_basis_points = v;
        return 0;
}

static int parse_rlimit_value(const char *s, const char *end, uint64_t *ret)
{
        if ((size_t) (end - s) == strlen("infinity") && strncmp(s, "infinity", 8) == 0) {
                *ret = UINT64_MAX;
                return 0;
        }
        return parse_digits(s, end, ret);
}

int parse_rlimit(const char *s, uint64_t *ret_soft, uint64_t *ret_hard)
{
        const char *colon = strchr(s, ':'), *end = s + strlen(s);
        uint64_t soft, hard;
        int r;

        r = parse_rlimit_value(s, colon ?: end, &soft);
        if (r < 0)
                return r;
        hard = soft;
        if (colon) {
                r = parse_rlimit_value(colon + 1, end, &hard);
                if (r < 0)
                        return r;
        }
        if (soft > hard)
                return -ERANGE;
        *ret_soft = soft;
        *ret_hard = hard;
        return 0;
}

/* Reads one CPU number at *p and moves *p past it. */
static bool read_cpu(const char **p, uint32_t *ret)
{
        const char *e = *p;
        uint64_t v;

        while (ascii_isdigit(*e))
                e++;
        if (parse_digits(*p, e, &v) < 0 || v > UINT32_MAX)
                return false;
        *p = e;
        *ret = (uint32_t) v;
        return true;
}

bool cpuset_is_valid(const char *s)
{
        const char *p = s;

        for (;;) {
                uint32_t lo, hi;

                if (!read_cpu(&p, &lo))
                        return false;
                if (*p == '-') {
                        p++;
                        if (!read_cpu(&p, &hi) || hi < lo)
                                return false;
                }
                if (!*p)
                        return true;
                if (*p != ',')
                        return false;
                p++;
        }
}

bool user_name_is_valid(const char *s)
{
        size_t l = strlen(s);

        if (l == 0 || l > 32)
                return false;
        if (!ascii_isalpha(s[0]) && s[0] != '_')
                return false;
        if (s[l - 1] == '$')
                l--;
        for (size_t i = 1; i < l; i++)
                if (!ascii_isalnum(s[i]) && !strchr("_.-", s[i]))
                        return false;
        return true;
}

/* A user or group: a valid name, or a number below 4294967295 ((uid_t) -1). */
static int check_id(const char *s)
{
        uint32_t n;
        int r;

        if (user_name_is_valid(s))
                return 0;
        if (!all_digits(s))
                return -EINVAL;
        r = parse_uint32(s, &n);
        if (r < 0)
                return r;
        return n == UINT32_MAX ? -ERANGE : 0;
}

int parse_user_spec(const char *s, char **ret_user, char **ret_group)
{
        const char *colon = strchr(s, ':');
        _cleanup_free_ char *user = NULL, *group = NULL;
        int r;

        user = colon ? xstrndup(s, (size_t) (colon - s)) : xstrdup(s);
        r = check_id(user);
        if (r < 0)
                return r;
        if (colon) {
                group = xstrdup(colon + 1);
                r = check_id(group);
                if (r < 0)
                        return r;
        }
        *ret_user = TAKE_PTR(user);
        *ret_group = TAKE_PTR(group);
        return 0;
}

bool group_spec_is_valid(const char *s)
{
        return check_id(s) == 0;
}

bool unit_name_is_valid(const char *s)
{
        size_t l = strlen(s);

        if (l == 0 || l > 64 || !ascii_isalnum(s[0]))
                return false;
        for (size_t i = 1; i < l; i++)
                if (!ascii_isalnum(s[i]) && !strchr("_.@-", s[i]))
                        return false;
        return true;
}

/* Labels are checked one by one: none may be empty or start or end with '-'
 * (RFC 1123). */
bool hostname_is_valid(const char *s)
{
        size_t l = strlen(s);
        const char *label = s;

        if (l == 0 || l > 64)
                return false;
        for (const char *p = s;; p++) {
                if (*p == '.' || *p == '\0') {
                        size_t n = (size_t) (p - label);

                        if (n == 0 || label[0] == '-' || p[-1] == '-')
                                return false;
                        if (*p == '\0')
                                return true;
                        label = p + 1;
                } else if (!ascii_isalnum(*p) && *p != '-')
                        return false;
        }
}

bool env_assignment_is_valid(const char *s)
{
        const char *eq = strchr(s, '=');

        if (!eq || eq == s)
                return false;
        if (!ascii_isalpha(s[0]) && s[0] != '_')
                return false;
        for (const char *p = s + 1; p < eq; p++)
                if (!ascii_isalnum(*p) && *p != '_')
                        return false;
        return true;
}
