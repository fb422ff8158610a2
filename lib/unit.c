/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "unit.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <strings.h>
#include <signal.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "ini-reader.h"
#include "listen.h"
#include "netspec.h"
#include "trust.h"
#include "unit-template.h"
#include "util.h"
#include "words.h"

char *const unit_default_path[] = {
        (char *)"/etc/ccsup.d",
        (char *)"/run/ccsup.d",
        (char *)"/usr/lib/ccsup.d",
        NULL,
};

/* ------------------------------------------------------------------ tables */

static const char *const image_kind_table[_IMAGE_KIND_MAX] = {
        [IMAGE_DIRECTORY] = "directory",
        [IMAGE_STORE] = "store",
        [IMAGE_OCI] = "oci",
        [IMAGE_OCI_ARCHIVE] = "oci-archive",
        [IMAGE_DOCKER_ARCHIVE] = "docker-archive",
};

static const char *const restart_policy_table[_RESTART_POLICY_MAX] = {
        [RESTART_NO] = "no",
        [RESTART_ON_FAILURE] = "on-failure",
        [RESTART_ON_ABNORMAL] = "on-abnormal",
        [RESTART_ALWAYS] = "always",
};

static const char *const network_mode_table[_NETWORK_MODE_MAX] = {
        [NETWORK_NONE] = "none",
        [NETWORK_HOST] = "host",
        [NETWORK_CONTAINER] = "container",
        [NETWORK_BRIDGE] = "bridge",
};

static const char *const seccomp_mode_table[_SECCOMP_MODE_MAX] = {
        [SECCOMP_MODE_DEFAULT] = "default",
        [SECCOMP_MODE_UNCONFINED] = "unconfined",
        [SECCOMP_MODE_PROFILE] = "profile",
};

static const char *const log_target_table[_LOG_TARGET_MAX] = {
        [LOG_TARGET_AUTO] = "auto",
        [LOG_TARGET_JOURNAL] = "journal",
        [LOG_TARGET_FILE] = "file",
        [LOG_TARGET_NONE] = "none",
};

static const struct {
        const char *name;
        int resource;
} limit_table[_UNIT_LIMIT_MAX] = {
        [UNIT_LIMIT_NOFILE] = { "NOFILE", RLIMIT_NOFILE },
        [UNIT_LIMIT_NPROC] = { "NPROC", RLIMIT_NPROC },
        [UNIT_LIMIT_CORE] = { "CORE", RLIMIT_CORE },
        [UNIT_LIMIT_MEMLOCK] = { "MEMLOCK", RLIMIT_MEMLOCK },
        [UNIT_LIMIT_STACK] = { "STACK", RLIMIT_STACK },
};

static int lookup(const char *const *table, int n, const char *s)
{
        for (int i = 0; i < n; i++)
                if (table[i] && streq(table[i], s))
                        return i;
        return -1;
}

const char *image_kind_to_string(ImageKind k)
{
        return k >= 0 && k < _IMAGE_KIND_MAX ? image_kind_table[k] : NULL;
}
const char *restart_policy_to_string(RestartPolicy p)
{
        return p >= 0 && p < _RESTART_POLICY_MAX ? restart_policy_table[p] : NULL;
}
RestartPolicy restart_policy_from_string(const char *s)
{
        return lookup(restart_policy_table, _RESTART_POLICY_MAX, s);
}
size_t unit_listen_count(const UnitConfig *c)
{
        return strv_length(c->listen_stream) + strv_length(c->listen_datagram);
}

char *unit_listen_key(const UnitConfig *c)
{
        _cleanup_free_ char *s = strv_join(c->listen_stream, " "), *d = strv_join(c->listen_datagram, " ");

        return xasprintf("stream %s; datagram %s; mode %04o", s, d, (unsigned)c->socket_mode);
}

const char *network_mode_to_string(NetworkMode m)
{
        return m >= 0 && m < _NETWORK_MODE_MAX ? network_mode_table[m] : NULL;
}

static const char *const health_on_failure_table[_HEALTH_ON_FAILURE_MAX] = {
        [HEALTH_ON_FAILURE_RESTART] = "restart",
        [HEALTH_ON_FAILURE_STOP] = "stop",
        [HEALTH_ON_FAILURE_NONE] = "none",
};

const char *health_on_failure_to_string(HealthOnFailure f)
{
        return f >= 0 && f < _HEALTH_ON_FAILURE_MAX ? health_on_failure_table[f] : NULL;
}

void health_target_done(HealthTarget *t)
{
        free(t->host);
        free(t->path);
        *t = (HealthTarget){};
}

static int health_port_parse(const char *s, uint16_t *ret)
{
        uint32_t u;

        if (parse_uint32(s, &u) < 0 || u == 0 || u > 65535)
                return -EINVAL;
        *ret = (uint16_t)u;
        return 0;
}

int health_target_parse(const char *s, bool http, HealthTarget *ret, const char **ret_error)
{
        _cleanup_free_ char *host = NULL;
        HealthTarget t = { .family = AF_INET };
        const char *p = s, *port, *path = NULL;

        if (http) {
                if (startswith(p, "http://"))
                        p += strlen("http://");
                else if (strstr(p, "://")) {
                        *ret_error = "only http:// is supported";
                        return -EINVAL;
                }
                path = strchr(p, '/');
        }
        _cleanup_free_ char *hostport = path ? xstrndup(p, (size_t)(path - p)) : xstrdup(p);
        if (*hostport == '[') {
                char *end = strchr(hostport, ']');
                if (!end || (end[1] != ':' && end[1] != 0)) {
                        *ret_error = "expected [IPV6]:PORT";
                        return -EINVAL;
                }
                host = xstrndup(hostport + 1, (size_t)(end - hostport - 1));
                port = end[1] ? end + 2 : NULL;
                t.family = AF_INET6;
        } else {
                char *colon = strrchr(hostport, ':');
                if (colon) {
                        host = xstrndup(hostport, (size_t)(colon - hostport));
                        port = colon + 1;
                } else if (http) {
                        *ret_error = "expected HOST:PORT";
                        return -EINVAL;
                } else
                        port = hostport;
        }
        if (!port || !*port) {
                *ret_error = "missing port";
                return -EINVAL;
        }
        if (health_port_parse(port, &t.port) < 0) {
                *ret_error = "invalid port (expected 1-65535)";
                return -EINVAL;
        }
        if (!host || streq(host, "localhost")) {
                free(host);
                host = xstrdup(t.family == AF_INET6 ? "::1" : "127.0.0.1");
        }
        if (inet_pton(t.family, host, t.addr) != 1) {
                *ret_error = t.family == AF_INET6 ? "invalid IPv6 address"
                                                   : "invalid host (expected an IPv4 address, [IPv6] or localhost; names are not resolved)";
                return -EINVAL;
        }
        if (path) {
                for (const char *q = path; *q; q++)
                        if ((unsigned char)*q <= ' ' || *q == 0x7f) {
                                *ret_error = "invalid character in the path";
                                return -EINVAL;
                        }
                if (strlen(path) > 1024) {
                        *ret_error = "path longer than 1024 bytes";
                        return -EINVAL;
                }
        }
        t.host = TAKE_PTR(host);
        t.path = http ? xstrdup(path ? path : "/") : NULL;
        *ret = t;
        return 0;
}

const char *seccomp_mode_to_string(SeccompMode m)
{
        return m >= 0 && m < _SECCOMP_MODE_MAX ? seccomp_mode_table[m] : NULL;
}
const char *log_target_to_string(LogTarget t)
{
        return t >= 0 && t < _LOG_TARGET_MAX ? log_target_table[t] : NULL;
}
LogTarget log_target_from_string(const char *s)
{
        return lookup(log_target_table, _LOG_TARGET_MAX, s);
}
const char *unit_limit_to_string(UnitLimit l)
{
        return l >= 0 && l < _UNIT_LIMIT_MAX ? limit_table[l].name : NULL;
}
int unit_limit_to_rlimit(UnitLimit l)
{
        return l >= 0 && l < _UNIT_LIMIT_MAX ? limit_table[l].resource : -1;
}

/* ------------------------------------------------------------------ config */

uint64_t unit_default_capabilities(void)
{
        static const int caps[] = { 0 /* CHOWN */, 1 /* DAC_OVERRIDE */, 3 /* FOWNER */,
                                    4 /* FSETID */, 5 /* KILL */, 6 /* SETGID */,
                                    7 /* SETUID */, 8 /* SETPCAP */, 31 /* SETFCAP */,
                                    10 /* NET_BIND_SERVICE */, 18 /* SYS_CHROOT */,
                                    29 /* AUDIT_WRITE */ };
        uint64_t m = 0;
        for (size_t i = 0; i < ELEMENTSOF(caps); i++)
                m |= UINT64_C(1) << caps[i];
        return m;
}

static uint64_t all_capabilities(void)
{
        int last = capability_last();
        return last >= 63 ? UINT64_MAX : (UINT64_C(1) << (last + 1)) - 1;
}

uint64_t unit_effective_capabilities(const UnitConfig *c)
{
        if (c->privileged)
                return all_capabilities();
        uint64_t m = c->capabilities_set ? c->capabilities : unit_default_capabilities();
        return (m | c->add_capabilities) & ~c->drop_capabilities;
}

bool unit_exit_status_is_success(const UnitConfig *c, int code)
{
        if (code == 0)
                return true;
        if (code < 0 || code > 255)
                return false;
        return c->success_status[code / 8] & (1u << (code % 8));
}

bool unit_signal_is_success(const UnitConfig *c, int sig)
{
        return sig > 0 && sig < 64 && (c->success_signals & (UINT64_C(1) << sig));
}

const char *unit_hostname(const UnitConfig *c)
{
        return c->hostname ? c->hostname : c->name;
}

static UnitConfig *unit_config_new(const char *name)
{
        UnitConfig *c = xcalloc(1, sizeof(*c));
        c->name = xstrdup(name);
        c->umask = 0022;
        c->stop_timeout_usec = 10 * USEC_PER_SEC;
        c->start_timeout_usec = 90 * USEC_PER_SEC;
        c->restart = RESTART_ON_FAILURE;
        c->restart_delay_usec = 100 * USEC_PER_MSEC;
        c->restart_max_delay_usec = 60 * USEC_PER_SEC;
        c->restart_reset_after_usec = 10 * USEC_PER_SEC;
        c->memory_max = c->memory_high = c->memory_swap_max = UNIT_UNSET;
        c->cpu_quota = c->cpu_weight = c->pids_max = c->io_weight = UNIT_UNSET;
        c->no_new_privileges = true;
        c->socket_mode = 0666;
        c->log_max_file_size = 1024 * 1024;
        c->log_max_files = 3;
        c->health_interval_usec = 30 * USEC_PER_SEC;
        c->health_timeout_usec = 30 * USEC_PER_SEC;
        c->health_start_interval_usec = 5 * USEC_PER_SEC;
        c->health_retries = 3;
        return c;
}

