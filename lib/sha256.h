/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * SHA-256 (FIPS 180-4), streaming. Used to verify content-addressed blobs and
 * layer diff IDs, and to name compiled seccomp programs.
 *
 * Two backends behind one API. sha256_init() is the portable one written
 * here (about 200 MB/s): small inputs, and no library to load. For bulk
 * data (layers, blobs) sha256_init_bulk() uses libcrypto's SHA-256, which
 * uses the CPU's SHA extensions where it has them (about five times as
 * fast here), loaded with dlopen() on first use: a ccsupd that imports
 * nothing, or imports in its helper process, never maps libcrypto (that
 * would cost it about 700 KB of PSS). Without libcrypto.so.3 the bulk
 * context falls back to the portable code, with the same results.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32
/* "sha256:" + 64 hex digits + NUL */
#define SHA256_DIGEST_STRING_MAX (7 + 64 + 1)

typedef struct Sha256 {
        uint32_t h[8];
        uint64_t length;      /* bytes hashed so far */
        uint8_t buf[64];
        size_t n_buf;
        bool bulk;            /* libcrypto's context below is in use */
        _Alignas(16) unsigned char bulk_ctx[256]; /* its SHA256_CTX (112 bytes in 3.x) */
} Sha256;

void sha256_init(Sha256 *s);
/* The same, through libcrypto when it can be loaded (see above). */
void sha256_init_bulk(Sha256 *s);
/* Whether sha256_init_bulk() gets libcrypto (loads it on the first call). */
bool sha256_bulk_available(void);
void sha256_update(Sha256 *s, const void *data, size_t n);
void sha256_final(Sha256 *s, uint8_t ret[SHA256_DIGEST_SIZE]);

/* Finishes s and writes "sha256:HEX" (NUL-terminated) into ret. */
void sha256_final_digest(Sha256 *s, char ret[SHA256_DIGEST_STRING_MAX]);

/* One-shot: "sha256:HEX" of a buffer. */
void sha256_digest(const void *data, size_t n, char ret[SHA256_DIGEST_STRING_MAX]);

/* Hashes everything readable from fd (from its current offset) and returns
 * the byte count through ret_size (may be NULL). */
int sha256_fd(int fd, char ret[SHA256_DIGEST_STRING_MAX], uint64_t *ret_size);
