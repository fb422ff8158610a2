/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oci.h"
#include "registry.h"
#include "sha256.h"
#include "store.h"
#include "util.h"

#define ERROR_BODY_MAX (64 * 1024)

/*
 * libcurl is loaded with dlopen() on the first pull, not linked: it brings
 * some 25 libraries (TLS, HTTP/2, LDAP, SSH, Kerberos…) that every ccsupd
 * and ccsupctl start would otherwise load, doubling their start-up time.
 */
static struct {
        CURLcode (*global_init)(long);
        CURL *(*easy_init)(void);
        CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
        CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
        CURLcode (*easy_perform)(CURL *);
        void (*easy_cleanup)(CURL *);
        const char *(*easy_strerror)(CURLcode);
        char *(*easy_escape)(CURL *, const char *, int);
        void (*free)(void *);
        struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
        void (*slist_free_all)(struct curl_slist *);
        CURLSH *(*share_init)(void);
        CURLSHcode (*share_setopt)(CURLSH *, CURLSHoption, ...);
        CURLSHcode (*share_cleanup)(CURLSH *);
} dl;

#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init(f) dl.global_init(f)
#define curl_easy_init() dl.easy_init()
#define curl_easy_setopt(c, o, v) dl.easy_setopt(c, o, v)
#define curl_easy_getinfo(c, i, v) dl.easy_getinfo(c, i, v)
#define curl_easy_perform(c) dl.easy_perform(c)
#define curl_easy_cleanup(c) dl.easy_cleanup(c)
#define curl_easy_strerror(e) dl.easy_strerror(e)
#define curl_easy_escape(c, s, n) dl.easy_escape(c, s, n)
#define curl_free(p) dl.free(p)
#define curl_slist_append(l, s) dl.slist_append(l, s)
#define curl_slist_free_all(l) dl.slist_free_all(l)
#undef curl_share_setopt
#define curl_share_init() dl.share_init()
#define curl_share_setopt(h, o, v) dl.share_setopt(h, o, v)
#define curl_share_cleanup(h) dl.share_cleanup(h)

static int curl_load(char **ret_error)
{
        static void *h;
        static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
        int r = 0;

        pthread_mutex_lock(&lock);
        if (!h) {
                void *x = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
                if (!x) {
                        r = error_set(ret_error, -ENOPKG, "cannot load libcurl (the Debian package libcurl4): %s",
                                      dlerror());
                        goto out;
                }
#define SYM(field, name)                                                      \
                if (!(*(void **)&dl.field = dlsym(x, name))) {                \
                        r = error_set(ret_error, -ENOPKG, "libcurl: no %s", name); \
                        dlclose(x);                                           \
                        goto out;                                             \
                }
                SYM(global_init, "curl_global_init");
                SYM(easy_init, "curl_easy_init");
                SYM(easy_setopt, "curl_easy_setopt");
                SYM(easy_getinfo, "curl_easy_getinfo");
                SYM(easy_perform, "curl_easy_perform");
                SYM(easy_cleanup, "curl_easy_cleanup");
                SYM(easy_strerror, "curl_easy_strerror");
                SYM(easy_escape, "curl_easy_escape");
                SYM(free, "curl_free");
                SYM(slist_append, "curl_slist_append");
                SYM(slist_free_all, "curl_slist_free_all");
                SYM(share_init, "curl_share_init");
                SYM(share_setopt, "curl_share_setopt");
                SYM(share_cleanup, "curl_share_cleanup");
#undef SYM
                if (dl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                        r = error_set(ret_error, -EIO, "curl_global_init failed");
                        dlclose(x);
                        goto out;
                }
                h = x;
        }
out:
        pthread_mutex_unlock(&lock);
        return r;
}

/* The order a registry is asked for: lists first, so that the platform is
 * chosen here and not by the registry. */
static const char accept_manifests[] =
        "Accept: application/vnd.oci.image.index.v1+json, "
        "application/vnd.docker.distribution.manifest.list.v2+json, "
        "application/vnd.oci.image.manifest.v1+json, "
        "application/vnd.docker.distribution.manifest.v2+json";


/* ------------------------------------------------------------------ references */

void registry_ref_done(RegistryRef *r)
{
        free(r->host);
        free(r->api_host);
        free(r->repository);
        free(r->tag);
        free(r->digest);
        free(r->name);
        *r = (RegistryRef){};
}

static bool host_like(const char *s, size_t n)
{
        return memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && !strncmp(s, "localhost", 9));
}

bool registry_ref_is_remote(const char *s)
{
        const char *slash = strchr(s, '/');
        return slash && !strchr(s, ' ') && host_like(s, (size_t)(slash - s)) && !startswith(s, "oci:") &&
               !startswith(s, "oci-archive:") && !startswith(s, "docker-archive:");
}

static bool repo_is_valid(const char *r)
{
        /* Lowercase path components of [a-z0-9] joined by . _ __ - */
        if (!*r || strlen(r) > 255 || *r == '/' || r[strlen(r) - 1] == '/' || strstr(r, "//"))
                return false;
        for (; *r; r++)
                if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-/", *r))
                        return false;
        return true;
}

static bool tag_ok(const char *t)
{
        size_t n = strlen(t);
        if (n == 0 || n > 128 || *t == '.' || *t == '-')
                return false;
        for (; *t; t++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *t))
                        return false;
        return true;
}

