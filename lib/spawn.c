/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "caps.h"
#include "container-init.h"
#include "image.h"
#include "parse.h"
#include "rootfs.h"
#include "spawn-internal.h"
#include "store.h"
#include "util.h"

/* ---- preparation (parent) ------------------------------------------------ */

static int check_supported(const UnitConfig *c, const SpawnOptions *o, char **ret_error)
{
        if (c->network_mode == NETWORK_CONTAINER && c->userns != USERNS_NO && !c->privileged) {
                /* setns() needs CAP_SYS_ADMIN over the user namespace that
                 * owns it, which a container's own never has. */
                *ret_error = xasprintf("network mode `container:%s` cannot be combined with UserNamespace=: "
                                       "that network namespace belongs to another user namespace",
                                       c->network_container ? c->network_container : "");
                return -EOPNOTSUPP;
        }
        if (c->network_mode == NETWORK_CONTAINER && !o->join_netns) {
                *ret_error = xasprintf("network mode `container:%s` is not supported yet",
                                       c->network_container ? c->network_container : "");
                return -EOPNOTSUPP;
        }
        if (c->network_mode == NETWORK_BRIDGE && !o->join_netns &&
            !(o->netns_ready && c->userns != USERNS_NO && !c->privileged)) {
                *ret_error = xstrdup("network mode `bridge` needs ccsupd's bridge (not with --run)");
                return -EOPNOTSUPP;
        }
        if (c->image_kind == IMAGE_DIRECTORY && !c->exec && (!c->entrypoint || !c->entrypoint[0])) {
                *ret_error = xstrdup("no command: Exec= is required with a directory image");
                return -EINVAL;
        }
        return 0;
}

static int prepare_dir(const char *path, mode_t mode, char **ret_error)
{
        int r = mkdir_p(path, mode);

        if (r < 0)
                *ret_error = xasprintf("directory `%s`: %s", path, strerror(-r));
        return r;
}

/*
 * Takes the lock of the staging directory (created when missing). The
 * directory is removed under the lock when the container is gone
 * (spawn_cleanup()), so a lock won on a directory that was removed in the
 * meantime is worthless: check that the path still names the locked one.
 */
static int lock_staging(const char *name, const char *path, int *ret_fd, char **ret_error)
{
        for (int tries = 0; tries < 8; tries++) {
                _cleanup_close_ int fd = -1;
                struct stat locked, now;
                int r;

                r = prepare_dir(path, 0700, ret_error);
                if (r < 0)
                        return r;
                fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0) {
                        if (errno == ENOENT)
                                continue;
                        return error_set(ret_error, -errno, "directory `%s`: %s", path, strerror(errno));
                }
                if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                        r = -errno;
                        *ret_error = r == -EWOULDBLOCK
                                ? xasprintf("`%s` is already running (its directory `%s` is in use)",
                                            name, path)
                                : xasprintf("lock `%s`: %s", path, strerror(-r));
                        return r == -EWOULDBLOCK ? -EBUSY : r;
                }
                if (fstat(fd, &locked) == 0 && stat(path, &now) == 0 &&
                    locked.st_dev == now.st_dev && locked.st_ino == now.st_ino) {
                        *ret_fd = TAKE_FD(fd);
                        return 0;
                }
        }
        *ret_error = xasprintf("lock `%s`: the directory keeps disappearing", path);
        return -EAGAIN;
}

/* The size of a tmpfs the unit does not size: MemoryMax= (the container's
 * tmpfs pages are charged to its memory cgroup anyway, so this only turns an
 * OOM kill into ENOSPC), else ccsupd's --tmpfs-size. Never 0, which would
 * be the kernel's default of half the RAM. */
static uint64_t default_tmpfs_size(const UnitConfig *c, const SpawnOptions *o)
{
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), ram, bp, v;

        if (c->memory_max != UNIT_UNSET && c->memory_max != SIZE_INFINITY && c->memory_max > 0)
                return c->memory_max;
        if (o->tmpfs_size > 0)
                return o->tmpfs_size;
        bp = o->tmpfs_size_bp > 0 ? o->tmpfs_size_bp : SPAWN_TMPFS_SIZE_DEFAULT_BP;
        ram = (uint64_t)sysconf(_SC_PHYS_PAGES) * page;
        v = ram / 10000 * bp + ram % 10000 * bp / 10000;
        return v > page ? v : page;
}

/* Empty files pin memory too: one inode (about 1 KiB of kernel memory) per
 * 4 KiB of the size, instead of the kernel's half of the RAM's pages. */
static uint64_t tmpfs_inodes(uint64_t size)
{
        return size / 4096 > 4096 ? size / 4096 : 4096;
}

static int prepare_rootfs(SpawnPlan *p, const UnitConfig *c, const SpawnOptions *o,
                          char *image, char **ret_error)
{
        uint64_t tmpfs_size = default_tmpfs_size(c, o);
        RootfsPlan *rp = &p->rootfs;
        int r;

        rp->image = image;
        rp->read_only = c->read_only;
        rp->own_netns = p->own_netns || p->netns_fd >= 0;
        rp->joined_netns = p->netns_fd >= 0;
        rp->privileged = c->privileged;
        rp->use_chroot = rootfs_host_is_initramfs();
        rp->staging = xasprintf("%s/containers/%s", o->runtime_dir, c->name);
        rp->staging_size = tmpfs_size;
        rp->staging_inodes = tmpfs_inodes(tmpfs_size);
        /* First: nothing below may touch what a running twin uses. */
        r = lock_staging(c->name, rp->staging, &p->staging_lock, ret_error);
        if (r < 0)
                return r;

        if (c->persistent && !c->read_only) {
                rp->upper = xasprintf("%s/persistent/%s/upper", o->state_dir, c->name);
                rp->work = xasprintf("%s/persistent/%s/work", o->state_dir, c->name);
                r = prepare_dir(rp->upper, 0755, ret_error);
                if (r >= 0)
                        r = prepare_dir(rp->work, 0700, ret_error);
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < c->n_binds; i++)
                rootfs_plan_add(rp, ROOTFS_MOUNT_BIND, c->binds[i].source, c->binds[i].destination,
                                c->binds[i].read_only, c->binds[i].optional, NULL);
        for (size_t i = 0; i < c->n_tmpfs; i++) {
                const TmpfsMount *t = &c->tmpfs[i];
                uint64_t size = t->size > 0 ? t->size : tmpfs_size;
                _cleanup_free_ char *opts = xasprintf("mode=%04o,size=%" PRIu64 ",nr_inodes=%" PRIu64,
                                                      (unsigned)t->mode, size, tmpfs_inodes(size));

                rootfs_plan_add(rp, ROOTFS_MOUNT_TMPFS, NULL, t->destination, false, false, opts);
        }
        for (size_t i = 0; i < c->n_volumes; i++) {
                _cleanup_free_ char *dir = xasprintf("%s/volumes/%s", o->state_dir,
                                                     c->volumes[i].name);

                r = prepare_dir(dir, 0755, ret_error);
                if (r < 0)
                        return r;
                rootfs_plan_add(rp, ROOTFS_MOUNT_BIND, dir, c->volumes[i].destination,
                                c->volumes[i].read_only, false, NULL);
        }
        for (size_t i = 0; i < c->n_devices; i++) {
                const DeviceSpec *d = &c->devices[i];
                rootfs_plan_add(rp, ROOTFS_MOUNT_DEVICE, d->host_path, d->container_path,
                                !d->write, false, NULL);
        }

        if (!c->privileged) {
                rootfs_plan_add_defaults(rp);
                STRV_FOREACH(m, c->masked_paths)
                        strv_add(&rp->masked, *m);
                STRV_FOREACH(m, c->read_only_paths)
                        strv_add(&rp->read_only_paths, *m);
        }
        return 0;
}

