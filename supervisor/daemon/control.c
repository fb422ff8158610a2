/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "control.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-bus.h>

#include "bridge.h"
#include "exec.h"
#include "health.h"
#include "log.h"
#include "pid1.h"
#include "registry-calls.h"
#include "unit-template.h"
#include "userns.h"
#include "util.h"

#define ERROR_NO_SUCH_UNIT "org.ccsup.Error.NoSuchUnit"
#define ERROR_BAD_UNIT "org.ccsup.Error.BadUnit"
#define ERROR_NOT_RUNNING "org.ccsup.Error.NotRunning"
#define ERROR_FAILED "org.ccsup.Error.Failed"
#define ERROR_NOT_PID1 "org.ccsup.Error.NotPid1"
#define ERROR_NO_SUCH_IMAGE "org.ccsup.Error.NoSuchImage"
#define ERROR_IMAGE_IN_USE "org.ccsup.Error.ImageInUse"
#define ERROR_BUSY "org.ccsup.Error.Busy"
/* Unit files larger than this are not sent by CatUnit. */
#define CAT_MAX (1024 * 1024)

typedef struct Connection Connection;

struct Connection {
        Control *control;
        sd_bus *bus;
        ev_io io;
        ev_timer timer;
        int events;
        uid_t uid;
        Connection *next;
};

/* A StartUnit/StopUnit/RestartUnit call waiting for its unit to settle. */
typedef struct Waiter {
        sd_bus_message *call;
        bool stop;
        struct Waiter *next;
} Waiter;

struct Control {
        Manager *m;
        int fd;
        char *path;
        ev_io accept_io;
        ev_prepare prepare;
        Connection *connections;
        sd_id128_t id;
        ExecCall *execs;           /* Exec calls whose command runs */
        RegistryCall *registry_calls; /* PullImage, AutoUpdate calls whose helper runs */
};

/* ------------------------------------------------------------------ helpers */

static bool peer_is_root(sd_bus_message *m)
{
        struct ucred cred;
        socklen_t l = sizeof(cred);
        int fd = sd_bus_get_fd(sd_bus_message_get_bus(m));

        /* SO_PEERCRED: what the kernel says about the peer, nothing it claims. */
        return fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) == 0 && cred.uid == 0;
}

static bool caller_is_root(sd_bus_message *m, sd_bus_error *error)
{
        if (peer_is_root(m))
                return true;
        sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                         "Access denied: only root may change what ccsupd runs");
        return false;
}

static Unit *find_unit(Manager *m, const char *name, sd_bus_error *error)
{
        Unit *u = manager_get_unit(m, name);

        if (!u || u->removed)
                sd_bus_error_setf(error, ERROR_NO_SUCH_UNIT, "unit `%s` not found", name);
        return u && !u->removed ? u : NULL;
}

/* For calls that change something: root only, and an existing unit. */
static int find_unit_as_root(sd_bus_message *call, Manager *m, const char *name, Unit **ret,
                             sd_bus_error *error)
{
        if (!caller_is_root(call, error))
                return -EACCES;
        *ret = find_unit(m, name, error);
        return *ret ? 0 : -ENOENT;
}

static int append_sv(sd_bus_message *r, const char *key, char type, const void *value)
{
        char sig[2] = { type, 0 };
        int k;

        if ((k = sd_bus_message_open_container(r, 'e', "sv")) < 0 ||
            (k = sd_bus_message_append_basic(r, 's', key)) < 0 ||
            (k = sd_bus_message_open_container(r, 'v', sig)) < 0 ||
            (k = sd_bus_message_append_basic(r, type, value)) < 0 ||
            (k = sd_bus_message_close_container(r)) < 0)
                return k;
        return sd_bus_message_close_container(r);
}

static int append_s(sd_bus_message *r, const char *key, const char *v)
{
        return v ? append_sv(r, key, 's', v) : 0;
}

static int append_u32(sd_bus_message *r, const char *key, uint32_t v)
{
        return append_sv(r, key, 'u', &v);
}

static int append_u64(sd_bus_message *r, const char *key, uint64_t v)
{
        return v == UINT64_MAX ? 0 : append_sv(r, key, 't', &v);
}

static int append_strv(sd_bus_message *r, const char *key, char **l)
{
        int k;

        if ((k = sd_bus_message_open_container(r, 'e', "sv")) < 0 ||
            (k = sd_bus_message_append_basic(r, 's', key)) < 0 ||
            (k = sd_bus_message_open_container(r, 'v', "as")) < 0 ||
            (k = sd_bus_message_append_strv(r, l)) < 0 ||
            (k = sd_bus_message_close_container(r)) < 0)
                return k;
        return sd_bus_message_close_container(r);
}

/* Whether the unit is ready (UNITS.md, Readiness): with Notify=yes after
 * READY=1 (and not reloading), else once its command runs. */
static bool unit_is_ready(const Unit *u)
{
        if (u->svc.state != SERVICE_RUNNING)
                return false;
        if (u->health && health_status(u->health) == HEALTH_STATUS_STARTING)
                return false; /* re-adopted: its checks just began */
        if (u->config && u->config->notify)
                return u->ready && !u->reloading;
        return u->exec_done || u->adopted;
}

