/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The typed configuration of one unit (UNITS.md) and its loading: search
 * path precedence, masking, drop-ins, every error as "FILE:LINE: message",
 * and a stable hash of the effective configuration for reload diffs.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "parse.h"

/* Lines longer than this many bytes (without the newline) are an error. */
#define UNIT_LINE_MAX 4096
/* Unit files and drop-ins larger than this are refused. */
#define UNIT_FILE_MAX (1024 * 1024)
/* Marker for numeric settings that were not given. */
#define UNIT_UNSET (UINT64_MAX - 1)

typedef enum ImageKind {
        IMAGE_DIRECTORY,     /* an absolute path to a root filesystem */
        IMAGE_STORE,         /* NAME[:TAG] or NAME@sha256:HEX */
        IMAGE_OCI,           /* oci:PATH[:TAG] */
        IMAGE_OCI_ARCHIVE,   /* oci-archive:PATH[:TAG] */
        IMAGE_DOCKER_ARCHIVE,/* docker-archive:PATH */
        _IMAGE_KIND_MAX,
} ImageKind;

typedef enum ImagePull {
        IMAGE_PULL_MISSING,  /* pull when the store lacks it (default) */
        IMAGE_PULL_ALWAYS,   /* ask the registry at every start */
        IMAGE_PULL_NEVER,
} ImagePull;

typedef enum RestartPolicy {
        RESTART_NO,
        RESTART_ON_FAILURE,
        RESTART_ON_ABNORMAL,
        RESTART_ALWAYS,
        _RESTART_POLICY_MAX,
} RestartPolicy;

typedef enum SocketActivation {
        ACTIVATION_EAGER,     /* the container starts as usual */
        ACTIVATION_ON_DEMAND, /* at the first connection or datagram */
} SocketActivation;

typedef enum HealthOnFailure {
        HEALTH_ON_FAILURE_RESTART, /* stop; a failure for [Restart] */
        HEALTH_ON_FAILURE_STOP,    /* stop, failed, no restart */
        HEALTH_ON_FAILURE_NONE,    /* only reported */
        _HEALTH_ON_FAILURE_MAX,
} HealthOnFailure;

/* Where HTTP= and TCP= connect: an IP literal, a port, a path (HTTP=). */
typedef struct HealthTarget {
        int family;        /* AF_INET or AF_INET6 */
        uint8_t addr[16];  /* network byte order; 4 bytes for AF_INET */
        uint16_t port;
        char *host;        /* as written (the Host: header); "127.0.0.1" by default */
        char *path;        /* HTTP=: starts with '/'; NULL for TCP= */
} HealthTarget;

void health_target_done(HealthTarget *t);
/* Parses an HTTP= ([http://]HOST:PORT[/PATH]) or TCP= ([HOST:]PORT) value;
 * HOST is an IPv4 address, [IPv6] or localhost (no name is resolved).
 * -EINVAL with *ret_error (static) on a bad value. */
int health_target_parse(const char *s, bool http, HealthTarget *ret, const char **ret_error);

enum {
        UNIT_HEALTH_INTERVAL_SET = 1 << 0,
        UNIT_HEALTH_TIMEOUT_SET = 1 << 1,
        UNIT_HEALTH_START_PERIOD_SET = 1 << 2,
        UNIT_HEALTH_RETRIES_SET = 1 << 3,
};

typedef enum NetworkMode {
        NETWORK_NONE,
        NETWORK_HOST,
        NETWORK_CONTAINER,
        NETWORK_BRIDGE,
        _NETWORK_MODE_MAX,
} NetworkMode;

typedef enum SeccompMode {
        SECCOMP_MODE_DEFAULT,
        SECCOMP_MODE_UNCONFINED,
        SECCOMP_MODE_PROFILE,
        _SECCOMP_MODE_MAX,
} SeccompMode;

typedef enum LogTarget {
        LOG_TARGET_AUTO,
        LOG_TARGET_JOURNAL,
        LOG_TARGET_FILE,
        LOG_TARGET_NONE,
        _LOG_TARGET_MAX,
} LogTarget;

typedef enum UnitLimit {
        UNIT_LIMIT_NOFILE,
        UNIT_LIMIT_NPROC,
        UNIT_LIMIT_CORE,
        UNIT_LIMIT_MEMLOCK,
        UNIT_LIMIT_STACK,
        _UNIT_LIMIT_MAX,
} UnitLimit;

typedef struct RlimitSpec {
        bool set;
        uint64_t soft, hard; /* UINT64_MAX = infinity */
} RlimitSpec;

typedef enum UserNamespaceMode {
        USERNS_NO,
        USERNS_AUTO,
        USERNS_RANGE,
} UserNamespaceMode;

/* The IDs UserNamespace=auto gives a unit. */
#define USERNS_AUTO_COUNT 65536

typedef struct BindMount {
        char *source;      /* host path, absolute, without the '-' */
        char *destination; /* container path, absolute */
        bool read_only;
        bool idmap;        /* :idmap, with UserNamespace=: host IDs appear as the container's */
        bool optional;     /* '-' prefix: a missing source is skipped */
} BindMount;

