/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ccsupctl: the client of ccsupd (CLI.md). A thin layer: parse arguments,
 * make one call, print. `verify` needs no daemon; everything else talks to
 * ccsupd over its control socket (sd-bus, peer to peer; see
 * supervisor/daemon/control.h for the API).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <systemd/sd-bus.h>

#include "ccsupctl-edit.h"
#include "ccsupctl-events.h"
#include "ccsupctl-exec.h"
#include "ccsupctl-autoupdate.h"
#include "ccsupctl-image.h"
#include "ccsupctl-logs.h"
#include "ccsupctl-stats.h"
#include "parse.h"
#include "unit.h"
#include "test-switches.h"
#include "util.h"

enum {
        EXIT_OK = 0,
        EXIT_FAILED = 1,
        EXIT_USAGE = 2,
        EXIT_NOT_RUNNING = 3,
        EXIT_NO_UNIT = 4,
        EXIT_UNREACHABLE = 5,
};

#define IFACE "org.ccsup.Manager1"
#define OBJ "/org/ccsup"
/* start/stop/restart wait for the unit: allow for long stop timeouts. */
#define JOB_TIMEOUT_USEC (15ULL * 60 * USEC_PER_SEC)

static const char *arg_socket;
static bool arg_json, arg_no_legend, arg_no_block;
static int arg_signal = SIGTERM;

static void help(void)
{
        printf("Usage: ccsupctl [OPTIONS] COMMAND [ARGS]\n"
               "\n"
               "Show and change the containers that ccsupd supervises.\n"
               "\n"
               "Options:\n"
               "  --socket=PATH   control socket (default: $CCSUP_SOCKET, else /run/ccsup/control)\n"
               "  --json          print JSON (list, status, show, events)\n"
               "  --no-legend     no column headers (list)\n"
               "  --no-block      start, restart: return at once, do not wait\n"
               "  -s, --signal=SIG  kill: the signal to send (default SIGTERM)\n"
               "  -h, --help      show this help\n"
               "  --version       show the version\n"
               "\n"
               "Commands:\n"
               "  list                 one line per unit (the default command)\n"
               "  status [UNIT...]     the manager, or each unit in detail (exit 3 if one\n"
               "                       of them is not running)\n"
               "  start UNIT...        start, and wait until running or failed\n"
               "  stop UNIT...         stop, and wait; no restart follows\n"
               "  restart UNIT...      stop then start; clears the restart backoff\n"
               "  kill [--signal=SIG] UNIT...  signal every process of the container\n"
               "  reload               rescan the unit path; one line per unit added,\n"
               "                       removed, changed or bad\n"
               "  show UNIT            Key=Value properties, for scripts\n"
               "  cat UNIT             the unit file and its drop-ins (root only)\n"
               "  logs [-f] [-n N] UNIT\n"
               "                       the container's output, from the journal or its log\n"
               "                       files: every line (-n N: the last N); -f follows\n"
               "  exec [-i] UNIT CMD [ARG...]\n"
               "                       run CMD inside the running container, with our stdout\n"
               "                       and stderr (-i: stdin too); exit with its exit status\n"
               "                       (see ccsupctl exec --help)\n"
               "  events [--json]      follow state changes, readiness, restarts and reloads\n"
               "                       as they happen, one line (or JSON object) each, until\n"
               "                       interrupted (see ccsupctl events --help)\n"
               "  stats [--no-stream] [UNIT...]\n"
               "                       CPU%%, memory, limit, tasks and network bytes of each\n"
               "                       (running) unit, redrawn every second; --no-stream: once\n"
               "  edit UNIT            edit UNIT.unit.d/override.conf in the first directory\n"
               "                       of the unit path with $EDITOR; checked before it is\n"
               "                       saved, then ccsupd reloads (see ccsupctl edit --help)\n"
               "  reset UNIT           clear a failed state and the restart counter\n"
               "  verify FILE...       check unit files without a daemon; prints FILE:LINE: message\n"
               "                       lines and exits 1 if any file has errors\n"
               "  auto-update [--dry-run] [UNIT...]\n"
               "                       pull AutoUpdate=registry units' tags, restart on a new\n"
               "                       digest, roll back when it does not come up\n"
               "  image import SOURCE [NAME[:TAG]] | pull REF | list | remove REF | inspect REF\n"
               "                       lines and exits 1 if any file has errors (a template\n"
               "                       NAME@.unit is checked as its instance `sample`)\n"
               "  image import SOURCE [NAME[:TAG]] | list | remove REF | inspect REF\n"
               "                       the image store of the ccsupd on --socket (its\n"
               "                       --state-dir); when none answers, $CCSUP_STATE_DIR, else\n"
               "                       /var/lib/ccsup (see ccsupctl image --help)\n"
               "  poweroff | reboot | halt\n"
               "                       when ccsupd is PID 1: stop every container (reverse\n"
               "                       dependency order), then end the system; returns at once\n"
               "  daemon-reexec        ccsupd re-executes itself (an upgraded binary too) and\n"
               "                       takes its running containers back, restarting none\n"
               "                       (connections relayed on [::1] stay open);\n"
               "                       returns once the new ccsupd answers\n"
               "\n"
               "Exit status: 0 success, 1 failure, 2 usage, 3 unit not running,\n"
               "4 no such unit, 5 ccsupd unreachable or permission denied.\n"
               "See ccsupctl(8).\n");
}

