/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn-hooks.h"
#include "util.h"

#define HOOK_OUTPUT_MAX 2048
#define MIN(a, b) ((a) < (b) ? (a) : (b))

static const char *const kind_names[_SPAWN_HOOK_MAX] = {
        [SPAWN_HOOK_PRESTART] = "prestart",
        [SPAWN_HOOK_CREATE_RUNTIME] = "createRuntime",
        [SPAWN_HOOK_CREATE_CONTAINER] = "createContainer",
        [SPAWN_HOOK_START_CONTAINER] = "startContainer",
        [SPAWN_HOOK_POSTSTART] = "poststart",
        [SPAWN_HOOK_POSTSTOP] = "poststop",
};

const char *spawn_hook_kind_to_string(SpawnHookKind k)
{
        return k >= 0 && k < _SPAWN_HOOK_MAX ? kind_names[k] : NULL;
}

SpawnHookKind spawn_hook_kind_from_string(const char *s)
{
        for (int k = 0; k < _SPAWN_HOOK_MAX; k++)
                if (streq(kind_names[k], s))
                        return (SpawnHookKind)k;
        return _SPAWN_HOOK_MAX;
}

void spawn_hooks_done(SpawnHooks *h)
{
        if (!h)
                return;
        for (int k = 0; k < _SPAWN_HOOK_MAX; k++) {
                for (size_t i = 0; i < h->n[k]; i++) {
                        free(h->list[k][i].path);
                        strv_free(h->list[k][i].argv);
                        strv_free(h->list[k][i].env);
                }
                free(h->list[k]);
        }
        *h = (SpawnHooks){};
}

bool spawn_hooks_any(const SpawnHooks *h, SpawnHookKind k)
{
        return h && h->n[k] > 0;
}

char *spawn_hook_state(const char *head, const char *status, pid_t pid)
{
        return xasprintf("%s,\"status\":\"%s\",\"pid\":%d}", head, status, (int)pid);
}

_Noreturn static void hook_exec(const SpawnHook *h, int in, int out)
{
        char *const argv0[] = { h->path, NULL };
        char *const env0[] = { NULL };

        /* Above 2 first: dup2() onto itself would keep O_CLOEXEC (a runtime
         * started with fd 0 closed). */
        in = fcntl(in, F_DUPFD_CLOEXEC, 3);
        out = fcntl(out, F_DUPFD_CLOEXEC, 3);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
                _exit(127);
        /* Nothing of the runtime's but stdio: --preserve-fds are the
         * container's, not the hook's. */
        (void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
        execve(h->path, h->argv ? h->argv : argv0, h->env ? h->env : env0);
        dprintf(2, "exec: %s", strerror(errno));
        _exit(127);
}

/* Reads what is there into out (up to HOOK_OUTPUT_MAX, the rest dropped):
 * 1 read, 0 EOF or error, -EAGAIN nothing now. */
static int collect(int fd, char *out, size_t *len)
{
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? -EAGAIN : 0;
        if (n == 0)
                return 0;
        if (*len < HOOK_OUTPUT_MAX) {
                size_t k = MIN((size_t)n, HOOK_OUTPUT_MAX - *len);
                memcpy(out + *len, buf, k);
                *len += k;
        }
        return 1;
}

/* Waits for the hook's end, gathering its output; -ETIME on the timeout.
 * Without pidfd_open() (an old kernel, a container's seccomp filter), the
 * end is the EOF of its output. */
static int hook_wait(pid_t pid, int out, unsigned timeout, char *text, size_t *len)
{
        _cleanup_close_ int pidfd = pidfd_open(pid, 0);
        uint64_t deadline = timeout ? now_usec_monotonic() + (uint64_t)timeout * 1000000 : 0;
        bool open_out = true;

        for (;;) {
                struct pollfd pfd[2] = { { .fd = pidfd, .events = POLLIN },
                                         { .fd = open_out ? out : -1, .events = POLLIN } };
                int wait_ms = -1, n;

                if (deadline) {
                        uint64_t now = now_usec_monotonic();

                        if (now >= deadline)
                                return -ETIME;
                        wait_ms = (int)MIN((deadline - now + 999) / 1000, (uint64_t)INT32_MAX);
                }
                n = poll(pfd, 2, wait_ms);
                if (n < 0 && errno != EINTR)
                        return -errno;
                if (n > 0 && pfd[1].revents)
                        open_out = collect(out, text, len) != 0;
                if (pidfd < 0 && !open_out)
                        return 0;
                if (n > 0 && pfd[0].revents) {
                        /* Ended: what it wrote is in the pipe (a daemon it
                         * left may hold the pipe open: no wait for EOF). */
                        while (open_out && collect(out, text, len) > 0)
                                ;
                        return 0;
                }
        }
}

int spawn_run_hook(const SpawnHook *h, const char *state, char **ret_error)
{
        _cleanup_close_pair_ int in[2] = { -1, -1 }, out[2] = { -1, -1 };
        char text[HOOK_OUTPUT_MAX + 1];
        size_t len = 0, n = strlen(state);
        int status = 0, r;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0 || pipe2(out, O_CLOEXEC) < 0)
                return error_set(ret_error, -errno, "pipe: %s", strerror(errno));
        pid = fork();
        if (pid < 0)
                return error_set(ret_error, -errno, "fork: %s", strerror(errno));
        if (pid == 0)
                hook_exec(h, in[1], out[1]);
        in[1] = safe_close(in[1]);
        out[1] = safe_close(out[1]);
        /* A hook that does not read its input is not an error: the state
         * fits in the socket buffer, and the data outlives our end. */
        (void)send(in[0], state, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        in[0] = safe_close(in[0]);
        (void)fcntl(out[0], F_SETFL, O_NONBLOCK);

        r = hook_wait(pid, out[0], h->timeout, text, &len);
        if (r < 0)
                (void)kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        while (len > 0 && strchr("\n\r \t", text[len - 1]))
                len--;
        text[len] = 0;
        if (r == -ETIME)
                *ret_error = xasprintf("timed out after %u s%s%s", h->timeout, len ? ": " : "", text);
        else if (r < 0)
                *ret_error = xasprintf("wait: %s", strerror(-r));
        else if (WIFSIGNALED(status))
                *ret_error = xasprintf("killed by signal %d%s%s", WTERMSIG(status), len ? ": " : "", text);
        else if (WEXITSTATUS(status) != 0)
                *ret_error = xasprintf("exited with status %d%s%s", WEXITSTATUS(status), len ? ": " : "", text);
        else
                return 0;
        return r < 0 ? r : -EIO;
}

int spawn_run_hooks(const SpawnHooks *h, SpawnHookKind k, const char *state, char **ret_error)
{
        for (size_t i = 0; h && i < h->n[k]; i++) {
                _cleanup_free_ char *why = NULL;
                int r = spawn_run_hook(&h->list[k][i], state, &why);

                if (r < 0) {
                        *ret_error = xasprintf("`hooks.%s[%zu]` `%s`: %s", kind_names[k], i,
                                               h->list[k][i].path, why);
                        return r;
                }
        }
        return 0;
}
