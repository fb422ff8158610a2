#!/usr/bin/env bats
# ccsupd as a daemon: list/status/show/cat, start/stop/kill/reset, exit codes,
# the control API over busctl, access control, shutdown, side-by-side instances.

load sup-helpers

setup_file() { run_setup_file; }
setup() { sup_setup; }
teardown() { sup_teardown; }

@test "list, show, status and cat describe every unit, masked and bad ones too" {
        sleeper web 'Environment=A=1' '[Unit]' 'Description=the web server'
        mkdir -p "$T/units/web.unit.d"
        printf '[Process]\nEnvironment=B=2\n' >"$T/units/web.unit.d/10-b.conf"
        printf '[Image]\nImage=%s\n[Process]\nExec=/bin/true\nNoSuchKey=1\n' "$IMAGE" >"$T/units/broken.unit"
        ln -s /dev/null "$T/units/hidden.unit"
        sup_start
        wait_state web running

        run ctl list
        expect_status 0
        [[ ${lines[0]} == "UNIT "*"STATE"*"RESULT"*"PID"*"RESTARTS"*"SINCE"*"DESCRIPTION" ]]
        [[ ${lines[1]} == "broken"*" bad "* ]]
        [[ ${lines[2]} == "hidden"*" masked "* ]]
        [[ ${lines[3]} == "web"*" running "*"the web server" ]]

        run ctl --no-legend list
        expect_equal "line count" 3 "${#lines[@]}"

        run ctl show web
        expect_status 0
        expect_line "Name=web"
        expect_line "State=running"
        expect_line "Result=success"
        expect_line "Image=$IMAGE"
        expect_line "FragmentPath=$T/units/web.unit"
        expect_line "DropIns=$T/units/web.unit.d/10-b.conf"
        expect_line "CgroupPath=$CG/web.ctr"
        expect_line "LoadErrors="
        local pid
        pid=$(prop web MainPID)
        [[ $pid -gt 1 ]]
        grep -qz "CCSUP_TEST_TAG=$TAG" "/proc/$pid/environ"
        # runtime state, for a later re-adoption
        grep -qx "PID=$pid" "$T/run/units/web"
        grep -qx "StartTime=$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$pid/stat")" "$T/run/units/web"
        grep -qx "Cgroup=$CG/web.ctr" "$T/run/units/web"
        [[ $(prop web TasksCurrent) -ge 1 ]]
        [[ $(prop web MemoryCurrent) -gt 0 ]]
        local keys
        keys=$(ctl show web | cut -d= -f1 | tr '\n' ' ')
        expect_equal "show keys" "Name State Result MainPID Restarts NextRestartUSec ExitCode ExitSignal StartedAt Image CgroupPath MemoryCurrent MemoryPeak TasksCurrent CPUUsageNSec Health FragmentPath DropIns LoadErrors Ready StatusText ImageDigest IPAddress IPv6Address PublishedPorts UIDRange Template Instance " "$keys"

        run ctl show broken
        [[ $output == *"LoadErrors=$T/units/broken.unit:5: "* ]]

        run ctl status web
        expect_status 0
        [[ ${lines[0]} == "● web - the web server" ]]
        expect_output_has "Drop-In: $T/units/web.unit.d/10-b.conf"
        expect_output_has "Main PID: $pid"
        expect_output_has "Tasks:"
        run ctl status web broken
        expect_status 3
        expect_output_has "Load errors: $T/units/broken.unit:5:"
        run ctl status
        expect_status 0
        expect_output_has "ccsupd "
        expect_output_has "1 running"
        expect_output_has "1 bad"

        run ctl cat web
        expect_status 0
        expect_equal "first line" "# $T/units/web.unit" "${lines[0]}"
        expect_line "# $T/units/web.unit.d/10-b.conf"
        expect_line "Environment=B=2"

        run ctl --json show web
        expect_status 0
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["State"]=="running" and isinstance(d["MainPID"],int) and d["ExitCode"] is None and d["DropIns"]==[sys.argv[2]], d' "$output" "$T/units/web.unit.d/10-b.conf"
        run ctl --json list
        expect_status 0
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert [u["Name"] for u in d]==["broken","hidden","web"], d; assert len(d[0])==28' "$output"

        run ctl show nosuch
        expect_status 4
        run ctl status nosuch
        expect_status 4
        run ctl start nosuch
        expect_status 4
        run ctl start broken
        expect_status 1
}