static int prepare_command(SpawnPlan *p, const UnitConfig *c)
{
        /* A directory image has no Entrypoint of its own: Entrypoint= then
         * Exec= make the command. */
        STRV_FOREACH(a, c->entrypoint)
                strv_add(&p->argv, *a);
        STRV_FOREACH(a, c->exec)
                strv_add(&p->argv, *a);
        return p->argv ? 0 : -EINVAL;
}

/* Privileged=yes (and ALL) means all that ccsupd itself may give (its
 * bounding set: a sandboxed ccsupd lacks some); a capability asked for by
 * name that ccsupd lacks is an error. */
static int prepare_caps(SpawnPlan *p, const UnitConfig *c, char **ret_error)
{
        uint64_t have = caps_bounding_set(p->last_cap), want = unit_effective_capabilities(c);

        if (c->privileged || (c->capabilities_set && (c->capabilities | ~have) == UINT64_MAX))
                want &= have;
        if (want & ~have) {
                for (int i = 0; i < 64; i++)
                        if (want & ~have & (UINT64_C(1) << i)) {
                                *ret_error = xasprintf("capability %s: ccsupd does not hold it",
                                                       capability_to_string(i) ? capability_to_string(i) : "?");
                                return -EPERM;
                        }
        }
        p->caps = want;
        /* Within the set by the parser's check; what the set loses below
         * (CAP_SYS_CHROOT, CAP_MKNOD) is masked in the child. */
        p->ambient_caps = c->ambient_capabilities;
        return 0;
}

static int prepare_seccomp(SpawnPlan *p, const UnitConfig *c, const SpawnOptions *o,
                           char **ret_error)
{
        _cleanup_free_ char *cache = path_join(o->runtime_dir, "cache");
        char **warnings = NULL;
        int r;

        if (c->privileged || c->seccomp == SECCOMP_MODE_UNCONFINED)
                return 0;
        if (c->seccomp == SECCOMP_MODE_PROFILE) {
                r = seccomp_profile_get_json(c->seccomp_profile, p->caps, cache, &p->seccomp_owned,
                                             &warnings, ret_error);
                STRV_FOREACH(w, warnings)
                        strv_add(&p->warnings, *w);
                strv_free(warnings);
                if (r < 0)
                        return r;
                p->seccomp = p->seccomp_owned;
                return 0;
        }
        if (o->default_seccomp && o->default_seccomp->caps == p->caps) {
                p->seccomp = o->default_seccomp;
                return 0;
        }
        r = seccomp_profile_get(p->caps, cache, &p->seccomp_owned);
        if (r < 0) {
                *ret_error = xasprintf("seccomp: %s", strerror(-r));
                return r;
        }
        p->seccomp = p->seccomp_owned;
        return 0;
}

/* The device allowlist of every container: the nodes of its own /dev
 * (UNITS.md [Security]), its pts, then each Devices= node with its access. */
static const char *const default_device_rules[] = {
        "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", /* null zero full random urandom */
        "c 5:0 rwm", "c 5:2 rwm", "c 136:* rwm",                         /* tty ptmx pts */
};

/*
 * Every container but a Privileged=yes one reaches only the devices of
 * that list: whatever node it finds (a Bind=, an image) or makes, the
 * kernel refuses to open any other (EPERM). The list goes to the cgroup2
 * cgroup as a BPF device program on v2 and hybrid (hybrid then joins no v1
 * hierarchy for it), to the devices controller on pure v1. Since it holds,
 * an "m" access of Devices= comes with CAP_MKNOD: mknod can make only the
 * nodes of the list.
 */
static int prepare_devices(SpawnPlan *p, const UnitConfig *c, char **ret_error)
{
        bool mknod = false;

        if (c->privileged)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(default_device_rules); i++)
                strv_add(&p->device_rules, default_device_rules[i]);
        for (size_t i = 0; i < c->n_devices; i++) {
                const DeviceSpec *d = &c->devices[i];
                struct stat st;

                if (stat(d->host_path, &st) < 0)
                        return error_set(ret_error, -errno, "device `%s`: %s", d->host_path, strerror(errno));
                if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
                        *ret_error = xasprintf("device `%s`: not a device node", d->host_path);
                        return -ENODEV;
                }
                strv_addf(&p->device_rules, "%c %u:%u %s%s%s", S_ISCHR(st.st_mode) ? 'c' : 'b',
                          major(st.st_rdev), minor(st.st_rdev), d->read ? "r" : "",
                          d->write ? "w" : "", d->mknod ? "m" : "");
                mknod |= d->mknod;
        }
        if (mknod)
                p->caps |= UINT64_C(1) << 27 /* CAP_MKNOD */;
        return 0;
}

static void prepare_resources(SpawnPlan *p, const UnitConfig *c, const SpawnOptions *o)
{
        p->memory_max = c->memory_max;
        p->memory_high = c->memory_high;
        p->memory_swap_max = c->memory_swap_max;
        p->cpu_quota = c->cpu_quota;
        p->cpu_weight = c->cpu_weight;
        p->cpuset = c->cpuset ? xstrdup(c->cpuset) : NULL;
        p->pids_max = c->pids_max;
        p->io_weight = c->io_weight;

        p->cgroup_mask = o->no_accounting ? 0 : CGROUP_MASK_ACCOUNTING;
        if (p->memory_max != UNIT_UNSET || p->memory_swap_max != UNIT_UNSET ||
            (p->memory_high != UNIT_UNSET && o->cgroup_mode == CGROUP_MODE_V2))
                p->cgroup_mask |= CGROUP_MASK(CGROUP_CONTROLLER_MEMORY);
        if (p->cpu_quota != UNIT_UNSET || p->cpu_weight != UNIT_UNSET)
                p->cgroup_mask |= CGROUP_MASK(CGROUP_CONTROLLER_CPU);
        if (p->cpuset)
                p->cgroup_mask |= CGROUP_MASK(CGROUP_CONTROLLER_CPUSET);
        if (p->pids_max != UNIT_UNSET)
                p->cgroup_mask |= CGROUP_MASK(CGROUP_CONTROLLER_PIDS);
        if (p->io_weight != UNIT_UNSET)
                p->cgroup_mask |= CGROUP_MASK(CGROUP_CONTROLLER_IO);
        if (p->device_rules && o->cgroup_mode == CGROUP_MODE_V1)
                p->cgroup_mask |= CGROUP_MASK(CGROUP_CONTROLLER_DEVICES);
        if (p->memory_high != UNIT_UNSET && o->cgroup_mode != CGROUP_MODE_V2)
                strv_add(&p->warnings, "MemoryHigh= is ignored: cgroup v1 has no equivalent");
}

/* A directory image: the unit says it all; users from the image's own files. */
static int prepare_directory(SpawnPlan *p, const UnitConfig *c, char **ret_error)
{
        int r;

        r = prepare_command(p, c);
        if (r < 0)
                return r;
        r = image_resolve_user(p->rootfs.image, c->user, c->group, c->supplementary_groups,
                               &p->user, ret_error);
        if (r < 0)
                return r;
        r = image_build_environment(c, &p->user, p->regular_files_only, &p->env, ret_error);
        if (r < 0)
                return r;
        p->working_directory = xstrdup(c->working_directory ? c->working_directory : "/");
        p->stop_signal = c->stop_signal > 0 ? c->stop_signal : SIGTERM;
        return 0;
}

