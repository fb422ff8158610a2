/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ccsup-runtime: ccsup's launcher as an OCI runtime, with runc's command
 * line, for podman, containerd and friends. config.json is mapped onto the
 * launch plan of a unit (lib/spawn-oci.c); this file is the command line and
 * the container state under --root/ID:
 *
 *   state.json   id, pid, its start time, bundle, cgroup, annotations
 *                (written to a temporary file and renamed)
 *   exec.fifo    while created: the container's setup waits in an open
 *                of it for writing; `start` opens it for reading
 *   staging/     the launcher's staging directory (empty on the host)
 *   staging.trees/  with a user namespace: the mount points where the
 *                container's setup attaches its root and bind sources
 *                (then --root, ID and these are 0711: its root reaches
 *                them by path)
 *   seccomp.json linux.seccomp, for the profile loader
 *
 * The hooks of config.json: prestart, createRuntime, createContainer and
 * startContainer are run by the launcher (lib/spawn.c); poststart and
 * poststop here, from the copy of `hooks` that state.json keeps (what the
 * bundle says after create does not count).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/socket.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "parse.h"
#include "runtime-scope.h"
#include "self-exe.h"
#include "spawn-oci.h"
#include "spawn.h"
#include "util.h"

#define OCI_VERSION SPAWN_OCI_VERSION
#define ID_MAX 1024
#define CONFIG_MAX (16 * 1024 * 1024)
#define CGROUP_PARENT_DEFAULT "/ccsup-runtime"

static const char *arg_root = "/run/ccsup-runtime";
static bool arg_systemd_cgroup;
static const char *arg_log;
static bool arg_log_json;

/* ---- messages: stderr, and --log (text or runc's JSON lines) ---- */

static void log_line(const char *level, const char *msg)
{
        FILE *f;

        if (!arg_log)
                return;
        f = fopen(arg_log, "ae");
        if (!f)
                return;
        if (arg_log_json) {
                json_object *o = json_object_new_object();
                char t[64];
                struct timespec ts;
                struct tm tm;

                clock_gettime(CLOCK_REALTIME, &ts);
                gmtime_r(&ts.tv_sec, &tm);
                strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
                json_object_object_add(o, "level", json_object_new_string(level));
                json_object_object_add(o, "msg", json_object_new_string(msg));
                json_object_object_add(o, "time", json_object_new_string(t));
                fprintf(f, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else {
                fprintf(f, "%s: %s\n", level, msg);
        }
        fclose(f);
}

/* MSG on stderr (a warning says so) and in the --log file at LEVEL. */
static void report(const char *level, const char *fmt, va_list ap)
{
        _cleanup_free_ char *m = xvasprintf(fmt, ap);

        fprintf(stderr, "ccsup-runtime: %s%s\n", streq(level, "warning") ? "warning: " : "", m);
        log_line(level, m);
}

static void warn_out(const char *fmt, ...) _printf_(1, 2);
static void warn_out(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        report("warning", fmt, ap);
        va_end(ap);
}

static int error_out(const char *fmt, ...) _printf_(1, 2);
static int error_out(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        report("error", fmt, ap);
        va_end(ap);
        return 1;
}

/* ---- ids and the state directory ---- */

static bool id_is_valid(const char *id)
{
        size_t n = strlen(id);

        if (n == 0 || n > ID_MAX || streq(id, ".") || streq(id, ".."))
                return false;
        for (const char *s = id; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                      strchr("_+-.", *s)))
                        return false;
        return true;
}

static char *state_dir(const char *id)
{
        return path_join(arg_root, id);
}

static char *state_file(const char *id, const char *name)
{
        _cleanup_free_ char *d = state_dir(id);
        return path_join(d, name);
}

/* Field 22 of /proc/PID/stat: tells a PID from its reuse. 0 when gone (or
 * a zombie: it has stopped). */
static uint64_t pid_start_time(pid_t pid)
{
        _cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int)pid), *text = NULL;
        const char *state, *start;
        size_t n;

        if (pid <= 0 || read_full_file(path, 4096, &text, &n) < 0)
                return 0;
        state = proc_stat_field(text, 3);
        if (!state || *state == 'Z' || *state == 'X')
                return 0;
        start = proc_stat_field(text, 22);
        return start ? strtoull(start, NULL, 10) : 0;
}

/* The state file and --pid-file: whole or not at all. */
static int write_atomic(const char *path, const char *text)
{
        return write_file_atomic(path, text, strlen(text), 0600, false);
}

typedef struct State {
        char *id, *bundle, *created, *cgroup;
        char *hooks; /* config.json's `hooks` as JSON text; NULL: none */
        CgroupMode cgroup_mode;
        pid_t pid;
        uint64_t start_time;
        json_object *annotations;
        bool owned_cgroup_parent; /* the default parent: removed with the last container */
        char *systemd_unit;       /* --systemd-cgroup: the scope, stopped at delete */
} State;

static void state_done(State *s)
{
        free(s->id);
        free(s->bundle);
        free(s->created);
        free(s->cgroup);
        free(s->hooks);
        free(s->systemd_unit);
        json_object_put(s->annotations);
        *s = (State){};
}

static int state_save(const State *s)
{
        _cleanup_free_ char *path = state_file(s->id, "state.json");
        json_object *o = json_object_new_object();
        int r;

        json_object_object_add(o, "id", json_object_new_string(s->id));
        json_object_object_add(o, "pid", json_object_new_int(s->pid));
        json_object_object_add(o, "startTime", json_object_new_uint64(s->start_time));
        json_object_object_add(o, "bundle", json_object_new_string(s->bundle));
        json_object_object_add(o, "created", json_object_new_string(s->created));
        json_object_object_add(o, "cgroupPath", json_object_new_string(s->cgroup));
        json_object_object_add(o, "cgroupMode", json_object_new_int((int)s->cgroup_mode));
        json_object_object_add(o, "ownedCgroupParent", json_object_new_boolean(s->owned_cgroup_parent));
        json_object_object_add(o, "annotations",
                               s->annotations ? json_object_get(s->annotations) : json_object_new_object());
        if (s->hooks)
                json_object_object_add(o, "hooks", json_object_new_string(s->hooks));
        if (s->systemd_unit)
                json_object_object_add(o, "systemdUnit", json_object_new_string(s->systemd_unit));
        r = write_atomic(path, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return r;
}

static const char *jstr(json_object *o, const char *key)
{
        json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v) : NULL;
}