@test "start and stop wait; no restart follows a stop; kill applies the policy; reset" {
        sleeper svc '[Restart]' 'Policy=always' 'DelaySec=100ms'
        sup_start
        wait_state svc running
        local pid1
        pid1=$(prop svc MainPID)

        run ctl stop svc
        expect_status 0
        expect_equal "state right after stop" inactive "$(prop svc State)"
        kill -0 "$pid1" 2>/dev/null && { echo "PID $pid1 still runs"; false; }
        sleep 0.5
        expect_equal "still inactive (no restart)" inactive "$(prop svc State)"

        run ctl start svc
        expect_status 0
        expect_equal "state right after start" running "$(prop svc State)"
        local pid2
        pid2=$(prop svc MainPID)
        [[ $pid2 != "$pid1" ]]

        # a kill is an end nobody asked for: Policy=always restarts
        run ctl kill --signal=KILL svc
        expect_status 0
        wait_state svc running
        [[ $(prop svc MainPID) != "$pid2" ]]
        expect_equal "restarts" 1 "$(prop svc Restarts)"
        expect_equal "last exit" SIGKILL "$(prop svc ExitSignal)"
        expect_equal "result" signal "$(prop svc Result)"

        run ctl restart svc
        expect_status 0
        expect_equal "state after restart" running "$(prop svc State)"

        run ctl reset svc
        expect_status 0
        expect_equal "restarts after reset" 0 "$(prop svc Restarts)"

        run ctl kill --signal=NOPE svc
        expect_status 2
        run ctl stop svc
        run ctl kill svc
        expect_status 1
}

@test "a unit that fails to start: start reports it; --no-block returns at once" {
        unit bad <<EOF
[Image]
Image=$T/no-such-image

[Process]
Exec=/bin/true

[Restart]
Policy=no
EOF
        sleeper ok
        sup_start
        wait_state bad failed
        expect_equal "result" start-error "$(prop bad Result)"
        run ctl start bad
        expect_status 1
        expect_output_has "did not start: failed (start-error)"
        run ctl status bad
        expect_status 3
        expect_output_has "Start error:"
        run ctl stop ok
        run ctl --no-block start ok
        expect_status 0
        wait_state ok running
}

@test "SIGTERM stops every container in reverse dependency order, exits 0, leaves nothing" {
        unit db <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'trap "echo db >> /out/order; exit 0" TERM; while :; do sleep 0.05; done'

[Mounts]
Bind=$T/out:/out
EOF
        unit web <<EOF
[Unit]
Requires=db

[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'trap "sleep 0.3; echo web >> /out/order; exit 0" TERM; while :; do sleep 0.05; done'

[Mounts]
Bind=$T/out:/out
EOF
        # ignores SIGTERM: killed after its stop timeout
        unit stubborn <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H sleep 60
StopTimeoutSec=500ms
EOF
        sup_start
        wait_state db running
        wait_state web running
        wait_state stubborn running
        [[ -n $(cgroup_pids) ]]
        sup_stop
        expect_status 0
        expect_equal "stop order" "web db" "$(tr '\n' ' ' <"$T/out/order" | sed 's/ $//')"
        grep -q 'stubborn: stop timeout' "$T/d.err"
        [[ ! -e $T/run/control ]]
        [[ -z $(ls "$T/run/units") ]]
        expect_nothing_left
        local root
        for root in $(cgroup_roots); do
                [[ ! -d $root$CG ]] || { echo "cgroup $root$CG left"; false; }
        done
}

@test "busctl introspects and calls the API; malformed calls get errors, the daemon carries on" {
        sleeper one
        sup_start
        wait_state one running
        local A="--address=unix:path=$T/run/control"
        run busctl "$A" introspect org.ccsup /org/ccsup
        expect_status 0
        expect_output_has "org.ccsup.Manager1"
        expect_output_has ".ListUnits"
        expect_output_has ".UnitChanged"
        run busctl "$A" call org.ccsup /org/ccsup org.ccsup.Manager1 ListUnits
        expect_status 0
        expect_output_has '"one" "running"'
        run busctl "$A" call org.ccsup /org/ccsup org.ccsup.Manager1 GetUnit s one
        expect_status 0
        expect_output_has '"State" s "running"'

        run busctl "$A" call org.ccsup /org/ccsup org.ccsup.Manager1 GetUnit i 5
        [[ $status -ne 0 ]]
        run busctl "$A" call org.ccsup /org/ccsup org.ccsup.Manager1 GetUnit s nosuch
        [[ $status -ne 0 && $output == *"not found"* ]]
        run busctl "$A" call org.ccsup /org/ccsup org.ccsup.Manager1 KillUnit si one 4096
        [[ $status -ne 0 && $output == *"invalid signal"* ]]
        run busctl "$A" call org.ccsup /org/ccsup org.ccsup.Manager1 NoSuchMethod
        [[ $status -ne 0 ]]
        run busctl "$A" call org.ccsup /org/ccsup org.ccsup.Manager1 StartUnit s one
        [[ $status -ne 0 ]]
        # Exec without its three fds (busctl 252 cannot send fds at all)
        run busctl "$A" call org.ccsup /org/ccsup org.ccsup.Manager1 Exec sas one 1 true
        [[ $status -ne 0 ]]
        # garbage on the socket
        python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"\0AUTH GARBAGE\r\n" + bytes(range(256))*8); s.close()' "$T/run/control"

        run ctl list
        expect_status 0
        expect_output_has "one "
        kill -0 "$SUP_PID"
}

