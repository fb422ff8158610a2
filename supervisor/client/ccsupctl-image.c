/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ccsupctl image …: a thin layer over lib/store: parse arguments, one call,
 * print.
 */
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "ccsupctl-image.h"
#include "parse.h"
#include "registry.h"
#include "store.h"
#include "util.h"

enum { IMAGE_OK = 0, IMAGE_FAILED = 1, IMAGE_USAGE = 2, IMAGE_UNREACHABLE = 5 };

#define IFACE "org.ccsup.Manager1"
#define OBJ "/org/ccsup"
/* RemoveImage is refused while an import holds the store's lock: tried
 * again this often, for this long. */
#define REMOVE_RETRY_USEC (100ULL * 1000)
#define REMOVE_WAIT_USEC (10ULL * 60 * USEC_PER_SEC)

static bool arg_json, arg_no_legend;
static const char *arg_platform, *arg_registry_auth, *arg_registry_certs;
static char **arg_insecure;

static void image_help(void)
{
        printf("Usage: ccsupctl [--socket=PATH] image [--state-dir=DIR] [--image-size-max=SIZE] COMMAND\n"
               "\n"
               "Commands:\n"
               "  import SOURCE [NAME[:TAG]]  import oci:PATH[:TAG], oci-archive:PATH[:TAG]\n"
               "                              or docker-archive:PATH into the store\n"
               "  list                        the stored images\n"
               "  remove REF                  remove a name (NAME[:TAG], a source) or an\n"
               "                              image (sha256:HEX) and what only it used;\n"
               "                              refused while a container runs from it\n"
               "  inspect REF                 the image's manifest digest, config and layers\n"
               "  pull [--platform=OS/ARCH] HOST[:PORT]/REPO[:TAG|@sha256:HEX]\n"
               "                              pull from a registry (the host's platform from\n"
               "                              an index unless --platform says otherwise)\n"
               "\n"
               "Pull options: --registry-auth=FILE (containers-auth.json; default\n"
               "$REGISTRY_AUTH_FILE, else /etc/ccsup/auth.json), --registry-certs=DIR\n"
               "(containers-certs.d layout; default /etc/ccsup/certs.d),\n"
               "--insecure-registry=HOST[:PORT] (repeatable: plain HTTP or unverified TLS).\n"
               "\n"
               "The store is that of the ccsupd on the control socket (--socket, else\n"
               "$CCSUP_SOCKET, else /run/ccsup/control): its --state-dir, asked over the\n"
               "socket; removals go through that ccsupd. When no ccsupd answers there, the\n"
               "default store, with a note on stderr: $CCSUP_STATE_DIR, else /var/lib/ccsup.\n"
               "--state-dir=DIR names the store instead (DIR/images).\n"
               "An import stops when the image unpacks to more than SIZE (default: 8G) or\n"
               "would fill the store's filesystem, and leaves nothing behind.\n"
               "\n"
               "Exit status: 0 success, 1 failure (the image is in use, not there...),\n"
               "2 usage, 5 permission denied on the socket or ccsupd does not answer.\n");
}

static int fail(const char *verb, int r, const char *error)
{
        fprintf(stderr, "ccsupctl: image %s: %s\n", verb, error ? error : strerror(-r));
        return IMAGE_FAILED;
}

static int image_import(const char *state_dir, int argc, char **argv)
{
        _cleanup_free_ char *digest = NULL, *error = NULL;
        int r;

        if (argc < 2 || argc > 3) {
                fprintf(stderr, "ccsupctl: image import: expected SOURCE [NAME[:TAG]]\n");
                return IMAGE_USAGE;
        }
        r = store_import(state_dir, argv[1], argc == 3 ? argv[2] : NULL, &digest, &error);
        if (r < 0)
                return fail("import", r, error);
        printf("%s\n", digest);
        return IMAGE_OK;
}

static char *format_size(uint64_t n)
{
        static const char units[] = "KMGT";
        double v = (double)n;
        int u = -1;

        while (v >= 1024 && u < 3)
                v /= 1024, u++;
        return u < 0 ? xasprintf("%" PRIu64 "B", n) : xasprintf("%.1f%c", v, units[u]);
}

/* Progress of a pull: on a terminal one line rewritten in place (the layer
 * that last moved: bytes, total, rate), otherwise one line per layer when
 * it is done. Layers stream in parallel: called from several threads. */
