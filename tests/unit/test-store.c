/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/store: imports from OCI layouts, oci-archive and docker-archive tars
 * made here; shared layers stored once; precise errors (unknown tag,
 * missing blob, digest mismatch, unknown media type) that leave nothing
 * behind; an import killed midway leaves the store consistent and the next
 * one completes; removal keeps layers other images use. Needs root. */

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "sha256.h"
#include "store.h"
#include "test-switches.h"
#include "tap.h"
#include "tar-build.h"
#include "util.h"

static char base[] = "/tmp/test-store.XXXXXX";
static char *state, *layout;

typedef struct Layer {
        char digest[SHA256_DIGEST_STRING_MAX], diff_id[SHA256_DIGEST_STRING_MAX];
        const char *media_type;
} Layer;

/* Index entries written so far to layout/index.json. */
static char *index_entries;

static void write_file(const char *path, const void *data, size_t n)
{
        FILE *f = fopen(path, "we");
        if (!f || fwrite(data, 1, n, f) != n)
                abort();
        fclose(f);
}

static void put_blob(const char *dir, const void *data, size_t n, char digest[SHA256_DIGEST_STRING_MAX])
{
        sha256_digest(data, n, digest);
        _cleanup_free_ char *p = xasprintf("%s/blobs/sha256/%s", dir, digest + 7);
        write_file(p, data, n);
}

static int run(const char *fmt, ...) _printf_(1, 2);
static int run(const char *fmt, ...)
{
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&cmd, fmt, ap) < 0)
                abort();
        va_end(ap);
        return system(cmd);
}

/* Stores the tar in fd as a gzip layer blob (gzip -n of the plain tar). */
static Layer put_layer(const char *dir, int fd)
{
        _cleanup_free_ char *plain = NULL, *gz = NULL, *tmp = xasprintf("%s/layer.tmp", base);
        _cleanup_free_ char *tmpgz = xasprintf("%s/layer.tmp.gz", base);
        size_t n, m;
        Layer l = { .media_type = "application/vnd.oci.image.layer.v1.tar+gzip" };

        plain = fd_slurp(fd, &n);
        close(fd);
        sha256_digest(plain, n, l.diff_id);
        write_file(tmp, plain, n);
        run("gzip -nf %s", tmp);
        _cleanup_close_ int g = open(tmpgz, O_RDONLY | O_CLOEXEC);
        gz = fd_slurp(g, &m);
        put_blob(dir, gz, m, l.digest);
        unlink(tmpgz);
        return l;
}

static void layout_init(const char *dir)
{
        run("mkdir -p %s/blobs/sha256 && printf '{\"imageLayoutVersion\":\"1.0.0\"}' > %s/oci-layout", dir, dir);
        free(index_entries);
        index_entries = NULL;
}

/* Writes config + manifest for layers and tags it in index.json. */
static void add_image(const char *dir, const char *tag, const Layer *l, size_t n, const char *layer_mt_override)
{
        _cleanup_free_ char *diff_ids = xstrdup(""), *descs = xstrdup(""), *cfg = NULL, *man = NULL, *idx = NULL;
        char cd[SHA256_DIGEST_STRING_MAX], md[SHA256_DIGEST_STRING_MAX];

        for (size_t k = 0; k < n; k++) {
                char *a = xasprintf("%s%s\"%s\"", diff_ids, k ? "," : "", l[k].diff_id);
                char *b = xasprintf("%s%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%d}", descs, k ? "," : "",
                                    layer_mt_override && k == n - 1 ? layer_mt_override : l[k].media_type, l[k].digest, -1 + 1);
                free(diff_ids);
                free(descs);
                diff_ids = a;
                descs = b;
        }
        /* size 0 in descriptors would fail verification: write real sizes. */
        free(descs);
        descs = xstrdup("");
        for (size_t k = 0; k < n; k++) {
                struct stat st;
                _cleanup_free_ char *p = xasprintf("%s/blobs/sha256/%s", dir, l[k].digest + 7);
                if (stat(p, &st) < 0)
                        st.st_size = 1;
                char *b = xasprintf("%s%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld}", descs, k ? "," : "",
                                    layer_mt_override && k == n - 1 ? layer_mt_override : l[k].media_type,
                                    l[k].digest, (long long)st.st_size);
                free(descs);
                descs = b;
        }
        cfg = xasprintf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/bin/sh\"],\"Env\":[\"TAG=%s\"]},"
                        "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[%s]}}", tag, diff_ids);
        put_blob(dir, cfg, strlen(cfg), cd);
        man = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
                        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
                        "\"layers\":[%s]}", cd, strlen(cfg), descs);
        put_blob(dir, man, strlen(man), md);
        char *e = xasprintf("%s%s{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,"
                            "\"annotations\":{\"org.opencontainers.image.ref.name\":\"%s\"}}",
                            index_entries ? index_entries : "", index_entries ? "," : "", md, strlen(man), tag);
        free(index_entries);
        index_entries = e;
        idx = xasprintf("{\"schemaVersion\":2,\"manifests\":[%s]}", index_entries);
        _cleanup_free_ char *ip = xasprintf("%s/index.json", dir);
        write_file(ip, idx, strlen(idx));
}

