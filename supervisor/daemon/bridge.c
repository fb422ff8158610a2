/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "bridge.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ev.h>
#include <errno.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "netlink.h"
#include "netspec.h"
#include "parse.h"
#include "nft-publish.h"
#include "util.h"
#include "words.h"

#define NFT_TABLE "inet ccsup"

typedef struct Lease {
        char *unit;
        uint32_t index;    /* host part: the address is subnet + index */
} Lease;

typedef struct Proxy Proxy;

typedef struct Member {
        char *unit;
        uint32_t index;
        PublishPort *ports;
        size_t n_ports;
        char *hostname;    /* the container's, besides the unit name */
        char **add_hosts;  /* AddHost= */
        int *held;         /* a bound socket per published host port */
        size_t n_held;
        Proxy **proxies;   /* the [::1] relays of its ports */
        size_t n_proxies;
} Member;

struct Bridge {
        char *name;
        uint8_t net4[16], net6[16];
        unsigned prefix4, prefix6;
        char *lease_path, *forward_path;
        char *etc_dir;     /* RUNTIME_DIR/bridge: UNIT.hosts, UNIT.resolv.conf */
        Lease *leases;
        size_t n_leases;
        Member *members;
        size_t n_members;
        Netlink *nl;
        struct nft_ctx *nft;
        int nft_errno;              /* why nft is NULL: no NETLINK_NETFILTER */
        NftPublish *pub;            /* the publish chain's rewrites (nft-publish.c) */
        int ifindex;       /* 0: not set up by this ccsupd */
        uint32_t mtu_opt;  /* --bridge-mtu; 0: the uplink's */
        uint32_t mtu;      /* the bridge's, once up: every veth takes it */
        bool table_ok;     /* the whole table written by this ccsupd */
        struct ev_loop *loop;
        struct Handed *handed;      /* from the ccsupd before a daemon-reexec, until re-adopted */
        size_t n_handed;
};

/* ------------------------------------------------------------ addresses */

static uint32_t max_index(const Bridge *b)
{
        unsigned host_bits = 32 - b->prefix4;

        /* Without the network and broadcast addresses and the bridge's. */
        return host_bits >= 31 ? UINT32_MAX - 1 : (UINT32_C(1) << host_bits) - 2;
}

static void addr4(const Bridge *b, uint32_t index, uint8_t ret[4])
{
        uint32_t n;

        memcpy(&n, b->net4, 4);
        n = htonl(ntohl(n) + index);
        memcpy(ret, &n, 4);
}

static void addr6(const Bridge *b, uint32_t index, uint8_t ret[16])
{
        uint32_t tail;

        memcpy(ret, b->net6, 16);
        memcpy(&tail, ret + 12, 4);
        tail = htonl(ntohl(tail) + index);
        memcpy(ret + 12, &tail, 4);
}

static char *addr_string(int family, const uint8_t *a)
{
        char s[INET6_ADDRSTRLEN];

        inet_ntop(family, a, s, sizeof(s));
        return xstrdup(s);
}

static void leases_load(Bridge *b)
{
        _cleanup_fclose_ FILE *f = fopen(b->lease_path, "re");
        char unit[256];
        unsigned idx;

        if (!f)
                return;
        while (fscanf(f, "%255s %u", unit, &idx) == 2) {
                if (idx < 2 || idx > max_index(b))
                        continue; /* another subnet since */
                b->leases = xrealloc(b->leases, (b->n_leases + 1) * sizeof(Lease));
                b->leases[b->n_leases++] = (Lease){ xstrdup(unit), idx };
        }
}

static void leases_save(Bridge *b)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", b->lease_path);
        _cleanup_free_ char *dir = xstrdup(b->lease_path);
        FILE *f;

        *strrchr(dir, '/') = 0;
        (void)mkdir_p(dir, 0755);
        f = fopen(tmp, "we");
        if (!f) {
                log_msg(LOG_WARNING, "bridge leases `%s`: %s", tmp, strerror(errno));
                return;
        }
        for (size_t i = 0; i < b->n_leases; i++)
                fprintf(f, "%s %u\n", b->leases[i].unit, b->leases[i].index);
        if (fclose(f) != 0 || rename(tmp, b->lease_path) < 0)
                log_msg(LOG_WARNING, "bridge leases `%s`: %s", b->lease_path, strerror(errno));
}

static Member *member_find(Bridge *b, const char *unit)
{
        for (size_t i = 0; i < b->n_members; i++)
                if (streq(b->members[i].unit, unit))
                        return &b->members[i];
        return NULL;
}

static Member *member_by_index(Bridge *b, uint32_t index)
{
        for (size_t i = 0; i < b->n_members; i++)
                if (b->members[i].index == index)
                        return &b->members[i];
        return NULL;
}

static Lease *lease_find(Bridge *b, const char *unit)
{
        for (size_t i = 0; i < b->n_leases; i++)
                if (streq(b->leases[i].unit, unit))
                        return &b->leases[i];
        return NULL;
}

static bool index_leased(Bridge *b, uint32_t index)
{
        for (size_t i = 0; i < b->n_leases; i++)
                if (b->leases[i].index == index)
                        return true;
        return false;
}

static void lease_set(Bridge *b, const char *unit, uint32_t index)
{
        Lease *l = lease_find(b, unit);

        if (l && l->index == index)
                return;
        /* An address moves to unit: no other unit keeps it. */
        for (size_t i = 0; i < b->n_leases;)
                if (b->leases[i].index == index) {
                        free(b->leases[i].unit);
                        b->leases[i] = b->leases[--b->n_leases];
                } else
                        i++;
        l = lease_find(b, unit);
        if (l)
                l->index = index;
        else {
                b->leases = xrealloc(b->leases, (b->n_leases + 1) * sizeof(Lease));
                b->leases[b->n_leases++] = (Lease){ xstrdup(unit), index };
        }
        leases_save(b);
}

/* The host part for unit: Address=, else its lease, else the first one
 * nobody holds, else the first one no running unit holds. */
static int pick_index(Bridge *b, const char *unit, const UnitConfig *c, uint32_t *ret, char **ret_error)
{
        Lease *l = lease_find(b, unit);
        uint32_t n = max_index(b);
        Member *m;

        if (c->address) {
                uint8_t a[4], net[4];
                uint32_t x, y;

                (void)ipv4_parse(c->address, a);
                memcpy(&x, a, 4);
                memcpy(&y, b->net4, 4);
                addr4(b, 0, net);
                x = ntohl(x);
                y = ntohl(y);
                if (b->prefix4 == 0 || (x ^ y) >> (32 - b->prefix4) != 0 || x - y < 2 || x - y > n) {
                        *ret_error = xasprintf("Address=%s: not a container address of the bridge's subnet %s/%u "
                                               "(the first address is the bridge's)",
                                               c->address, inet_ntoa(*(struct in_addr *)net), b->prefix4);
                        return -EINVAL;
                }
                m = member_by_index(b, x - y);
                if (m && !streq(m->unit, unit)) {
                        *ret_error = xasprintf("Address=%s: taken by unit `%s`", c->address, m->unit);
                        return -EADDRINUSE;
                }
                *ret = x - y;
                return 0;
        }
        if (l && !member_by_index(b, l->index)) {
                *ret = l->index;
                return 0;
        }
        for (uint32_t i = 2; i <= n && i > 1; i++)
                if (!index_leased(b, i)) {
                        *ret = i;
                        return 0;
                }
        for (uint32_t i = 2; i <= n && i > 1; i++)
                if (!member_by_index(b, i)) {
                        *ret = i;
                        return 0;
                }
        {
                _cleanup_free_ char *net = addr_string(AF_INET, b->net4);
                *ret_error = xasprintf("--bridge-subnet=%s/%u is too small: all its %u container addresses "
                                       "are taken by running units",
                                       net, b->prefix4, n - 1);
        }
        return -ENOSPC;
}

/* ------------------------------------------------------------ nftables */

/* The DNAT rules of one published port, in the table's text. */
static void put_dnat(FILE *f, const Bridge *b, const Member *m, const PublishPort *p)
{
        const char *lead = "\t\t";
        const char *proto = p->proto == IPPROTO_UDP ? "udp" : "tcp";
        uint8_t a[16];
        _cleanup_free_ char *s4 = NULL, *s6 = NULL;

        addr4(b, m->index, a);
        s4 = addr_string(AF_INET, a);
        addr6(b, m->index, a);
        s6 = addr_string(AF_INET6, a);
        for (unsigned i = 0; i <= (unsigned)(p->host_end - p->host_port); i++) {
                unsigned hp = p->host_port + i, cp = p->port + i;

                if (p->family != AF_INET6) {
                        if (p->family == AF_INET) {
                                _cleanup_free_ char *h = addr_string(AF_INET, p->addr);
                                fprintf(f, "%s ip daddr %s", lead, h);
                        } else
                                fprintf(f, "%s meta nfproto ipv4", lead);
                        fprintf(f, " %s dport %u dnat ip to %s:%u\n", proto, hp, s4, cp);
                }
                if (p->family != AF_INET) {
                        if (p->family == AF_INET6) {
                                _cleanup_free_ char *h = addr_string(AF_INET6, p->addr);
                                fprintf(f, "%s ip6 daddr %s", lead, h);
                        } else
                                fprintf(f, "%s meta nfproto ipv6", lead);
                        fprintf(f, " %s dport %u dnat ip6 to [%s]:%u\n", proto, hp, s6, cp);
                }
        }
}

