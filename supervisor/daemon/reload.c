/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A new scan of the unit path applied to the set of units: loaded, added,
 * changed, masked and removed units, reported as ReloadChanges. */
#include "manager-internal.h"

#include "bridge.h"
#include "log.h"
#include "util.h"

/* ------------------------------------------------------------------ reload */

void reload_changes_free(ReloadChange *c, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(c[i].name);
        free(c);
}

static void add_change(ReloadChange **c, size_t *n, const char *name, const char *what)
{
        *c = xrealloc(*c, (*n + 1) * sizeof(ReloadChange));
        (*c)[(*n)++] = (ReloadChange){ .name = xstrdup(name), .what = what };
}

static bool strv_equal(char *const *a, char *const *b)
{
        size_t n = strv_length(a);

        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}

/* Applies what the unit path now says about an existing or new unit.
 * Returns what changed (NULL: nothing to report); takes c and errors. */
static const char *unit_apply_load(Unit *u, bool is_new, bool masked, UnitConfig *c, char **errors)
{
        bool active = unit_is_active(u);

        if (masked) {
                ServiceReload rl = { SERVICE_LOAD_MASKED };
                unit_config_free(c);
                strv_free(errors);
                bool was = u->masked;
                u->masked = true;
                u->pending_start = false;
                strv_free(u->load_errors);
                u->load_errors = NULL;
                unit_event(u, SERVICE_EVENT_RELOAD, &rl);
                return is_new || !was ? "masked" : NULL;
        }
        bool was_masked = u->masked;
        u->masked = false;

        if (errors) {
                ServiceReload rl = { SERVICE_LOAD_BAD };
                STRV_FOREACH(e, errors)
                        log_unit(LOG_ERR, u->name, "%s", *e);
                strv_free(u->load_errors);
                u->load_errors = errors;
                if (active) {
                        /* Keeps running with its previous configuration. */
                        unit_config_free(c);
                        return "bad";
                }
                unit_config_free(u->config);
                u->config = c;
                if (is_new)
                        u->wanted = true; /* started once its file is fixed, as if dropped in then */
                u->pending_start = false;
                unit_event(u, SERVICE_EVENT_RELOAD, &rl);
                return "bad";
        }

        bool was_bad = u->svc.state == SERVICE_BAD || u->load_errors;
        strv_free(u->load_errors);
        u->load_errors = NULL;
        if (!is_new && !was_bad && !was_masked && u->config && u->config->hash == c->hash) {
                unit_config_free(c);
                return NULL;
        }
        if (!is_new && u->config && u->config->hash == c->hash && active) {
                /* A bad edit reverted: the running configuration is the file's again. */
                unit_config_free(c);
                return "changed";
        }
        unit_config_free(u->config);
        u->config = c;
        if (is_new) {
                u->wanted = true;
                /* On demand: at the first connection (unit_sockets_update). */
                u->pending_start = c->activation != ACTIVATION_ON_DEMAND;
                return "added";
        }
        ServiceReload rl = { SERVICE_LOAD_CHANGED };
        unit_event(u, SERVICE_EVENT_RELOAD, &rl);
        if (!unit_is_active(u) && u->wanted && c->activation != ACTIVATION_ON_DEMAND)
                u->pending_start = true;
        u->manager->graph_dirty = true;
        return "changed";
}

void unit_mark_removed(Unit *u)
{
        u->removed = true;
        u->wanted = false;
        u->pending_start = false;
        if (unit_is_active(u))
                u->pending_stop = true;
        u->manager->graph_dirty = true;
}

/* Logs what the scan skipped once, not on every reload: a note is logged
 * again only after it was gone for a scan (the file removed and back). */
static void manager_log_scan_notes(Manager *m, char **notes)
{
        STRV_FOREACH(note, notes)
                if (!strv_contains(m->scan_notes, *note))
                        log_msg(LOG_WARNING, "%s", *note);
        strv_free(m->scan_notes);
        m->scan_notes = notes;
}

/* One reload: the units before it (sorted by name, as m->units) and which
 * of them the new scan still names, and the changes to report. */
typedef struct Reload {
        Manager *m;
        Unit **old;
        size_t n_old;
        bool *seen;
        bool first; /* the first scan: no unit yet, nothing reported as added */
        bool adopt; /* containers of an earlier ccsupd may still be running */
        ReloadChange *changes;
        size_t n_changes;
} Reload;

static int reload_scan(Manager *m, UnitEntry **ret_entries, size_t *ret_n)
{
        char **notes = NULL;
        int r;

        r = unit_path_enumerate(m->o.unit_path, ret_entries, ret_n, &notes);
        if (r < 0) {
                if (m->reload_cb)
                        m->reload_cb(m, true, m->reload_userdata);
                return log_unit_errno(LOG_ERR, NULL, r, "scan the unit path: %s", strerror(-r));
        }
        manager_log_scan_notes(m, notes);
        return 0;
}

/* The unit of a scanned entry: the known one (marked seen, and wanted again
 * if it was on its way out) or a new one, re-adopted when its container
 * still runs. */