typedef struct TmpfsMount {
        char *destination;
        uint64_t size;     /* bytes; 0 = unset (ccsupd's default, see SpawnOptions) */
        mode_t mode;       /* default 01777 */
} TmpfsMount;

typedef struct VolumeMount {
        char *name;        /* [A-Za-z0-9][A-Za-z0-9_.-]*, under STATE_DIR/volumes */
        char *destination;
        bool read_only;
} VolumeMount;

typedef struct DeviceSpec {
        char *host_path;      /* absolute */
        char *container_path; /* absolute; same as host_path unless given */
        bool read, write, mknod; /* "rwm"; all three when not given */
} DeviceSpec;

/* The largest FileDescriptorStoreMax=: with 64 [Socket] fds, the container
 * starts with them all below its default soft LimitNOFILE= of 1024, and
 * lib/spawn.c can place them (it moves them above their targets first). */
#define UNIT_FDSTORE_MAX 256

typedef struct UnitConfig {
        char *name;            /* without ".unit" */

        /* [Unit] */
        char *description;
        char **requires, **wants, **after; /* after includes requires and wants */

        /* [Image] */
        char *image;           /* the value as written */
        ImageKind image_kind;
        char *image_path;      /* directory / layout / archive path; NULL for store */
        char *image_ref;       /* tag, NAME[:TAG] or NAME@sha256:HEX; may be NULL */
        bool read_only;
        bool persistent;
        ImagePull image_pull;  /* Pull=, for registry images (HOST/REPO… refs) */
        bool auto_update;      /* AutoUpdate=registry */

        /* [Process] */
        char **exec;           /* NULL = not given */
        char **entrypoint;     /* NULL = image's; non-NULL empty vector = cleared */
        char **environment;    /* KEY=VALUE */
        char **environment_files; /* may start with '-' */
        char *working_directory;
        char *user, *group;    /* as written; NULL = image's default */
        char **supplementary_groups;
        mode_t umask;
        char *hostname;        /* NULL = the unit name */
        int stop_signal;       /* 0 = the image's, else SIGTERM */
        uint64_t stop_timeout_usec;
        uint64_t start_timeout_usec;
        bool init;
        bool notify;               /* readiness over NOTIFY_SOCKET (UNITS.md, Readiness) */
        uint64_t watchdog_usec;    /* 0 or USEC_INFINITY: none */
        int watchdog_signal;       /* 0 = SIGABRT */
        uint32_t fdstore_max;      /* FileDescriptorStoreMax=, 0..UNIT_FDSTORE_MAX */
        RlimitSpec limits[_UNIT_LIMIT_MAX];

        /* [Restart] */
        RestartPolicy restart;
        uint8_t success_status[256 / 8];   /* bitmap of clean exit codes besides 0 */
        uint64_t success_signals;          /* bitmap: bit N = signal N counts as clean */
        uint64_t restart_delay_usec;
        uint64_t restart_max_delay_usec;
        uint64_t restart_reset_after_usec;
        uint32_t max_restarts;             /* 0 = never give up */

        /* [Resources]: UNIT_UNSET where not given, SIZE_INFINITY = "infinity" */
        uint64_t memory_max, memory_high, memory_swap_max;
        uint64_t cpu_quota;    /* basis points of one CPU: 50% = 5000 */
        uint64_t cpu_weight;   /* 1..10000 */
        char *cpuset;
        uint64_t pids_max;
        uint64_t io_weight;    /* 1..10000 */
        int oom_score_adjust;  /* -1000..1000, default 0 */

        /* [Security] */
        bool capabilities_set; /* Capabilities= given (non-empty) */
        uint64_t capabilities; /* bit N = capability N */
        uint64_t add_capabilities, drop_capabilities;
        uint64_t ambient_capabilities; /* kept by a non-root User=; within the set */
        bool no_new_privileges;
        SeccompMode seccomp;
        char *seccomp_profile; /* absolute path when SECCOMP_MODE_PROFILE */
        char **read_only_paths, **masked_paths;
        DeviceSpec *devices;
        size_t n_devices;
        bool privileged;
        /* UserNamespace=: no, auto (a range of 65536 picked once, kept), or
         * HOSTUID:COUNT. */
        UserNamespaceMode userns;
        uint32_t userns_uid, userns_count;

        /* [Mounts] */
        BindMount *binds;
        size_t n_binds;
        TmpfsMount *tmpfs;
        size_t n_tmpfs;
        VolumeMount *volumes;
        size_t n_volumes;

        /* [Socket] */
        char **listen_stream;      /* values of ListenStream= (lib/listen.h) */
        char **listen_datagram;
        mode_t socket_mode;
        SocketActivation activation;
        char *fd_name;             /* NULL = the unit name */

        /* [Health]: health_exec, health_http and health_tcp are exclusive;
         * none of them: the image's Healthcheck, if any */
        bool health;               /* the section is there */
        char **health_exec;
        char *health_http, *health_tcp; /* as written (health_target_parse()) */
        uint64_t health_interval_usec, health_timeout_usec;
        uint64_t health_start_period_usec, health_start_interval_usec;
        uint32_t health_retries;
        HealthOnFailure health_on_failure;
        unsigned health_set;       /* UNIT_HEALTH_*_SET: given in the file (else the image's, if any) */

        /* [Network] */
        NetworkMode network_mode;
        char *network_container; /* unit name for container:NAME */
        char **publish_ports;    /* PublishPort=, as written (publish_port_parse()) */
        char *address;           /* Address=: an IPv4 address, or NULL */
        char **dns, **dns_search; /* DNS=, DNSSearch= */
        char **add_hosts;        /* AddHost=: NAME:ADDRESS */

        /* [Log] */
        LogTarget log_target;
        uint64_t log_max_file_size;
        uint32_t log_max_files;

        /* Where it came from. */
        char *fragment_path;
        char **dropin_paths;
        uint64_t hash;         /* of the effective configuration */
} UnitConfig;

