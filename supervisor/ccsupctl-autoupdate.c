/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ccsupctl auto-update [--dry-run] [UNIT…]: see autoupdate.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autoupdate.h"
#include "ccsupctl-autoupdate.h"
#include "ccsupctl-image.h"
#include "registry.h"
#include "util.h"

#define IFACE "org.ccsup.Manager1"
#define OBJ "/org/ccsup"

int verb_auto_update(int argc, char **argv, const char *socket_path)
{
        enum { OPT_DRY_RUN = 0x100, OPT_REGISTRY_AUTH, OPT_REGISTRY_CERTS, OPT_INSECURE_REGISTRY };
        static const struct option options[] = {
                { "dry-run", no_argument, NULL, OPT_DRY_RUN },
                { "registry-auth", required_argument, NULL, OPT_REGISTRY_AUTH },
                { "registry-certs", required_argument, NULL, OPT_REGISTRY_CERTS },
                { "insecure-registry", required_argument, NULL, OPT_INSECURE_REGISTRY },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *state_dir = NULL;
        _cleanup_strv_free_ char **units = NULL, **insecure = NULL;
        RegistryOptions o = {};
        bool dry_run = false;
        int c, r, ret = 0;

        optind = 0;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case OPT_DRY_RUN: dry_run = true; break;
                case OPT_REGISTRY_AUTH: o.auth_file = optarg; break;
                case OPT_REGISTRY_CERTS: o.certs_dir = optarg; break;
                case OPT_INSECURE_REGISTRY: strv_add(&insecure, optarg); break;
                case 'h':
                        printf("Usage: ccsupctl auto-update [--dry-run] [--registry-auth=FILE] [--registry-certs=DIR]\n"
                               "                            [--insecure-registry=HOST[:PORT]...] [UNIT...]\n"
                               "\n"
                               "For units with AutoUpdate=registry (all, or those named): pull their image's\n"
                               "tag; on a new digest restart the unit on it, and go back to the previous image\n"
                               "when the new container does not reach running within StartTimeoutSec=.\n"
                               "Prints UNIT OLD-DIGEST NEW-DIGEST updated|rolled-back|unchanged|failed\n"
                               "(--dry-run: pending where an update is there; nothing pulled or restarted).\n"
                               "Exit status 1 when a unit failed.\n");
                        return 0;
                default: return 2;
                }
        o.insecure = insecure;
        if ((r = ccsupctl_open_bus(socket_path, &bus)) < 0) {
                fprintf(stderr, "ccsupctl: auto-update: cannot reach ccsupd at %s: %s\n", socket_path, strerror(-r));
                return 5;
        }
        r = sd_bus_get_property_string(bus, NULL, OBJ, IFACE, "StateDirectory", &e, &state_dir);
        if (r < 0) {
                fprintf(stderr, "ccsupctl: auto-update: the ccsupd at %s does not tell its state directory: %s\n",
                        socket_path, e.message ? e.message : strerror(-r));
                return 1;
        }
        if (optind < argc)
                units = strv_copy(argv + optind);
        ret = auto_update_run(bus, state_dir, units, dry_run, &o, stdout, stderr);
        return ret;
}
