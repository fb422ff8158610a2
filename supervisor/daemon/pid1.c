/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pid1.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* SIGTERM to everything left, then this long for it to go before SIGKILL. */
#define GRACE_USEC (3 * USEC_PER_SEC)
#define KILL_WAIT_USEC (2 * USEC_PER_SEC)

static bool enabled;
static Manager *manager;
static Pid1Action action = PID1_ACTION_NONE;
static ev_signal rt_signals[_PID1_ACTION_MAX];
/* The fatal-signal handler runs in the clone children of the launcher too
 * until they reset their handlers: only the real init may reboot. */
static ino_t init_pidns_ino;

static const char *const action_names[_PID1_ACTION_MAX] = {
        [PID1_HALT] = "halt",
        [PID1_POWEROFF] = "poweroff",
        [PID1_REBOOT] = "reboot",
};

const char *pid1_action_to_string(Pid1Action a)
{
        return a >= 0 && a < _PID1_ACTION_MAX ? action_names[a] : NULL;
}

bool pid1_enabled(void)
{
        return enabled;
}

/* ------------------------------------------------------------------ early mounts */

typedef struct EarlyMount {
        const char *what, *where, *type, *options;
        unsigned long flags;
        long magic;
} EarlyMount;

static const EarlyMount early_mounts[] = {
        { "proc", "/proc", "proc", NULL, MS_NOSUID | MS_NOEXEC | MS_NODEV, PROC_SUPER_MAGIC },
        { "sysfs", "/sys", "sysfs", NULL, MS_NOSUID | MS_NOEXEC | MS_NODEV, SYSFS_MAGIC },
        { "devtmpfs", "/dev", "devtmpfs", "mode=0755", MS_NOSUID | MS_STRICTATIME, TMPFS_MAGIC },
        { "devpts", "/dev/pts", "devpts", "mode=0620,ptmxmode=0666", MS_NOSUID | MS_NOEXEC,
          DEVPTS_SUPER_MAGIC },
        { "tmpfs", "/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV | MS_STRICTATIME,
          TMPFS_MAGIC },
        { "tmpfs", "/run", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV | MS_STRICTATIME, TMPFS_MAGIC },
        { "cgroup2", "/sys/fs/cgroup", "cgroup2", "nsdelegate", MS_NOSUID | MS_NOEXEC | MS_NODEV,
          CGROUP2_SUPER_MAGIC },
};

/* Mounted = the right file system type *and* a mount point: /dev/shm on a
 * bare devtmpfs has the tmpfs magic too, but the device of /dev. */
static bool is_mounted(const EarlyMount *e)
{
        _cleanup_free_ char *parent = xstrdup(e->where);
        struct statfs sfs;
        struct stat st, pst;

        if (statfs(e->where, &sfs) < 0 || sfs.f_type != e->magic)
                return false;
        *strrchr(parent, '/') = '\0';
        if (stat(e->where, &st) < 0 || stat(parent[0] ? parent : "/", &pst) < 0)
                return false;
        return st.st_dev != pst.st_dev;
}

static void mount_early(const EarlyMount *e)
{
        if (is_mounted(e))
                return;
        if (mkdir(e->where, 0755) < 0 && errno != EEXIST) {
                log_msg(LOG_WARNING, "mkdir `%s`: %s", e->where, strerror(errno));
                return;
        }
        if (mount(e->what, e->where, e->type, e->flags, e->options) == 0) {
                log_msg(LOG_INFO, "mounted %s on %s", e->type, e->where);
                return;
        }
        /* nsdelegate is 4.13+: a cgroup2 without it still works. */
        if (errno == EINVAL && e->options && streq(e->type, "cgroup2") &&
            mount(e->what, e->where, e->type, e->flags, NULL) == 0) {
                log_msg(LOG_INFO, "mounted %s on %s (without nsdelegate)", e->type, e->where);
                return;
        }
        log_msg(LOG_WARNING, "mount %s on `%s`: %s", e->type, e->where, strerror(errno));
}

/* The kernel opens /dev/console on 0, 1, 2 for init only when the root has
 * one; with /dev mounted by us, open it now. */