static size_t count_dir(const char *rel, bool tmp_only)
{
        _cleanup_free_ char *p = xasprintf("%s/images/%s", state, rel);
        DIR *d = opendir(p);
        size_t n = 0;
        if (!d)
                return 0;
        for (struct dirent *de; (de = readdir(d));)
                if (de->d_name[0] != '.' || (tmp_only && startswith(de->d_name, ".tmp-")))
                        n += tmp_only ? startswith(de->d_name, ".tmp-") != NULL : 1;
        closedir(d);
        return n;
}

static Layer base_layer, top_layer, other_layer;

static void make_layers(void)
{
        TarBuild t = tar_begin(NULL);
        tar_dir(&t, "etc");
        tar_file(&t, "etc/os-release", "ID=test\n");
        tar_dir(&t, "opt");
        tar_file(&t, "opt/old", "o");
        tar_file(&t, "etc/remove-me", "r");
        base_layer = put_layer(layout, tar_end(&t));

        t = tar_begin(NULL);
        tar_file(&t, "etc/.wh.remove-me", "");
        tar_dir(&t, "opt");
        tar_file(&t, "opt/.wh..wh..opq", "");
        tar_file(&t, "opt/new", "n");
        top_layer = put_layer(layout, tar_end(&t));

        t = tar_begin(NULL);
        tar_file(&t, "other", "x");
        other_layer = put_layer(layout, tar_end(&t));
}

static void import_ok(const char *source, const char *name, char **ret_digest)
{
        _cleanup_free_ char *err = NULL;
        int r = store_import(state, source, name, ret_digest, &err);
        if (!ok(r == 0, "import %s as %s", source, name ? name : "(default)"))
                tap_diag("r=%d: %s", r, err);
}

static void import_fails(const char *source, const char *want)
{
        _cleanup_free_ char *err = NULL, *digest = NULL;
        size_t layers = count_dir("layers", false);
        int r = store_import(state, source, NULL, &digest, &err);
        ok(r < 0 && err && strstr(err, want), "import %s fails: %s", source, err ? err : "(no message)");
        if (!(err && strstr(err, want)))
                tap_diag("want: %s", want);
        ok(count_dir("layers", false) == layers && count_dir("layers", true) == 0,
           "  … no layer and no debris left");
}

static void basics(void)
{
        _cleanup_free_ char *src = xasprintf("oci:%s:v1", layout), *d1 = NULL, *d2 = NULL, *look = NULL, *err = NULL;
        Layer two[2] = { base_layer, top_layer }, shared[2] = { base_layer, other_layer };
        ResolvedImage ri = {};
        struct stat st;
        char v[2];

        add_image(layout, "v1", two, 2, NULL);
        add_image(layout, "v2", shared, 2, NULL);
        import_ok(src, "test:v1", &d1);
        ok(count_dir("layers", false) == 2, "two layers unpacked");
        ok(store_lookup(state, "test:v1", &look, &err) == 0 && streq(look, d1), "lookup by NAME:TAG");
        ok(store_open_image(state, d1, &ri, &err) == 0 && ri.n_layers == 2, "open image: 2 layers");
        if (ri.n_layers == 2) {
                _cleanup_free_ char *want0 = xasprintf("%s/images/layers/%s", state, base_layer.diff_id + 7);
                _cleanup_free_ char *wh = xasprintf("%s/etc/remove-me", ri.layers[1]);
                _cleanup_free_ char *opq = xasprintf("%s/opt", ri.layers[1]);
                is_str(ri.layers[0], want0, "lowest layer first");
                ok(lstat(wh, &st) == 0 && S_ISCHR(st.st_mode), "top layer has the whiteout");
                ok(getxattr(opq, "trusted.overlay.opaque", v, 1) == 1, "top layer has the opaque dir");
                ok(ri.config && streq(ri.config->env[0], "TAG=v1"), "config parsed");
        }
        resolved_image_done(&ri);

        _cleanup_free_ char *src2 = xasprintf("oci:%s:v2", layout);
        import_ok(src2, "test:v2", &d2);
        ok(count_dir("layers", false) == 3, "a second image sharing the base layer adds one layer (3, not 4)");

        StoreImage *l = NULL;
        size_t n = 0;
        ok(store_list(state, &l, &n, &err) == 0 && n == 2, "list: two images");
        ok(n == 2 && l[0].n_layers == 2 && strv_contains(l[0].names, "test:v1") &&
           strv_contains(l[1].names, "test:v2"), "list: names and layer counts");
        store_images_free(l, n);
}

