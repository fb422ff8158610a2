#!/usr/bin/env bats
# `ccsupctl events [--json]` (CLI.md): state changes, readiness, restarts and
# reloads as they happen, one line or JSON object each, from ccsupd's
# UnitChanged and Reloaded signals, until interrupted; it follows ccsupd
# across daemon-reexec.

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

# events FILE [--json]: ccsupctl events in the background, into FILE; its
# PID in EV_PID. Subscribed once its seed (ListUnits) is done: give it a moment.
events() {
        local f=$1
        shift
        "$CCSUPCTL" events "$@" >"$f" 2>"$f.err" &
        EV_PID=$!
        echo "$EV_PID" >>"$T/bg-pids"
        sleep 0.5
}

# wait_line FILE REGEX [SECS]: until a line of FILE matches
wait_line() {
        local f=$1 re=$2 secs=${3:-10} i
        for ((i = 0; i < secs * 20; i++)); do
                grep -Eq -- "$re" "$f" && return 0
                sleep 0.05
        done
        echo "no line matching '$re' in $f:" >&2
        cat "$f" >&2
        return 1
}

@test "events: state changes, readiness, restarts and reloads, as lines and as JSON" {
        sleeper a "[Restart]" "DelaySec=300ms"
        unit n <<UNIT
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'trap "exit 0" TERM; while [ ! -e /ctl/go ]; do sleep 0.05; done; systemd-notify --ready; while :; do sleep 0.05; done'
Notify=yes
StopTimeoutSec=5s

[Mounts]
Bind=$T/ctl:/ctl
UNIT
        sup_start
        wait_state a running
        wait_state n starting
        events "$T/ev"
        local text_pid=$EV_PID
        events "$T/ev.json" --json
        local json_pid=$EV_PID

        local TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z'
        # readiness
        touch "$T/ctl/go"
        wait_line "$T/ev" "$TS n ready state=running/ready result=success pid=[1-9][0-9]* restarts=0\$"
        # a crash: the restart by the policy is scheduled (waiting), then done
        ctl kill --signal=KILL a
        wait_line "$T/ev" "$TS a restart state=waiting result=signal pid=0 restarts=1\$"
        wait_line "$T/ev" "$TS a state state=starting result=signal pid=[1-9][0-9]* restarts=1\$"
        wait_line "$T/ev" "$TS a state state=running result=signal pid=[1-9][0-9]* restarts=1\$"
        # a reload that changes one unit and adds one (ccsupd's watch of the
        # unit path may reload first)
        sed -i 's/^DelaySec=300ms$/DelaySec=400ms/' "$T/units/a.unit"
        sleeper b
        ctl reload
        wait_line "$T/ev" "$TS - reload .*a=changed"
        wait_line "$T/ev" "$TS - reload .*b=added"
        # the operator's stop
        ctl stop n
        wait_line "$T/ev" "$TS n state state=stopping result=success "
        wait_line "$T/ev" "$TS n state state=inactive result=success pid=0 "

        # every JSON line is an object; the same events are there
        wait_line "$T/ev.json" '"unit":"n","event":"state","state":"inactive"'
        python3 - "$T/ev.json" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
def has(**kw):
    return any(all(e.get(k) == v for k, v in kw.items()) for e in evs)
assert has(unit="n", event="ready", state="running", sub_state="ready"), evs
assert has(unit="a", event="restart", state="waiting", result="signal", restarts=1), evs
changes = [c for e in evs if e["event"] == "reload" for c in e["changes"]]
assert {"unit": "a", "change": "changed"} in changes, evs
assert {"unit": "b", "change": "added"} in changes, evs
assert all(isinstance(e["time_usec"], int) and e["time"].endswith("Z") for e in evs), evs
PY
        # interrupted: exit 0
        kill -INT "$text_pid" "$json_pid"
        local st=0
        wait "$text_pid" || st=$?
        expect_equal "exit status" 0 "$st"
        st=0
        wait "$json_pid" || st=$?
        expect_equal "exit status (--json)" 0 "$st"
        [[ ! -s $T/ev.err ]]
}

@test "events: health verdicts, once per change, as lines and as JSON" {
        # events follows before the unit exists: no verdict is missed
        sup_start
        events "$T/ev"
        events "$T/ev.json" --json
        unit h <<UNIT
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 0.05; done'

[Mounts]
Bind=$T/ctl:/ctl

[Health]
Exec=/bin/sh -c 'if [ -e /ctl/sick ]; then echo sick; exit 1; fi; echo fine'
IntervalSec=200ms
Retries=2
OnFailure=none
UNIT
        ctl reload
        local TS='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z'
        wait_state h running
        wait_line "$T/ev" "$TS h health healthy: fine\$"
        touch "$T/ctl/sick"
        wait_line "$T/ev" "$TS h health unhealthy: exit status 1: sick\$"
        rm "$T/ctl/sick"
        wait_until 10 sh -c '[ "$(grep -c " h health healthy: fine" "$0")" -ge 2 ]' "$T/ev"
        # several checks ran in each verdict; each change is one line
        sleep 1
        expect_equal "health lines" 3 "$(grep -c ' h health ' "$T/ev")"
        wait_line "$T/ev.json" '"event":"health","health":"healthy","output":"fine"'
        python3 - "$T/ev.json" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
hs = [(e["health"], e["output"]) for e in evs if e["event"] == "health"]
assert hs == [("healthy", "fine"), ("unhealthy", "exit status 1: sick"), ("healthy", "fine")], hs
assert all(e["unit"] == "h" and e["time"].endswith("Z") for e in evs if e["event"] == "health"), evs
PY
}

@test "events follows ccsupd across daemon-reexec; usage errors; no ccsupd" {
        sleeper a
        sup_start
        wait_state a running
        events "$T/ev"
        run ctl daemon-reexec
        [[ $status -eq 0 ]]
        wait_until 10 sh -c '"$0" show a | grep -qx State=running' "$CCSUPCTL"
        sleep 0.5
        ctl restart a
        wait_line "$T/ev" ' a state state=running '
        kill -0 "$EV_PID"
        kill -TERM "$EV_PID"
        local st=0
        wait "$EV_PID" || st=$?
        expect_equal "exit status" 0 "$st"

        run ctl events --bogus
        expect_status 2
        [[ $output == *"unexpected argument"* ]]
        run ctl events --help
        expect_status 0
        [[ $output == *"TIME UNIT EVENT"* ]]
        run "$CCSUPCTL" --socket="$T/nothing" events
        expect_status 5
}
