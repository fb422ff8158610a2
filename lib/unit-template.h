/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Unit templates (UNITS.md, "Where units live"). A name "P@" is a template,
 * "P@I" an instance of template "P@" with instance "I"; the first '@' splits.
 */

#include <stdbool.h>
#include <stddef.h>

#include "unit.h"

/* Whether name is a template's name: "P@". */
bool unit_name_is_template(const char *name);
/* The template of an instance name ("P@" for "P@I"), or NULL for a name that
 * is no instance. */
char *unit_name_template(const char *name);
/* The instance part of a name (after the first '@'), "" when there is none. */
const char *unit_name_instance(const char *name);
/* The part before the first '@' (the whole name without one): %p. */
char *unit_name_prefix(const char *name);

/*
 * Turns the entries of a scan (unit_path_enumerate) into the units that run:
 * an instance whose main file is a symlink to its template or an empty file
 * gets the template's main file and drop-ins, then its own drop-ins; one
 * whose template is missing gets an error; templates themselves are dropped.
 * A non-empty instance file is a unit of its own and stays as it is.
 */
void unit_entries_resolve_templates(UnitEntry *v, size_t *n);

/* The instance that `ccsupctl verify` checks a template with. */
#define UNIT_TEMPLATE_SAMPLE_INSTANCE "sample"
