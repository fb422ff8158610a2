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

/* Its name in ps: comm and /proc/PID/cmdline, instead of ccsupd's. */
#define CONTAINER_INIT_NAME "ccsup-init"

/*
 * Points the process's argument area (/proc/PID/cmdline) at
 * CONTAINER_INIT_NAME: with PR_SET_MM, which needs CAP_SYS_RESOURCE (call it
 * while the container's process still has ccsupd's capabilities), else by
 * overwriting ccsupd's own arguments, cut to their length. Best effort:
 * -errno when neither worked.
 */
int container_init_set_cmdline(void);
