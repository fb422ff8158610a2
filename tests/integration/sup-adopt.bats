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
        ! kill -0 "$pa" 2>/dev/null
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
        local i
        for ((i = 0; i < 100; i++)); do
                kill -0 "$pa" 2>/dev/null || break
                sleep 0.05
        done
        ! kill -0 "$pa" 2>/dev/null
        expect_equal "container processes" 1 "$(count_tagged)"
}

@test "without PIDFD_GET_INFO the end is unknown, a failure for the restart policy" {
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
        ! kill -0 "$pg" 2>/dev/null
        ! kill -0 "$pe" 2>/dev/null
        for ((i = 0; i < 100; i++)); do
                ctl show gone >/dev/null 2>&1 || break
                sleep 0.05
        done
        ! ctl show gone >/dev/null 2>&1
        [[ ! -e $T/run/units/gone ]]
        [[ ! -d $(cgroup2_root)$CG/gone.ctr ]]
        expect_equal "container processes" 2 "$(count_tagged)"
}
