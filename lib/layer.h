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
        /* layer_unpack*(): leave the checked tree in its temporary sibling,
         * unsynced; layer_stage_commit() or layer_stage_abort() then (so
         * that several layers share one syncfs()). */
        LAYER_STAGE = 1u << 2,
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
 * Bounds on what extractions may write, so that a small compressed archive
 * cannot fill the disk. size counts the bytes of regular files at their
 * logical size, sparse files too (what a reader and every copy of them
 * sees), checked against size_max before a file is written: the caller may
 * carry it over several extractions (the layers of one image). With
 * check_space, every entry first checks that the target's filesystem keeps
 * reserve_bytes and reserve_inodes free after it (layer_budget_init()).
 * Failures: -EFBIG past size_max, -ENOSPC past the reserve, with a message.
 */
typedef struct LayerBudget {
        uint64_t size_max;        /* 0 or UINT64_MAX: no bound */
        uint64_t size;            /* counted so far */
        bool check_space;
        uint64_t reserve_bytes, reserve_inodes;
        /* Set when an extraction failed for the budget (and not for another
         * -EFBIG or -ENOSPC, such as RLIMIT_FSIZE or a write to a full disk). */
        bool over_size, over_space;
} LayerBudget;

/* size_max, and the reserve of the filesystem of fs_fd: 5% of its size
 * (at most 1 GiB) and of its inodes (at most 65536), on top of what the
 * filesystem keeps for root. No free-space check when fs_fd < 0. */
void layer_budget_init(LayerBudget *b, uint64_t size_max, int fs_fd);

/*
 * Extracts the archive read from in_fd into the directory dirfd (normally
 * empty). Reads in_fd to its end, so the digests cover every byte. On
 * failure the directory holds whatever was extracted so far: callers use
 * layer_unpack(), which removes it.
 *
 * Fault injection for tests (test-switches.h): with layer_fault_after N,
 * the process kills itself (SIGKILL) after N entries.
 */
int layer_extract(int in_fd, int dirfd, unsigned flags, LayerResult *ret, char **ret_error);
/* The same within budget (may be NULL: unbounded). */
int layer_extract_bounded(int in_fd, int dirfd, unsigned flags, LayerBudget *budget,
                          LayerResult *ret, char **ret_error);

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
/* The same within budget (may be NULL); a failed unpack leaves budget->size
 * as it was. */
int layer_unpack_bounded(int in_fd, int parent_dirfd, const char *name, unsigned flags,
                         const char *want_digest, const char *want_diff_id, LayerBudget *budget,
                         LayerResult *ret, char **ret_error);

/* A LAYER_STAGE unpack of NAME: moved into place (the caller synced the
 * filesystem before; a NAME already there wins and the staged copy goes),
 * or removed. */
int layer_stage_commit(int parent_dirfd, const char *name, char **ret_error);
void layer_stage_abort(int parent_dirfd, const char *name);

/* rm -rf of dirfd/name without following any symlink. 0 when name is
 * already gone. */
int layer_remove_tree(int dirfd, const char *name);

/* openat2(dirfd, path, flags, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
 * RESOLVE_NO_MAGICLINKS) with O_CLOEXEC added. */
int open_beneath(int dirfd, const char *path, int flags, mode_t mode);