typedef struct PullProgress {
        bool tty;
        pthread_mutex_t lock;
        uint64_t *started;        /* per layer */
        size_t n;
} PullProgress;

static void pull_progress(void *userdata, RegistryEvent ev, size_t idx, size_t n, const char *digest,
                          uint64_t done, uint64_t total)
{
        PullProgress *p = userdata;
        uint64_t now = now_usec_monotonic();
        _cleanup_free_ char *d = format_size(done), *t = format_size(total);
        double secs;

        pthread_mutex_lock(&p->lock);
        if (!p->started) {
                p->started = xcalloc(n + 1, sizeof(uint64_t));
                p->n = n;
        }
        if (ev == REGISTRY_LAYER_PRESENT) {
                fprintf(stderr, "%slayer %zu/%zu %.19s: already stored\n", p->tty ? "\r\033[K" : "", idx + 1, n,
                        digest);
                goto out;
        }
        if (idx < p->n && !p->started[idx])
                p->started[idx] = now;
        secs = idx < p->n ? (double)(now - p->started[idx]) / 1e6 : 0;
        if (ev == REGISTRY_LAYER_PROGRESS) {
                if (p->tty)
                        fprintf(stderr, "\r\033[Klayer %zu/%zu %.19s: %s / %s, %.1f MiB/s", idx + 1, n, digest, d, t,
                                secs > 0 ? (double)done / 1048576.0 / secs : 0.0);
                goto out;
        }
        fprintf(stderr, "%slayer %zu/%zu %.19s: %s fetched in %.2fs\n", p->tty ? "\r\033[K" : "", idx + 1, n,
                digest, t, secs);
out:
        pthread_mutex_unlock(&p->lock);
}

static int image_pull(const char *state_dir, int argc, char **argv)
{
        _cleanup_free_ char *digest = NULL, *error = NULL;
        PullProgress pp = { .tty = isatty(STDERR_FILENO), .lock = PTHREAD_MUTEX_INITIALIZER };
        RegistryOptions o = { .auth_file = arg_registry_auth, .certs_dir = arg_registry_certs,
                              .insecure = arg_insecure, .platform = arg_platform,
                              .progress = pull_progress, .progress_userdata = &pp };
        int r;

        if (argc != 2) {
                fprintf(stderr, "ccsupctl: image pull: expected one REF\n");
                return IMAGE_USAGE;
        }
        r = registry_pull(state_dir, argv[1], &o, &digest, &error);
        free(pp.started);
        if (r < 0)
                return fail("pull", r, error);
        printf("%s\n", digest);
        return IMAGE_OK;
}

static int image_list(const char *state_dir)
{
        _cleanup_free_ char *error = NULL;
        json_object *arr = NULL;
        StoreImage *l = NULL;
        size_t n = 0;
        int r;

        r = store_list(state_dir, &l, &n, &error);
        if (r < 0)
                return fail("list", r, error);
        if (arg_json)
                arr = json_object_new_array();
        else if (!arg_no_legend)
                printf("%-40s %-19s %6s %9s %s\n", "NAME", "DIGEST", "LAYERS", "SIZE", "CREATED");
        for (size_t k = 0; k < n; k++) {
                if (arg_json) {
                        json_object *o = json_object_new_object(), *names = json_object_new_array();
                        STRV_FOREACH(s, l[k].names)
                                json_object_array_add(names, json_object_new_string(*s));
                        json_object_object_add(o, "Names", names);
                        json_object_object_add(o, "Digest", json_object_new_string(l[k].digest));
                        json_object_object_add(o, "Layers", json_object_new_int64((int64_t)l[k].n_layers));
                        json_object_object_add(o, "Size", json_object_new_int64((int64_t)l[k].size));
                        json_object_object_add(o, "Created", l[k].created ? json_object_new_string(l[k].created) : NULL);
                        json_object_array_add(arr, o);
                        continue;
                }
                _cleanup_free_ char *size = format_size(l[k].size);
                STRV_FOREACH(s, l[k].names)
                        printf("%-40s %-19.19s %6zu %9s %s\n", *s, l[k].digest, l[k].n_layers, size,
                               l[k].created ? l[k].created : "-");
        }
        if (arg_json) {
                printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(arr);
        }
        store_images_free(l, n);
        return IMAGE_OK;
}

