/* ccsup-testhelper: a small, statically linked multi-tool that the integration
 * tests copy into their busybox images and run inside containers.
 *
 *   ccsup-testhelper COMMAND [ARGS]
 *
 * Every command prints plain "key: value" style lines on stdout (unbuffered)
 * and exits 0 on success; see usage() for the list.  It only ever acts on
 * itself, on its own children, or on files under paths it is given, so it is
 * safe to run on a host too (the probing commands in `try` are chosen so that
 * a call that is *allowed* fails harmlessly instead of doing anything).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>

static const char *prog = "ccsup-testhelper";

#include <stdarg.h>

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static long num(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end)
		die("not a number: %s", s);
	return v;
}

static double seconds(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < 0)
		die("not a duration in seconds: %s", s);
	return v;
}

static void nap(double secs)
{
	struct timespec ts;

	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "ok";

	return n ? n : "E?";
}

/* "NAME: ok" or "NAME: EPERM (Operation not permitted)" */
static int report(const char *what, int err)
{
	if (err == 0)
		printf("%s: ok\n", what);
	else
		printf("%s: %s (%s)\n", what, errname(err), strerror(err));
	return err == 0 ? 0 : err == EPERM ? 1 : 3;
}

/* ------------------------------------------------------------ simple ones */

static int cmd_pid(void)
{
	printf("pid=%d ppid=%d\n", (int)getpid(), (int)getppid());
	return 0;
}

static int cmd_ids(void)
{
	gid_t groups[NGROUPS_MAX];
	int n = getgroups(NGROUPS_MAX, groups);

	printf("uid=%u gid=%u euid=%u egid=%u groups=", (unsigned)getuid(),
	       (unsigned)getgid(), (unsigned)geteuid(), (unsigned)getegid());
	for (int i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", (unsigned)groups[i]);
	printf("\n");
	return 0;
}

/* print the lines of /proc/self/status whose key is in keys[] */
static int status_lines(char **keys, int nkeys)
{
	char line[512];
	FILE *f = fopen("/proc/self/status", "re");
	int found = 0;

	if (!f) {
		perror("/proc/self/status");
		return 2;
	}
	while (fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		for (int i = 0; i < nkeys; i++) {
			size_t len = strlen(keys[i]);

			if ((size_t)(colon - line) == len && !strncmp(line, keys[i], len)) {
				fputs(line, stdout);
				found++;
			}
		}
	}
	fclose(f);
	return found == nkeys ? 0 : 1;
}

static int cmd_caps(void)
{
	char *keys[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
	return status_lines(keys, 5);
}

static int cmd_nnp(void)
{
	char *keys[] = { "NoNewPrivs" };
	return status_lines(keys, 1);
}

static int cmd_seccomp(void)
{
	char *keys[] = { "Seccomp" };
	return status_lines(keys, 1);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* numeric entries of a directory, sorted; skip one fd */
static int list_numbers(const char *path, int skip, const char *sep)
{
	int *v = NULL, n = 0, cap = 0;
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return 2;
	}
	if (skip == -2)
		skip = dirfd(d);
	while ((e = readdir(d))) {
		char *end;
		long x = strtol(e->d_name, &end, 10);

		if (*e->d_name < '0' || *e->d_name > '9' || *end || x == skip)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = realloc(v, cap * sizeof *v);
			if (!v)
				die("%s", "out of memory");
		}
		v[n++] = (int)x;
	}
	closedir(d);
	qsort(v, n, sizeof *v, cmp_int);
	for (int i = 0; i < n; i++)
		printf("%s%d", i ? sep : "", v[i]);
	printf("\n");
	free(v);
	return 0;
}

static int cmd_fds(void)
{
	return list_numbers("/proc/self/fd", -2, " ");
}

static int cmd_pids(void)
{
	return list_numbers("/proc", -1, " ");
}

static int cmd_cwd(void)
{
	char buf[PATH_MAX];

	if (!getcwd(buf, sizeof buf)) {
		printf("cwd: %s (%s)\n", errname(errno), strerror(errno));
		return 1;
	}
	printf("%s\n", buf);
	return 0;
}

static int cmd_umask(void)
{
	mode_t m = umask(0);

	umask(m);
	printf("%04o\n", (unsigned)m);
	return 0;
}

static int cmd_cat(const char *path)
{
	char buf[8192];
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return report(path, errno);
	while ((r = read(fd, buf, sizeof buf)) > 0)
		if (write(1, buf, r) != r)
			return 2;
	close(fd);
	return 0;
}

static int cmd_limits(void)
{
	return cmd_cat("/proc/self/limits");
}

static int cmd_hostname(void)
{
	char buf[HOST_NAME_MAX + 1];

	if (gethostname(buf, sizeof buf) < 0)
		return report("hostname", errno);
	printf("%s\n", buf);
	return 0;
}

/* readlink of each /proc/self/ns entry, "name inode" */
static int cmd_ns(void)
{
	const char *names[] = { "cgroup", "ipc", "mnt", "net", "pid", "user", "uts" };

	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char path[64], target[128];
		ssize_t n;

		snprintf(path, sizeof path, "/proc/self/ns/%s", names[i]);
		n = readlink(path, target, sizeof target - 1);
		if (n < 0) {
			printf("%s ?\n", names[i]);
			continue;
		}
		target[n] = 0;
		printf("%s %s\n", names[i], target);
	}
	return 0;
}

/* network interfaces: "NAME up|down" */
static int cmd_ifaces(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (!ifs || s < 0) {
		perror("if_nameindex");
		return 2;
	}
	for (i = ifs; i->if_index; i++) {
		struct ifreq ifr;

		memset(&ifr, 0, sizeof ifr);
		snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", i->if_name);
		if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
			printf("%s ?\n", i->if_name);
		else
			printf("%s %s\n", i->if_name, (ifr.ifr_flags & IFF_UP) ? "up" : "down");
	}
	if_freenameindex(ifs);
	close(s);
	return 0;
}