/* 1 when loaded, 0 when there is no such container, <0 on a broken state. */
static int state_load(const char *id, State *ret)
{
        _cleanup_free_ char *path = NULL, *text = NULL;
        json_object *o, *v;
        size_t n;
        int r;

        if (!id_is_valid(id))
                return 0;
        path = state_file(id, "state.json");
        r = read_full_file(path, 1 << 20, &text, &n);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        o = json_tokener_parse(text);
        if (!o || !jstr(o, "id") || !jstr(o, "bundle") || !jstr(o, "cgroupPath")) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = (State){
                .id = xstrdup(jstr(o, "id")),
                .bundle = xstrdup(jstr(o, "bundle")),
                .created = xstrdup(jstr(o, "created") ? jstr(o, "created") : ""),
                .cgroup = xstrdup(jstr(o, "cgroupPath")),
                .hooks = jstr(o, "hooks") ? xstrdup(jstr(o, "hooks")) : NULL,
                .systemd_unit = jstr(o, "systemdUnit") ? xstrdup(jstr(o, "systemdUnit")) : NULL,
        };
        if (json_object_object_get_ex(o, "pid", &v))
                ret->pid = json_object_get_int(v);
        if (json_object_object_get_ex(o, "startTime", &v))
                ret->start_time = json_object_get_uint64(v);
        if (json_object_object_get_ex(o, "cgroupMode", &v))
                ret->cgroup_mode = (CgroupMode)json_object_get_int(v);
        if (json_object_object_get_ex(o, "ownedCgroupParent", &v))
                ret->owned_cgroup_parent = json_object_get_boolean(v);
        if (json_object_object_get_ex(o, "annotations", &v))
                ret->annotations = json_object_get(v);
        json_object_put(o);
        return 1;
}

static bool state_alive(const State *s)
{
        return s->pid > 0 && pid_start_time(s->pid) == s->start_time;
}

static const char *state_status(const State *s)
{
        _cleanup_free_ char *fifo = NULL;
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;

        if (!state_alive(s))
                return "stopped";
        fifo = state_file(s->id, "exec.fifo");
        if (access(fifo, F_OK) == 0)
                return "created";
        /* runc's extra status, which podman and containerd read. */
        if (cgroup_open(CGROUP_ROOT_DEFAULT, s->cgroup_mode, s->cgroup, &cg) >= 0 && cgroup_is_frozen(cg) > 0)
                return "paused";
        return "running";
}

static json_object *state_json(const State *s)
{
        json_object *o = json_object_new_object();
        const char *status = state_status(s);

        json_object_object_add(o, "ociVersion", json_object_new_string(OCI_VERSION));
        json_object_object_add(o, "id", json_object_new_string(s->id));
        json_object_object_add(o, "status", json_object_new_string(status));
        json_object_object_add(o, "pid", json_object_new_int(streq(status, "stopped") ? 0 : s->pid));
        json_object_object_add(o, "bundle", json_object_new_string(s->bundle));
        json_object_object_add(o, "created", json_object_new_string(s->created));
        json_object_object_add(o, "annotations",
                               s->annotations ? json_object_get(s->annotations) : json_object_new_object());
        return o;
}

/* poststart (fatal: the caller stops the container) or poststop (each
 * failure a warning, the others run all the same) from the state's copy of
 * config.json's hooks. */
static int run_state_hooks(const State *s, SpawnHookKind k, const char *status)
{
        _cleanup_free_ char *err = NULL;
        SpawnHooks h = {};
        json_object *o;
        const char *state;
        int r, ret = 0;

        if (!s->hooks)
                return 0;
        r = spawn_oci_parse_hooks(s->hooks, strlen(s->hooks), &h, &err);
        if (r < 0) {
                warn_out("hooks of `%s`: %s", s->id, err ? err : strerror(-r));
                return r;
        }
        o = state_json(s);
        json_object_object_add(o, "status", json_object_new_string(status));
        state = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        for (size_t i = 0; i < h.n[k]; i++) {
                _cleanup_free_ char *why = NULL;

                r = spawn_run_hook(&h.list[k][i], state, &why);
                if (r >= 0)
                        continue;
                if (k != SPAWN_HOOK_POSTSTOP) {
                        error_out("`hooks.%s[%zu]` `%s`: %s", spawn_hook_kind_to_string(k), i,
                                  h.list[k][i].path, why);
                        ret = r;
                        break;
                }
                warn_out("`hooks.%s[%zu]` `%s`: %s", spawn_hook_kind_to_string(k), i, h.list[k][i].path, why);
        }
        json_object_put(o);
        spawn_hooks_done(&h);
        return ret;
}

/* config.json's hooks object as text, for the state; NULL: none. */
static char *config_hooks(const char *data)
{
        json_object *doc = json_tokener_parse(data), *v;
        char *t = NULL;

        if (doc && json_object_object_get_ex(doc, "hooks", &v) && json_object_is_type(v, json_type_object))
                t = xstrdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(doc);
        return t;
}

/* Removes the state directory and what is in it (no subdirectories but
 * the empty staging directory and, with a user namespace, the mount points
 * of staging.trees). */
static void remove_state_dir(const char *id)
{
        static const char *const files[] = { "state.json", "state.json.tmp", "exec.fifo",
                                             "seccomp.json", "seccomp.json.tmp" };
        _cleanup_free_ char *d = state_dir(id), *staging = path_join(d, "staging"),
                            *trees = path_join(d, "staging.trees");

        spawn_remove_tree_dir(trees);

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *f = path_join(d, files[i]);
                (void)unlink(f);
        }
        (void)rmdir(staging);
        (void)rmdir(d);
}

