/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container-init.h"
#include "util.h"

/* Fields 48 to 51 of /proc/self/stat: where the arguments and the
 * environment are. */
static int read_arg_area(unsigned long ret[4])
{
        char buf[2048];
        const char *s;
        int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        (void)close(fd);
        if (n <= 0)
                return -EIO;
        buf[n] = '\0';
        s = proc_stat_field(buf, 48);
        return s && sscanf(s, "%lu %lu %lu %lu", &ret[0], &ret[1], &ret[2], &ret[3]) == 4 &&
                               ret[0] < ret[1] && ret[2] <= ret[3]
                       ? 0
                       : -EIO;
}

static int set_arg_area(unsigned long start, unsigned long end, unsigned long old_end)
{
        /* The kernel wants start <= end after each of the two steps. */
        if (start <= old_end) {
                if (prctl(PR_SET_MM, PR_SET_MM_ARG_START, start, 0, 0) < 0 ||
                    prctl(PR_SET_MM, PR_SET_MM_ARG_END, end, 0, 0) < 0)
                        return -errno;
        } else if (prctl(PR_SET_MM, PR_SET_MM_ARG_END, end, 0, 0) < 0 ||
                   prctl(PR_SET_MM, PR_SET_MM_ARG_START, start, 0, 0) < 0)
                return -errno;
        return 0;
}

int container_init_set_cmdline(void)
{
        static char name[] = CONTAINER_INIT_NAME;
        unsigned long a[4]; /* arg_start, arg_end, env_start, env_end */
        size_t len;
        int r;

        r = read_arg_area(a);
        if (r < 0)
                return r;
        /* ccsupd's arguments and environment, on the stack: the init never
         * reads them again, and nobody is to see them in its /proc. With
         * the environment right after the arguments, both are one area. */
        len = a[2] == a[1] ? a[3] - a[0] : a[1] - a[0];
        r = set_arg_area((unsigned long)name, (unsigned long)name + sizeof(name), a[1]);
        if (r == 0 || len < sizeof(name)) {
                memset((char *)a[0], 0, a[1] - a[0]);
                memset((char *)a[2], 0, a[3] - a[2]);
                return r;
        }
        /* No CAP_SYS_RESOURCE: the name in ccsupd's own area. When it
         * runs past the arguments' end, the kernel reads on into the
         * environment up to the first NUL (setproctitle()'s way). */
        memset((char *)a[0], 0, len);
        memcpy((char *)a[0], name, sizeof(name) - 1);
        if (a[2] != a[1])
                memset((char *)a[2], 0, a[3] - a[2]);
        return 0;
}

/* Returns the exit status to use once command is reaped, else -1. */
static int reap_all(pid_t command)
{
        int status, result = -1;
        pid_t pid;

        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                if (pid == command)
                        result = WIFEXITED(status) ? WEXITSTATUS(status)
                                                   : 128 + WTERMSIG(status);
        return result;
}

_Noreturn void container_init_run(pid_t command)
{
        sigset_t all;

        (void)prctl(PR_SET_NAME, CONTAINER_INIT_NAME);

        sigfillset(&all);
        for (;;) {
                siginfo_t si;
                int sig, status;

                sig = sigwaitinfo(&all, &si);
                if (sig < 0)
                        continue;
                if (sig != SIGCHLD) {
                        (void)kill(command, sig);
                        continue;
                }
                status = reap_all(command);
                if (status >= 0)
                        _exit(status);
        }
}
