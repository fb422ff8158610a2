/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "registry-calls.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autoupdate-timer.h"
#include "autoupdate.h"
#include "registry.h"
#include "util.h"

#define ERROR_FAILED "org.ccsup.Error.Failed"
/* What a helper may tell; more is cut. */
#define OUTPUT_MAX (4 * 1024 * 1024)

typedef enum CallKind { CALL_PULL, CALL_AUTO_UPDATE } CallKind;

struct RegistryCall {
        CallKind kind;
        struct ev_loop *loop;
        RegistryCall **list;
        sd_bus_message *call;
        pid_t pid;
        int pidfd, out_fd;
        ev_io io;                 /* on out_fd until its end, then on pidfd */
        char *out;
        size_t n_out;
        RegistryCall *next;
};

/* Records of the helper, one a line: "D digest", "E error" (pull),
 * "R UNIT OLD NEW RESULT", "M message" (auto-update). */
static void put_record(FILE *f, char kind, const char *text)
{
        fputc(kind, f);
        fputc(' ', f);
        for (const char *p = text; *p; p++)
                fputc(*p == '\n' ? ' ' : *p, f);
        fputc('\n', f);
}

static void put_lines(FILE *f, char kind, char *text)
{
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (*line)
                        put_record(f, kind, line);
        }
}

typedef struct ChildArgs {
        const char *state_dir, *ref, *platform, *socket_path;
        char *const *units;
        bool dry_run;
} ChildArgs;

static __attribute__((noreturn)) void child_run(CallKind kind, const ChildArgs *a, int fd)
{
        FILE *f = helper_child_begin(fd);
        int r;

        if (kind == CALL_PULL) {
                _cleanup_free_ char *digest = NULL, *err = NULL;
                RegistryOptions o = *registry_defaults();
                o.platform = a->platform && *a->platform ? a->platform : NULL;
                r = registry_pull(a->state_dir, a->ref, &o, &digest, &err);
                if (r < 0)
                        put_record(f, 'E', err ? err : strerror(-r));
                else
                        put_record(f, 'D', digest);
        } else {
                _cleanup_free_ char *results = NULL, *messages = NULL;
                size_t n1 = 0, n2 = 0;
                FILE *out = open_memstream(&results, &n1), *err = open_memstream(&messages, &n2);
                sd_bus *bus = NULL;
                if (!out || !err)
                        _exit(1);
                r = auto_update_connect(a->socket_path, &bus);
                if (r < 0) {
                        fprintf(err, "cannot reach the control socket %s: %s\n", a->socket_path, strerror(-r));
                        r = 1;
                } else
                        r = auto_update_run(bus, a->state_dir, a->units, a->dry_run, registry_defaults(), out, err);
                sd_bus_flush_close_unref(bus);
                fclose(out);
                fclose(err);
                put_lines(f, 'R', results);
                put_lines(f, 'M', messages);
        }
        _exit(fclose(f) == 0 && r == 0 ? 0 : 1);
}

