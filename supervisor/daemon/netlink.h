/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The few rtnetlink requests bridge networking needs, through libmnl: links
 * (a bridge, a veth pair whose peer goes straight into another network
 * namespace), addresses, a default route. Each Netlink talks to the network
 * namespace it was opened in. Every call waits for the kernel's answer and
 * returns 0 or a negative errno.
 */

#include <stdbool.h>
#include <stdint.h>

typedef struct Netlink Netlink;

int netlink_open(Netlink **ret);
Netlink *netlink_free(Netlink *n);
static inline void netlink_freep(Netlink **n)
{
        netlink_free(*n);
}

/* The index of the link NAME: > 0, or -ENODEV. */
int netlink_link_index(Netlink *n, const char *name);
int netlink_bridge_add(Netlink *n, const char *name, uint32_t mtu);
/* A veth pair: HOST here, up, a port of master (index; 0: none), and
 * PEER in the network namespace netns_fd, down. mtu 0: the default. */
int netlink_veth_add(Netlink *n, const char *host, int master, const char *peer, int netns_fd,
                     uint32_t mtu);
int netlink_link_up(Netlink *n, int ifindex);
/* A bridge port that sends a frame back where it came from: a container
 * reaching its own published port (br_netfilter bridges the DNAT back). */
int netlink_bridge_port_hairpin(Netlink *n, int ifindex);
int netlink_link_del(Netlink *n, int ifindex);
int netlink_link_mtu(Netlink *n, int ifindex, uint32_t *ret);
/* addr: 4 or 16 bytes in network order; no duplicate address detection. */
int netlink_addr_add(Netlink *n, int ifindex, int family, const void *addr, unsigned prefixlen);
int netlink_route_default(Netlink *n, int ifindex, int family, const void *gateway);

/* A route of the main table (a dump of rtnetlink's). */
typedef struct NetlinkRoute {
        int family;
        uint8_t dst[16];
        unsigned dst_len; /* 0: a default route */
        int oif;          /* 0: none (a blackhole, a multipath route) */
} NetlinkRoute;
typedef void (*netlink_route_fn)(const NetlinkRoute *r, void *data);
/* Calls fn for every unicast route of family in the main table. */
int netlink_routes(Netlink *n, int family, netlink_route_fn fn, void *data);
/* The name of link ifindex into ret (IFNAMSIZ bytes). */
int netlink_link_name(Netlink *n, int ifindex, char *ret);