/* Kills what is left in the cgroup and removes it (and the default
 * parent when it is empty). */
static int destroy_cgroup(const char *path, CgroupMode mode, bool owned_parent)
{
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        int r = cgroup_open(CGROUP_ROOT_DEFAULT, mode, path, &cg);

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        for (int i = 0; i < 1000; i++) {
                r = cgroup_reap(cg);
                if (r != -EAGAIN && r != -EBUSY)
                        break;
                usleep(2000);
        }
        if (r >= 0 && owned_parent)
                (void)cgroup_remove_parent(cg);
        return r;
}

/* ---- create and run ---- */

typedef struct CreateArgs {
        const char *bundle, *pid_file, *console_socket;
        unsigned preserve_fds;
        bool detach;
} CreateArgs;

static char *now_rfc3339(void)
{
        struct timespec ts;
        struct tm tm;
        char t[64];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
        return xasprintf("%s.%09ldZ", t, ts.tv_nsec);
}

static json_object *config_annotations(const char *data, size_t size)
{
        json_object *doc = json_tokener_parse(data), *a = NULL, *v;

        (void)size;
        if (doc && json_object_object_get_ex(doc, "annotations", &v) &&
            json_object_is_type(v, json_type_object))
                a = json_object_get(v);
        json_object_put(doc);
        return a;
}

/* Waits for the child's word on the sync socket: 1 created (waiting for
 * start), 0 executed, <0 failed (*ret_error). */
static int wait_setup(int sync_fd, char **ret_error)
{
        for (;;) {
                struct pollfd pfd = { .fd = sync_fd, .events = POLLIN };
                int r;

                if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                        return -errno;
                r = spawn_read_result(sync_fd, ret_error);
                if (r != -EAGAIN)
                        return r;
        }
}

/* --console-socket: connected, for the pty's master; -1 (said) on failure. */
static int console_connect(const char *path)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                error_out("--console-socket `%s`: path too long", path);
                return -1;
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                error_out("--console-socket `%s`: %s", path, strerror(errno));
                safe_close(fd);
                return -1;
        }
        return fd;
}