int registry_ref_parse(const char *s, RegistryRef *ret, char **ret_error)
{
        _cleanup_free_ char *rest = NULL;
        const char *slash = strchr(s, '/');
        char *at, *colon, *lastslash;
        RegistryRef r = {};

        if (startswith(s, "docker://"))
                s += 9, slash = strchr(s, '/');
        if (slash && host_like(s, (size_t)(slash - s))) {
                r.host = xstrndup(s, (size_t)(slash - s));
                rest = xstrdup(slash + 1);
                const char *port = strchr(r.host, ':');
                if (!r.host[0] || r.host[0] == ':' || strspn(r.host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:") != strlen(r.host) ||
                    (port && (strchr(port + 1, ':') || !port[1] || strspn(port + 1, "0123456789") != strlen(port + 1) ||
                              strlen(port + 1) > 5))) {
                        registry_ref_done(&r);
                        return error_set(ret_error, -EINVAL, "`%s`: invalid registry host `%.*s` (expected HOST[:PORT])", s,
                                         (int)(slash - s), s);
                }
        } else {
                r.host = xstrdup("docker.io");
                rest = xstrdup(s);
        }
        if ((at = strchr(rest, '@'))) {
                *at = 0;
                if (!oci_digest_is_valid(at + 1)) {
                        registry_ref_done(&r);
                        return error_set(ret_error, -EINVAL, "`%s`: invalid digest `%s` (expected sha256:64 hex digits)", s, at + 1);
                }
                r.digest = xstrdup(at + 1);
        }
        lastslash = strrchr(rest, '/');
        colon = strrchr(lastslash ? lastslash : rest, ':');
        if (colon) {
                *colon = 0;
                if (!tag_ok(colon + 1)) {
                        registry_ref_done(&r);
                        return error_set(ret_error, -EINVAL, "`%s`: invalid tag `%s`", s, colon + 1);
                }
                r.tag = xstrdup(colon + 1);
        }
        if (streq(r.host, "docker.io") && !strchr(rest, '/'))
                r.repository = xasprintf("library/%s", rest);
        else
                r.repository = xstrdup(rest);
        if (!repo_is_valid(r.repository)) {
                registry_ref_done(&r);
                return error_set(ret_error, -EINVAL, "`%s`: invalid repository name (lowercase letters, digits, . _ - and /)", s);
        }
        if (!r.tag && !r.digest)
                r.tag = xstrdup("latest");
        r.api_host = xstrdup(streq(r.host, "docker.io") ? "registry-1.docker.io" : r.host);
        if (r.tag)
                r.name = xasprintf("%s/%s:%s", r.host, r.repository, r.tag);
        *ret = r;
        return 0;
}

/* ------------------------------------------------------------------ the client */

typedef struct Registry {
        const RegistryOptions *o;
        const RegistryRef *ref;
        char *label;              /* "registry `h`, repository `r`" */
        char *base;               /* "https://host" */
        bool insecure;
        char *basic;              /* base64 user:pass from the auth file, or NULL */
        char *ca_blob;            /* system CAs + certs.d CAs, or NULL */
        size_t ca_blob_size;
        char *client_cert, *client_key;
        /* auth in force */
        bool use_basic;
        char *token;
        time_t token_expiry;
        char *realm, *service;
        /* one pool of connections (and DNS answers) for every request of
         * the pull, the parallel layers' too */
        CURLSH *share;
        pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
        /* what the last /v2/ probe of this registry found, kept in the
         * store (STATE/images/registries/HOST): a pull then starts with
         * its manifest request */
        int cache_dir;            /* -1: no store (registry_resolve() without one) */
        bool from_cache;
} Registry;

typedef struct Response {
        long status;
        char *body;
        size_t size, max;
        bool too_big;
        char *content_type, *www_authenticate, *location, *content_digest;
} Response;

static void response_done(Response *r)
{
        free(r->body);
        free(r->content_type);
        free(r->www_authenticate);
        free(r->location);
        free(r->content_digest);
        *r = (Response){};
}

static size_t body_cb(char *p, size_t sz, size_t nm, void *ud)
{
        Response *r = ud;
        size_t n = sz * nm;

        if (r->size + n > r->max) {
                r->too_big = true;
                return 0;
        }
        r->body = xrealloc(r->body, r->size + n + 1);
        memcpy(r->body + r->size, p, n);
        r->size += n;
        r->body[r->size] = 0;
        return n;
}

static char *header_value(const char *line, size_t n, const char *name)
{
        size_t l = strlen(name);
        const char *v;
        size_t vn;

        if (n <= l || strncasecmp(line, name, l) != 0 || line[l] != ':')
                return NULL;
        v = line + l + 1;
        vn = n - l - 1;
        while (vn && (*v == ' ' || *v == '\t'))
                v++, vn--;
        while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
                vn--;
        return xstrndup(v, vn);
}

static void header_keep(char **slot, char *v)
{
        if (v) {
                free(*slot);
                *slot = v;
        }
}

static size_t header_cb(char *p, size_t sz, size_t nm, void *ud)
{
        Response *r = ud;
        size_t n = sz * nm;

        if (n >= 5 && !strncmp(p, "HTTP/", 5)) {
                /* a new response (after a redirect): forget the last one's */
                free(r->content_type);
                free(r->www_authenticate);
                free(r->content_digest);
                r->content_type = r->www_authenticate = r->content_digest = NULL;
        }
        header_keep(&r->content_type, header_value(p, n, "Content-Type"));
        header_keep(&r->www_authenticate, header_value(p, n, "WWW-Authenticate"));
        header_keep(&r->location, header_value(p, n, "Location"));
        header_keep(&r->content_digest, header_value(p, n, "Docker-Content-Digest"));
        return n;
}

static unsigned timeout_sec(const Registry *R)
{
        const char *e = getenv("CCSUP_REGISTRY_TIMEOUT_SEC");
        char *end;
        unsigned long v;

        if (R->o && R->o->timeout_sec)
                return R->o->timeout_sec;
        if (e && *e && (v = strtoul(e, &end, 10)) > 0 && !*end && v <= 3600)
                return (unsigned)v;
        return 30;
}

/* What every request of R gets: TLS, timeouts, redirects, auth. */
static CURL *easy_new(const Registry *R, const char *url, struct curl_slist **hdrs, const char *accept)
{
        CURL *c = curl_easy_init();

        if (!c)
                return NULL;
        curl_easy_setopt(c, CURLOPT_URL, url);
        if (R->share)
                curl_easy_setopt(c, CURLOPT_SHARE, R->share);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 8L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, R->insecure ? "http,https" : "https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, R->insecure ? "http,https" : "https");
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)timeout_sec(R));
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)timeout_sec(R));
        curl_easy_setopt(c, CURLOPT_USERAGENT, "ccsup/" PACKAGE_VERSION);
        if (R->insecure) {
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        } else if (R->ca_blob) {
                struct curl_blob b = { .data = R->ca_blob, .len = R->ca_blob_size, .flags = CURL_BLOB_NOCOPY };
                curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
        }
        if (R->client_cert && R->client_key) {
                curl_easy_setopt(c, CURLOPT_SSLCERT, R->client_cert);
                curl_easy_setopt(c, CURLOPT_SSLKEY, R->client_key);
        }
        if (accept)
                *hdrs = curl_slist_append(*hdrs, accept);
        if (R->token) {
                _cleanup_free_ char *h = xasprintf("Authorization: Bearer %s", R->token);
                *hdrs = curl_slist_append(*hdrs, h);
        } else if (R->use_basic && R->basic) {
                _cleanup_free_ char *h = xasprintf("Authorization: Basic %s", R->basic);
                *hdrs = curl_slist_append(*hdrs, h);
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
        return c;
}

/* "CODE: message" of a registry's JSON error body, else the body's first
 * line, else NULL. */
static char *registry_error_text(const Response *resp)
{
        _cleanup_strv_free_ char **parts = NULL;
        json_object *o, *errs;

        if (!resp->body || resp->size == 0)
                return NULL;
        o = json_tokener_parse(resp->body);
        if (o && json_object_object_get_ex(o, "errors", &errs) && json_object_is_type(errs, json_type_array)) {
                for (size_t k = 0; k < json_object_array_length(errs) && k < 4; k++) {
                        json_object *e = json_object_array_get_idx(errs, k), *code, *msg;
                        const char *cs = json_object_object_get_ex(e, "code", &code) ? json_object_get_string(code) : NULL;
                        const char *ms = json_object_object_get_ex(e, "message", &msg) ? json_object_get_string(msg) : NULL;
                        strv_addf(&parts, "%s%s%s", cs ? cs : "", cs && ms ? ": " : "", ms ? ms : "");
                }
        }
        json_object_put(o);
        if (parts)
                return strv_join(parts, "; ");
        size_t n = strcspn(resp->body, "\r\n");
        return n ? xstrndup(resp->body, n < 200 ? n : 200) : NULL;
}