/* Shown beside `running` for the units that report their readiness. */
static const char *unit_sub_state(const Unit *u)
{
        if (u->svc.state == SERVICE_STARTING && u->svc.held)
                return "held"; /* prelaunched: set up, its exec waits for its After= units */
        if (u->svc.state != SERVICE_RUNNING || !u->config)
                return "";
        if (u->config->notify && (u->stopping || u->reloading))
                return u->stopping ? "stopping" : "reloading";
        if (u->health && health_status(u->health) != HEALTH_STATUS_STARTING)
                return health_status_to_string(health_status(u->health));
        return u->config->notify && u->ready ? "ready" : "";
}

/* [Health]: the verdict of the current (or last) run's checks. */
static int append_health(sd_bus_message *r, const Unit *u)
{
        const HealthCheck *h = u->health;
        int k;

        if ((k = append_s(r, "Health", h ? health_status_to_string(health_status(h)) : "")) < 0)
                return k;
        if (!h || health_last_realtime(h) == 0)
                return 0;
        if ((k = append_s(r, "HealthOutput", health_last_output(h))) < 0 ||
            (k = append_s(r, "HealthLastResult", health_last_ok(h) ? "passed" : "failed")) < 0 ||
            (k = append_u64(r, "HealthCheckUSec", health_last_realtime(h))) < 0 ||
            (k = append_u64(r, "HealthChecks", health_count(h))) < 0)
                return k;
        return 0;
}

/* Mode=bridge: the addresses and ports of the running container. */
static int append_network(sd_bus_message *r, Unit *u)
{
        Bridge *b = u->manager->bridge;
        _cleanup_free_ char *a4 = bridge_unit_address(b, u->name, AF_INET);
        _cleanup_free_ char *a6 = bridge_unit_address(b, u->name, AF_INET6);
        _cleanup_free_ char *ports = bridge_unit_ports(b, u->name);
        int k;

        if ((k = append_s(r, "IPAddress", a4 ? a4 : "")) < 0 ||
            (k = append_s(r, "IPv6Address", a6 ? a6 : "")) < 0)
                return k;
        return append_s(r, "PublishedPorts", ports ? ports : "");
}

/* ------------------------------------------------------------------ waiters */

static bool waiter_settled(const Unit *u, const Waiter *w)
{
        if (w->stop)
                return !u->pending_stop && !service_state_is_active(u->svc.state);
        return !u->pending_start && u->svc.state != SERVICE_STARTING &&
               !(u->svc.state == SERVICE_STOPPING && u->svc.start_after_stop);
}

static void reply_settled(sd_bus_message *call, const Unit *u)
{
        (void)sd_bus_reply_method_return(call, "ss", service_state_to_string(u->svc.state),
                                         service_result_to_string(u->svc.result));
}

static void unit_check_waiters(Unit *u)
{
        Waiter **p = (Waiter **)&u->waiters;

        while (*p) {
                Waiter *w = *p;
                if (!waiter_settled(u, w)) {
                        p = &w->next;
                        continue;
                }
                reply_settled(w->call, u);
                sd_bus_message_unref(w->call);
                *p = w->next;
                free(w);
        }
}

static int wait_or_reply(sd_bus_message *call, Unit *u, bool stop, bool no_block)
{
        Waiter *w;

        if (no_block || waiter_settled(u, &(Waiter){ .stop = stop })) {
                reply_settled(call, u);
                return 1;
        }
        w = xcalloc(1, sizeof(*w));
        w->call = sd_bus_message_ref(call);
        w->stop = stop;
        w->next = u->waiters;
        u->waiters = w;
        return 1;
}

/* ------------------------------------------------------------------ methods */

