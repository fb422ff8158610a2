/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* For unit tests that launch containers for real: the conditions they
 * need (else a TAP skip), their temporary directory, and a directory image
 * of Debian's static busybox. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "util.h"

#define BUSYBOX_PATH "/bin/busybox"

/* The busybox root filesystem the integration tests use too, made by
 * contrib/mkimage (CCSUP_SRCDIR, from make check's environment). */
static inline bool busybox_image(const char *dir)
{
        const char *src = getenv("CCSUP_SRCDIR") ? getenv("CCSUP_SRCDIR") : getenv("srcdir");
        _cleanup_free_ char *cmd = src ? xasprintf("bash '%s/contrib/mkimage' '%s' >/dev/null", src, dir) : NULL;

        return cmd && system(cmd) == 0;
}

/* Root, a cgroup hierarchy and busybox, then mkdtemp(dir): 0 to go on;
 * otherwise the exit status for main() (0 after a TAP skip line). */
static inline int container_test_begin(char *dir, CgroupMode *ret_mode)
{
        const char *skip = geteuid() != 0                                          ? "needs root"
                           : cgroup_detect_mode(CGROUP_ROOT_DEFAULT, ret_mode) < 0 ? "no cgroup hierarchy"
                           : access(BUSYBOX_PATH, X_OK) < 0                        ? "no /bin/busybox (busybox-static)"
                                                                                   : NULL;
        if (skip) {
                printf("1..0 # SKIP %s\n", skip);
                return 0;
        }
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        return -1;
}

/* Removes the temporary directory (never crossing into a mount). */
static inline bool container_test_end(const char *dir)
{
        _cleanup_free_ char *rm = xasprintf("rm -rf --one-file-system '%s'", dir);

        return system(rm) == 0;
}
