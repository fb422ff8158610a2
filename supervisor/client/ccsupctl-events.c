/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ccsupctl-events.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "ccsupctl-image.h" /* ccsupctl_open_bus() */
#include "parse.h"
#include "util.h"

#define IFACE "org.ccsup.Manager1"
#define OBJ "/org/ccsup"
#define RECONNECT_USEC (10 * USEC_PER_SEC)

/* What the last signal said of a unit. */
typedef struct Seen {
        char *name, *state, *sub, *result;
        uint32_t restarts;
} Seen;

typedef struct Events {
        bool json;
        Seen *seen;
        size_t n_seen;
} Events;

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
        (void)sig;
        interrupted = 1;
}

static void json_str(const char *s)
{
        putchar('"');
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        printf("\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        printf("\\u%04x", *p);
                else
                        putchar(*p);
        }
        putchar('"');
}

/* 2026-12-06T19:50:01.123456Z, as the log records. */
static void format_timestamp(uint64_t usec, char buf[static 40])
{
        time_t t = (time_t)(usec / USEC_PER_SEC);
        struct tm tm;
        char s[32];

        if (!gmtime_r(&t, &tm) || !strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm)) {
                strcpy(buf, "?");
                return;
        }
        snprintf(buf, 40, "%s.%06" PRIu64 "Z", s, (uint64_t)(usec % USEC_PER_SEC));
}

static Seen *seen_get(Events *ev, const char *name)
{
        for (size_t i = 0; i < ev->n_seen; i++)
                if (streq(ev->seen[i].name, name))
                        return &ev->seen[i];
        ev->seen = xrealloc(ev->seen, (ev->n_seen + 1) * sizeof(Seen));
        ev->seen[ev->n_seen] = (Seen){ .name = xstrdup(name) };
        return &ev->seen[ev->n_seen++];
}

static void seen_set(Seen *s, const char *state, const char *sub, const char *result, uint32_t restarts)
{
        free(s->state);
        free(s->sub);
        free(s->result);
        s->state = xstrdup(state);
        s->sub = xstrdup(sub);
        s->result = xstrdup(result);
        s->restarts = restarts;
}

static void events_done(Events *ev)
{
        for (size_t i = 0; i < ev->n_seen; i++) {
                free(ev->seen[i].name);
                free(ev->seen[i].state);
                free(ev->seen[i].sub);
                free(ev->seen[i].result);
        }
        free(ev->seen);
}

/* The kind of a change, the most telling first. */
static const char *event_kind(const Seen *s, const char *state, const char *sub, const char *result,
                              uint32_t restarts)
{
        if (s->state && restarts > s->restarts)
                return "restart";
        if (*sub && !streq(sub, "held") && !streq_ptr(sub, s->sub))
                return sub; /* ready, reloading, stopping; held is a state event */
        if (!streq_ptr(state, s->state))
                return "state";
        if (!streq_ptr(result, s->result))
                return "result";
        if (!streq_ptr(sub, s->sub))
                return "state";
        return "changed"; /* its configuration, its status text... */
}

static int on_unit_changed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Events *ev = userdata;
        const char *name, *state, *result, *sub, *kind;
        uint32_t pid, restarts;
        uint64_t usec;
        char ts[40];
        Seen *s;
        int r;

        r = sd_bus_message_read(m, "ssssuut", &name, &state, &result, &sub, &pid, &restarts, &usec);
        if (r < 0)
                return 0; /* an older ccsupd's signal: not ours to print */
        s = seen_get(ev, name);
        kind = event_kind(s, state, sub, result, restarts);
        format_timestamp(usec, ts);
        if (ev->json) {
                printf("{\"time\":\"%s\",\"time_usec\":%" PRIu64 ",\"unit\":", ts, usec);
                json_str(name);
                printf(",\"event\":\"%s\",\"state\":", kind);
                json_str(state);
                printf(",\"sub_state\":");
                json_str(sub);
                printf(",\"result\":");
                json_str(result);
                printf(",\"main_pid\":%" PRIu32 ",\"restarts\":%" PRIu32 "}\n", pid, restarts);
        } else
                printf("%s %s %s state=%s%s%s result=%s pid=%" PRIu32 " restarts=%" PRIu32 "\n", ts, name,
                       kind, state, *sub ? "/" : "", sub, result, pid, restarts);
        fflush(stdout);
        seen_set(s, state, sub, result, restarts);
        return 0;
}

static int on_reloaded(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Events *ev = userdata;
        _cleanup_free_ char *line = xstrdup("");
        const char *name, *what;
        bool first = true;
        uint64_t usec;
        char ts[40];
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(ss)");
        if (r < 0)
                return 0;
        while ((r = sd_bus_message_read(m, "(ss)", &name, &what)) > 0) {
                char *l = xasprintf("%s %s=%s", line, name, what);
                free(line);
                line = l;
        }
        if (r < 0 || sd_bus_message_exit_container(m) < 0 || sd_bus_message_read(m, "t", &usec) < 0)
                usec = now_usec_realtime();
        format_timestamp(usec, ts);
        if (!ev->json) {
                printf("%s - reload%s\n", ts, line);
                fflush(stdout);
                return 0;
        }
        printf("{\"time\":\"%s\",\"time_usec\":%" PRIu64 ",\"unit\":null,\"event\":\"reload\",\"changes\":[", ts, usec);
        /* Read the changes again, for the objects. */
        (void)sd_bus_message_rewind(m, true);
        if (sd_bus_message_enter_container(m, 'a', "(ss)") >= 0)
                while (sd_bus_message_read(m, "(ss)", &name, &what) > 0) {
                        printf("%s{\"unit\":", first ? "" : ",");
                        json_str(name);
                        printf(",\"change\":");
                        json_str(what);
                        putchar('}');
                        first = false;
                }
        printf("]}\n");
        fflush(stdout);
        return 0;
}