static int verb_verify(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "ccsupctl: verify: no unit file given\n");
                return EXIT_USAGE;
        }
        int ret = EXIT_OK;
        for (int i = 1; i < argc; i++) {
                UnitConfig *c = NULL;
                _cleanup_strv_free_ char **errors = NULL;
                if (unit_load_file(argv[i], &c, &errors) < 0)
                        ret = EXIT_FAILED;
                STRV_FOREACH(e, errors)
                        printf("%s\n", *e);
                unit_config_free(c);
        }
        return ret;
}

/* ------------------------------------------------------------------ the connection */

static sd_bus *bus;

/* Maps a D-Bus error to our exit codes, printing it. */
static int report_error(const char *what, const sd_bus_error *e, int r)
{
        if (sd_bus_error_has_name(e, "org.ccsup.Error.NoSuchUnit")) {
                fprintf(stderr, "ccsupctl: %s\n", e->message);
                return EXIT_NO_UNIT;
        }
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED) || r == -EACCES || r == -EPERM) {
                fprintf(stderr, "ccsupctl: %s: permission denied (%s)\n", what,
                        e && e->message ? e->message : strerror(-r));
                return EXIT_UNREACHABLE;
        }
        if (sd_bus_error_is_set(e))
                fprintf(stderr, "ccsupctl: %s: %s\n", what, e->message);
        else
                fprintf(stderr, "ccsupctl: %s: %s\n", what, strerror(-r));
        if (r == -ECONNRESET || r == -ENOTCONN || r == -ECONNREFUSED)
                return EXIT_UNREACHABLE;
        return EXIT_FAILED;
}

/* sd-bus addresses escape everything but [A-Za-z0-9/_.-]. */
static char *bus_address(const char *path)
{
        char *a = xmalloc(strlen("unix:path=") + 3 * strlen(path) + 1), *p;

        p = stpcpy(a, "unix:path=");
        for (const char *s = path; *s; s++) {
                unsigned char ch = (unsigned char)*s;
                if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                    strchr("/_.-", ch))
                        *p++ = (char)ch;
                else
                        p += sprintf(p, "%%%02x", ch);
        }
        *p = '\0';
        return a;
}

int ccsupctl_open_bus(const char *socket_path, sd_bus **ret)
{
        _cleanup_free_ char *address = bus_address(socket_path);
        sd_bus *b = NULL;
        int r;

        if ((r = sd_bus_new(&b)) < 0 || (r = sd_bus_set_address(b, address)) < 0 ||
            (r = sd_bus_negotiate_fds(b, 1)) < 0 || (r = sd_bus_start(b)) < 0) {
                sd_bus_unref(b);
                return r;
        }
        *ret = b;
        return 0;
}

static int connect_daemon(void)
{
        int r;

        if ((r = ccsupctl_open_bus(arg_socket, &bus)) < 0) {
                if (r == -EACCES || r == -EPERM)
                        fprintf(stderr, "ccsupctl: %s: permission denied\n", arg_socket);
                else
                        fprintf(stderr, "ccsupctl: cannot reach ccsupd at %s: %s\n", arg_socket,
                                strerror(-r));
                return EXIT_UNREACHABLE;
        }
        return EXIT_OK;
}

static int call(const char *method, uint64_t timeout, sd_bus_message **ret, const char *types, ...)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        va_list ap;
        int r, ret_code = EXIT_OK;

        r = sd_bus_message_new_method_call(bus, &m, NULL, OBJ, IFACE, method);
        if (r >= 0 && types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = sd_bus_call(bus, m, timeout, &e, ret);
        if (r < 0)
                ret_code = report_error(method, &e, r);
        sd_bus_error_free(&e);
        return ret_code;
}

/* ------------------------------------------------------------------ unit properties */

typedef struct Prop {
        char *key;
        char type; /* 's', 'u', 't', 'i', 'a' (as) */
        char *s;
        int64_t i;
        uint64_t u;
        char **strv;
} Prop;

typedef struct Props {
        Prop *p;
        size_t n;
} Props;

static void props_done(Props *ps)
{
        for (size_t i = 0; i < ps->n; i++) {
                free(ps->p[i].key);
                free(ps->p[i].s);
                strv_free(ps->p[i].strv);
        }
        free(ps->p);
        *ps = (Props){};
}

static const Prop *props_get(const Props *ps, const char *key)
{
        for (size_t i = 0; i < ps->n; i++)
                if (streq(ps->p[i].key, key))
                        return &ps->p[i];
        return NULL;
}

static const char *props_s(const Props *ps, const char *key)
{
        const Prop *p = props_get(ps, key);
        return p && p->type == 's' ? p->s : NULL;
}

static bool props_u(const Props *ps, const char *key, uint64_t *ret)
{
        const Prop *p = props_get(ps, key);
        if (!p || (p->type != 'u' && p->type != 't'))
                return false;
        *ret = p->u;
        return true;
}

