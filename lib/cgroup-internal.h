/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The per-hierarchy backends behind cgroup.h; each works on one absolute
 * cgroup directory. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Both */
int cg_write_pid(const char *dir, pid_t pid);
/* Sends sig to each pid in dir/cgroup.procs; returns how many were signalled. */
int cg_signal_procs(const char *dir, int sig);
/* Removes dir and any child cgroups below it, depth first. */
int cg_rmdir_tree(const char *dir);
/* Reads a value file into a malloc'd string without the trailing newline. */
int cg_read(const char *dir, const char *file, char **ret);
int cg_write(const char *dir, const char *file, const char *value);

/* cgroup2 */
int cg2_is_populated(const char *dir);
int cg2_kill(const char *dir);
/* cgroup.freeze, and waits (up to a second) for cgroup.events to agree. */
int cg2_freeze(const char *dir, bool freeze);
/* 1 frozen, 0 not, <0 error. */
int cg2_is_frozen(const char *dir);
/* Enables the controllers of want (cgroup2 names) in cgroup.subtree_control
 * of every ancestor of path from the cgroup from (an ancestor of path, or
 * "/") down to path's parent, where offered and not enabled yet. */
int cg2_enable_controllers(const char *root, const char *from, const char *path,
                           char *const *want);

/* The cgroup2 device program (cgroup-bpf.c): an fd of the program that
 * allows the devices of the rules and nothing else, and its attachment to
 * the cgroup directory dir, where it replaces any device program of its
 * own (those of the ancestors stay). */
int cg_device_rule_parse(const char *s, char *ret_type, int64_t *ret_major, int64_t *ret_minor,
                         unsigned *ret_access);
int cg2_device_program_load(char *const *rules, char **ret_log);
int cg2_device_program_attach(const char *dir, int prog_fd);

/* cgroup v1 */
int cg1_list_hierarchies(const char *root, char ***ret_names);
int cg1_prepare(const char *root, const char *name, const char *path);
int cg1_is_populated(const char *dir);
int cg1_kill(const char *freezer, char *const *dirs);
/* freezer.state FROZEN or THAWED, waited for; cg1_is_frozen: 1, 0, <0. */
int cg1_freeze(const char *freezer, bool freeze);
int cg1_is_frozen(const char *freezer);
