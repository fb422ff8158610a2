/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * UserNamespace= in the launcher (UNITS.md "User namespaces"): the plan's
 * range and the host paths that enter the container as mount trees (the
 * image's layers and volumes idmapped, Bind=...:idmap too, plain binds as
 * they are), the parent's part between clone3 and the release (maps, trees),
 * the child's part.
 *
 * Why trees for every host path: the child becomes the range's first ID
 * before it builds the root, and that ID must not need search permission on
 * the host's directories (a 0700 /root/images). Still host root, it attaches
 * each tree under RUNTIME/containers/NAME.trees, a directory ccsupd made
 * searchable, and uses those paths from then on.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spawn-internal.h"
#include "userns.h"
#include "util.h"

/* Search permission for others on every directory from top down to path
 * (0711: traverse, never list). Nothing outside top is touched. */
static int allow_traverse(const char *top, const char *path, char **ret_error)
{
        size_t tl = strlen(top);
        if (strncmp(path, top, tl) != 0 || (path[tl] != '/' && path[tl] != 0))
                return 0;
        _cleanup_free_ char *p = xstrdup(path);
        for (char *s = p + tl;; s++) {
                char save = *s;
                if (save != '/' && save != 0)
                        continue;
                *s = 0;
                struct stat st;
                if (stat(p, &st) == 0 && S_ISDIR(st.st_mode) && !(st.st_mode & S_IXOTH) &&
                    chmod(p, (st.st_mode & 07777) | S_IXOTH) < 0) {
                        int r = -errno;
                        *ret_error = xasprintf("user namespace: make `%s` searchable: %s", p, strerror(-r));
                        return r;
                }
                *s = save;
                if (!save)
                        return 0;
        }
}

/* The directories above top must let others through already: ccsupd
 * changes nothing of the host's (/run and /var/lib do). */
static int check_above(const char *top, const char *what, char **ret_error)
{
        _cleanup_free_ char *p = realpath(top, NULL);
        if (!p)
                return 0;
        for (char *s = strrchr(p, '/'); s; s = strrchr(p, '/')) {
                *s = 0;
                struct stat st;
                const char *d = *p ? p : "/";
                if (stat(d, &st) == 0 && !(st.st_mode & S_IXOTH)) {
                        *ret_error = xasprintf("user namespace: `%s`, above ccsupd's %s directory, is not "
                                               "searchable by others (mode %04o): the container's root could "
                                               "not reach its files", d, what, (unsigned)(st.st_mode & 07777));
                        return -EACCES;
                }
                if (!*p)
                        break;
        }
        return 0;
}

static int allow_traverse_both(const SpawnOptions *o, const char *path, char **ret_error)
{
        int r = allow_traverse(o->runtime_dir, path, ret_error);
        return r < 0 ? r : allow_traverse(o->state_dir, path, ret_error);
}

/* The highest owner or group ID in the tree at path (not following
 * symlinks, not crossing into other filesystems). */
static int max_id_in(const char *path, uint32_t *ret, char **ret_where)
{
        uint32_t max = 0;
        char *where = NULL;
        char *const argv[] = { (char *)path, NULL };
        FTS *fts = fts_open(argv, FTS_PHYSICAL | FTS_XDEV | FTS_NOCHDIR, NULL);
        if (!fts)
                return -errno;
        for (FTSENT *e; (e = fts_read(fts));) {
                if (e->fts_info == FTS_DP || !e->fts_statp)
                        continue;
                uint32_t id = e->fts_statp->st_uid > e->fts_statp->st_gid ? e->fts_statp->st_uid
                                                                          : e->fts_statp->st_gid;
                if (id > max || !where) {
                        max = id > max ? id : max;
                        if (id == max) {
                                free(where);
                                where = xstrdup(e->fts_path);
                        }
                }
        }
        fts_close(fts);
        *ret = max;
        *ret_where = where;
        return 0;
}

/* Where the answer for the tree at path is kept (store layers never
 * change: STATE/userns/.layers/KEY), NULL for a directory image, which may
 * change and is looked at every start. */
static char *ids_cache_path(const char *state_dir, const char *path)
{
        _cleanup_free_ char *store = path_join(state_dir, "images/");
        if (!startswith(path, store))
                return NULL;
        char *key = xstrdup(path + strlen(store));
        for (char *c = key; *c; c++)
                if (*c == '/')
                        *c = '_';
        char *cpath = xasprintf("%s/userns/.layers/%s", state_dir, key);
        free(key);
        return cpath;
}