/*
 * A layered image: its config supplies the defaults of the command, the
 * environment, the working directory, the user and the stop signal
 * (image_config_apply()). Its /etc/passwd is the one overlayfs shows (the
 * top-most layer's, whiteouts and opaque directories applied), which exists
 * only in the child's mount namespace: the child resolves the user.
 */
static int prepare_layered(SpawnPlan *p, const UnitConfig *c, const ResolvedImage *img,
                           char **ret_error)
{
        _cleanup_(resolved_process_done) ResolvedProcess proc = {};
        char *colon;
        int r;

        r = image_config_apply(img->config, c, &proc, ret_error);
        if (r < 0)
                return r;
        p->rootfs.layers = strv_copy(img->layers);
        p->argv = TAKE_PTR(proc.argv);
        p->working_directory = TAKE_PTR(proc.working_directory);
        p->stop_signal = proc.stop_signal;
        p->image_health = (SpawnImageHealth){
                .argv = TAKE_PTR(proc.health_argv),
                .interval_usec = proc.health_interval_usec,
                .timeout_usec = proc.health_timeout_usec,
                .start_period_usec = proc.health_start_period_usec,
                .retries = proc.health_retries,
        };

        strv_add(&p->env, "PATH=" IMAGE_DEFAULT_PATH);
        strv_addf(&p->env, "HOSTNAME=%s", unit_hostname(c));
        strv_add(&p->env, "container=ccsup");
        STRV_FOREACH(e, proc.environment)
                env_set(&p->env, *e);
        r = image_read_environment_files(c, &p->env, p->regular_files_only, ret_error);
        if (r < 0)
                return r;
        p->home_from_user = !env_get(p->env, "HOME");

        /* "NAME", "UID", "NAME:GROUP", "UID:GID"; NULL: root. */
        p->user_in_child = true;
        colon = proc.user ? strchr(proc.user, ':') : NULL;
        if (colon) {
                *colon = '\0';
                p->group_spec = xstrdup(colon + 1);
        }
        p->user_spec = TAKE_PTR(proc.user);
        p->supplementary_groups = strv_copy(c->supplementary_groups);
        return 0;
}

/* Notify=yes: the relay's directory at /run/host, and the variables of
 * sd_notify(3) and sd_watchdog_enabled(3). Under Init=yes the command is the
 * init's only child, forked first: PID 2 of the container's namespace. */
static void prepare_notify(SpawnPlan *p, const UnitConfig *c, const char *host_dir)
{
        _cleanup_free_ char *e = NULL;

        rootfs_plan_add(&p->rootfs, ROOTFS_MOUNT_BIND, host_dir, "/run/host", true, false, NULL);
        env_set(&p->env, "NOTIFY_SOCKET=/run/host/notify");
        if (c->watchdog_usec == 0 || c->watchdog_usec == USEC_INFINITY)
                return;
        e = xasprintf("WATCHDOG_USEC=%" PRIu64, c->watchdog_usec);
        env_set(&p->env, e);
        env_set(&p->env, c->init ? "WATCHDOG_PID=2" : "WATCHDOG_PID=1");
}

/* [Socket] and the fd store: the fds, and the variables of sd_listen_fds(3).
 * LISTEN_PID is the command's PID in the container: 1, or 2 under Init=yes. */
static int prepare_listen_fds(SpawnPlan *p, const UnitConfig *c, const SpawnOptions *o,
                              char **ret_error)
{
        _cleanup_free_ char *names = xstrdup(""), *e = NULL;
        const char *name = c->fd_name ? c->fd_name : c->name;

        if (o->n_listen_fds == 0)
                return 0;
        if (o->n_listen_fds > SPAWN_LISTEN_MAX) {
                *ret_error = xasprintf("[Socket] and fd store: %zu fds, more than %d",
                                       o->n_listen_fds, SPAWN_LISTEN_MAX);
                return -E2BIG;
        }
        memcpy(p->listen_fds, o->listen_fds, o->n_listen_fds * sizeof(int));
        p->n_listen_fds = o->n_listen_fds;
        for (size_t i = 0; i < o->n_listen_fds; i++) {
                const char *fn = o->listen_names && o->listen_names[i] ? o->listen_names[i] : name;
                char *n = xasprintf("%s%s%s", names, i ? ":" : "", fn);
                free(names);
                names = n;
        }
        e = xasprintf("LISTEN_FDS=%zu", o->n_listen_fds);
        env_set(&p->env, e);
        env_set(&p->env, c->init ? "LISTEN_PID=2" : "LISTEN_PID=1");
        free(e);
        e = xasprintf("LISTEN_FDNAMES=%s", names);
        env_set(&p->env, e);
        return 0;
}

/* What the process gets beyond its files: umask, limits, capabilities,
 * NoNewPrivs, seccomp. */
static int prepare_privileges(SpawnPlan *p, const UnitConfig *c, const SpawnOptions *o,
                              char **ret_error)
{
        int r;

        p->umask = c->umask;
        memcpy(p->limits, c->limits, sizeof(p->limits));
        p->no_new_privileges = c->no_new_privileges;
        p->oom_score_adjust = c->oom_score_adjust;
        p->last_cap = caps_last_cap();
        r = prepare_caps(p, c, ret_error);
        if (r < 0)
                return r;
        if (p->rootfs.use_chroot)
                p->caps &= ~(UINT64_C(1) << 18 /* CAP_SYS_CHROOT */);
        r = prepare_devices(p, c, ret_error);
        if (r < 0)
                return r;
        return prepare_seccomp(p, c, o, ret_error);
}

/* The image of c: a directory image's path (*ret_dir), or a layered one:
 * o->image, else resolved into *owned, with an import when import is set,
 * else from the store only. */
static int plan_image(const UnitConfig *c, const SpawnOptions *o, bool import, char **ret_dir,
                      ResolvedImage *owned, const ResolvedImage **ret_img, char **ret_error)
{
        const char *state = o->state_dir ? o->state_dir : STORE_DEFAULT_STATE_DIR;
        int r;

        *ret_dir = NULL;
        *ret_img = o->image;
        if (c->image_kind == IMAGE_DIRECTORY)
                return image_directory_open(c, ret_dir, ret_error);
        if (o->image)
                return 0;
        r = import ? store_resolve(state, c, owned, ret_error)
                   : store_resolve_stored(state, c, owned, ret_error);
        if (r >= 0)
                *ret_img = owned;
        return r;
}

static SpawnPlan *plan_new(const UnitConfig *c, const SpawnOptions *o)
{
        SpawnPlan *p = xcalloc(1, sizeof(*p));

        p->staging_lock = -1;
        p->netns_fd = -1;
        p->name = xstrdup(c->name);
        p->regular_files_only = o->regular_files_only;
        return p;
}

