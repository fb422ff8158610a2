/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Run a probe in a forked child with a mount namespace of its own (nothing
 * it mounts or changes reaches the host's mounts) and bring back its n
 * integers through a pipe: for tests of code that changes the process for
 * good (a seccomp filter, a new root). */
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

/* Fills out[0..n); returns < 0 when the child cannot go on. */
typedef int (*ChildProbe)(const void *data, int *out, size_t n);

/* True when the child ran the probe to its end and all n results came back. */
static inline bool run_in_child(ChildProbe probe, const void *data, int *got, size_t n)
{
        int fds[2], st;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return false;
        pid = fork();
        if (pid < 0) {
                close(fds[0]);
                close(fds[1]);
                return false;
        }
        if (pid == 0) {
                int out[64] = {};
                close(fds[0]);
                if (n > sizeof(out) / sizeof(out[0]))
                        _exit(4);
                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                        _exit(2);
                if (probe(data, out, n) < 0)
                        _exit(2);
                _exit(write(fds[1], out, sizeof(int) * n) == (ssize_t)(sizeof(int) * n) ? 0 : 3);
        }
        close(fds[1]);
        ssize_t r = read(fds[0], got, sizeof(int) * n);
        close(fds[0]);
        return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 && r == (ssize_t)(sizeof(int) * n);
}
