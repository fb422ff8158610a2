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

/* DIR/bin/busybox, a few applets linked to it, and the usual empty mount
 * points (and /out, where a test binds a host directory). */
static inline bool busybox_image(const char *dir)
{
        static const char *const applets[] = { "sh", "cat", "hostname", "ls", "echo", "sleep" };
        static const char *const dirs[] = { "proc", "dev", "sys", "tmp", "etc", "out" };
        _cleanup_free_ char *bin = xasprintf("%s/bin", dir), *bb = xasprintf("%s/busybox", bin);
        _cleanup_free_ char *data = NULL;
        size_t n = 0;

        if (mkdir_p(bin, 0755) < 0 || read_full_file(BUSYBOX_PATH, 16 * 1024 * 1024, &data, &n) < 0 ||
            write_file_atomic(bb, data, n, 0755, false) < 0)
                return false;
        for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++) {
                _cleanup_free_ char *link = xasprintf("%s/%s", bin, applets[i]);
                if (symlink("busybox", link) < 0)
                        return false;
        }
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
                _cleanup_free_ char *p = xasprintf("%s/%s", dir, dirs[i]);
                if (mkdir(p, 0755) < 0)
                        return false;
        }
        return true;
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
