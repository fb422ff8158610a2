/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ccsupctl image …: a thin layer over lib/store: parse arguments, one call,
 * print.
 */
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>

#include "ccsupctl-image.h"
#include "parse.h"
#include "store.h"
#include "util.h"

enum { IMAGE_OK = 0, IMAGE_FAILED = 1, IMAGE_USAGE = 2 };

static bool arg_json, arg_no_legend;

static void image_help(void)
{
        printf("Usage: ccsupctl image [--state-dir=DIR] [--image-size-max=SIZE] COMMAND\n"
               "\n"
               "Commands:\n"
               "  import SOURCE [NAME[:TAG]]  import oci:PATH[:TAG], oci-archive:PATH[:TAG]\n"
               "                              or docker-archive:PATH into the store\n"
               "  list                        the stored images\n"
               "  remove REF                  remove a name (NAME[:TAG], a source) or an\n"
               "                              image (sha256:HEX) and what only it used\n"
               "  inspect REF                 the image's manifest digest, config and layers\n"
               "\n"
               "The store is DIR/images; DIR defaults to $CCSUP_STATE_DIR, else /var/lib/ccsup.\n"
               "An import stops when the image unpacks to more than SIZE (default: 8G) or\n"
               "would fill the store's filesystem, and leaves nothing behind.\n");
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

static int image_remove(const char *state_dir, int argc, char **argv)
{
        _cleanup_free_ char *error = NULL;
        int r;

        if (argc != 2) {
                fprintf(stderr, "ccsupctl: image remove: expected one REF\n");
                return IMAGE_USAGE;
        }
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

int verb_image(int argc, char **argv, const char *state_dir)
{
        enum { OPT_STATE_DIR = 0x100, OPT_JSON, OPT_NO_LEGEND, OPT_IMAGE_SIZE_MAX };
        static const struct option options[] = {
                { "state-dir", required_argument, NULL, OPT_STATE_DIR },
                { "json", no_argument, NULL, OPT_JSON },
                { "no-legend", no_argument, NULL, OPT_NO_LEGEND },
                { "image-size-max", required_argument, NULL, OPT_IMAGE_SIZE_MAX },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *verb;
        int c;

        optind = 0; /* a fresh getopt over this argument vector */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case OPT_STATE_DIR: state_dir = optarg; break;
                case OPT_JSON: arg_json = true; break;
                case OPT_NO_LEGEND: arg_no_legend = true; break;
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
        if (!state_dir || !*state_dir)
                state_dir = getenv("CCSUP_STATE_DIR");
        if (!state_dir || !*state_dir)
                state_dir = STORE_DEFAULT_STATE_DIR;
        if (optind >= argc) {
                fprintf(stderr, "ccsupctl: image: expected import, list, remove or inspect\n");
                return IMAGE_USAGE;
        }
        verb = argv[optind];
        argc -= optind;
        argv += optind;
        if (streq(verb, "import"))
                return image_import(state_dir, argc, argv);
        if (streq(verb, "list"))
                return argc == 1 ? image_list(state_dir) : IMAGE_USAGE;
        if (streq(verb, "remove") || streq(verb, "rm"))
                return image_remove(state_dir, argc, argv);
        if (streq(verb, "inspect"))
                return image_inspect(state_dir, argc, argv);
        fprintf(stderr, "ccsupctl: image: unknown command `%s`\n", verb);
        return IMAGE_USAGE;
}
