/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "watch.h"

#include <dirent.h>
#include <sys/inotify.h>

#include "log.h"
#include "util.h"

#define WATCH_DEBOUNCE 0.15
#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | \
                    IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW)

struct Watch {
        struct ev_loop *loop;
        char **dirs;
        int fd;
        ev_io io;
        ev_timer debounce;
        void (*reload)(void *userdata);
        void *userdata;
};

static void add_dir(Watch *w, const char *dir)
{
        /* Idempotent: watching a watched inode returns its existing descriptor. */
        if (inotify_add_watch(w->fd, dir, WATCH_MASK) < 0 && errno != ENOENT && errno != ENOTDIR)
                log_msg(LOG_WARNING, "watch `%s`: %s", dir, strerror(errno));
}

void watch_sync(Watch *w)
{
        STRV_FOREACH(d, w->dirs) {
                DIR *dir = opendir(*d);
                struct dirent *de;

                add_dir(w, *d);
                if (!dir)
                        continue;
                while ((de = readdir(dir))) {
                        size_t l = strlen(de->d_name);
                        if (l > 7 && streq(de->d_name + l - 7, ".unit.d")) {
                                _cleanup_free_ char *p = path_join(*d, de->d_name);
                                add_dir(w, p);
                        }
                }
                closedir(dir);
        }
}

static void on_inotify(struct ev_loop *loop, ev_io *io, int revents)
{
        Watch *w = io->data;
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n;

        /* What changed does not matter: a reload compares everything. */
        while ((n = read(w->fd, buf, sizeof(buf))) > 0)
                ;
        ev_timer_again(loop, &w->debounce);
}

static void on_debounce(struct ev_loop *loop, ev_timer *t, int revents)
{
        Watch *w = t->data;

        ev_timer_stop(loop, t);
        w->reload(w->userdata);
}

int watch_new(struct ev_loop *loop, char **dirs, void (*reload)(void *userdata), void *userdata,
              Watch **ret)
{
        Watch *w = xcalloc(1, sizeof(*w));

        w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (w->fd < 0) {
                int r = -errno;
                free(w);
                return log_unit_errno(LOG_ERR, NULL, r, "inotify: %s", strerror(-r));
        }
        w->loop = loop;
        w->dirs = strv_copy(dirs);
        w->reload = reload;
        w->userdata = userdata;
        ev_io_init(&w->io, on_inotify, w->fd, EV_READ);
        w->io.data = w;
        ev_io_start(loop, &w->io);
        ev_init(&w->debounce, on_debounce);
        w->debounce.repeat = WATCH_DEBOUNCE;
        w->debounce.data = w;
        watch_sync(w);
        *ret = w;
        return 0;
}

Watch *watch_free(Watch *w)
{
        if (!w)
                return NULL;
        ev_io_stop(w->loop, &w->io);
        ev_timer_stop(w->loop, &w->debounce);
        safe_close(w->fd);
        strv_free(w->dirs);
        free(w);
        return NULL;
}