/* The rules of put_dnat() for nft_publish_replace(), appended to *d. */
static void add_dnat(NftDnat **d, size_t *n, const Bridge *b, const Member *m, const PublishPort *p)
{
        for (unsigned i = 0; i <= (unsigned)(p->host_end - p->host_port); i++)
                for (int fam = 0; fam < 2; fam++) {
                        int family = fam ? AF_INET6 : AF_INET;
                        if (p->family != AF_UNSPEC && p->family != family)
                                continue;
                        *d = xrealloc(*d, (*n + 1) * sizeof(**d));
                        NftDnat *x = &(*d)[(*n)++];
                        *x = (NftDnat){ .family = family, .has_host = p->family == family,
                                        .proto = p->proto == IPPROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP,
                                        .port = (uint16_t)(p->host_port + i), .to_port = (uint16_t)(p->port + i) };
                        if (x->has_host)
                                memcpy(x->host, p->addr, family == AF_INET ? 4 : 16);
                        if (family == AF_INET)
                                addr4(b, m->index, x->to);
                        else
                                addr6(b, m->index, x->to);
                }
}

/* The publish chain alone, in one netlink batch (nft-publish.c): the rest
 * of the table stands, only the published ports change. */
static int publish_apply(Bridge *b, char **ret_error)
{
        _cleanup_free_ NftDnat *d = NULL;
        size_t n = 0;

        if (!b->pub) {
                int r = nft_publish_open(&b->pub);
                if (r < 0) {
                        *ret_error = xasprintf("nftables: netlink: %s", strerror(-r));
                        return r;
                }
        }
        for (size_t i = 0; i < b->n_members; i++)
                for (size_t j = 0; j < b->members[i].n_ports; j++)
                        add_dnat(&d, &n, b, &b->members[i], &b->members[i].ports[j]);
        return nft_publish_replace(b->pub, "ccsup", "publish", d, n, ret_error);
}

/* The whole table, replaced in one transaction: nothing else is touched. */
static char *ruleset(const Bridge *b)
{
        _cleanup_free_ char *n4 = addr_string(AF_INET, b->net4), *n6 = addr_string(AF_INET6, b->net6);
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                abort();
        fprintf(f,
                "table " NFT_TABLE " {}\n"
                "delete table " NFT_TABLE "\n"
                "table " NFT_TABLE " {\n"
                /* route_localnet on the bridge lets 127.0.0.1 reach a published
                 * port from the host; nothing from outside may use it. */
                "\tchain guard {\n"
                "\t\ttype filter hook prerouting priority raw; policy accept;\n"
                "\t\tiif != lo ip daddr 127.0.0.0/8 drop\n"
                "\t\tiif != lo ip saddr 127.0.0.0/8 drop\n"
                "\t}\n"
                "\tchain prerouting {\n"
                "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
                "\t\tfib daddr type local jump publish\n"
                "\t}\n"
                "\tchain output {\n"
                "\t\ttype nat hook output priority -100; policy accept;\n"
                "\t\tip6 daddr ::1 return\n"
                "\t\tfib daddr type local jump publish\n"
                "\t}\n"
                "\tchain postrouting {\n"
                "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
                "\t\tip saddr %1$s/%2$u ip daddr != %1$s/%2$u masquerade\n"
                "\t\tct status dnat ip daddr %1$s/%2$u ip saddr { %1$s/%2$u, 127.0.0.0/8 } masquerade\n"
                "\t\tip6 saddr %3$s/%4$u ip6 daddr != %3$s/%4$u masquerade\n"
                "\t\tct status dnat ip6 daddr %3$s/%4$u ip6 saddr %3$s/%4$u masquerade\n"
                "\t}\n"
                "\tchain publish {\n",
                n4, b->prefix4, n6, b->prefix6);
        for (size_t i = 0; i < b->n_members; i++)
                for (size_t j = 0; j < b->members[i].n_ports; j++)
                        put_dnat(f, b, &b->members[i], &b->members[i].ports[j]);
        fputs("\t}\n}\n", f);
        if (fclose(f) != 0)
                abort();
        return buf;
}

static int nft_run(Bridge *b, const char *cmd, char **ret_error)
{
        if (!b->nft) {
                *ret_error = xasprintf("nftables: the kernel has no nf_tables (netlink NETLINK_NETFILTER: %s)",
                                       strerror(b->nft_errno));
                return -b->nft_errno;
        }
        if (nft_run_cmd_from_buffer(b->nft, cmd) != 0) {
                const char *e = nft_ctx_get_error_buffer(b->nft);
                *ret_error = xasprintf("nftables table `" NFT_TABLE "`: %s", e && *e ? e : "failed");
                return -EIO;
        }
        return 0;
}

/* The table as the members want it, in one transaction: whole the first
 * time (libnftables, from text), then only its publish chain (libnftnl:
 * 0.12 ms inside ccsupd where libnftables took 2 ms, most of a bridge
 * container's start); whole again if the chain is gone (another tool
 * deleted the table or flushed the ruleset). */
static int table_apply(Bridge *b, char **ret_error)
{
        int r;

        if (b->nft && b->table_ok) {
                r = publish_apply(b, ret_error);
                if (r >= 0)
                        return r;
                log_msg(LOG_NOTICE, "%s: writing the whole table again", *ret_error);
                free(*ret_error);
                *ret_error = NULL;
                b->table_ok = false;
        }
        _cleanup_free_ char *cmd = ruleset(b);
        r = nft_run(b, cmd, ret_error);
        b->table_ok = r >= 0;
        return r;
}

/* ------------------------------------------------------------ the bridge */

static int write_sysctl(const char *path, const char *v)
{
        return write_string_file(path, v);
}

static char *read_sysctl(const char *path)
{
        char *s = NULL;

        if (read_full_file(path, 64, &s, NULL) < 0)
                return xstrdup("0");
        s[strcspn(s, "\n")] = 0;
        return s;
}

#define FWD4 "/proc/sys/net/ipv4/ip_forward"
#define FWD6 "/proc/sys/net/ipv6/conf/all/forwarding"

/* Forwarding on; what it was is kept in the runtime directory, for the
 * teardown of this ccsupd or of the next one (after kill -9). */
static void forwarding_on(Bridge *b)
{
        if (access(b->forward_path, F_OK) < 0) {
                _cleanup_free_ char *v4 = read_sysctl(FWD4), *v6 = read_sysctl(FWD6);
                FILE *f = fopen(b->forward_path, "we");
                if (f) {
                        fprintf(f, "%s %s\n", v4, v6);
                        fclose(f);
                }
        }
        if (write_sysctl(FWD4, "1") < 0 || write_sysctl(FWD6, "1") < 0)
                log_msg(LOG_WARNING, "bridge: IP forwarding: %s", strerror(errno));
}

static void forwarding_restore(Bridge *b)
{
        _cleanup_free_ char *s = NULL;
        char v4[16], v6[16];

        if (read_full_file(b->forward_path, 64, &s, NULL) < 0)
                return;
        if (sscanf(s, "%15s %15s", v4, v6) == 2) {
                (void)write_sysctl(FWD4, v4);
                (void)write_sysctl(FWD6, v6);
        }
        (void)unlink(b->forward_path);
}

static bool prefix_overlap(const uint8_t *a, const uint8_t *b, unsigned bits)
{
        for (unsigned i = 0; i < bits; i += 8) {
                unsigned n = bits - i >= 8 ? 8 : bits - i;
                uint8_t mask = (uint8_t)(0xff << (8 - n));
                if ((a[i / 8] ^ b[i / 8]) & mask)
                        return false;
        }
        return true;
}

struct route_scan {
        const Bridge *b;
        int own;             /* the bridge's index, or <= 0 */
        NetlinkRoute clash;  /* .family 0: none */
        int uplink;          /* the default route's interface */
};

static void on_host_route(const NetlinkRoute *r, void *data)
{
        struct route_scan *s = data;
        const uint8_t *net = r->family == AF_INET ? s->b->net4 : s->b->net6;
        unsigned len = r->family == AF_INET ? s->b->prefix4 : s->b->prefix6;

        if (r->dst_len == 0) {
                if (r->family == AF_INET && r->oif > 0 && s->uplink == 0)
                        s->uplink = r->oif;
                return;
        }
        if (r->oif == s->own || s->clash.family)
                return;
        if (prefix_overlap(net, r->dst, r->dst_len < len ? r->dst_len : len))
                s->clash = *r;
}

/* Neither subnet may overlap a route of the host's (a LAN, a VPN, another
 * tool's bridge): the containers could not reach it, or it them. Finds the
 * uplink's MTU too, for a bridge without --bridge-mtu. */