static int read_prop(sd_bus_message *m, Prop *p)
{
        const char *contents, *key, *s;
        uint32_t u32;
        int32_t i32;
        char type;
        int r;

        if ((r = sd_bus_message_read(m, "s", &key)) < 0 ||
            (r = sd_bus_message_peek_type(m, &type, &contents)) < 0 ||
            (r = sd_bus_message_enter_container(m, 'v', contents)) < 0)
                return r;
        p->key = xstrdup(key);
        p->type = contents[0];
        switch (contents[0]) {
        case 's':
                r = sd_bus_message_read_basic(m, 's', &s);
                if (r >= 0)
                        p->s = xstrdup(s);
                break;
        case 'u':
                r = sd_bus_message_read_basic(m, 'u', &u32);
                p->u = u32;
                break;
        case 't':
                r = sd_bus_message_read_basic(m, 't', &p->u);
                break;
        case 'i':
                r = sd_bus_message_read_basic(m, 'i', &i32);
                p->i = i32;
                break;
        case 'a':
                r = streq(contents, "as") ? sd_bus_message_read_strv(m, &p->strv)
                                          : sd_bus_message_skip(m, contents);
                break;
        default:
                r = sd_bus_message_skip(m, contents);
                break;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int read_props(sd_bus_message *m, Props *ret)
{
        Props ps = {};
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                ps.p = xrealloc(ps.p, (ps.n + 1) * sizeof(Prop));
                ps.p[ps.n] = (Prop){};
                r = read_prop(m, &ps.p[ps.n++]);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        if (r < 0) {
                props_done(&ps);
                fprintf(stderr, "ccsupctl: malformed reply: %s\n", strerror(-r));
                return EXIT_FAILED;
        }
        *ret = ps;
        return EXIT_OK;
}

static int get_unit(const char *name, Props *ret)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = call("GetUnit", 0, &reply, "s", name);
        if (r != EXIT_OK)
                return r;
        return read_props(reply, ret);
}

/* The `show` keys, in order (CLI.md); JSON numbers for the numeric ones. */
static const struct {
        const char *key;
        bool number;
} show_keys[] = {
        { "Name", false },         { "State", false },         { "Result", false },
        { "MainPID", true },       { "Restarts", true },       { "NextRestartUSec", true },
        { "ExitCode", true },      { "ExitSignal", false },    { "StartedAt", true },
        { "Image", false },        { "CgroupPath", false },    { "MemoryCurrent", true },
        { "MemoryPeak", true },    { "TasksCurrent", true },   { "CPUUsageNSec", true },
        { "Health", false },       { "FragmentPath", false },  { "DropIns", false },
        { "LoadErrors", false },   { "Ready", false },         { "StatusText", false },
        { "ImageDigest", false },
        { "IPAddress", false },    { "IPv6Address", false },   { "PublishedPorts", false },
        { "UIDRange", false },     { "Template", false },      { "Instance", false },
};

static void json_string(const char *s)
{
        putchar('"');
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        printf("\\%c", *p);
                else if (*p == '\n')
                        fputs("\\n", stdout);
                else if (*p == '\t')
                        fputs("\\t", stdout);
                else if (*p < 0x20 || *p == 0x7f)
                        printf("\\u%04x", *p);
                else
                        putchar(*p);
        }
        putchar('"');
}

static void print_json_props(const Props *ps)
{
        putchar('{');
        for (size_t k = 0; k < ELEMENTSOF(show_keys); k++) {
                const Prop *p = props_get(ps, show_keys[k].key);
                if (k > 0)
                        putchar(',');
                json_string(show_keys[k].key);
                putchar(':');
                if (!p)
                        fputs("null", stdout);
                else if (p->type == 's')
                        json_string(p->s);
                else if (p->type == 'u' || p->type == 't')
                        printf("%" PRIu64, p->u);
                else if (p->type == 'i')
                        printf("%" PRId64, p->i);
                else if (p->type == 'a') {
                        putchar('[');
                        for (size_t i = 0; p->strv && p->strv[i]; i++) {
                                if (i > 0)
                                        putchar(',');
                                json_string(p->strv[i]);
                        }
                        putchar(']');
                } else
                        fputs("null", stdout);
        }
        putchar('}');
}

static void print_show_props(const Props *ps)
{
        for (size_t k = 0; k < ELEMENTSOF(show_keys); k++) {
                const Prop *p = props_get(ps, show_keys[k].key);
                printf("%s=", show_keys[k].key);
                if (!p)
                        ;
                else if (p->type == 's')
                        fputs(p->s, stdout);
                else if (p->type == 'u' || p->type == 't')
                        printf("%" PRIu64, p->u);
                else if (p->type == 'i')
                        printf("%" PRId64, p->i);
                else if (p->type == 'a') {
                        _cleanup_free_ char *j = strv_join(p->strv,
                                                           streq(p->key, "LoadErrors") ? "; " : " ");
                        fputs(j, stdout);
                }
                putchar('\n');
        }
}

/* ------------------------------------------------------------------ list */

typedef struct Row {
        char *name, *state, *result, *description, *sub;
        uint32_t pid, restarts;
        uint64_t since;
} Row;

static int row_cmp(const void *a, const void *b)
{
        return strcmp(((const Row *)a)->name, ((const Row *)b)->name);
}

static void rows_free(Row *rows, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(rows[i].name);
                free(rows[i].state);
                free(rows[i].result);
                free(rows[i].description);
                free(rows[i].sub);
        }
        free(rows);
}

