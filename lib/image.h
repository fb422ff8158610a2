/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * What a directory image provides before launch: the user and groups
 * (resolved in the image's own /etc/passwd and /etc/group, never the host's)
 * and the environment (defaults, environment files, Environment=).
 *
 * Functions that fail with a message for the operator return -errno and set
 * *ret_error to a malloc'd text naming the object ("image `/x`: No such file
 * or directory").
 */

#include <stdbool.h>
#include <sys/types.h>

#include "unit.h"

#define IMAGE_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

typedef struct ImageUser {
        uid_t uid;
        gid_t gid;
        gid_t *groups;   /* supplementary groups */
        size_t n_groups;
        char *home;      /* from passwd, else "/" */
} ImageUser;

void image_user_done(ImageUser *u);

/* Checks that the directory image exists; returns its canonical path. */
int image_directory_open(const UnitConfig *c, char **ret_path, char **ret_error);

/*
 * Resolves User= ("NAME", "UID", with an optional ":GROUP") and
 * SupplementaryGroups= against root/etc/passwd and root/etc/group. A named
 * user also gets the groups that list it as a member. A numeric UID not in
 * passwd is fine (group 0, HOME=/); a name that is not there is an error.
 */
int image_resolve_user(const char *root, const char *user, const char *group,
                       char *const *supplementary, ImageUser *ret, char **ret_error);

/*
 * Reads an environment file: KEY=VALUE lines, blank lines and '#' or ';'
 * comments; appends to *env (replacing same keys).
 */
int env_file_read(const char *path, char ***env, char **ret_error);

/* Sets KEY=VALUE in *env, replacing an existing KEY. */
void env_set(char ***env, const char *assignment);
/* Returns the value of key in env, or NULL. */
const char *env_get(char *const *env, const char *key);

/*
 * The container's environment: PATH, HOME, container=ccsup, then
 * Environment=, then every EnvironmentFile= (a leading '-' makes a missing
 * file acceptable).
 */
int image_build_environment(const UnitConfig *c, const ImageUser *u, bool regular_only, char ***ret,
                            char **ret_error);

/* Appends every EnvironmentFile= to *env (replacing same keys).
 * regular_only: a file that is not a regular file (a FIFO, a device) is an
 * error instead of a read that may never end. */
int image_read_environment_files(const UnitConfig *c, char ***env, bool regular_only, char **ret_error);
