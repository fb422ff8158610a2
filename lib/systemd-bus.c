/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "systemd-bus.h"
#include "util.h"

int systemd_bus_open(sd_bus **ret)
{
        sd_bus *b = NULL;
        int r;

        if ((r = sd_bus_new(&b)) >= 0 && (r = sd_bus_set_address(b, "unix:path=/run/systemd/private")) >= 0 &&
            (r = sd_bus_set_method_call_timeout(b, SD_CALL_TIMEOUT_USEC)) >= 0 && (r = sd_bus_start(b)) >= 0) {
                *ret = b;
                return 0;
        }
        sd_bus_unref(b);
        b = NULL;
        if ((r = sd_bus_open_system(&b)) < 0)
                return r;
        (void)sd_bus_set_method_call_timeout(b, SD_CALL_TIMEOUT_USEC);
        *ret = b;
        return 0;
}

pid_t systemd_keeper_spawn(const char *name)
{
        sigset_t none;
        pid_t pid = fork();

        if (pid != 0)
                return pid < 0 ? -errno : pid;
        (void)syscall(SYS_close_range, 0U, ~0U, 0);
        for (int sig = 1; sig < _NSIG; sig++)
                (void)signal(sig, SIG_DFL);
        sigemptyset(&none);
        (void)sigprocmask(SIG_SETMASK, &none, NULL);
        (void)prctl(PR_SET_NAME, name);
        for (;;)
                pause();
}

void systemd_sleep_ms(long ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        (void)nanosleep(&ts, NULL);
}

int systemd_keeper_to_leaf(const char *root, const char *cgroup, pid_t pid)
{
        _cleanup_free_ char *leaf = xasprintf("%s%s/keeper", root, cgroup);
        _cleanup_free_ char *procs = path_join(leaf, "cgroup.procs");
        char num[16];

        if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
                return -errno;
        snprintf(num, sizeof(num), "%d", (int)pid);
        return write_string_file(procs, num);
}

int systemd_start_scope(sd_bus *bus, const char *unit, const char *description, const char *slice,
                        const char *before, pid_t pid, sd_bus_error *error)
{
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_MANAGER, "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ss", unit, "fail");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)(sv)", "Description", "s", description, "Slice", "s",
                                          slice, "Delegate", "b", 1, "CollectMode", "s", "inactive-or-failed",
                                          "PIDs", "au", 1, (uint32_t)pid);
        if (r >= 0 && before)
                r = sd_bus_message_append(m, "(sv)", "Before", "as", 1, before);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_append(m, "a(sa(sv))", 0);
        if (r >= 0)
                r = sd_bus_call(bus, m, SD_CALL_TIMEOUT_USEC, error, &reply);
        return r;
}
