/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "userns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

/* ------------------------------------------------------------------ /etc/subuid */

typedef struct SubEntry {
        char *user;
        uint32_t start, count;
} SubEntry;

typedef struct SubFile {
        const char *path;
        SubEntry *v;
        size_t n;
} SubFile;

static void subfile_done(SubFile *f)
{
        for (size_t i = 0; i < f->n; i++)
                free(f->v[i].user);
        free(f->v);
        *f = (SubFile){};
}

/* NAME:START:COUNT lines (subuid(5)); a missing file has no entries.
 * Malformed lines are skipped, as shadow-utils does. */
static int subfile_read(const char *path, SubFile *ret)
{
        *ret = (SubFile){ .path = path };
        FILE *f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) >= 0) {
                char *a = strchr(line, ':'), *b = a ? strchr(a + 1, ':') : NULL;
                if (!a || !b || line[0] == '#')
                        continue;
                *a = *b = 0;
                b[1 + strcspn(b + 1, "\r\n")] = 0;
                uint32_t start, count;
                if (parse_uint32(a + 1, &start) < 0 || parse_uint32(b + 1, &count) < 0 || count == 0)
                        continue;
                ret->v = xrealloc(ret->v, (ret->n + 1) * sizeof(SubEntry));
                ret->v[ret->n++] = (SubEntry){ xstrdup(line), start, count };
        }
        free(line);
        fclose(f);
        return 0;
}

static bool overlaps(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
        return a < b + bn && b < a + an;
}

static bool has_ccsup(const SubFile *f)
{
        for (size_t i = 0; i < f->n; i++)
                if (streq(f->v[i].user, "ccsup"))
                        return true;
        return false;
}

/* Why [base, base+count) is not ours to use by file f, or NULL. */
static char *subfile_refuses(const SubFile *f, uint32_t base, uint32_t count)
{
        if (has_ccsup(f)) {
                bool inside = false;
                for (size_t i = 0; i < f->n; i++)
                        if (streq(f->v[i].user, "ccsup") && base >= f->v[i].start &&
                            (uint64_t)base + count <= (uint64_t)f->v[i].start + f->v[i].count)
                                inside = true;
                if (!inside)
                        return xasprintf("lies outside the `ccsup` entries of %s", f->path);
        } else if (base < USERNS_DEFAULT_FIRST || (uint64_t)base + count > (uint64_t)USERNS_DEFAULT_LAST + 1)
                return xasprintf("lies outside the default range %" PRIu32 "-%" PRIu32
                                 " (%s has no `ccsup` entry)", USERNS_DEFAULT_FIRST, USERNS_DEFAULT_LAST, f->path);
        for (size_t i = 0; i < f->n; i++)
                if (!streq(f->v[i].user, "ccsup") && overlaps(base, count, f->v[i].start, f->v[i].count))
                        return xasprintf("overlaps user %s's %" PRIu32 ":%" PRIu32 " in %s", f->v[i].user,
                                         f->v[i].start, f->v[i].count, f->path);
        return NULL;
}

static const char *subuid_path(void)
{
        const char *e = getenv("CCSUP_SUBUID");
        return e && *e ? e : "/etc/subuid";
}

static const char *subgid_path(void)
{
        const char *e = getenv("CCSUP_SUBGID");
        return e && *e ? e : "/etc/subgid";
}

/* ------------------------------------------------------------------ records */

typedef struct Record {
        char *name;
        UsernsRange r;
} Record;

static int record_parse(const char *text, UsernsRange *ret)
{
        unsigned long long b, n;
        char tail;
        if (sscanf(text, "%llu %llu%c", &b, &n, &tail) < 2 || n == 0 || b + n > UINT32_MAX)
                return -EINVAL;
        *ret = (UsernsRange){ (uint32_t)b, (uint32_t)n };
        return 0;
}

static int record_read_at(int dirfd, const char *name, UsernsRange *ret)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        char buf[64];
        ssize_t l = read(fd, buf, sizeof(buf) - 1);
        if (l < 0)
                return -errno;
        buf[l] = 0;
        return record_parse(buf, ret);
}

static int open_records(const char *state_dir, bool create, char **ret_error)
{
        _cleanup_free_ char *dir = path_join(state_dir, "userns");
        int k;
        if (create && (k = mkdir_p(dir, 0700)) < 0) {
                int r = k;
                *ret_error = xasprintf("user namespace records `%s`: %s", dir, strerror(-r));
                return r;
        }
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                int r = -errno;
                if (ret_error)
                        *ret_error = xasprintf("user namespace records `%s`: %s", dir, strerror(-r));
                return r;
        }
        return fd;
}

int userns_range_read(const char *state_dir, const char *name, UsernsRange *ret)
{
        _cleanup_close_ int dfd = open_records(state_dir, false, NULL);
        if (dfd < 0)
                return dfd;
        return record_read_at(dfd, name, ret);
}

