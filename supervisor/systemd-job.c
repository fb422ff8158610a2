/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-bus.h>

#include "log.h"
#include "systemd-job.h"
#include "util.h"

#define SD_DEST "org.freedesktop.systemd1"
#define CALL_TIMEOUT_USEC (1000 * 1000)

static int open_systemd_bus(sd_bus **ret)
{
        sd_bus *b = NULL;
        int r;

        if ((r = sd_bus_new(&b)) >= 0 && (r = sd_bus_set_address(b, "unix:path=/run/systemd/private")) >= 0 &&
            (r = sd_bus_set_method_call_timeout(b, CALL_TIMEOUT_USEC)) >= 0 && (r = sd_bus_start(b)) >= 0) {
                *ret = b;
                return 0;
        }
        sd_bus_unref(b);
        b = NULL;
        if ((r = sd_bus_open_system(&b)) < 0)
                return r;
        (void)sd_bus_set_method_call_timeout(b, CALL_TIMEOUT_USEC);
        *ret = b;
        return 0;
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
        if ((r = open_systemd_bus(&bus)) < 0) {
                log_msg(LOG_DEBUG, "systemd's bus: %s", strerror(-r));
                return false;
        }
        r = sd_bus_call_method(bus, SD_DEST, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                               "GetUnitByPID", &e, &unit, "u", (uint32_t)getpid());
        if (r >= 0)
                r = sd_bus_message_read(unit, "o", &unit_path);
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
                 * service fail. */
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
        sd_bus_error_free(&e);
        sd_bus_flush_close_unref(bus);
        return restart;
}