static int do_create(const char *id, const CreateArgs *a, bool run)
{
        _cleanup_free_ char *dir = NULL, *config_path = NULL, *data = NULL, *fifo = NULL,
                            *staging = NULL, *seccomp = NULL, *cache = NULL, *error = NULL;
        _cleanup_(spawn_plan_freep) SpawnPlan *plan = NULL;
        _cleanup_close_ int fifo_fd = -1, console_fd = -1;
        SpawnResult res = { .pid = 0, .pidfd = -1, .sync_fd = -1 };
        State st = {};
        CgroupMode mode;
        const char *unit = NULL, *slice = NULL, *unified = NULL;
        pid_t keeper = -1;
        char bundle[PATH_MAX];
        size_t size;
        int r, ret = 1;

        if (!id_is_valid(id))
                return error_out("invalid container id `%.64s%s`: 1 to %d characters of [A-Za-z0-9_+.-], not . or ..",
                                 id, strlen(id) > 64 ? "…" : "", ID_MAX);
        if (!realpath(a->bundle ? a->bundle : ".", bundle))
                return error_out("bundle `%s`: %s", a->bundle ? a->bundle : ".", strerror(errno));
        config_path = path_join(bundle, "config.json");
        r = read_full_file(config_path, CONFIG_MAX, &data, &size);
        if (r < 0)
                return error_out("%s: %s", config_path, strerror(-r));
        r = cgroup_detect_mode(CGROUP_ROOT_DEFAULT, &mode);
        if (r < 0)
                return error_out("cgroup hierarchy under %s: %s", CGROUP_ROOT_DEFAULT, strerror(-r));

        r = mkdir_p(arg_root, 0700);
        if (r < 0)
                return error_out("--root `%s`: %s", arg_root, strerror(-r));
        dir = state_dir(id);
        if (mkdir(dir, 0700) < 0) {
                if (errno == EEXIST)
                        return error_out("container `%s` already exists", id);
                return error_out("%s: %s", dir, strerror(errno));
        }
        /* From here on, a failure removes what was made. */
        staging = path_join(dir, "staging");
        seccomp = path_join(dir, "seccomp.json");
        fifo = path_join(dir, "exec.fifo");
        cache = path_join(arg_root, ".cache");
        if (mkdir(staging, 0700) < 0) {
                error_out("%s: %s", staging, strerror(errno));
                goto fail;
        }
        if (!run) {
                int f;

                /* Writable for the container's user, whoever it is: only
                 * reached through the fd (the directory is 0700). */
                if (mkfifo(fifo, 0600) < 0 || chmod(fifo, 0622) < 0) {
                        error_out("%s: %s", fifo, strerror(errno));
                        goto fail;
                }
                f = open(fifo, O_PATH | O_CLOEXEC);
                /* Above the fds the container gets as they are. */
                fifo_fd = f >= 0 ? fcntl(f, F_DUPFD_CLOEXEC, 3 + (int)a->preserve_fds) : -1;
                safe_close(f);
                if (fifo_fd < 0) {
                        error_out("%s: %s", fifo, strerror(errno));
                        goto fail;
                }
        }

        if (a->console_socket && (console_fd = console_connect(a->console_socket)) < 0)
                goto fail;
        SpawnOciOptions o = {
                .id = id,
                .console_fd = console_fd,
                .bundle = bundle,
                .staging = staging,
                .cache_dir = cache,
                .seccomp_path = seccomp,
                .cgroup_root = CGROUP_ROOT_DEFAULT,
                .cgroup_mode = mode,
                .cgroup_parent = CGROUP_PARENT_DEFAULT,
                .start_fd = fifo_fd,
                .n_preserve_fds = a->preserve_fds,
                .stdio = { 0, 1, 2 },
                .userns_top = arg_root,
                .systemd_cgroup = arg_systemd_cgroup,
        };
        r = spawn_prepare_oci(data, size, &o, &plan, &error);
        if (r < 0) {
                error_out("%s", error ? error : strerror(-r));
                goto fail;
        }
        STRV_FOREACH(w, spawn_plan_warnings(plan))
                log_line("warning", *w);
        (void)unlink(seccomp);
        if ((unit = spawn_plan_systemd_scope(plan, &slice))) {
                _cleanup_free_ char *cg = NULL;

                unified = mode == CGROUP_MODE_V2 ? CGROUP_ROOT_DEFAULT
                          : mode == CGROUP_MODE_HYBRID ? CGROUP_ROOT_DEFAULT "/unified" : NULL;
                r = runtime_scope_start(unit, slice, id, unified, &cg, &keeper, &error);
                if (r < 0) {
                        error_out("%s", error);
                        goto fail;
                }
                spawn_plan_set_cgroup_path(plan, cg);
        }

        st = (State){
                .id = xstrdup(id),
                .bundle = xstrdup(bundle),
                .created = now_rfc3339(),
                .cgroup = xstrdup(spawn_plan_cgroup_path(plan)),
                .cgroup_mode = mode,
                .annotations = config_annotations(data, size),
                .hooks = spawn_plan_hooks(plan) ? config_hooks(data) : NULL,
                .systemd_unit = unit ? xstrdup(unit) : NULL,
        };
        {
                _cleanup_free_ char *want = xasprintf("%s/%s", CGROUP_PARENT_DEFAULT, id);
                st.owned_cgroup_parent = streq(st.cgroup, want);
        }

        r = spawn_container(plan, &res, &error);
        if (r < 0) {
                error_out("%s", error ? error : strerror(-r));
                goto fail_cgroup;
        }
        r = wait_setup(res.sync_fd, &error);
        /* The container holds its scope now (or failed). */
        runtime_scope_keeper_done(keeper, unified, st.cgroup);
        keeper = -1;
        if (r < 0) {
                error_out("%s", error ? error : strerror(-r));
                (void)waitid(P_PIDFD, res.pidfd, NULL, WEXITED);
                goto fail_cgroup;
        }
        st.pid = res.pid;
        st.start_time = pid_start_time(res.pid);
        r = state_save(&st);
        if (r < 0) {
                error_out("state of `%s`: %s", id, strerror(-r));
                goto fail_kill;
        }
        if (a->pid_file) {
                _cleanup_free_ char *t = xasprintf("%d", (int)res.pid);
                r = write_atomic(a->pid_file, t);
                if (r < 0) {
                        error_out("--pid-file `%s`: %s", a->pid_file, strerror(-r));
                        goto fail_kill;
                }
        }
        if (run && run_state_hooks(&st, SPAWN_HOOK_POSTSTART, "running") < 0)
                goto fail_kill;
        if (!run || a->detach) {
                spawn_result_done(&res);
                state_done(&st);
                return 0;
        }

        /* run: the container's life, then what delete does. */
        {
                siginfo_t si = {};

                while (waitid(P_PIDFD, res.pidfd, &si, WEXITED) < 0 && errno == EINTR)
                        ;
                ret = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
                (void)destroy_cgroup(st.cgroup, mode, st.owned_cgroup_parent);
                if (st.systemd_unit)
                        runtime_scope_stop(st.systemd_unit);
                remove_state_dir(id);
                (void)run_state_hooks(&st, SPAWN_HOOK_POSTSTOP, "stopped");
                spawn_result_done(&res);
                state_done(&st);
                return ret;
        }

fail_kill:
        (void)pidfd_send_signal(res.pidfd, SIGKILL, NULL, 0);
        (void)waitid(P_PIDFD, res.pidfd, NULL, WEXITED);
fail_cgroup:
        runtime_scope_keeper_done(keeper, unified, st.cgroup);
        if (st.cgroup)
                (void)destroy_cgroup(st.cgroup, mode, st.owned_cgroup_parent);
        if (st.systemd_unit)
                runtime_scope_stop(st.systemd_unit);
        if (res.pidfd >= 0)
                spawn_result_done(&res);
fail:
        remove_state_dir(id);
        /* The runtime-spec's lifecycle after a failed hook: destroyed, then
         * the poststop hooks (only once something was created). */
        (void)run_state_hooks(&st, SPAWN_HOOK_POSTSTOP, "stopped");
        state_done(&st);
        return ret;
}

/* ---- the other commands ---- */

static int load_or_fail(const char *id, State *st);