static int curl_fail(const Registry *R, const char *what, CURLcode e, const char *errbuf, char **ret_error)
{
        int r = e == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT :
                e == CURLE_COULDNT_CONNECT || e == CURLE_COULDNT_RESOLVE_HOST ? -EHOSTUNREACH :
                e == CURLE_TOO_MANY_REDIRECTS ? -ELOOP :
                e == CURLE_PEER_FAILED_VERIFICATION || e == CURLE_SSL_CONNECT_ERROR ||
                e == CURLE_SSL_CACERT_BADFILE ? -EPROTO : -EIO;
        return error_set(ret_error, r, "%s: %s: %s", R->label, what, errbuf && *errbuf ? errbuf : curl_easy_strerror(e));
}

/* One GET into memory (at most max bytes). Transport failures are errors;
 * any HTTP status is returned in resp. */
static int get(const Registry *R, const char *url, const char *accept, size_t max, const char *what,
               Response *resp, char **ret_error)
{
        struct curl_slist *hdrs = NULL;
        char errbuf[CURL_ERROR_SIZE] = "";
        CURL *c = easy_new(R, url, &hdrs, accept);
        CURLcode e;

        *resp = (Response){ .max = max };
        if (!c)
                return error_set(ret_error, -ENOMEM, "%s: curl_easy_init failed", R->label);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
        e = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
        curl_easy_cleanup(c);
        curl_slist_free_all(hdrs);
        if (resp->too_big)
                return error_set(ret_error, -EFBIG, "%s: %s: larger than %zu bytes", R->label, what, max);
        if (e != CURLE_OK)
                return curl_fail(R, what, e, errbuf, ret_error);
        return 0;
}

static int http_fail(const Registry *R, const char *what, const Response *resp, char **ret_error)
{
        _cleanup_free_ char *text = registry_error_text(resp);
        int r = resp->status == 404 ? -ENOENT : resp->status == 401 || resp->status == 403 ? -EACCES :
                resp->status == 429 ? -EBUSY : -EIO;

        return error_set(ret_error, r, "%s: %s: HTTP %ld%s%s", R->label, what, resp->status,
                         text ? ": " : "", text ? text : "");
}

/* ------------------------------------------------------------------ auth */

/* The value of key="…" (or key=token) in a challenge. */
static char *challenge_param(const char *ch, const char *key)
{
        size_t l = strlen(key);

        for (const char *p = ch; (p = strcasestr(p, key)); p += l) {
                if (p > ch && p[-1] != ' ' && p[-1] != ',')
                        continue;
                if (p[l] != '=')
                        continue;
                const char *v = p + l + 1;
                if (*v == '"') {
                        const char *end = strchr(v + 1, '"');
                        return end ? xstrndup(v + 1, (size_t)(end - v - 1)) : NULL;
                }
                return xstrndup(v, strcspn(v, ", "));
        }
        return NULL;
}

/* Reads the credentials of the registry from a containers-auth.json file:
 * auths.KEY.auth where KEY is HOST, HOST/REPO… (the longest match wins) or
 * https://HOST. A missing default file is no error. */
static int auth_load(Registry *R, char **ret_error)
{
        const char *path = R->o && R->o->auth_file ? R->o->auth_file : getenv("REGISTRY_AUTH_FILE");
        bool named = path && *path;
        _cleanup_free_ char *data = NULL;
        json_object *o, *auths;
        size_t best = 0, n;
        int r;

        if (!named)
                path = REGISTRY_DEFAULT_AUTH_FILE;
        r = read_full_file(path, 1024 * 1024, &data, &n);
        if (r == -ENOENT && !named)
                return 0;
        if (r < 0)
                return error_set(ret_error, r, "registry auth file `%s`: %s", path, strerror(-r));
        o = json_tokener_parse(data);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return error_set(ret_error, -EBADMSG, "registry auth file `%s`: not a JSON object", path);
        }
        if (json_object_object_get_ex(o, "auths", &auths) && json_object_is_type(auths, json_type_object)) {
                _cleanup_free_ char *full = xasprintf("%s/%s", R->ref->host, R->ref->repository);
                json_object_object_foreach(auths, key, val) {
                        const char *k = startswith(key, "https://") ?: startswith(key, "http://") ?: key;
                        size_t kl = strlen(k);
                        json_object *a;
                        while (kl && k[kl - 1] == '/')
                                kl--;
                        bool match = (kl == strlen(R->ref->host) && !strncmp(k, R->ref->host, kl)) ||
                                     (!strncmp(full, k, kl) && (full[kl] == 0 || full[kl] == '/'));
                        if (!match || kl <= best || !json_object_object_get_ex(val, "auth", &a) ||
                            !json_object_is_type(a, json_type_string))
                                continue;
                        free(R->basic);
                        R->basic = xstrdup(json_object_get_string(a));
                        best = kl;
                }
        }
        json_object_put(o);
        return 0;
}

static int token_fetch(Registry *R, char **ret_error)
{
        _cleanup_free_ char *url = NULL, *scope = NULL, *svc = NULL;
        Response resp;
        json_object *o, *t;
        int r;
        CURL *esc = curl_easy_init();

        if (!esc)
                return error_set(ret_error, -ENOMEM, "curl_easy_init failed");
        scope = xasprintf("repository:%s:pull", R->ref->repository);
        char *s1 = curl_easy_escape(esc, scope, 0), *s2 = R->service ? curl_easy_escape(esc, R->service, 0) : NULL;
        url = xasprintf("%s%sscope=%s%s%s", R->realm, strchr(R->realm, '?') ? "&" : "?", s1,
                        s2 ? "&service=" : "", s2 ? s2 : "");
        curl_free(s1);
        curl_free(s2);
        curl_easy_cleanup(esc);
        /* The token endpoint gets the basic credentials, if any; never a token. */
        free(R->token);
        R->token = NULL;
        R->use_basic = R->basic != NULL;
        r = get(R, url, NULL, 1024 * 1024, "token endpoint", &resp, ret_error);
        R->use_basic = false;
        if (r < 0)
                return r;
        if (resp.status != 200) {
                r = http_fail(R, "token endpoint", &resp, ret_error);
                response_done(&resp);
                return r;
        }
        o = resp.body ? json_tokener_parse(resp.body) : NULL;
        if (!o || !((json_object_object_get_ex(o, "token", &t) || json_object_object_get_ex(o, "access_token", &t)) &&
                    json_object_is_type(t, json_type_string) && json_object_get_string_len(t) > 0)) {
                json_object_put(o);
                response_done(&resp);
                return error_set(ret_error, -EBADMSG, "%s: token endpoint: the answer has no token", R->label);
        }
        R->token = xstrdup(json_object_get_string(t));
        json_object *exp;
        int64_t secs = json_object_object_get_ex(o, "expires_in", &exp) ? json_object_get_int64(exp) : 0;
        R->token_expiry = time(NULL) + (secs >= 60 ? secs : 60) - 10;
        json_object_put(o);
        response_done(&resp);
        return 0;
}

