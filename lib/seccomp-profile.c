/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include "seccomp-internal.h"
#include "seccomp-profile.h"
#include "sha256.h"
#include "unit.h"
#include "util.h"

/* Allowed without conditions. Names unknown to libseccomp or to an
 * architecture are skipped. */
static const char *const allowed_syscalls[] = {
        "accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk",
        "cachestat", "capget", "capset", "chdir", "chmod", "chown", "chown32", "chroot",
        "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
        "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
        "close", "close_range", "connect", "copy_file_range", "creat", "dup", "dup2", "dup3",
        "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
        "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve",
        "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
        "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
        "fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
        "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat",
        "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64",
        "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake",
        "futimesat", "get_mempolicy", "get_robust_list", "get_thread_area", "getcpu",
        "getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid", "geteuid32",
        "getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername",
        "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
        "getresgid32", "getresuid", "getresuid32", "getrlimit", "getrusage", "getsid",
        "getsockname", "getsockopt", "gettid", "gettimeofday", "getuid", "getuid32",
        "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
        "inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents", "io_pgetevents",
        "io_pgetevents_time64", "io_setup", "io_submit", "ioprio_get",
        "ioprio_set", "ipc", "kcmp", "kill", "landlock_add_rule", "landlock_create_ruleset",
        "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat",
        "listen", "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek",
        "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack", "mbind",
        "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat",
        "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "modify_ldt",
        "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
        "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink",
        "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall",
        "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open",
        "openat", "openat2", "pause", "pidfd_getfd", "pidfd_open", "pidfd_send_signal",
        "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll",
        "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
        "process_madvise", "process_mrelease", "process_vm_readv", "process_vm_writev",
        "pselect6", "pselect6_time64", "ptrace", "pwrite64", "pwritev", "pwritev2", "read",
        "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg",
        "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename",
        "renameat", "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction",
        "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
        "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
        "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity",
        "sched_getattr", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
        "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
        "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
        "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
        "sendfile64", "sendmmsg", "sendmsg", "sendto", "set_mempolicy", "set_robust_list",
        "set_thread_area", "set_tid_address", "setfsgid", "setfsgid32", "setfsuid",
        "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
        "setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
        "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "setsid",
        "setsockopt", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt",
        "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask",
        "sigreturn", "socket", "socketcall", "socketpair", "splice", "stat", "stat64",
        "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
        "sync_file_range2", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
        "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
        "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime",
        "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times", "tkill",
        "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat",
        "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4",
        "waitid", "waitpid", "write", "writev",
};

/* Allowed only when the container holds the capability that makes them
 * useful (Docker does the same). */
static const struct {
        int cap;
        const char *const *names;
} cap_syscalls[] = {
        { 21 /* SYS_ADMIN */, (const char *const[]){ "bpf", "fanotify_init", "fsconfig", "fsmount",
                "fsopen", "fspick", "lookup_dcookie", "mount", "mount_setattr", "move_mount",
                "open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname",
                "sethostname", "setns", "syslog", "umount", "umount2", "unshare", NULL } },
        { 22 /* SYS_BOOT */, (const char *const[]){ "reboot", NULL } },
        { 16 /* SYS_MODULE */, (const char *const[]){ "delete_module", "init_module",
                "finit_module", NULL } },
        { 20 /* SYS_PACCT */, (const char *const[]){ "acct", NULL } },
        { 17 /* SYS_RAWIO */, (const char *const[]){ "iopl", "ioperm", NULL } },
        { 25 /* SYS_TIME */, (const char *const[]){ "settimeofday", "stime", "clock_settime",
                "clock_settime64", NULL } },
        { 26 /* SYS_TTY_CONFIG */, (const char *const[]){ "vhangup", NULL } },
        { 34 /* SYSLOG */, (const char *const[]){ "syslog", NULL } },
        { 39 /* BPF */, (const char *const[]){ "bpf", NULL } },
        { 38 /* PERFMON */, (const char *const[]){ "perf_event_open", NULL } },
};

/* personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26
 * variants, and the query 0xffffffff. */
static const unsigned long allowed_personas[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };

/* ioctl(2) requests refused (EPERM) whatever else is allowed: TIOCSTI
 * pushes characters into a terminal's input, TIOCLINUX's selection paste
 * does the same on a virtual console. `ccsupctl exec` hands the operator's
 * terminal to a container process, and Linux < 6.2 has no
 * dev.tty.legacy_tiocsti to turn TIOCSTI off. The ioctl(2) command is an
 * int in the kernel: only its low 32 bits are compared. */
