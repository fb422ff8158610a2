/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Auto-update (ccsupctl auto-update, ccsupd --auto-update-interval): for the units with
 * AutoUpdate=registry, pull the tag of their Image= into the daemon's
 * store; when its digest changed, restart the unit on it (RestartUnit,
 * waiting: the daemon ends the start at StartTimeoutSec=, Notify='s
 * readiness included), then wait, within the same StartTimeoutSec= from
 * the restart, for the unit to be ready: Ready=yes, which with [Health]
 * means a healthy verdict. A new container that does not get there (it
 * fails, its check says unhealthy, or the time is up) is rolled back: the
 * tag points at the previous image again (still in the store: nothing is
 * collected before a removal) and the unit restarts on that. One line per
 * unit: UNIT OLD-DIGEST NEW-DIGEST updated|rolled-back|unchanged|failed
 * (--dry-run: what a run would print for a changed digest, `updated`;
 * nothing pulled or restarted). Rounds on one store run one at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "autoupdate.h"
#include "registry.h"
#include "store.h"
#include "util.h"

#define IFACE "org.ccsup.Manager1"
#define OBJ "/org/ccsup"

/* How often a restarted unit is asked whether it is ready yet. */
#define READY_POLL_USEC (100ULL * 1000)

typedef struct UnitInfo {
        char *image, *digest, *state, *auto_update, *ready, *health;
        uint64_t start_timeout_usec;
} UnitInfo;

static void unit_info_done(UnitInfo *i)
{
        free(i->image);
        free(i->digest);
        free(i->state);
        free(i->auto_update);
        free(i->ready);
        free(i->health);
        *i = (UnitInfo){};
}

static int get_unit(sd_bus *bus, const char *name, UnitInfo *ret, char **ret_error)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        UnitInfo i = {};
        int r;

        r = sd_bus_call_method(bus, NULL, OBJ, IFACE, "GetUnit", &e, &reply, "s", name);
        if (r < 0) {
                *ret_error = xstrdup(e.message ? e.message : strerror(-r));
                return r;
        }
        if ((r = sd_bus_message_enter_container(reply, 'a', "{sv}")) < 0)
                goto bad;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *key, *contents, *v;
                char type;
                char **slot = NULL;
                if ((r = sd_bus_message_read(reply, "s", &key)) < 0 ||
                    (r = sd_bus_message_peek_type(reply, &type, &contents)) < 0)
                        goto bad;
                if (streq(key, "Image"))
                        slot = &i.image;
                else if (streq(key, "ImageDigest"))
                        slot = &i.digest;
                else if (streq(key, "State"))
                        slot = &i.state;
                else if (streq(key, "AutoUpdate"))
                        slot = &i.auto_update;
                else if (streq(key, "Ready"))
                        slot = &i.ready;
                else if (streq(key, "Health"))
                        slot = &i.health;
                if (streq(key, "StartTimeoutUSec") && streq(contents, "t")) {
                        if ((r = sd_bus_message_read(reply, "v", "t", &i.start_timeout_usec)) < 0)
                                goto bad;
                } else if (slot && streq(contents, "s")) {
                        if ((r = sd_bus_message_read(reply, "v", "s", &v)) < 0)
                                goto bad;
                        free(*slot);
                        *slot = xstrdup(v);
                } else if ((r = sd_bus_message_skip(reply, "v")) < 0)
                        goto bad;
                if ((r = sd_bus_message_exit_container(reply)) < 0)
                        goto bad;
        }
        if (r < 0)
                goto bad;
        *ret = i;
        return 0;
bad:
        unit_info_done(&i);
        *ret_error = xasprintf("GetUnit %s: bad reply: %s", name, strerror(-r));
        return r;
}

