/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "trust.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include "util.h"

/* As many as the kernel follows in one lookup. */
#define SYMLINKS_MAX 40

/* Where the walk is: a directory whose ancestors were all judged. */
typedef struct Walk {
        int fd;           /* O_PATH */
        struct stat st;   /* of fd */
        char *where;      /* its path, "" for / */
        bool followed;    /* a symlink was followed on the way */
        bool restart;     /* the path to walk was replaced by a target */
        unsigned links;
} Walk;

static bool others_may_write(const struct stat *st)
{
        return st->st_mode & (S_IWGRP | S_IWOTH);
}

/* What makes an object with st untrusted, or NULL. */
static char *judge(const struct stat *st, bool sticky_ok)
{
        if (st->st_uid != 0)
                return xasprintf("owned by uid %u, not root", (unsigned)st->st_uid);
        if (others_may_write(st) && !(sticky_ok && (st->st_mode & S_ISVTX)))
                return xasprintf("writable by group or others (mode %04o)",
                                 (unsigned)(st->st_mode & 07777));
        return NULL;
}

/* Sets *ret_why to "WHAT WHERE is PROBLEM" (just PROBLEM without what),
 * taking problem. */
static int untrusted(char **ret_why, const char *what, const char *where, char *problem)
{
        if (what)
                *ret_why = xasprintf("%s %s is %s", what, where[0] ? where : "/", problem);
        else
                *ret_why = xstrdup(problem);
        free(problem);
        return -EPERM;
}

static int walk_to_root(Walk *w, char **ret_why)
{
        char *problem;

        safe_close(w->fd);
        w->fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (w->fd < 0 || fstat(w->fd, &w->st) < 0)
                return -errno;
        w->where[0] = 0;
        problem = judge(&w->st, true);
        return problem ? untrusted(ret_why, "directory", "/", problem) : 0;
}

/* Makes fd (O_PATH, with st, at path here) the directory the walk is in,
 * judging it as a directory on the way (the last one is judged by
 * finish_directory()). */
static int walk_into(Walk *w, int fd, const struct stat *st, char *here, bool on_the_way,
                     char **ret_why)
{
        char *problem = on_the_way ? judge(st, true) : NULL;

        safe_close(w->fd);
        w->fd = fd;
        w->st = *st;
        free(w->where);
        w->where = here;
        return problem ? untrusted(ret_why, "directory", w->where, problem) : 0;
}

static int walk_up(Walk *w, char **ret_why)
{
        struct stat st;
        int fd = openat(w->fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fstat(fd, &st) < 0) {
                int r = -errno;
                safe_close(fd);
                return r;
        }
        char *here = xstrdup(w->where);
        char *slash = strrchr(here, '/');
        if (slash)
                *slash = 0;
        return walk_into(w, fd, &st, here, true, ret_why);
}

/* A symlink (fd, O_PATH, with st, at here) in the walk's directory: *todo
 * becomes its target followed by rest. */
static int walk_follow(Walk *w, int fd, const struct stat *st, const char *here,
                       char **todo, const char *rest, char **ret_why)
{
        /* In a sticky directory others may write, its owner could swap it. */
        if (others_may_write(&w->st) && st->st_uid != 0) {
                *ret_why = xasprintf("symlink %s is owned by uid %u, not root, in a directory "
                                     "others may write", here, (unsigned)st->st_uid);
                return -EPERM;
        }
        if (++w->links > SYMLINKS_MAX)
                return -ELOOP;
        _cleanup_free_ char *target = xmalloc(PATH_MAX);
        ssize_t n = readlinkat(fd, "", target, PATH_MAX);
        if (n < 0)
                return -errno;
        if (n == 0 || n >= PATH_MAX)
                return n == 0 ? -ENOENT : -ENAMETOOLONG;
        target[n] = 0;

        char *next = xasprintf("%s/%s", target, rest);
        free(*todo);
        *todo = next;
        w->followed = true;
        w->restart = true;
        return target[0] == '/' ? walk_to_root(w, ret_why) : 0;
}

