/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A tiny HTTP/1.0 responder, statically linked so that it runs in the busybox
 * images of contrib/demo and tests/bench/socket-restart:
 *
 *   http-responder [PORT]
 *
 * Socket activated (LISTEN_PID is its own PID and LISTEN_FDS >= 1, systemd's
 * protocol, sd_listen_fds(3)), it accepts on fd 3; otherwise it binds PORT
 * (default 8080) on every IPv4 address itself, as a server without socket
 * activation does. To every request it answers
 *
 *   HTTP/1.0 200 OK ... "hello from PID N (socket-activated|own socket)\n"
 *
 * one connection at a time. SIGTERM or SIGINT ends it gracefully: the
 * connection being served is answered first, and connections still waiting
 * in the backlog stay there for the next server on the same socket.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
        (void)sig;
        stopping = 1;
}

/* fd 3 when the protocol hands it to this process, else -1 */
static int listen_fd_from_env(void)
{
        const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
        char *end;
        long n;

        if (!pid || !fds)
                return -1;
        errno = 0;
        if (strtol(pid, &end, 10) != (long)getpid() || *end || errno)
                return -1;
        n = strtol(fds, &end, 10);
        if (n < 1 || *end)
                return -1;
        return 3;
}

static int bind_own(int port)
{
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_ANY) };
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
                fprintf(stderr, "http-responder: port %d: %m\n", port);
                exit(1);
        }
        return fd;
}

/* one request: read up to the end of its header (or 1 s), answer, close */
static void serve(int c, const char *how)
{
        char req[4096], body[128], resp[512];
        size_t got = 0;
        int n;

        while (got < sizeof(req) - 1) {
                struct pollfd p = { .fd = c, .events = POLLIN };
                ssize_t r;

                if (poll(&p, 1, 1000) <= 0)
                        break;
                r = read(c, req + got, sizeof(req) - 1 - got);
                if (r <= 0)
                        break;
                got += (size_t)r;
                req[got] = '\0';
                if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
                        break;
        }
        n = snprintf(body, sizeof(body), "hello from PID %d (%s)\n", (int)getpid(), how);
        n = snprintf(resp, sizeof(resp),
                     "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     "Connection: close\r\n\r\n%s", n, body);
        (void)!write(c, resp, (size_t)n);
        close(c);
}

int main(int argc, char **argv)
{
        struct sigaction sa = { .sa_handler = on_stop };
        int fd = listen_fd_from_env();
        const char *how = "socket-activated";
        sigset_t stop, waiting;

        /* blocked but while waiting in ppoll(): no stop signal is missed */
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        sigprocmask(SIG_BLOCK, &stop, &waiting);
        sigdelset(&waiting, SIGTERM);
        sigdelset(&waiting, SIGINT);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        if (fd < 0) {
                fd = bind_own(argc > 1 ? atoi(argv[1]) : 8080);
                how = "own socket";
        }
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
        while (!stopping) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int c;

                if (ppoll(&p, 1, NULL, &waiting) < 0) {
                        if (errno == EINTR)
                                continue;
                        fprintf(stderr, "http-responder: poll: %m\n");
                        return 1;
                }
                c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        fprintf(stderr, "http-responder: accept: %m\n");
                        return 1;
                }
                serve(c, how);
        }
        return 0;
}