static int ids_error(uint32_t max, const char *where, uint32_t count, char **ret_error)
{
        *ret_error = xasprintf("user namespace: the image has files owned by ID %" PRIu32 "%s%s%s, beyond "
                               "the %" PRIu32 " IDs of the range", max, where ? " (" : "",
                               where ? where : "", where ? ")" : "", count);
        return -ERANGE;
}

/* The image's files must have IDs the range can map: a file of ID 70000
 * under a range of 65536 would be nobody's inside. 1: the answer is not
 * kept, the tree must be scanned (scan_ids()). */
static int check_ids_cached(const char *state_dir, const char *path, uint32_t count, char **ret_error)
{
        _cleanup_free_ char *cpath = ids_cache_path(state_dir, path);
        uint32_t max;
        bool known = false;
        if (!cpath)
                return 1;
        FILE *f = fopen(cpath, "re");
        if (f) {
                known = fscanf(f, "%" SCNu32, &max) == 1;
                fclose(f);
        }
        if (!known)
                return 1;
        return max >= count ? ids_error(max, NULL, count, ret_error) : 0;
}

static int scan_ids(const char *state_dir, const char *path, uint32_t count, char **ret_error)
{
        _cleanup_free_ char *cpath = ids_cache_path(state_dir, path), *where = NULL;
        uint32_t max = 0;
        int r = max_id_in(path, &max, &where);
        if (r < 0) {
                *ret_error = xasprintf("image `%s`: %s", path, strerror(-r));
                return r;
        }
        if (cpath) {
                _cleanup_free_ char *cdir = path_join(state_dir, "userns/.layers");
                FILE *f = mkdir_p(cdir, 0700) >= 0 ? fopen(cpath, "we") : NULL;
                if (f) {
                        fprintf(f, "%" PRIu32 "\n", max);
                        fclose(f);
                }
        }
        return max >= count ? ids_error(max, where, count, ret_error) : 0;
}

static void add_tree(SpawnPlan *p, const char *source, int kind)
{
        size_t n = strv_length(p->tree_sources);
        strv_add(&p->tree_sources, source);
        strv_addf(&p->tree_targets, "%s/%zu", p->trees_dir, n);
        p->tree_kind = xrealloc(p->tree_kind, (n + 1) * sizeof(*p->tree_kind));
        p->tree_kind[n] = kind;
}

static bool bind_is_idmapped(const UnitConfig *c, const SpawnOptions *o, const RootfsMount *m)
{
        for (size_t j = 0; j < c->n_binds; j++)
                if (c->binds[j].idmap && streq(c->binds[j].source, m->source) &&
                    streq(c->binds[j].destination, m->destination))
                        return true;
        /* Volumes: their files keep host IDs on disk, whichever unit. */
        _cleanup_free_ char *vols = path_join(o->state_dir, "volumes/");
        return startswith(m->source, vols) != NULL;
}

/* The mount point of tree i: a directory or a file, like its source. */
static int make_target(const char *source, const char *target, char **ret_error)
{
        struct stat st, tst;
        int r = 0;
        if (stat(source, &st) < 0)
                r = -errno;
        /* Kept from an earlier start (spawn_remove_trees()): reused when of
         * the same kind, else made again. */
        else if (lstat(target, &tst) == 0 && S_ISDIR(tst.st_mode) != S_ISDIR(st.st_mode) &&
                 (S_ISDIR(tst.st_mode) ? rmdir(target) : unlink(target)) < 0)
                r = -errno;
        else if (S_ISDIR(st.st_mode)) {
                if (mkdir(target, 0755) < 0 && errno != EEXIST)
                        r = -errno;
        } else {
                int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                if (fd < 0)
                        r = -errno;
                safe_close(fd);
        }
        if (r < 0)
                *ret_error = xasprintf("bind `%s`: %s", source, strerror(-r));
        return r;
}

