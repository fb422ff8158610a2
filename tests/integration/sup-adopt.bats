#!/usr/bin/env bats
# Surviving a restart of ccsupd (issue 6): a ccsupd killed with SIGKILL
# leaves its containers running; the next one re-adopts them from the
# runtime state files (same PID, same cgroup, no duplicate), never a PID
# whose start time differs, stops those whose unit file is gone, restarts
# those whose file changed, and gets their exit status from PIDFD_GET_INFO
# (or `unknown` without it: CCSUP_TEST_NO_PIDFD_INFO=1).

load sup-helpers

setup_file() { run_setup_file; }
setup() { sup_setup; }
teardown() { sup_teardown; }

# waiter NAME [LINES...]: one process that runs until SIGTERM (then exits 0)
waiter() {
        local name=$1
        shift
        unit "$name" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H wait-signal 1000
StopTimeoutSec=5s
$(printf '%s\n' "$@")
EOF
}

# kill -9 ccsupd, then start another one on the same directories and cgroup
crash_and_restart() {
        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        rm -f "$T/run/control"
        cat "$T/d.err" >>"$T/d1.err"
        sup_start "$@"
}

count_tagged() {
        tagged_pids | wc -l
}

@test "a killed ccsupd comes back to the same containers, and supervises them" {
        waiter a
        waiter b $'[Restart]\nPolicy=no'
        sup_start
        wait_state a running
        wait_state b running
        local pa pb
        pa=$(prop a MainPID)
        pb=$(prop b MainPID)
        expect_equal "container processes" 2 "$(count_tagged)"

        crash_and_restart
        wait_state a running
        wait_state b running
        expect_equal "PID of a" "$pa" "$(prop a MainPID)"
        expect_equal "PID of b" "$pb" "$(prop b MainPID)"
        grep -q "re-adopted PID $pa" "$T/d.err"
        sleep 0.5 # a duplicate start would show by now
        expect_equal "container processes" 2 "$(count_tagged)"
        [[ $(prop a State) == running ]]

        # an operator stop: the stop signal through the pidfd, then cleanup
        run ctl stop a
        [[ $status -eq 0 ]]
        wait_state a inactive
        ended "$pa"
        expect_equal "container processes" "$pb" "$(tagged_pids)"
        [[ ! -e $T/run/units/a ]]
        [[ ! -d $(cgroup2_root)$CG/a.ctr ]]

        # killed from outside: the real status, from PIDFD_GET_INFO
        kill -KILL "$pb"
        wait_state b failed
        expect_equal "result of b" signal "$(prop b Result)"
        expect_equal "signal of b" SIGKILL "$(prop b ExitSignal)"
        [[ -z $(tagged_pids) ]]
        [[ -z $(cgroup_leftovers) ]]
}

@test "the exit code of a re-adopted container" {
        unit c <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'trap "exit 7" USR1; while :; do sleep 0.05; done'

[Restart]
Policy=no
EOF
        sup_start
        wait_state c running
        local pc
        pc=$(prop c MainPID)
        crash_and_restart
        wait_state c running
        expect_equal "PID of c" "$pc" "$(prop c MainPID)"
        kill -USR1 "$pc"
        wait_state c failed
        expect_equal "result" exit-code "$(prop c Result)"
        expect_equal "exit code" 7 "$(prop c ExitCode)"
}

@test "a PID whose start time differs is never adopted; its cgroup is cleaned by path" {
        waiter a
        sup_start
        wait_state a running
        local pa
        pa=$(prop a MainPID)
        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        sed -i 's/^StartTime=.*/StartTime=1/' "$T/run/units/a"
        rm -f "$T/run/control"
        cp "$T/d.err" "$T/d1.err"
        sup_start
        wait_state a running
        [[ $(prop a MainPID) != "$pa" ]]
        grep -q "PID $pa of the previous run not re-adopted: another process" "$T/d.err"
        ended "$pa"
        expect_equal "container processes" 1 "$(count_tagged)"
}

