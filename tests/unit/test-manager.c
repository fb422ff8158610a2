/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* supervisor/daemon: the manager and its control socket driven from the
 * test's own event loop, no ccsupd process. Three units in a unit
 * directory: a, b (Requires=a, After=a) and a bad one. The first reload
 * reports the bad one and starts a, then b, for real (busybox directory
 * image, as root). A client forked from the test talks to the control
 * socket as ccsupctl would: ListUnits, GetUnit of a unit that does not
 * exist (its error name), a connection that sends garbage (closed, the
 * manager unharmed: the next call works), StopUnit. Stopping a stops b
 * (Requires=); shutdown leaves no cgroup behind. */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "container-test.h"
#include "cgroup.h"
#include "control.h"
#include "manager.h"
#include "tap.h"
#include "util.h"

#define IFACE "org.ccsup.Manager1"
#define OBJ "/org/ccsup"
/* Services that end on SIGTERM, as real ones do: a PID 1 of its own
 * namespace has no default action for it. */
#define SERVICE "[Process]\nExec=/bin/sh -c 'trap \"exit 0\" TERM; sleep 60 & wait'\n"

static char dir[] = "/tmp/ccsup-test-manager.XXXXXX";
static char *socket_path;

static void write_unit(const char *name, const char *text)
{
        _cleanup_free_ char *path = xasprintf("%s/units/%s.unit", dir, name);

        if (write_file_atomic(path, text, strlen(text), 0644, false) < 0)
                tap_diag("cannot write %s", path);
}

static ServiceState state_of(Manager *m, const char *name)
{
        Unit *u = manager_get_unit(m, name);

        return u ? u->svc.state : _SERVICE_STATE_MAX;
}

/* Runs the loop until done(m) holds, at most 15 s; returns done(m). */
typedef bool (*Cond)(Manager *m);
static Manager *loop_manager;
static Cond loop_cond;

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)w;
        (void)revents;
        if (loop_cond(loop_manager))
                ev_break(loop, EVBREAK_ALL);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)w;
        (void)revents;
        ev_break(loop, EVBREAK_ALL);
}

static bool run_until(struct ev_loop *loop, Manager *m, Cond cond)
{
        ev_timer poll_timer, deadline;

        loop_manager = m;
        loop_cond = cond;
        ev_timer_init(&poll_timer, on_poll, 0.005, 0.005);
        ev_timer_init(&deadline, on_deadline, 15., 0.);
        ev_timer_start(loop, &poll_timer);
        ev_timer_start(loop, &deadline);
        if (!cond(m))
                ev_run(loop, 0);
        ev_timer_stop(loop, &poll_timer);
        ev_timer_stop(loop, &deadline);
        return cond(m);
}

static bool both_running(Manager *m)
{
        return state_of(m, "a") == SERVICE_RUNNING && state_of(m, "b") == SERVICE_RUNNING;
}

static bool both_stopped(Manager *m)
{
        return !service_state_is_active(state_of(m, "a")) && !service_state_is_active(state_of(m, "b"));
}

static bool idle(Manager *m)
{
        return manager_is_idle(m);
}

/* ------------------------------------------------------------------ the client */

enum {
        C_CONNECT,
        C_LIST,
        C_LIST_A_RUNNING,
        C_NO_SUCH_UNIT,
        C_GARBAGE_CLOSED,
        C_BAD_AUTH,
        C_AFTER_GARBAGE,
        C_STOP,
        C_MAX
};

static int list_units(sd_bus *bus, bool *ret_a_running)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name, *state, *result, *desc, *sub;
        uint32_t pid, restarts;
        uint64_t changed;
        int n = 0, r;

        if (sd_bus_call_method(bus, NULL, OBJ, IFACE, "ListUnits", &e, &reply, "") < 0 ||
            sd_bus_message_enter_container(reply, 'a', "(sssuutss)") < 0)
                return -1;
        while ((r = sd_bus_message_read(reply, "(sssuutss)", &name, &state, &result, &pid, &restarts, &changed, &desc,
                                        &sub)) > 0) {
                n++;
                if (ret_a_running && streq(name, "a"))
                        *ret_a_running = streq(state, "running") && pid > 0;
        }
        return r < 0 ? -1 : n;
}

static int connect_raw(void)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct timeval tv = { .tv_sec = 5 };

        strncpy(sa.sun_path, socket_path, sizeof(sa.sun_path) - 1);
        if (fd >= 0 && (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
                        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0))
                fd = safe_close(fd);
        return fd;
}

