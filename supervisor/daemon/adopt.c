/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What outlives a ccsupd: the runtime state file of each run, the file
 * descriptor stores (systemd's or the fd keeper), and the re-adoption of
 * the containers an earlier ccsupd left running. */
#include "manager-internal.h"

#include <dirent.h>
#include <linux/kcmp.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <systemd/sd-daemon.h>

#include "fdkeeper.h"
#include "health.h"
#include "log.h"
#include "store.h"
#include "util.h"

static char *fdstore_key_name(const char *key, const char *unit);
static char *fdstore_key_unit(const char *key);
static void fdstore_systemd_sync(Unit *u, const char *fdname);

/* ------------------------------------------------------------------ runtime state files */

char *unit_runtime_file(Unit *u)
{
        return xasprintf("%s/units/%s", u->manager->o.runtime_dir, u->name);
}

/* Field 22 of /proc/PID/stat: the start time in clock ticks since boot, which
 * together with the PID names one process for good. */
static int proc_start_time(pid_t pid, uint64_t *ret)
{
        _cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int)pid), *text = NULL;
        const char *p;
        int r;

        r = read_full_file(path, 4096, &text, NULL);
        if (r < 0)
                return r;
        p = proc_stat_field(text, 22);
        return p && sscanf(p, "%" SCNu64, ret) == 1 ? 0 : -EINVAL;
}

void unit_write_runtime(Unit *u)
{
        _cleanup_free_ char *path = unit_runtime_file(u), *text = NULL;
        uint64_t start = 0;
        int r;

        (void)proc_start_time(u->run.pid, &start);
        /* Held=1: held before its exec (prelaunch) and not released yet;
         * a ccsupd that finds it so kills it and starts the unit anew. */
        text = xasprintf("PID=%d\nStartTime=%" PRIu64 "\nCgroup=%s\nStartedAt=%" PRIu64 "\n"
                         "ConfigHash=%016" PRIx64 "\nStopSignal=%d\nImageDigest=%s\n%s",
                         (int)u->run.pid, start, unit_cgroup_path(u) ? unit_cgroup_path(u) : "",
                         u->started_realtime, u->adopted ? u->adopted_hash : unit_config(u)->hash,
                         u->plan ? spawn_plan_stop_signal(u->plan)
                         : u->adopted ? u->adopted_stop_signal : 0,
                         u->image_digest ? u->image_digest : "", u->hold_fd >= 0 ? "Held=1\n" : "");
        r = write_file_atomic(path, text, strlen(text), 0644, false);
        if (r < 0)
                log_unit(LOG_WARNING, u->name, "runtime state `%s`: %s", path, strerror(-r));
}

/* ------------------------------------------------------------------ systemd's fd store
 *
 * Under systemd, the pidfd of each running container is kept in the
 * service's file-descriptor store as "pidfd-NAME" from its launch (or its
 * re-adoption) until its run is cleaned up, so that the next ccsupd takes
 * back the very process rather than whatever holds its PID by then. Unit
 * names ([A-Za-z0-9_.@-], at most 64 characters) are valid FDNAME= values
 * as they are: no ':' nor control character, well under 255 characters.
 * In file mode the read ends of the container's output pipes go there too,
 * as "stdout-NAME" and "stderr-NAME": while systemd holds them, a write of
 * the container never fails for want of a reader, and the next ccsupd
 * reads what it wrote in between.
 */

static const char *const stored_prefixes[] = { "pidfd-", "stdout-", "stderr-" };

/* One message to the fd store: systemd's, or without systemd the fd keeper's
 * (supervisor/daemon/fdkeeper.h). > 0 when sent, 0 when there is none, or -errno. */
static int fdstore_send(Manager *m, const char *msg, int *fds, unsigned n_fds)
{
        int r;

        if (m->fd_keeper >= 0)
                return (r = fdkeeper_send(m->fd_keeper, msg, fds, n_fds)) < 0 ? r : 1;
        return sd_pid_notify_with_fds(0, 0, msg, fds, n_fds);
}

static void fdstore_remove(Manager *m, const char *name)
{
        _cleanup_free_ char *msg = xasprintf("FDSTOREREMOVE=1\nFDNAME=%s", name);
        int r = fdstore_send(m, msg, NULL, 0);

        if (r < 0)
                log_msg(LOG_WARNING, "fd store: removing `%s`: %s", name, strerror(-r));
}

