/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Value parsers for unit files (UNITS.md, "Syntax"). Each returns 0 and writes
 * its out-parameter only on success, or a negative errno: -EINVAL for a
 * malformed value, -ERANGE for a well-formed value out of range.
 * None of them accepts leading or trailing whitespace: the caller trims.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define USEC_INFINITY UINT64_MAX
#define SIZE_INFINITY UINT64_MAX
#define USEC_PER_MSEC 1000ULL
#define USEC_PER_SEC 1000000ULL

/* yes/no, true/false, on/off, 1/0 (case-insensitive). Returns 1, 0 or -EINVAL. */
int parse_boolean(const char *s);

/* A strict unsigned decimal: no sign, no spaces, no base prefix. */
int parse_uint64(const char *s, uint64_t *ret);
int parse_uint32(const char *s, uint32_t *ret);

/* A number with an optional unit ms, s, min, h (bare number = seconds),
 * fractions allowed ("1.5s"), or "infinity" (USEC_INFINITY). */
int parse_duration(const char *s, uint64_t *ret_usec);
/* Formats a duration the way parse_duration reads it ("1.5s", "250ms",
 * "infinity"). Returns a malloc'd string. */
char *format_duration(uint64_t usec);

/* Bytes with an optional K, M, G, T suffix (powers of 1024), fractions allowed
 * with a suffix ("1.5G"), or "infinity" (SIZE_INFINITY). */
int parse_size(const char *s, uint64_t *ret_bytes);
/* Formats a size the way parse_size reads it: "16M", "8G", exact when a
 * suffix divides it; else one decimal, rounded down ("1.5G"), or bytes.
 * Returns a malloc'd string. */
char *format_size_spec(uint64_t bytes);

/* "SIGTERM", "TERM" or "15"; also "SIGRTMIN+N"/"RTMIN+N". Returns the signal
 * number (1..SIGRTMAX) or -EINVAL. */
int parse_signal(const char *s);
/* "SIGTERM", or "SIGRTMIN+3", or NULL for an invalid number. Static storage. */
const char *signal_to_string(int sig);

/* A capability name with or without "CAP_", any case ("net_admin",
 * "CAP_NET_ADMIN"). Returns the capability number or -EINVAL. "ALL" is not a
 * capability: callers handle it. */
int parse_capability(const char *s);
/* "CAP_NET_ADMIN"; NULL when unknown. Static storage. */
const char *capability_to_string(int cap);
/* The highest capability number this build knows. */
int capability_last(void);

/* Octal 0..0777 (a leading 0 is optional). */
int parse_umask(const char *s, mode_t *ret);

/* A CPU percentage "50%", "200%", "12.5%" (the % is required), returned in
 * hundredths of a percent (basis points): "50%" -> 5000. Must be > 0. */
int parse_percent(const char *s, uint64_t *ret_basis_points);

/* "SOFT[:HARD]" where each is a number or "infinity" (UINT64_MAX). A single
 * value sets both. SOFT must not exceed HARD. */
int parse_rlimit(const char *s, uint64_t *ret_soft, uint64_t *ret_hard);

/* A CPU list "0-1,3": ranges and single CPUs, ascending ranges, no spaces. */
bool cpuset_is_valid(const char *s);

/* A user or group name as in /etc/passwd: [A-Za-z_][A-Za-z0-9_.-]*, an
 * optional trailing '$', at most 32 characters, not all digits. */
bool user_name_is_valid(const char *s);
/* "NAME", "UID", "NAME:GROUP", "UID:GID" (names or numbers on each side).
 * Numbers must be < 4294967295. Returns malloc'd user and group (group NULL
 * when absent). */
int parse_user_spec(const char *s, char **ret_user, char **ret_group);
/* A single group: a name or a number. */
bool group_spec_is_valid(const char *s);

/* Unit names: 1-64 of [A-Za-z0-9_.@-], starting with a letter or digit. */
bool unit_name_is_valid(const char *s);
/* A hostname: 1-64 characters, labels of [A-Za-z0-9-] separated by dots,
 * not starting or ending with '-' or '.'. */
bool hostname_is_valid(const char *s);
/* An environment assignment "KEY=VALUE": KEY matches [A-Za-z_][A-Za-z0-9_]*. */
bool env_assignment_is_valid(const char *s);
