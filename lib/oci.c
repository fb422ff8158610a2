/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <json-c/json.h>
#include <stdarg.h>

#include "oci.h"
#include "util.h"

/* Nesting deeper than this is not an image document. */
#define JSON_DEPTH_MAX 32

static const char *const media_type_table[_OCI_MEDIA_MAX] = {
        [OCI_MEDIA_INDEX] = "application/vnd.oci.image.index.v1+json",
        [OCI_MEDIA_MANIFEST] = "application/vnd.oci.image.manifest.v1+json",
        [OCI_MEDIA_CONFIG] = "application/vnd.oci.image.config.v1+json",
        [OCI_MEDIA_LAYER_TAR] = "application/vnd.oci.image.layer.v1.tar",
        [OCI_MEDIA_LAYER_TAR_GZIP] = "application/vnd.oci.image.layer.v1.tar+gzip",
        [OCI_MEDIA_LAYER_TAR_ZSTD] = "application/vnd.oci.image.layer.v1.tar+zstd",
        [OCI_MEDIA_LAYER_ND_TAR] = "application/vnd.oci.image.layer.nondistributable.v1.tar",
        [OCI_MEDIA_LAYER_ND_TAR_GZIP] = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        [OCI_MEDIA_LAYER_ND_TAR_ZSTD] = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
        [DOCKER_MEDIA_MANIFEST_LIST] = "application/vnd.docker.distribution.manifest.list.v2+json",
        [DOCKER_MEDIA_MANIFEST] = "application/vnd.docker.distribution.manifest.v2+json",
        [DOCKER_MEDIA_CONFIG] = "application/vnd.docker.container.image.v1+json",
        [DOCKER_MEDIA_LAYER_TAR_GZIP] = "application/vnd.docker.image.rootfs.diff.tar.gzip",
        [DOCKER_MEDIA_LAYER_TAR] = "application/vnd.docker.image.rootfs.diff.tar",
};

const char *oci_media_type_to_string(OciMediaType t)
{
        return t >= 0 && t < _OCI_MEDIA_MAX ? media_type_table[t] : NULL;
}

OciMediaType oci_media_type_from_string(const char *s)
{
        for (int i = 0; s && i < _OCI_MEDIA_MAX; i++)
                if (streq(media_type_table[i], s))
                        return (OciMediaType)i;
        return _OCI_MEDIA_INVALID;
}

bool oci_media_type_is_layer(OciMediaType t)
{
        return (t >= OCI_MEDIA_LAYER_TAR && t <= OCI_MEDIA_LAYER_ND_TAR_ZSTD) ||
               t == DOCKER_MEDIA_LAYER_TAR_GZIP || t == DOCKER_MEDIA_LAYER_TAR;
}

bool oci_media_type_is_index(OciMediaType t)
{
        return t == OCI_MEDIA_INDEX || t == DOCKER_MEDIA_MANIFEST_LIST;
}

bool oci_media_type_is_manifest(OciMediaType t)
{
        return t == OCI_MEDIA_MANIFEST || t == DOCKER_MEDIA_MANIFEST;
}

bool oci_media_type_is_config(OciMediaType t)
{
        return t == OCI_MEDIA_CONFIG || t == DOCKER_MEDIA_CONFIG;
}

bool oci_digest_is_valid(const char *d)
{
        const char *h = d ? startswith(d, "sha256:") : NULL;

        if (!h || strlen(h) != 64)
                return false;
        for (; *h; h++)
                if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f')))
                        return false;
        return true;
}

const char *oci_host_architecture(void)
{
#if defined(__x86_64__)
        return "amd64";
#elif defined(__aarch64__)
        return "arm64";
#elif defined(__i386__)
        return "386";
#elif defined(__arm__)
        return "arm";
#elif defined(__riscv) && __riscv_xlen == 64
        return "riscv64";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return "ppc64le";
#elif defined(__s390x__)
        return "s390x";
#else
        return "unknown";
#endif
}

/* ------------------------------------------------------------------ helpers */

/* The document being parsed, for messages. */
typedef struct Doc {
        const char *what;
        char **error;
} Doc;

