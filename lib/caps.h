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
 * Switches to uid/gid/groups keeping the permitted set (PR_SET_KEEPCAPS),
 * then sets permitted, effective and inheritable to set, and raises every
 * capability of set in the ambient set, so that a non-root command keeps
 * them across execve.
 */
int caps_switch_user(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups);
int caps_apply(uint64_t set, int last_cap);
