/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Seccomp profiles, compiled once in the parent (libseccomp) to classic BPF
 * and loaded by the container's child right before execve.
 */

#include <linux/filter.h>

#include <stdint.h>

typedef struct SeccompProfile {
        struct sock_fprog prog;
        uint64_t caps;   /* the capability set it was compiled for */
} SeccompProfile;

/*
 * The built-in allowlist, in the spirit of Docker's default profile: calls
 * not listed fail with EPERM; clone with namespace flags is denied, clone3
 * fails with ENOSYS (its flags live in memory a filter cannot read, so libc
 * falls back to clone); personality only takes the standard personas;
 * ioctl refuses TIOCSTI and TIOCLINUX (typing into a terminal). The
 * native architecture and its compat ABIs (x86, x32 on x86_64) are covered;
 * any other architecture kills the process. Calls that only make sense with
 * a capability (mount with CAP_SYS_ADMIN, reboot with CAP_SYS_BOOT, ...) are
 * allowed when caps holds it, so the profile depends on the capability set:
 * callers cache one per set.
 */
int seccomp_profile_compile(uint64_t caps, SeccompProfile **ret);
/* The same for the default capability set (UNITS.md). */
int seccomp_profile_compile_default(SeccompProfile **ret);

/*
 * The same, through a cache of compiled filters in cache_dir (created, mode
 * 0700, when missing; NULL: no cache): compiling costs 10-20 ms per start,
 * loading a cached filter microseconds. An entry is keyed by a SHA-256 of
 * everything the BPF depends on (libseccomp's version, the kernel, the
 * architecture, the capability set, the profile), written atomically
 * (temporary file + rename) and validated on load (magic, key, size,
 * checksum); anything wrong with the cache means a compile, never an error.
 */
int seccomp_profile_get(uint64_t caps, const char *cache_dir, SeccompProfile **ret);

/*
 * Seccomp=PATH: an OCI/Docker JSON profile for the capability set caps
 * (includes/excludes on caps are decided here), through the same cache.
 * Checked on every call: a malformed profile gives -EINVAL and *ret_error
 * "seccomp profile `PATH`: `FIELD`: problem" (or "line N: not valid JSON");
 * system call names libseccomp does not know are skipped, each with a line
 * in *ret_warnings (may be NULL) for the caller to log.
 */
int seccomp_profile_get_json(const char *path, uint64_t caps, const char *cache_dir,
                             SeccompProfile **ret, char ***ret_warnings, char **ret_error);

/* Child side: installs the filter (NoNewPrivs set, or CAP_SYS_ADMIN held). */
int seccomp_profile_load(const SeccompProfile *p);

SeccompProfile *seccomp_profile_free(SeccompProfile *p);
static inline void seccomp_profile_freep(SeccompProfile **p) { seccomp_profile_free(*p); }
