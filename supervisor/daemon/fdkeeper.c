/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fdkeeper.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "log.h"
#include "util.h"

#define KEEPER_MSG_MAX 4096
#define KEEPER_FDS_MAX 16 /* per message, to close what a bad sender adds */

static pid_t keeper_child = -1; /* when we forked the keeper */

static int keeper_address(const char *path, struct sockaddr_un *sa)
{
        *sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        strcpy(sa->sun_path, path);
        return 0;
}

/* n fds of a message, or -errno; the payload NUL-terminated in buf. */
static ssize_t recv_msg(int fd, char *buf, size_t size, int *fds, unsigned *n_fds)
{
        union {
                struct cmsghdr h;
                char space[CMSG_SPACE(sizeof(int) * KEEPER_FDS_MAX)];
        } control;
        struct iovec iov = { .iov_base = buf, .iov_len = size - 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof(control) };
        ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

        *n_fds = 0;
        if (n < 0)
                return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                int got[KEEPER_FDS_MAX];
                memcpy(got, CMSG_DATA(c), k * sizeof(int));
                for (unsigned i = 0; i < k; i++) {
                        if (*n_fds < 1)
                                fds[(*n_fds)++] = got[i];
                        else
                                safe_close(got[i]); /* one fd a message */
                }
        }
        if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
                for (unsigned i = 0; i < *n_fds; i++)
                        safe_close(fds[i]);
                *n_fds = 0;
                return -EMSGSIZE;
        }
        buf[n] = '\0';
        return n;
}

int fdkeeper_send(int fd, const char *msg, const int *fds, unsigned n_fds)
{
        union {
                struct cmsghdr h;
                char space[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (fd < 0)
                return -ENOTCONN;
        if (n_fds > 1)
                return -EINVAL;
        if (n_fds == 1) {
                mh.msg_control = &control;
                mh.msg_controllen = sizeof(control);
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), fds, sizeof(int));
        }
        for (;;) {
                if (sendmsg(fd, &mh, MSG_NOSIGNAL) >= 0)
                        return 0;
                if (errno != EINTR)
                        return -errno;
        }
}

/* ------------------------------------------------------------------ the keeper */

typedef struct Kept {
        char *name;
        int fd;
} Kept;

static Kept *kept;
static size_t n_kept;

static void keeper_remove(const char *name)
{
        size_t j = 0;

        for (size_t i = 0; i < n_kept; i++) {
                if (streq(kept[i].name, name)) {
                        safe_close(kept[i].fd);
                        free(kept[i].name);
                } else
                        kept[j++] = kept[i];
        }
        n_kept = j;
}

/* The value of KEY= in a message's lines, or NULL. */
static const char *msg_field(const char *msg, const char *key)
{
        size_t l = strlen(key);

        for (const char *p = msg; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (strncmp(p, key, l) == 0 && p[l] == '=')
                        return p + l + 1;
        return NULL;
}

static char *field_dup(const char *v)
{
        return v ? xstrndup(v, strcspn(v, "\n")) : NULL;
}

/* One message of the connected ccsupd. false: the keeper is done. */
static bool keeper_message(int conn, char *msg, int *fds, unsigned n_fds)
{
        _cleanup_free_ char *name = field_dup(msg_field(msg, "FDNAME"));

        if (streq(msg, "EXIT=1"))
                return false;
        if (streq(msg, "GET")) {
                for (size_t i = 0; i < n_kept; i++) {
                        _cleanup_free_ char *m = xasprintf("FDNAME=%s", kept[i].name);
                        if (fdkeeper_send(conn, m, &kept[i].fd, 1) < 0)
                                return true;
                }
                (void)fdkeeper_send(conn, "END", NULL, 0);
                return true;
        }
        if (name && msg_field(msg, "FDSTOREREMOVE"))
                keeper_remove(name);
        if (name && msg_field(msg, "FDSTORE") && n_fds == 1) {
                kept = xrealloc(kept, (n_kept + 1) * sizeof(Kept));
                kept[n_kept++] = (Kept){ .name = TAKE_PTR(name), .fd = fds[0] };
                return true;
        }
        for (unsigned i = 0; i < n_fds; i++)
                safe_close(fds[i]);
        return true;
}

/* Whether path is still the socket we bound (its inode). */
static bool keeper_socket_there(const char *path, ino_t ino)
{
        struct stat st;

        return stat(path, &st) == 0 && st.st_ino == ino;
}

static _Noreturn void keeper_main(int lfd, const char *path_in)
{
        _cleanup_free_ char *path = xstrdup(path_in), *dir = xstrdup(path_in);
        struct rlimit rl;
        struct stat st;
        sigset_t all;
        int conn = -1, ino;

        /* Nothing of ccsupd but the listening socket (as fd 3); no output
         * (a pipe of whoever started ccsupd must not stay open for us). */
        if (lfd != 3 && (dup2(lfd, 3) < 0 || (lfd = 3) < 0))
                _exit(1);
        (void)close_range(4, ~0U, 0);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        for (int i = 0; null >= 0 && i < 3; i++)
                (void)dup2(null, i);
        (void)fcntl(lfd, F_SETFD, FD_CLOEXEC);
        (void)setsid();
        (void)prctl(PR_SET_NAME, "ccsupd-fdstore");
        (void)chdir("/");
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGTERM, SIG_DFL);
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
        if (fstat(lfd, &st) < 0 || stat(path, &st) < 0)
                _exit(1);
        *strrchr(dir, '/') = '\0';
        ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (ino >= 0)
                (void)inotify_add_watch(ino, *dir ? dir : "/",
                                        IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
        for (;;) {
                struct pollfd p[3] = {
                        { .fd = lfd, .events = POLLIN },
                        { .fd = ino, .events = POLLIN },
                        { .fd = conn, .events = POLLIN },
                };
                if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        _exit(1);
                }
                if (p[1].revents) {
                        char buf[4096];
                        while (read(ino, buf, sizeof(buf)) > 0)
                                ;
                        if (!keeper_socket_there(path, st.st_ino))
                                _exit(0); /* the runtime directory is gone */
                }
                if (p[0].revents & POLLIN) {
                        int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                        struct ucred cred;
                        socklen_t l = sizeof(cred);
                        if (c >= 0 && (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &l) < 0 || cred.uid != 0))
                                c = safe_close(c);
                        if (c >= 0) {
                                /* The previous ccsupd is gone (killed, or re-executed). */
                                safe_close(conn);
                                conn = c;
                        }
                        continue;
                }
                if (p[2].revents) {
                        char msg[KEEPER_MSG_MAX];
                        int fds[1];
                        unsigned n_fds;
                        ssize_t n = recv_msg(conn, msg, sizeof(msg), fds, &n_fds);
                        if (n == 0 || (n < 0 && n != -EINTR && n != -EAGAIN && n != -EMSGSIZE)) {
                                conn = safe_close(conn); /* ccsupd died: keep everything */
                                continue;
                        }
                        if (n > 0 && !keeper_message(conn, msg, fds, n_fds))
                                _exit(0); /* a clean exit of ccsupd: the store goes with it */
                }
        }
}