static int list_units(Row **ret, size_t *ret_n)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Row *rows = NULL;
        size_t n = 0;
        int r;

        r = call("ListUnits", 0, &reply, NULL);
        if (r != EXIT_OK)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(sssuutss)");
        for (;;) {
                const char *name, *state, *result, *desc, *sub;
                uint32_t pid, restarts;
                uint64_t since;
                if (r < 0)
                        break;
                r = sd_bus_message_read(reply, "(sssuutss)", &name, &state, &result, &pid, &restarts,
                                        &since, &desc, &sub);
                if (r <= 0)
                        break;
                rows = xrealloc(rows, (n + 1) * sizeof(Row));
                rows[n++] = (Row){ xstrdup(name), xstrdup(state), xstrdup(result), xstrdup(desc),
                                   xstrdup(sub), pid, restarts, since };
        }
        if (r < 0) {
                rows_free(rows, n);
                fprintf(stderr, "ccsupctl: malformed reply: %s\n", strerror(-r));
                return EXIT_FAILED;
        }
        if (n > 0)
                qsort(rows, n, sizeof(Row), row_cmp);
        *ret = rows;
        *ret_n = n;
        return EXIT_OK;
}

/* "5s", "3min", "2h", "4d": how long ago. */
static char *format_ago(uint64_t then)
{
        uint64_t now = now_usec_realtime(), d = now > then ? (now - then) / USEC_PER_SEC : 0;

        if (!then)
                return xstrdup("-");
        if (d < 120)
                return xasprintf("%" PRIu64 "s", d);
        if (d < 7200)
                return xasprintf("%" PRIu64 "min", d / 60);
        if (d < 172800)
                return xasprintf("%" PRIu64 "h", d / 3600);
        return xasprintf("%" PRIu64 "d", d / 86400);
}

static int print_list_json(Row *rows, size_t n)
{
        putchar('[');
        for (size_t i = 0; i < n; i++) {
                Props ps = {};
                int r = get_unit(rows[i].name, &ps);
                if (r == EXIT_NO_UNIT)
                        continue; /* removed meanwhile */
                if (r != EXIT_OK)
                        return r;
                if (i > 0)
                        putchar(',');
                print_json_props(&ps);
                props_done(&ps);
        }
        puts("]");
        return EXIT_OK;
}

static int print_list(Row *rows, size_t n)
{
        int w_name = 4, w_state = 5, w_result = 6, w_pid = 3;
        char **ago = xcalloc(n + 1, sizeof(char *));

        for (size_t i = 0; i < n; i++) {
                int l;
                if ((l = (int)strlen(rows[i].name)) > w_name)
                        w_name = l;
                if ((l = (int)strlen(rows[i].state)) > w_state)
                        w_state = l;
                if ((l = (int)strlen(rows[i].result)) > w_result)
                        w_result = l;
                if ((l = snprintf(NULL, 0, "%" PRIu32, rows[i].pid)) > w_pid)
                        w_pid = l;
                ago[i] = format_ago(rows[i].since);
        }
        if (!arg_no_legend)
                printf("%-*s %-*s %-*s %*s %8s %5s %s\n", w_name, "UNIT", w_state, "STATE", w_result,
                       "RESULT", w_pid, "PID", "RESTARTS", "SINCE", "DESCRIPTION");
        for (size_t i = 0; i < n; i++) {
                char pid[16];
                if (rows[i].pid)
                        snprintf(pid, sizeof(pid), "%" PRIu32, rows[i].pid);
                else
                        strcpy(pid, "-");
                printf("%-*s %-*s %-*s %*s %8" PRIu32 " %5s %s\n", w_name, rows[i].name, w_state,
                       rows[i].state, w_result, rows[i].result, w_pid, pid, rows[i].restarts, ago[i],
                       rows[i].description);
        }
        if (!arg_no_legend)
                printf("\n%zu unit%s listed.\n", n, n == 1 ? "" : "s");
        strv_free(ago);
        return EXIT_OK;
}

static int verb_list(int argc, char **argv)
{
        Row *rows = NULL;
        size_t n = 0;
        int r;

        r = list_units(&rows, &n);
        if (r != EXIT_OK)
                return r;
        r = arg_json ? print_list_json(rows, n) : print_list(rows, n);
        rows_free(rows, n);
        return r;
}

/* ------------------------------------------------------------------ status */

static char *format_bytes(uint64_t b)
{
        static const char suffix[] = "KMGT";
        double v = (double)b;
        int i = -1;

        if (b < 1024)
                return xasprintf("%" PRIu64 "B", b);
        while (v >= 1024 && i < 3) {
                v /= 1024;
                i++;
        }
        return xasprintf("%.1f%c", v, suffix[i]);
}

