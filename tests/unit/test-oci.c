/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/oci: index, manifest, config and docker manifest.json parsing, good
 * and bad, each bad one with a precise message; and the image config merge
 * with a unit (lib/store's image_config_apply). */

#include <signal.h>

#include "oci.h"
#include "store.h"
#include "tap.h"
#include "util.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_GZ "application/vnd.oci.image.layer.v1.tar+gzip"

#define DESC(mt, d, extra) "{\"mediaType\":\"" mt "\",\"digest\":\"" d "\",\"size\":12" extra "}"
#define REF(t) ",\"annotations\":{\"org.opencontainers.image.ref.name\":\"" t "\"}"

static const char *S(const char *s) { return s; }

/* Expects parse failure with a message containing want. */
#define BAD(fn, json, out, want)                                                           \
        do {                                                                               \
                _cleanup_free_ char *_e = NULL;                                            \
                int _r = fn("doc", json, strlen(json), out, &_e);                          \
                ok(_r < 0 && _e && strstr(_e, want), "%s refuses: %s", #fn, _e ? _e : "(no message)"); \
                if (!(_e && strstr(_e, want)))                                             \
                        tap_diag("want: %s", want);                                        \
        } while (0)

static void index_tests(void)
{
        const char *good = "{\"schemaVersion\":2,\"manifests\":["
                DESC(MT_MANIFEST, D1, REF("latest")) ","
                DESC(MT_MANIFEST, D2, REF("docker.io/library/busybox:v1")) ","
                DESC("application/x-unknown", D3, REF("weird")) "]}";
        _cleanup_free_ char *e = NULL;
        OciIndex i = {};
        int r = oci_index_parse("index.json", good, strlen(good), &i, &e);

        ok(r == 0 && i.n_manifests == 3, "index parses (3 descriptors)");
        ok(i.manifests[0].media_type == OCI_MEDIA_MANIFEST && streq(i.manifests[0].ref_name, "latest"),
           "descriptor media type and ref.name");
        ok(i.manifests[2].media_type == _OCI_MEDIA_INVALID, "unknown media type kept as invalid");
        is_int(oci_index_select(&i, "idx", "latest", &e), 0, "select tag latest");
        is_int(oci_index_select(&i, "idx", "v1", &e), 1, "select v1 by the tag of a full name");
        is_int(oci_index_select(&i, "idx", NULL, &e), 0, "no tag: latest");
        free(e);
        e = NULL;
        r = oci_index_select(&i, "oci layout `/x`: index.json", "v9", &e);
        ok(r == -ENOENT, "unknown tag: -ENOENT");
        is_str(e, "oci layout `/x`: index.json: no image tagged `v9` (tags: latest, docker.io/library/busybox:v1, weird)",
               "unknown tag: message lists the tags");
        ok(oci_index_select(&i, "idx", "weird", &e) < 0, "a descriptor of an unknown type is never selected");
        oci_index_done(&i);

        const char *two = "{\"schemaVersion\":2,\"manifests\":["
                DESC(MT_MANIFEST, D1, REF("a")) "," DESC(MT_MANIFEST, D2, REF("b")) "]}";
        free(e);
        e = NULL;
        ok(oci_index_parse("i", two, strlen(two), &i, &e) == 0, "index with tags a and b");
        r = oci_index_select(&i, "i", NULL, &e);
        ok(r < 0 && strstr(e, "holds 2 images: name one (tags: a, b)"), "no tag and two images: %s", e);
        oci_index_done(&i);

        const char *plat = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
                DESC(MT_MANIFEST, D1, ",\"platform\":{\"os\":\"linux\",\"architecture\":\"s390x-not\"}") ","
                DESC(MT_MANIFEST, D2, ",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}") ","
                DESC(MT_MANIFEST, D3, ",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\"}") "]}";
        ok(oci_index_parse("i", plat, strlen(plat), &i, &e) == 0, "multi-platform index");
        r = oci_index_select(&i, "i", NULL, &e);
        ok(r >= 0 && streq(i.manifests[r].architecture, oci_host_architecture()),
           "multi-platform: the host's architecture (%s)", oci_host_architecture());
        oci_index_done(&i);

        BAD(oci_index_parse, S("{\"schemaVersion\":1,\"manifests\":[]}"), &i, "unsupported schemaVersion 1");
        BAD(oci_index_parse, S("{\"schemaVersion\":2}"), &i, "`manifests` is missing");
        BAD(oci_index_parse, S("{\"schemaVersion\":2,\"manifests\":[" DESC(MT_MANIFEST, "sha512:abcd", "") "]}"), &i,
            "unsupported digest algorithm in `sha512:abcd`");
        BAD(oci_index_parse, S("{\"schemaVersion\":2,\"manifests\":[" DESC(MT_MANIFEST, "sha256:XYZ", "") "]}"), &i,
            "invalid digest `sha256:XYZ`");
        BAD(oci_index_parse, S("{\"schemaVersion\":2,\"manifests\":[]} x"), &i, "invalid JSON at byte 35");
        BAD(oci_index_parse, S("{\"schemaVersion\":2,"), &i, "unexpected end");
        BAD(oci_index_parse, S("[1]"), &i, "expected a JSON object");
        BAD(oci_index_parse, S("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":-1}]}"), &i,
            "`size` is out of range");
        BAD(oci_index_parse, S("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" D1 "\"}]}"), &i,
            "`size` is missing");

        char deep[200];
        memset(deep, '[', sizeof(deep));
        deep[sizeof(deep) - 1] = '\0';
        BAD(oci_index_parse, deep, &i, "invalid JSON");
}

