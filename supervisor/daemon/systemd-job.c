/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#include "cgroup.h"
#include "log.h"
#include "systemd-bus.h"
#include "systemd-job.h"
#include "util.h"

/* The scope of our containers while systemd lacks DelegateSubgroup=. */
static char *scope_unit;   /* "ccsupd-containers.scope" */
static char *scope_cgroup; /* its cgroup, "/system.slice/ccsupd-containers.scope" */
static pid_t scope_keeper = -1; /* the keeper, when we forked it */

/* The object path of our own unit (name NULL: GetUnitByPID of our PID) or
 * of unit name (GetUnit); the path lives as long as *reply. */
static int unit_object(sd_bus *bus, const char *name, sd_bus_error *e, sd_bus_message **reply,
                       const char **ret_path)
{
        int r = name ? sd_bus_call_method(bus, SD_DEST, "/org/freedesktop/systemd1",
                                          "org.freedesktop.systemd1.Manager", "GetUnit", e, reply, "s", name)
                     : sd_bus_call_method(bus, SD_DEST, "/org/freedesktop/systemd1",
                                          "org.freedesktop.systemd1.Manager", "GetUnitByPID", e, reply, "u",
                                          (uint32_t)getpid());

        return r < 0 ? r : sd_bus_message_read(*reply, "o", ret_path);
}

bool systemd_restart_pending(void)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *unit = NULL, *job = NULL;
        _cleanup_free_ char *type = NULL, *subgroup = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *unit_path = NULL, *job_path = NULL;
        sd_bus *bus = NULL;
        uint32_t job_id = 0;
        bool restart;
        int r;

        if (!getenv("NOTIFY_SOCKET"))
                return false;
        if ((r = systemd_bus_open(&bus)) < 0) {
                log_msg(LOG_DEBUG, "systemd's bus: %s", strerror(-r));
                return false;
        }
        r = unit_object(bus, NULL, &e, &unit, &unit_path);
        if (r >= 0)
                r = sd_bus_get_property(bus, SD_DEST, unit_path, "org.freedesktop.systemd1.Unit", "Job", &e,
                                        &job, "(uo)");
        if (r >= 0)
                r = sd_bus_message_read(job, "(uo)", &job_id, &job_path);
        if (r >= 0 && job_id > 0)
                r = sd_bus_get_property_string(bus, SD_DEST, job_path, "org.freedesktop.systemd1.Job",
                                               "JobType", &e, &type);
        if (r < 0) {
                log_msg(LOG_DEBUG, "systemd: our job: %s", e.message ? e.message : strerror(-r));
                restart = false;
        } else if ((restart = type && streq(type, "restart"))) {
                /* The next ccsupd must be started in our leaf: systemd puts
                 * a main process in the unit's cgroup, which fails (EBUSY,
                 * the no-internal-process rule: status 219/CGROUP) while our
                 * containers' cgroups below it use controllers, unless
                 * DelegateSubgroup= (systemd 254) names a leaf for it.
                 * Without that the containers are stopped as for any stop:
                 * left running, they would make every later start of the
                 * service fail. In a scope of their own they are out of
                 * the way (systemd_scope_open()). */
                if (scope_unit)
                        goto out;
                r = sd_bus_get_property_string(bus, SD_DEST, unit_path, "org.freedesktop.systemd1.Service",
                                               "DelegateSubgroup", &e, &subgroup);
                if (r < 0 || !subgroup || !streq(subgroup, "supervisor")) {
                        log_msg(LOG_NOTICE, "systemd restarts ccsupd, but would not start the next one in "
                                            "our leaf (%s): the containers are stopped; systemd 254 or "
                                            "later with DelegateSubgroup=supervisor keeps them",
                                r < 0 ? (e.message ? e.message : strerror(-r)) : "DelegateSubgroup= unset");
                        restart = false;
                }
        }
out:
        sd_bus_error_free(&e);
        sd_bus_flush_close_unref(bus);
        return restart;
}

/* The keeper (systemd_keeper_spawn()) is a process that only waits: the
 * scope ends when its last process does, and between a container's exit and
 * its restart (or before the first start) the keeper is that process
 * (systemd's SIGTERM, when it stops the scope, ends it). */
