/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <stdarg.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <linux/magic.h>
#include <sys/syscall.h>

#include "rootfs.h"
#include "test-switches.h"
#include "util.h"

static const char *const default_masked[] = {
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
        "/proc/interrupts", "/sys/firmware", "/sys/devices/virtual/powercap",
};
static const char *const default_read_only[] = {
        "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};
/* Host device nodes copied (mknod) into the container's /dev; bound where
 * mknod is refused (user namespaces, some sandboxes). */
static const char *const dev_nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
static const char *const dev_links[][2] = {
        { "pts/ptmx", "ptmx" },         { "/proc/self/fd", "fd" },
        { "/proc/self/fd/0", "stdin" }, { "/proc/self/fd/1", "stdout" },
        { "/proc/self/fd/2", "stderr" }, { "/proc/kcore", "core" },
};

void rootfs_plan_done(RootfsPlan *p)
{
        free(p->image);
        strv_free(p->layers);
        free(p->staging);
        free(p->upper);
        free(p->work);
        for (size_t i = 0; i < p->n_mounts; i++) {
                free(p->mounts[i].source);
                free(p->mounts[i].destination);
                free(p->mounts[i].options);
        }
        free(p->mounts);
        strv_free(p->masked);
        strv_free(p->read_only_paths);
        strv_free(p->sysctls);
        for (size_t i = 0; i < p->n_devices; i++)
                free(p->devices[i].path);
        free(p->devices);
        *p = (RootfsPlan){};
}

static size_t path_depth(const char *p)
{
        size_t n = 0;

        for (; *p; p++)
                n += *p == '/';
        return n;
}

void rootfs_plan_add(RootfsPlan *p, RootfsMountKind kind, const char *source,
                     const char *destination, bool read_only, bool optional,
                     const char *options)
{
        size_t i, d = path_depth(destination);

        p->mounts = xrealloc(p->mounts, (p->n_mounts + 1) * sizeof(RootfsMount));
        /* Stable insertion by depth: /a is mounted before /a/b whatever the
         * order of the unit's lines. */
        for (i = p->n_mounts; i > 0 && path_depth(p->mounts[i - 1].destination) > d; i--)
                p->mounts[i] = p->mounts[i - 1];
        p->mounts[i] = (RootfsMount){
                .kind = kind,
                .source = source ? xstrdup(source) : NULL,
                .destination = xstrdup(destination),
                .read_only = read_only,
                .optional = optional,
                .options = options ? xstrdup(options) : NULL,
        };
        p->n_mounts++;
}

void rootfs_plan_add_defaults(RootfsPlan *p)
{
        for (size_t i = 0; i < ELEMENTSOF(default_masked); i++)
                strv_add(&p->masked, default_masked[i]);
        for (size_t i = 0; i < ELEMENTSOF(default_read_only); i++)
                strv_add(&p->read_only_paths, default_read_only[i]);
}

bool rootfs_host_is_initramfs(void)
{
        _cleanup_free_ char *mi = NULL;
        struct statfs fs;
        size_t n;

        /* The initramfs is a ramfs or a tmpfs: anything else is not it. */
        if (statfs("/", &fs) == 0 && (uint32_t)fs.f_type != RAMFS_MAGIC &&
            (uint32_t)fs.f_type != TMPFS_MAGIC)
                return false;
        if (read_full_file("/proc/self/mountinfo", 16 * 1024 * 1024, &mi, &n) < 0)
                return false;
        /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE ..." */
        for (char *line = mi, *next; line && *line; line = next) {
                char root[8], point[8], type[16];
                const char *dash;

                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (sscanf(line, "%*d %*d %*s %7s %7s", root, point) != 2 ||
                    !streq(point, "/"))
                        continue;
                dash = strstr(line, " - ");
                if (dash && sscanf(dash + 3, "%15s", type) == 1 && streq(type, "rootfs"))
                        return true;
        }
        return false;
}

/* ---- child side ---------------------------------------------------------- */

/* Opens path below rootfd with symlinks resolved as if rootfd were "/", so an
 * image's "/etc -> /host/etc" can never send a mount to the host. */
static int open_in_root(int rootfd, const char *path, uint64_t flags)
{
        struct open_how how = {
                .flags = flags | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        int fd;

        fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
        return fd < 0 ? -errno : fd;
}

/* Opens the mount point path (an O_PATH fd), creating it and its parents
 * when missing: a directory, or an empty file when as_file. */
static int make_mount_point(int rootfd, const char *path, bool as_file)
{
        _cleanup_free_ char *prefix = xstrdup(path);
        _cleanup_close_ int parent = -1;
        int fd;

        fd = open_in_root(rootfd, path, O_PATH);
        if (fd != -ENOENT)
                return fd;

        parent = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        if (parent < 0)
                return -errno;
        for (char *s = prefix + 1;; ) {
                char *slash = strchr(s, '/');
                bool last = !slash;

                if (slash)
                        *slash = '\0';
                fd = open_in_root(rootfd, prefix, O_PATH);
                if (fd == -ENOENT) {
                        if (last && as_file) {
                                fd = openat(parent, s, O_CREAT | O_EXCL | O_WRONLY |
                                            O_NOFOLLOW | O_CLOEXEC, 0644);
                                if (fd < 0)
                                        return -errno;
                                close(fd);
                        } else if (mkdirat(parent, s, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        fd = open_in_root(rootfd, prefix, O_PATH);
                }
                if (fd < 0 || last)
                        return fd;
                safe_close(parent);
                parent = fd;
                *slash = '/';
                s = slash + 1;
        }
}

static int mount_on_fd(const char *source, int fd, const char *type, unsigned long flags,
                       const char *data)
{
        char path[64];

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        return mount(source, path, type, flags, data) < 0 ? -errno : 0;
}

/* Binds source (a path, or the tree at fd when path is "") onto target with
 * the MOUNT_ATTR_* of attrs (RDONLY, NODEV) set on every mount of the tree,
 * through the new mount API: no path is looked up twice. */
static int bind_onto(int source_dirfd, const char *source, int target, bool recursive,
                     uint64_t attrs)
{
        _cleanup_close_ int tree = -1;
        unsigned rec = recursive ? AT_RECURSIVE : 0;

        tree = open_tree(source_dirfd, source,
                         OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec |
                                 (source[0] ? 0 : AT_EMPTY_PATH));
        if (tree < 0)
                return -errno;
        if (attrs) {
                /* An atime mode replaces the one the tree has (the kernel
                 * wants the whole field cleared with it). */
                struct mount_attr a = { .attr_set = attrs,
                                        .attr_clr = attrs & (MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME)
                                                            ? MOUNT_ATTR__ATIME : 0 };
                if (mount_setattr(tree, "", AT_EMPTY_PATH | rec, &a, sizeof(a)) < 0)
                        return -errno;
        }
        if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return -errno;
        return 0;
}

/*
 * The root filesystem is nodev: a device node in the image (a directory
 * image, or one a layer brought before import dropped them) or made in the
 * writable layer never opens. Only the container's own /dev (and its pts)
 * and the Devices= binds are mounts where nodes work; the device allowlist
 * of the cgroup decides which. Privileged=yes has the host's /dev and may
 * make nodes anywhere, as Docker's --privileged.
 */
static unsigned root_nodev_attr(const RootfsPlan *p)
{
        return p->privileged ? 0 : MOUNT_ATTR_NODEV;
}

static unsigned long root_nodev_flag(const RootfsPlan *p)
{
        return p->privileged ? 0 : MS_NODEV;
}

/* Sets *ret_error to "<what>: <strerror(r)>" and returns r. */
static int fail(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(char **ret_error, int r, const char *fmt, ...)
{
        _cleanup_free_ char *head = NULL;
        va_list ap;

        va_start(ap, fmt);
        head = xvasprintf(fmt, ap);
        va_end(ap);
        return error_set(ret_error, r, "%s: %s", head, strerror(-r));
}

static int mount_point_or_fail(int rootfd, const char *path, bool as_file, char **ret_error)
{
        int fd = make_mount_point(rootfd, path, as_file);

        if (fd == -EROFS) {
                *ret_error = xasprintf("mount point `%s` does not exist in the read-only root filesystem",
                                       path);
                return fd;
        }
        if (fd < 0)
                return fail(ret_error, fd, "mount point `%s`", path);
        return fd;
}

/*
 * The overlay of a layered image, through the new mount API: one
 * "lowerdir+" per layer (Linux 6.8), highest first, so the number of layers
 * is not bounded by the page-sized option string, nor each path by
 * fsconfig's 256 bytes for a whole "lowerdir=". -EINVAL from the first
 * "lowerdir+": the kernel is older, use overlay_mount_legacy().
 * upper NULL: read-only. nodev: MOUNT_ATTR_NODEV or 0.
 */
static int overlay_mount_lowerdir_plus(char *const *layers, size_t n, const char *upper,
                                       const char *work, const char *root, unsigned nodev,
                                       bool userxattr)
{
        _cleanup_close_ int fs = -1, mnt = -1;

        fs = fsopen("overlay", FSOPEN_CLOEXEC);
        if (fs < 0)
                return -errno;
        for (size_t i = n; i > 0; i--)
                if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", layers[i - 1], 0) < 0)
                        return -errno;
        if (upper && (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
                      fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0))
                return -errno;
        if (userxattr && fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
                return -errno;
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return -errno;
        mnt = fsmount(fs, FSMOUNT_CLOEXEC, nodev | (upper ? 0 : MOUNT_ATTR_RDONLY));
        if (mnt < 0)
                return -errno;
        if (move_mount(mnt, "", AT_FDCWD, root, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return -errno;
        return 0;
}

/*
 * The same with mount(2), whose options must fit in one page: overlayfs
 * resolves lowerdir paths against the caller's cwd, so from inside the
 * store's layers directory each layer is its bare name (65 bytes: ~60
 * layers) instead of its full path. The cwd is switched later anyway.
 */
static int overlay_mount_legacy(char *const *layers, size_t n, const char *upper,
                                const char *work, const char *root, unsigned long nodev,
                                bool userxattr)
{
        _cleanup_free_ char *dir = NULL, *opts = NULL;
        size_t l, len = 0;
        bool relative;

        dir = xstrdup(layers[0]);
        *(strrchr(dir, '/') ?: dir) = '\0';
        l = strlen(dir);
        relative = l > 0;
        for (size_t i = 0; i < n && relative; i++)
                relative = strncmp(layers[i], dir, l) == 0 && layers[i][l] == '/' &&
                           !strchr(layers[i] + l + 1, '/');
        if (relative && chdir(dir) < 0)
                return -errno;
        for (size_t i = 0; i < n; i++)
                len += strlen(layers[i]) + 1;
        opts = xcalloc(1, len + strlen("lowerdir=,upperdir=,workdir=,userxattr") +
                                  (upper ? strlen(upper) + strlen(work) : 0) + 1);
        strcpy(opts, "lowerdir=");
        for (size_t i = n; i > 0; i--) {
                strcat(opts, relative ? layers[i - 1] + l + 1 : layers[i - 1]);
                if (i > 1)
                        strcat(opts, ":");
        }
        if (upper)
                sprintf(opts + strlen(opts), ",upperdir=%s,workdir=%s", upper, work);
        if (userxattr)
                strcat(opts, ",userxattr");
        if (strlen(opts) >= (size_t)getpagesize())
                return -E2BIG;
        return mount("overlay", root, "overlay", nodev | (upper ? 0 : MS_RDONLY), opts) < 0 ? -errno : 0;
}

/* A layered image's root: its layers under the writable upper (or none). A
 * single read-only layer is bound: overlayfs wants two lowers without an
 * upper on older kernels. */
static int setup_layered_root(const RootfsPlan *p, const char *root, const char *upper,
                              const char *work, char **ret_error)
{
        _cleanup_free_ char *empty = NULL;
        char *const *layers = p->layers;
        char *none[2] = {};
        size_t n = strv_length(p->layers);
        int r;

        if (n == 0) {
                /* An image without layers (FROM scratch, nothing added). */
                empty = path_join(p->staging, "empty");
                if (mkdir(empty, 0755) < 0)
                        return fail(ret_error, -errno, "mkdir `%s`", empty);
                none[0] = empty;
                layers = none;
                n = 1;
        }
        if (!upper && n == 1) {
                _cleanup_close_ int target = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

                if (target < 0)
                        return fail(ret_error, -errno, "open `%s`", root);
                r = bind_onto(AT_FDCWD, layers[0], target, true,
                              MOUNT_ATTR_RDONLY | root_nodev_attr(p));
                return r < 0 ? fail(ret_error, r, "layer `%s`", layers[0]) : 0;
        }
        /* Test switch: the mount(2) path of kernels before 6.8, on any kernel. */
        r = test_switches.overlay_legacy ? -EINVAL
                : overlay_mount_lowerdir_plus(layers, n, upper, work, root, root_nodev_attr(p),
                                              p->userxattr);
        if (r == -EINVAL || r == -ENOSYS || r == -EPERM)
                r = overlay_mount_legacy(layers, n, upper, work, root, root_nodev_flag(p), p->userxattr);
        if (r == -E2BIG) {
                *ret_error = xasprintf("overlay of %zu layers: the options exceed this kernel's "
                                       "mount option limit (Linux 6.8 lifts it)", n);
                return r;
        }
        return r < 0 ? fail(ret_error, r, "overlay of %zu image layers", n) : 0;
}

/* The image (or its layers) under a writable upper: the persistent one, else
 * a directory on the staging tmpfs. */
static int setup_overlay_root(const RootfsPlan *p, const char *root, char **ret_error)
{
        _cleanup_free_ char *upper = NULL, *work = NULL, *opts = NULL;

        upper = p->upper ? xstrdup(p->upper) : path_join(p->staging, "upper");
        work = p->work ? xstrdup(p->work) : path_join(p->staging, "work");
        if (!p->upper && (mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0))
                return fail(ret_error, -errno, "mkdir in `%s`", p->staging);
        if (p->layers)
                return setup_layered_root(p, root, upper, work, ret_error);
        opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s%s", p->image, upper, work,
                         p->userxattr ? ",userxattr" : "");
        if (mount("overlay", root, "overlay", root_nodev_flag(p), opts) < 0)
                return fail(ret_error, -errno, "overlay on image `%s`", p->image);
        return 0;
}

static int setup_root_mount(const RootfsPlan *p, const char *root, char **ret_error)
{
        _cleanup_free_ char *opts = p->staging_size > 0
                ? xasprintf("mode=0700,size=%" PRIu64 ",nr_inodes=%" PRIu64, p->staging_size,
                            p->staging_inodes)
                : xstrdup("mode=0700");
        _cleanup_close_ int target = -1;
        int r;

        if (mount("ccsup", p->staging, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
                return fail(ret_error, -errno, "tmpfs on `%s`", p->staging);
        if (mkdir(root, 0755) < 0)
                return fail(ret_error, -errno, "mkdir `%s`", root);

        if (p->layers && p->read_only)
                return setup_layered_root(p, root, NULL, NULL, ret_error);
        if (p->read_only || p->in_place) {
                target = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (target < 0)
                        return fail(ret_error, -errno, "open `%s`", root);
                r = bind_onto(AT_FDCWD, p->image, target, true,
                              (p->in_place ? 0 : MOUNT_ATTR_RDONLY) | root_nodev_attr(p));
                if (r < 0)
                        return fail(ret_error, r, "image `%s`", p->image);
                return 0;
        }

        return setup_overlay_root(p, root, ret_error);
}

static int setup_proc_sys(const RootfsPlan *p, int rootfd, char **ret_error)
{
        _cleanup_close_ int proc = -1, sys = -1;
        int r;

        proc = mount_point_or_fail(rootfd, "/proc", false, ret_error);
        if (proc < 0)
                return proc;
        r = mount_on_fd("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        if (r < 0)
                return fail(ret_error, r, "mount `%s`", "/proc");

        sys = mount_point_or_fail(rootfd, "/sys", false, ret_error);
        if (sys < 0)
                return sys;
        /* A fresh sysfs shows the network devices of the mounter's netns:
         * right for an own netns, the host's otherwise, so then bind it. */
        /* Privileged=yes: writable, as Docker's --privileged has it. */
        if (p->own_netns)
                r = mount_on_fd("sysfs", sys, "sysfs",
                                (p->privileged ? 0 : MS_RDONLY) | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                NULL);
        else
                r = bind_onto(AT_FDCWD, "/sys", sys, true,
                              MOUNT_ATTR_NODEV | (p->privileged ? 0 : MOUNT_ATTR_RDONLY));
        if (r < 0)
                return fail(ret_error, r, "mount `%s`", "/sys");
        return 0;
}

/* A copy of the host's node: one inode on the container's tmpfs, where a
 * bind would be a mount to make and to tear down again. 0 when made, <0
 * when mknod is refused (a user namespace, a seccomp'd or nodev host). */
static int copy_dev_node(int dev, const char *name, const char *host)
{
        struct stat st;

        if (stat(host, &st) < 0)
                return -errno;
        if (!S_ISCHR(st.st_mode))
                return -ENODEV;
        if (mknodat(dev, name, S_IFCHR | 0666, st.st_rdev) < 0)
                return -errno;
        /* mknod obeyed ccsupd's umask. */
        if (fchmodat(dev, name, 0666, 0) < 0)
                return -errno;
        return 0;
}

static int bind_dev_node(int dev, const char *name, const char *host, char **ret_error)
{
        _cleanup_close_ int fd = -1;
        int r;

        (void)unlinkat(dev, name, 0);
        fd = openat(dev, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
        if (fd < 0)
                return fail(ret_error, -errno, "/dev/%s", name);
        safe_close(fd);
        fd = openat(dev, name, O_PATH | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return fail(ret_error, -errno, "/dev/%s", name);
        r = bind_onto(AT_FDCWD, host, fd, false, 0);
        return r < 0 ? fail(ret_error, r, "bind `%s`", host) : 0;
}

static int setup_dev_nodes(int dev, char **ret_error)
{
        int r;

        for (size_t i = 0; i < ELEMENTSOF(dev_nodes); i++) {
                _cleanup_free_ char *host = path_join("/dev", dev_nodes[i]);

                if (copy_dev_node(dev, dev_nodes[i], host) == 0)
                        continue;
                r = bind_dev_node(dev, dev_nodes[i], host, ret_error);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(dev_links); i++)
                if (symlinkat(dev_links[i][0], dev, dev_links[i][1]) < 0)
                        return fail(ret_error, -errno, "/dev/%s", dev_links[i][1]);
        return 0;
}

static int mount_dev_sub(int dev, const char *name, const char *type, unsigned long flags,
                         const char *data, char **ret_error)
{
        _cleanup_close_ int fd = -1;
        int r;

        if (mkdirat(dev, name, 0755) < 0)
                return fail(ret_error, -errno, "/dev/%s", name);
        fd = openat(dev, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return fail(ret_error, -errno, "/dev/%s", name);
        r = mount_on_fd(type, fd, type, flags, data);
        if (r < 0)
                return fail(ret_error, r, "mount /dev/%s", name);
        return 0;
}

static int setup_dev(const RootfsPlan *p, int rootfd, char **ret_error)
{
        _cleanup_close_ int mp = -1, dev = -1;
        int r;

        mp = mount_point_or_fail(rootfd, "/dev", false, ret_error);
        if (mp < 0)
                return mp;
        if (p->privileged) {
                r = bind_onto(AT_FDCWD, "/dev", mp, true, 0);
                return r < 0 ? fail(ret_error, r, "bind `%s`", "/dev") : 0;
        }
        r = mount_on_fd("tmpfs", mp, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=65536k");
        if (r < 0)
                return fail(ret_error, r, "mount `%s`", "/dev");
        /* The fd still names the directory below the new mount. */
        dev = open_in_root(rootfd, "/dev", O_PATH | O_DIRECTORY);
        if (dev < 0)
                return fail(ret_error, dev, "open `%s`", "/dev");

        r = setup_dev_nodes(dev, ret_error);
        if (r < 0)
                return r;
        r = mount_dev_sub(dev, "pts", "devpts", MS_NOSUID | MS_NOEXEC,
                          "newinstance,ptmxmode=0666,mode=0620,gid=5", ret_error);
        if (r < 0)
                return r;
        r = mount_dev_sub(dev, "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                          "mode=1777,size=65536k", ret_error);
        if (r < 0)
                return r;
        return mount_dev_sub(dev, "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
                             ret_error);
}

/* The nodes of linux.devices on the container's /dev tmpfs (a node that is
 * there already, as /dev/null is, is replaced): mknod, then its owner and
 * mode as given (not the umask's). */
static int setup_devices(const RootfsPlan *p, int rootfd, char **ret_error)
{
        for (size_t i = 0; i < p->n_devices; i++) {
                const RootfsDevice *d = &p->devices[i];
                _cleanup_free_ char *dir = xstrdup(d->path);
                _cleanup_close_ int parent = -1;
                char *slash = strrchr(dir, '/');
                const char *name = d->path + (slash - dir) + 1;

                *slash = 0;
                parent = make_mount_point(rootfd, dir, false);
                if (parent >= 0) {
                        int fd = open_in_root(rootfd, dir, O_RDONLY | O_DIRECTORY);
                        safe_close(parent);
                        parent = fd;
                }
                if (parent < 0)
                        return fail(ret_error, parent, "device `%s`", d->path);
                (void)unlinkat(parent, name, 0);
                int made = mknodat(parent, name, d->mode, d->rdev) < 0 ? -errno : 0;
                if (made == -EPERM && p->userns_ids) {
                        /* A user namespace may not make nodes: the host's
                         * node of that path is bound instead, when it is the
                         * same device (its owner and mode stay the host's). */
                        struct stat st;
                        if (stat(d->path, &st) < 0 || (st.st_mode & S_IFMT) != (d->mode & S_IFMT) ||
                            st.st_rdev != d->rdev)
                                return fail(ret_error, -EPERM, "device `%s`: no node in a user namespace, and "
                                            "the host has none of that device at that path", d->path);
                        int r = bind_dev_node(parent, name, d->path, ret_error);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (made < 0)
                        return fail(ret_error, made, "device `%s`", d->path);
                if (fchownat(parent, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
                    fchmodat(parent, name, d->mode & 07777, 0) < 0)
                        return fail(ret_error, -errno, "device `%s`", d->path);
        }
        return 0;
}

static int copy_tree(int from, int to, unsigned depth);

/* One entry of copy_tree(): name from the directory at from into to, with
 * its mode, owner and (for a file) contents; symbolic links as they are. */
static int copy_entry(int from, int to, const char *name, unsigned depth)
{
        struct stat st;
        int r = 0;

        if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode)) {
                _cleanup_close_ int a = -1, b = -1;

                if (mkdirat(to, name, 0700) < 0)
                        return -errno;
                a = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                b = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (a < 0 || b < 0)
                        return -errno;
                r = copy_tree(a, b, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
                _cleanup_close_ int a = openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), b = -1;
                char buf[65536];
                ssize_t n;

                if (a < 0)
                        return -errno;
                b = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (b < 0)
                        return -errno;
                while ((n = read(a, buf, sizeof(buf))) > 0)
                        if (write(b, buf, (size_t)n) != n)
                                return errno ? -errno : -EIO;
                if (n < 0)
                        return -errno;
        } else if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t n = readlinkat(from, name, target, sizeof(target) - 1);

                if (n < 0)
                        return -errno;
                target[n] = 0;
                if (symlinkat(target, to, name) < 0)
                        return -errno;
        } else if (mknodat(to, name, st.st_mode, st.st_rdev) < 0)
                return -errno;
        if (r < 0)
                return r;
        if (fchownat(to, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISLNK(st.st_mode) && fchmodat(to, name, st.st_mode & 07777, 0) < 0)
                return -errno;
        return 0;
}

/* The contents of the directory at from into the one at to, never
 * following a symbolic link (a copy of the image's, so inside its root). */
static int copy_tree(int from, int to, unsigned depth)
{
        DIR *d;
        int fd, r = 0;

        if (depth > 64)
                return -ELOOP;
        fd = fcntl(from, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        for (struct dirent *e; r >= 0 && (e = readdir(d));)
                if (!streq(e->d_name, ".") && !streq(e->d_name, ".."))
                        r = copy_entry(from, to, e->d_name, depth);
        closedir(d);
        return r;
}

/* A tmpfs at m->destination with a copy of what was there (tmpcopyup):
 * made writable, filled, then read-only if asked. */
static int tmpfs_copy_up(int rootfd, const RootfsMount *m, unsigned long flags, char **ret_error)
{
        _cleanup_close_ int lower = open_in_root(rootfd, m->destination, O_RDONLY | O_DIRECTORY),
                            target = -1, upper = -1;
        struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };
        int r;

        if (lower < 0)
                return fail(ret_error, lower, "tmpfs `%s`: tmpcopyup", m->destination);
        target = open_in_root(rootfd, m->destination, O_PATH);
        if (target < 0)
                return fail(ret_error, target, "tmpfs `%s`", m->destination);
        r = mount_on_fd("tmpfs", target, "tmpfs", flags & ~(unsigned long)MS_RDONLY, m->options);
        if (r < 0)
                return fail(ret_error, r, "tmpfs `%s`", m->destination);
        upper = open_in_root(rootfd, m->destination, O_RDONLY | O_DIRECTORY);
        if (upper < 0)
                return fail(ret_error, upper, "tmpfs `%s`", m->destination);
        r = copy_tree(lower, upper, 0);
        if (r < 0)
                return fail(ret_error, r, "tmpfs `%s`: tmpcopyup", m->destination);
        if ((flags & MS_RDONLY) && mount_setattr(upper, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
                return fail(ret_error, -errno, "tmpfs `%s`: read-only", m->destination);
        return 0;
}

static int setup_unit_mount(const RootfsPlan *p, int rootfd, const RootfsMount *m,
                            char **ret_error)
{
        _cleanup_close_ int target = -1;
        struct stat st;
        int r;

        if (m->kind == ROOTFS_MOUNT_TMPFS || m->kind == ROOTFS_MOUNT_CGROUP) {
                bool cg = m->kind == ROOTFS_MOUNT_CGROUP;

                unsigned long flags = MS_NOSUID | MS_NODEV | (m->read_only ? MS_RDONLY : 0) |
                                      (m->extra_attr & MOUNT_ATTR_NOEXEC ? MS_NOEXEC : 0) |
                                      (m->extra_attr & MOUNT_ATTR_NOATIME ? MS_NOATIME : 0) |
                                      (m->extra_attr & MOUNT_ATTR_STRICTATIME ? MS_STRICTATIME : 0) |
                                      (m->extra_attr & MOUNT_ATTR_NODIRATIME ? MS_NODIRATIME : 0);

                target = mount_point_or_fail(rootfd, m->destination, false, ret_error);
                if (target < 0)
                        return target;
                if (!cg && m->copy_up)
                        return tmpfs_copy_up(rootfd, m, flags, ret_error);
                r = mount_on_fd(cg ? "cgroup2" : "tmpfs", target, cg ? "cgroup2" : "tmpfs", flags,
                                m->options);
                return r < 0 ? fail(ret_error, r, "%s `%s`", cg ? "cgroup2" : "tmpfs",
                                    m->destination) : 0;
        }

        if (stat(m->source, &st) < 0) {
                if (errno == ENOENT && m->optional)
                        return 0;
                return fail(ret_error, -errno, "bind `%s`", m->source);
        }
        target = mount_point_or_fail(rootfd, m->destination, !S_ISDIR(st.st_mode), ret_error);
        if (target < 0)
                return target;
        /* Bind=, Volume=: no device node of theirs opens (nodev down the
         * whole tree, as on the root); Devices= nodes are bound as they are. */
        r = bind_onto(AT_FDCWD, m->source, target, !m->non_recursive,
                      (m->read_only ? MOUNT_ATTR_RDONLY : 0) | m->extra_attr |
                              (m->kind == ROOTFS_MOUNT_DEVICE ? 0 : root_nodev_attr(p)));
        return r < 0 ? fail(ret_error, r, "bind `%s`", m->source) : 0;
}

/* Masks path if it exists: /dev/null over a file, an empty read-only tmpfs
 * over a directory. */
static int mask_path(int rootfd, const char *path, char **ret_error)
{
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        fd = open_in_root(rootfd, path, O_PATH);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0 || fstat(fd, &st) < 0)
                return fail(ret_error, fd < 0 ? fd : -errno, "mask `%s`", path);
        if (S_ISDIR(st.st_mode))
                r = mount_on_fd("tmpfs", fd, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                "mode=755");
        else
                r = bind_onto(AT_FDCWD, "/dev/null", fd, false, 0);
        return r < 0 ? fail(ret_error, r, "mask `%s`", path) : 0;
}

static int read_only_path(int rootfd, const char *path, char **ret_error)
{
        _cleanup_close_ int fd = -1;
        int r;

        fd = open_in_root(rootfd, path, O_PATH);
        if (fd == -ENOENT)
                return 0;
        if (fd < 0)
                return fail(ret_error, fd, "read-only path `%s`", path);
        r = bind_onto(fd, "", fd, true, MOUNT_ATTR_RDONLY);
        return r < 0 ? fail(ret_error, r, "read-only path `%s`", path) : 0;
}

/* Lets unprivileged processes of the container use ICMP sockets (ping). The
 * knob is per network namespace: only touched in the container's own. */
/* Every group may ping; in a user namespace, every group it maps (the
 * kernel refuses a group without a mapping). */
static void allow_ping(int rootfd, uint32_t userns_ids)
{
        _cleanup_close_ int fd = open_in_root(rootfd, "/proc/sys/net/ipv4/ping_group_range",
                                              O_WRONLY);
        char range[32];

        snprintf(range, sizeof(range), "0 %" PRIu32, userns_ids ? userns_ids - 1 : UINT32_C(2147483647));
        if (fd >= 0)
                (void)!write(fd, range, strlen(range));
}

static int switch_root(const char *root, bool use_chroot, bool *ret_chrooted, char **ret_error)
{
        if (chdir(root) < 0)
                return fail(ret_error, -errno, "chdir `%s`", root);
        *ret_chrooted = false;
        if (!use_chroot) {
                if (syscall(SYS_pivot_root, ".", ".") == 0) {
                        /* The old root now sits below the new one: detach it. */
                        if (umount2(".", MNT_DETACH) < 0)
                                return fail(ret_error, -errno, "umount `%s`", "old root");
                        if (chdir("/") < 0)
                                return fail(ret_error, -errno, "chdir `%s`", "/");
                        return 0;
                }
                if (errno != EINVAL)
                        return fail(ret_error, -errno, "pivot_root `%s`", root);
        }
        /* / is the initramfs, which cannot be pivoted away from: move the new
         * root over it and chroot (switch_root's method). */
        if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
                return fail(ret_error, -errno, "move `%s` to /", root);
        if (chroot(".") < 0 || chdir("/") < 0)
                return fail(ret_error, -errno, "chroot `%s`", root);
        *ret_chrooted = true;
        return 0;
}

/* True when every mount point the plan needs (/proc, /sys, /dev and the
 * unit's) is in the tree at rootfd already. */
static bool mount_points_exist(const RootfsPlan *p, int rootfd)
{
        static const char *const fixed[] = { "/proc", "/sys", "/dev" };
        size_t n = ELEMENTSOF(fixed) + p->n_mounts;

        for (size_t i = 0; i < n; i++) {
                const RootfsMount *m = i < ELEMENTSOF(fixed) ? NULL : &p->mounts[i - ELEMENTSOF(fixed)];
                _cleanup_close_ int fd = -1;

                if (m && m->kind == ROOTFS_MOUNT_BIND && m->optional && access(m->source, F_OK) < 0)
                        continue;
                fd = open_in_root(rootfd, m ? m->destination : fixed[i], O_PATH);
                if (fd == -ENOENT)
                        return false;
        }
        return true;
}

/*
 * ReadOnly=yes with a mount point missing from the image: the read-only
 * root gives way to an overlay whose upper is a directory of the staging
 * tmpfs, so the mount points can be made there (never in the image), and
 * rootfs_setup() makes the root mount read-only once they are mounted on, as
 * `docker run --read-only -v` does.
 */
static int setup_read_only_upper(const RootfsPlan *p, const char *root, char **ret_error)
{
        if (umount2(root, MNT_DETACH) < 0)
                return fail(ret_error, -errno, "umount `%s`", root);
        return setup_overlay_root(p, root, ret_error);
}

int rootfs_setup(const RootfsPlan *p, bool *ret_chrooted, char **ret_error)
{
        _cleanup_free_ char *root = path_join(p->staging, "root");
        _cleanup_close_ int rootfd = -1;
        bool seal = false;
        int r;

        /* Nothing mounted from here on may propagate back to the host. */
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return fail(ret_error, -errno, "make `%s` private", "/");

        r = setup_root_mount(p, root, ret_error);
        if (r < 0)
                return r;
        rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return fail(ret_error, -errno, "open `%s`", root);
        if (p->in_place)
                seal = p->read_only;
        else if (p->read_only && !mount_points_exist(p, rootfd)) {
                rootfd = safe_close(rootfd);
                r = setup_read_only_upper(p, root, ret_error);
                if (r < 0)
                        return r;
                rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (rootfd < 0)
                        return fail(ret_error, -errno, "open `%s`", root);
                seal = true;
        }

        r = setup_proc_sys(p, rootfd, ret_error);
        if (r < 0)
                return r;
        r = setup_dev(p, rootfd, ret_error);
        if (r < 0)
                return r;
        r = setup_devices(p, rootfd, ret_error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < p->n_mounts; i++) {
                r = setup_unit_mount(p, rootfd, &p->mounts[i], ret_error);
                if (r < 0)
                        return r;
        }
        if (p->own_netns && !p->joined_netns)
                allow_ping(rootfd, p->userns_ids);
        STRV_FOREACH(s, p->sysctls) {
                const char *eq = strchr(*s, '=');
                _cleanup_free_ char *key = xstrndup(*s, eq ? (size_t)(eq - *s) : strlen(*s)),
                                    *path = xasprintf("/proc/sys/%s", key);
                _cleanup_close_ int fd = open_in_root(rootfd, path, O_WRONLY);
                size_t n = eq ? strlen(eq + 1) : 0;

                if (fd < 0)
                        return fail(ret_error, fd, "sysctl `%s`", key);
                if (write(fd, eq ? eq + 1 : "", n) != (ssize_t)n)
                        return fail(ret_error, -errno, "sysctl `%s`", key);
        }
        STRV_FOREACH(m, p->masked) {
                r = mask_path(rootfd, *m, ret_error);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH(m, p->read_only_paths) {
                r = read_only_path(rootfd, *m, ret_error);
                if (r < 0)
                        return r;
        }
        if (seal) {
                struct mount_attr a = { .attr_set = MOUNT_ATTR_RDONLY };

                /* The root mount alone: the mounts on it keep their own. */
                if (mount_setattr(rootfd, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
                        return fail(ret_error, -errno, "make `%s` read-only", "/");
        }
        if (p->before_switch) {
                r = p->before_switch(p->before_switch_data, ret_error);
                if (r < 0)
                        return r;
        }
        return switch_root(root, p->use_chroot, ret_chrooted, ret_error);
}
