/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Opening the files that decide what root runs (unit files, drop-ins and
 * their directories) only when nobody but root could have written them, as
 * sshd's StrictModes judges authorized_keys: whoever can write a unit file
 * can give himself Privileged=yes and Bind=/:/host.
 *
 * Trusted means: the file itself and every directory from / down to it are
 * owned by root and not writable by group or others. A sticky directory that
 * group or others may write (/tmp) is fine on the way, since nobody but an
 * entry's owner can rename or remove that entry (a symlink in it must then be
 * owned by root too) — but never as the directory that holds the file or as
 * the directory asked for. Symlinks are followed, by hand: the walk opens one
 * component at a time with O_NOFOLLOW and judges what it opened with fstat(),
 * so what was checked is what is read.
 */

#include <stdbool.h>

/*
 * Opens path (relative paths are taken from the working directory) for
 * reading: a regular file, or with directory a directory (O_DIRECTORY).
 * Returns the fd (O_CLOEXEC), or a negative errno: -EPERM when something on
 * the way is not trusted, with *ret_why saying what and why ("directory /x is
 * writable by group or others (mode 0775)", "owned by uid 1000, not root" for
 * path itself), -EBADFD for something that is neither a regular file nor a
 * directory (*ret_why says so), else the error of the failed call (-ENOENT,
 * -ENOTDIR, -ELOOP...) with *ret_why NULL.
 */
int open_trusted(const char *path, bool directory, char **ret_why);
