/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Layer unpacking: a tar stream (uncompressed, gzip or zstd, detected from
 * the bytes) becomes a directory tree that overlayfs can use as a lower
 * layer. OCI whiteouts become overlayfs ones: `.wh.NAME` a character device
 * 0/0 named NAME, `.wh..wh..opq` the xattr trusted.overlay.opaque=y on its
 * directory. Modes, owners, times, xattrs, hard links, symlinks and FIFOs
 * are kept (so the caller must be root); block and character device nodes
 * (and hard links to them) are dropped, as if the archive did not hold them.
 *
 * Layers are untrusted. Every path operation is relative to a directory fd
 * inside the layer and resolved with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), or on a single name with
 * O_NOFOLLOW. An entry with an absolute path, a `..` component, a parent
 * that is a symlink, or a hard link whose target is outside the layer (or
 * missing) fails the whole layer with a message naming the entry. xattrs
 * named trusted.overlay.* in the archive are dropped: only whiteouts may
 * make overlayfs metadata.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sha256.h"

enum {
        /* Convert OCI whiteouts (without it, .wh. files are ordinary files). */
        LAYER_OCI_WHITEOUTS = 1u << 0,
        /* Only regular files, directories and symlinks; owners and xattrs
         * are not applied (for unpacking an image archive, not a layer). */
        LAYER_PLAIN = 1u << 1,
};

typedef struct LayerResult {
        char digest[SHA256_DIGEST_STRING_MAX];  /* of the bytes read (compressed) */
        char diff_id[SHA256_DIGEST_STRING_MAX]; /* of the uncompressed tar */
        uint64_t size;                          /* bytes read */
        uint64_t diff_size;                     /* uncompressed bytes */
        uint64_t n_entries;
        uint64_t n_devices_dropped;             /* block and character nodes not extracted */
} LayerResult;

/*
 * Extracts the archive read from in_fd into the directory dirfd (normally
 * empty). Reads in_fd to its end, so the digests cover every byte. On
 * failure the directory holds whatever was extracted so far: callers use
 * layer_unpack(), which removes it.
 *
 * Fault injection for tests: with CCSUP_LAYER_FAULT_AFTER=N in the
 * environment, the process kills itself (SIGKILL) after N entries.
 */
int layer_extract(int in_fd, int dirfd, unsigned flags, LayerResult *ret, char **ret_error);

/*
 * Extracts into parent_dirfd/NAME, atomically: into a temporary sibling
 * ".tmp-NAME-…", then syncfs(), then a rename. When want_digest or
 * want_diff_id are given and the content does not match, fails with
 * -EBADMSG and nothing is left. If NAME already exists (a complete layer
 * from an earlier run) the new copy is dropped and 0 returned.
 */
int layer_unpack(int in_fd, int parent_dirfd, const char *name, unsigned flags,
                 const char *want_digest, const char *want_diff_id, LayerResult *ret,
                 char **ret_error);

/* rm -rf of dirfd/name without following any symlink. 0 when name is
 * already gone. */
int layer_remove_tree(int dirfd, const char *name);

/* openat2(dirfd, path, flags, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
 * RESOLVE_NO_MAGICLINKS) with O_CLOEXEC added. */
int open_beneath(int dirfd, const char *path, int flags, mode_t mode);
