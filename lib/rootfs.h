/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The container's filesystem. The parent fills a RootfsPlan (every path
 * resolved, every host directory created); the child, already in its own
 * mount namespace, runs rootfs_setup(), which ends inside the new root.
 * Every mount the child makes lives in that namespace only: nothing is
 * mounted on the host, and everything vanishes with the container.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum RootfsMountKind {
        ROOTFS_MOUNT_BIND,
        ROOTFS_MOUNT_TMPFS,
        ROOTFS_MOUNT_DEVICE, /* a bind of a Devices= node: the only bind without nodev */
        ROOTFS_MOUNT_CGROUP, /* the cgroup2 tree of the container's cgroup namespace */
} RootfsMountKind;

typedef struct RootfsMount {
        RootfsMountKind kind;
        char *source;      /* bind: host path */
        char *destination; /* absolute, inside the container */
        bool read_only;
        bool optional;     /* bind: skip when the source is missing */
        char *options;     /* tmpfs: mount data ("mode=1777,size=…") */
        /* ccsup-runtime: MOUNT_ATTR_NOSUID/NOEXEC/NODEV beyond the defaults
         * (binds are nodev already), and a bind of the one mount only. */
        uint64_t extra_attr;
        bool non_recursive;
        /* tmpfs: starts with a copy of what the image has at destination
         * (the OCI mount option tmpcopyup) */
        bool copy_up;
} RootfsMount;

/* A device node made in the container's /dev (OCI linux.devices). */
typedef struct RootfsDevice {
        char *path;   /* absolute, below /dev */
        mode_t mode;  /* S_IFCHR, S_IFBLK or S_IFIFO | permissions */
        dev_t rdev;
        uid_t uid;
        gid_t gid;
} RootfsDevice;

typedef struct RootfsPlan {
        char *image;        /* canonical path of the image directory; never written */
        char **layers;      /* or: a layered image's directories, lowest first (store order) */
        char *staging;      /* an empty host directory; the child mounts a tmpfs on it */
        uint64_t staging_size; /* bytes of that tmpfs (the writable layer); 0 = kernel default */
        uint64_t staging_inodes; /* and its inodes; 0 = kernel default */
        bool read_only;     /* read-only bind of the image instead of an overlay */
        /* The image itself is the container's writable root, bound as it is
         * (an OCI bundle's root.path); read_only then seals it read-only
         * once the mounts are made (their mount points go into it). */
        bool in_place;
        char *upper, *work; /* persistent overlay layer; NULL = on the staging tmpfs */
        RootfsMount *mounts;
        size_t n_mounts;
        char **masked;      /* bind /dev/null over files, empty read-only tmpfs over dirs */
        char **read_only_paths;
        /* "net/ipv4/ping_group_range=0 0": written below /proc/sys of the
         * container before the read-only paths (namespaced ones only: the
         * caller checks) */
        char **sysctls;
        bool own_netns;     /* fresh sysfs, ping_group_range */
        bool joined_netns;  /* another container's netns: fresh sysfs, its ping_group_range */
        bool privileged;    /* host /dev, nothing masked */
        bool use_chroot;    /* MS_MOVE + chroot instead of pivot_root */
        bool userxattr;     /* overlay in a user namespace: user.overlay.* xattrs (opaque dirs) */
        uint32_t userns_ids;  /* UserNamespace=: the IDs its range maps (0: none) */
        /* Called with every mount made, right before pivot_root (OCI
         * createContainer hooks); NULL: none. */
        RootfsDevice *devices;
        size_t n_devices;
        int (*before_switch)(void *data, char **ret_error);
        void *before_switch_data;
} RootfsPlan;

void rootfs_plan_done(RootfsPlan *p);

/* Appends a mount; mounts are applied parents first (by path depth). */
void rootfs_plan_add(RootfsPlan *p, RootfsMountKind kind, const char *source,
                     const char *destination, bool read_only, bool optional,
                     const char *options);

/* Adds the default masked and read-only paths (UNITS.md [Security]). */
void rootfs_plan_add_defaults(RootfsPlan *p);

/* True when / is the initramfs (rootfs), where pivot_root fails. */
bool rootfs_host_is_initramfs(void);

/*
 * Child side. Builds the root filesystem and switches into it (cwd = /).
 * Sets *ret_chrooted when pivot_root was impossible and chroot was used: the
 * caller must drop CAP_SYS_CHROOT then.
 */
int rootfs_setup(const RootfsPlan *p, bool *ret_chrooted, char **ret_error);