/* one line per entry of DIR: "name c MAJ:MIN", "name l TARGET", "name d", ... */
static int cmd_lsdir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d)
		return report(path, errno);
	while ((e = readdir(d))) {
		struct stat st;
		char target[PATH_MAX];
		ssize_t n;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			printf("%s ?\n", e->d_name);
			continue;
		}
		switch (st.st_mode & S_IFMT) {
		case S_IFCHR:
		case S_IFBLK:
			printf("%s %c %u:%u %04o\n", e->d_name, S_ISCHR(st.st_mode) ? 'c' : 'b',
			       major(st.st_rdev), minor(st.st_rdev), st.st_mode & 07777);
			break;
		case S_IFLNK:
			n = readlinkat(dirfd(d), e->d_name, target, sizeof target - 1);
			target[n < 0 ? 0 : n] = 0;
			printf("%s l %s\n", e->d_name, target);
			break;
		case S_IFDIR:
			printf("%s d %04o\n", e->d_name, st.st_mode & 07777);
			break;
		case S_IFREG:
			printf("%s f %lld\n", e->d_name, (long long)st.st_size);
			break;
		default:
			printf("%s o\n", e->d_name);
		}
	}
	closedir(d);
	return 0;
}

/* create/append to PATH */
static int cmd_write(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	char what[PATH_MAX + 16];

	snprintf(what, sizeof what, "write %s", path);
	if (fd < 0)
		return report(what, errno);
	if (write(fd, text, strlen(text)) < 0) {
		int e = errno;
		close(fd);
		return report(what, e);
	}
	if (close(fd) < 0)
		return report(what, errno);
	return report(what, 0);
}

/* open PATH for writing, write nothing (safe on /proc/sys, sysfs) */
static int cmd_open_w(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	char what[PATH_MAX + 16];

	snprintf(what, sizeof what, "open-w %s", path);
	if (fd < 0)
		return report(what, errno);
	close(fd);
	return report(what, 0);
}

/* open PATH for reading, then for writing (a device node: nothing read or
 * written); one report line each */
static int cmd_open_rw(const char *path)
{
	char what[PATH_MAX + 16];
	int fd, r1, r2;

	snprintf(what, sizeof what, "open-r %s", path);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	r1 = report(what, fd < 0 ? errno : 0);
	if (fd >= 0)
		close(fd);
	snprintf(what, sizeof what, "open-w %s", path);
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	r2 = report(what, fd < 0 ? errno : 0);
	if (fd >= 0)
		close(fd);
	return r1 > r2 ? r1 : r2;
}

/* run on the host: how many BPF device programs are attached to the cgroup2
 * directory DIR itself ("device-programs: N") */
static int cmd_device_programs(const char *dir)
{
	uint32_t ids[16];
	union bpf_attr attr;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return report(dir, errno);
	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = fd;
	attr.query.attach_type = BPF_CGROUP_DEVICE;
	attr.query.prog_ids = (uintptr_t)ids;
	attr.query.prog_cnt = 16;
	if (syscall(SYS_bpf, BPF_PROG_QUERY, &attr, sizeof(attr)) < 0) {
		int e = errno;
		close(fd);
		return report("BPF_PROG_QUERY", e);
	}
	close(fd);
	printf("device-programs: %u\n", attr.query.prog_cnt);
	return 0;
}

/* how many bytes can be read from PATH (up to 1 MiB) */
static int cmd_read_size(const char *path)
{
	char buf[65536];
	long long total = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return report(path, errno);
	while (total < (1 << 20) && (r = read(fd, buf, sizeof buf)) > 0)
		total += r;
	close(fd);
	printf("%s: %lld bytes\n", path, total);
	return 0;
}

/* entries of a directory, for "is this masked?" */
static int cmd_count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return report(path, errno);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	printf("%s: %d entries\n", path, n);
	return 0;
}

/* ------------------------------------------------------------ processes */

__attribute__((noreturn))
static int cmd_exit(const char *code)
{
	exit((int)num(code));
}

static int cmd_kill_self(const char *sigstr)
{
	int sig = (int)num(sigstr);
	struct rlimit nocore = { 0, 0 };
	sigset_t all;

	setrlimit(RLIMIT_CORE, &nocore);
	signal(sig, SIG_DFL);
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	raise(sig);
	nap(0.2);
	/* Still here: PID 1 of a PID namespace ignores signals it has no handler
	 * for, even from itself.  Synchronous faults are delivered anyway. */
	switch (sig) {
	case SIGSEGV: {
		volatile int *p = NULL;
		*p = 1;
		break;
	}
	case SIGILL:
		__builtin_trap();
	case SIGFPE: {
		volatile int zero = 0;
		printf("%d\n", 1 / zero);
		break;
	}
	default:
		break;
	}
	fprintf(stderr, "%s: kill-self %d: still alive (pid %d)\n", prog, sig, (int)getpid());
	return 99;
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* prints "ready", waits up to SECS for TERM/INT/HUP/QUIT/USR1/USR2, prints
 * "got SIGxxx" and exits 0; exits 1 on timeout */
static int cmd_wait_signal(const char *secs)
{
	int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	struct sigaction sa;
	double left = seconds(secs);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		sigaction(sigs[i], &sa, NULL);
	printf("ready\n");
	while (!got_signal && left > 0) {
		nap(0.05);
		left -= 0.05;
	}
	if (!got_signal) {
		printf("timeout\n");
		return 1;
	}
	printf("got SIG%s\n", sigabbrev_np(got_signal));
	return 0;
}

static int cmd_ignore_term(const char *secs)
{
	signal(SIGTERM, SIG_IGN);
	printf("ready\n");
	nap(seconds(secs));
	printf("done\n");
	return 0;
}

/* realtime FILE: the wall clock in microseconds into FILE (tests/bench/userns:
 * the moment the command runs, against the shell's $EPOCHREALTIME) */
static int cmd_realtime(const char *file)
{
	struct timespec ts;
	FILE *f;

	clock_gettime(CLOCK_REALTIME, &ts);
	f = fopen(file, "we");
	if (!f) {
		perror(file);
		return 1;
	}
	fprintf(f, "%lld\n", (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
	return fclose(f) == 0 ? 0 : 1;
}

static int cmd_sleep(const char *secs)
{
	nap(seconds(secs));
	return 0;
}

__attribute__((noreturn))
static int cmd_hog_memory(void)
{
	size_t chunk = 1 << 20, total = 0;

	printf("ready\n");
	for (;;) {
		char *p = malloc(chunk);

		if (!p) {
			nap(0.01);
			continue;
		}
		memset(p, 0xa5, chunk);
		total += chunk;
		if ((total >> 20) % 64 == 0)
			printf("allocated %zu MiB\n", total >> 20);
	}
}

static void to_dev_null(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	} else {
		close(0);
		close(1);
		close(2);
	}
}

/* N orphaned sleepers: double fork, new session, TERM/INT/HUP ignored,
 * stdio on /dev/null, each sleeps SECS (default 120) */
static int cmd_fork_orphans(const char *nstr, const char *secs)
{
	long n = num(nstr);
	double s = secs ? seconds(secs) : 120;

	for (long i = 0; i < n; i++) {
		pid_t mid = fork();

		if (mid < 0) {
			perror("fork");
			return 2;
		}
		if (mid == 0) {
			pid_t p = fork();

			if (p == 0) {
				setsid();
				signal(SIGTERM, SIG_IGN);
				signal(SIGINT, SIG_IGN);
				signal(SIGHUP, SIG_IGN);
				to_dev_null();
				nap(s);
				_exit(0);
			}
			if (p > 0)
				printf("orphan %d\n", (int)p);
			_exit(p < 0);
		}
		waitpid(mid, NULL, 0);
	}
	return 0;
}

static int count_zombies(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], buf[512], *rp;
		int fd;
		ssize_t r;

		if (*e->d_name < '0' || *e->d_name > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		r = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (r <= 0)
			continue;
		buf[r] = 0;
		rp = strrchr(buf, ')');
		if (rp && rp[1] == ' ' && rp[2] == 'Z')
			n++;
	}
	closedir(d);
	return n;
}

/* N grandchildren that exit after 0.2 s, orphaned at once (their parent
 * exits immediately), so they become zombies of the namespace's PID 1;
 * after a second, count the zombies in /proc: "zombies: K" (exit 0 iff 0) */
static int cmd_zombies(const char *nstr)
{
	long n = num(nstr);
	pid_t mid = fork();
	int z;

	if (mid < 0) {
		perror("fork");
		return 2;
	}
	if (mid == 0) {
		for (long i = 0; i < n; i++)
			if (fork() == 0) {
				nap(0.2);
				_exit(0);
			}
		_exit(0);
	}
	waitpid(mid, NULL, 0);
	nap(1.2);
	z = count_zombies();
	printf("zombies: %d\n", z);
	return z == 0 ? 0 : 1;
}

/* ------------------------------------------------------------ sd_notify */

static int cmd_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	int fd;

	if (!path || !*path) {
		fprintf(stderr, "%s: NOTIFY_SOCKET not set\n", prog);
		return 2;
	}
	if (strlen(path) >= sizeof sa.sun_path)
		die("NOTIFY_SOCKET too long: %s", path);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (path[0] == '@')
		sa.sun_path[0] = 0;
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return report("notify", errno);
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0) {
		int e = errno;
		close(fd);
		return report("notify", e);
	}
	close(fd);
	return report("notify", 0);
}

