/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "image.h"
#include "parse.h"
#include "util.h"

void image_user_done(ImageUser *u)
{
        free(u->groups);
        free(u->home);
        *u = (ImageUser){};
}

int image_directory_open(const UnitConfig *c, char **ret_path, char **ret_error)
{
        struct stat st;
        char *p;

        if (c->image_kind != IMAGE_DIRECTORY) {
                *ret_error = xasprintf("image kind `%s` is not supported yet",
                                       image_kind_to_string(c->image_kind));
                return -EOPNOTSUPP;
        }
        p = realpath(c->image_path, NULL);
        if (!p || stat(p, &st) < 0) {
                int r = -errno;
                free(p);
                *ret_error = xasprintf("image `%s`: %s", c->image_path, strerror(-r));
                return r;
        }
        if (!S_ISDIR(st.st_mode)) {
                free(p);
                *ret_error = xasprintf("image `%s`: %s", c->image_path, strerror(ENOTDIR));
                return -ENOTDIR;
        }
        *ret_path = p;
        return 0;
}

/* Reads root/path with symlinks resolved inside root: an image's
 * /etc/passwd -> /host/file must not read the host's file. */
static int read_in_root(const char *root, const char *path, char **ret)
{
        /* O_NONBLOCK: an image's FIFO would hold the caller (ccsupd's loop)
         * until some writer came. */
        struct open_how how = {
                .flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        _cleanup_close_ int rfd = -1, fd = -1;
        struct stat st;

        rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0)
                return -errno;
        fd = (int)syscall(SYS_openat2, rfd, path, &how, sizeof(how));
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        return read_full_fd(fd, 4 * 1024 * 1024, ret, NULL);
}

/* Splits one colon-separated line into at most max fields (in place). */
static size_t split_fields(char *line, char **f, size_t max)
{
        size_t n = 0;

        f[n++] = line;
        for (char *s = line; *s && n < max; s++)
                if (*s == ':') {
                        *s = '\0';
                        f[n++] = s + 1;
                }
        return n;
}

static bool parse_id(const char *s, uint32_t *ret)
{
        return parse_uint32(s, ret) >= 0 && *ret != UINT32_MAX;
}

/* Finds the line of passwd or group whose field 0 (name) or field 2 (id)
 * matches key; fills f (pointers into text). */
static bool db_find(char *text, const char *key, bool by_id, char **f, size_t nf)
{
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                memset(f, 0, nf * sizeof(char *));
                if (split_fields(line, f, nf) < 3)
                        continue;
                if (streq(f[by_id ? 2 : 0], key))
                        return true;
        }
        return false;
}

static void add_group(ImageUser *u, gid_t g)
{
        for (size_t i = 0; i < u->n_groups; i++)
                if (u->groups[i] == g)
                        return;
        u->groups = xrealloc(u->groups, (u->n_groups + 1) * sizeof(gid_t));
        u->groups[u->n_groups++] = g;
}

static int lookup_group(const char *groups, const char *spec, gid_t *ret, char **ret_error)
{
        _cleanup_free_ char *copy = NULL;
        char *f[4];
        uint32_t id;

        if (parse_id(spec, &id)) {
                *ret = id;
                return 0;
        }
        copy = xstrdup(groups ? groups : "");
        if (!db_find(copy, spec, false, f, 4) || !parse_id(f[2], &id)) {
                *ret_error = xasprintf("group `%s` not found in the image's /etc/group", spec);
                return -ESRCH;
        }
        *ret = id;
        return 0;
}

/* Adds every group of the group file that lists name as a member. */
static void add_member_groups(ImageUser *u, const char *groups, const char *name)
{
        _cleanup_free_ char *copy = xstrdup(groups ? groups : "");

        for (char *line = copy, *next; line && *line; line = next) {
                char *f[4];
                uint32_t id;

                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                if (split_fields(line, f, 4) < 4 || !parse_id(f[2], &id))
                        continue;
                for (char *m = strtok(f[3], ","); m; m = strtok(NULL, ","))
                        if (streq(m, name))
                                add_group(u, id);
        }
}

static int resolve_passwd(const char *passwd, const char *user, ImageUser *u,
                          char **ret_name, char **ret_error)
{
        _cleanup_free_ char *copy = xstrdup(passwd ? passwd : "");
        bool numeric;
        char *f[7] = {};
        uint32_t id;

        numeric = parse_id(user, &id);
        if (!db_find(copy, user, numeric, f, 7)) {
                if (!numeric) {
                        *ret_error = xasprintf("user `%s` not found in the image's /etc/passwd", user);
                        return -ESRCH;
                }
                u->uid = id;
                u->gid = 0;
                u->home = xstrdup("/");
                return 0;
        }
        if (!f[3] || !parse_id(f[2], &id)) {
                *ret_error = xasprintf("user `%s`: bad entry in the image's /etc/passwd", user);
                return -EBADMSG;
        }
        u->uid = id;
        if (!parse_id(f[3], &id)) {
                *ret_error = xasprintf("user `%s`: bad entry in the image's /etc/passwd", user);
                return -EBADMSG;
        }
        u->gid = id;
        u->home = xstrdup(f[5] && f[5][0] == '/' ? f[5] : "/");
        *ret_name = xstrdup(f[0]);
        return 0;
}