static int list_units(sd_bus *bus, char ***ret, char **ret_error)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char **names = NULL;
        const char *name, *s1, *s2, *s3, *s4;
        uint32_t u1, u2;
        uint64_t t;
        int r;

        r = sd_bus_call_method(bus, NULL, OBJ, IFACE, "ListUnits", &e, &reply, "");
        if (r < 0) {
                *ret_error = xstrdup(e.message ? e.message : strerror(-r));
                return r;
        }
        if ((r = sd_bus_message_enter_container(reply, 'a', "(sssuutss)")) < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(sssuutss)", &name, &s1, &s2, &u1, &u2, &t, &s3, &s4)) > 0)
                strv_add(&names, name);
        *ret = names;
        return r < 0 ? r : 0;
}

/* RestartUnit, waiting for the start to end; then whether the unit runs
 * from digest and becomes ready (with [Health]: healthy) within its
 * StartTimeoutSec= from now. Sets *ret_why on failure. */
static bool restart_on(sd_bus *bus, const char *unit, const char *digest, uint64_t start_timeout_usec,
                       const char **ret_why)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        uint64_t start = now_usec_monotonic();
        uint64_t deadline = start_timeout_usec && start_timeout_usec != UINT64_MAX ? start + start_timeout_usec
                                                                                   : UINT64_MAX;

        *ret_why = "it did not reach running";
        /* The call lasts as long as the start may: past sd-bus's default. */
        if (sd_bus_message_new_method_call(bus, &call, NULL, OBJ, IFACE, "RestartUnit") < 0 ||
            sd_bus_message_append(call, "sb", unit, 0) < 0)
                return false;
        if (sd_bus_call(bus, call, deadline == UINT64_MAX ? UINT64_MAX : start_timeout_usec + 10 * USEC_PER_SEC, &e,
                        &reply) < 0) {
                *ret_why = "its restart failed";
                return false;
        }
        for (;;) {
                _cleanup_free_ char *err = NULL;
                UnitInfo i = {};
                bool running, ready, unhealthy;

                if (get_unit(bus, unit, &i, &err) < 0)
                        return false;
                running = streq_ptr(i.state, "running") && streq_ptr(i.digest, digest);
                ready = streq_ptr(i.ready, "yes") && (!i.health || !*i.health || streq(i.health, "healthy"));
                unhealthy = streq_ptr(i.health, "unhealthy");
                unit_info_done(&i);
                if (!running || unhealthy) {
                        *ret_why = unhealthy ? "its health check says unhealthy" : "it did not reach running";
                        return false;
                }
                if (ready)
                        return true;
                if (now_usec_monotonic() >= deadline) {
                        *ret_why = "it was not ready (healthy) within StartTimeoutSec=";
                        return false;
                }
                (void)nanosleep(&(struct timespec){ .tv_nsec = READY_POLL_USEC * 1000 }, NULL);
        }
}

static const char *short_digest(const char *d)
{
        return d && *d ? d : "-";
}

