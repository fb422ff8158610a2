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
        ok(parse("FDSTORE=1\nFDNAME=x", 18, &m, &err) == 0 && m.fdstore && !m.fdstore_remove &&
                   streq(m.fdname, "x"),
           "FDSTORE=1 with FDNAME=");
        notify_message_done(&m);
        ok(parse("FDSTOREREMOVE=1\nFDNAME=a b/c", 28, &m, &err) == 0 && m.fdstore_remove &&
                   !m.fdstore && streq(m.fdname, "a b/c"),
           "FDSTOREREMOVE=1; FDNAME= may hold spaces and '/'");
        notify_message_done(&m);
        ok(parse("FDSTORE=1\nFDNAME=", 17, &m, &err) == 0 && m.fdname && !*m.fdname,
           "FDNAME= empty is valid (as systemd's fdname_is_valid)");
        notify_message_done(&m);
        ok(parse("FDSTORE=1", 9, &m, &err) == 0 && m.fdstore && !m.fdname, "FDSTORE=1 without FDNAME=");
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
        ok(parse("FDSTORE=1\nFDNAME=a:b", 20, &m, &err) == -EINVAL && strstr(err, "FDNAME=a:b"),
           "FDNAME= with ':': refused");
        free(err);
        ok(parse("FDNAME=\x01x", 9, &m, &err) == -EINVAL, "FDNAME= with a control character");
        free(err);
        ok(parse("FDNAME=caf\xc3\xa9", 12, &m, &err) == -EINVAL, "FDNAME= not ASCII");
        free(err);
        ok(parse("FDSTOREREMOVE=yes", 17, &m, &err) == -EINVAL, "FDSTOREREMOVE=yes");
        free(err);
        {
                char long_name[7 + 256 + 1];
                memcpy(long_name, "FDNAME=", 7);
                memset(long_name + 7, 'a', 256);
                long_name[7 + 256] = '\0';
                ok(parse(long_name, 7 + 255, &m, &err) == 0 && strlen(m.fdname) == 255,
                   "FDNAME= of 255 characters");
                notify_message_done(&m);
                ok(parse(long_name, 7 + 256, &m, &err) == -EINVAL, "FDNAME= of 256 characters");
                free(err);
        }
        ok(fdname_is_valid("stored") && fdname_is_valid("") && !fdname_is_valid("a:b") &&
                   !fdname_is_valid("a\nb") && !fdname_is_valid(NULL),
           "fdname_is_valid()");
        ok(parse("READY=1", 5, &m, &err) == 0 && !m.ready, "the length is honoured: READY");
        return tap_done();
}
