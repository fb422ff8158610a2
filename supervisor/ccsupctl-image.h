/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * `ccsupctl image import|list|remove|inspect` (CLI.md): works on the image
 * store directly, without ccsupd. argv[0] is "image". state_dir may be NULL:
 * then --state-dir=DIR among the arguments, else $CCSUP_STATE_DIR, else
 * /var/lib/ccsup. Returns the exit status (0, 1 failed, 2 usage).
 */
int verb_image(int argc, char **argv, const char *state_dir);