int spawn_prepare(const UnitConfig *c, const SpawnOptions *o, SpawnPlan **ret, char **ret_error)
{
        _cleanup_(spawn_plan_freep) SpawnPlan *p = NULL;
        _cleanup_(resolved_image_done) ResolvedImage owned = {};
        const ResolvedImage *img;
        char *image;
        int r;

        r = check_supported(c, o, ret_error);
        if (r < 0)
                return r;
        r = plan_image(c, o, true, &image, &owned, &img, ret_error);
        if (r < 0)
                return r;

        p = plan_new(c, o);
        p->wait_start = o->hold && o->hold_fd >= 3 + (int)o->n_listen_fds;
        p->start_fd = p->wait_start ? o->hold_fd : -1;
        if (o->hold && !p->wait_start) {
                *ret_error = xstrdup("prelaunch: the hold FIFO's fd is below the [Socket] fds");
                return -EINVAL;
        }
        p->netns_fd = c->network_mode == NETWORK_CONTAINER || c->network_mode == NETWORK_BRIDGE ? o->netns_fd : -1;
        p->own_netns = c->network_mode == NETWORK_NONE;
        if (c->network_mode == NETWORK_BRIDGE && c->userns != USERNS_NO && !c->privileged && o->netns_ready) {
                p->netns_fd = -1;
                p->own_netns = true;
                p->netns_ready = o->netns_ready;
                p->netns_ready_data = o->netns_ready_data;
        }
        r = prepare_rootfs(p, c, o, image, ret_error);
        if (r < 0)
                return r;
        r = img ? prepare_layered(p, c, img, ret_error) : prepare_directory(p, c, ret_error);
        if (r < 0)
                return r;
        p->hostname = xstrdup(unit_hostname(c));
        p->init = c->init;
        if (c->notify && o->host_dir)
                prepare_notify(p, c, o->host_dir);
        if (o->hosts_file)
                rootfs_plan_add(&p->rootfs, ROOTFS_MOUNT_BIND, o->hosts_file, "/etc/hosts", true, false, NULL);
        if (o->resolv_file)
                rootfs_plan_add(&p->rootfs, ROOTFS_MOUNT_BIND, o->resolv_file, "/etc/resolv.conf", true, false, NULL);
        r = prepare_listen_fds(p, c, o, ret_error);
        if (r < 0)
                return r;
        r = prepare_privileges(p, c, o, ret_error);
        if (r < 0)
                return r;

        p->stdio[0] = o->stdin_fd;
        p->stdio[1] = o->stdout_fd;
        p->stdio[2] = o->stderr_fd;
        p->cgroup_root = xstrdup(o->cgroup_root);
        p->cgroup_mode = o->cgroup_mode;
        p->cgroup_path = xasprintf("%s/%s.ctr", streq(o->cgroup_parent, "/") ? "" : o->cgroup_parent,
                                   c->name);
        prepare_resources(p, c, o);
        p->no_clone3 = o->no_clone3;
        r = spawn_userns_prepare(p, c, o, ret_error);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(p);
        return 0;
}

int spawn_prepare_exec(const UnitConfig *c, const SpawnOptions *o, SpawnPlan **ret,
                       char **ret_error)
{
        _cleanup_(spawn_plan_freep) SpawnPlan *p = NULL;
        _cleanup_(resolved_image_done) ResolvedImage owned = {};
        const ResolvedImage *img;
        char *image;
        int r;

        r = plan_image(c, o, false, &image, &owned, &img, ret_error);
        if (r < 0)
                return r;

        p = plan_new(c, o);
        p->rootfs.image = image;
        /* Only for the capabilities: the container's root is entered
         * through its PID 1, never set up again. */
        p->rootfs.use_chroot = rootfs_host_is_initramfs();
        r = img ? prepare_layered(p, c, img, ret_error) : prepare_directory(p, c, ret_error);
        if (r < 0)
                return r;
        r = prepare_privileges(p, c, o, ret_error);
        if (r < 0)
                return r;
        p->no_clone3 = o->no_clone3;
        *ret = TAKE_PTR(p);
        return 0;
}

bool spawn_plan_uses_chroot(const SpawnPlan *p)
{
        return p->rootfs.use_chroot;
}

char *const *spawn_plan_warnings(const SpawnPlan *p)
{
        return p->warnings;
}

const char *spawn_plan_cgroup_path(const SpawnPlan *p)
{
        return p->cgroup_path;
}

void spawn_plan_set_cgroup_path(SpawnPlan *p, const char *path)
{
        free(p->cgroup_path);
        p->cgroup_path = xstrdup(path);
}

const char *spawn_plan_systemd_scope(const SpawnPlan *p, const char **ret_slice)
{
        *ret_slice = p->systemd_slice;
        return p->systemd_unit;
}

const SpawnHooks *spawn_plan_hooks(const SpawnPlan *p)
{
        return p->hooks;
}

char *const *spawn_plan_argv(const SpawnPlan *p)
{
        return p->argv;
}

int spawn_plan_stop_signal(const SpawnPlan *p)
{
        return p->stop_signal;
}

const SpawnImageHealth *spawn_plan_image_health(const SpawnPlan *p)
{
        return &p->image_health;
}

SpawnPlan *spawn_plan_free(SpawnPlan *p)
{
        if (!p)
                return NULL;
        free(p->name);
        rootfs_plan_done(&p->rootfs);
        strv_free(p->argv);
        strv_free(p->image_health.argv);
        strv_free(p->env);
        free(p->working_directory);
        free(p->hostname);
        image_user_done(&p->user);
        free(p->user_spec);
        free(p->group_spec);
        strv_free(p->supplementary_groups);
        seccomp_profile_free(p->seccomp_owned);
        free(p->cgroup_root);
        free(p->cgroup_path);
        free(p->systemd_slice);
        free(p->systemd_unit);
        safe_close(p->staging_lock);
        free(p->cpuset);
        strv_free(p->device_rules);
        strv_free(p->io_device_rules);
        strv_free(p->io_device_keys);
        strv_free(p->warnings);
        spawn_userns_plan_done(p);
        spawn_hooks_done(p->hooks);
        free(p->hooks);
        free(p->hook_state_head);
        free(p);
        return NULL;
}

void spawn_cleanup(const SpawnPlan *p)
{
        /* Still under the lock: a twin waiting for it sees the directory
         * gone and makes its own. */
        (void)rmdir(p->rootfs.staging);
        spawn_userns_cleanup(p);
}

void spawn_result_done(SpawnResult *r)
{
        safe_close(r->pidfd);
        safe_close(r->sync_fd);
        cgroup_free(r->cgroup);
        *r = (SpawnResult){ .pidfd = -1, .sync_fd = -1 };
}

/* ---- the child ----------------------------------------------------------- */

_Noreturn void spawn_child_fail(int sync_fd, int r, char *msg)
{
        SpawnMessage m = { .error = -r };
        size_t n = msg ? strlen(msg) : 0;

        if (n >= sizeof(m.text))
                n = sizeof(m.text) - 1;
        if (msg)
                memcpy(m.text, msg, n);
        (void)send(sync_fd, &m, offsetof(SpawnMessage, text) + n, MSG_NOSIGNAL);
        _exit(SPAWN_EXIT_SETUP);
}

int spawn_setup_stdio(const int stdio[3])
{
        int fds[3];

        /* Move them out of the way first: a source may sit on a target number. */
        for (int i = 0; i < 3; i++) {
                fds[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 3);
                if (fds[i] < 0)
                        return -errno;
        }
        for (int i = 0; i < 3; i++)
                if (dup2(fds[i], i) < 0)
                        return -errno;
        return 0;
}

void spawn_reset_signals(void)
{
        sigset_t none;

        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void)signal(sig, SIG_DFL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
}

static int loopback_up(void)
{
        struct ifreq ifr = { .ifr_name = "lo" };
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return -errno;
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                return -errno;
        return 0;
}

