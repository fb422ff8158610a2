/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "caps.h"
#include "parse.h"
#include "util.h"

int caps_last_cap(void)
{
        _cleanup_free_ char *s = NULL;
        size_t n;
        int last = capability_last();

        if (read_full_file("/proc/sys/kernel/cap_last_cap", 64, &s, &n) >= 0) {
                int k = atoi(s);
                /* Never name capabilities this build has no name for, nor
                 * ones beyond a 64-bit mask. */
                if (k > 0 && k < last)
                        last = k;
        }
        return last < 63 ? last : 63;
}

uint64_t caps_bounding_set(int last_cap)
{
        uint64_t m = 0;

        for (int c = 0; c <= last_cap; c++)
                if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) > 0)
                        m |= UINT64_C(1) << c;
        return m;
}

int caps_drop_bounding(uint64_t keep, int last_cap)
{
        for (int c = 0; c <= last_cap; c++) {
                if (keep & (UINT64_C(1) << c))
                        continue;
                if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                        return -errno;
        }
        return 0;
}

int caps_switch_user(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups)
{
        /* Without KEEPCAPS, setresuid() away from 0 clears the permitted set,
         * and the capabilities could not be given back. */
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return -errno;
        if (setgroups(n_groups, groups) < 0)
                return -errno;
        if (setresgid(gid, gid, gid) < 0)
                return -errno;
        if (setresuid(uid, uid, uid) < 0)
                return -errno;
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
                return -errno;
        return 0;
}

int caps_set_all(uint64_t effective, uint64_t permitted, uint64_t inheritable, uint64_t ambient,
                 int last_cap)
{
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};

        d[0].effective = (uint32_t)effective;
        d[1].effective = (uint32_t)(effective >> 32);
        d[0].permitted = (uint32_t)permitted;
        d[1].permitted = (uint32_t)(permitted >> 32);
        d[0].inheritable = (uint32_t)inheritable;
        d[1].inheritable = (uint32_t)(inheritable >> 32);
        if (syscall(SYS_capset, &h, d) < 0)
                return -errno;

        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
                return -errno;
        for (int c = 0; c <= last_cap; c++)
                if ((ambient & (UINT64_C(1) << c)) &&
                    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
                        return -errno;
        return 0;
}

int caps_apply(uint64_t permitted, uint64_t ambient, int last_cap)
{
        ambient &= permitted;
        return caps_set_all(permitted, permitted, ambient, ambient, last_cap);
}

void caps_for_user(uid_t uid, uint64_t set, uint64_t ambient, uint64_t *ret_permitted,
                   uint64_t *ret_ambient)
{
        if (uid == 0) {
                /* Root gets the whole set back at every execve anyway;
                 * inheritable and ambient would only leak it to a program
                 * that drops to another uid. */
                *ret_permitted = set;
                *ret_ambient = 0;
        } else {
                *ret_permitted = *ret_ambient = ambient & set;
        }
}