static void open_console(void)
{
        for (int fd = 0; fd <= 2; fd++) {
                if (fcntl(fd, F_GETFD) >= 0)
                        continue;
                int c = open("/dev/console", O_RDWR | O_NOCTTY);
                if (c < 0)
                        c = open("/dev/null", O_RDWR);
                if (c >= 0 && c != fd) {
                        dup2(c, fd);
                        close(c);
                }
        }
}

/* ------------------------------------------------------------------ fatal signals */

static char altstack[64 * 1024];

static void write_str(const char *s)
{
        (void)!write(STDERR_FILENO, s, strlen(s));
}

static bool is_real_init(void)
{
        struct stat st;

        return getpid() == 1 && stat("/proc/self/ns/pid", &st) == 0 && st.st_ino == init_pidns_ino;
}

/* Async-signal-safe: write, sync, reboot. Never returns in PID 1. */
static void on_fatal_signal(int sig)
{
        static const struct {
                int sig;
                const char *name;
        } names[] = { { SIGSEGV, "SIGSEGV" }, { SIGBUS, "SIGBUS" }, { SIGILL, "SIGILL" },
                      { SIGFPE, "SIGFPE" },   { SIGABRT, "SIGABRT" } };
        const char *name = "a fatal signal";

        if (!is_real_init()) {
                signal(sig, SIG_DFL);
                raise(sig);
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (names[i].sig == sig)
                        name = names[i].name;
        write_str("\nccsupd: PID 1 crashed with ");
        write_str(name);
        write_str(": syncing and rebooting\n");
        sync();
        (void)reboot(RB_AUTOBOOT);
        /* Only without CAP_SYS_BOOT: the kernel panics, loudly, on our exit. */
        write_str("ccsupd: reboot failed; exiting (the kernel will panic)\n");
        _exit(128 + sig);
}

static void install_fatal_handlers(void)
{
        static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
        stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
        struct sigaction sa = { .sa_handler = on_fatal_signal, .sa_flags = SA_ONSTACK };
        struct stat st;

        if (stat("/proc/self/ns/pid", &st) == 0)
                init_pidns_ino = st.st_ino;
        /* A stack overflow must still get its message out. */
        (void)sigaltstack(&ss, NULL);
        sigfillset(&sa.sa_mask);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                (void)sigaction(sigs[i], &sa, NULL);
}

void pid1_setup(void)
{
        sigset_t rt;

        if (getpid() != 1)
                return;
        enabled = true;
        for (size_t i = 0; i < ELEMENTSOF(early_mounts); i++)
                mount_early(&early_mounts[i]);
        open_console();
        install_fatal_handlers();
        /* Queued until the loop's signalfd reads them: init gets no signal
         * it has no handler for, so an unblocked one would be dropped. */
        sigemptyset(&rt);
        for (int i = 0; i < _PID1_ACTION_MAX; i++)
                sigaddset(&rt, SIGRTMIN + 3 + i);
        sigprocmask(SIG_BLOCK, &rt, NULL);
        /* Ctrl-alt-del: SIGINT to us instead of an immediate reboot. */
        if (reboot(RB_DISABLE_CAD) < 0)
                log_msg(LOG_WARNING, "reboot(RB_DISABLE_CAD): %s", strerror(errno));
        umask(0022);
        log_msg(LOG_INFO, "running as PID 1");
}

/* ------------------------------------------------------------------ requests */

/* systemd's numbering: SIGRTMIN+3 halt, +4 poweroff, +5 reboot. */
static void on_rt_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
        Pid1Action a = (Pid1Action)(w->signum - SIGRTMIN - 3);
        char why[32];

        snprintf(why, sizeof(why), "SIGRTMIN+%d", w->signum - SIGRTMIN);
        (void)pid1_request(a, why);
}

void pid1_attach(Manager *m)
{
        if (!enabled)
                return;
        manager = m;
        for (int i = 0; i < _PID1_ACTION_MAX; i++) {
                ev_signal_init(&rt_signals[i], on_rt_signal, SIGRTMIN + 3 + i);
                ev_signal_start(m->loop, &rt_signals[i]);
        }
}

void pid1_detach(void)
{
        if (!manager)
                return;
        for (int i = 0; i < _PID1_ACTION_MAX; i++)
                ev_signal_stop(manager->loop, &rt_signals[i]);
        manager = NULL;
}