static int routes_check(Bridge *b, int own, uint32_t *ret_uplink_mtu, char **ret_error)
{
        struct route_scan s = { .b = b, .own = own };
        char dev[IFNAMSIZ] = "?";
        int r;

        r = netlink_routes(b->nl, AF_INET, on_host_route, &s);
        if (r == 0)
                r = netlink_routes(b->nl, AF_INET6, on_host_route, &s);
        if (r < 0) {
                *ret_error = xasprintf("bridge `%s`: the host's routes: %s", b->name, strerror(-r));
                return r;
        }
        if (s.clash.family) {
                _cleanup_free_ char *dst = addr_string(s.clash.family, s.clash.dst);
                _cleanup_free_ char *net = addr_string(s.clash.family, s.clash.family == AF_INET ? b->net4 : b->net6);
                if (s.clash.oif > 0)
                        (void)netlink_link_name(b->nl, s.clash.oif, dev);
                *ret_error = xasprintf("--bridge-subnet%s=%s/%u overlaps the host's route %s/%u (dev %s): "
                                       "choose a free subnet",
                                       s.clash.family == AF_INET ? "" : "6", net,
                                       s.clash.family == AF_INET ? b->prefix4 : b->prefix6, dst,
                                       s.clash.dst_len, dev);
                return -EADDRINUSE;
        }
        *ret_uplink_mtu = 0;
        if (s.uplink > 0)
                (void)netlink_link_mtu(b->nl, s.uplink, ret_uplink_mtu);
        return 0;
}

static int bridge_up(Bridge *b, char **ret_error)
{
        uint32_t uplink_mtu = 0;
        uint8_t a[16];
        _cleanup_free_ char *rl = NULL;
        int idx, r;

        if (b->ifindex > 0 && netlink_link_index(b->nl, b->name) == b->ifindex)
                return 0;
        idx = netlink_link_index(b->nl, b->name);
        r = routes_check(b, idx, &uplink_mtu, ret_error);
        if (r < 0)
                return r;
        if (idx == -ENODEV) {
                /* Set once, the bridge keeps its MTU whatever its ports'. */
                r = netlink_bridge_add(b->nl, b->name, b->mtu_opt ? b->mtu_opt : uplink_mtu);
                if (r < 0) {
                        *ret_error = xasprintf("bridge `%s`: %s", b->name, strerror(-r));
                        return r;
                }
                idx = netlink_link_index(b->nl, b->name);
        }
        if (idx < 0) {
                *ret_error = xasprintf("bridge `%s`: %s", b->name, strerror(-idx));
                return idx;
        }
        addr4(b, 1, a);
        r = netlink_addr_add(b->nl, idx, AF_INET, a, b->prefix4);
        if (r >= 0) {
                addr6(b, 1, a);
                r = netlink_addr_add(b->nl, idx, AF_INET6, a, b->prefix6);
        }
        if (r >= 0)
                r = netlink_link_up(b->nl, idx);
        if (r >= 0)
                r = netlink_link_mtu(b->nl, idx, &b->mtu);
        if (r < 0) {
                *ret_error = xasprintf("bridge `%s`: address: %s", b->name, strerror(-r));
                return r;
        }
        rl = xasprintf("/proc/sys/net/ipv4/conf/%s/route_localnet", b->name);
        if (write_sysctl(rl, "1") < 0)
                log_msg(LOG_WARNING, "bridge `%s`: route_localnet: %s", b->name, strerror(errno));
        forwarding_on(b);
        b->ifindex = idx;
        log_msg(LOG_DEBUG, "bridge `%s` up (index %d)", b->name, idx);
        return 0;
}

static void bridge_down(Bridge *b)
{
        _cleanup_free_ char *e = NULL;
        int idx = netlink_link_index(b->nl, b->name);

        if (idx > 0)
                (void)netlink_link_del(b->nl, idx);
        (void)nft_run(b, "table " NFT_TABLE " {}\ndelete table " NFT_TABLE "\n", &e);
        forwarding_restore(b);
        b->ifindex = 0;
        b->table_ok = false;
        log_msg(LOG_DEBUG, "bridge `%s` removed", b->name);
}

static char *veth_name(uint32_t index)
{
        return xasprintf("ccv%u", index);
}

static void veth_del(Bridge *b, uint32_t index)
{
        _cleanup_free_ char *name = veth_name(index);
        int idx = netlink_link_index(b->nl, name);

        if (idx > 0)
                (void)netlink_link_del(b->nl, idx);
}

/* ------------------------------------------------------------ [::1] relay */

/* A connection to [::1] cannot be DNATed to a container: the answer would
 * come back from the bridge to ::1, which the kernel drops (IPv6 has no
 * route_localnet). As docker-proxy does, ccsupd accepts those itself on
 * the held [::]:PORT socket (every other local address is DNATed before
 * it) and relays them to the container's IPv6 address. */

#define RELAY_BUF 16384

typedef struct Relay Relay;

typedef struct Pipe {
        ev_io in, out;      /* read from in's fd, write to out's */
        char buf[RELAY_BUF];
        size_t len, off;
        bool eof;
        Relay *r;
} Pipe;

struct Relay {
        int a, b;           /* the client's, the container's */
        Pipe ab, ba;
        bool connected;
        Proxy *p;
        Relay *next;
};

typedef struct UdpFlow UdpFlow;

struct Proxy {
        ev_io w;
        int fd;
        uint8_t dst[16];
        unsigned port;
        struct ev_loop *loop;
        Relay *relays;      /* TCP: a relay per connection */
        UdpFlow *flows;     /* UDP: a flow per client address */
        size_t n_flows;
};

/* UDP to [::1]: a flow per client address and port, as docker-proxy
 * keeps: a socket connected to the container's address, so that the
 * container's answers come back on it and go out of the held socket to
 * that client; dropped after UDP_IDLE_SEC without a datagram either way.
 * At most UDP_FLOWS_MAX at once: a datagram beyond them is dropped, as the
 * network may drop any. */
#define UDP_IDLE_SEC 60.0
#define UDP_FLOWS_MAX 256

struct UdpFlow {
        struct sockaddr_in6 client;
        int fd;
        ev_io w;
        ev_timer idle;
        Proxy *p;
        UdpFlow *next;
};

static char udp_buf[65536];

static void relay_free(Relay *r)
{
        Proxy *p = r->p;

        ev_io_stop(p->loop, &r->ab.in);
        ev_io_stop(p->loop, &r->ab.out);
        ev_io_stop(p->loop, &r->ba.in);
        ev_io_stop(p->loop, &r->ba.out);
        safe_close(r->a);
        safe_close(r->b);
        for (Relay **q = &p->relays; *q; q = &(*q)->next)
                if (*q == r) {
                        *q = r->next;
                        break;
                }
        free(r);
}

/* Which watcher of a pipe runs: in while its buffer is empty, out while
 * it holds data; none once done. */
static void pipe_arm(Pipe *pp)
{
        struct ev_loop *loop = pp->r->p->loop;

        ev_io_stop(loop, &pp->in);
        ev_io_stop(loop, &pp->out);
        if (!pp->r->connected)
                return;
        if (pp->len > pp->off)
                ev_io_start(loop, &pp->out);
        else if (!pp->eof)
                ev_io_start(loop, &pp->in);
}

static bool pipe_done(const Pipe *pp)
{
        return pp->eof && pp->len == pp->off;
}

static void on_pipe(struct ev_loop *loop, ev_io *w, int revents)
{
        Pipe *pp = w->data;
        Relay *r = pp->r;
        ssize_t n;

        (void)loop;
        (void)revents;
        if (w == &pp->in) {
                n = read(w->fd, pp->buf, sizeof(pp->buf));
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0) {
                        pp->eof = true;
                        (void)shutdown(pp->out.fd, SHUT_WR);
                } else {
                        pp->len = (size_t)n;
                        pp->off = 0;
                }
        } else {
                n = send(w->fd, pp->buf + pp->off, pp->len - pp->off, MSG_NOSIGNAL);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n < 0) {
                        relay_free(r);
                        return;
                }
                pp->off += (size_t)n;
                if (pp->off == pp->len)
                        pp->len = pp->off = 0;
        }
        if (n < 0 && !pp->eof) {
                relay_free(r);
                return;
        }
        if (pipe_done(&r->ab) && pipe_done(&r->ba)) {
                relay_free(r);
                return;
        }
        pipe_arm(pp);
}

/* The pipes' watchers: the same ev_io structs, set up for good. */
static void relay_run(Relay *r)
{
        ev_io_init(&r->ab.in, on_pipe, r->a, EV_READ);
        ev_io_init(&r->ab.out, on_pipe, r->b, EV_WRITE);
        ev_io_init(&r->ba.in, on_pipe, r->b, EV_READ);
        ev_io_init(&r->ba.out, on_pipe, r->a, EV_WRITE);
        r->ab.in.data = r->ab.out.data = &r->ab;
        r->ba.in.data = r->ba.out.data = &r->ba;
        r->connected = true;
        pipe_arm(&r->ab);
        pipe_arm(&r->ba);
}

static void on_connected(struct ev_loop *loop, ev_io *w, int revents)
{
        Relay *r = w->data;
        int err = 0;
        socklen_t l = sizeof(err);

        (void)revents;
        ev_io_stop(loop, w);
        if (getsockopt(r->b, SOL_SOCKET, SO_ERROR, &err, &l) < 0 || err != 0) {
                relay_free(r); /* the client sees its connection closed */
                return;
        }
        relay_run(r);
}

/* The relay of the client's a and the container's b; until connected, ab.out
 * waits for b to be writable (on_connected), then the pipes run. */
