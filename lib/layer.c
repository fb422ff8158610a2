/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "layer.h"
#include "parse.h"
#include "test-switches.h"
#include "util.h"

/*
 * libarchive is loaded with dlopen() when the first layer is read, not
 * linked: it brings libxml2, ICU, libstdc++, nettle and six compression
 * libraries, 13 of the 22 that every ccsupctl, ccsupd and ccsup-runtime
 * start would otherwise map and relocate, for a command that mostly never
 * reads a layer (as libcurl in registry.c). The calls below go through
 * this table, under the library's own names.
 */
#define ARCHIVE_FUNCS(X) \
        X(archive_entry_atime) \
        X(archive_entry_atime_is_set) \
        X(archive_entry_atime_nsec) \
        X(archive_entry_filetype) \
        X(archive_entry_gid) \
        X(archive_entry_hardlink) \
        X(archive_entry_mtime) \
        X(archive_entry_mtime_is_set) \
        X(archive_entry_mtime_nsec) \
        X(archive_entry_pathname) \
        X(archive_entry_perm) \
        X(archive_entry_rdev) \
        X(archive_entry_size) \
        X(archive_entry_size_is_set) \
        X(archive_entry_symlink) \
        X(archive_entry_uid) \
        X(archive_entry_xattr_next) \
        X(archive_entry_xattr_reset) \
        X(archive_error_string) \
        X(archive_read_data) \
        X(archive_read_data_block) \
        X(archive_read_free) \
        X(archive_read_new) \
        X(archive_read_next_header) \
        X(archive_read_open) \
        X(archive_read_support_filter_gzip) \
        X(archive_read_support_filter_zstd) \
        X(archive_read_support_format_raw) \
        X(archive_read_support_format_tar) \
        X(archive_set_error)

static struct {
#define X(name) __typeof__(name) *p_##name;
        ARCHIVE_FUNCS(X)
#undef X
} ar;

