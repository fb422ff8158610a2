/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Watching the unit path (UNITS.md, "Where units live"): inotify on every
 * directory of the path and on every NAME.unit.d below them; a burst of
 * changes (an editor's write, rename and chmod) becomes one reload, 150 ms
 * after the last change.
 */

#include <ev.h>

typedef struct Watch Watch;

int watch_new(struct ev_loop *loop, char **dirs, void (*reload)(void *userdata), void *userdata,
              Watch **ret);
Watch *watch_free(Watch *w);

/* Adds watches for drop-in directories that appeared (after a reload). */
void watch_sync(Watch *w);
