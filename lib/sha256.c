/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "sha256.h"

/* libcrypto's low-level SHA-256 (SHA256_Init/Update/Final: deprecated in
 * OpenSSL 3 in favour of EVP, which allocates its context; these do not),
 * found with dlsym(): no link-time dependency, nothing mapped until asked. */
static struct {
        bool tried, ok;
        int (*init)(void *ctx);
        int (*update)(void *ctx, const void *data, size_t n);
        int (*final)(unsigned char *md, void *ctx);
} crypto;

bool sha256_bulk_available(void)
{
        void *h;

        if (crypto.tried)
                return crypto.ok;
        crypto.tried = true;
        h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
        if (!h)
                return false;
        crypto.init = (int (*)(void *))dlsym(h, "SHA256_Init");
        crypto.update = (int (*)(void *, const void *, size_t))dlsym(h, "SHA256_Update");
        crypto.final = (int (*)(unsigned char *, void *))dlsym(h, "SHA256_Final");
        crypto.ok = crypto.init && crypto.update && crypto.final;
        if (!crypto.ok)
                dlclose(h);
        return crypto.ok;
}

static const uint32_t K[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static void compress(uint32_t h[8], const uint8_t block[64])
{
        uint32_t w[64], a, b, c, d, e, f, g, k;

        for (unsigned i = 0; i < 16; i++)
                w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
                       (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
        for (unsigned i = 16; i < 64; i++) {
                uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
                uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
        for (unsigned i = 0; i < 64; i++) {
                uint32_t t1 = k + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) +
                              K[i] + w[i];
                uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
                k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

void sha256_init(Sha256 *s)
{
        static const uint32_t iv[8] = {
                0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
        };
        memcpy(s->h, iv, sizeof(iv));
        s->length = 0;
        s->n_buf = 0;
        s->bulk = false;
}

void sha256_init_bulk(Sha256 *s)
{
        sha256_init(s);
        if (sha256_bulk_available() && crypto.init(s->bulk_ctx) == 1)
                s->bulk = true;
}

void sha256_update(Sha256 *s, const void *data, size_t n)
{
        const uint8_t *p = data;

        s->length += n;
        if (s->bulk) {
                (void)crypto.update(s->bulk_ctx, data, n);
                return;
        }
        if (s->n_buf > 0) {
                size_t take = 64 - s->n_buf < n ? 64 - s->n_buf : n;
                memcpy(s->buf + s->n_buf, p, take);
                s->n_buf += take, p += take, n -= take;
                if (s->n_buf < 64)
                        return;
                compress(s->h, s->buf);
                s->n_buf = 0;
        }
        for (; n >= 64; p += 64, n -= 64)
                compress(s->h, p);
        memcpy(s->buf, p, n);
        s->n_buf = n;
}

void sha256_final(Sha256 *s, uint8_t ret[SHA256_DIGEST_SIZE])
{
        uint64_t bits = s->length * 8;

        if (s->bulk) {
                (void)crypto.final(ret, s->bulk_ctx);
                s->bulk = false;
                return;
        }
        s->buf[s->n_buf++] = 0x80;
        if (s->n_buf > 56) {
                memset(s->buf + s->n_buf, 0, 64 - s->n_buf);
                compress(s->h, s->buf);
                s->n_buf = 0;
        }
        memset(s->buf + s->n_buf, 0, 56 - s->n_buf);
        for (unsigned i = 0; i < 8; i++)
                s->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
        compress(s->h, s->buf);
        for (unsigned i = 0; i < 8; i++) {
                ret[4 * i] = (uint8_t)(s->h[i] >> 24);
                ret[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
                ret[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
                ret[4 * i + 3] = (uint8_t)s->h[i];
        }
}

void sha256_final_digest(Sha256 *s, char ret[SHA256_DIGEST_STRING_MAX])
{
        static const char hex[] = "0123456789abcdef";
        uint8_t d[SHA256_DIGEST_SIZE];

        sha256_final(s, d);
        memcpy(ret, "sha256:", 7);
        for (unsigned i = 0; i < SHA256_DIGEST_SIZE; i++) {
                ret[7 + 2 * i] = hex[d[i] >> 4];
                ret[7 + 2 * i + 1] = hex[d[i] & 15];
        }
        ret[7 + 64] = '\0';
}

void sha256_digest(const void *data, size_t n, char ret[SHA256_DIGEST_STRING_MAX])
{
        Sha256 s;

        sha256_init(&s);
        sha256_update(&s, data, n);
        sha256_final_digest(&s, ret);
}

int sha256_fd(int fd, char ret[SHA256_DIGEST_STRING_MAX], uint64_t *ret_size)
{
        uint8_t buf[64 * 1024];
        Sha256 s;

        sha256_init_bulk(&s);
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                sha256_update(&s, buf, (size_t)n);
        }
        if (ret_size)
                *ret_size = s.length;
        sha256_final_digest(&s, ret);
        return 0;
}
