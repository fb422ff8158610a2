/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "cgroup.h"
#include "cgroup-internal.h"
#include "util.h"

static const char *const cgroup_mode_table[_CGROUP_MODE_MAX] = {
        [CGROUP_MODE_V1] = "v1",
        [CGROUP_MODE_HYBRID] = "hybrid",
        [CGROUP_MODE_V2] = "v2",
};

const char *cgroup_mode_to_string(CgroupMode m)
{
        return m >= 0 && m < _CGROUP_MODE_MAX ? cgroup_mode_table[m] : NULL;
}

int cgroup_detect_mode(const char *root, CgroupMode *ret)
{
        struct statfs fs;
        _cleanup_free_ char *unified = NULL;

        if (statfs(root, &fs) < 0)
                return -errno;
        if ((uint32_t)fs.f_type == CGROUP2_SUPER_MAGIC) {
                *ret = CGROUP_MODE_V2;
                return 0;
        }
        if ((uint32_t)fs.f_type != TMPFS_MAGIC)
                return -ENOMEDIUM;

        unified = path_join(root, "unified");
        if (statfs(unified, &fs) == 0 && (uint32_t)fs.f_type == CGROUP2_SUPER_MAGIC)
                *ret = CGROUP_MODE_HYBRID;
        else
                *ret = CGROUP_MODE_V1;
        return 0;
}

static int cgroup_create_unified(Cgroup *cg, const char *root)
{
        int r;

        cg->unified = cg->mode == CGROUP_MODE_V2 ? path_join(root, cg->path)
                                                 : xasprintf("%s/unified%s", root, cg->path);
        r = cg_mkdir_p(cg->unified);
        if (r < 0)
                return r;
        cg->unified_fd = open(cg->unified, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cg->unified_fd < 0)
                return -errno;
        return 0;
}

static int cgroup_create_v1(Cgroup *cg, const char *root)
{
        _cleanup_strv_free_ char **names = NULL;
        int r;

        r = cg1_list_hierarchies(root, &names);
        if (r < 0)
                return r;
        STRV_FOREACH(n, names) {
                char *dir;

                r = cg1_prepare(root, *n, cg->path);
                if (r < 0)
                        return r;
                dir = xasprintf("%s/%s%s", root, *n, cg->path);
                strv_push(&cg->v1, dir);
                if (streq(*n, "freezer"))
                        cg->v1_freezer = dir;
                else if (streq(*n, "memory"))
                        cg->v1_memory = dir;
                else if (streq(*n, "pids"))
                        cg->v1_pids = dir;
        }
        if (cg->mode == CGROUP_MODE_V1 && !cg->v1)
                return -ENOMEDIUM;
        return 0;
}

int cgroup_create(const char *root, CgroupMode mode, const char *path, Cgroup **ret)
{
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        int r;

        if (!path_is_normalized_absolute(path) || streq(path, "/"))
                return -EINVAL;

        cg = xcalloc(1, sizeof(*cg));
        cg->mode = mode;
        cg->path = xstrdup(path);
        cg->unified_fd = -1;

        if (mode != CGROUP_MODE_V1) {
                r = cgroup_create_unified(cg, root);
                if (r < 0)
                        return r;
        }
        if (mode != CGROUP_MODE_V2) {
                r = cgroup_create_v1(cg, root);
                if (r < 0)
                        return r;
        }

        r = cgroup_is_populated(cg);
        if (r < 0)
                return r;
        if (r > 0) {
                /* Not ours to remove: free without touching the directories. */
                return -EBUSY;
        }

        *ret = TAKE_PTR(cg);
        return 0;
}