/* ------------------------------------------------------------------ ccsupd's side */

static int keeper_connect(const char *path)
{
        struct sockaddr_un sa;
        int fd, r;

        if ((r = keeper_address(path, &sa)) < 0)
                return r;
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                r = -errno;
                safe_close(fd);
                return r;
        }
        return fd;
}

static int keeper_spawn(const char *path)
{
        struct sockaddr_un sa;
        int lfd, r;
        pid_t pid;

        if ((r = keeper_address(path, &sa)) < 0)
                return r;
        lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (lfd < 0)
                return -errno;
        (void)unlink(path); /* a dead keeper's */
        if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 || listen(lfd, 4) < 0) {
                r = -errno;
                safe_close(lfd);
                return r;
        }
        pid = fork();
        if (pid < 0) {
                r = -errno;
                safe_close(lfd);
                return r;
        }
        if (pid == 0)
                keeper_main(lfd, path);
        safe_close(lfd);
        keeper_child = pid;
        return keeper_connect(path);
}

/* The fds a predecessor left with the keeper: GET, then until END. */
static int keeper_take(int fd, Manager *m)
{
        struct timeval tv = { .tv_sec = 5 };
        unsigned taken = 0;
        int r;

        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        r = fdkeeper_send(fd, "GET", NULL, 0);
        while (r >= 0) {
                char msg[KEEPER_MSG_MAX];
                int fds[1];
                unsigned n_fds;
                ssize_t n = recv_msg(fd, msg, sizeof(msg), fds, &n_fds);
                if (n == -EINTR)
                        continue;
                if (n <= 0) {
                        r = n == 0 ? -ECONNRESET : (int)n;
                        break;
                }
                if (streq(msg, "END"))
                        break;
                const char *name = startswith(msg, "FDNAME=");
                if (name && n_fds == 1) {
                        manager_add_stored_fd(m, name, fds[0]);
                        taken++;
                } else
                        for (unsigned i = 0; i < n_fds; i++)
                                safe_close(fds[i]);
        }
        tv.tv_sec = 0;
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (r < 0)
                log_msg(LOG_WARNING, "fd keeper: taking the fds back: %s (%u taken)", strerror(-r), taken);
        else if (taken)
                log_msg(LOG_INFO, "fd keeper: %u fd(s) taken back from a previous ccsupd", taken);
        return r;
}

int fdkeeper_open(const char *runtime_dir, bool take, Manager *m)
{
        _cleanup_free_ char *path = path_join(runtime_dir, "fdstore");
        int fd = keeper_connect(path);

        if (fd < 0) {
                fd = keeper_spawn(path);
                if (fd < 0)
                        return fd;
                log_msg(LOG_DEBUG, "fd keeper: started as PID %d", (int)keeper_child);
                return fd;
        }
        if (take)
                (void)keeper_take(fd, m);
        return fd;
}

void fdkeeper_close(int fd)
{
        if (fd < 0)
                return;
        if (fdkeeper_send(fd, "EXIT=1", NULL, 0) >= 0) {
                /* The keeper closes its end as it exits. */
                struct pollfd p = { .fd = fd, .events = POLLIN };
                (void)poll(&p, 1, 1000);
        }
        safe_close(fd);
        if (keeper_child > 0) {
                for (int i = 0; i < 100; i++) {
                        pid_t r = waitpid(keeper_child, NULL, WNOHANG);
                        if (r != 0)
                                break;
                        usleep(10 * 1000);
                }
                keeper_child = -1;
        }
}
