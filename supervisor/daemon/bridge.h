/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Mode=bridge (UNITS.md, Bridge networking): ccsupd's bridge, a veth pair
 * per container (the container end is eth0 in a network namespace made
 * here, which the container joins), an IPv4 and an IPv6 address per unit
 * leased in the state directory, and ccsupd's own nftables table `inet
 * ccsup` (masquerade, PublishPort= DNAT, hairpin, 127.0.0.1 from the host).
 * The bridge, the table and IP forwarding exist while at least one bridge
 * container runs (or was re-adopted).
 */

#include <ev.h>
#include <stdbool.h>

#include "unit.h"

typedef struct Bridge Bridge;

typedef struct BridgeOptions {
        const char *name;       /* --bridge, default ccsup0 */
        const char *subnet;     /* --bridge-subnet, default 10.89.0.0/24 */
        const char *subnet6;    /* --bridge-subnet6, default fd89::/64 */
        unsigned mtu;           /* --bridge-mtu; 0: the default route's interface's */
        struct ev_loop *loop;   /* for the [::1] relays of published ports; NULL: none */
        const char *state_dir;  /* leases */
        const char *runtime_dir;
        int handover_fd;        /* >= 3: bridge_reexec_save()'s of the ccsupd before a daemon-reexec */
} BridgeOptions;

#define BRIDGE_DEFAULT_NAME "ccsup0"
#define BRIDGE_DEFAULT_SUBNET "10.89.0.0/24"
#define BRIDGE_DEFAULT_SUBNET6 "fd89::/64"

/* Checks the options and reads the leases; sets nothing up yet. */
int bridge_new(const BridgeOptions *o, Bridge **ret, char **ret_error);
Bridge *bridge_free(Bridge *b);
static inline void bridge_freep(Bridge **b)
{
        bridge_free(*b);
}

/* A container of unit is about to start: its network namespace, set up
 * (eth0 with its addresses and default routes, its published ports in the
 * table), as an fd to join. Nothing is left set up on error. */
int bridge_attach(Bridge *b, const char *unit, const UnitConfig *c, int *ret_netns, char **ret_error);
/* The same in two steps, for a container that makes its network namespace
 * itself (UserNamespace=: the namespace must belong to the container's user
 * namespace): bridge_reserve() before spawn_prepare() (address, ports,
 * hosts and resolv.conf, the bridge up), bridge_connect() with the child's
 * namespace before the child runs (veth, eth0, the table). Nothing is left
 * set up on error. */
int bridge_reserve(Bridge *b, const char *unit, const UnitConfig *c, char **ret_error);
int bridge_connect(Bridge *b, const char *unit, int netns, char **ret_error);
/* A re-adopted container of unit: its veth is there already; its
 * addresses and ports are counted again and the table rewritten. */
void bridge_adopt(Bridge *b, const char *unit, const UnitConfig *c);
/* The container of unit ended: its veth and rules go; with the last one,
 * the bridge, the table and IP forwarding. */
void bridge_detach(Bridge *b, const char *unit);
/* Re-adoption is over: leftovers of a previous ccsupd with no container
 * (a bridge, the table, forwarding) are removed. */
void bridge_adoption_done(Bridge *b);

/* daemon-reexec: the held sockets, the [::1] TCP relays (both sockets,
 * the bytes not yet written, the half-closes) and the UDP flows lose
 * FD_CLOEXEC and are described in a memfd, returned (not FD_CLOEXEC
 * either) for the next ccsupd's BridgeOptions.handover_fd; there,
 * bridge_adopt() takes a unit's back into the loop and
 * bridge_adoption_done() closes what no unit took. -ENOENT: no bridge
 * unit; -errno (logged): nothing goes over. */
int bridge_reexec_save(Bridge *b);
/* The execve() failed: FD_CLOEXEC again, fd closed. */
void bridge_reexec_abort(Bridge *b, int fd);

/* RUNTIME_DIR/bridge-NAME/UNIT.WHAT: the unit's "hosts" (every running
 * bridge unit by name, kept current) and "resolv.conf", mounted at /etc. */
char *bridge_unit_file(Bridge *b, const char *unit, const char *what);

/* For show: the unit's addresses while it runs (NULL otherwise), and
 * its published ports, space-separated. */
char *bridge_unit_address(Bridge *b, const char *unit, int family);
char *bridge_unit_ports(Bridge *b, const char *unit);