int cgroup_attach(const Cgroup *cg, pid_t pid, bool with_unified)
{
        int r;

        if (with_unified && cg->unified) {
                r = cg_write_pid(cg->unified, pid);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH(d, cg->v1) {
                r = cg_write_pid(*d, pid);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cgroup_is_populated(const Cgroup *cg)
{
        int r;

        if (cg->unified && cg->mode == CGROUP_MODE_V2)
                return cg2_is_populated(cg->unified);
        if (cg->unified) {
                r = cg2_is_populated(cg->unified);
                if (r != 0)
                        return r;
        }
        STRV_FOREACH(d, cg->v1) {
                r = cg1_is_populated(*d);
                if (r != 0)
                        return r;
        }
        return 0;
}

int cgroup_kill_all(const Cgroup *cg)
{
        int r = 0;

        if (cg->mode == CGROUP_MODE_V2)
                return cg2_kill(cg->unified);

        /* hybrid and v1: the freezer keeps the set of pids still while we kill. */
        if (cg->v1)
                r = cg1_kill(cg->v1_freezer, cg->v1);
        /* On hybrid, the cgroup2 tree is the reference for "everything gone":
         * catch anything that escaped the v1 hierarchies. */
        if (cg->unified) {
                int k = cg2_kill(cg->unified);
                if (r == 0)
                        r = k;
        }
        return r;
}

int cgroup_signal_all(const Cgroup *cg, int sig)
{
        const char *dir = cg->unified ? cg->unified : (cg->v1 ? cg->v1[0] : NULL);
        int r;

        if (!dir)
                return -ENOMEDIUM;
        r = cg_signal_procs(dir, sig);
        return r < 0 ? r : 0;
}

int cgroup_remove(Cgroup *cg)
{
        int r = 0, k;

        if (cg->unified) {
                r = cg_rmdir_tree(cg->unified);
                if (r == -ENOENT)
                        r = 0;
        }
        STRV_FOREACH(d, cg->v1) {
                k = cg_rmdir_tree(*d);
                if (k < 0 && k != -ENOENT && r == 0)
                        r = k;
        }
        return r;
}

int cgroup_remove_if_empty(const char *root, CgroupMode mode, const char *path)
{
        _cleanup_strv_free_ char **names = NULL;
        int r = 0;

        if (mode != CGROUP_MODE_V1) {
                _cleanup_free_ char *dir = mode == CGROUP_MODE_V2
                        ? path_join(root, path) : xasprintf("%s/unified%s", root, path);
                if (rmdir(dir) < 0 && errno != ENOENT)
                        r = -errno;
        }
        if (mode != CGROUP_MODE_V2 && cg1_list_hierarchies(root, &names) >= 0)
                STRV_FOREACH(n, names) {
                        _cleanup_free_ char *dir = xasprintf("%s/%s%s", root, *n, path);
                        if (rmdir(dir) < 0 && errno != ENOENT && r == 0)
                                r = -errno;
                }
        return r;
}

static char *format_limit(uint64_t v)
{
        return v == UINT64_MAX ? xstrdup("max") : xasprintf("%" PRIu64, v);
}

/* Writes a v2 limit file, first enabling its controller in every ancestor's
 * cgroup.subtree_control when the file is not there yet. */
static int cg2_write_limit(const Cgroup *cg, const char *controller, const char *file,
                           const char *value)
{
        _cleanup_free_ char *root = NULL, *enable = NULL;
        size_t l = strlen(cg->unified), n = strlen(cg->path);
        int r;

        r = cg_write(cg->unified, file, value);
        if (r != -ENOENT || l < n)
                return r;
        root = xstrndup(cg->unified, l - n);
        enable = xasprintf("+%s", controller);
        r = cg2_enable_controllers(root, cg->path, enable);
        if (r < 0)
                return r == -ENOENT ? -EOPNOTSUPP : r;
        return cg_write(cg->unified, file, value);
}

int cgroup_set_memory_max(const Cgroup *cg, uint64_t bytes)
{
        _cleanup_free_ char *v = format_limit(bytes);

        if (cg->mode == CGROUP_MODE_V2)
                return cg2_write_limit(cg, "memory", "memory.max", v);
        if (!cg->v1_memory)
                return -EOPNOTSUPP;
        return cg_write(cg->v1_memory, "memory.limit_in_bytes",
                        bytes == UINT64_MAX ? "-1" : v);
}

int cgroup_set_pids_max(const Cgroup *cg, uint64_t n)
{
        _cleanup_free_ char *v = format_limit(n);

        if (cg->mode == CGROUP_MODE_V2)
                return cg2_write_limit(cg, "pids", "pids.max", v);
        if (!cg->v1_pids)
                return -EOPNOTSUPP;
        return cg_write(cg->v1_pids, "pids.max", v);
}

Cgroup *cgroup_free(Cgroup *cg)
{
        if (!cg)
                return NULL;
        free(cg->path);
        free(cg->unified);
        safe_close(cg->unified_fd);
        strv_free(cg->v1);
        free(cg);
        return NULL;
}
