/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "readiness.h"
#include "parse.h"
#include "util.h"

void notify_message_done(NotifyMessage *m)
{
        free(m->status);
        m->status = NULL;
        free(m->fdname);
        m->fdname = NULL;
}

bool fdname_is_valid(const char *s)
{
        const char *p;

        if (!s)
                return false;
        for (p = s; *p; p++)
                if (*p < ' ' || *p > '~' || *p == ':')
                        return false;
        return p - s <= NOTIFY_FDNAME_MAX;
}

/* STATUS= text goes to operators' terminals: no control characters. */
static char *sanitized(const char *s, size_t n)
{
        char *t = xstrndup(s, n);

        for (char *p = t; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
        return t;
}

static int parse_field(NotifyMessage *m, const char *key, size_t klen, const char *v, size_t vlen)
{
        _cleanup_free_ char *value = xstrndup(v, vlen);
        uint64_t u;
        uint32_t e;

#define IS(k) (klen == strlen(k) && memcmp(key, k, klen) == 0)
        if (IS("READY") || IS("RELOADING") || IS("STOPPING") || IS("FDSTORE") || IS("FDSTOREREMOVE")) {
                bool *flag = IS("READY") ? &m->ready : IS("RELOADING") ? &m->reloading
                           : IS("STOPPING") ? &m->stopping : IS("FDSTORE") ? &m->fdstore
                           : &m->fdstore_remove;
                if (!streq(value, "1"))
                        return -EINVAL;
                *flag = true;
        } else if (IS("STATUS")) {
                free(m->status);
                m->status = sanitized(v, vlen);
        } else if (IS("FDNAME")) {
                if (!fdname_is_valid(value))
                        return -EINVAL;
                free(m->fdname);
                m->fdname = TAKE_PTR(value);
        } else if (IS("WATCHDOG")) {
                if (streq(value, "1"))
                        m->watchdog_ping = true;
                else if (streq(value, "trigger"))
                        m->watchdog_trigger = true;
                else
                        return -EINVAL;
        } else if (IS("WATCHDOG_USEC")) {
                if (parse_uint64(value, &u) < 0 || u == 0)
                        return -EINVAL;
                m->watchdog_usec = u;
        } else if (IS("EXTEND_TIMEOUT_USEC")) {
                if (parse_uint64(value, &u) < 0)
                        return -EINVAL;
                m->has_extend = true;
                m->extend_usec = u;
        } else if (IS("ERRNO")) {
                if (parse_uint32(value, &e) < 0 || e > 4095)
                        return -EINVAL;
                m->has_errno = true;
                m->errno_value = (int)e;
        }
#undef IS
        return 0;
}

int notify_parse(const char *buf, size_t len, NotifyMessage *ret, char **ret_error)
{
        NotifyMessage m = {};
        const char *p = buf, *end = buf + len;

        if (memchr(buf, '\0', len)) {
                *ret_error = xstrdup("a NUL byte in the message");
                return -EINVAL;
        }
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;
                const char *eq = memchr(p, '=', (size_t)(eol - p));

                if (eq && parse_field(&m, p, (size_t)(eq - p), eq + 1, (size_t)(eol - eq - 1)) < 0) {
                        _cleanup_free_ char *field = sanitized(p, (size_t)(eol - p));
                        *ret_error = xasprintf("invalid field `%.64s`", field);
                        notify_message_done(&m);
                        return -EINVAL;
                }
                p = eol + 1;
        }
        *ret = m;
        return 0;
}

int notify_socket_open(const char *dir, int *ret_fd, char **ret_error)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        int r, one = 1;

        r = mkdir_p(dir, 0755);
        if (r < 0) {
                *ret_error = xasprintf("directory `%s`: %s", dir, strerror(-r));
                return r;
        }
        if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir) >=
            sizeof(sa.sun_path)) {
                *ret_error = xasprintf("notify socket `%s/notify`: path too long", dir);
                return -ENAMETOOLONG;
        }
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0)
                goto fail;
        if (unlink(sa.sun_path) < 0 && errno != ENOENT)
                goto fail;
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(sa.sun_path, 0666) < 0)
                goto fail;
        *ret_fd = TAKE_FD(fd);
        return 0;
fail:
        r = -errno;
        *ret_error = xasprintf("notify socket `%s`: %s", sa.sun_path, strerror(errno));
        return r;
}

ssize_t notify_receive(int fd, char *buf, pid_t *ret_pid, int fds[NOTIFY_FDS_MAX], unsigned *ret_nfds)
{
        /* Room for the credentials and for as many fds as one message carries
         * (SCM_MAX_FD): whatever else comes is truncated, and closed by the
         * kernel. */
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(NOTIFY_FDS_MAX * sizeof(int))];
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = NOTIFY_MESSAGE_MAX + 1 };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        const struct ucred *cred = NULL;
        ssize_t n;

        *ret_nfds = 0;
        n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
        if (n < 0)
                return errno == EINTR || errno == EWOULDBLOCK ? -EAGAIN : -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET)
                        continue;
                if (c->cmsg_type == SCM_RIGHTS) {
                        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        if (k > NOTIFY_FDS_MAX - *ret_nfds)
                                k = NOTIFY_FDS_MAX - *ret_nfds;
                        memcpy(fds + *ret_nfds, CMSG_DATA(c), k * sizeof(int));
                        *ret_nfds += (unsigned)k;
                } else if (c->cmsg_type == SCM_CREDENTIALS &&
                           c->cmsg_len == CMSG_LEN(sizeof(struct ucred)))
                        cred = (const struct ucred *)(void *)CMSG_DATA(c);
        }
        if (n > NOTIFY_MESSAGE_MAX || (mh.msg_flags & MSG_TRUNC))
                return -EMSGSIZE;
        if (!cred || cred->pid <= 0)
                return -EBADMSG;
        *ret_pid = cred->pid;
        return n;
}
