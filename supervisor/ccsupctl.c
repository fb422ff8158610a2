/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ccsupctl: the client of ccsupd (CLI.md). A thin layer: parse arguments,
 * make one call, print. `verify` needs no daemon.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "ccsupctl-image.h"
#include "unit.h"
#include "util.h"

enum {
        EXIT_OK = 0,
        EXIT_FAILED = 1,
        EXIT_USAGE = 2,
        EXIT_NOT_RUNNING = 3,
        EXIT_NO_UNIT = 4,
        EXIT_UNREACHABLE = 5,
};

static const char *arg_socket;
static bool arg_json, arg_no_legend;

static void help(void)
{
        printf("Usage: ccsupctl [OPTIONS] COMMAND [ARGS]\n"
               "\n"
               "Show and change the containers that ccsupd supervises.\n"
               "\n"
               "Options:\n"
               "  --socket=PATH   control socket (default: $CCSUP_SOCKET, else /run/ccsup/control)\n"
               "  --json          print JSON (list, status, show)\n"
               "  --no-legend     no column headers\n"
               "  -h, --help      show this help\n"
               "  --version       show the version\n"
               "\n"
               "Commands:\n"
               "  verify FILE...  check unit files without a daemon; prints FILE:LINE: message\n"
               "                  lines and exits 1 if any file has errors\n"
               "  image import SOURCE [NAME[:TAG]] | list | remove REF | inspect REF\n"
               "                  manage the local image store (--state-dir=DIR after `image`,\n"
               "                  else $CCSUP_STATE_DIR, else /var/lib/ccsup)\n"
               "\n"
               "Not implemented yet (they need the supervisor daemon): list, status, start,\n"
               "stop, restart, kill, reload, show, cat, logs, exec, reset, poweroff,\n"
               "reboot, halt, daemon-reexec.\n"
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

static const char *const later_verbs[] = {
        "list", "status", "start", "stop", "restart", "kill", "reload", "show", "cat",
        "logs", "exec", "reset", "poweroff", "reboot", "halt", "daemon-reexec",
        NULL,
};

int main(int argc, char **argv)
{
        enum { OPT_SOCKET = 0x100, OPT_JSON, OPT_NO_LEGEND, OPT_VERSION };
        static const struct option options[] = {
                { "socket", required_argument, NULL, OPT_SOCKET },
                { "json", no_argument, NULL, OPT_JSON },
                { "no-legend", no_argument, NULL, OPT_NO_LEGEND },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        int c;
        /* '+': options end at the command, so its own arguments are left alone. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case OPT_SOCKET: arg_socket = optarg; break;
                case OPT_JSON: arg_json = true; break;
                case OPT_NO_LEGEND: arg_no_legend = true; break;
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
                return verb_image(argc - optind, argv + optind, NULL);
        if (strv_contains((char **)later_verbs, verb)) {
                fprintf(stderr, "ccsupctl: %s: not implemented yet (needs the ccsupd daemon, which is not written yet)\n", verb);
                return EXIT_FAILED;
        }
        fprintf(stderr, "ccsupctl: unknown command `%s` (see ccsupctl --help)\n", verb);
        return EXIT_USAGE;
}