static int doc_fail(Doc *d, int r, const char *fmt, ...) _printf_(3, 4);
static int doc_fail(Doc *d, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        error_setv(d->error, r, fmt, ap);
        va_end(ap);
        return error_prefix(d->error, r, "%s", d->what);
}

static void json_putp(json_object **o) { json_object_put(*o); }
#define _cleanup_json_ _cleanup_(json_putp)

static int doc_load(Doc *d, const char *data, size_t size, json_type want, json_object **ret)
{
        json_tokener *tok;
        json_object *o;
        enum json_tokener_error e;
        size_t end;

        if (size > OCI_DOCUMENT_MAX)
                return doc_fail(d, -EFBIG, "larger than %d bytes", OCI_DOCUMENT_MAX);
        if (size == 0)
                return doc_fail(d, -EBADMSG, "empty document");
        tok = json_tokener_new_ex(JSON_DEPTH_MAX);
        if (!tok)
                abort();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, data, (int)size);
        e = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (e == json_tokener_continue || (!o && e == json_tokener_success)) {
                json_object_put(o);
                return doc_fail(d, -EBADMSG, "invalid JSON: unexpected end of document");
        }
        if (e != json_tokener_success) {
                json_object_put(o);
                return doc_fail(d, -EBADMSG, "invalid JSON at byte %zu: %s", end,
                                json_tokener_error_desc(e));
        }
        for (; end < size; end++)
                if (!strchr(" \t\r\n", data[end])) {
                        json_object_put(o);
                        return doc_fail(d, -EBADMSG, "invalid JSON: trailing data at byte %zu", end);
                }
        if (!json_object_is_type(o, want)) {
                json_object_put(o);
                return doc_fail(d, -EBADMSG, "expected a JSON %s", json_type_to_name(want));
        }
        *ret = o;
        return 0;
}

/* Looks up key: 0 and *ret = NULL when absent or null, -EBADMSG when of
 * another type. */
static int get_typed(Doc *d, json_object *o, const char *key, json_type t, json_object **ret)
{
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v) || !v) {
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, t))
                return doc_fail(d, -EBADMSG, "`%s` is not a %s", key, json_type_to_name(t));
        *ret = v;
        return 0;
}

static int string_value(Doc *d, json_object *v, const char *key, char **ret)
{
        const char *s = json_object_get_string(v);
        int len = json_object_get_string_len(v);

        if (!s || strlen(s) != (size_t)len)
                return doc_fail(d, -EBADMSG, "`%s` contains a NUL byte", key);
        *ret = xstrdup(s);
        return 0;
}

/* An optional string; *ret stays NULL when absent. */
static int get_string(Doc *d, json_object *o, const char *key, bool required, char **ret)
{
        json_object *v;
        int r = get_typed(d, o, key, json_type_string, &v);

        if (r < 0)
                return r;
        if (!v)
                return required ? doc_fail(d, -EBADMSG, "`%s` is missing", key) : 0;
        free(*ret);
        *ret = NULL;
        return string_value(d, v, key, ret);
}

/* An optional array of strings; *ret stays NULL when absent or null, and is
 * an empty (non-NULL) vector for []. */
static int get_strv(Doc *d, json_object *o, const char *key, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        json_object *v;
        size_t n;
        int r = get_typed(d, o, key, json_type_array, &v);

        if (r < 0 || !v)
                return r;
        n = json_object_array_length(v);
        l = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(v, i);
                if (!json_object_is_type(e, json_type_string))
                        return doc_fail(d, -EBADMSG, "`%s` item %zu is not a string", key, i);
                r = string_value(d, e, key, &l[i]);
                if (r < 0)
                        return r;
        }
        strv_free(*ret);
        *ret = TAKE_PTR(l);
        return 0;
}

/* The keys of an object ({"80/tcp": {}}) as a vector. */
static int get_keys(Doc *d, json_object *o, const char *key, char ***ret)
{
        json_object *v;
        int r = get_typed(d, o, key, json_type_object, &v);

        if (r < 0 || !v)
                return r;
        json_object_object_foreach(v, k, _v) {
                (void)_v;
                strv_add(ret, k);
        }
        return 0;
}

