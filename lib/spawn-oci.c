/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <json-c/json.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "caps.h"
#include "parse.h"
#include "spawn-hooks.h"
#include "spawn-internal.h"
#include "spawn-oci.h"

#define CONFIG_DEPTH_MAX 64

typedef struct Ctx {
        SpawnPlan *p;
        const SpawnOciOptions *o;
        char **error;
} Ctx;

static int bad(Ctx *c, const char *fmt, ...) _printf_(2, 3);
static int bad(Ctx *c, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        error_setv(c->error, -EINVAL, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static json_object *get(json_object *o, const char *key)
{
        json_object *v = NULL;

        return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* key of o must have type t when present (null counts as absent). */
static int typed(Ctx *c, json_object *o, const char *path, const char *key, json_type t,
                 json_object **ret)
{
        json_object *v = get(o, key);

        *ret = NULL;
        if (!v)
                return 0;
        if (!json_object_is_type(v, t))
                return bad(c, "`%s%s`: not a%s %s", path, key, t == json_type_array || t == json_type_object ? "n" : "",
                           json_type_to_name(t));
        *ret = v;
        return 0;
}

/* Every key of o must be in known; those in refused are an error when not
 * empty (an empty list, object, string, false or 0 asks for nothing). */
static int check_keys(Ctx *c, json_object *o, const char *path, const char *const *known,
                      const char *const *refused)
{
        json_object_object_foreach(o, k, v) {
                bool ok = false;

                for (const char *const *r = refused; r && *r; r++)
                        if (streq(*r, k)) {
                                bool empty = !v ||
                                             (json_object_is_type(v, json_type_array) && json_object_array_length(v) == 0) ||
                                             (json_object_is_type(v, json_type_object) && json_object_object_length(v) == 0) ||
                                             (json_object_is_type(v, json_type_string) && json_object_get_string_len(v) == 0) ||
                                             (json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v));
                                if (!empty)
                                        return bad(c, "`%s%s`: not supported by ccsup-runtime", path, k);
                                ok = true;
                        }
                for (const char *const *n = known; !ok && *n; n++)
                        ok = streq(*n, k);
                if (!ok)
                        return bad(c, "`%s%s`: unknown field", path, k);
        }
        return 0;
}

static int get_string(Ctx *c, json_object *o, const char *path, const char *key, const char **ret)
{
        json_object *v;
        int r = typed(c, o, path, key, json_type_string, &v);

        *ret = NULL;
        if (r < 0)
                return r;
        if (v && strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
                return bad(c, "`%s%s`: contains a NUL byte", path, key);
        *ret = v ? json_object_get_string(v) : NULL;
        return 0;
}

static int get_int(Ctx *c, json_object *o, const char *path, const char *key, int64_t min,
                   int64_t max, bool *ret_set, int64_t *ret)
{
        json_object *v = get(o, key);

        *ret_set = false;
        if (!v)
                return 0;
        if (!json_object_is_type(v, json_type_int))
                return bad(c, "`%s%s`: not an integer", path, key);
        errno = 0;
        *ret = json_object_get_int64(v);
        if (errno != 0 || *ret < min || *ret > max)
                return bad(c, "`%s%s`: %s out of range", path, key, json_object_get_string(v));
        *ret_set = true;
        return 0;
}

/* An array of strings into *ret (appended). */
static int get_strv(Ctx *c, json_object *o, const char *path, const char *key, char ***ret)
{
        json_object *a;
        int r = typed(c, o, path, key, json_type_array, &a);

        if (r < 0 || !a)
                return r;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *e = json_object_array_get_idx(a, i);

                if (!json_object_is_type(e, json_type_string) ||
                    strlen(json_object_get_string(e)) != (size_t)json_object_get_string_len(e))
                        return bad(c, "`%s%s[%zu]`: not a string", path, key, i);
                strv_add(ret, json_object_get_string(e));
        }
        return 0;
}

/* ---- process ---- */

static int cap_set(Ctx *c, json_object *caps, const char *key, uint64_t *ret)
{
        _cleanup_(strv_freep) char **names = NULL;
        int r = get_strv(c, caps, "process.capabilities.", key, &names);

        *ret = 0;
        if (r < 0)
                return r;
        STRV_FOREACH(n, names) {
                int cap = parse_capability(*n);

                if (cap < 0 || cap > c->p->last_cap)
                        return bad(c, "`process.capabilities.%s`: unknown capability `%s`", key, *n);
                *ret |= UINT64_C(1) << cap;
        }
        return 0;
}

static int prepare_caps(Ctx *c, json_object *caps)
{
        static const char *const known[] = { "bounding", "effective", "inheritable", "permitted",
                                             "ambient", NULL };
        uint64_t bounding, effective, inheritable, permitted, ambient, have;
        SpawnPlan *p = c->p;
        int r;

        if (!caps) {
                p->caps = p->ambient_caps = 0;
                p->caps_as_given = false;
                return 0;
        }
        r = check_keys(c, caps, "process.capabilities.", known, NULL);
        if (r >= 0)
                r = cap_set(c, caps, "bounding", &bounding);
        if (r >= 0)
                r = cap_set(c, caps, "effective", &effective);
        if (r >= 0)
                r = cap_set(c, caps, "inheritable", &inheritable);
        if (r >= 0)
                r = cap_set(c, caps, "permitted", &permitted);
        if (r >= 0)
                r = cap_set(c, caps, "ambient", &ambient);
        if (r < 0)
                return r;
        have = caps_bounding_set(p->last_cap);
        for (int i = 0; i <= p->last_cap; i++)
                if (bounding & ~have & (UINT64_C(1) << i))
                        return bad(c, "`process.capabilities.bounding`: %s: ccsup-runtime does not hold it",
                                   capability_to_string(i) ? capability_to_string(i) : "?");
        /* Every set as given, as runc does: set after the user switch, and
         * execve turns them into what the command holds (a file's
         * capabilities from inheritable, a non-root command's from
         * ambient). What the kernel would refuse is refused here, by name.
         * uid 0 holds its bounding set after execve whatever ambient says:
         * an ambient set outside inheritable (runc spec writes one without
         * inheritable) is left out there, never an error. */
        if ((permitted | inheritable) & ~bounding)
                return bad(c, "`process.capabilities`: permitted and inheritable must be within bounding");
        if (effective & ~permitted)
                return bad(c, "`process.capabilities.effective`: must be within permitted");
        if (p->user.uid == 0)
                ambient &= permitted & inheritable;
        else if (ambient & ~(permitted & inheritable))
                return bad(c, "`process.capabilities.ambient`: must be within permitted and inheritable");
        p->caps = bounding;
        p->ambient_caps = ambient;
        p->caps_as_given = true;
        p->cap_effective = effective;
        p->cap_permitted = permitted;
        p->cap_inheritable = inheritable;
        return 0;
}

static const struct {
        const char *name;
        UnitLimit limit;
} rlimit_names[] = {
        { "RLIMIT_NOFILE", UNIT_LIMIT_NOFILE }, { "RLIMIT_NPROC", UNIT_LIMIT_NPROC },
        { "RLIMIT_CORE", UNIT_LIMIT_CORE },     { "RLIMIT_MEMLOCK", UNIT_LIMIT_MEMLOCK },
        { "RLIMIT_STACK", UNIT_LIMIT_STACK },
};

static int prepare_rlimits(Ctx *c, json_object *a)
{
        static const char *const known[] = { "type", "soft", "hard", NULL };

        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *e = json_object_array_get_idx(a, i);
                const char *type;
                int64_t soft, hard;
                bool s1, s2;
                size_t k;
                int r;

                if (!json_object_is_type(e, json_type_object))
                        return bad(c, "`process.rlimits[%zu]`: not an object", i);
                r = check_keys(c, e, "process.rlimits[].", known, NULL);
                if (r >= 0)
                        r = get_string(c, e, "process.rlimits[].", "type", &type);
                if (r >= 0)
                        r = get_int(c, e, "process.rlimits[].", "soft", 0, INT64_MAX, &s1, &soft);
                if (r >= 0)
                        r = get_int(c, e, "process.rlimits[].", "hard", 0, INT64_MAX, &s2, &hard);
                if (r < 0)
                        return r;
                if (!type || !s1 || !s2)
                        return bad(c, "`process.rlimits[%zu]`: needs type, soft and hard", i);
                for (k = 0; k < ELEMENTSOF(rlimit_names); k++)
                        if (streq(rlimit_names[k].name, type))
                                break;
                if (k == ELEMENTSOF(rlimit_names))
                        return bad(c, "`process.rlimits[%zu].type`: %s not supported", i, type);
                if (soft > hard)
                        return bad(c, "`process.rlimits[%zu]`: soft above hard", i);
                /* JSON has no room for 2^64-1: huge values mean unlimited. */
                c->p->limits[rlimit_names[k].limit] = (RlimitSpec){
                        .set = true,
                        .soft = soft == INT64_MAX ? UINT64_MAX : (uint64_t)soft,
                        .hard = hard == INT64_MAX ? UINT64_MAX : (uint64_t)hard,
                };
        }
        return 0;
}

static int prepare_process(Ctx *c, json_object *proc)
{
        static const char *const known[] = { "terminal", "consoleSize", "user", "args", "env",
                                             "cwd", "capabilities", "rlimits", "noNewPrivileges",
                                             "oomScoreAdj", NULL };
        static const char *const refused[] = { "apparmorProfile", "selinuxLabel", "ioPriority",
                                               "scheduler", "execCPUAffinity", "commandLine", NULL };
        static const char *const user_known[] = { "uid", "gid", "umask", "additionalGids", NULL };
        static const char *const user_refused[] = { "username", NULL };
        SpawnPlan *p = c->p;
        json_object *user, *v, *a;
        const char *cwd;
        int64_t n;
        bool set;
        int r;

        if (!proc)
                return bad(c, "`process`: is missing");
        if (!json_object_is_type(proc, json_type_object))
                return bad(c, "`process`: not an object");
        r = check_keys(c, proc, "process.", known, refused);
        if (r < 0)
                return r;
        v = get(proc, "terminal");
        if (v && !json_object_is_type(v, json_type_boolean))
                return bad(c, "`process.terminal`: not a boolean");
        if (v && json_object_get_boolean(v)) {
                if (c->o->console_fd < 0)
                        return bad(c, "`process.terminal`: needs --console-socket");
                p->terminal = true;
                p->console_fd = c->o->console_fd;
        }
        r = get_strv(c, proc, "process.", "args", &p->argv);
        if (r < 0)
                return r;
        if (!p->argv || !p->argv[0][0])
                return bad(c, "`process.args`: is missing or empty");
        r = get_strv(c, proc, "process.", "env", &p->env);
        if (r < 0)
                return r;
        STRV_FOREACH(e, p->env)
                if (!strchr(*e, '='))
                        return bad(c, "`process.env`: `%s` is not NAME=VALUE", *e);
        if (!p->env)
                p->env = xcalloc(1, sizeof(char *));
        r = get_string(c, proc, "process.", "cwd", &cwd);
        if (r < 0)
                return r;
        if (!cwd || !path_is_absolute(cwd))
                return bad(c, "`process.cwd`: must be an absolute path");
        p->working_directory = xstrdup(cwd);

        r = typed(c, proc, "process.", "user", json_type_object, &user);
        if (r < 0)
                return r;
        if (user) {
                r = check_keys(c, user, "process.user.", user_known, user_refused);
                if (r >= 0)
                        r = get_int(c, user, "process.user.", "uid", 0, UINT32_MAX - 1, &set, &n);
                if (r < 0)
                        return r;
                p->user.uid = set ? (uid_t)n : 0;
                r = get_int(c, user, "process.user.", "gid", 0, UINT32_MAX - 1, &set, &n);
                if (r < 0)
                        return r;
                p->user.gid = set ? (gid_t)n : 0;
                r = get_int(c, user, "process.user.", "umask", 0, 0777, &set, &n);
                if (r < 0)
                        return r;
                if (set)
                        p->umask = (mode_t)n;
                r = typed(c, user, "process.user.", "additionalGids", json_type_array, &a);
                if (r < 0)
                        return r;
                for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                        json_object *g = json_object_array_get_idx(a, i);

                        if (!json_object_is_type(g, json_type_int) || json_object_get_int64(g) < 0 ||
                            json_object_get_int64(g) >= UINT32_MAX)
                                return bad(c, "`process.user.additionalGids[%zu]`: not a gid", i);
                        p->user.groups = xrealloc(p->user.groups, (p->user.n_groups + 1) * sizeof(gid_t));
                        p->user.groups[p->user.n_groups++] = (gid_t)json_object_get_int64(g);
                }
        }
        p->user.home = xstrdup("/");

        v = get(proc, "noNewPrivileges");
        if (v && !json_object_is_type(v, json_type_boolean))
                return bad(c, "`process.noNewPrivileges`: not a boolean");
        p->no_new_privileges = v && json_object_get_boolean(v);
        r = get_int(c, proc, "process.", "oomScoreAdj", -1000, 1000, &set, &n);
        if (r < 0)
                return r;
        if (set)
                p->oom_score_adjust = (int)n;
        r = typed(c, proc, "process.", "rlimits", json_type_array, &a);
        if (r >= 0)
                r = prepare_rlimits(c, a);
        if (r < 0)
                return r;
        r = typed(c, proc, "process.", "capabilities", json_type_object, &v);
        if (r < 0)
                return r;
        return prepare_caps(c, v);
}

