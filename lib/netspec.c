/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "netspec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util.h"

static int port_parse(const char *s, size_t n, uint16_t *ret)
{
        unsigned v = 0;

        if (n == 0 || n > 5)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        if (v == 0 || v > 65535)
                return -ERANGE;
        *ret = (uint16_t)v;
        return 0;
}

/* PORT[-END] of n characters. */
static int range_parse(const char *s, size_t n, uint16_t *ret_start, uint16_t *ret_end,
                       const char **ret_error)
{
        const char *dash = memchr(s, '-', n);
        size_t a = dash ? (size_t)(dash - s) : n;
        int r;

        r = port_parse(s, a, ret_start);
        if (r == 0 && dash)
                r = port_parse(dash + 1, n - a - 1, ret_end);
        else if (r == 0)
                *ret_end = *ret_start;
        if (r == -ERANGE) {
                *ret_error = "port out of range (1-65535)";
                return -EINVAL;
        }
        if (r < 0) {
                *ret_error = "invalid port (expected PORT or PORT-END)";
                return -EINVAL;
        }
        if (*ret_end < *ret_start) {
                *ret_error = "reversed port range (END is below PORT)";
                return -EINVAL;
        }
        return 0;
}

int publish_port_parse(const char *s, PublishPort *ret, const char **ret_error)
{
        PublishPort p = { .proto = IPPROTO_TCP };
        _cleanup_free_ char *copy = xstrdup(s);
        char *slash, *rest = copy, *colon;

        slash = strrchr(rest, '/');
        if (slash) {
                *slash = 0;
                if (streq(slash + 1, "tcp"))
                        p.proto = IPPROTO_TCP;
                else if (streq(slash + 1, "udp"))
                        p.proto = IPPROTO_UDP;
                else {
                        *ret_error = "unknown protocol (expected tcp or udp)";
                        return -EINVAL;
                }
        }
        if (*rest == '[') {
                char *close = strchr(rest, ']');
                if (!close || close[1] != ':') {
                        *ret_error = "invalid host address (expected [IPV6]:)";
                        return -EINVAL;
                }
                *close = 0;
                if (inet_pton(AF_INET6, rest + 1, p.addr) != 1) {
                        *ret_error = "invalid IPv6 host address";
                        return -EINVAL;
                }
                p.family = AF_INET6;
                rest = close + 2;
        }
        colon = strrchr(rest, ':');
        if (!colon) {
                *ret_error = "expected HOSTPORT:CONTAINERPORT";
                return -EINVAL;
        }
        *colon = 0;
        char *hostpart = rest, *c2 = strrchr(hostpart, ':');
        if (c2) {
                *c2 = 0;
                if (p.family || inet_pton(AF_INET, hostpart, p.addr) != 1) {
                        *ret_error = "invalid host address (expected an IPv4 address or [IPV6])";
                        return -EINVAL;
                }
                p.family = AF_INET;
                hostpart = c2 + 1;
        }
        if (range_parse(hostpart, strlen(hostpart), &p.host_port, &p.host_end, ret_error) < 0 ||
            range_parse(colon + 1, strlen(colon + 1), &p.port, &p.end, ret_error) < 0)
                return -EINVAL;
        if (p.host_end - p.host_port != p.end - p.port) {
                *ret_error = "the host and container port ranges differ in length";
                return -EINVAL;
        }
        *ret = p;
        return 0;
}

char *publish_port_format(const PublishPort *p)
{
        char a[INET6_ADDRSTRLEN + 2] = "", hr[16], cr[16];

        if (p->family == AF_INET)
                inet_ntop(AF_INET, p->addr, a, sizeof(a));
        else if (p->family == AF_INET6) {
                a[0] = '[';
                inet_ntop(AF_INET6, p->addr, a + 1, sizeof(a) - 2);
                strcat(a, "]");
        }
        if (p->host_end != p->host_port)
                snprintf(hr, sizeof(hr), "%u-%u", p->host_port, p->host_end);
        else
                snprintf(hr, sizeof(hr), "%u", p->host_port);
        if (p->end != p->port)
                snprintf(cr, sizeof(cr), "%u-%u", p->port, p->end);
        else
                snprintf(cr, sizeof(cr), "%u", p->port);
        return xasprintf("%s%s%s:%s/%s", a, *a ? ":" : "", hr, cr, p->proto == IPPROTO_UDP ? "udp" : "tcp");
}

bool publish_port_overlap(const PublishPort *a, const PublishPort *b)
{
        if (a->proto != b->proto || a->host_end < b->host_port || b->host_end < a->host_port)
                return false;
        if (!a->family || !b->family)
                return true;
        return a->family == b->family && memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

int ipv4_parse(const char *s, uint8_t ret[4])
{
        return inet_pton(AF_INET, s, ret) == 1 ? 0 : -EINVAL;
}

int cidr_parse(const char *s, int *ret_family, uint8_t ret_addr[16], unsigned *ret_prefix)
{
        _cleanup_free_ char *copy = xstrdup(s);
        char *slash = strchr(copy, '/'), *end;
        uint8_t addr[16] = {};
        unsigned long prefix;
        int family;

        if (!slash)
                return -EINVAL;
        *slash = 0;
        family = strchr(copy, ':') ? AF_INET6 : AF_INET;
        if (inet_pton(family, copy, addr) != 1)
                return -EINVAL;
        errno = 0;
        prefix = strtoul(slash + 1, &end, 10);
        if (errno || *end || end == slash + 1 || prefix > (family == AF_INET ? 32u : 128u))
                return -EINVAL;
        /* The network address: host bits cleared. */
        for (unsigned i = 0; i < 16; i++) {
                unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
                if (bits < 8)
                        addr[i] &= (uint8_t)(0xff << (8 - bits));
        }
        *ret_family = family;
        memcpy(ret_addr, addr, 16);
        *ret_prefix = (unsigned)prefix;
        return 0;
}
