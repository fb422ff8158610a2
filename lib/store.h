/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The local image store, content-addressed, under STATE_DIR/images:
 *
 *   blobs/sha256/HEX     manifests and configs, verified by SHA-256 whenever
 *                        they are read
 *   layers/HEX           one unpacked layer per diff ID (the SHA-256 of its
 *                        uncompressed tar), shared by every image that has it;
 *                        an overlayfs lower directory, never written after
 *                        it appeared
 *   repositories.json    {"tags": {"NAME:TAG": MANIFEST-DIGEST},
 *                         "sources": {"oci:/p:t": {"digest": …, "stamp": …}}}
 *   lock                 flock()ed by imports and removals
 *   tmp/                 staging of archive imports
 *
 * Crash safety: a layer is unpacked into layers/.tmp-HEX-PID, synced
 * (syncfs) and renamed into place; blobs and repositories.json are written
 * to a temporary name, fsync()ed and renamed, and the directory fsync()ed.
 * An image becomes visible (tagged) only after all its layers and blobs are
 * in place, so an interrupted import leaves at most unreferenced complete
 * layers and .tmp-* debris: the next import (under the lock) removes the
 * debris and reuses the complete layers, and removals collect what no image
 * references any more.
 *
 * Docker archives have no OCI manifest: the store writes one (config blob
 * plus layers described by their diff IDs, as uncompressed tars), so every
 * stored image is an OCI manifest digest.
 *
 * Functions that fail with a message for the operator return -errno and set
 * *ret_error to a malloc'd text.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "oci.h"
#include "unit.h"

#define STORE_DEFAULT_STATE_DIR "/var/lib/ccsup"

/* 8 GiB: more than common images unpack to (some CUDA and ML images
 * aside: raise it for those), far less than a compression bomb reaches. */
#define STORE_DEFAULT_SIZE_MAX (UINT64_C(8) << 30)

/*
 * Bounds every import of this process (and of the helpers it forks): an
 * image archive, and the layers one import unpacks together, may hold at
 * most bytes of files (logical sizes, sparse files too; UINT64_MAX: no
 * bound), else the import fails with -EFBIG naming --image-size-max.
 * Whatever the bound, an import fails with -ENOSPC before it would leave
 * less than 5% (at most 1 GiB) of the store's filesystem, or of its
 * inodes, free. A failed import leaves nothing behind in the store.
 */
void store_set_size_max(uint64_t bytes);

/* What a unit's image resolves to. */
typedef struct ResolvedImage {
        char *manifest_digest;
        char *config_digest;
        char **layers;            /* absolute layer directories, lowest first */
        size_t n_layers;
        OciConfig *config;
} ResolvedImage;

void resolved_image_done(ResolvedImage *r);

/* One stored image, for listing. */
typedef struct StoreImage {
        char *digest;             /* manifest */
        char *config_digest;
        char **names;             /* NAME:TAG tags, then sources, sorted */
        size_t n_layers;
        uint64_t size;            /* sum of the layers' sizes in the manifest */
        char *created;            /* from the config, may be NULL */
} StoreImage;

void store_images_free(StoreImage *l, size_t n);

/*
 * Imports SOURCE ("oci:PATH[:TAG]", "oci-archive:PATH[:TAG]",
 * "docker-archive:PATH"; PATH may be relative) into the store under
 * state_dir, verifying every blob and layer by digest. name ("NAME[:TAG]",
 * TAG defaulting to "latest") tags the image; NULL tags it with the
 * archive's own names (a docker archive's RepoTags, an OCI ref.name that is
 * a full NAME:TAG), if any. The source is recorded too, so that a unit's
 * Image=SOURCE finds it again without a new import while the source file
 * is unchanged. Synchronous; takes the store's lock.
 */
int store_import(const char *state_dir, const char *source, const char *name,
                 char **ret_digest, char **ret_error);

/*
 * An import whose blobs come from elsewhere (a registry, lib/registry.c):
 * the manifest is given (its bytes verified against manifest_digest by the
 * caller); the config is asked for with fetch_document() unless the store
 * has it, and every layer whose diff ID the store lacks is streamed with
 * open_layer() (read *ret_fd to its end) and close_layer() (the transfer's
 * own result, which outranks the unpacker's message; it is told the
 * unpacker's result, so that it keeps what resumes a cut transfer only
 * when the bytes were not refused). Digests and diff IDs
 * are checked while the bytes stream; on any failure nothing is committed
 * and the layers made by this import are removed. names are tagged
 * ("NAME:TAG"); source_key (may be NULL) is recorded as a source.
 * manifest NULL: the store has it already under manifest_digest.
 */
typedef struct StoreRemote {
        const char *label;        /* for messages: "registry `h`, repository `r`" */
        const char *source_key;
        void *userdata;
        int (*fetch_document)(void *userdata, const OciDescriptor *d, char **ret, size_t *ret_size,
                              char **ret_error);
        int (*open_layer)(void *userdata, const OciDescriptor *d, size_t idx, size_t n, int *ret_fd,
                          void **ret_handle, char **ret_error);
        int (*close_layer)(void *userdata, void *handle, int unpack_result, char **ret_error);
        /* May be NULL: told of a layer that is already stored. */
        void (*layer_present)(void *userdata, const OciDescriptor *d, size_t idx, size_t n);
} StoreRemote;

int store_import_remote(const char *state_dir, const StoreRemote *remote, const char *manifest_digest,
                        const char *manifest, size_t manifest_size, char *const *names,
                        char **ret_error);