static Unit *reload_unit(Reload *rl, const UnitEntry *e, bool *ret_new)
{
        Unit *u = manager_get_unit(rl->m, e->name);

        *ret_new = !u;
        if (!u) {
                u = unit_new(rl->m, e->name);
                manager_add_unit(rl->m, u);
                if (rl->adopt)
                        (void)unit_try_adopt(u);
                return u;
        }
        Unit **p = bsearch(e->name, rl->old, rl->n_old, sizeof(Unit *), unit_name_cmp);
        if (p)
                rl->seen[p - rl->old] = true;
        if (u->removed) {
                u->removed = false;
                u->wanted = true;
                u->pending_stop = false;
                if (!unit_is_active(u))
                        u->pending_start = true;
        }
        return u;
}

/* What a unit taken back from an earlier ccsupd needs once its
 * configuration is known. */
static void reload_adopted(Reload *rl, Unit *u)
{
        if (u->adopted && u->config && u->config->notify)
                unit_notify_adopted(u);
        if (u->adopted && u->config && u->config->network_mode == NETWORK_BRIDGE)
                bridge_adopt(rl->m->bridge, u->name, u->config);
        if (rl->adopt)
                unit_fdstore_take(u);
}

/* Loads one scanned entry into its unit, and notes the change to report. */
static void reload_entry(Reload *rl, const UnitEntry *e)
{
        UnitConfig *c = NULL;
        char **errors = NULL;
        bool is_new;
        const char *what;

        if (!e->masked && unit_load_entry(e, &c, &errors) >= 0) {
                strv_free(errors);
                errors = NULL;
        } else if (!e->masked && !errors)
                strv_addf(&errors, "%s: cannot be loaded", e->fragment_path);
        Unit *u = reload_unit(rl, e, &is_new);
        free(u->fragment_path);
        u->fragment_path = e->fragment_path ? xstrdup(e->fragment_path) : NULL;
        if (!strv_equal(u->dropin_paths, e->dropin_paths)) {
                strv_free(u->dropin_paths);
                u->dropin_paths = strv_copy(e->dropin_paths);
        }
        what = unit_apply_load(u, is_new, e->masked, c, errors);
        if (is_new)
                reload_adopted(rl, u);
        if (what || is_new) {
                unit_fdstore_trim(u);
                unit_sockets_sync(u);
        }
        if (is_new && u->adopted && what && streq(what, "added") && u->config->hash != u->adopted_hash) {
                /* Edited while no ccsupd watched: as a reload would. */
                ServiceReload r = { SERVICE_LOAD_CHANGED };
                log_unit(LOG_INFO, u->name, "configuration changed: restarting the re-adopted container");
                unit_event(u, SERVICE_EVENT_RELOAD, &r);
        }
        if (is_new && what && streq(what, "masked"))
                what = NULL; /* a masked unit was never there */
        if (rl->first && u->pending_start)
                u->initial = true;
        /* The first scan reports no unit as added: they all are. */
        if (what && (!rl->first || !streq(what, "added")))
                add_change(&rl->changes, &rl->n_changes, u->name, what);
}

/* Units the scan no longer names go (once stopped). */
static void reload_removed(Reload *rl)
{
        for (size_t i = 0; i < rl->n_old; i++)
                if (!rl->seen[i] && !rl->old[i]->removed) {
                        unit_mark_removed(rl->old[i]);
                        add_change(&rl->changes, &rl->n_changes, rl->old[i]->name, "removed");
                }
}

int manager_reload(Manager *m, ReloadChange **ret_changes, size_t *ret_n)
{
        UnitEntry *entries = NULL;
        size_t n = 0;
        Reload rl = { .m = m, .first = m->n_units == 0, .adopt = !m->adoption_done };
        int r;

        if (m->reload_cb)
                m->reload_cb(m, false, m->reload_userdata);
        r = reload_scan(m, &entries, &n);
        if (r < 0)
                return r;

        /* Hold dispatching until the whole set is known, so that ordering
         * sees every unit. */
        m->dispatching = true;
        rl.n_old = m->n_units;
        rl.seen = xcalloc(rl.n_old + 1, sizeof(bool));
        rl.old = xcalloc(rl.n_old + 1, sizeof(Unit *));
        if (rl.n_old > 0)
                memcpy(rl.old, m->units, rl.n_old * sizeof(Unit *));
        for (size_t i = 0; i < n; i++)
                reload_entry(&rl, &entries[i]);
        if (rl.adopt) {
                manager_adopt_strays(m);
                manager_close_stored_fds(m, false);
                m->adoption_done = true;
                bridge_adoption_done(m->bridge);
        }
        reload_removed(&rl);
        free(rl.seen);
        free(rl.old);
        unit_entries_free(entries, n);

        m->graph_dirty = true;
        m->dispatching = false;
        manager_dispatch(m);
        if (m->reload_cb)
                m->reload_cb(m, true, m->reload_userdata);
        for (size_t i = 0; i < m->n_hooks && !rl.first; i++)
                if (m->hooks[i].reloaded)
                        m->hooks[i].reloaded(m, rl.changes, rl.n_changes, m->hooks[i].userdata);

        if (ret_changes) {
                *ret_changes = rl.changes;
                *ret_n = rl.n_changes;
        } else
                reload_changes_free(rl.changes, rl.n_changes);
        return 0;
}