static bool keeper_present(const char *root, const char *cgroup)
{
        _cleanup_free_ char *procs = xasprintf("%s%s/keeper/cgroup.procs", root, cgroup);
        _cleanup_free_ char *text = NULL;

        return read_full_file(procs, 4096, &text, NULL) >= 0 && text[strspn(text, " \n")] != '\0';
}

/* Our unit's Id and Slice, and whether systemd would start the next ccsupd
 * in the unit's own cgroup: 1 yes (systemd before 254, or DelegateSubgroup=
 * unset), 0 no, <0 when systemd cannot tell. */
static int unit_facts(sd_bus *bus, char **ret_id, char **ret_slice)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ char *subgroup = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path = NULL;
        int r;

        r = unit_object(bus, NULL, &e, &reply, &path);
        if (r >= 0)
                r = sd_bus_get_property_string(bus, SD_DEST, path, "org.freedesktop.systemd1.Unit", "Id", &e,
                                               ret_id);
        if (r >= 0)
                r = sd_bus_get_property_string(bus, SD_DEST, path, "org.freedesktop.systemd1.Service", "Slice",
                                               &e, ret_slice);
        if (r < 0)
                goto out;
        r = sd_bus_get_property_string(bus, SD_DEST, path, "org.freedesktop.systemd1.Service",
                                       "DelegateSubgroup", &e, &subgroup);
        if (r >= 0)
                r = !subgroup || !*subgroup;
        else if (sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_PROPERTY))
                r = 1;
out:
        if (r < 0)
                log_msg(LOG_WARNING, "systemd: our unit: %s", e.message ? e.message : strerror(-r));
        sd_bus_error_free(&e);
        return r;
}

/* The ActiveState of unit name ("" when systemd has not loaded it). */
static char *unit_state(sd_bus *bus, const char *name)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path = NULL;
        char *state = NULL;

        if (unit_object(bus, name, &e, &reply, &path) < 0 ||
            sd_bus_get_property_string(bus, SD_DEST, path, "org.freedesktop.systemd1.Unit", "ActiveState", &e,
                                       &state) < 0)
                state = xstrdup("");
        sd_bus_error_free(&e);
        return state;
}

static int start_scope(sd_bus *bus, const char *name, const char *id, const char *slice, pid_t pid)
{
        _cleanup_free_ char *desc = xasprintf("containers of %s", id);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        /* Before= our service: stops go in the reverse order, so at shutdown
         * systemd stops the service (which stops the containers in their
         * order) before the scope, whose own stop would signal every
         * container at once. (Not After=: the scope's start would wait for
         * the service's, which waits for our READY=1.) */
        r = systemd_start_scope(bus, name, desc, slice, id, pid, &e);
        if (r < 0)
                log_msg(LOG_WARNING, "systemd: StartTransientUnit %s: %s", name,
                        e.message ? e.message : strerror(-r));
        sd_bus_error_free(&e);
        return r;
}

