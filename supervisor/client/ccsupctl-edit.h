/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * `ccsupctl edit UNIT` (CLI.md): opens $EDITOR (else $VISUAL, else vi) on
 * a copy of DIR/UNIT.unit.d/override.conf, DIR being the first directory of
 * the daemon's unit path (GetManager's UnitPath). The result is parsed with
 * the unit's file and its other drop-ins, as ccsupd would read them; with
 * errors, they are printed as FILE:LINE: message, nothing is replaced and
 * the exit status is 1. Otherwise the copy replaces override.conf (renamed
 * over it, 0644) — an empty result removes it — and ccsupd reloads, its
 * reload lines printed. An unchanged result changes nothing. argv[0] is
 * "edit". Returns the exit status.
 */
int verb_edit_run(int argc, char **argv, const char *socket_path);
