/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* `ccsupctl auto-update [--dry-run] [UNIT…]` (CLI.md): argv[0] is
 * "auto-update". Returns the exit status (0, 1 a unit failed, 2 usage, 5
 * ccsupd unreachable). */
int verb_auto_update(int argc, char **argv, const char *socket_path);