/* Every other unit's record. */
static Record *records_list(int dfd, const char *self, size_t *ret_n)
{
        Record *v = NULL;
        size_t n = 0;
        int fd = dup(dfd);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                safe_close(fd);
                *ret_n = 0;
                return NULL;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                UsernsRange r;
                if (de->d_name[0] == '.' || streq(de->d_name, self) || record_read_at(dfd, de->d_name, &r) < 0)
                        continue;
                v = xrealloc(v, (n + 1) * sizeof(Record));
                v[n++] = (Record){ xstrdup(de->d_name), r };
        }
        closedir(d);
        *ret_n = n;
        return v;
}

static void records_free(Record *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(v[i].name);
        free(v);
}

static int record_write(int dfd, const char *name, const UsernsRange *r, char **ret_error)
{
        _cleanup_free_ char *tmp = xasprintf(".%s.tmp", name);
        _cleanup_free_ char *text = xasprintf("%" PRIu32 " %" PRIu32 "\n", r->base, r->count);
        _cleanup_close_ int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fsync(fd) < 0 ||
            renameat(dfd, tmp, dfd, name) < 0) {
                int k = -errno;
                *ret_error = xasprintf("record the user namespace range of `%s`: %s", name, strerror(-k));
                (void)unlinkat(dfd, tmp, 0);
                return k;
        }
        return 0;
}

/* Why a range cannot be the unit's, or NULL. */
static char *range_refused(const SubFile *su, const SubFile *sg, const Record *others, size_t n_others,
                           uint32_t base, uint32_t count)
{
        char *why = subfile_refuses(su, base, count);
        if (!why)
                why = subfile_refuses(sg, base, count);
        for (size_t i = 0; !why && i < n_others; i++)
                if (overlaps(base, count, others[i].r.base, others[i].r.count))
                        why = xasprintf("overlaps unit %s's %" PRIu32 ":%" PRIu32, others[i].name,
                                        others[i].r.base, others[i].r.count);
        return why;
}

/* The first free slot of 65536 (count) IDs: in the ccsup entries of
 * /etc/subuid where it has them, else in the default range. */
static int range_pick(const SubFile *su, const SubFile *sg, const Record *others, size_t n_others,
                      uint32_t count, uint32_t *ret)
{
        SubEntry def = { (char *)"ccsup", USERNS_DEFAULT_FIRST, USERNS_DEFAULT_LAST - USERNS_DEFAULT_FIRST + 1 };
        const SubEntry *v = has_ccsup(su) ? su->v : &def;
        size_t n = has_ccsup(su) ? su->n : 1;
        for (size_t i = 0; i < n; i++) {
                if (!streq(v[i].user, "ccsup"))
                        continue;
                for (uint64_t b = v[i].start; b + count <= (uint64_t)v[i].start + v[i].count; b += count) {
                        char *why = range_refused(su, sg, others, n_others, (uint32_t)b, count);
                        if (!why) {
                                *ret = (uint32_t)b;
                                return 0;
                        }
                        free(why);
                }
        }
        return -ENOSPC;
}

int userns_range_acquire(const char *state_dir, const char *name, UserNamespaceMode mode, uint32_t uid,
                         uint32_t count, UsernsRange *ret, char **ret_error)
{
        SubFile su = {}, sg = {};
        Record *others = NULL;
        size_t n_others = 0;
        int r;

        _cleanup_close_ int dfd = open_records(state_dir, true, ret_error);
        if (dfd < 0)
                return dfd;
        if (flock(dfd, LOCK_EX) < 0) {
                r = -errno;
                *ret_error = xasprintf("lock the user namespace records: %s", strerror(-r));
                return r;
        }
        if ((r = subfile_read(subuid_path(), &su)) < 0 || (r = subfile_read(subgid_path(), &sg)) < 0) {
                *ret_error = xasprintf("%s: %s", su.path && !sg.path ? subgid_path() : subuid_path(),
                                       strerror(-r));
                goto out;
        }

        UsernsRange have;
        bool recorded = record_read_at(dfd, name, &have) == 0;
        if (mode == USERNS_AUTO && recorded && have.count == count) {
                /* Kept from an earlier start, unless the files no longer allow it. */
                char *why = subfile_refuses(&su, have.base, have.count);
                if (!why)
                        why = subfile_refuses(&sg, have.base, have.count);
                if (!why) {
                        *ret = have;
                        r = 0;
                        goto out;
                }
                free(why);
        }
        if (mode == USERNS_RANGE && recorded && have.base == uid && have.count == count) {
                char *why = subfile_refuses(&su, uid, count);
                if (!why)
                        why = subfile_refuses(&sg, uid, count);
                if (why) {
                        *ret_error = xasprintf("user namespace range %" PRIu32 ":%" PRIu32 " %s", uid, count, why);
                        free(why);
                        r = -EPERM;
                } else {
                        *ret = have;
                        r = 0;
                }
                goto out;
        }

        others = records_list(dfd, name, &n_others);
        UsernsRange want = { uid, count };
        if (mode == USERNS_AUTO) {
                r = range_pick(&su, &sg, others, n_others, count, &want.base);
                if (r < 0) {
                        *ret_error = xasprintf("no free range of %" PRIu32 " IDs left for a user namespace (%s, %s)",
                                               count, su.path, sg.path);
                        goto out;
                }
        } else {
                char *why = range_refused(&su, &sg, others, n_others, uid, count);
                if (why) {
                        *ret_error = xasprintf("user namespace range %" PRIu32 ":%" PRIu32 " %s", uid, count, why);
                        free(why);
                        r = -EPERM;
                        goto out;
                }
        }
        r = record_write(dfd, name, &want, ret_error);
        if (r >= 0)
                *ret = want;
out:
        records_free(others, n_others);
        subfile_done(&su);
        subfile_done(&sg);
        return r;
}

