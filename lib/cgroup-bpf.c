/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The device allowlist of a cgroup2 cgroup: a BPF_PROG_TYPE_CGROUP_DEVICE
 * program, assembled here from the rules and loaded with bpf(2) (no
 * libbpf). The kernel runs it for every open and mknod of a device node by
 * a process of the cgroup (and of its children); 1 allows, 0 denies (EPERM).
 */
#include <assert.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>

#include "cgroup-internal.h"
#include "util.h"

/* One "TYPE MAJOR:MINOR ACCESS" rule; -1 for a "*" number, type 'a' any. */
typedef struct DeviceRule {
        char type;
        int64_t major, minor;
        unsigned access; /* BPF_DEVCG_ACC_* */
} DeviceRule;

static int parse_number(const char *s, size_t n, int64_t *ret)
{
        uint64_t v = 0;

        if (n == 1 && s[0] == '*') {
                *ret = -1;
                return 0;
        }
        if (n == 0 || n > 10)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t)(s[i] - '0');
        }
        if (v > UINT32_MAX)
                return -EINVAL;
        *ret = (int64_t)v;
        return 0;
}

/* "c 1:3 rwm", "b 7:0 r", "c 136:* rw", "a". */
int cg_device_rule_parse(const char *s, char *ret_type, int64_t *ret_major, int64_t *ret_minor,
                         unsigned *ret_access)
{
        const char *colon, *space;
        unsigned access = 0;
        int r;

        if (streq(s, "a")) {
                *ret_type = 'a';
                *ret_major = *ret_minor = -1;
                *ret_access = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
                return 0;
        }
        if ((s[0] != 'c' && s[0] != 'b') || s[1] != ' ')
                return -EINVAL;
        colon = strchr(s + 2, ':');
        space = colon ? strchr(colon, ' ') : NULL;
        if (!space)
                return -EINVAL;
        r = parse_number(s + 2, (size_t)(colon - s - 2), ret_major);
        if (r < 0)
                return r;
        r = parse_number(colon + 1, (size_t)(space - colon - 1), ret_minor);
        if (r < 0)
                return r;
        for (const char *a = space + 1; *a; a++)
                switch (*a) {
                case 'r': access |= BPF_DEVCG_ACC_READ; break;
                case 'w': access |= BPF_DEVCG_ACC_WRITE; break;
                case 'm': access |= BPF_DEVCG_ACC_MKNOD; break;
                default: return -EINVAL;
                }
        if (access == 0)
                return -EINVAL;
        *ret_type = s[0];
        *ret_access = access;
        return 0;
}

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
        return (struct bpf_insn){ .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

#define LDX_W(dst, src, off) insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
#define ALU32_K(op, dst, imm) insn(BPF_ALU | (op) | BPF_K, dst, 0, 0, imm)
#define MOV64_X(dst, src) insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV64_K(dst, imm) insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define JNE_K(dst, imm) insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, 0, imm) /* off patched */
#define EXIT() insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/*
 * The program. r1 is the struct bpf_cgroup_dev_ctx; first
 *     r2 = device type (BPF_DEVCG_DEV_*), r3 = access (BPF_DEVCG_ACC_*),
 *     r4 = major, r5 = minor,
 * then for each rule a block that falls through to "return 1" when the
 * request matches and jumps over it to the next block when a field
 * differs; after the last, "return 0". *ret is malloc'd.
 */
static int build_program(char *const *rules, struct bpf_insn **ret, size_t *ret_n)
{
        size_t n = 0, cap = 8 + 8 * strv_length(rules);
        struct bpf_insn *p = xcalloc(cap, sizeof(*p));

        p[n++] = LDX_W(BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
        p[n++] = ALU32_K(BPF_AND, BPF_REG_2, 0xffff);
        p[n++] = LDX_W(BPF_REG_3, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type));
        p[n++] = ALU32_K(BPF_RSH, BPF_REG_3, 16);
        p[n++] = LDX_W(BPF_REG_4, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major));
        p[n++] = LDX_W(BPF_REG_5, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor));

        STRV_FOREACH(rule, rules) {
                size_t jumps[4], n_jumps = 0, start = n;
                int64_t major, minor;
                unsigned access;
                char type;
                int r;

                r = cg_device_rule_parse(*rule, &type, &major, &minor, &access);
                if (r < 0) {
                        free(p);
                        return r;
                }
                if (type != 'a') {
                        jumps[n_jumps++] = n;
                        p[n++] = JNE_K(BPF_REG_2, type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK);
                }
                if (access != (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)) {
                        /* Every access asked for must be in the rule's. */
                        p[n++] = MOV64_X(BPF_REG_1, BPF_REG_3);
                        p[n++] = ALU32_K(BPF_AND, BPF_REG_1, (int32_t)~access);
                        jumps[n_jumps++] = n;
                        p[n++] = JNE_K(BPF_REG_1, 0);
                }
                if (major >= 0) {
                        jumps[n_jumps++] = n;
                        p[n++] = JNE_K(BPF_REG_4, (int32_t)(uint32_t)major);
                }
                if (minor >= 0) {
                        jumps[n_jumps++] = n;
                        p[n++] = JNE_K(BPF_REG_5, (int32_t)(uint32_t)minor);
                }
                p[n++] = MOV64_K(BPF_REG_0, 1);
                p[n++] = EXIT();
                /* A jump's offset counts from the instruction after it. */
                for (size_t j = 0; j < n_jumps; j++)
                        p[jumps[j]].off = (int16_t)(n - jumps[j] - 1);
                assert(n - start <= 8);
        }
        p[n++] = MOV64_K(BPF_REG_0, 0);
        p[n++] = EXIT();
        *ret = p;
        *ret_n = n;
        return 0;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
        long r = syscall(SYS_bpf, cmd, attr, sizeof(*attr));

        return r < 0 ? -errno : (int)r;
}