/* Containers do not inherit ccsupd's raised RLIMIT_NOFILE: without
 * LimitNOFILE= the soft limit is 1024, as select() needs (systemd's
 * default); the hard limit stays. */
int spawn_apply_rlimits(const RlimitSpec *limits)
{
        for (int i = 0; i < _UNIT_LIMIT_MAX; i++) {
                struct rlimit rl;

                if (!limits[i].set && i == UNIT_LIMIT_NOFILE) {
                        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                                return -errno;
                        rl.rlim_cur = rl.rlim_max < 1024 ? rl.rlim_max : 1024;
                        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                                return -errno;
                }
                if (!limits[i].set)
                        continue;
                rl.rlim_cur = limits[i].soft == UINT64_MAX ? RLIM_INFINITY : limits[i].soft;
                rl.rlim_max = limits[i].hard == UINT64_MAX ? RLIM_INFINITY : limits[i].hard;
                if (setrlimit(unit_limit_to_rlimit(i), &rl) < 0)
                        return -errno;
        }
        return 0;
}

/* execvp()'s lookup, done by hand so the error names the command and tells
 * "not found" from "not executable". */
int spawn_find_command(const char *cmd, char *const *env, char **ret)
{
        const char *path = env_get(env, "PATH");
        int r = -ENOENT;

        if (strchr(cmd, '/')) {
                *ret = xstrdup(cmd);
                return access(cmd, X_OK) < 0 ? -errno : 0;
        }
        if (!path)
                path = IMAGE_DEFAULT_PATH;
        for (const char *s = path; *s; ) {
                size_t n = strcspn(s, ":");
                _cleanup_free_ char *p = xasprintf("%.*s/%s", (int)n, n ? s : ".", cmd);
                struct stat st;

                if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
                        if (access(p, X_OK) == 0) {
                                *ret = TAKE_PTR(p);
                                return 0;
                        }
                        r = -EACCES;
                }
                s += n;
                if (*s == ':')
                        s++;
        }
        return r;
}

/* A layered image's users: from the merged /etc/passwd and /etc/group,
 * inside the new root. p is the child's own copy of the plan. */
void spawn_child_resolve_user(SpawnPlan *p, int fd)
{
        char *msg = NULL;
        int r;

        if (!p->user_in_child)
                return;
        r = image_resolve_user("/", p->user_spec, p->group_spec, p->supplementary_groups,
                               &p->user, &msg);
        if (r < 0)
                spawn_child_fail(fd, r, msg);
        if (p->home_from_user)
                strv_addf(&p->env, "HOME=%s", p->user.home ? p->user.home : "/");
}

void spawn_child_enter_workdir(const SpawnPlan *p, int fd)
{
        char cwd[4096];

        if (chdir(p->working_directory) < 0)
                spawn_child_failf(fd, -errno, "working directory `%s`: %s", p->working_directory,
                            strerror(errno));
        /* An fd or cwd leaked from outside would show as "(unreachable)/…"
         * (CVE-2024-21626): refuse to run with a cwd outside the root. */
        if (!getcwd(cwd, sizeof(cwd)) || cwd[0] != '/')
                spawn_child_failf(fd, -EPERM, "working directory `%s` is outside the container",
                            p->working_directory);
}

void spawn_child_set_oom_score(const SpawnPlan *p, int fd)
{
        char buf[16];
        int n = snprintf(buf, sizeof(buf), "%d\n", p->oom_score_adjust), f, r = 0;

        f = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
        if (f < 0 || write(f, buf, (size_t)n) != n)
                r = -errno;
        if (f >= 0)
                (void)close(f);
        if (r < 0)
                spawn_child_failf(fd, r, "OOMScoreAdjust=%d: /proc/self/oom_score_adj: %s",
                                  p->oom_score_adjust, strerror(-r));
}

void spawn_child_drop_privileges(const SpawnPlan *p, uint64_t caps, int fd)
{
        uint64_t permitted, ambient;
        int r;

        r = caps_drop_bounding(caps, p->last_cap);
        if (r < 0)
                spawn_child_failf(fd, r, "capability bounding set: %s", strerror(-r));
        /* Without NoNewPrivs, installing a filter needs CAP_SYS_ADMIN: do it
         * while it is still held. */
        if (p->seccomp && !p->no_new_privileges) {
                r = seccomp_profile_load(p->seccomp);
                if (r < 0)
                        spawn_child_failf(fd, r, "seccomp: %s", strerror(-r));
        }
        r = caps_switch_user(p->user.uid, p->user.gid, p->user.groups, p->user.n_groups);
        if (r < 0)
                spawn_child_failf(fd, r, "user %u: %s", (unsigned)p->user.uid, strerror(-r));
        if (p->caps_as_given) /* within caps: CAP_SYS_CHROOT may have gone */
                r = caps_set_all(p->cap_effective & caps, p->cap_permitted & caps, p->cap_inheritable & caps,
                                 p->ambient_caps & caps, p->last_cap);
        else {
                caps_for_user(p->user.uid, caps, p->ambient_caps, &permitted, &ambient);
                r = caps_apply(permitted, ambient, p->last_cap);
        }
        if (r < 0)
                spawn_child_failf(fd, r, "capabilities: %s", strerror(-r));
        if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                spawn_child_failf(fd, -errno, "no_new_privs: %s", strerror(errno));
}

/* Init=yes: PID 1 stays ours and the command runs as its child. Returns in
 * the command's process. */
static void child_fork_init(const SpawnPlan *p, int fd)
{
        sigset_t all, old;
        pid_t pid;

        sigfillset(&all);
        sigprocmask(SIG_SETMASK, &all, &old);
        pid = fork();
        if (pid < 0)
                spawn_child_failf(fd, -errno, "init: fork: %s", strerror(errno));
        if (pid > 0) {
                /* The parent sees EOF once the command's execve closes the
                 * last copy of the sync socket. The init never executes
                 * anything: close what CLOEXEC would have (ccsupd's loop
                 * fds, the staging lock) instead of keeping it for the
                 * container's life. It keeps the [Socket] fds: a ccsupd that
                 * re-adopts the container takes them back from PID 1. */
                (void)close_range(3 + (unsigned)p->n_listen_fds, ~0U, 0);
                container_init_run(pid);
        }
        sigprocmask(SIG_SETMASK, &old, NULL);
}

/* The [Socket] fds to 3, 4, ... without CLOEXEC. Sources may sit on target
 * numbers, and so may the sync socket: everything moves above the targets
 * first. Returns the sync socket's fd. */
static int child_place_listen_fds(const SpawnPlan *p, int fd)
{
        int first = 3 + (int)p->n_listen_fds, tmp[SPAWN_LISTEN_MAX];

        if (p->n_listen_fds == 0)
                return fd;
        if (fd < first) {
                int moved = fcntl(fd, F_DUPFD_CLOEXEC, first);
                if (moved < 0)
                        spawn_child_failf(fd, -errno, "[Socket] fds: %s", strerror(errno));
                fd = moved; /* the old number is a target: dup2() closes it */
        }
        for (size_t i = 0; i < p->n_listen_fds; i++) {
                tmp[i] = fcntl(p->listen_fds[i], F_DUPFD_CLOEXEC, first);
                if (tmp[i] < 0)
                        spawn_child_failf(fd, -errno, "[Socket] fds: %s", strerror(errno));
        }
        for (size_t i = 0; i < p->n_listen_fds; i++)
                if (dup2(tmp[i], 3 + (int)i) < 0)
                        spawn_child_failf(fd, -errno, "[Socket] fds: %s", strerror(errno));
        return fd;
}