@test "a caller other than root is refused; ccsupctl without a daemon exits 5" {
        sleeper x
        sup_start
        wait_state x running
        [[ $(stat -c %a "$T/run/control") == 600 ]]
        run setpriv --reuid=65534 --regid=65534 --clear-groups "$CCSUPCTL" --socket="$T/run/control" list
        expect_status 5
        chmod 0666 "$T/run/control"
        chmod o+x "$T" "$T/run"
        run setpriv --reuid=65534 --regid=65534 --clear-groups "$CCSUPCTL" --socket="$T/run/control" stop x
        expect_status 5
        [[ ${output,,} == *"permission denied"* || ${output,,} == *"access denied"* ]]
        expect_equal "still running" running "$(prop x State)"
        run setpriv --reuid=65534 --regid=65534 --clear-groups "$CCSUPCTL" --socket="$T/run/control" kill --signal=KILL x
        expect_status 5
        run setpriv --reuid=65534 --regid=65534 --clear-groups "$CCSUPCTL" --socket="$T/run/control" reload
        expect_status 5
        expect_equal "still running" running "$(prop x State)"

        run ctl --socket="$T/nothing-here" list
        expect_status 5
}

@test "two ccsupd instances side by side" {
        sleeper a
        sup_start
        wait_state a running
        local first=$SUP_PID sock1=$CCSUP_SOCKET
        local T2=$T/second CG2=${CG}-2
        mkdir -p "$T2/units"
        sed "s/CCSUP_TEST_TAG=.*/CCSUP_TEST_TAG=$TAG/" "$T/units/a.unit" >"$T2/units/a.unit"
        env --default-signal=INT,QUIT CCSUP_LOG_STDERR=1 "$CCSUPD" --unit-path="$T2/units" --runtime-dir="$T2/run" \
                --state-dir="$T2/state" --log-dir="$T2/log" --cgroup="$CG2" </dev/null >"$T2/out" 2>"$T2/err" &
        local second=$!
        echo "$second" >>"$T/bg-pids"
        CCSUP_SOCKET=$T2/run/control
        wait_state a running
        local p2
        p2=$(prop a MainPID)
        expect_equal "second cgroup" "$CG2/a.ctr" "$(prop a CgroupPath)"
        CCSUP_SOCKET=$sock1
        [[ $(prop a MainPID) != "$p2" ]]
        expect_equal "first cgroup" "$CG/a.ctr" "$(prop a CgroupPath)"
        kill -TERM "$second"
        wait "$second"
        expect_equal "first still running" running "$(prop a State)"
        local root
        for root in $(cgroup_roots); do
                [[ ! -d $root$CG2 ]] || { echo "cgroup $root$CG2 left"; false; }
        done
}