/* force: also when this ccsupd did not store it (a previous one may have). */
void unit_fdstore_remove(Unit *u, bool force)
{
        if (!u->manager->o.fd_store || (!u->fd_stored && !force))
                return;
        for (size_t i = 0; i < ELEMENTSOF(stored_prefixes); i++) {
                _cleanup_free_ char *name = xasprintf("%s%s", stored_prefixes[i], u->name);
                fdstore_remove(u->manager, name);
        }
        u->fd_stored = false;
}

static int fdstore_add(Unit *u, const char *prefix, int fd)
{
        _cleanup_free_ char *msg = xasprintf("FDSTORE=1\nFDNAME=%s%s", prefix, u->name);
        int r = fdstore_send(u->manager, msg, &fd, 1);

        if (r <= 0)
                log_unit(LOG_WARNING, u->name, "fd store: %s%s not stored: %s", prefix, u->name,
                         r < 0 ? strerror(-r) : "no NOTIFY_SOCKET");
        return r;
}

void unit_fdstore_add(Unit *u)
{
        int fds[2];

        if (!u->manager->o.fd_store || u->run.pidfd < 0 || u->fd_stored)
                return;
        if (fdstore_add(u, "pidfd-", u->run.pidfd) <= 0)
                return;
        unit_log_fds(u->log, fds);
        if (fds[0] >= 0)
                (void)fdstore_add(u, "stdout-", fds[0]);
        if (fds[1] >= 0)
                (void)fdstore_add(u, "stderr-", fds[1]);
        u->fd_stored = true;
        log_unit(LOG_DEBUG, u->name, "pidfd of PID %d in the fd store as `pidfd-%s`",
                 (int)u->run.pid, u->name);
}

void manager_set_stored_fds(Manager *m, int n, char **names)
{
        m->stored_fds = xcalloc(n > 0 ? (size_t)n : 1, sizeof(StoredFd));
        for (int i = 0; i < n; i++)
                m->stored_fds[m->n_stored_fds++] = (StoredFd){
                        .name = names && names[i] ? TAKE_PTR(names[i]) : xstrdup("unknown"),
                        .fd = SD_LISTEN_FDS_START + i,
                };
        if (names)
                for (int i = n; names[i]; i++)
                        free(names[i]);
        free(names);
}

void manager_add_stored_fd(Manager *m, const char *name, int fd)
{
        m->stored_fds = xrealloc(m->stored_fds, (m->n_stored_fds + 1) * sizeof(StoredFd));
        m->stored_fds[m->n_stored_fds++] = (StoredFd){ .name = xstrdup(name), .fd = fd };
}

/* The stored fd PREFIX-NAME, taken out of the list; -1 if none. */
int manager_take_stored_fd(Manager *m, const char *prefix, const char *name)
{
        for (size_t i = 0; i < m->n_stored_fds; i++) {
                StoredFd *s = &m->stored_fds[i];
                const char *n = startswith(s->name, prefix);
                if (s->fd >= 0 && n && streq(n, name))
                        return TAKE_FD(s->fd);
        }
        return -1;
}

/* The unit name of a stored fd's name ("pidfd-web" → "web"), or NULL. */
static const char *stored_fd_unit(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(stored_prefixes); i++) {
                const char *n = startswith(name, stored_prefixes[i]);
                if (n)
                        return n;
        }
        return NULL;
}

/* The re-adoption is over: the stored fds nobody took are closed, and the
 * store forgets the "pidfd-NAME" (stdout-, stderr-) ones no unit keeps there. */
void manager_close_stored_fds(Manager *m, bool final)
{
        for (size_t i = 0; i < m->n_stored_fds; i++) {
                StoredFd *s = &m->stored_fds[i];
                const char *n = stored_fd_unit(s->name);
                _cleanup_free_ char *fu = s->fd >= 0 ? fdstore_key_unit(s->name) : NULL;
                if (fu) {
                        /* FDSTORE=1 of a unit that is gone, or beyond its limit. */
                        Unit *u = !final ? manager_get_unit(m, fu) : NULL;
                        _cleanup_free_ char *fdname = u ? fdstore_key_name(s->name, u->name) : NULL;
                        log_msg(LOG_DEBUG, "fd store: `%s` unused, closed", s->name);
                        s->fd = safe_close(s->fd);
                        if (fdname)
                                fdstore_systemd_sync(u, fdname);
                        else if (m->o.fd_store && !final)
                                fdstore_remove(m, s->name);
                } else if (s->fd >= 0) {
                        Unit *u = n && !final ? manager_get_unit(m, n) : NULL;
                        log_msg(LOG_DEBUG, "fd store: `%s` unused, closed", s->name);
                        s->fd = safe_close(s->fd);
                        if (n && m->o.fd_store && !final && !(u && u->fd_stored))
                                fdstore_remove(m, s->name);
                }
                free(s->name);
        }
        free(m->stored_fds);
        m->stored_fds = NULL;
        m->n_stored_fds = 0;
}