/* Sends what no D-Bus peer would (no leading NUL byte): the other end must
 * close the connection (EOF or a reset within 5 s). */
static bool garbage_closed(void)
{
        _cleanup_close_ int fd = connect_raw();
        const char junk[] = "GET / HTTP/1.0\r\n\r\n\xff\xfe";
        char buf[256];

        if (fd < 0 || write(fd, junk, sizeof(junk) - 1) != (ssize_t)sizeof(junk) - 1)
                return false;
        for (;;) {
                ssize_t k = read(fd, buf, sizeof(buf));
                if (k == 0 || (k < 0 && errno == ECONNRESET))
                        return true;
                if (k < 0)
                        return false; /* timeout: still open */
        }
}

/* An authentication mechanism nobody offers: refused, as the protocol
 * says (REJECTED with the mechanisms it knows). */
static bool bad_auth_rejected(void)
{
        _cleanup_close_ int fd = connect_raw();
        const char auth[] = "\0AUTH NO-SUCH-MECHANISM\r\n";
        char buf[256] = {};

        if (fd < 0 || write(fd, auth, sizeof(auth) - 1) != (ssize_t)sizeof(auth) - 1)
                return false;
        return read(fd, buf, sizeof(buf) - 1) > 0 && strncmp(buf, "REJECTED", 8) == 0;
}

static __attribute__((noreturn)) void client(int out_fd)
{
        _cleanup_free_ char *address = xasprintf("unix:path=%s", socket_path);
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int out[C_MAX] = {};
        sd_bus *bus = NULL;
        bool a_running = false;

        out[C_CONNECT] = sd_bus_new(&bus) >= 0 && sd_bus_set_address(bus, address) >= 0 && sd_bus_start(bus) >= 0;
        if (out[C_CONNECT]) {
                out[C_LIST] = list_units(bus, &a_running);
                out[C_LIST_A_RUNNING] = a_running;
                int r = sd_bus_call_method(bus, NULL, OBJ, IFACE, "GetUnit", &e, &reply, "s", "nope");
                out[C_NO_SUCH_UNIT] = r < 0 && sd_bus_error_has_name(&e, "org.ccsup.Error.NoSuchUnit");
                out[C_GARBAGE_CLOSED] = garbage_closed();
                out[C_BAD_AUTH] = bad_auth_rejected();
                out[C_AFTER_GARBAGE] = list_units(bus, NULL);
                sd_bus_error_free(&e);
                out[C_STOP] = sd_bus_call_method(bus, NULL, OBJ, IFACE, "StopUnit", &e, NULL, "sb", "a", true) >= 0;
        }
        _exit(write(out_fd, out, sizeof(out)) == sizeof(out) ? 0 : 1);
}

static void on_client(struct ev_loop *loop, ev_io *w, int revents)
{
        (void)revents;
        ev_io_stop(loop, w);
        ev_break(loop, EVBREAK_ALL);
}

/* Forks the client and runs the loop (the manager answers) until its
 * results are in. */
static bool run_client(struct ev_loop *loop, int got[C_MAX])
{
        int fds[2], st;
        ev_io io;
        ev_timer deadline;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return false;
        pid_t pid = fork();
        if (pid < 0)
                return false;
        if (pid == 0) {
                close(fds[0]);
                client(fds[1]);
        }
        close(fds[1]);
        ev_io_init(&io, on_client, fds[0], EV_READ);
        ev_io_start(loop, &io);
        ev_timer_init(&deadline, on_deadline, 20., 0.);
        ev_timer_start(loop, &deadline);
        ev_run(loop, 0);
        ev_io_stop(loop, &io);
        ev_timer_stop(loop, &deadline);
        ssize_t n = read(fds[0], got, sizeof(int) * C_MAX);
        close(fds[0]);
        if (n != (ssize_t)(sizeof(int) * C_MAX))
                (void)kill(pid, SIGKILL);
        return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
               n == (ssize_t)(sizeof(int) * C_MAX);
}

/* ------------------------------------------------------------------ the test */

