#!/usr/bin/env bats
# CVE-2019-5736 and CVE-2016-9962 against `ccsupctl exec` and Init=yes: a
# process that enters a container is ccsupd until its execve. It must be out
# of reach of the container's processes then (non-dumpable: no ptrace, no
# /proc/PID/exe), and its /proc/PID/exe must never be the host's binary
# (ccsupd runs from a sealed memfd copy). exec ends, bounded, when its
# command stops itself or is held by a tracer; the init of Init=yes is
# `ccsup-init` in ps.

bats_require_minimum_version 1.5.0

load sup-helpers

setup_file() { run_setup_file; }
setup() { sup_setup; }
teardown() { sup_teardown; }

# box UNIT [LINES...]: a root container (the dangerous case: the same uid as
# the exec'd process) running the test helper's ARGS, with $T/share at /share
box() {
        local name=$1
        shift
        mkdir -p "$T/share"
        # a user namespace's root is an unprivileged host user: let it write
        [[ ${CCSUP_TEST_USERNS:-} != 1 ]] || chmod 0777 "$T/share"
        unit "$name" <<EOF
[Image]
Image=$IMAGE

[Process]
StopTimeoutSec=5s
$(printf '%s\n' "$@")

[Mounts]
Bind=$T/share:/share
EOF
}

@test "ccsupd runs from a sealed memfd copy of its binary; daemon-reexec runs the binary on disk again" {
        box web "Exec=$H wait-signal 1000"
        sup_start
        wait_state web running
        local exe
        exe=$(readlink "/proc/$SUP_PID/exe")
        [[ $exe == /memfd:ccsupd* ]] || { echo "ccsupd's exe: $exe"; false; }
        expect_equal "comm" ccsupd "$(cat "/proc/$SUP_PID/comm")"
        # sealed: it cannot be written, even by root
        run -1 bash -c 'printf x >>"/proc/$1/exe"' _ "$SUP_PID"
        # the argv is the one it was given
        [[ $(tr '\0' ' ' <"/proc/$SUP_PID/cmdline") == "$CCSUPD "* ]]
        # a fork of it in the container (an exec that waits) shows the memfd too
        ctl exec web sleep 30 &
        local bg=$! p="" i
        for ((i = 0; i < 100; i++)); do
                p=$(pgrep -P "$SUP_PID" -x ccsupd | head -n 1) && [[ -n $p ]] && break
                sleep 0.05
        done
        [[ -n $p ]]
        [[ $(readlink "/proc/$p/exe") == /memfd:ccsupd* ]]
        kill "$bg"
        wait "$bg" || true

        # daemon-reexec: the file on disk is executed (an upgrade would take
        # effect), sealed again, the same PID
        local before
        before=$(stat -L -c %i "/proc/$SUP_PID/exe")
        run ctl daemon-reexec
        expect_status 0
        grep -q "re-executing (daemon-reexec)" "$T/d.err"
        [[ $(readlink "/proc/$SUP_PID/exe") == /memfd:ccsupd* ]]
        [[ $(stat -L -c %i "/proc/$SUP_PID/exe") != "$before" ]]
        ! grep -q "sealed copy" "$T/d.err"
        wait_state web running
        run ctl exec web true
        expect_status 0
}

@test "the exec race: a process of the container that hunts every new PID never ptraces nor opens the exe of an exec before its execve" {
        box hunt "Exec=$H exec-hunt 120 /share/hunt"
        local sum
        sum=$(sha256sum <"$CCSUPD")
        sup_start
        wait_state hunt running
        wait_file "$T/share/hunt"
        local i n=150 bad=0
        for ((i = 0; i < n; i++)); do
                ctl exec hunt true || bad=$((bad + 1))
        done
        # and commands that take longer to start: a shell, the helper
        for ((i = 0; i < 50; i++)); do
                ctl exec hunt sh -c : || bad=$((bad + 1))
                ctl exec hunt "$H" pid >/dev/null || bad=$((bad + 1))
        done
        # and a few that live long enough past their execve for the hunter
        # to attach even on a loaded machine: it can ptrace at all
        for ((i = 0; i < 5; i++)); do
                ctl exec hunt sleep 0.5 || bad=$((bad + 1))
        done
        expect_equal "failed execs" 0 "$bad"
        kill -TERM "$(prop hunt MainPID)"
        local k
        for ((k = 0; k < 100; k++)); do
                grep -q '^done ' "$T/share/hunt" && break
                sleep 0.1
        done
        cat "$T/share/hunt" | head -n 40 | sed 's/^/# /' >&3
        local done
        done=$(grep '^done ' "$T/share/hunt")
        [[ $done =~ seen=([0-9]+)\ window=([0-9]+)\ attached=([0-9]+)\ before-exec=([0-9]+)\ exe-visible=([0-9]+)\ exe-writable=([0-9]+) ]]
        local seen=${BASH_REMATCH[1]} window=${BASH_REMATCH[2]} attached=${BASH_REMATCH[3]}
        # the hunter did run: it saw the execs, and attached to those past
        # their execve (dumpable again, as any process of the container)
        ((seen >= 100)) || { echo "the hunter saw only $seen PIDs"; false; }
        # attaches after execve show that ptrace works in there at all; on a
        # slow machine (sanitizers) the short execs end before the hunter
        # comes back to them: said, not failed, as the window check above
        # is what shows the race was run
        ((attached > 0)) || echo "# no attach after execve either (a slow machine)" >&3
        ((window >= 10)) || { echo "only $window PIDs seen before their execve: no race"; false; }
        echo "# seen $seen, in the window (comm ccsupd) $window, attached after execve $attached" >&3
        expect_equal "attached before execve" 0 "${BASH_REMATCH[4]}"
        expect_equal "exe links to ccsupd visible" 0 "${BASH_REMATCH[5]}"
        expect_equal "exe opened for writing" 0 "${BASH_REMATCH[6]}"
        expect_equal "the host's binary" "$sum" "$(sha256sum <"$CCSUPD")"
        [[ $(readlink "/proc/$SUP_PID/exe") == /memfd:ccsupd* ]]
}