/* a UDP datagram to ourselves over 127.0.0.1: "loopback: ok" */
static int cmd_loopback(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	char buf[16];
	struct timeval tv = { 2, 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return report("loopback", errno);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
	    sendto(fd, "ping", 4, 0, (struct sockaddr *)&sa, sizeof sa) != 4 ||
	    recv(fd, buf, sizeof buf, 0) != 4) {
		int e = errno;
		close(fd);
		return report("loopback", e);
	}
	close(fd);
	return report("loopback", 0);
}

/* ------------------------------------------------------------ try SYSCALL */

static int try_mount(void)
{
	char dir[] = "/tmp/ccsup-try-XXXXXX";
	int e = 0;

	if (!mkdtemp(dir))
		return errno;
	if (mount("ccsup-try", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=4k") < 0)
		e = errno;
	else
		umount2(dir, MNT_DETACH);
	rmdir(dir);
	return e;
}

static int try_unshare(int flags)
{
	return unshare(flags) < 0 ? errno : 0;
}

static int try_keyctl(void)
{
	long r = syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
	return r < 0 ? errno : 0;
}

static int try_add_key(void)
{
	long r = syscall(SYS_add_key, "user", "ccsup-test", "x", 1, KEY_SPEC_PROCESS_KEYRING);
	return r < 0 ? errno : 0;
}

static int try_bpf(void)
{
	/* an all-zero map: EINVAL when bpf() is allowed and privileged */
	union bpf_attr attr;
	long r;

	memset(&attr, 0, sizeof attr);
	r = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
	if (r >= 0) {
		close((int)r);
		return 0;
	}
	return errno;
}

static int try_reboot(void)
{
	/* wrong magic: EPERM without CAP_SYS_BOOT (or under seccomp),
	 * EINVAL when the call is allowed - never reboots anything */
	long r = syscall(SYS_reboot, 0, 0, 0, NULL);
	return r < 0 ? errno : 0;
}

static int try_kexec(void)
{
	/* bogus flags: EPERM first without CAP_SYS_BOOT, else EINVAL */
	long r = syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0xdead0000UL);
	return r < 0 ? errno : 0;
}

static int try_perf(void)
{
	struct perf_event_attr attr;
	long fd;

	memset(&attr, 0, sizeof attr);
	attr.size = sizeof attr;
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_TASK_CLOCK;
	attr.disabled = 1;
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
	if (fd < 0)
		return errno;
	close((int)fd);
	return 0;
}

static int try_module(void)
{
	/* fd -1: EPERM without CAP_SYS_MODULE, else EBADF */
	long r = syscall(SYS_finit_module, -1, "", 0);
	return r < 0 ? errno : 0;
}

static int try_setns(void)
{
	int fd = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	int e = 0;

	if (fd < 0)
		return errno;
	if (setns(fd, CLONE_NEWUTS) < 0)
		e = errno;
	close(fd);
	return e;
}

static int try_chroot(void)
{
	return chroot("/") < 0 ? errno : 0;
}

static int try_mknod(void)
{
	char path[] = "/tmp/ccsup-try-null-XXXXXX";
	int fd = mkstemp(path), e = 0;

	if (fd < 0)
		return errno;
	close(fd);
	unlink(path);
	if (mknod(path, S_IFCHR | 0600, makedev(1, 3)) < 0)
		e = errno;
	unlink(path);
	return e;
}

/* an unprivileged ICMP socket (net.ipv4.ping_group_range) */
static int try_icmp(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* ioctl(fd, request) on /dev/null, never a terminal: ENOTTY where the call
 * reaches the tty layer, EPERM where seccomp refuses it.  Harmless either way:
 * nothing is ever pushed into a terminal. */
static int try_ioctl(unsigned long request)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), e = 0;
	char c[2] = { '#', 0 };

	if (fd < 0)
		return errno;
	if (syscall(SYS_ioctl, fd, request, c) < 0)
		e = errno;
	close(fd);
	return e;
}