static void test(CgroupMode mode, const char *cgroup_parent)
{
        _cleanup_free_ char *units = xasprintf("%s/units", dir), *runtime = xasprintf("%s/runtime", dir);
        _cleanup_free_ char *state = xasprintf("%s/state", dir), *logs = xasprintf("%s/log", dir);
        _cleanup_free_ char *image = xasprintf("%s/image", dir);
        char *unit_path[] = { units, NULL };
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
        ReloadChange *changes = NULL;
        size_t n_changes = 0;
        Manager *m = NULL;
        Control *ctl = NULL;
        int got[C_MAX] = {};

        if (mkdir(units, 0755) < 0 || mkdir(runtime, 0755) < 0 || mkdir(state, 0755) < 0 || mkdir(logs, 0755) < 0)
                tap_diag("cannot make the directories in %s", dir);
        _cleanup_free_ char *a = xasprintf("[Image]\nImage=%s\n" SERVICE, image);
        _cleanup_free_ char *b = xasprintf("[Unit]\nRequires=a\nAfter=a\n[Image]\nImage=%s\n" SERVICE, image);
        write_unit("a", a);
        write_unit("b", b);
        write_unit("bad", "[Process]\nNoSuchKey=1\n");

        ManagerOptions mo = {
                .unit_path = unit_path,
                .runtime_dir = runtime,
                .state_dir = state,
                .log_dir = logs,
                .cgroup_root = CGROUP_ROOT_DEFAULT,
                .cgroup_mode = mode,
                .cgroup_parent = cgroup_parent,
        };
        int r = manager_new(loop, &mo, &m);
        ok(r == 0, "manager_new: %s", r == 0 ? "ok" : strerror(-r));
        if (r < 0)
                return ev_loop_destroy(loop);
        r = control_new(m, socket_path, &ctl);
        ok(r == 0, "control socket at %s: %s", socket_path, r == 0 ? "listening" : strerror(-r));

        r = manager_reload(m, &changes, &n_changes);
        ok(r == 0 && n_changes == 1 && streq(changes[0].name, "bad") && streq(changes[0].what, "bad"),
           "the first load reports only the bad unit (%zu change(s))", n_changes);
        reload_changes_free(changes, n_changes);
        Unit *bad = manager_get_unit(m, "bad");
        _cleanup_free_ char *errors = bad && bad->load_errors ? strv_join(bad->load_errors, "; ") : NULL;
        ok(errors && strstr(errors, "NoSuchKey"), "its errors name the unknown key: %s", errors ? errors : "(none)");

        ok(run_until(loop, m, both_running), "a and b run");
        Unit *ua = manager_get_unit(m, "a"), *ub = manager_get_unit(m, "b");
        ok(ua && ub && ua->started_realtime <= ub->started_realtime, "b (After=a) started after a");
        ok(ub && ub->run.pid > 0 && unit_cgroup_path(ub), "b has a PID and a cgroup (%s)",
           ub && unit_cgroup_path(ub) ? unit_cgroup_path(ub) : "none");

        ok(run_client(loop, got), "a client of the control socket ran");
        ok(got[C_CONNECT], "  it connects");
        is_int(got[C_LIST], 3, "  ListUnits: three units");
        ok(got[C_LIST_A_RUNNING], "  ListUnits: a running, with its PID");
        ok(got[C_NO_SUCH_UNIT], "  GetUnit of a unit that does not exist: org.ccsup.Error.NoSuchUnit");
        ok(got[C_GARBAGE_CLOSED], "  a connection sending garbage is closed");
        ok(got[C_BAD_AUTH], "  an unknown authentication mechanism is rejected");
        is_int(got[C_AFTER_GARBAGE], 3, "  the next ListUnits still answers");
        ok(got[C_STOP], "  StopUnit a");
        ok(run_until(loop, m, both_stopped), "stopping a stopped b too (Requires=a)");

        manager_shutdown(m);
        ok(run_until(loop, m, idle), "shutdown: nothing active");
        control_free(ctl);
        manager_free(m);
        ev_loop_destroy(loop);
        r = cgroup_remove_if_empty(CGROUP_ROOT_DEFAULT, mode, cgroup_parent);
        ok(r == 0 || r == -ENOENT, "no cgroup is left below %s", cgroup_parent);
}

int main(void)
{
        CgroupMode mode;
        int r = container_test_begin(dir, &mode);
        if (r >= 0)
                return r;
        _cleanup_free_ char *image = xasprintf("%s/image", dir);
        _cleanup_free_ char *cgroup_parent = xasprintf("/ccsup-test-manager-%d", (int)getpid());
        socket_path = xasprintf("%s/control", dir);
        if (!busybox_image(image))
                tap_diag("cannot build the image in %s", image);
        test(mode, cgroup_parent);
        if (!container_test_end(dir))
                tap_diag("cannot remove %s", dir);
        free(socket_path);
        return tap_done();
}