static int method_list_units(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        Control *ctl = userdata;
        Manager *m = ctl->m;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(call, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sssuutss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                const char *desc = u->config && u->config->description ? u->config->description : "";
                if (u->removed && !service_state_is_active(u->svc.state))
                        continue;
                r = sd_bus_message_append(reply, "(sssuutss)", u->name,
                                          service_state_to_string(u->svc.state),
                                          service_result_to_string(u->svc.result),
                                          (uint32_t)(u->run.pid > 0 ? u->run.pid : 0),
                                          (uint32_t)u->svc.restarts, u->state_changed_realtime, desc,
                                          unit_sub_state(u));
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* Template= (the template an instance runs, "P@") and Instance= (what
 * follows the '@' of its name). */
static int append_template(sd_bus_message *r, const Unit *u)
{
        _cleanup_free_ char *t = unit_name_template(u->name);
        _cleanup_free_ char *file = t ? xasprintf("/%s.unit", t) : NULL;
        size_t lf = file ? strlen(file) : 0, lp = u->fragment_path ? strlen(u->fragment_path) : 0;
        bool runs_template = file && lp >= lf && streq(u->fragment_path + lp - lf, file);
        int k = append_s(r, "Template", runs_template ? t : "");
        if (k < 0)
                return k;
        return append_s(r, "Instance", unit_name_instance(u->name));
}

/* UIDRange=: BASE:COUNT of a unit with UserNamespace=, as recorded under
 * the state directory (userns.h). */
static int append_uid_range(sd_bus_message *r, const Unit *u)
{
        UsernsRange ur;
        _cleanup_free_ char *v = NULL;
        if (u->config && u->config->userns != USERNS_NO &&
            userns_range_read(u->manager->o.state_dir, u->name, &ur) >= 0)
                v = xasprintf("%u:%u", (unsigned)ur.base, (unsigned)ur.count);
        return append_s(r, "UIDRange", v ? v : "");
}

static int append_unit_properties(sd_bus_message *r, Unit *u)
{
        const UnitConfig *c = u->config;
        _cleanup_strv_free_ char **errors = strv_copy(u->load_errors);
        CgroupStats st;
        int k = 0;

        if (u->cycle_error)
                strv_add(&errors, u->cycle_error);
        unit_get_stats(u, &st);

        if ((k = append_s(r, "Name", u->name)) < 0 ||
            (k = append_s(r, "State", service_state_to_string(u->svc.state))) < 0 ||
            (k = append_s(r, "Result", service_result_to_string(u->svc.result))) < 0 ||
            (k = append_s(r, "SubState", unit_sub_state(u))) < 0 ||
            (k = append_s(r, "Ready", unit_is_ready(u) ? "yes" : "no")) < 0 ||
            (k = append_s(r, "StatusText", u->status_text)) < 0 ||
            (k = append_health(r, u)) < 0 ||
            (k = append_network(r, u)) < 0 ||
            (k = append_u32(r, "Restarts", u->svc.restarts)) < 0 ||
            (k = append_u64(r, "StateChangeUSec", u->state_changed_realtime)) < 0)
                return k;
        if (u->run.pid > 0 && (k = append_u32(r, "MainPID", (uint32_t)u->run.pid)) < 0)
                return k;
        if (u->status_errno > 0 && (k = append_u32(r, "StatusErrno", (uint32_t)u->status_errno)) < 0)
                return k;
        if (u->svc.state == SERVICE_WAITING) {
                uint64_t now = now_usec_monotonic();
                uint64_t left = u->svc.restart_at_usec > now ? u->svc.restart_at_usec - now : 0;
                if ((k = append_u64(r, "NextRestartUSec", left)) < 0 ||
                    (k = append_u64(r, "NextRestartAt", u->next_restart_realtime)) < 0)
                        return k;
        }
        if (u->svc.has_exit) {
                int32_t code = u->svc.exit_code;
                if (u->svc.exit_signal == 0 && (k = append_sv(r, "ExitCode", 'i', &code)) < 0)
                        return k;
                if (u->svc.exit_signal > 0 &&
                    (k = append_s(r, "ExitSignal", signal_to_string(u->svc.exit_signal))) < 0)
                        return k;
        }
        if (u->started_realtime && (k = append_u64(r, "StartedAt", u->started_realtime)) < 0)
                return k;
        /* ccsupctl stats: MEM-LIMIT (absent when unset or infinity). */
        if (c && c->memory_max != UNIT_UNSET && c->memory_max != UINT64_MAX &&
            (k = append_u64(r, "MemoryMax", c->memory_max)) < 0)
                return k;
        if (c && ((k = append_s(r, "Image", c->image)) < 0 ||
                  (k = append_s(r, "ImageDigest", u->image_digest)) < 0 ||
                  (k = append_s(r, "AutoUpdate", c->auto_update ? "registry" : "no")) < 0 ||
                  (k = append_u64(r, "StartTimeoutUSec", c->start_timeout_usec)) < 0 ||
                  (k = append_s(r, "Description", c->description)) < 0))
                return k;
        if ((k = append_s(r, "CgroupPath", unit_cgroup_path(u))) < 0 ||
            (k = append_u64(r, "MemoryCurrent", st.memory_current)) < 0 ||
            (k = append_u64(r, "MemoryPeak", st.memory_peak)) < 0 ||
            (k = append_u64(r, "TasksCurrent", st.tasks_current)) < 0 ||
            (k = append_u64(r, "CPUUsageNSec", st.cpu_usage_nsec)) < 0 ||
            (k = append_s(r, "FragmentPath", u->fragment_path)) < 0 ||
            (k = append_strv(r, "DropIns", u->dropin_paths)) < 0 ||
            (k = append_template(r, u)) < 0 ||
            (k = append_uid_range(r, u)) < 0 ||
            (k = append_strv(r, "LoadErrors", errors)) < 0 ||
            (k = append_s(r, "StartError", u->start_error)) < 0)
                return k;
        if (c) {
                LogTarget t = unit_log_target(u);
                _cleanup_free_ char *log = xasprintf("%s/%s.log", u->manager->o.log_dir, u->name);
                if ((k = append_s(r, "LogTarget", log_target_to_string(t))) < 0 ||
                    (t == LOG_TARGET_FILE && (k = append_s(r, "LogPath", log)) < 0))
                        return k;
        }
        return 0;
}

static int method_get_unit(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        Control *ctl = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name;
        Unit *u;
        int r;

        r = sd_bus_message_read(call, "s", &name);
        if (r < 0)
                return r;
        u = find_unit(ctl->m, name, error);
        if (!u)
                return -ENOENT;
        r = sd_bus_message_new_method_return(call, &reply);
        if (r < 0)
                return r;
        if ((r = sd_bus_message_open_container(reply, 'a', "{sv}")) < 0 ||
            (r = append_unit_properties(reply, u)) < 0 ||
            (r = sd_bus_message_close_container(reply)) < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_manager(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        Control *ctl = userdata;
        Manager *m = ctl->m;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        unsigned counts[_SERVICE_STATE_MAX];
        int r;

        manager_count_states(m, counts);
        r = sd_bus_message_new_method_return(call, &reply);
        if (r < 0)
                return r;
        if ((r = sd_bus_message_open_container(reply, 'a', "{sv}")) < 0 ||
            (r = append_s(reply, "Version", PACKAGE_VERSION)) < 0 ||
            (r = append_s(reply, "CgroupMode", cgroup_mode_to_string(m->o.cgroup_mode))) < 0 ||
            (r = append_s(reply, "CgroupPath", m->o.cgroup_parent)) < 0 ||
            (r = append_strv(reply, "UnitPath", m->o.unit_path)) < 0 ||
            (r = append_s(reply, "StateDirectory", m->o.state_dir)) < 0 ||
            (r = append_u32(reply, "NUnits", (uint32_t)m->n_units)) < 0)
                return r;
        if ((r = sd_bus_message_open_container(reply, 'e', "sv")) < 0 ||
            (r = sd_bus_message_append_basic(reply, 's', "Units")) < 0 ||
            (r = sd_bus_message_open_container(reply, 'v', "a{su}")) < 0 ||
            (r = sd_bus_message_open_container(reply, 'a', "{su}")) < 0)
                return r;
        for (int s = 0; s < _SERVICE_STATE_MAX; s++)
                if ((r = sd_bus_message_append(reply, "{su}", service_state_to_string(s),
                                               (uint32_t)counts[s])) < 0)
                        return r;
        if ((r = sd_bus_message_close_container(reply)) < 0 ||
            (r = sd_bus_message_close_container(reply)) < 0 ||
            (r = sd_bus_message_close_container(reply)) < 0 ||
            (r = sd_bus_message_close_container(reply)) < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int append_file(sd_bus_message *reply, const char *path)
{
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_full_file(path, CAT_MAX, &text, NULL);
        if (r < 0)
                text = xasprintf("# (cannot be read: %s)\n", strerror(-r));
        return sd_bus_message_append(reply, "(ss)", path, text);
}

static int method_cat_unit(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        Control *ctl = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name;
        Unit *u;
        int r;

        r = sd_bus_message_read(call, "s", &name);
        if (r < 0)
                return r;
        /* Unit files may hold secrets (Environment=): root only, whatever their mode. */
        if (!peer_is_root(call))
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "Access denied: only root may read unit files");
        u = find_unit(ctl->m, name, error);
        if (!u)
                return -ENOENT;
        r = sd_bus_message_new_method_return(call, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ss)");
        if (r < 0)
                return r;
        if (u->fragment_path && (r = append_file(reply, u->fragment_path)) < 0)
                return r;
        STRV_FOREACH(d, u->dropin_paths)
                if ((r = append_file(reply, *d)) < 0)
                        return r;
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

typedef enum JobKind { JOB_START, JOB_STOP, JOB_RESTART } JobKind;

static int do_job(sd_bus_message *call, Control *ctl, JobKind kind, sd_bus_error *error)
{
        const char *name;
        int no_block, r;
        Unit *u;

        r = sd_bus_message_read(call, "sb", &name, &no_block);
        if (r < 0)
                return r;
        r = find_unit_as_root(call, ctl->m, name, &u, error);
        if (r < 0)
                return r;
        switch (kind) {
        case JOB_START:
                r = manager_start_unit(ctl->m, u);
                break;
        case JOB_STOP:
                r = manager_stop_unit(ctl->m, u);
                break;
        case JOB_RESTART:
                r = manager_restart_unit(ctl->m, u);
                break;
        }
        if (r == -EINVAL)
                return sd_bus_error_setf(error, ERROR_BAD_UNIT, "unit `%s` is %s", name,
                                         service_state_to_string(u->svc.state));
        if (r < 0)
                return sd_bus_error_setf(error, ERROR_FAILED, "unit `%s`: %s", name, strerror(-r));
        /* The unit may have been freed by a dispatch (removed units): look again. */
        u = manager_get_unit(ctl->m, name);
        if (!u)
                return sd_bus_error_setf(error, ERROR_NO_SUCH_UNIT, "unit `%s` was removed", name);
        return wait_or_reply(call, u, kind == JOB_STOP, no_block);
}

static int method_start_unit(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        return do_job(call, userdata, JOB_START, error);
}

static int method_stop_unit(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        return do_job(call, userdata, JOB_STOP, error);
}

static int method_restart_unit(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        return do_job(call, userdata, JOB_RESTART, error);
}

static int method_kill_unit(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        Control *ctl = userdata;
        const char *name;
        int32_t sig;
        Unit *u;
        int r;

        r = sd_bus_message_read(call, "si", &name, &sig);
        if (r < 0)
                return r;
        r = find_unit_as_root(call, ctl->m, name, &u, error);
        if (r < 0)
                return r;
        if (sig <= 0 || sig > SIGRTMAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "invalid signal number %d", (int)sig);
        r = manager_kill_unit(ctl->m, u, sig);
        if (r == -ESRCH)
                return sd_bus_error_setf(error, ERROR_NOT_RUNNING, "unit `%s` is not running", name);
        if (r < 0)
                return sd_bus_error_setf(error, ERROR_FAILED, "kill `%s`: %s", name, strerror(-r));
        return sd_bus_reply_method_return(call, "");
}

static int method_reset_unit(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        Control *ctl = userdata;
        const char *name;
        Unit *u;
        int r;

        r = sd_bus_message_read(call, "s", &name);
        if (r < 0)
                return r;
        r = find_unit_as_root(call, ctl->m, name, &u, error);
        if (r < 0)
                return r;
        (void)manager_reset_unit(ctl->m, u);
        return sd_bus_reply_method_return(call, "");
}

static int method_reload(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        Control *ctl = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        ReloadChange *changes = NULL;
        size_t n = 0;
        int r;

        if (!caller_is_root(call, error))
                return -EACCES;
        log_msg(LOG_INFO, "reloading (requested over the control socket)");
        r = manager_reload(ctl->m, &changes, &n);
        if (r < 0)
                return sd_bus_error_setf(error, ERROR_FAILED, "reload: %s", strerror(-r));
        r = sd_bus_message_new_method_return(call, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(ss)");
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = sd_bus_message_append(reply, "(ss)", changes[i].name, changes[i].what);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        reload_changes_free(changes, n);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* Halt, PowerOff, Reboot: the reply goes out first, then every container
 * stops and the system ends (supervisor/daemon/pid1.h). */
static int method_shutdown(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        const char *member = sd_bus_message_get_member(call);
        Pid1Action a = streq(member, "Halt") ? PID1_HALT : streq(member, "PowerOff") ? PID1_POWEROFF
                                                                                     : PID1_REBOOT;
        int r;

        if (!caller_is_root(call, error))
                return -EACCES;
        if (!pid1_enabled())
                return sd_bus_error_setf(error, ERROR_NOT_PID1,
                                         "ccsupd is not PID 1 (it runs as PID %d): %s is only "
                                         "for an appliance booted into ccsupd; use the system's own",
                                         (int)getpid(), pid1_action_to_string(a));
        r = sd_bus_reply_method_return(call, "");
        (void)pid1_request(a, "over the control socket");
        return r;
}

/* Reexec: the reply goes out (flushed) first, then ccsupd execve()s itself
 * from its loop; ccsupctl waits for the new one on the socket. */
static int method_reexec(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        Control *ctl = userdata;
        int r;

        if (!caller_is_root(call, error))
                return -EACCES;
        if (!ctl->m->reexec_cb)
                return sd_bus_error_setf(error, ERROR_FAILED, "daemon-reexec is not available");
        r = manager_prepare_reexec(ctl->m);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, ERROR_FAILED,
                                         "a container is starting or stopping; try again when settled");
        if (r < 0)
                return sd_bus_error_setf(error, ERROR_FAILED, "daemon-reexec: %s", strerror(-r));
        r = sd_bus_reply_method_return(call, "");
        if (r < 0)
                return r;
        (void)sd_bus_flush(sd_bus_message_get_bus(call));
        exec_calls_abort(&ctl->execs);
        registry_calls_abort(&ctl->registry_calls);
        ctl->m->reexec_cb(ctl->m);
        return 0;
}

/* Exec: the reply (the command's exit status) waits for its end (exec.h). */
static int method_exec(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        Control *ctl = userdata;
        _cleanup_strv_free_ char **argv = NULL;
        const char *name;
        int stdio[3], r;
        Unit *u;

        if ((r = sd_bus_message_read(call, "s", &name)) < 0 ||
            (r = sd_bus_message_read_strv(call, &argv)) < 0 ||
            (r = sd_bus_message_read(call, "hhh", &stdio[0], &stdio[1], &stdio[2])) < 0)
                return r;
        r = find_unit_as_root(call, ctl->m, name, &u, error);
        if (r < 0)
                return r;
        if (!argv || !argv[0] || !argv[0][0])
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "no command given");
        if (u->svc.state != SERVICE_RUNNING || u->run.pidfd < 0 || !u->run.cgroup)
                return sd_bus_error_setf(error, ERROR_NOT_RUNNING, "unit `%s` is not running (state: %s)",
                                         name, service_state_to_string(u->svc.state));
        return exec_call_start(&ctl->execs, ctl->m, u, argv, stdio, call, error);
}

/* RemoveImage: the check for containers that use the image and the removal
 * are one step of the loop (manager_remove_image()), so that no launch
 * comes in between; ccsupctl tries again on Busy. */
static int method_remove_image(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        Control *ctl = userdata;
        _cleanup_free_ char *msg = NULL;
        const char *ref;
        int r;

        r = sd_bus_message_read(call, "s", &ref);
        if (r < 0)
                return r;
        if (!caller_is_root(call, error))
                return -EACCES;
        r = manager_remove_image(ctl->m, ref, &msg);
        if (r >= 0)
                return sd_bus_reply_method_return(call, "u", (uint32_t)r);
        return sd_bus_error_setf(error,
                                 r == -ENOENT    ? ERROR_NO_SUCH_IMAGE
                                 : r == -ETXTBSY ? ERROR_IMAGE_IN_USE
                                 : r == -EBUSY   ? ERROR_BUSY
                                                 : ERROR_FAILED,
                                 "%s", msg ? msg : strerror(-r));
}

/* PullImage and AutoUpdate: in a helper each (registry-calls.h). */
static int method_pull_image(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        Control *ctl = userdata;
        const char *ref, *platform;
        int r;

        if ((r = sd_bus_message_read(call, "ss", &ref, &platform)) < 0)
                return r;
        if (!caller_is_root(call, error))
                return -EACCES;
        return registry_call_pull(&ctl->registry_calls, ctl->m->loop, ctl->m->o.state_dir, ref, platform, call,
                                  error);
}

static int method_auto_update(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        Control *ctl = userdata;
        _cleanup_strv_free_ char **units = NULL;
        int dry_run, r;

        if ((r = sd_bus_message_read_strv(call, &units)) < 0 || (r = sd_bus_message_read(call, "b", &dry_run)) < 0)
                return r;
        if (!caller_is_root(call, error))
                return -EACCES;
        STRV_FOREACH(u, units)
                if (!manager_get_unit(ctl->m, *u))
                        return sd_bus_error_setf(error, ERROR_NO_SUCH_UNIT, "no unit `%s`", *u);
        return registry_call_auto_update(&ctl->registry_calls, ctl->m->loop, ctl->path, ctl->m->o.state_dir, units,
                                         dry_run, call, error);
}

/* StateDirectory: absolute, so that a client anywhere finds the store. */
static int property_state_directory(sd_bus *bus, const char *path, const char *interface,
                                    const char *property, sd_bus_message *reply, void *userdata,
                                    sd_bus_error *error)
{
        Control *ctl = userdata;
        _cleanup_free_ char *abs = realpath(ctl->m->o.state_dir, NULL);

        return sd_bus_message_append(reply, "s", abs ? abs : ctl->m->o.state_dir);
}

static int property_version(sd_bus *bus, const char *path, const char *interface,
                            const char *property, sd_bus_message *reply, void *userdata,
                            sd_bus_error *error)
{
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int method_hello(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        return sd_bus_reply_method_return(call, "s", ":1.1");
}

static int method_add_match(sd_bus_message *call, void *userdata, sd_bus_error *error)
{
        /* Peer to peer: every signal reaches every peer anyway. */
        return sd_bus_reply_method_return(call, "");
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ListUnits", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(sssuutss)", units),
                                method_list_units, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetUnit", SD_BUS_ARGS("s", name), SD_BUS_RESULT("a{sv}", properties),
                                method_get_unit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetManager", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", properties),
                                method_get_manager, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CatUnit", SD_BUS_ARGS("s", name), SD_BUS_RESULT("a(ss)", files),
                                method_cat_unit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StartUnit", SD_BUS_ARGS("s", name, "b", no_block),
                                SD_BUS_RESULT("s", state, "s", result), method_start_unit,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("StopUnit", SD_BUS_ARGS("s", name, "b", no_block),
                                SD_BUS_RESULT("s", state, "s", result), method_stop_unit,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RestartUnit", SD_BUS_ARGS("s", name, "b", no_block),
                                SD_BUS_RESULT("s", state, "s", result), method_restart_unit,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("KillUnit", SD_BUS_ARGS("s", name, "i", signal), SD_BUS_NO_RESULT,
                                method_kill_unit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ResetUnit", SD_BUS_ARGS("s", name), SD_BUS_NO_RESULT,
                                method_reset_unit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(ss)", changes),
                                method_reload, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reexec", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reexec,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Exec", SD_BUS_ARGS("s", name, "as", argv, "h", stdin, "h", stdout, "h", stderr),
                                SD_BUS_RESULT("i", status), method_exec, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Halt", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_shutdown,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PowerOff", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_shutdown,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reboot", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_shutdown,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveImage", SD_BUS_ARGS("s", ref), SD_BUS_RESULT("u", removed),
                                method_remove_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PullImage", SD_BUS_ARGS("s", ref, "s", platform), SD_BUS_RESULT("s", digest),
                                method_pull_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("AutoUpdate", SD_BUS_ARGS("as", units, "b", dry_run),
                                SD_BUS_RESULT("a(ssss)", results, "as", messages), method_auto_update,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_PROPERTY("StateDirectory", "s", property_state_directory, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Version", "s", property_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_SIGNAL_WITH_ARGS("UnitChanged",
                                SD_BUS_ARGS("s", name, "s", state, "s", result, "s", sub_state, "u", main_pid,
                                            "u", restarts, "t", timestamp),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("Reloaded", SD_BUS_ARGS("a(ss)", changes, "t", timestamp), 0),
        SD_BUS_SIGNAL_WITH_ARGS("HealthChanged", SD_BUS_ARGS("s", name, "s", health, "s", output, "t", timestamp),
                                0),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable dbus_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("Hello", "", "s", method_hello, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("AddMatch", "s", "", method_add_match, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("RemoveMatch", "s", "", method_add_match, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ------------------------------------------------------------------ connections on the loop */

static void connection_free(Control *ctl, Connection *c)
{
        for (Connection **p = &ctl->connections; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        ev_io_stop(ctl->m->loop, &c->io);
        ev_timer_stop(ctl->m->loop, &c->timer);
        exec_calls_disconnected(&ctl->execs, c->bus);
        registry_calls_disconnected(&ctl->registry_calls, c->bus);
        sd_bus_flush_close_unref(c->bus);
        free(c);
}

/* Tells libev what sd-bus waits for now. Returns false when the connection is done. */
static bool connection_update(Connection *c)
{
        struct ev_loop *loop = c->control->m->loop;
        int events = sd_bus_get_events(c->bus), want;
        uint64_t until;

        if (events < 0 || !sd_bus_is_open(c->bus))
                return false;
        want = (events & POLLIN ? EV_READ : 0) | (events & POLLOUT ? EV_WRITE : 0);
        if (want != c->events || !ev_is_active(&c->io)) {
                ev_io_stop(loop, &c->io);
                ev_io_set(&c->io, sd_bus_get_fd(c->bus), want);
                ev_io_start(loop, &c->io);
                c->events = want;
        }
        if (sd_bus_get_timeout(c->bus, &until) >= 0 && until != UINT64_MAX) {
                uint64_t now = now_usec_monotonic();
                ev_timer_stop(loop, &c->timer);
                ev_timer_set(&c->timer, until > now ? (double)(until - now) / 1e6 : 0., 0.);
                ev_timer_start(loop, &c->timer);
        } else if (ev_is_active(&c->timer))
                ev_timer_stop(loop, &c->timer);
        return true;
}

static void connection_process(Connection *c)
{
        int r;

        do
                r = sd_bus_process(c->bus, NULL);
        while (r > 0);
        if (r < 0 || !connection_update(c))
                connection_free(c->control, c);
}

static void on_connection_io(struct ev_loop *loop, ev_io *w, int revents)
{
        connection_process(w->data);
}

static void on_connection_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
        connection_process(w->data);
}

/* Before the loop sleeps: replies and signals queued outside sd_bus_process
 * (a unit settled, a state changed) need POLLOUT. */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
        Control *ctl = w->data;
        Connection *next;

        for (Connection *c = ctl->connections; c; c = next) {
                next = c->next;
                if (!connection_update(c))
                        connection_free(ctl, c);
        }
}

static int connection_new(Control *ctl, int fd)
{
        _cleanup_(sd_bus_close_unrefp) sd_bus *bus = NULL;
        _cleanup_close_ int owned = fd;
        struct ucred cred = {};
        socklen_t l = sizeof(cred);
        Connection *c;
        int r;

        (void)getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &l);
        if ((r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_fd(bus, fd, fd)) < 0)
                return r;
        TAKE_FD(owned);
        if ((r = sd_bus_set_server(bus, 1, ctl->id)) < 0 ||
            (r = sd_bus_set_anonymous(bus, 1)) < 0 ||
            (r = sd_bus_negotiate_fds(bus, 1)) < 0 || /* Exec's stdio */
            (r = sd_bus_add_object_vtable(bus, NULL, CONTROL_PATH, CONTROL_INTERFACE, manager_vtable,
                                          ctl)) < 0 ||
            (r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                          dbus_vtable, ctl)) < 0 ||
            (r = sd_bus_start(bus)) < 0)
                return r;

        c = xcalloc(1, sizeof(*c));
        c->control = ctl;
        c->bus = TAKE_PTR(bus);
        c->uid = cred.uid;
        ev_init(&c->io, on_connection_io);
        ev_init(&c->timer, on_connection_timer);
        c->io.data = c->timer.data = c;
        c->next = ctl->connections;
        ctl->connections = c;
        connection_process(c);
        return 0;
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
        Control *ctl = w->data;
        int fd, r;

        fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                        log_msg(LOG_WARNING, "accept on `%s`: %s", ctl->path, strerror(errno));
                return;
        }
        r = connection_new(ctl, fd);
        if (r < 0)
                log_msg(LOG_WARNING, "new control connection: %s", strerror(-r));
}

/* ------------------------------------------------------------------ hooks */

static void hook_unit_changed(Manager *m, Unit *u, void *userdata)
{
        Control *ctl = userdata;

        uint64_t now = now_usec_realtime();

        for (Connection *c = ctl->connections; c; c = c->next)
                (void)sd_bus_emit_signal(c->bus, CONTROL_PATH, CONTROL_INTERFACE, "UnitChanged", "ssssuut",
                                         u->name, service_state_to_string(u->svc.state),
                                         service_result_to_string(u->svc.result), unit_sub_state(u),
                                         (uint32_t)(u->run.pid > 0 ? u->run.pid : 0),
                                         (uint32_t)u->svc.restarts, now);
        unit_check_waiters(u);
}

/* A new health verdict: the unit's Health and the check that decided it. */
static void hook_health_changed(Manager *m, Unit *u, void *userdata)
{
        Control *ctl = userdata;
        const char *output = health_last_output(u->health);
        uint64_t when = health_last_realtime(u->health);

        for (Connection *c = ctl->connections; c; c = c->next)
                (void)sd_bus_emit_signal(c->bus, CONTROL_PATH, CONTROL_INTERFACE, "HealthChanged", "ssst", u->name,
                                         health_status_to_string(health_status(u->health)), output ? output : "",
                                         when ? when : now_usec_realtime());
}

static void hook_reloaded(Manager *m, const ReloadChange *changes, size_t n, void *userdata)
{
        Control *ctl = userdata;
        uint64_t now = now_usec_realtime();

        for (Connection *c = ctl->connections; c; c = c->next) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *sig = NULL;
                int r = sd_bus_message_new_signal(c->bus, &sig, CONTROL_PATH, CONTROL_INTERFACE, "Reloaded");

                if (r >= 0)
                        r = sd_bus_message_open_container(sig, 'a', "(ss)");
                for (size_t i = 0; r >= 0 && i < n; i++)
                        r = sd_bus_message_append(sig, "(ss)", changes[i].name, changes[i].what);
                if (r >= 0)
                        r = sd_bus_message_close_container(sig);
                if (r >= 0)
                        r = sd_bus_message_append(sig, "t", now);
                if (r >= 0)
                        (void)sd_bus_send(c->bus, sig, NULL);
        }
}

static void hook_unit_freed(Manager *m, Unit *u, void *userdata)
{
        Waiter *w = u->waiters;

        while (w) {
                Waiter *next = w->next;
                (void)sd_bus_reply_method_errorf(w->call, ERROR_NO_SUCH_UNIT, "unit `%s` was removed",
                                                 u->name);
                sd_bus_message_unref(w->call);
                free(w);
                w = next;
        }
        u->waiters = NULL;
}

/* ------------------------------------------------------------------ life cycle */

int control_new(Manager *m, const char *socket_path, Control **ret)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        Control *ctl;
        mode_t old;
        int r;

        if (strlen(socket_path) >= sizeof(sa.sun_path))
                return log_unit_errno(LOG_ERR, NULL, -ENAMETOOLONG, "control socket path `%s` is too long",
                                      socket_path);
        memcpy(sa.sun_path, socket_path, strlen(socket_path));

        ctl = xcalloc(1, sizeof(*ctl));
        ctl->m = m;
        ctl->path = xstrdup(socket_path);
        (void)sd_id128_randomize(&ctl->id);
        ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (ctl->fd < 0) {
                r = -errno;
                goto fail;
        }
        (void)unlink(socket_path); /* a stale socket of an earlier run */
        old = umask(0177);
        r = bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
        umask(old);
        if (r < 0 || chmod(socket_path, 0600) < 0 || listen(ctl->fd, SOMAXCONN) < 0) {
                r = r < 0 ? r : -errno;
                goto fail;
        }
        ev_io_init(&ctl->accept_io, on_accept, ctl->fd, EV_READ);
        ctl->accept_io.data = ctl;
        ev_io_start(m->loop, &ctl->accept_io);
        ev_prepare_init(&ctl->prepare, on_prepare);
        ctl->prepare.data = ctl;
        ev_prepare_start(m->loop, &ctl->prepare);
        manager_add_hooks(m, &(ManagerHooks){ .unit_changed = hook_unit_changed,
                                              .unit_freed = hook_unit_freed,
                                              .reloaded = hook_reloaded,
                                              .health_changed = hook_health_changed,
                                              .userdata = ctl });
        *ret = ctl;
        return 0;
fail:
        log_msg(LOG_ERR, "control socket `%s`: %s", socket_path, strerror(-r));
        safe_close(ctl->fd);
        free(ctl->path);
        free(ctl);
        return r;
}

void control_close(Control *ctl)
{
        if (!ctl)
                return;
        exec_calls_abort(&ctl->execs);
        registry_calls_abort(&ctl->registry_calls);
        while (ctl->connections)
                connection_free(ctl, ctl->connections);
        if (ctl->fd >= 0) {
                ev_io_stop(ctl->m->loop, &ctl->accept_io);
                ev_prepare_stop(ctl->m->loop, &ctl->prepare);
                ctl->fd = safe_close(ctl->fd);
                (void)unlink(ctl->path);
        }
}

Control *control_free(Control *ctl)
{
        if (!ctl)
                return NULL;
        control_close(ctl);
        free(ctl->path);
        free(ctl);
        return NULL;
}