/* The PID a pidfd refers to (its fdinfo's "Pid:"), -1 if it has ended, 0
 * if unknown (not a pidfd). */
static pid_t pidfd_get_pid(int fd)
{
        _cleanup_free_ char *path = xasprintf("/proc/self/fdinfo/%d", fd), *text = NULL;
        int pid;

        if (read_full_file(path, 65536, &text, NULL) < 0)
                return 0;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                const char *v = startswith(line, "Pid:");
                if (v && sscanf(v, "%d", &pid) == 1)
                        return pid;
        }
        return 0;
}

/* ------------------------------------------------------------------ the fd store */

/*
 * FDSTORE=1 (UNITS.md, Readiness): fds a Notify=yes container hands ccsupd,
 * at most FileDescriptorStoreMax= of them, to get back at its next start
 * after its [Socket] fds. They go with CCSUP_REEXEC_FDS at daemon-reexec,
 * and under systemd into its fd store too (for a killed ccsupd's
 * successor), both as "fdstore-UNIT-FDNAME" with every character of FDNAME
 * but [A-Za-z0-9_.@] written %XX: FDNAME never holds a '-' nor a space
 * then, so the last '-' ends the unit name.
 */

char *fdstore_key(const char *unit, const char *fdname)
{
        static const char hex[] = "0123456789ABCDEF";
        char *k = xmalloc(strlen("fdstore-") + strlen(unit) + 1 + 3 * strlen(fdname) + 1);
        char *p = stpcpy(stpcpy(stpcpy(k, "fdstore-"), unit), "-");

        for (const unsigned char *c = (const unsigned char *)fdname; *c; c++)
                if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                    *c == '_' || *c == '.' || *c == '@')
                        *p++ = (char)*c;
                else {
                        *p++ = '%';
                        *p++ = hex[*c >> 4];
                        *p++ = hex[*c & 15];
                }
        *p = '\0';
        return k;
}

static int unhex(char c)
{
        return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The fd name of the key "fdstore-UNIT-..." of that unit; NULL if the key
 * is not one of the unit's, or not well-formed. */
static char *fdstore_key_name(const char *key, const char *unit)
{
        const char *p = startswith(key, "fdstore-");
        _cleanup_free_ char *name = NULL;
        char *q;

        if (!p || !(p = startswith(p, unit)) || *p++ != '-' || strchr(p, '-'))
                return NULL;
        q = name = xmalloc(strlen(p) + 1);
        while (*p) {
                if (*p != '%') {
                        *q++ = *p++;
                        continue;
                }
                if (unhex(p[1]) < 0 || unhex(p[2]) < 0)
                        return NULL;
                *q++ = (char)(unhex(p[1]) << 4 | unhex(p[2]));
                p += 3;
        }
        *q = '\0';
        return fdname_is_valid(name) ? TAKE_PTR(name) : NULL;
}

/* The unit name of a key "fdstore-UNIT-...": up to its last '-'. */
static char *fdstore_key_unit(const char *key)
{
        const char *p = startswith(key, "fdstore-"), *dash = p ? strrchr(p, '-') : NULL;

        return dash && dash > p ? xstrndup(p, (size_t)(dash - p)) : NULL;
}

static uint32_t unit_fdstore_max(const Unit *u)
{
        return u->config && u->config->notify ? u->config->fdstore_max : 0;
}

/* Under systemd: the fd in its fd store too, named by its key. */
static void fdstore_systemd_add(Unit *u, const char *fdname, int fd)
{
        _cleanup_free_ char *key = fdstore_key(u->name, fdname), *msg = NULL;
        int r;

        if (!u->manager->o.fd_store)
                return;
        if (strlen(key) > NOTIFY_FDNAME_MAX) {
                log_unit(LOG_WARNING, u->name, "fd store: `%s` not in systemd's fd store: name too long",
                         fdname);
                return;
        }
        msg = xasprintf("FDSTORE=1\nFDNAME=%s", key);
        r = fdstore_send(u->manager, msg, &fd, 1);
        if (r <= 0)
                log_unit(LOG_WARNING, u->name, "fd store: `%s` not in systemd's fd store: %s", fdname,
                         r < 0 ? strerror(-r) : "no NOTIFY_SOCKET");
}

/* Under systemd: its fd store holds what the unit keeps named fdname. */
static void fdstore_systemd_sync(Unit *u, const char *fdname)
{
        _cleanup_free_ char *key = fdstore_key(u->name, fdname);

        if (!u->manager->o.fd_store)
                return;
        fdstore_remove(u->manager, key);
        for (size_t i = 0; i < u->n_fdstore; i++)
                if (streq(u->fdstore[i].name, fdname))
                        fdstore_systemd_add(u, fdname, u->fdstore[i].fd);
}

/* The same open file (one open(), dup()ed or passed twice)? */
static bool same_file(int a, int b)
{
        struct stat sa, sb;
        pid_t self = getpid();

        if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0 || sa.st_dev != sb.st_dev || sa.st_ino != sb.st_ino)
                return false;
        return syscall(SYS_kcmp, self, self, KCMP_FILE, a, b) == 0;
}

