/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the notify message parser (lib/readiness.c): every field of
 * UNITS.md "Readiness", unknown fields, and the datagrams that are refused
 * as a whole. */
#include <string.h>

#include "readiness.h"
#include "tap.h"
#include "util.h"

static int parse(const char *s, size_t len, NotifyMessage *m, char **err)
{
        *m = (NotifyMessage){};
        *err = NULL;
        return notify_parse(s, len, m, err);
}

int main(void)
{
        NotifyMessage m;
        char *err;
        static const char nul[] = "READY=1\n\0STATUS=x";

        ok(parse("READY=1", 7, &m, &err) == 0 && m.ready && !m.reloading, "READY=1");
        notify_message_done(&m);

        ok(parse("STATUS=warming up\nREADY=1\n", 26, &m, &err) == 0 && m.ready &&
                   m.status && streq(m.status, "warming up"),
           "STATUS= and READY=1 in one datagram, trailing newline");
        notify_message_done(&m);

        ok(parse("STATUS=a\033[31mb\x7f", 15, &m, &err) == 0 && streq(m.status, "a?[31mb?"),
           "control characters in STATUS= become '?'");
        notify_message_done(&m);

        ok(parse("RELOADING=1\nMONOTONIC_USEC=123", 30, &m, &err) == 0 && m.reloading && !m.ready,
           "RELOADING=1 with MONOTONIC_USEC=");
        ok(parse("STOPPING=1", 10, &m, &err) == 0 && m.stopping, "STOPPING=1");
        ok(parse("WATCHDOG=1", 10, &m, &err) == 0 && m.watchdog_ping && !m.watchdog_trigger,
           "WATCHDOG=1");
        ok(parse("WATCHDOG=trigger", 16, &m, &err) == 0 && m.watchdog_trigger, "WATCHDOG=trigger");
        ok(parse("WATCHDOG_USEC=2500000", 21, &m, &err) == 0 && m.watchdog_usec == 2500000,
           "WATCHDOG_USEC=");
        ok(parse("EXTEND_TIMEOUT_USEC=0", 21, &m, &err) == 0 && m.has_extend && m.extend_usec == 0,
           "EXTEND_TIMEOUT_USEC=0 is a value");
        ok(parse("ERRNO=5", 7, &m, &err) == 0 && m.has_errno && m.errno_value == 5, "ERRNO=");
        ok(parse("FDSTORE=1\nFDNAME=x", 18, &m, &err) == 0 && m.fdstore, "FDSTORE=1");
        ok(parse("MAINPID=42\nBARRIER=1\nX_FOO=bar\njunk", 35, &m, &err) == 0 && !m.ready &&
                   !m.status,
           "MAINPID=, BARRIER=1, unknown fields and lines without '=' are ignored");
        ok(parse("", 0, &m, &err) == 0 && !m.ready, "an empty datagram");

        ok(parse(nul, sizeof(nul) - 1, &m, &err) == -EINVAL && err && strstr(err, "NUL"),
           "a NUL byte: refused");
        free(err);
        ok(parse("STATUS=x\nREADY=2", 16, &m, &err) == -EINVAL && strstr(err, "READY=2"),
           "READY=2: the whole datagram is refused");
        free(err);
        ok(parse("WATCHDOG_USEC=0", 15, &m, &err) == -EINVAL, "WATCHDOG_USEC=0");
        free(err);
        ok(parse("WATCHDOG_USEC=12x", 17, &m, &err) == -EINVAL, "WATCHDOG_USEC=12x");
        free(err);
        ok(parse("WATCHDOG=0", 10, &m, &err) == -EINVAL, "WATCHDOG=0");
        free(err);
        ok(parse("ERRNO=-1", 8, &m, &err) == -EINVAL, "ERRNO=-1");
        free(err);
        ok(parse("EXTEND_TIMEOUT_USEC=", 20, &m, &err) == -EINVAL, "EXTEND_TIMEOUT_USEC= empty");
        free(err);
        ok(parse("READY=1", 5, &m, &err) == 0 && !m.ready, "the length is honoured: READY");
        return tap_done();
}