static void binds_clear(UnitConfig *c)
{
        for (size_t i = 0; i < c->n_binds; i++) {
                free(c->binds[i].source);
                free(c->binds[i].destination);
        }
        free(c->binds);
        c->binds = NULL;
        c->n_binds = 0;
}

static void tmpfs_clear(UnitConfig *c)
{
        for (size_t i = 0; i < c->n_tmpfs; i++)
                free(c->tmpfs[i].destination);
        free(c->tmpfs);
        c->tmpfs = NULL;
        c->n_tmpfs = 0;
}

static void volumes_clear(UnitConfig *c)
{
        for (size_t i = 0; i < c->n_volumes; i++) {
                free(c->volumes[i].name);
                free(c->volumes[i].destination);
        }
        free(c->volumes);
        c->volumes = NULL;
        c->n_volumes = 0;
}

static void devices_clear(UnitConfig *c)
{
        for (size_t i = 0; i < c->n_devices; i++) {
                free(c->devices[i].host_path);
                free(c->devices[i].container_path);
        }
        free(c->devices);
        c->devices = NULL;
        c->n_devices = 0;
}

UnitConfig *unit_config_free(UnitConfig *c)
{
        if (!c)
                return NULL;
        free(c->name);
        free(c->description);
        strv_free(c->requires);
        strv_free(c->wants);
        strv_free(c->after);
        free(c->image);
        free(c->image_path);
        free(c->image_ref);
        strv_free(c->exec);
        strv_free(c->entrypoint);
        strv_free(c->environment);
        strv_free(c->environment_files);
        free(c->working_directory);
        free(c->user);
        free(c->group);
        strv_free(c->supplementary_groups);
        free(c->hostname);
        free(c->cpuset);
        free(c->seccomp_profile);
        strv_free(c->read_only_paths);
        strv_free(c->masked_paths);
        devices_clear(c);
        binds_clear(c);
        tmpfs_clear(c);
        volumes_clear(c);
        strv_free(c->listen_stream);
        strv_free(c->listen_datagram);
        free(c->fd_name);
        strv_free(c->health_exec);
        free(c->health_http);
        free(c->health_tcp);
        free(c->network_container);
        strv_free(c->publish_ports);
        free(c->address);
        strv_free(c->dns);
        strv_free(c->dns_search);
        strv_free(c->add_hosts);
        free(c->fragment_path);
        strv_free(c->dropin_paths);
        free(c);
        return NULL;
}

/* ------------------------------------------------------------------ parsing */

typedef struct Error {
        unsigned file, line; /* line 0: the file as a whole */
        size_t seq;          /* order of report, for a stable sort */
        char *msg;
} Error;

typedef struct KeyDef KeyDef;

typedef enum Section {
        SECTION_UNIT,
        SECTION_IMAGE,
        SECTION_PROCESS,
        SECTION_RESTART,
        SECTION_RESOURCES,
        SECTION_SECURITY,
        SECTION_MOUNTS,
        SECTION_NETWORK,
        SECTION_LOG,
        SECTION_SOCKET,
        SECTION_HEALTH,
        _SECTION_MAX,
} Section;

static const char *const section_table[_SECTION_MAX] = {
        [SECTION_UNIT] = "Unit",         [SECTION_IMAGE] = "Image",
        [SECTION_PROCESS] = "Process",   [SECTION_RESTART] = "Restart",
        [SECTION_RESOURCES] = "Resources", [SECTION_SECURITY] = "Security",
        [SECTION_MOUNTS] = "Mounts",     [SECTION_NETWORK] = "Network",
        [SECTION_LOG] = "Log",           [SECTION_SOCKET] = "Socket",
        [SECTION_HEALTH] = "Health",
};

/* Sections and keys of UNITS.md that belong to later work: rejected, with a
 * message that says so rather than "unknown". */
static const char *const later_sections[] = { NULL };
static const char *const later_keys[] = { NULL };

typedef struct Ctx {
        UnitConfig *c;
        unsigned file;     /* index into paths */
        unsigned line;     /* line of the assignment being parsed */
        const KeyDef *key; /* key being parsed */
        Error *errors;
        size_t n_errors;
        bool unknown_section; /* the current section is unknown: skip its keys */
        struct {
                bool seen;
                unsigned file, line;
        } sections[_SECTION_MAX];
        char ***effective; /* per key: the values that make up its effect */
        bool *assigned;    /* per key: assigned at least once, validly or not */
        struct {
                unsigned file, line;
        } *last;           /* per key: where it was last assigned */
} Ctx;

typedef int (*ParseFn)(Ctx *x, const char *value, void *field);

struct KeyDef {
        Section section;
        const char *name;
        bool list;
        ParseFn parse;
        size_t offset;
        uint64_t def; /* default of numeric single-valued keys, or an argument */
};

static void add_error_at(Ctx *x, unsigned line, const char *fmt, ...) _printf_(3, 4);
static void add_error_at(Ctx *x, unsigned line, const char *fmt, ...)
{
        va_list ap;
        char *m;
        va_start(ap, fmt);
        m = xvasprintf(fmt, ap);
        va_end(ap);
        x->errors = xrealloc(x->errors, (x->n_errors + 1) * sizeof(Error));
        x->errors[x->n_errors] = (Error){ .file = x->file, .line = line, .seq = x->n_errors, .msg = m };
        x->n_errors++;
}

/* An error about the value of the key being parsed: "Key=: message". */
#define value_error(x, fmt, ...) \
        add_error_at(x, (x)->line, "%s=: " fmt, (x)->key->name, ##__VA_ARGS__)

static int invalid(Ctx *x, const char *what, const char *value)
{
        value_error(x, "invalid %s `%s`", what, value);
        return -EINVAL;
}

#define FIELD(x, type, field) ((type *)(field))

static int p_string(Ctx *x, const char *v, void *f)
{
        char **p = f;
        free(*p);
        *p = *v ? xstrdup(v) : NULL;
        return 0;
}

static int p_bool(Ctx *x, const char *v, void *f)
{
        if (!*v) {
                *(bool *)f = x->key->def;
                return 0;
        }
        int b = parse_boolean(v);
        if (b < 0)
                return invalid(x, "boolean", v);
        *(bool *)f = b;
        return 0;
}

static int p_duration(Ctx *x, const char *v, void *f)
{
        uint64_t u = x->key->def;
        if (*v && parse_duration(v, &u) < 0)
                return invalid(x, "duration", v);
        *(uint64_t *)f = u;
        return 0;
}

static int p_size(Ctx *x, const char *v, void *f)
{
        uint64_t u = x->key->def;
        if (*v && parse_size(v, &u) < 0)
                return invalid(x, "size", v);
        *(uint64_t *)f = u;
        return 0;
}

static int p_uint32(Ctx *x, const char *v, void *f)
{
        uint32_t u = (uint32_t)x->key->def;
        if (*v && parse_uint32(v, &u) < 0)
                return invalid(x, "number", v);
        *(uint32_t *)f = u;
        return 0;
}

/* 0..UNIT_FDSTORE_MAX: every stored fd is one of ccsupd's and one of the
 * container's at its start (see unit.h). */
static int p_fdstore_max(Ctx *x, const char *v, void *f)
{
        uint32_t u = 0;
        if (*v && (parse_uint32(v, &u) < 0 || u > UNIT_FDSTORE_MAX))
                return invalid(x, "number of file descriptors (0 to 256)", v);
        *(uint32_t *)f = u;
        return 0;
}

/* 1..10000 (CPUWeight=, IOWeight=). */
static int p_weight(Ctx *x, const char *v, void *f)
{
        uint64_t u = UNIT_UNSET;
        if (*v) {
                if (parse_uint64(v, &u) < 0)
                        return invalid(x, "weight", v);
                if (u < 1 || u > 10000) {
                        value_error(x, "`%s` is out of range 1-10000", v);
                        return -ERANGE;
                }
        }
        *(uint64_t *)f = u;
        return 0;
}

/* OOMScoreAdjust=: -1000..1000, the kernel's range of oom_score_adj. */
static int p_oom_score(Ctx *x, const char *v, void *f)
{
        uint64_t u = 0;
        bool neg = v[0] == '-';
        if (*v) {
                if (parse_uint64(v + neg, &u) < 0) {
                        value_error(x, "invalid OOM score adjustment `%s` (expected an integer from -1000 to 1000)", v);
                        return -EINVAL;
                }
                if (u > 1000) {
                        value_error(x, "`%s` is out of range -1000 to 1000", v);
                        return -ERANGE;
                }
        }
        *(int *)f = neg ? -(int)u : (int)u;
        return 0;
}

static int p_percent(Ctx *x, const char *v, void *f)
{
        uint64_t u = UNIT_UNSET;
        if (*v && parse_percent(v, &u) < 0)
                return invalid(x, "percentage", v);
        *(uint64_t *)f = u;
        return 0;
}

static int p_pids(Ctx *x, const char *v, void *f)
{
        uint64_t u = UNIT_UNSET;
        if (*v && !streq(v, "infinity")) {
                if (parse_uint64(v, &u) < 0)
                        return invalid(x, "number of tasks", v);
                if (u == 0) {
                        value_error(x, "must be at least 1");
                        return -ERANGE;
                }
        } else if (*v)
                u = SIZE_INFINITY;
        *(uint64_t *)f = u;
        return 0;
}

static int p_cpuset(Ctx *x, const char *v, void *f)
{
        if (*v && !cpuset_is_valid(v))
                return invalid(x, "CPU list", v);
        return p_string(x, v, f);
}

static int p_umask(Ctx *x, const char *v, void *f)
{
        mode_t m = 0022;
        if (*v && parse_umask(v, &m) < 0)
                return invalid(x, "umask (expected octal 0000-0777)", v);
        *(mode_t *)f = m;
        return 0;
}

static int p_signal(Ctx *x, const char *v, void *f)
{
        int s = 0;
        if (*v && (s = parse_signal(v)) < 0)
                return invalid(x, "signal", v);
        *(int *)f = s;
        return 0;
}

static int p_hostname(Ctx *x, const char *v, void *f)
{
        if (*v && !hostname_is_valid(v))
                return invalid(x, "hostname", v);
        return p_string(x, v, f);
}

static int p_description(Ctx *x, const char *v, void *f)
{
        return p_string(x, v, f);
}

static int p_abs_path(Ctx *x, const char *v, void *f)
{
        if (*v && !path_is_normalized_absolute(v)) {
                value_error(x, "`%s` is not an absolute, normalized path", v);
                return -EINVAL;
        }
        return p_string(x, v, f);
}

static int p_rlimit(Ctx *x, const char *v, void *f)
{
        RlimitSpec *r = &((RlimitSpec *)f)[x->key->def];
        if (!*v) {
                *r = (RlimitSpec){};
                return 0;
        }
        uint64_t soft, hard;
        int k = parse_rlimit(v, &soft, &hard);
        if (k == -ERANGE) {
                value_error(x, "soft limit above hard limit in `%s`", v);
                return k;
        }
        if (k < 0)
                return invalid(x, "limit (expected SOFT[:HARD] or infinity)", v);
        *r = (RlimitSpec){ .set = true, .soft = soft, .hard = hard };
        return 0;
}

/* Exec=, Entrypoint=: shell-like words. Exec= empty resets to "not given";
 * Entrypoint= empty clears the image's entrypoint (an empty vector). */
static int p_words(Ctx *x, const char *v, void *f)
{
        char ***p = f;
        char **w = NULL;
        const char *err = NULL;
        if (words_split(v, &w, &err) < 0) {
                value_error(x, "%s", err);
                return -EINVAL;
        }
        if (strv_length(w) == 0 && x->key->def == 0) {
                strv_free(w);
                w = NULL;
        } else if (!w)
                w = xcalloc(1, sizeof(char *));
        strv_free(*p);
        *p = w;
        return 0;
}

/* Space-separated unit names (Requires=, Wants=, After=). */
static int p_units(Ctx *x, const char *v, void *f)
{
        char ***p = f;
        if (!*v) {
                strv_free(*p);
                *p = NULL;
                return 0;
        }
        _cleanup_strv_free_ char **w = NULL;
        const char *err;
        if (words_split(v, &w, &err) < 0) {
                value_error(x, "%s", err);
                return -EINVAL;
        }
        int r = 0;
        STRV_FOREACH(n, w) {
                const char *name = *n;
                size_t l = strlen(name);
                char *stripped = l > 5 && streq(name + l - 5, ".unit") ? xstrndup(name, l - 5)
                                                                       : xstrdup(name);
                if (!unit_name_is_valid(stripped)) {
                        value_error(x, "invalid unit name `%s`", name);
                        free(stripped);
                        r = -EINVAL;
                } else if (streq(stripped, x->c->name)) {
                        value_error(x, "unit `%s` cannot depend on itself", stripped);
                        free(stripped);
                        r = -EINVAL;
                } else if (strv_contains(*p, stripped))
                        free(stripped);
                else
                        strv_push(p, stripped);
        }
        return r;
}

static bool image_name_is_valid(const char *s)
{
        /* [HOST[:PORT]/]COMPONENT[/COMPONENT…], components of lowercase letters,
         * digits and single separators . _ - (Docker's reference grammar, simplified). */
        if (!*s || strlen(s) > 255)
                return false;
        const char *slash = strchr(s, '/');
        const char *p = s;
        if (slash) {
                /* A first component with '.', ':' or "localhost" is a registry host. */
                size_t hl = (size_t)(slash - s);
                if (memchr(s, '.', hl) || memchr(s, ':', hl) ||
                    (hl == 9 && strncmp(s, "localhost", 9) == 0)) {
                        for (size_t i = 0; i < hl; i++)
                                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:", s[i]))
                                        return false;
                        p = slash + 1;
                }
        }
        bool prev_sep = true;
        for (; *p; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
                        prev_sep = false;
                else if (*p == '.' || *p == '_' || *p == '-' || *p == '/') {
                        /* "__" is one separator; a separator first is none
                         * (and p[-1] is not there to look at). */
                        if (prev_sep && !(*p == '_' && p > s && p[-1] == '_'))
                                return false;
                        prev_sep = true;
                } else
                        return false;
        }
        return !prev_sep;
}

static bool tag_is_valid(const char *t)
{
        size_t l = strlen(t);
        if (l == 0 || l > 128 || t[0] == '.' || t[0] == '-')
                return false;
        for (; *t; t++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *t))
                        return false;
        return true;
}

