/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ccsupctl-edit.h"
#include "ccsupctl-image.h"
#include "ccsupctl-props.h"
#include "unit.h"
#include "util.h"

#define MAX_UNIT_FILE (1024 * 1024)
#define OVERRIDE "override.conf"

static void edit_help(void)
{
        printf("Usage: ccsupctl edit UNIT\n"
               "\n"
               "Edit the drop-in UNIT.unit.d/override.conf of the first directory of ccsupd's\n"
               "unit path (/etc/ccsup.d by default) with $EDITOR, else $VISUAL, else vi. The\n"
               "result is checked with the unit before it replaces the drop-in (an empty\n"
               "result removes it), then ccsupd reloads. A result with errors is refused,\n"
               "with its FILE:LINE: messages, and the old drop-in is kept.\n");
}

/* Runs the editor on path: $EDITOR may hold arguments ("emacs -nw"), as
 * for git, so it goes through the shell. */
static int run_editor(const char *path)
{
        const char *editor = getenv("EDITOR");
        _cleanup_free_ char *cmd = NULL;
        int st;
        pid_t pid;

        if (!editor || !*editor)
                editor = getenv("VISUAL");
        if (!editor || !*editor)
                editor = "vi";
        cmd = xasprintf("%s \"$@\"", editor);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                execl("/bin/sh", "sh", "-c", cmd, "sh", path, (char *)NULL);
                _exit(127);
        }
        while (waitpid(pid, &st, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "ccsupctl: edit: the editor `%s` failed (%s %d): nothing changed\n",
                        editor, WIFEXITED(st) ? "exit status" : "signal",
                        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
                return -ECANCELED;
        }
        return 0;
}

static const char *base_name(const char *p)
{
        const char *s = strrchr(p, '/');
        return s ? s + 1 : p;
}

/*
 * Parses the unit as ccsupd will once the override is text: its file, and
 * its drop-ins in file-name order with the override (at target) in its
 * place, shadowing a lower directory's override.conf. Prints the errors.
 */
static bool verify_with(const char *name, const char *fragment, char *const *dropins,
                        const char *target, const char *text)
{
        _cleanup_strv_free_ char **paths = NULL, **texts = NULL, **errors = NULL;
        UnitConfig *c = NULL;
        bool placed = false;
        char *t = NULL;
        int r;

        if (fragment) {
                if ((r = read_full_file(fragment, MAX_UNIT_FILE, &t, NULL)) < 0) {
                        fprintf(stderr, "%s: cannot read: %s\n", fragment, strerror(-r));
                        return false;
                }
                strv_add(&paths, fragment);
                strv_push(&texts, t);
        }
        STRV_FOREACH(d, dropins) {
                if (!placed && strcmp(base_name(*d), OVERRIDE) >= 0) {
                        strv_add(&paths, target);
                        strv_add(&texts, text);
                        placed = true;
                        if (streq(base_name(*d), OVERRIDE))
                                continue; /* the one replaced, or shadowed */
                }
                if ((r = read_full_file(*d, MAX_UNIT_FILE, &t, NULL)) < 0) {
                        fprintf(stderr, "%s: cannot read: %s\n", *d, strerror(-r));
                        return false;
                }
                strv_add(&paths, *d);
                strv_push(&texts, t);
        }
        if (!placed) {
                strv_add(&paths, target);
                strv_add(&texts, text);
        }
        r = unit_parse_texts(name, paths, texts, &c, &errors);
        unit_config_free(c);
        STRV_FOREACH(e, errors)
                fprintf(stderr, "%s\n", *e);
        return r >= 0 && !errors;
}

/* Writes text to dir/.#override.confXXXXXX (0644) and renames it over target. */
static int replace_file(const char *dir, const char *target, const char *text)
{
        _cleanup_free_ char *tmp = xasprintf("%s/.#" OVERRIDE "XXXXXX", dir);
        int fd, r = 0;

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fchmod(fd, 0644) < 0)
                r = -errno;
        if (r == 0)
                r = write_all(fd, text, strlen(text));
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, target) < 0)
                r = -errno;
        if (r < 0)
                (void)unlink(tmp);
        return r;
}

/* The editor's copy: a new file of the user's only. */
static int write_new_file(const char *path, const char *text)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

        return fd < 0 ? -errno : write_all(fd, text, strlen(text));
}

static bool blank(const char *s)
{
        return s[strspn(s, " \t\r\n")] == '\0';
}

static int do_reload(sd_bus *bus)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *name, *what;
        int r;

        r = sd_bus_call_method(bus, NULL, "/org/ccsup", "org.ccsup.Manager1", "Reload", &e, &reply, "");
        if (r < 0) {
                r = props_report_error("reload", &e, r);
                sd_bus_error_free(&e);
                return r;
        }
        r = sd_bus_message_enter_container(reply, 'a', "(ss)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ss)", &name, &what)) > 0)
                printf("%s %s\n", what, name);
        return r < 0 ? 1 : 0;
}

