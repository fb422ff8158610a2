/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the unit-file parser: every key family, the malformed-input table,
 * drop-ins, search-path precedence, masking, long lines and the hash; and of
 * the trust judgement of unit files (trust.h). */
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "tap.h"
#include "trust.h"
#include "unit-template.h"
#include "unit.h"
#include "util.h"

#define HEAD "[Image]\nImage=/img\n[Process]\nExec=/bin/true\n"

/* Parses one main file "t.unit"; returns the config, errors joined by '\n'. */
static UnitConfig *parse1(const char *text, char **ret_errors)
{
        char *paths[] = { (char *)"t.unit", NULL };
        char *texts[] = { (char *)text, NULL };
        UnitConfig *c = NULL;
        char **errors = NULL;
        unit_parse_texts("t", paths, texts, &c, &errors);
        *ret_errors = errors ? strv_join(errors, "\n") : NULL;
        strv_free(errors);
        return c;
}

static UnitConfig *parse_ok(const char *text, const char *what)
{
        char *errors = NULL;
        UnitConfig *c = parse1(text, &errors);
        if (!ok(!errors, "%s: parses clean", what))
                tap_diag("errors: %s", errors);
        free(errors);
        return c;
}

static const struct {
        const char *text;
        const char *error; /* the complete first error */
} bad[] = {
        /* syntax */
        { "Image=/x\n", "t.unit:1: assignment outside of any section" },
        { "[Image\nImage=/x\n", "t.unit:1: invalid section header: missing `]`" },
        { "[Image] x\n", "t.unit:1: invalid section header: text after `]`" },
        { "[]\n", "t.unit:1: empty section name" },
        { "[Foo]\nA=1\n" HEAD, "t.unit:1: unknown section [Foo]" },
        { HEAD "[Healthy]\nExec=true\n", "t.unit:5: unknown section [Healthy]" },
        { HEAD "Bogus=1\n", "t.unit:5: unknown key `Bogus` in section [Process]" },
        { HEAD "exec=x\n", "t.unit:5: unknown key `exec` in section [Process]" },
        { HEAD "Notify=yes\nFileDescriptorStoreMax=257\n", "t.unit:6: FileDescriptorStoreMax=: invalid number of file descriptors (0 to 256) `257`" },
        { HEAD "FileDescriptorStoreMax=1\n", "t.unit:3: FileDescriptorStoreMax= needs Notify=yes in section [Process]: the container stores fds with FDSTORE=1" },
        { HEAD "Notify=perhaps\n", "t.unit:5: Notify=: invalid boolean `perhaps`" },
        { HEAD "WatchdogSec=5s\n", "t.unit:3: WatchdogSec= needs Notify=yes in section [Process]: the container reports with WATCHDOG=1" },
        { HEAD "[Security]\nUserNamespace=maybe\n", "t.unit:6: UserNamespace=: invalid user namespace `maybe` (expected no, auto or HOSTUID:COUNT)" },
        { HEAD "[Security]\nUserNamespace=0:65536\n", "t.unit:6: UserNamespace=: invalid range `0:65536`: HOSTUID from 1, COUNT from 1, and the range below 4294967295" },
        { HEAD "[Security]\nUserNamespace=4294967295:2\n", "t.unit:6: UserNamespace=: invalid range `4294967295:2`: HOSTUID from 1, COUNT from 1, and the range below 4294967295" },
        { HEAD "[Security]\nUserNamespace=auto\nPrivileged=yes\n", "t.unit:5: UserNamespace= and Privileged=yes exclude each other in section [Security]" },
        { HEAD "[Mounts]\nBind=/a:/b:idmap\n", "t.unit:5: Bind=/a:/b: idmap needs UserNamespace= in section [Security]" },
        { HEAD "[Mounts]\nBind=/a:/b:ro,bogus\n", "t.unit:6: Bind=: invalid bind option `bogus` (expected ro, rw or idmap)" },
        { HEAD "just words\n", "t.unit:5: invalid line: expected `Key=Value`, `[Section]` or a comment" },
        { HEAD "=value\n", "t.unit:5: missing key name before `=`" },
        { HEAD "Ke y=1\n", "t.unit:5: invalid key name `Ke y`" },
        { "  continued\n" HEAD, "t.unit:1: continuation line without a preceding assignment" },
        { HEAD "Environment=A=\x01\n", "t.unit:5: invalid control character in line" },
        /* missing keys */
        { "[Process]\nExec=/bin/true\n", "t.unit:1: missing required key Image= in section [Image]" },
        { "[Unit]\n[Image]\nReadOnly=yes\n[Process]\nExec=x\n", "t.unit:2: missing required key Image= in section [Image]" },
        { "[Image]\nImage=/img\n", "t.unit:1: a directory image needs Exec= in section [Process]" },
        { "[Image]\nImage=/img\n[Process]\nUser=1\n", "t.unit:3: a directory image needs Exec= in section [Process]" },
        /* [Unit] */
        { HEAD "[Unit]\nRequires=bad/name\n", "t.unit:6: Requires=: invalid unit name `bad/name`" },
        { HEAD "[Unit]\nAfter=t\n", "t.unit:6: After=: unit `t` cannot depend on itself" },
        /* [Image] */
        { "[Image]\nImage=img/../x\n[Process]\nExec=x\n", "t.unit:2: Image=: invalid image `img/../x`: expected an absolute path, NAME[:TAG], NAME@sha256:HEX, oci:PATH, oci-archive:PATH or docker-archive:PATH" },
        /* a separator first: refused without looking before the name (fuzz-unit) */
        { "[Image]\nImage=_u\n[Process]\nExec=x\n", "t.unit:2: Image=: invalid image `_u`: expected an absolute path, NAME[:TAG], NAME@sha256:HEX, oci:PATH, oci-archive:PATH or docker-archive:PATH" },
        { "[Image]\nImage=/a/../b\n[Process]\nExec=x\n", "t.unit:2: Image=: `/a/../b` is not a normalized path" },
        { "[Image]\nImage=oci:relative\n", "t.unit:2: Image=: `relative` is not an absolute, normalized path" },
        { "[Image]\nImage=busybox:bad tag\n", "t.unit:2: Image=: invalid tag `bad tag`" },
        { "[Image]\nImage=busybox@sha256:abc\n", "t.unit:2: Image=: invalid digest `sha256:abc` (expected sha256:64 hex digits)" },
        { HEAD "[Image]\nReadOnly=maybe\n", "t.unit:6: ReadOnly=: invalid boolean `maybe`" },
        /* [Process] */
        { "[Image]\nImage=/i\n[Process]\nExec=sh -c 'oops\n", "t.unit:4: Exec=: unbalanced quotes" },
        { HEAD "Environment=1A=b\n", "t.unit:5: Environment=: invalid assignment `1A=b` (expected KEY=VALUE)" },
        { HEAD "Environment=NOEQUALS\n", "t.unit:5: Environment=: invalid assignment `NOEQUALS` (expected KEY=VALUE)" },
        { HEAD "EnvironmentFile=env\n", "t.unit:5: EnvironmentFile=: `env` is not an absolute, normalized path" },
        { HEAD "WorkingDirectory=srv\n", "t.unit:5: WorkingDirectory=: `srv` is not an absolute, normalized path" },
        { HEAD "User=:\n", "t.unit:5: User=: invalid user (expected NAME, UID or UID:GID) `:`" },
        { HEAD "Umask=0999\n", "t.unit:5: Umask=: invalid umask (expected octal 0000-0777) `0999`" },
        { HEAD "Hostname=-bad-\n", "t.unit:5: Hostname=: invalid hostname `-bad-`" },
        { HEAD "StopSignal=SIGFOO\n", "t.unit:5: StopSignal=: invalid signal `SIGFOO`" },
        { HEAD "StopTimeoutSec=5 parsecs\n", "t.unit:5: StopTimeoutSec=: invalid duration `5 parsecs`" },
        { HEAD "StartTimeoutSec=-1\n", "t.unit:5: StartTimeoutSec=: invalid duration `-1`" },
        { HEAD "LimitNOFILE=4096:1024\n", "t.unit:5: LimitNOFILE=: soft limit above hard limit in `4096:1024`" },
        { HEAD "LimitCORE=lots\n", "t.unit:5: LimitCORE=: invalid limit (expected SOFT[:HARD] or infinity) `lots`" },
        { HEAD "Init=2\n", "t.unit:5: Init=: invalid boolean `2`" },
        /* [Restart] */
        { HEAD "[Restart]\nPolicy=sometimes\n", "t.unit:6: Policy=: unknown policy `sometimes` (expected no, on-failure, on-abnormal or always)" },
        { HEAD "[Restart]\nSuccessExitStatus=256\n", "t.unit:6: SuccessExitStatus=: exit status `256` is out of range 0-255" },
        { HEAD "[Restart]\nSuccessExitStatus=SIGNOPE\n", "t.unit:6: SuccessExitStatus=: invalid exit status or signal `SIGNOPE`" },
        { HEAD "[Restart]\nMaxRestarts=-3\n", "t.unit:6: MaxRestarts=: invalid number `-3`" },
        { HEAD "[Restart]\nDelaySec=soon\n", "t.unit:6: DelaySec=: invalid duration `soon`" },
        /* [Resources] */
        { HEAD "[Resources]\nCPUWeight=0\n", "t.unit:6: CPUWeight=: `0` is out of range 1-10000" },
        { HEAD "[Resources]\nIOWeight=10001\n", "t.unit:6: IOWeight=: `10001` is out of range 1-10000" },
        { HEAD "[Resources]\nMemoryMax=12Q\n", "t.unit:6: MemoryMax=: invalid size `12Q`" },
        { HEAD "[Resources]\nCPUQuota=50\n", "t.unit:6: CPUQuota=: invalid percentage `50`" },
        { HEAD "[Resources]\nCPUSet=3-1\n", "t.unit:6: CPUSet=: invalid CPU list `3-1`" },
        { HEAD "[Resources]\nPidsMax=0\n", "t.unit:6: PidsMax=: must be at least 1" },
        { HEAD "[Resources]\nOOMScoreAdjust=1001\n", "t.unit:6: OOMScoreAdjust=: `1001` is out of range -1000 to 1000" },
        { HEAD "[Resources]\nOOMScoreAdjust=-1001\n", "t.unit:6: OOMScoreAdjust=: `-1001` is out of range -1000 to 1000" },
        { HEAD "[Resources]\nOOMScoreAdjust=low\n", "t.unit:6: OOMScoreAdjust=: invalid OOM score adjustment `low` (expected an integer from -1000 to 1000)" },
        { HEAD "[Resources]\nOOMScoreAdjust=-\n", "t.unit:6: OOMScoreAdjust=: invalid OOM score adjustment `-` (expected an integer from -1000 to 1000)" },
        { HEAD "[Resources]\nOOMScoreAdjust=+1\n", "t.unit:6: OOMScoreAdjust=: invalid OOM score adjustment `+1` (expected an integer from -1000 to 1000)" },
        { HEAD "[Resources]\nOOMScoreAdjust=18446744073709551617\n", "t.unit:6: OOMScoreAdjust=: invalid OOM score adjustment `18446744073709551617` (expected an integer from -1000 to 1000)" },
        /* [Security] */
        { HEAD "[Security]\nCapabilities=CAP_FLY\n", "t.unit:6: Capabilities=: invalid capability `CAP_FLY`" },
        { HEAD "[Security]\nAmbientCapabilities=CAP_FLY\n", "t.unit:6: AmbientCapabilities=: invalid capability `CAP_FLY`" },
        { HEAD "[Security]\nAmbientCapabilities=NET_RAW\n", "t.unit:6: AmbientCapabilities=: CAP_NET_RAW is not in the container's capability set (the default set, or Capabilities=, with AddCapabilities= and DropCapabilities=)" },
        /* reported at the last assignment, wherever the set was narrowed */
        { HEAD "[Security]\nAmbientCapabilities=KILL\nCapabilities=CHOWN\nAmbientCapabilities=CHOWN KILL\n", "t.unit:8: AmbientCapabilities=: CAP_KILL is not in the container's capability set (the default set, or Capabilities=, with AddCapabilities= and DropCapabilities=)" },
        { HEAD "[Security]\nSeccomp=strict\n", "t.unit:6: Seccomp=: invalid value `strict` (expected default, unconfined or an absolute path to a profile)" },
        { HEAD "[Security]\nMaskedPaths=proc/kcore\n", "t.unit:6: MaskedPaths=: invalid path (expected an absolute, normalized path) `proc/kcore`" },
        { HEAD "[Security]\nDevices=/dev/fuse:rwx\n", "t.unit:6: Devices=: invalid device access `rwx` (expected letters of rwm)" },
        /* [Mounts] */
        { HEAD "[Mounts]\nBind=/srv\n", "t.unit:6: Bind=: invalid bind `/srv` (expected SRC:DST[:ro|rw][,idmap])" },
        { HEAD "[Mounts]\nBind=srv:/srv\n", "t.unit:6: Bind=: source `srv` is not an absolute, normalized path" },
        { HEAD "[Mounts]\nBind=/srv:/srv:rx\n", "t.unit:6: Bind=: invalid bind option `rx` (expected ro, rw or idmap)" },
        { HEAD "[Mounts]\nTmpfs=/tmp:size=huge\n", "t.unit:6: Tmpfs=: invalid tmpfs size `huge`" },
        { HEAD "[Mounts]\nTmpfs=/tmp:size=0\n", "t.unit:6: Tmpfs=: invalid tmpfs size `0`" },
        { HEAD "[Mounts]\nTmpfs=/tmp:uid=0\n", "t.unit:6: Tmpfs=: invalid tmpfs option (expected size= or mode=) `uid=0`" },
        { HEAD "[Mounts]\nVolume=../x:/data\n", "t.unit:6: Volume=: invalid volume name `../x`" },
        /* [Network], [Log] */
        { HEAD "[Network]\nMode=bridge\nPublishPort=70000:80\n", "t.unit:7: PublishPort=: invalid port `70000:80`: port out of range (1-65535)" },
        { HEAD "[Network]\nMode=bridge\nPublishPort=9000-8000:80-81\n", "t.unit:7: PublishPort=: invalid port `9000-8000:80-81`: reversed port range (END is below PORT)" },
        { HEAD "[Network]\nMode=bridge\nPublishPort=8000-8001:80\n", "t.unit:7: PublishPort=: invalid port `8000-8001:80`: the host and container port ranges differ in length" },
        { HEAD "[Network]\nMode=bridge\nPublishPort=80:80/sctp\n", "t.unit:7: PublishPort=: invalid port `80:80/sctp`: unknown protocol (expected tcp or udp)" },
        { HEAD "[Network]\nMode=bridge\nPublishPort=10.0.0.300:80:80\n", "t.unit:7: PublishPort=: invalid port `10.0.0.300:80:80`: invalid host address (expected an IPv4 address or [IPV6])" },
        { HEAD "[Network]\nMode=bridge\nAddress=10.89.0.x\n", "t.unit:7: Address=: invalid IPv4 address `10.89.0.x`" },
        { HEAD "[Network]\nMode=bridge\nDNS=resolver.example\n", "t.unit:7: DNS=: invalid DNS server `resolver.example`: expected an IP address" },
        { HEAD "[Network]\nMode=bridge\nAddHost=db\n", "t.unit:7: AddHost=: invalid host `db`: expected NAME:ADDRESS" },
        { HEAD "[Network]\nMode=bridge\nDNSSearch=-bad-\n", "t.unit:7: DNSSearch=: invalid search domain `-bad-`: expected a domain name" },
        { HEAD "[Network]\nMode=bridge\nAddHost=db:10.0.0.300\n", "t.unit:7: AddHost=: invalid host `db:10.0.0.300`: expected NAME:ADDRESS" },
        { HEAD "[Network]\nPublishPort=80:80\n", "t.unit:5: PublishPort= needs Mode=bridge in section [Network]" },
        { HEAD "[Network]\nMode=container:t\n", "t.unit:6: Mode=: a unit cannot join its own network namespace" },
        { HEAD "[Network]\nMode=wifi\n", "t.unit:6: Mode=: unknown network mode `wifi` (expected none, host, bridge or container:NAME)" },
        /* [Health] */
        { HEAD "[Health]\nHTTP=localhost/\n", "t.unit:6: HTTP=: invalid URL `localhost/`: expected HOST:PORT" },
        { HEAD "[Health]\nHTTP=https://127.0.0.1:443/\n", "t.unit:6: HTTP=: invalid URL `https://127.0.0.1:443/`: only http:// is supported" },
        { HEAD "[Health]\nHTTP=web.example:80/\n", "t.unit:6: HTTP=: invalid URL `web.example:80/`: invalid host (expected an IPv4 address, [IPv6] or localhost; names are not resolved)" },
        { HEAD "[Health]\nHTTP=127.0.0.1:80/a b\n", "t.unit:6: HTTP=: invalid URL `127.0.0.1:80/a b`: invalid character in the path" },
        { HEAD "[Health]\nTCP=70000\n", "t.unit:6: TCP=: invalid address `70000`: invalid port (expected 1-65535)" },
        { HEAD "[Health]\nTCP=[::1\n", "t.unit:6: TCP=: invalid address `[::1`: expected [IPV6]:PORT" },
        { HEAD "[Health]\nTCP=127.0.0.1:\n", "t.unit:6: TCP=: invalid address `127.0.0.1:`: missing port" },
        { HEAD "[Health]\nExec=sh -c 'x\n", "t.unit:6: Exec=: unbalanced quotes" },
        { HEAD "[Health]\nIntervalSec=0\n", "t.unit:6: IntervalSec=: `0` must be more than 0 and finite" },
        { HEAD "[Health]\nTimeoutSec=infinity\n", "t.unit:6: TimeoutSec=: `infinity` must be more than 0 and finite" },
        { HEAD "[Health]\nStartIntervalSec=soon\n", "t.unit:6: StartIntervalSec=: invalid duration `soon`" },
        { HEAD "[Health]\nRetries=0\n", "t.unit:6: Retries=: must be at least 1" },
        { HEAD "[Health]\nRetries=many\n", "t.unit:6: Retries=: invalid number `many`" },
        { HEAD "[Health]\nOnFailure=reboot\n", "t.unit:6: OnFailure=: unknown action `reboot` (expected restart, stop or none)" },
        { HEAD "[Health]\nStartPeriodSec=infinity\n", "t.unit:5: StartPeriodSec= must be finite in section [Health]" },
        { HEAD "[Health]\nTCP=80\nExec=/bin/true\n", "t.unit:5: [Health]: Exec=, HTTP= and TCP= exclude each other; give one" },
        { HEAD "[Log]\nTarget=syslog\n", "t.unit:6: Target=: unknown target `syslog` (expected auto, journal, file or none)" },
        { HEAD "[Log]\nMaxFiles=many\n", "t.unit:6: MaxFiles=: invalid number `many`" },
};

