/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cgroup backends against the real kernel (root only):
 *   - the host's own layout (hybrid, v1 or v2) below /sys/fs/cgroup;
 *   - the cgroup2 backend on a cgroup2 mounted in a private mount namespace
 *     (a new cgroup2 mount shows the same global hierarchy, so this also
 *     runs on hybrid hosts), whatever the host's layout.
 * Each case creates a cgroup, puts a sleeping child in it, checks
 * "populated", kills everything, and removes the cgroup, which it also does
 * when a check fails.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <sys/inotify.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroup.h"
#include "spawn-internal.h"
#include "tap.h"
#include "util.h"

/* A child that, once released through *ret_release, forks a grandchild
 * and sleeps: the kill must reach forks made inside the cgroup. */
static pid_t spawn_sleeper(int *ret_release)
{
        int p[2];
        pid_t pid;
        char c;

        if (pipe(p) < 0)
                return -errno;
        pid = fork();
        if (pid == 0) {
                close(p[1]);
                if (read(p[0], &c, 1) == 1 && fork() == 0)
                        for (;;)
                                pause();
                for (;;)
                        pause();
        }
        close(p[0]);
        *ret_release = p[1];
        return pid;
}

/* Waits (bounded) until the cgroup reports empty. */
static int wait_empty(const Cgroup *cg)
{
        for (int i = 0; i < 500; i++) {
                int r = cgroup_is_populated(cg);
                if (r <= 0)
                        return r;
                nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        return 1;
}

static int remove_bounded(Cgroup *cg)
{
        int r = -EBUSY;

        for (int i = 0; i < 100 && r == -EBUSY; i++) {
                r = cgroup_remove(cg);
                if (r == -EBUSY)
                        nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        return r;
}

static void check_cycle(const char *root, CgroupMode mode, const char *what)
{
        _cleanup_free_ char *parent = xasprintf("/ccsup-unittest-%d", (int)getpid());
        _cleanup_free_ char *path = xasprintf("%s/t.ctr", parent);
        _cleanup_(cgroup_freep) Cgroup *cg = NULL, *dup = NULL;
        int status = 0, release = -1, inotify_fd = -1, r;
        pid_t pid;

        r = cgroup_create(root, mode, path, &cg);
        is_int(r, 0, "%s: create %s", what, path);
        if (r < 0)
                return;
        is_int(cgroup_is_populated(cg), 0, "%s: a new cgroup is empty", what);

        pid = spawn_sleeper(&release);
        r = cgroup_attach(cg, pid, true);
        is_int(r, 0, "%s: attach", what);
        (void)!write(release, "x", 1);
        close(release);
        /* Let the sleeper fork its grandchild inside the cgroup. */
        nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
        is_int(cgroup_is_populated(cg), 1, "%s: populated with a process", what);
        is_int(cgroup_create(root, mode, path, &dup), -EBUSY,
               "%s: creating a populated cgroup again is refused", what);
        if (mode != CGROUP_MODE_V2)
                is_int(cgroup_set_pids_max(cg, 100), 0, "%s: pids.max", what);
        if (mode == CGROUP_MODE_V2 && access(xasprintf("%s/memory.max", cg->unified), F_OK) < 0)
                is_int(cgroup_set_memory_max(cg, 1 << 20), -EOPNOTSUPP,
                       "%s: no memory controller here: -EOPNOTSUPP", what);
        {
                CgroupStats st;

                cgroup_get_stats(cg, &st);
                ok(st.tasks_current >= 1 && st.tasks_current != UINT64_MAX, "%s: TasksCurrent %llu",
                   what, (unsigned long long)st.tasks_current);
        }

        if (cg->unified) {
                inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
                ok(cgroup_watch_populated(cg, inotify_fd) >= 0, "%s: watch cgroup.events", what);
        } else
                is_int(cgroup_watch_populated(cg, -1), -EOPNOTSUPP, "%s: no cgroup.events on v1",
                       what);

        is_int(cgroup_kill_all(cg), 0, "%s: kill all", what);
        (void)kill(pid, SIGKILL); /* only matters when the kill failed */
        ok(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
           "%s: the process died of SIGKILL", what);
        if (inotify_fd >= 0) {
                /* The event, not polling, says when it is empty. */
                struct pollfd pfd = { .fd = inotify_fd, .events = POLLIN };
                int empty = 1;

                for (int i = 0; i < 50 && empty > 0; i++) {
                        empty = cgroup_is_populated(cg);
                        if (empty > 0 && poll(&pfd, 1, 100) > 0)
                                cgroup_event_drain(inotify_fd);
                }
                is_int(empty, 0, "%s: inotify on cgroup.events reports the end", what);
                close(inotify_fd);
        }
        is_int(wait_empty(cg), 0, "%s: empty after kill (grandchild too)", what);
        is_int(remove_bounded(cg), 0, "%s: remove", what);
        is_int(cgroup_remove_if_empty(root, mode, parent), 0, "%s: remove the parent", what);
}

/* cgroup_create_with(): on hybrid and v1, only the hierarchies of the mask
 * (v1: plus the freezer, which tracks there). */
static void check_mask(const char *root, CgroupMode mode, const char *what)
{
        _cleanup_free_ char *parent = xasprintf("/ccsup-unittest-mask-%d", (int)getpid());
        _cleanup_free_ char *path = xasprintf("%s/m.ctr", parent);
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        int r;

        r = cgroup_create_with(root, mode, path, CGROUP_MASK(CGROUP_CONTROLLER_PIDS), &cg);
        is_int(r, 0, "%s: create with the pids controller only", what);
        if (r < 0)
                return;
        ok(cg->v1_pids != NULL, "%s: joins the pids hierarchy", what);
        ok(!cg->v1_memory && !cg->v1_cpu && !cg->v1_devices, "%s: and no other controller's", what);
        ok((mode == CGROUP_MODE_V1) == (cg->v1_freezer != NULL),
           "%s: the freezer only on pure v1", what);
        is_str(cgroup_controller_dir(cg, CGROUP_CONTROLLER_PIDS), cg->v1_pids,
               "%s: cgroup_controller_dir()", what);
        is_int(cgroup_remove(cg), 0, "%s: remove", what);
        is_int(cgroup_remove_parent(cg), 0, "%s: remove the parent", what);
        ok(access(cg->v1_pids, F_OK) < 0, "%s: gone", what);
}

/* What a process of the cgroup may open: bit i set when try[i] opened. */
static const struct {
        const char *path;
        int flags;
        bool allowed;
} device_tries[] = {
        { "/dev/null", O_RDWR, true },     /* c 1:3 rwm */
        { "/dev/zero", O_RDONLY, true },   /* c 1:5 r */
        { "/dev/zero", O_WRONLY, false },  /* r only */
        { "/dev/full", O_RDONLY, true },   /* c 1:* r */
        { "/dev/full", O_WRONLY, false },
        { "/dev/tty", O_RDWR, false },     /* not in the list */
};

/* cgroup_set_devices(): the BPF program (v2, hybrid) or the v1 devices
 * controller allows the listed nodes with their access, and no other;
 * set again (a reused cgroup), the new list replaces the old. */
static void check_devices(const char *root, CgroupMode mode, const char *what)
{
        _cleanup_free_ char *parent = xasprintf("/ccsup-unittest-dev-%d", (int)getpid());
        _cleanup_free_ char *path = xasprintf("%s/d.ctr", parent);
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        char *narrow[] = { "c 1:3 rwm", "c 1:5 r", "c 1:* r", NULL };
        char *wide[] = { "c 1:3 rwm", "c 1:5 rwm", "c 1:7 r", "c 1:* r", NULL };
        char *bad[] = { "c 1:3 rwm", "x 1:3 rwm", NULL };
        int status = 0, p[2], r;
        unsigned got = 0, want = 0;
        pid_t pid;

        r = cgroup_create(root, mode, path, &cg);
        is_int(r, 0, "%s: create %s", what, path);
        if (r < 0)
                return;
        is_int(cgroup_set_devices(cg, bad, NULL), -EINVAL, "%s: a bad rule is -EINVAL", what);
        /* Twice: the second replaces the first, it does not add to it. */
        r = cgroup_set_devices(cg, wide, NULL);
        is_int(r, 0, "%s: set the wide device list", what);
        r = cgroup_set_devices(cg, narrow, NULL);
        is_int(r, 0, "%s: set the narrow device list over it", what);
        if (r == 0 && pipe(p) == 0) {
                pid = fork();
                if (pid == 0) {
                        unsigned bits = 0;

                        close(p[0]);
                        if (cgroup_attach(cg, getpid(), true) < 0)
                                _exit(2);
                        for (size_t i = 0; i < ELEMENTSOF(device_tries); i++) {
                                int fd = open(device_tries[i].path, device_tries[i].flags | O_CLOEXEC);

                                if (fd >= 0)
                                        bits |= 1U << i;
                                else if (errno != EPERM)
                                        bits |= 1U << 31;
                                safe_close(fd);
                        }
                        (void)!write(p[1], &bits, sizeof(bits));
                        _exit(0);
                }
                close(p[1]);
                if (read(p[0], &got, sizeof(got)) != sizeof(got))
                        got = UINT_MAX;
                close(p[0]);
                ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                   "%s: the child joined the cgroup", what);
                for (size_t i = 0; i < ELEMENTSOF(device_tries); i++)
                        if (device_tries[i].allowed)
                                want |= 1U << i;
                for (size_t i = 0; i < ELEMENTSOF(device_tries); i++)
                        is_int(!!(got & (1U << i)), device_tries[i].allowed,
                               "%s: open %s %s: %s", what, device_tries[i].path,
                               device_tries[i].flags == O_RDONLY ? "r" :
                               device_tries[i].flags == O_WRONLY ? "w" : "rw",
                               device_tries[i].allowed ? "allowed" : "EPERM");
                ok(!(got & (1U << 31)), "%s: every refusal is EPERM", what);
        }
        is_int(remove_bounded(cg), 0, "%s: remove", what);
        is_int(cgroup_remove_if_empty(root, mode, parent), 0, "%s: remove the parent", what);
}

/* A cgroup made again where one was killed (cgroup.kill) and emptied: a
 * child clone3(CLONE_INTO_CGROUP) puts in it lives. Linux 6.14+ SIGKILLs
 * such a child in the killed directory itself, so cgroup_create() must give
 * a fresh one (or no unified_fd, and the caller attaches). */
static void check_killed_reuse(const char *root, CgroupMode mode, const char *what)
{
        _cleanup_free_ char *parent = xasprintf("/ccsup-unittest-kill-%d", (int)getpid());
        _cleanup_free_ char *path = xasprintf("%s/k.ctr", parent);
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        _cleanup_close_ int pidfd = -1;
        int status = 0, r;
        bool clone3;
        pid_t pid;

        r = cgroup_create(root, mode, path, &cg);
        is_int(r, 0, "%s: create %s", what, path);
        if (r < 0)
                return;
        is_int(cgroup_kill_all(cg), 0, "%s: kill all in the empty cgroup", what);
        cg = cgroup_free(cg);
        r = cgroup_create(root, mode, path, &cg);
        is_int(r, 0, "%s: create %s again after the kill", what, path);
        if (r < 0)
                return;
        ok(cg->unified_fd >= 0, "%s: a fresh cgroup2 directory to clone into", what);
        pid = spawn_clone(0, false, cg->unified_fd, &pidfd, &clone3);
        if (pid == 0)
                _exit(0);
        if (pid > 0) {
                r = waitpid(pid, &status, 0) == pid ? 0 : -errno;
                ok(r == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                   "%s: a child cloned into it (%s) lives and exits 0 (status %#x)", what,
                   clone3 ? "clone3" : "clone", (unsigned)status);
        } else
                ok(false, "%s: clone: %s", what, strerror(-pid));
        is_int(remove_bounded(cg), 0, "%s: remove", what);
        is_int(cgroup_remove_if_empty(root, mode, parent), 0, "%s: remove the parent", what);
}

/* The v2 backend on a private cgroup2 mount. Runs in a child process: the
 * mount namespace is left behind with it. */
static int check_v2_private(void)
{
        char tmp[] = "/tmp/ccsup-cg2-XXXXXX";
        CgroupMode mode;
        int r;

        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                return -errno;
        if (!mkdtemp(tmp))
                return -errno;
        if (mount("cgroup2", tmp, "cgroup2", 0, NULL) < 0) {
                r = -errno;
                rmdir(tmp);
                return r;
        }
        is_int(cgroup_detect_mode(tmp, &mode), 0, "cgroup2 mount: detect");
        is_int(mode, CGROUP_MODE_V2, "cgroup2 mount: mode is v2");
        check_cycle(tmp, CGROUP_MODE_V2, "v2");
        check_devices(tmp, CGROUP_MODE_V2, "v2");
        check_killed_reuse(tmp, CGROUP_MODE_V2, "v2");
        (void)umount2(tmp, MNT_DETACH);
        (void)rmdir(tmp);
        return 0;
}

/* cgroup_reap(): a cgroup with a process (and its fork) in it is killed
 * first (-EAGAIN), then removed once empty, from every hierarchy. */
static void check_reap(const char *root, CgroupMode mode, const char *what)
{
        _cleanup_free_ char *parent = xasprintf("/ccsup-unittest-reap-%d", (int)getpid());
        _cleanup_free_ char *path = xasprintf("%s/r.ctr", parent);
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        int status = 0, release = -1, r;
        pid_t pid;

        r = cgroup_create(root, mode, path, &cg);
        is_int(r, 0, "%s: create %s", what, path);
        if (r < 0)
                return;
        pid = spawn_sleeper(&release);
        is_int(cgroup_attach(cg, pid, true), 0, "%s: attach", what);
        (void)!write(release, "x", 1);
        close(release);
        nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
        is_int(cgroup_reap(cg), -EAGAIN, "%s: reap of a populated cgroup kills, and says to wait", what);
        ok(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
           "%s: its process died of SIGKILL", what);
        r = -EAGAIN;
        for (int i = 0; i < 200 && (r == -EAGAIN || r == -EBUSY); i++) {
                r = cgroup_reap(cg);
                if (r == -EAGAIN || r == -EBUSY)
                        nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        is_int(r, 0, "%s: reap again once empty: removed (grandchild too)", what);
        const char *dir = cg->unified ? cg->unified : cg->v1 ? cg->v1[0] : NULL;
        ok(dir && access(dir, F_OK) < 0 && errno == ENOENT, "%s: its directory is gone (%s)", what, dir ? dir : "none");
        is_int(cgroup_remove_if_empty(root, mode, parent), 0, "%s: remove the parent", what);
}

int main(void)
{
        CgroupMode mode;
        int status, r, counts[2], n[2];
        pid_t pid;

        if (geteuid() != 0) {
                printf("1..0 # SKIP needs root\n");
                return 0;
        }

        is_str(cgroup_mode_to_string(CGROUP_MODE_HYBRID), "hybrid", "mode names");
        r = cgroup_detect_mode(CGROUP_ROOT_DEFAULT, &mode);
        is_int(r, 0, "detect the host's mode");
        if (r == 0) {
                tap_diag("host: %s", cgroup_mode_to_string(mode));
                check_cycle(CGROUP_ROOT_DEFAULT, mode, cgroup_mode_to_string(mode));
                check_reap(CGROUP_ROOT_DEFAULT, mode, cgroup_mode_to_string(mode));
                /* A hybrid host also runs the pure-v1 backend (unified ignored). */
                if (mode == CGROUP_MODE_HYBRID)
                        check_cycle(CGROUP_ROOT_DEFAULT, CGROUP_MODE_V1, "v1");
                if (mode == CGROUP_MODE_HYBRID)
                        check_reap(CGROUP_ROOT_DEFAULT, CGROUP_MODE_V1, "v1");
                check_devices(CGROUP_ROOT_DEFAULT, mode, cgroup_mode_to_string(mode));
                if (mode != CGROUP_MODE_V1)
                        check_killed_reuse(CGROUP_ROOT_DEFAULT, mode, cgroup_mode_to_string(mode));
                if (mode == CGROUP_MODE_HYBRID)
                        check_devices(CGROUP_ROOT_DEFAULT, CGROUP_MODE_V1, "v1");
                if (mode != CGROUP_MODE_V2)
                        check_mask(CGROUP_ROOT_DEFAULT, mode, cgroup_mode_to_string(mode));
                if (mode == CGROUP_MODE_HYBRID)
                        check_mask(CGROUP_ROOT_DEFAULT, CGROUP_MODE_V1, "v1");
        }

        fflush(stdout);
        if (pipe(counts) < 0)
                return 1;
        pid = fork();
        if (pid == 0) {
                r = check_v2_private();
                if (r < 0)
                        printf("# private cgroup2 mount: %s\n", strerror(-r));
                fflush(stdout);
                /* Hand the TAP counters back, numbering goes on in the parent. */
                (void)!write(counts[1], (int[]){ tap_n, tap_failed }, 2 * sizeof(int));
                _exit(r < 0 ? 2 : 0);
        }
        close(counts[1]);
        if (read(counts[0], n, sizeof(n)) == sizeof(n)) {
                tap_n = n[0];
                tap_failed = n[1];
        }
        ok(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "v2 backend on a private cgroup2 mount");
        return tap_done();
}
