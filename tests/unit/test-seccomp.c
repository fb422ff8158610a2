/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/seccomp-*: the built-in profile and a JSON one, each loaded for real in
 * a forked child (no_new_privs, then the filter) that reports what a few
 * system calls return; the cache of compiled filters (same bytes, a
 * damaged entry compiled again); the JSON loader's errors and warnings. */

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "child.h"
#include "seccomp-profile.h"
#include "tap.h"
#include "util.h"

#define CAP(c) (UINT64_C(1) << (c))

static char dir[] = "/tmp/ccsup-test-seccomp.XXXXXX";

/* The errno of each probe under p, from a child: 0 for success. */
enum { P_GETPID, P_UNSHARE_NET, P_CLONE3, P_KEXEC, P_MOUNT, P_TIOCSTI, P_GETCWD, P_MAX };

static int probe(int which)
{
        char buf[64];
        long r;

        switch (which) {
        case P_GETPID: r = getpid() > 0 ? 0 : -1; break;
        case P_UNSHARE_NET: r = unshare(CLONE_NEWNET); break;
        case P_CLONE3: r = syscall(SYS_clone3, NULL, 0); break;
        case P_KEXEC: r = syscall(SYS_kexec_load, 0, 0, NULL, 0); break;
        /* bad arguments: EFAULT/ENOENT when allowed, EPERM when filtered */
        case P_MOUNT: r = mount("/nonexistent-ccsup", "/nonexistent-ccsup", NULL, MS_BIND, NULL); break;
        case P_TIOCSTI: r = ioctl(0, TIOCSTI, "x"); break;
        case P_GETCWD: r = getcwd(buf, sizeof(buf)) ? 0 : -1; break;
        default: return -1;
        }
        return r < 0 ? errno : 0;
}

static int probe_all(const void *data, int *out, size_t n)
{
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_profile_load(data) < 0)
                return -1;
        for (size_t k = 0; k < n; k++)
                out[k] = probe((int)k);
        return 0;
}

/* The mount probe runs in a mount namespace of its own (run_in_child()):
 * it can never reach the host's mounts, even if it succeeded. */
static bool run_under(const SeccompProfile *p, int got[P_MAX])
{
        return run_in_child(probe_all, p, got, P_MAX);
}

static void builtin(void)
{
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = NULL, *admin = NULL;
        int got[P_MAX];

        int r = seccomp_profile_compile(0, &p);
        ok(r == 0 && p->prog.len > 0, "built-in profile compiles (%u instructions)", r == 0 ? p->prog.len : 0);
        ok(run_under(p, got), "a child loads it and runs");
        is_int(got[P_GETPID], 0, "getpid allowed");
        is_int(got[P_GETCWD], 0, "getcwd allowed");
        is_int(got[P_UNSHARE_NET], EPERM, "unshare(CLONE_NEWNET) refused with EPERM");
        is_int(got[P_CLONE3], ENOSYS, "clone3 fails with ENOSYS (libc falls back to clone)");
        is_int(got[P_KEXEC], EPERM, "kexec_load refused with EPERM");
        is_int(got[P_MOUNT], EPERM, "mount without CAP_SYS_ADMIN in the set: EPERM");
        is_int(got[P_TIOCSTI], EPERM, "ioctl TIOCSTI refused with EPERM");

        ok(seccomp_profile_compile(CAP(CAP_SYS_ADMIN), &admin) == 0, "profile for a set with CAP_SYS_ADMIN compiles");
        ok(run_under(admin, got), "a child loads that one");
        ok(got[P_MOUNT] != EPERM, "mount reaches the kernel with CAP_SYS_ADMIN in the set (errno %d)", got[P_MOUNT]);
        is_int(got[P_KEXEC], EPERM, "kexec_load still refused");
}