/* Keeps fd (always taken: closed when it is not kept). */
static void unit_fdstore_push(Unit *u, const char *fdname, int fd, bool to_systemd)
{
        uint32_t max = unit_fdstore_max(u);

        for (size_t i = 0; i < u->n_fdstore; i++)
                if (same_file(u->fdstore[i].fd, fd)) {
                        log_unit(LOG_DEBUG, u->name, "fd store: `%s` is stored already", fdname);
                        safe_close(fd);
                        return;
                }
        if (u->n_fdstore >= max) {
                if (!u->fdstore_warned)
                        log_unit(LOG_WARNING, u->name,
                                 "fd store full (FileDescriptorStoreMax=%" PRIu32 "): fd `%s` closed "
                                 "(further ones are not logged)", max, fdname);
                u->fdstore_warned = true;
                safe_close(fd);
                return;
        }
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        u->fdstore = xrealloc(u->fdstore, (u->n_fdstore + 1) * sizeof(StoredFd));
        u->fdstore[u->n_fdstore++] = (StoredFd){ .name = xstrdup(fdname), .fd = fd };
        if (to_systemd)
                fdstore_systemd_add(u, fdname, fd);
        log_unit(LOG_DEBUG, u->name, "fd store: `%s` stored (%zu of %" PRIu32 ")", fdname,
                 u->n_fdstore, max);
}

/* FDSTOREREMOVE=1: every fd named fdname goes. */
static void unit_fdstore_remove_name(Unit *u, const char *fdname)
{
        size_t k = 0, removed = 0;

        for (size_t i = 0; i < u->n_fdstore; i++) {
                if (streq(u->fdstore[i].name, fdname)) {
                        safe_close(u->fdstore[i].fd);
                        free(u->fdstore[i].name);
                        removed++;
                } else
                        u->fdstore[k++] = u->fdstore[i];
        }
        u->n_fdstore = k;
        if (removed > 0)
                fdstore_systemd_sync(u, fdname);
        log_unit(LOG_DEBUG, u->name, "fd store: %zu fd(s) `%s` removed", removed, fdname);
}

/* The unit stopped for good, or is freed: its store is emptied (systemd's
 * too, with to_systemd). */
void unit_fdstore_flush(Unit *u, bool to_systemd)
{
        if (u->n_fdstore > 0)
                log_unit(LOG_DEBUG, u->name, "fd store: %zu fd(s) closed", u->n_fdstore);
        for (size_t i = 0; i < u->n_fdstore; i++) {
                if (to_systemd && u->manager->o.fd_store) {
                        _cleanup_free_ char *key = fdstore_key(u->name, u->fdstore[i].name);
                        fdstore_remove(u->manager, key);
                }
                safe_close(u->fdstore[i].fd);
                free(u->fdstore[i].name);
        }
        free(u->fdstore);
        u->fdstore = NULL;
        u->n_fdstore = 0;
}

