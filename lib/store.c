/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "image.h"
#include "layer.h"
#include "parse.h"
#include "registry.h"
#include "sha256.h"
#include "store.h"
#include "util.h"

#define REPOSITORIES "repositories.json"
/* A layer blob is streamed; only documents are read whole. */
#define DOCUMENT_MAX OCI_DOCUMENT_MAX

static void json_putp(json_object **o) { json_object_put(*o); }
#define _cleanup_json_ _cleanup_(json_putp)

/* ccsupd --image-size-max, for every import of this process. */
static uint64_t import_size_max = STORE_DEFAULT_SIZE_MAX;

void store_set_size_max(uint64_t bytes)
{
        import_size_max = bytes;
}

/* ------------------------------------------------------------------ files */

static int open_in_root(int root, const char *path, int flags)
{
        struct open_how how = {
                .flags = (uint64_t)(flags | O_CLOEXEC),
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
        return fd < 0 ? -errno : fd;
}

static int read_fd_all(int fd, size_t max, char **ret, size_t *ret_size)
{
        char p[64];

        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        return read_full_file(p, max, ret, ret_size);
}

/* Writes dirfd/name atomically and durably. */
static int write_file_at(int dirfd, const char *name, const char *data, size_t size)
{
        _cleanup_free_ char *tmp = xasprintf(".tmp-%s-%d", name, (int)getpid());
        _cleanup_close_ int fd = -1;
        int r = 0;

        (void)unlinkat(dirfd, tmp, 0);
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, size);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlinkat(dirfd, tmp, 0);
                return r;
        }
        return fsync(dirfd) < 0 ? -errno : 0;
}

/* ------------------------------------------------------------------ the store */

typedef struct Store {
        char *root;               /* STATE_DIR/images */
        int fd, blobs, layers, tmp, lock;
} Store;

static void store_close(Store *s)
{
        free(s->root);
        safe_close(s->fd);
        safe_close(s->blobs);
        safe_close(s->layers);
        safe_close(s->tmp);
        safe_close(s->lock); /* releases the flock */
        *s = (Store){ .fd = -1, .blobs = -1, .layers = -1, .tmp = -1, .lock = -1 };
}