static bool digest_is_valid(const char *d)
{
        const char *h = startswith(d, "sha256:");
        if (!h || strlen(h) != 64)
                return false;
        for (; *h; h++)
                if (!strchr("0123456789abcdef", *h))
                        return false;
        return true;
}

/* PATH[:TAG] for oci: and oci-archive:. The tag is what follows the last ':'
 * when it has no '/'. */
static int split_path_tag(Ctx *x, const char *v, char **ret_path, char **ret_tag)
{
        const char *colon = strrchr(v, ':');
        _cleanup_free_ char *path = NULL, *tag = NULL;
        if (colon && !strchr(colon, '/')) {
                path = xstrndup(v, (size_t)(colon - v));
                tag = xstrdup(colon + 1);
                if (!tag_is_valid(tag)) {
                        value_error(x, "invalid tag `%s`", tag);
                        return -EINVAL;
                }
        } else
                path = xstrdup(v);
        if (!path_is_normalized_absolute(path)) {
                value_error(x, "`%s` is not an absolute, normalized path", path);
                return -EINVAL;
        }
        *ret_path = TAKE_PTR(path);
        *ret_tag = TAKE_PTR(tag);
        return 0;
}

static int p_image(Ctx *x, const char *v, void *f)
{
        UnitConfig *c = x->c;
        _cleanup_free_ char *path = NULL, *ref = NULL;
        ImageKind kind;
        const char *rest, *written = v;

        if (!*v) {
                kind = IMAGE_DIRECTORY;
        } else if ((rest = startswith(v, "oci:"))) {
                kind = IMAGE_OCI;
                if (split_path_tag(x, rest, &path, &ref) < 0)
                        return -EINVAL;
        } else if ((rest = startswith(v, "oci-archive:"))) {
                kind = IMAGE_OCI_ARCHIVE;
                if (split_path_tag(x, rest, &path, &ref) < 0)
                        return -EINVAL;
        } else if ((rest = startswith(v, "docker-archive:"))) {
                kind = IMAGE_DOCKER_ARCHIVE;
                if (!path_is_normalized_absolute(rest)) {
                        value_error(x, "`%s` is not an absolute, normalized path", rest);
                        return -EINVAL;
                }
                path = xstrdup(rest);
        } else if (v[0] == '/') {
                kind = IMAGE_DIRECTORY;
                if (!path_is_normalized_absolute(v)) {
                        value_error(x, "`%s` is not a normalized path", v);
                        return -EINVAL;
                }
                path = xstrdup(v);
        } else {
                kind = IMAGE_STORE;
                if ((rest = startswith(v, "docker://"))) /* a registry reference, as skopeo writes it */
                        v = rest;
                const char *at = strchr(v, '@');
                const char *slash = strrchr(v, '/');
                const char *colon = strrchr(v, ':');
                _cleanup_free_ char *name = NULL;
                if (at) {
                        name = xstrndup(v, (size_t)(at - v));
                        if (!digest_is_valid(at + 1)) {
                                value_error(x, "invalid digest `%s` (expected sha256:64 hex digits)", at + 1);
                                return -EINVAL;
                        }
                } else if (colon && (!slash || colon > slash)) {
                        name = xstrndup(v, (size_t)(colon - v));
                        if (!tag_is_valid(colon + 1)) {
                                value_error(x, "invalid tag `%s`", colon + 1);
                                return -EINVAL;
                        }
                } else
                        name = xstrdup(v);
                if (!image_name_is_valid(name)) {
                        value_error(x, "invalid image `%s`: expected an absolute path, NAME[:TAG], NAME@sha256:HEX, oci:PATH, oci-archive:PATH or docker-archive:PATH", v);
                        return -EINVAL;
                }
                ref = xstrdup(v);
        }
        free(c->image);
        free(c->image_path);
        free(c->image_ref);
        c->image = *written ? xstrdup(written) : NULL;
        c->image_kind = kind;
        c->image_path = TAKE_PTR(path);
        c->image_ref = TAKE_PTR(ref);
        return 0;
}

static int p_environment(Ctx *x, const char *v, void *f)
{
        char ***p = f;
        if (!*v) {
                strv_free(*p);
                *p = NULL;
                return 0;
        }
        if (!env_assignment_is_valid(v)) {
                value_error(x, "invalid assignment `%s` (expected KEY=VALUE)", v);
                return -EINVAL;
        }
        /* A later assignment of the same variable replaces the earlier one. */
        size_t kl = strcspn(v, "=") + 1;
        for (char **e = *p; e && *e; e++)
                if (strncmp(*e, v, kl) == 0) {
                        free(*e);
                        *e = xstrdup(v);
                        return 0;
                }
        strv_add(p, v);
        return 0;
}

static int p_environment_file(Ctx *x, const char *v, void *f)
{
        char ***p = f;
        if (!*v) {
                strv_free(*p);
                *p = NULL;
                return 0;
        }
        if (!path_is_normalized_absolute(v[0] == '-' ? v + 1 : v)) {
                value_error(x, "`%s` is not an absolute, normalized path", v);
                return -EINVAL;
        }
        strv_add(p, v);
        return 0;
}

static int p_user(Ctx *x, const char *v, void *f)
{
        UnitConfig *c = x->c;
        char *user = NULL, *group = NULL;
        if (*v && parse_user_spec(v, &user, &group) < 0)
                return invalid(x, "user (expected NAME, UID or UID:GID)", v);
        free(c->user);
        free(c->group);
        c->user = user;
        c->group = group;
        return 0;
}

/* A space-separated list of names, each checked by ok(). */
static int add_names(Ctx *x, const char *v, char ***p, bool (*ok)(const char *), const char *what)
{
        if (!*v) {
                strv_free(*p);
                *p = NULL;
                return 0;
        }
        _cleanup_strv_free_ char **w = NULL;
        const char *err;
        if (words_split(v, &w, &err) < 0) {
                value_error(x, "%s", err);
                return -EINVAL;
        }
        int r = 0;
        STRV_FOREACH(n, w) {
                if (!ok(*n)) {
                        r = invalid(x, what, *n);
                        continue;
                }
                if (!strv_contains(*p, *n))
                        strv_add(p, *n);
        }
        return r;
}

static int p_groups(Ctx *x, const char *v, void *f)
{
        return add_names(x, v, f, group_spec_is_valid, "group");
}

static bool path_ok(const char *s)
{
        return path_is_normalized_absolute(s);
}

static int p_paths(Ctx *x, const char *v, void *f)
{
        return add_names(x, v, f, path_ok, "path (expected an absolute, normalized path)");
}

static int p_policy(Ctx *x, const char *v, void *f)
{
        int p = *v ? restart_policy_from_string(v) : RESTART_ON_FAILURE;
        if (p < 0) {
                value_error(x, "unknown policy `%s` (expected no, on-failure, on-abnormal or always)", v);
                return -EINVAL;
        }
        *(RestartPolicy *)f = p;
        return 0;
}

static int p_image_pull(Ctx *x, const char *v, void *f)
{
        static const char *const names[] = { "missing", "always", "never" };
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
                if (streq(v, names[k])) {
                        *(ImagePull *)f = (ImagePull)k;
                        return 0;
                }
        value_error(x, "unknown pull policy `%s` (expected missing, always or never)", v);
        return -EINVAL;
}

static int p_auto_update(Ctx *x, const char *v, void *f)
{
        if (streq(v, "no") || streq(v, "registry")) {
                *(bool *)f = streq(v, "registry");
                return 0;
        }
        value_error(x, "unknown value `%s` (expected no or registry)", v);
        return -EINVAL;
}