static void call_free(RegistryCall *c)
{
        for (RegistryCall **p = c->list; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        ev_io_stop(c->loop, &c->io);
        safe_close(c->out_fd);
        safe_close(c->pidfd);
        sd_bus_message_unref(c->call);
        free(c->out);
        free(c);
}

static void reap(RegistryCall *c, siginfo_t *si)
{
        *si = (siginfo_t){};
        while (waitid(P_PIDFD, (id_t)c->pidfd, si, WEXITED) < 0 && errno == EINTR)
                ;
}

static int reply_pull(RegistryCall *c, const siginfo_t *si)
{
        const char *digest = NULL, *error = NULL;

        for (char *line = c->out, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (startswith(line, "D "))
                        digest = line + 2;
                else if (startswith(line, "E "))
                        error = line + 2;
        }
        if (digest && si->si_code == CLD_EXITED && si->si_status == 0)
                return sd_bus_reply_method_return(c->call, "s", digest);
        if (error)
                return sd_bus_reply_method_errorf(c->call, ERROR_FAILED, "%s", error);
        return sd_bus_reply_method_errorf(c->call, ERROR_FAILED, "the pull helper ended without a result (%s %d)",
                                          si->si_code == CLD_EXITED ? "status" : "signal", si->si_status);
}

static int reply_auto_update(RegistryCall *c, const siginfo_t *si)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **messages = NULL;
        int r;

        if (si->si_code != CLD_EXITED && !c->out)
                return sd_bus_reply_method_errorf(c->call, ERROR_FAILED, "the auto-update helper was killed by signal %d",
                                                  si->si_status);
        if ((r = sd_bus_message_new_method_return(c->call, &reply)) < 0 ||
            (r = sd_bus_message_open_container(reply, 'a', "(ssss)")) < 0)
                return r;
        for (char *line = c->out, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (startswith(line, "M ")) {
                        strv_add(&messages, line + 2);
                        continue;
                }
                char *w[4] = {}, *save = NULL;
                size_t k = 0;
                if (!startswith(line, "R "))
                        continue;
                for (char *t = strtok_r(line + 2, " ", &save); t && k < 4; t = strtok_r(NULL, " ", &save))
                        w[k++] = t;
                if (k == 4 && (r = sd_bus_message_append(reply, "(ssss)", w[0], w[1], w[2], w[3])) < 0)
                        return r;
        }
        if ((r = sd_bus_message_close_container(reply)) < 0 ||
            (r = sd_bus_message_append_strv(reply, messages)) < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static void on_exit_cb(struct ev_loop *loop, ev_io *w, int revents)
{
        RegistryCall *c = w->data;
        siginfo_t si;

        (void)loop, (void)revents;
        reap(c, &si);
        if (c->kind == CALL_PULL)
                (void)reply_pull(c, &si);
        else
                (void)reply_auto_update(c, &si);
        call_free(c);
}

static void on_output(struct ev_loop *loop, ev_io *w, int revents)
{
        RegistryCall *c = w->data;
        char buf[16384];
        ssize_t n;

        (void)revents;
        n = read(c->out_fd, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n > 0) {
                if (c->n_out + (size_t)n <= OUTPUT_MAX) {
                        c->out = xrealloc(c->out, c->n_out + (size_t)n + 1);
                        memcpy(c->out + c->n_out, buf, (size_t)n);
                        c->n_out += (size_t)n;
                        c->out[c->n_out] = 0;
                }
                return;
        }
        /* Its end of the pipe is closed: it exits now; reaped when it has. */
        ev_io_stop(loop, &c->io);
        c->out_fd = safe_close(c->out_fd);
        ev_io_init(&c->io, on_exit_cb, c->pidfd, EV_READ);
        c->io.data = c;
        ev_io_start(loop, &c->io);
}

static int call_start(RegistryCall **list, struct ev_loop *loop, CallKind kind, const ChildArgs *a,
                      sd_bus_message *call, sd_bus_error *error)
{
        RegistryCall *c;
        int p[2];
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return sd_bus_error_set_errnof(error, errno, "pipe: %m");
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                safe_close(p[0]);
                safe_close(p[1]);
                return sd_bus_error_set_errnof(error, -r, "fork: %s", strerror(-r));
        }
        if (pid == 0) {
                safe_close(p[0]);
                child_run(kind, a, p[1]);
        }
        safe_close(p[1]);
        c = xcalloc(1, sizeof(*c));
        *c = (RegistryCall){ .kind = kind, .loop = loop, .list = list, .call = sd_bus_message_ref(call), .pid = pid,
                             .out_fd = p[0] };
        c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (c->pidfd < 0) {
                int r = -errno;
                kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                safe_close(c->out_fd);
                sd_bus_message_unref(c->call);
                free(c);
                return sd_bus_error_set_errnof(error, -r, "pidfd_open: %s", strerror(-r));
        }
        (void)fcntl(c->out_fd, F_SETFL, O_NONBLOCK);
        ev_io_init(&c->io, on_output, c->out_fd, EV_READ);
        c->io.data = c;
        ev_io_start(loop, &c->io);
        c->next = *list;
        *list = c;
        return 1;
}

int registry_call_pull(RegistryCall **list, struct ev_loop *loop, const char *state_dir, const char *ref,
                       const char *platform, sd_bus_message *call, sd_bus_error *error)
{
        _cleanup_free_ char *err = NULL;
        RegistryRef rr = {};
        int r;

        /* Refused here, before any helper, with the parser's words. */
        if ((r = registry_ref_parse(ref, &rr, &err)) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%s", err ? err : strerror(-r));
        registry_ref_done(&rr);
        if (!registry_ref_is_remote(ref) && !startswith(ref, "docker://"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "`%s` is not a registry reference (HOST[:PORT]/REPO[:TAG|@sha256:HEX])", ref);
        if (*platform && (!strchr(platform, '/') || *platform == '/' || strchr(platform, '/')[1] == 0))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "invalid platform `%s` (expected OS/ARCH[/VARIANT])", platform);
        return call_start(list, loop, CALL_PULL, &(ChildArgs){ .state_dir = state_dir, .ref = ref, .platform = platform },
                          call, error);
}

int registry_call_auto_update(RegistryCall **list, struct ev_loop *loop, const char *socket_path,
                              const char *state_dir, char *const *units, bool dry_run, sd_bus_message *call,
                              sd_bus_error *error)
{
        return call_start(list, loop, CALL_AUTO_UPDATE,
                          &(ChildArgs){ .state_dir = state_dir, .socket_path = socket_path, .units = units,
                                        .dry_run = dry_run },
                          call, error);
}

static void call_kill(RegistryCall *c)
{
        siginfo_t si;

        (void)syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
        reap(c, &si);
}

void registry_calls_disconnected(RegistryCall **list, sd_bus *bus)
{
        for (RegistryCall *c = *list, *next; c; c = next) {
                next = c->next;
                if (sd_bus_message_get_bus(c->call) != bus)
                        continue;
                call_kill(c);
                call_free(c);
        }
}

void registry_calls_abort(RegistryCall **list)
{
        while (*list) {
                RegistryCall *c = *list;
                call_kill(c);
                (void)sd_bus_reply_method_errorf(c->call, ERROR_FAILED, "ccsupd is going away");
                call_free(c);
        }
}
