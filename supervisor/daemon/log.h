/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The daemon's own log (CLI.md, "Logging"): the journal when journald runs,
 * else stderr, with "<N>" priority prefixes when stderr is not a terminal.
 * Messages name their unit: "web: started as PID 42".
 */

#include <syslog.h>

#include "util.h"

void log_setup(int max_level);
/* `ccsupd --run`: plain lines on stderr, always (its stderr is the user's). */
void log_setup_stderr(int max_level);
int log_get_max_level(void);

void log_unit(int level, const char *unit, const char *fmt, ...) _printf_(3, 4);
#define log_msg(level, ...) log_unit(level, NULL, __VA_ARGS__)

/* Logs and returns r (a negative errno), in one statement. */
#define log_unit_errno(level, unit, r, ...) ({ log_unit(level, unit, __VA_ARGS__); (r); })