static int p_success_status(Ctx *x, const char *v, void *f)
{
        UnitConfig *c = x->c;
        if (!*v) {
                memset(c->success_status, 0, sizeof(c->success_status));
                c->success_signals = 0;
                return 0;
        }
        _cleanup_strv_free_ char **w = NULL;
        const char *err;
        if (words_split(v, &w, &err) < 0) {
                value_error(x, "%s", err);
                return -EINVAL;
        }
        int r = 0;
        STRV_FOREACH(s, w) {
                uint32_t code;
                int sig;
                if (parse_uint32(*s, &code) == 0) {
                        if (code > 255) {
                                value_error(x, "exit status `%s` is out of range 0-255", *s);
                                r = -ERANGE;
                                continue;
                        }
                        c->success_status[code / 8] |= 1u << (code % 8);
                } else if (!isdigit((unsigned char)(*s)[0]) && (sig = parse_signal(*s)) > 0 && sig < 64)
                        c->success_signals |= UINT64_C(1) << sig;
                else
                        r = invalid(x, "exit status or signal", *s);
        }
        return r;
}

/* Capabilities=, AddCapabilities=, DropCapabilities=: names or ALL. */
static int p_caps(Ctx *x, const char *v, void *f)
{
        uint64_t *m = f;
        bool is_set = x->key->def;
        if (!*v) {
                *m = 0;
                if (is_set)
                        x->c->capabilities_set = false;
                return 0;
        }
        _cleanup_strv_free_ char **w = NULL;
        const char *err;
        if (words_split(v, &w, &err) < 0) {
                value_error(x, "%s", err);
                return -EINVAL;
        }
        int r = 0;
        STRV_FOREACH(s, w) {
                if (strcasecmp(*s, "ALL") == 0 || strcasecmp(*s, "CAP_ALL") == 0) {
                        *m |= all_capabilities();
                        continue;
                }
                int cap = parse_capability(*s);
                if (cap < 0 || cap > 63) {
                        r = invalid(x, "capability", *s);
                        continue;
                }
                *m |= UINT64_C(1) << cap;
        }
        if (is_set)
                x->c->capabilities_set = true;
        return r;
}

static int p_seccomp(Ctx *x, const char *v, void *f)
{
        UnitConfig *c = x->c;
        SeccompMode m;
        if (!*v || streq(v, "default"))
                m = SECCOMP_MODE_DEFAULT;
        else if (streq(v, "unconfined"))
                m = SECCOMP_MODE_UNCONFINED;
        else if (path_is_normalized_absolute(v))
                m = SECCOMP_MODE_PROFILE;
        else {
                value_error(x, "invalid value `%s` (expected default, unconfined or an absolute path to a profile)", v);
                return -EINVAL;
        }
        free(c->seccomp_profile);
        c->seccomp_profile = m == SECCOMP_MODE_PROFILE ? xstrdup(v) : NULL;
        c->seccomp = m;
        return 0;
}

/* Splits "A:B:C" at ':' into at most max parts. */
static size_t split_colons(const char *v, char **parts, size_t max)
{
        size_t n = 0;
        const char *p = v;
        while (n < max) {
                const char *colon = strchr(p, ':');
                if (!colon || n == max - 1) {
                        parts[n++] = xstrdup(p);
                        break;
                }
                parts[n++] = xstrndup(p, (size_t)(colon - p));
                p = colon + 1;
        }
        return n;
}

static void free_parts(char **parts, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(parts[i]);
}

static bool check_path(Ctx *x, const char *p, const char *what)
{
        if (path_is_normalized_absolute(p))
                return true;
        value_error(x, "%s `%s` is not an absolute, normalized path", what, p);
        return false;
}

static int p_bind(Ctx *x, const char *v, void *f)
{
        UnitConfig *c = x->c;
        if (!*v) {
                binds_clear(c);
                return 0;
        }
        char *parts[4] = {};
        size_t n = split_colons(v, parts, 4);
        int r = -EINVAL;
        bool optional = parts[0][0] == '-';
        const char *src = parts[0] + (optional ? 1 : 0);
        bool ro = false, idmap = false, opts_ok = true;
        if (n == 3) {
                _cleanup_free_ char *copy = xstrdup(parts[2]);
                char *save = NULL;
                for (char *o = strtok_r(copy, ",", &save); o && opts_ok; o = strtok_r(NULL, ",", &save)) {
                        if (streq(o, "ro"))
                                ro = true;
                        else if (streq(o, "rw"))
                                ro = false;
                        else if (streq(o, "idmap"))
                                idmap = true;
                        else {
                                value_error(x, "invalid bind option `%s` (expected ro, rw or idmap)", o);
                                opts_ok = false;
                        }
                }
                if (opts_ok && !*parts[2]) {
                        value_error(x, "invalid bind option `` (expected ro, rw or idmap)");
                        opts_ok = false;
                }
        }
        if (n < 2 || n > 3)
                value_error(x, "invalid bind `%s` (expected SRC:DST[:ro|rw][,idmap])", v);
        else if (opts_ok && check_path(x, src, "source") && check_path(x, parts[1], "destination")) {
                c->binds = xrealloc(c->binds, (c->n_binds + 1) * sizeof(BindMount));
                c->binds[c->n_binds++] = (BindMount){
                        .source = xstrdup(src),
                        .destination = xstrdup(parts[1]),
                        .read_only = ro,
                        .idmap = idmap,
                        .optional = optional,
                };
                r = 0;
        }
        free_parts(parts, n);
        return r;
}

/* no, auto, or HOSTUID:COUNT (the range must fit below 2^32). */
static int p_userns(Ctx *x, const char *v, void *f)
{
        UnitConfig *c = x->c;
        (void)f;
        c->userns = USERNS_NO;
        c->userns_uid = c->userns_count = 0;
        if (!*v || streq(v, "no"))
                return 0;
        if (streq(v, "auto")) {
                c->userns = USERNS_AUTO;
                c->userns_count = USERNS_AUTO_COUNT;
                return 0;
        }
        const char *colon = strchr(v, ':');
        _cleanup_free_ char *uid = colon ? xstrndup(v, (size_t)(colon - v)) : NULL;
        uint32_t u, n;
        if (!colon || parse_uint32(uid, &u) < 0 || parse_uint32(colon + 1, &n) < 0) {
                value_error(x, "invalid user namespace `%s` (expected no, auto or HOSTUID:COUNT)", v);
                return -EINVAL;
        }
        if (u == 0 || n == 0 || (uint64_t)u + n > UINT32_MAX) {
                value_error(x, "invalid range `%s`: HOSTUID from 1, COUNT from 1, and the range below 4294967295", v);
                return -EINVAL;
        }
        c->userns = USERNS_RANGE;
        c->userns_uid = u;
        c->userns_count = n;
        return 0;
}

static int tmpfs_options(Ctx *x, const char *opts, TmpfsMount *t)
{
        _cleanup_free_ char *copy = xstrdup(opts);
        char *save = NULL;
        for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
                const char *val;
                if ((val = startswith(o, "size="))) {
                        /* 0 would be the kernel's "unbounded". */
                        if (parse_size(val, &t->size) < 0 || t->size == SIZE_INFINITY || t->size == 0)
                                return invalid(x, "tmpfs size", val);
                } else if ((val = startswith(o, "mode="))) {
                        size_t l = strlen(val);
                        if (l == 0 || l > 5 || strspn(val, "01234567") != l ||
                            strtoul(val, NULL, 8) > 07777)
                                return invalid(x, "tmpfs mode", val);
                        t->mode = (mode_t)strtoul(val, NULL, 8);
                } else
                        return invalid(x, "tmpfs option (expected size= or mode=)", o);
        }
        return 0;
}

static int p_tmpfs(Ctx *x, const char *v, void *f)
{
        UnitConfig *c = x->c;
        if (!*v) {
                tmpfs_clear(c);
                return 0;
        }
        const char *colon = strchr(v, ':');
        _cleanup_free_ char *dst = colon ? xstrndup(v, (size_t)(colon - v)) : xstrdup(v);
        TmpfsMount t = { .mode = 01777 };
        if (!check_path(x, dst, "destination"))
                return -EINVAL;
        if (colon && tmpfs_options(x, colon + 1, &t) < 0)
                return -EINVAL;
        t.destination = TAKE_PTR(dst);
        c->tmpfs = xrealloc(c->tmpfs, (c->n_tmpfs + 1) * sizeof(TmpfsMount));
        c->tmpfs[c->n_tmpfs++] = t;
        return 0;
}

static bool volume_name_is_valid(const char *s)
{
        size_t l = strlen(s);
        if (l == 0 || l > 64 || !isalnum((unsigned char)s[0]))
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
                        return false;
        return true;
}

static int p_volume(Ctx *x, const char *v, void *f)
{
        UnitConfig *c = x->c;
        if (!*v) {
                volumes_clear(c);
                return 0;
        }
        char *parts[4] = {};
        size_t n = split_colons(v, parts, 4);
        int r = -EINVAL;
        if (n < 2 || n > 3)
                value_error(x, "invalid volume `%s` (expected NAME:DST[:ro|rw])", v);
        else if (!volume_name_is_valid(parts[0]))
                value_error(x, "invalid volume name `%s`", parts[0]);
        else if (n == 3 && !streq(parts[2], "ro") && !streq(parts[2], "rw"))
                value_error(x, "invalid volume option `%s` (expected ro or rw)", parts[2]);
        else if (check_path(x, parts[1], "destination")) {
                c->volumes = xrealloc(c->volumes, (c->n_volumes + 1) * sizeof(VolumeMount));
                c->volumes[c->n_volumes++] = (VolumeMount){
                        .name = xstrdup(parts[0]),
                        .destination = xstrdup(parts[1]),
                        .read_only = n == 3 && streq(parts[2], "ro"),
                };
                r = 0;
        }
        free_parts(parts, n);
        return r;
}

static bool parse_access(const char *s, DeviceSpec *d)
{
        d->read = d->write = d->mknod = false;
        if (!*s)
                return false;
        for (; *s; s++) {
                bool *b = *s == 'r' ? &d->read : *s == 'w' ? &d->write : *s == 'm' ? &d->mknod : NULL;
                if (!b || *b)
                        return false;
                *b = true;
        }
        return true;
}

static int p_device(Ctx *x, const char *v, void *f)
{
        UnitConfig *c = x->c;
        if (!*v) {
                devices_clear(c);
                return 0;
        }
        char *parts[4] = {};
        size_t n = split_colons(v, parts, 4);
        DeviceSpec d = { .read = true, .write = true, .mknod = true };
        int r = -EINVAL;
        const char *ctr = parts[0];
        if (n > 3)
                value_error(x, "invalid device `%s` (expected HOSTPATH[:CONTAINERPATH][:rwm])", v);
        else if (!check_path(x, parts[0], "device"))
                ;
        else if (n == 2 && parts[1][0] != '/' && !parse_access(parts[1], &d))
                value_error(x, "invalid device access `%s` (expected letters of rwm)", parts[1]);
        else if (n == 3 && !parse_access(parts[2], &d))
                value_error(x, "invalid device access `%s` (expected letters of rwm)", parts[2]);
        else {
                if (n >= 2 && parts[1][0] == '/')
                        ctr = parts[1];
                if (check_path(x, ctr, "container path")) {
                        d.host_path = xstrdup(parts[0]);
                        d.container_path = xstrdup(ctr);
                        c->devices = xrealloc(c->devices, (c->n_devices + 1) * sizeof(DeviceSpec));
                        c->devices[c->n_devices++] = d;
                        r = 0;
                }
        }
        free_parts(parts, n);
        return r;
}

