/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit templates (UNITS.md, "Where units live"): NAME@.unit never runs by
 * itself; NAME@INSTANCE.unit, a symlink to the template or an empty file,
 * runs the template's text with the drop-ins of NAME@.unit.d/ and then of
 * NAME@INSTANCE.unit.d/.
 */
#include "unit-template.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trust.h"
#include "util.h"

bool unit_name_is_template(const char *name)
{
        const char *at = strchr(name, '@');
        return at && at[1] == 0;
}

char *unit_name_template(const char *name)
{
        const char *at = strchr(name, '@');
        if (!at || at[1] == 0)
                return NULL;
        return xstrndup(name, (size_t)(at - name) + 1);
}

const char *unit_name_instance(const char *name)
{
        const char *at = strchr(name, '@');
        return at ? at + 1 : "";
}

char *unit_name_prefix(const char *name)
{
        const char *at = strchr(name, '@');
        return at ? xstrndup(name, (size_t)(at - name)) : xstrdup(name);
}

static const char *base_of(const char *p)
{
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

/* How the main file of an instance refers to its template: a symlink whose
 * target is a file named TEMPLATE.unit, or an empty file. */
static bool file_is_instance_of(const char *path, const char *template)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return false;
        if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX];
                ssize_t l = readlink(path, target, sizeof(target) - 1);
                if (l <= 0)
                        return false;
                target[l] = 0;
                _cleanup_free_ char *want = xasprintf("%s.unit", template);
                return streq(base_of(target), want);
        }
        return S_ISREG(st.st_mode) && st.st_size == 0;
}

static UnitEntry *find_entry(UnitEntry *v, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].name, name))
                        return &v[i];
        return NULL;
}

/* The template's drop-ins, except those an instance drop-in of the same file
 * name replaces, then the instance's: the instance's come later and win. */
static char **merge_dropins(char *const *tmpl, char *const *inst)
{
        char **r = NULL;
        STRV_FOREACH(t, tmpl) {
                bool shadowed = false;
                STRV_FOREACH(i, inst)
                        if (streq(base_of(*t), base_of(*i)))
                                shadowed = true;
                if (!shadowed)
                        strv_add(&r, *t);
        }
        STRV_FOREACH(i, inst)
                strv_add(&r, *i);
        return r;
}

static void resolve_instance(UnitEntry *e, const UnitEntry *t, const char *template)
{
        if (!t || (!t->fragment_path && !t->masked)) {
                strv_addf(&e->errors, "%s: template %s.unit not found", e->fragment_path, template);
                e->no_template = true;
                return;
        }
        if (t->masked) {
                /* A masked template masks every instance that refers to it. */
                free(e->fragment_path);
                e->fragment_path = NULL;
                strv_free(e->dropin_paths);
                e->dropin_paths = NULL;
                e->masked = true;
                return;
        }
        /* The instance's own file says "run that template": only root may
         * say so, as for any unit file. */
        _cleanup_free_ char *why = NULL;
        struct stat st;
        if (lstat(e->fragment_path, &st) == 0 && !S_ISLNK(st.st_mode)) {
                int fd = open_trusted(e->fragment_path, false, &why);
                if (fd == -EPERM && why)
                        strv_addf(&e->errors, "%s: untrusted: %s", e->fragment_path, why);
                else if (fd >= 0)
                        close(fd);
        }
        char **dropins = merge_dropins(t->dropin_paths, e->dropin_paths);
        strv_free(e->dropin_paths);
        e->dropin_paths = dropins;
        STRV_FOREACH(err, t->errors)
                strv_add(&e->errors, *err);
        free(e->fragment_path);
        e->fragment_path = xstrdup(t->fragment_path);
}

void unit_entries_resolve_templates(UnitEntry *v, size_t *n)
{
        /* Instances first, while the templates are still in the list. */
        for (size_t i = 0; i < *n; i++) {
                UnitEntry *e = &v[i];
                _cleanup_free_ char *template = unit_name_template(e->name);
                if (!template || e->masked || !e->fragment_path)
                        continue;
                if (!file_is_instance_of(e->fragment_path, template))
                        continue; /* a unit file of its own */
                resolve_instance(e, find_entry(v, *n, template), template);
        }
        size_t m = 0;
        for (size_t i = 0; i < *n; i++) {
                if (unit_name_is_template(v[i].name)) {
                        unit_entry_done(&v[i]);
                        continue;
                }
                v[m++] = v[i];
        }
        *n = m;
}