int verb_edit_run(int argc, char **argv, const char *socket_path)
{
        _cleanup_strv_free_ char **unit_path = NULL, **dropins = NULL;
        _cleanup_free_ char *name = NULL, *fragment = NULL, *dir = NULL, *target = NULL;
        _cleanup_free_ char *old = NULL, *text = NULL, *tmpdir = NULL, *copy = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        sd_bus *bus = NULL;
        const char *tmproot;
        int r, ret = 1;

        if (argc == 2 && (streq(argv[1], "-h") || streq(argv[1], "--help"))) {
                edit_help();
                return 0;
        }
        if (argc != 2 || argv[1][0] == '-') {
                fprintf(stderr, "ccsupctl: edit: takes one unit (see ccsupctl edit --help)\n");
                return 2;
        }
        r = ccsupctl_open_bus(socket_path, &bus);
        if (r < 0) {
                fprintf(stderr, "ccsupctl: cannot reach ccsupd at %s: %s\n", socket_path, strerror(-r));
                return 5;
        }
        const PropWant mwant[] = { { "UnitPath", 'S', &unit_path } };
        const PropWant uwant[] = {
                { "Name", 's', &name },
                { "FragmentPath", 's', &fragment },
                { "DropIns", 'S', &dropins },
        };
        r = props_call(bus, "GetManager", NULL, mwant, ELEMENTSOF(mwant), &e);
        if (r >= 0)
                r = props_call(bus, "GetUnit", argv[1], uwant, ELEMENTSOF(uwant), &e);
        if (r < 0) {
                ret = props_report_error(argv[1], &e, r);
                goto out;
        }
        if (!unit_path || !unit_path[0] || !name) {
                fprintf(stderr, "ccsupctl: edit: ccsupd did not say its unit path\n");
                goto out;
        }
        if (fragment && !*fragment) {
                free(fragment);
                fragment = NULL;
        }
        dir = xasprintf("%s/%s.unit.d", unit_path[0], name);
        target = xasprintf("%s/" OVERRIDE, dir);

        r = read_full_file(target, MAX_UNIT_FILE, &old, NULL);
        if (r < 0 && r != -ENOENT) {
                fprintf(stderr, "ccsupctl: edit: %s: %s\n", target, strerror(-r));
                goto out;
        }
        tmproot = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        tmpdir = xasprintf("%s/ccsupctl-edit.XXXXXX", tmproot);
        if (!mkdtemp(tmpdir)) {
                fprintf(stderr, "ccsupctl: edit: cannot make a directory in %s: %m\n", tmproot);
                free(tmpdir);
                tmpdir = NULL;
                goto out;
        }
        copy = xasprintf("%s/" OVERRIDE, tmpdir);
        if ((r = write_new_file(copy, old ? old : "")) < 0) {
                fprintf(stderr, "ccsupctl: edit: %s: %s\n", copy, strerror(-r));
                goto out;
        }
        if (run_editor(copy) < 0)
                goto out;
        if ((r = read_full_file(copy, MAX_UNIT_FILE, &text, NULL)) < 0) {
                fprintf(stderr, "ccsupctl: edit: %s: %s\n", copy, strerror(-r));
                goto out;
        }
        if (streq(text, old ? old : "") || (!old && blank(text))) {
                printf("%s: unchanged\n", target);
                ret = 0;
                goto out;
        }
        if (blank(text)) {
                /* Emptied: the drop-in goes, if the unit is valid without it. */
                if (!verify_with(name, fragment, dropins, target, "")) {
                        fprintf(stderr, "ccsupctl: edit: %s kept\n", target);
                        goto out;
                }
                if (unlink(target) < 0) {
                        fprintf(stderr, "ccsupctl: edit: cannot remove %s: %m\n", target);
                        goto out;
                }
                (void)rmdir(dir);
                printf("%s: removed\n", target);
        } else {
                if (!verify_with(name, fragment, dropins, target, text)) {
                        fprintf(stderr, "ccsupctl: edit: the result has errors: %s %s\n", target,
                                old ? "kept as it was" : "not written");
                        goto out;
                }
                if ((r = mkdir_p(dir, 0755)) < 0) {
                        fprintf(stderr, "ccsupctl: edit: cannot make %s: %s\n", dir, strerror(-r));
                        goto out;
                }
                if ((r = replace_file(dir, target, text)) < 0) {
                        fprintf(stderr, "ccsupctl: edit: cannot write %s: %s\n", target, strerror(-r));
                        goto out;
                }
                printf("%s: written\n", target);
        }
        fflush(stdout);
        ret = do_reload(bus);
out:
        if (copy)
                (void)unlink(copy);
        if (tmpdir)
                (void)rmdir(tmpdir);
        sd_bus_error_free(&e);
        sd_bus_flush_close_unref(bus);
        return ret;
}