/* Through the daemon: its check for containers that use the image and the
 * removal are one step of its loop. */
static int image_remove_daemon(sd_bus *bus, const char *ref)
{
        uint64_t deadline = now_usec_monotonic() + REMOVE_WAIT_USEC;
        bool noted = false;

        for (;;) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                int r;

                r = sd_bus_call_method(bus, NULL, OBJ, IFACE, "RemoveImage", &e, &reply, "s", ref);
                if (r >= 0)
                        return IMAGE_OK;
                if (sd_bus_error_has_name(&e, "org.ccsup.Error.Busy") && now_usec_monotonic() < deadline) {
                        if (!noted)
                                fprintf(stderr, "ccsupctl: image remove: %s; waiting\n", e.message);
                        noted = true;
                        (void)nanosleep(&(struct timespec){ .tv_nsec = REMOVE_RETRY_USEC * 1000 }, NULL);
                        continue;
                }
                if (sd_bus_error_has_name(&e, SD_BUS_ERROR_ACCESS_DENIED) || r == -EACCES || r == -EPERM) {
                        fprintf(stderr, "ccsupctl: image remove: permission denied (%s)\n",
                                sd_bus_error_is_set(&e) ? e.message : strerror(-r));
                        return IMAGE_UNREACHABLE;
                }
                fprintf(stderr, "ccsupctl: image remove: %s\n", sd_bus_error_is_set(&e) ? e.message : strerror(-r));
                return IMAGE_FAILED;
        }
}

static int image_remove(const char *state_dir, sd_bus *bus, int argc, char **argv)
{
        _cleanup_free_ char *error = NULL;
        int r;

        if (argc != 2) {
                fprintf(stderr, "ccsupctl: image remove: expected one REF\n");
                return IMAGE_USAGE;
        }
        if (bus)
                return image_remove_daemon(bus, argv[1]);
        r = store_remove(state_dir, argv[1], &error);
        if (r < 0)
                return fail("remove", r, error);
        return IMAGE_OK;
}

static json_object *strv_to_json(char *const *l)
{
        json_object *a;

        if (!l)
                return NULL;
        a = json_object_new_array();
        STRV_FOREACH(s, l)
                json_object_array_add(a, json_object_new_string(*s));
        return a;
}

static int image_inspect(const char *state_dir, int argc, char **argv)
{
        _cleanup_free_ char *error = NULL, *digest = NULL;
        ResolvedImage ri = {};
        json_object *o, *layers, *cfg;
        int r;

        if (argc != 2) {
                fprintf(stderr, "ccsupctl: image inspect: expected one REF\n");
                return IMAGE_USAGE;
        }
        if ((r = store_lookup(state_dir, argv[1], &digest, &error)) < 0 ||
            (r = store_open_image(state_dir, digest, &ri, &error)) < 0)
                return fail("inspect", r, error);
        o = json_object_new_object();
        json_object_object_add(o, "Digest", json_object_new_string(ri.manifest_digest));
        json_object_object_add(o, "ConfigDigest", json_object_new_string(ri.config_digest));
        cfg = json_object_new_object();
        json_object_object_add(cfg, "Entrypoint", strv_to_json(ri.config->entrypoint));
        json_object_object_add(cfg, "Cmd", strv_to_json(ri.config->cmd));
        json_object_object_add(cfg, "Env", strv_to_json(ri.config->env));
        json_object_object_add(cfg, "WorkingDir", ri.config->working_dir ? json_object_new_string(ri.config->working_dir) : NULL);
        json_object_object_add(cfg, "User", ri.config->user ? json_object_new_string(ri.config->user) : NULL);
        json_object_object_add(cfg, "StopSignal", ri.config->stop_signal ? json_object_new_string(ri.config->stop_signal) : NULL);
        json_object_object_add(cfg, "Healthcheck", strv_to_json(ri.config->healthcheck.test));
        json_object_object_add(cfg, "Labels", strv_to_json(ri.config->labels));
        json_object_object_add(cfg, "Architecture", ri.config->architecture ? json_object_new_string(ri.config->architecture) : NULL);
        json_object_object_add(cfg, "Created", ri.config->created ? json_object_new_string(ri.config->created) : NULL);
        json_object_object_add(o, "Config", cfg);
        layers = json_object_new_array();
        for (size_t k = 0; k < ri.n_layers; k++) {
                json_object *l = json_object_new_object();
                json_object_object_add(l, "DiffID", json_object_new_string(ri.config->diff_ids[k]));
                json_object_object_add(l, "Path", json_object_new_string(ri.layers[k]));
                json_object_array_add(layers, l);
        }
        json_object_object_add(o, "Layers", layers);
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        resolved_image_done(&ri);
        return IMAGE_OK;
}