@test "without PIDFD_GET_INFO the end is unknown, a failure for the restart policy" {
        need_test_switches
        waiter a $'[Restart]\nPolicy=on-failure\nDelaySec=1s'
        sup_start
        wait_state a running
        local pa
        pa=$(prop a MainPID)
        CCSUP_TEST_NO_PIDFD_INFO=1 crash_and_restart
        wait_state a running
        expect_equal "PID of a" "$pa" "$(prop a MainPID)"
        kill -KILL "$pa"
        wait_state a waiting
        expect_equal "result" unknown "$(prop a Result)"
        [[ -z $(prop a ExitCode) && -z $(prop a ExitSignal) ]]
        wait_state a running
        [[ $(prop a MainPID) != "$pa" ]]
        expect_equal "container processes" 1 "$(count_tagged)"
}

@test "a unit removed or changed while no ccsupd ran: stopped, restarted" {
        waiter gone
        waiter edited
        waiter same
        sup_start
        wait_state gone running
        wait_state edited running
        wait_state same running
        local pg pe ps
        pg=$(prop gone MainPID)
        pe=$(prop edited MainPID)
        ps=$(prop same MainPID)
        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        rm "$T/units/gone.unit"
        echo "Environment=EDITED=1" >>"$T/units/edited.unit"
        rm -f "$T/run/control"
        cp "$T/d.err" "$T/d1.err"
        sup_start
        wait_state same running
        wait_state edited running
        expect_equal "PID of same" "$ps" "$(prop same MainPID)"
        local i
        for ((i = 0; i < 200; i++)); do
                [[ $(prop edited MainPID) != "$pe" && $(prop edited State) == running ]] && break
                sleep 0.05
        done
        [[ $(prop edited MainPID) != "$pe" ]]
        wait_state edited running
        grep -q "configuration changed: restarting the re-adopted container" "$T/d.err"
        ended "$pe"
        # gone's end comes when the host's init reaps it (up to ~2 s here)
        ended "$pg" 15
        for ((i = 0; i < 300; i++)); do
                ctl show gone >/dev/null 2>&1 || break
                sleep 0.05
        done
        ! ctl show gone >/dev/null 2>&1
        [[ ! -e $T/run/units/gone ]]
        [[ ! -d $(cgroup2_root)$CG/gone.ctr ]]
        expect_equal "container processes" 2 "$(count_tagged)"
}

# twenty NAME-N waiters with Policy=POLICY and a short delay; started, all running
start_twenty() {
        local i policy=$1
        shift
        for ((i = 1; i <= 20; i++)); do
                waiter "w$i" $'[Restart]\n'"Policy=$policy"$'\nDelaySec=0.1s'
        done
        sup_start "$@"
        for ((i = 1; i <= 20; i++)); do
                wait_state "w$i" running
        done
}

# main_pids: "NAME=PID" of the twenty, one a line
main_pids() {
        local i
        for ((i = 1; i <= 20; i++)); do
                echo "w$i=$(prop "w$i" MainPID)"
        done
}

# expect_same_twenty BEFORE: the same twenty PIDs, running, and no duplicate
expect_same_twenty() {
        local before=$1 i
        for ((i = 1; i <= 20; i++)); do
                wait_state "w$i" running
        done
        expect_equal "main PIDs" "$before" "$(main_pids)"
        sleep 0.3 # a duplicate start would show by now
        expect_equal "container processes" 20 "$(count_tagged)"
        for ((i = 1; i <= 20; i++)); do
                expect_equal "restarts of w$i" 0 "$(prop "w$i" Restarts)"
        done
}

# kill_restarted NAME: SIGKILL from outside; restarted by its policy under a new PID
kill_restarted() {
        local name=$1 pid i
        pid=$(prop "$name" MainPID)
        kill -KILL "$pid"
        for ((i = 0; i < 200; i++)); do
                [[ $(prop "$name" Restarts) == 1 && $(prop "$name" State) == running ]] && break
                sleep 0.05
        done
        expect_equal "restarts of $name" 1 "$(prop "$name" Restarts)"
        wait_state "$name" running
        [[ $(prop "$name" MainPID) != "$pid" ]]
        ended "$pid"
        expect_equal "container processes" 20 "$(count_tagged)"
}

