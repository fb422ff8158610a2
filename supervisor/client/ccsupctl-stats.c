/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ccsupctl-image.h"
#include "ccsupctl-props.h"
#include "ccsupctl-stats.h"
#include "util.h"

#define UNSET UINT64_MAX

typedef struct Sample {
        char *name;
        uint64_t pid, cpu_nsec, mem, mem_max, tasks, rx, tx, at_usec;
        bool running, net;
} Sample;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static void stats_help(void)
{
        printf("Usage: ccsupctl stats [--no-stream] [--no-legend] [UNIT...]\n"
               "\n"
               "CPU, memory, task and network use of the named units (default: every\n"
               "running unit): UNIT CPU%% MEM MEM-LIMIT PIDS NET-RX NET-TX. CPU%% is over\n"
               "the last second (100%% is one CPU); MEM-LIMIT is the unit's MemoryMax=;\n"
               "NET-RX/NET-TX count the bytes of the container's own network namespace\n"
               "(a dash for host networking). Redrawn every second until interrupted.\n"
               "\n"
               "  --no-stream   print one table and exit\n"
               "  --no-legend   no header line\n");
}

/* Sum of the rx/tx bytes of every interface but lo in /proc/PID/net/dev,
 * when PID's network namespace is not ours. */
static bool read_net(uint64_t pid, uint64_t *rx, uint64_t *tx)
{
        _cleanup_free_ char *nsp = xasprintf("/proc/%" PRIu64 "/ns/net", pid);
        _cleanup_free_ char *devp = xasprintf("/proc/%" PRIu64 "/net/dev", pid);
        _cleanup_(fclosep) FILE *f = NULL;
        struct stat mine, theirs;
        char line[512];

        if (stat("/proc/self/ns/net", &mine) < 0 || stat(nsp, &theirs) < 0 ||
            (mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino))
                return false;
        f = fopen(devp, "re");
        if (!f)
                return false;
        *rx = *tx = 0;
        while (fgets(line, sizeof(line), f)) {
                char *colon = strchr(line, ':'), *name = line;
                unsigned long long v[9];
                if (!colon)
                        continue; /* the two header lines */
                *colon = '\0';
                name += strspn(name, " ");
                if (streq(name, "lo"))
                        continue;
                /* rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes */
                if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                           &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) != 9)
                        continue;
                *rx += v[0];
                *tx += v[8];
        }
        return true;
}

static int sample(sd_bus *bus, const char *name, Sample *s)
{
        sd_bus_error e = SD_BUS_ERROR_NULL;
        char *real_name = NULL;
        int r;

        *s = (Sample){ .mem_max = UNSET, .cpu_nsec = UNSET, .mem = UNSET, .tasks = UNSET };
        const PropWant want[] = {
                { "Name", 's', &real_name },      { "MainPID", 'u', &s->pid },
                { "CPUUsageNSec", 't', &s->cpu_nsec }, { "MemoryCurrent", 't', &s->mem },
                { "MemoryMax", 't', &s->mem_max }, { "TasksCurrent", 't', &s->tasks },
        };
        r = props_call(bus, "GetUnit", name, want, ELEMENTSOF(want), &e);
        if (r < 0) {
                free(real_name);
                r = props_report_error(name, &e, r);
                sd_bus_error_free(&e);
                return r;
        }
        s->name = real_name ? real_name : xstrdup(name);
        s->at_usec = now_usec_monotonic();
        s->running = s->pid > 0;
        if (s->running)
                s->net = read_net(s->pid, &s->rx, &s->tx);
        return 0;
}

static char *format_bytes(uint64_t b)
{
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
        double v = (double)b;
        size_t i = 0;

        while (v >= 1024 && i + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                i++;
        }
        return i == 0 ? xasprintf("%" PRIu64 "B", b) : xasprintf("%.1f%s", v, units[i]);
}

static char *cell_bytes(bool have, uint64_t b)
{
        return have && b != UNSET ? format_bytes(b) : xstrdup("-");
}

