/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer harness for the OCI document parsers (lib/oci.c): every input is
 * given to the index, manifest, config and docker manifest.json parsers, and
 * an index that parses is also run through oci_index_select() and a
 * manifest through oci_manifest_to_json() and back. Image documents come
 * from whoever made the image: any bytes must give a result or an error
 * with a message, never a crash, a leak or undefined behaviour.
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address,undefined.
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "oci.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                              \
        do {                                                                     \
                if (!(cond)) {                                                   \
                        fprintf(stderr, "fuzz-oci: contract broken: %s\n", #cond); \
                        abort();                                                 \
                }                                                                \
        } while (0)

/* Failure means a negative errno and a message; success means no message. */
#define CONTRACT(r, err) CHECK(((r) < 0) == ((err) != NULL))

static void fuzz_index(const char *d, size_t n)
{
        char *err = NULL;
        OciIndex i = {};
        int r = oci_index_parse("index", d, n, &i, &err);

        CONTRACT(r, err);
        if (r == 0) {
                const char *tags[] = { NULL, "latest", "v1" };
                for (size_t k = 0; k < ELEMENTSOF(tags); k++) {
                        char *e = NULL;
                        int s = oci_index_select(&i, "index", tags[k], &e);
                        CHECK(s < 0 ? e != NULL : (size_t)s < i.n_manifests && !e);
                        free(e);
                }
        }
        oci_index_done(&i);
        free(err);
}

static void fuzz_manifest(const char *d, size_t n)
{
        char *err = NULL;
        OciManifest m = {};
        int r = oci_manifest_parse("manifest", d, n, &m, &err);

        CONTRACT(r, err);
        if (r == 0) {
                OciManifest back = {};
                char *json = oci_manifest_to_json(&m), *e = NULL;
                /* What we write we must read, with the same layers. */
                CHECK(oci_manifest_parse("again", json, strlen(json), &back, &e) == 0);
                CHECK(back.n_layers == m.n_layers);
                oci_manifest_done(&back);
                free(json);
        }
        oci_manifest_done(&m);
        free(err);
}

static void fuzz_config(const char *d, size_t n)
{
        char *err = NULL;
        OciConfig *c = NULL;
        int r = oci_config_parse("config", d, n, &c, &err);

        CONTRACT(r, err);
        if (r == 0)
                CHECK(c && c->n_diff_ids == strv_length(c->diff_ids));
        oci_config_free(c);
        free(err);
}

static void fuzz_docker(const char *d, size_t n)
{
        char *err = NULL;
        DockerManifest m = {};
        int r = docker_manifest_parse("manifest.json", d, n, &m, &err);

        CONTRACT(r, err);
        docker_manifest_done(&m);
        free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* The parsers take a length, not a C string: give them exactly the
         * input (in its own allocation, so ASan sees any overread). */
        char *d = xmalloc(size ? size : 1);

        memcpy(d, data, size);
        fuzz_index(d, size);
        fuzz_manifest(d, size);
        fuzz_config(d, size);
        fuzz_docker(d, size);
        free(d);
        return 0;
}
