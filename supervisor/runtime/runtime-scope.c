/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime-scope.h"
#include "systemd-bus.h"
#include "util.h"

/* ActiveState and ControlGroup of unit ("" when systemd does not know it). */
static void scope_facts(sd_bus *bus, const char *unit, char **ret_state, char **ret_cgroup)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *path = NULL;

        *ret_state = *ret_cgroup = NULL;
        if (sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "GetUnit", &e, &reply, "s", unit) >= 0 &&
            sd_bus_message_read(reply, "o", &path) >= 0) {
                if (sd_bus_get_property_string(bus, SD_DEST, path, "org.freedesktop.systemd1.Unit", "ActiveState",
                                               &e, ret_state) < 0)
                        *ret_state = NULL;
                sd_bus_error_free(&e);
                if (sd_bus_get_property_string(bus, SD_DEST, path, "org.freedesktop.systemd1.Scope", "ControlGroup",
                                               &e, ret_cgroup) < 0)
                        *ret_cgroup = NULL;
        }
        sd_bus_error_free(&e);
        if (!*ret_state)
                *ret_state = xstrdup("");
        if (!*ret_cgroup)
                *ret_cgroup = xstrdup("");
}

static int start_transient(sd_bus *bus, const char *unit, const char *slice, const char *id, pid_t keeper,
                           char **ret_error)
{
        _cleanup_free_ char *desc = xasprintf("ccsup-runtime container %s", id);
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        r = systemd_start_scope(bus, unit, desc, slice, NULL, keeper, &e);
        if (r < 0)
                *ret_error = xasprintf("--systemd-cgroup: scope `%s`: %s", unit,
                                       e.message ? e.message : strerror(-r));
        sd_bus_error_free(&e);
        return r;
}

int runtime_scope_start(const char *unit, const char *slice, const char *id, const char *unified_root,
                        char **ret_cgroup, pid_t *ret_keeper, char **ret_error)
{
        _cleanup_free_ char *state = NULL, *cg = NULL;
        sd_bus *bus = NULL;
        pid_t keeper;
        int r;

        r = systemd_bus_open(&bus);
        if (r < 0) {
                *ret_error = xasprintf("--systemd-cgroup: systemd's bus: %s", strerror(-r));
                return r;
        }
        keeper = systemd_keeper_spawn("ccsup-rt-scope");
        if (keeper < 0) {
                sd_bus_unref(bus);
                *ret_error = xasprintf("--systemd-cgroup: fork: %s", strerror(-keeper));
                return keeper;
        }
        r = start_transient(bus, unit, slice, id, keeper, ret_error);
        /* Only a scope of ours is stopped on failure: a refused start may
         * be of a unit that exists, another container's. */
        bool started = r >= 0;
        /* The job runs in systemd; it is done when the scope is active. */
        for (int i = 0; r >= 0 && i < 2500; i++) {
                free(state);
                free(cg);
                scope_facts(bus, unit, &state, &cg);
                if (streq(state, "active") && *cg)
                        break;
                if (streq(state, "failed")) {
                        *ret_error = xasprintf("--systemd-cgroup: scope `%s` failed to start", unit);
                        r = -EIO;
                }
                systemd_sleep_ms(2);
        }
        if (r >= 0 && !(streq(state, "active") && *cg)) {
                *ret_error = xasprintf("--systemd-cgroup: scope `%s` not active after 5 s (%s)", unit,
                                       *state ? state : "unknown to systemd");
                r = -ETIMEDOUT;
        }
        if (r >= 0 && unified_root && (r = systemd_keeper_to_leaf(unified_root, cg, keeper)) < 0)
                *ret_error = xasprintf("--systemd-cgroup: the keeper into %s%s/keeper: %s", unified_root, cg,
                                       strerror(-r));
        sd_bus_unref(bus);
        if (r < 0) {
                (void)kill(keeper, SIGKILL);
                (void)waitpid(keeper, NULL, 0);
                if (started)
                        runtime_scope_stop(unit);
                return r;
        }
        *ret_cgroup = xasprintf("%s/container", cg);
        *ret_keeper = keeper;
        return 0;
}

void runtime_scope_keeper_done(pid_t keeper, const char *unified_root, const char *container_cgroup)
{
        if (keeper <= 0)
                return;
        (void)kill(keeper, SIGKILL);
        (void)waitpid(keeper, NULL, 0);
        if (!unified_root)
                return;
        /* the sibling of the container's leaf */
        _cleanup_free_ char *leaf = xasprintf("%s%s", unified_root, container_cgroup);
        char *slash = strrchr(leaf, '/');
        if (!slash)
                return;
        strcpy(slash, "/keeper");
        /* the exited keeper leaves the cgroup a moment after its reaping */
        for (int i = 0; i < 100 && rmdir(leaf) < 0 && errno == EBUSY; i++)
                systemd_sleep_ms(2);
}

void runtime_scope_stop(const char *unit)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus *bus = NULL;

        if (systemd_bus_open(&bus) < 0)
                return;
        if (sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_MANAGER, "StopUnit", &e, &reply, "ss", unit, "replace") >= 0)
                for (int i = 0; i < 1000; i++) {
                        _cleanup_free_ char *state = NULL, *cg = NULL;
                        scope_facts(bus, unit, &state, &cg);
                        if (!*state || streq(state, "inactive"))
                                break;
                        systemd_sleep_ms(2);
                }
        sd_bus_error_free(&e);
        sd_bus_unref(bus);
}