static int on_health_changed(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
        Events *ev = userdata;
        const char *name, *health, *output;
        uint64_t usec;
        char ts[40];

        if (sd_bus_message_read(m, "ssst", &name, &health, &output, &usec) < 0)
                return 0;
        format_timestamp(usec, ts);
        if (ev->json) {
                printf("{\"time\":\"%s\",\"time_usec\":%" PRIu64 ",\"unit\":", ts, usec);
                json_str(name);
                printf(",\"event\":\"health\",\"health\":");
                json_str(health);
                printf(",\"output\":");
                json_str(output);
                printf("}\n");
        } else
                printf("%s %s health %s%s%s\n", ts, name, health, *output ? ": " : "", output);
        fflush(stdout);
        return 0;
}

/* The current state of every unit, to compare the first signals with. */
static int seed(sd_bus *bus, Events *ev)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *name, *state, *result, *desc, *sub;
        uint32_t pid, restarts;
        uint64_t since;
        int r;

        r = sd_bus_call_method(bus, NULL, OBJ, IFACE, "ListUnits", &e, &reply, "");
        sd_bus_error_free(&e);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(sssuutss)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_read(reply, "(sssuutss)", &name, &state, &result, &pid, &restarts,
                                        &since, &desc, &sub)) > 0)
                seen_set(seen_get(ev, name), state, sub, result, restarts);
        return r;
}

static int subscribe(const char *socket_path, Events *ev, sd_bus **ret)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        int r;

        r = ccsupctl_open_bus(socket_path, &bus);
        if (r < 0)
                return r;
        if ((r = sd_bus_match_signal(bus, NULL, NULL, OBJ, IFACE, "UnitChanged", on_unit_changed, ev)) < 0 ||
            (r = sd_bus_match_signal(bus, NULL, NULL, OBJ, IFACE, "Reloaded", on_reloaded, ev)) < 0 ||
            (r = sd_bus_match_signal(bus, NULL, NULL, OBJ, IFACE, "HealthChanged", on_health_changed, ev)) < 0 ||
            (r = seed(bus, ev)) < 0)
                return r;
        *ret = TAKE_PTR(bus);
        return 0;
}

static void usage(FILE *f)
{
        fprintf(f, "Usage: ccsupctl events [--json]\n"
                   "\n"
                   "Follow ccsupd's events as they happen, until interrupted: one line each,\n"
                   "  TIME UNIT EVENT state=STATE[/SUB-STATE] result=RESULT pid=PID restarts=N\n"
                   "with EVENT one of state, ready, reloading, stopping, restart, result, changed,\n"
                   "for a new verdict of a unit's health checks\n"
                   "  TIME UNIT health starting|healthy|unhealthy[: OUTPUT OF THE LAST CHECK]\n"
                   "and for a reload of the unit files\n"
                   "  TIME - reload [UNIT=added|removed|changed|bad|masked...]\n"
                   "--json: one JSON object each instead (time, time_usec, unit, event, state,\n"
                   "sub_state, result, main_pid, restarts; a health verdict has health and\n"
                   "output; a reload has changes).\n");
}

int verb_events_run(int argc, char **argv, const char *socket_path, bool json)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        struct sigaction sa = { .sa_handler = on_signal };
        Events ev = { .json = json };
        int r, ret = 0;

        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "-h") || streq(argv[i], "--help")) {
                        usage(stdout);
                        return 0;
                }
                if (streq(argv[i], "--json"))
                        ev.json = true;
                else {
                        fprintf(stderr, "ccsupctl: events: unexpected argument `%s`\n", argv[i]);
                        usage(stderr);
                        return 2;
                }
        }
        r = subscribe(socket_path, &ev, &bus);
        if (r < 0) {
                fprintf(stderr, "ccsupctl: cannot reach ccsupd at %s: %s\n", socket_path, strerror(-r));
                events_done(&ev);
                return 5;
        }
        /* No SA_RESTART: the wait returns at once. */
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        while (!interrupted) {
                r = sd_bus_process(bus, NULL);
                if (r > 0)
                        continue;
                if (r >= 0)
                        r = sd_bus_wait(bus, UINT64_MAX);
                if (r >= 0 || r == -EINTR)
                        continue;
                /* Gone: daemon-reexec, or a ccsupd restarting. */
                bus = sd_bus_flush_close_unref(bus);
                for (uint64_t waited = 0; !interrupted; waited += 100 * USEC_PER_MSEC) {
                        if (subscribe(socket_path, &ev, &bus) >= 0)
                                break;
                        if (waited >= RECONNECT_USEC) {
                                fprintf(stderr, "ccsupctl: events: connection to ccsupd lost: %s\n",
                                        strerror(-r));
                                ret = 1;
                                goto out;
                        }
                        usleep(100 * 1000);
                }
        }
out:
        events_done(&ev);
        return ret;
}
