/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The publish chain of ccsupd's nftables table rewritten in one netlink
 * batch built with libnftnl: flush the chain, add one DNAT rule per
 * published port and family. libnftables does the same from text, but
 * parses, evaluates and lists the cache first: about 2 ms a transaction,
 * most of a bridge container's start. The rules are the ones the text
 * "[ip daddr A | meta nfproto ipv4] tcp dport N dnat ip to B:M" gives (the
 * expressions nft itself makes of it), so `nft list` shows the same.
 */
#include "nft-publish.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "util.h"

struct NftPublish {
        struct mnl_socket *nl;
        uint32_t seq;
        size_t sndbuf; /* what the batch may take; the kernel's default first */
};

int nft_publish_open(NftPublish **ret)
{
        struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                int r = -errno;
                mnl_socket_close(nl);
                return r;
        }
        NftPublish *p = xmalloc(sizeof(*p));
        p->nl = nl;
        p->seq = (uint32_t)time(NULL);
        p->sndbuf = 128 * 1024;
        *ret = p;
        return 0;
}

NftPublish *nft_publish_free(NftPublish *p)
{
        if (p) {
                mnl_socket_close(p->nl);
                free(p);
        }
        return NULL;
}

/* An expression of libnftnl's NAME; only memory can make it fail. */
static struct nftnl_expr *new_expr(const char *name)
{
        struct nftnl_expr *e = nftnl_expr_alloc(name);
        if (!e)
                abort();
        return e;
}

static void meta(struct nftnl_rule *r, uint32_t key)
{
        struct nftnl_expr *e = new_expr("meta");
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
        nftnl_rule_add_expr(r, e);
}

static void payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len)
{
        struct nftnl_expr *e = new_expr("payload");
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
        nftnl_rule_add_expr(r, e);
}

static void cmp_eq(struct nftnl_rule *r, const void *data, uint32_t len)
{
        struct nftnl_expr *e = new_expr("cmp");
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
        nftnl_rule_add_expr(r, e);
}

static void immediate(struct nftnl_rule *r, uint32_t reg, const void *data, uint32_t len)
{
        struct nftnl_expr *e = new_expr("immediate");
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg);
        nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
        nftnl_rule_add_expr(r, e);
}

/* One rule: the expressions of "[FAMILY daddr HOST | meta nfproto FAMILY]
 * PROTO dport PORT dnat FAMILY to ADDR:TO_PORT". */
static struct nftnl_rule *dnat_rule(const char *table, const char *chain, const NftDnat *d)
{
        bool v6 = d->family == AF_INET6;
        uint32_t alen = v6 ? 16 : 4;
        uint8_t nfproto = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
        uint16_t hport = htons(d->port), tport = htons(d->to_port);
        struct nftnl_rule *r = nftnl_rule_alloc();

        if (!r)
                abort();
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
        meta(r, NFT_META_NFPROTO);
        cmp_eq(r, &nfproto, 1);
        if (d->has_host) {
                payload(r, NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24 : 16, alen);
                cmp_eq(r, d->host, alen);
        }
        meta(r, NFT_META_L4PROTO);
        cmp_eq(r, &d->proto, 1);
        payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
        cmp_eq(r, &hport, 2);
        immediate(r, NFT_REG_1, d->to, alen);
        immediate(r, NFT_REG_2, &tport, 2);
        struct nftnl_expr *e = new_expr("nat");
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, nfproto);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
        nftnl_rule_add_expr(r, e);
        return r;
}

/* The answers to the batch just sent. The kernel runs a netlink batch in
 * the sender's sendmsg(), so they are all queued once it returns: read
 * without waiting until none is left. Only the flush asks for an ack (one
 * per rule would overflow the receive buffer with a large port range);
 * any failing message is answered with its error. Returns the first
 * error, -EPROTO if the flush was not answered at all. */
static int read_answers(NftPublish *p, uint32_t flush_seq, uint32_t last_seq)
{
        char buf[8192]; /* MNL_SOCKET_BUFFER_SIZE, a sysconf() call, would make a VLA */
        bool flushed = false;
        int first_err = 0;

        for (;;) {
                ssize_t n = recv(mnl_socket_get_fd(p->nl), buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        return -errno; /* ENOBUFS: answers were lost */
                }
                int len = (int)n;
                for (const struct nlmsghdr *h = (const struct nlmsghdr *)buf; mnl_nlmsg_ok(h, len);
                     h = mnl_nlmsg_next(h, &len)) {
                        if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq < flush_seq || h->nlmsg_seq > last_seq)
                                continue;
                        const struct nlmsgerr *err = mnl_nlmsg_get_payload(h);
                        if (h->nlmsg_seq == flush_seq)
                                flushed = true;
                        if (err->error != 0 && first_err == 0)
                                first_err = err->error;
                }
        }
        if (first_err)
                return first_err;
        return flushed ? 0 : -EPROTO;
}

int nft_publish_replace(NftPublish *p, const char *table, const char *chain, const NftDnat *rules, size_t n,
                        char **ret_error)
{
        /* A rule is under 400 bytes of netlink attributes. */
        size_t size = (n + 3) * 512 + 8192;
        _cleanup_free_ char *buf = xmalloc(size);
        struct mnl_nlmsg_batch *batch = mnl_nlmsg_batch_start(buf, size);
        uint32_t flush_seq, last;
        struct nlmsghdr *h;
        int r;

        if (!batch)
                abort();
        nftnl_batch_begin(mnl_nlmsg_batch_current(batch), p->seq++);
        mnl_nlmsg_batch_next(batch);
        flush_seq = p->seq;

        /* A rule without a handle: every rule of the chain. */
        struct nftnl_rule *flush = nftnl_rule_alloc();
        if (!flush)
                abort();
        nftnl_rule_set_u32(flush, NFTNL_RULE_FAMILY, NFPROTO_INET);
        nftnl_rule_set_str(flush, NFTNL_RULE_TABLE, table);
        nftnl_rule_set_str(flush, NFTNL_RULE_CHAIN, chain);
        h = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(batch), NFT_MSG_DELRULE, NFPROTO_INET, NLM_F_ACK,
                                  p->seq++);
        nftnl_rule_nlmsg_build_payload(h, flush);
        nftnl_rule_free(flush);
        mnl_nlmsg_batch_next(batch);

        for (size_t i = 0; i < n; i++) {
                struct nftnl_rule *rule = dnat_rule(table, chain, &rules[i]);
                h = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(batch), NFT_MSG_NEWRULE, NFPROTO_INET,
                                          NLM_F_CREATE | NLM_F_APPEND, p->seq++);
                nftnl_rule_nlmsg_build_payload(h, rule);
                nftnl_rule_free(rule);
                mnl_nlmsg_batch_next(batch);
        }
        last = p->seq - 1;
        nftnl_batch_end(mnl_nlmsg_batch_current(batch), p->seq++);
        mnl_nlmsg_batch_next(batch);

        /* A batch larger than the send buffer would be refused (EMSGSIZE). */
        size_t len = mnl_nlmsg_batch_size(batch);
        if (len > p->sndbuf) {
                int v = (int)len;
                if (setsockopt(mnl_socket_get_fd(p->nl), SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) == 0)
                        p->sndbuf = len;
        }
        if (mnl_socket_sendto(p->nl, mnl_nlmsg_batch_head(batch), len) < 0)
                r = -errno;
        else
                r = read_answers(p, flush_seq, last);
        mnl_nlmsg_batch_stop(batch);
        if (r < 0)
                *ret_error = xasprintf("nftables chain `%s` of table `inet %s`: %s", chain, table, strerror(-r));
        return r;
}
