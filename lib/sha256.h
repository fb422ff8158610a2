/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * SHA-256 (FIPS 180-4), streaming. Used to verify content-addressed blobs and
 * layer diff IDs; written here because libcrypto is not a dependency.
 */

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
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t n);
void sha256_final(Sha256 *s, uint8_t ret[SHA256_DIGEST_SIZE]);

/* Finishes s and writes "sha256:HEX" (NUL-terminated) into ret. */
void sha256_final_digest(Sha256 *s, char ret[SHA256_DIGEST_STRING_MAX]);

/* One-shot: "sha256:HEX" of a buffer. */
void sha256_digest(const void *data, size_t n, char ret[SHA256_DIGEST_STRING_MAX]);

/* Hashes everything readable from fd (from its current offset) and returns
 * the byte count through ret_size (may be NULL). */
int sha256_fd(int fd, char ret[SHA256_DIGEST_STRING_MAX], uint64_t *ret_size);
