#!/usr/bin/env bats
# ccsupd --run: the [Process] section, exit statuses, signals, Init=.

load run-helpers

setup_file() { run_setup_file; }
setup() { run_setup; }
teardown() { run_teardown; }

@test "exit status N of the command is the exit status of --run" {
        local n
        for n in 0 3 42 255; do
                plain_unit exit "$H exit $n"
                ccsup_run exit
                expect_status "$n"
        done
}

@test "death by signal N gives 128+N (fault in PID 1, SIGKILL from the host)" {
        # PID 1 of a namespace ignores signals without a handler, even its own;
        # the helper then dies of a real fault, delivered whatever the pid.
        plain_unit segv "$H kill-self 11"
        ccsup_run segv
        expect_status 139

        plain_unit ill "$H kill-self 4"
        ccsup_run ill
        expect_status 132

        # SIGKILL from the host to the container's PID 1
        plain_unit sleeper "$H wait-signal 20"
        ccsup_start sleeper
        wait_for_output '^ready$'
        local pid
        pid=$(tagged_pids)
        [[ $(wc -w <<<"$pid") -eq 1 ]] || { echo "expected one container process, got: $pid"; false; }
        kill -KILL "$pid"
        wait_exit "$CCSUPD_PID" 10
        expect_status 137
}

@test "Init=yes: the command's death by signal N gives 128+N" {
        unit term <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H kill-self 15
Init=yes
EOF
        ccsup_run term
        expect_status 143
}

@test "Exec= is split into words like a shell, without any expansion" {
        plain_unit words "/bin/echo 'a  b' \"c\\\"d\" e\\ f \$HOME * %n 100%"
        ccsup_run words
        expect_status 0
        expect_equal "echo's output" 'a  b c"d e f $HOME * words 100%' "$output"
}

@test "Environment= sets variables, one per assignment, values may hold spaces" {
        unit env <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/env
Environment=FOO=bar
Environment=GREETING=hello big world
Environment=EMPTY=
Environment=UNIT=%n
EOF
        ccsup_run env
        expect_status 0
        expect_line "FOO=bar"
        expect_line "GREETING=hello big world"
        expect_line "EMPTY="
        expect_line "UNIT=env"
}

@test "EnvironmentFile= reads KEY=VALUE lines, skips comments; '-' tolerates a missing file" {
        cat >"$T/first.env" <<'EOF'
# a comment
FROMFILE=yes

SPACED=a b c
EOF
        cat >"$T/second.env" <<'EOF'
   # an indented comment
OTHER=2
EOF
        unit envfile <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/env
EnvironmentFile=$T/first.env
EnvironmentFile=-$T/missing.env
EnvironmentFile=$T/second.env
EOF
        ccsup_run envfile
        expect_status 0
        expect_line "FROMFILE=yes"
        expect_line "SPACED=a b c"
        expect_line "OTHER=2"
        if grep -q comment <<<"$output"; then
                echo "a comment line became a variable"
                false
        fi
}

@test "EnvironmentFile= is read at every start" {
        echo "VERSION=1" >"$T/v.env"
        unit envfile <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/env
EnvironmentFile=$T/v.env
EOF
        ccsup_run envfile
        expect_line "VERSION=1"
        echo "VERSION=2" >"$T/v.env"
        ccsup_run envfile
        expect_status 0
        expect_line "VERSION=2"
}

@test "a missing EnvironmentFile= (without '-') is a start error: exit 125, naming the file" {
        unit envfile <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/true
EnvironmentFile=$T/nope.env
EOF
        ccsup_run envfile
        expect_status 125
        expect_stderr_has "$T/nope.env"
        expect_nothing_left
}

@test "WorkingDirectory= sets the cwd; the default is /" {
        plain_unit cwd "$H cwd"
        ccsup_run cwd
        expect_status 0
        expect_equal cwd "/" "$output"

        unit cwd2 <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H cwd
WorkingDirectory=/home/app
EOF
        ccsup_run cwd2
        expect_status 0
        expect_equal cwd "/home/app" "$output"
}

@test "User= by name is resolved in the image's /etc/passwd" {
        unit user <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H ids
User=app
EOF
        ccsup_run user
        expect_status 0
        [[ $output == "uid=1000 gid=1000 euid=1000 egid=1000 "* ]]

        unit nobody <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H ids
User=nobody
EOF
        ccsup_run nobody
        expect_status 0
        [[ $output == "uid=65534 gid=65534 euid=65534 egid=65534 "* ]]
}

@test "User=UID:GID with numbers not in the image" {
        unit user <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H ids
User=1234:5678
EOF
        ccsup_run user
        expect_status 0
        [[ $output == "uid=1234 gid=5678 euid=1234 egid=5678 "* ]]
}