/* After a (re)load: no more than FileDescriptorStoreMax= now allows; the
 * newest go first. */
void unit_fdstore_trim(Unit *u)
{
        uint32_t max = unit_fdstore_max(u);

        while (u->n_fdstore > max) {
                StoredFd s = u->fdstore[--u->n_fdstore];
                log_unit(LOG_INFO, u->name, "fd store: `%s` closed (FileDescriptorStoreMax=%" PRIu32 ")",
                         s.name, max);
                safe_close(s.fd);
                fdstore_systemd_sync(u, s.name);
                free(s.name);
        }
}

/* At ccsupd's start: the unit's fds that the previous ccsupd kept, from
 * CCSUP_REEXEC_FDS or systemd's fd store (which has them still). */
void unit_fdstore_take(Unit *u)
{
        Manager *m = u->manager;

        for (size_t i = 0; i < m->n_stored_fds; i++) {
                StoredFd *s = &m->stored_fds[i];
                _cleanup_free_ char *fdname = s->fd >= 0 ? fdstore_key_name(s->name, u->name) : NULL;
                if (!fdname)
                        continue;
                /* Within the limit of the file, if it changed meanwhile. */
                if (u->n_fdstore >= unit_fdstore_max(u))
                        continue; /* closed with the unused ones, and dropped from systemd's store */
                u->fdstore = xrealloc(u->fdstore, (u->n_fdstore + 1) * sizeof(StoredFd));
                u->fdstore[u->n_fdstore++] = (StoredFd){ .name = TAKE_PTR(fdname), .fd = TAKE_FD(s->fd) };
        }
        if (u->n_fdstore > 0)
                log_unit(LOG_DEBUG, u->name, "fd store: %zu fd(s) taken back", u->n_fdstore);
}

/* The fds for the next start: the [Socket] ones, then the store's. */
void unit_launch_fds(Unit *u, int **ret_fds, const char ***ret_names)
{
        size_t n = u->n_listen_fds + u->n_fdstore;
        int *fds = xcalloc(n + 1, sizeof(int));
        const char **names = xcalloc(n + 1, sizeof(char *));

        for (size_t i = 0; i < u->n_listen_fds; i++)
                fds[i] = u->listen_fds[i];
        for (size_t i = 0; i < u->n_fdstore; i++) {
                fds[u->n_listen_fds + i] = u->fdstore[i].fd;
                names[u->n_listen_fds + i] = u->fdstore[i].name;
        }
        *ret_fds = fds;
        *ret_names = names;
}

/* A notify datagram's fds: FDSTORE=1 keeps them, else they are closed. */
void unit_fdstore_apply(Unit *u, const NotifyMessage *n, int *fds, unsigned nfds)
{
        const char *fdname = n->fdname ? n->fdname : "stored";

        if (n->fdstore_remove)
                unit_fdstore_remove_name(u, fdname);
        if (!n->fdstore)
                return;
        if (unit_fdstore_max(u) == 0 && nfds > 0) {
                if (!u->fdstore_warned)
                        log_unit(LOG_WARNING, u->name, "FDSTORE=1 ignored: FileDescriptorStoreMax= is 0 "
                                 "(further ones are not logged)");
                u->fdstore_warned = true;
                return;
        }
        for (unsigned k = 0; k < nfds; k++) {
                unit_fdstore_push(u, fdname, fds[k], true);
                fds[k] = -1;
        }
}

/* ------------------------------------------------------------------ re-adoption
 *
 * A ccsupd that was killed, crashed or restarted (systemd's KillMode=process)
 * left its containers running and their runtime state files behind. The
 * next one takes each one back when the file still names the same process
 * (PID and start time: never a reused PID) in the same cgroup; otherwise it
 * empties and removes that cgroup, by path only, and starts the unit anew.
 */

typedef struct RuntimeState {
        pid_t pid;
        uint64_t start_time, started_at, config_hash;
        int stop_signal;
        bool held;                /* Held=1: held before its exec (prelaunch) */
        char *cgroup;
        char *image_digest;       /* NULL: not recorded (a directory image, an older ccsupd) */
} RuntimeState;