static char *format_time(uint64_t usec)
{
        time_t t = (time_t)(usec / USEC_PER_SEC);
        struct tm tm;
        char buf[64];

        if (!localtime_r(&t, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %Z", &tm))
                return xstrdup("?");
        return xstrdup(buf);
}

static const char *state_color(const char *state)
{
        if (streq(state, "running"))
                return "\033[0;1;32m";
        if (streq(state, "failed") || streq(state, "bad"))
                return "\033[0;1;31m";
        if (streq(state, "waiting") || streq(state, "starting") || streq(state, "stopping"))
                return "\033[0;1;33m";
        return "";
}

static void print_status_block(const Props *ps)
{
        const char *state = props_s(ps, "State") ?: "?", *sub = props_s(ps, "SubState");
        const char *desc = props_s(ps, "Description"), *s;
        bool tty = isatty(STDOUT_FILENO);
        const Prop *p;
        uint64_t v, v2;

        printf("%s●%s %s%s%s\n", tty ? state_color(state) : "", tty ? "\033[0m" : "",
               props_s(ps, "Name"), desc ? " - " : "", desc ? desc : "");
        printf("       File: %s\n", props_s(ps, "FragmentPath") ?: "(masked)");
        p = props_get(ps, "DropIns");
        for (size_t i = 0; p && p->strv && p->strv[i]; i++)
                printf("%s%s\n", i == 0 ? "    Drop-In: " : "             ", p->strv[i]);
        {
                _cleanup_free_ char *since = NULL, *ago = NULL;
                if (props_u(ps, "StateChangeUSec", &v)) {
                        since = format_time(v);
                        ago = format_ago(v);
                }
                printf("      State: %s%s (%s%s%s)%s", tty ? state_color(state) : "", state,
                       sub && *sub ? sub : "", sub && *sub ? ", " : "", props_s(ps, "Result") ?: "?",
                       tty ? "\033[0m" : "");
                if (since)
                        printf(" since %s; %s ago", since, ago);
                putchar('\n');
        }
        if ((s = props_s(ps, "StatusText")) && *s) {
                printf("     Status: \"%s\"", s);
                if (props_u(ps, "StatusErrno", &v))
                        printf(" (errno %" PRIu64 ": %s)", v, strerror((int)v));
                putchar('\n');
        } else if (props_u(ps, "StatusErrno", &v))
                printf("     Status: errno %" PRIu64 " (%s)\n", v, strerror((int)v));
        if ((s = props_s(ps, "Health")) && *s) {
                /* "healthy (12 checks; last 2026-01-02 10:00:00 UTC, 3s ago: passed: GET /: HTTP/1.1 200 OK)" */
                printf("     Health: %s", s);
                if (props_u(ps, "HealthCheckUSec", &v)) {
                        _cleanup_free_ char *when = format_time(v), *ago = format_ago(v);
                        if (!props_u(ps, "HealthChecks", &v2))
                                v2 = 0;
                        printf(" (%" PRIu64 " checks; last %s, %s ago: %s: %s)", v2, when, ago,
                               props_s(ps, "HealthLastResult") ?: "?", props_s(ps, "HealthOutput") ?: "");
                }
                putchar('\n');
        }
        if ((s = props_s(ps, "Image")))
                printf("      Image: %s\n", s);
        if (props_u(ps, "MainPID", &v))
                printf("   Main PID: %" PRIu64 "\n", v);
        if (props_u(ps, "Restarts", &v)) {
                printf("   Restarts: %" PRIu64, v);
                if (props_u(ps, "NextRestartUSec", &v2)) {
                        _cleanup_free_ char *d = format_duration(v2);
                        printf(" (next restart in %s)", d);
                }
                putchar('\n');
        }
        p = props_get(ps, "ExitCode");
        if (p && p->type == 'i')
                printf("  Last exit: code %" PRId64 " (%s)\n", p->i, props_s(ps, "Result") ?: "?");
        if ((s = props_s(ps, "ExitSignal")))
                printf("  Last exit: signal %s (%s)\n", s, props_s(ps, "Result") ?: "?");
        if ((s = props_s(ps, "StartError")))
                printf("Start error: %s\n", s);
        if (props_u(ps, "MemoryCurrent", &v)) {
                _cleanup_free_ char *cur = format_bytes(v), *peak = NULL;
                if (props_u(ps, "MemoryPeak", &v2))
                        peak = format_bytes(v2);
                printf("     Memory: %s%s%s%s\n", cur, peak ? " (peak " : "", peak ? peak : "",
                       peak ? ")" : "");
        }
        if (props_u(ps, "TasksCurrent", &v))
                printf("      Tasks: %" PRIu64 "\n", v);
        if (props_u(ps, "CPUUsageNSec", &v))
                printf("        CPU: %" PRIu64 "ms\n", v / 1000000);
        if ((s = props_s(ps, "CgroupPath")))
                printf("     Cgroup: %s\n", s);
        p = props_get(ps, "LoadErrors");
        for (size_t i = 0; p && p->strv && p->strv[i]; i++)
                printf("%s%s\n", i == 0 ? "Load errors: " : "             ", p->strv[i]);
        logs_print_tail(props_s(ps, "Name"), props_s(ps, "LogTarget"), props_s(ps, "LogPath"), 10);
}

static int status_manager(void)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Props ps = {};
        int r;

        r = call("GetManager", 0, &reply, NULL);
        if (r != EXIT_OK)
                return r;
        r = read_props(reply, &ps);
        if (r != EXIT_OK)
                return r;
        printf("ccsupd %s\n", props_s(&ps, "Version") ?: "?");
        printf("     Cgroup: %s (%s)\n", props_s(&ps, "CgroupPath") ?: "?",
               props_s(&ps, "CgroupMode") ?: "?");
        props_done(&ps);

        /* Units by state: from the list, which is what the user sees next. */
        Row *rows = NULL;
        size_t n = 0;
        static const char *const states[] = { "running", "starting", "stopping", "waiting", "exited",
                                               "failed", "inactive", "bad", "masked" };
        r = list_units(&rows, &n);
        if (r != EXIT_OK)
                return r;
        printf("      Units: %zu", n);
        for (size_t k = 0; k < ELEMENTSOF(states); k++) {
                size_t c = 0;
                for (size_t i = 0; i < n; i++)
                        c += streq(rows[i].state, states[k]);
                if (c)
                        printf(", %zu %s", c, states[k]);
        }
        printf("\n\n");
        r = print_list(rows, n);
        rows_free(rows, n);
        return r;
}

static int verb_status(int argc, char **argv)
{
        int ret = EXIT_OK;

        if (argc < 2)
                return arg_json ? verb_list(argc, argv) : status_manager();
        if (arg_json && argc > 2)
                putchar('[');
        for (int i = 1; i < argc; i++) {
                Props ps = {};
                int r = get_unit(argv[i], &ps);
                if (r != EXIT_OK) {
                        if (r == EXIT_UNREACHABLE)
                                return r;
                        ret = ret == EXIT_OK || ret == EXIT_NOT_RUNNING ? r : ret;
                        continue;
                }
                if (arg_json) {
                        if (argc > 2 && i > 1)
                                putchar(',');
                        print_json_props(&ps);
                } else {
                        if (i > 1)
                                putchar('\n');
                        print_status_block(&ps);
                }
                if (!streq_ptr(props_s(&ps, "State"), "running") && ret == EXIT_OK)
                        ret = EXIT_NOT_RUNNING;
                props_done(&ps);
        }
        if (arg_json)
                puts(argc > 2 ? "]" : "");
        return ret;
}

static int verb_show(int argc, char **argv)
{
        int ret = EXIT_OK;

        if (argc < 2) {
                fprintf(stderr, "ccsupctl: show: no unit given\n");
                return EXIT_USAGE;
        }
        for (int i = 1; i < argc; i++) {
                Props ps = {};
                int r = get_unit(argv[i], &ps);
                if (r != EXIT_OK) {
                        ret = r;
                        continue;
                }
                if (i > 1 && !arg_json)
                        putchar('\n');
                if (arg_json) {
                        print_json_props(&ps);
                        putchar('\n');
                } else
                        print_show_props(&ps);
                props_done(&ps);
        }
        return ret;
}

/* ------------------------------------------------------------------ jobs */

static int verb_job(int argc, char **argv)
{
        const char *method = streq(argv[0], "start") ? "StartUnit"
                           : streq(argv[0], "stop")  ? "StopUnit"
                                                     : "RestartUnit";
        bool stop = streq(argv[0], "stop");
        int ret = EXIT_OK;

        if (argc < 2) {
                fprintf(stderr, "ccsupctl: %s: no unit given\n", argv[0]);
                return EXIT_USAGE;
        }
        for (int i = 1; i < argc; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                const char *state, *result;
                int r = call(method, JOB_TIMEOUT_USEC, &reply, "sb", argv[i], (int)arg_no_block);
                if (r != EXIT_OK) {
                        if (r == EXIT_UNREACHABLE)
                                return r;
                        ret = r;
                        continue;
                }
                if (sd_bus_message_read(reply, "ss", &state, &result) < 0) {
                        fprintf(stderr, "ccsupctl: malformed reply\n");
                        ret = EXIT_FAILED;
                        continue;
                }
                if (arg_no_block || stop)
                        continue;
                if (!streq(state, "running") && !(streq(state, "exited") && streq(result, "success"))) {
                        fprintf(stderr, "ccsupctl: unit `%s` did not start: %s (%s); see `ccsupctl status %s`\n",
                                argv[i], state, result, argv[i]);
                        ret = EXIT_FAILED;
                }
        }
        return ret;
}

static int verb_kill(int argc, char **argv)
{
        int ret = EXIT_OK;

        if (argc < 2) {
                fprintf(stderr, "ccsupctl: kill: no unit given\n");
                return EXIT_USAGE;
        }
        for (int i = 1; i < argc; i++) {
                int r = call("KillUnit", 0, NULL, "si", argv[i], (int32_t)arg_signal);
                if (r == EXIT_UNREACHABLE)
                        return r;
                if (r != EXIT_OK)
                        ret = r;
        }
        return ret;
}

static int verb_reset(int argc, char **argv)
{
        int ret = EXIT_OK;

        if (argc < 2) {
                fprintf(stderr, "ccsupctl: reset: no unit given\n");
                return EXIT_USAGE;
        }
        for (int i = 1; i < argc; i++) {
                int r = call("ResetUnit", 0, NULL, "s", argv[i]);
                if (r == EXIT_UNREACHABLE)
                        return r;
                if (r != EXIT_OK)
                        ret = r;
        }
        return ret;
}

static int verb_reload(int argc, char **argv)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *name, *what;
        int r;

        r = call("Reload", JOB_TIMEOUT_USEC, &reply, NULL);
        if (r != EXIT_OK)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "(ss)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ss)", &name, &what)) > 0)
                printf("%s %s\n", what, name);
        if (r < 0) {
                fprintf(stderr, "ccsupctl: malformed reply: %s\n", strerror(-r));
                return EXIT_FAILED;
        }
        return EXIT_OK;
}