@test "twenty containers survive kill -9 of ccsupd; a killed one restarts by its policy" {
        start_twenty on-failure
        local before
        before=$(main_pids)
        expect_equal "container processes" 20 "$(count_tagged)"
        crash_and_restart
        expect_same_twenty "$before"
        kill_restarted w7
        expect_equal "result of w7" signal "$(prop w7 Result)"
        expect_equal "signal of w7" SIGKILL "$(prop w7 ExitSignal)"
}

@test "twenty containers survive daemon-reexec: same daemon PID, still its children" {
        CCSUP_TEST_NO_PIDFD_INFO=1 start_twenty always
        local before pid=$SUP_PID
        before=$(main_pids)
        expect_equal "container processes" 20 "$(count_tagged)"
        run ctl daemon-reexec
        [[ $status -eq 0 ]]
        kill -0 "$SUP_PID"
        expect_equal "ccsupd PID" "$pid" "$SUP_PID"
        grep -q "re-executing (daemon-reexec)" "$T/d.err"
        [[ $(grep -c "re-adopted PID" "$T/d.err") -eq 20 ]]
        # still our children: parent is ccsupd
        local p
        p=$(prop w3 MainPID)
        expect_equal "parent of w3" "$SUP_PID" "$(awk '/^PPid:/ {print $2}' "/proc/$p/status")"
        expect_same_twenty "$before"
        # the real status from waitid(), not PIDFD_GET_INFO: run without it
        kill_restarted w3
        expect_equal "result of w3" signal "$(prop w3 Result)"
        expect_equal "signal of w3" SIGKILL "$(prop w3 ExitSignal)"
        # and once more: a second reexec on top of the first leaks no
        # descriptor (every one is O_CLOEXEC): one pidfd per container
        before=$(main_pids)
        local fds
        fds=$(find "/proc/$SUP_PID/fd" -mindepth 1 | wc -l)
        run ctl daemon-reexec
        [[ $status -eq 0 ]]
        for ((p = 1; p <= 20; p++)); do
                wait_state "w$p" running
        done
        expect_equal "main PIDs" "$before" "$(main_pids)"
        expect_equal "container processes" 20 "$(count_tagged)"
        # (w3's launch plan held its staging directory open; the adopted
        # container has none)
        [[ $(find "/proc/$SUP_PID/fd" -mindepth 1 | wc -l) -le $fds ]]
        expect_equal "pidfds" 20 "$(find "/proc/$SUP_PID/fd" -mindepth 1 -lname 'anon_inode:\[pidfd\]' | wc -l)"
}

@test "daemon-reexec needs root" {
        waiter a
        sup_start
        wait_state a running
        chmod 0666 "$T/run/control"
        chmod o+x "$T" "$T/run"
        run setpriv --reuid=65534 --regid=65534 --clear-groups "$CCSUPCTL" daemon-reexec
        expect_status 5
        [[ ${output,,} == *"access denied"* || ${output,,} == *"permission denied"* ]]
        [[ $(grep -c "re-executing" "$T/d.err") -eq 0 ]]
}

