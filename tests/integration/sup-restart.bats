#!/usr/bin/env bats
# ccsupd's restart policy (UNITS.md [Restart]): every policy against exit codes
# and signals, SuccessExitStatus=, the backoff, MaxRestarts=, DelaySec=0.

load sup-helpers

setup_file() { run_setup_file; }
setup() { sup_setup; }
teardown() { sup_teardown; }

# ends NAME POLICY COMMAND: a unit whose single run ends like COMMAND; a long
# DelaySec keeps a restarting unit in `waiting`, where the test can see it.
ends() {
        unit "$1" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$3

[Restart]
Policy=$2
SuccessExitStatus=7 SIGUSR2
DelaySec=1min
EOF
}

@test "each policy against clean and failed exit codes and signals" {
        local -A want=(
                [no-0]=exited [no-1]=failed [no-segv]=failed
                [onf-0]=exited [onf-1]=waiting [onf-7]=exited [onf-segv]=waiting [onf-segvok]=exited
                [ona-0]=exited [ona-1]=failed [ona-segv]=waiting [ona-segvok]=exited
                [alw-0]=waiting [alw-1]=waiting [alw-segv]=waiting
        )
        local -A policy=([no]=no [onf]=on-failure [ona]=on-abnormal [alw]=always)
        local -A cmd=([0]="$H exit 0" [1]="$H exit 1" [7]="$H exit 7" [segv]="$H kill-self 11"
                [segvok]="$H kill-self 11")
        local name
        for name in "${!want[@]}"; do
                ends "$name" "${policy[${name%-*}]}" "${cmd[${name#*-}]}"
        done
        # a death by a signal listed in SuccessExitStatus= is clean
        for name in onf-segvok ona-segvok; do
                ends "$name" "${policy[${name%-*}]}" "$H kill-self 11"
                sed -i 's/^SuccessExitStatus=.*/SuccessExitStatus=7 SIGSEGV/' "$T/units/$name.unit"
        done
        sup_start
        local failed=0 got
        for name in "${!want[@]}"; do
                if ! wait_state "$name" "${want[$name]}" 10 2>/dev/null; then
                        got=$(prop "$name" State)
                        echo "$name: expected ${want[$name]}, got $got ($(prop "$name" Result))"
                        failed=1
                fi
        done
        [[ $failed -eq 0 ]]
        expect_equal "result of onf-1" exit-code "$(prop onf-1 Result)"
        expect_equal "result of ona-segv" signal "$(prop ona-segv Result)"
        expect_equal "signal of ona-segv" SIGSEGV "$(prop ona-segv ExitSignal)"
        expect_equal "exit code of no-1" 1 "$(prop no-1 ExitCode)"
        expect_equal "result of onf-segvok" success "$(prop onf-segvok Result)"
        expect_equal "signal of onf-segvok" SIGSEGV "$(prop onf-segvok ExitSignal)"
        [[ $(prop alw-0 NextRestartUSec) -gt 50000000 ]]
}

@test "backoff: restart n waits min(DelaySec x 2^(n-1), MaxDelaySec); MaxRestarts= leaves it failed" {
        unit flap <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'cut -d" " -f1 /proc/uptime >> /out/ts; exit 1'

[Restart]
DelaySec=100ms
MaxDelaySec=400ms
MaxRestarts=5

[Mounts]
Bind=$T/out:/out
EOF
        sup_start
        wait_state flap failed 15
        expect_equal "restarts" 5 "$(prop flap Restarts)"
        expect_equal "result" exit-code "$(prop flap Result)"
        expect_equal "runs" 6 "$(wc -l <"$T/out/ts")"
        # gaps between the runs' own timestamps (10 ms resolution): the delay,
        # plus the container's set-up time
        python3 - "$T/out/ts" <<'EOF'
import sys
ts = [float(l) for l in open(sys.argv[1])]
gaps = [round((b - a) * 1000) for a, b in zip(ts, ts[1:])]
want = [100, 200, 400, 400, 400]
print("gaps (ms):", gaps, "expected:", want)
for g, w in zip(gaps, want):
    assert w - 20 <= g <= w + 150, (g, w)
EOF
}