/* ---- root and mounts ---- */

static bool path_has_dotdot(const char *s)
{
        for (const char *q = s; (q = strstr(q, "..")); q += 2)
                if ((q == s || q[-1] == '/') && (q[2] == '/' || q[2] == 0))
                        return true;
        return false;
}

static int prepare_root(Ctx *c, json_object *root)
{
        static const char *const known[] = { "path", "readonly", NULL };
        _cleanup_free_ char *joined = NULL;
        RootfsPlan *rp = &c->p->rootfs;
        const char *path;
        json_object *ro;
        char real[PATH_MAX];
        struct stat st;
        int r;

        if (!root || !json_object_is_type(root, json_type_object))
                return bad(c, "`root`: is missing or not an object");
        r = check_keys(c, root, "root.", known, NULL);
        if (r >= 0)
                r = get_string(c, root, "root.", "path", &path);
        if (r < 0)
                return r;
        if (!path || !*path)
                return bad(c, "`root.path`: is missing");
        joined = path_is_absolute(path) ? xstrdup(path) : path_join(c->o->bundle, path);
        if (!realpath(joined, real) || stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
                return bad(c, "`root.path`: `%s`: %s", path, errno ? strerror(errno) : "not a directory");
        if (!path_is_absolute(path)) {
                size_t l = strlen(c->o->bundle);

                if (strncmp(real, c->o->bundle, l) != 0 || (real[l] != '/' && real[l] != 0))
                        return bad(c, "`root.path`: `%s` leads out of the bundle", path);
        }
        ro = get(root, "readonly");
        if (ro && !json_object_is_type(ro, json_type_boolean))
                return bad(c, "`root.readonly`: not a boolean");
        rp->image = xstrdup(real);
        rp->in_place = true;
        rp->read_only = ro && json_object_get_boolean(ro);
        return 0;
}

/* The mounts rootfs_setup() makes for every container: accepted when the
 * config asks for them where they are. */
static bool standard_mount(const char *type, const char *dest)
{
        static const char *const std[][2] = {
                { "proc", "/proc" },     { "sysfs", "/sys" },        { "tmpfs", "/dev" },
                { "devpts", "/dev/pts" }, { "mqueue", "/dev/mqueue" }, { "tmpfs", "/dev/shm" },
        };

        for (size_t i = 0; i < ELEMENTSOF(std); i++)
                if (streq(std[i][0], type) && streq(std[i][1], dest))
                        return true;
        return false;
}

static int prepare_mount(Ctx *c, size_t i, json_object *m)
{
        static const char *const known[] = { "destination", "type", "source", "options", NULL };
        static const char *const refused[] = { "uidMappings", "gidMappings", NULL };
        _cleanup_(strv_freep) char **options = NULL;
        _cleanup_free_ char *data = NULL;
        RootfsPlan *rp = &c->p->rootfs;
        const char *dest, *type, *source;
        bool is_bind = false, recursive = false, ro = false, copy_up = false;
        uint64_t attr = 0;
        int r;

        if (!json_object_is_type(m, json_type_object))
                return bad(c, "`mounts[%zu]`: not an object", i);
        r = check_keys(c, m, "mounts[].", known, refused);
        if (r >= 0)
                r = get_string(c, m, "mounts[].", "destination", &dest);
        if (r >= 0)
                r = get_string(c, m, "mounts[].", "type", &type);
        if (r >= 0)
                r = get_string(c, m, "mounts[].", "source", &source);
        if (r >= 0)
                r = get_strv(c, m, "mounts[].", "options", &options);
        if (r < 0)
                return r;
        if (!dest || !path_is_absolute(dest) || path_has_dotdot(dest))
                return bad(c, "`mounts[%zu].destination`: `%s`: must be an absolute path without `..`",
                           i, dest ? dest : "");
        /* What rootfs_setup() makes anyway, with its own options. */
        if (type && standard_mount(type, dest))
                return 0;
        STRV_FOREACH(o, options) {
                if (streq(*o, "bind"))
                        is_bind = true;
                else if (streq(*o, "rbind"))
                        is_bind = recursive = true;
                else if (streq(*o, "ro"))
                        ro = true;
                else if (streq(*o, "rw"))
                        ro = false;
                else if (streq(*o, "nosuid"))
                        attr |= MOUNT_ATTR_NOSUID;
                else if (streq(*o, "noexec"))
                        attr |= MOUNT_ATTR_NOEXEC;
                else if (streq(*o, "noatime") || streq(*o, "strictatime")) {
                        attr &= ~(uint64_t)(MOUNT_ATTR_NOATIME | MOUNT_ATTR_STRICTATIME);
                        attr |= streq(*o, "noatime") ? MOUNT_ATTR_NOATIME : MOUNT_ATTR_STRICTATIME;
                } else if (streq(*o, "nodiratime"))
                        attr |= MOUNT_ATTR_NODIRATIME;
                else if (streq(*o, "tmpcopyup") && type && streq(type, "tmpfs"))
                        copy_up = true;
                else if (streq(*o, "nodev") || streq(*o, "suid") || streq(*o, "exec") ||
                         streq(*o, "private") || streq(*o, "rprivate") || streq(*o, "relatime") ||
                         streq(*o, "atime") || streq(*o, "diratime"))
                        ; /* what every mount of the container has already */
                else if (strchr(*o, '=') && !is_bind) {
                        char *d = data ? xasprintf("%s,%s", data, *o) : xstrdup(*o);
                        free(data);
                        data = d;
                }
                else
                        return bad(c, "`mounts[%zu].options`: `%s` not supported (mount `%s`)", i, *o,
                                   dest);
        }
        if (!type || !*type || is_bind) {
                _cleanup_free_ char *joined = NULL;

                if (!is_bind && (!type || streq(type, "none")))
                        return bad(c, "`mounts[%zu]`: no type and no bind option (mount `%s`)", i, dest);
                if (type && !streq(type, "bind") && !streq(type, "none"))
                        return bad(c, "`mounts[%zu].type`: `%s` with bind", i, type);
                if (!source || !*source)
                        return bad(c, "`mounts[%zu].source`: is missing (bind `%s`)", i, dest);
                joined = path_is_absolute(source) ? xstrdup(source) : path_join(c->o->bundle, source);
                rootfs_plan_add(rp, ROOTFS_MOUNT_BIND, joined, dest, ro, false, NULL);
        } else if (streq(type, "tmpfs")) {
                rootfs_plan_add(rp, ROOTFS_MOUNT_TMPFS, NULL, dest, ro, false, data ? data : "mode=1777");
        } else if (streq(type, "cgroup") || streq(type, "cgroup2")) {
                if (!streq(dest, "/sys/fs/cgroup"))
                        return bad(c, "`mounts[%zu]`: a cgroup mount only at /sys/fs/cgroup, not `%s`", i, dest);
                rootfs_plan_add(rp, ROOTFS_MOUNT_CGROUP, NULL, dest, ro, false, NULL);
        } else {
                return bad(c, "`mounts[%zu]`: type `%s` at `%s` not supported", i, type, dest);
        }
        /* rootfs_plan_add() keeps the mounts sorted: find ours again. */
        for (size_t k = rp->n_mounts; k > 0; k--)
                if (streq(rp->mounts[k - 1].destination, dest)) {
                        rp->mounts[k - 1].extra_attr = attr;
                        rp->mounts[k - 1].non_recursive = is_bind && !recursive;
                        rp->mounts[k - 1].copy_up = copy_up;
                        break;
                }
        return 0;
}

/* ---- linux ---- */

static int prepare_namespaces(Ctx *c, json_object *a)
{
        static const char *const known[] = { "type", "path", NULL };
        bool seen_pid = false, seen_mount = false, seen_uts = false, seen_ipc = false;
        SpawnPlan *p = c->p;

        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *e = json_object_array_get_idx(a, i);
                const char *type, *path;
                int r, fd;

                if (!json_object_is_type(e, json_type_object))
                        return bad(c, "`linux.namespaces[%zu]`: not an object", i);
                r = check_keys(c, e, "linux.namespaces[].", known, NULL);
                if (r >= 0)
                        r = get_string(c, e, "linux.namespaces[].", "type", &type);
                if (r >= 0)
                        r = get_string(c, e, "linux.namespaces[].", "path", &path);
                if (r < 0)
                        return r;
                if (!type)
                        return bad(c, "`linux.namespaces[%zu].type`: is missing", i);
                if (path && !*path)
                        path = NULL;
                if (streq(type, "pid") || streq(type, "mount")) {
                        if (path)
                                return bad(c, "`linux.namespaces[%zu]`: joining a %s namespace is not supported", i, type);
                        *(streq(type, "pid") ? &seen_pid : &seen_mount) = true;
                        continue;
                }
                if (streq(type, "cgroup")) {
                        if (path)
                                return bad(c, "`linux.namespaces[%zu]`: joining a cgroup namespace is not supported", i);
                        continue; /* every container gets one */
                }
                if (streq(type, "user")) {
                        if (path)
                                return bad(c, "`linux.namespaces[%zu]`: joining a user namespace is not supported", i);
                        p->userns = true;
                        continue;
                }
                if (!streq(type, "network") && !streq(type, "uts") && !streq(type, "ipc"))
                        return bad(c, "`linux.namespaces[%zu].type`: `%s` %s", i, type,
                                   streq(type, "time") ? "not supported by ccsup-runtime" : "is not a namespace type");
                if (streq(type, "uts"))
                        seen_uts = true;
                if (streq(type, "ipc"))
                        seen_ipc = true;
                if (!path) {
                        if (streq(type, "network"))
                                p->own_netns = true;
                        continue;
                }
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return bad(c, "`linux.namespaces[%zu].path`: `%s`: %s", i, path, strerror(errno));
                if (streq(type, "network")) {
                        p->netns_fd = fd;
                } else {
                        p->join_ns_fd[p->n_join_ns] = fd;
                        p->join_ns_type[p->n_join_ns++] = streq(type, "uts") ? CLONE_NEWUTS : CLONE_NEWIPC;
                }
        }
        if (!seen_pid || !seen_mount || !seen_uts || !seen_ipc)
                return bad(c, "`linux.namespaces`: needs pid, mount, uts and ipc namespaces "
                              "(ccsup-runtime runs no container in the host's)");
        /* setns() needs CAP_SYS_ADMIN over the namespace's owner, the
         * host's user namespace, which the container's root never has. */
        if (p->userns && (p->netns_fd >= 0 || p->n_join_ns))
                return bad(c, "`linux.namespaces`: joining a namespace by path together with a new user "
                              "namespace is not supported");
        return 0;
}

