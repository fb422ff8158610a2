/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ccsupctl-props.h"
#include "util.h"

static int pick_one(sd_bus_message *m, const PropWant *want, size_t n_want)
{
        const char *key, *contents;
        char type;
        int r;

        if ((r = sd_bus_message_read(m, "s", &key)) < 0 ||
            (r = sd_bus_message_peek_type(m, &type, &contents)) < 0)
                return r;
        for (size_t i = 0; i < n_want; i++) {
                const PropWant *w = &want[i];
                if (!streq(w->key, key))
                        continue;
                if ((r = sd_bus_message_enter_container(m, 'v', contents)) < 0)
                        return r;
                if (w->type == 's' && streq(contents, "s")) {
                        const char *s;
                        if ((r = sd_bus_message_read_basic(m, 's', &s)) < 0)
                                return r;
                        free(*(char **)w->dest);
                        *(char **)w->dest = xstrdup(s);
                } else if ((w->type == 't' || w->type == 'u') && streq(contents, "t")) {
                        if ((r = sd_bus_message_read_basic(m, 't', w->dest)) < 0)
                                return r;
                } else if ((w->type == 't' || w->type == 'u') && streq(contents, "u")) {
                        uint32_t u;
                        if ((r = sd_bus_message_read_basic(m, 'u', &u)) < 0)
                                return r;
                        *(uint64_t *)w->dest = u;
                } else if (w->type == 'S' && streq(contents, "as")) {
                        strv_free(*(char ***)w->dest);
                        *(char ***)w->dest = NULL;
                        if ((r = sd_bus_message_read_strv(m, (char ***)w->dest)) < 0)
                                return r;
                } else if ((r = sd_bus_message_skip(m, contents)) < 0)
                        return r;
                return sd_bus_message_exit_container(m);
        }
        return sd_bus_message_skip(m, "v");
}

int props_pick(sd_bus_message *m, const PropWant *want, size_t n_want)
{
        int r = sd_bus_message_enter_container(m, 'a', "{sv}");

        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                r = pick_one(m, want, n_want);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
        }
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r < 0 ? r : 0;
}

int props_call(sd_bus *bus, const char *method, const char *name, const PropWant *want,
               size_t n_want, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        if (name)
                r = sd_bus_call_method(bus, NULL, "/org/ccsup", "org.ccsup.Manager1", method, error,
                                       &reply, "s", name);
        else
                r = sd_bus_call_method(bus, NULL, "/org/ccsup", "org.ccsup.Manager1", method, error,
                                       &reply, "");
        if (r < 0)
                return r;
        return props_pick(reply, want, n_want);
}

int props_report_error(const char *what, const sd_bus_error *e, int r)
{
        if (sd_bus_error_has_name(e, "org.ccsup.Error.NoSuchUnit")) {
                fprintf(stderr, "ccsupctl: %s\n", e->message);
                return 4;
        }
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_ACCESS_DENIED) || r == -EACCES || r == -EPERM) {
                fprintf(stderr, "ccsupctl: %s: permission denied\n", what);
                return 5;
        }
        fprintf(stderr, "ccsupctl: %s: %s\n", what,
                sd_bus_error_is_set(e) ? e->message : strerror(-r));
        if (r == -ECONNRESET || r == -ENOTCONN || r == -ECONNREFUSED)
                return 5;
        return 1;
}
