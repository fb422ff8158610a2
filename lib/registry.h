/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The client side of the OCI distribution protocol (libcurl), pulling into
 * the image store (store_import_remote()):
 *
 *  - references HOST[:PORT]/REPO[:TAG][@sha256:HEX]; a first component
 *    without '.' or ':' (and not "localhost") means docker.io, whose
 *    one-component repositories live under library/;
 *  - the /v2/ probe (its findings, the scheme and the challenge, kept in
 *    the store so that the next pull starts with its manifest request;
 *    probed again when they no longer hold), then anonymous access, HTTP
 *    basic auth from a
 *    containers-auth.json file, or bearer tokens (the WWW-Authenticate
 *    challenge, the token endpoint, scope repository:REPO:pull, the token
 *    kept until it expires);
 *  - manifests by tag or digest: OCI index and Docker manifest list
 *    (narrowed to the platform: the host's linux/ARCH, or --platform=),
 *    OCI and Docker schema 2 image manifests, at most OCI_DOCUMENT_MAX
 *    bytes, parsed by lib/oci.c;
 *  - one pool of connections for every request of a pull;
 *  - blobs streamed into the store's unpacker, checked against the
 *    descriptor's digest and size while they stream; redirects followed;
 *    layers the store has are not fetched;
 *  - HTTPS with the system's CAs plus CERTS_DIR/HOST[:PORT]/ *.crt (and a
 *    client certificate *.cert with its *.key); plain HTTP only for the
 *    registries named insecure.
 *
 * Failures return -errno and a message naming the registry, the repository
 * and the reason, with the registry's own error text when it sent one.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

typedef struct RegistryRef {
        char *host;               /* as written: "127.0.0.1:5000", "docker.io" */
        char *api_host;           /* what is contacted: "registry-1.docker.io" for docker.io */
        char *repository;         /* "library/busybox" */
        char *tag;                /* NULL when only a digest is given */
        char *digest;             /* "sha256:HEX" or NULL */
        char *name;               /* the store's name: HOST/REPO:TAG, or NULL (digest only) */
} RegistryRef;

void registry_ref_done(RegistryRef *r);
/* Parses REF; a missing tag and digest mean the tag "latest". */
int registry_ref_parse(const char *s, RegistryRef *ret, char **ret_error);
/* Whether s looks like a registry reference (HOST/... where HOST has a '.'
 * or ':' or is localhost) rather than a plain store name. */
bool registry_ref_is_remote(const char *s);

typedef enum RegistryEvent {
        REGISTRY_LAYER_PRESENT,   /* already in the store: not fetched */
        REGISTRY_LAYER_PROGRESS,  /* done bytes of total so far */
        REGISTRY_LAYER_DONE,
} RegistryEvent;

typedef void (*RegistryProgress)(void *userdata, RegistryEvent ev, size_t idx, size_t n,
                                 const char *digest, uint64_t done, uint64_t total);

typedef struct RegistryOptions {
        const char *auth_file;    /* containers-auth.json; NULL: $REGISTRY_AUTH_FILE, else /etc/ccsup/auth.json */
        const char *certs_dir;    /* NULL: /etc/ccsup/certs.d */
        char **insecure;          /* HOST[:PORT] list */
        const char *platform;     /* "OS/ARCH[/VARIANT]", NULL: linux/host */
        unsigned timeout_sec;     /* a transfer with no byte for this long fails; 0:
                                   * $CCSUP_REGISTRY_TIMEOUT_SEC, else 30 */
        RegistryProgress progress;
        void *progress_userdata;
} RegistryOptions;

#define REGISTRY_DEFAULT_AUTH_FILE "/etc/ccsup/auth.json"
#define REGISTRY_DEFAULT_CERTS_DIR "/etc/ccsup/certs.d"

/*
 * Pulls REF into the store under state_dir and tags it (HOST/REPO:TAG).
 * Returns the manifest digest of the image (for an index: of the chosen
 * platform's manifest). A tag whose manifest and layers are all stored
 * costs one manifest request.
 */
int registry_pull(const char *state_dir, const char *ref, const RegistryOptions *o,
                  char **ret_digest, char **ret_error);

/* What pulls without options of their own use (store_import() of a
 * registry reference, as ccsupd's import helper does): ccsupd's
 * --registry-auth, --registry-certs and --insecure-registry. */
void registry_defaults_set_auth(const char *auth_file);
void registry_defaults_set_certs(const char *certs_dir);
void registry_defaults_add_insecure(const char *host);
const RegistryOptions *registry_defaults(void);

/* The store's name of a reference: HOST/REPO@sha256:HEX when it has a
 * digest, else HOST/REPO:TAG (docker.io's library/ added). */
int registry_ref_store_name(const char *s, char **ret, char **ret_error);

/* The digest REF resolves to now (one manifest request; for an index, the
 * platform's entry), without pulling anything. state_dir (or NULL): the
 * store whose memory of the registry's probe is used. */
int registry_resolve(const char *state_dir, const char *ref, const RegistryOptions *o, char **ret_digest,
                     char **ret_error);