static int archive_load(char **ret_error)
{
        static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        static void *h;
        int r = 0;

        pthread_mutex_lock(&lock);
        if (!h) {
                void *x = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
                if (!x) {
                        *ret_error = xasprintf("cannot load libarchive (the Debian package libarchive13): %s", dlerror());
                        r = -ENOPKG;
                        goto out;
                }
#define X(name)                                                                         \
                if (!(*(void **)&ar.p_##name = dlsym(x, #name))) {                      \
                        *ret_error = xasprintf("libarchive: no %s", #name);            \
                        dlclose(x);                                                     \
                        r = -ENOPKG;                                                    \
                        goto out;                                                       \
                }
                ARCHIVE_FUNCS(X)
#undef X
                h = x;
        }
out:
        pthread_mutex_unlock(&lock);
        return r;
}

#define archive_entry_atime ar.p_archive_entry_atime
#define archive_entry_atime_is_set ar.p_archive_entry_atime_is_set
#define archive_entry_atime_nsec ar.p_archive_entry_atime_nsec
#define archive_entry_filetype ar.p_archive_entry_filetype
#define archive_entry_gid ar.p_archive_entry_gid
#define archive_entry_hardlink ar.p_archive_entry_hardlink
#define archive_entry_mtime ar.p_archive_entry_mtime
#define archive_entry_mtime_is_set ar.p_archive_entry_mtime_is_set
#define archive_entry_mtime_nsec ar.p_archive_entry_mtime_nsec
#define archive_entry_pathname ar.p_archive_entry_pathname
#define archive_entry_perm ar.p_archive_entry_perm
#define archive_entry_rdev ar.p_archive_entry_rdev
#define archive_entry_size ar.p_archive_entry_size
#define archive_entry_size_is_set ar.p_archive_entry_size_is_set
#define archive_entry_symlink ar.p_archive_entry_symlink
#define archive_entry_uid ar.p_archive_entry_uid
#define archive_entry_xattr_next ar.p_archive_entry_xattr_next
#define archive_entry_xattr_reset ar.p_archive_entry_xattr_reset
#define archive_error_string ar.p_archive_error_string
#define archive_read_data ar.p_archive_read_data
#define archive_read_data_block ar.p_archive_read_data_block
#define archive_read_free ar.p_archive_read_free
#define archive_read_new ar.p_archive_read_new
#define archive_read_next_header ar.p_archive_read_next_header
#define archive_read_open ar.p_archive_read_open
#define archive_read_support_filter_gzip ar.p_archive_read_support_filter_gzip
#define archive_read_support_filter_zstd ar.p_archive_read_support_filter_zstd
#define archive_read_support_format_raw ar.p_archive_read_support_format_raw
#define archive_read_support_format_tar ar.p_archive_read_support_format_tar
#define archive_set_error ar.p_archive_set_error

#define IO_BUFFER (128 * 1024)
#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define OVERLAY_OPAQUE_XATTR "trusted.overlay.opaque"
#define OVERLAY_OPAQUE_USER_XATTR "user.overlay.opaque"

int open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
        struct open_how how = {
                .flags = (uint64_t)(flags | O_CLOEXEC),
                .mode = (flags & O_CREAT) ? mode : 0,
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        return fd < 0 ? -errno : fd;
}

int layer_remove_tree(int at, const char *name)
{
        struct stat st;
        DIR *d;
        int fd, r = 0;

        if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return unlinkat(at, name, 0) < 0 && errno != ENOENT ? -errno : 0;
        fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                safe_close(fd);
                return r;
        }
        for (struct dirent *de; (de = readdir(d));) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                int k = layer_remove_tree(dirfd(d), de->d_name);
                if (k < 0 && r == 0)
                        r = k;
        }
        closedir(d);
        if (unlinkat(at, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

/* ------------------------------------------------------------------ state */

typedef struct DeferredDir {
        char *path;
        struct timespec times[2];
} DeferredDir;

typedef struct Extract {
        int in_fd, root;
        unsigned flags;
        struct archive *raw, *tar;
        Sha256 outer, inner;
        uint8_t inbuf[IO_BUFFER], rawbuf[IO_BUFFER];
        char **error;
        /* the parent directory of the previous entry, kept open */
        char *parent_path;
        int parent_fd;
        DeferredDir *dirs;
        size_t n_dirs, n_entries;
        const char *entry; /* the entry being extracted, for messages */
        char **dropped;    /* the device nodes not extracted (and links to them) */
        bool inner_eof;
        size_t padding;    /* synthetic zeros still to hand out after the end */
        LayerBudget *budget;
} Extract;

static unsigned long fault_after, fault_count;

static int fail(Extract *x, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(Extract *x, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        error_setv(x->error, r, fmt, ap);
        va_end(ap);
        return x->entry ? error_prefix(x->error, r, "layer entry `%s`", x->entry) : error_prefix(x->error, r, "layer");
}

static la_ssize_t read_outer(struct archive *a, void *data, const void **buf)
{
        Extract *x = data;
        ssize_t n;

        do
                n = read(x->in_fd, x->inbuf, sizeof(x->inbuf));
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                archive_set_error(a, errno, "read: %s", strerror(errno));
                return -1;
        }
        sha256_update(&x->outer, x->inbuf, (size_t)n);
        *buf = x->inbuf;
        return n;
}

/* The tar reader's input: the decompressed bytes of the raw reader.
 * Some producers (umoci, Go's archive/tar without Close) end a layer right
 * after the last file's data: no padding to 512 bytes, no end-of-archive
 * blocks. Their runtimes accept that, and the diff ID covers exactly those
 * bytes, so the stream is completed here with zeros that are not hashed. */
static la_ssize_t read_inner(struct archive *a, void *data, const void **buf)
{
        Extract *x = data;
        la_ssize_t n;
        size_t give;

        if (!x->inner_eof) {
                n = archive_read_data(x->raw, x->rawbuf, sizeof(x->rawbuf));
                if (n < 0) {
                        archive_set_error(a, EIO, "%s", archive_error_string(x->raw));
                        return -1;
                }
                if (n > 0) {
                        sha256_update(&x->inner, x->rawbuf, (size_t)n);
                        *buf = x->rawbuf;
                        return n;
                }
                x->inner_eof = true;
                x->padding = (512 - x->inner.length % 512) % 512 + 1024;
        }
        give = x->padding < sizeof(x->rawbuf) ? x->padding : sizeof(x->rawbuf);
        memset(x->rawbuf, 0, give);
        x->padding -= give;
        *buf = x->rawbuf;
        return (la_ssize_t)give;
}

/* ------------------------------------------------------------------ budget */

void layer_budget_init(LayerBudget *b, uint64_t size_max, int fs_fd)
{
        struct statvfs v;

        *b = (LayerBudget){ .size_max = size_max };
        if (fs_fd < 0 || fstatvfs(fs_fd, &v) < 0)
                return;
        b->check_space = true;
        b->reserve_bytes = (uint64_t)v.f_blocks * v.f_frsize / 20;
        if (b->reserve_bytes > UINT64_C(1) << 30)
                b->reserve_bytes = UINT64_C(1) << 30;
        b->reserve_inodes = (uint64_t)v.f_files / 20;
        if (b->reserve_inodes > 65536)
                b->reserve_inodes = 65536;
}

/* Sets the message of a budget failure (never about the entry alone: the
 * caller names the layer). */
static int over_budget(Extract *x, int r, const char *fmt, ...) _printf_(3, 4);
static int over_budget(Extract *x, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        error_setv(x->error, r, fmt, ap);
        va_end(ap);
        return r;
}

/* Counts bytes more of file data against size_max. */
static int charge(Extract *x, uint64_t bytes)
{
        LayerBudget *b = x->budget;

        if (!b || bytes == 0)
                return 0;
        if (b->size_max > 0 && b->size_max != UINT64_MAX &&
            (bytes > b->size_max || b->size > b->size_max - bytes)) {
                _cleanup_free_ char *max = format_size_spec(b->size_max);
                b->over_size = true;
                return over_budget(x, -EFBIG, "unpacks to more than %s", max);
        }
        b->size += bytes;
        return 0;
}

/* Whether bytes more (and one inode) leave the reserve free. A filesystem
 * that cannot tell (statvfs fails, no inode count) is not refused: a full
 * one still fails the write itself. */
static int check_space(Extract *x, uint64_t bytes)
{
        LayerBudget *b = x->budget;
        struct statvfs v;
        uint64_t avail;

        if (!b || !b->check_space || fstatvfs(x->root, &v) < 0)
                return 0;
        avail = (uint64_t)v.f_bavail * v.f_frsize;
        if (avail < b->reserve_bytes || avail - b->reserve_bytes < bytes) {
                _cleanup_free_ char *need = format_size_spec(bytes), *have = format_size_spec(avail),
                                    *keep = format_size_spec(b->reserve_bytes);
                b->over_space = true;
                return over_budget(x, -ENOSPC,
                                   "`%s` (%s) would fill the filesystem: %s available, %s kept free",
                                   x->entry ? x->entry : "?", need, have, keep);
        }
        if (v.f_files > 0 && (uint64_t)v.f_favail <= b->reserve_inodes) {
                b->over_space = true;
                return over_budget(x, -ENOSPC,
                                   "`%s` would use up the filesystem's inodes: %llu available, %" PRIu64 " kept free",
                                   x->entry ? x->entry : "?", (unsigned long long)v.f_favail,
                                   b->reserve_inodes);
        }
        return 0;
}

/* Before an entry is extracted: a regular file counts at its logical size. */
static int budget_entry(Extract *x, struct archive_entry *e)
{
        uint64_t size = 0;
        int r;

        if (!x->budget)
                return 0;
        if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e) &&
            archive_entry_size_is_set(e) && archive_entry_size(e) > 0)
                size = (uint64_t)archive_entry_size(e);
        if ((r = charge(x, size)) < 0)
                return r;
        return check_space(x, size);
}

/* ------------------------------------------------------------------ paths */

/* Normalises an entry path in place: "./a//b/" -> "a/b". Refuses absolute
 * paths and ".." components. The empty result is the layer's root. */
static int normalize_path(Extract *x, const char *in, char **ret)
{
        _cleanup_free_ char *out = NULL;
        size_t n = 0;

        if (strlen(in) >= PATH_MAX)
                return fail(x, -ENAMETOOLONG, "path is too long");
        if (in[0] == '/')
                return fail(x, -EPERM, "absolute path (refusing to write outside the layer)");
        out = xmalloc(strlen(in) + 1);
        for (const char *s = in; *s;) {
                size_t l = strcspn(s, "/");
                if (l == 2 && s[0] == '.' && s[1] == '.')
                        return fail(x, -EPERM, "path contains `..` (refusing to write outside the layer)");
                if (l > 0 && !(l == 1 && s[0] == '.')) {
                        if (n > 0)
                                out[n++] = '/';
                        memcpy(out + n, s, l);
                        n += l;
                }
                s += l;
                while (*s == '/')
                        s++;
        }
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

static void forget_parent(Extract *x)
{
        x->parent_fd = safe_close(x->parent_fd);
        x->parent_path = (free(x->parent_path), NULL);
}

/* Opens (creating missing directories, mode 0755) the directory dir of the
 * layer; never through a symlink. Returns a borrowed fd. */
static int open_parent(Extract *x, const char *dir, bool create)
{
        _cleanup_free_ char *copy = NULL;
        _cleanup_close_ int cur = -1;
        char *save = NULL;
        int fd;

        if (x->parent_path && streq(x->parent_path, dir))
                return x->parent_fd;
        fd = open_beneath(x->root, *dir ? dir : ".", O_PATH | O_DIRECTORY, 0);
        if (fd == -ENOENT && create) {
                /* Walk down, creating what is missing. */
                copy = xstrdup(dir);
                cur = fcntl(x->root, F_DUPFD_CLOEXEC, 3);
                for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                        if (mkdirat(cur, c, 0755) < 0 && errno != EEXIST)
                                return fail(x, -errno, "mkdir `%s`: %s", c, strerror(errno));
                        fd = open_beneath(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0);
                        if (fd < 0)
                                break;
                        safe_close(cur);
                        cur = fd;
                }
                if (fd >= 0)
                        fd = TAKE_FD(cur);
        }
        if (fd == -ELOOP)
                return fail(x, fd, "a parent directory in `%s` is a symlink (refusing to follow it)", dir);
        if (fd == -ENOTDIR)
                return fail(x, fd, "a parent in `%s` is not a directory", dir);
        if (fd == -EXDEV)
                return fail(x, fd, "`%s` leaves the layer", dir);
        if (fd < 0)
                return fail(x, fd, "open `%s`: %s", dir, strerror(-fd));
        forget_parent(x);
        x->parent_path = xstrdup(dir);
        x->parent_fd = fd;
        return fd;
}

/* Splits "a/b/c" into "a/b" and "c" (in place); "c" into "" and "c". */
static const char *split_base(char *path, const char **ret_dir)
{
        char *slash = strrchr(path, '/');

        if (!slash) {
                *ret_dir = "";
                return path;
        }
        *slash = '\0';
        *ret_dir = path;
        return slash + 1;
}

/* Removes whatever is at parent/name, unless it is a directory and keep_dir
 * is set. */
static int clear_name(Extract *x, int parent, const char *name, bool keep_dir)
{
        struct stat st;
        int r;

        if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : fail(x, -errno, "stat: %s", strerror(errno));
        if (keep_dir && S_ISDIR(st.st_mode))
                return 1;
        if (S_ISDIR(st.st_mode))
                forget_parent(x); /* the cached parent may lie below */
        r = layer_remove_tree(parent, name);
        return r < 0 ? fail(x, r, "remove: %s", strerror(-r)) : 0;
}

/* ------------------------------------------------------------------ metadata */

/* lsetxattr() on parent/name through our own fd's /proc link: the only way
 * to reach a symlink or device node without following or opening it. */
static int set_xattr(int fd, int parent, const char *name, const char *key, const void *v,
                     size_t n)
{
        char p[64 + NAME_MAX];

        if (fd >= 0)
                return fsetxattr(fd, key, v, n, 0) < 0 ? -errno : 0;
        snprintf(p, sizeof(p), "/proc/self/fd/%d/%s", parent, name);
        return lsetxattr(p, key, v, n, 0) < 0 ? -errno : 0;
}

static int apply_xattrs(Extract *x, struct archive_entry *e, int fd, int parent, const char *name)
{
        const char *key;
        const void *v;
        size_t n;

        if (x->flags & LAYER_PLAIN)
                return 0;
        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &key, &v, &n) == ARCHIVE_OK) {
                /* Overlay metadata only ever comes from whiteouts. */
                if (startswith(key, "trusted.overlay.") || startswith(key, "user.overlay."))
                        continue;
                int r = set_xattr(fd, parent, name, key, v, n);
                if (r < 0 && r != -EOPNOTSUPP)
                        return fail(x, r, "set xattr `%s`: %s", key, strerror(-r));
        }
        return 0;
}