void spawn_child_seal(const SpawnPlan *p, int fd)
{
        int r;

        /* Exactly 0, 1, 2 (and the [Socket] fds) survive execve; the sync
         * socket closes with it. */
        if (close_range(3 + (unsigned)p->n_listen_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                spawn_child_failf(fd, -errno, "close_range: %s", strerror(errno));
        /* With no-new-privs the filter comes last, when nothing but execve
         * is left to allow (without, it was loaded while CAP_SYS_ADMIN was
         * still there: spawn_child_drop_privileges()). */
        if (p->seccomp && p->no_new_privileges) {
                r = seccomp_profile_load(p->seccomp);
                if (r < 0)
                        spawn_child_failf(fd, r, "seccomp: %s", strerror(-r));
        }
}

/* process.terminal: a pty of the container's devpts, its master sent to the
 * engine's console socket, its slave our stdio and controlling terminal. */
void spawn_child_setup_terminal(const SpawnPlan *p, int fd)
{
        char name[64], buf[1] = { 'm' };
        char cbuf[CMSG_SPACE(sizeof(int))] = {};
        struct iovec iov = { .iov_base = buf, .iov_len = 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                             .msg_controllen = sizeof(cbuf) };
        struct cmsghdr *cm;
        int master, slave;

        master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0 || unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
                spawn_child_failf(fd, -errno, "terminal: /dev/ptmx: %s", strerror(errno));
        slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                spawn_child_failf(fd, -errno, "terminal: %s: %s", name, strerror(errno));
        cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &master, sizeof(int));
        if (sendmsg(p->console_fd, &mh, MSG_NOSIGNAL) != 1)
                spawn_child_failf(fd, -errno, "terminal: --console-socket: %s", strerror(errno));
        (void)close(master);
        (void)close(p->console_fd);
        for (int i = 0; i < 3; i++)
                if (dup2(slave, i) < 0)
                        spawn_child_failf(fd, -errno, "terminal: %s", strerror(errno));
        if (ioctl(0, TIOCSCTTY, 0) < 0)
                spawn_child_failf(fd, -errno, "terminal: TIOCSCTTY: %s", strerror(errno));
        (void)close(slave);
}

/* ccsup-runtime create, ccsupd's prelaunch: set up, tell the parent, and
 * wait for `start` (the release). The
 * FIFO is reached through /proc/self/fd (our own fd, the container's fresh
 * /proc): its host path is not in this root. */
static void child_wait_start(const SpawnPlan *p, int fd)
{
        char path[64];
        int f;

        if (send(fd, "c", 1, MSG_NOSIGNAL) != 1)
                _exit(SPAWN_EXIT_SETUP);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", p->start_fd);
        f = open(path, O_WRONLY | O_CLOEXEC);
        if (f < 0)
                spawn_child_failf(fd, -errno, "wait for start: %s", strerror(errno));
        /* `start` has come: its reader learns how the startContainer hooks
         * went ("0", or "1" and why), the parent of create being gone. */
        if (spawn_hooks_any(p->hooks, SPAWN_HOOK_START_CONTAINER)) {
                _cleanup_free_ char *state = spawn_hook_state(p->hook_state_head, "created", p->host_pid),
                                    *err = NULL, *m = NULL;

                if (spawn_run_hooks(p->hooks, SPAWN_HOOK_START_CONTAINER, state, &err) < 0) {
                        m = xasprintf("1%s", err);
                        /* one write, atomic up to PIPE_BUF */
                        (void)!write(f, m, strlen(m) < PIPE_BUF ? strlen(m) : PIPE_BUF);
                        _exit(SPAWN_EXIT_SETUP);
                }
        }
        if (write(f, "0", 1) != 1)
                spawn_child_failf(fd, -errno, "wait for start: %s", strerror(errno));
        (void)close(f);
        (void)close(p->start_fd);
}

/* The PID of the host's /proc/self, before our root replaces /proc: the
 * state's pid for the hooks the child runs (the PID the runtime sees). */
static void child_note_host_pid(SpawnPlan *p)
{
        char buf[32];
        ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);

        if (n > 0) {
                buf[n] = 0;
                p->host_pid = (pid_t)atoi(buf);
        }
}

_Noreturn static void child_run(const SpawnPlan *p, int fd, bool wait_for_go)
{
        _cleanup_free_ char *cmd = NULL, *msg = NULL;
        uint64_t caps = p->caps;
        bool chrooted;
        char go;
        int r;

        /* Non-dumpable until the command's execve: not ptraced, its
         * /proc/PID/exe, fds and memory closed to the container (with
         * Init=yes, the init stays so for the container's life). */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                spawn_child_failf(fd, -errno, "PR_SET_DUMPABLE: %s", strerror(errno));
        if (p->hooks)
                child_note_host_pid((SpawnPlan *)p);
        /* Wait until the parent has placed us in every cgroup (and, with a
         * user namespace, written its maps and sent the idmapped trees). */
        if (p->userns)
                spawn_userns_child_enter((SpawnPlan *)p, fd);
        else if (wait_for_go && read(fd, &go, 1) != 1)
                _exit(SPAWN_EXIT_SETUP);
        /* Still with every capability: PR_SET_MM needs CAP_SYS_RESOURCE. */
        if (p->init)
                (void)container_init_set_cmdline();

        spawn_reset_signals();
        /* Only now, inside the container's cgroup, so that this cgroup is the
         * root the container sees. */
        if (unshare(CLONE_NEWCGROUP) < 0)
                spawn_child_failf(fd, -errno, "cgroup namespace: %s", strerror(errno));
        r = spawn_setup_stdio(p->stdio);
        if (r < 0)
                spawn_child_failf(fd, r, "standard input/output: %s", strerror(-r));
        if (setsid() < 0)
                spawn_child_failf(fd, -errno, "setsid: %s", strerror(errno));
        /* Not ccsupd's own: it may protect itself, its containers stay
         * ordinary. */
        if (!p->userns) /* else written by the parent: /proc/self is host root's now */
                spawn_child_set_oom_score(p, fd);
        /* Before the mounts: the fresh sysfs shows the joined netns. */
        if (p->netns_fd >= 0 && setns(p->netns_fd, CLONE_NEWNET) < 0)
                spawn_child_failf(fd, -errno, "join the network namespace: %s", strerror(errno));
        for (size_t i = 0; i < p->n_join_ns; i++)
                if (setns(p->join_ns_fd[i], p->join_ns_type[i]) < 0)
                        spawn_child_failf(fd, -errno, "join the %s namespace: %s",
                                          p->join_ns_type[i] == CLONE_NEWUTS ? "uts" : "ipc",
                                          strerror(errno));

        r = rootfs_setup(&p->rootfs, &chrooted, &msg);
        if (r < 0)
                spawn_child_fail(fd, r, msg);
        if (chrooted)
                caps &= ~(UINT64_C(1) << 18 /* CAP_SYS_CHROOT: the chroot escape */);
        spawn_child_resolve_user((SpawnPlan *)p, fd);
        if (p->terminal)
                spawn_child_setup_terminal(p, fd);

        if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0)
                spawn_child_failf(fd, -errno, "hostname `%s`: %s", p->hostname, strerror(errno));
        if (p->own_netns && (r = loopback_up()) < 0)
                spawn_child_failf(fd, r, "loopback: %s", strerror(-r));
        r = spawn_apply_rlimits(p->limits);
        if (r < 0)
                spawn_child_failf(fd, r, "resource limits: %s", strerror(-r));
        umask(p->umask);

        if (p->userns)
                spawn_userns_child_wait_verdict(p, fd);
        spawn_child_drop_privileges(p, caps, fd);
        spawn_child_enter_workdir(p, fd);

        r = spawn_find_command(p->argv[0], p->env, &cmd);
        if (r < 0)
                spawn_child_failf(fd, r, "exec `%s`: %s", p->argv[0], strerror(-r));

        fd = child_place_listen_fds(p, fd);
        spawn_child_seal(p, fd);
        if (p->wait_start)
                child_wait_start(p, fd);
        else if (spawn_hooks_any(p->hooks, SPAWN_HOOK_START_CONTAINER)) {
                _cleanup_free_ char *state = spawn_hook_state(p->hook_state_head, "created", p->host_pid),
                                    *err = NULL;

                r = spawn_run_hooks(p->hooks, SPAWN_HOOK_START_CONTAINER, state, &err);
                if (r < 0)
                        spawn_child_fail(fd, r, TAKE_PTR(err));
        }
        if (p->init)
                child_fork_init(p, fd);

        execve(cmd, p->argv, p->env);
        spawn_child_failf(fd, -errno, "exec `%s`: %s", p->argv[0], strerror(errno));
}