@test "under systemd, the pidfds go to the fd store and come back after kill -9" {
        waiter a
        waiter b@x '[Log]' 'Target=none'
        printf '%s\n' '[Image]' "Image=$IMAGE" '[Process]' "Environment=CCSUP_TEST_TAG=$TAG" \
                "Exec=/bin/sh -c 'echo one; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo two; sleep 1000'" \
                '[Log]' 'Target=file' >"$T/units/talk.unit"
        # shellcheck disable=SC2046
        fake_fd_store "$CCSUPD" $(ccsupd_args) --log-level=debug
        NOTIFY_SOCKET=$T/notify.sock sup_start
        wait_state a running
        wait_state b@x running
        wait_state talk running
        local pa pb pt
        pa=$(prop a MainPID)
        pb=$(prop b@x MainPID)
        pt=$(prop talk MainPID)
        # one pidfd per running container, named after it, of its PID; the
        # read ends of the output pipes of those that log to files
        wait_store "pidfd-a $pa" "stdout-a ?" "stderr-a ?" "pidfd-b@x $pb" \
                "pidfd-talk $pt" "stdout-talk ?" "stderr-talk ?"
        wait_file "$T/log/talk.log"

        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        rm -f "$T/run/control"
        cat "$T/d.err" >>"$T/d1.err"
        # while no ccsupd runs, the container writes into the pipe the store holds
        nsenter -m -t "$pt" touch /tmp/go
        sleep 0.3
        kill -0 "$pt"
        touch "$T/restart"
        wait_file "$T/sup2.pid"
        SUP_PID=$(cat "$T/sup2.pid")
        echo "$SUP_PID" >>"$T/bg-pids"
        local i
        for ((i = 0; i < 200; i++)); do
                [[ -S $T/run/control ]] && break
                sleep 0.025
        done
        wait_state a running
        wait_state b@x running
        expect_equal "PID of a" "$pa" "$(prop a MainPID)"
        expect_equal "PID of b@x" "$pb" "$(prop b@x MainPID)"
        grep -q "adopted a (PID $pa) through the stored pidfd" "$T/d.err"
        grep -q "adopted b@x (PID $pb) through the stored pidfd" "$T/d.err"
        # the store holds each fd once still
        wait_store "pidfd-a $pa" "stdout-a ?" "stderr-a ?" "pidfd-b@x $pb" \
                "pidfd-talk $pt" "stdout-talk ?" "stderr-talk ?"
        # what it wrote meanwhile is read from the stored pipe
        for ((i = 0; i < 100; i++)); do
                grep -q ' F two$' "$T/log/talk.log" && break
                sleep 0.05
        done
        expect_equal "talk's output" "one two" "$(awk '{ print $4 }' "$T/log/talk.log" | paste -sd' ')"
        # a, b@x, talk (its shell has become its last command, sleep)
        expect_equal "container processes" 3 "$(count_tagged)"

        # a stopped container leaves the store
        run ctl stop a
        [[ $status -eq 0 ]]
        wait_state a inactive
        wait_store "pidfd-b@x $pb" "pidfd-talk $pt" "stdout-talk ?" "stderr-talk ?"
}

@test "a stored pidfd of another process is ignored: pidfd_open, then stored anew" {
        waiter a '[Log]' 'Target=none'
        # shellcheck disable=SC2046
        fake_fd_store "$CCSUPD" $(ccsupd_args) --log-level=debug
        NOTIFY_SOCKET=$T/notify.sock sup_start
        wait_state a running
        local pa
        pa=$(prop a MainPID)
        wait_store "pidfd-a $pa"
        sleep 30 &
        local other=$!
        echo "$other" >>"$T/bg-pids"

        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        rm -f "$T/run/control"
        echo "pidfd-a $other" >"$T/inject"
        touch "$T/restart"
        wait_file "$T/sup2.pid"
        SUP_PID=$(cat "$T/sup2.pid")
        echo "$SUP_PID" >>"$T/bg-pids"
        local i
        for ((i = 0; i < 200; i++)); do
                [[ -S $T/run/control ]] && break
                sleep 0.025
        done
        wait_state a running
        expect_equal "PID of a" "$pa" "$(prop a MainPID)"
        grep -q "stored pidfd refers to another process, not PID $pa: ignored" "$T/d.err"
        grep -q "re-adopted PID $pa" "$T/d.err"
        [[ $(grep -c "through the stored pidfd" "$T/d.err") == 0 ]]
        # the wrong one removed, the right one stored
        wait_store "pidfd-a $pa"
        kill "$other"
}