static int apply_owner_mode(Extract *x, struct archive_entry *e, int fd, int parent,
                            const char *name, bool is_link)
{
        la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
        mode_t mode = archive_entry_perm(e) & 07777;

        if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
                return fail(x, -ERANGE, "owner %lld:%lld is out of range", (long long)uid, (long long)gid);
        if (!(x->flags & LAYER_PLAIN)) {
                /* chown first: it clears set-user-ID bits that chmod then sets. */
                int r = fd >= 0 ? fchown(fd, (uid_t)uid, (gid_t)gid)
                                : fchownat(parent, name, (uid_t)uid, (gid_t)gid, AT_SYMLINK_NOFOLLOW);
                if (r < 0)
                        return fail(x, -errno, "chown: %s", strerror(errno));
        }
        if (is_link)
                return 0;
        if ((fd >= 0 ? fchmod(fd, mode) : fchmodat(parent, name, mode, 0)) < 0)
                return fail(x, -errno, "chmod: %s", strerror(errno));
        return 0;
}

static void entry_times(struct archive_entry *e, struct timespec t[2])
{
        t[1] = (struct timespec){ archive_entry_mtime(e), archive_entry_mtime_nsec(e) };
        if (archive_entry_atime_is_set(e))
                t[0] = (struct timespec){ archive_entry_atime(e), archive_entry_atime_nsec(e) };
        else
                t[0] = t[1];
        if (!archive_entry_mtime_is_set(e))
                t[0].tv_nsec = t[1].tv_nsec = UTIME_OMIT;
}

