/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the built-in profile (seccomp-profile.c) and the JSON profiles
 * (seccomp-json.c): libseccomp contexts and the cache of compiled filters. */

#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>

#include "seccomp-profile.h"
#include "sha256.h"

static inline void seccomp_releasep(scmp_filter_ctx *ctx)
{
        if (*ctx)
                seccomp_release(*ctx);
}

/* A context with our attributes (bad architecture: kill; no NNP from
 * libseccomp; binary-tree optimisation); with native_family, the native
 * architecture's compat ABIs too (x86 and x32 on x86_64, arm on aarch64). */
int seccomp_ctx_new(uint32_t default_action, bool native_family, scmp_filter_ctx *ret);
int seccomp_ctx_export(scmp_filter_ctx ctx, uint64_t caps, SeccompProfile **ret);

/* The cache key: everything the BPF depends on; profile NULL = the built-in
 * tables, else the text of a JSON profile. */
void seccomp_cache_key(uint64_t caps, const char *profile, size_t size,
                       uint8_t ret[SHA256_DIGEST_SIZE]);
SeccompProfile *seccomp_cache_load(const char *dir, const uint8_t key[SHA256_DIGEST_SIZE],
                                   uint64_t caps);
void seccomp_cache_store(const char *dir, const uint8_t key[SHA256_DIGEST_SIZE],
                         const SeccompProfile *p);