/* After a 401: the challenge decides how to authenticate. Returns 1 when a
 * retry is worth it. */
static int authenticate(Registry *R, const Response *resp, char **ret_error)
{
        const char *ch = resp->www_authenticate;

        if (!ch)
                return 0;
        if (!strncasecmp(ch, "Basic", 5)) {
                if (!R->basic || R->use_basic)
                        return 0;
                R->use_basic = true;
                return 1;
        }
        if (!strncasecmp(ch, "Bearer", 6)) {
                if (R->token && time(NULL) < R->token_expiry)
                        return 0; /* it had a valid token: refused */
                free(R->realm);
                free(R->service);
                R->realm = challenge_param(ch + 6, "realm");
                R->service = challenge_param(ch + 6, "service");
                if (!R->realm || (!startswith(R->realm, "https://") && !(R->insecure && startswith(R->realm, "http://"))))
                        return error_set(ret_error, -EPROTO, "%s: bearer challenge without a usable realm (`%s`)",
                                         R->label, ch);
                int r = token_fetch(R, ret_error);
                return r < 0 ? r : 1;
        }
        return 0;
}

/* get() that authenticates on 401 and tries once more. */
static int get_auth(Registry *R, const char *url, const char *accept, size_t max, const char *what,
                    Response *resp, char **ret_error)
{
        int r;

        if (R->token && time(NULL) >= R->token_expiry && (r = token_fetch(R, ret_error)) < 0)
                return r;
        if ((r = get(R, url, accept, max, what, resp, ret_error)) < 0)
                return r;
        if (resp->status != 401)
                return 0;
        if ((r = authenticate(R, resp, ret_error)) <= 0)
                return r;
        response_done(resp);
        return get(R, url, accept, max, what, resp, ret_error);
}

/* ------------------------------------------------------------------ TLS */

static void certs_load(Registry *R)
{
        const char *dir = R->o && R->o->certs_dir ? R->o->certs_dir : REGISTRY_DEFAULT_CERTS_DIR;
        _cleanup_free_ char *hdir = path_join(dir, R->ref->api_host), *sys = NULL;
        DIR *d = opendir(hdir);
        struct dirent *de;
        size_t n = 0;
        bool any = false;

        if (!d)
                return;
        (void)read_full_file("/etc/ssl/certs/ca-certificates.crt", 16 * 1024 * 1024, &sys, &n);
        R->ca_blob = sys ? TAKE_PTR(sys) : xstrdup("");
        R->ca_blob_size = n;
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                _cleanup_free_ char *p = path_join(hdir, de->d_name), *data = NULL;
                size_t dn;
                if (l > 4 && streq(de->d_name + l - 4, ".crt") && read_full_file(p, 1024 * 1024, &data, &dn) >= 0) {
                        R->ca_blob = xrealloc(R->ca_blob, R->ca_blob_size + dn + 2);
                        R->ca_blob[R->ca_blob_size++] = '\n';
                        memcpy(R->ca_blob + R->ca_blob_size, data, dn);
                        R->ca_blob_size += dn;
                        any = true;
                } else if (l > 5 && streq(de->d_name + l - 5, ".cert")) {
                        free(R->client_cert);
                        R->client_cert = xstrdup(p);
                        free(R->client_key);
                        R->client_key = xasprintf("%.*s.key", (int)(strlen(p) - 5), p);
                }
        }
        closedir(d);
        if (!any) {
                free(R->ca_blob);
                R->ca_blob = NULL;
        }
}

/* ------------------------------------------------------------------ setup */

static void share_lock(CURL *c, curl_lock_data d, curl_lock_access a, void *userdata)
{
        Registry *R = userdata;

        (void)c, (void)a;
        pthread_mutex_lock(&R->share_locks[d]);
}

static void share_unlock(CURL *c, curl_lock_data d, void *userdata)
{
        Registry *R = userdata;

        (void)c;
        pthread_mutex_unlock(&R->share_locks[d]);
}

static void registry_done(Registry *R)
{
        if (R->share) {
                curl_share_cleanup(R->share);
                for (size_t k = 0; k < CURL_LOCK_DATA_LAST; k++)
                        pthread_mutex_destroy(&R->share_locks[k]);
        }
        safe_close(R->cache_dir);
        free(R->label);
        free(R->base);
        free(R->basic);
        free(R->ca_blob);
        free(R->client_cert);
        free(R->client_key);
        free(R->token);
        free(R->realm);
        free(R->service);
}

/* The probe's findings: "SCHEME AUTH [REALM [SERVICE]]", AUTH one of
 * anonymous, basic, bearer. Only the scheme and the challenge are kept,
 * never a credential or a token. */
static char *cache_name(const Registry *R)
{
        return xasprintf("%s", R->ref->api_host);
}