static int apply_times(Extract *x, struct archive_entry *e, int fd, int parent, const char *name)
{
        struct timespec t[2];

        entry_times(e, t);
        if ((fd >= 0 ? futimens(fd, t) : utimensat(parent, name, t, AT_SYMLINK_NOFOLLOW)) < 0)
                return fail(x, -errno, "set times: %s", strerror(errno));
        return 0;
}

/* ------------------------------------------------------------------ entry kinds */

static int write_data(Extract *x, int fd, struct archive_entry *e)
{
        /* Counted at the header: what a block writes past it counts too. */
        uint64_t charged = archive_entry_size_is_set(e) && archive_entry_size(e) > 0
                ? (uint64_t)archive_entry_size(e) : 0;
        const void *buf;
        size_t n;
        la_int64_t off;
        int r;

        while ((r = archive_read_data_block(x->tar, &buf, &n, &off)) == ARCHIVE_OK) {
                if (off < 0)
                        return fail(x, -EBADMSG, "negative data offset");
                if ((uint64_t)off + n > charged) {
                        uint64_t more = (uint64_t)off + n - charged;
                        if ((r = charge(x, more)) < 0 || (r = check_space(x, more)) < 0)
                                return r;
                        charged += more;
                }
                for (size_t done = 0; done < n;) {
                        ssize_t w = pwrite(fd, (const char *)buf + done, n - done, off + (off_t)done);
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return fail(x, -errno, "write: %s", strerror(errno));
                        done += (size_t)w;
                }
        }
        if (r != ARCHIVE_EOF)
                return fail(x, -EIO, "read: %s", archive_error_string(x->tar));
        /* Sparse files end in a hole that no block covers. */
        if (archive_entry_size_is_set(e) && ftruncate(fd, archive_entry_size(e)) < 0)
                return fail(x, -errno, "truncate: %s", strerror(errno));
        return 0;
}

