#!/usr/bin/env bats
# `ccsupctl exec` (issue 7): a command inside a running container, with its
# namespaces, root, cgroup, user, capabilities, seccomp filter, working
# directory and environment; ccsupctl's fds passed to it; its exit status
# back; clean failures; interruption; re-adopted containers; parallel calls.

bats_require_minimum_version 1.5.0

load sup-helpers
load image-helpers

setup_file() {
        run_setup_file
        export IMG=$BATS_FILE_TMPDIR/layered
        is_root || return 0
        command -v umoci >/dev/null && command -v skopeo >/dev/null || return 0
        mkdir -p "$IMG"
        make_layered_images "$IMG" "$IMAGE"
}
setup() { sup_setup; }
teardown() { sup_teardown; }

# box [LINES...]: a container whose PID 1 is the test helper, as app (1000),
# with a hostname, a tmpfs and an environment of its own
box() {
        unit web <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H wait-signal 1000
User=app
Hostname=box-$BATS_TEST_NUMBER
WorkingDirectory=/home/app
Environment=GREETING=hello
Environment=FROM=unit
StopTimeoutSec=5s

[Mounts]
Tmpfs=/ccsup-exec-scratch:mode=1777
$(printf '%s\n' "$@")
EOF
}

start_box() {
        box "$@"
        sup_start
        wait_state web running
}

# the keys of a /proc/PID/status that must be the same for PID 1 and exec
STATUS_KEYS='^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):'

# same_as_pid1 [UID]: exec's credentials, capabilities, seccomp mode and
# cgroups are those of the container's PID 1 (whose uid is UID, default 1000)
same_as_pid1() {
        local pid1 self uid=${1:-1000}
        pid1=$(ctl exec web grep -E "$STATUS_KEYS" /proc/1/status)
        self=$(ctl exec web grep -E "$STATUS_KEYS" /proc/self/status)
        [[ $(grep -c . <<<"$pid1") -eq 10 ]]
        expect_equal "status lines of PID 1 and of exec" "$pid1" "$self"
        grep -qx $'Seccomp:\t2' <<<"$self"
        grep -qx "Uid:	$uid	$uid	$uid	$uid" <<<"$self"
        expect_equal "cgroups" "$(ctl exec web cat /proc/1/cgroup)" "$(ctl exec web cat /proc/self/cgroup)"
}

@test "exec runs inside the container: hostname, PID namespace, mounts, user, caps, seccomp, cgroup, env, cwd" {
        start_box
        local main
        main=$(prop web MainPID)

        run ctl exec web hostname
        expect_status 0
        expect_equal hostname "box-$BATS_TEST_NUMBER" "$output"

        # the container's PID namespace: PID 1 is the unit's command, ours is small
        expect_equal "PID 1" "$H wait-signal 1000 " "$(ctl exec web cat /proc/1/cmdline | tr '\0' ' ')"
        run ctl exec web "$H" pid
        expect_status 0
        [[ $output =~ ^pid=([0-9]+)\ ppid=0$ ]]
        [[ ${BASH_REMATCH[1]} -lt 10 ]]

        # its mounts: a tmpfs only the container has, written by one exec, read by another
        [[ ! -e /ccsup-exec-scratch ]]
        run ctl exec web sh -c 'echo only-here >/ccsup-exec-scratch/f && grep -c " /ccsup-exec-scratch tmpfs " /proc/mounts'
        expect_status 0
        expect_equal "tmpfs" 1 "$output"
        run ctl exec web cat /ccsup-exec-scratch/f
        expect_equal "file" only-here "$output"

        # User=, capabilities, NoNewPrivs, seccomp, cgroups: as PID 1's
        run ctl exec web "$H" ids
        expect_equal "ids" "uid=1000 gid=1000 euid=1000 egid=1000 groups=2000" "$output"
        same_as_pid1

        # the environment of PID 1 (exactly), and its working directory
        local env1
        env1=$(ctl exec web cat /proc/1/environ | tr '\0' '\n' | sort)
        grep -qx "GREETING=hello" <<<"$env1"
        grep -qx "HOME=/home/app" <<<"$env1"
        expect_equal "environment" "$env1" "$(ctl exec web env | sort)"
        run ctl exec web "$H" cwd
        expect_equal cwd /home/app "$output"

        # nothing of exec stays in the container, which goes on as before
        expect_equal "main PID" "$main" "$(prop web MainPID)"
        expect_equal "cgroup members" "$main" "$(cat "$(cgroup2_root)$CG/web.ctr/cgroup.procs")"
}