int pid1_request(Pid1Action a, const char *why)
{
        if (!enabled)
                return -EOPNOTSUPP;
        if (a < 0 || a >= _PID1_ACTION_MAX)
                return -EINVAL;
        log_msg(LOG_NOTICE, "%s requested (%s)", action_names[a], why);
        action = a;
        if (manager)
                manager_shutdown(manager);
        return 0;
}

/* ------------------------------------------------------------------ reaping */

typedef struct PidList {
        pid_t *pids;
        size_t n;
        bool loaded;
} PidList;

static void pid_list_done(PidList *l)
{
        free(l->pids);
        *l = (PidList){};
}

static void pid_list_add(PidList *l, pid_t pid)
{
        l->pids = xrealloc(l->pids, (l->n + 1) * sizeof(pid_t));
        l->pids[l->n++] = pid;
}

static bool pid_list_contains(const PidList *l, pid_t pid)
{
        for (size_t i = 0; i < l->n; i++)
                if (l->pids[i] == pid)
                        return true;
        return false;
}

/* The PIDs of the pidfds among our fds ("Pid:" in their fdinfo). */
static void load_pidfd_pids(PidList *l)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;

        l->loaded = true;
        if (!d)
                return;
        while ((de = readdir(d))) {
                char path[300], target[32];
                _cleanup_free_ char *info = NULL;
                const char *p;
                ssize_t n;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
                n = readlink(path, target, sizeof(target) - 1);
                if (n <= 0)
                        continue;
                target[n] = '\0';
                if (!streq(target, "anon_inode:[pidfd]"))
                        continue;
                snprintf(path, sizeof(path), "/proc/self/fdinfo/%s", de->d_name);
                if (read_full_file(path, 4096, &info, NULL) < 0)
                        continue;
                p = strstr(info, "\nPid:");
                if (p)
                        pid_list_add(l, (pid_t)strtol(p + 5, NULL, 10));
        }
        closedir(d);
}

static bool child_is_tracked(pid_t pid, PidList *pidfds)
{
        if (manager)
                for (size_t i = 0; i < manager->n_units; i++)
                        if (manager->units[i]->run.pid == pid)
                                return true;
        if (!pidfds->loaded)
                load_pidfd_pids(pidfds);
        return pid_list_contains(pidfds, pid);
}

static void reap_pid(pid_t pid)
{
        siginfo_t si = {};

        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
                return;
        if (si.si_code == CLD_EXITED)
                log_msg(LOG_DEBUG, "reaped PID %d (exit status %d)", (int)pid, si.si_status);
        else
                log_msg(LOG_DEBUG, "reaped PID %d (killed by signal %d)", (int)pid, si.si_status);
}

/* The first waitable child is a tracked one: waitid(P_ALL) would show it
 * again and again, so walk every child and reap each untracked one instead. */
static void reap_behind_tracked(PidList *pidfds)
{
        char path[64];
        _cleanup_free_ char *text = NULL;

        snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
        if (read_full_file(path, 16 * 1024 * 1024, &text, NULL) < 0)
                return;
        for (char *p = text, *end; *p; p = end) {
                long pid = strtol(p, &end, 10);
                if (end == p)
                        break;
                if (pid > 0 && !child_is_tracked((pid_t)pid, pidfds))
                        reap_pid((pid_t)pid);
        }
}

void pid1_reap(void)
{
        PidList pidfds = {};

        if (!enabled)
                return;
        for (;;) {
                siginfo_t si = {};
                /* WNOWAIT: look first; a container's status is the manager's. */
                if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
                        break;
                if (child_is_tracked(si.si_pid, &pidfds)) {
                        reap_behind_tracked(&pidfds);
                        break;
                }
                reap_pid(si.si_pid);
        }
        pid_list_done(&pidfds);
}

/* ------------------------------------------------------------------ the end */

/* Reaps until no process is left (every process is a descendant of init) or
 * the time is up. SIGCHLD is blocked: sigtimedwait() wakes on each exit. */