@test "DelaySec=0 restarts at once; an operator stop is never followed by a restart" {
        unit quick <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'echo x >> /out/runs; exit 0'

[Restart]
Policy=always
DelaySec=0
MaxRestarts=20

[Mounts]
Bind=$T/out:/out
EOF
        sup_start
        wait_state quick failed 10
        expect_equal "runs" 21 "$(wc -l <"$T/out/runs")"
        run ctl reset quick
        expect_equal "reset: inactive" inactive "$(prop quick State)"

        sleeper steady '[Restart]' 'Policy=always' 'DelaySec=0'
        ctl reload
        wait_state steady running
        ctl stop steady
        sleep 0.3
        expect_equal "after stop" inactive "$(prop steady State)"
        expect_equal "restarts" 0 "$(prop steady Restarts)"
}

# hog NAME [RESTART LINES...]: a unit that allocates memory until the OOM
# killer of its MemoryMax=32M cgroup kills it; each run adds a line to
# /out/NAME.runs
hog() {
        local name=$1
        shift
        unit "$name" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'echo x >>/out/$name.runs; exec $H hog-memory'

[Resources]
MemoryMax=32M
MemorySwapMax=0

[Restart]
$(printf '%s\n' "$@")

[Mounts]
Bind=$T/out:/out
EOF
}

@test "an OOM kill ends the run with result oom-kill; Policy=no leaves it failed" {
        hog hog 'Policy=no'
        sup_start
        wait_state hog failed 20
        expect_equal "result" oom-kill "$(prop hog Result)"
        expect_equal "signal" SIGKILL "$(prop hog ExitSignal)"
        expect_equal "restarts" 0 "$(prop hog Restarts)"
        expect_equal "runs" 1 "$(wc -l <"$T/out/hog.runs")"
        grep -q "hog: .*killed by SIGKILL (OOM)" "$T/d.err"
        run ctl status hog
        expect_output_has "oom-kill"
}

@test "an OOM kill is a failure for the policy: Policy=on-failure with MaxRestarts=1 restarts once" {
        hog hog 'Policy=on-failure' 'DelaySec=0' 'MaxRestarts=1'
        sup_start
        wait_state hog failed 30
        expect_equal "result" oom-kill "$(prop hog Result)"
        expect_equal "restarts" 1 "$(prop hog Restarts)"
        expect_equal "runs" 2 "$(wc -l <"$T/out/hog.runs")"
}

@test "an OOM kill of a process other than PID 1 counts too (Init=yes exits 137)" {
        unit inner <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H hog-memory
Init=yes

[Resources]
MemoryMax=32M
MemorySwapMax=0

[Restart]
Policy=no
EOF
        sup_start
        wait_state inner failed 20
        expect_equal "result" oom-kill "$(prop inner Result)"
}

# A PID 1 without a SIGTERM handler ignores SIGTERM (the kernel drops signals
# to a namespace's init it does not handle): the stop timeout kills the
# cgroup (cgroup.kill), and the restart reuses the cgroup's path at once.
# Linux 6.14+ SIGKILLs whatever clone3(CLONE_INTO_CGROUP) puts in a cgroup2
# directory that was killed, so the new PID 1 died during setup and the unit
# went to waiting (start-error) unless that directory is made anew.
@test "restart after the stop timeout killed a PID 1 that ignores SIGTERM: the relaunch runs" {
        unit deaf <<EOF2
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sleep 1000
StopTimeoutSec=1s

[Restart]
Policy=on-failure
DelaySec=1min
EOF2
        sup_start
        wait_state deaf running
        local pid1 i
        pid1=$(prop deaf MainPID)
        # twice: the second restart reuses a cgroup killed by the first too
        for i in 1 2; do
                run ctl restart deaf
                expect_status 0
                expect_equal "state after restart $i" running "$(prop deaf State)"
                expect_equal "result after restart $i" success "$(prop deaf Result)"
                expect_equal "restarts after restart $i" 0 "$(prop deaf Restarts)"
        done
        [[ $(prop deaf MainPID) != "$pid1" ]]
        grep -q "deaf: stop timeout: killing every process" "$T/d.err"
        ! grep -q "deaf: setup failed\|deaf: .*start-error" "$T/d.err"
}
