/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cgroup2 mechanics, plus the file helpers both backends share. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <time.h>
#include <sys/stat.h>

#include "cgroup-internal.h"
#include "util.h"

static void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

int cg_read(const char *dir, const char *file, char **ret)
{
        _cleanup_free_ char *p = path_join(dir, file);
        char *s;
        size_t n;
        int r;

        r = read_full_file(p, 1024 * 1024, &s, &n);
        if (r < 0)
                return r;
        while (n > 0 && s[n - 1] == '\n')
                s[--n] = '\0';
        *ret = s;
        return 0;
}

int cg_write(const char *dir, const char *file, const char *value)
{
        _cleanup_free_ char *p = path_join(dir, file);

        return write_string_file(p, value);
}

int cg_write_pid(const char *dir, pid_t pid)
{
        char buf[32];

        snprintf(buf, sizeof(buf), "%d", (int)pid);
        return cg_write(dir, "cgroup.procs", buf);
}

int cg_signal_procs(const char *dir, int sig)
{
        _cleanup_free_ char *procs = NULL;
        int n = 0, r;

        r = cg_read(dir, "cgroup.procs", &procs);
        if (r < 0)
                return r;
        for (char *s = procs, *e; *s; s = e) {
                long pid = strtol(s, &e, 10);

                if (e == s)
                        break;
                while (*e == '\n')
                        e++;
                if (pid > 0 && kill((pid_t)pid, sig) == 0)
                        n++;
        }
        return n;
}

int cg_rmdir_tree(const char *dir)
{
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r = 0;

        d = opendir(dir);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *sub = NULL;
                int k;

                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                sub = path_join(dir, de->d_name);
                k = cg_rmdir_tree(sub);
                if (k < 0 && r == 0)
                        r = k;
        }
        if (rmdir(dir) < 0)
                return -errno;
        return r;
}

int cg2_is_populated(const char *dir)
{
        _cleanup_free_ char *events = NULL;
        const char *p;
        int r;

        r = cg_read(dir, "cgroup.events", &events);
        if (r < 0)
                return r;
        for (p = events; p; p = strchr(p, '\n')) {
                const char *v;

                if (*p == '\n')
                        p++;
                v = startswith(p, "populated ");
                if (v)
                        return *v == '1';
        }
        return -EBADMSG;
}

int cg2_is_frozen(const char *dir)
{
        _cleanup_free_ char *events = NULL;
        int r = cg_read(dir, "cgroup.events", &events);

        if (r < 0)
                return r;
        for (const char *l = events; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (startswith(l, "frozen "))
                        return l[strlen("frozen ")] == '1';
        return -EOPNOTSUPP; /* before Linux 5.2 */
}

int cg2_freeze(const char *dir, bool freeze)
{
        int r = cg_write(dir, "cgroup.freeze", freeze ? "1" : "0");

        if (r < 0)
                return r;
        /* The kernel freezes each task at its next return to user space:
         * frozen shows once every one is. */
        for (int i = 0; i < 1000; i++) {
                r = cg2_is_frozen(dir);
                if (r < 0 || r == freeze)
                        return r < 0 ? r : 0;
                nanosleep(&(struct timespec){ .tv_nsec = 1000 * 1000 }, NULL);
        }
        return -ETIMEDOUT;
}

int cg2_kill(const char *dir)
{
        int r;

        /* cgroup.kill (Linux 5.14) kills the whole subtree atomically with
         * respect to forks. Older kernels: signal the members, the caller
         * repeats until "populated 0". */
        r = cg_write(dir, "cgroup.kill", "1");
        if (r != -ENOENT && r != -EACCES)
                return r;
        r = cg_signal_procs(dir, SIGKILL);
        return r < 0 ? r : 0;
}

static bool word_in(const char *list, const char *word)
{
        size_t n = strlen(word);

        for (const char *s = list; *s;) {
                size_t l = strcspn(s, " \n");

                if (l == n && strncmp(s, word, n) == 0)
                        return true;
                s += l;
                s += strspn(s, " \n");
        }
        return false;
}

/* Enables each controller of want that dir offers (cgroup.controllers) and
 * has not enabled yet (cgroup.subtree_control): no write when all are on. */
static int cg2_enable_at(const char *dir, char *const *want)
{
        _cleanup_free_ char *offered = NULL, *enabled = NULL, *add = NULL;
        int r;

        r = cg_read(dir, "cgroup.controllers", &offered);
        if (r < 0)
                return r;
        r = cg_read(dir, "cgroup.subtree_control", &enabled);
        if (r < 0)
                return r;
        STRV_FOREACH(w, want)
                if (word_in(offered, *w) && !word_in(enabled, *w)) {
                        char *more = xasprintf("%s%s+%s", add ? add : "", add ? " " : "", *w);
                        free(add);
                        add = more;
                }
        return add ? cg_write(dir, "cgroup.subtree_control", add) : 0;
}

int cg2_enable_controllers(const char *root, const char *from, const char *path,
                           char *const *want)
{
        size_t skip = streq(from, "/") ? 0 : strlen(from);

        if (strncmp(path, from, skip) != 0 || (path[skip] != '/' && path[skip] != '\0'))
                return -EINVAL;
        /* Each ancestor of path at or below from: the prefixes of path that
         * end before one of its slashes. */
        for (const char *s = strchr(path + skip, '/'); s; s = strchr(s + 1, '/')) {
                _cleanup_free_ char *dir = xasprintf("%s%.*s", root, (int)(s - path), path);
                int r;

                r = cg2_enable_at(dir, want);
                if (r < 0)
                        return r;
        }
        return 0;
}
