/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

static int max_level = LOG_INFO;
static bool to_journal, prefix;

void log_setup(int level)
{
        struct stat st;

        max_level = level;
        to_journal = stat("/run/systemd/journal/socket", &st) == 0 && S_ISSOCK(st.st_mode) &&
                     !getenv("CCSUP_LOG_STDERR");
        prefix = !isatty(STDERR_FILENO);
}

void log_setup_stderr(int level)
{
        max_level = level;
        to_journal = prefix = false;
}

int log_get_max_level(void)
{
        return max_level;
}

void log_unit(int level, const char *unit, const char *fmt, ...)
{
        _cleanup_free_ char *text = NULL;
        va_list ap;
        int saved = errno;

        if (level > max_level)
                return;
        va_start(ap, fmt);
        if (vasprintf(&text, fmt, ap) < 0)
                text = NULL;
        va_end(ap);
        if (!text)
                return;
        if (to_journal) {
                if (unit)
                        sd_journal_send("MESSAGE=%s: %s", unit, text, "PRIORITY=%i", level,
                                        "SYSLOG_IDENTIFIER=ccsupd", "CCSUP_UNIT=%s", unit, NULL);
                else
                        sd_journal_send("MESSAGE=%s", text, "PRIORITY=%i", level,
                                        "SYSLOG_IDENTIFIER=ccsupd", NULL);
        } else if (prefix)
                fprintf(stderr, "<%d>ccsupd: %s%s%s\n", level, unit ? unit : "",
                        unit ? ": " : "", text);
        else
                fprintf(stderr, "ccsupd: %s%s%s\n", unit ? unit : "", unit ? ": " : "", text);
        errno = saved;
}