/* linux.uidMappings or gidMappings: the text of uid_map or gid_map, and the
 * entry of container ID 0 (its host ID and size; 0, 0: none). */
static int prepare_mappings(Ctx *c, json_object *lx, const char *key, char **ret_text, UsernsRange *ret_root)
{
        static const char *const known[] = { "containerID", "hostID", "size", NULL };
        _cleanup_free_ char *text = NULL, *where = xasprintf("linux.%s[].", key);
        json_object *a;
        size_t len = 0;
        int r;

        r = typed(c, lx, "linux.", key, json_type_array, &a);
        if (r < 0 || !a)
                return r;
        size_t n = json_object_array_length(a);
        /* the kernel's limit of lines in a map */
        if (n == 0 || n > 340)
                return bad(c, "`linux.%s`: %zu entries, must be 1 to 340", key, n);
        *ret_root = (UsernsRange){};
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                int64_t id[3];
                bool set[3];

                if (!json_object_is_type(e, json_type_object))
                        return bad(c, "`linux.%s[%zu]`: not an object", key, i);
                r = check_keys(c, e, where, known, NULL);
                for (size_t k = 0; r >= 0 && k < 3; k++) {
                        r = get_int(c, e, where, known[k], k == 2 ? 1 : 0, UINT32_MAX, &set[k], &id[k]);
                        if (r >= 0 && !set[k])
                                r = bad(c, "`linux.%s[%zu].%s`: is missing", key, i, known[k]);
                }
                if (r < 0)
                        return r;
                if (id[0] + id[2] > (int64_t)UINT32_MAX + 1 || id[1] + id[2] > (int64_t)UINT32_MAX + 1)
                        return bad(c, "`linux.%s[%zu]`: the range ends beyond ID 4294967295", key, i);
                if (id[0] == 0)
                        *ret_root = (UsernsRange){ .base = (uint32_t)id[1], .count = (uint32_t)id[2] };
                char line[80];
                int l = snprintf(line, sizeof(line), "%" PRId64 " %" PRId64 " %" PRId64 "\n", id[0], id[1], id[2]);
                text = xrealloc(text, len + (size_t)l + 1);
                memcpy(text + len, line, (size_t)l + 1);
                len += (size_t)l;
        }
        *ret_text = TAKE_PTR(text);
        return 0;
}