static int do_exec(const char *id, const CreateArgs *a, const char *process, char **args, bool tty)
{
        _cleanup_(state_done) State st = {};
        _cleanup_free_ char *config_path = NULL, *data = NULL, *proc = NULL, *error = NULL,
                            *seccomp = NULL, *staging = NULL, *cache = NULL;
        _cleanup_(spawn_plan_freep) SpawnPlan *plan = NULL;
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        _cleanup_close_ int pidfd = -1, console_fd = -1;
        size_t size, psize = 0;
        int r;

        if (load_or_fail(id, &st) < 0)
                return 1;
        if (a->console_socket && (console_fd = console_connect(a->console_socket)) < 0)
                return 1;
        if (!streq(state_status(&st), "running"))
                return error_out("cannot exec in container `%s`: it is %s", id, state_status(&st));
        if (!process && !args)
                return error_out("exec: needs --process=FILE or a command");
        config_path = path_join(st.bundle, "config.json");
        r = read_full_file(config_path, CONFIG_MAX, &data, &size);
        if (r < 0)
                return error_out("%s: %s", config_path, strerror(-r));
        if (process) {
                r = read_full_file(process, CONFIG_MAX, &proc, &psize);
                if (r < 0)
                        return error_out("--process `%s`: %s", process, strerror(-r));
        }
        seccomp = state_file(id, "seccomp.json");
        staging = state_file(id, "staging");
        cache = path_join(arg_root, ".cache");
        SpawnOciOptions o = {
                .id = id,
                .bundle = st.bundle,
                .staging = staging,
                .cache_dir = cache,
                .seccomp_path = seccomp,
                .cgroup_root = CGROUP_ROOT_DEFAULT,
                .cgroup_mode = st.cgroup_mode,
                .cgroup_parent = CGROUP_PARENT_DEFAULT,
                .start_fd = -1,
                .console_fd = console_fd,
                .exec_terminal = tty,
                .systemd_cgroup = arg_systemd_cgroup,
                .n_preserve_fds = a->preserve_fds,
                .stdio = { 0, 1, 2 },
        };
        r = spawn_prepare_oci_exec(data, size, proc, psize, args, &o, &plan, &error);
        (void)unlink(seccomp);
        if (r < 0)
                return error_out("%s", error ? error : strerror(-r));
        pidfd = pidfd_open(st.pid, 0);
        if (pidfd < 0 || !state_alive(&st))
                return error_out("container `%s` is not running", id);
        r = cgroup_open(CGROUP_ROOT_DEFAULT, st.cgroup_mode, st.cgroup, &cg);
        if (r < 0)
                return error_out("cgroup `%s`: %s", st.cgroup, strerror(-r));
        SpawnExecTarget t = { .pidfd = pidfd, .pid = st.pid, .cgroup = cg };
        char *const *argv = NULL;
        /* the plan's own argv */
        argv = spawn_plan_argv(plan);
        if (a->detach) {
                pid_t pid;

                r = spawn_exec_detached(plan, &t, argv, o.stdio, &pid, &error);
                if (r < 0)
                        return error_out("%s", error ? error : strerror(-r));
                if (a->pid_file) {
                        _cleanup_free_ char *txt = xasprintf("%d", (int)pid);
                        r = write_atomic(a->pid_file, txt);
                        if (r < 0)
                                return error_out("--pid-file `%s`: %s", a->pid_file, strerror(-r));
                }
                return 0;
        }
        {
                SpawnExec e = { .pidfd = -1, .sync_fd = -1 };
                SpawnExecEnd end = {};
                int code;

                r = spawn_exec(plan, &t, argv, o.stdio, &e, &error);
                if (r < 0)
                        return error_out("%s", error ? error : strerror(-r));
                if (a->pid_file) {
                        _cleanup_free_ char *txt = xasprintf("%d", (int)e.pid);
                        (void)write_atomic(a->pid_file, txt);
                }
                for (;;) {
                        struct pollfd pfd = { .fd = e.pidfd, .events = POLLIN };

                        if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                                break;
                        r = spawn_exec_finish(&e, &end);
                        if (r != -EAGAIN)
                                break;
                }
                if (end.error < 0)
                        error_out("%s", end.message ? end.message : strerror(-end.error));
                code = spawn_exec_end_code(&end);
                spawn_exec_end_done(&end);
                spawn_exec_done(&e);
                return code;
        }
}

static int load_or_fail(const char *id, State *st)
{
        int r = state_load(id, st);

        if (r == 0) {
                error_out("container `%.64s` does not exist", id);
                return -ENOENT;
        }
        if (r < 0) {
                error_out("state of `%s`: %s", id, strerror(-r));
                return r;
        }
        return 0;
}

static int do_start(const char *id)
{
        _cleanup_(state_done) State st = {};
        _cleanup_free_ char *fifo = NULL;
        _cleanup_close_ int fd = -1;
        char b[PIPE_BUF + 1];
        ssize_t n = 0;

        if (load_or_fail(id, &st) < 0)
                return 1;
        if (!streq(state_status(&st), "created"))
                return error_out("cannot start container `%s`: it is %s, not created", id, state_status(&st));
        fifo = state_file(id, "exec.fifo");
        fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return error_out("%s: %s", fifo, strerror(errno));
        /* The writer, blocked in its open, now has its reader: wait for its
         * word while it lives: "0", or "1" and why its startContainer hooks
         * failed (one write). */
        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };

                if (poll(&pfd, 1, 100) > 0 && (n = read(fd, b, sizeof(b) - 1)) > 0)
                        break;
                if (!state_alive(&st))
                        return error_out("container `%s` ended before it started", id);
        }
        (void)unlink(fifo);
        if (b[0] != '0' || run_state_hooks(&st, SPAWN_HOOK_POSTSTART, "running") < 0) {
                _cleanup_close_ int pidfd = pidfd_open(st.pid, 0);

                b[n] = 0;
                if (b[0] != '0')
                        error_out("start `%s`: %s", id, n > 1 ? b + 1 : "container setup failed");
                /* The lifecycle goes on at delete: the container is stopped. */
                if (pidfd >= 0 && state_alive(&st)) {
                        (void)pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                        for (int i = 0; i < 500 && state_alive(&st); i++)
                                usleep(2000);
                }
                return 1;
        }
        return 0;
}

static int do_state(const char *id)
{
        _cleanup_(state_done) State st = {};
        json_object *o;

        if (load_or_fail(id, &st) < 0)
                return 1;
        o = state_json(&st);
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return 0;
}

static int do_kill(const char *id, const char *signame, bool all)
{
        _cleanup_(state_done) State st = {};
        int sig = signame ? parse_signal(signame) : SIGTERM;

        if (sig <= 0)
                return error_out("invalid signal `%s`", signame);
        if (load_or_fail(id, &st) < 0)
                return 1;
        if (all) {
                _cleanup_(cgroup_freep) Cgroup *cg = NULL;
                int r = cgroup_open(CGROUP_ROOT_DEFAULT, st.cgroup_mode, st.cgroup, &cg);

                if (r >= 0)
                        r = cgroup_signal_all(cg, sig);
                if (r < 0 && r != -ENOENT)
                        return error_out("kill --all `%s`: %s", id, strerror(-r));
                return 0;
        }
        if (!state_alive(&st))
                return error_out("container `%s` is not running", id);
        {
                _cleanup_close_ int pidfd = pidfd_open(st.pid, 0);

                /* Opened first, checked after: the pidfd cannot be a reused PID. */
                if (pidfd < 0 || !state_alive(&st))
                        return error_out("container `%s` is not running", id);
                if (pidfd_send_signal(pidfd, sig, NULL, 0) < 0)
                        return error_out("kill `%s`: %s", id, strerror(errno));
        }
        return 0;
}