static void cache_write(Registry *R, const char *auth)
{
        _cleanup_free_ char *name = NULL, *tmp = NULL, *line = NULL, *old = NULL;
        size_t n = 0;
        int fd;

        if (R->cache_dir < 0)
                return;
        name = cache_name(R);
        line = xasprintf("%s %s%s%s%s%s\n", startswith(R->base, "http://") ? "http" : "https", auth,
                         R->realm && streq(auth, "bearer") ? " " : "", R->realm && streq(auth, "bearer") ? R->realm : "",
                         R->service && streq(auth, "bearer") ? " " : "",
                         R->service && streq(auth, "bearer") ? R->service : "");
        fd = openat(R->cache_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
                (void)read_full_fd(fd, 4096, &old, &n);
                safe_close(fd);
                if (old && streq(old, line))
                        return; /* unchanged: nothing written */
        }
        tmp = xasprintf(".tmp-%s-%d", name, (int)getpid());
        fd = openat(R->cache_dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return;
        bool ok = write(fd, line, strlen(line)) == (ssize_t)strlen(line);
        safe_close(fd);
        if (!ok || renameat(R->cache_dir, tmp, R->cache_dir, name) < 0)
                (void)unlinkat(R->cache_dir, tmp, 0);
}

static void cache_forget(Registry *R)
{
        _cleanup_free_ char *name = NULL;

        if (R->cache_dir < 0)
                return;
        name = cache_name(R);
        (void)unlinkat(R->cache_dir, name, 0);
}

/* What a cached probe says; 0 when it can be used (R->base set, and
 * for bearer the realm and service). */
static int cache_read(Registry *R)
{
        _cleanup_free_ char *name = NULL, *data = NULL;
        char *w[5] = {}, *save = NULL;
        size_t n = 0, k = 0;
        int fd;

        if (R->cache_dir < 0)
                return -ENOENT;
        name = cache_name(R);
        fd = openat(R->cache_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = read_full_fd(fd, 4096, &data, &n);
        safe_close(fd);
        if (r < 0)
                return r;
        data[strcspn(data, "\n")] = 0;
        for (char *t = strtok_r(data, " ", &save); t && k < 5; t = strtok_r(NULL, " ", &save))
                w[k++] = t;
        if (k < 2 || !(streq(w[0], "https") || (streq(w[0], "http") && R->insecure)))
                return -EINVAL;
        if (streq(w[1], "bearer")) {
                if (k < 3 || !(startswith(w[2], "https://") || (R->insecure && startswith(w[2], "http://"))))
                        return -EINVAL;
                R->realm = xstrdup(w[2]);
                R->service = k > 3 ? xstrdup(w[3]) : NULL;
        } else if (streq(w[1], "basic"))
                R->use_basic = R->basic != NULL;
        else if (!streq(w[1], "anonymous"))
                return -EINVAL;
        R->base = xasprintf("%s://%s", w[0], R->ref->api_host);
        R->from_cache = true;
        return 0;
}

/* The /v2/ probe: is it a registry, and how does it want us to
 * authenticate. An insecure registry may speak plain HTTP. */
static int registry_probe(Registry *R, char **ret_error)
{
        _cleanup_free_ char *url = NULL;
        Response resp;
        int r;

        free(R->base);
        R->base = xasprintf("https://%s", R->ref->api_host);
        url = xasprintf("%s/v2/", R->base);
        r = get(R, url, NULL, ERROR_BODY_MAX, "/v2/ probe", &resp, ret_error);
        if (r < 0 && R->insecure && r != -ETIMEDOUT) {
                free(R->base);
                free(url);
                R->base = xasprintf("http://%s", R->ref->api_host);
                url = xasprintf("%s/v2/", R->base);
                r = get(R, url, NULL, ERROR_BODY_MAX, "/v2/ probe", &resp, ret_error);
        }
        if (r < 0)
                return r;
        if (resp.status == 401)
                r = authenticate(R, &resp, ret_error);
        else if (resp.status != 200)
                r = http_fail(R, "/v2/ probe (not a registry?)", &resp, ret_error);
        if (r >= 0)
                cache_write(R, resp.status == 200 ? "anonymous" : R->token ? "bearer" : "basic");
        response_done(&resp);
        return r < 0 ? r : 0;
}

static int registry_open(Registry *R, const char *state_dir, const RegistryOptions *o, const RegistryRef *ref,
                         char **ret_error)
{
        int r;

        *R = (Registry){ .o = o, .ref = ref, .cache_dir = -1 };
        R->label = xasprintf("registry `%s`, repository `%s`", ref->host, ref->repository);
        R->insecure = o && (strv_contains(o->insecure, ref->host) || strv_contains(o->insecure, ref->api_host));
        if ((r = auth_load(R, ret_error)) < 0)
                return r;
        certs_load(R);
        R->share = curl_share_init();
        if (R->share) {
                for (size_t k = 0; k < CURL_LOCK_DATA_LAST; k++)
                        pthread_mutex_init(&R->share_locks[k], NULL);
                curl_share_setopt(R->share, CURLSHOPT_LOCKFUNC, share_lock);
                curl_share_setopt(R->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
                curl_share_setopt(R->share, CURLSHOPT_USERDATA, R);
                curl_share_setopt(R->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
                curl_share_setopt(R->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
                curl_share_setopt(R->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        }
        if (state_dir) {
                _cleanup_free_ char *d = path_join(state_dir, "images/registries");
                if (mkdir_p(d, 0700) >= 0)
                        R->cache_dir = open(d, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (cache_read(R) >= 0) {
                /* A bearer registry: the token first, not a 401 first. */
                if (!R->realm || (r = token_fetch(R, ret_error)) >= 0)
                        return 0;
                free(*ret_error);
                *ret_error = NULL;
                cache_forget(R);
                R->from_cache = R->use_basic = false;
        }
        return registry_probe(R, ret_error);
}

/* ------------------------------------------------------------------ (end of setup) */

/* ------------------------------------------------------------------ manifests */

static int media_type_of(const Response *resp, OciMediaType *ret)
{
        _cleanup_free_ char *ct = resp->content_type ? xstrndup(resp->content_type, strcspn(resp->content_type, ";")) : NULL;
        OciMediaType t = ct ? oci_media_type_from_string(ct) : _OCI_MEDIA_INVALID;

        if (t < 0 || !(oci_media_type_is_index(t) || oci_media_type_is_manifest(t))) {
                /* Plain application/json (or none): the document's own mediaType. */
                json_object *o = resp->body ? json_tokener_parse(resp->body) : NULL, *mt;
                if (o && json_object_object_get_ex(o, "mediaType", &mt) && json_object_is_type(mt, json_type_string))
                        t = oci_media_type_from_string(json_object_get_string(mt));
                else if (o && json_object_object_get_ex(o, "manifests", &mt))
                        t = OCI_MEDIA_INDEX;
                else if (o && json_object_object_get_ex(o, "layers", &mt))
                        t = OCI_MEDIA_MANIFEST;
                json_object_put(o);
        }
        if (t < 0 || !(oci_media_type_is_index(t) || oci_media_type_is_manifest(t)))
                return -EPROTONOSUPPORT;
        *ret = t;
        return 0;
}

/* Fetches manifests/REF; when want_digest is set, its bytes must have it. */
static int manifest_get(Registry *R, const char *reference, const char *want_digest, char **ret,
                        size_t *ret_size, OciMediaType *ret_type, char ret_digest[SHA256_DIGEST_STRING_MAX],
                        char **ret_error)
{
        _cleanup_free_ char *url = xasprintf("%s/v2/%s/manifests/%s", R->base, R->ref->repository, reference);
        _cleanup_free_ char *what = xasprintf("manifest `%s`", reference);
        Response resp;
        int r;

        if ((r = get_auth(R, url, accept_manifests, OCI_DOCUMENT_MAX, what, &resp, ret_error)) < 0)
                return r;
        if (resp.status != 200) {
                r = http_fail(R, what, &resp, ret_error);
                response_done(&resp);
                return r;
        }
        sha256_digest(resp.body ? resp.body : "", resp.size, ret_digest);
        if (want_digest && !streq(want_digest, ret_digest))
                r = error_set(ret_error, -EBADMSG, "%s: %s: digest mismatch (content is %s)", R->label, what, ret_digest);
        else if (resp.content_digest && oci_digest_is_valid(resp.content_digest) &&
                 !streq(resp.content_digest, ret_digest))
                /* The registry says which digest it sends: a tag's bytes must have it too. */
                r = error_set(ret_error, -EBADMSG, "%s: %s: digest mismatch (the registry says %s, content is %s)",
                              R->label, what, resp.content_digest, ret_digest);
        else if (media_type_of(&resp, ret_type) < 0)
                r = error_set(ret_error, -EPROTONOSUPPORT, "%s: %s: unsupported media type `%s`", R->label, what,
                              resp.content_type ? resp.content_type : "(none)");
        if (r >= 0) {
                *ret = resp.body ? TAKE_PTR(resp.body) : xstrdup("");
                *ret_size = resp.size;
        }
        response_done(&resp);
        return r;
}

static int platform_parse(const char *p, char **os, char **arch, char **ret_error)
{
        const char *s1 = p ? strchr(p, '/') : NULL;

        if (!p) {
                *os = xstrdup("linux");
                *arch = xstrdup(oci_host_architecture());
                return 0;
        }
        if (!s1 || s1 == p || !s1[1] || s1[1] == '/')
                return error_set(ret_error, -EINVAL, "invalid platform `%s` (expected OS/ARCH[/VARIANT])", p);
        *os = xstrndup(p, (size_t)(s1 - p));
        *arch = xstrndup(s1 + 1, strcspn(s1 + 1, "/"));
        return 0;
}

static int index_choose(Registry *R, const char *index, size_t size, const char *what, OciDescriptor *ret,
                        char **ret_error)
{
        _cleanup_free_ char *os = NULL, *arch = NULL;
        _cleanup_strv_free_ char **seen = NULL;
        OciIndex idx = {};
        int r;

        if ((r = platform_parse(R->o ? R->o->platform : NULL, &os, &arch, ret_error)) < 0)
                return r;
        if ((r = oci_index_parse(what, index, size, &idx, ret_error)) < 0)
                return r;
        for (size_t k = 0; k < idx.n_manifests; k++) {
                OciDescriptor *d = &idx.manifests[k];
                if (!oci_media_type_is_manifest(d->media_type))
                        continue;
                strv_addf(&seen, "%s/%s", d->os ? d->os : "?", d->architecture ? d->architecture : "?");
                if (d->os && d->architecture && streq(d->os, os) && streq(d->architecture, arch)) {
                        *ret = *d;
                        idx.manifests[k] = (OciDescriptor){};
                        oci_index_done(&idx);
                        return 0;
                }
        }
        oci_index_done(&idx);
        _cleanup_free_ char *list = seen ? strv_join(seen, ", ") : xstrdup("none");
        return error_set(ret_error, -ENOENT, "%s: %s: no image for platform %s/%s (it has: %s)", R->label, what,
                         os, arch, list);
}

/* ------------------------------------------------------------------ blobs */

static char *blob_url(const Registry *R, const char *digest)
{
        return xasprintf("%s/v2/%s/blobs/%s", R->base, R->ref->repository, digest);
}

static int blob_fail(const Registry *R, const char *digest, const Response *resp, char **ret_error)
{
        _cleanup_free_ char *what = xasprintf("blob %s", digest);
        return http_fail(R, what, resp, ret_error);
}

typedef struct Pull {
        Registry *R;
        char *label;
        int partial_dir;          /* STATE/images/partial: cut transfers, to resume with Range; -1: none */
} Pull;

static int fetch_document(void *userdata, const OciDescriptor *d, char **ret, size_t *ret_size, char **ret_error)
{
        Pull *p = userdata;
        _cleanup_free_ char *url = blob_url(p->R, d->digest), *what = xasprintf("blob %s", d->digest);
        char got[SHA256_DIGEST_STRING_MAX];
        Response resp;
        int r;

        if (d->size > OCI_DOCUMENT_MAX)
                return error_set(ret_error, -EFBIG, "%s: %s: %lld bytes, more than %d", p->R->label, what,
                                 (long long)d->size, OCI_DOCUMENT_MAX);
        if ((r = get_auth(p->R, url, NULL, OCI_DOCUMENT_MAX, what, &resp, ret_error)) < 0)
                return r;
        if (resp.status != 200)
                r = blob_fail(p->R, d->digest, &resp, ret_error);
        else if ((int64_t)resp.size != d->size)
                r = error_set(ret_error, -EBADMSG, "%s: %s: size mismatch (descriptor says %lld, got %zu bytes)",
                              p->R->label, what, (long long)d->size, resp.size);
        else {
                sha256_digest(resp.body ? resp.body : "", resp.size, got);
                if (!streq(got, d->digest))
                        r = error_set(ret_error, -EBADMSG, "%s: %s: digest mismatch (content is %s)", p->R->label,
                                      what, got);
        }
        if (r >= 0) {
                *ret = resp.body ? TAKE_PTR(resp.body) : xstrdup("");
                *ret_size = resp.size;
        }
        response_done(&resp);
        return r;
}

/* A layer in transit: a thread runs the transfer and writes the bytes into
 * one end of a socket pair; the store's unpacker reads the other. */
typedef struct Stream {
        Pull *pull;
        char *url, *digest;
        int wfd;
        uint64_t want, got;
        size_t idx, n;
        bool too_long, reader_gone;
        Response err;             /* the body of a failed response */
        CURLcode result;
        long status;
        char errbuf[CURL_ERROR_SIZE];
        struct curl_slist *hdrs;
        CURL *c;
        pthread_t thread;
        uint64_t last_progress;
        int part_fd;              /* what arrived so far, kept for a resume; -1: none */
        uint64_t resume_from;     /* bytes taken from part_fd, asked for with Range */
        uint64_t skip;            /* of a 200 answer to a Range request: bytes already sent */
        bool resumed;             /* the registry answered 206 */
} Stream;

static size_t stream_write(char *p, size_t sz, size_t nm, void *ud)
{
        Stream *s = ud;
        size_t n = sz * nm;
        long status = 0;

        curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &status);
        if (status == 206 && s->resume_from > 0)
                s->resumed = true;
        else if (status != 200) {
                s->err.max = ERROR_BODY_MAX;
                return body_cb(p, sz, nm, &s->err) == n || s->err.too_big ? n : 0;
        } else if (s->skip > 0) {
                /* The whole blob although a range was asked for: drop what
                 * was already sent (the digest checks that it was the same). */
                size_t k = n < s->skip ? n : (size_t)s->skip;
                s->skip -= k;
                if (k == n)
                        return n;
                size_t r = stream_write(p + k, 1, n - k, ud);
                return r == n - k ? n : 0;
        }
        if (s->got + n > s->want) {
                s->too_long = true;
                return 0;
        }
        for (size_t done = 0; done < n;) {
                ssize_t w = send(s->wfd, p + done, n - done, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0) {
                        s->reader_gone = true;
                        return 0;
                }
                done += (size_t)w;
        }
        if (s->part_fd >= 0 && write(s->part_fd, p, n) != (ssize_t)n)
                s->part_fd = safe_close(s->part_fd); /* no resume then, the pull goes on */
        s->got += n;
        return n;
}

static int stream_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
        Stream *s = ud;
        const RegistryOptions *o = s->pull->R->o;
        uint64_t now = now_usec_monotonic();

        (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
        if (o && o->progress && now - s->last_progress >= 200000) {
                s->last_progress = now;
                o->progress(o->progress_userdata, REGISTRY_LAYER_PROGRESS, s->idx, s->n, s->digest, s->got, s->want);
        }
        return 0;
}

static void *stream_run(void *ud)
{
        Stream *s = ud;

        /* A resume: first what arrived last time, so that the unpacker and
         * its digest see the blob from its first byte. */
        for (uint64_t off = 0; off < s->resume_from;) {
                char buf[65536];
                ssize_t k = pread(s->part_fd, buf, sizeof(buf), (off_t)off);
                if (k <= 0) {
                        s->result = CURLE_READ_ERROR;
                        snprintf(s->errbuf, sizeof(s->errbuf), "reading the partial download: %s",
                                 k < 0 ? strerror(errno) : "short");
                        goto out;
                }
                for (ssize_t done = 0; done < k;) {
                        ssize_t w = send(s->wfd, buf + done, (size_t)(k - done), MSG_NOSIGNAL);
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0) {
                                s->reader_gone = true;
                                goto out;
                        }
                        done += w;
                }
                off += (uint64_t)k;
        }
        s->got = s->resume_from;
        s->result = curl_easy_perform(s->c);
out:
        curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &s->status);
        shutdown(s->wfd, SHUT_WR);
        s->wfd = safe_close(s->wfd);
        return NULL;
}

static void stream_free(Stream *s)
{
        if (s->c)
                curl_easy_cleanup(s->c);
        curl_slist_free_all(s->hdrs);
        safe_close(s->wfd);
        safe_close(s->part_fd);
        response_done(&s->err);
        free(s->url);
        free(s->digest);
        free(s);
}

static int open_layer(void *userdata, const OciDescriptor *d, size_t idx, size_t n, int *ret_fd, void **ret_handle,
                      char **ret_error)
{
        static pthread_mutex_t token_lock = PTHREAD_MUTEX_INITIALIZER;
        Pull *p = userdata;
        Registry *R = p->R;
        Stream *s;
        int sv[2], r = 0;

        /* Layers open from several threads: one of them renews the token. */
        pthread_mutex_lock(&token_lock);
        if (R->token && time(NULL) >= R->token_expiry)
                r = token_fetch(R, ret_error);
        pthread_mutex_unlock(&token_lock);
        if (r < 0)
                return r;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return error_set(ret_error, -errno, "socketpair: %s", strerror(errno));
        s = xcalloc(1, sizeof(*s));
        *s = (Stream){ .pull = p, .url = blob_url(R, d->digest), .digest = xstrdup(d->digest), .wfd = sv[1],
                       .want = (uint64_t)d->size, .idx = idx, .n = n, .part_fd = -1 };
        if (p->partial_dir >= 0) {
                struct stat st;
                s->part_fd = openat(p->partial_dir, oci_digest_hex(d->digest),
                                    O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (s->part_fd >= 0 && fstat(s->part_fd, &st) == 0 && S_ISREG(st.st_mode)) {
                        if ((uint64_t)st.st_size < s->want)
                                s->resume_from = s->skip = (uint64_t)st.st_size;
                        else if (ftruncate(s->part_fd, 0) < 0)
                                s->part_fd = safe_close(s->part_fd);
                } else
                        s->part_fd = safe_close(s->part_fd);
        }
        s->c = easy_new(R, s->url, &s->hdrs, NULL);
        if (!s->c) {
                safe_close(sv[0]);
                stream_free(s);
                return error_set(ret_error, -ENOMEM, "curl_easy_init failed");
        }
        curl_easy_setopt(s->c, CURLOPT_ERRORBUFFER, s->errbuf);
        curl_easy_setopt(s->c, CURLOPT_WRITEFUNCTION, stream_write);
        curl_easy_setopt(s->c, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(s->c, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(s->c, CURLOPT_HEADERDATA, &s->err);
        curl_easy_setopt(s->c, CURLOPT_XFERINFOFUNCTION, stream_progress);
        curl_easy_setopt(s->c, CURLOPT_XFERINFODATA, s);
        curl_easy_setopt(s->c, CURLOPT_NOPROGRESS, 0L);
        if (s->resume_from > 0)
                curl_easy_setopt(s->c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)s->resume_from);
        if ((r = pthread_create(&s->thread, NULL, stream_run, s)) != 0) {
                safe_close(sv[0]);
                stream_free(s);
                return error_set(ret_error, -r, "pthread_create: %s", strerror(r));
        }
        *ret_fd = sv[0];
        *ret_handle = s;
        return 0;
}

static int close_layer(void *userdata, void *handle, int unpack_result, char **ret_error)
{
        Pull *p = userdata;
        Stream *s = handle;
        const RegistryOptions *o = p->R->o;
        _cleanup_free_ char *what = xasprintf("blob %s", s->digest);
        int r = 0;

        pthread_join(s->thread, NULL);
        if (s->too_long)
                r = error_set(ret_error, -EBADMSG, "%s: %s: longer than the %llu bytes its descriptor says",
                              p->R->label, what, (unsigned long long)s->want);
        else if (s->reader_gone)
                r = 0; /* the unpacker stopped first: its message says why */
        else if (s->result != CURLE_OK && !(s->result == CURLE_WRITE_ERROR && s->status != 200))
                r = curl_fail(p->R, what, s->result, s->errbuf, ret_error);
        else if (s->status != 200 && !(s->status == 206 && s->resumed))
                r = blob_fail(p->R, s->digest, &s->err, ret_error);
        else if (s->got != s->want)
                r = error_set(ret_error, -EBADMSG, "%s: %s: size mismatch (descriptor says %llu, got %llu bytes)",
                              p->R->label, what, (unsigned long long)s->want, (unsigned long long)s->got);
        if (r >= 0 && o && o->progress)
                o->progress(o->progress_userdata, REGISTRY_LAYER_DONE, s->idx, s->n, s->digest, s->got, s->want);
        /* Kept only when the transfer was cut (the next pull resumes it);
         * a complete blob, or one the unpacker or the checks refused, goes
         * (a resumed blob that turns out wrong is fetched whole next time). */
        bool cut = !s->too_long && !s->reader_gone && s->result != CURLE_OK && s->got < s->want;
        (void)unpack_result;
        if (p->partial_dir >= 0 && !cut)
                (void)unlinkat(p->partial_dir, oci_digest_hex(s->digest), 0);
        stream_free(s);
        return r;
}

static void layer_present(void *userdata, const OciDescriptor *d, size_t idx, size_t n)
{
        Pull *p = userdata;
        const RegistryOptions *o = p->R->o;

        if (o && o->progress)
                o->progress(o->progress_userdata, REGISTRY_LAYER_PRESENT, idx, n, d->digest, 0, (uint64_t)d->size);
}

/* ------------------------------------------------------------------ pull */

/* The reference's manifest: the registry opened (probed, unless the store
 * remembers it), the tag's or digest's document fetched. For an index,
 * the platform's entry is chosen: *ret_manifest is NULL then and digest
 * that entry's. */
static int resolve(Registry *R, const char *state_dir, const RegistryOptions *o, const RegistryRef *ref,
                   char **ret_manifest, size_t *ret_size, char digest[SHA256_DIGEST_STRING_MAX], char **ret_error)
{
        const char *reference = ref->digest ? ref->digest : ref->tag;
        _cleanup_free_ char *manifest = NULL;
        OciMediaType t;
        size_t size = 0;
        int r;

        if ((r = curl_load(ret_error)) < 0 || (r = registry_open(R, state_dir, o, ref, ret_error)) < 0)
                return r;
        r = manifest_get(R, reference, ref->digest, &manifest, &size, &t, digest, ret_error);
        if (r < 0 && R->from_cache && r != -EBADMSG && r != -EFBIG && r != -EPROTONOSUPPORT && r != -ETIMEDOUT &&
            r != -ENOENT && r != -ELOOP) {
                /* What the store remembered no longer holds (another scheme,
                 * another auth): probe, once more. Not for answers that a
                 * probe would not change (a timeout is not waited for twice). */
                cache_forget(R);
                R->from_cache = false;
                free(*ret_error);
                *ret_error = NULL;
                if ((r = registry_probe(R, ret_error)) < 0)
                        return r;
                r = manifest_get(R, reference, ref->digest, &manifest, &size, &t, digest, ret_error);
        }
        if (r < 0)
                return r;
        /* The registry asked for another kind of auth than it did last time
         * (a 401 on the way): remembered for the next pull. */
        if (R->from_cache)
                cache_write(R, R->token ? "bearer" : R->use_basic ? "basic" : "anonymous");
        if (oci_media_type_is_index(t)) {
                OciDescriptor d = {};
                _cleanup_free_ char *what = xasprintf("index %s", digest);
                if ((r = index_choose(R, manifest, size, what, &d, ret_error)) < 0)
                        return r;
                snprintf(digest, SHA256_DIGEST_STRING_MAX, "%s", d.digest);
                oci_descriptor_done(&d);
                *ret_manifest = NULL;
                *ret_size = 0;
                return 0;
        }
        *ret_manifest = TAKE_PTR(manifest);
        *ret_size = size;
        return 0;
}

int registry_pull(const char *state_dir, const char *refstr, const RegistryOptions *o, char **ret_digest,
                  char **ret_error)
{
        _cleanup_free_ char *manifest = NULL, *source = NULL, *stored = NULL, *ignored = NULL, *pdir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        char digest[SHA256_DIGEST_STRING_MAX];
        RegistryRef ref = {};
        Registry R = { .cache_dir = -1 };
        size_t size = 0;
        int r;

        if ((r = registry_ref_parse(refstr, &ref, ret_error)) < 0)
                return r;
        if ((r = resolve(&R, state_dir, o, &ref, &manifest, &size, digest, ret_error)) < 0)
                goto out;
        /* An index's entry stored already (an unchanged tag): no second request. */
        if (!manifest && store_lookup(state_dir, digest, &stored, &ignored) < 0) {
                OciMediaType t;
                char got[SHA256_DIGEST_STRING_MAX];
                r = manifest_get(&R, digest, digest, &manifest, &size, &t, got, ret_error);
                if (r >= 0 && !oci_media_type_is_manifest(t))
                        r = error_set(ret_error, -EPROTONOSUPPORT, "%s: index entry %s is not an image manifest",
                                      R.label, digest);
                if (r < 0)
                        goto out;
        }
        if (manifest) {
                /* Checked here too, so that the message names the registry. */
                _cleanup_free_ char *what = xasprintf("%s: manifest %s", R.label, digest);
                OciManifest m = {};
                if ((r = oci_manifest_parse(what, manifest, size, &m, ret_error)) < 0)
                        goto out;
                oci_manifest_done(&m);
        }
        if (ref.name)
                strv_add(&names, ref.name);
        source = ref.digest ? xasprintf("docker://%s/%s@%s", ref.host, ref.repository, ref.digest)
                            : xasprintf("docker://%s", ref.name);
        pdir = path_join(state_dir, "images/partial");
        Pull pull = { .R = &R, .partial_dir = -1 };
        if (mkdir_p(pdir, 0700) >= 0)
                pull.partial_dir = open(pdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        StoreRemote rm = { .label = R.label, .source_key = source, .userdata = &pull,
                           .fetch_document = fetch_document, .open_layer = open_layer,
                           .close_layer = close_layer, .layer_present = layer_present };
        r = store_import_remote(state_dir, &rm, digest, manifest, size, names, ret_error);
        safe_close(pull.partial_dir);
        if (r >= 0)
                *ret_digest = xstrdup(digest);
out:
        registry_done(&R);
        registry_ref_done(&ref);
        return r < 0 ? r : 0;
}

static RegistryOptions default_options;

void registry_defaults_set_auth(const char *auth_file)
{
        free((char *)default_options.auth_file);
        default_options.auth_file = xstrdup(auth_file);
}

void registry_defaults_set_certs(const char *certs_dir)
{
        free((char *)default_options.certs_dir);
        default_options.certs_dir = xstrdup(certs_dir);
}

void registry_defaults_add_insecure(const char *host)
{
        strv_add(&default_options.insecure, host);
}

const RegistryOptions *registry_defaults(void)
{
        return &default_options;
}

int registry_ref_store_name(const char *s, char **ret, char **ret_error)
{
        RegistryRef r = {};
        int k = registry_ref_parse(s, &r, ret_error);

        if (k < 0)
                return k;
        *ret = r.digest ? xasprintf("%s/%s@%s", r.host, r.repository, r.digest) : xstrdup(r.name);
        registry_ref_done(&r);
        return 0;
}

int registry_resolve(const char *state_dir, const char *refstr, const RegistryOptions *o, char **ret_digest,
                     char **ret_error)
{
        _cleanup_free_ char *manifest = NULL;
        char digest[SHA256_DIGEST_STRING_MAX];
        RegistryRef ref = {};
        Registry R = { .cache_dir = -1 };
        size_t size = 0;
        int r;

        if ((r = registry_ref_parse(refstr, &ref, ret_error)) < 0)
                return r;
        if ((r = resolve(&R, state_dir, o, &ref, &manifest, &size, digest, ret_error)) >= 0)
                *ret_digest = xstrdup(digest);
        registry_done(&R);
        registry_ref_done(&ref);
        return r < 0 ? r : 0;
}
