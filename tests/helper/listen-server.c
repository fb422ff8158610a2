/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A socket-activated server for tests/integration/sup-socket.bats, built on
 * libsystemd's own sd_listen_fds_with_names(3) (the library real services
 * use): it exits 3 unless LISTEN_PID and LISTEN_FDS hand it sockets. To
 * every connection or datagram it answers one line:
 *   NAME PID=P FDS=N INODE=I
 * NAME from LISTEN_FDNAMES, P its own PID, N the number of fds, I the inode
 * of the socket that received it (the same socket across restarts has the
 * same inode). Dynamically linked: the test copies it into the image with
 * its libraries. SIGTERM ends it.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static void on_term(int sig)
{
        (void)sig;
        _exit(0);
}

int main(void)
{
        char **names = NULL, line[512], buf[512];
        struct pollfd pfd[64];
        int n = sd_listen_fds_with_names(1, &names);

        /* PID 1 of its container: SIGTERM needs a handler to stop it. */
        signal(SIGTERM, on_term);
        if (n <= 0 || n > 64) {
                fprintf(stderr, "listen-server: sd_listen_fds: %d\n", n);
                return 3;
        }
        for (int i = 0; i < n; i++)
                pfd[i] = (struct pollfd){ .fd = SD_LISTEN_FDS_START + i, .events = POLLIN };
        printf("listen-server: %d sockets\n", n);
        fflush(stdout);
        for (;;) {
                if (poll(pfd, (nfds_t)n, -1) < 0)
                        return 1;
                for (int i = 0; i < n; i++) {
                        struct stat st;
                        int fd = pfd[i].fd;

                        if (!(pfd[i].revents & POLLIN))
                                continue;
                        fstat(fd, &st);
                        snprintf(line, sizeof(line), "%s PID=%d FDS=%d INODE=%lu\n", names[i],
                                 (int)getpid(), n, (unsigned long)st.st_ino);
                        if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0) {
                                int c = accept(fd, NULL, NULL);
                                if (c >= 0) {
                                        (void)!write(c, line, strlen(line));
                                        close(c);
                                }
                        } else {
                                struct sockaddr_storage from;
                                socklen_t len = sizeof(from);
                                if (recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len) >= 0)
                                        (void)sendto(fd, line, strlen(line), 0, (struct sockaddr *)&from, len);
                        }
                }
        }
}