/* The default capability set of UNITS.md, as a bit mask. */
uint64_t unit_default_capabilities(void);
/* The effective capability set: Privileged= gives all, else Capabilities= or
 * the default, plus AddCapabilities=, minus DropCapabilities=. */
uint64_t unit_effective_capabilities(const UnitConfig *c);
/* Whether an exit code / a signal counts as a clean exit. */
bool unit_exit_status_is_success(const UnitConfig *c, int code);
bool unit_signal_is_success(const UnitConfig *c, int sig);
/* The hostname to use: Hostname= or the unit name. */
const char *unit_hostname(const UnitConfig *c);

UnitConfig *unit_config_free(UnitConfig *c);
static inline void unit_config_freep(UnitConfig **c) { unit_config_free(*c); }

/*
 * Parses a unit named name from the text of its main file and drop-ins, in
 * order (the main file first; a NULL entry in paths/texts ends the list).
 * Always returns a configuration (with defaults where the text has errors)
 * through ret, and 0 when the unit is valid or -EINVAL when it has errors, in
 * which case *ret_errors holds every "FILE:LINE: message" (in file order).
 * ret_errors is set to NULL when there are none.
 */
int unit_parse_texts(const char *name, char *const *paths, char *const *texts,
                     UnitConfig **ret, char ***ret_errors);

/*
 * Loads the unit at path (a file NAME.unit) plus its drop-ins from
 * path + ".d/" + "*.conf". The unit name comes from the file name.
 * Reading errors (missing file, too large, not trusted) are reported as
 * errors too ("FILE: cannot read: No such file or directory", "FILE:
 * untrusted: owned by uid 1000, not root"). Returns like unit_parse_texts().
 */
int unit_load_file(const char *path, UnitConfig **ret, char ***ret_errors);

/* One unit found in a search path. */
typedef struct UnitEntry {
        char *name;
        char *fragment_path; /* the main file that wins; NULL if masked */
        bool masked;
        char **dropin_paths; /* effective drop-ins, ordered by file name */
        char **errors;       /* "DIR: untrusted: ..." of its drop-in directories */
        bool no_template;    /* an instance whose template is missing (unit-template.h) */
} UnitEntry;

void unit_entry_done(UnitEntry *e);
void unit_entries_free(UnitEntry *e, size_t n);

/*
 * Lists every unit in the directories dirs (highest priority first), sorted
 * by name: for each name the main file of the highest-priority directory
 * that has one (a symlink to /dev/null there masks it), and the drop-ins
 * NAME.unit.d/X.conf of every directory, a file name in a higher directory
 * shadowing the same name in a lower one. Missing directories are skipped.
 * Files with invalid unit names are skipped, and so are other files than
 * NAME.unit and NAME.unit.d: with ret_skipped, *ret_skipped gets a message
 * for each ("DIR/FILE: ... skipped: why"; hidden files excepted), and one
 * for each directory that is not trusted (trust.h), whose units are listed
 * but fail to load. Every file and directory is judged like that when loaded:
 * one that root alone could not have written makes the unit bad, with
 * "PATH: untrusted: why" among its errors.
 */
int unit_path_enumerate(char *const *dirs, UnitEntry **ret, size_t *ret_n, char ***ret_skipped);

/* Loads a unit found by unit_path_enumerate(). */
int unit_load_entry(const UnitEntry *e, UnitConfig **ret, char ***ret_errors);

/* The default search path. */
extern char *const unit_default_path[];

const char *image_kind_to_string(ImageKind k);
const char *restart_policy_to_string(RestartPolicy p);
RestartPolicy restart_policy_from_string(const char *s); /* -1 if unknown */
const char *network_mode_to_string(NetworkMode m);
const char *health_on_failure_to_string(HealthOnFailure f);

/* The [Socket] sockets, ListenStream= first: their number, and one
 * string that changes whenever what they are changes (a reload rebinds). */
size_t unit_listen_count(const UnitConfig *c);
char *unit_listen_key(const UnitConfig *c);
const char *seccomp_mode_to_string(SeccompMode m);
const char *log_target_to_string(LogTarget t);
LogTarget log_target_from_string(const char *s);
const char *unit_limit_to_string(UnitLimit l); /* "NOFILE" */
int unit_limit_to_rlimit(UnitLimit l);          /* RLIMIT_NOFILE */