/* A new user namespace (linux.namespaces "user") with the maps of
 * linux.uidMappings and gidMappings; either without the other is an error. */
static int prepare_userns(Ctx *c, json_object *lx)
{
        SpawnPlan *p = c->p;
        UsernsRange groups = {};
        int r;

        r = prepare_mappings(c, lx, "uidMappings", &p->userns_uid_map, &p->userns_range);
        if (r >= 0)
                r = prepare_mappings(c, lx, "gidMappings", &p->userns_gid_map, &groups);
        if (r < 0)
                return r;
        if (!p->userns && (p->userns_uid_map || p->userns_gid_map))
                return bad(c, "`linux.%s`: given without a user namespace in `linux.namespaces`",
                           p->userns_uid_map ? "uidMappings" : "gidMappings");
        if (p->userns && (!p->userns_uid_map || !p->userns_gid_map))
                return bad(c, "`linux.%s`: is missing (a user namespace needs both maps)",
                           !p->userns_uid_map ? "uidMappings" : "gidMappings");
        if (p->userns)
                p->rootfs.userns_ids = groups.count ? groups.count : 1;
        return 0;
}

static const char *const default_device_rules[] = {
        "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
        "c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm",
        /* mknod of any node (as runc allows): linux.devices makes its
         * nodes inside the cgroup; opening one still needs its rule */
        "c *:* m", "b *:* m",
};

static int prepare_devices(Ctx *c, json_object *a)
{
        static const char *const known[] = { "allow", "type", "major", "minor", "access", NULL };
        SpawnPlan *p = c->p;

        /* The nodes of the container's own /dev are always usable (runc
         * allows its default devices whatever the config says). */
        for (size_t i = 0; i < ELEMENTSOF(default_device_rules); i++)
                strv_add(&p->device_rules, default_device_rules[i]);
        if (!a)
                return 0;
        /* The allowlist form every engine writes: deny all, then allows. */
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *e = json_object_array_get_idx(a, i), *allow;
                const char *type, *access;
                _cleanup_free_ char *maj = NULL, *min = NULL;
                int64_t n;
                bool set;
                int r;

                if (!json_object_is_type(e, json_type_object))
                        return bad(c, "`linux.resources.devices[%zu]`: not an object", i);
                r = check_keys(c, e, "linux.resources.devices[].", known, NULL);
                if (r >= 0)
                        r = get_string(c, e, "linux.resources.devices[].", "type", &type);
                if (r >= 0)
                        r = get_string(c, e, "linux.resources.devices[].", "access", &access);
                if (r < 0)
                        return r;
                allow = get(e, "allow");
                if (!allow || !json_object_is_type(allow, json_type_boolean))
                        return bad(c, "`linux.resources.devices[%zu].allow`: not a boolean", i);
                if (!access || !*access || strspn(access, "rwm") != strlen(access))
                        access = "rwm";
                if (!json_object_get_boolean(allow)) {
                        if (i != 0 || (type && !streq(type, "a")) || get(e, "major") || get(e, "minor"))
                                return bad(c, "`linux.resources.devices[%zu]`: only a first deny-all rule is supported", i);
                        continue;
                }
                if (i == 0)
                        return bad(c, "`linux.resources.devices`: must start with a deny-all rule");
                if (!type || (!streq(type, "c") && !streq(type, "b")))
                        return bad(c, "`linux.resources.devices[%zu].type`: allowing `%s` is not supported", i,
                                   type ? type : "a");
                r = get_int(c, e, "linux.resources.devices[].", "major", -1, UINT32_MAX, &set, &n);
                if (r < 0)
                        return r;
                maj = set && n >= 0 ? xasprintf("%" PRId64, n) : xstrdup("*");
                r = get_int(c, e, "linux.resources.devices[].", "minor", -1, UINT32_MAX, &set, &n);
                if (r < 0)
                        return r;
                min = set && n >= 0 ? xasprintf("%" PRId64, n) : xstrdup("*");
                strv_addf(&p->device_rules, "%s %s:%s %s", type, maj, min, access);
        }
        return 0;
}

/* linux.resources.blockIO: weight, weightDevice, throttle*Device. */
static int prepare_block_io(Ctx *c, json_object *o)
{
        static const char *const known[] = { "weight", "weightDevice", "throttleReadBpsDevice",
                                             "throttleWriteBpsDevice", "throttleReadIOPSDevice",
                                             "throttleWriteIOPSDevice", NULL };
        static const char *const refused[] = { "leafWeight", NULL };
        static const char *const lists[][2] = {
                { "weightDevice", "weight" },           { "throttleReadBpsDevice", "rbps" },
                { "throttleWriteBpsDevice", "wbps" },   { "throttleReadIOPSDevice", "riops" },
                { "throttleWriteIOPSDevice", "wiops" },
        };
        static const char *const dev_known[] = { "major", "minor", "weight", "rate", NULL };
        static const char *const dev_refused[] = { "leafWeight", NULL };
        SpawnPlan *p = c->p;
        int64_t n;
        bool set;
        int r;

        if (!o)
                return 0;
        r = check_keys(c, o, "linux.resources.blockIO.", known, refused);
        if (r >= 0)
                r = get_int(c, o, "linux.resources.blockIO.", "weight", 0, 1000, &set, &n);
        if (r < 0)
                return r;
        if (set && n > 0) {
                if (n < 10)
                        return bad(c, "`linux.resources.blockIO.weight`: %" PRId64 ": must be 10 to 1000", n);
                p->io_weight = (uint64_t)n * 10; /* the launcher's 1..10000 */
                p->io_weight_key = "`linux.resources.blockIO.weight`";
        }
        for (size_t l = 0; l < ELEMENTSOF(lists); l++) {
                _cleanup_free_ char *path = xasprintf("linux.resources.blockIO.%s[].", lists[l][0]);
                bool weight = streq(lists[l][1], "weight");
                json_object *a;

                r = typed(c, o, "linux.resources.blockIO.", lists[l][0], json_type_array, &a);
                if (r < 0)
                        return r;
                for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                        json_object *e = json_object_array_get_idx(a, i);
                        int64_t maj, min, v;
                        bool s1, s2, s3;

                        if (!json_object_is_type(e, json_type_object))
                                return bad(c, "`linux.resources.blockIO.%s[%zu]`: not an object", lists[l][0], i);
                        r = check_keys(c, e, path, dev_known, dev_refused);
                        if (r >= 0)
                                r = get_int(c, e, path, "major", 0, 4095, &s1, &maj);
                        if (r >= 0)
                                r = get_int(c, e, path, "minor", 0, 1048575, &s2, &min);
                        if (r >= 0)
                                r = get_int(c, e, path, weight ? "weight" : "rate", weight ? 10 : 0,
                                            weight ? 1000 : INT64_MAX, &s3, &v);
                        if (r < 0)
                                return r;
                        if (!s1 || !s2 || !s3)
                                return bad(c, "`linux.resources.blockIO.%s[%zu]`: needs major, minor and %s",
                                           lists[l][0], i, weight ? "weight" : "rate");
                        strv_addf(&p->io_device_rules, "%s %" PRId64 ":%" PRId64 " %" PRId64, lists[l][1], maj,
                                  min, v);
                        strv_addf(&p->io_device_keys, "`linux.resources.blockIO.%s[%zu]`", lists[l][0], i);
                }
        }
        return 0;
}

