/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Exec= word splitting (UNITS.md, "Syntax"): words are separated by runs of
 * spaces and tabs; 'single quotes' keep everything literally; "double quotes"
 * honour \" and \\ (any other backslash stays as it is); outside quotes a
 * backslash escapes the next character (\  is a literal space). Quotes can
 * join with adjacent text ("a"b'c' is one word: abc). No expansion of any
 * kind. An empty quoted string is an empty word.
 */

/* Splits s into a NULL-terminated vector. Returns 0, or -EINVAL with
 * *ret_error set to a static lowercase message ("unbalanced quotes",
 * "trailing backslash"). An empty or all-blank s gives an empty vector. */
int words_split(const char *s, char ***ret, const char **ret_error);

/* Quotes one word so that words_split() reads it back unchanged; words
 * without special characters are returned as they are. malloc'd. */
char *word_quote(const char *w);