static int verb_cat(int argc, char **argv)
{
        int ret = EXIT_OK;

        if (argc < 2) {
                fprintf(stderr, "ccsupctl: cat: no unit given\n");
                return EXIT_USAGE;
        }
        for (int i = 1; i < argc; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                const char *path, *text;
                bool first = true;
                int r = call("CatUnit", 0, &reply, "s", argv[i]);
                if (r != EXIT_OK) {
                        if (r == EXIT_UNREACHABLE)
                                return r;
                        ret = r;
                        continue;
                }
                r = sd_bus_message_enter_container(reply, 'a', "(ss)");
                while (r >= 0 && (r = sd_bus_message_read(reply, "(ss)", &path, &text)) > 0) {
                        size_t l = strlen(text);
                        printf("%s# %s\n%s%s", first && i == 1 ? "" : "\n", path, text,
                               l > 0 && text[l - 1] != '\n' ? "\n" : "");
                        first = false;
                }
                if (r < 0) {
                        fprintf(stderr, "ccsupctl: malformed reply: %s\n", strerror(-r));
                        ret = EXIT_FAILED;
                }
        }
        return ret;
}

/* poweroff, reboot, halt: ccsupd answers at once, then stops everything. */
static int verb_power(int argc, char **argv)
{
        const char *method = streq(argv[0], "poweroff") ? "PowerOff"
                             : streq(argv[0], "reboot") ? "Reboot"
                                                        : "Halt";
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r, ret = EXIT_OK;

        if (argc > 1) {
                fprintf(stderr, "ccsupctl: %s takes no argument\n", argv[0]);
                return EXIT_USAGE;
        }
        r = sd_bus_message_new_method_call(bus, &m, NULL, OBJ, IFACE, method);
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, &e, NULL);
        if (r < 0)
                ret = report_error(argv[0], &e, r);
        sd_bus_error_free(&e);
        return ret;
}

