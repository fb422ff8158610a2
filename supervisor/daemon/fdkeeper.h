/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The fd keeper: the file-descriptor store of a ccsupd that runs without
 * systemd (and is not PID 1). Under systemd the pidfds of the containers,
 * their output pipes and what they stored with FDSTORE=1 go to systemd's fd
 * store, so that a ccsupd killed with SIGKILL (or crashed) finds them again;
 * without systemd they would die with ccsupd. The keeper is a small process
 * forked by ccsupd that holds them instead, as s6-fdholder does for s6:
 *
 *  - it listens on RUNTIME_DIR/fdstore (SOCK_SEQPACKET, root only);
 *  - ccsupd keeps a connection to it and sends the messages it would send
 *    systemd: "FDSTORE=1\nFDNAME=NAME" with one fd, "FDSTOREREMOVE=1\n
 *    FDNAME=NAME"; "EXIT=1" at ccsupd's clean exit ends the keeper;
 *  - a ccsupd that starts and finds a keeper (its predecessor died) sends
 *    "GET" and receives every fd, one message "FDNAME=NAME" each, then
 *    "END"; the keeper keeps its own copies, as systemd does.
 *
 * The keeper outlives a killed ccsupd (it is reparented) and leaves when
 * its socket is removed (the runtime directory went away). It never wakes
 * up by itself: no timer, only poll() on its sockets and an inotify watch.
 */

#include <stdbool.h>

#include "manager.h"

/* Connects to the keeper of runtime_dir, or forks one (none is there, or
 * only a dead one's socket). With take, the fds a predecessor left are
 * handed to m (manager_add_stored_fd()). Returns the connection (O_CLOEXEC:
 * after daemon-reexec the new ccsupd connects again, without take), or
 * -errno. */
int fdkeeper_open(const char *runtime_dir, bool take, Manager *m);

/* One message of the protocol above, with n_fds fds (0 or 1). 0 or -errno. */
int fdkeeper_send(int fd, const char *msg, const int *fds, unsigned n_fds);

/* ccsupd exits cleanly: the keeper closes everything and exits; waits for
 * that (a second at most) so that the cgroup is empty after us. */
void fdkeeper_close(int fd);
