#!/usr/bin/env bats
# Notify=yes (UNITS.md, Readiness): the container reports with systemd's own
# client, systemd-notify (copied into the test image with its libraries),
# through /run/host/notify. READY=1 moves the unit from starting to running
# (ready) and only then starts its After= dependants; STATUS=, RELOADING=1,
# STOPPING=1, ERRNO=, EXTEND_TIMEOUT_USEC=, the watchdog, messages from
# outside the container, malformed ones, and daemon-reexec.

load sup-helpers

setup_file() {
        run_setup_file
        is_root || return 0
        add_with_libs "$IMAGE" /usr/bin/systemd-notify
}
setup() {
        sup_setup
        mkdir -p "$T/ctl"
}
teardown() { sup_teardown; }

# notifier NAME SCRIPT [LINES...]: a Notify=yes unit running the sh SCRIPT,
# with the test's $T/ctl at /ctl (files the test creates to let it go on)
notifier() {
        local name=$1 script=$2
        shift 2
        unit "$name" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c '$script'
Notify=yes
StopTimeoutSec=5s
$(printf '%s\n' "$@")

[Mounts]
Bind=$T/ctl:/ctl
EOF
}

# held NAME [UNIT LINES...]: a unit whose command records its PID in
# /ctl/NAME-ran first thing, then runs until stopped; the lines go to [Unit]
held() {
        local name=$1
        shift
        unit "$name" <<EOF
[Unit]
$(printf '%s\n' "$@")

[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'echo \$\$ >/ctl/$name-ran; trap "exit 0" TERM; while :; do sleep 0.05; done'
StopTimeoutSec=5s

[Mounts]
Bind=$T/ctl:/ctl
EOF
}

# wait_held UNIT: until UNIT is starting (held); its PID in HELD_PID, its
# cgroup in HELD_CG
wait_held() {
        wait_until 10 sh -c '"$0" status "$1" | grep -q "State: starting (held"' "$CCSUPCTL" "$1"
        run ctl status "$1"
        [[ $output == *"State: starting (held, "* ]]
        HELD_PID=$(prop "$1" MainPID)
        HELD_CG=$(prop "$1" CgroupPath)
        [[ -n $HELD_PID && -n $HELD_CG ]]
        kill -0 "$HELD_PID"
}

# a cgroup path of `show` is gone from every hierarchy it was in
cgroup_gone() {
        local d
        for d in /sys/fs/cgroup/*"$1" /sys/fs/cgroup/unified"$1"; do
                [[ ! -d $d ]] || return 1
        done
}

# until /ctl/NAME exists (inside the container)
GATE='gate() { while [ ! -e /ctl/$1 ]; do sleep 0.05; done; }; trap "exit 0" TERM;'

@test "Notify=yes: starting until READY=1, then running (ready); After= waits for it" {
        notifier svc "$GATE"' env >/ctl/env; systemd-notify --status="warming up"; gate go;
                systemd-notify --ready --status=serving; while :; do sleep 0.05; done'
        sleeper dep "[Unit]" "After=svc"
        sup_start
        wait_until 10 sh -c '"$0" show svc | grep -qx "StatusText=warming up"' "$CCSUPCTL"
        [[ $(prop svc StatusText) == "warming up" ]]
        [[ $(prop svc State) == starting ]]
        [[ $(prop svc Ready) == no ]]
        # the dependant is set up but held before its exec: svc is not ready
        wait_state dep starting 10
        run ctl status dep
        [[ $output == *"State: starting (held, success)"* ]]
        grep -qx 'NOTIFY_SOCKET=/run/host/notify' "$T/ctl/env"
        ! grep -q '^WATCHDOG_USEC=' "$T/ctl/env"

        touch "$T/ctl/go"
        wait_state svc running 10
        [[ $(prop svc Ready) == yes ]]
        [[ $(prop svc StatusText) == serving ]]
        wait_state dep running 10
        run ctl status svc
        [[ $output == *"State: running (ready, success)"* ]]
        [[ $output == *'Status: "serving"'* ]]
        # a unit without Notify=yes is ready when it runs, and says nothing more
        [[ $(prop dep Ready) == yes ]]
        run ctl status dep
        [[ $output == *"State: running (success)"* ]]
}

@test "ccsupctl start waits for READY=1" {
        notifier svc "$GATE"' gate go; systemd-notify --ready; while :; do sleep 0.05; done' \
                "[Restart]" "Policy=no"
        sup_start
        wait_state svc starting 10
        ctl stop svc
        wait_state svc inactive 10
        ( sleep 1; touch "$T/ctl/go" ) &
        local bg=$! t0=$SECONDS
        run ctl start svc
        wait "$bg"
        [[ $status -eq 0 ]]
        [[ $(prop svc State) == running ]]
        [[ $(prop svc Ready) == yes ]]
        # it returned only after the gate opened: the state was settled then
        (( SECONDS - t0 >= 1 ))
}

@test "no READY=1 within StartTimeoutSec=: result timeout; EXTEND_TIMEOUT_USEC= extends it" {
        notifier never 'trap "exit 0" TERM; while :; do sleep 0.05; done' \
                "StartTimeoutSec=1s" "[Restart]" "Policy=no"
        notifier late 'systemd-notify EXTEND_TIMEOUT_USEC=4000000; sleep 2; systemd-notify --ready;
                trap "exit 0" TERM; while :; do sleep 0.05; done' "StartTimeoutSec=1s" "[Restart]" "Policy=no"
        sup_start
        wait_state never failed 10
        [[ $(prop never Result) == timeout ]]
        wait_state late running 10
        [[ $(prop late Result) == success ]]
        [[ $(prop late Restarts) == 0 ]]
}

@test "WatchdogSec=: WATCHDOG_USEC/WATCHDOG_PID set; a missed ping kills with WatchdogSignal= and restarts" {
        # pings while /ctl/ping exists; records the signal it gets
        notifier wd 'env >/ctl/env.$$; echo $$ >/ctl/pid; trap "echo USR1 >>/ctl/sig; exit 9" USR1;
                systemd-notify --ready; while [ -e /ctl/ping ]; do systemd-notify WATCHDOG=1; sleep 0.2; done;
                while :; do sleep 0.05; done' \
                "WatchdogSec=1s" "WatchdogSignal=SIGUSR1" "Init=yes" "[Restart]" "Policy=on-failure" "DelaySec=1min"
        touch "$T/ctl/ping"
        sup_start
        wait_state wd running 10
        # pings keep it alive well past one interval
        sleep 2.5
        [[ $(prop wd State) == running ]]
        [[ ! -e $T/ctl/sig ]]
        local pid
        pid=$(cat "$T/ctl/pid")
        grep -qx 'WATCHDOG_USEC=1000000' "$T/ctl/env.$pid"
        # under Init=yes the command is PID 2: sd_watchdog_enabled() checks it
        [[ $pid == 2 ]]
        grep -qx 'WATCHDOG_PID=2' "$T/ctl/env.$pid"

        rm "$T/ctl/ping"
        wait_state wd waiting 10
        [[ $(prop wd Result) == watchdog ]]
        [[ $(prop wd Restarts) == 1 ]]
        grep -qx USR1 "$T/ctl/sig"
        grep -q 'watchdog timeout: no WATCHDOG=1 for 1s' "$T/d.err"
}

@test "WATCHDOG=trigger ends the run at once with result watchdog; WATCHDOG_USEC= enables the watchdog" {
        notifier trig 'systemd-notify --ready; gate() { while [ ! -e /ctl/$1 ]; do sleep 0.05; done; }; gate go;
                systemd-notify WATCHDOG=trigger; trap "exit 0" TERM; while :; do sleep 0.05; done' \
                "[Restart]" "Policy=no"
        notifier late 'systemd-notify --ready; sleep 0.5; systemd-notify WATCHDOG_USEC=500000;
                trap "exit 0" TERM; while :; do sleep 0.05; done' "[Restart]" "Policy=no"
        sup_start
        wait_state trig running 10
        touch "$T/ctl/go"
        wait_state trig failed 10
        [[ $(prop trig Result) == watchdog ]]
        grep -q 'trig: the container triggered its watchdog' "$T/d.err"
        # no WatchdogSec=: the interval it asked for, never pinged
        wait_state late failed 10
        [[ $(prop late Result) == watchdog ]]
}

@test "RELOADING=1, STOPPING=1 and ERRNO= show in status and show" {
        notifier svc "$GATE"' systemd-notify --ready; gate a; systemd-notify RELOADING=1 STATUS=reloading;
                gate b; systemd-notify READY=1 STATUS=again; gate c; systemd-notify ERRNO=5 STATUS=degraded;
                gate d; systemd-notify STOPPING=1; while :; do sleep 0.05; done'
        sup_start
        wait_state svc running 10
        touch "$T/ctl/a"
        wait_until 10 sh -c '"$0" show svc | grep -qx Ready=no' "$CCSUPCTL"
        [[ $(prop svc Ready) == no ]]
        [[ $(prop svc State) == running ]]
        run ctl status svc
        [[ $output == *"State: running (reloading, success)"* ]]
        touch "$T/ctl/b"
        wait_until 10 sh -c '"$0" show svc | grep -qx StatusText=again' "$CCSUPCTL"
        [[ $(prop svc Ready) == yes ]]
        touch "$T/ctl/c"
        wait_until 10 sh -c '"$0" show svc | grep -qx StatusText=degraded' "$CCSUPCTL"
        run ctl status svc
        [[ $output == *'Status: "degraded" (errno 5: Input/output error)'* ]]
        touch "$T/ctl/d"
        wait_until 10 sh -c '"$0" status svc | grep -q "running (stopping"' "$CCSUPCTL"
        run ctl status svc
        [[ $output == *"State: running (stopping, success)"* ]]
        grep -q 'svc: the container reports that it is stopping' "$T/d.err"
}

@test "messages from outside the container, malformed or oversized ones are dropped; the unit runs on" {
        notifier svc "$GATE"' gate go; systemd-notify WATCHDOG_USEC=banana; systemd-notify STATUS=$(head -c 5000 /dev/zero | tr "\0" x);
                systemd-notify --ready --status=fine; while :; do sleep 0.05; done' "[Restart]" "Policy=no"
        sup_start
        wait_state svc starting 10
        local sock=$T/run/notify/svc/notify
        [[ -S $sock ]]
        # a host process outside the container's cgroup cannot make it ready
        NOTIFY_SOCKET=$sock systemd-notify --ready --status=forged
        sleep 0.5
        [[ $(prop svc State) == starting ]]
        [[ $(prop svc StatusText) == "" ]]

        touch "$T/ctl/go"
        wait_state svc running 10
        [[ $(prop svc StatusText) == fine ]]
        # the first bad datagram is logged, once
        grep -q 'svc: notify message dropped: invalid field `WATCHDOG_USEC=banana`' "$T/d.err"
        [[ $(grep -c 'notify message dropped' "$T/d.err") == 1 ]]
        [[ $(prop svc Result) == success ]]
}

@test "the relay survives daemon-reexec: the container still reports to the new ccsupd" {
        notifier svc "$GATE"' systemd-notify --ready --status=one; gate go; systemd-notify --status=two;
                while :; do sleep 0.05; done'
        sup_start
        wait_state svc running 10
        [[ $(prop svc StatusText) == one ]]
        local pid
        pid=$(prop svc MainPID)
        run ctl daemon-reexec
        [[ $status -eq 0 ]]
        wait_until 10 sh -c '"$0" show svc | grep -qx State=running' "$CCSUPCTL"
        [[ $(prop svc MainPID) == "$pid" ]]
        [[ $(prop svc Ready) == yes ]]
        touch "$T/ctl/go"
        wait_until 10 sh -c '"$0" show svc | grep -qx StatusText=two' "$CCSUPCTL"
        [[ $(prop svc StatusText) == two ]]
}

@test "verify: WatchdogSec= needs Notify=yes; bad values are named" {
        unit w <<EOF
[Image]
Image=$IMAGE
[Process]
Exec=/bin/true
WatchdogSec=5s
EOF
        run ctl verify "$T/units/w.unit"
        [[ $status -ne 0 ]]
        [[ $output == *"WatchdogSec= needs Notify=yes"* ]]
        unit n <<EOF
[Image]
Image=$IMAGE
[Process]
Exec=/bin/true
Notify=maybe
WatchdogSignal=SIGNOPE
EOF
        run ctl verify "$T/units/n.unit"
        [[ $status -ne 0 ]]
        [[ $output == *"Notify="* ]]
        [[ $output == *"WatchdogSignal="* ]]
}

# Prelaunch (UNITS.md, [Unit] After=): while a unit's After= units start,
# its container is set up and held right before its exec; READY=1 releases
# it.
@test "prelaunch: the dependant is held before its exec until READY=1, then runs" {
        notifier svc "$GATE"' gate go; systemd-notify --ready; while :; do sleep 0.05; done'
        held dep "Requires=svc"
        sup_start
        wait_state svc starting 10
        wait_held dep
        # set up (its cgroup and PID 1 exist), the command not executed
        [[ -d /sys/fs/cgroup/unified$HELD_CG || -d /sys/fs/cgroup/pids$HELD_CG ]]
        sleep 0.5
        [[ ! -e $T/ctl/dep-ran ]]
        [[ $(prop dep State) == starting ]]
        [[ $(prop dep Ready) == no ]]

        touch "$T/ctl/go"
        wait_state svc running 10
        wait_state dep running 10
        wait_file "$T/ctl/dep-ran"
        # the held process is the one that executed the command
        [[ $(prop dep MainPID) == "$HELD_PID" ]]
        [[ $(prop dep Result) == success ]]
        run ctl status dep
        [[ $output == *"State: running (success)"* ]]
}

@test "prelaunch: a held dependant's Requires= unit fails or times out: killed, result dependency, nothing left; After= alone runs" {
        notifier svc "$GATE"' gate fail; exit 3' "[Restart]" "Policy=no"
        notifier slow 'trap "exit 0" TERM; while :; do sleep 0.05; done' "StartTimeoutSec=3s" "[Restart]" "Policy=no"
        held dep "Requires=svc"
        held after "After=svc"
        held dep2 "Requires=slow"
        sup_start
        wait_held dep
        local pid=$HELD_PID cg=$HELD_CG
        wait_held after
        wait_held dep2
        local pid2=$HELD_PID cg2=$HELD_CG

        touch "$T/ctl/fail"
        wait_state svc failed 10
        wait_state dep failed 10
        [[ $(prop dep Result) == dependency ]]
        # plain After=: started anyway, as without prelaunch
        wait_state after running 10
        wait_file "$T/ctl/after-ran"
        ! kill -0 "$pid" 2>/dev/null
        wait_until 5 cgroup_gone "$cg"
        cgroup_gone "$cg"
        [[ ! -e $T/ctl/dep-ran ]]

        # StartTimeoutSec= of the dependency
        wait_state slow failed 10
        [[ $(prop slow Result) == timeout ]]
        wait_state dep2 failed 10
        [[ $(prop dep2 Result) == dependency ]]
        ! kill -0 "$pid2" 2>/dev/null
        wait_until 5 cgroup_gone "$cg2"
        cgroup_gone "$cg2"
        [[ ! -e $T/ctl/dep2-ran ]]
}

@test "prelaunch: stop of a held dependant kills it; a start holds it again; a changed file relaunches it held" {
        notifier svc "$GATE"' gate go; systemd-notify --ready; while :; do sleep 0.05; done'
        held dep "After=svc"
        sup_start
        wait_held dep
        local pid=$HELD_PID cg=$HELD_CG
        ctl stop dep
        [[ $(prop dep State) == inactive ]]
        [[ $(prop dep Result) == success ]]
        ! kill -0 "$pid" 2>/dev/null
        wait_until 5 cgroup_gone "$cg"
        cgroup_gone "$cg"
        [[ $(prop svc State) == starting ]]

        ctl --no-block start dep
        wait_held dep
        pid=$HELD_PID
        # reload with a changed file: the held one goes, a new one is held
        held dep "After=svc" "Description=changed"
        ctl reload
        wait_until 10 sh -c '! kill -0 "$0" 2>/dev/null' "$pid"
        ! kill -0 "$pid" 2>/dev/null
        wait_held dep
        [[ $HELD_PID != "$pid" ]]
        [[ ! -e $T/ctl/dep-ran ]]

        touch "$T/ctl/go"
        wait_state dep running 10
        wait_file "$T/ctl/dep-ran"
        [[ $(prop dep MainPID) == "$HELD_PID" ]]
}

@test "prelaunch: ccsupd killed with a held dependant: the next one kills it and starts the unit anew, in order" {
        notifier svc "$GATE"' gate go; systemd-notify --ready; while :; do sleep 0.05; done'
        held dep "Requires=svc"
        sup_start
        wait_held dep
        local pid=$HELD_PID
        grep -qx 'Held=1' "$T/run/units/dep"

        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        rm -f "$T/run/control"
        cat "$T/d.err" >>"$T/d1.err"
        sup_start
        # svc, a container found running, is re-adopted as running: dep
        # starts at once, in a new container
        wait_state dep running 10
        grep -q "PID $pid was held before its exec by the previous ccsupd: killed, started anew" "$T/d.err"
        ! kill -0 "$pid" 2>/dev/null
        wait_file "$T/ctl/dep-ran"
        [[ $(cat "$T/ctl/dep-ran") != "$pid" ]]
        [[ $(prop dep MainPID) != "$pid" ]]
        ! grep -q 'Held=1' "$T/run/units/dep"
}
