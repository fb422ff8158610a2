/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "util.h"

/* Large enough for any answer here (libmnl suggests the page size, 8K at most). */
#define NL_BUFFER_SIZE 8192

struct Netlink {
        struct mnl_socket *sock;
        unsigned portid;
        unsigned seq;
};

int netlink_open(Netlink **ret)
{
        Netlink *n = xcalloc(1, sizeof(Netlink));

        n->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!n->sock || mnl_socket_bind(n->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
                int r = -errno;

                netlink_free(n);
                return r;
        }
        n->portid = mnl_socket_get_portid(n->sock);
        n->seq = (unsigned)time(NULL);
        *ret = n;
        return 0;
}

Netlink *netlink_free(Netlink *n)
{
        if (!n)
                return NULL;
        if (n->sock)
                mnl_socket_close(n->sock);
        free(n);
        return NULL;
}

static struct nlmsghdr *request(Netlink *n, char *buf, uint16_t type, uint16_t flags)
{
        struct nlmsghdr *h = mnl_nlmsg_put_header(buf);

        h->nlmsg_type = type;
        h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        h->nlmsg_seq = ++n->seq;
        return h;
}

/* Sends h and reads the answers up to the acknowledgement; cb (may be NULL)
 * sees the data messages. */
static int transact(Netlink *n, struct nlmsghdr *h, mnl_cb_t cb, void *data)
{
        char buf[NL_BUFFER_SIZE];
        unsigned seq = h->nlmsg_seq;
        ssize_t len;
        int r;

        if (mnl_socket_sendto(n->sock, h, h->nlmsg_len) < 0)
                return -errno;
        for (;;) {
                len = mnl_socket_recvfrom(n->sock, buf, sizeof(buf));
                if (len < 0)
                        return -errno;
                r = mnl_cb_run(buf, (size_t)len, seq, n->portid, cb, data);
                if (r < 0)
                        return -errno;
                if (r == MNL_CB_STOP)
                        return 0;
        }
}

struct link_info {
        int index;
        uint32_t mtu;
        char name[IFNAMSIZ];
};

