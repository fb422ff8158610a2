#!/usr/bin/env bats
# `ccsupctl logs [-f] [-n N] UNIT` and the last lines of `ccsupctl status` on
# [Log] Target=file: records read back as lines (P pieces joined, across
# rotated files too), -n, following appends, rotations and truncations,
# clean ends on SIGTERM/SIGINT/a closed pipe, exit codes. First on files
# written here by hand (exact contents), then on what a running container
# writes through ccsupd.

load logs-helpers

setup_file() { run_setup_file; }
setup() {
        sup_setup
        FOLLOW_PID=
}
teardown() {
        kill_follow
        sup_teardown
}

TS=2026-11-27T09:35:51.905587Z

# rec STREAM TAG MESSAGE: one record, as ccsupd writes it
rec() {
        printf '%s %s %s %s\n' "$TS" "$1" "$2" "$3"
}

# a unit that ran once, printing nothing: its log files are ours to write
quiet_unit() {
        output_unit quiet file /bin/true
        sup_start
        wait_state quiet exited
        rm -f "$T/log/quiet.log"*
}

# the rotated files: .2 (oldest), .1, then the current one; a line split
# into P pieces across the .1/current boundary; a last record without '\n'
write_rotated_files() {
        {
                rec stdout F "one"
                rec stderr F "two (stderr)"
                rec stdout F ""
        } >"$T/log/quiet.log.2"
        {
                rec stdout F "four"
                rec stdout P "five "
                rec stderr F "six"
                rec stdout P "and a half "
        } >"$T/log/quiet.log.1"
        {
                rec stdout F "is five"
                echo "a stray line"
                rec stdout F "  eight  "
                rec stderr F "nine"
                rec stdout F "ten"
                rec stdout F "eleven"
                rec stdout F "twelve"
                rec stdout F "thirteen"
                printf '%s stdout F last, no newline' "$TS"
        } >"$T/log/quiet.log"
}

ALL_LINES=("one" "two (stderr)" "" "four" "six" "five and a half is five" "a stray line" "  eight  "
        "nine" "ten" "eleven" "twelve" "thirteen" "last, no newline")

@test "logs: every line of the rotated files, oldest first, P pieces joined, stderr too" {
        quiet_unit
        write_rotated_files
        run ctl logs quiet
        expect_status 0
        expect_lines "${ALL_LINES[@]}"
        run ctl logs -n all quiet
        expect_lines "${ALL_LINES[@]}"
        # only the unit's own files: another unit's, or a name that merely
        # starts the same, are not read
        rec stdout F "not mine" >"$T/log/quieter.log"
        rec stdout F "not mine" >"$T/log/quiet.log.old"
        run ctl logs quiet
        expect_lines "${ALL_LINES[@]}"
}

@test "logs -n N: the last N lines, across rotated files when the current one has fewer" {
        quiet_unit
        write_rotated_files
        local opts
        for opts in "-n 3" "-n3" "--lines=3" "--lines 3"; do
                # shellcheck disable=SC2086
                run ctl logs $opts quiet
                expect_status 0
                expect_lines "twelve" "thirteen" "last, no newline"
        done
        run ctl logs quiet -n 3
        expect_lines "twelve" "thirteen" "last, no newline"
        # the line whose pieces began in .1 is whole
        run ctl logs -n 9 quiet
        expect_lines "${ALL_LINES[@]:5}"
        # and the one before it comes from .1
        run ctl logs -n 10 quiet
        expect_lines "${ALL_LINES[@]:4}"
        # .2 is needed too
        run ctl logs -n 12 quiet
        expect_lines "${ALL_LINES[@]:2}"
        run ctl logs -n 1000 quiet
        expect_lines "${ALL_LINES[@]}"
        run ctl logs -n 0 quiet
        expect_status 0
        expect_lines
}

