/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Capability sets of a container process (bit N = capability N). Used by the
 * child after clone: raw prctl/capset only, nothing that allocates.
 */

#include <stdint.h>
#include <sys/types.h>

/* The highest capability the running kernel knows (parent side). */
int caps_last_cap(void);

/* The calling process's bounding set (parent side): what it can give. */
uint64_t caps_bounding_set(int last_cap);

/* Drops every capability not in keep from the bounding set. Needs
 * CAP_SETPCAP, so it runs before the user switch. */
int caps_drop_bounding(uint64_t keep, int last_cap);

/*
 * Switches to uid/gid/groups keeping the permitted set (PR_SET_KEEPCAPS), so
 * that caps_apply() can still choose what is kept: without it, leaving uid 0
 * clears every set.
 */
int caps_switch_user(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups);

/*
 * Sets permitted and effective to permitted, inheritable to ambient and the
 * ambient set to exactly ambient (a subset of permitted), so that a non-root
 * command keeps ambient across execve and nothing else. Runs after
 * caps_switch_user(): the ambient set needs its capabilities in both the
 * permitted and the inheritable set.
 */
int caps_apply(uint64_t permitted, uint64_t ambient, int last_cap);

/*
 * Sets effective, permitted and inheritable as given and the ambient set to
 * exactly ambient, after caps_switch_user(). The kernel's rules apply:
 * effective within permitted, inheritable within permitted or the bounding
 * set, ambient within permitted and inheritable (else -EPERM).
 */
int caps_set_all(uint64_t effective, uint64_t permitted, uint64_t inheritable, uint64_t ambient,
                 int last_cap);

/* What a process of a container gets, from the set (its bounding set) and
 * AmbientCapabilities=, as Docker does since CVE-2022-24769: root holds the
 * set in permitted and effective, with inheritable and ambient empty; any
 * other uid holds only the ambient capabilities, in all four sets. */
void caps_for_user(uid_t uid, uint64_t set, uint64_t ambient, uint64_t *ret_permitted,
                   uint64_t *ret_ambient);