/* pause: every process of the container frozen (its cgroup's freezer);
 * resume: thawed. Only a running container pauses, only a paused one
 * resumes, as runc has it. */
static int do_pause(const char *id, bool pause)
{
        _cleanup_(state_done) State st = {};
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        const char *status;
        int r;

        if (load_or_fail(id, &st) < 0)
                return 1;
        status = state_status(&st);
        if (!streq(status, pause ? "running" : "paused"))
                return error_out("container `%s` is %s, not %s", id, status, pause ? "running" : "paused");
        r = cgroup_open(CGROUP_ROOT_DEFAULT, st.cgroup_mode, st.cgroup, &cg);
        if (r >= 0)
                r = cgroup_freeze(cg, pause);
        if (r == -EOPNOTSUPP)
                return error_out("%s `%s`: no freezer (cgroup2 cgroup.freeze or the v1 freezer hierarchy)",
                                 pause ? "pause" : "resume", id);
        if (r < 0)
                return error_out("%s `%s`: %s", pause ? "pause" : "resume", id, strerror(-r));
        return 0;
}

/* update --resources=FILE|- ID: a linux.resources object for the cgroup of
 * a created, running or paused container. */
static int do_update(const char *id, const char *resources)
{
        _cleanup_(state_done) State st = {};
        _cleanup_free_ char *data = NULL, *err = NULL;
        size_t n;
        int r;

        if (!resources)
                return error_out("update: needs --resources=FILE (- for standard input); "
                                 "the single-value options of runc are not supported");
        if (load_or_fail(id, &st) < 0)
                return 1;
        if (!state_alive(&st))
                return error_out("container `%s` is not running", id);
        r = streq(resources, "-") ? read_full_fd(STDIN_FILENO, 1 << 20, &data, &n)
                                  : read_full_file(resources, 1 << 20, &data, &n);
        if (r < 0)
                return error_out("update: %s: %s", streq(resources, "-") ? "standard input" : resources,
                                 strerror(-r));
        r = spawn_oci_update(data, n, CGROUP_ROOT_DEFAULT, st.cgroup_mode, st.cgroup, &err);
        if (r < 0)
                return error_out("update `%s`: %s", id, err ? err : strerror(-r));
        return 0;
}

static int do_delete(const char *id, bool force)
{
        _cleanup_(state_done) State st = {};
        int r;

        r = state_load(id, &st);
        if (r == 0)
                return force ? 0 : error_out("container `%.64s` does not exist", id);
        if (r < 0)
                return error_out("state of `%s`: %s", id, strerror(-r));
        if (state_alive(&st) && !force)
                return error_out("cannot delete container `%s`: it is %s (use --force)", id,
                                 state_status(&st));
        r = destroy_cgroup(st.cgroup, st.cgroup_mode, st.owned_cgroup_parent);
        if (r < 0)
                return error_out("cgroup `%s` of `%s`: %s", st.cgroup, id, strerror(-r));
        if (st.systemd_unit)
                runtime_scope_stop(st.systemd_unit);
        remove_state_dir(id);
        (void)run_state_hooks(&st, SPAWN_HOOK_POSTSTOP, "stopped");
        return 0;
}

/* The PIDs of the container's cgroup (its cgroup2 directory, else its
 * first v1 hierarchy), as runc ps --format json prints them. */
static int do_ps(const char *id, bool json)
{
        _cleanup_(state_done) State st = {};
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        _cleanup_free_ char *path = NULL, *text = NULL;
        json_object *arr;
        size_t n;
        int r;

        if (load_or_fail(id, &st) < 0)
                return 1;
        r = cgroup_open(CGROUP_ROOT_DEFAULT, st.cgroup_mode, st.cgroup, &cg);
        if (r >= 0 && !cg->unified && !(cg->v1 && cg->v1[0]))
                r = -ENOENT;
        if (r < 0)
                return error_out("cgroup `%s` of `%s`: %s", st.cgroup, id, strerror(-r));
        path = path_join(cg->unified ? cg->unified : cg->v1[0], "cgroup.procs");
        r = read_full_file(path, 16 * 1024 * 1024, &text, &n);
        if (r < 0)
                return error_out("%s: %s", path, strerror(-r));
        if (!json) {
                printf("PID\n%s", text);
                return 0;
        }
        arr = json_object_new_array();
        for (char *l = strtok(text, "\n"); l; l = strtok(NULL, "\n"))
                json_object_array_add(arr, json_object_new_int(atoi(l)));
        printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
        json_object_put(arr);
        return 0;
}

