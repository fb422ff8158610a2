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

/* The daemon's AutoUpdate method, with its own registry options. Returns
 * the exit status, or -1 when that ccsupd does not have the method. */
static int auto_update_daemon(sd_bus *bus, char *const *units, bool dry_run)
{
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL, *reply = NULL;
        _cleanup_strv_free_ char **messages = NULL;
        const char *unit, *old, *now, *result;
        int r, ret = 0;

        if ((r = sd_bus_message_new_method_call(bus, &call, NULL, OBJ, IFACE, "AutoUpdate")) < 0 ||
            (r = sd_bus_message_append_strv(call, (char **)units)) < 0 ||
            (r = sd_bus_message_append(call, "b", dry_run)) < 0)
                goto bad;
        /* As long as the restarts take: no timeout. */
        r = sd_bus_call(bus, call, UINT64_MAX, &e, &reply);
        if (r < 0) {
                if (sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_METHOD))
                        return -1;
                fprintf(stderr, "ccsupctl: auto-update: %s\n", e.message ? e.message : strerror(-r));
                return sd_bus_error_has_name(&e, SD_BUS_ERROR_ACCESS_DENIED) ? 5
                       : sd_bus_error_has_name(&e, "org.ccsup.Error.NoSuchUnit") ? 4 : 1;
        }
        if ((r = sd_bus_message_enter_container(reply, 'a', "(ssss)")) < 0)
                goto bad;
        while ((r = sd_bus_message_read(reply, "(ssss)", &unit, &old, &now, &result)) > 0) {
                printf("%s %s %s %s\n", unit, old, now, result);
                if (streq(result, "failed"))
                        ret = 1;
        }
        if (r < 0 || (r = sd_bus_message_exit_container(reply)) < 0 ||
            (r = sd_bus_message_read_strv(reply, &messages)) < 0)
                goto bad;
        fflush(stdout);
        STRV_FOREACH(m, messages)
                fprintf(stderr, "%s\n", *m);
        return ret;
bad:
        fprintf(stderr, "ccsupctl: auto-update: bad reply from ccsupd: %s\n", strerror(-r));
        return 1;
}

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
                               "when the new container is not running and ready (healthy, with [Health])\n"
                               "within StartTimeoutSec=.\n"
                               "Prints UNIT OLD-DIGEST NEW-DIGEST updated|rolled-back|unchanged|failed\n"
                               "(--dry-run: what a run would print, updated for a changed digest; nothing\n"
                               "pulled or restarted).\n"
                               "Without registry options, the ccsupd on the socket does it (its AutoUpdate\n"
                               "method, with its own --registry-auth, --registry-certs, --insecure-registry);\n"
                               "with them, ccsupctl does it here over the socket.\n"
                               "Exit status 1 when a unit failed.\n");
                        return 0;
                default: return 2;
                }
        o.insecure = insecure;
        if ((r = ccsupctl_open_bus(socket_path, &bus)) < 0) {
                fprintf(stderr, "ccsupctl: auto-update: cannot reach ccsupd at %s: %s\n", socket_path, strerror(-r));
                return 5;
        }
        if (optind < argc)
                units = strv_copy(argv + optind);
        /* Without registry options of its own: the daemon does it, with its
         * --registry-auth, --registry-certs and --insecure-registry. */
        if (!o.auth_file && !o.certs_dir && !o.insecure && (ret = auto_update_daemon(bus, units, dry_run)) >= 0)
                return ret;
        r = sd_bus_get_property_string(bus, NULL, OBJ, IFACE, "StateDirectory", &e, &state_dir);
        if (r < 0) {
                fprintf(stderr, "ccsupctl: auto-update: the ccsupd at %s does not tell its state directory: %s\n",
                        socket_path, e.message ? e.message : strerror(-r));
                return 1;
        }
        ret = auto_update_run(bus, state_dir, units, dry_run, &o, stdout, stderr);
        return ret;
}
