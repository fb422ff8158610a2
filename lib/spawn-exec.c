/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running a command inside a running container (spawn.h, spawn_exec()).
 *
 *   parent ──clone3(CLONE_INTO_CGROUP)──► relay ──fork──► command
 *                                        setns(pidfd)     setsid, user,
 *                                        chroot(root)     caps, seccomp,
 *                                        waits, reports   execve
 *
 * setns(CLONE_NEWPID) only places the children of the caller in the
 * container's PID namespace: hence the relay. It stays in ccsupd's PID
 * namespace, invisible to the container, with every signal blocked, and
 * sends the command's wait status as the last message on the sync socket.
 *
 * CVE-2016-9962, CVE-2019-5736: until its execve, the command is ccsupd
 * (/proc/PID/exe, memory, fds) inside the container, with ccsupd's
 * privileges. The relay makes itself non-dumpable before it enters
 * anything, and the command inherits that: no process of the container may
 * ptrace it or open its /proc/PID/exe, fds or memory; the execve of the
 * command's own binary restores dumpability by the kernel's usual rules.
 *
 * The command's end is bounded: a command that stops (SIGSTOP, SIGTSTP...)
 * has nobody to continue it and is killed; one whose tracer, a process of
 * the container, does not reap it is known to have ended by its pidfd, and
 * its status is read from /proc.
 */
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "spawn-internal.h"

/* The relay's last message: error 0 tells it from a SpawnMessage. */
typedef struct SpawnExecStatus {
        int32_t error;
        int32_t status;
        int32_t stopped;        /* SpawnExecEnd.stopped */
        int32_t traced;
} SpawnExecStatus;

#define EXEC_NAMESPACES \
        (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWCGROUP)

/* ---- the command (a process of the container) ---------------------------- */

_Noreturn static void command_fail(int fd, int r, const char *cmd)
{
        SpawnMessage m = { .error = -r | SPAWN_ERROR_COMMAND };
        int n = snprintf(m.text, sizeof(m.text), "`%s`: %s", cmd, strerror(-r));

        if (n < 0 || (size_t)n >= sizeof(m.text))
                n = (int)sizeof(m.text) - 1;
        (void)send(fd, &m, offsetof(SpawnMessage, text) + (size_t)n, MSG_NOSIGNAL);
        _exit(r == -ENOENT || r == -ENOTDIR ? 127 : 126);
}

/* The same sequence as a container's command (spawn.c, child_run()), minus
 * what the container set up once for all: namespaces, root, hostname. */
