/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The sockets of [Socket] (UNITS.md): ListenStream=/ListenDatagram= values
 * parsed, bound, and recognised again (a socket handed over by an earlier
 * ccsupd, or taken back from a running container, must be the one the unit
 * file names).
 *
 * Values: PORT (every address, IPv6 and IPv4: a dual-stack socket, or IPv4
 * alone where the kernel has no IPv6), IPV4:PORT, [IPV6]:PORT, or an
 * absolute path (a unix socket).
 */

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

typedef struct ListenAddress {
        int family; /* AF_INET, AF_INET6, AF_UNIX; AF_UNSPEC: PORT alone */
        struct sockaddr_storage addr;
        socklen_t len;
} ListenAddress;

/* 0, or -EINVAL with *ret_error a static message naming what is wrong. */
int listen_address_parse(const char *s, ListenAddress *ret, const char **ret_error);

/*
 * A new socket (SOCK_STREAM listening, or SOCK_DGRAM) bound to spec,
 * close-on-exec and blocking (what a server that accept()s expects: the
 * flag is shared with the container's copy; ccsupd only polls it). A unix
 * socket file left by an earlier run is replaced (anything else at that
 * path is an error); its mode becomes mode. *ret_error names the value: "ListenStream=127.0.0.1:80: bind:
 * Address already in use".
 */
int listen_open(const char *spec, int type, mode_t mode, int *ret_fd, char **ret_error);

/* Whether fd is a socket of that type bound to what spec names. */
bool listen_fd_matches(int fd, const char *spec, int type);