static void errors(void)
{
        _cleanup_free_ char *src = NULL, *want = NULL, *p = NULL;
        Layer one[1], bad[1] = { other_layer };

        src = xasprintf("oci:%s:nope", layout);
        want = xasprintf("oci layout `%s`: index.json: no image tagged `nope` (tags: v1, v2)", layout);
        import_fails(src, want);

        /* a layer whose blob is missing */
        TarBuild t = tar_begin(NULL);
        tar_file(&t, "gone", "g");
        one[0] = put_layer(layout, tar_end(&t));
        add_image(layout, "missing", one, 1, NULL);
        p = xasprintf("%s/blobs/sha256/%s", layout, one[0].digest + 7);
        unlink(p);
        free(src);
        free(want);
        src = xasprintf("oci:%s:missing", layout);
        want = xasprintf("layer 1 of 1: blob %s: No such file or directory (oci layout `%s`)", one[0].digest, layout);
        import_fails(src, want);

        /* a layer whose content does not match its digest */
        t = tar_begin(NULL);
        tar_file(&t, "tampered", "t");
        one[0] = put_layer(layout, tar_end(&t));
        add_image(layout, "tampered", one, 1, NULL);
        free(p);
        p = xasprintf("%s/blobs/sha256/%s", layout, one[0].digest + 7);
        run("printf X | dd of=%s bs=1 seek=30 conv=notrunc status=none", p);
        free(src);
        free(want);
        src = xasprintf("oci:%s:tampered", layout);
        want = xasprintf("layer 1 of 1 (%s): ", one[0].diff_id);
        import_fails(src, want);
        import_fails(src, "digest mismatch");

        /* unknown layer media type */
        add_image(layout, "weird", bad, 1, "application/x-foo");
        free(src);
        src = xasprintf("oci:%s:weird", layout);
        import_fails(src, "has unsupported media type `application/x-foo`");

        /* not a layout */
        free(src);
        src = xasprintf("oci:%s", base);
        import_fails(src, "not an OCI image layout");

        _cleanup_free_ char *err = NULL, *d = NULL;
        ok(store_lookup(state, "never:imported", &d, &err) == -ENOENT && strstr(err, "no image `never:imported` in the store"),
           "unknown name: %s", err ? err : "(none)");
}

#if CCSUP_TEST_SWITCHES
static void killed_import(void)
{
        _cleanup_free_ char *src = xasprintf("oci:%s:big", layout), *d = NULL, *err = NULL, *look = NULL;
        Layer big[3];
        StoreImportJob job;
        size_t before = count_dir("layers", false);

        for (int i = 0; i < 3; i++) {
                TarBuild t = tar_begin(NULL);
                for (int f = 0; f < 20; f++) {
                        _cleanup_free_ char *name = xasprintf("big%d/f%02d", i, f);
                        tar_file(&t, name, "data");
                }
                big[i] = put_layer(layout, tar_end(&t));
        }
        add_image(layout, "big", big, 3, NULL);

        /* Killed in the middle of the second layer (21 entries per layer). */
        test_switches.layer_fault_after = 30;
        int r = store_import_async(state, src, "big:1", &job, &err);
        test_switches.layer_fault_after = 0;
        ok(r == 0 && job.pidfd >= 0, "async import started (pid %d)", (int)job.pid);
        struct pollfd pfd = { .fd = job.pidfd, .events = POLLIN };
        ok(poll(&pfd, 1, 20000) == 1, "helper ends (pidfd readable)");
        r = store_import_finish(&job, &d, &err);
        ok(r < 0 && err && strstr(err, "killed by SIGKILL"), "killed import reports: %s", err ? err : "(none)");
        ok(store_lookup(state, "big:1", &look, &err) == -ENOENT, "killed import: the image is not visible");
        ok(count_dir("layers", false) == before + 1, "killed import: only the complete first layer is in layers/");
        ok(count_dir("layers", true) == 1, "killed import: the half layer is .tmp- debris, invisible");

        StoreImage *l = NULL;
        size_t n = 0;
        ok(store_list(state, &l, &n, &err) == 0 && n == 2, "killed import: list unchanged (2 images)");
        store_images_free(l, n);

        /* The next import finishes the job and sweeps the debris. */
        r = store_import_async(state, src, "big:1", &job, &err);
        pfd.fd = job.pidfd;
        poll(&pfd, 1, 20000);
        free(d);
        d = NULL;
        r = store_import_finish(&job, &d, &err);
        if (!ok(r == 0 && d && oci_digest_is_valid(d), "re-import completes: %s", d ? d : "(none)"))
                tap_diag("%s", err);
        ok(count_dir("layers", false) == before + 3 && count_dir("layers", true) == 0,
           "re-import: three layers, no debris");
        ok(store_lookup(state, "big:1", &look, &err) == 0, "re-import: visible");
}
#endif