static void cache(void)
{
        _cleanup_free_ char *cdir = xasprintf("%s/cache", dir);
        _cleanup_(seccomp_profile_freep) SeccompProfile *a = NULL, *b = NULL, *c = NULL;

        ok(seccomp_profile_get(0, cdir, &a) == 0, "first get compiles and stores");
        ok(seccomp_profile_get(0, cdir, &b) == 0, "second get (from the cache)");
        ok(a && b && a->prog.len == b->prog.len &&
                   memcmp(a->prog.filter, b->prog.filter, sizeof(struct sock_filter) * a->prog.len) == 0,
           "the cached filter is the compiled one, instruction for instruction");

        /* damage every entry: the next get compiles again, no error */
        _cleanup_free_ char *cmd = xasprintf("for f in '%s'/*; do printf garbage > \"$f\"; done", cdir);
        ok(system(cmd) == 0, "cache entries overwritten with garbage");
        ok(seccomp_profile_get(0, cdir, &c) == 0 && c->prog.len == a->prog.len &&
                   memcmp(a->prog.filter, c->prog.filter, sizeof(struct sock_filter) * a->prog.len) == 0,
           "a damaged entry is compiled again, to the same filter");
}

static char *profile(const char *name, const char *text)
{
        char *path = xasprintf("%s/%s.json", dir, name);
        ok(write_file_atomic(path, text, strlen(text), 0600, false) == 0, "wrote %s", name);
        return path;
}

static void json_bad(const char *name, const char *text, const char *want)
{
        _cleanup_free_ char *path = profile(name, text), *err = NULL;
        SeccompProfile *p = NULL;
        int r = seccomp_profile_get_json(path, 0, NULL, &p, NULL, &err);

        ok(r == -EINVAL && err && strstr(err, want), "%s refused: %s", name, err ? err : "(no message)");
        if (!(err && strstr(err, want)))
                tap_diag("want: %s", want);
        seccomp_profile_free(p);
}

static void json(void)
{
        /* allowlist: everything fails with EACCES but what the child needs
         * (the sanitizers' runtime too: sigaltstack, madvise… at exit) */
        _cleanup_free_ char *path =
                profile("allow", "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":13,\"syscalls\":["
                                 "{\"names\":[\"getpid\",\"write\",\"exit_group\",\"exit\",\"brk\",\"mmap\",\"munmap\","
                                 "\"rt_sigreturn\",\"rt_sigaction\",\"rt_sigprocmask\",\"sigaltstack\",\"madvise\","
                                 "\"mprotect\",\"futex\",\"gettid\",\"tgkill\",\"sched_yield\",\"prctl\",\"readlink\","
                                 "\"openat\",\"read\",\"close\",\"fstat\",\"newfstatat\",\"no_such_call_ccsup\"],"
                                 "\"action\":\"SCMP_ACT_ALLOW\"},"
                                 "{\"names\":[\"unshare\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1}]}");
        _cleanup_(seccomp_profile_freep) SeccompProfile *p = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_free_ char *err = NULL;
        int got[P_MAX];

        ok(seccomp_profile_get_json(path, 0, NULL, &p, &warnings, &err) == 0, "JSON profile loads: %s",
           err ? err : "ok");
        ok(strv_length(warnings) == 1 && strstr(warnings[0], "no_such_call_ccsup"),
           "an unknown system call is skipped with one warning: %s", warnings && warnings[0] ? warnings[0] : "(none)");
        ok(p && run_under(p, got), "a child loads it and runs");
        is_int(got[P_GETPID], 0, "getpid allowed");
        is_int(got[P_GETCWD], EACCES, "getcwd: the default action, errno 13");
        is_int(got[P_UNSHARE_NET], EPERM, "unshare: its own errnoRet 1");

        json_bad("notjson", "{\"defaultAction\": ", "not valid JSON");
        json_bad("noaction", "{\"syscalls\":[]}", "`defaultAction`: missing");
        json_bad("badaction", "{\"defaultAction\":\"SCMP_ACT_MAYBE\"}", "unknown action `SCMP_ACT_MAYBE`");
        json_bad("badarch", "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_VAX\"]}",
                 "unknown architecture `SCMP_ARCH_VAX`");
        json_bad("namesnotarray",
                 "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[7],\"action\":\"SCMP_ACT_ALLOW\"}]}",
                 "names[0]");
}

int main(void)
{
        if (geteuid() != 0) {
                printf("1..0 # SKIP needs root (seccomp filters after no_new_privs work unprivileged, but the\n"
                       "# CAP_SYS_ADMIN probe mounts)\n");
                return 0;
        }
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        builtin();
        cache();
        json();
        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
        if (system(cmd) != 0)
                tap_diag("could not remove %s", dir);
        return tap_done();
}