static int open_subdir(int at, const char *name, bool create)
{
        if (create && mkdirat(at, name, 0700) < 0 && errno != EEXIST)
                return -errno;
        int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* Opens STATE_DIR/images; with lock, creates it and takes the lock (with
 * nonblock, only tries: -EBUSY while someone else holds it). A reader
 * without lock gets -ENOENT when there is no store yet. */
static int store_open_full(const char *state_dir, bool lock, bool nonblock, Store *s,
                           char **ret_error)
{
        _cleanup_close_ int sd = -1, sha = -1;
        int r;

        *s = (Store){ .fd = -1, .blobs = -1, .layers = -1, .tmp = -1, .lock = -1 };
        s->root = path_join(state_dir, "images");
        if ((lock && mkdir(state_dir, 0700) < 0 && errno != EEXIST) ||
            (sd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
                r = error_set(ret_error, -errno, "state directory `%s`: %s", state_dir, strerror(errno));
                store_close(s);
                return r;
        }
        if (lock && ((mkdirat(sd, "images", 0700) < 0 && errno != EEXIST) ||
                     (mkdirat(sd, "images/blobs", 0700) < 0 && errno != EEXIST))) {
                r = error_set(ret_error, -errno, "image store `%s`: %s", s->root, strerror(errno));
                store_close(s);
                return r;
        }
        if ((r = s->fd = open_subdir(sd, "images", false)) < 0 ||
            (r = sha = open_subdir(s->fd, "blobs/sha256", lock)) < 0 ||
            (r = s->layers = open_subdir(s->fd, "layers", lock)) < 0 ||
            (r = s->tmp = open_subdir(s->fd, "tmp", lock)) < 0) {
                r = error_set(ret_error, r, "image store `%s`: %s", s->root, strerror(-r));
                store_close(s);
                return r;
        }
        s->blobs = TAKE_FD(sha);
        if (!lock)
                return 0;
        s->lock = openat(s->fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        r = s->lock < 0 || flock(s->lock, LOCK_EX | (nonblock ? LOCK_NB : 0)) < 0 ? -errno : 0;
        if (r == -EWOULDBLOCK)
                r = error_set(ret_error, -EBUSY, "the image store `%s` is busy: an import holds its lock",
                              s->root);
        else if (r < 0)
                r = error_set(ret_error, r, "lock `%s/lock`: %s", s->root, strerror(-r));
        if (r < 0) {
                store_close(s);
                return r;
        }
        return 0;
}

static int store_open(const char *state_dir, bool lock, Store *s, char **ret_error)
{
        return store_open_full(state_dir, lock, false, s, ret_error);
}

/* Removes every entry of dirfd whose name starts with ".tmp-" (or all of
 * them): what an interrupted import left. Only under the lock. */
static void remove_debris(int at, bool all)
{
        _cleanup_close_ int fd = fcntl(at, F_DUPFD_CLOEXEC, 3);
        DIR *d;

        if (fd < 0 || !(d = fdopendir(fd)))
                return;
        fd = -1;
        rewinddir(d);
        for (struct dirent *de; (de = readdir(d));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
                    (all || startswith(de->d_name, ".tmp-")))
                        (void)layer_remove_tree(dirfd(d), de->d_name);
        closedir(d);
}

/* ------------------------------------------------------------------ repositories.json */

static json_object *object_member(json_object *o, const char *key)
{
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object)) {
                v = json_object_new_object();
                json_object_object_add(o, key, v);
        }
        return v;
}

static int repos_load(const Store *s, json_object **ret, char **ret_error)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = openat(s->fd, REPOSITORIES, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        json_object *o;
        size_t n;
        int r;

        if (fd < 0 && errno != ENOENT)
                return error_set(ret_error, -errno, "`%s/%s`: %s", s->root, REPOSITORIES, strerror(errno));
        if (fd < 0)
                o = json_object_new_object();
        else {
                if ((r = read_fd_all(fd, 64 * 1024 * 1024, &text, &n)) < 0)
                        return error_set(ret_error, r, "`%s/%s`: %s", s->root, REPOSITORIES, strerror(-r));
                o = json_tokener_parse(text);
                if (!o || !json_object_is_type(o, json_type_object)) {
                        json_object_put(o);
                        return error_set(ret_error, -EBADMSG, "`%s/%s`: not a JSON object", s->root,
                                         REPOSITORIES);
                }
        }
        object_member(o, "tags");
        object_member(o, "sources");
        *ret = o;
        return 0;
}

static int repos_save(const Store *s, json_object *o, char **ret_error)
{
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
        int r = write_file_at(s->fd, REPOSITORIES, text, strlen(text));

        return r < 0 ? error_set(ret_error, r, "write `%s/%s`: %s", s->root, REPOSITORIES, strerror(-r)) : 0;
}

static const char *tag_digest(json_object *repos, const char *tag)
{
        json_object *v;

        if (!json_object_object_get_ex(object_member(repos, "tags"), tag, &v) ||
            !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static const char *source_field(json_object *repos, const char *key, const char *field)
{
        json_object *src, *v;

        if (!json_object_object_get_ex(object_member(repos, "sources"), key, &src) ||
            !json_object_is_type(src, json_type_object) ||
            !json_object_object_get_ex(src, field, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* ------------------------------------------------------------------ blobs */

static int verify_bytes(const char *digest, const char *data, size_t size, char **ret_error)
{
        char got[SHA256_DIGEST_STRING_MAX];

        sha256_digest(data, size, got);
        if (!streq(got, digest))
                return error_set(ret_error, -EBADMSG, "blob %s: digest mismatch (content is %s)", digest, got);
        return 0;
}

/* Reads and verifies a blob below root (a layout, or the store itself). */
static int blob_read_at(int root, const char *where, const char *digest, int64_t want_size,
                        char **ret, size_t *ret_size, char **ret_error)
{
        _cleanup_free_ char *path = xasprintf("blobs/sha256/%s", oci_digest_hex(digest));
        _cleanup_free_ char *data = NULL;
        _cleanup_close_ int fd = open_in_root(root, path, O_RDONLY);
        size_t n;
        int r;

        if (fd < 0)
                return error_set(ret_error, fd, "blob %s: %s (%s)", digest, strerror(-fd), where);
        if ((r = read_fd_all(fd, DOCUMENT_MAX, &data, &n)) < 0)
                return error_set(ret_error, r, "blob %s: %s (%s)", digest, strerror(-r), where);
        if (want_size >= 0 && (uint64_t)want_size != n)
                return error_set(ret_error, -EBADMSG, "blob %s: size mismatch (descriptor says %lld, blob has %zu bytes)",
                                 digest, (long long)want_size, n);
        if ((r = verify_bytes(digest, data, n, ret_error)) < 0)
                return r;
        *ret = TAKE_PTR(data);
        *ret_size = n;
        return 0;
}

static int store_blob_read(const Store *s, const char *digest, char **ret, size_t *ret_size,
                           char **ret_error)
{
        _cleanup_free_ char *where = xasprintf("image store `%s`", s->root);
        return blob_read_at(s->fd, where, digest, -1, ret, ret_size, ret_error);
}

static int store_blob_write(const Store *s, const char *digest, const char *data, size_t size,
                            char **ret_error)
{
        const char *hex = oci_digest_hex(digest);
        struct stat st;
        int r;

        if (fstatat(s->blobs, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && (size_t)st.st_size == size)
                return 0;
        r = write_file_at(s->blobs, hex, data, size);
        return r < 0 ? error_set(ret_error, r, "write blob %s: %s", digest, strerror(-r)) : 0;
}

/* ------------------------------------------------------------------ sources */

static bool tag_is_valid(const char *t)
{
        size_t n = strlen(t);

        if (n == 0 || n > 128)
                return false;
        for (; *t; t++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *t))
                        return false;
        return true;
}

int store_source_parse(const char *s, ImageKind *ret_kind, char **ret_path, char **ret_tag,
                       char **ret_error)
{
        _cleanup_free_ char *path = NULL, *tag = NULL, *abs = NULL;
        const char *rest, *colon;
        ImageKind kind;

        if ((rest = startswith(s, "oci:")))
                kind = IMAGE_OCI;
        else if ((rest = startswith(s, "oci-archive:")))
                kind = IMAGE_OCI_ARCHIVE;
        else if ((rest = startswith(s, "docker-archive:")))
                kind = IMAGE_DOCKER_ARCHIVE;
        else
                return error_set(ret_error, -EINVAL, "`%s` is not an image source (oci:PATH[:TAG], oci-archive:PATH[:TAG] or docker-archive:PATH)", s);
        colon = strrchr(rest, ':');
        if (kind != IMAGE_DOCKER_ARCHIVE && colon && !strchr(colon, '/')) {
                path = xstrndup(rest, (size_t)(colon - rest));
                tag = xstrdup(colon + 1);
                if (!tag_is_valid(tag))
                        return error_set(ret_error, -EINVAL, "invalid tag `%s`", tag);
        } else
                path = xstrdup(rest);
        if (!*path)
                return error_set(ret_error, -EINVAL, "`%s`: no path", s);
        if (path[0] != '/') {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);
                if (!cwd)
                        return error_set(ret_error, -errno, "getcwd: %s", strerror(errno));
                abs = path_join(cwd, path);
                free(path);
                path = TAKE_PTR(abs);
        }
        *ret_kind = kind;
        *ret_path = TAKE_PTR(path);
        *ret_tag = TAKE_PTR(tag);
        return 0;
}

typedef struct Source {
        ImageKind kind;
        char *path, *tag;
        char *key;                /* "oci:/abs/path:tag", as recorded */
        char *stamp;              /* changes when the source file does */
        char *label;              /* "oci layout `/p`", for messages */
        char *staging;            /* name under the store's tmp/ */
        int root;                 /* the layout or the unpacked archive */
} Source;

static void source_done(Source *src, const Store *s)
{
        if (src->staging && s->tmp >= 0)
                (void)layer_remove_tree(s->tmp, src->staging);
        free(src->path);
        free(src->tag);
        free(src->key);
        free(src->stamp);
        free(src->label);
        free(src->staging);
        safe_close(src->root);
        *src = (Source){ .root = -1 };
}

static int source_init(Source *src, const char *string, char **ret_error)
{
        _cleanup_free_ char *stamp_path = NULL;
        struct stat st;
        int r;

        *src = (Source){ .root = -1 };
        r = store_source_parse(string, &src->kind, &src->path, &src->tag, ret_error);
        if (r < 0)
                return r;
        src->key = xasprintf("%s:%s%s%s", image_kind_to_string(src->kind), src->path,
                             src->tag ? ":" : "", src->tag ? src->tag : "");
        src->label = xasprintf("%s `%s`", src->kind == IMAGE_OCI ? "oci layout" :
                                          src->kind == IMAGE_OCI_ARCHIVE ? "oci archive" : "docker archive",
                               src->path);
        stamp_path = src->kind == IMAGE_OCI ? path_join(src->path, "index.json") : xstrdup(src->path);
        if (stat(stamp_path, &st) < 0)
                return error_set(ret_error, -errno, "%s: %s", src->label,
                                 src->kind == IMAGE_OCI && errno == ENOENT
                                         ? "not an OCI image layout (no index.json)" : strerror(errno));
        src->stamp = xasprintf("%lld.%09ld:%lld:%llu", (long long)st.st_mtim.tv_sec,
                               st.st_mtim.tv_nsec, (long long)st.st_size,
                               (unsigned long long)st.st_ino);
        return 0;
}

/* The message of an unpacking that failed: for the budget's bound, its
 * name for the operator; for the reserve, the store; else what, then the
 * message. */
static int budget_error(char **ret_error, int r, const Store *s, const LayerBudget *b,
                        const char *what)
{
        if (b->over_size) {
                _cleanup_free_ char *max = format_size_spec(import_size_max);
                return error_set(ret_error, r, "%s unpacks to more than %s (--image-size-max)", what, max);
        }
        if (b->over_space)
                return error_prefix(ret_error, r, "%s: unpacking into `%s`", what, s->root);
        return error_prefix(ret_error, r, "%s", what);
}

/* Makes src->root: the layout directory, or an archive unpacked into the
 * store's tmp/ (archive members may be symlinks to each other; they are
 * resolved inside that directory only). */
static int source_open(Source *src, const Store *s, char **ret_error)
{
        _cleanup_close_ int in = -1;
        LayerBudget budget;
        int r;

        if (src->kind == IMAGE_OCI) {
                src->root = open(src->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                return src->root < 0 ? error_set(ret_error, -errno, "%s: %s", src->label, strerror(errno)) : 0;
        }
        in = open(src->path, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return error_set(ret_error, -errno, "%s: %s", src->label, strerror(errno));
        src->staging = xasprintf("src-%d", (int)getpid());
        (void)layer_remove_tree(s->tmp, src->staging);
        if ((src->root = open_subdir(s->tmp, src->staging, true)) < 0)
                return error_set(ret_error, src->root, "staging: %s", strerror(-src->root));
        /* The archive itself may be compressed: bounded like an image. */
        layer_budget_init(&budget, import_size_max, s->tmp);
        r = layer_extract_bounded(in, src->root, LAYER_PLAIN, &budget, NULL, ret_error);
        return r < 0 ? budget_error(ret_error, r, s, &budget, src->label) : 0;
}

/* ------------------------------------------------------------------ importing */

/* What an import produced, before it is committed. */
typedef struct Imported {
        char *manifest, *config;  /* document bytes */
        size_t manifest_size, config_size;
        char manifest_digest[SHA256_DIGEST_STRING_MAX];
        char config_digest[SHA256_DIGEST_STRING_MAX];
        char **names;             /* NAME:TAG from the archive */
        LayerBudget budget;       /* of the layers this import unpacks */
        char **created;           /* those layers (names under layers/), for a failure */
} Imported;

static void imported_done(Imported *im)
{
        free(im->manifest);
        free(im->config);
        strv_free(im->names);
        strv_free(im->created);
        *im = (Imported){};
}

/* Unpacks one layer into layers/HEX(diff_id) unless it is there. */
static int import_layer(const Store *s, const Source *src, Imported *im, const char *path,
                        const char *digest, const char *diff_id, size_t idx, size_t n,
                        char **ret_error)
{
        _cleanup_free_ char *what = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        if (fstatat(s->layers, oci_digest_hex(diff_id), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode))
                return 0;
        fd = open_in_root(src->root, path, O_RDONLY);
        if (fd < 0)
                return error_set(ret_error, fd, "layer %zu of %zu: blob %s: %s (%s)", idx + 1, n,
                                 digest ? digest : path, strerror(-fd), src->label);
        r = layer_unpack_bounded(fd, s->layers, oci_digest_hex(diff_id), LAYER_OCI_WHITEOUTS,
                                 digest, diff_id, &im->budget, NULL, ret_error);
        if (im->budget.over_size || im->budget.over_space) {
                /* Which image: the source, and the whole of its new layers. */
                what = xasprintf("%s: layer %zu of %zu (%s)%s", src->label, idx + 1, n, diff_id,
                                 im->budget.over_size ? ": the image" : "");
                return budget_error(ret_error, r, s, &im->budget, what);
        }
        if (r < 0)
                return error_prefix(ret_error, r, "layer %zu of %zu (%s)", idx + 1, n, diff_id);
        strv_add(&im->created, oci_digest_hex(diff_id));
        return 0;
}

/* Follows an index to the manifest descriptor for tag (nested indexes are
 * narrowed by platform). */
static int oci_pick_manifest(const Source *src, OciDescriptor *ret, char **ret_error)
{
        _cleanup_free_ char *data = NULL, *what = xasprintf("%s: index.json", src->label);
        _cleanup_close_ int fd = open_in_root(src->root, "index.json", O_RDONLY);
        OciIndex idx = {};
        size_t n;
        int r, k;

        if (fd < 0)
                return error_set(ret_error, fd, "%s: %s", what, strerror(-fd));
        if ((r = read_fd_all(fd, DOCUMENT_MAX, &data, &n)) < 0)
                return error_set(ret_error, r, "%s: %s", what, strerror(-r));
        if ((r = oci_index_parse(what, data, n, &idx, ret_error)) < 0)
                return r;
        for (int depth = 0;; depth++) {
                k = oci_index_select(&idx, what, depth == 0 ? src->tag : NULL, ret_error);
                if (k < 0) {
                        oci_index_done(&idx);
                        return k;
                }
                OciDescriptor d = idx.manifests[k];
                idx.manifests[k] = (OciDescriptor){};
                oci_index_done(&idx);
                if (!oci_media_type_is_index(d.media_type)) {
                        *ret = d;
                        return 0;
                }
                free(data);
                data = NULL;
                free(what);
                what = xasprintf("index %s", d.digest);
                r = depth < 4 ? blob_read_at(src->root, src->label, d.digest, d.size, &data, &n, ret_error)
                              : error_set(ret_error, -ELOOP, "%s: indexes nested too deep", src->label);
                if (r >= 0)
                        r = oci_index_parse(what, data, n, &idx, ret_error);
                oci_descriptor_done(&d);
                if (r < 0)
                        return r;
        }
}

static int import_oci(const Store *s, const Source *src, Imported *im, char **ret_error)
{
        _cleanup_(oci_config_freep) OciConfig *cfg = NULL;
        _cleanup_free_ char *what = NULL;
        OciDescriptor d = {};
        OciManifest m = {};
        int r;

        if (faccessat(src->root, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
                return error_set(ret_error, -ENOENT, "%s: not an OCI image layout (no oci-layout file)", src->label);
        if ((r = oci_pick_manifest(src, &d, ret_error)) < 0)
                return r;
        if (d.ref_name && strchr(d.ref_name, ':') && !strchr(strrchr(d.ref_name, ':'), '/'))
                strv_add(&im->names, d.ref_name);
        r = blob_read_at(src->root, src->label, d.digest, d.size, &im->manifest, &im->manifest_size, ret_error);
        if (r >= 0) {
                snprintf(im->manifest_digest, sizeof(im->manifest_digest), "%s", d.digest);
                what = xasprintf("manifest %s", d.digest);
                r = oci_manifest_parse(what, im->manifest, im->manifest_size, &m, ret_error);
        }
        oci_descriptor_done(&d);
        if (r < 0)
                return r;
        r = blob_read_at(src->root, src->label, m.config.digest, m.config.size, &im->config,
                         &im->config_size, ret_error);
        if (r >= 0) {
                snprintf(im->config_digest, sizeof(im->config_digest), "%s", m.config.digest);
                free(what);
                what = xasprintf("config %s", m.config.digest);
                r = oci_config_parse(what, im->config, im->config_size, &cfg, ret_error);
        }
        if (r >= 0 && cfg->n_diff_ids != m.n_layers)
                r = error_set(ret_error, -EBADMSG, "manifest %s: %zu layers, but the config lists %zu diff IDs",
                              im->manifest_digest, m.n_layers, cfg->n_diff_ids);
        for (size_t k = 0; r >= 0 && k < m.n_layers; k++) {
                _cleanup_free_ char *path = xasprintf("blobs/sha256/%s", oci_digest_hex(m.layers[k].digest));
                r = import_layer(s, src, im, path, m.layers[k].digest, cfg->diff_ids[k], k,
                                 m.n_layers, ret_error);
        }
        oci_manifest_done(&m);
        return r;
}

/* "blobs/sha256/HEX" or "HEX.json"/"HEX/…" names carry a digest: check it. */
static const char *digest_from_archive_path(const char *path, char buf[SHA256_DIGEST_STRING_MAX])
{
        const char *hex = startswith(path, "blobs/sha256/");

        if (!hex)
                return NULL;
        snprintf(buf, SHA256_DIGEST_STRING_MAX, "sha256:%s", hex);
        return oci_digest_is_valid(buf) ? buf : NULL;
}

static int docker_pick(const Source *src, const DockerManifest *dm, char **ret_error)
{
        if (dm->n_images == 1)
                return 0;
        for (size_t k = 0; src->tag && k < dm->n_images; k++)
                STRV_FOREACH(t, dm->images[k].repo_tags)
                        if (streq(*t, src->tag))
                                return (int)k;
        return error_set(ret_error, -ENOENT, "%s holds %zu images; only single-image archives are supported",
                         src->label, dm->n_images);
}

static void docker_synthesize_manifest(const Source *src, const OciConfig *cfg,
                                       const DockerImage *img, Imported *im)
{
        OciManifest m = { .media_type = OCI_MEDIA_MANIFEST };

        m.config = (OciDescriptor){ .media_type = OCI_MEDIA_CONFIG, .digest = im->config_digest,
                                    .size = (int64_t)im->config_size };
        m.layers = xcalloc(img->n_layers + 1, sizeof(OciDescriptor));
        m.n_layers = img->n_layers;
        for (size_t k = 0; k < img->n_layers; k++) {
                _cleanup_close_ int fd = open_in_root(src->root, img->layers[k], O_RDONLY);
                struct stat st = {};
                if (fd >= 0)
                        (void)fstat(fd, &st);
                m.layers[k] = (OciDescriptor){ .media_type = OCI_MEDIA_LAYER_TAR,
                                               .digest = cfg->diff_ids[k], .size = st.st_size };
        }
        im->manifest = oci_manifest_to_json(&m);
        im->manifest_size = strlen(im->manifest);
        sha256_digest(im->manifest, im->manifest_size, im->manifest_digest);
        free(m.layers);
}

static int import_docker(const Store *s, const Source *src, Imported *im, char **ret_error)
{
        _cleanup_(oci_config_freep) OciConfig *cfg = NULL;
        _cleanup_free_ char *data = NULL, *what = xasprintf("%s: manifest.json", src->label);
        _cleanup_close_ int fd = open_in_root(src->root, "manifest.json", O_RDONLY);
        char buf[SHA256_DIGEST_STRING_MAX];
        DockerManifest dm = {};
        const DockerImage *img;
        const char *want;
        size_t n;
        int r, k;

        if (fd < 0)
                return error_set(ret_error, fd, "%s: %s", what, strerror(-fd));
        if ((r = read_fd_all(fd, DOCUMENT_MAX, &data, &n)) < 0)
                return error_set(ret_error, r, "%s: %s", what, strerror(-r));
        if ((r = docker_manifest_parse(what, data, n, &dm, ret_error)) < 0)
                return r;
        if ((k = r = docker_pick(src, &dm, ret_error)) < 0)
                goto out;
        img = &dm.images[k];
        im->names = strv_copy(img->repo_tags);
        safe_close(fd);
        fd = open_in_root(src->root, img->config, O_RDONLY);
        if (fd < 0 || (r = read_fd_all(fd, DOCUMENT_MAX, &im->config, &im->config_size)) < 0) {
                r = error_set(ret_error, fd < 0 ? fd : r, "%s: config `%s`: %s", src->label, img->config,
                              strerror(fd < 0 ? -fd : -r));
                goto out;
        }
        sha256_digest(im->config, im->config_size, im->config_digest);
        want = digest_from_archive_path(img->config, buf);
        if (!want && strlen(img->config) == 64 + 5 && startswith(img->config + 64, ".json")) {
                snprintf(buf, sizeof(buf), "sha256:%.64s", img->config);
                want = oci_digest_is_valid(buf) ? buf : NULL;
        }
        if (want && (r = verify_bytes(want, im->config, im->config_size, ret_error)) < 0)
                goto out;
        free(what);
        what = xasprintf("config %s", im->config_digest);
        if ((r = oci_config_parse(what, im->config, im->config_size, &cfg, ret_error)) < 0)
                goto out;
        if (cfg->n_diff_ids != img->n_layers) {
                r = error_set(ret_error, -EBADMSG, "%s: %zu layers, but the config lists %zu diff IDs",
                              src->label, img->n_layers, cfg->n_diff_ids);
                goto out;
        }
        for (size_t l = 0; r >= 0 && l < img->n_layers; l++)
                r = import_layer(s, src, im, img->layers[l], digest_from_archive_path(img->layers[l], buf),
                                 cfg->diff_ids[l], l, img->n_layers, ret_error);
        if (r >= 0)
                docker_synthesize_manifest(src, cfg, img, im);
out:
        docker_manifest_done(&dm);
        return r < 0 ? r : 0;
}

/* "NAME[:TAG]" with TAG defaulting to latest; NULL when invalid. */
static char *normalize_name(const char *name)
{
        const char *slash = strrchr(name, '/'), *colon = strrchr(name, ':');
        size_t n;

        if (colon && (!slash || colon > slash)) {
                if (!tag_is_valid(colon + 1))
                        return NULL;
                n = (size_t)(colon - name);
        } else
                n = strlen(name), colon = NULL;
        if (n == 0 || n > 255 || strchr(name, '@'))
                return NULL;
        for (size_t k = 0; k < n; k++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/:", name[k]))
                        return NULL;
        return colon ? xstrdup(name) : xasprintf("%s:latest", name);
}

/* Makes the image visible: blobs, then the names and the source. */
static int commit(const Store *s, const Source *src, const Imported *im, char *const *names,
                  char **ret_error)
{
        _cleanup_json_ json_object *repos = NULL;
        json_object *rec;
        int r;

        if ((r = store_blob_write(s, im->config_digest, im->config, im->config_size, ret_error)) < 0 ||
            (r = store_blob_write(s, im->manifest_digest, im->manifest, im->manifest_size, ret_error)) < 0 ||
            (r = repos_load(s, &repos, ret_error)) < 0)
                return r;
        STRV_FOREACH(n, names)
                json_object_object_add(object_member(repos, "tags"), *n,
                                       json_object_new_string(im->manifest_digest));
        rec = json_object_new_object();
        json_object_object_add(rec, "digest", json_object_new_string(im->manifest_digest));
        json_object_object_add(rec, "stamp", json_object_new_string(src->stamp));
        json_object_object_add(object_member(repos, "sources"), src->key, rec);
        return repos_save(s, repos, ret_error);
}

static bool image_complete(const char *state_dir, const char *digest)
{
        ResolvedImage ri = {};
        _cleanup_free_ char *err = NULL;
        int r = store_open_image(state_dir, digest, &ri, &err);

        resolved_image_done(&ri);
        return r >= 0;
}

static int import_locked(const char *state_dir, const Store *s, Source *src, const char *name,
                         bool default_names, char **ret_digest, char **ret_error)
{
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_json_ json_object *repos = NULL;
        Imported im = {};
        const char *done;
        int r;

        if (name) {
                char *n = normalize_name(name);
                if (!n)
                        return error_set(ret_error, -EINVAL, "invalid image name `%s` (expected NAME[:TAG])", name);
                strv_push(&names, n);
        }
        /* Another import (or an earlier run) may have done it all. */
        if ((r = repos_load(s, &repos, ret_error)) < 0)
                return r;
        done = source_field(repos, src->key, "digest");
        if (!names && done && streq_ptr(source_field(repos, src->key, "stamp"), src->stamp) &&
            image_complete(state_dir, done)) {
                *ret_digest = xstrdup(done);
                return 0;
        }
        if ((r = source_open(src, s, ret_error)) < 0)
                return r;
        layer_budget_init(&im.budget, import_size_max, s->layers);
        r = src->kind == IMAGE_DOCKER_ARCHIVE ? import_docker(s, src, &im, ret_error)
                                              : import_oci(s, src, &im, ret_error);
        if (r >= 0 && !names && default_names)
                STRV_FOREACH(n, im.names) {
                        char *x = normalize_name(*n);
                        if (x)
                                strv_push(&names, x);
                }
        if (r >= 0)
                r = commit(s, src, &im, names, ret_error);
        if (r >= 0)
                *ret_digest = xstrdup(im.manifest_digest);
        /* A failed import leaves nothing: no image refers to the layers it
         * made, and nobody else imports under the lock. */
        if (r < 0)
                STRV_FOREACH(l, im.created)
                        (void)layer_remove_tree(s->layers, *l);
        imported_done(&im);
        return r;
}

static int import_source(const char *state_dir, const char *source, const char *name,
                         bool default_names, char **ret_digest, char **ret_error)
{
        Store s;
        Source src;
        int r;

        /* A registry reference: pulled (ccsupd's import helper does this for
         * Image=HOST/REPO:TAG), with ccsupd's registry options. */
        if (registry_ref_is_remote(source))
                return registry_pull(state_dir, source, registry_defaults(), ret_digest, ret_error);
        if ((r = source_init(&src, source, ret_error)) < 0) {
                source_done(&src, &(Store){ .tmp = -1 });
                return r;
        }
        if ((r = store_open(state_dir, true, &s, ret_error)) < 0) {
                source_done(&src, &s);
                return r;
        }
        /* Under the lock nobody else imports: whatever is temporary is debris. */
        remove_debris(s.layers, false);
        remove_debris(s.blobs, false);
        remove_debris(s.fd, false);
        remove_debris(s.tmp, true);
        r = import_locked(state_dir, &s, &src, name, default_names, ret_digest, ret_error);
        source_done(&src, &s);
        store_close(&s);
        return r;
}

int store_import(const char *state_dir, const char *source, const char *name,
                 char **ret_digest, char **ret_error)
{
        return import_source(state_dir, source, name, true, ret_digest, ret_error);
}

/* ------------------------------------------------------------------ remote */

static int remote_layer(const Store *s, const StoreRemote *rm, LayerBudget *budget, bool *made,
                        const OciDescriptor *d, const char *diff_id, size_t idx, size_t n, char **ret_error)
{
        _cleanup_free_ char *uerr = NULL, *terr = NULL;
        void *handle = NULL;
        struct stat st;
        int fd = -1, r, t;

        if (fstatat(s->layers, oci_digest_hex(diff_id), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISDIR(st.st_mode)) {
                if (rm->layer_present)
                        rm->layer_present(rm->userdata, d, idx, n);
                return 0;
        }
        if ((r = rm->open_layer(rm->userdata, d, idx, n, &fd, &handle, ret_error)) < 0)
                return r;
        /* Staged: one syncfs() for every layer of the pull (remote_layers()). */
        r = layer_unpack_bounded(fd, s->layers, oci_digest_hex(diff_id), LAYER_OCI_WHITEOUTS | LAYER_STAGE,
                                 d->digest, diff_id, budget, NULL, &uerr);
        safe_close(fd); /* a transfer that is still writing stops here */
        t = rm->close_layer(rm->userdata, handle, r, &terr);
        if (t < 0) {
                if (r >= 0)
                        layer_stage_abort(s->layers, oci_digest_hex(diff_id));
                *ret_error = TAKE_PTR(terr);
                return t;
        }
        if (budget->over_size || budget->over_space) {
                _cleanup_free_ char *what = xasprintf("%s: layer %zu of %zu (%s)%s", rm->label, idx + 1, n,
                                                      diff_id, budget->over_size ? ": the image" : "");
                *ret_error = TAKE_PTR(uerr);
                return budget_error(ret_error, r, s, budget, what);
        }
        if (r < 0) {
                *ret_error = TAKE_PTR(uerr);
                return error_prefix(ret_error, r, "%s: layer %zu of %zu (%s)", rm->label, idx + 1, n, d->digest);
        }
        *made = true;
        return 0;
}

/* Several layers stream and unpack at once (on several cores; the
 * transfers overlap the unpacking). Each has its own budget bounded by what
 * the image may still use; their sum is checked when they are done. Each
 * is staged unsynced; when all are there, one syncfs() makes them durable
 * before they move into place (a crash before leaves only debris). A layer
 * the image lists twice is fetched once. */
#define REMOTE_PARALLEL 3

typedef struct RemoteJob {
        const Store *s;
        const StoreRemote *rm;
        const OciDescriptor *d;
        const char *diff_id;
        size_t idx, n;
        LayerBudget budget;
        bool made, started, duplicate;
        int r;
        char *error;
        pthread_t thread;
} RemoteJob;

static void *remote_job_run(void *p)
{
        RemoteJob *j = p;

        if (j->duplicate) {
                if (j->rm->layer_present)
                        j->rm->layer_present(j->rm->userdata, j->d, j->idx, j->n);
                return NULL;
        }
        j->r = remote_layer(j->s, j->rm, &j->budget, &j->made, j->d, j->diff_id, j->idx, j->n, &j->error);
        return NULL;
}

static int remote_layers(const Store *s, const StoreRemote *rm, Imported *im, const OciManifest *m,
                         const OciConfig *cfg, char **ret_error)
{
        _cleanup_free_ RemoteJob *jobs = xcalloc(m->n_layers + 1, sizeof(RemoteJob));
        uint64_t total = im->budget.size;
        size_t next = 0, done = 0;
        int r = 0;

        for (size_t k = 0; k < m->n_layers; k++) {
                jobs[k] = (RemoteJob){ .s = s, .rm = rm, .d = &m->layers[k], .diff_id = cfg->diff_ids[k],
                                       .idx = k, .n = m->n_layers, .budget = im->budget };
                for (size_t e = 0; e < k && !jobs[k].duplicate; e++)
                        jobs[k].duplicate = streq(cfg->diff_ids[e], cfg->diff_ids[k]);
        }
        /* A window of REMOTE_PARALLEL threads, joined in layer order. */
        while (done < m->n_layers) {
                while (next < m->n_layers && next - done < REMOTE_PARALLEL && r >= 0) {
                        RemoteJob *j = &jobs[next++];
                        int e = pthread_create(&j->thread, NULL, remote_job_run, j);
                        if (e != 0) {
                                remote_job_run(j); /* no thread: in this one */
                                continue;
                        }
                        j->started = true;
                }
                if (done >= next)
                        break;
                RemoteJob *j = &jobs[done++];
                if (j->started)
                        pthread_join(j->thread, NULL);
                total += j->budget.size - im->budget.size;
                if (j->r < 0 && r >= 0) {
                        r = j->r;
                        free(*ret_error);
                        *ret_error = TAKE_PTR(j->error);
                }
                free(j->error);
        }
        if (r >= 0 && im->budget.size_max && im->budget.size_max != UINT64_MAX && total > im->budget.size_max) {
                LayerBudget over = im->budget;
                _cleanup_free_ char *what = xasprintf("%s: the image", rm->label);
                over.over_size = true;
                r = budget_error(ret_error, -EFBIG, s, &over, what);
        }
        if (r >= 0 && syncfs(s->layers) < 0)
                r = error_set(ret_error, -errno, "%s: syncfs: %s", rm->label, strerror(errno));
        for (size_t k = 0; k < m->n_layers; k++) {
                if (!jobs[k].made)
                        continue;
                if (r < 0) {
                        layer_stage_abort(s->layers, oci_digest_hex(jobs[k].diff_id));
                        continue;
                }
                _cleanup_free_ char *cerr = NULL;
                int c = layer_stage_commit(s->layers, oci_digest_hex(jobs[k].diff_id), &cerr);
                if (c < 0) {
                        r = error_set(ret_error, c, "%s: layer %zu of %zu: %s", rm->label, k + 1, m->n_layers, cerr);
                        continue;
                }
                strv_add(&im->created, oci_digest_hex(jobs[k].diff_id));
        }
        if (r >= 0 && fsync(s->layers) < 0 && errno != EINVAL)
                r = error_set(ret_error, -errno, "%s: fsync: %s", rm->label, strerror(errno));
        if (r < 0)
                return r;
        if (r >= 0)
                im->budget.size = total;
        return r;
}

static int remote_locked(const Store *s, const StoreRemote *rm, Imported *im, char **ret_error)
{
        _cleanup_(oci_config_freep) OciConfig *cfg = NULL;
        _cleanup_free_ char *what = xasprintf("manifest %s", im->manifest_digest);
        OciManifest m = {};
        int r;

        if ((r = oci_manifest_parse(what, im->manifest, im->manifest_size, &m, ret_error)) < 0)
                return r;
        snprintf(im->config_digest, sizeof(im->config_digest), "%s", m.config.digest);
        r = store_blob_read(s, m.config.digest, &im->config, &im->config_size, ret_error);
        if (r < 0) {
                free(*ret_error);
                *ret_error = NULL;
                r = rm->fetch_document(rm->userdata, &m.config, &im->config, &im->config_size, ret_error);
        }
        if (r >= 0) {
                free(what);
                what = xasprintf("config %s", m.config.digest);
                r = oci_config_parse(what, im->config, im->config_size, &cfg, ret_error);
        }
        if (r >= 0 && cfg->n_diff_ids != m.n_layers)
                r = error_set(ret_error, -EBADMSG, "%s: manifest %s: %zu layers, but the config lists %zu diff IDs",
                              rm->label, im->manifest_digest, m.n_layers, cfg->n_diff_ids);
        if (r >= 0)
                r = remote_layers(s, rm, im, &m, cfg, ret_error);
        oci_manifest_done(&m);
        return r;
}

int store_import_remote(const char *state_dir, const StoreRemote *remote, const char *manifest_digest,
                        const char *manifest, size_t manifest_size, char *const *names,
                        char **ret_error)
{
        _cleanup_strv_free_ char **norm = NULL;
        Imported im = {};
        Source src = { .root = -1, .key = (char *)remote->source_key, .stamp = (char *)"registry" };
        Store s;
        int r;

        STRV_FOREACH(n, names) {
                char *x = normalize_name(*n);
                if (!x)
                        return error_set(ret_error, -EINVAL, "invalid image name `%s`", *n);
                strv_push(&norm, x);
        }
        if ((r = store_open(state_dir, true, &s, ret_error)) < 0)
                return r;
        /* An unchanged tag: every name and the source already say so, and
         * the image is complete. Nothing to write (no fsync either). */
        {
                _cleanup_json_ json_object *repos = NULL;
                _cleanup_free_ char *ignored = NULL;
                bool same = repos_load(&s, &repos, &ignored) >= 0 &&
                            (!remote->source_key ||
                             streq_ptr(source_field(repos, remote->source_key, "digest"), manifest_digest));
                STRV_FOREACH(n, norm)
                        same = same && streq_ptr(tag_digest(repos, *n), manifest_digest);
                if (same && image_complete(state_dir, manifest_digest)) {
                        store_close(&s);
                        return 0;
                }
        }
        remove_debris(s.layers, false);
        remove_debris(s.blobs, false);
        remove_debris(s.fd, false);
        remove_debris(s.tmp, true);
        snprintf(im.manifest_digest, sizeof(im.manifest_digest), "%s", manifest_digest);
        if (manifest) {
                im.manifest = xstrndup(manifest, manifest_size);
                im.manifest_size = manifest_size;
                r = 0;
        } else /* stored already: read (and verify) it there */
                r = store_blob_read(&s, manifest_digest, &im.manifest, &im.manifest_size, ret_error);
        layer_budget_init(&im.budget, import_size_max, s.layers);
        if (r >= 0)
                r = remote_locked(&s, remote, &im, ret_error);
        if (r >= 0 && remote->source_key)
                r = commit(&s, &src, &im, norm, ret_error);
        else if (r >= 0) {
                /* commit() without a source record */
                _cleanup_json_ json_object *repos = NULL;
                if ((r = store_blob_write(&s, im.config_digest, im.config, im.config_size, ret_error)) >= 0 &&
                    (r = store_blob_write(&s, im.manifest_digest, im.manifest, im.manifest_size, ret_error)) >= 0 &&
                    (r = repos_load(&s, &repos, ret_error)) >= 0) {
                        STRV_FOREACH(n, norm)
                                json_object_object_add(object_member(repos, "tags"), *n,
                                                       json_object_new_string(im.manifest_digest));
                        r = repos_save(&s, repos, ret_error);
                }
        }
        if (r < 0)
                STRV_FOREACH(l, im.created)
                        (void)layer_remove_tree(s.layers, *l);
        imported_done(&im);
        store_close(&s);
        return r;
}

int store_tag(const char *state_dir, const char *name, const char *digest, char **ret_error)
{
        _cleanup_json_ json_object *repos = NULL;
        _cleanup_free_ char *norm = normalize_name(name), *key = NULL;
        json_object *rec;
        Store s;
        int r;

        if (!norm)
                return error_set(ret_error, -EINVAL, "invalid image name `%s`", name);
        if (!image_complete(state_dir, digest))
                return error_set(ret_error, -ENOENT, "image %s is not (completely) in the store", digest);
        if ((r = store_open(state_dir, true, &s, ret_error)) < 0)
                return r;
        if ((r = repos_load(&s, &repos, ret_error)) >= 0) {
                json_object_object_add(object_member(repos, "tags"), norm, json_object_new_string(digest));
                key = xasprintf("docker://%s", norm);
                if (json_object_object_get_ex(object_member(repos, "sources"), key, &rec) &&
                    json_object_is_type(rec, json_type_object))
                        json_object_object_add(rec, "digest", json_object_new_string(digest));
                r = repos_save(&s, repos, ret_error);
        }
        store_close(&s);
        return r;
}

/* ------------------------------------------------------------------ async */

int store_import_async(const char *state_dir, const char *source, const char *name,
                       StoreImportJob *ret, char **ret_error)
{
        int p[2];
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return error_set(ret_error, -errno, "pipe: %s", strerror(errno));
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                safe_close(p[0]);
                safe_close(p[1]);
                return error_set(ret_error, r, "fork: %s", strerror(-r));
        }
        if (pid == 0) {
                _cleanup_free_ char *digest = NULL, *err = NULL, *msg = NULL;
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                signal(SIGPIPE, SIG_DFL);
                safe_close(p[0]);
                int r = store_import(state_dir, source, name, &digest, &err);
                msg = r < 0 ? xasprintf("%d %s", r, err ? err : strerror(-r)) : xasprintf("0 %s", digest);
                _exit(write(p[1], msg, strlen(msg)) < 0 || r < 0 ? 1 : 0);
        }
        safe_close(p[1]);
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0) {
                int r = -errno;
                kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                safe_close(p[0]);
                return error_set(ret_error, r, "pidfd_open: %s", strerror(-r));
        }
        *ret = (StoreImportJob){ .pid = pid, .pidfd = pidfd, .result_fd = p[0] };
        return 0;
}

int store_import_finish(StoreImportJob *job, char **ret_digest, char **ret_error)
{
        _cleanup_free_ char *msg = NULL;
        siginfo_t si = {};
        size_t n = 0;
        int r, code;
        char *end;

        /* The helper writes once and exits: read to EOF. */
        r = read_fd_all(job->result_fd, 64 * 1024, &msg, &n);
        while (waitid(P_PIDFD, (id_t)job->pidfd, &si, WEXITED) < 0 && errno == EINTR)
                ;
        job->result_fd = safe_close(job->result_fd);
        job->pidfd = safe_close(job->pidfd);
        if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
                return error_set(ret_error, -EINTR, "image import helper killed by %s",
                                 signal_to_string(si.si_status) ?: "a signal");
        if (r < 0 || n == 0)
                return error_set(ret_error, -EIO, "image import helper exited with status %d and no result",
                                 si.si_status);
        code = (int)strtol(msg, &end, 10);
        if (*end != ' ' || code > 0)
                return error_set(ret_error, -EIO, "image import helper: garbled result");
        if (code < 0)
                return error_set(ret_error, code, "%s", end + 1);
        *ret_digest = xstrdup(end + 1);
        return 0;
}

void store_import_cancel(StoreImportJob *job)
{
        if (job->pidfd >= 0) {
                siginfo_t si;
                (void)syscall(SYS_pidfd_send_signal, job->pidfd, SIGKILL, NULL, 0);
                while (waitid(P_PIDFD, (id_t)job->pidfd, &si, WEXITED) < 0 && errno == EINTR)
                        ;
        }
        job->pidfd = safe_close(job->pidfd);
        job->result_fd = safe_close(job->result_fd);
}

/* ------------------------------------------------------------------ reading */

void resolved_image_done(ResolvedImage *r)
{
        free(r->manifest_digest);
        free(r->config_digest);
        strv_free(r->layers);
        oci_config_free(r->config);
        *r = (ResolvedImage){};
}

/* Reads and verifies manifest and config of a stored image. */
static int read_image(const Store *s, const char *digest, OciManifest *ret_m, OciConfig **ret_c,
                      char **ret_error)
{
        _cleanup_free_ char *data = NULL, *what = NULL;
        OciManifest m = {};
        size_t n;
        int r;

        if (!oci_digest_is_valid(digest))
                return error_set(ret_error, -EINVAL, "invalid digest `%s`", digest);
        what = xasprintf("manifest %s", digest);
        if ((r = store_blob_read(s, digest, &data, &n, ret_error)) < 0 ||
            (r = oci_manifest_parse(what, data, n, &m, ret_error)) < 0)
                return r;
        free(data);
        data = NULL;
        free(what);
        what = xasprintf("config %s", m.config.digest);
        if ((r = store_blob_read(s, m.config.digest, &data, &n, ret_error)) < 0 ||
            (r = oci_config_parse(what, data, n, ret_c, ret_error)) < 0) {
                oci_manifest_done(&m);
                return r;
        }
        *ret_m = m;
        return 0;
}

int store_open_image(const char *state_dir, const char *digest, ResolvedImage *ret,
                     char **ret_error)
{
        _cleanup_(oci_config_freep) OciConfig *cfg = NULL;
        _cleanup_strv_free_ char **layers = NULL;
        OciManifest m = {};
        Store s;
        int r;

        if ((r = store_open(state_dir, false, &s, ret_error)) < 0)
                return r;
        r = read_image(&s, digest, &m, &cfg, ret_error);
        for (size_t k = 0; r >= 0 && k < cfg->n_diff_ids; k++) {
                const char *hex = oci_digest_hex(cfg->diff_ids[k]);
                struct stat st;
                if (fstatat(s.layers, hex, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
                        r = error_set(ret_error, -ENOENT, "image %s: layer %s is missing from the store (import the image again)",
                                      digest, cfg->diff_ids[k]);
                else
                        strv_addf(&layers, "%s/layers/%s", s.root, hex);
        }
        if (r >= 0) {
                *ret = (ResolvedImage){ .manifest_digest = xstrdup(digest),
                                        .config_digest = xstrdup(m.config.digest),
                                        .n_layers = cfg->n_diff_ids,
                                        .layers = TAKE_PTR(layers),
                                        .config = TAKE_PTR(cfg) };
                if (!ret->layers)
                        ret->layers = xcalloc(1, sizeof(char *));
        }
        oci_manifest_done(&m);
        store_close(&s);
        return r;
}

/* Collects the manifest digests that repos names, with their names. */
static void repos_images(json_object *repos, char ***digests, char ****names)
{
        const char *groups[] = { "tags", "sources" };

        for (size_t g = 0; g < ELEMENTSOF(groups); g++) {
                json_object_object_foreach(object_member(repos, groups[g]), k, v) {
                        const char *d = g == 0 ? (json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL)
                                               : source_field(repos, k, "digest");
                        size_t i = 0;
                        if (!d)
                                continue;
                        for (; *digests && (*digests)[i]; i++)
                                if (streq((*digests)[i], d))
                                        break;
                        if (!*digests || !(*digests)[i]) {
                                strv_add(digests, d);
                                *names = xrealloc(*names, (i + 2) * sizeof(char **));
                                (*names)[i] = NULL;
                                (*names)[i + 1] = NULL;
                        }
                        strv_add(&(*names)[i], k);
                }
        }
}

int store_lookup(const char *state_dir, const char *ref, char **ret_digest, char **ret_error)
{
        _cleanup_json_ json_object *repos = NULL;
        _cleanup_free_ char *norm = NULL;
        const char *d = NULL, *at = strchr(ref, '@');
        Store s;
        int r;

        if ((r = store_open(state_dir, false, &s, ret_error)) < 0)
                return r == -ENOENT ? error_set(ret_error, r, "no image `%s` in the store (the store is empty)", ref) : r;
        r = repos_load(&s, &repos, ret_error);
        store_close(&s);
        if (r < 0)
                return r;
        if (startswith(ref, "oci:") || startswith(ref, "oci-archive:") || startswith(ref, "docker-archive:")) {
                ImageKind k;
                _cleanup_free_ char *path = NULL, *tag = NULL;
                if (store_source_parse(ref, &k, &path, &tag, ret_error) >= 0) {
                        norm = xasprintf("%s:%s%s%s", image_kind_to_string(k), path, tag ? ":" : "", tag ? tag : "");
                        d = source_field(repos, norm, "digest");
                }
        } else if (at || startswith(ref, "sha256:")) {
                const char *want = at ? at + 1 : ref;
                _cleanup_strv_free_ char **digests = NULL;
                char ***names = NULL;
                size_t hits = 0;
                repos_images(repos, &digests, &names);
                for (size_t i = 0; digests && digests[i]; i++) {
                        if (startswith(digests[i], want) && (at ? streq(digests[i], want) : strlen(want) >= 7 + 12)) {
                                d = digests[i];
                                hits++;
                        }
                        strv_free(names[i]);
                }
                free(names);
                if (hits > 1)
                        return error_set(ret_error, -EINVAL, "digest prefix `%s` is ambiguous", ref);
                if (d)
                        d = norm = xstrdup(d);
        } else if ((norm = normalize_name(ref)))
                d = tag_digest(repos, norm);
        if (!d)
                return error_set(ret_error, -ENOENT, "no image `%s` in the store", ref);
        *ret_digest = xstrdup(d);
        return 0;
}

void store_images_free(StoreImage *l, size_t n)
{
        for (size_t k = 0; k < n; k++) {
                free(l[k].digest);
                free(l[k].config_digest);
                strv_free(l[k].names);
                free(l[k].created);
        }
        free(l);
}

static int image_cmp(const void *a, const void *b)
{
        const StoreImage *x = a, *y = b;
        return strcmp(x->names && x->names[0] ? x->names[0] : "", y->names && y->names[0] ? y->names[0] : "");
}

int store_list(const char *state_dir, StoreImage **ret, size_t *ret_n, char **ret_error)
{
        _cleanup_json_ json_object *repos = NULL;
        _cleanup_strv_free_ char **digests = NULL;
        char ***names = NULL;
        StoreImage *l;
        size_t n;
        Store s;
        int r;

        if ((r = store_open(state_dir, false, &s, ret_error)) < 0) {
                if (r != -ENOENT)
                        return r;
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if ((r = repos_load(&s, &repos, ret_error)) < 0) {
                store_close(&s);
                return r;
        }
        repos_images(repos, &digests, &names);
        n = strv_length(digests);
        l = xcalloc(n + 1, sizeof(StoreImage));
        for (size_t k = 0; k < n; k++) {
                _cleanup_(oci_config_freep) OciConfig *cfg = NULL;
                _cleanup_free_ char *err = NULL;
                OciManifest m = {};
                l[k].digest = xstrdup(digests[k]);
                l[k].names = names[k];
                strv_sort(l[k].names);
                if (read_image(&s, digests[k], &m, &cfg, &err) < 0)
                        continue;
                l[k].config_digest = xstrdup(m.config.digest);
                l[k].n_layers = m.n_layers;
                for (size_t i = 0; i < m.n_layers; i++)
                        l[k].size += (uint64_t)m.layers[i].size;
                l[k].created = cfg->created ? xstrdup(cfg->created) : NULL;
                oci_manifest_done(&m);
        }
        free(names);
        store_close(&s);
        qsort(l, n, sizeof(StoreImage), image_cmp);
        *ret = l;
        *ret_n = n;
        return 0;
}

/* ------------------------------------------------------------------ removing */

/* Deletes blobs and layers that no image in repos references, and debris. */
static void collect_garbage(const Store *s, json_object *repos)
{
        _cleanup_strv_free_ char **digests = NULL, **keep_blobs = NULL, **keep_layers = NULL;
        char ***names = NULL;
        const int dirs[2] = { s->blobs, s->layers };

        repos_images(repos, &digests, &names);
        for (size_t k = 0; digests && digests[k]; k++) {
                _cleanup_(oci_config_freep) OciConfig *cfg = NULL;
                _cleanup_free_ char *err = NULL;
                OciManifest m = {};
                strv_free(names[k]);
                strv_add(&keep_blobs, oci_digest_hex(digests[k]));
                if (read_image(s, digests[k], &m, &cfg, &err) < 0)
                        continue;
                strv_add(&keep_blobs, oci_digest_hex(m.config.digest));
                STRV_FOREACH(id, cfg->diff_ids)
                        strv_add(&keep_layers, oci_digest_hex(*id));
                oci_manifest_done(&m);
        }
        free(names);
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_close_ int fd = fcntl(dirs[i], F_DUPFD_CLOEXEC, 3);
                DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
                if (!d)
                        continue;
                fd = -1;
                for (struct dirent *de; (de = readdir(d));)
                        if (!streq(de->d_name, ".") && !streq(de->d_name, "..") &&
                            !strv_contains(i == 0 ? keep_blobs : keep_layers, de->d_name))
                                (void)layer_remove_tree(dirs[i], de->d_name);
                closedir(d);
        }
        remove_debris(s->tmp, true);
        (void)syncfs(s->fd);
}

/* Removes the names in repos that ref denotes; returns how many. */
static int unname(json_object *repos, const char *ref, const char *digest)
{
        const char *groups[] = { "tags", "sources" };
        _cleanup_strv_free_ char **drop = NULL;
        _cleanup_free_ char *norm = normalize_name(ref);
        bool by_digest = startswith(ref, "sha256:") || strchr(ref, '@');
        int n = 0;

        for (size_t g = 0; g < ELEMENTSOF(groups); g++) {
                json_object *o = object_member(repos, groups[g]);
                json_object_object_foreach(o, k, v) {
                        const char *d = g == 0 ? json_object_get_string(v) : source_field(repos, k, "digest");
                        bool match = by_digest ? streq_ptr(d, digest)
                                               : streq(k, ref) || streq_ptr(k, norm) ||
                                                         (g == 1 && streq_ptr(d, digest) && !strchr(ref, ':'));
                        if (match)
                                strv_addf(&drop, "%zu%s", g, k);
                }
        }
        STRV_FOREACH(k, drop) {
                json_object_object_del(object_member(repos, groups[(*k)[0] - '0']), *k + 1);
                n++;
        }
        return n;
}

int store_remove_checked(const char *state_dir, const char *ref, bool nonblock,
                         StoreRemoveCheck check, void *userdata, char **ret_error)
{
        _cleanup_json_ json_object *repos = NULL;
        _cleanup_free_ char *digest = NULL;
        Store s;
        int r, n;

        /* Looked up first so that a bad REF does not create a store. */
        if ((r = store_lookup(state_dir, ref, &digest, ret_error)) < 0)
                return r;
        if ((r = store_open_full(state_dir, true, nonblock, &s, ret_error)) < 0)
                return r;
        /* Again under the lock: an import may have moved the name meanwhile. */
        free(digest);
        digest = NULL;
        if ((r = store_lookup(state_dir, ref, &digest, ret_error)) < 0 ||
            (check && (r = check(digest, userdata, ret_error)) < 0) ||
            (r = repos_load(&s, &repos, ret_error)) < 0)
                goto out;
        /* A source string removes its record; the key is normalised. */
        if (startswith(ref, "oci:") || startswith(ref, "oci-archive:") || startswith(ref, "docker-archive:")) {
                ImageKind k;
                _cleanup_free_ char *path = NULL, *tag = NULL, *key = NULL;
                if ((r = store_source_parse(ref, &k, &path, &tag, ret_error)) < 0)
                        goto out;
                key = xasprintf("%s:%s%s%s", image_kind_to_string(k), path, tag ? ":" : "", tag ? tag : "");
                json_object_object_del(object_member(repos, "sources"), key);
                n = 1;
        } else
                n = unname(repos, ref, digest);
        if ((r = repos_save(&s, repos, ret_error)) < 0)
                goto out;
        collect_garbage(&s, repos);
        r = n;
out:
        store_close(&s);
        return r;
}

int store_remove(const char *state_dir, const char *ref, char **ret_error)
{
        return store_remove_checked(state_dir, ref, false, NULL, NULL, ret_error);
}

/* ------------------------------------------------------------------ units */

static int resolve(const char *state_dir, const UnitConfig *c, bool import, ResolvedImage *ret,
                   char **ret_error)
{
        _cleanup_free_ char *digest = NULL;
        int r;

        switch (c->image_kind) {
        case IMAGE_STORE:
                if (registry_ref_is_remote(c->image_ref)) {
                        _cleanup_free_ char *name = NULL;
                        if ((r = registry_ref_store_name(c->image_ref, &name, ret_error)) < 0)
                                return r;
                        r = store_lookup(state_dir, name, &digest, ret_error);
                        if (r == -ENOENT && import && c->image_pull != IMAGE_PULL_NEVER)
                                r = registry_pull(state_dir, c->image_ref, registry_defaults(), &digest, ret_error);
                        if (r == -ENOENT && !digest)
                                return error_set(ret_error, r, "image `%s` is not in the store (%s)", c->image_ref,
                                                 c->image_pull == IMAGE_PULL_NEVER
                                                         ? "Pull=never: pull it with `ccsupctl image pull`"
                                                         : "not pulled yet");
                        if (r < 0)
                                return r;
                        return store_open_image(state_dir, digest, ret, ret_error);
                }
                r = store_lookup(state_dir, c->image_ref, &digest, ret_error);
                if (r == -ENOENT)
                        return error_set(ret_error, r, "image `%s` is not in the store (import it with `ccsupctl image import SOURCE %s`)",
                                         c->image_ref, c->image_ref);
                if (r < 0)
                        return r;
                return store_open_image(state_dir, digest, ret, ret_error);
        case IMAGE_OCI:
        case IMAGE_OCI_ARCHIVE:
        case IMAGE_DOCKER_ARCHIVE: {
                /* Imported already, from this very file? */
                Source src;
                _cleanup_json_ json_object *repos = NULL;
                _cleanup_free_ char *ignored = NULL, *ignored2 = NULL;
                Store s;
                r = source_init(&src, c->image, ret_error);
                if (r >= 0 && store_open(state_dir, false, &s, &ignored) >= 0) {
                        if (repos_load(&s, &repos, &ignored) >= 0) {
                                const char *d = source_field(repos, src.key, "digest");
                                if (d && streq_ptr(source_field(repos, src.key, "stamp"), src.stamp))
                                        digest = xstrdup(d);
                        }
                        store_close(&s);
                }
                source_done(&src, &(Store){ .tmp = -1 });
                if (r < 0)
                        return r;
                if (digest && store_open_image(state_dir, digest, ret, &ignored2) >= 0)
                        return 0;
                if (!import)
                        return error_set(ret_error, -ENOENT, "image `%s` is not imported yet", c->image);
                free(digest);
                digest = NULL;
                r = import_source(state_dir, c->image, NULL, false, &digest, ret_error);
                if (r < 0)
                        return r;
                return store_open_image(state_dir, digest, ret, ret_error);
        }
        default:
                return error_set(ret_error, -EINVAL, "Image=%s is a directory, not a store image",
                                 c->image_path ? c->image_path : "");
        }
}

int store_resolve(const char *state_dir, const UnitConfig *c, ResolvedImage *ret,
                  char **ret_error)
{
        return resolve(state_dir, c, true, ret, ret_error);
}

int store_resolve_stored(const char *state_dir, const UnitConfig *c, ResolvedImage *ret,
                         char **ret_error)
{
        return resolve(state_dir, c, false, ret, ret_error);
}

/* ------------------------------------------------------------------ config merge */

void resolved_process_done(ResolvedProcess *p)
{
        strv_free(p->argv);
        strv_free(p->environment);
        free(p->working_directory);
        free(p->user);
        strv_free(p->health_argv);
        *p = (ResolvedProcess){};
}

static void health_from_image(const OciHealthcheck *h, ResolvedProcess *p)
{
        if (!h->test || !h->test[0] || streq(h->test[0], "NONE"))
                return;
        if (streq(h->test[0], "CMD-SHELL")) {
                if (!h->test[1])
                        return;
                strv_add(&p->health_argv, "/bin/sh");
                strv_add(&p->health_argv, "-c");
                strv_add(&p->health_argv, h->test[1]);
        } else if (h->test[1])
                p->health_argv = strv_copy(h->test + 1);
        p->health_interval_usec = h->interval_nsec / 1000;
        p->health_timeout_usec = h->timeout_nsec / 1000;
        p->health_start_period_usec = h->start_period_nsec / 1000;
        p->health_retries = h->retries;
}

static void build_argv(const OciConfig *img, const UnitConfig *c, char ***argv)
{
        char *const *entry = c->entrypoint ? c->entrypoint : img ? img->entrypoint : NULL;
        char *const *cmd = c->exec ? c->exec : (img && !c->entrypoint) ? img->cmd : NULL;

        STRV_FOREACH(a, entry)
                strv_add(argv, *a);
        STRV_FOREACH(a, cmd)
                strv_add(argv, *a);
}

int image_config_apply(const OciConfig *img, const UnitConfig *c, ResolvedProcess *ret,
                       char **ret_error)
{
        ResolvedProcess p = {};
        int sig = c->stop_signal;

        build_argv(img, c, &p.argv);
        if (!p.argv)
                return error_set(ret_error, -EINVAL, "no command: the image has no Entrypoint or Cmd, and the unit no Exec=");
        if (!sig && img && img->stop_signal) {
                sig = parse_signal(img->stop_signal);
                if (sig < 0) {
                        resolved_process_done(&p);
                        return error_set(ret_error, -EINVAL, "image StopSignal `%s` is not a signal", img->stop_signal);
                }
        }
        p.stop_signal = sig ? sig : SIGTERM;
        STRV_FOREACH(e, img ? img->env : NULL)
                env_set(&p.environment, *e);
        STRV_FOREACH(e, c->environment)
                env_set(&p.environment, *e);
        p.working_directory = xstrdup(c->working_directory ? c->working_directory
                                      : img && img->working_dir ? img->working_dir : "/");
        if (c->user)
                p.user = c->group ? xasprintf("%s:%s", c->user, c->group) : xstrdup(c->user);
        else if (img && img->user)
                p.user = xstrdup(img->user);
        if (img)
                health_from_image(&img->healthcheck, &p);
        *ret = p;
        return 0;
}