@test "status shows the last 10 messages after a blank line" {
        quiet_unit
        write_rotated_files
        run ctl status quiet
        expect_status 3
        local i n=${#lines[@]} tail
        # bats drops empty lines from ${lines[@]}: compare the end of $output
        tail=$'\n\n'$(printf '%s\n' "${ALL_LINES[@]:4}")
        [[ $output == *"$tail" ]] || {
                echo "--- expected the end:"; printf '%s' "$tail"; echo "--- got:"; printf '%s\n' "$output"
                return 1
        }
        for ((i = 0; i < n; i++)); do
                [[ ${lines[i]} != "one" && ${lines[i]} != "four" ]]
        done
        # no log file: no blank line, no lines
        rm -f "$T/log/quiet.log"*
        run ctl status quiet
        [[ ${output: -1} != $'\n' ]]
        [[ $output != *$'\n\n'* ]]
}

@test "logs: exit codes and messages" {
        quiet_unit
        output_unit silent none /bin/true
        ctl reload >/dev/null
        wait_state silent exited

        # never written: no output, success
        run ctl logs quiet
        expect_status 0
        expect_lines
        run ctl logs -n 5 quiet
        expect_status 0
        expect_lines

        run ctl logs silent
        expect_status 1
        expect_output_has "silent: output is discarded ([Log] Target=none)"

        run ctl logs nosuchunit
        expect_status 4
        run ctl logs
        expect_status 2
        expect_output_has "no unit given"
        run ctl logs quiet silent
        expect_status 2
        run ctl logs -x quiet
        expect_status 2
        run ctl logs --bogus quiet
        expect_status 2
        run ctl logs -n many quiet
        expect_status 2
        run ctl logs -n -1 quiet
        expect_status 2
        run ctl logs quiet -n
        expect_status 2
        run ctl --socket="$T/nothing-here" logs quiet
        expect_status 5

        run ctl --help
        [[ $output == *"logs [-f] [-n N] UNIT"* ]]
        [[ $output != *"Not implemented yet: logs"* ]]
        # its own usage, without a daemon
        run ctl --socket="$T/nothing-here" logs --help
        expect_status 0
        [[ ${lines[0]} == "Usage: ccsupctl logs [-f] [-n N] UNIT" ]]
        expect_output_has "-f, --follow"
}

@test "logs -f: appends, a record written in two parts, a rotation, a truncation; SIGTERM ends it with 0" {
        quiet_unit
        write_rotated_files
        follow -n 2 quiet
        wait_lines "$T/follow.out" 2
        # a record without its '\n' is still being written: it shows once whole
        sleep 0.2
        expect_equal "lines before the record ends" 2 "$(wc -l <"$T/follow.out")"
        printf '\n' >>"$T/log/quiet.log"
        rec stdout F "fifteen" >>"$T/log/quiet.log"
        wait_lines "$T/follow.out" 4
        # a record in two writes shows once it is whole; pieces are joined
        printf '%s stdout P sixteen, ' "$TS" >>"$T/log/quiet.log"
        sleep 0.3
        printf 'continued \n' >>"$T/log/quiet.log"
        rec stdout F "and ended" >>"$T/log/quiet.log"
        wait_lines "$T/follow.out" 5
        # rotation by rename: the last lines of the old file, then the new one
        mv "$T/log/quiet.log.1" "$T/log/quiet.log.2"
        rec stderr P "seventeen " >>"$T/log/quiet.log"
        mv "$T/log/quiet.log" "$T/log/quiet.log.1"
        {
                rec stderr F "continues in the new file"
                rec stdout F "eighteen"
        } >"$T/log/quiet.log"
        wait_lines "$T/follow.out" 7
        # truncated in place: read from the start again
        : >"$T/log/quiet.log"
        sleep 0.2
        rec stdout F "nineteen" >>"$T/log/quiet.log"
        wait_lines "$T/follow.out" 8
        # the file goes away and comes back
        rm "$T/log/quiet.log"
        sleep 0.2
        rec stdout F "twenty" >"$T/log/quiet.log"
        wait_lines "$T/follow.out" 9
        end_follow TERM
        expect_status 0
        output=$(<"$T/follow.out")
        expect_lines "twelve" "thirteen" "last, no newline" "fifteen" "sixteen, continued and ended" \
                "seventeen continues in the new file" "eighteen" "nineteen" "twenty"
        [[ ! -s $T/follow.err ]]
}

@test "logs -f: waits for a file that does not exist yet; -n 0 shows only new lines; SIGINT ends it with 0" {
        quiet_unit
        follow quiet
        sleep 0.3
        kill -0 "$FOLLOW_PID"
        rec stdout F "first" >"$T/log/quiet.log"
        wait_lines "$T/follow.out" 1
        end_follow INT
        expect_status 0
        output=$(<"$T/follow.out")
        expect_lines "first"

        rec stdout F "second" >>"$T/log/quiet.log"
        follow -n 0 quiet
        sleep 0.3
        rec stdout F "third" >>"$T/log/quiet.log"
        wait_lines "$T/follow.out" 1
        end_follow TERM
        expect_status 0
        output=$(<"$T/follow.out")
        expect_lines "third"
}

@test "logs -f ends with 0 when the reader of its output goes away" {
        quiet_unit
        write_rotated_files
        # head exits after one line; logs -f notices the closed pipe at once,
        # without waiting for another line
        local start
        start=$(date +%s)
        run timeout 10 bash -c 'set -o pipefail; "$0" logs -f quiet | head -n 1' "$CCSUPCTL"
        expect_status 0
        expect_lines "one"
        (( $(date +%s) - start < 5 ))
        # without -f too
        run timeout 10 bash -c 'set -o pipefail; "$0" logs quiet | head -n 1' "$CCSUPCTL"
        expect_status 0
}

@test "a running container: logs, logs -f across rotations (no line lost or repeated), status" {
        output_unit web file "/bin/sh -c 'echo hello; sleep 0.2; echo oops >&2; sleep 1000'"
        output_unit counter file "/bin/sh -c 'i=0; while :; do i=\$((i+1)); echo line \$i; sleep 0.02; done'" \
                'MaxFileSize=600' 'MaxFiles=2'
        sup_start
        wait_state web running
        wait_lines "$T/log/web.log" 2
        run ctl logs web
        expect_status 0
        expect_lines hello oops
        run ctl logs -n 1 web
        expect_lines oops
        run ctl status web
        expect_status 0
        [[ $output == *$'\n\nhello\noops' ]]

        # the counter fills a file every few lines: follow it for a while
        wait_state counter running
        wait_lines "$T/log/counter.log.1" 1
        follow -n 3 counter
        wait_lines "$T/follow.out" 150 20
        end_follow TERM
        expect_status 0
        [[ -f $T/log/counter.log.2 && ! -e $T/log/counter.log.3 ]]
        # consecutive numbers: nothing lost, nothing twice, across rotations
        run awk '$1 != "line" { print "not a line: " $0; exit 1 }
                NR > 1 && $2 != prev + 1 { print "after " prev ": " $2; exit 1 }
                { prev = $2 }' "$T/follow.out"
        expect_status 0
        # and logs -n reads them back from the rotated files in order
        run ctl logs -n 20 counter
        expect_status 0
        expect_equal "lines" 20 "${#lines[@]}"
        run awk 'NR > 1 && $2 != prev + 1 { exit 1 } { prev = $2 }' <<<"$output"
        expect_status 0
}