static int prepare_resources(Ctx *c, json_object *res)
{
        static const char *const known[] = { "memory", "cpu", "pids", "devices", "blockIO", NULL };
        static const char *const refused[] = { "hugepageLimits", "network", "rdma",
                                               "unified", NULL };
        static const char *const mem_known[] = { "limit", "swap", NULL };
        static const char *const mem_refused[] = { "reservation", "kernel", "kernelTCP",
                                                   "swappiness", "disableOOMKiller",
                                                   "useHierarchy", "checkBeforeUpdate", NULL };
        static const char *const cpu_known[] = { "shares", "quota", "period", "cpus", NULL };
        static const char *const cpu_refused[] = { "realtimeRuntime", "realtimePeriod", "mems",
                                                   "idle", "burst", NULL };
        static const char *const pids_known[] = { "limit", NULL };
        SpawnPlan *p = c->p;
        json_object *o, *a;
        int64_t n, quota = -1, period = 100000;
        bool set;
        int r;

        p->memory_max = p->memory_high = p->memory_swap_max = UNIT_UNSET;
        p->cpu_quota = p->cpu_weight = p->pids_max = p->io_weight = UNIT_UNSET;
        r = res ? check_keys(c, res, "linux.resources.", known, refused) : 0;
        if (r >= 0)
                r = typed(c, res, "linux.resources.", "devices", json_type_array, &a);
        if (r >= 0)
                r = prepare_devices(c, a);
        if (r >= 0)
                r = typed(c, res, "linux.resources.", "memory", json_type_object, &o);
        if (r < 0)
                return r;
        if (o) {
                r = check_keys(c, o, "linux.resources.memory.", mem_known, mem_refused);
                if (r >= 0)
                        r = get_int(c, o, "linux.resources.memory.", "limit", -1, INT64_MAX, &set, &n);
                if (r < 0)
                        return r;
                if (set && n > 0)
                        p->memory_max = (uint64_t)n;
                r = get_int(c, o, "linux.resources.memory.", "swap", -1, INT64_MAX, &set, &n);
                if (r < 0)
                        return r;
                /* memory + swap together, as v1's memsw: the launcher's is swap alone */
                if (set && n > 0) {
                        if (p->memory_max == UNIT_UNSET || (uint64_t)n < p->memory_max)
                                return bad(c, "`linux.resources.memory.swap`: needs a limit not above it");
                        if ((uint64_t)n > p->memory_max)
                                p->memory_swap_max = (uint64_t)n - p->memory_max;
                }
        }
        r = typed(c, res, "linux.resources.", "cpu", json_type_object, &o);
        if (r < 0)
                return r;
        if (o) {
                const char *cpus;

                r = check_keys(c, o, "linux.resources.cpu.", cpu_known, cpu_refused);
                if (r >= 0)
                        r = get_int(c, o, "linux.resources.cpu.", "shares", 0, 262144, &set, &n);
                if (r < 0)
                        return r;
                if (set && n > 0)
                        p->cpu_shares = (uint64_t)n;
                bool quota_set, period_set;
                r = get_int(c, o, "linux.resources.cpu.", "quota", -1, INT64_MAX, &quota_set, &quota);
                if (r >= 0)
                        r = get_int(c, o, "linux.resources.cpu.", "period", 1000, 1000000, &period_set, &period);
                if (r < 0)
                        return r;
                if (quota_set && quota > 0 && quota < 1000)
                        return bad(c, "`linux.resources.cpu.quota`: %" PRId64 ": at least 1000 (1 ms)", quota);
                /* What is not given keeps its value (update): a quota
                 * alone gets the default period, a period alone the quota
                 * the cgroup has; -1 and 0 are no quota. */
                if (quota_set || period_set) {
                        p->cpu_max_quota = !quota_set ? CGROUP_CPU_QUOTA_KEEP
                                           : quota > 0 ? (uint64_t)quota : UINT64_MAX;
                        p->cpu_max_period = period_set ? (uint64_t)period : 100000;
                }
                r = get_string(c, o, "linux.resources.cpu.", "cpus", &cpus);
                if (r < 0)
                        return r;
                if (cpus && *cpus)
                        p->cpuset = xstrdup(cpus);
        }
        r = typed(c, res, "linux.resources.", "blockIO", json_type_object, &o);
        if (r >= 0)
                r = prepare_block_io(c, o);
        if (r >= 0)
                r = typed(c, res, "linux.resources.", "pids", json_type_object, &o);
        if (r < 0)
                return r;
        if (o) {
                r = check_keys(c, o, "linux.resources.pids.", pids_known, NULL);
                if (r >= 0)
                        r = get_int(c, o, "linux.resources.pids.", "limit", INT64_MIN, INT64_MAX, &set, &n);
                if (r < 0)
                        return r;
                if (set && n > 0)
                        p->pids_max = (uint64_t)n;
        }

        /* No statistics are asked of an OCI runtime: only the hierarchies the
         * limits need (each v1 one joined costs a synchronize_rcu() at exit). */
        p->cgroup_mask = 0;
        if (p->memory_max != UNIT_UNSET || p->memory_swap_max != UNIT_UNSET)
                p->cgroup_mask |= CGROUP_MASK(CGROUP_CONTROLLER_MEMORY);
        if (p->cpu_quota != UNIT_UNSET || p->cpu_weight != UNIT_UNSET || p->cpu_max_period || p->cpu_shares)
                p->cgroup_mask |= CGROUP_MASK(CGROUP_CONTROLLER_CPU);
        if (p->cpuset)
                p->cgroup_mask |= CGROUP_MASK(CGROUP_CONTROLLER_CPUSET);
        if (p->pids_max != UNIT_UNSET)
                p->cgroup_mask |= CGROUP_MASK(CGROUP_CONTROLLER_PIDS);
        if (p->io_weight != UNIT_UNSET || p->io_device_rules)
                p->cgroup_mask |= CGROUP_MASK(CGROUP_CONTROLLER_IO);
        if (p->device_rules && c->o->cgroup_mode == CGROUP_MODE_V1)
                p->cgroup_mask |= CGROUP_MASK(CGROUP_CONTROLLER_DEVICES);
        return 0;
}

static int prepare_paths(Ctx *c, json_object *lx, const char *key, char ***ret)
{
        _cleanup_free_ char *what = xasprintf("linux.%s", key);
        int r = get_strv(c, lx, "linux.", key, ret);

        if (r < 0)
                return r;
        STRV_FOREACH(m, *ret)
                if (!path_is_absolute(*m) || path_has_dotdot(*m))
                        return bad(c, "`%s`: `%s`: must be an absolute path without `..`", what, *m);
        return 0;
}

