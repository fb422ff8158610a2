/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ccsupd: options, then either --run (one unit in the foreground) or the
 * supervisor daemon. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "daemon.h"
#include "parse.h"
#include "registry.h"
#include "run.h"
#include "self-exe.h"
#include "store.h"
#include "test-switches.h"
#include "util.h"

#define EXIT_USAGE 2

typedef struct Options {
        const char *unit_path;
        const char *runtime_dir;
        const char *state_dir;
        const char *log_dir;
        const char *cgroup;
        const char *run;
        int log_level;
        bool no_watch;
        uint64_t tmpfs_size, tmpfs_size_bp;
        uint64_t image_size_max;
        uint64_t auto_update_interval_usec;
        const char *bridge, *bridge_subnet, *bridge_subnet6;
        unsigned bridge_mtu;
} Options;

static const struct {
        const char *name;
        int level;
} log_levels[] = {
        { "debug", LOG_DEBUG },     { "info", LOG_INFO }, { "notice", LOG_NOTICE },
        { "warning", LOG_WARNING }, { "err", LOG_ERR },
};

static void help(void)
{
        printf("Usage: ccsupd [OPTIONS]\n"
               "       ccsupd --run=FILE.unit [OPTIONS]\n"
               "\n"
               "Supervise the container units of the unit path, or run one unit in the\n"
               "foreground.\n"
               "\n"
               "Options:\n"
               "      --unit-path=DIR[:DIR...]  where units are read, highest priority first\n"
               "                                (default: /etc/ccsup.d:/run/ccsup.d:/usr/lib/ccsup.d)\n"
               "      --runtime-dir=DIR         control socket and runtime state (default: /run/ccsup)\n"
               "      --state-dir=DIR           image store, persistent layers, volumes\n"
               "                                (default: /var/lib/ccsup)\n"
               "      --log-dir=DIR             container logs written to files (default: /var/log/ccsup)\n"
               "      --cgroup=PATH             cgroup under which containers are created\n"
               "                                (default: the delegated cgroup, or under systemd\n"
               "                                before 254 UNIT-containers.scope, else /ccsup)\n"
               "      --log-level=LEVEL         debug, info, notice, warning or err (default: info)\n"
               "      --no-watch                do not watch the unit path; reload only on request\n"
               "      --tmpfs-size=SIZE|PERCENT%%\n"
               "                                size of each tmpfs a unit does not size (the\n"
               "                                writable root, Tmpfs= without size=) when it has\n"
               "                                no MemoryMax= (default: 10%% of RAM)\n"
               "      --image-size-max=SIZE     most an image may unpack to in the store (default: 8G)\n"
               "      --registry-auth=FILE      registry credentials, containers-auth.json format\n"
               "                                (default: $REGISTRY_AUTH_FILE, else /etc/ccsup/auth.json)\n"
               "      --registry-certs=DIR      per-registry CAs, containers-certs.d layout\n"
               "                                (default: /etc/ccsup/certs.d)\n"
               "      --insecure-registry=HOST[:PORT]\n"
               "                                plain HTTP or unverified TLS for it (repeatable)\n"
               "      --auto-update-interval=DURATION\n"
               "                                check AutoUpdate=registry units this often (0: off)\n"
               "      --bridge=NAME             the bridge of Mode=bridge units (default: ccsup0)\n"
               "      --bridge-subnet=CIDR      its IPv4 subnet (default: 10.89.0.0/24)\n"
               "      --bridge-subnet6=CIDR     its IPv6 subnet (default: fd89::/64)\n"
               "      --bridge-mtu=BYTES        its MTU and its containers' (default: the MTU of\n"
               "                                the default route's interface, else 1500)\n"
               "      --run=FILE.unit           run one unit in the foreground, no daemon, no socket\n"
               "  -h, --help                    show this help and exit\n"
               "      --version                 show the version and exit\n"
               "\n"
               "As PID 1 (init=/usr/sbin/ccsupd), ccsupd also mounts /proc, /sys, /dev, /run and\n"
               "the cgroup2 hierarchy when missing, reaps orphans and never exits: SIGTERM and\n"
               "SIGINT (ctrl-alt-del) stop every container then reboot; SIGRTMIN+3, +4, +5\n"
               "halt, power off, reboot (as `ccsupctl halt|poweroff|reboot`). See ccsupd(8).\n");
}

static int parse_log_level(const char *s)
{
        for (size_t i = 0; i < ELEMENTSOF(log_levels); i++)
                if (streq(s, log_levels[i].name))
                        return log_levels[i].level;
        return -1;
}