@test "a layered image: the user from its merged /etc/passwd, its environment and working directory, also after daemon-reexec" {
        [[ -d $IMG/layout ]] || skip "umoci or skopeo not installed (contrib/deps)"
        unit web <<EOF
[Image]
Image=oci:$IMG/layout:v2

[Process]
Entrypoint=
Exec=$H wait-signal 1000
EOF
        sup_start
        wait_state web running 60
        local round
        for round in first after-reexec; do
                run ctl exec web "$H" ids
                expect_status 0
                expect_equal "ids ($round)" "uid=1234 gid=1000 euid=1234 egid=1000 groups=2000" "$output"
                same_as_pid1 1234
                run ctl exec web sh -c 'echo "$FOO $HOME $(pwd)"; cat /opt/only; ls /etc/remove-me'
                expect_status 1
                expect_line "bar /home/app /work"
                expect_line new
                expect_equal "environment ($round)" "$(ctl exec web cat /proc/1/environ | tr '\0' '\n' | sort)" \
                        "$(ctl exec web env | sort)"
                run ctl daemon-reexec
                expect_status 0
                wait_state web running
        done
}

@test "a command looked up through the container's PATH, not ccsupd's" {
        box '[Process]' 'Environment=PATH=/ccsup-exec-scratch/bin:/bin'
        sup_start
        wait_state web running
        run ctl exec web sh -c 'mkdir -p /ccsup-exec-scratch/bin && printf "#!/bin/sh\necho mine\n" >/ccsup-exec-scratch/bin/whoareyou && chmod +x /ccsup-exec-scratch/bin/whoareyou'
        expect_status 0
        run ctl exec web whoareyou
        expect_status 0
        expect_equal "found in PATH" mine "$output"
        # ccsupd's own PATH has /usr/bin, where the helper is: not searched
        run -127 --separate-stderr ctl exec web ccsup-testhelper pid
        expect_status 127
}

@test "exit statuses: the command's, 128+N for signal N" {
        start_box
        run ctl exec web sh -c 'exit 3'
        expect_status 3
        run ctl exec web true
        expect_status 0
        run ctl exec web "$H" kill-self 15
        expect_status 143
        run ctl exec web sh -c 'kill -KILL $$'
        expect_status 137
        expect_equal state running "$(prop web State)"
}

@test "stdin with -i only; stdout and stderr are ccsupctl's own" {
        start_box
        run bash -c 'printf "line one\nline two\n" | "$0" exec -i web cat' "$CCSUPCTL"
        expect_status 0
        expect_equal "stdin passed" $'line one\nline two' "$output"
        run bash -c 'printf "data\n" | "$0" exec web cat' "$CCSUPCTL"
        expect_status 0
        expect_equal "no stdin without -i" "" "$output"
        run --separate-stderr ctl exec web sh -c 'echo out; echo err >&2; ls -l /proc/self/fd/0'
        expect_status 0
        expect_line out
        [[ ${lines[1]} == *"/proc/self/fd/0 -> /dev/null" ]]
        expect_equal stderr err "$stderr"
        # straight into a file: ccsupd copies nothing
        ctl exec web sh -c 'head -c 300000 /dev/zero' >"$T/big"
        expect_equal "bytes" 300000 "$(stat -c %s "$T/big")"
}

@test "options before UNIT only; the command's own options are left alone" {
        start_box
        run ctl exec web sh -c 'echo "$0 $1"' -x --json
        expect_status 0
        expect_equal "argv" "-x --json" "$output"
        run ctl exec -i -- web -- echo -n --no-block
        expect_status 0
        expect_equal "argv" "--no-block" "$output"
        run ctl exec --bogus web true
        expect_status 2
        [[ $output == *"unknown option \`--bogus\`"* ]]
        run ctl exec web
        expect_status 2
        [[ $output == *"no command given"* ]]
}

@test "a command that cannot run fails cleanly; the container and ccsupd stay up" {
        start_box
        local main
        main=$(prop web MainPID)
        run -127 --separate-stderr ctl exec web nosuch
        expect_status 127
        expect_equal stderr "ccsupctl: exec: \`nosuch\`: No such file or directory" "$stderr"
        run --separate-stderr ctl exec web /etc/passwd
        expect_status 126
        expect_equal stderr "ccsupctl: exec: \`/etc/passwd\`: Permission denied" "$stderr"
        run -127 --separate-stderr ctl exec web /no/such/dir/cmd
        expect_status 127
        kill -0 "$SUP_PID"
        expect_equal state running "$(prop web State)"
        expect_equal "main PID" "$main" "$(prop web MainPID)"
        expect_equal "cgroup members" "$main" "$(cat "$(cgroup2_root)$CG/web.ctr/cgroup.procs")"
        run ctl exec web true
        expect_status 0
}