/* ---- clone and release (parent) ------------------------------------------ */

pid_t spawn_clone(uint64_t ns, bool no_clone3, int cgroup_fd, int *ret_pidfd, bool *ret_clone3)
{
        int pidfd = -1;
        pid_t pid;

        if (!no_clone3) {
                struct clone_args args = {
                        .flags = ns | CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
                        .pidfd = (uint64_t)(uintptr_t)&pidfd,
                        .exit_signal = SIGCHLD,
                        .cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0,
                };

                pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
                if (pid >= 0) {
                        *ret_pidfd = pidfd;
                        *ret_clone3 = true;
                        return pid;
                }
                /* ENOSYS: old kernel; EPERM: a seccomp'd host; others: no
                 * CLONE_INTO_CGROUP. All take the old path below. */
        }

        /* Like fork(): no stack given, the child returns here. */
        *ret_clone3 = false;
        pid = (pid_t)syscall(SYS_clone, ns | SIGCHLD, NULL, NULL, NULL, 0);
        if (pid <= 0)
                return pid < 0 ? -errno : 0;
        *ret_pidfd = pidfd_open(pid, 0);
        *ret_clone3 = false;
        if (*ret_pidfd < 0) {
                int r = -errno;
                (void)kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                return r;
        }
        return pid;
}

static pid_t clone_child(const SpawnPlan *p, int cgroup_fd, int *ret_pidfd, bool *ret_clone3)
{
        /* A joined netns is entered with setns() in the child. */
        uint64_t ns = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                      (p->own_netns ? CLONE_NEWNET : 0) | (p->userns ? CLONE_NEWUSER : 0);

        return spawn_clone(ns, p->no_clone3, cgroup_fd, ret_pidfd, ret_clone3);
}

static char *limit_error(const char *key, const char *controller, const SpawnPlan *p, int r)
{
        if (r == -EOPNOTSUPP)
                return xasprintf("%s: the %s controller is not available for cgroup `%s` (%s)", key,
                                 controller, p->cgroup_path, cgroup_mode_to_string(p->cgroup_mode));
        return xasprintf("%s: %s controller: %s", key, controller, strerror(-r));
}

/* Every limit of the unit; the first that fails names its key and
 * controller. */
int spawn_apply_limits(const SpawnPlan *p, const Cgroup *cg, char **ret_error)
{
        _cleanup_free_ char *log = NULL;
        bool set = true;
        uint64_t memory_max = p->memory_max == UNIT_UNSET ? UINT64_MAX : p->memory_max;
        int r = 0;

#define LIMIT(cond, call, key, controller)                                        \
        if (set && (cond) && (r = (call)) < 0) {                                  \
                *ret_error = limit_error(key, controller, p, r);                  \
                set = false;                                                      \
        }
        LIMIT(p->memory_max != UNIT_UNSET, cgroup_set_memory_max(cg, p->memory_max),
              "MemoryMax=", "memory");
        LIMIT(p->memory_high != UNIT_UNSET && p->cgroup_mode == CGROUP_MODE_V2,
              cgroup_set_memory_high(cg, p->memory_high), "MemoryHigh=", "memory");
        LIMIT(p->memory_swap_max != UNIT_UNSET,
              cgroup_set_memory_swap_max(cg, p->memory_swap_max, memory_max), "MemorySwapMax=",
              p->cgroup_mode == CGROUP_MODE_V2 ? "memory (swap)" : "memory (swap accounting, memsw)");
        LIMIT(p->cpu_quota != UNIT_UNSET, cgroup_set_cpu_quota(cg, p->cpu_quota), "CPUQuota=",
              "cpu");
        LIMIT(p->cpu_weight != UNIT_UNSET, cgroup_set_cpu_weight(cg, p->cpu_weight), "CPUWeight=",
              "cpu");
        LIMIT(p->cpu_max_period, cgroup_set_cpu_max(cg, p->cpu_max_quota, p->cpu_max_period),
              "linux.resources.cpu.quota", "cpu");
        LIMIT(p->cpu_shares, cgroup_set_cpu_shares(cg, p->cpu_shares), "linux.resources.cpu.shares", "cpu");
        LIMIT(p->cpuset, cgroup_set_cpuset(cg, p->cpuset), "CPUSet=", "cpuset");
        LIMIT(p->pids_max != UNIT_UNSET, cgroup_set_pids_max(cg, p->pids_max), "PidsMax=", "pids");
        LIMIT(p->io_weight != UNIT_UNSET, cgroup_set_io_weight(cg, p->io_weight),
              p->io_weight_key ? p->io_weight_key : "IOWeight=", p->cgroup_mode == CGROUP_MODE_V2 ? "io" : "blkio");
        for (size_t i = 0; p->io_device_rules && p->io_device_rules[i]; i++)
                LIMIT(true, cgroup_set_io_device(cg, p->io_device_rules[i]), p->io_device_keys[i],
                      p->cgroup_mode == CGROUP_MODE_V2 ? "io" : "blkio");
#undef LIMIT
        if (set && p->device_rules && (r = cgroup_set_devices(cg, p->device_rules, &log)) < 0) {
                /* Not a limit the unit asked for: every container has it. */
                const char *how = p->cgroup_mode == CGROUP_MODE_V1 ? "the devices controller"
                                                                   : "a BPF device program";

                if (r == -EOPNOTSUPP)
                        *ret_error = xasprintf("device allowlist: %s is not available for cgroup `%s` (%s)",
                                               how, p->cgroup_path, cgroup_mode_to_string(p->cgroup_mode));
                else
                        *ret_error = xasprintf("device allowlist: %s for cgroup `%s`: %s%s%s", how,
                                               p->cgroup_path, strerror(-r), log ? ": " : "",
                                               log ? log : "");
                set = false;
        }
        return set ? 0 : r;
}