static int try_tiocsti(void) { return try_ioctl(TIOCSTI); }
/* the kernel takes the request as a 32-bit int: upper bits must not help */
static int try_tiocsti_high(void) { return try_ioctl((unsigned long)TIOCSTI | 0x100000000UL); }
static int try_tioclinux(void) { return try_ioctl(TIOCLINUX); }
/* an ordinary request, for contrast: ENOTTY */
static int try_tcgets(void) { return try_ioctl(TCGETS); }

/* back to root from another uid: needs CAP_SETUID */
static int try_setuid0(void)
{
	return setuid(0) < 0 ? errno : 0;
}

/* a port below 1024 (ip_unprivileged_port_start of a fresh network
 * namespace): needs CAP_NET_BIND_SERVICE */
static int try_bind_low(void)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), e = 0;

	if (fd < 0)
		return errno;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(80);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		e = errno;
	close(fd);
	return e;
}

static int cmd_try(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(void);
	} probes[] = {
		{ "mount", try_mount },
		{ "keyctl", try_keyctl },
		{ "add_key", try_add_key },
		{ "bpf", try_bpf },
		{ "reboot", try_reboot },
		{ "kexec", try_kexec },
		{ "perf_event_open", try_perf },
		{ "finit_module", try_module },
		{ "setns", try_setns },
		{ "chroot", try_chroot },
		{ "mknod", try_mknod },
		{ "icmp", try_icmp },
		{ "tiocsti", try_tiocsti },
		{ "tiocsti-high", try_tiocsti_high },
		{ "tioclinux", try_tioclinux },
		{ "tcgets", try_tcgets },
		{ "setuid0", try_setuid0 },
		{ "bind-low", try_bind_low },
	};
	int worst = 0;

	for (int i = 0; i < argc; i++) {
		const char *name = argv[i];
		int e = -1, rc;

		if (!strcmp(name, "unshare-user"))
			e = try_unshare(CLONE_NEWUSER);
		else if (!strcmp(name, "unshare-net"))
			e = try_unshare(CLONE_NEWNET);
		else if (!strcmp(name, "unshare-mount"))
			e = try_unshare(CLONE_NEWNS);
		else if (!strcmp(name, "unshare-pid"))
			e = try_unshare(CLONE_NEWPID);
		else
			for (size_t j = 0; j < sizeof probes / sizeof *probes; j++)
				if (!strcmp(name, probes[j].name))
					e = probes[j].fn();
		if (e < 0)
			die("unknown system call probe: %s", name);
		rc = report(name, e);
		if (rc > worst)
			worst = rc;
	}
	return worst;
}

/* ------------------------------------------------------------ resources */

/* busy loop for SECS of wall time */
static int cmd_burn(const char *secs)
{
	struct timespec t0, t;
	double limit = seconds(secs), el;
	volatile unsigned long x = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	printf("burning\n");
	do {
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i;
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
	} while (el < limit);
	printf("burned %.1f s\n", el);
	return 0;
}

/* tries N forks of children that wait for the parent's end; prints how many
 * worked and why the next one did not: "forked=K error=EAGAIN" */
static int cmd_fork_bomb(const char *nstr)
{
	long n = num(nstr), k;
	int p[2], e = 0;
	char c;

	if (pipe(p) < 0)
		return 2;
	for (k = 0; k < n; k++) {
		pid_t pid = fork();

		if (pid < 0) {
			e = errno;
			break;
		}
		if (pid == 0) {
			close(p[1]);
			(void)!read(p[0], &c, 1);
			_exit(0);
		}
	}
	printf("forked=%ld error=%s\n", k, errname(e));
	close(p[1]); /* the children end */
	while (wait(NULL) > 0)
		;
	return 0;
}

/* exit 0 when this process has any effective capability */
static int cmd_has_caps(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long long eff = 0;

	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	if (f)
		fclose(f);
	printf("CapEff=%016llx euid=%d\n", eff, (int)geteuid());
	return eff != 0 || geteuid() == 0 ? 0 : 1;
}

/* ------------------------------------------------------------ the battery */

/* Each probe runs in a child of its own (unshare and friends change the
 * caller) and returns 0 when the attempt got through every confinement
 * layer, else the errno that stopped it. Probes use harmless arguments: an
 * allowed call fails with EINVAL/ENOENT/EBADF instead of acting, and those
 * count as "got through" (the kernel looked at the arguments). */
static int through(long r)
{
	if (r >= 0)
		return 0;
	return errno == EPERM || errno == EACCES || errno == EROFS ? errno : 0;
}

static pid_t host_pid;
static const char *host_comm = "";

/* the host's whole disks (loop devices included), from sysfs */
struct disk {
	char name[64];
	unsigned maj, min;
};