@test "statistics from the cgroup: show, status and --json give numbers for a running unit, nothing for a stopped one" {
        sleeper stats
        sup_start
        wait_state stats running
        local key v
        for key in MemoryCurrent MemoryPeak TasksCurrent CPUUsageNSec; do
                v=$(prop stats $key)
                [[ $v =~ ^[0-9]+$ ]] || { echo "$key='$v' is not a number"; false; }
        done
        [[ $(prop stats MemoryCurrent) -gt 0 ]]
        [[ $(prop stats MemoryPeak) -gt 0 ]]
        [[ $(prop stats TasksCurrent) -ge 1 ]]
        [[ $(prop stats CPUUsageNSec) -gt 0 ]]

        run ctl --json show stats
        expect_status 0
        python3 -c '
import json, sys
d = json.loads(sys.argv[1])
for k in ("MemoryCurrent", "MemoryPeak", "TasksCurrent", "CPUUsageNSec"):
    assert type(d[k]) is int and d[k] >= 0, (k, d[k])
assert d["TasksCurrent"] >= 1 and d["CPUUsageNSec"] > 0, d' "$output"

        run ctl status stats
        expect_status 0
        expect_output_has "Memory: "
        expect_output_has "Tasks: "
        expect_output_has "CPU: "

        ctl stop stats
        for key in MemoryCurrent MemoryPeak TasksCurrent CPUUsageNSec; do
                expect_equal "$key when stopped" "" "$(prop stats $key)"
        done
        run ctl --json show stats
        python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert all(d[k] is None for k in ("MemoryCurrent", "MemoryPeak", "TasksCurrent", "CPUUsageNSec")), d' "$output"
}

# limits_unit NAME [PROCESS LINES...]: writes its /proc/self/limits to /out/NAME
limits_unit() {
        local name=$1
        shift
        unit "$name" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'cat /proc/self/limits >/out/$name; trap "exit 0" TERM; while :; do sleep 0.05; done'
$(printf '%s\n' "$@")

[Mounts]
Bind=$T/out:/out
EOF
}

@test "containers do not inherit ccsupd's raised open-files limit: soft 1024, hard kept; LimitNOFILE= wins" {
        limits_unit plain
        limits_unit asked 'LimitNOFILE=4096:8192'
        sup_start
        wait_state plain running
        wait_state asked running
        wait_file "$T/out/plain"
        wait_file "$T/out/asked"
        local daemon_soft daemon_hard
        read -r daemon_soft daemon_hard < <(awk '/^Max open files/ { print $4, $5 }' "/proc/$SUP_PID/limits")
        [[ $daemon_soft -gt 1024 ]] || skip "ccsupd's own soft limit is $daemon_soft: nothing to tell apart"
        expect_equal "plain: soft hard" "1024 $daemon_hard" \
                "$(awk '/^Max open files/ { print $4, $5 }' "$T/out/plain")"
        expect_equal "asked: soft hard" "4096 8192" \
                "$(awk '/^Max open files/ { print $4, $5 }' "$T/out/asked")"
}

@test "the launch's warnings are logged once per start (MemoryHigh= on cgroup v1)" {
        [[ $(cgroup2_root) == /sys/fs/cgroup ]] && skip "pure cgroup v2: MemoryHigh= applies, nothing to warn about"
        sleeper high '[Resources]' 'MemoryHigh=64M'
        sup_start
        wait_state high running
        expect_equal "warnings after one start" 1 "$(grep -c '<4>.*high: MemoryHigh= is ignored' "$T/d.err")"
        ctl restart high
        expect_equal "warnings after two starts" 2 "$(grep -c '<4>.*high: MemoryHigh= is ignored' "$T/d.err")"
}

@test "an EnvironmentFile= that is a FIFO is a start error in the daemon, never a wait" {
        mkfifo "$T/env.fifo"
        printf 'A=1\n' >"$T/env.file"
        sleeper fifo "EnvironmentFile=$T/env.fifo" '[Restart]' 'Policy=no'
        sleeper plain "EnvironmentFile=$T/env.file"
        sup_start
        # each call with a timeout: a daemon stuck on the FIFO fails the test
        # instead of hanging it
        local deadline=$((SECONDS + 20)) s=
        while ((SECONDS < deadline)); do
                s=$(timeout 5 "$CCSUPCTL" show fifo | sed -n 's/^State=//p') || true
                [[ $s == failed ]] && break
                sleep 0.1
        done
        expect_equal "fifo" failed "$s"
        wait_state plain running
        expect_equal "start error" "environment file \`$T/env.fifo\`: not a regular file (ccsupd does not wait on a FIFO or device)" \
                "$(ctl status fifo | sed -n 's/^Start error: //p')"
        grep -qz 'A=1' "/proc/$(prop plain MainPID)/environ"
        # the loop answers; the FIFO was never opened for reading by anyone
        ctl restart plain
        expect_equal "plain" running "$(prop plain State)"
}
