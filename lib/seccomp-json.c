/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Seccomp=PATH: the OCI / Docker JSON seccomp profile format.
 *
 *   defaultAction, defaultErrnoRet, architectures (OCI) or archMap (Docker),
 *   syscalls[]: names (or name), action, errnoRet, args[] (index, op, value,
 *   valueTwo), includes/excludes (caps, arches, minKernel), comment.
 *
 * The profile is read and checked on every start (so every start reports a
 * malformed file, and warns about unknown system calls); it is compiled only
 * on a cache miss.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <sys/utsname.h>

#include "parse.h"
#include "seccomp-internal.h"
#include "util.h"

#define PROFILE_MAX (4 * 1024 * 1024)

typedef struct Loader {
        const char *path;
        uint64_t caps;
        scmp_filter_ctx ctx;   /* NULL: check only */
        char **warnings;
        char *error;
} Loader;

static int fail(Loader *l, const char *field, const char *fmt, ...) _printf_(3, 4);
static int fail(Loader *l, const char *field, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        error_setv(&l->error, -EINVAL, fmt, ap);
        va_end(ap);
        return error_prefix(&l->error, -EINVAL, "seccomp profile `%s`: `%s`", l->path, field);
}

static const struct {
        const char *name;
        uint32_t action; /* ERRNO and TRACE get their number added */
} actions[] = {
        { "SCMP_ACT_KILL", SCMP_ACT_KILL },
        { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD },
        { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS },
        { "SCMP_ACT_TRAP", SCMP_ACT_TRAP },
        { "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0) },
        { "SCMP_ACT_TRACE", SCMP_ACT_TRACE(0) },
        { "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW },
        { "SCMP_ACT_LOG", SCMP_ACT_LOG },
};

static const struct {
        const char *name;
        enum scmp_compare op;
} operators[] = {
        { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
        { "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
        { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
        { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static json_object *member(json_object *o, const char *key)
{
        json_object *v = NULL;

        return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *string_member(Loader *l, json_object *o, const char *key, const char *field,
                                 int *r)
{
        json_object *v = member(o, key);

        if (!v || json_object_is_type(v, json_type_null))
                return NULL;
        if (!json_object_is_type(v, json_type_string)) {
                *r = fail(l, field, "a string is expected");
                return NULL;
        }
        return json_object_get_string(v);
}

/* A non-negative integer member; *ret untouched when absent. */
static int uint_member(Loader *l, json_object *o, const char *key, const char *field,
                       uint64_t *ret)
{
        json_object *v = member(o, key);

        if (!v || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_int))
                return fail(l, field, "an integer is expected");
        errno = 0;
        *ret = json_object_get_uint64(v);
        if (errno != 0 || (json_object_get_int64(v) < 0 && *ret == 0))
                return fail(l, field, "a non-negative integer is expected");
        return 0;
}

static int parse_action(Loader *l, json_object *o, const char *field, const char *errno_key,
                        uint32_t *ret)
{
        _cleanup_free_ char *errno_field = xasprintf("%s.%s", field, errno_key);
        const char *name;
        uint64_t number = EPERM;
        int r = 0;

        name = string_member(l, o, strchr(field, '.') ? strrchr(field, '.') + 1 : field, field, &r);
        if (r < 0)
                return r;
        if (!name)
                return fail(l, field, "missing");
        r = uint_member(l, o, errno_key, errno_field, &number);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(actions); i++)
                if (streq(name, actions[i].name)) {
                        if (actions[i].action == SCMP_ACT_ERRNO(0) ||
                            actions[i].action == SCMP_ACT_TRACE(0)) {
                                if (number > 0xffff)
                                        return fail(l, errno_field, "%" PRIu64 " is out of range",
                                                    number);
                                *ret = actions[i].action | (uint32_t)number;
                        } else
                                *ret = actions[i].action;
                        return 0;
                }
        if (streq(name, "SCMP_ACT_NOTIFY"))
                return fail(l, field, "`%s` is not supported (no notification agent)", name);
        return fail(l, field, "unknown action `%s`", name);
}

/* "SCMP_ARCH_X86_64" (or "x86_64") to libseccomp's token; 0 if unknown. */
static uint32_t resolve_arch(const char *name)
{
        const char *s = startswith(name, "SCMP_ARCH_") ?: name;
        _cleanup_free_ char *lower = xstrdup(s);

        for (char *c = lower; *c; c++)
                *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        return seccomp_arch_resolve_name(lower);
}

static bool is_native_arch_name(const char *name)
{
        uint32_t a = resolve_arch(name);

        if (a != 0)
                return a == seccomp_arch_native();
        /* Docker's includes/excludes use Go's names */
#if defined(__x86_64__)
        return streq(name, "amd64");
#elif defined(__aarch64__)
        return streq(name, "arm64");
#else
        return false;
#endif
}

static int add_arch(Loader *l, const char *name, const char *field)
{
        uint32_t a = resolve_arch(name);
        int r;

        if (a == 0)
                return fail(l, field, "unknown architecture `%s`", name);
        if (!l->ctx)
                return 0;
        r = seccomp_arch_add(l->ctx, a);
        return r < 0 && r != -EEXIST ? fail(l, field, "architecture `%s`: %s", name, strerror(-r)) : 0;
}

static int parse_architectures(Loader *l, json_object *root, bool *ret_given)
{
        json_object *archs = member(root, "architectures"), *map = member(root, "archMap");
        int r;

        *ret_given = false;
        if (archs && !json_object_is_type(archs, json_type_null)) {
                if (!json_object_is_type(archs, json_type_array))
                        return fail(l, "architectures", "an array is expected");
                *ret_given = true;
                for (size_t i = 0; i < json_object_array_length(archs); i++) {
                        _cleanup_free_ char *field = xasprintf("architectures[%zu]", i);
                        json_object *a = json_object_array_get_idx(archs, i);

                        if (!json_object_is_type(a, json_type_string))
                                return fail(l, field, "a string is expected");
                        r = add_arch(l, json_object_get_string(a), field);
                        if (r < 0)
                                return r;
                }
        }
        if (map && !json_object_is_type(map, json_type_null)) {
                if (!json_object_is_type(map, json_type_array))
                        return fail(l, "archMap", "an array is expected");
                *ret_given = true;
                /* Docker: the entry of the native architecture names its sub-architectures */
                for (size_t i = 0; i < json_object_array_length(map); i++) {
                        _cleanup_free_ char *field = xasprintf("archMap[%zu].architecture", i);
                        json_object *e = json_object_array_get_idx(map, i), *subs;
                        const char *arch;

                        r = 0;
                        arch = json_object_is_type(e, json_type_object)
                                ? string_member(l, e, "architecture", field, &r) : NULL;
                        if (r < 0)
                                return r;
                        if (!arch)
                                return fail(l, field, "missing");
                        if (resolve_arch(arch) == 0)
                                return fail(l, field, "unknown architecture `%s`", arch);
                        if (resolve_arch(arch) != seccomp_arch_native())
                                continue;
                        subs = member(e, "subArchitectures");
                        for (size_t j = 0; subs && j < json_object_array_length(subs); j++) {
                                _cleanup_free_ char *sf =
                                        xasprintf("archMap[%zu].subArchitectures[%zu]", i, j);
                                json_object *s = json_object_array_get_idx(subs, j);

                                if (!json_object_is_type(s, json_type_string))
                                        return fail(l, sf, "a string is expected");
                                r = add_arch(l, json_object_get_string(s), sf);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        return 0;
}

/* "4.8" <= the running kernel? */
static bool kernel_at_least(const char *version)
{
        struct utsname u;
        unsigned want[2] = {}, have[2] = {};

        if (uname(&u) < 0 || sscanf(version, "%u.%u", &want[0], &want[1]) < 1 ||
            sscanf(u.release, "%u.%u", &have[0], &have[1]) < 1)
                return true;
        return have[0] != want[0] ? have[0] > want[0] : have[1] >= want[1];
}

/* includes / excludes: 1 = the condition holds, 0 = not, <0 = error. With
 * all, every listed capability must be held (includes), else any (excludes). */
static int condition(Loader *l, json_object *o, const char *field, bool all)
{
        json_object *caps, *arches;
        const char *min_kernel;
        int r = 0, hits = 0, n = 0;

        if (!o || json_object_is_type(o, json_type_null))
                return -ENOENT;
        if (!json_object_is_type(o, json_type_object))
                return fail(l, field, "an object is expected");
        caps = member(o, "caps");
        for (size_t i = 0; caps && i < json_object_array_length(caps); i++, n++) {
                _cleanup_free_ char *f = xasprintf("%s.caps[%zu]", field, i);
                json_object *c = json_object_array_get_idx(caps, i);
                int cap;

                if (!json_object_is_type(c, json_type_string))
                        return fail(l, f, "a string is expected");
                cap = parse_capability(json_object_get_string(c));
                if (cap < 0)
                        return fail(l, f, "unknown capability `%s`", json_object_get_string(c));
                hits += cap < 64 && (l->caps & (UINT64_C(1) << cap));
        }
        arches = member(o, "arches");
        for (size_t i = 0; arches && i < json_object_array_length(arches); i++, n++) {
                json_object *a = json_object_array_get_idx(arches, i);

                hits += json_object_is_type(a, json_type_string) &&
                        is_native_arch_name(json_object_get_string(a));
        }
        min_kernel = string_member(l, o, "minKernel", field, &r);
        if (r < 0)
                return r;
        if (min_kernel) {
                n++;
                hits += kernel_at_least(min_kernel);
        }
        if (n == 0)
                return -ENOENT;
        /* arches are alternatives even for includes (one of them is ours) */
        if (all)
                return hits == n || (arches && hits > 0 && !caps && !min_kernel);
        return hits > 0;
}

static int parse_arg(Loader *l, json_object *a, const char *field, struct scmp_arg_cmp *ret)
{
        _cleanup_free_ char *f_index = xasprintf("%s.index", field),
                            *f_value = xasprintf("%s.value", field),
                            *f_two = xasprintf("%s.valueTwo", field), *f_op = xasprintf("%s.op", field);
        uint64_t index = UINT64_MAX, value = 0, two = 0;
        const char *op;
        int r = 0;

        if (!json_object_is_type(a, json_type_object))
                return fail(l, field, "an object is expected");
        if ((r = uint_member(l, a, "index", f_index, &index)) < 0 ||
            (r = uint_member(l, a, "value", f_value, &value)) < 0 ||
            (r = uint_member(l, a, "valueTwo", f_two, &two)) < 0)
                return r;
        if (index > 5)
                return fail(l, f_index, index == UINT64_MAX ? "missing" : "must be 0 to 5");
        op = string_member(l, a, "op", f_op, &r);
        if (r < 0)
                return r;
        if (!op)
                return fail(l, f_op, "missing");
        for (size_t i = 0; i < ELEMENTSOF(operators); i++)
                if (streq(op, operators[i].name)) {
                        /* MASKED_EQ: value is the mask, valueTwo the datum */
                        *ret = (struct scmp_arg_cmp){ (unsigned)index, operators[i].op, value, two };
                        return 0;
                }
        return fail(l, f_op, "unknown operator `%s`", op);
}

static int add_rule(Loader *l, int nr, uint32_t action, const struct scmp_arg_cmp *args,
                    unsigned n, const char *field, const char *name)
{
        int r;

        if (!l->ctx)
                return 0;
        r = seccomp_rule_add_array(l->ctx, action, nr, n, args);
        /* the default action already (-EACCES), or a duplicate (-EEXIST) */
        if (r < 0 && r != -EACCES && r != -EEXIST)
                return fail(l, field, "`%s`: %s", name, strerror(-r));
        return 0;
}

/* One rule per name; args on distinct indexes are ANDed in one rule, args
 * repeating an index are alternatives (one rule each), as Docker does. */
static int add_names(Loader *l, json_object *names, uint32_t action, const struct scmp_arg_cmp *args,
                     unsigned n, const char *field)
{
        bool repeated = false;
        int r;

        for (unsigned i = 0; i < n; i++)
                for (unsigned j = i + 1; j < n; j++)
                        repeated |= args[i].arg == args[j].arg;
        for (size_t i = 0; i < json_object_array_length(names); i++) {
                _cleanup_free_ char *f = xasprintf("%s.names[%zu]", field, i);
                json_object *o = json_object_array_get_idx(names, i);
                const char *name;
                int nr;

                if (!json_object_is_type(o, json_type_string))
                        return fail(l, f, "a string is expected");
                name = json_object_get_string(o);
                nr = seccomp_syscall_resolve_name(name);
                if (nr == __NR_SCMP_ERROR) {
                        if (!l->ctx)
                                strv_addf(&l->warnings, "seccomp profile `%s`: unknown system call `%s` (%s) skipped",
                                          l->path, name, f);
                        continue;
                }
                r = 0;
                if (!repeated)
                        r = add_rule(l, nr, action, args, n, f, name);
                else
                        for (unsigned k = 0; k < n && r >= 0; k++)
                                r = add_rule(l, nr, action, &args[k], 1, f, name);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_syscall(Loader *l, json_object *s, size_t i)
{
        _cleanup_free_ char *field = xasprintf("syscalls[%zu]", i), *f_action = NULL,
                            *f_inc = NULL, *f_exc = NULL, *f_names = NULL,
                            *f_args = xasprintf("syscalls[%zu].args", i);
        struct scmp_arg_cmp args[6];
        json_object *names, *jargs, *single = NULL;
        unsigned n = 0;
        uint32_t action;
        int r;

        if (!json_object_is_type(s, json_type_object))
                return fail(l, field, "an object is expected");
        f_inc = xasprintf("%s.includes", field);
        f_exc = xasprintf("%s.excludes", field);
        r = condition(l, member(s, "includes"), f_inc, true);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == 0)
                return 0;
        r = condition(l, member(s, "excludes"), f_exc, false);
        if (r < 0 && r != -ENOENT)
                return r;
        if (r == 1)
                return 0;

        f_action = xasprintf("%s.action", field);
        r = parse_action(l, s, f_action, "errnoRet", &action);
        if (r < 0)
                return r;
        jargs = member(s, "args");
        if (jargs && !json_object_is_type(jargs, json_type_null)) {
                if (!json_object_is_type(jargs, json_type_array))
                        return fail(l, f_args, "an array is expected");
                if (json_object_array_length(jargs) > ELEMENTSOF(args))
                        return fail(l, f_args, "at most 6 conditions");
                for (; n < json_object_array_length(jargs); n++) {
                        _cleanup_free_ char *f = xasprintf("%s.args[%u]", field, n);

                        r = parse_arg(l, json_object_array_get_idx(jargs, n), f, &args[n]);
                        if (r < 0)
                                return r;
                }
        }

        f_names = xasprintf("%s.names", field);
        names = member(s, "names");
        if (!names && member(s, "name")) {
                /* the old format: one "name" */
                single = json_object_new_array();
                json_object_array_add(single, json_object_get(member(s, "name")));
                names = single;
        }
        if (!names || !json_object_is_type(names, json_type_array))
                r = fail(l, f_names, names ? "an array is expected" : "missing");
        else
                r = add_names(l, names, action, args, n, field);
        json_object_put(single);
        return r;
}

static int load(Loader *l, json_object *root)
{
        json_object *syscalls;
        int r;

        if (!json_object_is_type(root, json_type_object))
                return fail(l, "(top level)", "an object is expected");
        syscalls = member(root, "syscalls");
        if (syscalls && !json_object_is_type(syscalls, json_type_null) &&
            !json_object_is_type(syscalls, json_type_array))
                return fail(l, "syscalls", "an array is expected");
        for (size_t i = 0; syscalls && i < json_object_array_length(syscalls); i++) {
                r = parse_syscall(l, json_object_array_get_idx(syscalls, i), i);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_file(const char *path, char **ret_text, size_t *ret_size, json_object **ret,
                      char **ret_error)
{
        _cleanup_free_ char *text = NULL;
        json_tokener *tok;
        json_object *root;
        size_t size, line = 1;
        int r;

        r = read_full_file(path, PROFILE_MAX, &text, &size);
        if (r < 0) {
                *ret_error = xasprintf("seccomp profile `%s`: %s", path, strerror(-r));
                return r;
        }
        tok = json_tokener_new();
        root = json_tokener_parse_ex(tok, text, (int)size + 1);
        if (!root || json_tokener_get_error(tok) != json_tokener_success) {
                size_t end = json_tokener_get_parse_end(tok);

                for (size_t i = 0; i < end && i < size; i++)
                        line += text[i] == '\n';
                *ret_error = xasprintf("seccomp profile `%s`: line %zu: not valid JSON: %s", path,
                                       line, json_tokener_error_desc(json_tokener_get_error(tok)));
                json_object_put(root);
                json_tokener_free(tok);
                return -EINVAL;
        }
        json_tokener_free(tok);
        *ret = root;
        *ret_text = TAKE_PTR(text);
        *ret_size = size;
        return 0;
}

static int compile(Loader *l, json_object *root, uint32_t default_action, bool archs_given,
                   SeccompProfile **ret)
{
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        bool given;
        int r;

        r = seccomp_ctx_new(default_action, !archs_given, &ctx);
        if (r < 0)
                return fail(l, "defaultAction", "%s", strerror(-r));
        l->ctx = ctx;
        r = parse_architectures(l, root, &given);
        if (r >= 0)
                r = load(l, root);
        l->ctx = NULL;
        if (r < 0)
                return r;
        return seccomp_ctx_export(ctx, l->caps, ret);
}

int seccomp_profile_get_json(const char *path, uint64_t caps, const char *cache_dir,
                             SeccompProfile **ret, char ***ret_warnings, char **ret_error)
{
        _cleanup_free_ char *text = NULL;
        Loader l = { .path = path, .caps = caps };
        uint8_t key[SHA256_DIGEST_SIZE];
        json_object *root = NULL;
        uint32_t default_action;
        SeccompProfile *p = NULL;
        bool archs_given;
        size_t size;
        int r;

        r = parse_file(path, &text, &size, &root, ret_error);
        if (r < 0)
                return r;
        /* Check everything first: a bad profile is an error on every start,
         * cached or not. */
        r = parse_action(&l, root, "defaultAction", "defaultErrnoRet", &default_action);
        if (r >= 0)
                r = parse_architectures(&l, root, &archs_given);
        if (r >= 0)
                r = load(&l, root);
        if (r >= 0 && cache_dir) {
                seccomp_cache_key(caps, text, size, key);
                p = seccomp_cache_load(cache_dir, key, caps);
        }
        if (r >= 0 && !p) {
                r = compile(&l, root, default_action, archs_given, &p);
                if (r >= 0 && cache_dir)
                        seccomp_cache_store(cache_dir, key, p);
        }
        json_object_put(root);
        if (r < 0) {
                *ret_error = TAKE_PTR(l.error);
                strv_free(l.warnings);
                return r;
        }
        *ret = p;
        if (ret_warnings)
                *ret_warnings = TAKE_PTR(l.warnings);
        strv_free(l.warnings);
        return 0;
}
