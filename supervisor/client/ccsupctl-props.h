/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Picking a few properties out of ccsupd's a{sv} replies (GetUnit,
 * GetManager), for the ccsupctl commands that live outside ccsupctl.c
 * (stats, edit). Keys absent from the reply leave their destination alone.
 */

#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct PropWant {
        const char *key;
        char type;  /* 's' (char **, a copy), 't' or 'u' (uint64_t *), 'S' (as: char ***) */
        void *dest;
} PropWant;

/* Reads the a{sv} at the current position of m. Returns 0 or -errno. */
int props_pick(sd_bus_message *m, const PropWant *want, size_t n_want);

/* Calls method (no argument, or the unit name name) on ccsupd and picks the
 * wanted keys from its a{sv} reply. Returns 0 or -errno, with *error set by
 * the daemon where it answered with an error. */
int props_call(sd_bus *bus, const char *method, const char *name, const PropWant *want,
               size_t n_want, sd_bus_error *error);

/* ccsupctl's exit status for a failed call (prints the error): 4 for no such
 * unit, 5 for an unreachable daemon or permission denied, else 1. */
int props_report_error(const char *what, const sd_bus_error *e, int r);
