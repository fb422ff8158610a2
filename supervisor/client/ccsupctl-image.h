/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

/*
 * `ccsupctl image import|list|remove|inspect` (CLI.md): the image store of
 * the ccsupd that answers on socket_path, found through its StateDirectory
 * property; `remove` goes through its RemoveImage call, which refuses an
 * image a container runs from. When no ccsupd answers (no socket, nobody
 * listening), the default store: $CCSUP_STATE_DIR, else /var/lib/ccsup,
 * with a note on stderr. --state-dir=DIR after `image` names the store
 * explicitly (no daemon is asked for it; `remove` still goes through the
 * ccsupd on the socket when that one's store is DIR). argv[0] is "image".
 * Returns the exit status: 0, 1 failed, 2 usage, 5 permission denied on
 * the socket, or a ccsupd that listens but does not answer.
 */
int verb_image(int argc, char **argv, const char *socket_path);

/* ccsupctl.c: connects to the control socket; -errno, nothing printed. */
int ccsupctl_open_bus(const char *socket_path, sd_bus **ret);