static void print_table(const Sample *before, const Sample *now, size_t n, bool legend)
{
        int w = 4;

        for (size_t i = 0; i < n; i++)
                if ((int)strlen(now[i].name) > w)
                        w = (int)strlen(now[i].name);
        if (legend)
                printf("%-*s %7s %10s %10s %6s %10s %10s\n", w, "UNIT", "CPU%", "MEM", "MEM-LIMIT",
                       "PIDS", "NET-RX", "NET-TX");
        for (size_t i = 0; i < n; i++) {
                const Sample *a = &before[i], *b = &now[i];
                bool same = a->running && b->running && a->pid == b->pid;
                _cleanup_free_ char *cpu = NULL, *pids = NULL;
                _cleanup_free_ char *mem = cell_bytes(b->running, b->mem);
                _cleanup_free_ char *lim = cell_bytes(true, b->mem_max);
                _cleanup_free_ char *rx = cell_bytes(b->net, b->rx), *tx = cell_bytes(b->net, b->tx);

                if (same && a->cpu_nsec != UNSET && b->cpu_nsec != UNSET && b->at_usec > a->at_usec &&
                    b->cpu_nsec >= a->cpu_nsec)
                        cpu = xasprintf("%.2f%%", (double)(b->cpu_nsec - a->cpu_nsec) /
                                                          (double)((b->at_usec - a->at_usec) * 1000) * 100);
                else
                        cpu = xstrdup("-");
                pids = b->running && b->tasks != UNSET ? xasprintf("%" PRIu64, b->tasks) : xstrdup("-");
                printf("%-*s %7s %10s %10s %6s %10s %10s\n", w, b->name, cpu, mem, lim, pids, rx, tx);
        }
        fflush(stdout);
}

static void samples_free(Sample *s, size_t n)
{
        for (size_t i = 0; s && i < n; i++)
                free(s[i].name);
        free(s);
}

/* The running units, from ListUnits (named units are taken as given). */
static int running_units(sd_bus *bus, char ***ret)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *name, *state, *result, *desc, *sub;
        uint32_t pid, restarts;
        uint64_t since;
        char **names = NULL;
        int r;

        r = sd_bus_call_method(bus, NULL, "/org/ccsup", "org.ccsup.Manager1", "ListUnits", &e, &reply,
                               "");
        if (r < 0) {
                r = props_report_error("ListUnits", &e, r);
                sd_bus_error_free(&e);
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "(sssuutss)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(sssuutss)", &name, &state, &result, &pid,
                                                  &restarts, &since, &desc, &sub)) > 0)
                if (pid > 0)
                        strv_add(&names, name);
        if (r < 0) {
                strv_free(names);
                fprintf(stderr, "ccsupctl: malformed reply: %s\n", strerror(-r));
                return 1;
        }
        strv_sort(names);
        *ret = names;
        return 0;
}

static int take(sd_bus *bus, char *const *names, Sample **ret)
{
        size_t n = strv_length(names);
        Sample *s = xcalloc(n + 1, sizeof(Sample));

        for (size_t i = 0; i < n; i++) {
                int r = sample(bus, names[i], &s[i]);
                if (r != 0) {
                        samples_free(s, i);
                        return r;
                }
        }
        *ret = s;
        return 0;
}

int verb_stats_run(int argc, char **argv, const char *socket_path, bool no_legend)
{
        _cleanup_strv_free_ char **names = NULL;
        bool no_stream = false, tty = isatty(STDOUT_FILENO);
        sd_bus *bus = NULL;
        Sample *before = NULL, *now = NULL;
        size_t n = 0;
        int r;

        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--no-stream"))
                        no_stream = true;
                else if (streq(argv[i], "--no-legend"))
                        no_legend = true;
                else if (streq(argv[i], "-h") || streq(argv[i], "--help")) {
                        stats_help();
                        return 0;
                } else if (streq(argv[i], "--"))
                        while (++i < argc)
                                strv_add(&names, argv[i]);
                else if (argv[i][0] == '-') {
                        fprintf(stderr, "ccsupctl: stats: unknown option `%s`\n", argv[i]);
                        return 2;
                } else
                        strv_add(&names, argv[i]);
        }
        r = ccsupctl_open_bus(socket_path, &bus);
        if (r < 0) {
                fprintf(stderr, "ccsupctl: cannot reach ccsupd at %s: %s\n", socket_path, strerror(-r));
                return 5;
        }
        if (!names && (r = running_units(bus, &names)) != 0)
                goto out;
        n = strv_length(names);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        if ((r = take(bus, names, &before)) != 0)
                goto out;
        for (;;) {
                /* CPU% is measured over this second. */
                for (int t = 0; t < 10 && !stop_requested; t++)
                        usleep(100 * 1000);
                if (stop_requested)
                        break;
                if ((r = take(bus, names, &now)) != 0)
                        break;
                if (tty && !no_stream)
                        fputs("\033[H\033[2J", stdout);
                print_table(before, now, n, !no_legend);
                samples_free(before, n);
                before = now;
                now = NULL;
                if (no_stream)
                        break;
                if (!tty)
                        putchar('\n');
        }
out:
        samples_free(before, n);
        samples_free(now, n);
        sd_bus_flush_close_unref(bus);
        return r;
}
