/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* User, group and environment resolution of directory images (lib/image). */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "tap.h"
#include "util.h"

static char root[] = "/tmp/ccsup-test-image-XXXXXX";

static void put(const char *rel, const char *text)
{
        _cleanup_free_ char *p = path_join(root, rel);
        FILE *f = fopen(p, "we");

        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

static void check_users(void)
{
        ImageUser u = {};
        char *err = NULL;

        is_int(image_resolve_user(root, "alice", NULL, NULL, &u, &err), 0, "user by name");
        is_int(u.uid, 1000, "alice's uid");
        is_int(u.gid, 100, "alice's primary group");
        is_str(u.home, "/home/alice", "alice's home");
        is_int(u.n_groups, 1, "alice is a member of one group");
        is_int(u.n_groups ? u.groups[0] : 0, 10, "that is wheel");
        image_user_done(&u);

        char *supp[] = { (char *)"audio", (char *)"77", NULL };
        is_int(image_resolve_user(root, "1000", "wheel", supp, &u, &err), 0, "uid:group + supplementary");
        is_int(u.gid, 10, "group by name");
        is_int(u.n_groups, 3, "member group and two supplementary groups");
        image_user_done(&u);

        is_int(image_resolve_user(root, "4242", NULL, NULL, &u, &err), 0, "a uid not in passwd");
        is_int(u.gid, 0, "gets group 0");
        is_str(u.home, "/", "and HOME=/");
        image_user_done(&u);

        is_int(image_resolve_user(root, NULL, NULL, NULL, &u, &err), 0, "default user");
        is_int(u.uid, 0, "is root");
        is_str(u.home, "/root", "with root's home");
        image_user_done(&u);

        ok(image_resolve_user(root, "nosuch", NULL, NULL, &u, &err) < 0, "unknown user fails");
        is_str(err, "user `nosuch` not found in the image's /etc/passwd", "with a clear message");
        free(err);
        err = NULL;
        ok(image_resolve_user(root, "alice", "nogrp", NULL, &u, &err) < 0, "unknown group fails");
        is_str(err, "group `nogrp` not found in the image's /etc/group", "with a clear message");
        free(err);
}

/* An absolute symlink in the image resolves inside the image, never on the
 * host: /etc/passwd -> /etc/passwd.real. */
static void check_symlink(void)
{
        _cleanup_free_ char *p = path_join(root, "etc/passwd");
        ImageUser u = {};
        char *err = NULL;

        put("etc/passwd.real", "bob:x:2000:2000::/b:/bin/sh\n");
        unlink(p);
        ok(symlink("/etc/passwd.real", p) == 0, "symlinked passwd");
        is_int(image_resolve_user(root, "bob", NULL, NULL, &u, &err), 0,
               "absolute symlink resolved inside the image");
        is_int(u.uid, 2000, "bob's uid");
        image_user_done(&u);
        free(err);
}

/* A FIFO where /etc/passwd belongs (an image is untrusted) is no file to
 * read: opening it for reading would wait for a writer, and ccsupd's loop
 * with it. An alarm turns a hang into a failure. */
static void check_fifo(void)
{
        _cleanup_free_ char *p = path_join(root, "etc/passwd");
        ImageUser u = {};
        char *err = NULL;

        unlink(p);
        ok(mkfifo(p, 0644) == 0, "FIFO as /etc/passwd");
        alarm(10);
        is_int(image_resolve_user(root, "0", NULL, NULL, &u, &err), 0, "uid 0 resolves, no wait");
        ok(image_resolve_user(root, "alice", NULL, NULL, &u, &err) < 0, "names do not");
        alarm(0);
        image_user_done(&u);
        free(err);
        unlink(p);
}

static void check_env_file(void)
{
        _cleanup_free_ char *p = path_join(root, "env");
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *want = NULL;
        char *err = NULL;

        put("env", "# comment\n\nA=1\n  B = x\nC=two words\nA=3\n");
        ok(env_file_read(p, &env, &err) < 0, "a bad line fails");
        want = xasprintf("environment file `%s`, line 4: invalid assignment", p);
        is_str(err, want, "names file and line");
        free(err);
        err = NULL;
        strv_free(TAKE_PTR(env));

        put("env", "# comment\n\nA=1\n; other\nC=two words\nA=3\n");
        is_int(env_file_read(p, &env, &err), 0, "good file");
        is_str(env_get(env, "A"), "3", "last assignment wins");
        is_str(env_get(env, "C"), "two words", "spaces kept");
        is_int(strv_length(env), 2, "two variables");
}

int main(void)
{
        _cleanup_free_ char *cmd = NULL;

        if (!mkdtemp(root))
                return 1;
        cmd = path_join(root, "etc");
        mkdir(cmd, 0755);
        put("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:100::/home/alice:/bin/sh\n"
                          "broken\n");
        put("etc/group", "root:x:0:\nwheel:x:10:bob,alice\naudio:x:29:\nusers:x:100:\n");

        check_users();
        check_symlink();
        check_fifo();
        check_env_file();

        free(cmd);
        cmd = xasprintf("rm -rf '%s'", root);
        (void)!system(cmd);
        return tap_done();
}