static int prepare_seccomp(Ctx *c, json_object *sc)
{
        char **warnings = NULL;
        SpawnPlan *p = c->p;
        const char *text;
        int r, f;

        if (!sc)
                return 0;
        if (!c->o->seccomp_path)
                return bad(c, "`linux.seccomp`: no place to compile it");
        text = json_object_to_json_string_ext(sc, JSON_C_TO_STRING_PLAIN);
        f = open(c->o->seccomp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        r = f < 0 || write(f, text, strlen(text)) != (ssize_t)strlen(text) ? -errno : 0;
        if (f >= 0)
                (void)close(f);
        if (r < 0)
                return bad(c, "`linux.seccomp`: %s: %s", c->o->seccomp_path, strerror(-r));
        r = seccomp_profile_get_json(c->o->seccomp_path, p->caps, c->o->cache_dir, &p->seccomp_owned,
                                     &warnings, c->error);
        STRV_FOREACH(w, warnings)
                strv_add(&p->warnings, *w);
        strv_free(warnings);
        if (r < 0) {
                char *m = xasprintf("`linux.seccomp`: %s", *c->error ? *c->error : strerror(-r));
                free(*c->error);
                *c->error = m;
                return r;
        }
        p->seccomp = p->seccomp_owned;
        return 0;
}

/* Characters of a unit name (systemd's unit_name_is_valid(), without
 * templates). */
static bool unit_name_chars(const char *s)
{
        return *s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:-_.\\") ==
                             strlen(s);
}

static bool ends_with(const char *s, const char *suffix)
{
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && streq(s + a - b, suffix);
}

/* --systemd-cgroup: SLICE:PREFIX:NAME, the scope PREFIX-NAME.scope. */
static int prepare_systemd_scope(Ctx *c, const char *path)
{
        SpawnPlan *p = c->p;

        if (!path || !*path) {
                p->systemd_slice = xstrdup("system.slice");
                p->systemd_unit = xasprintf("ccsup-runtime-%s.scope", c->o->id);
                return 0;
        }
        _cleanup_free_ char *copy = xstrdup(path);
        char *prefix = strchr(copy, ':'), *name = prefix ? strchr(prefix + 1, ':') : NULL;
        if (!name || strchr(name + 1, ':') || strchr(path, '/'))
                return bad(c, "`linux.cgroupsPath`: `%s`: with --systemd-cgroup, SLICE:PREFIX:NAME", path);
        *prefix++ = 0;
        *name++ = 0;
        if (!*copy)
                p->systemd_slice = xstrdup("system.slice");
        else if (!ends_with(copy, ".slice") || !unit_name_chars(copy))
                return bad(c, "`linux.cgroupsPath`: `%s`: `%s` is not a slice name", path, copy);
        else
                p->systemd_slice = xstrdup(copy);
        if (ends_with(name, ".slice"))
                return bad(c, "`linux.cgroupsPath`: `%s`: a slice as the container's own unit is not supported",
                           path);
        p->systemd_unit = *prefix ? xasprintf("%s-%s.scope", prefix, name) : xasprintf("%s.scope", name);
        if (!*name || !unit_name_chars(p->systemd_unit) || strlen(p->systemd_unit) > 255)
                return bad(c, "`linux.cgroupsPath`: `%s`: `%s` is not a unit name", path, p->systemd_unit);
        return 0;
}

static int prepare_cgroup_path(Ctx *c, json_object *lx)
{
        const char *path;
        SpawnPlan *p = c->p;
        int r = get_string(c, lx, "linux.", "cgroupsPath", &path);

        if (r < 0)
                return r;
        if (c->o->systemd_cgroup)
                return prepare_systemd_scope(c, path);
        if (!path || !*path) {
                p->cgroup_path = xasprintf("%s/%s", streq(c->o->cgroup_parent, "/") ? "" : c->o->cgroup_parent,
                                           c->o->id);
                return 0;
        }
        if (strchr(path, ':'))
                return bad(c, "`linux.cgroupsPath`: `%s`: the systemd form (slice:prefix:name) needs "
                              "--systemd-cgroup", path);
        if (path_has_dotdot(path) || strstr(path, "//"))
                return bad(c, "`linux.cgroupsPath`: `%s`: not a normalized path", path);
        p->cgroup_path = path[0] == '/' ? xstrdup(path) : xasprintf("/%s", path);
        while (strlen(p->cgroup_path) > 1 && p->cgroup_path[strlen(p->cgroup_path) - 1] == '/')
                p->cgroup_path[strlen(p->cgroup_path) - 1] = 0;
        if (streq(p->cgroup_path, "/"))
                return bad(c, "`linux.cgroupsPath`: not the root cgroup");
        return 0;
}

/* A network namespace joined by path that is not the runtime's own. */
static bool joins_other_netns(const SpawnPlan *p)
{
        struct stat a, b;

        return p->netns_fd >= 0 && fstat(p->netns_fd, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 &&
               (a.st_dev != b.st_dev || a.st_ino != b.st_ino);
}

/* Only what belongs to the container's own namespaces: IPC ones, and net.*
 * with its own network namespace. */
static int prepare_sysctl(Ctx *c, json_object *o)
{
        static const char *const ipc[] = { "kernel.shmmax", "kernel.shmall", "kernel.shmmni",
                                           "kernel.shm_rmid_forced", "kernel.msgmax",
                                           "kernel.msgmnb", "kernel.msgmni", "kernel.sem" };
        SpawnPlan *p = c->p;

        if (!o)
                return 0;
        json_object_object_foreach(o, k, v) {
                bool ok = startswith(k, "fs.mqueue.") != NULL;
                _cleanup_free_ char *key = xstrdup(k);

                for (size_t i = 0; i < ELEMENTSOF(ipc); i++)
                        ok |= streq(k, ipc[i]);
                if (startswith(k, "net.")) {
                        if (!p->own_netns && !joins_other_netns(p))
                                return bad(c, "`linux.sysctl`: `%s` needs the container's own network namespace", k);
                        ok = true;
                }
                if (!ok || strchr(k, '/') || strstr(k, "..") || !v || !json_object_is_type(v, json_type_string))
                        return bad(c, "`linux.sysctl`: `%s`: not a namespaced sysctl (or its value not a string)", k);
                for (char *q = key; *q; q++)
                        if (*q == '.')
                                *q = '/';
                strv_addf(&p->rootfs.sysctls, "%s=%s", key, json_object_get_string(v));
        }
        return 0;
}

/* linux.devices: nodes made in the container's /dev. */
static int prepare_device_nodes(Ctx *c, json_object *a)
{
        static const char *const known[] = { "path", "type", "major", "minor", "fileMode", "uid", "gid", NULL };
        RootfsPlan *rp = &c->p->rootfs;

        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *e = json_object_array_get_idx(a, i);
                const char *path, *type;
                int64_t major = 0, minor = 0, mode = 0666, uid = 0, gid = 0;
                bool smaj, smin, set;
                RootfsDevice d = {};
                int r;

                if (!json_object_is_type(e, json_type_object))
                        return bad(c, "`linux.devices[%zu]`: not an object", i);
                r = check_keys(c, e, "linux.devices[].", known, NULL);
                if (r >= 0)
                        r = get_string(c, e, "linux.devices[].", "path", &path);
                if (r >= 0)
                        r = get_string(c, e, "linux.devices[].", "type", &type);
                if (r >= 0)
                        r = get_int(c, e, "linux.devices[].", "major", 0, 4095, &smaj, &major);
                if (r >= 0)
                        r = get_int(c, e, "linux.devices[].", "minor", 0, 1048575, &smin, &minor);
                if (r >= 0)
                        r = get_int(c, e, "linux.devices[].", "fileMode", 0, 0177777, &set, &mode);
                if (r >= 0 && !set)
                        mode = 0666;
                /* podman writes the type bits too (S_IFCHR|0666) */
                if (r >= 0 && (mode & ~07777) && type) {
                        mode_t want = streq(type, "b") ? S_IFBLK : streq(type, "p") ? S_IFIFO : S_IFCHR;
                        if (((mode_t)mode & S_IFMT) != want)
                                r = bad(c, "`linux.devices[%zu].fileMode`: 0%" PRIo64 ": its file type is not `%s`",
                                        i, mode, type);
                        mode &= 07777;
                }
                if (r >= 0)
                        r = get_int(c, e, "linux.devices[].", "uid", 0, UINT32_MAX - 1, &set, &uid);
                if (r >= 0)
                        r = get_int(c, e, "linux.devices[].", "gid", 0, UINT32_MAX - 1, &set, &gid);
                if (r < 0)
                        return r;
                /* The root is mounted nodev: a node opens only on /dev's tmpfs. */
                if (!path || !startswith(path, "/dev/") || path_has_dotdot(path) || strstr(path, "//") ||
                    path[strlen(path) - 1] == '/' || startswith(path, "/dev/pts/") ||
                    startswith(path, "/dev/shm/") || startswith(path, "/dev/mqueue/"))
                        return bad(c, "`linux.devices[%zu].path`: `%s`: must be a path below /dev "
                                      "(not in its pts, shm or mqueue mounts)", i, path ? path : "");
                if (!type || (!streq(type, "c") && !streq(type, "u") && !streq(type, "b") && !streq(type, "p")))
                        return bad(c, "`linux.devices[%zu].type`: `%s`: not c, u, b or p", i, type ? type : "");
                if (!streq(type, "p") && (!smaj || !smin))
                        return bad(c, "`linux.devices[%zu]`: needs major and minor", i);
                d.path = xstrdup(path);
                d.mode = (mode_t)mode | (streq(type, "b") ? S_IFBLK : streq(type, "p") ? S_IFIFO : S_IFCHR);
                d.rdev = streq(type, "p") ? 0 : makedev((unsigned)major, (unsigned)minor);
                d.uid = (uid_t)uid;
                d.gid = (gid_t)gid;
                rp->devices = xrealloc(rp->devices, (rp->n_devices + 1) * sizeof(RootfsDevice));
                rp->devices[rp->n_devices++] = d;
        }
        return 0;
}

static int prepare_linux(Ctx *c, json_object *lx)
{
        static const char *const known[] = { "namespaces", "resources", "cgroupsPath", "seccomp", "sysctl",
                                             "maskedPaths", "readonlyPaths", "rootfsPropagation",
                                             "devices", "uidMappings", "gidMappings", NULL };
        static const char *const refused[] = { "timeOffsets",
                                               "netDevices", "intelRdt", "memoryPolicy",
                                               "personality", "mountLabel", NULL };
        json_object *v;
        const char *prop;
        int r;

        if (lx && !json_object_is_type(lx, json_type_object))
                return bad(c, "`linux`: not an object");
        if (!lx)
                return bad(c, "`linux`: is missing (ccsup-runtime runs Linux containers)");
        r = check_keys(c, lx, "linux.", known, refused);
        if (r >= 0)
                r = get_string(c, lx, "linux.", "rootfsPropagation", &prop);
        if (r < 0)
                return r;
        if (prop && *prop && !streq(prop, "private") && !streq(prop, "rprivate"))
                return bad(c, "`linux.rootfsPropagation`: `%s` not supported (mounts are private)", prop);
        r = typed(c, lx, "linux.", "namespaces", json_type_array, &v);
        if (r >= 0)
                r = prepare_namespaces(c, v);
        if (r >= 0)
                r = prepare_userns(c, lx);
        if (r >= 0)
                r = typed(c, lx, "linux.", "sysctl", json_type_object, &v);
        if (r >= 0)
                r = prepare_sysctl(c, v);
        if (r >= 0)
                r = typed(c, lx, "linux.", "resources", json_type_object, &v);
        if (r >= 0)
                r = prepare_resources(c, v);
        if (r >= 0)
                r = prepare_cgroup_path(c, lx);
        if (r >= 0)
                r = prepare_paths(c, lx, "maskedPaths", &c->p->rootfs.masked);
        if (r >= 0)
                r = prepare_paths(c, lx, "readonlyPaths", &c->p->rootfs.read_only_paths);
        if (r >= 0)
                r = typed(c, lx, "linux.", "devices", json_type_array, &v);
        if (r >= 0)
                r = prepare_device_nodes(c, v);
        if (r >= 0)
                r = typed(c, lx, "linux.", "seccomp", json_type_object, &v);
        if (r >= 0)
                r = prepare_seccomp(c, v);
        return r;
}

/* ---- hooks ---- */

static int parse_document(Ctx *c, const char *data, size_t size, json_object **ret);

static int prepare_hook(Ctx *c, json_object *e, const char *where, SpawnHook *ret)
{
        static const char *const known[] = { "path", "args", "env", "timeout", NULL };
        _cleanup_free_ char *path_key = xasprintf("%s.", where);
        SpawnHook h = {};
        const char *path;
        int64_t t;
        bool set;
        int r;

        if (!json_object_is_type(e, json_type_object))
                return bad(c, "`%s`: not an object", where);
        r = check_keys(c, e, path_key, known, NULL);
        if (r >= 0)
                r = get_string(c, e, path_key, "path", &path);
        if (r >= 0 && (!path || !path_is_absolute(path)))
                r = bad(c, "`%s.path`: must be an absolute path", where);
        if (r >= 0)
                r = get_int(c, e, path_key, "timeout", INT64_MIN, INT64_MAX, &set, &t);
        if (r >= 0 && set && (t <= 0 || t > 86400))
                r = bad(c, "`%s.timeout`: %" PRId64 ": must be 1 to 86400 seconds", where, t);
        if (r < 0)
                return r;
        h.path = xstrdup(path);
        h.timeout = set ? (unsigned)t : 0;
        r = get_strv(c, e, path_key, "args", &h.argv);
        if (r >= 0)
                r = get_strv(c, e, path_key, "env", &h.env);
        if (r >= 0 && get(e, "env") && !h.env)
                h.env = xcalloc(1, sizeof(char *));
        if (r < 0) {
                free(h.path);
                strv_free(h.argv);
                strv_free(h.env);
                return r;
        }
        *ret = h;
        return 0;
}

static int prepare_hooks(Ctx *c, json_object *o, SpawnHooks *ret)
{
        SpawnHooks h = {};

        if (!json_object_is_type(o, json_type_object))
                return bad(c, "`hooks`: not an object");
        json_object_object_foreach(o, k, v) {
                SpawnHookKind kind = spawn_hook_kind_from_string(k);

                if (kind == _SPAWN_HOOK_MAX) {
                        spawn_hooks_done(&h);
                        return bad(c, "`hooks.%s`: unknown field", k);
                }
                if (!v)
                        continue;
                if (!json_object_is_type(v, json_type_array)) {
                        spawn_hooks_done(&h);
                        return bad(c, "`hooks.%s`: not an array", k);
                }
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        _cleanup_free_ char *where = xasprintf("hooks.%s[%zu]", k, i);
                        SpawnHook one;
                        int r = prepare_hook(c, json_object_array_get_idx(v, i), where, &one);

                        if (r < 0) {
                                spawn_hooks_done(&h);
                                return r;
                        }
                        h.list[kind] = xrealloc(h.list[kind], (h.n[kind] + 1) * sizeof(SpawnHook));
                        h.list[kind][h.n[kind]++] = one;
                }
        }
        *ret = h;
        return 0;
}