_Noreturn static void exec_command(SpawnPlan *p, char *const *argv, int fd)
{
        _cleanup_free_ char *cmd = NULL;
        int r;

        spawn_reset_signals();
        /* No controlling terminal: the operator's terminal, if it is one of
         * stdio, stays the operator shell's. */
        if (setsid() < 0)
                spawn_child_failf(fd, -errno, "setsid: %s", strerror(errno));
        /* exec --tty: a pty of the container's devpts (we are in its root). */
        if (p->terminal)
                spawn_child_setup_terminal(p, fd);
        r = spawn_apply_rlimits(p->limits);
        if (r < 0)
                spawn_child_failf(fd, r, "resource limits: %s", strerror(-r));
        umask(p->umask);
        spawn_child_resolve_user(p, fd);
        spawn_child_drop_privileges(p, p->caps, fd);
        /* Only now: a change of user clears it. getppid() is 0 while the
         * relay (outside our PID namespace) lives; had it died, we would
         * have been handed to the container's init. */
        if (!p->exec_detach && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                spawn_child_failf(fd, -errno, "parent-death signal: %s", strerror(errno));
        if (!p->exec_detach && getppid() != 0)
                _exit(SPAWN_EXIT_SETUP);
        spawn_child_enter_workdir(p, fd);

        r = spawn_find_command(argv[0], p->env, &cmd);
        if (r < 0)
                command_fail(fd, r, argv[0]);
        spawn_child_seal(p, fd);
        execve(cmd, argv, p->env);
        command_fail(fd, -errno, argv[0]);
}

/* ---- the relay (ccsupd's child, in the container's cgroup) ---------------- */

/* Closes every fd from 3 up but those of keep (-1 entries ignored). */
static void close_all_but(int *keep, size_t n)
{
        unsigned from = 3;

        for (size_t i = 1; i < n; i++) /* sorted, a handful */
                for (size_t k = i; k > 0 && keep[k - 1] > keep[k]; k--) {
                        int t = keep[k];
                        keep[k] = keep[k - 1];
                        keep[k - 1] = t;
                }
        for (size_t i = 0; i < n; i++) {
                if (keep[i] < (int)from)
                        continue;
                if ((unsigned)keep[i] > from)
                        (void)close_range(from, (unsigned)keep[i] - 1, 0);
                from = (unsigned)keep[i] + 1;
        }
        (void)close_range(from, ~0U, 0);
}

/* Whether the process pid is in our own user namespace. */
static bool same_user_namespace(pid_t pid)
{
        _cleanup_free_ char *path = xasprintf("/proc/%d/ns/user", (int)pid);
        struct stat a, b;
        if (stat(path, &a) < 0 || stat("/proc/self/ns/user", &b) < 0)
                return true;
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Enters the namespaces and the root of the container's PID 1. Its root is
 * taken from /proc (before setns(), in our own view of it) rather than from
 * the mount namespace: a container chroot'ed on an initramfs host has a
 * namespace root that is not its own. */
static void relay_enter(const SpawnExecTarget *t, int fd)
{
        _cleanup_free_ char *path = xasprintf("/proc/%d/root", (int)t->pid);
        _cleanup_close_ int root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

        /* After the open: a pidfd still alive means the PID was not reused. */
        if (root < 0 || pidfd_send_signal(t->pidfd, 0, NULL, 0) < 0)
                spawn_child_failf(fd, -ESRCH, "the container's PID %d is gone", (int)t->pid);
        /* UserNamespace=: its user namespace too, first (setns() does so
         * when given it), and then be its root, the host ID of the range. */
        bool userns = !same_user_namespace(t->pid);
        if (setns(t->pidfd, EXEC_NAMESPACES | (userns ? CLONE_NEWUSER : 0)) < 0)
                spawn_child_failf(fd, -errno, "enter the namespaces of PID %d: %s", (int)t->pid,
                                  strerror(errno));
        if (userns && (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
                spawn_child_failf(fd, -errno, "become root of the user namespace of PID %d: %s",
                                  (int)t->pid, strerror(errno));
        if (fchdir(root) < 0 || chroot(".") < 0)
                spawn_child_failf(fd, -errno, "enter the root of PID %d: %s", (int)t->pid,
                                  strerror(errno));
}

/* The command's exit code from /proc/PID/stat (field 52, a wait status):
 * a zombie that its tracer has not reaped is not ours to wait for. */
static int read_exit_code(int proc_fd, pid_t pid, int *ret_status)
{
        _cleanup_free_ char *name = xasprintf("%d/stat", (int)pid);
        _cleanup_close_ int fd = openat(proc_fd, name, O_RDONLY | O_CLOEXEC);
        char buf[2048];
        const char *s;
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return n < 0 ? -errno : -EIO;
        buf[n] = '\0';
        s = proc_stat_field(buf, 52);
        return s && sscanf(s, "%d", ret_status) == 1 ? 0 : -EIO;
}

/* Waits for the end of the command pid: SIGCHLD (an exit, a stop) through
 * sig_fd, and its pidfd, readable once it has ended even when it is a
 * ptracee that only its tracer may reap. */
static int relay_wait(pid_t pid, int proc_fd, int sig_fd, SpawnExecStatus *st)
{
        _cleanup_close_ int pidfd = pidfd_open(pid, 0);

        for (;;) {
                struct pollfd p[2] = { { .fd = sig_fd, .events = POLLIN },
                                       { .fd = pidfd, .events = POLLIN } };
                struct signalfd_siginfo ssi;
                siginfo_t si = {};
                /* Before waitid(): ended then and still not ours to reap
                 * after it means a tracer holds it. */
                bool ended = pidfd >= 0 && poll(&p[1], 1, 0) > 0;

                if (waitid(P_PID, (id_t)pid, &si, WEXITED | WSTOPPED | WNOHANG) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (si.si_pid == pid && si.si_code == CLD_STOPPED) {
                        /* No job control here: nobody would continue it. */
                        if (!st->stopped)
                                st->stopped = si.si_status;
                        (void)kill(pid, SIGKILL);
                        continue;
                }
                if (si.si_pid == pid) {
                        st->status = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0)
                                     : si.si_status | (si.si_code == CLD_DUMPED ? WCOREFLAG : 0);
                        return 0;
                }
                if (ended) {
                        int r = read_exit_code(proc_fd, pid, &st->status);
                        if (r < 0)
                                return r;
                        st->traced = 1;
                        return 0;
                }
                if (poll(p, pidfd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
                        return -errno;
                while (read(sig_fd, &ssi, sizeof(ssi)) > 0)
                        ;
        }
}

_Noreturn static void exec_relay(const SpawnPlan *p, const SpawnExecTarget *t, char *const *argv,
                                 const int stdio[3], int fd, bool wait_for_go, pid_t parent)
{
        SpawnExecStatus st = { .error = 0 };
        _cleanup_close_ int proc_fd = -1, sig_fd = -1;
        sigset_t all, chld;
        pid_t pid;
        char go;
        int r;

        /* First: nothing of the container may ptrace us or open our
         * /proc/PID/exe, and the command inherits it until its execve. */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                _exit(SPAWN_EXIT_SETUP);
        /* Only SIGKILL ends the relay: what the container's cgroup is sent
         * (`ccsupctl kill`) is for the command. */
        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        if (wait_for_go && read(fd, &go, 1) != 1)
                _exit(SPAWN_EXIT_SETUP);
        /* ccsupd gone: nobody to tell, nobody to answer the caller. */
        if ((!p->exec_detach && prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) || getppid() != parent)
                _exit(SPAWN_EXIT_SETUP);
        r = spawn_setup_stdio(stdio);
        if (r < 0)
                spawn_child_failf(fd, r, "standard input/output: %s", strerror(-r));
        /* The command inherits it; set here, through the host's /proc,
         * before the container's root is entered. */
        spawn_child_set_oom_score(p, fd);
        /* Nothing of ccsupd's (its clients' connections above all) may
         * outlive it here. */
        int keep[] = { fd, t->pidfd, p->terminal ? p->console_fd : -1 };
        close_all_but(keep, ELEMENTSOF(keep));
        /* Our /proc, for the command's PID as we see it (relay_wait()). */
        proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (proc_fd < 0)
                spawn_child_failf(fd, -errno, "/proc: %s", strerror(errno));
        relay_enter(t, fd);
        (void)close(t->pidfd);

        pid = fork();
        if (pid < 0)
                spawn_child_failf(fd, -errno, "fork: %s", strerror(errno));
        if (pid == 0) {
                proc_fd = safe_close(proc_fd);
                exec_command((SpawnPlan *)p, argv, fd);
        }
        (void)close_range(0, 2, 0);
        if (p->exec_detach) {
                /* The command's PID, then the relay goes: the command is
                 * handed to the nearest subreaper (an engine's conmon). */
                st.status = (int32_t)pid;
                st.stopped = -1;
                (void)send(fd, &st, sizeof(st), MSG_NOSIGNAL);
                _exit(0);
        }
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sig_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
        if (sig_fd < 0) {
                r = -errno;
                (void)kill(pid, SIGKILL);
                spawn_child_failf(fd, r, "signalfd: %s", strerror(-r));
        }
        r = relay_wait(pid, proc_fd, sig_fd, &st);
        if (r < 0) {
                (void)kill(pid, SIGKILL);
                spawn_child_failf(fd, r, "wait: %s", strerror(-r));
        }
        (void)send(fd, &st, sizeof(st), MSG_NOSIGNAL);
        _exit(0);
}

/* ---- parent --------------------------------------------------------------- */

static int kill_relay(int pidfd, int r)
{
        (void)pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
        (void)waitid(P_PIDFD, (id_t)pidfd, NULL, WEXITED);
        return r;
}

int spawn_exec(const SpawnPlan *p, const SpawnExecTarget *t, char *const *argv,
               const int stdio[3], SpawnExec *ret, char **ret_error)
{
        _cleanup_close_ int parent_end = -1, child_end = -1, pidfd = -1, cgroup_fd = -1;
        pid_t parent = getpid(), pid;
        bool clone3, attach;
        int sv[2], r;

        if (!argv || !argv[0] || !argv[0][0]) {
                *ret_error = xstrdup("no command given");
                return -EINVAL;
        }
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return error_set(ret_error, -errno, "socketpair: %s", strerror(errno));
        parent_end = sv[0];
        child_end = sv[1];
        if (t->cgroup->unified) {
                cgroup_fd = open(t->cgroup->unified, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cgroup_fd < 0)
                        return error_set(ret_error, -errno, "cgroup `%s`: %s", t->cgroup->path, strerror(errno));
        }

        pid = spawn_clone(0, p->no_clone3, cgroup_fd, &pidfd, &clone3);
        if (pid == 0)
                exec_relay(p, t, argv, stdio, child_end, !clone3 || t->cgroup->v1, parent);
        if (pid < 0) {
                *ret_error = xasprintf("clone: %s", strerror(-pid));
                return pid;
        }
        child_end = safe_close(child_end);

        /* Into every cgroup before the relay goes on: nothing it forks may
         * run outside the container's. */
        attach = !clone3 || t->cgroup->v1;
        r = attach ? cgroup_attach(t->cgroup, pid, !clone3) : 0;
        if (r < 0) {
                *ret_error = xasprintf("cgroup `%s`: attach: %s", t->cgroup->path, strerror(-r));
                return kill_relay(pidfd, r);
        }
        if (attach && send(parent_end, "g", 1, MSG_NOSIGNAL) != 1) {
                r = -errno;
                *ret_error = xasprintf("release the relay: %s", strerror(-r));
                return kill_relay(pidfd, r);
        }
        *ret = (SpawnExec){ .pid = pid, .pidfd = TAKE_FD(pidfd), .sync_fd = TAKE_FD(parent_end) };
        return 0;
}

/* The messages of an ended relay: a setup failure (the relay's or the
 * command's) comes first and wins; else the relay's status. 1 when there
 * was a status, 0 when nothing came (the relay was killed), -errno. */
static int read_messages(int fd, SpawnExecEnd *end)
{
        int got = 0;

        for (;;) {
                SpawnMessage m;
                ssize_t n = recv(fd, &m, sizeof(m), MSG_DONTWAIT);
                int e;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return got;
                /* Lengths and values checked before use. */
                if ((size_t)n < offsetof(SpawnMessage, text))
                        return -EPROTO;
                if (m.error == 0 && (size_t)n == sizeof(SpawnExecStatus)) {
                        SpawnExecStatus st;

                        memcpy(&st, &m, sizeof(st));
                        end->status = st.status;
                        end->stopped = st.stopped > 0 && st.stopped < NSIG ? st.stopped : 0;
                        end->traced = st.traced;
                        got = 1;
                        continue;
                }
                e = m.error & ~SPAWN_ERROR_COMMAND;
                if (e <= 0 || e >= 4096)
                        return -EPROTO;
                if (end->error < 0)
                        continue;
                end->error = -e;
                end->command = m.error & SPAWN_ERROR_COMMAND;
                end->message = xstrndup(m.text, (size_t)n - offsetof(SpawnMessage, text));
        }
}

int spawn_exec_finish(SpawnExec *e, SpawnExecEnd *ret)
{
        SpawnExecEnd end = { .error = 0 };
        siginfo_t si = {};
        int r;

        if (waitid(P_PIDFD, (id_t)e->pidfd, &si, WEXITED | WNOHANG) < 0)
                return -errno;
        if (si.si_pid == 0)
                return -EAGAIN;
        r = read_messages(e->sync_fd, &end);
        if (r < 0) {
                spawn_exec_end_done(&end);
                end = (SpawnExecEnd){ .error = r, .message = xstrdup("bad message from the relay") };
        } else if (end.error == 0 && r == 0) {
                /* Killed before it could tell (SIGKILL from us, or to the
                 * whole container): the relay's own end is the command's. */
                end.status = si.si_code == CLD_EXITED ? W_EXITCODE(si.si_status, 0) : si.si_status;
                if (si.si_code == CLD_EXITED) {
                        end.error = -EPROTO;
                        end.message = xasprintf("the relay ended with status %d", si.si_status);
                }
        }
        *ret = end;
        return 0;
}

int spawn_exec_end_code(const SpawnExecEnd *e)
{
        if (e->error < 0)
                return !e->command ? SPAWN_EXIT_SETUP : e->error == -ENOENT || e->error == -ENOTDIR ? 127 : 126;
        if (e->stopped)
                return 128 + e->stopped;
        if (WIFEXITED(e->status))
                return WEXITSTATUS(e->status);
        if (WIFSIGNALED(e->status))
                return 128 + WTERMSIG(e->status);
        return SPAWN_EXIT_SETUP;
}

void spawn_exec_end_done(SpawnExecEnd *e)
{
        free(e->message);
        e->message = NULL;
}

int spawn_exec_kill(const SpawnExec *e)
{
        return pidfd_send_signal(e->pidfd, SIGKILL, NULL, 0) < 0 ? -errno : 0;
}

void spawn_exec_done(SpawnExec *e)
{
        safe_close(e->pidfd);
        safe_close(e->sync_fd);
        *e = (SpawnExec){ .pidfd = -1, .sync_fd = -1 };
}

int spawn_exec_detached(SpawnPlan *p, const SpawnExecTarget *t, char *const *argv,
                        const int stdio[3], pid_t *ret_pid, char **ret_error)
{
        SpawnExec e = { .pidfd = -1, .sync_fd = -1 };
        pid_t pid = 0;
        int r;

        p->exec_detach = true;
        r = spawn_exec(p, t, argv, stdio, &e, ret_error);
        p->exec_detach = false;
        if (r < 0)
                return r;
        /* The relay's PID message, then EOF once the command executed (or
         * the command's error). */
        for (;;) {
                union {
                        SpawnMessage m;
                        SpawnExecStatus st;
                } u;
                ssize_t n = recv(e.sync_fd, &u, sizeof(u), 0);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        *ret_error = xasprintf("exec: %s", strerror(-r));
                        break;
                }
                if (n == 0) {
                        r = pid > 0 ? 0 : -EPROTO;
                        if (r < 0)
                                *ret_error = xstrdup("exec: the relay ended without a word");
                        break;
                }
                if ((size_t)n == sizeof(SpawnExecStatus) && u.st.error == 0 && u.st.stopped == -1) {
                        pid = (pid_t)u.st.status;
                        continue;
                }
                if ((size_t)n >= offsetof(SpawnMessage, text) && u.m.error > 0) {
                        r = -(u.m.error & ~SPAWN_ERROR_COMMAND);
                        *ret_error = xstrndup(u.m.text, (size_t)n - offsetof(SpawnMessage, text));
                        break;
                }
                r = -EPROTO;
                *ret_error = xstrdup("exec: bad message from the relay");
                break;
        }
        (void)waitid(P_PIDFD, e.pidfd, NULL, WEXITED);
        spawn_exec_done(&e);
        if (r < 0)
                return r;
        *ret_pid = pid;
        return 0;
}