/* The walk ended on its directory. */
static int finish_directory(Walk *w, bool directory, char **ret_why)
{
        char *problem;

        if (!directory)
                return -EISDIR;
        problem = judge(&w->st, false);
        if (problem)
                return untrusted(ret_why, w->followed ? "symlink target" : NULL, w->where, problem);
        int fd = openat(w->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* The walk ended on name (with st) in its directory. */
static int finish_file(Walk *w, const char *name, const struct stat *st, const char *here,
                       char **ret_why)
{
        struct stat rst;
        char *problem;

        if (!S_ISREG(st->st_mode)) {
                *ret_why = xstrdup("not a regular file");
                return -EBADFD;
        }
        /* Even sticky: whoever may add files beside it may add a symlink named
         * like it in a higher-priority place. */
        if (others_may_write(&w->st))
                return untrusted(ret_why, "directory", w->where,
                                 xasprintf("writable by group or others (mode %04o)",
                                           (unsigned)(w->st.st_mode & 07777)));
        /* O_NONBLOCK: a FIFO swapped in would block the open. */
        _cleanup_close_ int fd = openat(w->fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
                                                     O_NOCTTY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &rst) < 0)
                return -errno;
        if (!S_ISREG(rst.st_mode)) {
                *ret_why = xstrdup("not a regular file");
                return -EBADFD;
        }
        problem = judge(&rst, false);
        if (problem)
                return untrusted(ret_why, w->followed ? "symlink target" : NULL, here, problem);
        return TAKE_FD(fd);
}

/* One step of the walk: the component name, then rest of *todo. Returns 0
 * to go on, 1 with *ret_fd at the end, or a negative errno. */
static int walk_step(Walk *w, const char *name, bool last, char **todo, const char *rest,
                     bool directory, int *ret_fd, char **ret_why)
{
        struct stat st;
        int fd, r;

        if (streq(name, "."))
                return 0;
        if (streq(name, ".."))
                return walk_up(w, ret_why);

        fd = openat(w->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                r = -errno;
                safe_close(fd);
                return r;
        }
        char *here = xasprintf("%s/%s", w->where, name);
        if (S_ISDIR(st.st_mode))
                return walk_into(w, fd, &st, here, !last, ret_why);
        if (S_ISLNK(st.st_mode)) {
                r = walk_follow(w, fd, &st, here, todo, rest, ret_why);
                safe_close(fd);
                free(here);
                return r;
        }
        safe_close(fd);
        r = !last || directory ? -ENOTDIR : finish_file(w, name, &st, here, ret_why);
        free(here);
        if (r < 0)
                return r;
        *ret_fd = r;
        return 1;
}

int open_trusted(const char *path, bool directory, char **ret_why)
{
        Walk w = { .fd = -1, .where = xstrdup("") };
        _cleanup_free_ char *todo = NULL;
        size_t pos = 0;
        int fd = -1, r;

        *ret_why = NULL;
        if (path[0] == '/')
                todo = xstrdup(path);
        else {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                if (!cwd) {
                        r = -errno;
                        free(w.where);
                        return r;
                }
                todo = xasprintf("%s/%s", cwd, path);
        }

        r = walk_to_root(&w, ret_why);
        while (r == 0) {
                pos += strspn(todo + pos, "/");
                size_t n = strcspn(todo + pos, "/");
                if (n == 0) {
                        r = finish_directory(&w, directory, ret_why);
                        if (r >= 0) {
                                fd = r;
                                r = 1;
                        }
                        break;
                }
                _cleanup_free_ char *name = xstrndup(todo + pos, n);
                const char *rest = todo + pos + n;
                bool last = rest[strspn(rest, "/")] == 0;
                pos += n;
                r = walk_step(&w, name, last, &todo, rest, directory, &fd, ret_why);
                if (w.restart) {
                        w.restart = false;
                        pos = 0;
                }
        }
        safe_close(w.fd);
        free(w.where);
        return r < 0 ? r : fd;
}