static int p_network(Ctx *x, const char *v, void *f)
{
        UnitConfig *c = x->c;
        const char *other = startswith(v, "container:");
        NetworkMode m;
        if (!*v || streq(v, "none"))
                m = NETWORK_NONE;
        else if (streq(v, "host"))
                m = NETWORK_HOST;
        else if (other) {
                if (!unit_name_is_valid(other)) {
                        value_error(x, "invalid unit name `%s`", other);
                        return -EINVAL;
                }
                if (streq(other, c->name)) {
                        value_error(x, "a unit cannot join its own network namespace");
                        return -EINVAL;
                }
                m = NETWORK_CONTAINER;
        } else if (streq(v, "bridge"))
                m = NETWORK_BRIDGE;
        else {
                value_error(x, "unknown network mode `%s` (expected none, host, bridge or container:NAME)", v);
                return -EINVAL;
        }
        free(c->network_container);
        c->network_container = m == NETWORK_CONTAINER ? xstrdup(other) : NULL;
        c->network_mode = m;
        return 0;
}

/* A list of words, each checked by check() before any is kept: appended;
 * empty resets. what names a bad word in the error. */
static int p_checked_words(Ctx *x, const char *v, char ***l, int (*check)(const char *w, const char **err),
                           const char *what)
{
        _cleanup_strv_free_ char **w = NULL;
        const char *err;

        if (!*v) {
                strv_free(*l);
                *l = NULL;
                return 0;
        }
        if (words_split(v, &w, &err) < 0) {
                value_error(x, "%s", err);
                return -EINVAL;
        }
        STRV_FOREACH(a, w)
                if (check(*a, &err) < 0) {
                        value_error(x, "invalid %s `%s`: %s", what, *a, err);
                        return -EINVAL;
                }
        STRV_FOREACH(a, w)
                strv_add(l, *a);
        return 0;
}

static int check_publish_port(const char *w, const char **err)
{
        PublishPort p;

        return publish_port_parse(w, &p, err);
}

/* PublishPort=: appended; empty resets. */
static int p_publish(Ctx *x, const char *v, void *f)
{
        return p_checked_words(x, v, f, check_publish_port, "port");
}

static bool ip_address_valid(const char *s)
{
        uint8_t buf[16];

        return inet_pton(strchr(s, ':') ? AF_INET6 : AF_INET, s, buf) == 1;
}

static int check_dns(const char *w, const char **err)
{
        *err = "expected an IP address";
        return ip_address_valid(w) ? 0 : -EINVAL;
}

static int check_dns_search(const char *w, const char **err)
{
        *err = "expected a domain name";
        return hostname_is_valid(w) ? 0 : -EINVAL;
}

static int check_add_host(const char *w, const char **err)
{
        const char *colon = strchr(w, ':');
        _cleanup_free_ char *name = colon ? xstrndup(w, (size_t)(colon - w)) : NULL;

        *err = "expected NAME:ADDRESS";
        return name && hostname_is_valid(name) && ip_address_valid(colon + 1) ? 0 : -EINVAL;
}

/* DNS=, DNSSearch=, AddHost=: appended; empty resets. */
static int p_dns(Ctx *x, const char *v, void *f)
{
        return p_checked_words(x, v, f, check_dns, "DNS server");
}

static int p_dns_search(Ctx *x, const char *v, void *f)
{
        return p_checked_words(x, v, f, check_dns_search, "search domain");
}

static int p_add_host(Ctx *x, const char *v, void *f)
{
        return p_checked_words(x, v, f, check_add_host, "host");
}

static int p_address(Ctx *x, const char *v, void *f)
{
        uint8_t a[4];

        if (*v && ipv4_parse(v, a) < 0)
                return invalid(x, "IPv4 address", v);
        free(*(char **)f);
        *(char **)f = *v ? xstrdup(v) : NULL;
        return 0;
}

static int check_listen_address(const char *w, const char **err)
{
        ListenAddress la;

        return listen_address_parse(w, &la, err);
}

/* ListenStream=, ListenDatagram=: addresses, appended; empty resets. */
static int p_listen(Ctx *x, const char *v, void *f)
{
        return p_checked_words(x, v, f, check_listen_address, "address");
}

static int p_socket_mode(Ctx *x, const char *v, void *f)
{
        mode_t m = 0666;
        if (*v && parse_umask(v, &m) < 0)
                return invalid(x, "mode (expected octal 0000-0777)", v);
        *(mode_t *)f = m;
        return 0;
}

static int p_activation(Ctx *x, const char *v, void *f)
{
        if (!*v || streq(v, "eager"))
                *(SocketActivation *)f = ACTIVATION_EAGER;
        else if (streq(v, "on-demand"))
                *(SocketActivation *)f = ACTIVATION_ON_DEMAND;
        else {
                value_error(x, "unknown activation `%s` (expected eager or on-demand)", v);
                return -EINVAL;
        }
        return 0;
}

/* As sd_listen_fds_with_names(3) splits LISTEN_FDNAMES: printable ASCII
 * without ':', 255 characters at most. */
static int p_fd_name(Ctx *x, const char *v, void *f)
{
        size_t n = strlen(v);
        if (n > 255)
                return invalid(x, "file descriptor name (255 characters at most)", v);
        for (const char *p = v; *p; p++)
                if (*p <= ' ' || *p >= 0x7f || *p == ':')
                        return invalid(x, "file descriptor name (printable, no space or ':')", v);
        return p_string(x, v, f);
}

static int p_health_target(Ctx *x, const char *v, void *f)
{
        HealthTarget t;
        const char *err;

        if (*v) {
                if (health_target_parse(v, x->key->def, &t, &err) < 0) {
                        value_error(x, "invalid %s `%s`: %s", x->key->def ? "URL" : "address", v, err);
                        return -EINVAL;
                }
                health_target_done(&t);
        }
        return p_string(x, v, f);
}

/* IntervalSec=, TimeoutSec=, StartIntervalSec=: a positive, finite duration. */
static int p_health_duration(Ctx *x, const char *v, void *f)
{
        uint64_t u = x->key->def;
        if (*v && parse_duration(v, &u) < 0)
                return invalid(x, "duration", v);
        if (u == 0 || u == USEC_INFINITY) {
                value_error(x, "`%s` must be more than 0 and finite", v);
                return -ERANGE;
        }
        *(uint64_t *)f = u;
        return 0;
}

static int p_health_retries(Ctx *x, const char *v, void *f)
{
        uint32_t u = 3;
        if (*v && parse_uint32(v, &u) < 0)
                return invalid(x, "number", v);
        if (u == 0) {
                value_error(x, "must be at least 1");
                return -ERANGE;
        }
        *(uint32_t *)f = u;
        return 0;
}

static int p_on_failure(Ctx *x, const char *v, void *f)
{
        int i = *v ? lookup(health_on_failure_table, _HEALTH_ON_FAILURE_MAX, v) : HEALTH_ON_FAILURE_RESTART;
        if (i < 0) {
                value_error(x, "unknown action `%s` (expected restart, stop or none)", v);
                return -EINVAL;
        }
        *(HealthOnFailure *)f = (HealthOnFailure)i;
        return 0;
}

static int p_log_target(Ctx *x, const char *v, void *f)
{
        LogTarget t = *v ? log_target_from_string(v) : LOG_TARGET_AUTO;
        if ((int)t < 0) {
                value_error(x, "unknown target `%s` (expected auto, journal, file or none)", v);
                return -EINVAL;
        }
        *(LogTarget *)f = t;
        return 0;
}

#define OFF(f) offsetof(UnitConfig, f)
#define CONF(f) .offset = OFF(f)