static Relay *relay_add(Proxy *p, int a, int b, bool connected)
{
        Relay *r = xcalloc(1, sizeof(Relay));

        *r = (Relay){ .a = a, .b = b, .p = p, .next = p->relays };
        r->ab.r = r->ba.r = r;
        p->relays = r;
        if (connected) {
                relay_run(r);
                return r;
        }
        ev_io_init(&r->ab.out, on_connected, b, EV_WRITE);
        r->ab.out.data = r;
        ev_io_start(p->loop, &r->ab.out);
        return r;
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
        Proxy *p = w->data;
        struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)p->port) };
        int a, b;

        (void)loop;
        (void)revents;
        a = accept4(p->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (a < 0)
                return;
        b = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (b < 0) {
                close(a);
                return;
        }
        memcpy(&sa.sin6_addr, p->dst, 16);
        if (connect(b, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
                close(a);
                close(b);
                return;
        }
        (void)relay_add(p, a, b, false);
}

static void flow_free(UdpFlow *f)
{
        Proxy *p = f->p;

        ev_io_stop(p->loop, &f->w);
        ev_timer_stop(p->loop, &f->idle);
        safe_close(f->fd);
        for (UdpFlow **q = &p->flows; *q; q = &(*q)->next)
                if (*q == f) {
                        *q = f->next;
                        break;
                }
        p->n_flows--;
        free(f);
}

static void on_flow_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
        (void)loop;
        (void)revents;
        flow_free(w->data);
}

/* The container's answers, out of the held socket to the flow's client. */
static void on_flow_answer(struct ev_loop *loop, ev_io *w, int revents)
{
        UdpFlow *f = w->data;

        (void)revents;
        for (int i = 0; i < 64; i++) {
                ssize_t n = recv(f->fd, udp_buf, sizeof(udp_buf), MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        continue; /* ECONNREFUSED: nothing listens yet; the client will retry */
                }
                (void)sendto(f->p->fd, udp_buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&f->client,
                             sizeof(f->client));
        }
        ev_timer_again(loop, &f->idle);
}

/* The flow of client over fd, a socket connected to the container; idle
 * after idle seconds without a datagram, UDP_IDLE_SEC once one passes. */
static UdpFlow *flow_add(Proxy *p, const struct sockaddr_in6 *client, int fd, double idle)
{
        UdpFlow *f = xcalloc(1, sizeof(UdpFlow));

        *f = (UdpFlow){ .client = *client, .fd = fd, .p = p, .next = p->flows };
        ev_io_init(&f->w, on_flow_answer, fd, EV_READ);
        f->w.data = f;
        ev_io_start(p->loop, &f->w);
        ev_timer_init(&f->idle, on_flow_idle, idle, UDP_IDLE_SEC);
        f->idle.data = f;
        ev_timer_start(p->loop, &f->idle);
        p->flows = f;
        p->n_flows++;
        return f;
}

static UdpFlow *flow_get(Proxy *p, const struct sockaddr_in6 *client)
{
        struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)p->port) };
        UdpFlow *f;
        int fd;

        for (f = p->flows; f; f = f->next)
                if (f->client.sin6_port == client->sin6_port &&
                    memcmp(&f->client.sin6_addr, &client->sin6_addr, 16) == 0)
                        return f;
        if (p->n_flows >= UDP_FLOWS_MAX)
                return NULL;
        fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return NULL;
        memcpy(&sa.sin6_addr, p->dst, 16);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                close(fd);
                return NULL;
        }
        return flow_add(p, client, fd, UDP_IDLE_SEC);
}

/* Datagrams to the held socket ([::1]:PORT), each to its client's flow. */
static void on_datagram(struct ev_loop *loop, ev_io *w, int revents)
{
        Proxy *p = w->data;

        (void)revents;
        for (int i = 0; i < 64; i++) {
                struct sockaddr_in6 client;
                socklen_t l = sizeof(client);
                ssize_t n = recvfrom(p->fd, udp_buf, sizeof(udp_buf), MSG_DONTWAIT, (struct sockaddr *)&client, &l);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        continue;
                }
                if (l < sizeof(client) || client.sin6_family != AF_INET6)
                        continue;
                UdpFlow *f = flow_get(p, &client);
                if (!f)
                        continue;
                (void)send(f->fd, udp_buf, (size_t)n, MSG_DONTWAIT);
                ev_timer_again(loop, &f->idle);
        }
}

static Proxy *proxy_new(struct ev_loop *loop, int fd, int type, const uint8_t dst[16], unsigned port)
{
        Proxy *p = xcalloc(1, sizeof(Proxy));

        if (type == SOCK_STREAM && listen(fd, 64) < 0) {
                free(p);
                return NULL;
        }
        p->fd = fd;
        p->loop = loop;
        p->port = port;
        memcpy(p->dst, dst, 16);
        ev_io_init(&p->w, type == SOCK_STREAM ? on_accept : on_datagram, fd, EV_READ);
        p->w.data = p;
        ev_io_start(loop, &p->w);
        return p;
}

/* The socket itself is one of the member's held ones. */
static void proxy_free(Proxy *p)
{
        if (!p)
                return;
        while (p->relays)
                relay_free(p->relays);
        while (p->flows)
                flow_free(p->flows);
        ev_io_stop(p->loop, &p->w);
        free(p);
}

/* ------------------------------------------------------------ ports */

static int parse_ports(const UnitConfig *c, PublishPort **ret, size_t *ret_n, char **ret_error)
{
        size_t n = strv_length(c->publish_ports);
        PublishPort *p = xcalloc(n ? n : 1, sizeof(PublishPort));
        const char *err;

        for (size_t i = 0; i < n; i++)
                if (publish_port_parse(c->publish_ports[i], &p[i], &err) < 0) {
                        *ret_error = xasprintf("PublishPort=%s: %s", c->publish_ports[i], err);
                        free(p);
                        return -EINVAL;
                }
        *ret = p;
        *ret_n = n;
        return 0;
}

/* What proxies_start() relays: TCP and UDP on [::] or [::1]. */
static bool is_relayed_addr(const struct in6_addr *a)
{
        return IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a);
}

/* A held socket that listens: TCP relayed on [::1]. */
static bool is_relayed(int family, const uint8_t *addr, int proto)
{
        struct in6_addr a = {};

        if (addr)
                memcpy(&a, addr, 16);
        return family == AF_INET6 && proto == IPPROTO_TCP && is_relayed_addr(&a);
}

