/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cgroup v1 mechanics: one directory per controller hierarchy. */
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <linux/magic.h>

#include "cgroup-internal.h"
#include "util.h"

/* Controller hierarchies mounted directly below root. Symlinks ("cpu,cpuacct"
 * aliases), named hierarchies (name=systemd: not a controller, and systemd's
 * own) and the cgroup2 mount are skipped. */
int cg1_list_hierarchies(const char *root, char ***ret_names)
{
        _cleanup_strv_free_ char **names = NULL;
        DIR *d;
        struct dirent *de;

        d = opendir(root);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL;
                struct statfs fs;

                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                if (streq(de->d_name, "unified") || streq(de->d_name, "systemd"))
                        continue;
                p = path_join(root, de->d_name);
                if (statfs(p, &fs) < 0 || (uint32_t)fs.f_type != CGROUP_SUPER_MAGIC)
                        continue;
                strv_add(&names, de->d_name);
        }
        closedir(d);
        strv_sort(names);
        *ret_names = TAKE_PTR(names);
        return 0;
}

/* cpuset refuses tasks in a cgroup whose cpuset.cpus/mems are empty, and new
 * cgroups start empty: copy each level's values from its parent. */
static int cpuset_inherit(const char *parent, const char *dir)
{
        static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *cur = NULL, *up = NULL;

                r = cg_read(dir, files[i], &cur);
                if (r < 0)
                        return r;
                if (cur[0] != '\0')
                        continue;
                r = cg_read(parent, files[i], &up);
                if (r < 0)
                        return r;
                r = cg_write(dir, files[i], up);
                if (r < 0)
                        return r;
        }
        return 0;
}

int cg1_prepare(const char *root, const char *name, const char *path)
{
        _cleanup_free_ char *base = path_join(root, name);
        int r;

        /* Create level by level, so cpuset can be initialised on the way. */
        for (const char *s = strchr(path + 1, '/');; s = strchr(s + 1, '/')) {
                _cleanup_free_ char *dir = NULL, *parent = NULL;
                size_t n = s ? (size_t)(s - path) : strlen(path);

                dir = xasprintf("%s%.*s", base, (int)n, path);
                if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                        return -errno;
                if (streq(name, "cpuset")) {
                        parent = xstrdup(dir);
                        *strrchr(parent, '/') = '\0';
                        r = cpuset_inherit(parent, dir);
                        if (r < 0)
                                return r;
                }
                if (!s)
                        return 0;
        }
}

int cg1_is_populated(const char *dir)
{
        _cleanup_free_ char *procs = NULL;
        int r;

        r = cg_read(dir, "cgroup.procs", &procs);
        if (r < 0)
                return r;
        if (procs[0] != '\0')
                return 1;
        return 0;
}

static int freezer_set(const char *freezer, const char *state)
{
        int r;

        r = cg_write(freezer, "freezer.state", state);
        if (r < 0)
                return r;
        /* FREEZING is transient; the kernel has no event for it in v1, so wait
         * a bounded few milliseconds. */
        for (int i = 0; i < 100; i++) {
                _cleanup_free_ char *cur = NULL;

                r = cg_read(freezer, "freezer.state", &cur);
                if (r < 0)
                        return r;
                if (streq(cur, state))
                        return 0;
                nanosleep(&(struct timespec){ .tv_nsec = 1000 * 1000 }, NULL);
        }
        return -ETIMEDOUT;
}

int cg1_freeze(const char *freezer, bool freeze)
{
        return freezer_set(freezer, freeze ? "FROZEN" : "THAWED");
}

int cg1_is_frozen(const char *freezer)
{
        _cleanup_free_ char *cur = NULL;
        int r = cg_read(freezer, "freezer.state", &cur);

        return r < 0 ? r : !streq(cur, "THAWED");
}

int cg1_kill(const char *freezer, char *const *dirs)
{
        int r = 0;

        if (freezer)
                (void)freezer_set(freezer, "FROZEN");
        /* A frozen task gets SIGKILL queued and dies on thaw. */
        STRV_FOREACH(d, dirs) {
                int k = cg_signal_procs(*d, SIGKILL);
                if (k < 0 && r == 0 && k != -ENOENT)
                        r = k;
        }
        if (freezer) {
                int k = freezer_set(freezer, "THAWED");
                if (k < 0 && r == 0)
                        r = k;
        }
        return r;
}
