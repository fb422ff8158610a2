/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * ccsupd as PID 1 (CLI.md, "As PID 1"): the early mounts, fatal-signal
 * handlers that reboot instead of panicking the kernel, reaping the orphans
 * the kernel hands to init, the halt/poweroff/reboot requests, and the final
 * sequence ending in reboot(2). Everything here is inert unless
 * pid1_setup() found getpid() == 1.
 */

#include <stdbool.h>

#include "manager.h"

typedef enum Pid1Action {
        PID1_HALT,
        PID1_POWEROFF,
        PID1_REBOOT,
        _PID1_ACTION_MAX,
        PID1_ACTION_NONE = -1,
} Pid1Action;

const char *pid1_action_to_string(Pid1Action a); /* "halt", "poweroff", "reboot" */

/* True when pid1_setup() ran as PID 1. */
bool pid1_enabled(void);

/*
 * First thing in the daemon, before any fd or cgroup is needed. As PID 1:
 * mounts /proc, /sys, /dev (+ pts, shm), /run and cgroup2 on /sys/fs/cgroup
 * where they are missing, makes sure 0, 1, 2 are open on the console,
 * turns ctrl-alt-del into SIGINT, blocks SIGRTMIN+3..5 until the loop reads
 * them, and installs the fatal-signal handlers. Does nothing otherwise.
 */
void pid1_setup(void);

/* With the manager created: watches SIGRTMIN+3/+4/+5 on its loop (halt,
 * poweroff, reboot). pid1_detach() stops that before the loop goes away. */
void pid1_attach(Manager *m);
void pid1_detach(void);

/*
 * Asks for the end of the system: every container stops (reverse dependency
 * order, each with its timeout), then pid1_finish() carries out the action.
 * A later request replaces the action of an earlier one. -EOPNOTSUPP when
 * ccsupd is not PID 1.
 */
int pid1_request(Pid1Action a, const char *why);

/*
 * On SIGCHLD: reaps every exited child that ccsupd does not track itself.
 * Containers (and helpers) are reaped by whoever holds their pidfd, with
 * waitid(P_PIDFD): a child is left alone when it is a unit's main PID or when
 * ccsupd holds a pidfd for it.
 */
void pid1_reap(void);

/*
 * After the loop has ended (the containers are stopped): SIGTERM to every
 * process left, a grace period waiting for them, SIGKILL, sync, unmount what
 * can be and remount / read-only, then reboot(2) from a forked child, with the
 * requested action (halt when none was requested: a fatal start-up error).
 * Never returns.
 */
_Noreturn void pid1_finish(void);