@test "the default user is root, with no supplementary groups from the host" {
        plain_unit root "$H ids"
        ccsup_run root
        expect_status 0
        [[ $output == "uid=0 gid=0 euid=0 egid=0 groups="* ]]
        local groups=${output#*groups=}
        [[ -z $groups || $groups == 0 ]] || { echo "unexpected groups: $groups"; false; }
}

@test "SupplementaryGroups= by name (image's /etc/group) and by number" {
        unit groups <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H ids
User=app
SupplementaryGroups=extra
SupplementaryGroups=3000
EOF
        ccsup_run groups
        expect_status 0
        [[ $output == "uid=1000 gid=1000 "* ]]
        local groups=,${output#*groups=},
        [[ $groups == *,2000,* ]] || { echo "group extra (2000) missing"; false; }
        [[ $groups == *,3000,* ]] || { echo "group 3000 missing"; false; }
}

@test "Umask= sets the umask; the default is 0022" {
        plain_unit umask "$H umask"
        ccsup_run umask
        expect_status 0
        expect_equal umask 0022 "$output"

        unit umask2 <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H umask
Umask=0077
EOF
        ccsup_run umask2
        expect_status 0
        expect_equal umask 0077 "$output"
}

@test "Hostname= defaults to the unit name; the host's hostname is untouched" {
        local host_before
        host_before=$(hostname)
        plain_unit my-service "$H hostname"
        ccsup_run my-service
        expect_status 0
        expect_equal hostname my-service "$output"

        unit named <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H hostname
Hostname=box.example
EOF
        ccsup_run named
        expect_status 0
        expect_equal hostname box.example "$output"
        expect_equal "host's hostname" "$host_before" "$(hostname)"
}

@test "Limit*= set the resource limits (read in /proc/self/limits)" {
        unit limits <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H limits
LimitNOFILE=1234:2345
LimitNPROC=77
LimitCORE=0:infinity
LimitMEMLOCK=65536
LimitSTACK=4194304:16777216
EOF
        ccsup_run limits
        expect_status 0
        local norm
        norm=$(sed -e 's/ *$//' -e 's/   */|/g' <<<"$output")
        echo "$norm"
        grep -qx 'Max open files|1234|2345|files' <<<"$norm"
        grep -qx 'Max processes|77|77|processes' <<<"$norm"
        grep -qx 'Max core file size|0|unlimited|bytes' <<<"$norm"
        grep -qx 'Max locked memory|65536|65536|bytes' <<<"$norm"
        grep -qx 'Max stack size|4194304|16777216|bytes' <<<"$norm"
}

@test "without Init= the command is PID 1" {
        plain_unit pid "$H pid"
        ccsup_run pid
        expect_status 0
        expect_equal "pid line" "pid=1 ppid=0" "$output"
}

@test "Init=yes: an init is PID 1, the command is its child" {
        unit init <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H pid
Init=yes
EOF
        ccsup_run init
        expect_status 0
        [[ $output == pid=*" ppid=1" && $output != "pid=1 "* ]]
}

@test "Init=yes reaps orphaned zombies (without it, they stay)" {
        unit zombies <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H zombies 5
Init=yes
EOF
        ccsup_run zombies
        expect_line "zombies: 0"
        expect_status 0

        # the control: the helper as PID 1 does not reap them, and the test sees it
        plain_unit nozombieinit "$H zombies 5"
        ccsup_run nozombieinit
        expect_line "zombies: 5"
}

@test "Init=yes exits with the command's exit status" {
        unit init <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H exit 7
Init=yes
EOF
        ccsup_run init
        expect_status 7
}

# CLI.md: --run "forwards SIGINT/SIGTERM" to the container; both are stop
# requests, delivered as the unit's StopSignal= (SIGTERM by default), like the
# daemon's own SIGTERM/SIGINT ("stop every container, each with its stop signal").
@test "SIGINT to --run stops the container with its stop signal (SIGTERM by default)" {
        plain_unit int "$H wait-signal 20"
        ccsup_start int
        wait_for_output '^ready$'
        kill -INT "$CCSUPD_PID"
        wait_exit "$CCSUPD_PID" 15
        expect_line "got SIGTERM"
        expect_status 0
}

@test "SIGTERM to --run stops the container with SIGTERM by default" {
        plain_unit term "$H wait-signal 20"
        ccsup_start term
        wait_for_output '^ready$'
        kill -TERM "$CCSUPD_PID"
        wait_exit "$CCSUPD_PID" 15
        expect_line "got SIGTERM"
        expect_status 0
}

@test "Init=yes forwards the stop signal to the command (SIGTERM and SIGINT to --run)" {
        local sig
        for sig in TERM INT; do
                unit init <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H wait-signal 20
Init=yes
StopSignal=SIGUSR2
EOF
                ccsup_start init
                wait_for_output '^ready$'
                kill -"$sig" "$CCSUPD_PID"
                wait_exit "$CCSUPD_PID" 15
                expect_line "got SIGUSR2"
                expect_status 0
        done
}

@test "StopSignal= applies to SIGINT to --run as well" {
        unit usr1 <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H wait-signal 20
StopSignal=SIGUSR1
EOF
        ccsup_start usr1
        wait_for_output '^ready$'
        kill -INT "$CCSUPD_PID"
        wait_exit "$CCSUPD_PID" 15
        expect_line "got SIGUSR1"
        expect_status 0
}

@test "StopSignal= is what SIGTERM to --run sends to the container" {
        unit usr1 <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H wait-signal 20
StopSignal=SIGUSR1
EOF
        ccsup_start usr1
        wait_for_output '^ready$'
        kill -TERM "$CCSUPD_PID"
        wait_exit "$CCSUPD_PID" 15
        expect_line "got SIGUSR1"
        expect_status 0
}

@test "StopTimeoutSec=: a container ignoring SIGTERM is killed (SIGKILL) after the timeout" {
        unit stubborn <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H ignore-term 60
StopTimeoutSec=2
EOF
        ccsup_start stubborn
        wait_for_output '^ready$'
        kill -TERM "$CCSUPD_PID"
        wait_exit "$CCSUPD_PID" 15
        echo "stopped after ${elapsed} ms"
        expect_status 137
        ((elapsed >= 1500)) || { echo "killed before StopTimeoutSec (2s)"; false; }
        ((elapsed < 8000)) || { echo "StopTimeoutSec=2 not honoured"; false; }
        expect_nothing_left
}