/* A non-negative integer (sizes, durations): -EBADMSG otherwise. */
static int get_uint(Doc *d, json_object *o, const char *key, bool required, int64_t *ret)
{
        json_object *v;
        int64_t n;
        int r = get_typed(d, o, key, json_type_int, &v);

        if (r < 0)
                return r;
        if (!v)
                return required ? doc_fail(d, -EBADMSG, "`%s` is missing", key) : 0;
        errno = 0;
        n = json_object_get_int64(v);
        if (errno != 0 || n < 0 || n == INT64_MAX)
                return doc_fail(d, -EBADMSG, "`%s` is out of range", key);
        *ret = n;
        return 0;
}

static int check_digest(Doc *d, const char *key, const char *digest)
{
        const char *colon = strchr(digest, ':');

        if (oci_digest_is_valid(digest))
                return 0;
        if (colon && colon > digest && !startswith(digest, "sha256:"))
                return doc_fail(d, -EPROTONOSUPPORT, "`%s`: unsupported digest algorithm in `%s` (only sha256 is supported)",
                                key, digest);
        return doc_fail(d, -EBADMSG, "`%s`: invalid digest `%s`", key, digest);
}

static int check_schema_version(Doc *d, json_object *o)
{
        int64_t v = -1;
        int r = get_uint(d, o, "schemaVersion", true, &v);

        if (r < 0)
                return r;
        if (v != 2)
                return doc_fail(d, -EPROTONOSUPPORT, "unsupported schemaVersion %lld (expected 2)",
                                (long long)v);
        return 0;
}

/* ------------------------------------------------------------------ descriptors */

void oci_descriptor_done(OciDescriptor *d)
{
        free(d->media_type_string);
        free(d->digest);
        free(d->ref_name);
        free(d->os);
        free(d->architecture);
        *d = (OciDescriptor){ .media_type = _OCI_MEDIA_INVALID };
}

/* Parses a descriptor. An unknown media type is kept (as
 * _OCI_MEDIA_INVALID): the caller decides whether that matters. */
static int descriptor_parse(Doc *d, json_object *o, const char *key, OciDescriptor *ret)
{
        OciDescriptor x = { .media_type = _OCI_MEDIA_INVALID };
        json_object *ann, *plat;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return doc_fail(d, -EBADMSG, "`%s` is not an object", key);
        if ((r = get_string(d, o, "mediaType", true, &x.media_type_string)) < 0 ||
            (r = get_string(d, o, "digest", true, &x.digest)) < 0 ||
            (r = check_digest(d, "digest", x.digest)) < 0 ||
            (r = get_uint(d, o, "size", true, &x.size)) < 0 ||
            (r = get_typed(d, o, "annotations", json_type_object, &ann)) < 0 ||
            (ann && (r = get_string(d, ann, "org.opencontainers.image.ref.name", false,
                                    &x.ref_name)) < 0) ||
            (r = get_typed(d, o, "platform", json_type_object, &plat)) < 0 ||
            (plat && ((r = get_string(d, plat, "os", false, &x.os)) < 0 ||
                      (r = get_string(d, plat, "architecture", false, &x.architecture)) < 0))) {
                oci_descriptor_done(&x);
                return r;
        }
        x.media_type = oci_media_type_from_string(x.media_type_string);
        *ret = x;
        return 0;
}