int systemd_scope_open(const char *cgroup_root, char **ret_cgroup)
{
        _cleanup_free_ char *id = NULL, *slice = NULL, *name = NULL, *state = NULL, *cg = NULL;
        sd_bus *bus = NULL;
        pid_t keeper = -1;
        int r;

        if (!getenv("NOTIFY_SOCKET") || systemd_bus_open(&bus) < 0)
                return 0;
        r = unit_facts(bus, &id, &slice);
        if (r <= 0)
                goto out;
        const char *dot = strrchr(id, '.');
        name = xasprintf("%.*s-containers.scope", (int)(dot ? dot - id : (ptrdiff_t)strlen(id)), id);
        state = unit_state(bus, name);
        if (streq(state, "active")) {
                /* A previous ccsupd's (a restart, a crash, a daemon-reexec):
                 * its containers and keeper are there. */
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                sd_bus_error e = SD_BUS_ERROR_NULL;
                const char *path = NULL;
                r = unit_object(bus, name, &e, &reply, &path);
                if (r >= 0)
                        r = sd_bus_get_property_string(bus, SD_DEST, path, "org.freedesktop.systemd1.Scope",
                                                       "ControlGroup", &e, &cg);
                if (r < 0 || !cg || !*cg) {
                        log_msg(LOG_WARNING, "systemd: %s: no cgroup: %s", name,
                                e.message ? e.message : r < 0 ? strerror(-r) : "empty");
                        sd_bus_error_free(&e);
                        r = 0;
                        goto out;
                }
                sd_bus_error_free(&e);
                if (!keeper_present(cgroup_root, cg)) {
                        if ((keeper = systemd_keeper_spawn("ccsupd-scope")) < 0 || (r = systemd_keeper_to_leaf(cgroup_root, cg, keeper)) < 0) {
                                log_msg(LOG_WARNING, "%s: a new keeper: %s", name,
                                        strerror(keeper < 0 ? -keeper : -r));
                                if (keeper > 0) {
                                        (void)kill(keeper, SIGKILL);
                                        (void)waitpid(keeper, NULL, 0);
                                }
                                keeper = -1;
                        }
                }
                log_msg(LOG_INFO, "containers in %s (%s), from a previous ccsupd", name, cg);
        } else {
                if (*state) /* failed, or still on its way down */
                        (void)sd_bus_call_method(bus, SD_DEST, "/org/freedesktop/systemd1",
                                                 "org.freedesktop.systemd1.Manager", "ResetFailedUnit", NULL,
                                                 NULL, "s", name);
                for (int i = 0; i < 500 && streq(state, "deactivating"); i++) {
                        systemd_sleep_ms(10);
                        free(state);
                        state = unit_state(bus, name);
                }
                if ((keeper = systemd_keeper_spawn("ccsupd-scope")) < 0) {
                        r = keeper;
                        log_msg(LOG_WARNING, "%s: keeper: %s", name, strerror(-r));
                        r = 0;
                        goto out;
                }
                r = start_scope(bus, name, id, slice, keeper);
                /* The scope's start job moves the keeper; it has run when
                 * the keeper is in the scope's cgroup. */
                for (int i = 0; r >= 0 && i < 5000; i++) {
                        free(cg);
                        cg = cgroup_pid_path(keeper);
                        const char *base = cg ? strrchr(cg, '/') : NULL;
                        if (base && streq(base + 1, name))
                                break;
                        systemd_sleep_ms(1);
                }
                const char *base = cg ? strrchr(cg, '/') : NULL;
                if (r >= 0 && !(base && streq(base + 1, name)))
                        r = -ETIMEDOUT;
                if (r >= 0)
                        r = systemd_keeper_to_leaf(cgroup_root, cg, keeper);
                if (r < 0) {
                        log_msg(LOG_WARNING, "%s: %s; the containers go below %s and restart with ccsupd", name,
                                strerror(-r), id);
                        (void)kill(keeper, SIGKILL);
                        (void)waitpid(keeper, NULL, 0);
                        r = 0;
                        goto out;
                }
                log_msg(LOG_INFO, "containers in %s (%s): they outlive a restart of %s", name, cg, id);
        }
        scope_keeper = keeper;
        scope_unit = TAKE_PTR(name);
        scope_cgroup = xstrdup(cg);
        *ret_cgroup = TAKE_PTR(cg);
        r = 1;
out:
        sd_bus_flush_close_unref(bus);
        return r;
}

void systemd_scope_close(const char *cgroup_root)
{
        _cleanup_free_ char *procs = NULL, *text = NULL, *events = NULL;

        if (!scope_unit)
                return;
        /* The keeper is ours (we or a previous ccsupd started it): its end
         * ends the scope, once no container is left in it. */
        procs = xasprintf("%s%s/keeper/cgroup.procs", cgroup_root, scope_cgroup);
        if (read_full_file(procs, 4096, &text, NULL) >= 0)
                for (char *s = text; *s;) {
                        long pid = strtol(s, &s, 10);
                        if (pid > 1)
                                (void)kill((pid_t)pid, SIGKILL);
                        s += strspn(s, " \n");
                        if (*s && (*s < '0' || *s > '9'))
                                break;
                }
        if (scope_keeper > 0)
                (void)waitpid(scope_keeper, NULL, 0);
        /* systemd removes the scope's cgroup once it is empty; wait for that
         * (a stop that leaves no cgroup behind), unless containers remain. */
        events = xasprintf("%s%s/cgroup.events", cgroup_root, scope_cgroup);
        for (int i = 0; i < 500; i++) {
                _cleanup_free_ char *ev = NULL;
                if (read_full_file(events, 4096, &ev, NULL) < 0)
                        break; /* gone */
                if (i >= 100 && strstr(ev, "populated 1"))
                        break;
                systemd_sleep_ms(10);
        }
        free(scope_unit);
        free(scope_cgroup);
        scope_unit = scope_cgroup = NULL;
        scope_keeper = -1;
}
