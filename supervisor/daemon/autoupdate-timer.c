/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "autoupdate-timer.h"
#include "autoupdate.h"
#include "log.h"
#include "registry.h"
#include "util.h"

struct AutoUpdateTimer {
        struct ev_loop *loop;
        ev_timer timer;
        ev_io io;
        char *socket_path, *state_dir;
        int pidfd, out_fd;
};

static char *bus_address(const char *path)
{
        char *a = xmalloc(strlen("unix:path=") + 3 * strlen(path) + 1), *p = stpcpy(a, "unix:path=");

        for (const unsigned char *s = (const unsigned char *)path; *s; s++)
                if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                    strchr("/_.-", *s))
                        *p++ = (char)*s;
                else
                        p += sprintf(p, "%%%02x", *s);
        *p = 0;
        return a;
}

int auto_update_connect(const char *socket_path, sd_bus **ret)
{
        _cleanup_free_ char *address = bus_address(socket_path);
        sd_bus *bus = NULL;
        int r;

        if ((r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_address(bus, address)) < 0 ||
            (r = sd_bus_start(bus)) < 0) {
                sd_bus_unref(bus);
                return r;
        }
        *ret = bus;
        return 0;
}

FILE *helper_child_begin(int out_fd)
{
        sigset_t none;
        FILE *f;

        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        f = fdopen(out_fd, "w");
        if (!f)
                _exit(1);
        return f;
}

static void child(AutoUpdateTimer *t, int out)
{
        sd_bus *bus = NULL;
        FILE *f = helper_child_begin(out);
        int r;

        if ((r = auto_update_connect(t->socket_path, &bus)) < 0) {
                fprintf(f, "cannot reach the control socket %s: %s\n", t->socket_path, strerror(-r));
                r = 1;
        } else {
                r = auto_update_run(bus, t->state_dir, NULL, false, registry_defaults(), f, f);
                sd_bus_flush_close_unref(bus);
        }
        fclose(f);
        _exit(r);
}

static void on_done(struct ev_loop *loop, ev_io *w, int revents)
{
        AutoUpdateTimer *t = w->data;
        _cleanup_free_ char *out = NULL;
        siginfo_t si = {};
        size_t n = 0;

        (void)revents;
        ev_io_stop(loop, w);
        (void)read_full_fd(t->out_fd, 1024 * 1024, &out, &n);
        while (waitid(P_PIDFD, (id_t)t->pidfd, &si, WEXITED) < 0 && errno == EINTR)
                ;
        t->pidfd = safe_close(t->pidfd);
        t->out_fd = safe_close(t->out_fd);
        for (char *line = out, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (*line)
                        log_msg(LOG_INFO, "auto-update: %s", line);
        }
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        AutoUpdateTimer *t = w->data;
        int p[2];
        pid_t pid;

        (void)revents;
        if (t->pidfd >= 0)
                return; /* the last round still runs */
        if (pipe2(p, O_CLOEXEC) < 0) {
                log_msg(LOG_WARNING, "auto-update: pipe: %s", strerror(errno));
                return;
        }
        pid = fork();
        if (pid < 0) {
                log_msg(LOG_WARNING, "auto-update: fork: %s", strerror(errno));
                safe_close(p[0]);
                safe_close(p[1]);
                return;
        }
        if (pid == 0) {
                safe_close(p[0]);
                child(t, p[1]);
        }
        safe_close(p[1]);
        t->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (t->pidfd < 0) {
                log_msg(LOG_WARNING, "auto-update: pidfd_open: %s", strerror(errno));
                kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                safe_close(p[0]);
                return;
        }
        t->out_fd = p[0];
        ev_io_init(&t->io, on_done, t->pidfd, EV_READ);
        t->io.data = t;
        ev_io_start(loop, &t->io);
}

AutoUpdateTimer *auto_update_timer_new(struct ev_loop *loop, const char *socket_path, const char *state_dir,
                                       uint64_t interval_usec)
{
        AutoUpdateTimer *t = xcalloc(1, sizeof(*t));
        double secs = (double)interval_usec / 1e6;

        t->loop = loop;
        t->socket_path = xstrdup(socket_path);
        t->state_dir = xstrdup(state_dir);
        t->pidfd = t->out_fd = -1;
        ev_timer_init(&t->timer, on_timer, secs, secs);
        t->timer.data = t;
        ev_timer_start(loop, &t->timer);
        return t;
}

AutoUpdateTimer *auto_update_timer_free(AutoUpdateTimer *t)
{
        if (!t)
                return NULL;
        ev_timer_stop(t->loop, &t->timer);
        if (t->pidfd >= 0) {
                siginfo_t si;
                ev_io_stop(t->loop, &t->io);
                (void)syscall(SYS_pidfd_send_signal, t->pidfd, SIGKILL, NULL, 0);
                while (waitid(P_PIDFD, (id_t)t->pidfd, &si, WEXITED) < 0 && errno == EINTR)
                        ;
        }
        safe_close(t->pidfd);
        safe_close(t->out_fd);
        free(t->socket_path);
        free(t->state_dir);
        free(t);
        return NULL;
}