int cg2_device_program_load(char *const *rules, char **ret_log)
{
        _cleanup_free_ struct bpf_insn *prog = NULL;
        static char log[4096];
        union bpf_attr attr;
        size_t n;
        int fd, r;

        r = build_program(rules, &prog, &n);
        if (r < 0)
                return r;
        memset(&attr, 0, sizeof(attr));
        attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
        attr.insns = (uint64_t)(uintptr_t)prog;
        attr.insn_cnt = (uint32_t)n;
        attr.license = (uint64_t)(uintptr_t)"GPL";
        fd = sys_bpf(BPF_PROG_LOAD, &attr);
        if (fd >= 0 || fd != -EINVAL || !ret_log)
                return fd;
        /* Again, to have the verifier say why. */
        log[0] = '\0';
        attr.log_buf = (uint64_t)(uintptr_t)log;
        attr.log_size = sizeof(log);
        attr.log_level = 1;
        fd = sys_bpf(BPF_PROG_LOAD, &attr);
        if (fd < 0 && log[0])
                *ret_log = xstrdup(log);
        return fd;
}

/* The ids of the device programs attached to the cgroup itself. */
static int query_programs(int cgfd, uint32_t *ids, uint32_t *n)
{
        union bpf_attr attr;
        int r;

        memset(&attr, 0, sizeof(attr));
        attr.query.target_fd = (uint32_t)cgfd;
        attr.query.attach_type = BPF_CGROUP_DEVICE;
        attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
        attr.query.prog_cnt = *n;
        r = sys_bpf(BPF_PROG_QUERY, &attr);
        if (r < 0)
                return r;
        *n = attr.query.prog_cnt < *n ? attr.query.prog_cnt : *n;
        return 0;
}

static int detach_program(int cgfd, uint32_t id)
{
        _cleanup_close_ int fd = -1;
        union bpf_attr attr;

        memset(&attr, 0, sizeof(attr));
        attr.prog_id = id;
        fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
        if (fd < 0)
                return fd == -ENOENT ? 0 : fd;
        memset(&attr, 0, sizeof(attr));
        attr.target_fd = (uint32_t)cgfd;
        attr.attach_bpf_fd = (uint32_t)fd;
        attr.attach_type = BPF_CGROUP_DEVICE;
        return sys_bpf(BPF_PROG_DETACH, &attr);
}

int cg2_device_program_attach(const char *dir, int prog_fd)
{
        _cleanup_close_ int cgfd = -1;
        uint32_t old[64], n_old = ELEMENTSOF(old);
        union bpf_attr attr;
        int r;

        cgfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cgfd < 0)
                return -errno;
        /* A reused cgroup may still hold the program of an earlier start:
         * programs attached with BPF_F_ALLOW_MULTI all have to allow, so
         * the old one goes once the new one is in place. */
        r = query_programs(cgfd, old, &n_old);
        if (r < 0)
                n_old = 0;
        memset(&attr, 0, sizeof(attr));
        attr.target_fd = (uint32_t)cgfd;
        attr.attach_bpf_fd = (uint32_t)prog_fd;
        attr.attach_type = BPF_CGROUP_DEVICE;
        /* Ancestors' programs (systemd's, a nested ccsupd's) keep running. */
        attr.attach_flags = BPF_F_ALLOW_MULTI;
        r = sys_bpf(BPF_PROG_ATTACH, &attr);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < n_old; i++) {
                r = detach_program(cgfd, old[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}