static int runtime_state_read(const char *path, RuntimeState *ret)
{
        _cleanup_free_ char *text = NULL;
        RuntimeState rs = { .pid = 0 };
        int r, pid = 0;

        r = read_full_file(path, 65536, &text, NULL);
        if (r < 0)
                return r;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                const char *v;
                if ((v = startswith(line, "PID=")))
                        (void)sscanf(v, "%d", &pid);
                else if ((v = startswith(line, "StartTime=")))
                        (void)sscanf(v, "%" SCNu64, &rs.start_time);
                else if ((v = startswith(line, "StartedAt=")))
                        (void)sscanf(v, "%" SCNu64, &rs.started_at);
                else if ((v = startswith(line, "ConfigHash=")))
                        (void)sscanf(v, "%" SCNx64, &rs.config_hash);
                else if ((v = startswith(line, "StopSignal=")))
                        (void)sscanf(v, "%d", &rs.stop_signal);
                else if ((v = startswith(line, "Cgroup=")) && !rs.cgroup)
                        rs.cgroup = xstrdup(v);
                else if ((v = startswith(line, "ImageDigest=")) && *v && !rs.image_digest)
                        rs.image_digest = xstrdup(v);
                else if (streq(line, "Held=1"))
                        rs.held = true;
        }
        rs.pid = pid;
        *ret = rs;
        return 0;
}

/* Whether pid is in the cgroup path (or below it) in any hierarchy. */
bool proc_in_cgroup(pid_t pid, const char *path)
{
        _cleanup_free_ char *file = xasprintf("/proc/%d/cgroup", (int)pid), *text = NULL;
        size_t n = strlen(path);

        if (read_full_file(file, 65536, &text, NULL) < 0)
                return false;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                const char *p = strchr(line, ':');
                p = p ? strchr(p + 1, ':') : NULL;
                if (p && strncmp(p + 1, path, n) == 0 && (p[1 + n] == '\0' || p[1 + n] == '/'))
                        return true;
        }
        return false;
}

/* A pidfd of the process rs names, if it still is that process and in its
 * cgroup. The pidfd comes first: a PID reused after it was taken shows a
 * different start time, so a match names the process the pidfd holds.
 * stored: the pidfd from the fd store (taken over), which refers to rs's
 * PID already (checked by the caller), or -1 for pidfd_open(). */
static int runtime_state_pidfd(const RuntimeState *rs, int stored, int *ret)
{
        _cleanup_close_ int fd = stored;
        uint64_t start;

        if (rs->pid <= 0 || rs->start_time == 0)
                return -EINVAL;
        if (fd < 0)
                fd = pidfd_open(rs->pid, 0);
        if (fd < 0)
                return -errno;
        if (proc_start_time(rs->pid, &start) < 0)
                return -ESRCH;
        if (start != rs->start_time)
                return -ESTALE;
        if (!proc_in_cgroup(rs->pid, rs->cgroup))
                return -EXDEV;
        *ret = TAKE_FD(fd);
        return 0;
}

/* Empties and removes a dead container's cgroup (by path: nothing in it is
 * signalled by PID) through the unit's cleanup timer. */
static void unit_clean_stale_cgroup(Unit *u, const char *path)
{
        Manager *m = u->manager;
        Cgroup *cg = NULL;

        if (cgroup_open(m->o.cgroup_root, m->o.cgroup_mode, path, &cg) < 0)
                return; /* gone already */
        log_unit(LOG_NOTICE, u->name, "removing cgroup `%s` of a container that is gone", path);
        if (cgroup_is_populated(cg) > 0)
                (void)cgroup_kill_all(cg);
        cgroup_free(u->dead_cgroup);
        u->dead_cgroup = cg;
        u->cleanup_tries = 0;
        ev_timer_again(m->loop, &u->cleanup_timer);
}

/* The output of a re-adopted container: in file mode, the read ends of its
 * pipes, from the previous ccsupd (daemon-reexec) or systemd's fd store;
 * else (the previous ccsupd was killed) a new read end of the pipe its PID 1
 * writes to, opened through /proc. */