/* One unit; prints its line. Returns 0, or 1 for a failure. */
static int update_one(sd_bus *bus, const char *state_dir, const char *unit, bool named, bool dry_run,
                      const RegistryOptions *o, FILE *out, FILE *err_out)
{
        _cleanup_free_ char *err = NULL, *now = NULL, *name = NULL;
        const char *why = NULL, *back_why = "";
        UnitInfo i = {};
        int r, ret = 0;

        if ((r = get_unit(bus, unit, &i, &err)) < 0) {
                fprintf(err_out, "ccsupctl: auto-update: %s: %s\n", unit, err);
                fprintf(out, "%s - - failed\n", unit);
                return 1;
        }
        if (!streq_ptr(i.auto_update, "registry") || !i.image || !registry_ref_is_remote(i.image)) {
                if (named) {
                        fprintf(err_out, "ccsupctl: auto-update: %s: %s\n", unit,
                                !streq_ptr(i.auto_update, "registry") ? "the unit does not have AutoUpdate=registry"
                                                                     : "its Image= is not a registry image");
                        fprintf(out, "%s %s - failed\n", unit, short_digest(i.digest));
                        ret = 1;
                }
                goto out;
        }
        if (dry_run)
                r = registry_resolve(state_dir, i.image, o, &now, &err);
        else
                r = registry_pull(state_dir, i.image, o, &now, &err);
        if (r < 0) {
                fprintf(err_out, "ccsupctl: auto-update: %s: %s\n", unit, err);
                fprintf(out, "%s %s - failed\n", unit, short_digest(i.digest));
                ret = 1;
                goto out;
        }
        if (streq_ptr(i.digest, now)) {
                fprintf(out, "%s %s %s unchanged\n", unit, now, now);
                goto out;
        }
        if (dry_run) {
                /* What a run would do; nothing more is known before it. */
                fprintf(out, "%s %s %s updated\n", unit, short_digest(i.digest), now);
                goto out;
        }
        if (restart_on(bus, unit, now, i.start_timeout_usec, &why)) {
                fprintf(out, "%s %s %s updated\n", unit, short_digest(i.digest), now);
                goto out;
        }
        /* Back to what ran before, if anything did. */
        if (!i.digest || !*i.digest || registry_ref_store_name(i.image, &name, &err) < 0 ||
            store_tag(state_dir, name, i.digest, &err) < 0 ||
            !restart_on(bus, unit, i.digest, i.start_timeout_usec, &back_why)) {
                fprintf(err_out, "ccsupctl: auto-update: %s: the new image %s does not come up (%s), and going back failed: %s\n",
                        unit, now, why, err ? err : !i.digest || !*i.digest ? "no previous image" : back_why);
                fprintf(out, "%s %s %s failed\n", unit, short_digest(i.digest), now);
                ret = 1;
                goto out;
        }
        fprintf(err_out, "ccsupctl: auto-update: %s: the new image %s did not come up (%s); back on %s\n", unit,
                now, why, i.digest);
        fprintf(out, "%s %s %s rolled-back\n", unit, i.digest, now);
out:
        unit_info_done(&i);
        return ret;
}

/*
 * One round at a time on a store (the timer's, a ccsupctl's, the bus
 * method's): two at once would both see the old digest, restart the unit
 * twice, and the second would take the first's new image for the one to
 * roll back to. A second round waits for the first and then finds its
 * units unchanged. Returns the fd that holds the lock.
 */
static int round_lock(const char *state_dir, FILE *err_out)
{
        _cleanup_free_ char *dir = xasprintf("%s/images", state_dir);
        _cleanup_free_ char *path = xasprintf("%s/auto-update.lock", dir);
        int fd, r;

        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                r = -errno;
                fprintf(err_out, "ccsupctl: auto-update: %s: %s\n", dir, strerror(-r));
                return r;
        }
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                r = -errno;
                fprintf(err_out, "ccsupctl: auto-update: %s: %s\n", path, strerror(-r));
                return r;
        }
        while (flock(fd, LOCK_EX) < 0) {
                if (errno == EINTR)
                        continue;
                r = -errno;
                fprintf(err_out, "ccsupctl: auto-update: lock %s: %s\n", path, strerror(-r));
                safe_close(fd);
                return r;
        }
        return fd;
}

int auto_update_run(sd_bus *bus, const char *state_dir, char *const *units, bool dry_run,
                    const RegistryOptions *o, FILE *out, FILE *err_out)
{
        _cleanup_strv_free_ char **all = NULL;
        _cleanup_free_ char *err = NULL;
        _cleanup_close_ int lock = -1;
        int r, ret = 0;

        if (!dry_run && (lock = round_lock(state_dir, err_out)) < 0)
                return 1;
        if (!units || !*units) {
                if ((r = list_units(bus, &all, &err)) < 0) {
                        fprintf(err_out, "ccsupctl: auto-update: ListUnits: %s\n", err ? err : strerror(-r));
                        return 1;
                }
        }
        STRV_FOREACH(u, all ? all : (char **)units)
                ret |= update_one(bus, state_dir, *u, !all, dry_run, o, out, err_out);
        return ret;
}