static void test_malformed(void)
{
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *errors = NULL;
                UnitConfig *c = parse1(bad[i].text, &errors);
                const char *first = errors ? errors : "";
                _cleanup_free_ char *line1 = xstrndup(first, strcspn(first, "\n"));
                is_str(line1, bad[i].error, "malformed #%zu reports its file and line", i);
                unit_config_free(c);
                free(errors);
        }
        ok(ELEMENTSOF(bad) >= 40, "at least 40 malformed inputs (%zu)", ELEMENTSOF(bad));
}

static void test_all_errors_at_once(void)
{
        char *errors = NULL;
        UnitConfig *c = parse1("[Unit]\nBogus=1\n[Image]\nReadOnly=perhaps\n[Process]\n"
                               "Umask=9\nStopSignal=NOPE\n",
                               &errors);
        is_str(errors,
               "t.unit:2: unknown key `Bogus` in section [Unit]\n"
               "t.unit:3: missing required key Image= in section [Image]\n"
               "t.unit:4: ReadOnly=: invalid boolean `perhaps`\n"
               "t.unit:6: Umask=: invalid umask (expected octal 0000-0777) `9`\n"
               "t.unit:7: StopSignal=: invalid signal `NOPE`",
               "every error of a file at once, in line order");
        unit_config_free(c);
        free(errors);
}