/* ------------------------------------------------------------------ launch */

static int write_file(const char *path, const char *text)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
                return -errno;
        return 0;
}

/* Called between clone3 and the release: no allocation on the way (the
 * first heap writes after the fork fault in copies of ccsupd's pages,
 * which measured ~0.2 ms a start). */
int userns_write_maps(pid_t pid, const UsernsRange *r, char **ret_error)
{
        char map[64];

        snprintf(map, sizeof(map), "0 %" PRIu32 " %" PRIu32 "\n", r->base, r->count);
        return userns_write_map_text(pid, map, map, ret_error);
}

int userns_write_map_text(pid_t pid, const char *uid_map, const char *gid_map, char **ret_error)
{
        char path[64];
        const char *which[] = { "uid_map", "gid_map" }, *text[] = { uid_map, gid_map };

        for (size_t i = 0; i < 2; i++) {
                snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, which[i]);
                /* One write: the kernel takes a map whole or not at all. */
                int k = write_file(path, text[i]);
                if (k < 0) {
                        *ret_error = xasprintf("user namespace: write %s: %s", path, strerror(-k));
                        return k;
                }
        }
        return 0;
}

#ifndef PIDFD_GET_USER_NAMESPACE
#define PIDFD_GET_USER_NAMESPACE _IO(0xFF, 9)
#endif

int userns_open(int pidfd, pid_t pid)
{
        int fd = ioctl(pidfd, PIDFD_GET_USER_NAMESPACE, 0);
        if (fd >= 0)
                return fd;
        /* Before Linux 6.11: the child waits for us, so pid is still it. */
        _cleanup_free_ char *path = xasprintf("/proc/%d/ns/user", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int userns_idmap_tree(int userns_fd, const char *path, bool recursive, int *ret_fd, char **ret_error)
{
        unsigned rec = recursive ? AT_RECURSIVE : 0;
        _cleanup_close_ int tree = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec);
        if (tree < 0) {
                int r = -errno;
                *ret_error = xasprintf("idmapped mount of `%s`: open_tree: %s", path, strerror(-r));
                return r;
        }
        struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns_fd };
        if (mount_setattr(tree, "", AT_EMPTY_PATH | rec, &a, sizeof(a)) < 0) {
                int r = -errno;
                struct statfs sf;
                if ((r == -EINVAL || r == -EPERM || r == -EOPNOTSUPP) && statfs(path, &sf) == 0)
                        *ret_error = xasprintf("idmapped mount of `%s`: its filesystem (type 0x%lx) cannot be "
                                               "idmapped: %s", path, (unsigned long)sf.f_type, strerror(-r));
                else
                        *ret_error = xasprintf("idmapped mount of `%s`: %s", path, strerror(-r));
                return r;
        }
        *ret_fd = TAKE_FD(tree);
        return 0;
}

int userns_send_go(int sock, const int *fds, size_t n)
{
        if (n > USERNS_FDS_MAX)
                return -E2BIG;
        char go = 'g';
        struct iovec iov = { &go, 1 };
        union {
                char buf[CMSG_SPACE(sizeof(int) * USERNS_FDS_MAX)];
                struct cmsghdr align;
        } u = {};
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (n > 0) {
                mh.msg_control = u.buf;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
        }
        return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

int userns_child_receive(int sock, int *fds, size_t n, char **ret_error)
{
        char go;
        struct iovec iov = { &go, 1 };
        union {
                char buf[CMSG_SPACE(sizeof(int) * USERNS_FDS_MAX)];
                struct cmsghdr align;
        } u;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                             .msg_controllen = sizeof(u.buf) };
        ssize_t l = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        if (l != 1)
                _exit(125); /* the parent gave up on us */
        size_t got = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                        got = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                        if (got <= n)
                                memcpy(fds, CMSG_DATA(c), got * sizeof(int));
                }
        if (got != n) {
                *ret_error = xasprintf("user namespace: %zu mount trees expected, %zu received", n, got);
                return -EPROTO;
        }
        return 0;
}

int userns_child_become_root(char **ret_error)
{
        /* The maps are written: the namespace's root is host ID BASE. */
        if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
                int r = -errno;
                *ret_error = xasprintf("user namespace: become its root: %s", strerror(-r));
                return r;
        }
        return 0;
}