static int on_link(const struct nlmsghdr *h, void *data)
{
        struct ifinfomsg *ifi = mnl_nlmsg_get_payload(h);
        struct link_info *li = data;
        struct nlattr *a;

        li->index = ifi->ifi_index;
        mnl_attr_for_each(a, h, sizeof(*ifi))
                if (mnl_attr_get_type(a) == IFLA_MTU && mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                        li->mtu = mnl_attr_get_u32(a);
                else if (mnl_attr_get_type(a) == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
                        snprintf(li->name, sizeof(li->name), "%s", mnl_attr_get_str(a));
        return MNL_CB_OK;
}

static int link_get(Netlink *n, const char *name, int ifindex, struct link_info *ret)
{
        char buf[NL_BUFFER_SIZE];
        struct nlmsghdr *h = request(n, buf, RTM_GETLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
        int r;

        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        if (name)
                mnl_attr_put_strz(h, IFLA_IFNAME, name);
        *ret = (struct link_info){};
        r = transact(n, h, on_link, ret);
        if (r < 0)
                return r;
        return ret->index > 0 ? 0 : -ENODEV;
}

int netlink_link_index(Netlink *n, const char *name)
{
        struct link_info li;
        int r = link_get(n, name, 0, &li);

        return r < 0 ? r : li.index;
}

int netlink_link_mtu(Netlink *n, int ifindex, uint32_t *ret)
{
        struct link_info li;
        int r = link_get(n, NULL, ifindex, &li);

        if (r < 0)
                return r;
        *ret = li.mtu;
        return 0;
}

int netlink_link_name(Netlink *n, int ifindex, char *ret)
{
        struct link_info li;
        int r = link_get(n, NULL, ifindex, &li);

        if (r < 0)
                return r;
        memcpy(ret, li.name, IFNAMSIZ);
        return 0;
}

struct route_dump {
        netlink_route_fn fn;
        void *data;
};

static int on_route(const struct nlmsghdr *h, void *data)
{
        const struct rtmsg *rt = mnl_nlmsg_get_payload(h);
        struct route_dump *d = data;
        NetlinkRoute r = { .family = rt->rtm_family, .dst_len = rt->rtm_dst_len };
        size_t len = rt->rtm_family == AF_INET ? 4 : 16;
        uint32_t table = rt->rtm_table;
        struct nlattr *a;

        mnl_attr_for_each(a, h, sizeof(*rt))
                switch (mnl_attr_get_type(a)) {
                case RTA_TABLE:
                        if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                                table = mnl_attr_get_u32(a);
                        break;
                case RTA_DST:
                        if (mnl_attr_get_payload_len(a) == len)
                                memcpy(r.dst, mnl_attr_get_payload(a), len);
                        break;
                case RTA_OIF:
                        if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
                                r.oif = (int)mnl_attr_get_u32(a);
                        break;
                }
        if (table == RT_TABLE_MAIN && rt->rtm_type == RTN_UNICAST)
                d->fn(&r, d->data);
        return MNL_CB_OK;
}

int netlink_routes(Netlink *n, int family, netlink_route_fn fn, void *data)
{
        char buf[NL_BUFFER_SIZE];
        struct nlmsghdr *h = request(n, buf, RTM_GETROUTE, NLM_F_DUMP);
        struct rtmsg *rt = mnl_nlmsg_put_extra_header(h, sizeof(*rt));
        struct route_dump d = { fn, data };

        h->nlmsg_flags &= (uint16_t)~NLM_F_ACK; /* a dump ends with NLMSG_DONE */
        rt->rtm_family = (uint8_t)family;
        return transact(n, h, on_route, &d);
}

static struct nlmsghdr *newlink(Netlink *n, char *buf, const char *name, const char *kind,
                                struct nlattr **ret_data)
{
        struct nlmsghdr *h = request(n, buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
        struct nlattr *info;

        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_flags = ifi->ifi_change = IFF_UP;
        mnl_attr_put_strz(h, IFLA_IFNAME, name);
        info = mnl_attr_nest_start(h, IFLA_LINKINFO);
        mnl_attr_put_strz(h, IFLA_INFO_KIND, kind);
        *ret_data = info;
        return h;
}

int netlink_bridge_add(Netlink *n, const char *name, uint32_t mtu)
{
        char buf[NL_BUFFER_SIZE];
        struct nlattr *info;
        struct nlmsghdr *h = newlink(n, buf, name, "bridge", &info);

        mnl_attr_nest_end(h, info);
        if (mtu > 0)
                mnl_attr_put_u32(h, IFLA_MTU, mtu);
        return transact(n, h, NULL, NULL);
}

int netlink_veth_add(Netlink *n, const char *host, int master, const char *peer, int netns_fd,
                     uint32_t mtu)
{
        char buf[NL_BUFFER_SIZE];
        struct nlattr *info, *data, *p;
        struct nlmsghdr *h = newlink(n, buf, host, "veth", &info);
        struct ifinfomsg *pi;

        data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
        p = mnl_attr_nest_start(h, VETH_INFO_PEER);
        /* The peer's own ifinfomsg, then its attributes. */
        pi = mnl_nlmsg_get_payload_tail(h);
        memset(pi, 0, sizeof(*pi));
        h->nlmsg_len += MNL_ALIGN(sizeof(*pi));
        pi->ifi_family = AF_UNSPEC;
        mnl_attr_put_strz(h, IFLA_IFNAME, peer);
        mnl_attr_put_u32(h, IFLA_NET_NS_FD, (uint32_t)netns_fd);
        if (mtu > 0)
                mnl_attr_put_u32(h, IFLA_MTU, mtu);
        mnl_attr_nest_end(h, p);
        mnl_attr_nest_end(h, data);
        mnl_attr_nest_end(h, info);
        if (master > 0)
                mnl_attr_put_u32(h, IFLA_MASTER, (uint32_t)master);
        if (mtu > 0)
                mnl_attr_put_u32(h, IFLA_MTU, mtu);
        return transact(n, h, NULL, NULL);
}

int netlink_link_up(Netlink *n, int ifindex)
{
        char buf[NL_BUFFER_SIZE];
        struct nlmsghdr *h = request(n, buf, RTM_NEWLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));

        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        ifi->ifi_flags = ifi->ifi_change = IFF_UP;
        return transact(n, h, NULL, NULL);
}

int netlink_bridge_port_hairpin(Netlink *n, int ifindex)
{
        char buf[NL_BUFFER_SIZE];
        struct nlmsghdr *h = request(n, buf, RTM_SETLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
        struct nlattr *p;

        ifi->ifi_family = AF_BRIDGE;
        ifi->ifi_index = ifindex;
        p = mnl_attr_nest_start(h, IFLA_PROTINFO | NLA_F_NESTED);
        mnl_attr_put_u8(h, IFLA_BRPORT_MODE, 1);
        mnl_attr_nest_end(h, p);
        return transact(n, h, NULL, NULL);
}

int netlink_link_del(Netlink *n, int ifindex)
{
        char buf[NL_BUFFER_SIZE];
        struct nlmsghdr *h = request(n, buf, RTM_DELLINK, 0);
        struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));

        ifi->ifi_family = AF_UNSPEC;
        ifi->ifi_index = ifindex;
        return transact(n, h, NULL, NULL);
}

int netlink_addr_add(Netlink *n, int ifindex, int family, const void *addr, unsigned prefixlen)
{
        char buf[NL_BUFFER_SIZE];
        struct nlmsghdr *h = request(n, buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
        size_t len = family == AF_INET ? 4 : 16;

        ifa->ifa_family = (uint8_t)family;
        ifa->ifa_prefixlen = (uint8_t)prefixlen;
        ifa->ifa_index = (unsigned)ifindex;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        mnl_attr_put(h, IFA_LOCAL, len, addr);
        mnl_attr_put(h, IFA_ADDRESS, len, addr);
        /* A fresh address is usable at once: no IPv6 DAD delay. */
        mnl_attr_put_u32(h, IFA_FLAGS, IFA_F_NODAD);
        return transact(n, h, NULL, NULL);
}

int netlink_route_default(Netlink *n, int ifindex, int family, const void *gateway)
{
        char buf[NL_BUFFER_SIZE];
        struct nlmsghdr *h = request(n, buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE);
        struct rtmsg *rt = mnl_nlmsg_put_extra_header(h, sizeof(*rt));

        rt->rtm_family = (uint8_t)family;
        rt->rtm_table = RT_TABLE_MAIN;
        rt->rtm_protocol = RTPROT_STATIC;
        rt->rtm_scope = RT_SCOPE_UNIVERSE;
        rt->rtm_type = RTN_UNICAST;
        mnl_attr_put(h, RTA_GATEWAY, family == AF_INET ? 4 : 16, gateway);
        mnl_attr_put_u32(h, RTA_OIF, (uint32_t)ifindex);
        return transact(n, h, NULL, NULL);
}