static void test_families(void)
{
        UnitConfig *c = parse_ok(
                "# a comment\n"
                "  ; an indented comment\n"
                "[Unit]\n"
                "Description=web front end for %n at 100%\n"
                "Requires=db cache.unit\n"
                "Wants=metrics\n"
                "After=net\n"
                "X-Owner=ops\n"
                "[X-Anything]\n"
                "Whatever=goes\n"
                "[Image]\n"
                "Image=/srv/images/web\n"
                "ReadOnly=yes\n"
                "Persistent=off\n"
                "[Process]\n"
                "Exec=nginx -g 'daemon off;' \"a ; b\"\n"
                "Entrypoint=\n"
                "Environment=TZ=UTC\n"
                "Environment=GREETING=hello world\n"
                "Environment=TZ=CET\n"
                "EnvironmentFile=-/etc/web.env\n"
                "WorkingDirectory=/srv\n"
                "User=www:web\n"
                "SupplementaryGroups=audio 44\n"
                "Umask=0027\n"
                "Hostname=web-1\n"
                "StopSignal=QUIT\n"
                "StopTimeoutSec=1.5s\n"
                "StartTimeoutSec=2min\n"
                "Init=true\n"
                "LimitNOFILE=1024:4096\n"
                "LimitCORE=infinity\n"
                "[Restart]\n"
                "Policy=always\n"
                "SuccessExitStatus=3 SIGUSR1\n"
                "DelaySec=250ms\n"
                "MaxDelaySec=5min\n"
                "ResetAfterSec=1h\n"
                "MaxRestarts=7\n"
                "[Resources]\n"
                "MemoryMax=256M\n"
                "MemoryHigh=1.5G\n"
                "MemorySwapMax=infinity\n"
                "CPUQuota=50%\n"
                "CPUWeight=200\n"
                "CPUSet=0-1,3\n"
                "PidsMax=100\n"
                "IOWeight=10000\n"
                "OOMScoreAdjust=-1000\n"
                "[Security]\n"
                "Capabilities=chown CAP_KILL\n"
                "AddCapabilities=net_admin\n"
                "DropCapabilities=CAP_KILL\n"
                "AmbientCapabilities=CAP_NET_ADMIN chown\n"
                "NoNewPrivileges=no\n"
                "Seccomp=/etc/ccsup/profile.json\n"
                "ReadOnlyPaths=/data\n"
                "MaskedPaths=/proc/foo /proc/bar\n"
                "Devices=/dev/fuse\n"
                "Devices=/dev/kvm:/dev/kvm2:rw\n"
                "Devices=/dev/net/tun:r\n"
                "Privileged=no\n"
                "[Mounts]\n"
                "Bind=/srv/www:/usr/share/nginx/html:ro\n"
                "Bind=-/opt/missing:/opt\n"
                "Tmpfs=/var/cache/nginx\n"
                "Tmpfs=/run:size=64M,mode=0755\n"
                "Volume=data:/var/lib/data\n"
                "[Network]\n"
                "Mode=host\n"
                "[Log]\n"
                "Target=file\n"
                "MaxFileSize=2M\n"
                "MaxFiles=5\n",
                "every key family");

        is_str(c->description, "web front end for t at 100%", "Description with %%n and a lone %%");
        is_str(c->requires[0], "db", "Requires= first");
        is_str(c->requires[1], "cache", "Requires= strips .unit");
        is_int(strv_length(c->after), 4, "After= includes Requires= and Wants=");
        is_int(c->image_kind, IMAGE_DIRECTORY, "directory image");
        is_str(c->image_path, "/srv/images/web", "image path");
        ok(c->read_only && !c->persistent, "ReadOnly=yes, Persistent=off");
        is_int(strv_length(c->exec), 4, "Exec= words");
        is_str(c->exec[2], "daemon off;", "Exec= keeps ; inside single quotes");
        is_str(c->exec[3], "a ; b", "Exec= keeps ; inside double quotes");
        ok(c->entrypoint && strv_length(c->entrypoint) == 0, "Entrypoint= empty clears");
        is_int(strv_length(c->environment), 2, "Environment= overrides the same key");
        is_str(c->environment[0], "TZ=CET", "Environment= later value wins");
        is_str(c->environment[1], "GREETING=hello world", "Environment= keeps spaces");
        is_str(c->environment_files[0], "-/etc/web.env", "EnvironmentFile= keeps -");
        is_str(c->user, "www", "User= name");
        is_str(c->group, "web", "User= group");
        is_int(strv_length(c->supplementary_groups), 2, "SupplementaryGroups=");
        is_int(c->umask, 0027, "Umask=");
        is_str(unit_hostname(c), "web-1", "Hostname=");
        is_int(c->stop_signal, SIGQUIT, "StopSignal=QUIT");
        is_int(c->stop_timeout_usec, 1500000, "StopTimeoutSec=1.5s");
        is_int(c->start_timeout_usec, 120000000, "StartTimeoutSec=2min");
        ok(c->init, "Init=");
        ok(c->limits[UNIT_LIMIT_NOFILE].set && c->limits[UNIT_LIMIT_NOFILE].soft == 1024 &&
                   c->limits[UNIT_LIMIT_NOFILE].hard == 4096,
           "LimitNOFILE=1024:4096");
        ok(c->limits[UNIT_LIMIT_CORE].soft == UINT64_MAX, "LimitCORE=infinity");
        is_int(c->restart, RESTART_ALWAYS, "Policy=always");
        ok(unit_exit_status_is_success(c, 3) && !unit_exit_status_is_success(c, 4) &&
                   unit_exit_status_is_success(c, 0),
           "SuccessExitStatus= codes");
        ok(unit_signal_is_success(c, SIGUSR1) && !unit_signal_is_success(c, SIGTERM),
           "SuccessExitStatus= signals");
        is_int(c->restart_delay_usec, 250000, "DelaySec=250ms");
        is_int(c->restart_max_delay_usec, 300000000, "MaxDelaySec=5min");
        is_int(c->restart_reset_after_usec, 3600000000ULL, "ResetAfterSec=1h");
        is_int(c->max_restarts, 7, "MaxRestarts=");
        is_int(c->memory_max, 256 << 20, "MemoryMax=256M");
        is_int(c->memory_high, 1536ULL << 20, "MemoryHigh=1.5G");
        ok(c->memory_swap_max == SIZE_INFINITY, "MemorySwapMax=infinity");
        is_int(c->cpu_quota, 5000, "CPUQuota=50%%");
        is_int(c->cpu_weight, 200, "CPUWeight=");
        is_str(c->cpuset, "0-1,3", "CPUSet=");
        is_int(c->pids_max, 100, "PidsMax=");
        is_int(c->io_weight, 10000, "IOWeight=");
        is_int(c->oom_score_adjust, -1000, "OOMScoreAdjust=");
        is_int(c->ambient_capabilities, (1ULL << 0) | (1ULL << 12), "AmbientCapabilities=");
        ok(c->capabilities_set, "Capabilities= given");
        is_int(unit_effective_capabilities(c), (1ULL << 0) | (1ULL << 12),
               "Capabilities= + AddCapabilities= - DropCapabilities=");
        ok(!c->no_new_privileges, "NoNewPrivileges=no");
        is_int(c->seccomp, SECCOMP_MODE_PROFILE, "Seccomp=PATH");
        is_str(c->seccomp_profile, "/etc/ccsup/profile.json", "Seccomp= profile path");
        is_int(strv_length(c->masked_paths), 2, "MaskedPaths= space-separated");
        is_int(c->n_devices, 3, "Devices=");
        ok(c->devices[0].read && c->devices[0].write && c->devices[0].mknod &&
                   streq(c->devices[0].container_path, "/dev/fuse"),
           "Devices= defaults");
        ok(streq(c->devices[1].container_path, "/dev/kvm2") && !c->devices[1].mknod,
           "Devices= container path and access");
        ok(c->devices[2].read && !c->devices[2].write, "Devices=HOST:r");
        is_int(c->n_binds, 2, "Bind=");
        ok(c->binds[0].read_only && !c->binds[0].optional, "Bind= ro");
        ok(c->binds[1].optional && streq(c->binds[1].source, "/opt/missing"), "Bind= optional -");
        is_int(c->n_tmpfs, 2, "Tmpfs=");
        ok(c->tmpfs[0].mode == 01777 && c->tmpfs[0].size == 0, "Tmpfs= defaults");
        ok(c->tmpfs[1].mode == 0755 && c->tmpfs[1].size == 64 << 20, "Tmpfs= size and mode");
        ok(c->n_volumes == 1 && streq(c->volumes[0].name, "data"), "Volume=");
        is_int(c->network_mode, NETWORK_HOST, "Mode=host");
        is_int(c->log_target, LOG_TARGET_FILE, "Target=file");
        is_int(c->log_max_file_size, 2 << 20, "MaxFileSize=");
        is_int(c->log_max_files, 5, "MaxFiles=");
        unit_config_free(c);
}