/* A ccsupd that is not there: no socket, or nobody listening on it. */
static bool nobody_answers(int r)
{
        return r == -ENOENT || r == -ECONNREFUSED || r == -ENOTDIR;
}

/*
 * The store to work on: *ret_dir (owned by the caller) and, for a removal,
 * when a ccsupd answers on socket_path and works on that store, *ret_bus.
 * state_dir: the one given with --state-dir, or NULL; then only a removal
 * asks the daemon (whether that store is its own).
 */
static int find_store(const char *socket_path, const char *state_dir, bool removal, char **ret_dir,
                      sd_bus **ret_bus)
{
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *dir = NULL;
        const char *fallback;
        int r;

        if (state_dir && !removal) {
                *ret_dir = xstrdup(state_dir);
                *ret_bus = NULL;
                return IMAGE_OK;
        }
        r = ccsupctl_open_bus(socket_path, &bus);
        if (r >= 0)
                r = sd_bus_get_property_string(bus, NULL, OBJ, IFACE, "StateDirectory", &e, &dir);
        if (state_dir) {
                /* Named: removals still go through a ccsupd working on it. */
                _cleanup_free_ char *a = realpath(state_dir, NULL), *b = dir ? realpath(dir, NULL) : NULL;
                *ret_dir = xstrdup(state_dir);
                *ret_bus = r >= 0 && a && b && streq(a, b) ? TAKE_PTR(bus) : NULL;
                return IMAGE_OK;
        }
        if (r >= 0) {
                *ret_dir = TAKE_PTR(dir);
                *ret_bus = TAKE_PTR(bus);
                return IMAGE_OK;
        }
        if (r == -EACCES || r == -EPERM || sd_bus_error_has_name(&e, SD_BUS_ERROR_ACCESS_DENIED)) {
                fprintf(stderr, "ccsupctl: image: %s: permission denied\n", socket_path);
                return IMAGE_UNREACHABLE;
        }
        if (sd_bus_error_is_set(&e)) {
                /* It answers, but does not say where its store is. */
                fprintf(stderr, "ccsupctl: image: the ccsupd at %s does not tell its state directory "
                        "(%s); name the store with `ccsupctl image --state-dir=DIR`\n",
                        socket_path, e.message);
                return IMAGE_FAILED;
        }
        if (!nobody_answers(r)) {
                fprintf(stderr, "ccsupctl: image: cannot reach ccsupd at %s: %s\n", socket_path,
                        strerror(-r));
                return IMAGE_UNREACHABLE;
        }
        fallback = getenv("CCSUP_STATE_DIR");
        if (!fallback || !*fallback)
                fallback = STORE_DEFAULT_STATE_DIR;
        fprintf(stderr, "ccsupctl: image: no ccsupd answers at %s (%s); using the default store in %s/images\n",
                socket_path, strerror(-r), fallback);
        *ret_dir = xstrdup(fallback);
        *ret_bus = NULL;
        return IMAGE_OK;
}