@test "an exec'd command that stops itself: exec returns 128+SIGSTOP at once, the command is killed, the container goes on" {
        box web "Exec=$H wait-signal 1000"
        sup_start
        wait_state web running
        local main
        main=$(prop web MainPID)
        SECONDS=0
        run --separate-stderr timeout 20 "$CCSUPCTL" exec web sh -c 'echo $$ >/share/stopped; kill -STOP $$; echo continued'
        expect_status $((128 + 19))
        ((SECONDS < 10))
        [[ $output != *continued* ]]
        grep -q 'stopped (SIGSTOP): killed' "$T/d.err"
        # gone, not left stopped in the container
        run ctl exec web sh -c "kill -0 $(cat "$T/share/stopped") 2>/dev/null"
        expect_status 1
        expect_equal "main PID" "$main" "$(prop web MainPID)"
        expect_equal "state" running "$(prop web State)"
        run ctl exec web echo still-here
        expect_equal "exec after" still-here "$output"
}

@test "an exec'd command held by a tracer that never reaps it: exec still returns its status" {
        box web "Exec=$H wait-signal 1000"
        sup_start
        wait_state web running
        # a tracer in the container: seizes the command, then only sleeps
        ctl exec web "$H" seize-hold /share/traced 60 >"$T/hold.out" &
        local hold=$!
        SECONDS=0
        # no child of the command once it can be seized: a SIGCHLD (from an
        # mv, say) would stop the tracee for ever, since its tracer never
        # lets a signal through. echo is a builtin: one write() of the PID.
        run --separate-stderr timeout 30 "$CCSUPCTL" exec web sh -c "echo \$\$ >/share/traced && exec $H exit-after 2 3"
        local st=$status
        cat "$T/hold.out"
        kill "$hold" 2>/dev/null || true
        wait "$hold" || true
        grep -q "^seized " "$T/hold.out"
        expect_equal "exec's status" 3 "$st"
        ((SECONDS < 15))
        grep -q "traced: its tracer has not reaped it" "$T/d.err"
        expect_equal "state" running "$(prop web State)"
}

@test "Init=yes: the container's PID 1 is ccsup-init in comm and cmdline, inside and on the host" {
        box web "Exec=$H wait-signal 1000" "Init=yes"
        sup_start
        wait_state web running
        expect_equal "comm of PID 1" ccsup-init "$(ctl exec web cat /proc/1/comm)"
        # (with CAP_SYS_RESOURCE exactly "ccsup-init\0", else in ccsupd's own
        # argument area, the rest NUL bytes)
        expect_equal "cmdline of PID 1" ccsup-init "$(ctl exec web cat /proc/1/cmdline | tr -d '\0')"
        # ps: no second ccsupd command line in the container
        run ctl exec web ps -o pid,args
        expect_status 0
        [[ $output != *--unit-path* && $output != *ccsupd* ]] || { echo "$output"; false; }
        grep -Eq '^ *1 ccsup-init$' <<<"$output" || { echo "$output"; false; }
        # on the host
        local main
        main=$(prop web MainPID)
        expect_equal "host comm" ccsup-init "$(cat "/proc/$main/comm")"
        expect_equal "host cmdline" ccsup-init "$(tr -d '\0' <"/proc/$main/cmdline")"
        # the command is its child, with its own command line
        local child
        child=$(pgrep -P "$main")
        expect_equal "the command" "$H wait-signal 1000 " "$(tr '\0' ' ' <"/proc/$child/cmdline")"
        # the init never maps the host's binary, and the container cannot reach it
        [[ $(readlink "/proc/$main/exe") == /memfd:ccsupd* ]]
        run ctl exec web sh -c 'readlink /proc/1/exe 2>/dev/null'
        expect_equal "PID 1's exe seen from the container" "" "$output"
        # it still does its job: the command's end ends the container
        run ctl stop web
        expect_status 0
}
