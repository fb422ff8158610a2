/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The values of [Network] that Mode=bridge uses: PublishPort= and Address=,
 * parsed the same way by `ccsupctl verify` and by ccsupd at start.
 */

#include <stdbool.h>
#include <stdint.h>

typedef struct PublishPort {
        int family;          /* 0: every host address; AF_INET/AF_INET6: addr only */
        uint8_t addr[16];    /* network byte order */
        uint16_t host_port, host_end;  /* inclusive range */
        uint16_t port, end;            /* the container's, the same length */
        int proto;           /* IPPROTO_TCP or IPPROTO_UDP */
} PublishPort;

/* [HOSTADDR:]HOSTPORT[-END]:CONTAINERPORT[-END][/tcp|/udp], HOSTADDR an
 * IPv4 address or [IPv6]. -EINVAL with *ret_error (static) on a bad value. */
int publish_port_parse(const char *s, PublishPort *ret, const char **ret_error);
/* "HOSTADDR:HOSTPORT[-END]:PORT[-END]/PROTO", normalised, for show. */
char *publish_port_format(const PublishPort *p);
/* Two publications that would take the same host port. */
bool publish_port_overlap(const PublishPort *a, const PublishPort *b);

/* An IPv4 address (Address=): -EINVAL on anything else. */
int ipv4_parse(const char *s, uint8_t ret[4]);
/* CIDR "A.B.C.D/N" or "X::/N": family, network address, prefix length. */
int cidr_parse(const char *s, int *ret_family, uint8_t ret_addr[16], unsigned *ret_prefix);
