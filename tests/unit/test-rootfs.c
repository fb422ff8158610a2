/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/rootfs: rootfs_setup() run for real, as root, in a forked child with
 * a mount namespace of its own (nothing reaches the host's mounts), on a
 * directory image of the test's: the child switches into it and reports
 * what a container would see (the image's file, a writable overlay that
 * never writes the image, /proc, a minimal /dev, masked and read-only
 * paths, a read-only bind, a sized tmpfs); then the same read-only. */

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "rootfs.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/ccsup-test-rootfs.XXXXXX";

enum {
        C_SETUP,      /* rootfs_setup()'s result */
        C_CWD_ROOT,   /* cwd is / */
        C_MARKER,     /* /marker reads "image" */
        C_HOST_GONE,  /* the host's /etc/os-release is not there */
        C_WRITE_ROOT, /* errno of creating /new (0: created) */
        C_PROC,       /* /proc/self/status opens */
        C_DEV_NULL,   /* /dev/null is the null character device */
        C_DEV_MEM,    /* errno of stat("/dev/mem") */
        C_MASKED,     /* /proc/interrupts reads 0 bytes (masked by /dev/null) */
        C_PROC_SYS,   /* errno of writing /proc/sys/kernel/hostname */
        C_BIND_READ,  /* /data/file reads "host" */
        C_BIND_WRITE, /* errno of creating /data/x */
        C_TMPFS,      /* /scratch is a tmpfs of 1 MiB */
        C_MAX
};

static bool read_is(const char *path, const char *want)
{
        char buf[64] = {};
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        return n >= 0 && streq(buf, want);
}

static int create_errno(const char *path)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return errno;
        close(fd);
        return 0;
}

static void probe(const RootfsPlan *p, int out[C_MAX])
{
        char cwd[8] = {}, *err = NULL;
        bool chrooted = false;
        struct stat st;
        struct statfs fs;

        out[C_SETUP] = rootfs_setup(p, &chrooted, &err);
        if (out[C_SETUP] < 0)
                return;
        out[C_CWD_ROOT] = getcwd(cwd, sizeof(cwd)) && streq(cwd, "/");
        out[C_MARKER] = read_is("/marker", "image");
        out[C_HOST_GONE] = access("/etc/os-release", F_OK) < 0 && errno == ENOENT;
        out[C_WRITE_ROOT] = create_errno("/new");
        out[C_PROC] = access("/proc/self/status", R_OK) == 0;
        out[C_DEV_NULL] = stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
        out[C_DEV_MEM] = stat("/dev/mem", &st) < 0 ? errno : 0;
        out[C_MASKED] = read_is("/proc/interrupts", "");
        out[C_PROC_SYS] = create_errno("/proc/sys/kernel/hostname");
        out[C_BIND_READ] = read_is("/data/file", "host");
        out[C_BIND_WRITE] = create_errno("/data/x");
        out[C_TMPFS] = statfs("/scratch", &fs) == 0 && (uint32_t)fs.f_type == TMPFS_MAGIC &&
                       (uint64_t)fs.f_blocks * fs.f_bsize == 1024 * 1024;
}

static int probe_child(const void *data, int *out, size_t n)
{
        (void)n;
        probe(data, out);
        return 0;
}

static bool run(const RootfsPlan *p, int got[C_MAX])
{
        return run_in_child(probe_child, p, got, C_MAX);
}

static void write_file(const char *path, const char *text)
{
        if (write_file_atomic(path, text, strlen(text), 0644, false) < 0)
                tap_diag("cannot write %s", path);
}

static RootfsPlan plan(const char *name, bool read_only)
{
        RootfsPlan p = {
                .image = xasprintf("%s/image", dir),
                .staging = xasprintf("%s/%s", dir, name),
                .staging_size = 16 * 1024 * 1024,
                .read_only = read_only,
                .use_chroot = rootfs_host_is_initramfs(),
        };
        _cleanup_free_ char *host = xasprintf("%s/host", dir);

        (void)mkdir(p.staging, 0700);
        rootfs_plan_add(&p, ROOTFS_MOUNT_BIND, host, "/data", true, false, NULL);
        rootfs_plan_add(&p, ROOTFS_MOUNT_TMPFS, NULL, "/scratch", false, false, "mode=1777,size=1m");
        rootfs_plan_add_defaults(&p);
        return p;
}

static void writable(void)
{
        RootfsPlan p = plan("rw", false);
        int got[C_MAX];

        ok(run(&p, got), "a child ran rootfs_setup");
        is_int(got[C_SETUP], 0, "rootfs_setup succeeds");
        ok(got[C_CWD_ROOT], "it ends at / of the new root");
        ok(got[C_MARKER], "the image's /marker is there");
        ok(got[C_HOST_GONE], "the host's /etc/os-release is not");
        is_int(got[C_WRITE_ROOT], 0, "the root is writable (an overlay)");
        _cleanup_free_ char *leak = xasprintf("%s/image/new", dir);
        ok(access(leak, F_OK) < 0 && errno == ENOENT, "and the write never reaches the image");
        ok(got[C_PROC], "/proc is mounted");
        ok(got[C_DEV_NULL], "/dev/null is the null device");
        is_int(got[C_DEV_MEM], ENOENT, "/dev has no /dev/mem");
        ok(got[C_MASKED], "/proc/interrupts is masked (reads nothing; the host's never is empty)");
        is_int(got[C_PROC_SYS], EROFS, "/proc/sys is read-only");
        ok(got[C_BIND_READ], "a bind of a host directory reads its file");
        is_int(got[C_BIND_WRITE], EROFS, "a read-only bind refuses writes");
        ok(got[C_TMPFS], "a tmpfs with size=1m is a tmpfs of 1 MiB");
        rootfs_plan_done(&p);
}

static void read_only(void)
{
        RootfsPlan p = plan("ro", true);
        int got[C_MAX];

        ok(run(&p, got), "a child ran rootfs_setup (ReadOnly=yes)");
        is_int(got[C_SETUP], 0, "rootfs_setup succeeds");
        ok(got[C_MARKER], "the image's /marker is there");
        is_int(got[C_WRITE_ROOT], EROFS, "the root refuses writes");
        ok(got[C_TMPFS], "the tmpfs is still writable space of its own");
        rootfs_plan_done(&p);
}

int main(void)
{
        if (geteuid() != 0) {
                printf("1..0 # SKIP needs root (mounts in a mount namespace of its own)\n");
                return 0;
        }
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        _cleanup_free_ char *image = xasprintf("%s/image", dir), *host = xasprintf("%s/host", dir),
                            *marker = xasprintf("%s/marker", image), *file = xasprintf("%s/file", host);
        if (mkdir(image, 0755) < 0 || mkdir(host, 0755) < 0)
                return 1;
        write_file(marker, "image");
        write_file(file, "host");
        writable();
        read_only();
        _cleanup_free_ char *cmd = xasprintf("rm -rf --one-file-system '%s'", dir);
        if (system(cmd) != 0)
                tap_diag("could not remove %s", dir);
        return tap_done();
}