static void archives(void)
{
        _cleanup_free_ char *ociar = xasprintf("%s/image.tar", base), *err = NULL, *d = NULL, *dd = NULL;
        _cleanup_free_ char *src = xasprintf("oci-archive:%s:v2", ociar), *look = NULL;
        size_t before;

        run("tar -C %s -cf %s .", layout, ociar);
        before = count_dir("layers", false);
        import_ok(src, "fromarchive:1", &d);
        ok(count_dir("layers", false) == before, "oci-archive: layers already there are reused");
        ok(store_lookup(state, "test:v2", &look, &err) == 0 && streq(look, d), "oci-archive: same manifest digest as the layout");
        ok(count_dir("tmp", false) == 0, "oci-archive: staging removed");

        /* A docker save archive, old form, with a layer that is a symlink
         * to another member. */
        _cleanup_free_ char *dir = xasprintf("%s/docker", base);
        _cleanup_free_ char *plain = NULL, *cfg = NULL, *man = NULL;
        char cd[SHA256_DIGEST_STRING_MAX], diff[SHA256_DIGEST_STRING_MAX];
        size_t n;
        TarBuild t = tar_begin(NULL);
        tar_file(&t, "docker-file", "d");
        int fd = tar_end(&t);
        plain = fd_slurp(fd, &n);
        close(fd);
        sha256_digest(plain, n, diff);
        run("mkdir -p %s/real %s/aaaa", dir, dir);
        _cleanup_free_ char *lp = xasprintf("%s/real/layer.tar", dir);
        write_file(lp, plain, n);
        run("ln -s ../real/layer.tar %s/aaaa/layer.tar", dir);
        cfg = xasprintf("{\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/docker\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}", diff);
        sha256_digest(cfg, strlen(cfg), cd);
        _cleanup_free_ char *cp = xasprintf("%s/%s.json", dir, cd + 7);
        write_file(cp, cfg, strlen(cfg));
        man = xasprintf("[{\"Config\":\"%s.json\",\"RepoTags\":[\"dock:1\"],\"Layers\":[\"aaaa/layer.tar\"]}]", cd + 7);
        _cleanup_free_ char *mp = xasprintf("%s/manifest.json", dir);
        write_file(mp, man, strlen(man));
        _cleanup_free_ char *dar = xasprintf("%s/docker.tar", base);
        run("tar -C %s -cf %s .", dir, dar);
        _cleanup_free_ char *dsrc = xasprintf("docker-archive:%s", dar);
        import_ok(dsrc, NULL, &dd);
        free(look);
        look = NULL;
        ok(store_lookup(state, "dock:1", &look, &err) == 0 && streq(look, dd), "docker-archive: tagged by its RepoTags");
        ResolvedImage ri = {};
        ok(store_open_image(state, dd, &ri, &err) == 0 && ri.n_layers == 1 && streq(ri.config->entrypoint[0], "/docker"),
           "docker-archive: opens, config from the archive");
        _cleanup_free_ char *f = ri.n_layers ? xasprintf("%s/docker-file", ri.layers[0]) : xstrdup("/nonexistent");
        ok(access(f, F_OK) == 0, "docker-archive: symlinked layer member unpacked");
        resolved_image_done(&ri);

        /* tampered config in a docker archive */
        run("sed -i 's/docker/dockex/' %s && tar -C %s -cf %s .", cp, dir, dar);
        free(err);
        err = NULL;
        free(dd);
        dd = NULL;
        ok(store_import(state, dsrc, NULL, &dd, &err) == -EBADMSG && strstr(err, "digest mismatch"),
           "docker-archive: config not matching its name refused: %s", err ? err : "(none)");
}

