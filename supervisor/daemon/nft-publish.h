/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A netlink socket of NETLINK_NETFILTER for one chain's rewrites. */
typedef struct NftPublish NftPublish;

/* One DNAT rule: family AF_INET or AF_INET6; host: the destination the
 * rule matches (has_host), else any of that family; proto IPPROTO_TCP or
 * IPPROTO_UDP; to: the container's address (4 or 16 bytes, network order). */
typedef struct NftDnat {
        int family;
        bool has_host;
        uint8_t host[16];
        uint8_t proto;
        uint16_t port;
        uint8_t to[16];
        uint16_t to_port;
} NftDnat;

int nft_publish_open(NftPublish **ret);
NftPublish *nft_publish_free(NftPublish *p);

/* Chain CHAIN of table `inet TABLE` flushed and given RULES, in one
 * transaction: all or nothing. -ENOENT when the chain is gone. */
int nft_publish_replace(NftPublish *p, const char *table, const char *chain, const NftDnat *rules, size_t n,
                        char **ret_error);