/* daemon-reexec: ccsupd answers, then execve()s itself. Wait until the old
 * connection is gone (the exec closed it), then until the new ccsupd
 * answers on the socket again (~10 s at most). */
#define REEXEC_TIMEOUT_USEC (10 * USEC_PER_SEC)
static int verb_reexec(int argc, char **argv)
{
        uint64_t until = now_usec_monotonic() + REEXEC_TIMEOUT_USEC;
        int r;

        if (argc > 1) {
                fprintf(stderr, "ccsupctl: daemon-reexec takes no argument\n");
                return EXIT_USAGE;
        }
        r = call("Reexec", 0, NULL, NULL);
        if (r != EXIT_OK)
                return r;
        while (now_usec_monotonic() < until) {
                r = sd_bus_process(bus, NULL);
                if (r < 0 || sd_bus_is_open(bus) <= 0)
                        break;
                if (r == 0)
                        (void)sd_bus_wait(bus, 100 * USEC_PER_MSEC);
        }
        bus = sd_bus_flush_close_unref(bus);
        while (now_usec_monotonic() < until) {
                _cleanup_free_ char *address = bus_address(arg_socket);
                sd_bus_error e = SD_BUS_ERROR_NULL;
                sd_bus *b = NULL;

                if (sd_bus_new(&b) >= 0 && sd_bus_set_address(b, address) >= 0 && sd_bus_start(b) >= 0 &&
                    sd_bus_call_method(b, NULL, OBJ, IFACE, "GetManager", &e, NULL, "") >= 0) {
                        sd_bus_error_free(&e);
                        bus = b; /* closed by main() */
                        return EXIT_OK;
                }
                sd_bus_error_free(&e);
                sd_bus_flush_close_unref(b);
                usleep(50 * 1000);
        }
        fprintf(stderr, "ccsupctl: daemon-reexec: ccsupd did not answer again at %s within %d s\n",
                arg_socket, (int)(REEXEC_TIMEOUT_USEC / USEC_PER_SEC));
        return EXIT_UNREACHABLE;
}

/* logs: where the output goes comes from ccsupd; the rest is read without it. */
static int verb_logs(int argc, char **argv)
{
        LogsArgs a;
        Props ps = {};
        int r = logs_parse_args(argc, argv, &a);

        if (r >= 0)
                return r;
        r = connect_daemon();
        if (r == EXIT_OK)
                r = get_unit(a.unit, &ps);
        bus = sd_bus_flush_close_unref(bus);
        if (r == EXIT_OK)
                r = logs_show(&a, props_s(&ps, "LogTarget"), props_s(&ps, "LogPath"));
        props_done(&ps);
        return r;
}

/* exec: its own options (the command's come after UNIT, untouched). */
static int verb_exec(int argc, char **argv)
{
        sd_bus_error e = SD_BUS_ERROR_NULL;
        ExecArgs a;
        int r = exec_parse_args(argc, argv, &a);

        if (r >= 0)
                return r;
        r = connect_daemon();
        if (r != EXIT_OK)
                return r;
        r = exec_run(bus, &a, &e);
        if (r < 0)
                r = report_error("exec", &e, r);
        sd_bus_error_free(&e);
        sd_bus_flush_close_unref(bus);
        return r;
}

