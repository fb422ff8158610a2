/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The glue between our unit-file syntax (UNITS.md, "Syntax") and inih.
 *
 * Debian's libinih cuts lines at 200 bytes (parsing the tail as a new line),
 * strips inline ';' comments, and does not pass line numbers to the handler.
 * ini_read() therefore feeds inih through ini_parse_stream() with its own
 * reader: the reader counts physical lines, classifies them (comment, section
 * header, assignment, continuation), checks them, and hands inih each
 * assignment as short encoded pieces (whitespace, ';' and '#' inside values
 * are encoded so inih neither trims nor cuts them; a long line is handed over
 * as continuation pieces of the same value). The inih handler reassembles the
 * value, and complete assignments reach the callbacks with their line.
 */

#include <stddef.h>

typedef struct IniCallbacks {
        /* A section header "[name]" on line. */
        void (*section)(void *userdata, unsigned line, const char *name);
        /* A complete assignment (continuation lines joined with one space);
         * line is the line of the key. section is NULL outside any section. */
        void (*assignment)(void *userdata, unsigned line, const char *section,
                           const char *key, const char *value);
        /* A syntax error on line; msg is lowercase, without the FILE:LINE. */
        void (*error)(void *userdata, unsigned line, const char *msg);
} IniCallbacks;

/* Physical lines longer than this (without the newline) are an error. */
#define INI_LINE_MAX 4096
/* Keys and section names longer than this are an error. */
#define INI_NAME_MAX 64

/* Parses text (len bytes; NUL bytes are an error). Returns 0, or a negative
 * errno when inih itself failed (syntax errors go to the error callback). */
int ini_read(const char *text, size_t len, const IniCallbacks *cb, void *userdata);
