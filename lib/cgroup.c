/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
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

/* The controllers of a v1 hierarchy, from its directory name ("cpu,cpuacct"). */
static CgroupMask v1_hierarchy_mask(const char *name)
{
        static const struct {
                const char *name;
                CgroupController c;
        } table[] = {
                { "cpu", CGROUP_CONTROLLER_CPU },         { "cpuacct", CGROUP_CONTROLLER_CPUACCT },
                { "cpuset", CGROUP_CONTROLLER_CPUSET },   { "blkio", CGROUP_CONTROLLER_IO },
                { "memory", CGROUP_CONTROLLER_MEMORY },   { "pids", CGROUP_CONTROLLER_PIDS },
                { "devices", CGROUP_CONTROLLER_DEVICES }, { "freezer", CGROUP_CONTROLLER_FREEZER },
        };
        CgroupMask m = 0;

        for (const char *s = name; *s;) {
                size_t n = strcspn(s, ",");
                CgroupMask one = CGROUP_MASK(CGROUP_CONTROLLER_OTHER);

                for (size_t i = 0; i < ELEMENTSOF(table); i++)
                        if (strlen(table[i].name) == n && strncmp(s, table[i].name, n) == 0)
                                one = CGROUP_MASK(table[i].c);
                m |= one;
                s += n;
                if (*s == ',')
                        s++;
        }
        return m;
}

const char *cgroup_controller_dir(const Cgroup *cg, CgroupController c)
{
        switch (c) {
        case CGROUP_CONTROLLER_CPU: return cg->v1_cpu;
        case CGROUP_CONTROLLER_CPUACCT: return cg->v1_cpuacct;
        case CGROUP_CONTROLLER_CPUSET: return cg->v1_cpuset;
        case CGROUP_CONTROLLER_IO: return cg->v1_blkio;
        case CGROUP_CONTROLLER_MEMORY: return cg->v1_memory;
        case CGROUP_CONTROLLER_PIDS: return cg->v1_pids;
        case CGROUP_CONTROLLER_DEVICES: return cg->v1_devices;
        case CGROUP_CONTROLLER_FREEZER: return cg->v1_freezer;
        default: return NULL;
        }
}

static void v1_remember(Cgroup *cg, CgroupMask m, char *dir)
{
        char **slots[] = {
                [CGROUP_CONTROLLER_CPU] = &cg->v1_cpu,
                [CGROUP_CONTROLLER_CPUACCT] = &cg->v1_cpuacct,
                [CGROUP_CONTROLLER_CPUSET] = &cg->v1_cpuset,
                [CGROUP_CONTROLLER_IO] = &cg->v1_blkio,
                [CGROUP_CONTROLLER_MEMORY] = &cg->v1_memory,
                [CGROUP_CONTROLLER_PIDS] = &cg->v1_pids,
                [CGROUP_CONTROLLER_DEVICES] = &cg->v1_devices,
                [CGROUP_CONTROLLER_FREEZER] = &cg->v1_freezer,
        };

        for (size_t c = 0; c < ELEMENTSOF(slots); c++)
                if (m & CGROUP_MASK(c))
                        *slots[c] = dir;
}

/* The cgroup2 names of the controllers in mask that v2 enables per subtree. */
static char **v2_controller_names(CgroupMask mask)
{
        char **l = NULL;

        if (mask & (CGROUP_MASK(CGROUP_CONTROLLER_CPU) | CGROUP_MASK(CGROUP_CONTROLLER_CPUACCT)))
                strv_add(&l, "cpu");
        if (mask & CGROUP_MASK(CGROUP_CONTROLLER_CPUSET))
                strv_add(&l, "cpuset");
        if (mask & CGROUP_MASK(CGROUP_CONTROLLER_IO))
                strv_add(&l, "io");
        if (mask & CGROUP_MASK(CGROUP_CONTROLLER_MEMORY))
                strv_add(&l, "memory");
        if (mask & CGROUP_MASK(CGROUP_CONTROLLER_PIDS))
                strv_add(&l, "pids");
        return l;
}