static int do_list(bool json)
{
        _cleanup_(strv_freep) char **ids = NULL;
        json_object *arr = json_object_new_array();
        DIR *d = opendir(arg_root);
        struct dirent *de;

        while (d && (de = readdir(d)))
                if (de->d_name[0] != '.' && id_is_valid(de->d_name))
                        strv_add(&ids, de->d_name);
        if (d)
                closedir(d);
        strv_sort(ids);
        if (!json)
                printf("%-24s %-8s %-10s %-40s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
        STRV_FOREACH(i, ids) {
                _cleanup_(state_done) State st = {};
                json_object *o;

                if (state_load(*i, &st) <= 0)
                        continue;
                o = state_json(&st);
                if (json)
                        json_object_array_add(arr, o);
                else {
                        printf("%-24s %-8d %-10s %-40s %s\n", st.id, streq(state_status(&st), "stopped") ? 0 : st.pid,
                               state_status(&st), st.bundle, st.created);
                        json_object_put(o);
                }
        }
        if (json)
                printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(arr);
        return 0;
}

static int do_features(void)
{
        static const char *const ns[] = { "cgroup", "ipc", "mount", "network", "pid", "user", "uts" };
        static const char *const mount_opts[] = { "bind", "rbind", "ro", "rw", "nosuid", "noexec",
                                                  "nodev", "suid", "exec", "private", "rprivate",
                                                  "relatime", "noatime", "strictatime", "nodiratime",
                                                  "atime", "diratime", "tmpcopyup" };
        json_object *o = json_object_new_object(), *l = json_object_new_object(),
                    *a, *cg = json_object_new_object(), *sc = json_object_new_object();

        json_object_object_add(o, "ociVersionMin", json_object_new_string("1.0.0"));
        json_object_object_add(o, "ociVersionMax", json_object_new_string(OCI_VERSION));
        a = json_object_new_array();
        for (int k = 0; k < _SPAWN_HOOK_MAX; k++)
                json_object_array_add(a, json_object_new_string(spawn_hook_kind_to_string(k)));
        json_object_object_add(o, "hooks", a);
        a = json_object_new_array();
        for (size_t i = 0; i < ELEMENTSOF(mount_opts); i++)
                json_object_array_add(a, json_object_new_string(mount_opts[i]));
        json_object_object_add(o, "mountOptions", a);
        a = json_object_new_array();
        for (size_t i = 0; i < ELEMENTSOF(ns); i++)
                json_object_array_add(a, json_object_new_string(ns[i]));
        json_object_object_add(l, "namespaces", a);
        a = json_object_new_array();
        for (int i = 0; i <= capability_last(); i++)
                if (capability_to_string(i))
                        json_object_array_add(a, json_object_new_string(capability_to_string(i)));
        json_object_object_add(l, "capabilities", a);
        json_object_object_add(cg, "v1", json_object_new_boolean(true));
        json_object_object_add(cg, "v2", json_object_new_boolean(true));
        json_object_object_add(cg, "systemd", json_object_new_boolean(true));
        json_object_object_add(cg, "systemdUser", json_object_new_boolean(false));
        json_object_object_add(l, "cgroup", cg);
        json_object_object_add(sc, "enabled", json_object_new_boolean(true));
        json_object_object_add(l, "seccomp", sc);
        a = json_object_new_object();
        json_object_object_add(a, "enabled", json_object_new_boolean(false));
        json_object_object_add(l, "apparmor", a);
        a = json_object_new_object();
        json_object_object_add(a, "enabled", json_object_new_boolean(false));
        json_object_object_add(l, "selinux", a);
        json_object_object_add(o, "linux", l);
        a = json_object_new_object();
        json_object_object_add(a, "org.ccsup.version", json_object_new_string(PACKAGE_VERSION));
        json_object_object_add(o, "annotations", a);
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return 0;
}

/* runc spec's example, as far as ccsup-runtime honours it (no terminal). */
static const char spec_template[] =
        "{\n"
        "  \"ociVersion\": \"" OCI_VERSION "\",\n"
        "  \"process\": {\n"
        "    \"terminal\": false,\n"
        "    \"user\": { \"uid\": 0, \"gid\": 0 },\n"
        "    \"args\": [ \"sh\" ],\n"
        "    \"env\": [ \"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\", \"TERM=xterm\" ],\n"
        "    \"cwd\": \"/\",\n"
        "    \"capabilities\": {\n"
        "      \"bounding\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ],\n"
        "      \"effective\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ],\n"
        "      \"permitted\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ]\n"
        "    },\n"
        "    \"rlimits\": [ { \"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024 } ],\n"
        "    \"noNewPrivileges\": true\n"
        "  },\n"
        "  \"root\": { \"path\": \"rootfs\", \"readonly\": true },\n"
        "  \"hostname\": \"ccsup\",\n"
        "  \"mounts\": [\n"
        "    { \"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\" },\n"
        "    { \"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": [ \"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\" ] },\n"
        "    { \"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\", \"options\": [ \"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", \"gid=5\" ] },\n"
        "    { \"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\", \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\" ] },\n"
        "    { \"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\", \"options\": [ \"nosuid\", \"noexec\", \"nodev\" ] },\n"
        "    { \"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\", \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"ro\" ] },\n"
        "    { \"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\", \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\" ] }\n"
        "  ],\n"
        "  \"linux\": {\n"
        "    \"resources\": { \"devices\": [ { \"allow\": false, \"access\": \"rwm\" } ] },\n"
        "    \"namespaces\": [ { \"type\": \"pid\" }, { \"type\": \"network\" }, { \"type\": \"ipc\" }, { \"type\": \"uts\" }, { \"type\": \"mount\" }, { \"type\": \"cgroup\" } ],\n"
        "    \"maskedPaths\": [ \"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\", \"/proc/latency_stats\", \"/proc/timer_list\", \"/proc/timer_stats\", \"/proc/sched_debug\", \"/sys/firmware\", \"/proc/scsi\" ],\n"
        "    \"readonlyPaths\": [ \"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\", \"/proc/sysrq-trigger\" ]\n"
        "  }\n"
        "}\n";

static int do_spec(const char *bundle)
{
        _cleanup_free_ char *path = path_join(bundle ? bundle : ".", "config.json");
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

        if (fd < 0)
                return error_out("%s: %s", path, strerror(errno));
        if (write(fd, spec_template, sizeof(spec_template) - 1) != (ssize_t)sizeof(spec_template) - 1) {
                int e = errno;
                close(fd);
                (void)unlink(path);
                return error_out("%s: %s", path, strerror(e));
        }
        close(fd);
        return 0;
}

static void help(void)
{
        printf("ccsup-runtime [--root=DIR] [--log=FILE] [--log-format=text|json] [--systemd-cgroup] COMMAND\n"
               "  create [--bundle=DIR] [--pid-file=FILE] [--preserve-fds=N] ID\n"
               "  start ID | run [create's options] [--detach] ID | state ID\n"
               "  exec [--process=FILE] [--detach] [--pid-file=FILE] [--tty] [--console-socket=PATH] ID [CMD...]\n"
               "  ps [--format=json] ID\n"
               "  kill [--all] ID [SIGNAL] | delete [--force] ID | list [--format=json]\n"
               "  pause ID | resume ID | update --resources=FILE|- ID\n"
               "  features | spec [--bundle=DIR] | --version\n"
               "config.json hooks run: prestart, createRuntime (create, runtime namespaces),\n"
               "createContainer (create, container namespaces), startContainer (start, in the\n"
               "container), poststart (start), poststop (delete); see ccsup-runtime(8)\n"
               "--systemd-cgroup: linux.cgroupsPath SLICE:PREFIX:NAME is systemd's transient scope\n"
               "PREFIX-NAME.scope (Delegate=yes), the container in its container/ leaf\n");
}

int main(int argc, char **argv)
{
        enum { ARG_ROOT = 0x100, ARG_LOG, ARG_LOG_FORMAT, ARG_DEBUG, ARG_SYSTEMD_CGROUP, ARG_VERSION };
        static const struct option global[] = {
                { "root", required_argument, NULL, ARG_ROOT },
                { "log", required_argument, NULL, ARG_LOG },
                { "log-format", required_argument, NULL, ARG_LOG_FORMAT },
                { "debug", no_argument, NULL, ARG_DEBUG },
                { "systemd-cgroup", no_argument, NULL, ARG_SYSTEMD_CGROUP },
                { "version", no_argument, NULL, ARG_VERSION },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        static const struct option cmd_opts[] = {
                { "bundle", required_argument, NULL, 'b' },
                { "pid-file", required_argument, NULL, 'p' },
                { "console-socket", required_argument, NULL, 'c' },
                { "preserve-fds", required_argument, NULL, 'P' },
                { "no-pivot", no_argument, NULL, 'N' },
                { "no-new-keyring", no_argument, NULL, 'K' },
                { "detach", no_argument, NULL, 'd' },
                { "force", no_argument, NULL, 'f' },
                { "all", no_argument, NULL, 'a' },
                { "format", required_argument, NULL, 'F' },
                { "process", required_argument, NULL, 'X' },
                { "tty", no_argument, NULL, 't' },
                { "cwd", required_argument, NULL, 'C' },
                { "env", required_argument, NULL, 'e' },
                { "resources", required_argument, NULL, 'r' },
                {}
        };
        char **orig_argv = argv;
        CreateArgs ca = {};
        bool force = false, all = false, json = false, tty = false;
        const char *process = NULL, *resources = NULL;
        const char *cmd;
        int c;

        while ((c = getopt_long(argc, argv, "+h", global, NULL)) >= 0)
                switch (c) {
                case ARG_ROOT:
                        arg_root = optarg;
                        break;
                case ARG_LOG:
                        arg_log = optarg;
                        break;
                case ARG_LOG_FORMAT:
                        if (!streq(optarg, "json") && !streq(optarg, "text"))
                                return error_out("--log-format=%s: text or json", optarg);
                        arg_log_json = streq(optarg, "json");
                        break;
                case ARG_DEBUG:
                        break;
                case ARG_SYSTEMD_CGROUP:
                        arg_systemd_cgroup = true;
                        break;
                case ARG_VERSION:
                        printf("ccsup-runtime version %s\nspec: %s\n", PACKAGE_VERSION, OCI_VERSION);
                        return 0;
                case 'h':
                        help();
                        return 0;
                default:
                        return 1;
                }
        if (optind >= argc) {
                help();
                return 1;
        }
        if (!path_is_absolute(arg_root))
                return error_out("--root `%s`: must be an absolute path", arg_root);
        cmd = argv[optind];
        argc -= optind;
        argv += optind;
        optind = 1;
        while ((c = getopt_long(argc, argv, "+b:dfate:r:", cmd_opts, NULL)) >= 0)
                switch (c) {
                case 'b':
                        ca.bundle = optarg;
                        break;
                case 'p':
                        ca.pid_file = optarg;
                        break;
                case 'c':
                        ca.console_socket = optarg;
                        break;
                case 'P': {
                        uint32_t n;
                        if (parse_uint32(optarg, &n) < 0 || n > SPAWN_LISTEN_MAX)
                                return error_out("--preserve-fds=%s: a number up to %d", optarg, SPAWN_LISTEN_MAX);
                        ca.preserve_fds = n;
                        break;
                }
                case 'N':
                case 'K':
                        break;
                case 'd':
                        ca.detach = true;
                        break;
                case 'f':
                        force = true;
                        break;
                case 'a':
                        all = true;
                        break;
                case 'F':
                        json = streq(optarg, "json");
                        break;
                case 'X':
                        process = optarg;
                        break;
                case 'r':
                        resources = optarg;
                        break;
                case 't':
                        tty = true;
                        break;
                case 'C':
                case 'e':
                        return error_out("exec --cwd/--env: not supported; use --process");
                default:
                        return 1;
                }
        if (streq(cmd, "features"))
                return do_features();
        if (streq(cmd, "spec"))
                return do_spec(ca.bundle);
        if (streq(cmd, "list"))
                return do_list(json);
        if (optind >= argc)
                return error_out("%s: needs a container id", cmd);
        if (streq(cmd, "create") || streq(cmd, "run")) {
                /* No path of the container's may reach the binary on disk
                 * (CVE-2019-5736): run from a sealed copy. */
                self_exe_seal(orig_argv);
                return do_create(argv[optind], &ca, streq(cmd, "run"));
        }
        if (streq(cmd, "exec")) {
                self_exe_seal(orig_argv);
                return do_exec(argv[optind], &ca, process,
                               optind + 1 < argc ? argv + optind + 1 : NULL, tty);
        }
        if (streq(cmd, "start"))
                return do_start(argv[optind]);
        if (streq(cmd, "state"))
                return do_state(argv[optind]);
        if (streq(cmd, "ps"))
                return do_ps(argv[optind], json);
        if (streq(cmd, "kill"))
                return do_kill(argv[optind], optind + 1 < argc ? argv[optind + 1] : NULL, all);
        if (streq(cmd, "delete"))
                return do_delete(argv[optind], force);
        if (streq(cmd, "update"))
                return do_update(argv[optind], resources);
        if (streq(cmd, "pause") || streq(cmd, "resume"))
                return do_pause(argv[optind], streq(cmd, "pause"));
        return error_out("unknown command `%s`", cmd);
}