int verb_image(int argc, char **argv, const char *socket_path)
{
        enum { OPT_STATE_DIR = 0x100, OPT_JSON, OPT_NO_LEGEND, OPT_IMAGE_SIZE_MAX, OPT_PLATFORM,
               OPT_REGISTRY_AUTH, OPT_REGISTRY_CERTS, OPT_INSECURE_REGISTRY };
        static const struct option options[] = {
                { "state-dir", required_argument, NULL, OPT_STATE_DIR },
                { "json", no_argument, NULL, OPT_JSON },
                { "no-legend", no_argument, NULL, OPT_NO_LEGEND },
                { "image-size-max", required_argument, NULL, OPT_IMAGE_SIZE_MAX },
                { "platform", required_argument, NULL, OPT_PLATFORM },
                { "registry-auth", required_argument, NULL, OPT_REGISTRY_AUTH },
                { "registry-certs", required_argument, NULL, OPT_REGISTRY_CERTS },
                { "insecure-registry", required_argument, NULL, OPT_INSECURE_REGISTRY },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *dir = NULL;
        const char *verb, *state_dir = NULL;
        int c, r;

        optind = 0; /* a fresh getopt over this argument vector */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case OPT_STATE_DIR: state_dir = optarg; break;
                case OPT_JSON: arg_json = true; break;
                case OPT_NO_LEGEND: arg_no_legend = true; break;
                case OPT_PLATFORM: arg_platform = optarg; break;
                case OPT_REGISTRY_AUTH: arg_registry_auth = optarg; break;
                case OPT_REGISTRY_CERTS: arg_registry_certs = optarg; break;
                case OPT_INSECURE_REGISTRY: strv_add(&arg_insecure, optarg); break;
                case OPT_IMAGE_SIZE_MAX: {
                        uint64_t v;
                        if (parse_size(optarg, &v) < 0 || v == 0) {
                                fprintf(stderr, "ccsupctl: image: --image-size-max: invalid size `%s`\n", optarg);
                                return IMAGE_USAGE;
                        }
                        store_set_size_max(v);
                        break;
                }
                case 'h': image_help(); return IMAGE_OK;
                default: return IMAGE_USAGE;
                }
        if (state_dir && !*state_dir) {
                fprintf(stderr, "ccsupctl: image: --state-dir= needs a directory\n");
                return IMAGE_USAGE;
        }
        if (optind >= argc) {
                fprintf(stderr, "ccsupctl: image: expected import, pull, list, remove or inspect\n");
                return IMAGE_USAGE;
        }
        verb = argv[optind];
        argc -= optind;
        argv += optind;
        /* pull's options may follow the verb: ccsupctl image pull --platform=… REF */
        if (streq(verb, "pull")) {
                int k = 1;
                for (; k < argc && startswith(argv[k], "--"); k++)
                        if (startswith(argv[k], "--platform="))
                                arg_platform = argv[k] + 11;
                        else if (startswith(argv[k], "--registry-auth="))
                                arg_registry_auth = argv[k] + 16;
                        else if (startswith(argv[k], "--registry-certs="))
                                arg_registry_certs = argv[k] + 17;
                        else if (startswith(argv[k], "--insecure-registry="))
                                strv_add(&arg_insecure, argv[k] + 20);
                        else {
                                fprintf(stderr, "ccsupctl: image pull: unknown option `%s`\n", argv[k]);
                                return IMAGE_USAGE;
                        }
                argv[k - 1] = argv[0];
                argv += k - 1;
                argc -= k - 1;
                if (argc != 2) {
                        fprintf(stderr, "ccsupctl: image pull: expected one REF\n");
                        return IMAGE_USAGE;
                }
        }
        if (!streq(verb, "import") && !streq(verb, "pull") && !streq(verb, "list") && !streq(verb, "remove") &&
            !streq(verb, "rm") && !streq(verb, "inspect")) {
                fprintf(stderr, "ccsupctl: image: unknown command `%s`\n", verb);
                return IMAGE_USAGE;
        }
        if (streq(verb, "pull"))
                ;
        else if (streq(verb, "list") ? argc != 1 : streq(verb, "import") ? argc < 2 || argc > 3 : argc != 2) {
                fprintf(stderr, "ccsupctl: image %s: expected %s\n", verb,
                        streq(verb, "list") ? "no argument" : streq(verb, "import") ? "SOURCE [NAME[:TAG]]"
                                                                                  : "one REF");
                return IMAGE_USAGE;
        }
        r = find_store(socket_path, state_dir, streq(verb, "remove") || streq(verb, "rm"), &dir, &bus);
        if (r != IMAGE_OK)
                return r;
        if (streq(verb, "import"))
                return image_import(dir, argc, argv);
        if (streq(verb, "pull"))
                return image_pull(dir, argc, argv);
        if (streq(verb, "list"))
                return image_list(dir);
        if (streq(verb, "remove") || streq(verb, "rm"))
                return image_remove(dir, bus, argc, argv);
        return image_inspect(dir, argc, argv);
}