int spawn_oci_parse_hooks(const char *data, size_t size, SpawnHooks *ret, char **ret_error)
{
        Ctx c = { .error = ret_error };
        json_object *o = NULL;
        int r = parse_document(&c, data, size, &o);

        if (r >= 0)
                r = prepare_hooks(&c, o, ret);
        json_object_put(o);
        return r;
}

/* rootfs_setup()'s last step before pivot_root, in the child. */
static int create_container_hooks(void *data, char **ret_error)
{
        SpawnPlan *p = data;
        _cleanup_free_ char *state = spawn_hook_state(p->hook_state_head, "creating", p->host_pid);

        return spawn_run_hooks(p->hooks, SPAWN_HOOK_CREATE_CONTAINER, state, ret_error);
}

static void plan_hooks(SpawnPlan *p, const SpawnOciOptions *o, SpawnHooks *h, json_object *annotations)
{
        json_object *s = json_object_new_object();
        const char *text;
        bool any = false;

        for (int k = 0; k < _SPAWN_HOOK_MAX; k++)
                any |= h->n[k] > 0;
        if (!any) {
                json_object_put(s);
                return;
        }
        p->hooks = xmalloc(sizeof(*p->hooks));
        *p->hooks = *h;
        *h = (SpawnHooks){};
        json_object_object_add(s, "ociVersion", json_object_new_string(SPAWN_OCI_VERSION));
        json_object_object_add(s, "id", json_object_new_string(o->id));
        json_object_object_add(s, "bundle", json_object_new_string(o->bundle));
        json_object_object_add(s, "annotations",
                               annotations ? json_object_get(annotations) : json_object_new_object());
        text = json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        p->hook_state_head = xstrndup(text, strlen(text) - 1); /* without the closing brace */
        json_object_put(s);
        if (spawn_hooks_any(p->hooks, SPAWN_HOOK_CREATE_CONTAINER)) {
                p->rootfs.before_switch = create_container_hooks;
                p->rootfs.before_switch_data = p;
        }
}

/* ---- the document ---- */

static int parse_document(Ctx *c, const char *data, size_t size, json_object **ret)
{
        json_tokener *tok = json_tokener_new_ex(CONFIG_DEPTH_MAX);
        enum json_tokener_error e;
        json_object *o;
        size_t end;

        if (!tok)
                abort();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, data, (int)size);
        e = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (e != json_tokener_success || !o) {
                json_object_put(o);
                return bad(c, "config.json: invalid JSON at byte %zu: %s", end,
                           e == json_tokener_continue ? "unexpected end" : json_tokener_error_desc(e));
        }
        for (; end < size; end++)
                if (!strchr(" \t\r\n", data[end])) {
                        json_object_put(o);
                        return bad(c, "config.json: trailing data at byte %zu", end);
                }
        if (!json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return bad(c, "config.json: not a JSON object");
        }
        *ret = o;
        return 0;
}

