/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "health.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* What a check keeps of its output, as Docker does. */
#define HEALTH_OUTPUT_MAX 4096
/* How long health_free() waits for a killed relay to be reapable. */
#define HEALTH_REAP_WAIT_MS 1000

typedef enum HealthKind {
        HEALTH_EXEC,
        HEALTH_HTTP,
        HEALTH_TCP,
} HealthKind;

struct HealthCheck {
        Unit *u;
        struct ev_loop *loop;
        HealthKind kind;
        char **argv;               /* Exec= or the image's */
        HealthTarget target;       /* HTTP=, TCP= */
        uint64_t interval_usec, timeout_usec, start_period_usec, start_interval_usec;
        unsigned retries;
        uint64_t started_usec;     /* monotonic: the start of the run */
        SpawnPlan *plan;           /* for Exec= in a re-adopted container (no launch plan) */

        HealthStatus status;
        bool ever_healthy;
        bool halted;
        unsigned failures;         /* consecutive, counted ones */
        uint64_t count;

        ev_timer timer;            /* idle: the next check; running: its timeout */
        bool running;
        bool timed_out;

        /* HTTP=, TCP= */
        int sock;
        ev_io sock_io;
        bool request_sent;

        /* Exec= */
        SpawnExec exec;
        ev_io exec_io, out_io;
        int out_fd;

        char buf[HEALTH_OUTPUT_MAX + 1];
        size_t len;

        char *last_output;
        uint64_t last_realtime;
        bool last_ok;
};

static const char *const health_status_table[_HEALTH_STATUS_MAX] = {
        [HEALTH_STATUS_STARTING] = "starting",
        [HEALTH_STATUS_HEALTHY] = "healthy",
        [HEALTH_STATUS_UNHEALTHY] = "unhealthy",
};

const char *health_status_to_string(HealthStatus s)
{
        return s >= 0 && s < _HEALTH_STATUS_MAX ? health_status_table[s] : NULL;
}

static const SpawnImageHealth *image_health(const Unit *u)
{
        const SpawnImageHealth *ih = u->plan ? spawn_plan_image_health(u->plan) : NULL;
        return ih && ih->argv && ih->argv[0] ? ih : NULL;
}