/* The deepest common ancestor of our own cgroup2 cgroup and path: what we
 * may configure (a delegated subtree, else the hierarchy's root). */
static char *v2_control_root(const char *path)
{
        _cleanup_free_ char *text = NULL;
        const char *self = NULL;
        size_t common = 0;

        if (read_full_file("/proc/self/cgroup", 65536, &text, NULL) < 0)
                return xstrdup("/");
        for (char *line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
                if (startswith(line, "0::")) {
                        line[strcspn(line, "\n")] = '\0';
                        self = line + 3;
                        break;
                }
        if (!self || self[0] != '/')
                return xstrdup("/");
        /* Compare component by component: "/a/bc" is no ancestor of "/a/b". */
        for (size_t i = 1;; i++) {
                bool end_self = self[i] == '\0' || self[i] == '/';
                bool end_path = path[i] == '\0' || path[i] == '/';

                if (end_self && end_path)
                        common = i;
                if (end_self || end_path || self[i] != path[i])
                        break;
        }
        return common == 0 ? xstrdup("/") : xstrndup(path, common);
}

static int cgroup_create_unified(Cgroup *cg, const char *root, CgroupMask mask)
{
        bool fresh = true;
        int r;

        cg->unified = cg->mode == CGROUP_MODE_V2 ? path_join(root, cg->path)
                                                 : xasprintf("%s/unified%s", root, cg->path);
        /*
         * Never clone into a cgroup2 directory that was there before: once "1"
         * was written to its cgroup.kill, Linux (since the kill_seq change of
         * 6.14) SIGKILLs every child clone3(CLONE_INTO_CGROUP) puts in it,
         * because the fork records the kill count of the parent's own cgroup
         * and compares it with the target's. Nothing shows from userspace
         * whether a directory was killed, so an empty one left by a previous
         * run is made anew (the v1 directories are kept). If it cannot be
         * removed, the child joins it through cgroup.procs (unified_fd -1),
         * which that check does not apply to. A populated one fails below.
         */
        if (access(cg->unified, F_OK) == 0 && cg2_is_populated(cg->unified) == 0)
                fresh = cg_rmdir_tree(cg->unified) >= 0;
        r = mkdir_p(cg->unified, 0755);
        if (r < 0)
                return r;
        if (fresh) {
                cg->unified_fd = open(cg->unified, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cg->unified_fd < 0)
                        return -errno;
        }

        /* On hybrid the controllers live in the v1 hierarchies. */
        if (cg->mode == CGROUP_MODE_V2) {
                _cleanup_strv_free_ char **names = v2_controller_names(mask);
                _cleanup_free_ char *from = NULL;

                if (names) {
                        from = v2_control_root(cg->path);
                        /* Best effort: a limit whose controller could not be
                         * enabled fails later, naming it. */
                        (void)cg2_enable_controllers(root, from, cg->path, names);
                }
        }
        return 0;
}

static int cgroup_create_v1(Cgroup *cg, const char *root, CgroupMask mask)
{
        _cleanup_strv_free_ char **names = NULL;
        int r;

        r = cg1_list_hierarchies(root, &names);
        if (r < 0)
                return r;
        STRV_FOREACH(n, names) {
                CgroupMask m = v1_hierarchy_mask(*n);
                char *dir;

                if (!(m & mask))
                        continue;
                r = cg1_prepare(root, *n, cg->path);
                if (r < 0)
                        return r;
                dir = xasprintf("%s/%s%s", root, *n, cg->path);
                strv_push(&cg->v1, dir);
                v1_remember(cg, m, dir);
        }
        return 0;
}

int cgroup_create_with(const char *root, CgroupMode mode, const char *path, CgroupMask mask,
                       Cgroup **ret)
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
                r = cgroup_create_unified(cg, root, mask);
                if (r < 0)
                        return r;
        }
        if (mode != CGROUP_MODE_V2) {
                /* Pure v1 tracks and kills through the freezer. */
                r = cgroup_create_v1(cg, root,
                                     mode == CGROUP_MODE_V1
                                             ? mask | CGROUP_MASK(CGROUP_CONTROLLER_FREEZER)
                                             : mask);
                if (r < 0)
                        return r;
                /* No freezer hierarchy: any hierarchy will track. */
                if (mode == CGROUP_MODE_V1 && !cg->v1) {
                        r = cgroup_create_v1(cg, root, CGROUP_MASK_ALL);
                        if (r < 0)
                                return r;
                }
                if (mode == CGROUP_MODE_V1 && !cg->v1)
                        return -ENOMEDIUM;
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

int cgroup_create(const char *root, CgroupMode mode, const char *path, Cgroup **ret)
{
        return cgroup_create_with(root, mode, path, CGROUP_MASK_ALL, ret);
}

int cgroup_open(const char *root, CgroupMode mode, const char *path, Cgroup **ret)
{
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        _cleanup_strv_free_ char **names = NULL;
        int r;

        if (!path_is_normalized_absolute(path) || streq(path, "/"))
                return -EINVAL;
        cg = xcalloc(1, sizeof(*cg));
        cg->mode = mode;
        cg->path = xstrdup(path);
        cg->unified_fd = -1;

        if (mode != CGROUP_MODE_V1) {
                struct stat st;

                cg->unified = mode == CGROUP_MODE_V2 ? path_join(root, path)
                                                     : xasprintf("%s/unified%s", root, path);
                if (stat(cg->unified, &st) < 0)
                        return -errno;
        }
        if (mode != CGROUP_MODE_V2) {
                r = cg1_list_hierarchies(root, &names);
                if (r < 0)
                        return r;
                STRV_FOREACH(n, names) {
                        char *dir = xasprintf("%s/%s%s", root, *n, path);

                        if (access(dir, F_OK) < 0) {
                                free(dir);
                                continue;
                        }
                        strv_push(&cg->v1, dir);
                        v1_remember(cg, v1_hierarchy_mask(*n), dir);
                }
                if (mode == CGROUP_MODE_V1 && !cg->v1)
                        return -ENOENT;
        }
        *ret = TAKE_PTR(cg);
        return 0;
}

int cgroup_watch_populated(const Cgroup *cg, int inotify_fd)
{
        _cleanup_free_ char *events = NULL;
        int wd;

        if (!cg->unified)
                return -EOPNOTSUPP;
        events = path_join(cg->unified, "cgroup.events");
        wd = inotify_add_watch(inotify_fd, events, IN_MODIFY);
        return wd < 0 ? -errno : wd;
}

void cgroup_event_drain(int fd)
{
        /* Large enough for inotify events with names, and for an eventfd's 8 bytes. */
        char buf[4096] __attribute__((aligned(8)));

        while (read(fd, buf, sizeof(buf)) > 0)
                ;
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

char *cgroup_pid_path(pid_t pid)
{
        _cleanup_free_ char *text = NULL;
        char proc[64];

        snprintf(proc, sizeof(proc), "/proc/%d/cgroup", pid > 0 ? (int)pid : (int)getpid());
        if (read_full_file(proc, 65536, &text, NULL) < 0)
                return NULL;
        for (char *line = text; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                if (startswith(line, "0::"))
                        return xstrdup(line + 3);
                line = nl ? nl + 1 : NULL;
        }
        return NULL;
}

int cgroup_attach_members(const Cgroup *cg)
{
        const char *track = cg->unified ? cg->unified : cg->v1_freezer;

        if (!track)
                return -EOPNOTSUPP;
        /* Twice: a process forked meanwhile is in the second list. */
        for (int round = 0; round < 2; round++) {
                _cleanup_free_ char *procs = NULL;
                int r = cg_read(track, "cgroup.procs", &procs);

                if (r < 0)
                        return r;
                for (char *s = procs; *s;) {
                        char *end;
                        long pid = strtol(s, &end, 10);
                        if (end == s)
                                break;
                        r = cgroup_attach(cg, (pid_t)pid, false);
                        if (r < 0 && r != -ESRCH)
                                return r;
                        s = end + strspn(end, " \n");
                }
        }
        return 0;
}

int cgroup_is_populated(const Cgroup *cg)
{
        int r;

        /* Hybrid: every process of the container is in the cgroup2 tree
         * (forks inherit it, and nothing inside can move itself out). */
        if (cg->unified)
                return cg2_is_populated(cg->unified);
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

/* cgroup.freeze is cgroup2's core, no controller: the tracking tree of a
 * hybrid host has it too. The v1 freezer where there is no cgroup2. */
int cgroup_freeze(const Cgroup *cg, bool freeze)
{
        if (cg->unified)
                return cg2_freeze(cg->unified, freeze);
        if (cg->v1_freezer)
                return cg1_freeze(cg->v1_freezer, freeze);
        return -EOPNOTSUPP;
}

int cgroup_is_frozen(const Cgroup *cg)
{
        if (cg->unified)
                return cg2_is_frozen(cg->unified);
        if (cg->v1_freezer)
                return cg1_is_frozen(cg->v1_freezer);
        return -EOPNOTSUPP;
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

int cgroup_reap(Cgroup *cg)
{
        int r = cgroup_is_populated(cg);

        if (r > 0) {
                (void)cgroup_kill_all(cg);
                return -EAGAIN;
        }
        r = cgroup_remove(cg);
        return r == -ENOTEMPTY ? -EBUSY : r;
}

static int rmdir_parent(const char *dir)
{
        _cleanup_free_ char *parent = xstrdup(dir);
        char *slash = strrchr(parent, '/');

        if (!slash || slash == parent)
                return -EINVAL;
        *slash = '\0';
        return rmdir(parent) < 0 && errno != ENOENT ? -errno : 0;
}

int cgroup_remove_parent(const Cgroup *cg)
{
        int r = 0, k;

        if (!strchr(cg->path + 1, '/'))
                return 0; /* the parent is the root */
        if (cg->unified)
                r = rmdir_parent(cg->unified);
        STRV_FOREACH(d, cg->v1) {
                k = rmdir_parent(*d);
                if (k < 0 && r == 0)
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

/* Writes an interface file; its absence means the controller is not enabled
 * for this cgroup (or, on v1, the hierarchy was not joined). */
static int write_limit(const char *dir, const char *file, const char *value)
{
        int r;

        if (!dir)
                return -EOPNOTSUPP;
        r = cg_write(dir, file, value);
        return r == -ENOENT ? -EOPNOTSUPP : r;
}

static const char *v2_dir(const Cgroup *cg)
{
        return cg->mode == CGROUP_MODE_V2 ? cg->unified : NULL;
}

int cgroup_set_memory_max(const Cgroup *cg, uint64_t bytes)
{
        _cleanup_free_ char *v = format_limit(bytes);

        if (cg->mode == CGROUP_MODE_V2)
                return write_limit(cg->unified, "memory.max", v);
        return write_limit(cg->v1_memory, "memory.limit_in_bytes", bytes == UINT64_MAX ? "-1" : v);
}

int cgroup_set_memory_high(const Cgroup *cg, uint64_t bytes)
{
        _cleanup_free_ char *v = format_limit(bytes);

        return write_limit(v2_dir(cg), "memory.high", v);
}

int cgroup_set_memory_swap_max(const Cgroup *cg, uint64_t swap, uint64_t memory_max)
{
        _cleanup_free_ char *v = NULL;

        if (cg->mode == CGROUP_MODE_V2) {
                v = format_limit(swap);
                return write_limit(cg->unified, "memory.swap.max", v);
        }
        /* v1 limits memory and swap together, never below the memory limit. */
        if (swap == UINT64_MAX || memory_max == UINT64_MAX || memory_max > UINT64_MAX - swap)
                v = xstrdup("-1");
        else
                v = xasprintf("%" PRIu64, memory_max + swap);
        return write_limit(cg->v1_memory, "memory.memsw.limit_in_bytes", v);
}

#define CPU_PERIOD_USEC 100000

int cgroup_set_cpu_quota(const Cgroup *cg, uint64_t basis_points)
{
        /* basis points of one CPU -> microseconds per period */
        uint64_t quota = basis_points == UINT64_MAX ? UINT64_MAX
                                                    : basis_points * CPU_PERIOD_USEC / 10000;

        if (quota != UINT64_MAX && quota < 1000)
                quota = 1000; /* the kernel's minimum: 1 ms */
        return cgroup_set_cpu_max(cg, quota, CPU_PERIOD_USEC);
}

int cgroup_set_cpu_max(const Cgroup *cg, uint64_t quota_usec, uint64_t period_usec)
{
        _cleanup_free_ char *v = NULL, *period = xasprintf("%" PRIu64, period_usec);
        int r;

        if (cg->mode == CGROUP_MODE_V2) {
                _cleanup_free_ char *path = NULL, *cur = NULL;
                if (quota_usec == CGROUP_CPU_QUOTA_KEEP) {
                        /* cpu.max takes both: the quota it has, the new period */
                        path = path_join(cg->unified, "cpu.max");
                        r = read_full_file(path, 256, &cur, NULL);
                        if (r < 0)
                                return r;
                        cur[strcspn(cur, " \n")] = 0;
                        v = xasprintf("%s %" PRIu64, cur, period_usec);
                } else
                        v = quota_usec == UINT64_MAX ? xasprintf("max %" PRIu64, period_usec)
                                                     : xasprintf("%" PRIu64 " %" PRIu64, quota_usec, period_usec);
                return write_limit(cg->unified, "cpu.max", v);
        }
        r = write_limit(cg->v1_cpu, "cpu.cfs_period_us", period);
        if (r < 0 || quota_usec == CGROUP_CPU_QUOTA_KEEP)
                return r;
        v = quota_usec == UINT64_MAX ? xstrdup("-1") : xasprintf("%" PRIu64, quota_usec);
        return write_limit(cg->v1_cpu, "cpu.cfs_quota_us", v);
}

int cgroup_set_cpu_shares(const Cgroup *cg, uint64_t shares)
{
        _cleanup_free_ char *v = NULL;

        if (cg->mode != CGROUP_MODE_V2) {
                v = xasprintf("%" PRIu64, shares < 2 ? 2 : shares);
                return write_limit(cg->v1_cpu, "cpu.shares", v);
        }
        uint64_t weight = shares * 100 / 1024;
        return cgroup_set_cpu_weight(cg, weight < 1 ? 1 : weight > 10000 ? 10000 : weight);
}

int cgroup_set_cpu_weight(const Cgroup *cg, uint64_t weight)
{
        _cleanup_free_ char *v = NULL;
        uint64_t shares;

        if (weight < 1 || weight > 10000)
                return -ERANGE;
        if (cg->mode == CGROUP_MODE_V2) {
                v = xasprintf("%" PRIu64, weight);
                return write_limit(cg->unified, "cpu.weight", v);
        }
        /* systemd's mapping: the default weight 100 is the default 1024 shares */
        shares = weight * 1024 / 100;
        v = xasprintf("%" PRIu64, shares < 2 ? 2 : shares);
        return write_limit(cg->v1_cpu, "cpu.shares", v);
}

int cgroup_set_cpuset(const Cgroup *cg, const char *cpus)
{
        const char *dir = cg->mode == CGROUP_MODE_V2 ? cg->unified : cg->v1_cpuset;

        return write_limit(dir, "cpuset.cpus", cpus);
}

int cgroup_set_pids_max(const Cgroup *cg, uint64_t n)
{
        _cleanup_free_ char *v = format_limit(n);
        const char *dir = cg->mode == CGROUP_MODE_V2 ? cg->unified : cg->v1_pids;

        return write_limit(dir, "pids.max", v);
}

int cgroup_set_io_weight(const Cgroup *cg, uint64_t weight)
{
        const char *dir = cg->mode == CGROUP_MODE_V2 ? cg->unified : cg->v1_blkio;
        const char *plain = cg->mode == CGROUP_MODE_V2 ? "io.weight" : "blkio.weight";
        const char *bfq = cg->mode == CGROUP_MODE_V2 ? "io.bfq.weight" : "blkio.bfq.weight";
        _cleanup_free_ char *v = NULL, *v_bfq = NULL;
        uint64_t w_bfq = weight / 10;
        int r;

        if (weight < 1 || weight > 10000)
                return -ERANGE;
        /* io.weight (v2, blk-iocost) takes 1..10000; v1 blkio.weight (CFQ,
         * gone from recent kernels) 10..1000; BFQ's files 1..1000. */
        v = cg->mode == CGROUP_MODE_V2 ? xasprintf("default %" PRIu64, weight)
                                       : xasprintf("%" PRIu64, w_bfq < 10 ? 10 : w_bfq);
        r = write_limit(dir, plain, v);
        if (r != -EOPNOTSUPP)
                return r;
        v_bfq = xasprintf("%" PRIu64, w_bfq < 1 ? 1 : w_bfq);
        return write_limit(dir, bfq, v_bfq);
}

int cgroup_set_io_device(const Cgroup *cg, const char *rule)
{
        static const char *const kinds[][3] = {
                /* kind, v1 file, v2 io.max key */
                { "rbps", "blkio.throttle.read_bps_device", "rbps" },
                { "wbps", "blkio.throttle.write_bps_device", "wbps" },
                { "riops", "blkio.throttle.read_iops_device", "riops" },
                { "wiops", "blkio.throttle.write_iops_device", "wiops" },
        };
        const char *dir = cg->mode == CGROUP_MODE_V2 ? cg->unified : cg->v1_blkio;
        _cleanup_free_ char *v = NULL;
        char kind[8], dev[32];
        uint64_t value;
        int r;

        if (sscanf(rule, "%7s %31s %" SCNu64, kind, dev, &value) != 3 || !strchr(dev, ':'))
                return -EINVAL;
        if (streq(kind, "weight")) {
                v = xasprintf("%s %" PRIu64, dev, value);
                r = write_limit(dir, cg->mode == CGROUP_MODE_V2 ? "io.weight" : "blkio.weight_device", v);
                if (r == -EOPNOTSUPP)
                        r = write_limit(dir, cg->mode == CGROUP_MODE_V2 ? "io.bfq.weight" : "blkio.bfq.weight_device", v);
                return r;
        }
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                if (!streq(kinds[i][0], kind))
                        continue;
                if (cg->mode == CGROUP_MODE_V2) {
                        v = xasprintf("%s %s=%" PRIu64, dev, kinds[i][2], value);
                        return write_limit(dir, "io.max", v);
                }
                v = xasprintf("%s %" PRIu64, dev, value);
                return write_limit(dir, kinds[i][1], v);
        }
        return -EINVAL;
}

int cgroup_set_devices(const Cgroup *cg, char *const *allow, char **ret_log)
{
        int r;

        if (cg->unified) {
                _cleanup_close_ int prog = cg2_device_program_load(allow, ret_log);

                if (prog < 0)
                        return prog == -ENOSYS ? -EOPNOTSUPP : prog;
                return cg2_device_program_attach(cg->unified, prog);
        }
        if (!cg->v1_devices)
                return -EOPNOTSUPP;
        r = cg_write(cg->v1_devices, "devices.deny", "a");
        if (r < 0)
                return r;
        STRV_FOREACH(a, allow) {
                r = cg_write(cg->v1_devices, "devices.allow", *a);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "KEY VALUE" lines (memory.events, memory.oom_control, cpu.stat). */
static int read_keyed(const char *dir, const char *file, const char *key, uint64_t *ret)
{
        _cleanup_free_ char *text = NULL;
        size_t l = strlen(key);
        int r;

        if (!dir)
                return -EOPNOTSUPP;
        r = cg_read(dir, file, &text);
        if (r < 0)
                return r;
        for (const char *line = text; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
                if (strncmp(line, key, l) == 0 && line[l] == ' ')
                        return sscanf(line + l + 1, "%" SCNu64, ret) == 1 ? 0 : -EBADMSG;
        return -ENOENT;
}

static int read_number(const char *dir, const char *file, uint64_t *ret)
{
        _cleanup_free_ char *text = NULL;
        int r;

        if (!dir)
                return -EOPNOTSUPP;
        r = cg_read(dir, file, &text);
        if (r < 0)
                return r;
        if (streq(text, "max")) {
                *ret = UINT64_MAX;
                return 0;
        }
        return sscanf(text, "%" SCNu64, ret) == 1 ? 0 : -EBADMSG;
}

int cgroup_get_oom_kills(const Cgroup *cg, uint64_t *ret)
{
        int r;

        if (cg->mode == CGROUP_MODE_V2)
                r = read_keyed(cg->unified, "memory.events", "oom_kill", ret);
        else
                r = read_keyed(cg->v1_memory, "memory.oom_control", "oom_kill", ret);
        return r == -ENOENT ? -EOPNOTSUPP : r;
}

int cgroup_oom_fd(const Cgroup *cg)
{
        _cleanup_close_ int fd = -1, control = -1;
        _cleanup_free_ char *path = NULL, *line = NULL;

        if (cg->mode == CGROUP_MODE_V2) {
                fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
                if (fd < 0)
                        return -errno;
                path = path_join(cg->unified, "memory.events");
                if (inotify_add_watch(fd, path, IN_MODIFY) < 0)
                        return errno == ENOENT ? -EOPNOTSUPP : -errno;
                return TAKE_FD(fd);
        }
        if (!cg->v1_memory)
                return -EOPNOTSUPP;
        /* v1: "<eventfd> <fd of memory.oom_control>" into cgroup.event_control */
        path = path_join(cg->v1_memory, "memory.oom_control");
        control = open(path, O_RDONLY | O_CLOEXEC);
        if (control < 0)
                return -errno;
        fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        line = xasprintf("%d %d", fd, control);
        if (cg_write(cg->v1_memory, "cgroup.event_control", line) < 0)
                return -EOPNOTSUPP;
        return TAKE_FD(fd);
}

static uint64_t count_lines(const char *dir, const char *file)
{
        _cleanup_free_ char *text = NULL;
        uint64_t n = 0;

        if (!dir || cg_read(dir, file, &text) < 0)
                return UINT64_MAX;
        for (const char *p = text; *p; p++)
                n += *p == '\n';
        return n + (text[0] != '\0'); /* cg_read() drops the last newline */
}

void cgroup_get_stats(const Cgroup *cg, CgroupStats *ret)
{
        CgroupStats s = { UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX };
        uint64_t v;

        if (cg->mode == CGROUP_MODE_V2) {
                (void)read_number(cg->unified, "memory.current", &s.memory_current);
                (void)read_number(cg->unified, "memory.peak", &s.memory_peak);
                (void)read_number(cg->unified, "pids.current", &s.tasks_current);
                /* cpu.stat is there even without the cpu controller */
                if (read_keyed(cg->unified, "cpu.stat", "usage_usec", &v) == 0)
                        s.cpu_usage_nsec = v * 1000;
        } else {
                (void)read_number(cg->v1_memory, "memory.usage_in_bytes", &s.memory_current);
                (void)read_number(cg->v1_memory, "memory.max_usage_in_bytes", &s.memory_peak);
                (void)read_number(cg->v1_pids, "pids.current", &s.tasks_current);
                (void)read_number(cg->v1_cpuacct, "cpuacct.usage", &s.cpu_usage_nsec);
                /* hybrid without cpuacct: the cgroup2 tree's cpu.stat */
                if (s.cpu_usage_nsec == UINT64_MAX && cg->unified &&
                    read_keyed(cg->unified, "cpu.stat", "usage_usec", &v) == 0)
                        s.cpu_usage_nsec = v * 1000;
        }
        if (s.tasks_current == UINT64_MAX)
                s.tasks_current = count_lines(cg->unified ? cg->unified : (cg->v1 ? cg->v1[0] : NULL),
                                              "cgroup.procs");
        *ret = s;
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