int spawn_prepare_oci(const char *data, size_t size, const SpawnOciOptions *o, SpawnPlan **ret,
                      char **ret_error)
{
        static const char *const known[] = { "ociVersion", "root", "mounts", "process", "hostname",
                                             "annotations", "linux", "hooks", NULL };
        static const char *const refused[] = { "domainname", "solaris", "windows", "vm",
                                               "zos", NULL };
        _cleanup_(spawn_plan_freep) SpawnPlan *p = xcalloc(1, sizeof(*p));
        json_object *doc = NULL, *v, *annotations = NULL;
        SpawnHooks hooks = {};
        Ctx c = { .p = p, .o = o, .error = ret_error };
        const char *version, *hostname;
        char buf[32];
        int r, f;

        p->staging_lock = -1;
        p->netns_fd = -1;
        p->start_fd = o->start_fd;
        p->wait_start = o->start_fd >= 0;
        p->name = xstrdup(o->id);
        p->umask = 0022;
        p->last_cap = caps_last_cap();
        /* The runtime's own, as runc leaves it without oomScoreAdj. */
        f = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
        if (f >= 0) {
                ssize_t n = read(f, buf, sizeof(buf) - 1);
                if (n > 0) {
                        buf[n] = 0;
                        p->oom_score_adjust = atoi(buf);
                }
                (void)close(f);
        }

        r = parse_document(&c, data, size, &doc);
        if (r < 0)
                return r;
        r = check_keys(&c, doc, "", known, refused);
        if (r >= 0)
                r = get_string(&c, doc, "", "ociVersion", &version);
        if (r >= 0 && (!version || strncmp(version, "1.", 2) != 0))
                r = bad(&c, "`ociVersion`: `%s`: ccsup-runtime knows runtime-spec 1.x", version ? version : "");
        if (r >= 0)
                r = get_string(&c, doc, "", "hostname", &hostname);
        if (r >= 0 && hostname && *hostname)
                p->hostname = xstrdup(hostname);
        if (r >= 0)
                r = typed(&c, doc, "", "annotations", json_type_object, &annotations);
        if (r >= 0 && get(doc, "hooks"))
                r = prepare_hooks(&c, get(doc, "hooks"), &hooks);
        if (r >= 0)
                r = prepare_root(&c, get(doc, "root"));
        if (r >= 0)
                r = prepare_process(&c, get(doc, "process"));
        if (r >= 0)
                r = typed(&c, doc, "", "mounts", json_type_array, &v);
        for (size_t i = 0; r >= 0 && v && i < json_object_array_length(v); i++)
                r = prepare_mount(&c, i, json_object_array_get_idx(v, i));
        if (r >= 0)
                r = prepare_linux(&c, get(doc, "linux"));
        if (r >= 0)
                plan_hooks(p, o, &hooks, annotations);
        spawn_hooks_done(&hooks);
        json_object_put(doc);
        if (r < 0)
                return r;

        p->rootfs.staging = xstrdup(o->staging);
        p->rootfs.own_netns = p->own_netns || p->netns_fd >= 0;
        p->rootfs.joined_netns = p->netns_fd >= 0;
        p->rootfs.use_chroot = rootfs_host_is_initramfs();
        if (p->rootfs.use_chroot)
                p->caps &= ~(UINT64_C(1) << 18 /* CAP_SYS_CHROOT */);
        p->cgroup_root = xstrdup(o->cgroup_root);
        p->cgroup_mode = o->cgroup_mode;
        if (o->n_preserve_fds > SPAWN_LISTEN_MAX) {
                *ret_error = xasprintf("--preserve-fds=%zu: at most %d", o->n_preserve_fds, SPAWN_LISTEN_MAX);
                return -EINVAL;
        }
        for (size_t i = 0; i < o->n_preserve_fds; i++)
                p->listen_fds[i] = 3 + (int)i;
        p->n_listen_fds = o->n_preserve_fds;
        memcpy(p->stdio, o->stdio, sizeof(p->stdio));
        if (p->userns && o->userns_top) {
                r = spawn_userns_prepare_oci(p, o->userns_top, ret_error);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

int spawn_prepare_oci_exec(const char *data, size_t size, const char *process, size_t process_size,
                           char *const *args, const SpawnOciOptions *o, SpawnPlan **ret,
                           char **ret_error)
{
        _cleanup_(spawn_plan_freep) SpawnPlan *p = NULL;
        json_object *doc = NULL, *proc = NULL;
        Ctx c = { .o = o, .error = ret_error };
        uint64_t caps;
        int r;

        r = spawn_prepare_oci(data, size, o, &p, ret_error);
        if (r < 0)
                return r;
        c.p = p;
        caps = p->caps;
        /* The container's hooks are its create's and start's, not exec's. */
        spawn_hooks_done(p->hooks);
        free(p->hooks);
        p->hooks = NULL;
        p->rootfs.before_switch = NULL;
        if (process) {
                r = parse_document(&c, process, process_size, &proc);
                if (r < 0)
                        return r;
        } else {
                /* the container's own process, with other args */
                r = parse_document(&c, data, size, &doc);
                if (r < 0)
                        return r;
                proc = json_object_get(get(doc, "process"));
                json_object_put(doc);
                /* --tty or not, whatever the container's own process had */
                if (proc && json_object_is_type(proc, json_type_object))
                        json_object_object_add(proc, "terminal", json_object_new_boolean(o->exec_terminal));
                if (args) {
                        json_object *a = json_object_new_array();

                        STRV_FOREACH(x, args)
                                json_object_array_add(a, json_object_new_string(*x));
                        json_object_object_add(proc, "args", a);
                }
        }
        strv_free(p->argv);
        strv_free(p->env);
        free(p->working_directory);
        image_user_done(&p->user);
        p->argv = p->env = NULL;
        p->working_directory = NULL;
        memset(p->limits, 0, sizeof(p->limits));
        p->umask = 0022;
        r = prepare_process(&c, proc);
        json_object_put(proc);
        if (r < 0)
                return r;
        /* The container's filter was compiled for its own set. */
        if (p->seccomp && p->caps != caps) {
                *ret_error = xstrdup("exec: capabilities other than the container's with a seccomp profile "
                                     "are not supported");
                return -EINVAL;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

int spawn_oci_update(const char *data, size_t size, const char *cgroup_root, CgroupMode mode,
                     const char *cgroup_path, char **ret_error)
{
        _cleanup_(spawn_plan_freep) SpawnPlan *p = xcalloc(1, sizeof(*p));
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        SpawnOciOptions o = { .cgroup_root = cgroup_root, .cgroup_mode = mode, .start_fd = -1,
                              .console_fd = -1 };
        Ctx c = { .p = p, .o = &o, .error = ret_error };
        json_object *doc = NULL;
        int r;

        p->staging_lock = -1;
        p->netns_fd = -1;
        p->start_fd = -1;
        r = parse_document(&c, data, size, &doc);
        if (r < 0)
                return r;
        /* The device allowlist is a program (cgroup2) or the devices
         * controller's list, set once at create. */
        if (get(doc, "devices"))
                r = bad(&c, "`linux.resources.devices`: not changed by update");
        if (r >= 0)
                r = prepare_resources(&c, doc);
        json_object_put(doc);
        if (r < 0)
                return r;
        strv_free(p->device_rules);
        p->device_rules = NULL;
        p->cgroup_root = xstrdup(cgroup_root);
        p->cgroup_mode = mode;
        p->cgroup_path = xstrdup(cgroup_path);
        if (mode != CGROUP_MODE_V2 && p->cgroup_mask) {
                /* v1 hierarchies are joined at create only where a limit
                 * needed them: the missing ones now, with every process. */
                Cgroup *made = NULL;
                r = cgroup_create_with(cgroup_root, mode, cgroup_path, p->cgroup_mask, &made);
                cgroup_free(made);
                if (r < 0 && r != -EBUSY) {
                        *ret_error = xasprintf("cgroup `%s`: %s", cgroup_path, strerror(-r));
                        return r;
                }
        }
        r = cgroup_open(cgroup_root, mode, cgroup_path, &cg);
        if (r >= 0 && mode != CGROUP_MODE_V2 && p->cgroup_mask)
                r = cgroup_attach_members(cg);
        if (r < 0) {
                *ret_error = xasprintf("cgroup `%s`: %s", cgroup_path, strerror(-r));
                return r;
        }
        return spawn_apply_limits(p, cg, ret_error);
}