/* Parses an array of descriptors under key. */
static int descriptors_parse(Doc *d, json_object *o, const char *key, OciDescriptor **ret,
                             size_t *ret_n)
{
        json_object *a;
        OciDescriptor *l;
        size_t n;
        int r = get_typed(d, o, key, json_type_array, &a);

        if (r < 0)
                return r;
        if (!a)
                return doc_fail(d, -EBADMSG, "`%s` is missing", key);
        n = json_object_array_length(a);
        l = xcalloc(n ? n : 1, sizeof(OciDescriptor));
        for (size_t i = 0; i < n; i++) {
                r = descriptor_parse(d, json_object_array_get_idx(a, i), key, &l[i]);
                if (r < 0) {
                        for (size_t j = 0; j < i; j++)
                                oci_descriptor_done(&l[j]);
                        free(l);
                        return r;
                }
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

/* ------------------------------------------------------------------ index */

void oci_index_done(OciIndex *i)
{
        for (size_t k = 0; k < i->n_manifests; k++)
                oci_descriptor_done(&i->manifests[k]);
        free(i->manifests);
        *i = (OciIndex){};
}

int oci_index_parse(const char *what, const char *data, size_t size, OciIndex *ret,
                    char **ret_error)
{
        Doc d = { what, ret_error };
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *mt = NULL;
        OciIndex x = {};
        int r;

        if ((r = doc_load(&d, data, size, json_type_object, &o)) < 0 ||
            (r = check_schema_version(&d, o)) < 0 ||
            (r = get_string(&d, o, "mediaType", false, &mt)) < 0)
                return r;
        if (mt && !oci_media_type_is_index(oci_media_type_from_string(mt)))
                return doc_fail(&d, -EPROTONOSUPPORT, "unsupported media type `%s` for an image index", mt);
        r = descriptors_parse(&d, o, "manifests", &x.manifests, &x.n_manifests);
        if (r < 0)
                return r;
        *ret = x;
        return 0;
}

static bool ref_matches(const char *ref, const char *tag)
{
        size_t lr, lt;
        const char *colon;

        if (!ref)
                return false;
        if (streq(ref, tag))
                return true;
        /* "docker.io/library/busybox:latest" carries the tag after the last ':'
         * that follows the last '/'. */
        lr = strlen(ref), lt = strlen(tag);
        colon = strrchr(ref, ':');
        return lr > lt && colon && colon == ref + lr - lt - 1 && !strchr(colon, '/') &&
               streq(colon + 1, tag);
}

static bool platform_matches(const OciDescriptor *m)
{
        return (!m->os || streq(m->os, "linux")) &&
               (!m->architecture || streq(m->architecture, oci_host_architecture()));
}

static char *index_tags(const OciIndex *i)
{
        _cleanup_strv_free_ char **tags = NULL;

        for (size_t k = 0; k < i->n_manifests; k++)
                if (i->manifests[k].ref_name && !strv_contains(tags, i->manifests[k].ref_name))
                        strv_add(&tags, i->manifests[k].ref_name);
        return tags ? strv_join(tags, ", ") : xstrdup("none");
}

int oci_index_select(const OciIndex *i, const char *what, const char *tag, char **ret_error)
{
        Doc d = { what, ret_error };
        _cleanup_free_ size_t *c = xcalloc(i->n_manifests + 1, sizeof(size_t));
        _cleanup_free_ char *tags = NULL;
        size_t n = 0, n_plat = 0, n_latest = 0;

        for (size_t k = 0; k < i->n_manifests; k++) {
                OciMediaType t = i->manifests[k].media_type;
                if (!oci_media_type_is_manifest(t) && !oci_media_type_is_index(t))
                        continue;
                if (tag && !ref_matches(i->manifests[k].ref_name, tag))
                        continue;
                c[n++] = k;
        }
        tags = index_tags(i);
        if (n == 0 && tag)
                return doc_fail(&d, -ENOENT, "no image tagged `%s` (tags: %s)", tag, tags);
        if (n == 0)
                return doc_fail(&d, -ENOENT, "no image manifest in the index");
        if (n == 1)
                return (int)c[0];

        for (size_t k = 0; k < n; k++)
                if (!tag && ref_matches(i->manifests[c[k]].ref_name, "latest"))
                        c[n_latest++] = c[k];
        if (n_latest > 0)
                n = n_latest;
        for (size_t k = 0; k < n; k++)
                if (platform_matches(&i->manifests[c[k]]))
                        c[n_plat++] = c[k];
        if (n_plat == 0)
                return doc_fail(&d, -ENOENT, "no image for platform linux/%s", oci_host_architecture());
        if (n_plat > 1 && !tag && n_latest == 0) {
                const char *first = i->manifests[c[0]].ref_name;
                for (size_t k = 1; k < n_plat; k++)
                        if (!streq_ptr(first, i->manifests[c[k]].ref_name))
                                return doc_fail(&d, -ENOENT, "holds %zu images: name one (tags: %s)",
                                                n_plat, tags);
        }
        return (int)c[0];
}

/* ------------------------------------------------------------------ manifest */

void oci_manifest_done(OciManifest *m)
{
        oci_descriptor_done(&m->config);
        for (size_t k = 0; k < m->n_layers; k++)
                oci_descriptor_done(&m->layers[k]);
        free(m->layers);
        *m = (OciManifest){};
}

int oci_manifest_parse(const char *what, const char *data, size_t size, OciManifest *ret,
                       char **ret_error)
{
        Doc d = { what, ret_error };
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *mt = NULL;
        json_object *cfg;
        OciManifest x = { .media_type = OCI_MEDIA_MANIFEST };
        int r;

        if ((r = doc_load(&d, data, size, json_type_object, &o)) < 0 ||
            (r = check_schema_version(&d, o)) < 0 ||
            (r = get_string(&d, o, "mediaType", false, &mt)) < 0)
                return r;
        if (mt) {
                x.media_type = oci_media_type_from_string(mt);
                if (oci_media_type_is_index(x.media_type))
                        return doc_fail(&d, -EPROTONOSUPPORT, "is an image index, not a manifest");
                if (!oci_media_type_is_manifest(x.media_type))
                        return doc_fail(&d, -EPROTONOSUPPORT, "unsupported manifest media type `%s`", mt);
        }
        if ((r = get_typed(&d, o, "config", json_type_object, &cfg)) < 0)
                return r;
        if (!cfg)
                return doc_fail(&d, -EBADMSG, "`config` is missing");
        if ((r = descriptor_parse(&d, cfg, "config", &x.config)) < 0)
                return r;
        if (!oci_media_type_is_config(x.config.media_type)) {
                r = doc_fail(&d, -EPROTONOSUPPORT, "config has unsupported media type `%s`",
                             x.config.media_type_string);
                goto fail;
        }
        if ((r = descriptors_parse(&d, o, "layers", &x.layers, &x.n_layers)) < 0)
                goto fail;
        for (size_t k = 0; k < x.n_layers; k++)
                if (!oci_media_type_is_layer(x.layers[k].media_type)) {
                        r = doc_fail(&d, -EPROTONOSUPPORT, "layer %zu (%s) has unsupported media type `%s`",
                                     k + 1, x.layers[k].digest, x.layers[k].media_type_string);
                        goto fail;
                }
        *ret = x;
        return 0;
fail:
        oci_manifest_done(&x);
        return r;
}

static json_object *descriptor_to_json(const OciDescriptor *d)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "mediaType", json_object_new_string(
                d->media_type_string ? d->media_type_string : oci_media_type_to_string(d->media_type)));
        json_object_object_add(o, "digest", json_object_new_string(d->digest));
        json_object_object_add(o, "size", json_object_new_int64(d->size));
        return o;
}