static void resolve(void)
{
        _cleanup_free_ char *err = NULL, *img = xasprintf("oci:%s:v1", layout), *ref = xstrdup("test:v2");
        UnitConfig u = { .image = img, .image_kind = IMAGE_OCI };
        ResolvedImage ri = {};

        ok(store_resolve(state, &u, &ri, &err) == 0 && ri.n_layers == 2, "resolve Image=oci:…:v1 (imports on demand)");
        resolved_image_done(&ri);
        ok(store_resolve(state, &u, &ri, &err) == 0 && ri.n_layers == 2, "resolve again: from the store");
        resolved_image_done(&ri);
        ok(store_resolve_stored(state, &u, &ri, &err) == 0 && ri.n_layers == 2,
           "resolve without import: found in the store");
        resolved_image_done(&ri);
        {
                /* The source changes: the no-import variant must not import it again. */
                _cleanup_free_ char *index = xasprintf("%s/index.json", layout);
                struct timespec later[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = 1 } };
                ok(utimensat(AT_FDCWD, index, later, 0) == 0, "touch the layout's index.json");
                ok(store_resolve_stored(state, &u, &ri, &err) == -ENOENT && strstr(err, "not imported yet"),
                   "resolve without import: a changed source is not imported: %s", err ? err : "(none)");
                free(err);
                err = NULL;
                ok(store_resolve(state, &u, &ri, &err) == 0 && ri.n_layers == 2, "resolve imports it again");
                resolved_image_done(&ri);
        }
        u = (UnitConfig){ .image = ref, .image_ref = ref, .image_kind = IMAGE_STORE };
        ok(store_resolve(state, &u, &ri, &err) == 0 && ri.n_layers == 2, "resolve Image=test:v2");
        resolved_image_done(&ri);
        u.image_ref = (char *)"absent:1";
        free(err);
        err = NULL;
        ok(store_resolve(state, &u, &ri, &err) == -ENOENT && strstr(err, "is not in the store"), "resolve a missing name: %s", err ? err : "(none)");
}

static void removal(void)
{
        _cleanup_free_ char *err = NULL;
        _cleanup_free_ char *top = xasprintf("%s/images/layers/%s", state, top_layer.diff_id + 7);
        _cleanup_free_ char *bot = xasprintf("%s/images/layers/%s", state, base_layer.diff_id + 7);
        _cleanup_free_ char *ref1 = xasprintf("oci:%s:v1", layout), *ref2 = xasprintf("oci:%s:v2", layout);
        _cleanup_free_ char *ocisrc = xasprintf("oci-archive:%s/image.tar:v2", base);

        ok(store_remove(state, "test:v1", &err) == 1, "remove test:v1");
        ok(access(top, F_OK) == 0, "its top layer stays: the source record oci:…:v1 still names the image");
        ok(store_remove(state, ref1, &err) >= 1, "remove the source record too");
        ok(access(top, F_OK) < 0, "now its own layer is gone");
        ok(access(bot, F_OK) == 0, "the base layer stays: test:v2 uses it");
        store_remove(state, "test:v2", &err);
        store_remove(state, "fromarchive:1", &err);
        store_remove(state, ref2, &err);
        store_remove(state, ocisrc, &err);
        ok(access(bot, F_OK) < 0, "the base layer goes with the last image using it");
        free(err);
        err = NULL;
        ok(store_remove(state, "test:v1", &err) == -ENOENT && strstr(err, "no image `test:v1`"), "remove twice: %s", err ? err : "(none)");
}

int main(void)
{
        if (geteuid() != 0) {
                printf("1..0 # SKIP needs root (layer owners, device nodes, trusted.* xattrs)\n");
                return 0;
        }
        if (!mkdtemp(base))
                return 1;
        state = xasprintf("%s/state", base);
        layout = xasprintf("%s/layout", base);
        layout_init(layout);
        make_layers();

        basics();
        errors();
#if CCSUP_TEST_SWITCHES
        killed_import();
#else
        printf("ok %d - # SKIP killed import: built without --enable-test-switches\n", ++tap_n);
#endif
        archives();
        resolve();
        removal();

        run("rm -rf %s", base);
        free(state);
        free(layout);
        free(index_entries);
        return tap_done();
}
