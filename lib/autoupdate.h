/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <systemd/sd-bus.h>

#include "registry.h"

/*
 * Auto-update of the units with AutoUpdate=registry over the control bus
 * of a ccsupd whose store is state_dir: units (NULL or empty: every unit
 * with AutoUpdate=registry; named ones that lack it fail). One line per
 * unit to out, "UNIT OLD NEW updated|rolled-back|unchanged|failed" (dry
 * run: pending), reasons to err_out. Returns 0, or 1 when a unit failed.
 */
int auto_update_run(sd_bus *bus, const char *state_dir, char *const *units, bool dry_run,
                    const RegistryOptions *o, FILE *out, FILE *err_out);