/* SIZE or PERCENT% of the RAM, PERCENT at most 100. */
static int parse_tmpfs_size(const char *s, Options *o)
{
        size_t l = strlen(s);
        uint64_t v;

        if (l > 0 && s[l - 1] == '%') {
                if (parse_percent(s, &v) < 0 || v > 10000)
                        return -EINVAL;
                o->tmpfs_size = 0;
                o->tmpfs_size_bp = v;
                return 0;
        }
        if (parse_size(s, &v) < 0 || v == 0 || v == SIZE_INFINITY)
                return -EINVAL;
        o->tmpfs_size = v;
        o->tmpfs_size_bp = 0;
        return 0;
}

/* Returns -1 to continue, else an exit status. */
static int parse_argv(int argc, char *argv[], Options *o)
{
        enum { ARG_UNIT_PATH = 0x100, ARG_RUNTIME_DIR, ARG_STATE_DIR, ARG_LOG_DIR, ARG_CGROUP,
               ARG_LOG_LEVEL, ARG_NO_WATCH, ARG_RUN, ARG_VERSION, ARG_TMPFS_SIZE,
               ARG_IMAGE_SIZE_MAX, ARG_REGISTRY_AUTH, ARG_REGISTRY_CERTS, ARG_INSECURE_REGISTRY,
               ARG_AUTO_UPDATE_INTERVAL, ARG_BRIDGE, ARG_BRIDGE_SUBNET, ARG_BRIDGE_SUBNET6, ARG_BRIDGE_MTU };
        static const struct option longopts[] = {
                { "unit-path", required_argument, NULL, ARG_UNIT_PATH },
                { "runtime-dir", required_argument, NULL, ARG_RUNTIME_DIR },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "log-dir", required_argument, NULL, ARG_LOG_DIR },
                { "cgroup", required_argument, NULL, ARG_CGROUP },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "no-watch", no_argument, NULL, ARG_NO_WATCH },
                { "run", required_argument, NULL, ARG_RUN },
                { "tmpfs-size", required_argument, NULL, ARG_TMPFS_SIZE },
                { "image-size-max", required_argument, NULL, ARG_IMAGE_SIZE_MAX },
                { "registry-auth", required_argument, NULL, ARG_REGISTRY_AUTH },
                { "registry-certs", required_argument, NULL, ARG_REGISTRY_CERTS },
                { "insecure-registry", required_argument, NULL, ARG_INSECURE_REGISTRY },
                { "auto-update-interval", required_argument, NULL, ARG_AUTO_UPDATE_INTERVAL },
                { "bridge", required_argument, NULL, ARG_BRIDGE },
                { "bridge-subnet", required_argument, NULL, ARG_BRIDGE_SUBNET },
                { "bridge-subnet6", required_argument, NULL, ARG_BRIDGE_SUBNET6 },
                { "bridge-mtu", required_argument, NULL, ARG_BRIDGE_MTU },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0)
                switch (c) {
                case ARG_UNIT_PATH: o->unit_path = optarg; break;
                case ARG_RUNTIME_DIR: o->runtime_dir = optarg; break;
                case ARG_STATE_DIR: o->state_dir = optarg; break;
                case ARG_LOG_DIR: o->log_dir = optarg; break;
                case ARG_CGROUP: o->cgroup = optarg; break;
                case ARG_NO_WATCH: o->no_watch = true; break;
                case ARG_RUN: o->run = optarg; break;
                /* registry pulls of Image=HOST/REPO:TAG (lib/registry.c) */
                case ARG_REGISTRY_AUTH: registry_defaults_set_auth(optarg); break;
                case ARG_REGISTRY_CERTS: registry_defaults_set_certs(optarg); break;
                case ARG_INSECURE_REGISTRY: registry_defaults_add_insecure(optarg); break;
                case ARG_AUTO_UPDATE_INTERVAL:
                        if (parse_duration(optarg, &o->auto_update_interval_usec) < 0) {
                                fprintf(stderr, "ccsupd: --auto-update-interval: invalid duration `%s`\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_BRIDGE: o->bridge = optarg; break;
                case ARG_BRIDGE_SUBNET: o->bridge_subnet = optarg; break;
                case ARG_BRIDGE_SUBNET6: o->bridge_subnet6 = optarg; break;
                case ARG_BRIDGE_MTU: {
                        char *end;
                        unsigned long v;

                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno || end == optarg || *end || v < 1280 || v > 65535) {
                                fprintf(stderr, "ccsupd: --bridge-mtu=%s: expected 1280 (IPv6's least) to 65535\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        o->bridge_mtu = (unsigned)v;
                        break;
                }
                case ARG_TMPFS_SIZE:
                        if (parse_tmpfs_size(optarg, o) < 0) {
                                fprintf(stderr, "ccsupd: --tmpfs-size: invalid size `%s` "
                                        "(expected SIZE or PERCENT%% of the RAM, at most 100%%)\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_IMAGE_SIZE_MAX:
                        if (parse_size(optarg, &o->image_size_max) < 0 || o->image_size_max == 0) {
                                fprintf(stderr, "ccsupd: --image-size-max: invalid size `%s`\n",
                                        optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case ARG_LOG_LEVEL:
                        o->log_level = parse_log_level(optarg);
                        if (o->log_level < 0) {
                                fprintf(stderr, "ccsupd: invalid log level `%s`\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("ccsupd %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Try 'ccsupd --help' for more information.\n");
                        return EXIT_USAGE;
                }

        if (optind < argc) {
                fprintf(stderr, "ccsupd: unexpected argument `%s`\n", argv[optind]);
                return EXIT_USAGE;
        }
        if (o->cgroup && (!path_is_normalized_absolute(o->cgroup))) {
                fprintf(stderr, "ccsupd: --cgroup: `%s` is not a normalized absolute path\n",
                        o->cgroup);
                return EXIT_USAGE;
        }
        if (o->run && !o->run[0]) {
                fprintf(stderr, "ccsupd: --run needs a unit file\n");
                return EXIT_USAGE;
        }
        return -1;
}

int main(int argc, char *argv[])
{
        Options o = {
                .unit_path = "/etc/ccsup.d:/run/ccsup.d:/usr/lib/ccsup.d",
                .runtime_dir = "/run/ccsup",
                .state_dir = "/var/lib/ccsup",
                .log_dir = "/var/log/ccsup",
                .log_level = LOG_INFO,
                .image_size_max = STORE_DEFAULT_SIZE_MAX,
        };
        sigset_t stop;
        int r;

        test_switches_load();

        /* First thing: from here on SIGINT/SIGTERM wait for the loop (--run
         * reads them through a signalfd) instead of killing us half-way
         * through a launch, leaving a container and its cgroup behind. */
        sigemptyset(&stop);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGHUP);
        sigprocmask(SIG_BLOCK, &stop, NULL);

        r = parse_argv(argc, argv, &o);
        if (r >= 0)
                return r;
        /* Before anything can fork: from the sealed copy of our binary on
         * (self-exe.c), so that no process entering a container ever has the
         * host's binary as its /proc/PID/exe. */
        self_exe_seal(argv);

        /* Imports run in this process or in helpers forked from it. */
        store_set_size_max(o.image_size_max);

        if (o.run) {
                /* --run keeps SIGHUP's default: a closed terminal ends it. */
                sigset_t hup;
                sigemptyset(&hup);
                sigaddset(&hup, SIGHUP);
                sigprocmask(SIG_UNBLOCK, &hup, NULL);
                RunOptions ro = {
                        .unit_file = o.run,
                        .runtime_dir = o.runtime_dir,
                        .state_dir = o.state_dir,
                        .cgroup = o.cgroup ? o.cgroup : "/ccsup",
                        .log_level = o.log_level,
                        .tmpfs_size = o.tmpfs_size,
                        .tmpfs_size_bp = o.tmpfs_size_bp,
                };
                return run_unit(&ro);
        }

        /* The daemon reads them through libev's signalfd; they stay blocked
         * so that one arriving during start-up is not fatal either. */
        return daemon_run(&(DaemonOptions){
                .unit_path = o.unit_path,
                .runtime_dir = o.runtime_dir,
                .state_dir = o.state_dir,
                .log_dir = o.log_dir,
                .cgroup = o.cgroup,
                .log_level = o.log_level,
                .no_watch = o.no_watch,
                .bridge = o.bridge,
                .bridge_subnet = o.bridge_subnet,
                .bridge_subnet6 = o.bridge_subnet6,
                .bridge_mtu = o.bridge_mtu,
                .tmpfs_size = o.tmpfs_size,
                .tmpfs_size_bp = o.tmpfs_size_bp,
                .argv = argv,
                .auto_update_interval_usec = o.auto_update_interval_usec,
        });
}
