/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container-init.h"

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