static int host_disks(struct disk *out, int max)
{
	DIR *d = opendir("/sys/dev/block");
	struct dirent *e;
	int n = 0;

	while (d && n < max && (e = readdir(d))) {
		char path[300], line[256];
		FILE *f;
		int disk = 0;

		if (sscanf(e->d_name, "%u:%u", &out[n].maj, &out[n].min) != 2)
			continue;
		snprintf(path, sizeof path, "/sys/dev/block/%s/uevent", e->d_name);
		f = fopen(path, "re");
		out[n].name[0] = 0;
		while (f && fgets(line, sizeof line, f)) {
			line[strcspn(line, "\n")] = 0;
			if (!strcmp(line, "DEVTYPE=disk"))
				disk = 1;
			if (!strncmp(line, "DEVNAME=", 8))
				snprintf(out[n].name, sizeof out[n].name, "%.60s", line + 8);
		}
		if (f)
			fclose(f);
		if (disk && out[n].name[0])
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

static int row_mount(void) { int e = try_mount(); return e == EPERM ? e : 0; }
/* a directory of our own that is no mount point: EINVAL when allowed */
static int row_umount(void)
{
	int e;

	mkdir("/tmp/ccsup-umount-probe", 0700);
	e = through(umount2("/tmp/ccsup-umount-probe", 0));
	rmdir("/tmp/ccsup-umount-probe");
	return e;
}
static int row_unshare_user(void) { return through(unshare(CLONE_NEWUSER)); }
static int row_unshare_mount(void) { return through(unshare(CLONE_NEWNS)); }
static int row_unshare_net(void) { return through(unshare(CLONE_NEWNET)); }
static int row_setns(void) { int e = try_setns(); return e == EPERM ? e : 0; }
static int row_pivot_root(void)
{
	return through(syscall(SYS_pivot_root, "/nonexistent-ccsup-a", "/nonexistent-ccsup-b"));
}
static int row_keyctl(void) { int e = try_keyctl(); return e == EPERM || e == EACCES ? e : 0; }
static int row_add_key(void) { int e = try_add_key(); return e == EPERM || e == EACCES ? e : 0; }
static int row_bpf(void) { int e = try_bpf(); return e == EPERM ? e : 0; }
static int row_perf(void) { int e = try_perf(); return e == EPERM || e == EACCES ? e : 0; }
static int row_init_module(void) { return through(syscall(SYS_init_module, NULL, 0UL, "")); }
static int row_kexec(void) { int e = try_kexec(); return e == EPERM ? e : 0; }
static int row_reboot(void) { int e = try_reboot(); return e == EPERM ? e : 0; }
static int row_swapon(void) { return through(syscall(SYS_swapon, "/nonexistent-ccsup-swap", 0)); }

static int row_chroot_escape(void)
{
	struct stat before, after;

	if (stat("/", &before) < 0)
		return errno;
	mkdir("/tmp/ccsup-escape", 0700);
	if (chroot("/tmp/ccsup-escape") < 0)
		return errno;
	for (int i = 0; i < 64; i++)
		(void)!chdir("..");
	if (chroot(".") < 0)
		return errno;
	if (stat("/", &after) < 0)
		return errno;
	/* still the container's root: the escape led nowhere */
	return before.st_dev == after.st_dev && before.st_ino == after.st_ino ? ENOENT : 0;
}

/* any of them, as /dev shows it (a sandboxed host may refuse some) */
static int row_open_block(void)
{
	struct disk disks[64];
	int n = host_disks(disks, 64), first = ENODEV;

	for (int i = 0; i < n; i++) {
		char path[80];
		int fd;

		snprintf(path, sizeof path, "/dev/%.60s", disks[i].name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (first == ENODEV)
			first = errno;
	}
	return first;
}

/* making the node is the privilege (CAP_MKNOD); opening it is the devices
 * cgroup's business, and the nodev upper layer's */
static int row_mknod_block(void)
{
	struct disk disk;

	if (host_disks(&disk, 1) < 1)
		return ENODEV;
	unlink("/tmp/ccsup-blk");
	if (mknod("/tmp/ccsup-blk", S_IFBLK | 0600, makedev(disk.maj, disk.min)) < 0)
		return errno;
	unlink("/tmp/ccsup-blk");
	return 0;
}

static int row_proc_sys_kernel(void)
{
	char host[256];
	int fd;

	if (gethostname(host, sizeof host) < 0)
		return errno;
	/* the container's own UTS name, written back as it is */
	fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (write(fd, host, strlen(host)) < 0) {
		int e = errno;
		close(fd);
		return e;
	}
	close(fd);
	return 0;
}

static int row_sysrq(void)
{
	/* opened for writing only: never written */
	int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int row_kcore(void)
{
	char buf[4];
	int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return errno;
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n != 4 || memcmp(buf, "\177ELF", 4))
		return n < 0 ? errno : ENODATA; /* masked: /dev/null */
	return 0;
}

/* a host process, by its host PID: visible only if /proc shows that command there */
static int host_pid_visible(void)
{
	char path[64], comm[64] = "";
	FILE *f;

	if (host_pid <= 0)
		return EINVAL;
	snprintf(path, sizeof path, "/proc/%d/comm", (int)host_pid);
	f = fopen(path, "re");
	if (!f)
		return ESRCH;
	if (!fgets(comm, sizeof comm, f))
		comm[0] = 0;
	fclose(f);
	comm[strcspn(comm, "\n")] = 0;
	return strcmp(comm, host_comm) ? ESRCH : 0;
}

static int row_see_host(void) { return host_pid_visible(); }

static int row_ptrace(void)
{
	int e = host_pid_visible();

	if (e)
		return e;
	if (ptrace(PTRACE_SEIZE, host_pid, NULL, NULL) < 0)
		return errno;
	ptrace(PTRACE_DETACH, host_pid, NULL, NULL);
	return 0;
}

/* exec a privileged copy of ourselves as an unprivileged user: does it gain
 * capabilities? */
static int gain_through(const char *path)
{
	pid_t pid;
	int status;

	if (access(path, X_OK) < 0)
		return errno;
	pid = fork();
	if (pid == 0) {
		to_dev_null();
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(3);
		execl(path, path, "has-caps", (char *)NULL);
		/* a file capability the bounding set lacks: EPERM */
		_exit(errno == EPERM ? 5 : 4);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 5)
		return EPERM;
	if (!WIFEXITED(status) || WEXITSTATUS(status) > 1)
		return ECHILD;
	return WEXITSTATUS(status) == 0 ? 0 : EPERM;
}

static int row_setuid(void) { return gain_through("/usr/bin/ccsup-testhelper-suid"); }
static int row_filecap(void) { return gain_through("/usr/bin/ccsup-testhelper-fcap"); }

static int battery_pipe = -1;

static int row_inherited_fd(void)
{
	for (int fd = 3; fd < 1024; fd++)
		if (fd != battery_pipe && fcntl(fd, F_GETFD) >= 0)
			return 0;
	return EBADF;
}

static const struct {
	const char *name;
	int (*fn)(void);
} rows[] = {
	{ "inherited-fd", row_inherited_fd }, /* first: before anything opens a file */
	{ "mount", row_mount },
	{ "umount", row_umount },
	{ "unshare-user", row_unshare_user },
	{ "unshare-mount", row_unshare_mount },
	{ "unshare-net", row_unshare_net },
	{ "setns", row_setns },
	{ "pivot_root", row_pivot_root },
	{ "chroot-escape", row_chroot_escape },
	{ "keyctl", row_keyctl },
	{ "add_key", row_add_key },
	{ "bpf", row_bpf },
	{ "perf_event_open", row_perf },
	{ "init_module", row_init_module },
	{ "kexec_load", row_kexec },
	{ "reboot", row_reboot },
	{ "swapon", row_swapon },
	{ "open-host-block-device", row_open_block },
	{ "mknod-block-device", row_mknod_block },
	{ "write-proc-sys-kernel", row_proc_sys_kernel },
	{ "write-sysrq-trigger", row_sysrq },
	{ "read-proc-kcore", row_kcore },
	{ "see-host-process", row_see_host },
	{ "ptrace-outside", row_ptrace },
	{ "setuid-gain", row_setuid },
	{ "filecap-gain", row_filecap },
};

/* battery HOSTPID COMM: one line per row, "NAME allowed" or "NAME blocked
 * ERRNO"; HOSTPID and COMM name a process of the host to look for */
static int cmd_battery(const char *pid, const char *comm)
{
	host_pid = (pid_t)num(pid);
	host_comm = comm;
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		int p[2], e = 0;
		pid_t c;

		if (pipe(p) < 0)
			die("pipe: %s", strerror(errno));
		c = fork();
		if (c == 0) {
			close(p[0]);
			battery_pipe = p[1];
			e = rows[i].fn();
			(void)!write(p[1], &e, sizeof e);
			_exit(0);
		}
		close(p[1]);
		if (c < 0 || read(p[0], &e, sizeof e) != sizeof e)
			e = ECHILD;
		close(p[0]);
		waitpid(c, NULL, 0);
		if (e)
			printf("%s blocked %s\n", rows[i].name, errname(e));
		else
			printf("%s allowed\n", rows[i].name);
	}
	return 0;
}

/* ------------------------------------------------------------ write-everywhere */

struct damage {
	dev_t dev;
	long written, chmodded, chowned, touched, deleted, created, failed;
};

/* mount points other than "/", from /proc/self/mountinfo (when mounted) */
static char **mountpoints;
static size_t nmountpoints;

static void load_mountpoints(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		char mp[4096];

		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 || !strcmp(mp, "/"))
			continue;
		mountpoints = realloc(mountpoints, (nmountpoints + 1) * sizeof *mountpoints);
		if (!mountpoints || !(mountpoints[nmountpoints++] = strdup(mp)))
			die("%s", "out of memory");
	}
	fclose(f);
}

