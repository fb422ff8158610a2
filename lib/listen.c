/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "listen.h"
#include "parse.h"
#include "util.h"

static int parse_port(const char *s, uint16_t *ret)
{
        uint32_t p;

        if (parse_uint32(s, &p) < 0 || p == 0 || p > 65535)
                return -EINVAL;
        *ret = (uint16_t)p;
        return 0;
}

int listen_address_parse(const char *s, ListenAddress *ret, const char **ret_error)
{
        ListenAddress a = {};
        uint16_t port;

        if (s[0] == '/') {
                struct sockaddr_un *un = (struct sockaddr_un *)&a.addr;
                size_t n = strlen(s);

                if (n >= sizeof(un->sun_path)) {
                        *ret_error = "unix socket path too long (107 bytes at most)";
                        return -EINVAL;
                }
                un->sun_family = AF_UNIX;
                memcpy(un->sun_path, s, n + 1);
                a.family = AF_UNIX;
                a.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        } else if (s[0] == '[') {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.addr;
                const char *close = strchr(s, ']');
                _cleanup_free_ char *host = close ? xstrndup(s + 1, (size_t)(close - s - 1)) : NULL;

                if (!close || close[1] != ':' || inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) {
                        *ret_error = "expected [IPV6]:PORT";
                        return -EINVAL;
                }
                if (parse_port(close + 2, &port) < 0) {
                        *ret_error = "invalid port (expected 1-65535)";
                        return -EINVAL;
                }
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                a.family = AF_INET6;
                a.len = sizeof(*in6);
        } else if (strchr(s, ':')) {
                struct sockaddr_in *in = (struct sockaddr_in *)&a.addr;
                const char *colon = strrchr(s, ':');
                _cleanup_free_ char *host = xstrndup(s, (size_t)(colon - s));

                if (inet_pton(AF_INET, host, &in->sin_addr) != 1) {
                        *ret_error = "expected PORT, IPV4:PORT, [IPV6]:PORT or an absolute path";
                        return -EINVAL;
                }
                if (parse_port(colon + 1, &port) < 0) {
                        *ret_error = "invalid port (expected 1-65535)";
                        return -EINVAL;
                }
                in->sin_family = AF_INET;
                in->sin_port = htons(port);
                a.family = AF_INET;
                a.len = sizeof(*in);
        } else {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.addr;

                if (parse_port(s, &port) < 0) {
                        *ret_error = "expected PORT (1-65535), IPV4:PORT, [IPV6]:PORT or an absolute path";
                        return -EINVAL;
                }
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons(port);
                in6->sin6_addr = in6addr_any;
                a.family = AF_UNSPEC;
                a.len = sizeof(*in6);
        }
        *ret = a;
        return 0;
}

static const char *key_of(int type)
{
        return type == SOCK_STREAM ? "ListenStream" : "ListenDatagram";
}

/* A stale unix socket file goes; anything else at the path stays, and the
 * bind then fails with EADDRINUSE, which names the problem well enough. */
static void remove_stale_socket(const char *path)
{
        struct stat st;

        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
                (void)unlink(path);
}

int listen_open(const char *spec, int type, mode_t mode, int *ret_fd, char **ret_error)
{
        _cleanup_close_ int fd = -1;
        const char *err, *step;
        ListenAddress a;
        int one = 1, zero = 0, r;

        if (listen_address_parse(spec, &a, &err) < 0) {
                *ret_error = xasprintf("%s=%s: %s", key_of(type), spec, err);
                return -EINVAL;
        }
        step = "socket";
        fd = socket(a.family == AF_UNSPEC ? AF_INET6 : a.family, type | SOCK_CLOEXEC, 0);
        if (fd < 0 && a.family == AF_UNSPEC && errno == EAFNOSUPPORT) {
                /* No IPv6 in this kernel: every IPv4 address, then. */
                struct sockaddr_in *in = (struct sockaddr_in *)&a.addr;
                uint16_t port = ((struct sockaddr_in6 *)&a.addr)->sin6_port;

                memset(&a.addr, 0, sizeof(a.addr));
                in->sin_family = AF_INET;
                in->sin_port = port;
                in->sin_addr.s_addr = htonl(INADDR_ANY);
                a.len = sizeof(*in);
                a.family = AF_INET;
                fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
        }
        if (fd < 0)
                goto fail;
        step = "setsockopt";
        if (a.family != AF_UNIX && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
                goto fail;
        if (a.family == AF_UNSPEC && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
                goto fail;
        if (a.family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)
                goto fail;
        if (a.family == AF_UNIX)
                remove_stale_socket(((struct sockaddr_un *)&a.addr)->sun_path);
        step = "bind";
        if (bind(fd, (struct sockaddr *)&a.addr, a.len) < 0)
                goto fail;
        step = "chmod";
        if (a.family == AF_UNIX && chmod(((struct sockaddr_un *)&a.addr)->sun_path, mode) < 0)
                goto fail;
        step = "listen";
        if (type == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)
                goto fail;
        *ret_fd = TAKE_FD(fd);
        return 0;
fail:
        r = -errno;
        *ret_error = xasprintf("%s=%s: %s: %s", key_of(type), spec, step, strerror(errno));
        return r;
}

bool listen_fd_matches(int fd, const char *spec, int type)
{
        struct sockaddr_storage got = {};
        socklen_t len = sizeof(got), tlen = sizeof(int);
        const char *err;
        ListenAddress a;
        int t;

        if (listen_address_parse(spec, &a, &err) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &tlen) < 0 || t != type ||
            getsockname(fd, (struct sockaddr *)&got, &len) < 0)
                return false;
        switch (a.family) {
        case AF_UNIX:
                return got.ss_family == AF_UNIX &&
                       streq(((struct sockaddr_un *)&got)->sun_path, ((struct sockaddr_un *)&a.addr)->sun_path);
        case AF_INET:
                return got.ss_family == AF_INET &&
                       memcmp(&((struct sockaddr_in *)&got)->sin_addr, &((struct sockaddr_in *)&a.addr)->sin_addr,
                              sizeof(struct in_addr)) == 0 &&
                       ((struct sockaddr_in *)&got)->sin_port == ((struct sockaddr_in *)&a.addr)->sin_port;
        case AF_INET6:
                return got.ss_family == AF_INET6 &&
                       memcmp(&((struct sockaddr_in6 *)&got)->sin6_addr,
                              &((struct sockaddr_in6 *)&a.addr)->sin6_addr, sizeof(struct in6_addr)) == 0 &&
                       ((struct sockaddr_in6 *)&got)->sin6_port == ((struct sockaddr_in6 *)&a.addr)->sin6_port;
        default: /* PORT alone: dual stack, or IPv4 where there is no IPv6 */
                if (got.ss_family == AF_INET6)
                        return memcmp(&((struct sockaddr_in6 *)&got)->sin6_addr, &in6addr_any,
                                      sizeof(struct in6_addr)) == 0 &&
                               ((struct sockaddr_in6 *)&got)->sin6_port ==
                                       ((struct sockaddr_in6 *)&a.addr)->sin6_port;
                return got.ss_family == AF_INET &&
                       ((struct sockaddr_in *)&got)->sin_addr.s_addr == htonl(INADDR_ANY) &&
                       ((struct sockaddr_in *)&got)->sin_port == ((struct sockaddr_in6 *)&a.addr)->sin6_port;
        }
}