static const uint32_t denied_ioctls[] = { TIOCSTI, TIOCLINUX };

#define NAMESPACE_FLAGS                                                                   \
        (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |      \
         CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME)


static void allow_name(scmp_filter_ctx ctx, const char *name)
{
        int nr = seccomp_syscall_resolve_name(name);

        /* Fails only for calls some added architecture lacks. */
        if (nr != __NR_SCMP_ERROR)
                (void)seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

static bool ioctl_denied_prefix(uint32_t mask, uint32_t prefix)
{
        for (size_t i = 0; i < ELEMENTSOF(denied_ioctls); i++)
                if ((denied_ioctls[i] & mask) == prefix)
                        return true;
        return false;
}

/*
 * ioctl(2) with any request but denied_ioctls. An allowlist cannot say "not
 * equal under a mask", and libseccomp lets an unconditional allow absorb a
 * conditional deny of the same call: so the allowed requests are written as
 * the prefixes (of the low 32 bits) that no denied request starts with, one
 * masked-equal rule each: a binary trie walked down the denied values,
 * every sibling off their paths allowed whole (34 rules for two requests).
 */
static int allow_ioctl_except_denied(scmp_filter_ctx ctx, uint32_t prefix, int depth)
{
        uint32_t mask = depth == 0 ? 0 : UINT32_MAX << (32 - depth);
        int r;

        if (!ioctl_denied_prefix(mask, prefix))
                return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                                        SCMP_A1(SCMP_CMP_MASKED_EQ, mask, prefix));
        if (depth == 32)
                return 0; /* a denied request: the default action, EPERM */
        r = allow_ioctl_except_denied(ctx, prefix, depth + 1);
        if (r < 0)
                return r;
        return allow_ioctl_except_denied(ctx, prefix | (UINT32_C(1) << (31 - depth)), depth + 1);
}

static int add_rules(scmp_filter_ctx ctx, uint64_t caps)
{
        bool sys_admin = caps & (UINT64_C(1) << 21);
        int r;

        for (size_t i = 0; i < ELEMENTSOF(allowed_syscalls); i++)
                allow_name(ctx, allowed_syscalls[i]);
        for (size_t i = 0; i < ELEMENTSOF(cap_syscalls); i++)
                if (caps & (UINT64_C(1) << cap_syscalls[i].cap))
                        for (const char *const *n = cap_syscalls[i].names; *n; n++)
                                allow_name(ctx, *n);
        r = allow_ioctl_except_denied(ctx, 0, 0);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(allowed_personas); i++) {
                r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
                                     SCMP_A0(SCMP_CMP_EQ, allowed_personas[i]));
                if (r < 0)
                        return r;
        }
        /* With CAP_SYS_ADMIN namespaces are the container's business. */
        r = sys_admin ? seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 0)
                      : seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                                         SCMP_A0(SCMP_CMP_MASKED_EQ, NAMESPACE_FLAGS, 0));
        if (r < 0)
                return r;
        return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
}