static int is_mountpoint(const char *path)
{
	for (size_t i = 0; i < nmountpoints; i++)
		if (!strcmp(path, mountpoints[i]))
			return 1;
	return 0;
}

static int skip_top(const char *path)
{
	static const char *skip[] = { "/proc", "/sys", "/dev" };

	for (size_t i = 0; i < sizeof skip / sizeof *skip; i++)
		if (!strcmp(path, skip[i]))
			return 1;
	return 0;
}

/* pass 1: modify every entry in place; pass 2 (post-order): delete it */
static void vandalise(const char *dir, struct damage *d, int pass)
{
	DIR *dp = opendir(dir);
	struct dirent *e;

	if (!dp) {
		d->failed++;
		return;
	}
	while ((e = readdir(dp))) {
		char path[PATH_MAX];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", strcmp(dir, "/") ? dir : "", e->d_name);
		/* stay on the root filesystem: overlayfs may report the st_dev of
		 * a lower layer for non-directories, so mounts are found in
		 * mountinfo, and by st_dev for directories only */
		if (skip_top(path) || is_mountpoint(path) || lstat(path, &st) < 0 ||
		    (S_ISDIR(st.st_mode) && st.st_dev != d->dev))
			continue;
		if (S_ISDIR(st.st_mode))
			vandalise(path, d, pass);
		if (pass == 1) {
			struct timespec ts[2] = { { 12345, 0 }, { 12345, 0 } };

			if (S_ISREG(st.st_mode)) {
				int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);

				if (fd >= 0 && write(fd, "vandal", 6) == 6)
					d->written++;
				else
					d->failed++;
				if (fd >= 0)
					close(fd);
			}
			if (!S_ISLNK(st.st_mode))
				(chmod(path, 0777) == 0) ? d->chmodded++ : d->failed++;
			(lchown(path, 4242, 4242) == 0) ? d->chowned++ : d->failed++;
			(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) == 0) ? d->touched++ : d->failed++;
		} else {
			int r = S_ISDIR(st.st_mode) ? rmdir(path) : unlink(path);

			(r == 0) ? d->deleted++ : d->failed++;
		}
	}
	closedir(dp);
	if (pass == 1) {
		char path[PATH_MAX];
		int fd;

		snprintf(path, sizeof path, "%s/.ccsup-vandal", strcmp(dir, "/") ? dir : "");
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0) {
			d->created++;
			close(fd);
		} else {
			d->failed++;
		}
	}
}

static int cmd_write_everywhere(void)
{
	struct damage d;
	struct stat st;

	memset(&d, 0, sizeof d);
	if (stat("/", &st) < 0) {
		perror("/");
		return 2;
	}
	d.dev = st.st_dev;
	load_mountpoints();
	vandalise("/", &d, 1);
	vandalise("/", &d, 2);
	printf("written=%ld chmod=%ld chown=%ld touched=%ld created=%ld deleted=%ld failed=%ld\n",
	       d.written, d.chmodded, d.chowned, d.touched, d.created, d.deleted, d.failed);
	return 0;
}

/* ------------------------------------------------------------ exec races */

/* CVE-2019-5736, CVE-2016-9962: a process of the container watches every new
 * PID and tries what an attacker would on a process that `ccsupctl exec`
 * starts, before it executes its command (while it is still ccsupd):
 * open its /proc/PID/exe for writing, read that link, PTRACE_SEIZE it.
 *
 *   exec-hunt SECS FILE   appends "ready" to FILE, hunts for SECS (or until
 *                         SIGTERM), one line per hit, then
 *                         "done seen=N window=N attached=N before-exec=N
 *                          exe-visible=N exe-writable=N"
 *
 * window: PIDs first seen still named ccsupd (comm), i.e. before their
 * execve; before-exec: a seize that caught one of them before it (its exe,
 * read as its tracer, still ccsupd's). */
static volatile sig_atomic_t hunt_stop;

static void on_hunt_stop(int sig)
{
	(void)sig;
	hunt_stop = 1;
}

static int hunt_out = -1;

__attribute__((format(printf, 1, 2)))
static void hunt_say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	(void)!write(hunt_out, buf, (size_t)n);
}

static int is_ccsupd_exe(const char *link)
{
	return strstr(link, "ccsupd") || strstr(link, "memfd:");
}

#define HUNT_MAX_PID (1 << 22)
static unsigned char hunt_seen[HUNT_MAX_PID / 8];