@test "exec into a unit that does not run, or does not exist" {
        start_box
        ctl stop web
        run --separate-stderr ctl exec web true
        expect_status 1
        expect_equal stderr "ccsupctl: exec: unit \`web\` is not running (state: inactive)" "$stderr"
        run --separate-stderr ctl exec nosuchunit true
        expect_status 4
        [[ $stderr == *"nosuchunit"*"not found"* ]]
}

@test "exec needs root" {
        start_box
        chmod 0666 "$T/run/control"
        chmod o+x "$T" "$T/run"
        run setpriv --reuid=65534 --regid=65534 --clear-groups "$CCSUPCTL" exec web true
        expect_status 5
        [[ ${output,,} == *"access denied"* || ${output,,} == *"permission denied"* ]]
}

@test "exec into containers re-adopted after daemon-reexec and after a crash of ccsupd" {
        start_box
        local main
        main=$(prop web MainPID)
        run ctl daemon-reexec
        expect_status 0
        wait_state web running
        grep -q "re-adopted PID $main" "$T/d.err"
        run ctl exec web "$H" ids
        expect_status 0
        expect_equal "ids" "uid=1000 gid=1000 euid=1000 egid=1000 groups=2000" "$output"
        run ctl exec web hostname
        expect_equal hostname "box-$BATS_TEST_NUMBER" "$output"
        same_as_pid1
        run ctl exec web "$H" cwd
        expect_equal cwd /home/app "$output"

        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        rm -f "$T/run/control"
        sup_start
        wait_state web running
        expect_equal "main PID" "$main" "$(prop web MainPID)"
        same_as_pid1
        run ctl exec web sh -c 'exit 7'
        expect_status 7
}

@test "several execs at once" {
        start_box
        local i pids=()
        for i in 1 2 3 4 5 6; do
                ctl exec web sh -c "sleep 0.5; echo \$0; exit \$0" "$i" >"$T/out/$i" &
                pids+=($!)
        done
        for i in 1 2 3 4 5 6; do
                local s=0
                wait "${pids[i - 1]}" || s=$?
                expect_equal "exit status of exec $i" "$i" "$s"
                expect_equal "output of exec $i" "$i" "$(<"$T/out/$i")"
        done
        kill -0 "$SUP_PID"
}

# the host PID of the exec'd `sleep` (its environment has our tag)
exec_sleep_pid() {
        local p
        for p in $(tagged_pids); do
                [[ $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) == "$H sleep 300 " ]] && echo "$p"
        done
        return 0
}

@test "interrupting ccsupctl kills the command; the container stays" {
        start_box
        # as from a terminal: SIGINT not ignored (bash ignores it in background jobs)
        env --default-signal=INT "$CCSUPCTL" exec web "$H" sleep 300 &
        local client=$! cmd= i
        for ((i = 0; i < 100; i++)); do
                cmd=$(exec_sleep_pid)
                [[ -n $cmd ]] && break
                sleep 0.05
        done
        [[ -n $cmd ]]
        kill -INT "$client"
        wait "$client" || true
        for ((i = 0; i < 100; i++)); do
                kill -0 "$cmd" 2>/dev/null || break
                sleep 0.05
        done
        ! kill -0 "$cmd" 2>/dev/null
        grep -q "the caller went away" "$T/d.err"
        expect_equal state running "$(prop web State)"
        expect_equal "cgroup members" "$(prop web MainPID)" "$(cat "$(cgroup2_root)$CG/web.ctr/cgroup.procs")"
}

@test "daemon-reexec ends a running exec with a clear error" {
        start_box
        run --separate-stderr bash -c '"$0" exec web "$1" sleep 300 & sleep 0.5; "$0" daemon-reexec; wait $!' "$CCSUPCTL" "$H"
        expect_status 125
        [[ $stderr == *"ccsupctl: exec: ccsupd is going away"*"the command was killed"* ]]
        [[ -z $(exec_sleep_pid) ]]
        wait_state web running
        run ctl exec web true
        expect_status 0
}

@test "stopping the container ends a running exec" {
        start_box
        run --separate-stderr bash -c '"$0" exec web "$1" sleep 300 & sleep 0.5; "$0" stop web; wait $!' "$CCSUPCTL" "$H"
        expect_status 137
        expect_equal state inactive "$(prop web State)"
}

@test "the default seccomp profile refuses TIOCSTI and TIOCLINUX (typing into the operator's terminal)" {
        start_box
        run ctl exec web "$H" try tiocsti tiocsti-high tioclinux
        expect_status 1
        expect_line "tiocsti: EPERM (Operation not permitted)"
        expect_line "tiocsti-high: EPERM (Operation not permitted)"
        expect_line "tioclinux: EPERM (Operation not permitted)"
        # other ioctl requests still reach the kernel
        run ctl exec web "$H" try tcgets
        expect_line "tcgets: ENOTTY (Inappropriate ioctl for device)"
}
