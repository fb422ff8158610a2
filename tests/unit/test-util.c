/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/util: the ret_error helpers, write_all() and write_file_atomic(). */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"

static void test_errors(void)
{
        _cleanup_free_ char *e = NULL;
        char *none = NULL;

        is_int(error_set(&e, -ENOENT, "image `%s` not found", "db"), -ENOENT, "error_set returns r");
        is_str(e, "image `db` not found", "error_set formats the message");
        error_set(&e, -EINVAL, "second %d", 2);
        is_str(e, "second 2", "error_set replaces the message (the first is freed: ASan says so)");
        is_int(error_prefix(&e, -EINVAL, "layer entry `%s`", "etc/passwd"), -EINVAL, "error_prefix returns r");
        is_str(e, "layer entry `etc/passwd`: second 2", "error_prefix puts the context before the message");
        error_prefix(&none, -EACCES, "open `%s`", "/x");
        is_str(none, "open `/x`: Permission denied", "error_prefix without a message: strerror(-r)");
        free(none);
}

static char *slurp(const char *path)
{
        char *text = NULL;

        return read_full_file(path, 1 << 20, &text, NULL) < 0 ? NULL : text;
}

static void test_write_atomic(void)
{
        char dir[] = "/tmp/test-util.XXXXXX";
        _cleanup_free_ char *path = NULL, *tmp = NULL, *text = NULL, *link = NULL, *sub = NULL;
        struct stat st;

        if (!mkdtemp(dir)) {
                ok(false, "mkdtemp: %s", strerror(errno));
                return;
        }
        path = path_join(dir, "state");
        tmp = xasprintf("%s.tmp", path);
        is_int(write_file_atomic(path, "one\n", 4, 0600, true), 0, "write_file_atomic: a new file");
        text = slurp(path);
        is_str(text, "one\n", "its content");
        ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "its mode is 0600");
        is_int(write_file_atomic(path, "two, longer\n", 12, 0644, false), 0, "write_file_atomic: replaced");
        free(text);
        text = slurp(path);
        is_str(text, "two, longer\n", "the new content, whole");
        ok(access(tmp, F_OK) < 0 && errno == ENOENT, "no temporary file left");

        /* PATH.tmp a symlink (planted): not followed, the target untouched */
        link = path_join(dir, "target");
        is_int(write_file_atomic(link, "t", 1, 0600, false), 0, "write_file_atomic: the symlink's target");
        ok(symlink(link, tmp) == 0, "PATH.tmp planted as a symlink");
        is_int(write_file_atomic(path, "three", 5, 0600, false), -ELOOP, "a symlinked PATH.tmp: -ELOOP");
        free(text);
        text = slurp(link);
        is_str(text, "t", "the symlink's target is untouched");
        free(text);
        text = slurp(path);
        is_str(text, "two, longer\n", "the file is as before");

        /* a missing directory: an error, nothing made */
        sub = xasprintf("%s/no/such", dir);
        is_int(write_file_atomic(sub, "x", 1, 0600, false), -ENOENT, "a missing directory: -ENOENT");

        (void)unlink(tmp);
        (void)unlink(link);
        (void)unlink(path);
        ok(rmdir(dir) == 0, "nothing else was left in the directory");
}

/* 1 MiB through a pipe of 64 KiB: short writes, all of it arrives */
static void test_write_all(void)
{
        size_t size = 1 << 20;
        char *data = xmalloc(size), buf[8192];
        int p[2], st;
        pid_t pid;

        for (size_t i = 0; i < size; i++)
                data[i] = (char)(i * 7);
        ok(pipe(p) == 0, "a pipe");
        pid = fork();
        if (pid == 0) {
                size_t n = 0, sum = 0;
                ssize_t k;
                close(p[1]);
                while ((k = read(p[0], buf, sizeof(buf))) > 0)
                        for (ssize_t i = 0; i < k; i++, n++)
                                sum += (unsigned char)buf[i] == (unsigned char)(char)(n * 7);
                _exit(n == (1 << 20) && sum == n ? 0 : 1);
        }
        close(p[0]);
        is_int(write_all(p[1], data, size), 0, "write_all: 1 MiB into a 64 KiB pipe");
        close(p[1]);
        ok(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "the reader got every byte, in order");

        /* the reader gone: -EPIPE (SIGPIPE ignored, as ccsupd does) */
        signal(SIGPIPE, SIG_IGN);
        ok(pipe(p) == 0, "another pipe");
        close(p[0]);
        is_int(write_all(p[1], data, 10), -EPIPE, "write_all: no reader: -EPIPE");
        close(p[1]);
        is_int(write_all(-1, data, 1), -EBADF, "write_all: a bad fd: -EBADF");
        is_int(write_all(-1, data, 0), 0, "write_all: nothing to write: 0, no system call");
        free(data);
}

int main(void)
{
        test_errors();
        test_write_all();
        test_write_atomic();
        return tap_done();
}
