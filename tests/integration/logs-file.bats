#!/usr/bin/env bats
# [Log] Target=file: ccsupd reads the containers' output pipes and writes
# LOG_DIR/NAME.log records (RFC 3339 time, stream, F/P, message), rotated by
# size; over-long lines split, partial lines kept, a flood loses nothing, a
# full disk loses lines but not the supervision; the pipes survive a
# daemon-reexec and a killed ccsupd. Target=none: /dev/null.

load logs-helpers

setup_file() { run_setup_file; }
setup() { sup_setup; }
teardown() { sup_teardown; }

TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z'

# messages FILE: the messages of FILE's records (P pieces joined to the next)
messages() {
        awk '{ tag = $3; sub(/^[^ ]+ [^ ]+ [FP] /, ""); printf "%s%s", $0, (tag == "F" ? "\n" : "") }' "$@"
}

@test "records: RFC 3339 UTC time, stream, F, the line; stderr apart from stdout" {
        output_unit out file "/bin/sh -c 'echo hello; echo oops >&2; echo \"  spaced  out \"; echo; sleep 1000'"
        sup_start
        wait_state out running
        wait_file "$T/log/out.log" 10 4
        run cat "$T/log/out.log"
        [[ ${lines[*]} =~ $TS\ stdout\ F\ hello ]]
        grep -Eqx "$TS stdout F hello" "$T/log/out.log"
        grep -Eqx "$TS stderr F oops" "$T/log/out.log"
        grep -Eqx "$TS stdout F   spaced  out " "$T/log/out.log"
        grep -Eqx "$TS stdout F " "$T/log/out.log"
        # the time is now, in UTC
        local t now
        t=$(grep -E ' F hello$' "$T/log/out.log" | cut -c1-19)
        now=$(date -u +%s)
        (( now - $(date -u -d "${t/T/ }" +%s) < 60 ))
        # the container's stdout and stderr are two pipes, not the file
        local pid
        pid=$(prop out MainPID)
        [[ $(readlink "/proc/$pid/fd/1") == pipe:* ]]
        [[ $(readlink "/proc/$pid/fd/2") == pipe:* ]]
        [[ $(readlink "/proc/$pid/fd/1") != "$(readlink "/proc/$pid/fd/2")" ]]
}

@test "a partial last line is written when the container ends; a restart appends" {
        output_unit part file "/bin/sh -c 'echo first; printf \"no newline at the end\"'"
        sup_start
        wait_state part exited
        wait_until 5 grep -q 'no newline' "$T/log/part.log"
        grep -Eqx "$TS stdout F no newline at the end" "$T/log/part.log"
        ctl start part
        wait_state part exited
        for ((i = 0; i < 100; i++)); do
                [[ $(grep -c 'no newline' "$T/log/part.log") -eq 2 ]] && break
                sleep 0.05
        done
        expect_equal "records" "first|no newline at the end|first|no newline at the end" \
                "$(messages "$T/log/part.log" | paste -sd'|')"
}

@test "a line longer than 16 KiB is split into P pieces, never dropped" {
        # 40000 x's then a newline, then a short line
        output_unit long file "/bin/sh -c 'head -c 40000 /dev/zero | tr \"\\\\0\" x; echo; echo short'"
        sup_start
        wait_state long exited
        wait_file "$T/log/long.log" 10 4
        run awk '{ print $2, $3, length($0) - length($1) - length($2) - length($3) - 3 }' "$T/log/long.log"
        expect_equal "pieces" "stdout P 16384|stdout P 16384|stdout F 7232|stdout F 5" "$(printf '%s|' "${lines[@]}" | sed 's/|$//')"
        expect_equal "joined" 40000 "$(messages "$T/log/long.log" | head -n1 | tr -d '\n' | wc -c)"
}

@test "rotation by size keeps MaxFiles= files, newest first, nothing lost in between" {
        output_unit rot file "/bin/seq 1 3000" "MaxFileSize=8K" "MaxFiles=2"
        sup_start
        wait_state rot exited
        wait_until 5 grep -q ' F 3000$' "$T/log/rot.log"
        [[ -f $T/log/rot.log.1 && -f $T/log/rot.log.2 && ! -e $T/log/rot.log.3 ]]
        local f
        for f in "$T/log/rot.log" "$T/log/rot.log.1" "$T/log/rot.log.2"; do
                (( $(stat -c %s "$f") <= 8192 ))
        done
        # the kept records are the newest ones, contiguous, ending at 3000
        run messages "$T/log/rot.log.2" "$T/log/rot.log.1" "$T/log/rot.log"
        local first=${lines[0]}
        expect_equal "last" 3000 "${lines[-1]}"
        expect_equal "contiguous" "$(seq "$first" 3000 | paste -sd' ')" "$(printf '%s\n' "${lines[@]}" | paste -sd' ')"
        (( first > 1 ))
}

@test "MaxFiles=0 starts the file over; Target=none writes nothing" {
        output_unit zero file "/bin/seq 1 2000" "MaxFileSize=4K" "MaxFiles=0"
        output_unit quiet none "/bin/sh -c 'echo not kept; sleep 1000'"
        sup_start
        wait_state zero exited
        wait_state quiet running
        wait_until 5 grep -q ' F 2000$' "$T/log/zero.log"
        grep -q ' F 2000$' "$T/log/zero.log"
        [[ ! -e $T/log/zero.log.1 ]]
        (( $(stat -c %s "$T/log/zero.log") <= 4096 ))
        [[ ! -e $T/log/quiet.log ]]
        expect_equal "stdout" /dev/null "$(readlink "/proc/$(prop quiet MainPID)/fd/1")"
}