static int create_cgroup(const SpawnPlan *p, Cgroup **ret, char **ret_error)
{
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        int r;

        r = cgroup_create_with(p->cgroup_root, p->cgroup_mode, p->cgroup_path, p->cgroup_mask, &cg);
        if (r == -EBUSY) {
                *ret_error = xasprintf("cgroup `%s` still has processes: is `%s` already running?",
                                       p->cgroup_path, p->name);
                return r;
        }
        if (r < 0) {
                *ret_error = xasprintf("cgroup `%s`: %s", p->cgroup_path, strerror(-r));
                return r;
        }
        r = spawn_apply_limits(p, cg, ret_error);
        if (r < 0)
                goto fail;
        *ret = TAKE_PTR(cg);
        return 0;
fail:
        (void)cgroup_remove(cg);
        return r;
}

int spawn_container(const SpawnPlan *p, SpawnResult *ret, char **ret_error)
{
        _cleanup_(cgroup_freep) Cgroup *cg = NULL;
        _cleanup_close_ int parent_end = -1, child_end = -1, pidfd = -1;
        int sv[2], r;
        bool clone3, into, attach;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return error_set(ret_error, -errno, "socketpair: %s", strerror(errno));
        parent_end = sv[0];
        child_end = sv[1];

        r = create_cgroup(p, &cg, ret_error);
        if (r < 0)
                return r;

        pid = clone_child(p, cg->unified_fd, &pidfd, &clone3);
        /* Born in its only cgroup: nothing to wait for. */
        into = clone3 && cg->unified_fd >= 0;
        attach = !into || cg->v1;
        /* prestart and createRuntime hooks run before the child goes on. */
        bool runtime_hooks = spawn_hooks_any(p->hooks, SPAWN_HOOK_PRESTART) ||
                             spawn_hooks_any(p->hooks, SPAWN_HOOK_CREATE_RUNTIME);
        bool release = attach || p->userns || runtime_hooks;
        if (pid == 0) {
                safe_close(parent_end);
                child_run(p, child_end, release);
        }
        if (pid < 0) {
                *ret_error = xasprintf("clone: %s", strerror(-pid));
                (void)cgroup_remove(cg);
                return pid;
        }
        child_end = safe_close(child_end);

        /* The child waits for this byte: by then it is in every cgroup, so
         * nothing it forks can escape. */
        r = attach ? cgroup_attach(cg, pid, !into) : 0;
        if (r < 0) {
                *ret_error = xasprintf("cgroup `%s`: attach: %s", p->cgroup_path, strerror(-r));
                (void)pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                (void)waitid(P_PIDFD, pidfd, NULL, WEXITED);
                (void)cgroup_remove(cg);
                return r;
        }
        if (p->netns_ready) {
                _cleanup_close_ int ns = spawn_open_netns(pidfd, pid);

                r = ns < 0 ? ns : 0;
                if (r < 0)
                        *ret_error = xasprintf("network namespace of the child: %s", strerror(-r));
                else
                        r = p->netns_ready(p->netns_ready_data, ns, ret_error);
                if (r < 0) {
                        (void)pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                        (void)waitid(P_PIDFD, pidfd, NULL, WEXITED);
                        (void)cgroup_remove(cg);
                        return r;
                }
        }
        if (runtime_hooks) {
                _cleanup_free_ char *state = spawn_hook_state(p->hook_state_head, "creating", pid);

                r = spawn_run_hooks(p->hooks, SPAWN_HOOK_PRESTART, state, ret_error);
                if (r >= 0)
                        r = spawn_run_hooks(p->hooks, SPAWN_HOOK_CREATE_RUNTIME, state, ret_error);
                if (r < 0) {
                        (void)pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                        (void)waitid(P_PIDFD, pidfd, NULL, WEXITED);
                        (void)cgroup_remove(cg);
                        return r;
                }
        }
        if (p->userns && ((r = spawn_userns_release(p, pid, pidfd, parent_end, ret_error)) < 0 ||
                          (r = spawn_userns_verdict(p, parent_end, ret_error)) < 0)) {
                (void)pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                (void)waitid(P_PIDFD, pidfd, NULL, WEXITED);
                (void)cgroup_remove(cg);
                return r;
        }
        if ((attach || runtime_hooks) && !p->userns && send(parent_end, "g", 1, MSG_NOSIGNAL) != 1) {
                r = -errno;
                *ret_error = xasprintf("release the child: %s", strerror(-r));
                (void)pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
                (void)waitid(P_PIDFD, pidfd, NULL, WEXITED);
                (void)cgroup_remove(cg);
                return r;
        }

        *ret = (SpawnResult){
                .pid = pid,
                .pidfd = TAKE_FD(pidfd),
                .sync_fd = TAKE_FD(parent_end),
                .cgroup = TAKE_PTR(cg),
                .used_clone3 = clone3,
        };
        return 0;
}

#ifndef PIDFD_GET_NET_NAMESPACE
#define PIDFD_GET_NET_NAMESPACE _IO(0xFF, 4)
#endif

int spawn_open_netns(int pidfd, pid_t pid)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1;

        fd = ioctl(pidfd, PIDFD_GET_NET_NAMESPACE, 0); /* O_CLOEXEC, from the kernel */
        if (fd >= 0)
                return TAKE_FD(fd);
        if (errno == ESRCH)
                return -ESRCH;
        /* Older kernels: by PID, then make sure the PID still names the
         * process of pidfd (it may have died and the PID been reused). */
        path = xasprintf("/proc/%d/ns/net", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        if (pidfd_send_signal(pidfd, 0, NULL, 0) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* PIDFD_GET_INFO (Linux 6.13) with the exit status (PIDFD_INFO_EXIT, 6.15):
 * Debian 12's headers predate both. The first published layout; the kernel
 * reads its size from the ioctl number and accepts any version. */
struct spawn_pidfd_info {
        uint64_t mask;
        uint64_t cgroupid;
        uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
        int32_t exit_code;
};
_Static_assert(sizeof(struct spawn_pidfd_info) == 64, "PIDFD_INFO_SIZE_VER0");
#define SPAWN_PIDFD_GET_INFO _IOWR(0xFF, 11, struct spawn_pidfd_info)
#define SPAWN_PIDFD_INFO_EXIT (UINT64_C(1) << 3)

int spawn_pidfd_exit_status(int pidfd, int *ret_status)
{
        struct spawn_pidfd_info info = { .mask = SPAWN_PIDFD_INFO_EXIT };

        if (ioctl(pidfd, SPAWN_PIDFD_GET_INFO, &info) < 0)
                /* ENOTTY, EINVAL: no such ioctl; ESRCH: reaped, and a
                 * kernel that kept no exit status (6.13, 6.14). */
                return errno == ENOTTY || errno == EINVAL || errno == ESRCH ? -EOPNOTSUPP : -errno;
        if (!(info.mask & SPAWN_PIDFD_INFO_EXIT))
                return -EAGAIN; /* still a zombie: the status is recorded when it is reaped */
        *ret_status = info.exit_code;
        return 0;
}

int spawn_read_result(int sync_fd, char **ret_error)
{
        SpawnMessage m;
        ssize_t n;

        n = recv(sync_fd, &m, sizeof(m), MSG_DONTWAIT);
        if (n < 0)
                return errno == EAGAIN ? -EAGAIN : -errno;
        if (n == 0)
                return 0;
        if (n == 1 && ((char *)&m)[0] == 'c')
                return 1;
        /* Validate before use: the length decides how much text there is. */
        if ((size_t)n < offsetof(SpawnMessage, text) || m.error <= 0 || m.error >= 4096) {
                *ret_error = xstrdup("container setup failed (bad message from the child)");
                return -EPROTO;
        }
        *ret_error = xstrndup(m.text, (size_t)n - offsetof(SpawnMessage, text));
        return -m.error;
}
