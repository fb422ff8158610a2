/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the user namespace ranges (userns.h): subordinate ID files, the
 * default range, records, overlaps, stability. No namespace is made. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "userns.h"
#include "util.h"

static char dir[] = "/tmp/test-userns-XXXXXX";

static void write_file(const char *name, const char *text)
{
        _cleanup_free_ char *p = path_join(dir, name);
        FILE *f = fopen(p, "we");
        if (!f) {
                perror(p);
                return;
        }
        fputs(text, f);
        fclose(f);
}

/* Acquires for name; returns the base, or -1 with the error in *why. */
static long long acquire(const char *state, const char *name, UserNamespaceMode mode, uint32_t uid,
                         uint32_t count, char **why)
{
        UsernsRange r;
        *why = NULL;
        if (userns_range_acquire(state, name, mode, uid, count, &r, why) < 0)
                return -1;
        return r.base;
}

int main(void)
{
        if (!mkdtemp(dir))
                return ok(0, "mkdtemp"), tap_done();
        _cleanup_free_ char *su = path_join(dir, "subuid"), *sg = path_join(dir, "subgid");
        _cleanup_free_ char *state = path_join(dir, "state");
        setenv("CCSUP_SUBUID", su, 1);
        setenv("CCSUP_SUBGID", sg, 1);
        char *why = NULL;

        /* No files: the default range, slot after slot. */
        is_int(acquire(state, "a", USERNS_AUTO, 0, 65536, &why), 524288, "default range: first slot");
        is_int(acquire(state, "b", USERNS_AUTO, 0, 65536, &why), 589824, "second unit: next slot");
        is_int(acquire(state, "a", USERNS_AUTO, 0, 65536, &why), 524288, "the same range again");
        UsernsRange r = {};
        is_int(userns_range_read(state, "b", &r), 0, "b's record");
        ok(r.base == 589824 && r.count == 65536, "b's record holds its range");
        is_int(userns_range_read(state, "none", &r), -ENOENT, "no record of an unknown unit");

        /* Explicit ranges against the default range and the records. */
        is_int(acquire(state, "c", USERNS_RANGE, 100000, 65536, &why), -1, "outside the default range");
        ok(why && strstr(why, "lies outside the default range 524288-1879048191"), "names the default range");
        free(why);
        is_int(acquire(state, "c", USERNS_RANGE, 589824 + 1000, 10, &why), -1, "inside b's range");
        is_str(why, "user namespace range 590824:10 overlaps unit b's 589824:65536", "names b");
        free(why);
        is_int(acquire(state, "c", USERNS_RANGE, 700000, 10, &why), 700000, "a free explicit range");
        is_int(acquire(state, "d", USERNS_AUTO, 0, 65536, &why), 720896, "auto skips c's range");

        /* A ccsup entry and another user's. */
        write_file("subuid", "# comment\nalice:2000000:65536\nccsup:1934464:196608\nbroken line\n");
        write_file("subgid", "ccsup:1934464:196608\n");
        _cleanup_free_ char *state2 = path_join(dir, "state2");
        is_int(acquire(state2, "a", USERNS_AUTO, 0, 65536, &why), 1934464, "first slot of the ccsup entry");
        is_int(acquire(state2, "b", USERNS_AUTO, 0, 65536, &why), 2065536, "alice's slot is skipped");
        is_int(acquire(state2, "c", USERNS_AUTO, 0, 65536, &why), -1, "the entry is full");
        ok(why && strstr(why, "no free range of 65536 IDs"), "says it is full");
        free(why);
        is_int(acquire(state2, "e", USERNS_RANGE, 2000000, 100, &why), -1, "alice's IDs");
        _cleanup_free_ char *want = xasprintf("user namespace range 2000000:100 overlaps user alice's 2000000:65536 in %s", su);
        is_str(why, want, "names alice and the file");
        free(why);
        is_int(acquire(state2, "e", USERNS_RANGE, 524288, 100, &why), -1, "outside the ccsup entry");
        _cleanup_free_ char *want2 = xasprintf("user namespace range 524288:100 lies outside the `ccsup` entries of %s", su);
        is_str(why, want2, "names the file");
        free(why);
        /* A recorded range the files no longer allow is picked again. */
        write_file("subuid", "ccsup:3000000:65536\n");
        write_file("subgid", "ccsup:3000000:65536\n");
        is_int(acquire(state2, "a", USERNS_AUTO, 0, 65536, &why), 3000000, "moved with the files");

        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
        if (system(cmd) != 0)
                tap_diag("cleanup failed");
        return tap_done();
}
