/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "notify.h"

#include <inttypes.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "util.h"

struct Notify {
        Manager *m;
        bool enabled;
        bool dirty;
        bool ready;        /* READY=1 sent: STATUS= updates follow from now on */
        char *status;      /* the last STATUS= sent */
        ev_prepare prepare;
        ev_timer watchdog;
};

char *notify_format_status(const unsigned counts[_SERVICE_STATE_MAX])
{
        static const ServiceState order[] = {
                SERVICE_FAILED, SERVICE_WAITING, SERVICE_STARTING, SERVICE_STOPPING,
                SERVICE_EXITED, SERVICE_BAD,
        };
        char *s = xasprintf("%u running", counts[SERVICE_RUNNING]);

        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                if (!counts[order[i]])
                        continue;
                char *t = xasprintf("%s, %u %s", s, counts[order[i]], service_state_to_string(order[i]));
                free(s);
                s = t;
        }
        return s;
}

static void send_status(Notify *n)
{
        unsigned counts[_SERVICE_STATE_MAX];
        _cleanup_free_ char *s = NULL;

        n->dirty = false;
        manager_count_states(n->m, counts);
        s = notify_format_status(counts);
        if (n->status && streq(n->status, s))
                return;
        (void)sd_notifyf(0, "STATUS=%s", s);
        free(n->status);
        n->status = TAKE_PTR(s);
}

/* Coalesces the state changes of one loop iteration into one datagram. */
static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
        Notify *n = w->data;

        if (n->dirty && n->ready)
                send_status(n);
}

static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)sd_notify(0, "WATCHDOG=1");
}

static void hook_unit_changed(Manager *m, Unit *u, void *userdata)
{
        Notify *n = userdata;

        n->dirty = true;
}

Notify *notify_new(Manager *m)
{
        Notify *n = xcalloc(1, sizeof(*n));
        uint64_t usec = 0;

        n->m = m;
        n->enabled = getenv("NOTIFY_SOCKET") != NULL;
        if (!n->enabled)
                return n;
        ev_prepare_init(&n->prepare, on_prepare);
        n->prepare.data = n;
        ev_prepare_start(m->loop, &n->prepare);
        if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
                ev_timer_init(&n->watchdog, on_watchdog, 0., (double)usec / 2e6);
                n->watchdog.data = n;
                ev_timer_again(m->loop, &n->watchdog);
                log_msg(LOG_DEBUG, "watchdog: pinging every %" PRIu64 " ms", usec / 2000);
        }
        manager_add_hooks(m, &(ManagerHooks){ .unit_changed = hook_unit_changed, .userdata = n });
        return n;
}

Notify *notify_free(Notify *n)
{
        if (!n)
                return NULL;
        if (n->enabled) {
                ev_prepare_stop(n->m->loop, &n->prepare);
                ev_timer_stop(n->m->loop, &n->watchdog);
        }
        free(n->status);
        free(n);
        return NULL;
}

void notify_ready(Notify *n)
{
        unsigned counts[_SERVICE_STATE_MAX];
        _cleanup_free_ char *s = NULL;

        if (!n->enabled)
                return;
        n->ready = true;
        manager_count_states(n->m, counts);
        s = notify_format_status(counts);
        (void)sd_notifyf(0, "READY=1\nSTATUS=%s", s);
        free(n->status);
        n->status = TAKE_PTR(s);
        n->dirty = false;
}

void notify_reloading(Notify *n)
{
        if (n->enabled)
                (void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, now_usec_monotonic());
}

void notify_reloaded(Notify *n)
{
        notify_ready(n);
}

void notify_stopping(Notify *n)
{
        if (n->enabled)
                (void)sd_notify(0, "STOPPING=1\nSTATUS=stopping every container");
}
