/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * An OCI runtime-spec bundle's config.json mapped onto the launch plan of
 * spawn.h (ccsup-runtime): the same child, the same rootfs_setup(), the same
 * cgroup code as a unit's start, no second launcher. Every field is either
 * honoured or an error that names it ("`linux.sysctl`: not supported"):
 * nothing is dropped silently. Launch the plan with spawn_container().
 */

#include <stddef.h>

#include "cgroup.h"
#include "spawn-hooks.h"
#include "spawn.h"

#define SPAWN_OCI_VERSION "1.2.0"

typedef struct SpawnOciOptions {
        const char *id;
        const char *bundle;        /* canonical path; root.path is relative to it */
        const char *staging;       /* an empty host directory (the child mounts a tmpfs on it) */
        const char *cache_dir;     /* seccomp filter cache, NULL: none */
        /* where linux.seccomp is written for the profile loader
         * (seccomp_profile_get_json(): runtime-spec and Docker profiles
         * share the format) */
        const char *seccomp_path;
        const char *cgroup_root;   /* /sys/fs/cgroup */
        CgroupMode cgroup_mode;
        const char *cgroup_parent; /* without linux.cgroupsPath: PARENT/ID */
        int start_fd;              /* create: O_PATH fd of the start FIFO; -1: run */
        int console_fd;            /* --console-socket, connected; -1: none */
        bool exec_terminal;        /* exec --tty without --process: the command on a pty */
        size_t n_preserve_fds;     /* fds 3.. handed to the process as they are */
        int stdio[3];
        /* create and run: the runtime's --root, made searchable down to
         * staging when the container has a user namespace (its root reaches
         * staging and the trees by path); NULL for exec */
        const char *userns_top;
        /* --systemd-cgroup: linux.cgroupsPath is SLICE:PREFIX:NAME (default
         * system.slice:ccsup-runtime:ID), see spawn_plan_systemd_scope() */
        bool systemd_cgroup;
} SpawnOciOptions;

/* data: the bytes of config.json. *ret_error: "`process.args`: is missing". */
int spawn_prepare_oci(const char *data, size_t size, const SpawnOciOptions *o, SpawnPlan **ret,
                      char **ret_error);


/* A config.json `hooks` object (the text ccsup-runtime keeps in its state
 * for poststart and poststop), checked as spawn_prepare_oci() checks it. */
int spawn_oci_parse_hooks(const char *data, size_t size, SpawnHooks *ret, char **ret_error);

/* ccsup-runtime exec: the container's plan (config.json, for its seccomp
 * filter and namespaces) with the process of process (a runtime-spec
 * process object, --process), else the config's own process with args. */
int spawn_prepare_oci_exec(const char *data, size_t size, const char *process, size_t process_size,
                           char *const *args, const SpawnOciOptions *o, SpawnPlan **ret,
                           char **ret_error);

/* ccsup-runtime update: data is a runtime-spec linux.resources object
 * (memory, cpu, pids), applied to the cgroup at cgroup_path: only what it
 * names changes. A field the launcher does not honour is an error naming it,
 * and nothing is changed then; devices are fixed at create. */
int spawn_oci_update(const char *data, size_t size, const char *cgroup_root, CgroupMode mode,
                     const char *cgroup_path, char **ret_error);
