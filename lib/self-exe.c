/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ccsupd runs from a sealed in-memory copy of its own binary (CVE-2019-5736).
 *
 * Every process that enters a container starts as a fork of ccsupd, and with
 * Init=yes the container's PID 1 stays one for the container's life: its
 * /proc/PID/exe is ccsupd's binary. Were that the file on disk, a process of
 * the container that got hold of it could write into it as soon as nothing
 * executes it any more (containers outlive ccsupd) and wait for root to run
 * it. So ccsupd first copies its binary into a memfd, seals it against every
 * change and executes that: /proc/PID/exe then names a file nobody can write,
 * and no process of a container ever maps the host's binary.
 *
 * CCSUP_EXE carries the path of the binary on disk across that execve: it is
 * what daemon-reexec executes, so that an upgraded binary takes effect.
 */
#include "self-exe.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U /* Linux 6.3: executable even with vm.memfd_noexec=1 */
#endif

#define SELF_EXE_ENV "CCSUP_EXE"
#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static char *exe_path;
static char *warning;

const char *self_exe_path(void)
{
        return exe_path;
}

const char *self_exe_warning(void)
{
        return warning;
}

bool self_exe_is_sealed(void)
{
        _cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        int seals;

        if (fd < 0)
                return false;
        seals = fcntl(fd, F_GET_SEALS);
        return seals >= 0 && (seals & SEALS) == SEALS;
}

/* The path of the binary we run, " (deleted)" (replaced on disk) cut off. */
static char *read_exe_link(void)
{
        const char *deleted = " (deleted)";
        char buf[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        size_t l = strlen(deleted);

        if (n <= 0)
                return NULL;
        buf[n] = '\0';
        if ((size_t)n > l && streq(buf + n - l, deleted))
                buf[n - l] = '\0';
        return xstrdup(buf);
}

static int copy_sealed(int *ret_fd)
{
        _cleanup_close_ int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), mfd = -1;
        struct stat st;
        off_t off = 0;

        if (src < 0)
                return -errno;
        if (fstat(src, &st) < 0)
                return -errno;
        mfd = memfd_create("ccsupd", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
        if (mfd < 0 && errno == EINVAL) /* before 6.3: no MFD_EXEC, and none needed */
                mfd = memfd_create("ccsupd", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (mfd < 0)
                return -errno;
        while (off < st.st_size) {
                ssize_t n = sendfile(mfd, src, &off, (size_t)(st.st_size - off));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -EIO; /* shorter than fstat() said */
        }
        if (fcntl(mfd, F_ADD_SEALS, SEALS) < 0)
                return -errno;
        *ret_fd = TAKE_FD(mfd);
        return 0;
}

void self_exe_seal(char **argv)
{
        extern char **environ;
        const char *from_env = getenv(SELF_EXE_ENV);
        _cleanup_close_ int fd = -1;
        int r;

        /* PID 1 on a real boot: no /proc yet; pid1_setup() finds this one. */
        if (getpid() == 1 && access("/proc/self/exe", F_OK) < 0 && errno == ENOENT)
                (void)mount("proc", "/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL);

        exe_path = from_env && from_env[0] == '/' ? xstrdup(from_env) : read_exe_link();
        unsetenv(SELF_EXE_ENV);
        if (self_exe_is_sealed()) {
                /* Not "memfd:ccsupd" in ps, pidof, pkill -x: our own name. */
                const char *base = exe_path ? strrchr(exe_path, '/') : NULL;
                (void)prctl(PR_SET_NAME, base ? base + 1 : "ccsupd");
                return;
        }
        if (!exe_path) {
                warning = xasprintf("/proc/self/exe: %s: ccsupd runs from its binary on disk, "
                                    "not from a sealed copy", strerror(errno));
                return;
        }
        r = copy_sealed(&fd);
        if (r >= 0) {
                (void)setenv(SELF_EXE_ENV, exe_path, 1);
                (void)fexecve(fd, argv, environ);
                r = -errno;
                unsetenv(SELF_EXE_ENV);
        }
        warning = xasprintf("sealed copy of `%s`: %s: ccsupd runs from its binary on disk "
                            "(CVE-2019-5736 protection reduced to non-dumpable processes)",
                            exe_path, strerror(-r));
}