static void unit_adopt_output(Unit *u, pid_t pid)
{
        static const char *const prefix[2] = { "stdout-", "stderr-" };
        LogTarget t = LOG_TARGET_NONE;
        struct stat st[2] = {};
        bool have[2] = {}, from_previous;
        int fds[2] = { -1, -1 };

        for (int i = 0; i < 2; i++) {
                _cleanup_free_ char *path = xasprintf("/proc/%d/fd/%d", (int)pid, i + 1);
                struct stat fst;
                have[i] = stat(path, &st[i]) == 0;
                fds[i] = manager_take_stored_fd(u->manager, prefix[i], u->name);
                if (fds[i] >= 0 && (fstat(fds[i], &fst) < 0 || !S_ISFIFO(fst.st_mode)))
                        fds[i] = safe_close(fds[i]);
        }
        from_previous = fds[0] >= 0 || fds[1] >= 0;
        if (have[0] && S_ISSOCK(st[0].st_mode))
                t = LOG_TARGET_JOURNAL;
        else if ((have[0] && S_ISFIFO(st[0].st_mode)) || fds[0] >= 0 || fds[1] >= 0)
                /* Pipes: a file, or the journal relayed through us. */
                t = u->manager->o.journal_relay && unit_log_target(u) == LOG_TARGET_JOURNAL ? LOG_TARGET_JOURNAL
                                                                                          : LOG_TARGET_FILE;
        for (int i = 0; i < 2 && !from_previous; i++) {
                _cleanup_free_ char *path = xasprintf("/proc/%d/fd/%d", (int)pid, i + 1);
                /* 2>&1 in the container: one pipe, one reader. */
                if (!have[i] || !S_ISFIFO(st[i].st_mode) ||
                    (i == 1 && have[0] && st[0].st_ino == st[1].st_ino && st[0].st_dev == st[1].st_dev))
                        continue;
                fds[i] = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
                if (fds[i] < 0)
                        log_unit(LOG_WARNING, u->name, "output of PID %d: %s: %s", (int)pid, path,
                                 strerror(errno));
        }
        unit_log_adopt(u->log, t, fds);
}

static void unit_adopt(Unit *u, const RuntimeState *rs, int pidfd, Cgroup *cg, bool from_store)
{
        Manager *m = u->manager;
        uint64_t now_rt = now_usec_realtime(), now_mono = now_usec_monotonic();
        uint64_t age = rs->started_at && rs->started_at < now_rt ? now_rt - rs->started_at : 0;
        ServiceAdopt ad = { .started_usec = age < now_mono ? now_mono - age : 0 };

        u->run = (SpawnResult){ .pid = rs->pid, .pidfd = pidfd, .sync_fd = -1, .cgroup = cg };
        unit_adopt_output(u, rs->pid);
        u->exec_done = true;
        u->adopted = true;
        u->adopted_hash = rs->config_hash;
        u->adopted_stop_signal = rs->stop_signal;
        u->started_realtime = rs->started_at;
        free(u->image_digest);
        u->image_digest = rs->image_digest ? xstrdup(rs->image_digest) : NULL;
        if (!u->image_digest && u->config && u->config->image_kind != IMAGE_DIRECTORY) {
                /* Not recorded: what the unit's Image= names now is the best guess. */
                _cleanup_(resolved_image_done) ResolvedImage ri = {};
                _cleanup_free_ char *ignored = NULL;
                if (store_resolve_stored(m->o.state_dir, u->config, &ri, &ignored) >= 0)
                        u->image_digest = TAKE_PTR(ri.manifest_digest);
        }
        if (cgroup_get_oom_kills(cg, &u->oom_kills_at_start) < 0)
                u->oom_kills_at_start = UINT64_MAX;
        ev_io_set(&u->pidfd_io, pidfd, EV_READ);
        ev_io_start(m->loop, &u->pidfd_io);
        log_unit(LOG_INFO, u->name, "re-adopted PID %d (cgroup %s)", (int)rs->pid, rs->cgroup);
        if (from_store) {
                /* systemd keeps it: what it passes back stays in the store. */
                u->fd_stored = m->o.fd_store;
                log_unit(LOG_INFO, u->name, "adopted %s (PID %d) through the stored pidfd",
                         u->name, (int)rs->pid);
        } else {
                /* A pidfd of the same process may be there (daemon-reexec):
                 * replaced, never doubled. */
                unit_fdstore_remove(u, true);
                unit_fdstore_add(u);
        }
        unit_event(u, SERVICE_EVENT_ADOPT, &ad);
        /* It runs, so it was ready; its checks go on (the unit file's: the
         * image's Healthcheck was in the launch plan, which is gone). */
        u->health = health_free(u->health);
        u->health = health_start(u);
}

/* Takes back the container of u's runtime state file, or cleans up after
 * it. Returns true when adopted. */
