/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The containers' side of systemd's notify protocol (sd_notify(3); UNITS.md,
 * "Readiness"): the datagram socket a Notify=yes container reports to, and
 * the parsing of its messages. No loop, no unit: supervisor/daemon/manager.c reads
 * the socket from its loop and acts on what notify_parse() found.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One datagram at most this long is read; a longer one is dropped. */
#define NOTIFY_MESSAGE_MAX 4096

typedef struct NotifyMessage {
        bool ready;             /* READY=1 */
        bool reloading;         /* RELOADING=1 */
        bool stopping;          /* STOPPING=1 */
        bool watchdog_ping;     /* WATCHDOG=1 */
        bool watchdog_trigger;  /* WATCHDOG=trigger */
        uint64_t watchdog_usec; /* WATCHDOG_USEC=: a new interval; 0 = not given */
        bool has_extend;
        uint64_t extend_usec;   /* EXTEND_TIMEOUT_USEC= */
        char *status;           /* STATUS=; NULL = not given */
        bool has_errno;
        int errno_value;        /* ERRNO= */
        bool fdstore;           /* FDSTORE=1: keep the fds that came with it */
        bool fdstore_remove;    /* FDSTOREREMOVE=1: drop the kept fds named FDNAME= */
        char *fdname;           /* FDNAME=; NULL = not given */
} NotifyMessage;

/* The longest FDNAME= (systemd's FDNAME_MAX). */
#define NOTIFY_FDNAME_MAX 255

/*
 * As systemd's fdname_is_valid(): printable ASCII but ':' (the separator of
 * LISTEN_FDNAMES), NOTIFY_FDNAME_MAX characters at most; "" is valid.
 */
bool fdname_is_valid(const char *s);

/*
 * Parses one datagram of len bytes: newline-separated KEY=VALUE fields.
 * Unknown fields and lines without '=' are ignored (the protocol grows);
 * a NUL byte or a known field with an invalid value makes the whole
 * datagram malformed: -EINVAL, *ret untouched, *ret_error says which field.
 */
int notify_parse(const char *buf, size_t len, NotifyMessage *ret, char **ret_error);
void notify_message_done(NotifyMessage *m);

/*
 * (Re)creates DIR (0755) and the datagram socket DIR/notify in it (0666: the
 * container's user need not be root), SO_PASSCRED on, non-blocking,
 * close-on-exec. A socket file left there by an earlier ccsupd is replaced.
 */
int notify_socket_open(const char *dir, int *ret_fd, char **ret_error);

/* At most this many fds come with one datagram (the kernel's SCM_MAX_FD). */
#define NOTIFY_FDS_MAX 253

/*
 * Reads one datagram into buf (NOTIFY_MESSAGE_MAX + 1 bytes), and the fds
 * that came with it (close-on-exec) into fds, *ret_nfds of them, which the
 * caller closes -- after it has checked the sender: closing the fd of
 * BARRIER=1 is what lets sd_notify_barrier() return and its process exit.
 * Returns the length, -EAGAIN when none is queued, -EMSGSIZE when it was
 * longer than NOTIFY_MESSAGE_MAX, -EBADMSG when it carried no sender
 * credentials (fds are returned in these two cases too).
 */
ssize_t notify_receive(int fd, char *buf, pid_t *ret_pid, int fds[NOTIFY_FDS_MAX], unsigned *ret_nfds);
