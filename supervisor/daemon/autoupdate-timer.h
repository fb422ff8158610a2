/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <ev.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

/*
 * ccsupd --auto-update-interval: every interval, a helper process (the
 * loop never waits) runs auto_update_run() for every AutoUpdate=registry
 * unit over the daemon's own control socket, with ccsupd's registry
 * options; its lines are logged when it ends. A round still running when
 * the next is due is not doubled.
 */
typedef struct AutoUpdateTimer AutoUpdateTimer;

/* A client connection to the control socket at socket_path (the daemon's
 * own, from one of its helpers). */
int auto_update_connect(const char *socket_path, sd_bus **ret);

/* In a helper just forked from ccsupd: no signal blocked, SIGPIPE as
 * usual, and out_fd as a stream (exits when it cannot be one). */
FILE *helper_child_begin(int out_fd);

AutoUpdateTimer *auto_update_timer_new(struct ev_loop *loop, const char *socket_path, const char *state_dir,
                                       uint64_t interval_usec);
/* Kills a round in progress. NULL-safe; returns NULL. */
AutoUpdateTimer *auto_update_timer_free(AutoUpdateTimer *t);