bool unit_try_adopt(Unit *u)
{
        Manager *m = u->manager;
        _cleanup_free_ char *path = unit_runtime_file(u);
        _cleanup_free_ char *prefix = xasprintf("%s/", streq(m->o.cgroup_parent, "/") ? "" : m->o.cgroup_parent);
        RuntimeState rs;
        Cgroup *cg = NULL;
        int fd = -1, stored = manager_take_stored_fd(m, "pidfd-", u->name), r;
        bool had_stored = stored >= 0;
        pid_t stored_pid = 0;

        if (runtime_state_read(path, &rs) < 0) {
                if (had_stored) { /* nothing to adopt: the store forgets it */
                        safe_close(stored);
                        unit_fdstore_remove(u, true);
                }
                return false;
        }
        if (stored >= 0 && (stored_pid = pidfd_get_pid(stored)) != rs.pid) {
                log_unit(LOG_NOTICE, u->name, "stored pidfd refers to %s, not PID %d: ignored",
                         stored_pid < 0 ? "a process that has ended" : stored_pid == 0 ? "no process"
                         : "another process", (int)rs.pid);
                stored = safe_close(stored);
        }
        /* Only a container cgroup of ours is ever emptied by path. */
        if (!rs.cgroup || !startswith(rs.cgroup, prefix) || !path_is_normalized_absolute(rs.cgroup)) {
                log_unit(LOG_WARNING, u->name, "runtime state `%s`: bad cgroup, ignored", path);
                safe_close(stored);
                goto gone;
        }
        if (rs.held) {
                /* The previous ccsupd held it before its exec and cannot
                 * release it any more (the FIFO went with it): killed, and
                 * the unit starts anew, in order. */
                safe_close(stored);
                log_unit(LOG_NOTICE, u->name, "PID %d was held before its exec by the previous ccsupd: killed, started anew",
                         (int)rs.pid);
                unit_clean_stale_cgroup(u, rs.cgroup);
                goto gone;
        }
        r = runtime_state_pidfd(&rs, stored, &fd);
        if (r == 0)
                r = cgroup_open(m->o.cgroup_root, m->o.cgroup_mode, rs.cgroup, &cg);
        if (r < 0) {
                safe_close(fd);
                log_unit(LOG_NOTICE, u->name, "PID %d of the previous run not re-adopted: %s",
                         (int)rs.pid, r == -ESTALE ? "another process (start time differs)"
                                      : r == -EXDEV ? "in another cgroup"
                                      : r == -ESRCH ? "gone" : strerror(-r));
                unit_clean_stale_cgroup(u, rs.cgroup);
                goto gone;
        }
        unit_adopt(u, &rs, fd, cg, stored >= 0);
        free(rs.cgroup);
        free(rs.image_digest);
        return true;
gone:
        if (had_stored)
                unit_fdstore_remove(u, true);
        (void)unlink(path);
        free(rs.cgroup);
        free(rs.image_digest);
        return false;
}

int manager_prepare_reexec(Manager *m)
{
        if (m->shutting_down)
                return -ESHUTDOWN;
        /* A launch or a stop in progress would be lost: its sync socket,
         * its stop timer. */
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                if (u->svc.state == SERVICE_STARTING || u->svc.state == SERVICE_STOPPING ||
                    u->import || (u->run.pidfd >= 0 && !u->exec_done))
                        return -EBUSY;
        }
        return 0;
}

void manager_flush_runtime(Manager *m)
{
        for (size_t i = 0; i < m->n_units; i++) {
                Unit *u = m->units[i];
                if (u->run.pidfd >= 0 && u->exec_done && u->run.pid > 0)
                        unit_write_runtime(u);
        }
}

/* Runtime state files of units that are gone from the unit path: their
 * containers are adopted and stopped, or cleaned up. */
void manager_adopt_strays(Manager *m)
{
        _cleanup_free_ char *dir = path_join(m->o.runtime_dir, "units");
        DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                Unit *u;
                size_t n = strlen(de->d_name);
                if (!unit_name_is_valid(de->d_name) || manager_get_unit(m, de->d_name) ||
                    (n > 4 && streq(de->d_name + n - 4, ".tmp")))
                        continue;
                u = unit_new(m, de->d_name);
                manager_add_unit(m, u);
                log_unit(LOG_NOTICE, u->name, "no unit file any more: stopping its container");
                (void)unit_try_adopt(u);
                unit_mark_removed(u);
        }
        closedir(d);
}