static const KeyDef key_table[] = {
        { SECTION_SOCKET, "ListenStream", true, p_listen, CONF(listen_stream) },
        { SECTION_SOCKET, "ListenDatagram", true, p_listen, CONF(listen_datagram) },
        { SECTION_SOCKET, "SocketMode", false, p_socket_mode, CONF(socket_mode) },
        { SECTION_SOCKET, "Activation", false, p_activation, CONF(activation) },
        { SECTION_SOCKET, "FileDescriptorName", false, p_fd_name, CONF(fd_name) },

        { SECTION_HEALTH, "Exec", false, p_words, CONF(health_exec), 0 },
        { SECTION_HEALTH, "HTTP", false, p_health_target, CONF(health_http), 1 },
        { SECTION_HEALTH, "TCP", false, p_health_target, CONF(health_tcp), 0 },
        { SECTION_HEALTH, "IntervalSec", false, p_health_duration, CONF(health_interval_usec), 30 * USEC_PER_SEC },
        { SECTION_HEALTH, "TimeoutSec", false, p_health_duration, CONF(health_timeout_usec), 30 * USEC_PER_SEC },
        { SECTION_HEALTH, "Retries", false, p_health_retries, CONF(health_retries) },
        { SECTION_HEALTH, "StartPeriodSec", false, p_duration, CONF(health_start_period_usec), 0 },
        { SECTION_HEALTH, "StartIntervalSec", false, p_health_duration, CONF(health_start_interval_usec), 5 * USEC_PER_SEC },
        { SECTION_HEALTH, "OnFailure", false, p_on_failure, CONF(health_on_failure) },

        { SECTION_UNIT, "Description", false, p_description, CONF(description) },
        { SECTION_UNIT, "Requires", true, p_units, CONF(requires) },
        { SECTION_UNIT, "Wants", true, p_units, CONF(wants) },
        { SECTION_UNIT, "After", true, p_units, CONF(after) },

        { SECTION_IMAGE, "Image", false, p_image, CONF(image) },
        { SECTION_IMAGE, "ReadOnly", false, p_bool, CONF(read_only), 0 },
        { SECTION_IMAGE, "Persistent", false, p_bool, CONF(persistent), 0 },
        { SECTION_IMAGE, "Pull", false, p_image_pull, CONF(image_pull), 0 },
        { SECTION_IMAGE, "AutoUpdate", false, p_auto_update, CONF(auto_update), 0 },

        { SECTION_PROCESS, "Exec", false, p_words, CONF(exec), 0 },
        { SECTION_PROCESS, "Entrypoint", false, p_words, CONF(entrypoint), 1 },
        { SECTION_PROCESS, "Environment", true, p_environment, CONF(environment) },
        { SECTION_PROCESS, "EnvironmentFile", true, p_environment_file, CONF(environment_files) },
        { SECTION_PROCESS, "WorkingDirectory", false, p_abs_path, CONF(working_directory) },
        { SECTION_PROCESS, "User", false, p_user, CONF(user) },
        { SECTION_PROCESS, "SupplementaryGroups", true, p_groups, CONF(supplementary_groups) },
        { SECTION_PROCESS, "Umask", false, p_umask, CONF(umask) },
        { SECTION_PROCESS, "Hostname", false, p_hostname, CONF(hostname) },
        { SECTION_PROCESS, "StopSignal", false, p_signal, CONF(stop_signal) },
        { SECTION_PROCESS, "StopTimeoutSec", false, p_duration, CONF(stop_timeout_usec), 10 * USEC_PER_SEC },
        { SECTION_PROCESS, "StartTimeoutSec", false, p_duration, CONF(start_timeout_usec), 90 * USEC_PER_SEC },
        { SECTION_PROCESS, "Init", false, p_bool, CONF(init), 0 },
        { SECTION_PROCESS, "Notify", false, p_bool, CONF(notify), 0 },
        { SECTION_PROCESS, "WatchdogSec", false, p_duration, CONF(watchdog_usec), 0 },
        { SECTION_PROCESS, "WatchdogSignal", false, p_signal, CONF(watchdog_signal) },
        { SECTION_PROCESS, "FileDescriptorStoreMax", false, p_fdstore_max, CONF(fdstore_max), 0 },
        { SECTION_PROCESS, "LimitNOFILE", false, p_rlimit, CONF(limits), UNIT_LIMIT_NOFILE },
        { SECTION_PROCESS, "LimitNPROC", false, p_rlimit, CONF(limits), UNIT_LIMIT_NPROC },
        { SECTION_PROCESS, "LimitCORE", false, p_rlimit, CONF(limits), UNIT_LIMIT_CORE },
        { SECTION_PROCESS, "LimitMEMLOCK", false, p_rlimit, CONF(limits), UNIT_LIMIT_MEMLOCK },
        { SECTION_PROCESS, "LimitSTACK", false, p_rlimit, CONF(limits), UNIT_LIMIT_STACK },

        { SECTION_RESTART, "Policy", false, p_policy, CONF(restart) },
        { SECTION_RESTART, "SuccessExitStatus", true, p_success_status, CONF(success_status) },
        { SECTION_RESTART, "DelaySec", false, p_duration, CONF(restart_delay_usec), 100 * USEC_PER_MSEC },
        { SECTION_RESTART, "MaxDelaySec", false, p_duration, CONF(restart_max_delay_usec), 60 * USEC_PER_SEC },
        { SECTION_RESTART, "ResetAfterSec", false, p_duration, CONF(restart_reset_after_usec), 10 * USEC_PER_SEC },
        { SECTION_RESTART, "MaxRestarts", false, p_uint32, CONF(max_restarts), 0 },

        { SECTION_RESOURCES, "MemoryMax", false, p_size, CONF(memory_max), UNIT_UNSET },
        { SECTION_RESOURCES, "MemoryHigh", false, p_size, CONF(memory_high), UNIT_UNSET },
        { SECTION_RESOURCES, "MemorySwapMax", false, p_size, CONF(memory_swap_max), UNIT_UNSET },
        { SECTION_RESOURCES, "CPUQuota", false, p_percent, CONF(cpu_quota) },
        { SECTION_RESOURCES, "CPUWeight", false, p_weight, CONF(cpu_weight) },
        { SECTION_RESOURCES, "CPUSet", false, p_cpuset, CONF(cpuset) },
        { SECTION_RESOURCES, "PidsMax", false, p_pids, CONF(pids_max) },
        { SECTION_RESOURCES, "IOWeight", false, p_weight, CONF(io_weight) },
        { SECTION_RESOURCES, "OOMScoreAdjust", false, p_oom_score, CONF(oom_score_adjust) },

        { SECTION_SECURITY, "Capabilities", true, p_caps, CONF(capabilities), 1 },
        { SECTION_SECURITY, "AddCapabilities", true, p_caps, CONF(add_capabilities), 0 },
        { SECTION_SECURITY, "DropCapabilities", true, p_caps, CONF(drop_capabilities), 0 },
        { SECTION_SECURITY, "AmbientCapabilities", true, p_caps, CONF(ambient_capabilities), 0 },
        { SECTION_SECURITY, "NoNewPrivileges", false, p_bool, CONF(no_new_privileges), 1 },
        { SECTION_SECURITY, "Seccomp", false, p_seccomp, CONF(seccomp) },
        { SECTION_SECURITY, "ReadOnlyPaths", true, p_paths, CONF(read_only_paths) },
        { SECTION_SECURITY, "MaskedPaths", true, p_paths, CONF(masked_paths) },
        { SECTION_SECURITY, "Devices", true, p_device, CONF(devices) },
        { SECTION_SECURITY, "Privileged", false, p_bool, CONF(privileged), 0 },
        { SECTION_SECURITY, "UserNamespace", false, p_userns, CONF(userns) },

        { SECTION_MOUNTS, "Bind", true, p_bind, CONF(binds) },
        { SECTION_MOUNTS, "Tmpfs", true, p_tmpfs, CONF(tmpfs) },
        { SECTION_MOUNTS, "Volume", true, p_volume, CONF(volumes) },

        { SECTION_NETWORK, "Mode", false, p_network, CONF(network_mode) },
        { SECTION_NETWORK, "PublishPort", true, p_publish, CONF(publish_ports) },
        { SECTION_NETWORK, "Address", false, p_address, CONF(address) },
        { SECTION_NETWORK, "DNS", true, p_dns, CONF(dns) },
        { SECTION_NETWORK, "DNSSearch", true, p_dns_search, CONF(dns_search) },
        { SECTION_NETWORK, "AddHost", true, p_add_host, CONF(add_hosts) },

        { SECTION_LOG, "Target", false, p_log_target, CONF(log_target) },
        { SECTION_LOG, "MaxFileSize", false, p_size, CONF(log_max_file_size), 1024 * 1024 },
        { SECTION_LOG, "MaxFiles", false, p_uint32, CONF(log_max_files), 3 },
};

#define N_KEYS ELEMENTSOF(key_table)

static int section_from_string(const char *s)
{
        return lookup(section_table, _SECTION_MAX, s);
}

static bool is_extension(const char *s)
{
        return startswith(s, "X-") != NULL;
}

static void on_section(void *userdata, unsigned line, const char *name)
{
        Ctx *x = userdata;
        x->unknown_section = false;
        if (is_extension(name))
                return;
        int s = section_from_string(name);
        if (s < 0) {
                x->unknown_section = true;
                if (strv_contains((char **)later_sections, name))
                        add_error_at(x, line, "section [%s] is not supported yet", name);
                else
                        add_error_at(x, line, "unknown section [%s]", name);
                return;
        }
        if (!x->sections[s].seen) {
                x->sections[s].seen = true;
                x->sections[s].file = x->file;
                x->sections[s].line = line;
        }
}

/* %n is the unit name, %i its instance (after '@', empty outside templates),
 * %p the part before '@', %% a percent sign; any other % stays as it is. */
static char *expand_specifiers(const char *v, const char *name)
{
        size_t cap = strlen(v) + 1, n = 0;
        char *r = xmalloc(cap);
        _cleanup_free_ char *prefix = NULL;
        for (const char *p = v; *p; p++) {
                const char *ins = NULL;
                char one[2] = { *p, 0 };
                if (p[0] == '%' && p[1] == 'n') {
                        ins = name;
                        p++;
                } else if (p[0] == '%' && p[1] == 'i') {
                        ins = unit_name_instance(name);
                        p++;
                } else if (p[0] == '%' && p[1] == 'p') {
                        if (!prefix)
                                prefix = unit_name_prefix(name);
                        ins = prefix;
                        p++;
                } else if (p[0] == '%' && p[1] == '%') {
                        ins = "%";
                        p++;
                } else
                        ins = one;
                size_t l = strlen(ins);
                if (n + l + 1 > cap) {
                        cap = (n + l + 1) * 2;
                        r = xrealloc(r, cap);
                }
                memcpy(r + n, ins, l);
                n += l;
        }
        r[n] = 0;
        return r;
}

static void on_assignment(void *userdata, unsigned line, const char *section, const char *key,
                          const char *value)
{
        Ctx *x = userdata;
        if (x->unknown_section || is_extension(section) || is_extension(key))
                return;
        int s = section_from_string(section);
        const KeyDef *k = NULL;
        for (size_t i = 0; i < N_KEYS; i++)
                if ((int)key_table[i].section == s && streq(key_table[i].name, key)) {
                        k = &key_table[i];
                        break;
                }
        if (!k) {
                _cleanup_free_ char *full = xasprintf("%s.%s", section, key);
                if (strv_contains((char **)later_keys, full))
                        add_error_at(x, line, "key `%s` in section [%s] is not supported yet", key, section);
                else
                        add_error_at(x, line, "unknown key `%s` in section [%s]", key, section);
                return;
        }

        _cleanup_free_ char *v = expand_specifiers(value, x->c->name);
        x->assigned[k - key_table] = *v != 0;
        x->last[k - key_table].file = x->file;
        x->last[k - key_table].line = line;
        x->line = line;
        x->key = k;
        (void)k->parse(x, v, (char *)x->c + k->offset);

        /* Record the effective values for the configuration hash. */
        char ***eff = &x->effective[k - key_table];
        if (!*v || !k->list) {
                strv_free(*eff);
                *eff = NULL;
        }
        if (*v || !k->list)
                strv_add(eff, v);
}

static void on_error(void *userdata, unsigned line, const char *msg)
{
        add_error_at(userdata, line, "%s", msg);
}

static const IniCallbacks callbacks = {
        .section = on_section,
        .assignment = on_assignment,
        .error = on_error,
};

/* Where to report a missing key of a section: its header, or line 1 of the
 * main file when the section is missing too. */
static void missing(Ctx *x, Section s, const char *fmt, ...) _printf_(3, 4);
static void missing(Ctx *x, Section s, const char *fmt, ...)
{
        va_list ap;
        char *m;
        va_start(ap, fmt);
        m = xvasprintf(fmt, ap);
        va_end(ap);
        x->file = x->sections[s].seen ? x->sections[s].file : 0;
        add_error_at(x, x->sections[s].seen ? x->sections[s].line : 1, "%s", m);
        free(m);
}

static bool key_assigned(Ctx *x, Section s, const char *name)
{
        for (size_t i = 0; i < N_KEYS; i++)
                if (key_table[i].section == s && streq(key_table[i].name, name))
                        return x->assigned[i];
        return false;
}

static size_t key_index(Section s, const char *name)
{
        for (size_t i = 0; i < N_KEYS; i++)
                if (key_table[i].section == s && streq(key_table[i].name, name))
                        return i;
        abort();
}

/* AmbientCapabilities= must lie within the set the container gets: a
 * capability outside the bounding set could never be raised. Reported at
 * its last assignment, one error per capability. */