/* Points NAME[:TAG] (and the source record docker://NAME:TAG, when there is
 * one) at the stored image digest, which must be complete: what
 * auto-update's rollback does. Takes the store's lock. */
int store_tag(const char *state_dir, const char *name, const char *digest, char **ret_error);

/* An import running in a helper process (the supervisor's loop must not
 * block): watch pidfd for readability, then call store_import_finish(). */
typedef struct StoreImportJob {
        pid_t pid;
        int pidfd;                /* readable when the helper has exited */
        int result_fd;            /* the helper's one-line result; read by _finish */
} StoreImportJob;

int store_import_async(const char *state_dir, const char *source, const char *name,
                       StoreImportJob *ret, char **ret_error);
/* Reaps the helper (waitid on the pidfd) and returns store_import()'s
 * result. Closes the job's fds. Blocks only if the helper still runs. */
int store_import_finish(StoreImportJob *job, char **ret_digest, char **ret_error);
/* Kills (SIGKILL) and reaps a helper that is no longer wanted. */
void store_import_cancel(StoreImportJob *job);

/* Finds the manifest digest of REF: "NAME[:TAG]", "NAME@sha256:HEX",
 * "sha256:HEX" (or a unique prefix of at least 12 hex digits), or a source
 * string as recorded by an import. Lock-free. */
int store_lookup(const char *state_dir, const char *ref, char **ret_digest, char **ret_error);

/* Opens a stored image by manifest digest: verifies manifest and config,
 * checks that every layer directory is there. */
int store_open_image(const char *state_dir, const char *digest, ResolvedImage *ret,
                     char **ret_error);

/* Lists the stored images (one per manifest digest that a tag or a source
 * names), sorted by first name. */
int store_list(const char *state_dir, StoreImage **ret, size_t *ret_n, char **ret_error);

/* Removes REF (a tag, a source, or a digest: then every name of it), then
 * removes the blobs and layers that no remaining image uses. Returns the
 * number of names removed. */
int store_remove(const char *state_dir, const char *ref, char **ret_error);

/*
 * store_remove() for ccsupd: REF is resolved again under the lock and
 * check(DIGEST, userdata, ret_error), when not NULL, may refuse the removal
 * with a negative return (nothing is changed; *ret_error set by check).
 * With nonblock the lock is only tried: -EBUSY while an import holds it,
 * so that the supervisor's loop never waits for one.
 */
typedef int (*StoreRemoveCheck)(const char *digest, void *userdata, char **ret_error);
int store_remove_checked(const char *state_dir, const char *ref, bool nonblock,
                         StoreRemoveCheck check, void *userdata, char **ret_error);

/*
 * What a unit's Image= is, ready for launch: for IMAGE_STORE the stored
 * image (-ENOENT when the store has no such name); for IMAGE_OCI,
 * IMAGE_OCI_ARCHIVE and IMAGE_DOCKER_ARCHIVE the imported image, importing
 * it first (synchronously: call it from a helper process, or use
 * store_import_async() before) when the store does not have it yet or the
 * source changed. IMAGE_DIRECTORY is not a store image: -EINVAL.
 * The layer directories are the lower layers of an overlay mount, lowest
 * first (overlayfs' lowerdir= lists the highest first: reverse them).
 */
int store_resolve(const char *state_dir, const UnitConfig *c, ResolvedImage *ret,
                  char **ret_error);

/* store_resolve() without the import: a source that is not in the store yet
 * (or changed since its import) is -ENOENT. Never blocks on the store's
 * lock: what the supervisor's loop calls, before and after
 * store_import_async(). */
int store_resolve_stored(const char *state_dir, const UnitConfig *c, ResolvedImage *ret,
                         char **ret_error);

/* The process of a unit with an image that has a config, UNITS.md: */
typedef struct ResolvedProcess {
        char **argv;              /* Entrypoint + Cmd, see image_config_apply() */
        char **environment;       /* the image's Env, then Environment= (same keys replaced) */
        char *working_directory;  /* WorkingDirectory=, else the image's, else "/" */
        char *user;               /* User=[:group], else the image's User, else NULL (root) */
        int stop_signal;          /* StopSignal=, else the image's, else SIGTERM */
        char **health_argv;       /* the image's Healthcheck as a command; NULL = none */
        uint64_t health_interval_usec, health_timeout_usec, health_start_period_usec; /* 0 = unit default */
        int health_retries;       /* 0 = unit default */
} ResolvedProcess;

void resolved_process_done(ResolvedProcess *p);

/*
 * Merges an image config (may be NULL: a directory image) with a unit:
 *  - the command is (Entrypoint= if given, else the image's Entrypoint)
 *    followed by (Exec= if given, else the image's Cmd unless Entrypoint=
 *    was given, as docker run --entrypoint drops CMD); empty = error;
 *  - Env, then Environment= replacing same keys (EnvironmentFile= is read
 *    at start by the launcher);
 *  - WorkingDir, User, StopSignal as defaults; Healthcheck kept
 *    ("CMD-SHELL x" becomes /bin/sh -c x, "NONE" none).
 */
int image_config_apply(const OciConfig *img, const UnitConfig *c, ResolvedProcess *ret,
                       char **ret_error);

/* Parses "KIND:PATH[:TAG]" (KIND oci, oci-archive, docker-archive); PATH is
 * made absolute against the current directory. */
int store_source_parse(const char *s, ImageKind *ret_kind, char **ret_path, char **ret_tag,
                       char **ret_error);