bool health_wanted(const Unit *u)
{
        const UnitConfig *c = u->config;

        if (!c)
                return false;
        return c->health_exec || c->health_http || c->health_tcp || image_health(u);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void on_sock(struct ev_loop *loop, ev_io *w, int revents);
static void on_exec(struct ev_loop *loop, ev_io *w, int revents);
static void on_output(struct ev_loop *loop, ev_io *w, int revents);

static bool in_start_period(const HealthCheck *h)
{
        return !h->ever_healthy && now_usec_monotonic() < h->started_usec + h->start_period_usec;
}

static void arm(HealthCheck *h, uint64_t usec)
{
        ev_timer_stop(h->loop, &h->timer);
        ev_now_update(h->loop);
        ev_timer_set(&h->timer, (double)usec / 1e6, 0.);
        ev_timer_start(h->loop, &h->timer);
}

static void schedule_next(HealthCheck *h)
{
        if (h->halted)
                return;
        arm(h, in_start_period(h) ? h->start_interval_usec : h->interval_usec);
}

/* The first line, printable, for `status`. */
static char *first_line(const char *s, size_t n)
{
        size_t l = 0;

        while (l < n && s[l] != '\n' && s[l] != '\r')
                l++;
        char *r = xstrndup(s, l);
        for (char *p = r; *p; p++)
                if ((unsigned char)*p < ' ' || *p == 0x7f)
                        *p = '?';
        return r;
}

/* One check ended: count it, give the verdict, plan the next one. */
static void record(HealthCheck *h, bool ok, char *output)
{
        HealthStatus old = h->status;
        bool grace = in_start_period(h);

        h->running = false;
        ev_timer_stop(h->loop, &h->timer);
        free(h->last_output);
        h->last_output = output;
        h->last_realtime = now_usec_realtime();
        h->last_ok = ok;
        if (ok) {
                h->failures = 0;
                h->ever_healthy = true;
                h->status = HEALTH_STATUS_HEALTHY;
        } else if (!grace && ++h->failures >= h->retries)
                h->status = HEALTH_STATUS_UNHEALTHY;
        log_unit(ok ? LOG_DEBUG : LOG_INFO, h->u->name, "health check %s%s: %s", ok ? "passed" : "failed",
                 !ok && grace ? " (start period: not counted)" : "", h->last_output);
        schedule_next(h);
        /* Last: the manager may halt this check (a stop). */
        manager_unit_health_changed(h->u, old, h->status);
}

/* ------------------------------------------------------------------ HTTP=, TCP= */

static void sock_close(HealthCheck *h)
{
        ev_io_stop(h->loop, &h->sock_io);
        h->sock = safe_close(h->sock);
}

/* A socket of the container's network namespace: ccsupd enters it for the
 * socket() call only. Failing to come back is not survivable. */
static int socket_in_netns(HealthCheck *h, int family)
{
        /* ccsupd's own namespace, opened once: it never changes. */
        static int own = -1;
        Unit *u = h->u;
        _cleanup_close_ int target = -1;
        int fd, saved;

        target = spawn_open_netns(u->run.pidfd, u->run.pid);
        if (target < 0)
                return target;
        if (own < 0 && (own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
                return -errno;
        if (setns(target, CLONE_NEWNET) < 0)
                return -errno;
        fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        saved = errno;
        if (setns(own, CLONE_NEWNET) < 0) {
                log_unit(LOG_CRIT, u->name, "health check: cannot return to ccsupd's network namespace: %m");
                abort();
        }
        return fd < 0 ? -saved : fd;
}

static void net_start(HealthCheck *h)
{
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } a = {};
        socklen_t alen;
        int fd;

        fd = socket_in_netns(h, h->target.family);
        if (fd < 0) {
                record(h, false, xasprintf("socket in the container's network namespace: %s", strerror(-fd)));
                return;
        }
        if (h->target.family == AF_INET6) {
                a.in6.sin6_family = AF_INET6;
                a.in6.sin6_port = htons(h->target.port);
                memcpy(&a.in6.sin6_addr, h->target.addr, 16);
                alen = sizeof(a.in6);
        } else {
                a.in.sin_family = AF_INET;
                a.in.sin_port = htons(h->target.port);
                memcpy(&a.in.sin_addr, h->target.addr, 4);
                alen = sizeof(a.in);
        }
        h->sock = fd;
        h->request_sent = false;
        if (connect(fd, &a.sa, alen) < 0 && errno != EINPROGRESS) {
                int e = errno;
                sock_close(h);
                record(h, false, xasprintf("connect to %s:%u: %s", h->target.host, h->target.port, strerror(e)));
                return;
        }
        ev_io_set(&h->sock_io, fd, EV_WRITE);
        ev_io_start(h->loop, &h->sock_io);
}

/* "HTTP/1.x NNN ...": 2xx and 3xx are healthy. */
static bool http_status_ok(const char *line, int *ret_code)
{
        int code;

        if (!startswith(line, "HTTP/") || !strchr(line, ' '))
                return false;
        if (sscanf(strchr(line, ' '), " %3d", &code) != 1)
                return false;
        *ret_code = code;
        return code >= 200 && code < 400;
}

static void http_done(HealthCheck *h, bool eof)
{
        char *nl = memchr(h->buf, '\n', h->len);
        int code = 0;

        if (!nl && !eof && h->len < HEALTH_OUTPUT_MAX)
                return; /* more to come */
        sock_close(h);
        if (h->len == 0) {
                record(h, false, xasprintf("GET %s: the connection closed without a response", h->target.path));
                return;
        }
        char *line = first_line(h->buf, h->len);
        bool ok = http_status_ok(line, &code);
        record(h, ok, code ? xasprintf("GET %s: %s", h->target.path, line)
                           : xasprintf("GET %s: not an HTTP response: %s", h->target.path, line));
        free(line);
}

static void on_sock(struct ev_loop *loop, ev_io *w, int revents)
{
        HealthCheck *h = w->data;

        if (!h->request_sent) {
                int err = 0;
                socklen_t l = sizeof(err);
                if (getsockopt(h->sock, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                        err = errno;
                if (err) {
                        sock_close(h);
                        record(h, false, xasprintf("connect to %s:%u: %s", h->target.host, h->target.port,
                                                   strerror(err)));
                        return;
                }
                if (h->kind == HEALTH_TCP) {
                        sock_close(h);
                        record(h, true, xasprintf("connected to %s:%u", h->target.host, h->target.port));
                        return;
                }
                _cleanup_free_ char *req = xasprintf("GET %s HTTP/1.0\r\nHost: %s%s%s:%u\r\n"
                                                     "User-Agent: ccsupd-health\r\nConnection: close\r\n\r\n",
                                                     h->target.path, h->target.family == AF_INET6 ? "[" : "",
                                                     h->target.host, h->target.family == AF_INET6 ? "]" : "",
                                                     h->target.port);
                /* A fresh connection takes a request this small at once. */
                ssize_t n = send(h->sock, req, strlen(req), MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n != (ssize_t)strlen(req)) {
                        int e = n < 0 ? errno : EAGAIN;
                        sock_close(h);
                        record(h, false, xasprintf("GET %s: send: %s", h->target.path, strerror(e)));
                        return;
                }
                h->request_sent = true;
                h->len = 0;
                ev_io_stop(loop, w);
                ev_io_set(w, h->sock, EV_READ);
                ev_io_start(loop, w);
                return;
        }
        ssize_t n = recv(h->sock, h->buf + h->len, HEALTH_OUTPUT_MAX - h->len, MSG_DONTWAIT);
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return;
                int e = errno;
                sock_close(h);
                record(h, false, xasprintf("GET %s: %s", h->target.path, strerror(e)));
                return;
        }
        h->len += (size_t)n;
        http_done(h, n == 0);
}

/* ------------------------------------------------------------------ Exec= */

static void out_close(HealthCheck *h)
{
        ev_io_stop(h->loop, &h->out_io);
        h->out_fd = safe_close(h->out_fd);
}

/* Keeps the first HEALTH_OUTPUT_MAX bytes, drains the rest. */
static void out_read(HealthCheck *h)
{
        for (int i = 0; i < 64 && h->out_fd >= 0; i++) {
                char drain[4096];
                bool keep = h->len < HEALTH_OUTPUT_MAX;
                ssize_t n = read(h->out_fd, keep ? h->buf + h->len : drain,
                                 keep ? HEALTH_OUTPUT_MAX - h->len : sizeof(drain));
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0) {
                        out_close(h);
                        return;
                }
                if (keep)
                        h->len += (size_t)n;
        }
}

static void on_output(struct ev_loop *loop, ev_io *w, int revents)
{
        out_read(w->data);
}

static void exec_start(HealthCheck *h)
{
        Unit *u = h->u;
        SpawnExecTarget t = { .pidfd = u->run.pidfd, .pid = u->run.pid, .cgroup = u->run.cgroup };
        const SpawnPlan *plan = u->plan ? u->plan : h->plan;
        _cleanup_close_pair_ int pipefd[2] = { -1, -1 };
        _cleanup_free_ char *msg = NULL;
        int r;

        if (!plan) {
                SpawnOptions so;
                manager_spawn_options(u->manager, &so);
                r = spawn_prepare_exec(u->config, &so, &h->plan, &msg);
                if (r < 0) {
                        record(h, false, xasprintf("cannot prepare the command: %s", msg ? msg : strerror(-r)));
                        return;
                }
                plan = h->plan;
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0) {
                record(h, false, xasprintf("pipe: %m"));
                return;
        }
        h->len = 0;
        int stdio[3] = { u->manager->devnull, pipefd[1], pipefd[1] };
        r = spawn_exec(plan, &t, h->argv, stdio, &h->exec, &msg);
        if (r < 0) {
                record(h, false, xasprintf("%s", msg ? msg : strerror(-r)));
                return;
        }
        h->out_fd = TAKE_FD(pipefd[0]);
        (void)fcntl(h->out_fd, F_SETFL, O_NONBLOCK);
        ev_io_set(&h->out_io, h->out_fd, EV_READ);
        ev_io_start(h->loop, &h->out_io);
        ev_io_set(&h->exec_io, h->exec.pidfd, EV_READ);
        ev_io_start(h->loop, &h->exec_io);
}

static void on_exec(struct ev_loop *loop, ev_io *w, int revents)
{
        HealthCheck *h = w->data;
        SpawnExecEnd end = {};
        int r;

        r = spawn_exec_finish(&h->exec, &end);
        if (r == -EAGAIN)
                return;
        ev_io_stop(loop, w);
        spawn_exec_done(&h->exec);
        h->exec = (SpawnExec){ .pidfd = -1, .sync_fd = -1 };
        /* What the command wrote before it ended is in the pipe by now;
         * a background process holding it open is not waited for. */
        out_read(h);
        out_close(h);
        if (h->halted) {
                spawn_exec_end_done(&end);
                return;
        }
        char *out;
        bool ok = false;
        if (h->timed_out) {
                _cleanup_free_ char *d = format_duration(h->timeout_usec);
                out = xasprintf("timed out after %s, killed", d);
        } else if (r < 0)
                out = xasprintf("waitid: %s", strerror(-r));
        else if (end.error < 0)
                out = xasprintf("%s", end.message ? end.message : strerror(-end.error));
        else {
                int code = spawn_exec_end_code(&end);
                ok = code == 0;
                if (h->len > 0)
                        out = first_line(h->buf, h->len);
                else
                        out = xasprintf("exit status %d", code);
                if (!ok && h->len > 0) {
                        char *o = xasprintf("exit status %d: %s", code, out);
                        free(out);
                        out = o;
                }
        }
        spawn_exec_end_done(&end);
        record(h, ok, out);
}

/* ------------------------------------------------------------------ the schedule */

static void check_start(HealthCheck *h)
{
        h->running = true;
        h->timed_out = false;
        h->count++;
        arm(h, h->timeout_usec);
        if (h->kind == HEALTH_EXEC)
                exec_start(h);
        else
                net_start(h);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        HealthCheck *h = w->data;

        if (!h->running) {
                check_start(h);
                return;
        }
        /* The timeout: the check is killed and fails. */
        _cleanup_free_ char *d = format_duration(h->timeout_usec);
        if (h->kind == HEALTH_EXEC) {
                h->timed_out = true;
                (void)spawn_exec_kill(&h->exec); /* on_exec() records it once reaped */
                log_unit(LOG_INFO, h->u->name, "health check timed out after %s: killing it", d);
                return;
        }
        sock_close(h);
        record(h, false, h->request_sent ? xasprintf("GET %s: no response within %s", h->target.path, d)
                                         : xasprintf("connect to %s:%u: no answer within %s", h->target.host,
                                                     h->target.port, d));
}

HealthCheck *health_start(Unit *u)
{
        const UnitConfig *c = u->config;
        const SpawnImageHealth *ih = image_health(u);
        const char *err = NULL;
        HealthCheck *h;

        if (!health_wanted(u))
                return NULL;
        h = xcalloc(1, sizeof(*h));
        h->u = u;
        h->loop = u->manager->loop;
        h->sock = h->out_fd = -1;
        h->exec = (SpawnExec){ .pidfd = -1, .sync_fd = -1 };
        h->interval_usec = c->health_interval_usec;
        h->timeout_usec = c->health_timeout_usec;
        h->start_period_usec = c->health_start_period_usec;
        h->start_interval_usec = c->health_start_interval_usec;
        h->retries = c->health_retries;
        if (c->health_http || c->health_tcp) {
                h->kind = c->health_http ? HEALTH_HTTP : HEALTH_TCP;
                /* Checked by the parser already. */
                if (health_target_parse(c->health_http ? c->health_http : c->health_tcp, !!c->health_http,
                                        &h->target, &err) < 0)
                        abort();
        } else {
                h->kind = HEALTH_EXEC;
                h->argv = strv_copy(c->health_exec ? c->health_exec : ih->argv);
                /* The image's durations, where the unit file gives none
                 * (without Exec=, health_wanted() means an image check). */
                if (!c->health_exec) {
                        if (ih->interval_usec && !(c->health_set & UNIT_HEALTH_INTERVAL_SET))
                                h->interval_usec = ih->interval_usec;
                        if (ih->timeout_usec && !(c->health_set & UNIT_HEALTH_TIMEOUT_SET))
                                h->timeout_usec = ih->timeout_usec;
                        if (ih->start_period_usec && !(c->health_set & UNIT_HEALTH_START_PERIOD_SET))
                                h->start_period_usec = ih->start_period_usec;
                        if (ih->retries > 0 && !(c->health_set & UNIT_HEALTH_RETRIES_SET))
                                h->retries = (unsigned)ih->retries;
                }
        }
        h->started_usec = now_usec_monotonic();
        ev_init(&h->timer, on_timer);
        ev_init(&h->sock_io, on_sock);
        ev_init(&h->exec_io, on_exec);
        ev_init(&h->out_io, on_output);
        h->timer.data = h->sock_io.data = h->exec_io.data = h->out_io.data = h;
        /* The first check at once (from the loop: the caller finishes first). */
        arm(h, 0);
        return h;
}

void health_halt(HealthCheck *h)
{
        if (!h || h->halted)
                return;
        h->halted = true;
        ev_timer_stop(h->loop, &h->timer);
        sock_close(h);
        if (h->exec.pidfd >= 0)
                (void)spawn_exec_kill(&h->exec); /* reaped by on_exec() */
        else
                out_close(h);
        h->running = false;
}

HealthCheck *health_free(HealthCheck *h)
{
        if (!h)
                return NULL;
        health_halt(h);
        if (h->exec.pidfd >= 0) {
                struct pollfd p = { .fd = h->exec.pidfd, .events = POLLIN };
                SpawnExecEnd end = {};
                if (poll(&p, 1, HEALTH_REAP_WAIT_MS) > 0 && spawn_exec_finish(&h->exec, &end) == 0)
                        spawn_exec_end_done(&end);
                ev_io_stop(h->loop, &h->exec_io);
                spawn_exec_done(&h->exec);
        }
        out_close(h);
        strv_free(h->argv);
        health_target_done(&h->target);
        spawn_plan_free(h->plan);
        free(h->last_output);
        free(h);
        return NULL;
}

HealthStatus health_status(const HealthCheck *h)
{
        return h->status;
}

const char *health_last_output(const HealthCheck *h)
{
        return h->last_output;
}

uint64_t health_last_realtime(const HealthCheck *h)
{
        return h->last_realtime;
}

bool health_last_ok(const HealthCheck *h)
{
        return h->last_ok;
}

uint64_t health_count(const HealthCheck *h)
{
        return h->count;
}

unsigned health_retries(const HealthCheck *h)
{
        return h->retries;
}