static int bind_one(int family, const uint8_t *addr, int proto, unsigned port, bool reuse)
{
        union {
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } sa = {};
        socklen_t len;
        int fd, one = 1;

        fd = socket(family, (proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (family == AF_INET) {
                sa.in.sin_family = AF_INET;
                sa.in.sin_port = htons((uint16_t)port);
                if (addr)
                        memcpy(&sa.in.sin_addr, addr, 4);
                len = sizeof(sa.in);
        } else {
                (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
                sa.in6.sin6_family = AF_INET6;
                sa.in6.sin6_port = htons((uint16_t)port);
                if (addr)
                        memcpy(&sa.in6.sin6_addr, addr, 16);
                len = sizeof(sa.in6);
        }
        if (reuse)
                (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static void held_close(int *fds, size_t n)
{
        for (size_t i = 0; i < n; i++)
                safe_close(fds[i]);
        free(fds);
}

/* fd is a socket bound as bind_one(family, addr, proto, port) binds one. */
static bool sock_matches(int fd, int family, const uint8_t *addr, int proto, unsigned port)
{
        static const uint8_t any[16];
        union {
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } sa = {};
        socklen_t l = sizeof(sa), tl = sizeof(int);
        int type = 0;

        if (fd < 0 || getsockname(fd, (struct sockaddr *)&sa, &l) < 0 ||
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
            type != (proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) || sa.in.sin_family != family)
                return false;
        if (family == AF_INET)
                return ntohs(sa.in.sin_port) == port && memcmp(&sa.in.sin_addr, addr ? addr : any, 4) == 0;
        return ntohs(sa.in6.sin6_port) == port && memcmp(&sa.in6.sin6_addr, addr ? addr : any, 16) == 0;
}

/* The socket of prev (the previous ccsupd's, daemon-reexec) bound so, taken
 * out of it; else -1. */
static int prev_take(int *prev, size_t n_prev, int family, const uint8_t *addr, int proto, unsigned port)
{
        for (size_t i = 0; i < n_prev; i++)
                if (sock_matches(prev[i], family, addr, proto, port))
                        return TAKE_FD(prev[i]);
        return -1;
}

/* fd is one of the sockets ports_hold() binds for ports. */
static bool ports_want(const PublishPort *ports, size_t n, int fd)
{
        for (size_t i = 0; i < n; i++)
                for (unsigned port = ports[i].host_port; port <= ports[i].host_end; port++)
                        for (int fam = AF_INET; fam; fam = fam == AF_INET ? AF_INET6 : 0)
                                if ((!ports[i].family || ports[i].family == fam) &&
                                    sock_matches(fd, fam, ports[i].family ? ports[i].addr : NULL, ports[i].proto, port))
                                        return true;
        return false;
}

/* Every published host port is bound here and held while the container
 * runs, as docker-proxy does: a host process that binds it later gets
 * EADDRINUSE instead of silently losing its traffic to the DNAT rule. The
 * sockets never listen (a connect to a held port is refused, as to a
 * free one; a listener would leave clients hanging), and have no
 * SO_REUSEADDR, which keeps binders with SO_REUSEADDR out too. But for the
 * TCP ones relayed on [::1] (relays): they listen, which keeps every binder
 * out, and take SO_REUSEADDR, which their accepted connections inherit, so
 * that the TIME_WAIT of those a killed ccsupd left does not keep the next
 * one from binding the port again.
 * prev: the sockets the previous ccsupd held (daemon-reexec), taken where
 * they fit, so that the port is never free in between; the caller closes
 * the others first. */
static int ports_hold(const PublishPort *ports, size_t n, bool relays, int *prev, size_t n_prev, int **ret_fds,
                      size_t *ret_n, char **ret_error)
{
        int *fds = NULL;
        size_t n_fds = 0;

        for (size_t i = 0; i < n; i++) {
                const PublishPort *p = &ports[i];
                for (unsigned port = p->host_port; port <= p->host_end; port++)
                        for (int fam = AF_INET; fam; fam = fam == AF_INET ? AF_INET6 : 0) {
                                int fd;

                                if (p->family && p->family != fam)
                                        continue;
                                fd = prev_take(prev, n_prev, fam, p->family ? p->addr : NULL, p->proto, port);
                                if (fd < 0)
                                        fd = bind_one(fam, p->family ? p->addr : NULL, p->proto, port,
                                                      relays && is_relayed(fam, p->family ? p->addr : NULL, p->proto));
                                if (fd == -EAFNOSUPPORT)
                                        continue;
                                if (fd < 0) {
                                        _cleanup_free_ char *s = publish_port_format(p);
                                        *ret_error = xasprintf("PublishPort=%s: host port %u/%s: %s", s, port,
                                                               p->proto == IPPROTO_UDP ? "udp" : "tcp",
                                                               fd == -EADDRINUSE ? "already in use on the host"
                                                                                 : strerror(-fd));
                                        held_close(fds, n_fds);
                                        return fd;
                                }
                                fds = xrealloc(fds, (n_fds + 1) * sizeof(int));
                                fds[n_fds++] = fd;
                        }
        }
        *ret_fds = fds;
        *ret_n = n_fds;
        return 0;
}

/* A relay on each held IPv6 socket bound to :: or ::1, TCP and UDP. */
static void proxies_start(Bridge *b, Member *m)
{
        uint8_t dst[16];

        if (!b->loop)
                return;
        addr6(b, m->index, dst);
        for (size_t i = 0; i < m->n_held; i++) {
                struct sockaddr_in6 sa;
                socklen_t l = sizeof(sa);
                int type = 0;
                socklen_t tl = sizeof(type);
                unsigned hp;
                Proxy *px;

                if (getsockname(m->held[i], (struct sockaddr *)&sa, &l) < 0 || sa.sin6_family != AF_INET6 ||
                    getsockopt(m->held[i], SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
                    (type != SOCK_STREAM && type != SOCK_DGRAM) ||
                    !is_relayed_addr(&sa.sin6_addr))
                        continue;
                hp = ntohs(sa.sin6_port);
                for (size_t j = 0; j < m->n_ports; j++) {
                        const PublishPort *p = &m->ports[j];
                        if (p->proto != (type == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP) ||
                            (p->family && p->family != AF_INET6) || hp < p->host_port || hp > p->host_end)
                                continue;
                        px = proxy_new(b->loop, m->held[i], type, dst, p->port + (hp - p->host_port));
                        if (!px) {
                                log_msg(LOG_WARNING, "bridge: `%s`: [::1]:%u: listen: %s", m->unit, hp, strerror(errno));
                                break;
                        }
                        m->proxies = xrealloc(m->proxies, (m->n_proxies + 1) * sizeof(Proxy *));
                        m->proxies[m->n_proxies++] = px;
                        break;
                }
        }
}

static int ports_conflict(Bridge *b, const char *unit, const PublishPort *p, size_t n, char **ret_error)
{
        for (size_t k = 0; k < n; k++)
                for (size_t i = 0; i < b->n_members; i++) {
                        const Member *m = &b->members[i];
                        if (streq(m->unit, unit))
                                continue;
                        for (size_t j = 0; j < m->n_ports; j++)
                                if (publish_port_overlap(&p[k], &m->ports[j])) {
                                        _cleanup_free_ char *s = publish_port_format(&p[k]);
                                        unsigned port = p[k].host_port > m->ports[j].host_port ? p[k].host_port
                                                                                              : m->ports[j].host_port;
                                        *ret_error = xasprintf("PublishPort=%s: host port %u/%s is published by unit `%s`",
                                                               s, port, p[k].proto == IPPROTO_UDP ? "udp" : "tcp",
                                                               m->unit);
                                        return -EADDRINUSE;
                                }
                }
        return 0;
}

/* ------------------------------------------------------------ names */

char *bridge_unit_file(Bridge *b, const char *unit, const char *what)
{
        return xasprintf("%s/%s.%s", b->etc_dir, unit, what);
}

/* Rewritten in place: the container has the file bind-mounted, so a new
 * inode (rename) would never reach it. */
static void file_rewrite(const char *path, const char *s)
{
        size_t l = strlen(s);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

        if (fd < 0 || pwrite(fd, s, l, 0) != (ssize_t)l || ftruncate(fd, (off_t)l) < 0)
                log_msg(LOG_WARNING, "bridge: `%s`: %s", path, strerror(errno));
}

static void put_host(FILE *f, int family, const uint8_t *a, const char *name, const char *extra)
{
        _cleanup_free_ char *s = addr_string(family, a);

        fprintf(f, "%s\t%s %s.ccsup%s%s\n", s, name, name, extra ? " " : "", extra ? extra : "");
}

/* Every running bridge unit by name (NAME, NAME.ccsup), the container's own
 * hostname, then its AddHost= lines. */
static void hosts_write(Bridge *b, const Member *self)
{
        _cleanup_free_ char *buf = NULL, *path = bridge_unit_file(b, self->unit, "hosts");
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        uint8_t a[16];

        if (!f)
                abort();
        fputs("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n", f);
        for (size_t i = 0; i < b->n_members; i++) {
                const Member *m = &b->members[i];
                const char *extra = m == self && !streq(m->hostname, m->unit) ? m->hostname : NULL;

                addr4(b, m->index, a);
                put_host(f, AF_INET, a, m->unit, extra);
                addr6(b, m->index, a);
                put_host(f, AF_INET6, a, m->unit, extra);
        }
        STRV_FOREACH(h, self->add_hosts) {
                const char *colon = strchr(*h, ':');
                fprintf(f, "%s\t%.*s\n", colon + 1, (int)(colon - *h), *h);
        }
        if (fclose(f) != 0)
                abort();
        file_rewrite(path, buf);
}

static void hosts_update_all(Bridge *b)
{
        for (size_t i = 0; i < b->n_members; i++)
                hosts_write(b, &b->members[i]);
}

static bool is_loopback(const char *a)
{
        return startswith(a, "127.") || streq(a, "::1") || startswith(a, "::ffff:127.");
}

/* The host's nameservers, without loopback stubs (systemd-resolved's
 * 127.0.0.53 is not reachable from the container: its upstream servers
 * are used instead); search lines too. */
static void host_resolv(const char *path, char ***servers, char ***search)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[1024];

        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                _cleanup_strv_free_ char **w = NULL;
                const char *err;
                if (words_split(line, &w, &err) < 0 || !w || !w[0] || !w[1])
                        continue;
                if (streq(w[0], "nameserver") && !is_loopback(w[1]))
                        strv_add(servers, w[1]);
                else if (search && (streq(w[0], "search") || streq(w[0], "domain"))) {
                        strv_free(*search);
                        *search = strv_copy(w + 1);
                }
        }
}

static void resolv_write(Bridge *b, const char *unit, const UnitConfig *c)
{
        _cleanup_strv_free_ char **servers = strv_copy(c->dns), **search = strv_copy(c->dns_search);
        _cleanup_free_ char *path = bridge_unit_file(b, unit, "resolv.conf");
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!servers) {
                host_resolv("/etc/resolv.conf", &servers, search ? NULL : &search);
                if (!servers)
                        host_resolv("/run/systemd/resolve/resolv.conf", &servers, NULL);
        }
        f = open_memstream(&buf, &size);
        if (!f)
                abort();
        STRV_FOREACH(s, servers)
                fprintf(f, "nameserver %s\n", *s);
        if (search) {
                _cleanup_free_ char *j = strv_join(search, " ");
                fprintf(f, "search %s\n", j);
        }
        if (fclose(f) != 0)
                abort();
        file_rewrite(path, buf);
}

/* ------------------------------------------------------------ daemon-reexec */

/*
 * The relays go over a daemon-reexec: the held sockets (the listening
 * [::]:PORT ones with their accept queues), both sockets of every TCP
 * relay with the bytes read but not yet written and the half-closes, and
 * the UDP flows' sockets with their idle time left. The fds stay open
 * across execve() (no FD_CLOEXEC for them until the new ccsupd takes them);
 * what they are is written as text into a memfd, CCSUP_REEXEC_BRIDGE:
 *
 *   ccsup-bridge-handover 1
 *   held UNIT FD
 *   tcp UNIT LISTEN-FD CLIENT-FD CONTAINER-FD CONNECTED EOF HEX EOF HEX
 *   udp UNIT LISTEN-FD FD CLIENT-ADDRESS CLIENT-PORT SCOPE-ID IDLE-MSEC
 *
 * (per TCP pipe, client to container then back: its end of file seen, its
 * pending bytes in hex or "-"). LISTEN-FD names the relay's held socket.
 * Text, so that an upgraded ccsupd reads what an older one wrote. After
 * kill -9 nothing of this exists: the connections die with ccsupd, and the
 * next one binds the ports again.
 */

#define HANDOVER_MAGIC "ccsup-bridge-handover 1"

typedef struct Handed {
        char *unit;
        char kind;              /* 'h'eld, 't'cp, 'u'dp */
        int listen_fd;          /* t, u: the held socket */
        int fd[2];              /* h: fd[0]; t: client, container; u: fd[0] */
        bool connected;
        bool eof[2];
        char *data[2];
        size_t len[2];
        struct sockaddr_in6 client;
        double idle;
} Handed;

static void handed_done(Handed *h)
{
        safe_close(h->fd[0]);
        safe_close(h->fd[1]);
        free(h->data[0]);
        free(h->data[1]);
        free(h->unit);
}

static bool cloexec(int fd, bool on)
{
        return fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0) == 0;
}

static void hex_put(FILE *f, const char *p, size_t n)
{
        if (n == 0)
                fputs(" -", f);
        else
                fputc(' ', f);
        for (size_t i = 0; i < n; i++)
                fprintf(f, "%02x", (unsigned char)p[i]);
}

/* Every fd in the handover loses (or gets back) FD_CLOEXEC. */
static void handover_cloexec(Bridge *b, bool on)
{
        for (size_t i = 0; i < b->n_members; i++) {
                Member *m = &b->members[i];
                for (size_t k = 0; k < m->n_held; k++)
                        (void)cloexec(m->held[k], on);
                for (size_t k = 0; k < m->n_proxies; k++) {
                        for (Relay *r = m->proxies[k]->relays; r; r = r->next) {
                                (void)cloexec(r->a, on);
                                (void)cloexec(r->b, on);
                        }
                        for (UdpFlow *f = m->proxies[k]->flows; f; f = f->next)
                                (void)cloexec(f->fd, on);
                }
        }
}

static void handover_write_proxy(FILE *f, Bridge *b, const Member *m, Proxy *p)
{
        for (Relay *r = p->relays; r; r = r->next) {
                fprintf(f, "tcp %s %d %d %d %d %d", m->unit, p->fd, r->a, r->b, r->connected, r->ab.eof);
                hex_put(f, r->ab.buf + r->ab.off, r->ab.len - r->ab.off);
                fprintf(f, " %d", r->ba.eof);
                hex_put(f, r->ba.buf + r->ba.off, r->ba.len - r->ba.off);
                fputc('\n', f);
        }
        for (UdpFlow *u = p->flows; u; u = u->next) {
                char a[INET6_ADDRSTRLEN];
                inet_ntop(AF_INET6, &u->client.sin6_addr, a, sizeof(a));
                fprintf(f, "udp %s %d %d %s %u %u %.0f\n", m->unit, p->fd, u->fd, a, ntohs(u->client.sin6_port),
                        (unsigned)u->client.sin6_scope_id, ev_timer_remaining(b->loop, &u->idle) * 1000.0);
        }
}

int bridge_reexec_save(Bridge *b)
{
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;
        int fd, r;

        if (b->n_members == 0)
                return -ENOENT;
        f = open_memstream(&text, &size);
        if (!f)
                abort();
        fputs(HANDOVER_MAGIC "\n", f);
        for (size_t i = 0; i < b->n_members; i++) {
                const Member *m = &b->members[i];
                for (size_t k = 0; k < m->n_held; k++)
                        fprintf(f, "held %s %d\n", m->unit, m->held[k]);
                for (size_t k = 0; k < m->n_proxies; k++)
                        handover_write_proxy(f, b, m, m->proxies[k]);
        }
        if (fclose(f) != 0)
                abort();
        fd = memfd_create("ccsup-bridge-handover", 0);
        if (fd < 0)
                return log_unit_errno(LOG_WARNING, NULL, -errno, "daemon-reexec: bridge relays: memfd: %s; "
                                      "the open [::1] connections are cut", strerror(errno));
        r = write_all(fd, text, size);
        if (r < 0) {
                close(fd);
                return log_unit_errno(LOG_WARNING, NULL, r, "daemon-reexec: bridge relays: %s; "
                                      "the open [::1] connections are cut", strerror(-r));
        }
        (void)lseek(fd, 0, SEEK_SET);
        handover_cloexec(b, false);
        return fd;
}

void bridge_reexec_abort(Bridge *b, int fd)
{
        safe_close(fd);
        handover_cloexec(b, true);
}

static bool hex_get(const char *s, char **ret, size_t *ret_len)
{
        size_t n = strlen(s);

        *ret = NULL;
        *ret_len = 0;
        if (streq(s, "-"))
                return true;
        if (n % 2 != 0 || n / 2 > RELAY_BUF)
                return false;
        char *d = xmalloc(n / 2);
        for (size_t i = 0; i < n / 2; i++) {
                unsigned v;
                if (sscanf(s + 2 * i, "%2x", &v) != 1) {
                        free(d);
                        return false;
                }
                d[i] = (char)v;
        }
        *ret = d;
        *ret_len = n / 2;
        return true;
}

/* A handed fd: a socket of ours, FD_CLOEXEC from now on. */
static int handed_fd(const char *s)
{
        struct stat st;
        uint32_t u;
        int fd;

        if (parse_uint32(s, &u) < 0 || u > INT_MAX)
                return -1;
        fd = (int)u;
        if (fd < 3 || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) || !cloexec(fd, true))
                return -1;
        return fd;
}

static bool parse_int(const char *s, int *ret)
{
        uint32_t u;

        if (parse_uint32(s, &u) < 0 || u > INT_MAX)
                return false;
        *ret = (int)u;
        return true;
}

static bool handover_parse_line(char **w, size_t n, Handed *h)
{
        *h = (Handed){ .listen_fd = -1, .fd = { -1, -1 } };
        if (n == 3 && streq(w[0], "held")) {
                h->kind = 'h';
                h->fd[0] = handed_fd(w[2]);
                return h->fd[0] >= 0;
        }
        if (n == 10 && streq(w[0], "tcp")) {
                h->kind = 't';
                h->fd[0] = handed_fd(w[3]);
                h->fd[1] = handed_fd(w[4]);
                h->connected = streq(w[5], "1");
                h->eof[0] = streq(w[6], "1");
                h->eof[1] = streq(w[8], "1");
                return parse_int(w[2], &h->listen_fd) && h->fd[0] >= 0 && h->fd[1] >= 0 &&
                       hex_get(w[7], &h->data[0], &h->len[0]) && hex_get(w[9], &h->data[1], &h->len[1]);
        }
        if (n == 8 && streq(w[0], "udp")) {
                uint32_t port, scope, msec;
                h->kind = 'u';
                h->fd[0] = handed_fd(w[3]);
                h->client.sin6_family = AF_INET6;
                if (!parse_int(w[2], &h->listen_fd) || h->fd[0] < 0 ||
                    inet_pton(AF_INET6, w[4], &h->client.sin6_addr) != 1 || parse_uint32(w[5], &port) < 0 ||
                    port > 65535 || parse_uint32(w[6], &scope) < 0 || parse_uint32(w[7], &msec) < 0)
                        return false;
                h->client.sin6_port = htons((uint16_t)port);
                h->client.sin6_scope_id = scope;
                h->idle = msec > UDP_IDLE_SEC * 1000 ? UDP_IDLE_SEC : msec / 1000.0;
                if (h->idle < 0.001)
                        h->idle = 0.001;
                return true;
        }
        return false;
}

/* What the ccsupd before the daemon-reexec handed over, kept until the
 * units are re-adopted (bridge_adopt()); fd is closed. */
static void handover_load(Bridge *b, int fd)
{
        _cleanup_fclose_ FILE *f = fdopen(fd, "re");
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        unsigned bad = 0;
        ssize_t l;

        if (!f) {
                safe_close(fd);
                return;
        }
        l = getline(&line, &cap, f);
        if (l <= 0 || !startswith(line, HANDOVER_MAGIC "\n")) {
                log_msg(LOG_WARNING, "CCSUP_REEXEC_BRIDGE: not a bridge handover: the open [::1] connections are lost");
                return;
        }
        while ((l = getline(&line, &cap, f)) > 0) {
                char *w[12], *save = NULL;
                size_t n = 0;
                Handed h;
                for (char *t = strtok_r(line, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
                        if (n < ELEMENTSOF(w))
                                w[n++] = t;
                if (n < 2 || !handover_parse_line(w, n, &h)) {
                        if (n >= 2)
                                handed_done(&h);
                        bad++;
                        continue;
                }
                h.unit = xstrdup(w[1]);
                b->handed = xrealloc(b->handed, (b->n_handed + 1) * sizeof(Handed));
                b->handed[b->n_handed++] = h;
        }
        if (bad)
                log_msg(LOG_WARNING, "CCSUP_REEXEC_BRIDGE: %u line(s) not understood: those connections are lost", bad);
        log_msg(LOG_DEBUG, "bridge: %zu socket(s) and relay(s) handed over by the previous ccsupd", b->n_handed);
}

/* The held sockets handed over for unit, taken out of the handover. */
static void handover_take_held(Bridge *b, const char *unit, int **ret, size_t *ret_n)
{
        int *fds = NULL;
        size_t n = 0;

        for (size_t i = 0; i < b->n_handed; i++) {
                Handed *h = &b->handed[i];
                if (h->kind != 'h' || h->fd[0] < 0 || !streq(h->unit, unit))
                        continue;
                fds = xrealloc(fds, (n + 1) * sizeof(int));
                fds[n++] = TAKE_FD(h->fd[0]);
        }
        *ret = fds;
        *ret_n = n;
}

static Proxy *member_proxy(Member *m, int fd)
{
        for (size_t i = 0; i < m->n_proxies; i++)
                if (m->proxies[i]->fd == fd)
                        return m->proxies[i];
        return NULL;
}

/* A handed TCP relay on p, where it was. O_NONBLOCK is the open file's: it
 * came over with the fds. */
static void relay_restore(Proxy *p, Handed *h)
{
        Relay *r = relay_add(p, TAKE_FD(h->fd[0]), TAKE_FD(h->fd[1]), false);

        ev_io_stop(p->loop, &r->ab.out);
        for (int k = 0; k < 2; k++) {
                Pipe *pp = k == 0 ? &r->ab : &r->ba;
                if (h->len[k])
                        memcpy(pp->buf, h->data[k], h->len[k]);
                pp->len = h->len[k];
                pp->eof = h->eof[k];
        }
        if (pipe_done(&r->ab) && pipe_done(&r->ba))
                relay_free(r);
        else if (h->connected)
                relay_run(r);
        else
                ev_io_start(p->loop, &r->ab.out); /* on_connected(), as relay_add() set it */
}

/* The relays and flows of m's handed proxies, in the loop again. */
static void handover_take_relays(Bridge *b, Member *m)
{
        size_t n_tcp = 0, n_udp = 0;

        for (size_t i = 0; i < b->n_handed; i++) {
                Handed *h = &b->handed[i];
                Proxy *p = h->kind != 'h' && h->fd[0] >= 0 && streq(h->unit, m->unit) ? member_proxy(m, h->listen_fd) : NULL;
                int type = 0;
                socklen_t tl = sizeof(type);
                if (!p || getsockopt(p->fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
                    type != (h->kind == 't' ? SOCK_STREAM : SOCK_DGRAM))
                        continue; /* closed with what no unit took */
                if (h->kind == 'u') {
                        if (p->n_flows >= UDP_FLOWS_MAX)
                                continue;
                        (void)flow_add(p, &h->client, TAKE_FD(h->fd[0]), h->idle);
                        n_udp++;
                        continue;
                }
                relay_restore(p, h);
                n_tcp++;
        }
        if (n_tcp || n_udp)
                log_msg(LOG_INFO, "bridge: `%s`: %zu [::1] connection(s) and %zu UDP flow(s) kept across the daemon-reexec",
                        m->unit, n_tcp, n_udp);
}

/* Re-adoption is over: what no unit took is closed. */
static void handover_drop(Bridge *b)
{
        size_t n = 0;

        for (size_t i = 0; i < b->n_handed; i++) {
                n += (b->handed[i].fd[0] >= 0) + (b->handed[i].fd[1] >= 0);
                handed_done(&b->handed[i]);
        }
        if (n)
                log_msg(LOG_DEBUG, "bridge: %zu handed-over socket(s) of units not re-adopted: closed", n);
        free(b->handed);
        b->handed = NULL;
        b->n_handed = 0;
}

/* ------------------------------------------------------------ members */

static void member_done(Member *m)
{
        for (size_t i = 0; i < m->n_proxies; i++)
                proxy_free(m->proxies[i]);
        free(m->proxies);
        held_close(m->held, m->n_held);
        free(m->hostname);
        strv_free(m->add_hosts);
        free(m->ports);
        free(m->unit);
}

static Member *member_add(Bridge *b, const char *unit, uint32_t index, PublishPort *ports, size_t n)
{
        b->members = xrealloc(b->members, (b->n_members + 1) * sizeof(Member));
        b->members[b->n_members] = (Member){ .unit = xstrdup(unit), .index = index, .ports = ports, .n_ports = n };
        return &b->members[b->n_members++];
}

static void member_remove(Bridge *b, Member *m)
{
        member_done(m);
        *m = b->members[--b->n_members];
}

/* The container's side: lo is brought up by the container itself. */
static int setup_inside(Bridge *b, Netlink *in, uint32_t index)
{
        uint8_t a[16], gw[16];
        int idx, r;

        idx = netlink_link_index(in, "eth0");
        if (idx < 0)
                return idx;
        addr4(b, index, a);
        r = netlink_addr_add(in, idx, AF_INET, a, b->prefix4);
        if (r < 0)
                return r;
        addr6(b, index, a);
        r = netlink_addr_add(in, idx, AF_INET6, a, b->prefix6);
        if (r < 0)
                return r;
        r = netlink_link_up(in, idx);
        if (r < 0)
                return r;
        addr4(b, 1, gw);
        r = netlink_route_default(in, idx, AF_INET, gw);
        if (r < 0)
                return r;
        addr6(b, 1, gw);
        return netlink_route_default(in, idx, AF_INET6, gw);
}

/* A fresh network namespace as an fd, and a netlink socket in it; this
 * thread stays in ccsupd's own. */
static int netns_new(int *ret_fd, Netlink **ret_nl)
{
        _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int fd = -1;
        int r = 0;

        if (self < 0)
                return -errno;
        if (unshare(CLONE_NEWNET) < 0)
                return -errno;
        fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                r = -errno;
        if (r == 0)
                r = netlink_open(ret_nl);
        if (setns(self, CLONE_NEWNET) < 0)
                abort(); /* ccsupd cannot go on in the wrong namespace */
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* A netlink socket in the network namespace ns; this thread stays in
 * ccsupd's own. */
static int netlink_open_in(int ns, Netlink **ret_nl)
{
        _cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        int r;

        if (self < 0)
                return -errno;
        if (setns(ns, CLONE_NEWNET) < 0)
                return -errno;
        r = netlink_open(ret_nl);
        if (setns(self, CLONE_NEWNET) < 0)
                abort(); /* ccsupd cannot go on in the wrong namespace */
        return r;
}

int bridge_reserve(Bridge *b, const char *unit, const UnitConfig *c, char **ret_error)
{
        PublishPort *ports = NULL;
        size_t n_ports, n_held = 0;
        int *held = NULL;
        uint32_t index;
        Member *m;
        int r;

        m = member_find(b, unit);
        if (m) { /* a run not detached: start over */
                veth_del(b, m->index);
                member_remove(b, m);
        }
        r = parse_ports(c, &ports, &n_ports, ret_error);
        if (r < 0)
                return r;
        r = ports_conflict(b, unit, ports, n_ports, ret_error);
        if (r == 0)
                r = pick_index(b, unit, c, &index, ret_error);
        if (r == 0)
                r = ports_hold(ports, n_ports, b->loop != NULL, NULL, 0, &held, &n_held, ret_error);
        if (r < 0) {
                free(ports);
                return r;
        }
        m = member_add(b, unit, index, ports, n_ports);
        m->held = held;
        m->n_held = n_held;
        proxies_start(b, m);
        m->hostname = xstrdup(unit_hostname(c));
        m->add_hosts = strv_copy(c->add_hosts);
        (void)mkdir_p(b->etc_dir, 0755);
        resolv_write(b, unit, c);
        hosts_update_all(b);
        r = bridge_up(b, ret_error);
        if (r < 0)
                bridge_detach(b, unit);
        return r;
}

/* The reserved member's veth into ns (in reaches it), eth0 set up, the
 * table applied. */
static int connect_ns(Bridge *b, const char *unit, int ns, Netlink *in, char **ret_error)
{
        _cleanup_free_ char *host = NULL;
        Member *m = member_find(b, unit);
        int r;

        if (!m) {
                *ret_error = xasprintf("bridge: `%s` has no address reserved", unit);
                return -ENOENT;
        }
        host = veth_name(m->index);
        veth_del(b, m->index); /* a leftover of a container not re-adopted */
        r = netlink_veth_add(b->nl, host, b->ifindex, "eth0", ns, b->mtu);
        if (r < 0) {
                *ret_error = xasprintf("veth `%s`: %s", host, strerror(-r));
                return r;
        }
        r = netlink_link_index(b->nl, host);
        if (r > 0)
                r = netlink_bridge_port_hairpin(b->nl, r);
        if (r < 0) {
                *ret_error = xasprintf("veth `%s`: hairpin: %s", host, strerror(-r));
                return r;
        }
        r = setup_inside(b, in, m->index);
        if (r < 0) {
                *ret_error = xasprintf("eth0 of the container: %s", strerror(-r));
                return r;
        }
        /* A unit publishing nothing leaves the table as it is. */
        r = m->n_ports > 0 || !b->table_ok ? table_apply(b, ret_error) : 0;
        if (r < 0)
                return r;
        lease_set(b, unit, m->index);
        return 0;
}

int bridge_connect(Bridge *b, const char *unit, int netns, char **ret_error)
{
        _cleanup_(netlink_freep) Netlink *in = NULL;
        int r;

        r = netlink_open_in(netns, &in);
        if (r < 0)
                *ret_error = xasprintf("network namespace of the container: %s", strerror(-r));
        else
                r = connect_ns(b, unit, netns, in, ret_error);
        if (r < 0)
                bridge_detach(b, unit);
        return r;
}

int bridge_attach(Bridge *b, const char *unit, const UnitConfig *c, int *ret_netns, char **ret_error)
{
        _cleanup_(netlink_freep) Netlink *in = NULL;
        _cleanup_close_ int ns = -1;
        int r;

        r = bridge_reserve(b, unit, c, ret_error);
        if (r < 0)
                return r;
        r = netns_new(&ns, &in);
        if (r < 0)
                *ret_error = xasprintf("network namespace: %s", strerror(-r));
        else
                r = connect_ns(b, unit, ns, in, ret_error);
        if (r < 0) {
                bridge_detach(b, unit);
                return r;
        }
        *ret_netns = TAKE_FD(ns);
        return 0;
}

void bridge_adopt(Bridge *b, const char *unit, const UnitConfig *c)
{
        _cleanup_free_ char *e = NULL;
        PublishPort *ports = NULL;
        size_t n = 0;
        Lease *l = lease_find(b, unit);

        if (!l) {
                log_msg(LOG_WARNING, "bridge: re-adopted unit `%s` has no address lease", unit);
                return;
        }
        if (member_find(b, unit))
                return;
        if (c && parse_ports(c, &ports, &n, &e) < 0) {
                log_msg(LOG_WARNING, "bridge: %s", e);
                n = 0;
        }
        Member *m = member_add(b, unit, l->index, ports, n);
        /* After a daemon-reexec, the previous ccsupd's sockets, still bound
         * (and its relays); after a kill, they are gone with it: held again. */
        _cleanup_free_ int *prev = NULL;
        size_t n_prev = 0;
        handover_take_held(b, unit, &prev, &n_prev);
        for (size_t i = 0; i < n_prev; i++)
                if (!ports_want(ports, n, prev[i]))
                        prev[i] = safe_close(prev[i]);
        if (ports_hold(ports, n, b->loop != NULL, prev, n_prev, &m->held, &m->n_held, &e) < 0) {
                log_msg(LOG_WARNING, "bridge: re-adopted unit `%s`: %s", unit, e);
                free(e);
                e = NULL;
        } else {
                proxies_start(b, m);
                handover_take_relays(b, m);
        }
        for (size_t i = 0; i < n_prev; i++)
                safe_close(prev[i]);
        m->hostname = xstrdup(c ? unit_hostname(c) : unit);
        m->add_hosts = c ? strv_copy(c->add_hosts) : NULL;
        hosts_update_all(b);
        if (bridge_up(b, &e) < 0 || table_apply(b, &e) < 0)
                log_msg(LOG_WARNING, "bridge: re-adopting `%s`: %s", unit, e);
}

void bridge_detach(Bridge *b, const char *unit)
{
        _cleanup_free_ char *e = NULL;
        Member *m = member_find(b, unit);

        if (!m)
                return;
        _cleanup_free_ char *hosts = bridge_unit_file(b, unit, "hosts");
        _cleanup_free_ char *resolv = bridge_unit_file(b, unit, "resolv.conf");

        bool had_ports = m->n_ports > 0;

        veth_del(b, m->index);
        member_remove(b, m);
        (void)unlink(hosts);
        (void)unlink(resolv);
        hosts_update_all(b);
        if (b->n_members == 0)
                bridge_down(b);
        else if ((had_ports || !b->table_ok) && table_apply(b, &e) < 0)
                log_msg(LOG_WARNING, "bridge: %s", e);
}

void bridge_adoption_done(Bridge *b)
{
        handover_drop(b);
        if (b->n_members == 0 && (netlink_link_index(b->nl, b->name) > 0 ||
                                  access(b->forward_path, F_OK) == 0))
                bridge_down(b);
}

char *bridge_unit_address(Bridge *b, const char *unit, int family)
{
        Member *m = member_find(b, unit);
        uint8_t a[16];

        if (!m)
                return NULL;
        if (family == AF_INET)
                addr4(b, m->index, a);
        else
                addr6(b, m->index, a);
        return addr_string(family, a);
}

char *bridge_unit_ports(Bridge *b, const char *unit)
{
        Member *m = member_find(b, unit);
        _cleanup_strv_free_ char **l = NULL;

        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_ports; i++)
                strv_push(&l, publish_port_format(&m->ports[i]));
        return strv_join(l, " ");
}

/* ------------------------------------------------------------ lifetime */

/* The fds open now, in /proc/self/fd's order. */
static void fds_open(int **ret, size_t *ret_n)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int *fds = NULL;
        size_t n = 0;

        while (d && (e = readdir(d))) {
                uint32_t fd;
                if (parse_uint32(e->d_name, &fd) < 0 || fd > INT_MAX || (int)fd == dirfd(d))
                        continue;
                fds = xrealloc(fds, (n + 1) * sizeof(int));
                fds[n++] = (int)fd;
        }
        if (d)
                closedir(d);
        *ret = fds;
        *ret_n = n;
}

/* libnftables (1.0.6) opens its netlink socket without SOCK_CLOEXEC: it
 * outlived every daemon-reexec, one socket more each time. Every fd not in
 * before gets FD_CLOEXEC. */
static void fds_cloexec_new(const int *before, size_t n_before)
{
        _cleanup_free_ int *now = NULL;
        size_t n = 0;

        fds_open(&now, &n);
        for (size_t i = 0; i < n; i++) {
                bool old = false;
                for (size_t k = 0; k < n_before && !old; k++)
                        old = before[k] == now[i];
                if (!old)
                        (void)fcntl(now[i], F_SETFD, FD_CLOEXEC);
        }
}

int bridge_new(const BridgeOptions *o, Bridge **ret, char **ret_error)
{
        _cleanup_(bridge_freep) Bridge *b = xcalloc(1, sizeof(Bridge));
        const char *s4 = o->subnet ? o->subnet : BRIDGE_DEFAULT_SUBNET;
        const char *s6 = o->subnet6 ? o->subnet6 : BRIDGE_DEFAULT_SUBNET6;
        int fam, r;

        b->name = xstrdup(o->name ? o->name : BRIDGE_DEFAULT_NAME);
        if (strlen(b->name) >= 16 || !*b->name || strchr(b->name, '/')) {
                *ret_error = xasprintf("--bridge=%s: not a valid interface name", b->name);
                return -EINVAL;
        }
        if (cidr_parse(s4, &fam, b->net4, &b->prefix4) < 0 || fam != AF_INET || b->prefix4 > 30) {
                *ret_error = xasprintf("--bridge-subnet=%s: expected an IPv4 subnet A.B.C.D/N with N at most 30", s4);
                return -EINVAL;
        }
        if (cidr_parse(s6, &fam, b->net6, &b->prefix6) < 0 || fam != AF_INET6 || b->prefix6 > 120 ||
            b->prefix6 < 64) {
                *ret_error = xasprintf("--bridge-subnet6=%s: expected an IPv6 subnet X::/N with N from 64 to 120", s6);
                return -EINVAL;
        }
        if (o->mtu && (o->mtu < 1280 || o->mtu > 65535)) {
                *ret_error = xasprintf("--bridge-mtu=%u: expected 1280 (IPv6's least) to 65535", o->mtu);
                return -EINVAL;
        }
        b->mtu_opt = o->mtu;
        b->loop = o->loop;
        b->lease_path = xasprintf("%s/network/%s.leases", o->state_dir, b->name);
        b->forward_path = xasprintf("%s/bridge-%s.forwarding", o->runtime_dir, b->name);
        b->etc_dir = xasprintf("%s/bridge-%s", o->runtime_dir, b->name);
        /* Now, while fds are low: libnftables keeps one netlink socket per
         * context and waits on it with select(), which aborts at fd 1024.
         * libnftables calls exit() when it cannot open that socket (a
         * kernel without nf_tables, e.g. a minimal appliance with ccsupd as
         * PID 1): probe first, and leave bridge units to fail at their start. */
        int probe = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (probe < 0) {
                b->nft_errno = errno;
                log_msg(LOG_DEBUG, "nftables: no NETLINK_NETFILTER (%s): Mode=bridge units cannot start",
                        strerror(errno));
        } else
                safe_close(probe);
        _cleanup_free_ int *open_fds = NULL;
        size_t n_open = 0;
        fds_open(&open_fds, &n_open);
        b->nft = probe >= 0 ? nft_ctx_new(NFT_CTX_DEFAULT) : NULL;
        fds_cloexec_new(open_fds, n_open);
        if (probe >= 0 && !b->nft) {
                *ret_error = xstrdup("nftables: cannot make a context");
                return -ENOMEM;
        }
        if (b->nft) {
                nft_ctx_buffer_output(b->nft);
                nft_ctx_buffer_error(b->nft);
        }
        r = netlink_open(&b->nl);
        if (r < 0) {
                *ret_error = xasprintf("netlink: %s", strerror(-r));
                return r;
        }
        leases_load(b);
        if (o->handover_fd >= 3)
                handover_load(b, o->handover_fd);
        *ret = TAKE_PTR(b);
        return 0;
}

Bridge *bridge_free(Bridge *b)
{
        if (!b)
                return NULL;
        handover_drop(b);
        for (size_t i = 0; i < b->n_members; i++)
                member_done(&b->members[i]);
        free(b->members);
        for (size_t i = 0; i < b->n_leases; i++)
                free(b->leases[i].unit);
        free(b->leases);
        netlink_free(b->nl);
        if (b->nft)
                nft_ctx_free(b->nft);
        nft_publish_free(b->pub);
        free(b->name);
        free(b->lease_path);
        free(b->forward_path);
        free(b->etc_dir);
        free(b);
        return NULL;
}
