/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* ccsupd from a sealed memfd copy of its binary (self-exe.c). */

#include <stdbool.h>

/* First thing after the options: executes the sealed copy with the same argv
 * and returns in it (or, when that cannot be done, in the process as it is,
 * with self_exe_warning() set). */
void self_exe_seal(char **argv);
/* The binary on disk, for daemon-reexec; NULL if unknown. */
const char *self_exe_path(void);
/* Why ccsupd does not run from a sealed copy, for the log; NULL when it does. */
const char *self_exe_warning(void);
bool self_exe_is_sealed(void);
