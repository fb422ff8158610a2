/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * User namespaces (UNITS.md "User namespaces"): the range of host IDs a unit
 * gets, its maps, and the idmapped mounts that bring the image's layers and
 * Bind=...:idmap sources into the container without a chown.
 *
 * Ranges: from the `ccsup` entries of /etc/subuid and /etc/subgid (the
 * environment variables CCSUP_SUBUID and CCSUP_SUBGID name other files, for
 * tests), else systemd's container range 524288-1879048191 in steps of
 * 65536. A unit's range is recorded in STATE_DIR/userns/NAME ("BASE COUNT")
 * and kept for every later start; no two records overlap, and none overlaps
 * another user's entry of either file. The directory is locked (flock) while
 * a range is picked, so ccsupds sharing a state directory agree.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "unit.h"

#define USERNS_DEFAULT_FIRST UINT32_C(524288)
#define USERNS_DEFAULT_LAST UINT32_C(1879048191)

typedef struct UsernsRange {
        uint32_t base, count;
} UsernsRange;

/* The range of unit name: its record, or a new one (mode USERNS_AUTO: the
 * first free slot; USERNS_RANGE: uid/count, checked). Errors name the reason
 * ("range 100000:65536 lies outside the `ccsup` entries of /etc/subuid",
 * "... overlaps unit web's 524288:65536", "... overlaps user alice's ..."). */
int userns_range_acquire(const char *state_dir, const char *name, UserNamespaceMode mode, uint32_t uid,
                         uint32_t count, UsernsRange *ret, char **ret_error);

/* The recorded range of a unit, without picking one: -ENOENT if none. */
int userns_range_read(const char *state_dir, const char *name, UsernsRange *ret);

/* Parent: writes uid_map and gid_map of process pid ("0 BASE COUNT"). */
int userns_write_maps(pid_t pid, const UsernsRange *r, char **ret_error);

/* Parent: the same with maps of their own ("ID HOST-ID COUNT" lines). */
int userns_write_map_text(pid_t pid, const char *uid_map, const char *gid_map, char **ret_error);

/* Parent: an fd of the user namespace of pid (alive, held by pidfd). */
int userns_open(int pidfd, pid_t pid);

/* Parent: a detached copy of the mount at path, idmapped to userns_fd
 * (open_tree + mount_setattr(MOUNT_ATTR_IDMAP)); recursive takes the mounts
 * below too. Errors name the path and, for EINVAL/EPERM/EOPNOTSUPP, that its
 * filesystem cannot idmap. */
int userns_idmap_tree(int userns_fd, const char *path, bool recursive, int *ret_fd, char **ret_error);

/* Sends the byte that releases the child together with fds (SCM_RIGHTS). */
int userns_send_go(int sock, const int *fds, size_t n);

/* Child, first thing: waits for the release and receives the n trees
 * (fds, CLOEXEC) into fds. */
int userns_child_receive(int sock, int *fds, size_t n, char **ret_error);

/* Child, once its mounts are slaves: becomes root of its user namespace. */
int userns_child_become_root(char **ret_error);

#define USERNS_FDS_MAX 250
