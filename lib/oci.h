/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * OCI image-spec documents and the docker-save manifest, parsed from
 * untrusted JSON into plain structs: index.json (and nested image indexes),
 * image manifests, image configs, and docker-archive manifest.json (the old
 * `docker save` form with HEX.json / ID/layer.tar names, and the new form
 * with blobs/sha256/HEX names).
 *
 * Parsers take the bytes of a document (not NUL-terminated), return 0 or a
 * negative errno (-EBADMSG for a malformed document, -EPROTONOSUPPORT for an
 * unsupported media type or digest algorithm), and on failure set
 * *ret_error to a malloc'd message that names what is wrong. `what` names
 * the document in those messages ("manifest sha256:ab12…").
 */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Documents larger than this are refused (a manifest is a few KiB). */
#define OCI_DOCUMENT_MAX (4 * 1024 * 1024)

typedef enum OciMediaType {
        OCI_MEDIA_INDEX,             /* application/vnd.oci.image.index.v1+json */
        OCI_MEDIA_MANIFEST,          /* application/vnd.oci.image.manifest.v1+json */
        OCI_MEDIA_CONFIG,            /* application/vnd.oci.image.config.v1+json */
        OCI_MEDIA_LAYER_TAR,         /* application/vnd.oci.image.layer.v1.tar */
        OCI_MEDIA_LAYER_TAR_GZIP,    /* …+gzip */
        OCI_MEDIA_LAYER_TAR_ZSTD,    /* …+zstd */
        OCI_MEDIA_LAYER_ND_TAR,      /* …layer.nondistributable.v1.tar */
        OCI_MEDIA_LAYER_ND_TAR_GZIP,
        OCI_MEDIA_LAYER_ND_TAR_ZSTD,
        DOCKER_MEDIA_MANIFEST_LIST,  /* application/vnd.docker.distribution.manifest.list.v2+json */
        DOCKER_MEDIA_MANIFEST,       /* application/vnd.docker.distribution.manifest.v2+json */
        DOCKER_MEDIA_CONFIG,         /* application/vnd.docker.container.image.v1+json */
        DOCKER_MEDIA_LAYER_TAR_GZIP, /* application/vnd.docker.image.rootfs.diff.tar.gzip */
        DOCKER_MEDIA_LAYER_TAR,      /* application/vnd.docker.image.rootfs.diff.tar */
        _OCI_MEDIA_MAX,
        _OCI_MEDIA_INVALID = -EINVAL,
} OciMediaType;

const char *oci_media_type_to_string(OciMediaType t);
OciMediaType oci_media_type_from_string(const char *s); /* -EINVAL if unknown */
bool oci_media_type_is_layer(OciMediaType t);
bool oci_media_type_is_index(OciMediaType t);
bool oci_media_type_is_manifest(OciMediaType t);
bool oci_media_type_is_config(OciMediaType t);

/* "sha256:" + 64 lowercase hex digits: the only algorithm this store knows. */
bool oci_digest_is_valid(const char *d);
/* The hex part of a valid digest. */
static inline const char *oci_digest_hex(const char *d) { return d + 7; }

typedef struct OciDescriptor {
        OciMediaType media_type;
        char *media_type_string;  /* as written */
        char *digest;             /* validated "sha256:HEX" */
        int64_t size;             /* >= 0 */
        char *ref_name;           /* annotation org.opencontainers.image.ref.name */
        char *os, *architecture;  /* platform, NULL when absent */
} OciDescriptor;

typedef struct OciIndex {
        OciDescriptor *manifests;
        size_t n_manifests;
} OciIndex;

typedef struct OciManifest {
        OciMediaType media_type;  /* OCI or docker v2 */
        OciDescriptor config;
        OciDescriptor *layers;
        size_t n_layers;
} OciManifest;

typedef struct OciHealthcheck {
        char **test;              /* ["CMD", …], ["CMD-SHELL", "…"], ["NONE"]; NULL = none */
        uint64_t interval_nsec, timeout_nsec, start_period_nsec; /* 0 = default */
        int retries;              /* 0 = default */
} OciHealthcheck;

typedef struct OciConfig {
        char *architecture, *os;
        char *created;            /* RFC 3339, as written; NULL = unset */
        char *user;               /* NULL = unset */
        char **env;               /* KEY=VALUE */
        char **entrypoint;        /* NULL = unset */
        char **cmd;               /* NULL = unset */
        char *working_dir;
        char *stop_signal;        /* as written ("SIGQUIT") */
        char **exposed_ports, **volumes;
        OciHealthcheck healthcheck;
        char **labels;            /* KEY=VALUE */
        char **diff_ids;          /* rootfs.diff_ids, validated digests, lowest first */
        size_t n_diff_ids;
} OciConfig;

/* One image of a docker-archive manifest.json. Paths are relative to the
 * archive root as written there. */
typedef struct DockerImage {
        char *config;
        char **repo_tags;
        char **layers;
        size_t n_layers;
} DockerImage;

typedef struct DockerManifest {
        DockerImage *images;
        size_t n_images;
} DockerManifest;

void oci_descriptor_done(OciDescriptor *d);
void oci_index_done(OciIndex *i);
void oci_manifest_done(OciManifest *m);
OciConfig *oci_config_free(OciConfig *c);
static inline void oci_config_freep(OciConfig **c) { oci_config_free(*c); }
void docker_manifest_done(DockerManifest *m);

int oci_index_parse(const char *what, const char *data, size_t size, OciIndex *ret,
                    char **ret_error);
/* Accepts an OCI image manifest or a docker v2 schema 2 manifest; refuses
 * unknown layer media types (naming the layer and the type). */
int oci_manifest_parse(const char *what, const char *data, size_t size, OciManifest *ret,
                       char **ret_error);
int oci_config_parse(const char *what, const char *data, size_t size, OciConfig **ret,
                     char **ret_error);
int docker_manifest_parse(const char *what, const char *data, size_t size,
                          DockerManifest *ret, char **ret_error);

/*
 * Picks the manifest of an index for tag (NULL: the only one, or the one
 * tagged "latest"). A tag matches a ref.name annotation equal to it or
 * ending in ":TAG". Several manifests with one tag (a multi-platform
 * image) are narrowed to this host's platform (linux/amd64…).
 * Returns the index into i->manifests, or -ENOENT with a message listing
 * the tags there are.
 */
int oci_index_select(const OciIndex *i, const char *what, const char *tag, char **ret_error);

/* The GOARCH name of this build's architecture ("amd64", "arm64", …). */
const char *oci_host_architecture(void);

/* Serialises a manifest (OCI form, as this store writes it for
 * docker-archive images): deterministic bytes, malloc'd. */
char *oci_manifest_to_json(const OciManifest *m);