static int cmd_exec_hunt(const char *secs, const char *file)
{
	struct timespec t0, now;
	double limit = seconds(secs);
	long seen = 0, window = 0, attached = 0, before = 0, visible = 0, writable = 0;
	struct sigaction sa;
	pid_t self = getpid();

	hunt_out = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (hunt_out < 0)
		die("%s: %s", file, strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_hunt_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	hunt_say("ready");
	while (!hunt_stop) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		if (!d)
			die("/proc: %s", strerror(errno));
		while ((e = readdir(d))) {
			char path[64], link[PATH_MAX], comm[32] = "";
			long pid;
			char *end;
			ssize_t n;
			int fd, st, pre = 0;

			pid = strtol(e->d_name, &end, 10);
			if (*end || pid <= 1 || pid == self || pid >= HUNT_MAX_PID)
				continue;
			if (hunt_seen[pid / 8] & (1 << (pid % 8)))
				continue;
			hunt_seen[pid / 8] |= (unsigned char)(1 << (pid % 8));
			seen++;

			/* the cheapest first: the window is short */
			if (ptrace(PTRACE_SEIZE, (pid_t)pid, 0, 0) == 0) {
				attached++;
				snprintf(path, sizeof path, "/proc/%ld/exe", pid);
				n = readlink(path, link, sizeof link - 1);
				if (n > 0) {
					link[n] = '\0';
					pre = is_ccsupd_exe(link);
				}
				/* (an exec event may follow: a seize in the tail of
				 * execve, when the new program is already in place) */
				ptrace(PTRACE_INTERRUPT, (pid_t)pid, 0, 0);
				if (waitpid((pid_t)pid, &st, __WALL) == (pid_t)pid && WIFSTOPPED(st))
					ptrace(PTRACE_DETACH, (pid_t)pid, 0, 0);
				if (pre) {
					before++;
					hunt_say("before-exec %ld %s", pid, n > 0 ? link : "?");
				}
			}
			snprintf(path, sizeof path, "/proc/%ld/exe", pid);
			fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd >= 0) {
				char self_fd[64];

				/* the container's own binaries are its business */
				snprintf(self_fd, sizeof self_fd, "/proc/self/fd/%d", fd);
				n = readlink(self_fd, link, sizeof link - 1);
				link[n > 0 ? n : 0] = '\0';
				if (n <= 0 || is_ccsupd_exe(link)) {
					writable++;
					hunt_say("exe-writable %ld %s", pid, link);
				}
				close(fd);
			}
			n = readlink(path, link, sizeof link - 1);
			if (n > 0) {
				link[n] = '\0';
				if (is_ccsupd_exe(link)) {
					visible++;
					hunt_say("exe-visible %ld %s", pid, link);
				}
			}
			snprintf(path, sizeof path, "/proc/%ld/comm", pid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				n = read(fd, comm, sizeof comm - 1);
				comm[n > 0 ? n : 0] = '\0';
				close(fd);
				if (!strcmp(comm, "ccsupd\n"))
					window++;
			}
		}
		closedir(d);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 > limit)
			break;
	}
	hunt_say("done seen=%ld window=%ld attached=%ld before-exec=%ld exe-visible=%ld exe-writable=%ld",
		 seen, window, attached, before, visible, writable);
	return 0;
}

/* seize-hold PIDFILE SECS: PTRACE_SEIZE the PID that PIDFILE names (once it
 * appears), print "seized PID", then never wait for it: a tracer that holds
 * the zombie of an `exec` command. */
static int cmd_seize_hold(const char *pidfile, const char *secs)
{
	double left = seconds(secs);

	while (left > 0) {
		FILE *f = fopen(pidfile, "re");
		long pid = 0;

		if (f) {
			if (fscanf(f, "%ld", &pid) != 1)
				pid = 0;
			fclose(f);
		}
		if (pid > 0) {
			if (ptrace(PTRACE_SEIZE, (pid_t)pid, 0, 0) < 0) {
				fprintf(stderr, "%s: seize %ld: %s\n", prog, pid, strerror(errno));
				return 1;
			}
			printf("seized %ld\n", pid);
			nap(left);
			return 0;
		}
		nap(0.01);
		left -= 0.01;
	}
	printf("timeout\n");
	return 1;
}

/* udp-echo PORT TAG: answers each datagram to PORT (IPv4 and IPv6) with
 * "TAG " and the datagram, forever (sup-bridge.bats: busybox nc has no UDP). */
static int cmd_udp_echo(const char *port, const char *tag)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)atoi(port)) };
	int fd = socket(AF_INET6, SOCK_DGRAM, 0), off = 0;

	if (fd < 0 || setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "%s: udp-echo %s: %s\n", prog, port, strerror(errno));
		return 1;
	}
	for (;;) {
		char in[512], out[600];
		struct sockaddr_in6 from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, in, sizeof(in) - 1, 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			continue;
		in[n] = 0;
		int l = snprintf(out, sizeof(out), "%s %s", tag, in);
		(void)sendto(fd, out, (size_t)l, 0, (struct sockaddr *)&from, fl);
	}
}

/* tcp-half-close PORT DIR: for each TCP connection to PORT (IPv4 and IPv6),
 * one at a time: "hello\n", then its sending side shut (a half-close), then
 * what it receives until the end of file into DIR/half-close.N (N counts
 * the connections from 1), renamed from .N.part once complete
 * (sup-bridge.bats: a relay across daemon-reexec). */
static int cmd_tcp_half_close(const char *port, const char *dir)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)atoi(port)) };
	int fd = socket(AF_INET6, SOCK_STREAM, 0), off = 0, one = 1;

	if (fd < 0 || setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		fprintf(stderr, "%s: tcp-half-close %s: %s\n", prog, port, strerror(errno));
		return 1;
	}
	for (unsigned n = 1;; n++) {
		char part[PATH_MAX], done[PATH_MAX], buf[65536];
		int c = accept(fd, NULL, NULL), out;
		ssize_t k;

		if (c < 0)
			continue;
		snprintf(part, sizeof(part), "%s/half-close.%u.part", dir, n);
		snprintf(done, sizeof(done), "%s/half-close.%u", dir, n);
		out = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (out < 0 || write(c, "hello\n", 6) != 6 || shutdown(c, SHUT_WR) < 0) {
			fprintf(stderr, "%s: tcp-half-close: %s\n", prog, strerror(errno));
			return 1;
		}
		while ((k = read(c, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)k) != k)
				return 1;
		close(out);
		close(c);
		if (rename(part, done) < 0)
			return 1;
	}
}

/* exit-after SECS CODE: sleep, then exit CODE (no child, no signal: fit for
 * a tracee whose tracer never lets a signal through) */