/* libseccomp 2.5 exports only to an fd: go through a memfd. */
static int export_bpf(scmp_filter_ctx ctx, SeccompProfile *p)
{
        _cleanup_close_ int fd = -1;
        off_t size;
        int r;

        fd = memfd_create("ccsup-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return r;
        size = lseek(fd, 0, SEEK_END);
        if (size <= 0 || size % sizeof(struct sock_filter) != 0 ||
            size / sizeof(struct sock_filter) > BPF_MAXINSNS)
                return -EBADMSG;
        p->prog.len = (unsigned short)(size / sizeof(struct sock_filter));
        p->prog.filter = xmalloc((size_t)size);
        if (pread(fd, p->prog.filter, (size_t)size, 0) != size)
                return -EIO;
        return 0;
}

int seccomp_ctx_new(uint32_t default_action, bool native_family, scmp_filter_ctx *ret)
{
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        ctx = seccomp_init(default_action);
        if (!ctx)
                return -ENOMEM;
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                return r;
        /* The filter is loaded after NoNewPrivs is set or while CAP_SYS_ADMIN
         * is held; never let libseccomp set NNP behind our back. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                return r;
        /* A binary tree of syscall numbers instead of a linear list: the
         * kernel emulates the filter for every syscall number when it loads
         * it (its allow-cache), and a tree makes that, and every filtered
         * syscall of the container, logarithmic: 0.75 -> 0.28 ms per load. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
        if (r < 0)
                return r;
        if (native_family) {
#if defined(__x86_64__)
                r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
                if (r < 0 && r != -EEXIST)
                        return r;
                r = seccomp_arch_add(ctx, SCMP_ARCH_X32);
                if (r < 0 && r != -EEXIST)
                        return r;
#elif defined(__aarch64__)
                r = seccomp_arch_add(ctx, SCMP_ARCH_ARM);
                if (r < 0 && r != -EEXIST)
                        return r;
#endif
        }
        *ret = TAKE_PTR(ctx);
        return 0;
}

int seccomp_ctx_export(scmp_filter_ctx ctx, uint64_t caps, SeccompProfile **ret)
{
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = xcalloc(1, sizeof(*p));
        int r;

        p->caps = caps;
        r = export_bpf(ctx, p);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

int seccomp_profile_compile(uint64_t caps, SeccompProfile **ret)
{
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        r = seccomp_ctx_new(SCMP_ACT_ERRNO(EPERM), true, &ctx);
        if (r < 0)
                return r;
        r = add_rules(ctx, caps);
        if (r < 0)
                return r;
        return seccomp_ctx_export(ctx, caps, ret);
}

int seccomp_profile_compile_default(SeccompProfile **ret)
{
        return seccomp_profile_compile(unit_default_capabilities(), ret);
}

/* ---- the on-disk cache of compiled filters ------------------------------- */

/* Bump when the code that turns the tables into rules changes meaning: the
 * tables themselves are hashed into the key. */
#define SECCOMP_RULES_REVISION 2
#define CACHE_MAGIC "CCSUPBPF"

typedef struct CacheHeader {
        char magic[8];
        uint32_t n_insns;
        uint32_t reserved;
        uint8_t key[SHA256_DIGEST_SIZE];
        uint8_t check[SHA256_DIGEST_SIZE]; /* over key and instructions */
} CacheHeader;

static void hash_str(Sha256 *h, const char *s)
{
        sha256_update(h, s, strlen(s) + 1);
}

static void hash_u64(Sha256 *h, uint64_t v)
{
        sha256_update(h, &v, sizeof(v));
}

/* Everything the BPF depends on: libseccomp's version (its syscall tables),
 * the kernel (minKernel, which actions exist), the native architecture, the
 * capability set, and the profile (the built-in tables, or a JSON text). */
void seccomp_cache_key(uint64_t caps, const char *profile, size_t size,
                       uint8_t ret[SHA256_DIGEST_SIZE])
{
        const struct scmp_version *v = seccomp_version();
        struct utsname u;
        Sha256 h;

        sha256_init(&h);
        hash_str(&h, "ccsup seccomp " PACKAGE_VERSION);
        hash_u64(&h, SECCOMP_RULES_REVISION);
        hash_u64(&h, ((uint64_t)v->major << 32) | ((uint64_t)v->minor << 16) | v->micro);
        /* The kernel decides which actions libseccomp may use (its "API
         * level", probed with a dozen syscalls): name the kernel instead. */
        if (uname(&u) == 0) {
                hash_str(&h, u.release);
                hash_str(&h, u.version);
        }
        hash_u64(&h, seccomp_arch_native());
        hash_u64(&h, caps);
        if (profile) {
                hash_str(&h, "json");
                sha256_update(&h, profile, size);
                sha256_final(&h, ret);
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(allowed_syscalls); i++)
                hash_str(&h, allowed_syscalls[i]);
        for (size_t i = 0; i < ELEMENTSOF(cap_syscalls); i++) {
                hash_u64(&h, (uint64_t)cap_syscalls[i].cap);
                for (const char *const *n = cap_syscalls[i].names; *n; n++)
                        hash_str(&h, *n);
        }
        for (size_t i = 0; i < ELEMENTSOF(allowed_personas); i++)
                hash_u64(&h, allowed_personas[i]);
        for (size_t i = 0; i < ELEMENTSOF(denied_ioctls); i++)
                hash_u64(&h, denied_ioctls[i]);
        hash_u64(&h, NAMESPACE_FLAGS);
        sha256_final(&h, ret);
}

static void cache_check(const uint8_t key[SHA256_DIGEST_SIZE], const struct sock_fprog *prog,
                        uint8_t ret[SHA256_DIGEST_SIZE])
{
        Sha256 h;

        sha256_init(&h);
        sha256_update(&h, key, SHA256_DIGEST_SIZE);
        sha256_update(&h, prog->filter, prog->len * sizeof(struct sock_filter));
        sha256_final(&h, ret);
}

static char *cache_path(const char *dir, const uint8_t key[SHA256_DIGEST_SIZE])
{
        char hex[2 * SHA256_DIGEST_SIZE + 1];

        for (size_t i = 0; i < SHA256_DIGEST_SIZE; i++)
                snprintf(hex + 2 * i, 3, "%02x", key[i]);
        return xasprintf("%s/seccomp-%s.bpf", dir, hex);
}

/* A valid entry or nothing: any mismatch (size, magic, key, checksum) is a
 * miss, never an error. */
static SeccompProfile *cache_load(const char *path, const uint8_t key[SHA256_DIGEST_SIZE],
                                  uint64_t caps)
{
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = NULL;
        _cleanup_close_ int fd = -1;
        uint8_t check[SHA256_DIGEST_SIZE];
        CacheHeader hdr;
        struct stat st;
        size_t size;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
            (size_t)st.st_size <= sizeof(hdr))
                return NULL;
        if (pread(fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
            memcmp(hdr.magic, CACHE_MAGIC, sizeof(hdr.magic)) != 0 ||
            memcmp(hdr.key, key, SHA256_DIGEST_SIZE) != 0 || hdr.n_insns == 0 ||
            hdr.n_insns > BPF_MAXINSNS)
                return NULL;
        size = hdr.n_insns * sizeof(struct sock_filter);
        if ((size_t)st.st_size != sizeof(hdr) + size)
                return NULL;

        p = xcalloc(1, sizeof(*p));
        p->caps = caps;
        p->prog.len = (unsigned short)hdr.n_insns;
        p->prog.filter = xmalloc(size);
        if (pread(fd, p->prog.filter, size, sizeof(hdr)) != (ssize_t)size)
                return NULL;
        cache_check(key, &p->prog, check);
        if (memcmp(check, hdr.check, sizeof(check)) != 0)
                return NULL;
        return TAKE_PTR(p);
}

/* Written to a temporary file and renamed: readers see a whole entry or
 * none. No fsync: a torn entry after a crash fails validation. */
static void cache_store(const char *dir, const char *path, const uint8_t key[SHA256_DIGEST_SIZE],
                        const SeccompProfile *p)
{
        _cleanup_free_ char *tmp = xasprintf("%s/.seccomp.XXXXXX", dir);
        size_t size = p->prog.len * sizeof(struct sock_filter);
        CacheHeader hdr = { .n_insns = p->prog.len };
        int fd;
        bool ok;

        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return;
        memcpy(hdr.magic, CACHE_MAGIC, sizeof(hdr.magic));
        memcpy(hdr.key, key, SHA256_DIGEST_SIZE);
        cache_check(key, &p->prog, hdr.check);

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return;
        ok = write(fd, &hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr) &&
             write(fd, p->prog.filter, size) == (ssize_t)size;
        safe_close(fd);
        if (!ok || rename(tmp, path) < 0)
                (void)unlink(tmp);
}

SeccompProfile *seccomp_cache_load(const char *dir, const uint8_t key[SHA256_DIGEST_SIZE],
                                   uint64_t caps)
{
        _cleanup_free_ char *path = cache_path(dir, key);

        return cache_load(path, key, caps);
}

void seccomp_cache_store(const char *dir, const uint8_t key[SHA256_DIGEST_SIZE],
                         const SeccompProfile *p)
{
        _cleanup_free_ char *path = cache_path(dir, key);

        cache_store(dir, path, key, p);
}

int seccomp_profile_get(uint64_t caps, const char *cache_dir, SeccompProfile **ret)
{
        uint8_t key[SHA256_DIGEST_SIZE];
        SeccompProfile *p;
        int r;

        if (!cache_dir)
                return seccomp_profile_compile(caps, ret);
        seccomp_cache_key(caps, NULL, 0, key);
        p = seccomp_cache_load(cache_dir, key, caps);
        if (p) {
                *ret = p;
                return 0;
        }
        r = seccomp_profile_compile(caps, &p);
        if (r < 0)
                return r;
        seccomp_cache_store(cache_dir, key, p);
        *ret = p;
        return 0;
}

int seccomp_profile_load(const SeccompProfile *p)
{
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p->prog) < 0)
                return -errno;
        return 0;
}

SeccompProfile *seccomp_profile_free(SeccompProfile *p)
{
        if (p) {
                free(p->prog.filter);
                free(p);
        }
        return NULL;
}