int image_resolve_user(const char *root, const char *user, const char *group,
                       char *const *supplementary, ImageUser *ret, char **ret_error)
{
        _cleanup_free_ char *passwd = NULL, *groups = NULL, *name = NULL;
        ImageUser u = {};
        int r;

        /* Missing files are an empty database: numeric ids still work. */
        (void)read_in_root(root, "etc/passwd", &passwd);
        (void)read_in_root(root, "etc/group", &groups);

        r = resolve_passwd(passwd, user ? user : "0", &u, &name, ret_error);
        if (r < 0)
                goto fail;
        if (group) {
                r = lookup_group(groups, group, &u.gid, ret_error);
                if (r < 0)
                        goto fail;
        }
        if (name && user)
                add_member_groups(&u, groups, name);
        STRV_FOREACH(g, supplementary) {
                gid_t id;

                r = lookup_group(groups, *g, &id, ret_error);
                if (r < 0)
                        goto fail;
                add_group(&u, id);
        }
        *ret = u;
        return 0;
fail:
        image_user_done(&u);
        return r;
}

const char *env_get(char *const *env, const char *key)
{
        size_t l = strlen(key);

        STRV_FOREACH(e, env)
                if (strncmp(*e, key, l) == 0 && (*e)[l] == '=')
                        return *e + l + 1;
        return NULL;
}

void env_set(char ***env, const char *assignment)
{
        size_t l = strcspn(assignment, "=");

        for (char **e = *env; e && *e; e++)
                if (strncmp(*e, assignment, l) == 0 && (*e)[l] == '=') {
                        free(*e);
                        *e = xstrdup(assignment);
                        return;
                }
        strv_add(env, assignment);
}

static int env_file_read_as(const char *path, bool regular_only, char ***env, char **ret_error)
{
        _cleanup_free_ char *text = NULL;
        size_t n;
        unsigned line_no = 0;
        int r;

        r = regular_only ? read_regular_file_at(AT_FDCWD, path, 1024 * 1024, &text, &n)
                         : read_full_file(path, 1024 * 1024, &text, &n);
        if (r == -EBADFD) {
                *ret_error = xasprintf("environment file `%s`: not a regular file (ccsupd does not "
                                       "wait on a FIFO or device)", path);
                return r;
        }
        if (r < 0) {
                *ret_error = xasprintf("environment file `%s`: %s", path, strerror(-r));
                return r;
        }
        for (char *line = text, *next; line; line = next) {
                size_t l;

                line_no++;
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                line += strspn(line, " \t");
                l = strlen(line);
                while (l > 0 && strchr(" \t\r", line[l - 1]))
                        line[--l] = '\0';
                if (l == 0 || line[0] == '#' || line[0] == ';')
                        continue;
                if (!env_assignment_is_valid(line)) {
                        *ret_error = xasprintf("environment file `%s`, line %u: invalid assignment",
                                               path, line_no);
                        return -EINVAL;
                }
                env_set(env, line);
        }
        return 0;
}

int env_file_read(const char *path, char ***env, char **ret_error)
{
        return env_file_read_as(path, false, env, ret_error);
}

int image_build_environment(const UnitConfig *c, const ImageUser *u, bool regular_only, char ***ret,
                            char **ret_error)
{
        _cleanup_strv_free_ char **env = NULL;
        int r;

        strv_add(&env, "PATH=" IMAGE_DEFAULT_PATH);
        strv_addf(&env, "HOME=%s", u->home ? u->home : "/");
        strv_addf(&env, "HOSTNAME=%s", unit_hostname(c));
        strv_add(&env, "container=ccsup");

        STRV_FOREACH(e, c->environment)
                env_set(&env, *e);
        r = image_read_environment_files(c, &env, regular_only, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(env);
        return 0;
}

int image_read_environment_files(const UnitConfig *c, char ***env, bool regular_only, char **ret_error)
{
        STRV_FOREACH(f, c->environment_files) {
                const char *path = *f;
                bool optional = path[0] == '-';
                int r;

                if (optional)
                        path++;
                if (optional && access(path, F_OK) < 0 && errno == ENOENT)
                        continue;
                r = env_file_read_as(path, regular_only, env, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}
