/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/spawn: a unit launched for real, as root, from the test's own
 * process: spawn_prepare() of a parsed unit, spawn_container(), the sync
 * socket's result, the pidfd, the exit status, and the cleanup. The image
 * is a directory with Debian's static busybox; the container writes what
 * it sees into a bind-mounted host directory: its PID (1 in its own PID
 * namespace), its hostname (the unit's name), its network interfaces
 * (loopback only, Mode=none). While it waits on a FIFO, the test finds
 * its PID in the unit's cgroup. A command that is not in the image fails
 * the start with a message naming it. Everything goes below a cgroup
 * /ccsup-test-spawn-PID and a temporary directory, removed at the end. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "container-test.h"
#include "cgroup.h"
#include "spawn.h"
#include "tap.h"
#include "unit.h"
#include "util.h"

static char dir[] = "/tmp/ccsup-test-spawn.XXXXXX";
static char *cgroup_parent;
static CgroupMode mode;

static bool make_image(void)
{
        _cleanup_free_ char *image = xasprintf("%s/image", dir);
        _cleanup_free_ char *out = xasprintf("%s/out", dir), *fifo = xasprintf("%s/out/go", dir);

        return busybox_image(image) && mkdir(out, 0755) == 0 && mkfifo(fifo, 0600) == 0;
}

static UnitConfig *parse(const char *name, const char *exec)
{
        _cleanup_free_ char *path = xasprintf("%s/%s.unit", dir, name);
        _cleanup_free_ char *text = xasprintf("[Image]\nImage=%s/image\n"
                                              "[Process]\nExec=%s\n"
                                              "[Mounts]\nBind=%s/out:/out\n",
                                              dir, exec, dir);
        char *paths[] = { path, NULL }, *texts[] = { text, NULL }, **errors = NULL;
        UnitConfig *c = NULL;
        int r = unit_parse_texts(name, paths, texts, &c, &errors);

        ok(r == 0, "unit %s parses%s%s", name, errors ? ": " : "", errors ? errors[0] : "");
        strv_free(errors);
        if (r < 0)
                c = unit_config_free(c);
        return c;
}

static SpawnOptions options(int devnull)
{
        return (SpawnOptions){
                .runtime_dir = xasprintf("%s/runtime", dir),
                .state_dir = xasprintf("%s/state", dir),
                .cgroup_root = CGROUP_ROOT_DEFAULT,
                .cgroup_mode = mode,
                .cgroup_parent = cgroup_parent,
                .stdin_fd = devnull,
                .stdout_fd = devnull,
                .stderr_fd = STDERR_FILENO,
        };
}

static void options_done(SpawnOptions *o)
{
        free((char *)o->runtime_dir);
        free((char *)o->state_dir);
}

static char *out_file(const char *name)
{
        _cleanup_free_ char *path = xasprintf("%s/out/%s", dir, name);
        char *text = NULL;

        if (read_full_file(path, 4096, &text, NULL) < 0)
                return xstrdup("(none)");
        text[strcspn(text, "\n")] = 0;
        return text;
}

/* The wait status of the container, at most 10 s away; past that, or when
 * a check before failed (a FIFO never opened), its cgroup is killed so that
 * nothing is left behind. */
static int wait_exit(const SpawnResult *res)
{
        struct pollfd p = { .fd = res->pidfd, .events = POLLIN };
        siginfo_t si = {};

        if (poll(&p, 1, 10000) != 1) {
                (void)cgroup_kill_all(res->cgroup);
                (void)poll(&p, 1, 10000);
                (void)waitid((idtype_t)P_PIDFD, (id_t)res->pidfd, &si, WEXITED);
                return -1;
        }
        if (waitid((idtype_t)P_PIDFD, (id_t)res->pidfd, &si, WEXITED) < 0)
                return -1;
        return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

/* The sync socket's word, waiting for it at most 10 s. */
static int read_result(const SpawnResult *res, char **ret_error)
{
        struct pollfd p = { .fd = res->sync_fd, .events = POLLIN };
        int r = -EAGAIN;

        for (int i = 0; i < 100 && r == -EAGAIN; i++)
                if (poll(&p, 1, 100) >= 0)
                        r = spawn_read_result(res->sync_fd, ret_error);
        return r;
}

static bool pid_in_cgroup(pid_t pid, const char *path)
{
        _cleanup_free_ char *file = xasprintf("/proc/%d/cgroup", (int)pid), *text = NULL;

        return read_full_file(file, 64 * 1024, &text, NULL) >= 0 && strstr(text, path);
}

static void runs(void)
{
        _cleanup_(unit_config_freep) UnitConfig *c =
                parse("web", "/bin/sh -c 'echo $$ >/out/pid; hostname >/out/host; ls /sys/class/net >/out/net; "
                             "cat /out/go >/dev/null; exit 7'");
        _cleanup_(spawn_plan_freep) SpawnPlan *plan = NULL;
        _cleanup_free_ char *err = NULL;
        _cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        SpawnOptions o = options(devnull);
        SpawnResult res = { .pidfd = -1, .sync_fd = -1 };
        int r;

        if (!c)
                return options_done(&o);
        r = spawn_prepare(c, &o, &plan, &err);
        ok(r == 0, "spawn_prepare: %s", r == 0 ? "a plan" : err);
        if (r < 0)
                return options_done(&o);
        r = spawn_container(plan, &res, &err);
        ok(r == 0 && res.pid > 0 && res.pidfd >= 0, "spawn_container: %s", r == 0 ? "started" : err);
        if (r < 0) {
                spawn_cleanup(plan);
                return options_done(&o);
        }
        r = read_result(&res, &err);
        is_int(r, 0, "the sync socket: the command runs%s%s", err ? ": " : "", err ? err : "");
        ok(pid_in_cgroup(res.pid, spawn_plan_cgroup_path(plan)), "its PID is in the unit's cgroup %s",
           spawn_plan_cgroup_path(plan));
        _cleanup_free_ char *fifo = xasprintf("%s/out/go", dir);
        /* O_NONBLOCK: ENXIO until the shell opens it for reading, and no hang
         * if it never does (5 s) */
        int go = -1;
        for (int i = 0; i < 500 && go < 0; i++)
                if ((go = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
                        usleep(10000);
        ok(go >= 0 && write(go, "go\n", 3) == 3, "released through the FIFO");
        safe_close(go);
        is_int(wait_exit(&res), 7, "its exit code comes back through the pidfd");
        _cleanup_free_ char *pid = out_file("pid"), *host = out_file("host"), *net = out_file("net");
        is_str(pid, "1", "it was PID 1 of its own PID namespace");
        is_str(host, "web", "its hostname is the unit's name");
        is_str(net, "lo", "Mode=none: loopback only");

        _cleanup_free_ char *cg = xasprintf("%s/%s", CGROUP_ROOT_DEFAULT, spawn_plan_cgroup_path(plan));
        spawn_cleanup(plan);
        r = cgroup_remove(res.cgroup);
        ok(r == 0, "its cgroup is removed after the end (%s)", r == 0 ? "ok" : strerror(-r));
        spawn_result_done(&res);
        spawn_remove_trees(o.runtime_dir, "web");
        _cleanup_free_ char *staging = xasprintf("%s/containers/web", o.runtime_dir);
        ok(access(staging, F_OK) < 0 && errno == ENOENT, "no staging directory is left");
        options_done(&o);
}

static void missing_command(void)
{
        _cleanup_(unit_config_freep) UnitConfig *c = parse("bad", "/bin/no-such-command");
        _cleanup_(spawn_plan_freep) SpawnPlan *plan = NULL;
        _cleanup_free_ char *err = NULL;
        _cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        SpawnOptions o = options(devnull);
        SpawnResult res = { .pidfd = -1, .sync_fd = -1 };
        int r;

        if (!c || spawn_prepare(c, &o, &plan, &err) < 0 || spawn_container(plan, &res, &err) < 0) {
                ok(false, "a start of /bin/no-such-command: %s", err ? err : "no plan");
                if (plan)
                        spawn_cleanup(plan);
                return options_done(&o);
        }
        r = read_result(&res, &err);
        ok(r < 0 && err && strstr(err, "/bin/no-such-command"), "the start fails, naming the command: %s",
           err ? err : "(no message)");
        is_int(wait_exit(&res), SPAWN_EXIT_SETUP, "the setup's exit code");
        spawn_cleanup(plan);
        ok(cgroup_remove(res.cgroup) == 0, "its cgroup is removed");
        spawn_result_done(&res);
        spawn_remove_trees(o.runtime_dir, "bad");
        options_done(&o);
}

int main(void)
{
        int r = container_test_begin(dir, &mode);
        if (r >= 0)
                return r;
        cgroup_parent = xasprintf("/ccsup-test-spawn-%d", (int)getpid());
        if (!make_image())
                tap_diag("cannot build the image in %s", dir);
        runs();
        missing_command();
        (void)cgroup_remove_if_empty(CGROUP_ROOT_DEFAULT, mode, cgroup_parent);
        if (!container_test_end(dir))
                tap_diag("cannot remove %s", dir);
        free(cgroup_parent);
        return tap_done();
}
