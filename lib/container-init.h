/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <signal.h>
#include <sys/types.h>

/*
 * Init=yes: the container's PID 1 stays a small init of ours while command
 * (its only child) runs. The kernel delivers to a namespace's PID 1 only the
 * signals it handles, and reparents every orphan to it: this loop forwards
 * each signal to the command, reaps every zombie, and exits with the
 * command's status (128+N when it was killed by signal N) -- its exit then
 * kills whatever is left in the namespace. Every signal must already be
 * blocked (before the fork, so none is lost). Never returns.
 */
_Noreturn void container_init_run(pid_t command);