static int cmd_exit_after(const char *secs, const char *code)
{
	nap(seconds(secs));
	_exit((int)num(code));
}

/* ------------------------------------------------------------ main */

/* setxattr PATH NAME VALUE: the VM test fakes systemd's delegation mark. */
static int cmd_setxattr(const char *path, const char *name, const char *value)
{
	if (setxattr(path, name, value, strlen(value), 0) < 0) {
		fprintf(stderr, "setxattr %s %s: %s\n", path, name, strerror(errno));
		return 1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s COMMAND [ARGS]\n"
		"  pid | ids | caps | nnp | seccomp | status KEY... | fds | pids | cwd | umask\n"
		"  limits | hostname | ns | ifaces | lsdir DIR | cat FILE | read-size FILE\n"
		"  count-entries DIR | write FILE [TEXT] | open-w FILE | open-rw FILE\n"
		"  device-programs CGROUP2-DIR\n"
		"  realtime FILE | sleep SECS | exit N | kill-self SIG | wait-signal SECS | ignore-term SECS\n"
		"  hog-memory | fork-orphans N [SECS] | zombies N | notify MSG\n"
		"  setxattr PATH NAME VALUE\n"
		"  try SYSCALL... (mount unshare-user unshare-net unshare-mount unshare-pid\n"
		"      keyctl add_key bpf reboot kexec perf_event_open finit_module setns\n"
		"      chroot mknod icmp tiocsti tiocsti-high tioclinux tcgets setuid0\n"
		"      bind-low)\n"
		"  loopback\n"
		"  burn SECS | fork-bomb N | has-caps | battery HOSTPID COMM\n"
		"  write-everywhere\n"
		"  exec-hunt SECS FILE | seize-hold PIDFILE SECS | exit-after SECS CODE\n"
		"  udp-echo PORT TAG | tcp-half-close PORT DIR\n", prog);
}

#define NEED(n) do { if (argc < (n) + 2) { usage(stderr); return 2; } } while (0)

int main(int argc, char **argv)
{
	const char *c;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	c = argv[1];
	if (!strcmp(c, "--help") || !strcmp(c, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(c, "pid")) return cmd_pid();
	if (!strcmp(c, "ids")) return cmd_ids();
	if (!strcmp(c, "caps")) return cmd_caps();
	if (!strcmp(c, "nnp")) return cmd_nnp();
	if (!strcmp(c, "seccomp")) return cmd_seccomp();
	if (!strcmp(c, "status")) { NEED(1); return status_lines(argv + 2, argc - 2); }
	if (!strcmp(c, "fds")) return cmd_fds();
	if (!strcmp(c, "pids")) return cmd_pids();
	if (!strcmp(c, "cwd")) return cmd_cwd();
	if (!strcmp(c, "umask")) return cmd_umask();
	if (!strcmp(c, "limits")) return cmd_limits();
	if (!strcmp(c, "hostname")) return cmd_hostname();
	if (!strcmp(c, "ns")) return cmd_ns();
	if (!strcmp(c, "ifaces")) return cmd_ifaces();
	if (!strcmp(c, "lsdir")) { NEED(1); return cmd_lsdir(argv[2]); }
	if (!strcmp(c, "cat")) { NEED(1); return cmd_cat(argv[2]); }
	if (!strcmp(c, "read-size")) { NEED(1); return cmd_read_size(argv[2]); }
	if (!strcmp(c, "count-entries")) { NEED(1); return cmd_count_entries(argv[2]); }
	if (!strcmp(c, "write")) { NEED(1); return cmd_write(argv[2], argc > 3 ? argv[3] : "x\n"); }
	if (!strcmp(c, "open-w")) { NEED(1); return cmd_open_w(argv[2]); }
	if (!strcmp(c, "open-rw")) { NEED(1); return cmd_open_rw(argv[2]); }
	if (!strcmp(c, "device-programs")) { NEED(1); return cmd_device_programs(argv[2]); }
	if (!strcmp(c, "realtime")) { NEED(1); return cmd_realtime(argv[2]); }
	if (!strcmp(c, "sleep")) { NEED(1); return cmd_sleep(argv[2]); }
	if (!strcmp(c, "exit")) { NEED(1); return cmd_exit(argv[2]); }
	if (!strcmp(c, "kill-self")) { NEED(1); return cmd_kill_self(argv[2]); }
	if (!strcmp(c, "wait-signal")) { NEED(1); return cmd_wait_signal(argv[2]); }
	if (!strcmp(c, "ignore-term")) { NEED(1); return cmd_ignore_term(argv[2]); }
	if (!strcmp(c, "hog-memory")) return cmd_hog_memory();
	if (!strcmp(c, "setxattr")) { NEED(3); return cmd_setxattr(argv[2], argv[3], argv[4]); }
	if (!strcmp(c, "fork-orphans")) { NEED(1); return cmd_fork_orphans(argv[2], argc > 3 ? argv[3] : NULL); }
	if (!strcmp(c, "zombies")) { NEED(1); return cmd_zombies(argv[2]); }
	if (!strcmp(c, "notify")) { NEED(1); return cmd_notify(argv[2]); }
	if (!strcmp(c, "try")) { NEED(1); return cmd_try(argc - 2, argv + 2); }
	if (!strcmp(c, "write-everywhere")) return cmd_write_everywhere();
	if (!strcmp(c, "loopback")) return cmd_loopback();
	if (!strcmp(c, "burn")) { NEED(1); return cmd_burn(argv[2]); }
	if (!strcmp(c, "fork-bomb")) { NEED(1); return cmd_fork_bomb(argv[2]); }
	if (!strcmp(c, "has-caps")) return cmd_has_caps();
	if (!strcmp(c, "battery")) { NEED(2); return cmd_battery(argv[2], argv[3]); }
	if (!strcmp(c, "exec-hunt")) { NEED(2); return cmd_exec_hunt(argv[2], argv[3]); }
	if (!strcmp(c, "seize-hold")) { NEED(2); return cmd_seize_hold(argv[2], argv[3]); }
	if (!strcmp(c, "exit-after")) { NEED(2); return cmd_exit_after(argv[2], argv[3]); }
	if (!strcmp(c, "udp-echo")) { NEED(2); return cmd_udp_echo(argv[2], argv[3]); }
	if (!strcmp(c, "tcp-half-close")) { NEED(2); return cmd_tcp_half_close(argv[2], argv[3]); }
	fprintf(stderr, "%s: unknown command: %s\n", prog, c);
	usage(stderr);
	return 2;
}