static int make_file(Extract *x, struct archive_entry *e, int parent, const char *name)
{
        _cleanup_close_ int fd = -1;
        int r;

        if ((r = clear_name(x, parent, name, false)) < 0)
                return r;
        fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return fail(x, -errno, "create: %s", strerror(errno));
        if ((r = write_data(x, fd, e)) < 0 ||
            (r = apply_owner_mode(x, e, fd, parent, name, false)) < 0 ||
            (r = apply_xattrs(x, e, fd, parent, name)) < 0)
                return r;
        return apply_times(x, e, fd, parent, name);
}

static int make_dir(Extract *x, struct archive_entry *e, int parent, const char *name,
                    const char *path)
{
        _cleanup_close_ int fd = -1;
        int r;

        if (*name) {
                if ((r = clear_name(x, parent, name, true)) < 0)
                        return r;
                if (r == 0 && mkdirat(parent, name, 0700) < 0)
                        return fail(x, -errno, "mkdir: %s", strerror(errno));
        }
        fd = openat(parent, *name ? name : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return fail(x, -errno, "open: %s", strerror(errno));
        if ((r = apply_owner_mode(x, e, fd, parent, name, false)) < 0 ||
            (r = apply_xattrs(x, e, fd, parent, name)) < 0)
                return r;
        /* Times last: creating the children would change them again. */
        x->dirs = xrealloc(x->dirs, (x->n_dirs + 1) * sizeof(DeferredDir));
        x->dirs[x->n_dirs].path = xstrdup(path);
        entry_times(e, x->dirs[x->n_dirs].times);
        x->n_dirs++;
        return 0;
}

static int make_symlink(Extract *x, struct archive_entry *e, int parent, const char *name)
{
        const char *target = archive_entry_symlink(e);
        int r;

        if (!target)
                return fail(x, -EBADMSG, "symlink without a target");
        if ((r = clear_name(x, parent, name, false)) < 0)
                return r;
        /* The target is only text: it is resolved inside the container,
         * and never by this extractor (no path walk follows symlinks). */
        if (symlinkat(target, parent, name) < 0)
                return fail(x, -errno, "symlink: %s", strerror(errno));
        if ((r = apply_owner_mode(x, e, -1, parent, name, true)) < 0 ||
            (r = apply_xattrs(x, e, -1, parent, name)) < 0)
                return r;
        return apply_times(x, e, -1, parent, name);
}

static int make_node(Extract *x, struct archive_entry *e, int parent, const char *name)
{
        mode_t type = archive_entry_filetype(e);
        int r;

        if (x->flags & LAYER_PLAIN)
                return 0;
        if ((r = clear_name(x, parent, name, false)) < 0)
                return r;
        if (mknodat(parent, name, type | 0600, type == AE_IFIFO ? 0 : archive_entry_rdev(e)) < 0)
                return fail(x, -errno, "mknod: %s", strerror(errno));
        if ((r = apply_owner_mode(x, e, -1, parent, name, false)) < 0 ||
            (r = apply_xattrs(x, e, -1, parent, name)) < 0)
                return r;
        return apply_times(x, e, -1, parent, name);
}

static int make_hardlink(Extract *x, const char *target_raw, int parent, const char *name)
{
        _cleanup_free_ char *target = NULL;
        _cleanup_close_ int tparent = -1;
        struct stat st;
        const char *tbase, *tdir;
        int r;

        r = normalize_path(x, target_raw, &target);
        if (r < 0)
                return fail(x, r, "hard link target `%s` is outside the layer", target_raw);
        tbase = split_base(target, &tdir);
        if (!*tbase)
                return fail(x, -EPERM, "hard link to the layer's root");
        tparent = open_beneath(x->root, *tdir ? tdir : ".", O_PATH | O_DIRECTORY, 0);
        if (tparent < 0 || fstatat(tparent, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return fail(x, -ENOENT, "hard link target `%s` is not in the layer", target_raw);
        if (S_ISDIR(st.st_mode))
                return fail(x, -EPERM, "hard link to the directory `%s`", target_raw);
        if ((r = clear_name(x, parent, name, false)) < 0)
                return r;
        if (linkat(tparent, tbase, parent, name, 0) < 0)
                return fail(x, -errno, "link to `%s`: %s", target_raw, strerror(errno));
        return 0;
}

static int make_whiteout(Extract *x, int parent, const char *base)
{
        const char *victim = base + strlen(WHITEOUT_PREFIX);
        int r;

        if (streq(base, WHITEOUT_OPAQUE)) {
                _cleanup_close_ int fd = openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0 || fsetxattr(fd, OVERLAY_OPAQUE_XATTR, "y", 1, 0) < 0)
                        return fail(x, -errno, "mark opaque: %s", strerror(errno));
                /* The same for an overlay mounted in a user namespace
                 * (userxattr), which cannot read trusted.*. */
                if (fsetxattr(fd, OVERLAY_OPAQUE_USER_XATTR, "y", 1, 0) < 0)
                        return fail(x, -errno, "mark opaque (user.overlay.opaque): %s", strerror(errno));
                return 0;
        }
        if (startswith(base, WHITEOUT_PREFIX WHITEOUT_PREFIX))
                return 0; /* aufs bookkeeping (.wh..wh.plnk …): nothing for overlayfs */
        if (!*victim || streq(victim, ".") || streq(victim, ".."))
                return fail(x, -EBADMSG, "invalid whiteout");
        if ((r = clear_name(x, parent, victim, false)) < 0)
                return r;
        if (mknodat(parent, victim, S_IFCHR | 0, makedev(0, 0)) < 0)
                return fail(x, -errno, "whiteout: %s", strerror(errno));
        return 0;
}

static int extract_entry(Extract *x, struct archive_entry *e)
{
        _cleanup_free_ char *path = NULL;
        const char *raw = archive_entry_pathname(e), *base, *dir, *link;
        mode_t type = archive_entry_filetype(e);
        int parent, r;

        x->entry = raw;
        if (!raw)
                return fail(x, -EBADMSG, "entry without a path");
        if ((r = budget_entry(x, e)) < 0)
                return r;
        if ((r = normalize_path(x, raw, &path)) < 0)
                return r;
        if (!*path) { /* "./": the layer's root itself */
                if (type != AE_IFDIR)
                        return fail(x, -EBADMSG, "the layer's root is not a directory");
                return make_dir(x, e, x->root, "", "");
        }
        _cleanup_free_ char *full = xstrdup(path);
        base = split_base(path, &dir);
        parent = open_parent(x, dir, true);
        if (parent < 0)
                return parent;
        if ((x->flags & LAYER_OCI_WHITEOUTS) && startswith(base, WHITEOUT_PREFIX))
                return make_whiteout(x, parent, base);
        if (streq(base, "..") || strlen(base) > NAME_MAX)
                return fail(x, -EBADMSG, "invalid name");
        link = archive_entry_hardlink(e);
        if (link) {
                _cleanup_free_ char *target = NULL;

                if (x->flags & LAYER_PLAIN)
                        return 0;
                /* A link to a dropped node is dropped with it. */
                if (normalize_path(x, link, &target) == 0 && strv_contains(x->dropped, target)) {
                        strv_add(&x->dropped, full);
                        return 0;
                }
                return make_hardlink(x, link, parent, base);
        }
        /*
         * Block and character devices are dropped: a layer is data, and a
         * node would open a device of whichever host unpacks it, for host
         * root walking the store as much as in a container (where nodev and
         * the device allowlist make it inert anyway). The container's /dev
         * is made afresh at every start, so an image never needs one.
         */
        if (type == AE_IFCHR || type == AE_IFBLK) {
                strv_add(&x->dropped, full);
                return 0;
        }
        switch (type) {
        case AE_IFREG: return make_file(x, e, parent, base);
        case AE_IFDIR: return make_dir(x, e, parent, base, full);
        case AE_IFLNK: return make_symlink(x, e, parent, base);
        case AE_IFIFO: return make_node(x, e, parent, base);
        case AE_IFSOCK: return 0; /* sockets mean nothing in an image */
        default: return fail(x, -EBADMSG, "unknown file type 0%o", (unsigned)type);
        }
}

static int finish_dirs(Extract *x)
{
        for (size_t k = x->n_dirs; k-- > 0;) {
                _cleanup_close_ int fd = open_beneath(
                        x->root, *x->dirs[k].path ? x->dirs[k].path : ".", O_RDONLY | O_DIRECTORY, 0);
                /* A directory replaced by a later entry is simply gone. */
                if (fd >= 0 && futimens(fd, x->dirs[k].times) < 0)
                        return fail(x, -errno, "set times of `%s`: %s", x->dirs[k].path, strerror(errno));
        }
        return 0;
}

/* ------------------------------------------------------------------ driver */

static int open_readers(Extract *x)
{
        struct archive_entry *e;
        char *err = NULL;

        if (archive_load(&err) < 0) {
                int r = fail(x, -ENOPKG, "%s", err);
                free(err);
                return r;
        }
        x->raw = archive_read_new();
        x->tar = archive_read_new();
        if (!x->raw || !x->tar)
                abort();
        /* Only what OCI layers may be: tar, gzip, zstd. No external
         * decompressor programs are ever run on untrusted input. */
        archive_read_support_filter_gzip(x->raw);
        archive_read_support_filter_zstd(x->raw);
        archive_read_support_format_raw(x->raw);
        if (archive_read_open(x->raw, x, NULL, read_outer, NULL) != ARCHIVE_OK)
                return fail(x, -EBADMSG, "%s", archive_error_string(x->raw));
        if (archive_read_next_header(x->raw, &e) != ARCHIVE_OK)
                return fail(x, -EBADMSG, "empty or unreadable layer: %s",
                            archive_error_string(x->raw) ?: "no data");
        archive_read_support_format_tar(x->tar);
        if (archive_read_open(x->tar, x, NULL, read_inner, NULL) != ARCHIVE_OK)
                return fail(x, -EBADMSG, "not a tar archive: %s", archive_error_string(x->tar));
        return 0;
}

/* Reads what the readers left (tar padding, compressed trailers) so the
 * digests cover the whole input. */
static int drain(Extract *x)
{
        la_ssize_t n;
        const void *b;

        while ((n = read_inner(x->tar, x, &b)) > 0)
                ;
        if (n < 0)
                return fail(x, -EBADMSG, "%s", archive_error_string(x->raw));
        while ((n = read_outer(x->raw, x, &b)) > 0)
                ;
        return n < 0 ? fail(x, -EIO, "read: %s", strerror(errno)) : 0;
}

static int extract_all(Extract *x)
{
        struct archive_entry *e;
        int r;

        if ((r = open_readers(x)) < 0)
                return r;
        while ((r = archive_read_next_header(x->tar, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
                if ((r = extract_entry(x, e)) < 0)
                        return r;
                x->entry = NULL;
                x->n_entries++;
                if (fault_after > 0 && ++fault_count >= fault_after)
                        raise(SIGKILL);
        }
        if (r != ARCHIVE_EOF)
                return fail(x, -EBADMSG, "corrupt archive: %s", archive_error_string(x->tar));
        if ((r = finish_dirs(x)) < 0)
                return r;
        return drain(x);
}

int layer_extract(int in_fd, int dirfd, unsigned flags, LayerResult *ret, char **ret_error)
{
        return layer_extract_bounded(in_fd, dirfd, flags, NULL, ret, ret_error);
}

int layer_extract_bounded(int in_fd, int dirfd, unsigned flags, LayerBudget *budget,
                          LayerResult *ret, char **ret_error)
{
        _cleanup_free_ Extract *x = xcalloc(1, sizeof(Extract));
        int r;

        if (test_switches.layer_fault_after && fault_after == 0)
                fault_after = test_switches.layer_fault_after;
        x->in_fd = in_fd;
        x->root = dirfd;
        x->flags = flags;
        x->budget = budget;
        x->error = ret_error;
        x->parent_fd = -1;
        sha256_init_bulk(&x->outer);
        sha256_init_bulk(&x->inner);

        r = extract_all(x);

        forget_parent(x);
        for (size_t k = 0; k < x->n_dirs; k++)
                free(x->dirs[k].path);
        free(x->dirs);
        if (x->tar)
                archive_read_free(x->tar);
        if (x->raw)
                archive_read_free(x->raw);
        if (r >= 0 && ret) {
                *ret = (LayerResult){ .size = x->outer.length, .diff_size = x->inner.length,
                                      .n_entries = x->n_entries,
                                      .n_devices_dropped = strv_length(x->dropped) };
                sha256_final_digest(&x->outer, ret->digest);
                sha256_final_digest(&x->inner, ret->diff_id);
        }
        strv_free(x->dropped);
        return r < 0 ? r : 0;
}

static int check_digests(const LayerResult *res, const char *want_digest,
                         const char *want_diff_id, char **ret_error)
{
        if (want_digest && !streq(want_digest, res->digest)) {
                *ret_error = xasprintf("layer %s: digest mismatch (content is %s)", want_digest,
                                       res->digest);
                return -EBADMSG;
        }
        if (want_diff_id && !streq(want_diff_id, res->diff_id)) {
                *ret_error = xasprintf("layer %s: diff ID mismatch (uncompressed content is %s)",
                                       want_diff_id, res->diff_id);
                return -EBADMSG;
        }
        return 0;
}

/* A layer that fails to unpack may simply be corrupt: when its bytes do
 * not match the digest it should have, say that (the cause) instead. */
static int explain_failure(int in_fd, const char *want_digest, int r, char **ret_error)
{
        char got[SHA256_DIGEST_STRING_MAX];

        if (lseek(in_fd, 0, SEEK_SET) < 0 || sha256_fd(in_fd, got, NULL) < 0 || streq(got, want_digest))
                return r;
        free(*ret_error);
        *ret_error = xasprintf("layer %s: digest mismatch (content is %s)", want_digest, got);
        return -EBADMSG;
}

static char *stage_name(const char *name)
{
        return xasprintf(".tmp-%s-%d", name, (int)getpid());
}

int layer_stage_commit(int parent_dirfd, const char *name, char **ret_error)
{
        _cleanup_free_ char *tmp = stage_name(name);
        int r;

        if (renameat2(parent_dirfd, tmp, parent_dirfd, name, RENAME_NOREPLACE) < 0) {
                r = -errno;
                if (r != -EEXIST) {
                        *ret_error = xasprintf("rename to `%s`: %s", name, strerror(-r));
                        (void)layer_remove_tree(parent_dirfd, tmp);
                        return r;
                }
                (void)layer_remove_tree(parent_dirfd, tmp);
        }
        return 0;
}

void layer_stage_abort(int parent_dirfd, const char *name)
{
        _cleanup_free_ char *tmp = stage_name(name);

        (void)layer_remove_tree(parent_dirfd, tmp);
}

int layer_unpack(int in_fd, int parent_dirfd, const char *name, unsigned flags,
                 const char *want_digest, const char *want_diff_id, LayerResult *ret,
                 char **ret_error)
{
        return layer_unpack_bounded(in_fd, parent_dirfd, name, flags, want_digest, want_diff_id,
                                    NULL, ret, ret_error);
}

int layer_unpack_bounded(int in_fd, int parent_dirfd, const char *name, unsigned flags,
                         const char *want_digest, const char *want_diff_id, LayerBudget *budget,
                         LayerResult *ret, char **ret_error)
{
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        uint64_t counted = budget ? budget->size : 0;
        LayerResult res;
        int r;

        tmp = stage_name(name);
        (void)layer_remove_tree(parent_dirfd, tmp);
        if (mkdirat(parent_dirfd, tmp, 0755) < 0) {
                r = -errno;
                *ret_error = xasprintf("mkdir `%s`: %s", tmp, strerror(-r));
                return r;
        }
        fd = openat(parent_dirfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                *ret_error = xasprintf("open `%s`: %s", tmp, strerror(-r));
                goto fail;
        }
        r = layer_extract_bounded(in_fd, fd, flags, budget, &res, ret_error);
        if (r < 0 && want_digest) {
                int k = explain_failure(in_fd, want_digest, r, ret_error);

                /* Corrupt bytes, not a big layer. */
                if (k != r && budget)
                        budget->over_size = budget->over_space = false;
                r = k;
        }
        if (r >= 0)
                r = check_digests(&res, want_digest, want_diff_id, ret_error);
        if (r >= 0 && (flags & LAYER_STAGE)) {
                if (ret)
                        *ret = res;
                return 0;
        }
        if (r >= 0 && syncfs(fd) < 0) {
                r = -errno;
                *ret_error = xasprintf("syncfs: %s", strerror(-r));
        }
        if (r < 0)
                goto fail;
        if (renameat2(parent_dirfd, tmp, parent_dirfd, name, RENAME_NOREPLACE) < 0) {
                r = -errno;
                if (r != -EEXIST) {
                        *ret_error = xasprintf("rename to `%s`: %s", name, strerror(-r));
                        goto fail;
                }
                (void)layer_remove_tree(parent_dirfd, tmp);
                if (budget)
                        budget->size = counted; /* the copy that stays is not ours */
        }
        if (fsync(parent_dirfd) < 0 && errno != EBADF && errno != EINVAL) {
                r = -errno;
                *ret_error = xasprintf("fsync: %s", strerror(-r));
                return r;
        }
        if (ret)
                *ret = res;
        return 0;
fail:
        (void)layer_remove_tree(parent_dirfd, tmp);
        if (budget)
                budget->size = counted;
        return r;
}
