/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A client of the fd store for tests/integration/sup-fdstore.bats, built on
 * libsystemd (sd_listen_fds_with_names(3), sd_pid_notify_with_fds(3),
 * sd_notify_barrier(3)): what real services use. Dynamically linked: the
 * test copies it into the image with its libraries.
 *
 * At its start it writes DIR/fds: "LISTEN_FDS=N", then one line per fd it
 * got, "NAME WHAT" (WHAT: the first bytes of a memfd or file, "socket", or
 * "-"), and sends READY=1. Then it runs the commands the test puts in
 * DIR/cmd, one a line, and renames that file DIR/ack once they are done and
 * ccsupd has read every message (sd_notify_barrier):
 *   store NAME TEXT   a memfd holding TEXT, FDSTORE=1 with FDNAME=NAME
 *   store - TEXT      the same without FDNAME= ("stored")
 *   twice NAME TEXT   one memfd passed twice in one datagram
 *   remove NAME       FDSTOREREMOVE=1 with FDNAME=NAME
 *   flood N           N fds of /dev/null with FDSTORE=1, FDNAME=flood, in
 *                     datagrams of 253 (SCM_MAX_FD)
 *   raw TEXT          TEXT ("\n" for newlines) with one fd of /dev/null
 * SIGTERM ends it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static const char *dir = "/ctl";

static void on_term(int sig)
{
        (void)sig;
        _exit(0);
}

static void die(const char *what, int r)
{
        fprintf(stderr, "fdstore-client: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(1);
}

static void report(int n, char **names)
{
        char path[256], tmp[256];
        FILE *f;

        snprintf(path, sizeof(path), "%s/fds", dir);
        snprintf(tmp, sizeof(tmp), "%s/fds.tmp", dir);
        f = fopen(tmp, "w");
        if (!f)
                die(tmp, errno);
        fprintf(f, "LISTEN_FDS=%d\n", n);
        for (int i = 0; i < n; i++) {
                int fd = SD_LISTEN_FDS_START + i;
                struct stat st;
                char buf[64] = "-";
                ssize_t k;

                if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
                        strcpy(buf, "socket");
                else if ((k = pread(fd, buf, sizeof(buf) - 1, 0)) > 0)
                        buf[k] = '\0';
                else
                        strcpy(buf, "-");
                fprintf(f, "%s %s\n", names && names[i] ? names[i] : "?", buf);
        }
        if (fclose(f) != 0 || rename(tmp, path) < 0)
                die(path, errno);
}

static int memfd_with(const char *text)
{
        int fd = memfd_create("fdstore-client", MFD_CLOEXEC);

        if (fd < 0)
                die("memfd_create", errno);
        if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
                die("write", errno);
        return fd;
}

static void send_fds(const char *state, const int *fds, unsigned n)
{
        int r;

        /* The kernel bounds the fds in flight per user (ETOOMANYREFS):
         * wait for ccsupd to read them. */
        for (int i = 0; (r = sd_pid_notify_with_fds(0, 0, state, fds, n)) == -ETOOMANYREFS && i < 500; i++)
                usleep(10000);

        if (r <= 0)
                die("sd_pid_notify_with_fds", r < 0 ? r : ENOTCONN);
}

static void run(char *line)
{
        char *cmd = strtok(line, " \n"), *a = strtok(NULL, " \n"), *b = strtok(NULL, "\n");
        char msg[512];

        if (!cmd)
                return;
        if (!strcmp(cmd, "store") || !strcmp(cmd, "twice")) {
                int fd = memfd_with(b ? b : ""), two[2] = { fd, fd };
                if (a && strcmp(a, "-"))
                        snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", a);
                else
                        snprintf(msg, sizeof(msg), "FDSTORE=1");
                send_fds(msg, two, !strcmp(cmd, "twice") ? 2 : 1);
                close(fd);
        } else if (!strcmp(cmd, "remove")) {
                snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", a ? a : "");
                send_fds(msg, NULL, 0);
        } else if (!strcmp(cmd, "flood")) {
                int left = a ? atoi(a) : 0, fds[253];
                while (left > 0) {
                        int k = left > 253 ? 253 : left;
                        for (int i = 0; i < k; i++)
                                if ((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
                                        die("/dev/null", errno);
                        send_fds("FDSTORE=1\nFDNAME=flood", fds, (unsigned)k);
                        for (int i = 0; i < k; i++)
                                close(fds[i]);
                        left -= k;
                }
        } else if (!strcmp(cmd, "raw")) {
                int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), k = 0;
                for (const char *p = a ? a : ""; *p && k < (int)sizeof(msg) - 1; p++) {
                        if (p[0] == '\\' && p[1] == 'n') {
                                msg[k++] = '\n';
                                p++;
                        } else
                                msg[k++] = *p;
                }
                msg[k] = '\0';
                send_fds(msg, &fd, 1);
                close(fd);
        } else
                fprintf(stderr, "fdstore-client: unknown command `%s`\n", cmd);
}

int main(int argc, char **argv)
{
        char **names = NULL, cmd[256], ack[256], line[1024];
        int n, r;

        signal(SIGTERM, on_term);
        if (argc > 1)
                dir = argv[1];
        n = sd_listen_fds_with_names(1, &names);
        if (n < 0)
                die("sd_listen_fds_with_names", n);
        report(n, names);
        r = sd_notify(0, "READY=1");
        if (r <= 0)
                die("sd_notify", r < 0 ? r : ENOTCONN);
        snprintf(cmd, sizeof(cmd), "%s/cmd", dir);
        snprintf(ack, sizeof(ack), "%s/ack", dir);
        for (;;) {
                FILE *f = fopen(cmd, "r");

                if (!f) {
                        usleep(20000);
                        continue;
                }
                while (fgets(line, sizeof(line), f))
                        run(line);
                fclose(f);
                r = sd_notify_barrier(0, 5 * 1000000ULL);
                if (r < 0)
                        die("sd_notify_barrier", r);
                if (rename(cmd, ack) < 0)
                        die(ack, errno);
        }
}