/* ------------------------------------------------------------------ main */

static const struct {
        const char *verb;
        int (*run)(int argc, char **argv);
} verbs[] = {
        { "list", verb_list },     { "status", verb_status }, { "start", verb_job },
        { "stop", verb_job },      { "restart", verb_job },   { "kill", verb_kill },
        { "reload", verb_reload }, { "show", verb_show },     { "cat", verb_cat },
        { "reset", verb_reset },   { "poweroff", verb_power }, { "reboot", verb_power },
        { "halt", verb_power },    { "daemon-reexec", verb_reexec },
};

/* Options may also follow the command ("ccsupctl kill --signal=KILL web").
 * Removes them from argv; returns -1 to go on, else an exit status. */
static int parse_verb_options(int *argc, char **argv)
{
        int j = 1;

        for (int i = 1; i < *argc; i++) {
                const char *a = argv[i], *v;
                if (streq(a, "--no-block"))
                        arg_no_block = true;
                else if (streq(a, "--json"))
                        arg_json = true;
                else if (streq(a, "--no-legend"))
                        arg_no_legend = true;
                else if ((v = startswith(a, "--signal=")) || ((streq(a, "-s") || streq(a, "--signal")) &&
                                                              i + 1 < *argc && (v = argv[++i]))) {
                        arg_signal = parse_signal(v);
                        if (arg_signal < 0) {
                                fprintf(stderr, "ccsupctl: invalid signal `%s`\n", v);
                                return EXIT_USAGE;
                        }
                } else if (streq(a, "--")) {
                        while (++i < *argc)
                                argv[j++] = argv[i];
                } else if (a[0] == '-' && a[1]) {
                        fprintf(stderr, "ccsupctl: unknown option `%s` (see ccsupctl --help)\n", a);
                        return EXIT_USAGE;
                } else
                        argv[j++] = argv[i];
        }
        argv[j] = NULL;
        *argc = j;
        return -1;
}

int main(int argc, char **argv)
{
        enum { OPT_SOCKET = 0x100, OPT_JSON, OPT_NO_LEGEND, OPT_NO_BLOCK, OPT_VERSION };
        static const struct option options[] = {
                { "socket", required_argument, NULL, OPT_SOCKET },
                { "json", no_argument, NULL, OPT_JSON },
                { "no-legend", no_argument, NULL, OPT_NO_LEGEND },
                { "no-block", no_argument, NULL, OPT_NO_BLOCK },
                { "signal", required_argument, NULL, 's' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        int c;

        test_switches_load();
        /* '+': options end at the command, so its own arguments are left alone. */
        while ((c = getopt_long(argc, argv, "+hs:", options, NULL)) >= 0)
                switch (c) {
                case OPT_SOCKET: arg_socket = optarg; break;
                case OPT_JSON: arg_json = true; break;
                case OPT_NO_LEGEND: arg_no_legend = true; break;
                case OPT_NO_BLOCK: arg_no_block = true; break;
                case 's':
                        arg_signal = parse_signal(optarg);
                        if (arg_signal < 0) {
                                fprintf(stderr, "ccsupctl: invalid signal `%s`\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'h': help(); return EXIT_OK;
                case OPT_VERSION: printf("ccsupctl %s\n", PACKAGE_VERSION); return EXIT_OK;
                default: return EXIT_USAGE;
                }
        if (!arg_socket)
                arg_socket = getenv("CCSUP_SOCKET") ? getenv("CCSUP_SOCKET") : "/run/ccsup/control";

        const char *verb = optind < argc ? argv[optind] : "list";
        if (streq(verb, "verify"))
                return verb_verify(argc - optind, argv + optind);
        if (streq(verb, "image"))
                return verb_image(argc - optind, argv + optind, arg_socket);
        if (streq(verb, "auto-update"))
                return verb_auto_update(argc - optind, argv + optind, arg_socket);
        if (streq(verb, "logs"))
                return verb_logs(argc - optind, argv + optind);
        if (streq(verb, "exec"))
                return verb_exec(argc - optind, argv + optind);
        if (streq(verb, "stats"))
                return verb_stats_run(argc - optind, argv + optind, arg_socket, arg_no_legend);
        if (streq(verb, "edit"))
                return verb_edit_run(argc - optind, argv + optind, arg_socket);
        if (streq(verb, "events"))
                return verb_events_run(argc - optind, argv + optind, arg_socket, arg_json);
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(verb, verbs[i].verb))
                        continue;
                char *list_argv[] = { (char *)"list", NULL };
                char **vargv = optind < argc ? argv + optind : list_argv;
                int vargc = optind < argc ? argc - optind : 1;
                int r = parse_verb_options(&vargc, vargv);
                if (r >= 0)
                        return r;
                r = connect_daemon();
                if (r != EXIT_OK)
                        return r;
                r = verbs[i].run(vargc, vargv);
                sd_bus_flush_close_unref(bus);
                return r;
        }
        fprintf(stderr, "ccsupctl: unknown command `%s` (see ccsupctl --help)\n", verb);
        return EXIT_USAGE;
}
