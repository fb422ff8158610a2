/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A directory image for tests that launch containers: Debian's static
 * busybox as DIR/bin/busybox, a few applets linked to it, and the usual
 * empty mount points (and /out, where a test binds a host directory). */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define BUSYBOX_PATH "/bin/busybox"

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
