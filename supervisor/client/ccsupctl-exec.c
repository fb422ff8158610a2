/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ccsupctl exec: parse, one call (which lasts as long as the command),
 * exit with the command's status.
 */
#include <fcntl.h>
#include <stdio.h>

#include "ccsupctl-exec.h"
#include "util.h"

enum {
        EXEC_EXIT_NOT_RUNNING = 1,
        EXEC_EXIT_USAGE = 2,
        EXEC_EXIT_SETUP = 125,
        EXEC_EXIT_NOT_EXECUTABLE = 126,
        EXEC_EXIT_NOT_FOUND = 127,
};

static void exec_help(void)
{
        printf("Usage: ccsupctl exec [-i] [--] UNIT [--] CMD [ARG...]\n"
               "\n"
               "Run CMD inside the running container of UNIT: its namespaces, cgroup,\n"
               "user, capabilities, seccomp filter, working directory and environment\n"
               "(CMD is looked up in the container's PATH). Options come before UNIT.\n"
               "\n"
               "  -i, --interactive  pass standard input (else the command reads /dev/null)\n"
               "\n"
               "Exit status: the command's (128+N: killed by signal N, or stopped by\n"
               "signal N: a command that stops is killed); 127 command not found, 126 not\n"
               "executable, 125 it could not be started in the container, 1 the unit is\n"
               "not running, 4 no such unit, 5 permission denied.\n"
               "Interrupting ccsupctl (Ctrl-C) kills the command.\n");
}

int exec_parse_args(int argc, char **argv, ExecArgs *ret)
{
        ExecArgs a = {};
        int i;

        for (i = 1; i < argc; i++) {
                const char *s = argv[i];
                if (streq(s, "--")) {
                        i++;
                        break;
                }
                if (streq(s, "-i") || streq(s, "--interactive"))
                        a.interactive = true;
                else if (streq(s, "-h") || streq(s, "--help")) {
                        exec_help();
                        return 0;
                } else if (s[0] == '-' && s[1]) {
                        fprintf(stderr, "ccsupctl: exec: unknown option `%s` (options come before UNIT; "
                                "see ccsupctl exec --help)\n", s);
                        return EXEC_EXIT_USAGE;
                } else
                        break;
        }
        if (i >= argc) {
                fprintf(stderr, "ccsupctl: exec: no unit given\n");
                return EXEC_EXIT_USAGE;
        }
        a.unit = argv[i++];
        if (i < argc && streq(argv[i], "--"))
                i++;
        if (i >= argc) {
                fprintf(stderr, "ccsupctl: exec: no command given\n");
                return EXEC_EXIT_USAGE;
        }
        a.argv = argv + i;
        *ret = a;
        return -1;
}

/* The errors that are exec's own; -1 for the others. */
static int exec_error(const sd_bus_error *e)
{
        static const struct {
                const char *name;
                int code;
        } map[] = {
                { "org.ccsup.Error.CommandNotFound", EXEC_EXIT_NOT_FOUND },
                { "org.ccsup.Error.CommandNotExecutable", EXEC_EXIT_NOT_EXECUTABLE },
                { "org.ccsup.Error.ExecFailed", EXEC_EXIT_SETUP },
                { "org.ccsup.Error.NotRunning", EXEC_EXIT_NOT_RUNNING },
        };

        for (size_t i = 0; i < ELEMENTSOF(map); i++)
                if (sd_bus_error_has_name(e, map[i].name)) {
                        fprintf(stderr, "ccsupctl: exec: %s\n", e->message);
                        return map[i].code;
                }
        return -1;
}

int exec_run(sd_bus *bus, const ExecArgs *a, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_close_ int null = open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY);
        int fds[3], r;
        int32_t status;

        /* Without -i, or where one of ours is closed: /dev/null. */
        for (int i = 0; i < 3; i++)
                fds[i] = (i > 0 || a->interactive) && fcntl(i, F_GETFD) >= 0 ? i : null;
        if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0) {
                fprintf(stderr, "ccsupctl: exec: /dev/null: %s\n", strerror(errno));
                return EXEC_EXIT_SETUP;
        }
        r = sd_bus_message_new_method_call(bus, &m, NULL, "/org/ccsup", "org.ccsup.Manager1", "Exec");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", a->unit);
        if (r >= 0)
                r = sd_bus_message_append_strv(m, a->argv);
        if (r >= 0)
                r = sd_bus_message_append(m, "hhh", fds[0], fds[1], fds[2]);
        /* No timeout: the command may run for as long as it likes. */
        if (r >= 0)
                r = sd_bus_call(bus, m, UINT64_MAX, error, &reply);
        if (r < 0) {
                int code = exec_error(error);
                return code >= 0 ? code : r;
        }
        r = sd_bus_message_read(reply, "i", &status);
        if (r < 0 || status < 0 || status > 255) {
                fprintf(stderr, "ccsupctl: exec: malformed reply\n");
                return EXEC_EXIT_SETUP;
        }
        return status;
}