static void check_ambient(Ctx *x)
{
        UnitConfig *c = x->c;
        uint64_t outside = c->ambient_capabilities & ~unit_effective_capabilities(c);
        size_t k = key_index(SECTION_SECURITY, "AmbientCapabilities");

        if (!outside)
                return;
        x->file = x->last[k].file;
        for (int i = 0; i < 64; i++)
                if (outside & (UINT64_C(1) << i)) {
                        const char *n = capability_to_string(i);
                        char num[32];
                        if (!n) {
                                snprintf(num, sizeof(num), "capability %d", i);
                                n = num;
                        }
                        add_error_at(x, x->last[k].line,
                                     "AmbientCapabilities=: %s is not in the container's capability set "
                                     "(the default set, or Capabilities=, with AddCapabilities= and DropCapabilities=)",
                                     n);
                }
}

static void check_config(Ctx *x)
{
        UnitConfig *c = x->c;
        check_ambient(x);
        /* A key whose value was wrong has its error already: no "missing" too. */
        if (!c->image) {
                if (!key_assigned(x, SECTION_IMAGE, "Image"))
                        missing(x, SECTION_IMAGE, "missing required key Image= in section [Image]");
        } else if (c->image_kind == IMAGE_DIRECTORY && !c->exec && !key_assigned(x, SECTION_PROCESS, "Exec"))
                missing(x, SECTION_PROCESS, "a directory image needs Exec= in section [Process]");

        if (c->watchdog_usec > 0 && c->watchdog_usec != USEC_INFINITY && !c->notify)
                missing(x, SECTION_PROCESS, "WatchdogSec= needs Notify=yes in section [Process]: "
                        "the container reports with WATCHDOG=1");

        if (c->fdstore_max > 0 && !c->notify)
                missing(x, SECTION_PROCESS, "FileDescriptorStoreMax= needs Notify=yes in section [Process]: "
                        "the container stores fds with FDSTORE=1");

        if (c->network_mode != NETWORK_BRIDGE && (c->publish_ports || c->address || c->dns ||
                                                  c->dns_search || c->add_hosts))
                missing(x, SECTION_NETWORK, "%s needs Mode=bridge in section [Network]",
                        c->publish_ports ? "PublishPort=" : c->address ? "Address=" : c->dns ? "DNS=" :
                        c->dns_search ? "DNSSearch=" : "AddHost=");
        if (c->publish_ports) {
                size_t n = strv_length(c->publish_ports);
                _cleanup_free_ PublishPort *pp = xcalloc(n, sizeof(PublishPort));
                const char *err;
                for (size_t i = 0; i < n; i++) {
                        (void)publish_port_parse(c->publish_ports[i], &pp[i], &err);
                        for (size_t j = 0; j < i; j++)
                                if (publish_port_overlap(&pp[i], &pp[j]))
                                        missing(x, SECTION_NETWORK, "PublishPort=%s: host port %u is published twice",
                                                c->publish_ports[i], pp[i].host_port > pp[j].host_port ? pp[i].host_port : pp[j].host_port);
                }
        }
        if (unit_listen_count(c) > 64)
                missing(x, SECTION_SOCKET, "[Socket]: %zu sockets, at most 64", unit_listen_count(c));
        if (c->activation == ACTIVATION_ON_DEMAND && unit_listen_count(c) == 0)
                missing(x, SECTION_SOCKET, "Activation=on-demand needs ListenStream= or ListenDatagram= in section [Socket]");

        c->health = x->sections[SECTION_HEALTH].seen;
        c->health_set = (key_assigned(x, SECTION_HEALTH, "IntervalSec") ? UNIT_HEALTH_INTERVAL_SET : 0) |
                        (key_assigned(x, SECTION_HEALTH, "TimeoutSec") ? UNIT_HEALTH_TIMEOUT_SET : 0) |
                        (key_assigned(x, SECTION_HEALTH, "StartPeriodSec") ? UNIT_HEALTH_START_PERIOD_SET : 0) |
                        (key_assigned(x, SECTION_HEALTH, "Retries") ? UNIT_HEALTH_RETRIES_SET : 0);
        if (!!c->health_exec + !!c->health_http + !!c->health_tcp > 1)
                missing(x, SECTION_HEALTH, "[Health]: Exec=, HTTP= and TCP= exclude each other; give one");
        if (c->health_start_period_usec == USEC_INFINITY)
                missing(x, SECTION_HEALTH, "StartPeriodSec= must be finite in section [Health]");

        if (c->userns != USERNS_NO && c->privileged)
                missing(x, SECTION_SECURITY, "UserNamespace= and Privileged=yes exclude each other in section [Security]");
        for (size_t i = 0; i < c->n_binds; i++)
                if (c->binds[i].idmap && c->userns == USERNS_NO)
                        missing(x, SECTION_MOUNTS, "Bind=%s:%s: idmap needs UserNamespace= in section [Security]",
                                c->binds[i].source, c->binds[i].destination);

        /* Requires= and Wants= imply After=. */
        STRV_FOREACH(n, c->requires)
                if (!strv_contains(c->after, *n))
                        strv_add(&c->after, *n);
        STRV_FOREACH(n, c->wants)
                if (!strv_contains(c->after, *n))
                        strv_add(&c->after, *n);
}

/* FNV-1a over the effective values of every key, in table order: comments,
 * formatting and overridden assignments do not change it. */
static uint64_t config_hash(Ctx *x)
{
        uint64_t h = UINT64_C(0xcbf29ce484222325);
#define MIX(p, l)                                                   \
        for (size_t _i = 0; _i < (l); _i++) {                       \
                h ^= ((const unsigned char *)(p))[_i];              \
                h *= UINT64_C(0x100000001b3);                       \
        }
        MIX(x->c->name, strlen(x->c->name) + 1);
        for (size_t i = 0; i < N_KEYS; i++) {
                if (!x->effective[i])
                        continue;
                MIX(section_table[key_table[i].section], strlen(section_table[key_table[i].section]) + 1);
                MIX(key_table[i].name, strlen(key_table[i].name) + 1);
                STRV_FOREACH(v, x->effective[i])
                        MIX(*v, strlen(*v) + 1);
                MIX("\1", 1);
        }
#undef MIX
        return h;
}

