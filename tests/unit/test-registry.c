/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/registry: references (what Image= and `image pull` accept), their
 * store names, and precise refusals. No network: the pulls themselves are
 * tested against a real registry in tests/integration/image-registry.bats. */

#include "registry.h"
#include "tap.h"
#include "util.h"

#define DG "sha256:abababababababababababababababababababababababababababababababab"

static void good(const char *s, const char *host, const char *api, const char *repo, const char *tag,
                 const char *digest, const char *name)
{
        _cleanup_free_ char *e = NULL, *sn = NULL;
        RegistryRef r = {};
        int k = registry_ref_parse(s, &r, &e);

        if (!ok(k == 0, "`%s` parses", s)) {
                tap_diag("%s", e ? e : "(no message)");
                return;
        }
        is_str(r.host, host, "`%s`: host", s);
        is_str(r.api_host, api, "`%s`: the host contacted", s);
        is_str(r.repository, repo, "`%s`: repository", s);
        ok(streq_ptr(r.tag, tag), "`%s`: tag %s", s, r.tag ? r.tag : "(none)");
        ok(streq_ptr(r.digest, digest), "`%s`: digest %s", s, r.digest ? r.digest : "(none)");
        ok(registry_ref_store_name(s, &sn, &e) == 0 && streq_ptr(sn, name), "`%s`: store name %s", s,
           sn ? sn : "(none)");
        registry_ref_done(&r);
}

static void bad(const char *s, const char *want)
{
        _cleanup_free_ char *e = NULL;
        RegistryRef r = {};
        int k = registry_ref_parse(s, &r, &e);

        ok(k < 0 && e && strstr(e, want), "`%s` refused: %s", s, e ? e : "(no message)");
        registry_ref_done(&r);
}

int main(void)
{
        good("127.0.0.1:5000/test/bb:v1", "127.0.0.1:5000", "127.0.0.1:5000", "test/bb", "v1", NULL,
             "127.0.0.1:5000/test/bb:v1");
        good("registry.example.org/app", "registry.example.org", "registry.example.org", "app", "latest", NULL,
             "registry.example.org/app:latest");
        good("docker.io/nginx:1.25", "docker.io", "registry-1.docker.io", "library/nginx", "1.25", NULL,
             "docker.io/library/nginx:1.25");
        good("docker://localhost/a/b/c@" DG, "localhost", "localhost", "a/b/c", NULL, DG, "localhost/a/b/c@" DG);
        good("quay.io/x/y:t@" DG, "quay.io", "quay.io", "x/y", "t", DG, "quay.io/x/y@" DG);

        ok(registry_ref_is_remote("127.0.0.1:5000/x"), "HOST:PORT/REPO is a registry reference");
        ok(registry_ref_is_remote("localhost/x"), "localhost/REPO is");
        ok(registry_ref_is_remote("docker://example.com/x"), "docker://… is");
        ok(!registry_ref_is_remote("busybox:latest"), "NAME:TAG is a store name");
        ok(!registry_ref_is_remote("library/busybox"), "a first component without . or : is a store name");
        ok(!registry_ref_is_remote("oci:/srv/layout:v1"), "oci: is a source");

        bad("127.0.0.1:/x", "invalid registry host `127.0.0.1:`");
        bad("127.0.0.1:99999999/x", "invalid registry host");
        bad("example.com/UPPER", "invalid repository name");
        bad("example.com/x:-bad", "invalid tag `-bad`");
        bad("example.com/x@sha256:12", "invalid digest `sha256:12`");
        bad("example.com/", "invalid repository name");
        return tap_done();
}