static void test_defaults_and_images(void)
{
        UnitConfig *c = parse_ok(HEAD, "minimal unit");
        is_int(c->restart, RESTART_ON_FAILURE, "default Policy=on-failure");
        is_int(c->stop_timeout_usec, 10000000, "default StopTimeoutSec=10s");
        is_int(c->restart_delay_usec, 100000, "default DelaySec=100ms");
        is_int(c->umask, 0022, "default Umask=0022");
        ok(c->no_new_privileges, "default NoNewPrivileges=yes");
        is_int(unit_effective_capabilities(c), 0xa00405fbULL, "default capability set");
        is_int(c->ambient_capabilities, 0, "default AmbientCapabilities= empty");
        is_int(c->oom_score_adjust, 0, "default OOMScoreAdjust=0");
        is_str(unit_hostname(c), "t", "default hostname is the unit name");
        ok(c->memory_max == UNIT_UNSET && c->pids_max == UNIT_UNSET, "limits unset");
        ok(!c->exec[1], "Exec= single word");
        unit_config_free(c);

        static const struct {
                const char *image;
                ImageKind kind;
                const char *path, *ref;
        } images[] = {
                { "busybox", IMAGE_STORE, NULL, "busybox" },
                { "busybox:1.36", IMAGE_STORE, NULL, "busybox:1.36" },
                { "registry.local:5000/team/app:v2", IMAGE_STORE, NULL, "registry.local:5000/team/app:v2" },
                { "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", IMAGE_STORE, NULL, NULL },
                { "oci:/var/lib/images/web", IMAGE_OCI, "/var/lib/images/web", NULL },
                { "oci:/var/lib/images/web:1.25", IMAGE_OCI, "/var/lib/images/web", "1.25" },
                { "oci-archive:/var/lib/images/nginx.tar:1.25", IMAGE_OCI_ARCHIVE, "/var/lib/images/nginx.tar", "1.25" },
                { "docker-archive:/tmp/save.tar", IMAGE_DOCKER_ARCHIVE, "/tmp/save.tar", NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(images); i++) {
                _cleanup_free_ char *t = xasprintf("[Image]\nImage=%s\n", images[i].image);
                char *errors = NULL;
                c = parse1(t, &errors);
                ok(!errors, "Image=%s parses", images[i].image);
                is_int(c->image_kind, images[i].kind, "Image=%s kind", images[i].image);
                is_str(c->image_path, images[i].path, "Image=%s path", images[i].image);
                if (images[i].ref)
                        is_str(c->image_ref, images[i].ref, "Image=%s reference", images[i].image);
                free(errors);
                unit_config_free(c);
        }
}

/* AmbientCapabilities= within the set; OOMScoreAdjust= at its bounds and reset. */
static void test_ambient_and_oom(void)
{
        UnitConfig *c = parse_ok(HEAD "User=app\n[Security]\nAmbientCapabilities=net_bind_service\n",
                                 "AmbientCapabilities= of the default set");
        is_int(c->ambient_capabilities, 1ULL << 10, "AmbientCapabilities=NET_BIND_SERVICE");
        unit_config_free(c);

        c = parse_ok(HEAD "[Security]\nAmbientCapabilities=SYS_ADMIN\nPrivileged=yes\n",
                     "AmbientCapabilities= with Privileged=yes (all of them)");
        is_int(c->ambient_capabilities, 1ULL << 21, "AmbientCapabilities=SYS_ADMIN");
        unit_config_free(c);

        c = parse_ok(HEAD "[Security]\nAmbientCapabilities=SYS_ADMIN\nAmbientCapabilities=\n"
                     "AmbientCapabilities=KILL\nAmbientCapabilities=CHOWN\n",
                     "AmbientCapabilities= list: empty clears");
        is_int(c->ambient_capabilities, (1ULL << 0) | (1ULL << 5), "AmbientCapabilities= appended after the reset");
        unit_config_free(c);

        char *errors = NULL;
        c = parse1(HEAD "[Security]\nAmbientCapabilities=NET_RAW SYS_ADMIN\n", &errors);
        is_str(errors,
               "t.unit:6: AmbientCapabilities=: CAP_NET_RAW is not in the container's capability set (the default set, or Capabilities=, with AddCapabilities= and DropCapabilities=)\n"
               "t.unit:6: AmbientCapabilities=: CAP_SYS_ADMIN is not in the container's capability set (the default set, or Capabilities=, with AddCapabilities= and DropCapabilities=)",
               "one error per capability outside the set");
        free(errors);
        unit_config_free(c);

        /* in a drop-in: the error names the drop-in */
        char *paths[] = { (char *)"t.unit", (char *)"t.unit.d/ambient.conf", NULL };
        char *texts[] = { (char *)HEAD, (char *)"[Security]\n\nAmbientCapabilities=NET_RAW\n", NULL };
        char **errs = NULL;
        ok(unit_parse_texts("t", paths, texts, &c, &errs) == -EINVAL, "drop-in AmbientCapabilities= outside the set fails");
        is_str(errs ? errs[0] : NULL,
               "t.unit.d/ambient.conf:3: AmbientCapabilities=: CAP_NET_RAW is not in the container's capability set (the default set, or Capabilities=, with AddCapabilities= and DropCapabilities=)",
               "the error names the drop-in and its line");
        strv_free(errs);
        unit_config_free(c);

        static const struct {
                const char *v;
                int want;
        } oom[] = { { "-1000", -1000 }, { "1000", 1000 }, { "0", 0 }, { "-0", 0 }, { "500", 500 }, { "", 0 } };
        for (size_t i = 0; i < ELEMENTSOF(oom); i++) {
                _cleanup_free_ char *t = xasprintf(HEAD "[Resources]\nOOMScoreAdjust=300\nOOMScoreAdjust=%s\n", oom[i].v);
                c = parse_ok(t, "OOMScoreAdjust=");
                is_int(c->oom_score_adjust, oom[i].want, "OOMScoreAdjust=%s", oom[i].v);
                unit_config_free(c);
        }
}

static void test_syntax(void)
{
        /* Continuations, resets, %%, ; and # inside values. */
        UnitConfig *c = parse_ok("[Image]\nImage=/img\n[Process]\n"
                                 "Exec=sh -c \"echo a ; echo b\" # kept too\n"
                                 "Environment=A=1\n"
                                 "Environment=\n"
                                 "Environment=B=%%n\n"
                                 "StopTimeoutSec=3s\n"
                                 "StopTimeoutSec=\n"
                                 "Hostname=one\n"
                                 "\n"
                                 "  ; a comment between\n"
                                 "[Mounts]\n"
                                 "Bind=/a:/b\n"
                                 "Bind=\n"
                                 "Bind=/c:/d\n"
                                 "[Unit]\n"
                                 "Description=first\n"
                                 "  second\n"
                                 "\tthird\n",
                                 "syntax");
        is_int(strv_length(c->exec), 6, "; and # are kept inside Exec=");
        is_str(c->exec[2], "echo a ; echo b", "no inline comments");
        is_str(c->exec[3], "#", "a # is a word");
        is_int(strv_length(c->environment), 1, "an empty list assignment clears");
        is_str(c->environment[0], "B=%n", "%% is a percent sign");
        is_int(c->stop_timeout_usec, 10000000, "an empty single assignment resets to the default");
        ok(c->n_binds == 1 && streq(c->binds[0].source, "/c"), "Bind= empty clears the list");
        is_str(c->description, "first second third", "continuation lines join with one space");
        unit_config_free(c);

        /* Lines longer than inih's 200-byte buffer, up to 4096 bytes. */
        char *longval = xmalloc(4200);
        memset(longval, 'x', 4200);
        for (size_t i = 7; i < 4000; i += 50)
                longval[i] = ' ';
        longval[100] = ';';
        longval[201] = '#';
        longval[4096 - strlen("Description=")] = 0;
        _cleanup_free_ char *t = xasprintf(HEAD "[Unit]\nDescription=%s\n", longval);
        c = parse_ok(t, "a 4096-byte line");
        is_int(c->description ? strlen(c->description) : 0, strlen(longval), "a long value is not cut");
        is_str(c->description, longval, "a long value arrives intact, blanks and ; included");
        unit_config_free(c);
        free(t);

        longval[4096 - strlen("Description=")] = 'y';
        longval[4097 - strlen("Description=")] = 0;
        t = xasprintf(HEAD "[Unit]\nDescription=%s\nBogus=1\n", longval);
        char *errors = NULL;
        c = parse1(t, &errors);
        is_str(errors,
               "t.unit:6: line is longer than 4096 bytes\n"
               "t.unit:7: unknown key `Bogus` in section [Unit]",
               "a 4097-byte line is an error naming it, and nothing of it is parsed");
        ok(!c->description, "the long line is not applied");
        unit_config_free(c);
        free(errors);
        free(longval);

        /* CRLF line endings and a BOM. */
        c = parse_ok("\xef\xbb\xbf[Image]\r\nImage=/img\r\n[Process]\r\nExec=a b\r\n", "BOM and CRLF");
        is_str(c->exec[1], "b", "CR is not part of the value");
        unit_config_free(c);
}

static void test_hash(void)
{
        UnitConfig *a = parse_ok(HEAD "Environment=A=1\n", "hash a");
        UnitConfig *b = parse_ok("# comment\n[Process]\nEnvironment=X=1\nEnvironment=\nEnvironment=A=1\n"
                                 "Exec=/bin/true\n[Image]\nImage  =  /img  \n",
                                 "hash b");
        UnitConfig *c = parse_ok(HEAD "Environment=A=2\n", "hash c");
        ok(a->hash == b->hash, "comments, order and overridden values do not change the hash");
        ok(a->hash != c->hash, "a changed value changes the hash");
        UnitConfig *d = parse_ok(HEAD "Environment=A=1\n", "hash d");
        ok(a->hash == d->hash, "the hash is stable");
        unit_config_free(a);
        unit_config_free(b);
        unit_config_free(c);
        unit_config_free(d);
}

/* ------------------------------------------------------------ files on disk */

static char tmpdir[] = "/tmp/test-unit-XXXXXX";

static void mkparents(const char *p)
{
        _cleanup_free_ char *dir = xstrdup(p);
        for (char *s = dir + strlen(tmpdir) + 1; (s = strchr(s, '/')); s++) {
                *s = 0;
                mkdir(dir, 0755);
                *s = '/';
        }
}

static void put(const char *rel, const char *text)
{
        _cleanup_free_ char *p = path_join(tmpdir, rel);
        mkparents(p);
        FILE *f = fopen(p, "we");
        fputs(text, f);
        fclose(f);
}

static void mask(const char *rel)
{
        _cleanup_free_ char *p = path_join(tmpdir, rel);
        mkparents(p);
        unlink(p);
        if (symlink("/dev/null", p) < 0)
                perror("symlink");
}

static void test_files(void)
{
        if (geteuid() != 0) {
                /* Unit files owned by anyone else are not loaded (trust.h). */
                tap_diag("files: skipped, needs root to own the unit files");
                return;
        }
        if (!mkdtemp(tmpdir)) {
                ok(0, "mkdtemp");
                return;
        }
        put("etc/web.unit", "[Image]\nImage=/etc-img\n[Process]\nExec=etc\n");
        put("usr/web.unit", "[Image]\nImage=/usr-img\n[Process]\nExec=usr\n");
        put("usr/web.unit.d/10-env.conf", "[Process]\nEnvironment=FROM=usr10\nEnvironment=USR=1\n");
        put("usr/web.unit.d/20-user.conf", "[Process]\nUser=usr\n");
        put("etc/web.unit.d/20-user.conf", "[Process]\nUser=etc\n");
        put("run/web.unit.d/30-env.conf", "[Process]\nEnvironment=\nEnvironment=FROM=run30\n");
        put("usr/db.unit", "[Image]\nImage=/db\n[Process]\nExec=db\n");
        mask("etc/db.unit");
        put("usr/cache.unit", "[Image]\nImage=/cache\n[Process]\nExec=c\n");
        put("usr/cache.unit.d/10-x.conf", "[Process]\nUser=x\n");
        put("usr/cache.unit.d/20-y.conf", "[Process]\nUser=y\n");
        mask("run/cache.unit.d/20-y.conf");
        put("usr/orphan.unit.d/x.conf", "[Process]\nUser=x\n");
        put("usr/Not A Unit.unit", "junk");
        put("usr/bad.unit", "[Image]\nImage=/b\n[Process]\nExec=b\nBogus=1\n");

        char *dirs[4];
        dirs[0] = path_join(tmpdir, "etc");
        dirs[1] = path_join(tmpdir, "run");
        dirs[2] = path_join(tmpdir, "usr");
        dirs[3] = NULL;
        UnitEntry *e = NULL;
        size_t n = 0;
        is_int(unit_path_enumerate(dirs, &e, &n, NULL), 0, "enumerate the search path");
        is_int(n, 4, "bad, cache, db, web (no drop-in-only unit, no invalid name)");
        if (n == 4) {
                is_str(e[0].name, "bad", "sorted by name");
                is_str(e[2].name, "db", "db");
                ok(e[2].masked && !e[2].fragment_path, "a /dev/null symlink masks a lower unit");
                is_str(e[3].name, "web", "web");
                ok(e[3].fragment_path && strstr(e[3].fragment_path, "/etc/web.unit"),
                   "the highest-priority main file wins");
                is_int(strv_length(e[3].dropin_paths), 3, "three effective drop-ins");

                UnitConfig *c = NULL;
                char **errors = NULL;
                is_int(unit_load_entry(&e[3], &c, &errors), 0, "load web");
                is_str(c->image_path, "/etc-img", "main file from /etc");
                is_str(c->user, "etc", "an /etc drop-in shadows the same-named /usr drop-in");
                is_int(strv_length(c->environment), 1, "a later drop-in's empty list assignment clears earlier ones");
                is_str(c->environment[0], "FROM=run30", "drop-ins apply in file-name order across directories");
                unit_config_free(c);
                strv_free(errors);

                is_int(unit_load_entry(&e[1], &c, &errors), 0, "load cache");
                is_str(c->user, "x", "a masked drop-in shadows a lower one");
                unit_config_free(c);
                strv_free(errors);

                is_int(unit_load_entry(&e[2], &c, &errors), -ESHUTDOWN, "a masked unit does not load");

                is_int(unit_load_entry(&e[0], &c, &errors), -EINVAL, "a bad unit");
                ok(errors && strstr(errors[0], "/usr/bad.unit:5: unknown key `Bogus`"),
                   "errors name the file and line");
                unit_config_free(c);
                strv_free(errors);
        }
        unit_entries_free(e, n);

        /* unit_load_file(): drop-ins beside the file; errors in drop-ins name them. */
        put("v/app.unit", "[Image]\nImage=/i\n[Process]\nExec=a\n");
        put("v/app.unit.d/x.conf", "\n[Process]\nUmask=888\n");
        _cleanup_free_ char *app = path_join(tmpdir, "v/app.unit");
        UnitConfig *c = NULL;
        char **errors = NULL;
        is_int(unit_load_file(app, &c, &errors), -EINVAL, "a bad drop-in makes the unit bad");
        _cleanup_free_ char *want = xasprintf("%s.d/x.conf:3: Umask=: invalid umask (expected octal 0000-0777) `888`", app);
        is_str(errors ? errors[0] : NULL, want, "the drop-in's error names the drop-in and its line");
        unit_config_free(c);
        strv_free(errors);

        _cleanup_free_ char *missing = path_join(tmpdir, "v/none.unit");
        is_int(unit_load_file(missing, &c, &errors), -EINVAL, "a missing file is an error");
        _cleanup_free_ char *want2 = xasprintf("%s: cannot read: No such file or directory", missing);
        is_str(errors ? errors[0] : NULL, want2, "the error names the file");
        unit_config_free(c);
        strv_free(errors);

        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
                tap_diag("cleanup failed");
        for (int i = 0; i < 3; i++)
                free(dirs[i]);
}

/* ------------------------------------------------------------ trust */

static void put_as(const char *dir, const char *rel, mode_t mode, uid_t uid)
{
        _cleanup_free_ char *p = path_join(dir, rel);
        FILE *f = fopen(p, "we");
        if (!f) {
                perror(p);
                return;
        }
        fputs("[Image]\nImage=/i\n[Process]\nExec=a\n", f);
        fclose(f);
        if (chmod(p, mode) < 0 || chown(p, uid, (gid_t)-1) < 0)
                perror(p);
}

static void mkdir_as(const char *dir, const char *rel, mode_t mode)
{
        _cleanup_free_ char *p = path_join(dir, rel);
        if (mkdir(p, mode) < 0 || chmod(p, mode) < 0)
                perror(p);
}

/* open_trusted(dir/rel): want an fd (want == NULL) or -EPERM with want. */
static void trust_is(const char *dir, const char *rel, bool directory, const char *want,
                     const char *what)
{
        _cleanup_free_ char *p = path_join(dir, rel), *why = NULL;
        int fd = open_trusted(p, directory, &why);
        if (!want) {
                if (!ok(fd >= 0, "%s: trusted", what))
                        tap_diag("got %d: %s", fd, why ? why : strerror(-fd));
        } else {
                is_int(fd, -EPERM, "%s: refused", what);
                _cleanup_free_ char *w = xasprintf(want, dir);
                is_str(why, w, "%s: the reason", what);
        }
        safe_close(fd);
}

static void test_trust(void)
{
        char dir[] = "/tmp/test-trust-XXXXXX";

        if (geteuid() != 0) {
                tap_diag("trust: skipped, needs root to own and chown files");
                return;
        }
        if (!mkdtemp(dir)) {
                ok(0, "mkdtemp");
                return;
        }
        mkdir_as(dir, "u", 0755);
        put_as(dir, "u/good.unit", 0644, 0);
        put_as(dir, "u/nobody.unit", 0644, 65534);
        put_as(dir, "u/g.unit", 0664, 0);
        put_as(dir, "u/o.unit", 0646, 0);
        mkdir_as(dir, "t", 0755);
        put_as(dir, "t/theirs.unit", 0644, 65534);
        _cleanup_free_ char *target = path_join(dir, "t/theirs.unit");
        _cleanup_free_ char *link = path_join(dir, "u/link.unit");
        _cleanup_free_ char *rlink = path_join(dir, "u/rlink.unit");
        if (symlink(target, link) < 0 || symlink("../u/good.unit", rlink) < 0)
                perror("symlink");
        mkdir_as(dir, "gw", 0775);
        put_as(dir, "gw/x.unit", 0644, 0);
        mkdir_as(dir, "sticky", 01777);
        mkdir_as(dir, "sticky/mine", 0755);
        put_as(dir, "sticky/mine/x.unit", 0644, 0);
        put_as(dir, "sticky/x.unit", 0644, 0);

        trust_is(dir, "u/good.unit", false, NULL, "root's 0644 file");
        trust_is(dir, "u/rlink.unit", false, NULL, "a relative symlink to root's file");
        trust_is(dir, "u", true, NULL, "root's 0755 directory");
        trust_is(dir, "u/nobody.unit", false, "owned by uid 65534, not root", "another owner");
        trust_is(dir, "u/g.unit", false, "writable by group or others (mode 0664)", "group-writable");
        trust_is(dir, "u/o.unit", false, "writable by group or others (mode 0646)", "other-writable");
        trust_is(dir, "u/link.unit", false,
                 "symlink target %s/t/theirs.unit is owned by uid 65534, not root",
                 "a symlink to another owner's file");
        trust_is(dir, "gw/x.unit", false,
                 "directory %s/gw is writable by group or others (mode 0775)",
                 "a file in a group-writable directory");
        trust_is(dir, "gw", true, "writable by group or others (mode 0775)",
                 "a group-writable directory");
        trust_is(dir, "sticky/mine/x.unit", false, NULL, "a sticky world-writable ancestor");
        trust_is(dir, "sticky/x.unit", false,
                 "directory %s/sticky is writable by group or others (mode 1777)",
                 "a file right in a sticky world-writable directory");
        trust_is(dir, "sticky", true, "writable by group or others (mode 1777)",
                 "a sticky world-writable directory asked for");

        trust_is(dir, "u/./../u//good.unit", false, NULL, "a path with ., .. and //");
        trust_is(dir, "gw/../u/good.unit", false,
                 "directory %s/gw is writable by group or others (mode 0775)",
                 "a path through a group-writable directory and back");

        _cleanup_free_ char *missing = path_join(dir, "u/none.unit"), *why = NULL;
        is_int(open_trusted(missing, false, &why), -ENOENT, "a missing file: -ENOENT");
        ok(!why, "a missing file: no reason");
        _cleanup_free_ char *loop = path_join(dir, "u/loop.unit");
        if (symlink("loop.unit", loop) < 0)
                perror("symlink");
        is_int(open_trusted(loop, false, &why), -ELOOP, "a symlink loop: -ELOOP");
        _cleanup_free_ char *udir = path_join(dir, "u");
        is_int(open_trusted(udir, false, &why), -EISDIR, "a directory asked for as a file: -EISDIR");
        _cleanup_free_ char *ufile = path_join(dir, "u/good.unit");
        is_int(open_trusted(ufile, true, &why), -ENOTDIR, "a file asked for as a directory: -ENOTDIR");

        /* Loading: the reason is the unit's error. */
        _cleanup_free_ char *nobody = path_join(dir, "u/nobody.unit");
        UnitConfig *c = NULL;
        char **errors = NULL;
        is_int(unit_load_file(nobody, &c, &errors), -EINVAL, "an untrusted unit is bad");
        _cleanup_free_ char *want = xasprintf("%s: untrusted: owned by uid 65534, not root", nobody);
        is_str(errors ? errors[0] : NULL, want, "its error names the file and the reason");
        unit_config_free(c);
        strv_free(errors);

        /* Enumerating: skipped names are reported, hidden files are not. */
        mkdir_as(dir, "scan", 0755);
        put_as(dir, "scan/ok.unit", 0644, 0);
        put_as(dir, "scan/-bad.unit", 0644, 0);
        put_as(dir, "scan/README", 0644, 0);
        put_as(dir, "scan/.ok.unit.swp", 0644, 0);
        mkdir_as(dir, "scan/no way.unit.d", 0755);
        char *dirs[] = { path_join(dir, "scan"), NULL };
        UnitEntry *e = NULL;
        size_t n = 0;
        char **notes = NULL;
        is_int(unit_path_enumerate(dirs, &e, &n, &notes), 0, "enumerate with skipped files");
        is_int(n, 1, "one unit");
        is_int(strv_length(notes), 3, "three skipped files reported (not the hidden one)");
        _cleanup_free_ char *all = strv_join(notes, "\n");
        ok(strstr(all, "/scan/-bad.unit: unit file skipped: invalid unit name `-bad`"),
           "an invalid unit name, with the reason");
        ok(strstr(all, "/scan/no way.unit.d: drop-in directory skipped: invalid unit name `no way`"),
           "an invalid drop-in directory name");
        ok(strstr(all, "/scan/README: skipped: not a unit file"), "another file");
        ok(!strstr(all, ".swp"), "hidden files are skipped silently");
        strv_free(notes);
        unit_entries_free(e, n);
        free(dirs[0]);

        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
        if (system(cmd) != 0)
                tap_diag("cleanup failed");
}

static void test_health(void)
{
        UnitConfig *c = parse_ok(HEAD, "no [Health]");
        ok(!c->health && !c->health_exec && !c->health_http && !c->health_tcp, "no health check by default");
        is_int(c->health_interval_usec, 30 * USEC_PER_SEC, "IntervalSec= default 30s");
        is_int(c->health_timeout_usec, 30 * USEC_PER_SEC, "TimeoutSec= default 30s");
        is_int(c->health_retries, 3, "Retries= default 3");
        is_int(c->health_start_period_usec, 0, "StartPeriodSec= default 0");
        is_int(c->health_start_interval_usec, 5 * USEC_PER_SEC, "StartIntervalSec= default 5s");
        is_int(c->health_on_failure, HEALTH_ON_FAILURE_RESTART, "OnFailure= default restart");
        uint64_t h0 = c->hash;
        unit_config_free(c);

        c = parse_ok(HEAD "[Health]\nExec=/bin/check --fast\nIntervalSec=2s\nTimeoutSec=500ms\nRetries=5\n"
                     "StartPeriodSec=1min\nStartIntervalSec=1s\nOnFailure=stop\n", "[Health] Exec=");
        ok(c->health, "[Health] seen");
        is_int(strv_length(c->health_exec), 2, "Exec= words");
        is_str(c->health_exec ? c->health_exec[1] : NULL, "--fast", "Exec= argument");
        is_int(c->health_interval_usec, 2 * USEC_PER_SEC, "IntervalSec=2s");
        is_int(c->health_timeout_usec, 500 * USEC_PER_MSEC, "TimeoutSec=500ms");
        is_int(c->health_retries, 5, "Retries=5");
        is_int(c->health_start_period_usec, 60 * USEC_PER_SEC, "StartPeriodSec=1min");
        is_int(c->health_start_interval_usec, USEC_PER_SEC, "StartIntervalSec=1s");
        is_int(c->health_on_failure, HEALTH_ON_FAILURE_STOP, "OnFailure=stop");
        ok(c->hash != h0, "[Health] changes the hash");
        unit_config_free(c);

        c = parse_ok(HEAD "[Health]\nTCP=8080\nTCP=\nHTTP=http://localhost:8080/healthz?x=1\nOnFailure=none\n",
                     "[Health] HTTP= after an emptied TCP=");
        ok(!c->health_tcp, "TCP= emptied");
        is_str(c->health_http, "http://localhost:8080/healthz?x=1", "HTTP= as written");
        is_int(c->health_on_failure, HEALTH_ON_FAILURE_NONE, "OnFailure=none");
        unit_config_free(c);

        c = parse_ok(HEAD "[Health]\nIntervalSec=5s\n", "[Health] without a check (the image's)");
        ok(c->health && !c->health_exec, "only the intervals");
        unit_config_free(c);

        static const struct {
                const char *v;
                bool http;
                int family;
                const char *host, *path;
                uint16_t port;
        } good[] = {
                { "8080", false, AF_INET, "127.0.0.1", NULL, 8080 },
                { "10.0.0.2:53", false, AF_INET, "10.0.0.2", NULL, 53 },
                { "[::1]:80", false, AF_INET6, "::1", NULL, 80 },
                { "localhost:1", false, AF_INET, "127.0.0.1", NULL, 1 },
                { "127.0.0.1:80", true, AF_INET, "127.0.0.1", "/", 80 },
                { "http://[fe80::1]:8000/a/b", true, AF_INET6, "fe80::1", "/a/b", 8000 },
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                HealthTarget t = {};
                const char *err = NULL;
                ok(health_target_parse(good[i].v, good[i].http, &t, &err) == 0, "%s parses", good[i].v);
                is_int(t.family, good[i].family, "%s: family", good[i].v);
                is_int(t.port, good[i].port, "%s: port", good[i].v);
                is_str(t.host, good[i].host, "%s: host", good[i].v);
                is_str(t.path, good[i].path, "%s: path", good[i].v);
                health_target_done(&t);
        }
}

/* ------------------------------------------------------------ templates */

static void put_in(const char *dir, const char *rel, const char *text)
{
        _cleanup_free_ char *p = path_join(dir, rel);
        _cleanup_free_ char *parent = xstrndup(p, (size_t)(strrchr(p, '/') - p));
        mkdir(parent, 0755);
        FILE *f = fopen(p, "we");
        if (!f) {
                perror(p);
                return;
        }
        fputs(text, f);
        fclose(f);
}

static const UnitEntry *entry(const UnitEntry *e, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (streq(e[i].name, name))
                        return &e[i];
        return NULL;
}

static void test_templates(void)
{
        /* The names. */
        ok(unit_name_is_template("web@"), "web@ is a template");
        ok(!unit_name_is_template("web@1") && !unit_name_is_template("web"), "web@1 and web are not");
        char *t = unit_name_template("web@eu@1");
        is_str(t, "web@", "the first '@' splits");
        free(t);
        ok(!unit_name_template("web") && !unit_name_template("web@"), "no template of web, web@");
        is_str(unit_name_instance("web@eu@1"), "eu@1", "the instance");
        is_str(unit_name_instance("web"), "", "no instance");

        /* The specifiers. */
        char *paths[] = { (char *)"web@.unit", NULL };
        char *texts[] = { (char *)HEAD "Environment=I=%i\nEnvironment=P=%p\nEnvironment=N=%n\n"
                          "Environment=X=%%i 50%x %\n[Unit]\nRequires=db@%i\n", NULL };
        UnitConfig *c = NULL;
        char **errors = NULL;
        is_int(unit_parse_texts("web@eu-1", paths, texts, &c, &errors), 0, "an instance parses");
        if (c && strv_length(c->environment) == 4) {
                is_str(c->environment[0], "I=eu-1", "%%i is the instance");
                is_str(c->environment[1], "P=web", "%%p the part before '@'");
                is_str(c->environment[2], "N=web@eu-1", "%%n the whole name");
                is_str(c->environment[3], "X=%i 50%x %", "%%%% and other %% stay");
                ok(c->requires && streq(c->requires[0], "db@eu-1"), "Requires=db@%%i");
        } else
                ok(0, "four variables");
        unit_config_free(c);
        strv_free(errors);
        is_int(unit_parse_texts("plain", paths, texts, &c, &errors), 0, "a plain unit parses");
        if (c && strv_length(c->environment) == 4) {
                is_str(c->environment[0], "I=", "%%i is empty outside templates");
                is_str(c->environment[1], "P=plain", "%%p is the name");
        }
        unit_config_free(c);
        strv_free(errors);

        if (geteuid() != 0) {
                tap_diag("templates: files skipped, needs root to own the unit files");
                return;
        }
        char dir[] = "/tmp/test-unit-tmpl-XXXXXX";
        if (!mkdtemp(dir)) {
                ok(0, "mkdtemp");
                return;
        }
        put_in(dir, "etc/w@.unit", HEAD "Environment=I=%i\n");
        put_in(dir, "usr/w@.unit", HEAD "Environment=FROM=usr\n");
        put_in(dir, "usr/w@.unit.d/10-a.conf", "[Process]\nUser=tmpl\n");
        put_in(dir, "usr/w@.unit.d/20-b.conf", "[Process]\nUmask=0077\n");
        put_in(dir, "run/w@2.unit", "");
        put_in(dir, "run/w@2.unit.d/20-b.conf", "[Process]\nUmask=0027\n");
        put_in(dir, "run/w@2.unit.d/30-c.conf", "[Process]\nUser=inst\n");
        put_in(dir, "etc/w@own.unit", HEAD "Environment=OWN=%i\n");
        put_in(dir, "etc/g@1.unit", "");
        _cleanup_free_ char *link = path_join(dir, "etc/w@1.unit");
        _cleanup_free_ char *target = path_join(dir, "usr/w@.unit");
        if (symlink(target, link) < 0)
                perror("symlink");

        char *dirs[4];
        dirs[0] = path_join(dir, "etc");
        dirs[1] = path_join(dir, "run");
        dirs[2] = path_join(dir, "usr");
        dirs[3] = NULL;
        UnitEntry *e = NULL;
        size_t n = 0;
        is_int(unit_path_enumerate(dirs, &e, &n, NULL), 0, "enumerate templates");
        is_int(n, 4, "g@1 w@1 w@2 w@own, no template");
        ok(!entry(e, n, "w@"), "the template is no unit");

        const UnitEntry *w1 = entry(e, n, "w@1"), *w2 = entry(e, n, "w@2");
        const UnitEntry *own = entry(e, n, "w@own"), *g1 = entry(e, n, "g@1");
        _cleanup_free_ char *etc_tmpl = path_join(dir, "etc/w@.unit");
        if (w1 && w2 && own && g1) {
                is_str(w1->fragment_path, etc_tmpl, "a symlinked instance runs the winning template");
                is_int(strv_length(w1->dropin_paths), 2, "with the template's drop-ins");
                is_str(w2->fragment_path, etc_tmpl, "an empty instance file runs the template");
                is_int(strv_length(w2->dropin_paths), 3, "the template's drop-ins and the instance's");
                if (strv_length(w2->dropin_paths) == 3) {
                        ok(strstr(w2->dropin_paths[0], "usr/w@.unit.d/10-a.conf") != NULL, "template drop-in first");
                        ok(strstr(w2->dropin_paths[1], "run/w@2.unit.d/20-b.conf") != NULL,
                           "an instance drop-in replaces the template's of the same name");
                        ok(strstr(w2->dropin_paths[2], "run/w@2.unit.d/30-c.conf") != NULL, "instance drop-ins later");
                }
                ok(strstr(own->fragment_path, "etc/w@own.unit") != NULL, "a non-empty instance file is its own unit");
                ok(g1->errors && strstr(g1->errors[0], "g@1.unit: template g@.unit not found"),
                   "an instance without template is an error");

                is_int(unit_load_entry(w2, &c, &errors), 0, "load w@2");
                is_str(c->user, "inst", "the instance's drop-in comes later");
                is_int((int)c->umask, 027, "the instance's drop-in replaced the template's");
                if (strv_length(c->environment) == 1)
                        is_str(c->environment[0], "I=2", "%%i of the instance");
                unit_config_free(c);
                strv_free(errors);
                is_int(unit_load_entry(g1, &c, &errors), -EINVAL, "an instance without template is bad");
                is_int(strv_length(errors), 1, "with one error, not the empty file's");
                unit_config_free(c);
                strv_free(errors);
        } else
                ok(0, "every instance found");
        unit_entries_free(e, n);

        /* verify: a template alone, an empty instance next to its template. */
        is_int(unit_load_file(etc_tmpl, &c, &errors), 0, "a template loads with a sample instance");
        is_str(c ? c->name : NULL, "w@" UNIT_TEMPLATE_SAMPLE_INSTANCE, "named after the sample");
        unit_config_free(c);
        strv_free(errors);
        put_in(dir, "etc/w@9.unit", "");
        _cleanup_free_ char *w9 = path_join(dir, "etc/w@9.unit");
        is_int(unit_load_file(w9, &c, &errors), 0, "an empty instance file loads its template");
        if (c && strv_length(c->environment) == 1)
                is_str(c->environment[0], "I=9", "with its instance");
        unit_config_free(c);
        strv_free(errors);

        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
        if (system(cmd) != 0)
                tap_diag("cleanup failed");
        for (int i = 0; i < 3; i++)
                free(dirs[i]);
}

int main(void)
{
        /* Files are written 0644, whatever umask the tests run under. */
        umask(022);
        test_malformed();
        test_all_errors_at_once();
        test_families();
        test_defaults_and_images();
        test_ambient_and_oom();
        test_health();
        test_syntax();
        test_hash();
        test_files();
        test_trust();
        test_templates();
        return tap_done();
}