static int cmp_error(const void *a, const void *b)
{
        const Error *x = a, *y = b;
        if (x->file != y->file)
                return x->file < y->file ? -1 : 1;
        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the errors by file and line (the order of report breaks ties) and
 * formats them as "FILE:LINE: message". */
static char **format_errors(Ctx *x, char *const *paths)
{
        if (x->n_errors > 1)
                qsort(x->errors, x->n_errors, sizeof(Error), cmp_error);
        char **r = NULL;
        for (size_t i = 0; i < x->n_errors; i++) {
                Error *e = &x->errors[i];
                if (e->line == 0)
                        strv_addf(&r, "%s: %s", paths[e->file], e->msg);
                else
                        strv_addf(&r, "%s:%u: %s", paths[e->file], e->line, e->msg);
                free(e->msg);
        }
        free(x->errors);
        x->errors = NULL;
        x->n_errors = 0;
        return r;
}

int unit_parse_texts(const char *name, char *const *paths, char *const *texts,
                     UnitConfig **ret, char ***ret_errors)
{
        Ctx x = {
                .c = unit_config_new(name),
                .effective = xcalloc(N_KEYS, sizeof(char **)),
                .assigned = xcalloc(N_KEYS, sizeof(bool)),
        };
        x.last = xcalloc(N_KEYS, sizeof(*x.last));
        for (size_t i = 0; paths[i] && texts[i]; i++) {
                x.file = (unsigned)i;
                x.unknown_section = false;
                (void)ini_read(texts[i], strlen(texts[i]), &callbacks, &x);
        }
        check_config(&x);
        x.c->hash = config_hash(&x);
        for (size_t i = 0; i < N_KEYS; i++)
                strv_free(x.effective[i]);
        free(x.effective);
        free(x.assigned);
        free(x.last);

        bool bad = x.n_errors > 0;
        char **errors = format_errors(&x, paths);
        *ret = x.c;
        if (ret_errors)
                *ret_errors = errors;
        else
                strv_free(errors);
        return bad ? -EINVAL : 0;
}

/* ------------------------------------------------------------------ loading */

static bool is_masked(const char *path)
{
        struct stat st;
        if (lstat(path, &st) < 0 || !S_ISLNK(st.st_mode))
                return false;
        _cleanup_free_ char *target = realpath(path, NULL);
        return target && streq(target, "/dev/null");
}

static const char *base_name(const char *p)
{
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

static bool has_suffix(const char *s, const char *suffix)
{
        size_t l = strlen(s), sl = strlen(suffix);
        return l >= sl && streq(s + l - sl, suffix);
}

/* The unit name of a file name "NAME.unit", or NULL. */
static char *unit_name_from_file(const char *file)
{
        if (!has_suffix(file, ".unit"))
                return NULL;
        char *n = xstrndup(file, strlen(file) - 5);
        if (!unit_name_is_valid(n)) {
                free(n);
                return NULL;
        }
        return n;
}

/* Reads a unit file or drop-in that only root could have written (trust.h). */
static int read_unit_file(const char *path, char **ret, size_t *ret_size, char **ret_why)
{
        _cleanup_close_ int fd = open_trusted(path, false, ret_why);
        if (fd < 0)
                return fd;
        return read_full_fd(fd, UNIT_FILE_MAX, ret, ret_size);
}

/* Reads each file; a file that cannot be read becomes an error line. */
static int load_texts(const char *name, char *const *paths, UnitConfig **ret, char ***ret_errors)
{
        size_t n = strv_length(paths);
        char **texts = xcalloc(n + 1, sizeof(char *));
        _cleanup_strv_free_ char **read_errors = NULL;
        for (size_t i = 0; i < n; i++) {
                size_t size = 0;
                _cleanup_free_ char *why = NULL;
                int k = read_unit_file(paths[i], &texts[i], &size, &why);
                if (k == -EPERM && why)
                        strv_addf(&read_errors, "%s: untrusted: %s", paths[i], why);
                else if (k == 0 && strlen(texts[i]) != size) {
                        /* Text after a NUL would be silently lost. */
                        strv_addf(&read_errors, "%s: file contains a NUL byte", paths[i]);
                        free(texts[i]);
                        k = -EINVAL;
                } else if (k == -EFBIG)
                        strv_addf(&read_errors, "%s: file is larger than %d bytes", paths[i], UNIT_FILE_MAX);
                else if (k < 0)
                        strv_addf(&read_errors, "%s: cannot read: %s", paths[i],
                                  why ? why : strerror(-k));
                if (k < 0)
                        texts[i] = xstrdup("");
        }
        char **errors = NULL;
        int r = unit_parse_texts(name, paths, texts, ret, &errors);
        for (size_t i = 0; i < n; i++)
                free(texts[i]);
        free(texts);
        if (read_errors) {
                /* Without its text the rest of what we say about a file is noise. */
                strv_free(errors);
                errors = TAKE_PTR(read_errors);
                r = -EINVAL;
        }
        (*ret)->fragment_path = xstrdup(paths[0]);
        (*ret)->dropin_paths = n > 1 ? strv_copy(paths + 1) : NULL;
        if (ret_errors)
                *ret_errors = errors;
        else
                strv_free(errors);
        return r;
}

/* Opens a directory of units or drop-ins that only root could have changed
 * (trust.h). NULL for a missing one, silently; NULL with "DIR: ..." added to
 * *errors for one that is not trusted or cannot be read. */
static DIR *open_unit_dir(const char *dir, char ***errors)
{
        _cleanup_free_ char *why = NULL;
        struct stat st;
        /* Most units have no drop-ins: no word about the directory above. */
        if (stat(dir, &st) < 0 && (errno == ENOENT || errno == ENOTDIR))
                return NULL;
        int fd = open_trusted(dir, true, &why);
        if (fd == -ENOENT || fd == -ENOTDIR)
                return NULL;
        if (fd < 0) {
                if (fd == -EPERM && why)
                        strv_addf(errors, "%s: untrusted: %s", dir, why);
                else
                        strv_addf(errors, "%s: cannot read: %s", dir, why ? why : strerror(-fd));
                return NULL;
        }
        DIR *d = fdopendir(fd);
        if (!d) {
                strv_addf(errors, "%s: cannot read: %s", dir, strerror(errno));
                safe_close(fd);
        }
        return d;
}

/* The *.conf files of dir, sorted, masked ones (symlinks to /dev/null)
 * included. A drop-in directory that is not trusted makes the unit bad: it
 * could have lost a drop-in that mattered. */
static char **list_dropins(const char *dir, char ***errors)
{
        DIR *d = open_unit_dir(dir, errors);
        if (!d)
                return NULL;
        char **r = NULL;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && has_suffix(de->d_name, ".conf"))
                        strv_push(&r, path_join(dir, de->d_name));
        closedir(d);
        strv_sort(r);
        return r;
}

int unit_load_file(const char *path, UnitConfig **ret, char ***ret_errors)
{
        _cleanup_free_ char *name = unit_name_from_file(base_name(path));
        char **errors = NULL;
        if (!name) {
                strv_addf(&errors, "%s: invalid unit file name: expected NAME.unit, NAME of 1-64 characters [A-Za-z0-9_.@-] starting with a letter or digit", path);
                name = xstrdup("invalid");
        } else if (is_masked(path))
                strv_addf(&errors, "%s: unit is masked (a symlink to /dev/null)", path);

        char **paths = NULL;
        strv_add(&paths, path);
        if (name && unit_name_is_template(name)) {
                /* A template is checked as one of its instances would run. */
                char *sample = xasprintf("%s%s", name, UNIT_TEMPLATE_SAMPLE_INSTANCE);
                free(name);
                name = sample;
        }
        _cleanup_free_ char *template = name ? unit_name_template(name) : NULL;
        struct stat st;
        if (template && !unit_name_is_template(name) && lstat(path, &st) == 0 &&
            S_ISREG(st.st_mode) && st.st_size == 0) {
                /* An empty instance file runs the template next to it. */
                _cleanup_free_ char *dir = xstrndup(path, (size_t)(base_name(path) - path));
                char *tpath = xasprintf("%s%s.unit", dir, template);
                free(paths[0]);
                paths[0] = tpath;
                _cleanup_free_ char *tdir = xasprintf("%s.d", tpath);
                _cleanup_strv_free_ char **tdropins = list_dropins(tdir, &errors);
                STRV_FOREACH(d, tdropins)
                        if (!is_masked(*d))
                                strv_add(&paths, *d);
        }
        _cleanup_free_ char *ddir = xasprintf("%s.d", path);
        _cleanup_strv_free_ char **dropins = list_dropins(ddir, &errors);
        STRV_FOREACH(d, dropins)
                if (!is_masked(*d))
                        strv_add(&paths, *d);

        char **more = NULL;
        int r = load_texts(name, paths, ret, &more);
        strv_free(paths);
        if (errors) {
                STRV_FOREACH(m, more)
                        strv_add(&errors, *m);
                strv_free(more);
                r = -EINVAL;
        } else
                errors = more;
        if (ret_errors)
                *ret_errors = errors;
        else
                strv_free(errors);
        return r;
}

void unit_entry_done(UnitEntry *e)
{
        free(e->name);
        free(e->fragment_path);
        strv_free(e->dropin_paths);
        strv_free(e->errors);
        *e = (UnitEntry){};
}

void unit_entries_free(UnitEntry *e, size_t n)
{
        for (size_t i = 0; i < n; i++)
                unit_entry_done(&e[i]);
        free(e);
}

typedef struct Found {
        UnitEntry *v;
        size_t n;
        bool *has_main; /* a main file (or mask) was seen for v[i] */
} Found;

static UnitEntry *found_get(Found *f, const char *name, bool *main_seen)
{
        for (size_t i = 0; i < f->n; i++)
                if (streq(f->v[i].name, name)) {
                        *main_seen = f->has_main[i];
                        return &f->v[i];
                }
        f->v = xrealloc(f->v, (f->n + 1) * sizeof(UnitEntry));
        f->has_main = xrealloc(f->has_main, (f->n + 1) * sizeof(bool));
        f->v[f->n] = (UnitEntry){ .name = xstrdup(name) };
        f->has_main[f->n] = false;
        *main_seen = false;
        return &f->v[f->n++];
}

static void found_dropins(Found *f, const char *name, const char *ddir)
{
        bool main_seen;
        UnitEntry *e = found_get(f, name, &main_seen);
        _cleanup_strv_free_ char **confs = list_dropins(ddir, &e->errors);
        STRV_FOREACH(c, confs) {
                bool shadowed = false;
                STRV_FOREACH(have, e->dropin_paths)
                        if (streq(base_name(*have), base_name(*c)))
                                shadowed = true;
                if (!shadowed)
                        strv_add(&e->dropin_paths, *c);
        }
}

static int cmp_entry(const void *a, const void *b)
{
        return strcmp(((const UnitEntry *)a)->name, ((const UnitEntry *)b)->name);
}

static int cmp_base(const void *a, const void *b)
{
        return strcmp(base_name(*(char *const *)a), base_name(*(char *const *)b));
}

/* Why a directory entry that is neither NAME.unit nor NAME.unit.d with a
 * valid NAME is skipped, or NULL when it is skipped silently (hidden files:
 * editors' and package managers' leftovers). */
static char *skip_reason(const char *dir, const char *file)
{
        const char *what;
        size_t l;

        if (file[0] == '.')
                return NULL;
        if (has_suffix(file, ".unit")) {
                what = "unit file";
                l = strlen(file) - strlen(".unit");
        } else if (has_suffix(file, ".unit.d")) {
                what = "drop-in directory";
                l = strlen(file) - strlen(".unit.d");
        } else
                return xasprintf("%s/%s: skipped: not a unit file (NAME.unit) or drop-in "
                                 "directory (NAME.unit.d)", dir, file);
        return xasprintf("%s/%s: %s skipped: invalid unit name `%.*s`: expected 1-64 "
                         "characters [A-Za-z0-9_.@-] starting with a letter or digit",
                         dir, file, what, (int)l, file);
}

/* Opens a directory of the search path. One that is not trusted is still
 * listed, with a note: its units are found, and refused when loaded. */
static DIR *open_search_dir(const char *dir, char ***notes)
{
        char **errors = NULL;
        DIR *d = open_unit_dir(dir, &errors);
        if (errors) {
                STRV_FOREACH(e, errors)
                        strv_addf(notes, "%s; every unit in it is refused", *e);
                strv_free(errors);
                if (!d)
                        d = opendir(dir);
        }
        return d;
}

int unit_path_enumerate(char *const *dirs, UnitEntry **ret, size_t *ret_n, char ***ret_skipped)
{
        Found f = {};
        char **notes = NULL;
        STRV_FOREACH(dir, dirs) {
                DIR *d = open_search_dir(*dir, &notes);
                if (!d)
                        continue;
                struct dirent *de;
                while ((de = readdir(d))) {
                        if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                                continue;
                        _cleanup_free_ char *path = path_join(*dir, de->d_name);
                        _cleanup_free_ char *name = unit_name_from_file(de->d_name);
                        if (name) {
                                bool main_seen;
                                UnitEntry *e = found_get(&f, name, &main_seen);
                                if (main_seen)
                                        continue;
                                f.has_main[e - f.v] = true;
                                if (is_masked(path))
                                        e->masked = true;
                                else
                                        e->fragment_path = TAKE_PTR(path);
                                continue;
                        }
                        if (has_suffix(de->d_name, ".unit.d")) {
                                _cleanup_free_ char *n = xstrndup(de->d_name, strlen(de->d_name) - 2);
                                _cleanup_free_ char *un = unit_name_from_file(n);
                                if (un) {
                                        found_dropins(&f, un, path);
                                        continue;
                                }
                        }
                        char *why = skip_reason(*dir, de->d_name);
                        if (why)
                                strv_push(&notes, why);
                }
                closedir(d);
        }
        if (ret_skipped)
                *ret_skipped = notes;
        else
                strv_free(notes);

        /* Drop-ins without a main file make no unit; masked drop-ins only shadow. */
        size_t m = 0;
        for (size_t i = 0; i < f.n; i++) {
                UnitEntry *e = &f.v[i];
                if (!f.has_main[i]) {
                        unit_entry_done(e);
                        continue;
                }
                char **kept = NULL;
                STRV_FOREACH(p, e->dropin_paths)
                        if (!is_masked(*p))
                                strv_add(&kept, *p);
                strv_free(e->dropin_paths);
                e->dropin_paths = kept;
                if (kept)
                        qsort(kept, strv_length(kept), sizeof(char *), cmp_base);
                if (e->masked) {
                        strv_free(e->dropin_paths);
                        e->dropin_paths = NULL;
                }
                f.v[m++] = *e;
        }
        free(f.has_main);
        unit_entries_resolve_templates(f.v, &m);
        if (m > 1)
                qsort(f.v, m, sizeof(UnitEntry), cmp_entry);
        if (m == 0) {
                free(f.v);
                f.v = NULL;
        }
        *ret = f.v;
        *ret_n = m;
        return 0;
}

int unit_load_entry(const UnitEntry *e, UnitConfig **ret, char ***ret_errors)
{
        if (e->masked || !e->fragment_path)
                return -ESHUTDOWN;
        char **paths = NULL;
        strv_add(&paths, e->fragment_path);
        STRV_FOREACH(d, e->dropin_paths)
                strv_add(&paths, *d);
        char **errors = NULL;
        int r = load_texts(e->name, paths, ret, &errors);
        strv_free(paths);
        if (e->no_template) {
                /* The empty instance file says nothing but "run the template". */
                strv_free(errors);
                errors = NULL;
        }
        if (e->errors) {
                /* What the scan found first: an untrusted drop-in directory. */
                char **all = strv_copy(e->errors);
                STRV_FOREACH(m, errors)
                        strv_add(&all, *m);
                strv_free(errors);
                errors = all;
                r = -EINVAL;
        }
        if (ret_errors)
                *ret_errors = errors;
        else
                strv_free(errors);
        return r;
}