char *oci_manifest_to_json(const OciManifest *m)
{
        _cleanup_json_ json_object *o = json_object_new_object();
        json_object *layers = json_object_new_array();

        json_object_object_add(o, "schemaVersion", json_object_new_int(2));
        json_object_object_add(o, "mediaType",
                               json_object_new_string(oci_media_type_to_string(OCI_MEDIA_MANIFEST)));
        json_object_object_add(o, "config", descriptor_to_json(&m->config));
        for (size_t k = 0; k < m->n_layers; k++)
                json_object_array_add(layers, descriptor_to_json(&m->layers[k]));
        json_object_object_add(o, "layers", layers);
        return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* ------------------------------------------------------------------ config */

OciConfig *oci_config_free(OciConfig *c)
{
        if (!c)
                return NULL;
        free(c->architecture);
        free(c->os);
        free(c->created);
        free(c->user);
        strv_free(c->env);
        strv_free(c->entrypoint);
        strv_free(c->cmd);
        free(c->working_dir);
        free(c->stop_signal);
        strv_free(c->exposed_ports);
        strv_free(c->volumes);
        strv_free(c->healthcheck.test);
        strv_free(c->labels);
        strv_free(c->diff_ids);
        free(c);
        return NULL;
}

static int healthcheck_parse(Doc *d, json_object *o, OciHealthcheck *h)
{
        int64_t interval = 0, timeout = 0, start = 0, retries = 0;
        int r;

        if ((r = get_strv(d, o, "Test", &h->test)) < 0 ||
            (r = get_uint(d, o, "Interval", false, &interval)) < 0 ||
            (r = get_uint(d, o, "Timeout", false, &timeout)) < 0 ||
            (r = get_uint(d, o, "StartPeriod", false, &start)) < 0 ||
            (r = get_uint(d, o, "Retries", false, &retries)) < 0)
                return r;
        if (retries > INT32_MAX)
                return doc_fail(d, -EBADMSG, "`Retries` is out of range");
        if (h->test && h->test[0] && !streq(h->test[0], "NONE") && !streq(h->test[0], "CMD") &&
            !streq(h->test[0], "CMD-SHELL"))
                return doc_fail(d, -EBADMSG, "healthcheck test kind `%s` is unknown", h->test[0]);
        h->interval_nsec = (uint64_t)interval;
        h->timeout_nsec = (uint64_t)timeout;
        h->start_period_nsec = (uint64_t)start;
        h->retries = (int)retries;
        return 0;
}

static int labels_parse(Doc *d, json_object *o, char ***ret)
{
        json_object *v;
        int r = get_typed(d, o, "Labels", json_type_object, &v);

        if (r < 0 || !v)
                return r;
        json_object_object_foreach(v, k, val) {
                if (!json_object_is_type(val, json_type_string))
                        return doc_fail(d, -EBADMSG, "label `%s` is not a string", k);
                strv_addf(ret, "%s=%s", k, json_object_get_string(val));
        }
        return 0;
}

static int exec_config_parse(Doc *d, json_object *o, OciConfig *c)
{
        json_object *h;
        int r;

        if ((r = get_string(d, o, "User", false, &c->user)) < 0 ||
            (r = get_strv(d, o, "Env", &c->env)) < 0 ||
            (r = get_strv(d, o, "Entrypoint", &c->entrypoint)) < 0 ||
            (r = get_strv(d, o, "Cmd", &c->cmd)) < 0 ||
            (r = get_string(d, o, "WorkingDir", false, &c->working_dir)) < 0 ||
            (r = get_string(d, o, "StopSignal", false, &c->stop_signal)) < 0 ||
            (r = get_keys(d, o, "ExposedPorts", &c->exposed_ports)) < 0 ||
            (r = get_keys(d, o, "Volumes", &c->volumes)) < 0 ||
            (r = labels_parse(d, o, &c->labels)) < 0 ||
            (r = get_typed(d, o, "Healthcheck", json_type_object, &h)) < 0 ||
            (h && (r = healthcheck_parse(d, h, &c->healthcheck)) < 0))
                return r;
        /* Empty strings mean "unset" in what docker writes. */
        if (c->user && !*c->user)
                c->user = (free(c->user), NULL);
        if (c->working_dir && !*c->working_dir)
                c->working_dir = (free(c->working_dir), NULL);
        if (c->stop_signal && !*c->stop_signal)
                c->stop_signal = (free(c->stop_signal), NULL);
        STRV_FOREACH(e, c->env)
                if (!strchr(*e, '=') || **e == '=')
                        return doc_fail(d, -EBADMSG, "`Env` item `%s` is not KEY=VALUE", *e);
        return 0;
}

int oci_config_parse(const char *what, const char *data, size_t size, OciConfig **ret,
                     char **ret_error)
{
        Doc d = { what, ret_error };
        _cleanup_json_ json_object *o = NULL;
        _cleanup_(oci_config_freep) OciConfig *c = xcalloc(1, sizeof(OciConfig));
        _cleanup_free_ char *type = NULL;
        json_object *cfg, *rootfs;
        int r;

        if ((r = doc_load(&d, data, size, json_type_object, &o)) < 0 ||
            (r = get_string(&d, o, "architecture", false, &c->architecture)) < 0 ||
            (r = get_string(&d, o, "os", false, &c->os)) < 0 ||
            (r = get_string(&d, o, "created", false, &c->created)) < 0 ||
            (r = get_typed(&d, o, "config", json_type_object, &cfg)) < 0 ||
            (cfg && (r = exec_config_parse(&d, cfg, c)) < 0) ||
            (r = get_typed(&d, o, "rootfs", json_type_object, &rootfs)) < 0)
                return r;
        if (!rootfs)
                return doc_fail(&d, -EBADMSG, "`rootfs` is missing");
        if ((r = get_string(&d, rootfs, "type", true, &type)) < 0 ||
            (r = get_strv(&d, rootfs, "diff_ids", &c->diff_ids)) < 0)
                return r;
        if (!streq(type, "layers"))
                return doc_fail(&d, -EPROTONOSUPPORT, "unsupported rootfs type `%s`", type);
        if (!c->diff_ids)
                return doc_fail(&d, -EBADMSG, "`rootfs.diff_ids` is missing");
        c->n_diff_ids = strv_length(c->diff_ids);
        STRV_FOREACH(id, c->diff_ids)
                if ((r = check_digest(&d, "rootfs.diff_ids", *id)) < 0)
                        return r;
        if (c->os && !streq(c->os, "linux"))
                return doc_fail(&d, -EPROTONOSUPPORT, "image is for os `%s`, not linux", c->os);
        *ret = TAKE_PTR(c);
        return 0;
}

/* ------------------------------------------------------------------ docker-archive */

void docker_manifest_done(DockerManifest *m)
{
        for (size_t k = 0; k < m->n_images; k++) {
                free(m->images[k].config);
                strv_free(m->images[k].repo_tags);
                strv_free(m->images[k].layers);
        }
        free(m->images);
        *m = (DockerManifest){};
}

/* A path inside the archive: relative, no "..", not empty. */
static int check_archive_path(Doc *d, const char *key, const char *p)
{
        if (!*p || *p == '/')
                return doc_fail(d, -EBADMSG, "`%s`: `%s` is not a relative path", key, p);
        for (const char *s = p; s; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL)
                if (startswith(s, "../") || streq(s, ".."))
                        return doc_fail(d, -EBADMSG, "`%s`: `%s` leaves the archive", key, p);
        return 0;
}

static int docker_image_parse(Doc *d, json_object *o, DockerImage *x)
{
        int r;

        if (!json_object_is_type(o, json_type_object))
                return doc_fail(d, -EBADMSG, "an image entry is not an object");
        if ((r = get_string(d, o, "Config", true, &x->config)) < 0 ||
            (r = check_archive_path(d, "Config", x->config)) < 0 ||
            (r = get_strv(d, o, "RepoTags", &x->repo_tags)) < 0 ||
            (r = get_strv(d, o, "Layers", &x->layers)) < 0)
                return r;
        if (!x->layers)
                return doc_fail(d, -EBADMSG, "`Layers` is missing");
        x->n_layers = strv_length(x->layers);
        STRV_FOREACH(l, x->layers)
                if ((r = check_archive_path(d, "Layers", *l)) < 0)
                        return r;
        return 0;
}

int docker_manifest_parse(const char *what, const char *data, size_t size,
                          DockerManifest *ret, char **ret_error)
{
        Doc d = { what, ret_error };
        _cleanup_json_ json_object *o = NULL;
        DockerManifest x = {};
        size_t n;
        int r;

        if ((r = doc_load(&d, data, size, json_type_array, &o)) < 0)
                return r;
        n = json_object_array_length(o);
        if (n == 0)
                return doc_fail(&d, -EBADMSG, "no image in the archive");
        x.images = xcalloc(n, sizeof(DockerImage));
        x.n_images = n;
        for (size_t k = 0; k < n; k++) {
                r = docker_image_parse(&d, json_object_array_get_idx(o, k), &x.images[k]);
                if (r < 0) {
                        docker_manifest_done(&x);
                        return r;
                }
        }
        *ret = x;
        return 0;
}