/* trees_dir and a mount point in it for every tree. */
static int make_targets(SpawnPlan *p, char **ret_error)
{
        size_t n = strv_length(p->tree_sources);
        int r;

        if (n > USERNS_FDS_MAX)
                return error_set(ret_error, -E2BIG, "user namespace: %zu layers and binds, at most %d", n,
                                 USERNS_FDS_MAX);
        if (mkdir(p->trees_dir, 0711) < 0 && errno != EEXIST)
                return error_set(ret_error, -errno, "user namespace: `%s`: %s", p->trees_dir, strerror(errno));
        for (size_t i = 0; i < n; i++) {
                r = make_target(p->tree_sources[i], p->tree_targets[i], ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int spawn_userns_prepare(SpawnPlan *p, const UnitConfig *c, const SpawnOptions *o, char **ret_error)
{
        RootfsPlan *rp = &p->rootfs;
        int r;

        if (c->userns == USERNS_NO)
                return 0;
        r = userns_range_acquire(o->state_dir, c->name, c->userns, c->userns_uid, c->userns_count,
                                 &p->userns_range, ret_error);
        if (r < 0)
                return r;
        p->userns = true;
        rp->userxattr = true;
        rp->userns_ids = p->userns_range.count;
        p->trees_dir = xasprintf("%s.trees", rp->staging);

        /* The image, never chowned: each lower layer idmapped (a read-only
         * root is the image itself). */
        if (rp->layers)
                STRV_FOREACH(l, rp->layers)
                        add_tree(p, *l, TREE_IDMAP);
        else if (rp->image)
                add_tree(p, rp->image, TREE_IDMAP);
        STRV_FOREACH(t, p->tree_sources) {
                r = check_ids_cached(o->state_dir, *t, p->userns_range.count, ret_error);
                if (r < 0)
                        return r;
                if (r > 0) /* scanned after the release, in parallel with the child */
                        strv_add(&p->scan_paths, *t);
        }
        if (p->scan_paths)
                p->scan_state_dir = xstrdup(o->state_dir);
        for (size_t i = 0; i < rp->n_mounts; i++) {
                const RootfsMount *m = &rp->mounts[i];
                if (m->kind != ROOTFS_MOUNT_BIND || !m->source || strv_contains(p->tree_sources, m->source))
                        continue;
                if (access(m->source, F_OK) < 0) {
                        if (m->optional && errno == ENOENT)
                                continue;
                        r = -errno;
                        *ret_error = xasprintf("bind `%s`: %s", m->source, strerror(-r));
                        return r;
                }
                add_tree(p, m->source, bind_is_idmapped(c, o, m) ? TREE_IDMAP : TREE_PLAIN);
        }
        /* A Devices= node: a copy owned by the range (spawn_userns_release()),
         * so that the container's root opens it as the host's root would;
         * the device allowlist still decides which access it gets. */
        for (size_t i = 0; i < rp->n_mounts; i++) {
                const RootfsMount *m = &rp->mounts[i];
                if (m->kind != ROOTFS_MOUNT_DEVICE || strv_contains(p->tree_sources, m->source))
                        continue;
                add_tree(p, m->source, TREE_NODE);
        }
        r = make_targets(p, ret_error);
        if (r < 0)
                return r;

        /* The persistent writable layer belongs to the container's root. */
        if (rp->upper && (chown(rp->upper, p->userns_range.base, p->userns_range.base) < 0 ||
                          chown(rp->work, p->userns_range.base, p->userns_range.base) < 0)) {
                r = -errno;
                *ret_error = xasprintf("persistent layer of `%s`: chown to %u: %s", c->name,
                                       (unsigned)p->userns_range.base, strerror(-r));
                return r;
        }
        /* What the child still reaches by path after becoming the range's
         * root: its staging directory, the trees, the persistent layer, the
         * notify directory, all in ccsupd's own directories. */
        r = check_above(o->runtime_dir, "runtime", ret_error);
        if (r >= 0 && rp->upper)
                r = check_above(o->state_dir, "state", ret_error);
        if (r >= 0)
                r = allow_traverse_both(o, p->trees_dir, ret_error);
        if (r >= 0)
                r = allow_traverse_both(o, rp->staging, ret_error);
        if (r >= 0 && rp->upper)
                r = allow_traverse_both(o, rp->work, ret_error);
        if (r >= 0 && rp->upper)
                r = allow_traverse_both(o, rp->upper, ret_error);
        if (r >= 0 && o->host_dir)
                r = allow_traverse_both(o, o->host_dir, ret_error);
        return r;
}

int spawn_userns_prepare_oci(SpawnPlan *p, const char *top, char **ret_error)
{
        RootfsPlan *rp = &p->rootfs;
        int r;

        p->trees_dir = xasprintf("%s.trees", rp->staging);
        add_tree(p, rp->image, TREE_PLAIN);
        for (size_t i = 0; i < rp->n_mounts; i++) {
                const RootfsMount *m = &rp->mounts[i];
                if (m->kind != ROOTFS_MOUNT_BIND || !m->source || strv_contains(p->tree_sources, m->source))
                        continue;
                if (access(m->source, F_OK) < 0)
                        return error_set(ret_error, -errno, "mount source `%s`: %s", m->source, strerror(errno));
                add_tree(p, m->source, TREE_PLAIN);
        }
        r = make_targets(p, ret_error);
        /* The container's root reaches its staging directory and the trees
         * by path: every directory from --root down lets others through
         * (0711, never listed); what is above must already. */
        if (r >= 0)
                r = check_above(top, "--root", ret_error);
        if (r >= 0)
                r = allow_traverse(top, p->trees_dir, ret_error);
        if (r >= 0)
                r = allow_traverse(top, rp->staging, ret_error);
        return r;
}

/* An owner of the host's, as the range shows it: host ID u is the range's
 * u when it fits, else it stays (and shows as nobody). */
static uint32_t in_range(const UsernsRange *r, uint32_t id)
{
        return id < r->count ? r->base + id : id;
}

/* Tree i, a Devices= node: a node of the same device and mode, owned by
 * the host node's owner mapped into the range, in *nodes, a detached tmpfs
 * made on first use; *ret_fd the detached mount of that one file. */
static int node_tree(const SpawnPlan *p, int *nodes, size_t i, int *ret_fd, char **ret_error)
{
        const char *src = p->tree_sources[i];
        char name[32];
        struct stat st;
        int r;

        if (stat(src, &st) < 0) {
                r = -errno;
                *ret_error = xasprintf("Devices=%s: %s", src, strerror(-r));
                return r;
        }
        if (*nodes < 0) {
                _cleanup_close_ int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
                if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0700", 0) < 0 ||
                    fsconfig(fs, FSCONFIG_SET_STRING, "size", "64k", 0) < 0 ||
                    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
                    (*nodes = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC)) < 0) {
                        r = -errno;
                        *ret_error = xasprintf("Devices=%s: a tmpfs for its node: %s", src, strerror(-r));
                        return r;
                }
        }
        snprintf(name, sizeof(name), "%zu", i);
        if (mknodat(*nodes, name, st.st_mode & (S_IFMT | 0777), st.st_rdev) < 0 ||
            fchmodat(*nodes, name, st.st_mode & 07777, 0) < 0 ||
            fchownat(*nodes, name, in_range(&p->userns_range, st.st_uid), in_range(&p->userns_range, st.st_gid),
                     AT_SYMLINK_NOFOLLOW) < 0) {
                r = -errno;
                *ret_error = xasprintf("Devices=%s: its node for the user namespace: %s", src, strerror(-r));
                return r;
        }
        *ret_fd = open_tree(*nodes, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (*ret_fd < 0) {
                r = -errno;
                *ret_error = xasprintf("Devices=%s: its node for the user namespace: %s", src, strerror(-r));
                return r;
        }
        return 0;
}

int spawn_userns_release(const SpawnPlan *p, pid_t pid, int pidfd, int sock, char **ret_error)
{
        size_t n = strv_length(p->tree_sources);
        int fds[USERNS_FDS_MAX];
        size_t made = 0;
        int r;

        if (p->userns_uid_map) {
                r = userns_write_map_text(pid, p->userns_uid_map, p->userns_gid_map, ret_error);
                if (r < 0)
                        return error_prefix(ret_error, r, "linux.uidMappings/gidMappings");
        } else {
                r = userns_write_maps(pid, &p->userns_range, ret_error);
                if (r < 0)
                        return r;
        }
        /* The child, non-dumpable and no longer host root, cannot open its
         * own /proc files for writing: its OOM score is set from here. */
        char oom[64], val[16];
        snprintf(oom, sizeof(oom), "/proc/%d/oom_score_adj", (int)pid);
        snprintf(val, sizeof(val), "%d\n", p->oom_score_adjust);
        _cleanup_close_ int of = open(oom, O_WRONLY | O_CLOEXEC);
        if (of < 0 || write(of, val, strlen(val)) != (ssize_t)strlen(val)) {
                r = -errno;
                /* Worded as without a user namespace: it is the container's own. */
                *ret_error = xasprintf("OOMScoreAdjust=%d: /proc/self/oom_score_adj: %s", p->oom_score_adjust,
                                       strerror(-r));
                return r;
        }
        _cleanup_close_ int ns = userns_open(pidfd, pid);
        if (ns < 0) {
                *ret_error = xasprintf("user namespace: open it: %s", strerror(-ns));
                return ns;
        }
        _cleanup_close_ int nodes = -1;
        for (; made < n; made++) {
                if (p->tree_kind[made] == TREE_IDMAP)
                        r = userns_idmap_tree(ns, p->tree_sources[made], false, &fds[made], ret_error);
                else if (p->tree_kind[made] == TREE_NODE)
                        r = node_tree(p, &nodes, made, &fds[made], ret_error);
                else {
                        fds[made] = open_tree(AT_FDCWD, p->tree_sources[made],
                                              OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
                        r = fds[made] < 0 ? -errno : 0;
                        if (r < 0)
                                *ret_error = xasprintf("bind `%s`: %s", p->tree_sources[made], strerror(-r));
                }
                if (r < 0)
                        goto out;
        }
        r = userns_send_go(sock, fds, n);
        if (r < 0)
                *ret_error = xasprintf("release the child: %s", strerror(-r));
out:
        for (size_t i = 0; i < made; i++)
                close(fds[i]);
        return r;
}

static void replace(char **s, const char *from, const char *to)
{
        if (*s && streq(*s, from)) {
                free(*s);
                *s = xstrdup(to);
        }
}

void spawn_userns_child_enter(SpawnPlan *p, int fd)
{
        size_t n = strv_length(p->tree_sources);
        int fds[USERNS_FDS_MAX];
        char *msg = NULL;
        int r;

        r = userns_child_receive(fd, fds, n, &msg);
        if (r < 0)
                spawn_child_fail(fd, r, msg);
        /* Nothing below may reach the host's mounts. */
        if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                spawn_child_failf(fd, -errno, "user namespace: make / a slave: %s", strerror(errno));
        for (size_t i = 0; i < n; i++) {
                if (move_mount(fds[i], "", AT_FDCWD, p->tree_targets[i], MOVE_MOUNT_F_EMPTY_PATH) < 0)
                        spawn_child_failf(fd, -errno, "user namespace: attach `%s` at `%s`: %s",
                                          p->tree_sources[i], p->tree_targets[i], strerror(errno));
                close(fds[i]);
                /* This process's copy of the plan: the parent's is untouched. */
                replace(&p->rootfs.image, p->tree_sources[i], p->tree_targets[i]);
                for (char **l = p->rootfs.layers; l && *l; l++)
                        replace(l, p->tree_sources[i], p->tree_targets[i]);
                for (size_t j = 0; j < p->rootfs.n_mounts; j++)
                        if (p->rootfs.mounts[j].kind == ROOTFS_MOUNT_BIND ||
                            p->rootfs.mounts[j].kind == ROOTFS_MOUNT_DEVICE)
                                replace(&p->rootfs.mounts[j].source, p->tree_sources[i], p->tree_targets[i]);
        }
        r = userns_child_become_root(&msg);
        if (r < 0)
                spawn_child_fail(fd, r, msg);
}

int spawn_userns_verdict(const SpawnPlan *p, int sock, char **ret_error)
{
        int r = 0;

        if (!p->scan_paths)
                return 0;
        STRV_FOREACH(t, p->scan_paths) {
                r = scan_ids(p->scan_state_dir, *t, p->userns_range.count, ret_error);
                if (r < 0)
                        return r;
        }
        /* A child that failed meanwhile has said why on the socket. */
        if (send(sock, "k", 1, MSG_NOSIGNAL) != 1 && errno != EPIPE && errno != ECONNRESET) {
                r = -errno;
                *ret_error = xasprintf("release the child: %s", strerror(-r));
        }
        return r;
}

void spawn_userns_child_wait_verdict(const SpawnPlan *p, int fd)
{
        char k;

        if (!p->scan_paths)
                return;
        /* Nothing else comes this way now; anything but 'k' is the parent
         * giving up (it kills us and reports the reason). */
        if (recv(fd, &k, 1, 0) != 1 || k != 'k')
                _exit(SPAWN_EXIT_SETUP);
}

void spawn_userns_cleanup(const SpawnPlan *p)
{
        /* The trees' mount points stay for the next start: see
         * spawn_remove_trees(). */
        (void)p;
}

void spawn_remove_trees(const char *runtime_dir, const char *name)
{
        _cleanup_free_ char *dir = xasprintf("%s/containers/%s.trees", runtime_dir, name);
        spawn_remove_tree_dir(dir);
}

void spawn_remove_tree_dir(const char *dir)
{
        DIR *d = opendir(dir);
        if (!d)
                return;
        for (struct dirent *e; (e = readdir(d));) {
                if (streq(e->d_name, ".") || streq(e->d_name, ".."))
                        continue;
                if (unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR) < 0 && errno == ENOTDIR)
                        (void)unlinkat(dirfd(d), e->d_name, 0);
        }
        closedir(d);
        (void)rmdir(dir);
}

void spawn_userns_plan_done(SpawnPlan *p)
{
        strv_free(p->tree_sources);
        strv_free(p->tree_targets);
        free(p->tree_kind);
        free(p->trees_dir);
        strv_free(p->scan_paths);
        free(p->scan_state_dir);
        free(p->userns_uid_map);
        free(p->userns_gid_map);
}
