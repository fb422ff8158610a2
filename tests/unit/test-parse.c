/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <inttypes.h>
#include <signal.h>

#include "parse.h"
#include "tap.h"
#include "util.h"

#define SENTINEL UINT64_C(0xdeadbeef)

typedef int (*parse_u64_fn)(const char *s, uint64_t *ret);

/* One test line: f(s) returns want_r, and writes want_v only on success. */
static void check_u64(const char *fname, parse_u64_fn f, const char *s, int want_r,
                      uint64_t want_v)
{
        uint64_t v = SENTINEL;
        int r = f(s, &v);
        bool good = r == want_r && v == (want_r == 0 ? want_v : SENTINEL);

        if (!ok(good, "%s(\"%s\") = %d", fname, s, want_r))
                tap_diag("got r=%d v=%" PRIu64 ", want r=%d v=%" PRIu64, r, v, want_r,
                         want_r == 0 ? want_v : SENTINEL);
}

#define good_u64(f, s, v) check_u64(#f, f, s, 0, v)
#define bad_u64(f, s, r) check_u64(#f, f, s, r, 0)

static void test_boolean(void)
{
        const char *yes[] = { "yes", "YES", "Yes", "true", "TRUE", "on", "On", "1" };
        const char *no[] = { "no", "NO", "false", "False", "off", "OFF", "0" };
        const char *bad[] = { "", "y", "n", "2", "yes ", " no", "enable", "01", "truee" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                is_int(parse_boolean(yes[i]), 1, "parse_boolean(\"%s\")", yes[i]);
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                is_int(parse_boolean(no[i]), 0, "parse_boolean(\"%s\")", no[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                is_int(parse_boolean(bad[i]), -EINVAL, "parse_boolean(\"%s\")", bad[i]);
}

static int parse_uint32_wide(const char *s, uint64_t *ret)
{
        uint32_t v;
        int r = parse_uint32(s, &v);

        if (r == 0)
                *ret = v;
        return r;
}

static void test_uint(void)
{
        good_u64(parse_uint64, "0", 0);
        good_u64(parse_uint64, "42", 42);
        good_u64(parse_uint64, "007", 7);
        good_u64(parse_uint64, "18446744073709551615", UINT64_MAX);
        bad_u64(parse_uint64, "18446744073709551616", -ERANGE);
        bad_u64(parse_uint64, "99999999999999999999999", -ERANGE);
        bad_u64(parse_uint64, "99999999999999999999999x", -EINVAL);
        bad_u64(parse_uint64, "", -EINVAL);
        bad_u64(parse_uint64, "-1", -EINVAL);
        bad_u64(parse_uint64, "+1", -EINVAL);
        bad_u64(parse_uint64, " 1", -EINVAL);
        bad_u64(parse_uint64, "1 ", -EINVAL);
        bad_u64(parse_uint64, "0x10", -EINVAL);
        bad_u64(parse_uint64, "1.0", -EINVAL);
        bad_u64(parse_uint64, "1e3", -EINVAL);

        good_u64(parse_uint32_wide, "4294967295", UINT32_MAX);
        good_u64(parse_uint32_wide, "0", 0);
        bad_u64(parse_uint32_wide, "4294967296", -ERANGE);
        bad_u64(parse_uint32_wide, "18446744073709551616", -ERANGE);
        bad_u64(parse_uint32_wide, "-0", -EINVAL);
        bad_u64(parse_uint32_wide, "", -EINVAL);
}

static void test_duration(void)
{
        good_u64(parse_duration, "0", 0);
        good_u64(parse_duration, "0ms", 0);
        good_u64(parse_duration, "10", 10 * USEC_PER_SEC);
        good_u64(parse_duration, "1.5", 1500 * USEC_PER_MSEC);
        good_u64(parse_duration, "1.5s", 1500 * USEC_PER_MSEC);
        good_u64(parse_duration, "250ms", 250 * USEC_PER_MSEC);
        good_u64(parse_duration, "0.001ms", 1);
        good_u64(parse_duration, "0.0015ms", 1); /* below a microsecond: rounded down */
        good_u64(parse_duration, "0.000001s", 1);
        good_u64(parse_duration, "1.000000000000s", USEC_PER_SEC);
        good_u64(parse_duration, "2min", 120 * USEC_PER_SEC);
        good_u64(parse_duration, "1.5min", 90 * USEC_PER_SEC);
        good_u64(parse_duration, "1h", 3600 * USEC_PER_SEC);
        good_u64(parse_duration, "0.25h", 900 * USEC_PER_SEC);
        good_u64(parse_duration, "007s", 7 * USEC_PER_SEC);
        good_u64(parse_duration, "infinity", USEC_INFINITY);
        good_u64(parse_duration, "18446744073709551ms", UINT64_C(18446744073709551000));
        good_u64(parse_duration, "5124095576h", UINT64_C(5124095576) * 3600 * USEC_PER_SEC);
        good_u64(parse_duration, "18446744073709.551614s", UINT64_MAX - 1);

        bad_u64(parse_duration, "18446744073709.551615s", -ERANGE); /* would be infinity */
        bad_u64(parse_duration, "18446744073709.551616s", -ERANGE);
        bad_u64(parse_duration, "99999999999999h", -ERANGE);
        bad_u64(parse_duration, "5124095577h", -ERANGE);
        bad_u64(parse_duration, "18446744073709551616", -ERANGE);
        bad_u64(parse_duration, "18446744073709552ms", -ERANGE);
        bad_u64(parse_duration, "", -EINVAL);
        bad_u64(parse_duration, "-1s", -EINVAL);
        bad_u64(parse_duration, "+1s", -EINVAL);
        bad_u64(parse_duration, "1 s", -EINVAL);
        bad_u64(parse_duration, " 1s", -EINVAL);
        bad_u64(parse_duration, "1s ", -EINVAL);
        bad_u64(parse_duration, "s", -EINVAL);
        bad_u64(parse_duration, "ms", -EINVAL);
        bad_u64(parse_duration, "min", -EINVAL);
        bad_u64(parse_duration, ".5s", -EINVAL);
        bad_u64(parse_duration, "1.s", -EINVAL);
        bad_u64(parse_duration, "1.", -EINVAL);
        bad_u64(parse_duration, "1.2.3s", -EINVAL);
        bad_u64(parse_duration, "1us", -EINVAL);
        bad_u64(parse_duration, "1m", -EINVAL);
        bad_u64(parse_duration, "1sec", -EINVAL);
        bad_u64(parse_duration, "1mins", -EINVAL);
        bad_u64(parse_duration, "1S", -EINVAL);
        bad_u64(parse_duration, "1H", -EINVAL);
        bad_u64(parse_duration, "1min30s", -EINVAL);
        bad_u64(parse_duration, "1e3", -EINVAL);
        bad_u64(parse_duration, "Infinity", -EINVAL);
        bad_u64(parse_duration, "infinitys", -EINVAL);
        bad_u64(parse_duration, "0x10", -EINVAL);
}

static void check_format_size(uint64_t bytes, const char *want)
{
        _cleanup_free_ char *s = format_size_spec(bytes);

        is_str(s, want, "format_size_spec(%" PRIu64 ")", bytes);
}

static void test_format_size(void)
{
        check_format_size(0, "0");
        check_format_size(1000, "1000");
        check_format_size(1024, "1K");
        check_format_size(16 << 20, "16M");
        check_format_size(UINT64_C(8) << 30, "8G");
        check_format_size(UINT64_C(3) << 40, "3T");
        check_format_size((UINT64_C(3) << 30) / 2, "1536M");
        check_format_size((UINT64_C(1) << 30) + 1, "1.0G");
        check_format_size(3133440 + 100, "2.9M");
        check_format_size(SIZE_INFINITY, "infinity");
}

static void check_format_duration(uint64_t usec, const char *want)
{
        _cleanup_free_ char *s = format_duration(usec);

        is_str(s, want, "format_duration(%" PRIu64 ")", usec);
}

/* format_duration's output must read back to the same value. */
static bool duration_round_trips(uint64_t usec)
{
        _cleanup_free_ char *s = format_duration(usec);
        uint64_t back = SENTINEL;
        int r = parse_duration(s, &back);

        if (r == 0 && back == usec)
                return true;
        tap_diag("%" PRIu64 " -> \"%s\" -> r=%d %" PRIu64, usec, s, r, back);
        return false;
}

static void test_format_duration(void)
{
        static const uint64_t edges[] = {
                0, 1, 9, 10, 999, 1000, 1001, 999999, 1000000, 1000001, 1500000, 59999999,
                60000000, 90000000, 3599999999, 3600000000, 5400000000, UINT64_MAX - 1,
                UINT64_MAX - 2, UINT64_MAX / 2, UINT64_C(5124095576) * 3600000000,
        };
        uint64_t x = 88172645463325252ULL;
        bool all = true;

        check_format_duration(0, "0");
        check_format_duration(1, "0.001ms");
        check_format_duration(10, "0.01ms");
        check_format_duration(1500, "1.5ms");
        check_format_duration(250000, "250ms");
        check_format_duration(999999, "999.999ms");
        check_format_duration(1000000, "1s");
        check_format_duration(1000001, "1.000001s");
        check_format_duration(1500000, "1.5s");
        check_format_duration(1250000, "1.25s");
        check_format_duration(10000000, "10s");
        check_format_duration(90000000, "90s");
        check_format_duration(300000000, "5min");
        check_format_duration(3600000000, "1h");
        check_format_duration(5400000000, "90min");
        check_format_duration(UINT64_MAX - 1, "18446744073709.551614s");
        check_format_duration(USEC_INFINITY, "infinity");

        for (size_t i = 0; i < ELEMENTSOF(edges); i++)
                all &= duration_round_trips(edges[i]);
        ok(all, "format_duration round-trips the boundary values");

        /* xorshift: deterministic pseudo-random values of every magnitude. */
        all = true;
        for (int i = 0; i < 20000; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                all &= duration_round_trips(x >> (i % 64));
                all &= duration_round_trips((x >> (i % 64)) / 1000 * 1000);
                all &= duration_round_trips((x % 100000) * 60000000);
                all &= duration_round_trips(USEC_INFINITY);
        }
        ok(all, "format_duration round-trips 80000 values");
}

static void test_size(void)
{
        good_u64(parse_size, "0", 0);
        good_u64(parse_size, "512", 512);
        good_u64(parse_size, "0K", 0);
        good_u64(parse_size, "1K", 1024);
        good_u64(parse_size, "1.5M", 3 << 19);
        good_u64(parse_size, "2G", UINT64_C(2) << 30);
        good_u64(parse_size, "1T", UINT64_C(1) << 40);
        good_u64(parse_size, "0.5K", 512);
        good_u64(parse_size, "1.1K", 1126); /* 1126.4 rounded down */
        good_u64(parse_size, "0.0001K", 0);
        good_u64(parse_size, "0.999999999999999999999K", 1023);
        good_u64(parse_size, "infinity", SIZE_INFINITY);
        good_u64(parse_size, "18446744073709551614", UINT64_MAX - 1);
        good_u64(parse_size, "16777215T", UINT64_C(16777215) << 40);
        good_u64(parse_size, "16777215.99999999T", UINT64_MAX - 10995);

        bad_u64(parse_size, "18446744073709551615", -ERANGE); /* would be infinity */
        bad_u64(parse_size, "18446744073709551616", -ERANGE);
        bad_u64(parse_size, "16777216T", -ERANGE);
        bad_u64(parse_size, "17179869184G", -ERANGE);
        bad_u64(parse_size, "", -EINVAL);
        bad_u64(parse_size, "-1", -EINVAL);
        bad_u64(parse_size, "-1K", -EINVAL);
        bad_u64(parse_size, "1.5", -EINVAL); /* a fraction needs a suffix */
        bad_u64(parse_size, "1k", -EINVAL);
        bad_u64(parse_size, "1m", -EINVAL);
        bad_u64(parse_size, "1KB", -EINVAL);
        bad_u64(parse_size, "1B", -EINVAL);
        bad_u64(parse_size, "1P", -EINVAL);
        bad_u64(parse_size, "1KK", -EINVAL);
        bad_u64(parse_size, "K", -EINVAL);
        bad_u64(parse_size, ".5K", -EINVAL);
        bad_u64(parse_size, "1.K", -EINVAL);
        bad_u64(parse_size, "1 K", -EINVAL);
        bad_u64(parse_size, " 1K", -EINVAL);
        bad_u64(parse_size, "1K ", -EINVAL);
        bad_u64(parse_size, "INFINITY", -EINVAL);
}

static void test_signal(void)
{
        is_int(parse_signal("SIGTERM"), SIGTERM, "parse_signal(SIGTERM)");
        is_int(parse_signal("TERM"), SIGTERM, "parse_signal(TERM)");
        is_int(parse_signal("15"), SIGTERM, "parse_signal(15)");
        is_int(parse_signal("SIGHUP"), SIGHUP, "parse_signal(SIGHUP)");
        is_int(parse_signal("1"), SIGHUP, "parse_signal(1)");
        is_int(parse_signal("KILL"), SIGKILL, "parse_signal(KILL)");
        is_int(parse_signal("SIGSYS"), SIGSYS, "parse_signal(SIGSYS)");
        is_int(parse_signal("SIGWINCH"), SIGWINCH, "parse_signal(SIGWINCH)");
        is_int(parse_signal("SIGRTMIN"), SIGRTMIN, "parse_signal(SIGRTMIN)");
        is_int(parse_signal("SIGRTMIN+0"), SIGRTMIN, "parse_signal(SIGRTMIN+0)");
        is_int(parse_signal("SIGRTMIN+3"), SIGRTMIN + 3, "parse_signal(SIGRTMIN+3)");
        is_int(parse_signal("RTMIN+3"), SIGRTMIN + 3, "parse_signal(RTMIN+3)");
        is_int(parse_signal("SIGRTMAX"), SIGRTMAX, "parse_signal(SIGRTMAX)");
        is_int(parse_signal("RTMAX-1"), SIGRTMAX - 1, "parse_signal(RTMAX-1)");
        is_int(parse_signal(signal_to_string(SIGRTMAX)), SIGRTMAX,
               "parse_signal(%s)", signal_to_string(SIGRTMAX));

        static const char *const bad[] = {
                "", "0", "-1", "+15", " 15", "15 ", "sigterm", "term", "SIGterm",
                "SIG", "SIGSIGTERM", "SIGFOO", "4294967311", "18446744073709551631",
                "SIGRTMIN+", "SIGRTMIN-1", "SIGRTMIN+-1", "SIGRTMIN+1x", "RTMAX+1",
                "SIGRTMAX-", "SIGRTMIN 1", "SIGRT", "0x0f", "15.0",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                is_int(parse_signal(bad[i]), -EINVAL, "parse_signal(\"%s\")", bad[i]);

        char buf[32];
        snprintf(buf, sizeof buf, "%d", SIGRTMAX + 1);
        is_int(parse_signal(buf), -EINVAL, "parse_signal(SIGRTMAX+1 = %s)", buf);
        snprintf(buf, sizeof buf, "%d", SIGRTMAX);
        is_int(parse_signal(buf), SIGRTMAX, "parse_signal(SIGRTMAX = %s)", buf);
        snprintf(buf, sizeof buf, "SIGRTMIN+%d", SIGRTMAX - SIGRTMIN + 1);
        is_int(parse_signal(buf), -EINVAL, "parse_signal(%s)", buf);
        snprintf(buf, sizeof buf, "SIGRTMAX-%d", SIGRTMAX - SIGRTMIN + 1);
        is_int(parse_signal(buf), -EINVAL, "parse_signal(%s)", buf);
        /* Signals the C library keeps for itself (32, 33 with glibc) have no name. */
        for (int sig = 32; sig < SIGRTMIN; sig++) {
                snprintf(buf, sizeof buf, "%d", sig);
                is_int(parse_signal(buf), -EINVAL, "parse_signal(%s), reserved by libc", buf);
        }

        is_str(signal_to_string(SIGTERM), "SIGTERM", "signal_to_string(SIGTERM)");
        is_str(signal_to_string(SIGKILL), "SIGKILL", "signal_to_string(SIGKILL)");
        is_str(signal_to_string(SIGRTMIN), "SIGRTMIN+0", "signal_to_string(SIGRTMIN)");
        is_str(signal_to_string(SIGRTMIN + 3), "SIGRTMIN+3", "signal_to_string(SIGRTMIN+3)");
        is_str(signal_to_string(0), NULL, "signal_to_string(0)");
        is_str(signal_to_string(-1), NULL, "signal_to_string(-1)");
        is_str(signal_to_string(SIGRTMAX + 1), NULL, "signal_to_string(SIGRTMAX+1)");
        is_str(signal_to_string(1000), NULL, "signal_to_string(1000)");

        /* Every number parse_signal() takes has a name that reads back, both ways. */
        bool all = true;
        for (int sig = 1; sig <= SIGRTMAX; sig++) {
                const char *name = signal_to_string(sig);

                snprintf(buf, sizeof buf, "%d", sig);
                if (!name) {
                        all &= parse_signal(buf) == -EINVAL;
                        continue;
                }
                all &= parse_signal(buf) == sig && parse_signal(name) == sig &&
                       parse_signal(name + 3) == sig && startswith(name, "SIG");
                if (parse_signal(name) != sig)
                        tap_diag("%d -> %s -> %d", sig, name, parse_signal(name));
        }
        ok(all, "signal numbers 1..SIGRTMAX and their names read back");
}

static void test_capability(void)
{
        is_int(capability_last(), 40, "capability_last() is CAP_CHECKPOINT_RESTORE");
        is_int(parse_capability("CAP_NET_ADMIN"), 12, "parse_capability(CAP_NET_ADMIN)");
        is_int(parse_capability("net_admin"), 12, "parse_capability(net_admin)");
        is_int(parse_capability("cap_net_admin"), 12, "parse_capability(cap_net_admin)");
        is_int(parse_capability("Cap_Net_Admin"), 12, "parse_capability(Cap_Net_Admin)");
        is_int(parse_capability("NET_ADMIN"), 12, "parse_capability(NET_ADMIN)");
        is_int(parse_capability("CAP_CHOWN"), 0, "parse_capability(CAP_CHOWN)");
        is_int(parse_capability("chown"), 0, "parse_capability(chown)");
        is_int(parse_capability("CAP_SYS_ADMIN"), 21, "parse_capability(CAP_SYS_ADMIN)");
        is_int(parse_capability("CAP_SETFCAP"), 31, "parse_capability(CAP_SETFCAP)");
        is_int(parse_capability("CAP_MAC_OVERRIDE"), 32, "parse_capability(CAP_MAC_OVERRIDE)");
        is_int(parse_capability("bpf"), 39, "parse_capability(bpf)");
        is_int(parse_capability("CAP_CHECKPOINT_RESTORE"), 40,
               "parse_capability(CAP_CHECKPOINT_RESTORE)");

        static const char *const bad[] = {
                "", "ALL", "all", "CAP_ALL", "CAP_", "cap", "12", "CAP_12", "CAP_NET_ADMIN ",
                " CAP_NET_ADMIN", "CAP_NET-ADMIN", "CAPNET_ADMIN", "CAP_CAP_CHOWN",
                "CAP_NET_ADMINX", "CAP_NET", "CAP_LAST_CAP",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                is_int(parse_capability(bad[i]), -EINVAL, "parse_capability(\"%s\")", bad[i]);

        is_str(capability_to_string(12), "CAP_NET_ADMIN", "capability_to_string(12)");
        is_str(capability_to_string(0), "CAP_CHOWN", "capability_to_string(0)");
        is_str(capability_to_string(40), "CAP_CHECKPOINT_RESTORE", "capability_to_string(40)");
        is_str(capability_to_string(41), NULL, "capability_to_string(41)");
        is_str(capability_to_string(-1), NULL, "capability_to_string(-1)");

        bool all = true;
        for (int c = 0; c <= capability_last(); c++) {
                const char *name = capability_to_string(c);

                all &= name && startswith(name, "CAP_") && parse_capability(name) == c &&
                       parse_capability(name + 4) == c;
        }
        ok(all, "capabilities 0..capability_last() have names that read back");
}

static int parse_umask_wide(const char *s, uint64_t *ret)
{
        mode_t m;
        int r = parse_umask(s, &m);

        if (r == 0)
                *ret = m;
        return r;
}

static void test_umask(void)
{
        good_u64(parse_umask_wide, "0022", 022);
        good_u64(parse_umask_wide, "022", 022);
        good_u64(parse_umask_wide, "22", 022);
        good_u64(parse_umask_wide, "0777", 0777);
        good_u64(parse_umask_wide, "777", 0777);
        good_u64(parse_umask_wide, "0", 0);
        good_u64(parse_umask_wide, "0000", 0);
        good_u64(parse_umask_wide, "00000000000000000000000077", 077);
        bad_u64(parse_umask_wide, "01000", -ERANGE);
        bad_u64(parse_umask_wide, "1000", -ERANGE);
        bad_u64(parse_umask_wide, "7777", -ERANGE);
        bad_u64(parse_umask_wide, "77777777777777777777777777", -ERANGE);
        bad_u64(parse_umask_wide, "", -EINVAL);
        bad_u64(parse_umask_wide, "8", -EINVAL);
        bad_u64(parse_umask_wide, "0089", -EINVAL);
        bad_u64(parse_umask_wide, "0o22", -EINVAL);
        bad_u64(parse_umask_wide, "0x12", -EINVAL);
        bad_u64(parse_umask_wide, "-022", -EINVAL);
        bad_u64(parse_umask_wide, " 022", -EINVAL);
        bad_u64(parse_umask_wide, "022 ", -EINVAL);
        bad_u64(parse_umask_wide, "u=rwx", -EINVAL);
}

static void test_percent(void)
{
        good_u64(parse_percent, "50%", 5000);
        good_u64(parse_percent, "12.5%", 1250);
        good_u64(parse_percent, "12.55%", 1255);
        good_u64(parse_percent, "12.05%", 1205);
        good_u64(parse_percent, "200%", 20000);
        good_u64(parse_percent, "100%", 10000);
        good_u64(parse_percent, "0.01%", 1);
        good_u64(parse_percent, "1.00%", 100);
        good_u64(parse_percent, "184467440737095516.15%", UINT64_MAX);
        bad_u64(parse_percent, "184467440737095516.16%", -ERANGE);
        bad_u64(parse_percent, "18446744073709551616%", -ERANGE);
        bad_u64(parse_percent, "0%", -ERANGE);
        bad_u64(parse_percent, "0.00%", -ERANGE);
        bad_u64(parse_percent, "0.001%", -EINVAL);
        bad_u64(parse_percent, "12.555%", -EINVAL);
        bad_u64(parse_percent, "50", -EINVAL);
        bad_u64(parse_percent, "%", -EINVAL);
        bad_u64(parse_percent, "", -EINVAL);
        bad_u64(parse_percent, "-50%", -EINVAL);
        bad_u64(parse_percent, "+50%", -EINVAL);
        bad_u64(parse_percent, "50 %", -EINVAL);
        bad_u64(parse_percent, "50%%", -EINVAL);
        bad_u64(parse_percent, "%50", -EINVAL);
        bad_u64(parse_percent, ".5%", -EINVAL);
        bad_u64(parse_percent, "5.%", -EINVAL);
        bad_u64(parse_percent, "1.2.3%", -EINVAL);
        bad_u64(parse_percent, "0.5", -EINVAL);
}

static void check_rlimit(const char *s, int want_r, uint64_t want_soft, uint64_t want_hard)
{
        uint64_t soft = SENTINEL, hard = SENTINEL;
        int r = parse_rlimit(s, &soft, &hard);

        if (want_r < 0)
                want_soft = want_hard = SENTINEL;
        if (!ok(r == want_r && soft == want_soft && hard == want_hard, "parse_rlimit(\"%s\") = %d",
                s, want_r))
                tap_diag("got r=%d %" PRIu64 ":%" PRIu64, r, soft, hard);
}

static void test_rlimit(void)
{
        check_rlimit("1024", 0, 1024, 1024);
        check_rlimit("0", 0, 0, 0);
        check_rlimit("1024:4096", 0, 1024, 4096);
        check_rlimit("4096:4096", 0, 4096, 4096);
        check_rlimit("infinity", 0, UINT64_MAX, UINT64_MAX);
        check_rlimit("100:infinity", 0, 100, UINT64_MAX);
        check_rlimit("infinity:infinity", 0, UINT64_MAX, UINT64_MAX);
        check_rlimit("0:18446744073709551615", 0, 0, UINT64_MAX);
        check_rlimit("4096:1024", -ERANGE, 0, 0);
        check_rlimit("infinity:100", -ERANGE, 0, 0);
        check_rlimit("18446744073709551616", -ERANGE, 0, 0);
        check_rlimit("1:18446744073709551616", -ERANGE, 0, 0);
        check_rlimit("", -EINVAL, 0, 0);
        check_rlimit(":", -EINVAL, 0, 0);
        check_rlimit("1024:", -EINVAL, 0, 0);
        check_rlimit(":1024", -EINVAL, 0, 0);
        check_rlimit("1:2:3", -EINVAL, 0, 0);
        check_rlimit("-1", -EINVAL, 0, 0);
        check_rlimit("1K", -EINVAL, 0, 0);
        check_rlimit("1 :2", -EINVAL, 0, 0);
        check_rlimit("1: 2", -EINVAL, 0, 0);
        check_rlimit("infinit", -EINVAL, 0, 0);
        check_rlimit("infinityy", -EINVAL, 0, 0);
        check_rlimit("unlimited", -EINVAL, 0, 0);
}

static void test_cpuset(void)
{
        static const char *const good[] = {
                "0", "7", "0-1,3", "2-5,7-8", "0-0", "3,1", "0,1,2,3", "0-4294967295", "007",
        };
        static const char *const bad[] = {
                "", "1-0", "a", "1,,2", "1-", "-1", ",1", "1,", "1 ", " 1", "0, 1", "1-2-3",
                "1--2", "0-4294967296", "4294967296", "1.5", "0x1", "1;2",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ok(cpuset_is_valid(good[i]), "cpuset \"%s\" is valid", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ok(!cpuset_is_valid(bad[i]), "cpuset \"%s\" is invalid", bad[i]);
}

static void test_user_name(void)
{
        static const char *const good[] = {
                "root", "www-data", "_apt", "a", "A.b-c_d", "user$", "a1", "x234567890123456789012345678901",
                "x2345678901234567890123456789012", "x234567890123456789012345678901$",
        };
        static const char *const bad[] = {
                "", "0", "1000", "1user", "-user", ".user", "$", "a$b", "a$$", "bad name",
                "a:b", "a/b", "ünï", "x23456789012345678901234567890123",
                "x2345678901234567890123456789012$",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ok(user_name_is_valid(good[i]), "user name \"%s\" is valid", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ok(!user_name_is_valid(bad[i]), "user name \"%s\" is invalid", bad[i]);
}

static void check_user_spec(const char *s, int want_r, const char *want_user,
                            const char *want_group)
{
        char *user = (char *) "unset", *group = (char *) "unset";
        int r = parse_user_spec(s, &user, &group);

        if (want_r < 0)
                want_user = want_group = "unset";
        if (!ok(r == want_r && streq_ptr(user, want_user) && streq_ptr(group, want_group),
                "parse_user_spec(\"%s\") = %d", s, want_r))
                tap_diag("got r=%d user=%s group=%s", r, user ?: "(null)", group ?: "(null)");
        if (r == 0) {
                free(user);
                free(group);
        }
}

static void test_user_spec(void)
{
        check_user_spec("1000:1000", 0, "1000", "1000");
        check_user_spec("www-data", 0, "www-data", NULL);
        check_user_spec("nobody:nogroup", 0, "nobody", "nogroup");
        check_user_spec("0", 0, "0", NULL);
        check_user_spec("0:0", 0, "0", "0");
        check_user_spec("root:1", 0, "root", "1");
        check_user_spec("4294967294", 0, "4294967294", NULL);
        check_user_spec("1:4294967294", 0, "1", "4294967294");
        check_user_spec("4294967295", -ERANGE, NULL, NULL);
        check_user_spec("1:4294967295", -ERANGE, NULL, NULL);
        check_user_spec("4294967296", -ERANGE, NULL, NULL);
        check_user_spec("99999999999999999999999", -ERANGE, NULL, NULL);
        check_user_spec("", -EINVAL, NULL, NULL);
        check_user_spec(":", -EINVAL, NULL, NULL);
        check_user_spec("a:", -EINVAL, NULL, NULL);
        check_user_spec(":b", -EINVAL, NULL, NULL);
        check_user_spec("a:b:c", -EINVAL, NULL, NULL);
        check_user_spec("bad name", -EINVAL, NULL, NULL);
        check_user_spec("a:bad name", -EINVAL, NULL, NULL);
        check_user_spec("-1", -EINVAL, NULL, NULL);
        check_user_spec("1000x", -EINVAL, NULL, NULL);
        check_user_spec(" root", -EINVAL, NULL, NULL);

        ok(group_spec_is_valid("nogroup"), "group \"nogroup\" is valid");
        ok(group_spec_is_valid("0"), "group \"0\" is valid");
        ok(group_spec_is_valid("4294967294"), "group \"4294967294\" is valid");
        ok(!group_spec_is_valid("4294967295"), "group \"4294967295\" is invalid");
        ok(!group_spec_is_valid(""), "group \"\" is invalid");
        ok(!group_spec_is_valid("a:b"), "group \"a:b\" is invalid");
        ok(!group_spec_is_valid("1a"), "group \"1a\" is invalid");
        ok(!group_spec_is_valid("bad group"), "group \"bad group\" is invalid");
}

static void test_unit_name(void)
{
        static const char *const good[] = {
                "web", "Web1", "0web", "a", "my-app_2.service", "tmpl@inst", "a.b.c",
                "a234567890123456789012345678901234567890123456789012345678901234",
        };
        static const char *const bad[] = {
                "", "-web", ".web", "_web", "@web", "a b", "a/b", "a:b", "a%n", "ünit",
                "a2345678901234567890123456789012345678901234567890123456789012345",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ok(unit_name_is_valid(good[i]), "unit name \"%s\" is valid", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ok(!unit_name_is_valid(bad[i]), "unit name \"%s\" is invalid", bad[i]);
}

static void test_hostname(void)
{
        static const char *const good[] = {
                "web", "a", "web-1", "1", "a.b.c", "WEB.example.com", "xn--bcher-kva.example",
                "a234567890123456789012345678901234567890123456789012345678901234",
        };
        static const char *const bad[] = {
                "", "-web", "web-", ".web", "web.", "a..b", "a.-b", "a-.b", "a b", "a_b",
                "a/b", "héllo", "a2345678901234567890123456789012345678901234567890123456789012345",
                "a23456789012345678901234567890123456789012345678901234567890123.b",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ok(hostname_is_valid(good[i]), "hostname \"%s\" is valid", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ok(!hostname_is_valid(bad[i]), "hostname \"%s\" is invalid", bad[i]);
}

static void test_env_assignment(void)
{
        static const char *const good[] = {
                "A=1", "PATH=/usr/bin:/bin", "_x=", "a_B9=x=y", "LANG=C.UTF-8", "X= spaced ",
        };
        static const char *const bad[] = {
                "", "=", "=x", "A", "1A=x", "A B=x", "A-B=x", "A.B=x", " A=x", "ü=x",
        };

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                ok(env_assignment_is_valid(good[i]), "env \"%s\" is valid", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ok(!env_assignment_is_valid(bad[i]), "env \"%s\" is invalid", bad[i]);
}

/* util.c: fields of /proc/PID/stat after a command name with ") " in it */
static void test_proc_stat_field(void)
{
        static const char stat[] = "42 (a) b (c)) S 1 7 9\n";

        is_str(proc_stat_field(stat, 3), "S 1 7 9\n", "field 3 after the last ')'");
        is_str(proc_stat_field(stat, 5), "7 9\n", "field 5");
        ok(proc_stat_field(stat, 8) == NULL, "past the end: NULL");
        ok(proc_stat_field("no parenthesis", 3) == NULL, "no ')': NULL");
        ok(proc_stat_field(stat, 2) == NULL, "field 2 is not counted");
}

int main(void)
{
        test_proc_stat_field();
        test_boolean();
        test_uint();
        test_duration();
        test_format_duration();
        test_format_size();
        test_size();
        test_signal();
        test_capability();
        test_umask();
        test_percent();
        test_rlimit();
        test_cpuset();
        test_user_name();
        test_user_spec();
        test_unit_name();
        test_hostname();
        test_env_assignment();
        return tap_done();
}