@test "a flood: every line arrives, in order; another unit restarts meanwhile; memory stays bounded" {
        output_unit flood file "/bin/seq 1 1500000" "MaxFileSize=1G"
        sleeper other
        sup_start
        wait_state other running
        local pid1
        pid1=$(prop other MainPID)
        ctl restart other
        [[ $(prop other MainPID) != "$pid1" ]]
        expect_equal "other" running "$(prop other State)"
        wait_state flood exited 120
        wait_until 10 grep -q ' F 1500000$' "$T/log/flood.log"
        expect_equal "lines" 1500000 "$(wc -l <"$T/log/flood.log")"
        # in order, none missing: line k holds k
        expect_equal "out of place" 0 "$(awk '$4 != NR { n++ } END { print n + 0 }' "$T/log/flood.log")"
        # a bounded reader: far below the 10 MB it read
        local hwm
        hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SUP_PID/status")
        echo "ccsupd VmHWM ${hwm} kB" >&3
        (( hwm < 64 * 1024 ))
}

@test "a full disk loses lines, not the supervision; writing resumes when space is back" {
        output_unit big file "/bin/sh -c 'seq 1 200000; sleep 1; echo after the flood; sleep 1000'"
        sleeper other
        # ccsupd in a private mount namespace whose log directory is a small
        # tmpfs (sh execs ccsupd: SUP_PID is ccsupd's, in that namespace)
        mkdir -p "$T/log"
        local SUP_WRAP=(unshare -m --propagation private
                sh -c 'mount -t tmpfs -o size=256k tmpfs "$1" && shift && exec "$@"' sh "$T/log")
        sup_start
        wait_state big running
        wait_state other running
        wait_until 10 grep -q 'No space left on device' "$T/d.err"
        grep -q "big: log file .*No space left on device; output is lost" "$T/d.err"
        # the supervision goes on: the flooding container is not blocked, the other restarts
        ctl restart other
        expect_equal "other" running "$(prop other State)"
        # space again: the writes resume, and the loss is counted
        nsenter -m -t "$SUP_PID" truncate -s 0 "$T/log/big.log"
        wait_until 5 nsenter -m -t "$SUP_PID" grep -q 'after the flood' "$T/log/big.log"
        nsenter -m -t "$SUP_PID" grep -Eq "$TS stdout F after the flood" "$T/log/big.log"
        grep -Eq "big: log file .* written again; [0-9]+ lines lost" "$T/d.err"
        # the host never saw that tmpfs
        ! grep -q " $T/log " /proc/self/mountinfo
}

@test "output pipes survive a daemon-reexec: no line lost, the container not disturbed" {
        output_unit tick file "/bin/sh -c 'i=0; while [ \$i -lt 400 ]; do i=\$((i+1)); echo \$i; sleep 0.005; done; sleep 1000'"
        sup_start
        wait_state tick running
        local pid
        pid=$(prop tick MainPID)
        wait_file "$T/log/tick.log" 10 20
        ctl daemon-reexec
        ctl daemon-reexec
        wait_until 10 grep -q ' F 400$' "$T/log/tick.log"
        expect_equal "same container" "$pid" "$(prop tick MainPID)"
        expect_equal "every line" "$(seq 1 400 | paste -sd' ')" "$(messages "$T/log/tick.log" | paste -sd' ')"
        grep -q 'tick: re-adopted' "$T/d.err"
}

@test "a line half written at a daemon-reexec is kept: a P record, finished by the next ccsupd" {
        output_unit half file "/bin/sh -c 'printf \"first half, \"; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo second half; sleep 1000'"
        sup_start
        wait_state half running
        local pid
        pid=$(prop half MainPID)
        # the first half sits in ccsupd's line buffer: nothing in the file yet
        sleep 0.5
        [[ ! -s $T/log/half.log ]]
        ctl daemon-reexec
        wait_state half running
        grep -Eqx "$TS stdout P first half, " "$T/log/half.log"
        nsenter -m -t "$pid" touch /tmp/go
        wait_until 10 grep -q ' F second half$' "$T/log/half.log"
        grep -Eqx "$TS stdout F second half" "$T/log/half.log"
        expect_equal "the line" "first half, second half" "$(messages "$T/log/half.log")"
}

@test "after ccsupd was killed, the next one reads the container's output again" {
        output_unit later file "/bin/sh -c 'echo before; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo after; sleep 1000'"
        sup_start
        wait_state later running
        local pid
        pid=$(prop later MainPID)
        wait_file "$T/log/later.log" 10 1
        kill -KILL "$SUP_PID"
        wait "$SUP_PID" || true
        sup_start
        wait_state later running
        expect_equal "same container" "$pid" "$(prop later MainPID)"
        # the container writes only now, to a pipe the new ccsupd reads
        nsenter -m -t "$pid" touch /tmp/go
        wait_until 5 grep -q ' F after$' "$T/log/later.log"
        expect_equal "lines" "before after" "$(messages "$T/log/later.log" | paste -sd' ')"
}