static void manifest_tests(void)
{
        const char *good = "{\"schemaVersion\":2,\"mediaType\":\"" MT_MANIFEST "\",\"config\":" DESC(MT_CONFIG, D1, "")
                ",\"layers\":[" DESC(MT_GZ, D2, "") "," DESC("application/vnd.oci.image.layer.v1.tar+zstd", D3, "") "]}";
        _cleanup_free_ char *e = NULL, *json = NULL;
        OciManifest m = {}, m2 = {};

        ok(oci_manifest_parse("m", good, strlen(good), &m, &e) == 0, "manifest parses");
        ok(m.n_layers == 2 && m.layers[1].media_type == OCI_MEDIA_LAYER_TAR_ZSTD && streq(m.config.digest, D1),
           "manifest: config and two layers");
        json = oci_manifest_to_json(&m);
        ok(oci_manifest_parse("m2", json, strlen(json), &m2, &e) == 0 && m2.n_layers == 2 &&
           streq(m2.layers[0].digest, D2), "manifest serialises and parses back");
        oci_manifest_done(&m);
        oci_manifest_done(&m2);

        const char *docker = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
                "\"config\":" DESC("application/vnd.docker.container.image.v1+json", D1, "")
                ",\"layers\":[" DESC("application/vnd.docker.image.rootfs.diff.tar.gzip", D2, "") "]}";
        ok(oci_manifest_parse("m", docker, strlen(docker), &m, &e) == 0 && m.media_type == DOCKER_MEDIA_MANIFEST,
           "docker v2 schema 2 manifest parses");
        oci_manifest_done(&m);

        BAD(oci_manifest_parse, S("{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, D1, "")
                ",\"layers\":[" DESC(MT_GZ, D2, "") "," DESC("application/x-foo", D3, "") "]}"), &m,
            "doc: layer 2 (" D3 ") has unsupported media type `application/x-foo`");
        BAD(oci_manifest_parse, S("{\"schemaVersion\":2,\"config\":" DESC("application/x-cfg", D1, "") ",\"layers\":[]}"), &m,
            "config has unsupported media type `application/x-cfg`");
        BAD(oci_manifest_parse, S("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}"), &m,
            "is an image index, not a manifest");
        BAD(oci_manifest_parse, S("{\"schemaVersion\":2,\"layers\":[]}"), &m, "`config` is missing");
        BAD(oci_manifest_parse, S("{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, D1, "") "}"), &m, "`layers` is missing");
        BAD(oci_manifest_parse, S("{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, D1, "") ",\"layers\":{}}"), &m,
            "`layers` is not a array");
}

static void config_tests(void)
{
        const char *good = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-01T00:00:00Z\","
                "\"config\":{\"User\":\"app\",\"Env\":[\"PATH=/bin\",\"A=1\"],\"Entrypoint\":[\"/init\"],"
                "\"Cmd\":[\"serve\",\"--port=80\"],\"WorkingDir\":\"/srv\",\"StopSignal\":\"SIGQUIT\","
                "\"ExposedPorts\":{\"80/tcp\":{}},\"Labels\":{\"k\":\"v\"},"
                "\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"curl -f localhost\"],\"Interval\":30000000000,\"Retries\":3}},"
                "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]}}";
        _cleanup_free_ char *e = NULL;
        OciConfig *c = NULL;

        ok(oci_config_parse("c", good, strlen(good), &c, &e) == 0, "config parses");
        ok(c && streq(c->user, "app") && strv_length(c->env) == 2 && streq(c->entrypoint[0], "/init") &&
           strv_length(c->cmd) == 2 && streq(c->working_dir, "/srv") && streq(c->stop_signal, "SIGQUIT") &&
           c->n_diff_ids == 2 && streq(c->diff_ids[1], D2) && streq(c->exposed_ports[0], "80/tcp") &&
           streq(c->labels[0], "k=v") && c->healthcheck.interval_nsec == 30000000000ULL &&
           c->healthcheck.retries == 3 && streq(c->created, "2024-01-01T00:00:00Z"),
           "config: every field");
        oci_config_free(c);
        c = NULL;

        const char *nulls = "{\"config\":{\"Cmd\":null,\"Entrypoint\":null,\"User\":\"\",\"Env\":null},"
                "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
        ok(oci_config_parse("c", nulls, strlen(nulls), &c, &e) == 0 && !c->cmd && !c->entrypoint && !c->user &&
           c->n_diff_ids == 0, "null and empty values are unset");
        oci_config_free(c);

        BAD(oci_config_parse, S("{\"config\":{\"Env\":[\"NOEQUALS\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"), &c,
            "`Env` item `NOEQUALS` is not KEY=VALUE");
        BAD(oci_config_parse, S("{\"os\":\"windows\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"), &c,
            "image is for os `windows`, not linux");
        BAD(oci_config_parse, S("{\"config\":{}}"), &c, "`rootfs` is missing");
        BAD(oci_config_parse, S("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"md5:00\"]}}"), &c,
            "unsupported digest algorithm");
        BAD(oci_config_parse, S("{\"config\":{\"Cmd\":\"sh\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"), &c,
            "`Cmd` is not a array");
        BAD(oci_config_parse, S("{\"config\":{\"Cmd\":[\"a\\u0000b\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"), &c,
            "contains a NUL byte");
        BAD(oci_config_parse, S("{\"config\":{\"Healthcheck\":{\"Test\":[\"BOGUS\"]}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}"), &c,
            "healthcheck test kind `BOGUS` is unknown");
}

static void docker_tests(void)
{
        const char *good = "[{\"Config\":\"abc.json\",\"RepoTags\":[\"busybox:latest\"],"
                "\"Layers\":[\"1/layer.tar\",\"blobs/sha256/22\"]}]";
        _cleanup_free_ char *e = NULL;
        DockerManifest m = {};

        ok(docker_manifest_parse("manifest.json", good, strlen(good), &m, &e) == 0 && m.n_images == 1 &&
           m.images[0].n_layers == 2 && streq(m.images[0].repo_tags[0], "busybox:latest"),
           "docker manifest.json parses");
        docker_manifest_done(&m);
        BAD(docker_manifest_parse, S("[{\"Config\":\"../etc/passwd\",\"Layers\":[]}]"), &m, "`../etc/passwd` leaves the archive");
        BAD(docker_manifest_parse, S("[{\"Config\":\"c.json\",\"Layers\":[\"a/../../x\"]}]"), &m, "leaves the archive");
        BAD(docker_manifest_parse, S("[{\"Config\":\"/c.json\",\"Layers\":[]}]"), &m, "is not a relative path");
        BAD(docker_manifest_parse, S("[]"), &m, "no image in the archive");
        BAD(docker_manifest_parse, S("[{\"Config\":\"c.json\"}]"), &m, "`Layers` is missing");
}

static void media_types(void)
{
        bool all = true;
        for (int t = 0; t < _OCI_MEDIA_MAX; t++)
                all = all && oci_media_type_from_string(oci_media_type_to_string((OciMediaType)t)) == t;
        ok(all, "media type names round-trip");
        ok(oci_media_type_from_string("application/json") == _OCI_MEDIA_INVALID, "unknown media type");
        ok(oci_digest_is_valid(D1) && !oci_digest_is_valid("sha256:ABCD") && !oci_digest_is_valid(NULL),
           "digest validation");
}

static void apply_tests(void)
{
        const char *cfg = "{\"config\":{\"User\":\"app\",\"Env\":[\"PATH=/bin\",\"A=1\"],\"Entrypoint\":[\"/init\"],"
                "\"Cmd\":[\"serve\"],\"WorkingDir\":\"/srv\",\"StopSignal\":\"SIGQUIT\","
                "\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"true\"]}},"
                "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
        _cleanup_free_ char *e = NULL, *argv = NULL, *env = NULL;
        OciConfig *img = NULL;
        UnitConfig u = {};
        ResolvedProcess p = {};
        char *exec[] = { (char *)"run", (char *)"--fast", NULL };
        char *empty[] = { NULL };
        char *ep[] = { (char *)"/bin/tini", NULL };
        char *envs[] = { (char *)"A=2", (char *)"B=3", NULL };

        oci_config_parse("c", cfg, strlen(cfg), &img, &e);
        ok(image_config_apply(img, &u, &p, &e) == 0, "apply: image defaults");
        argv = strv_join(p.argv, " ");
        env = strv_join(p.environment, " ");
        is_str(argv, "/init serve", "apply: Entrypoint + Cmd");
        is_str(env, "PATH=/bin A=1", "apply: image Env");
        ok(streq(p.working_directory, "/srv") && streq(p.user, "app") && p.stop_signal == SIGQUIT,
           "apply: WorkingDir, User, StopSignal from the image");
        ok(p.health_argv && streq(p.health_argv[0], "/bin/sh") && streq(p.health_argv[2], "true"),
           "apply: CMD-SHELL health check becomes /bin/sh -c");
        resolved_process_done(&p);
        free(argv);
        free(env);
        env = NULL;

        u.exec = exec;
        u.environment = envs;
        u.user = (char *)"1000";
        u.group = (char *)"1000";
        u.working_directory = (char *)"/tmp";
        u.stop_signal = SIGINT;
        image_config_apply(img, &u, &p, &e);
        argv = strv_join(p.argv, " ");
        env = strv_join(p.environment, " ");
        is_str(argv, "/init run --fast", "apply: Exec= replaces Cmd, appended to Entrypoint");
        is_str(env, "PATH=/bin A=2 B=3", "apply: Environment= overrides same keys, adds others");
        ok(streq(p.working_directory, "/tmp") && streq(p.user, "1000:1000") && p.stop_signal == SIGINT,
           "apply: unit values win");
        resolved_process_done(&p);
        free(argv);
        free(env);
        env = NULL;

        u.exec = NULL;
        u.entrypoint = ep;
        image_config_apply(img, &u, &p, &e);
        argv = strv_join(p.argv, " ");
        is_str(argv, "/bin/tini", "apply: Entrypoint= replaces the image's and drops its Cmd");
        resolved_process_done(&p);
        free(argv);

        u.entrypoint = empty;
        u.exec = exec;
        image_config_apply(img, &u, &p, &e);
        argv = strv_join(p.argv, " ");
        is_str(argv, "run --fast", "apply: empty Entrypoint= clears it");
        resolved_process_done(&p);

        u.exec = NULL;
        free(e);
        e = NULL;
        ok(image_config_apply(img, &u, &p, &e) == -EINVAL && strstr(e, "no command"),
           "apply: nothing to run is an error: %s", e ? e : "(none)");
        u = (UnitConfig){ .exec = exec };
        ok(image_config_apply(NULL, &u, &p, &e) == 0 && streq(p.working_directory, "/") && !p.user &&
           p.stop_signal == SIGTERM, "apply: directory image defaults /, root, SIGTERM");
        resolved_process_done(&p);
        oci_config_free(img);
}

int main(void)
{
        index_tests();
        manifest_tests();
        config_tests();
        docker_tests();
        media_types();
        apply_tests();
        return tap_done();
}