static bool wait_for_all(uint64_t usec)
{
        uint64_t deadline = now_usec_monotonic() + usec;
        sigset_t chld;

        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        for (;;) {
                pid_t pid;
                while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
                        ;
                if (pid < 0 && errno == ECHILD)
                        return true;
                uint64_t now = now_usec_monotonic();
                if (now >= deadline)
                        return false;
                uint64_t left = deadline - now;
                struct timespec ts = { .tv_sec = left / USEC_PER_SEC,
                                       .tv_nsec = (left % USEC_PER_SEC) * 1000 };
                (void)sigtimedwait(&chld, NULL, &ts);
        }
}

static void kill_everything(void)
{
        log_msg(LOG_INFO, "sending SIGTERM to every remaining process");
        if (kill(-1, SIGTERM) < 0 && errno == ESRCH)
                return;
        (void)kill(-1, SIGCONT);
        if (wait_for_all(GRACE_USEC))
                return;
        log_msg(LOG_NOTICE, "processes left after %llu s: sending SIGKILL",
                (unsigned long long)(GRACE_USEC / USEC_PER_SEC));
        (void)kill(-1, SIGKILL);
        if (!wait_for_all(KILL_WAIT_USEC))
                log_msg(LOG_WARNING, "processes survive SIGKILL (uninterruptible sleep?)");
}

static bool is_api_mount(const char *path)
{
        static const char *const api[] = { "/proc", "/sys", "/dev", "/run" };

        for (size_t i = 0; i < ELEMENTSOF(api); i++) {
                const char *rest = startswith(path, api[i]);
                if (rest && (*rest == '\0' || *rest == '/'))
                        return true;
        }
        return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_octal(char *s)
{
        char *w = s;

        for (char *r = s; *r;) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
                    r[3] >= '0' && r[3] <= '7') {
                        *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 4;
                } else
                        *w++ = *r++;
        }
        *w = '\0';
}

/* Unmounts what is not an API file system, last mounted first, then makes /
 * read-only so that nothing is left to write back. */
static void unmount_all(void)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **points = NULL;

        if (read_full_file("/proc/self/mountinfo", 4 * 1024 * 1024, &text, NULL) >= 0)
                for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                        char point[4096];
                        /* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
                        if (sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1)
                                continue;
                        unescape_octal(point);
                        strv_add(&points, point);
                }
        for (size_t n = strv_length(points); n > 0; n--) {
                const char *p = points[n - 1];
                if (streq(p, "/") || is_api_mount(p))
                        continue;
                if (umount2(p, UMOUNT_NOFOLLOW) < 0)
                        log_msg(LOG_DEBUG, "umount `%s`: %s", p, strerror(errno));
        }
        if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
                log_msg(LOG_WARNING, "remount / read-only: %s", strerror(errno));
        else
                log_msg(LOG_INFO, "remounted / read-only");
}

/* reboot(2) in a child: if it fails, PID 1 is still there to say so. */
static void do_reboot(int cmd)
{
        pid_t pid = fork();
        int status;

        if (pid == 0) {
                (void)reboot(cmd);
                _exit(errno);
        }
        if (pid < 0) {
                (void)reboot(cmd);
                log_msg(LOG_ERR, "reboot(2): %s", strerror(errno));
                return;
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        log_msg(LOG_ERR, "reboot(2): %s", WIFEXITED(status) ? strerror(WEXITSTATUS(status)) : "failed");
}

_Noreturn void pid1_finish(void)
{
        static const int cmds[_PID1_ACTION_MAX] = {
                [PID1_HALT] = RB_HALT_SYSTEM,
                [PID1_POWEROFF] = RB_POWER_OFF,
                [PID1_REBOOT] = RB_AUTOBOOT,
        };
        sigset_t chld;

        pid1_detach();
        if (action == PID1_ACTION_NONE) {
                log_msg(LOG_EMERG, "PID 1 cannot supervise anything: halting");
                action = PID1_HALT;
        }
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, NULL);
        kill_everything();
        sync();
        unmount_all();
        sync();
        log_msg(LOG_NOTICE, "%s", action == PID1_HALT       ? "halting the system"
                                  : action == PID1_POWEROFF ? "powering off"
                                                            : "rebooting");
        do_reboot(cmds[action]);
        /* Still here: never exit (the kernel would panic), just wait. */
        for (;;)
                pause();
}
