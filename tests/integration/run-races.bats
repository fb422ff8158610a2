#!/usr/bin/env bats
# ccsupd --run: stop requests that arrive at any moment of a launch, and two
# launches of one unit name at once.

load run-helpers

setup_file() { run_setup_file; }
setup() { run_setup; }
teardown() { run_teardown; }

# The launcher of the signal test, a plain bash script: under bats every
# command is traced, too slow to catch a launch that takes milliseconds.
#   kill-early SIG DELAY CCSUPD ARGS...: starts CCSUPD ARGS in the background,
#   waits until it runs CCSUPD (or its sealed copy) with SIGINT and SIGTERM in
#   its blocked-signal mask (SigBlk: main()'s first statement), busy-waits DELAY loop turns,
#   sends SIG, waits; prints the exit status (99: the mask never showed).
write_kill_early() {
        cat >"$T/kill-early" <<'EOF'
sig=$1 delay=$2
shift 2
env --default-signal=INT "$@" </dev/null >"$T/bg.out" 2>"$T/bg.err" &
pid=$!
echo "$pid" >>"$T/bg-pids"
blocked() { # bit 1 SIGINT, bit 14 SIGTERM; builtins only
        local l
        local -a st
        mapfile -t st <"/proc/$pid/status" 2>/dev/null || return 1
        for l in "${st[@]}"; do
                [[ $l == SigBlk:* ]] || continue
                l=${l##*[[:space:]]}
                (((0x$l & 0x4002) == 0x4002))
                return
        done
        return 1
}
# a deadline, not a count: on a loaded machine the exec alone can take long
deadline=$((${EPOCHREALTIME/./} + 20000000))
timed_out=0
# ccsupd: its binary, or the sealed memfd copy it re-executes at once
# (named ccsupd again by then, or still memfd:ccsupd)
is_ccsupd() {
        local comm
        [[ /proc/$pid/exe -ef $1 ]] && return 0
        read -r comm <"/proc/$pid/comm" 2>/dev/null || return 1
        [[ $comm == ccsupd || $comm == memfd:ccsupd ]]
}
until is_ccsupd "$1" && blocked; do
        if ((${EPOCHREALTIME/./} > deadline)); then
                timed_out=1
                break
        fi
done
if ((timed_out)); then
        echo "ccsupd never blocked SIGINT and SIGTERM" >&2
        kill -KILL "$pid"
        wait "$pid"
        echo 99
        exit
fi
for ((i = 0; i < delay; i++)); do :; done
kill -"$sig" "$pid"
status=0
wait "$pid" || status=$?
echo "$status"
EOF
}

@test "SIGTERM/SIGINT at any moment of a launch stop the container; ccsupd is never killed by them" {
        unit early <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H wait-signal 20
StopTimeoutSec=1
EOF
        write_kill_early
        local i sig statuses="" killed_in_setup=0 stopped=0
        for ((i = 0; i < 40; i++)); do
                sig=TERM
                ((i % 2)) && sig=INT
                # spread over preparation, clone, setup, exec: 0..~4 ms
                # shellcheck disable=SC2046
                status=$(T=$T bash "$T/kill-early" "$sig" $(((i % 8) * 500)) "$CCSUPD" \
                        --run="$T/units/early.unit" $(ccsupd_args))
                output=$(<"$T/bg.out")
                stderr=$(<"$T/bg.err")
                mapfile -t lines <"$T/bg.out"
                show_run
                statuses+=" $status"
                case $status in
                0) expect_line "got SIGTERM"; stopped=$((stopped + 1)) ;; # the StopSignal
                137) killed_in_setup=$((killed_in_setup + 1)) ;;
                *)
                        echo "round $i: SIG$sig gave exit status $status (killed by the signal?)"
                        false
                        ;;
                esac
                expect_nothing_left
                [[ ! -e $T/run/containers/early ]] || { echo "staging directory left"; false; }
        done
        echo "# exit statuses:$statuses" >&3
        echo "# $stopped stopped by their command's handler, $killed_in_setup killed before it ran" >&3
        # both kinds happened: the early signals really were early
        ((killed_in_setup > 0))
}

@test "a SIGTERM/SIGINT while --run is still preparing kills nothing but the container-to-be" {
        # EnvironmentFile= on a FIFO holds ccsupd in its preparation (reading
        # the file) until the test writes to it: the signal arrives there,
        # deterministically, long before any loop exists
        mkfifo "$T/env.fifo"
        unit held <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H wait-signal 20
EnvironmentFile=$T/env.fifo
EOF
        local sig fifo
        for sig in TERM INT; do
                ccsup_start held
                # returns once ccsupd opened the FIFO for reading
                exec {fifo}>"$T/env.fifo"
                kill -"$sig" "$CCSUPD_PID"
                sleep 0.2
                # dead: reaped by bash already, or a zombie (kill -0 works on those)
                local state
                state=$(awk '{ print $3 }' "/proc/$CCSUPD_PID/stat" 2>/dev/null || true)
                if [[ -z $state || $state == Z ]]; then
                        exec {fifo}>&-
                        wait_exit "$CCSUPD_PID" 5
                        echo "SIG$sig killed ccsupd outright (exit $status)"
                        false
                fi
                # in a subshell: a FIFO without reader raises SIGPIPE
                (echo "FROM_FIFO=1" >&"$fifo") 2>/dev/null || true
                exec {fifo}>&-
                wait_exit "$CCSUPD_PID" 15
                # the container was set up and killed before its command ran
                expect_status 137
                expect_no_line "ready"
                expect_nothing_left
                [[ ! -e $T/run/containers/held ]] || { echo "staging directory left"; false; }
        done
}

@test "a second --run of a running unit fails before touching the first" {
        plain_unit twice "$H wait-signal 20"
        ccsup_start twice
        wait_for_output '^ready$'
        local first=$CCSUPD_PID before after
        before=$(tagged_pids | xargs)

        ccsup_run twice
        expect_status 125
        expect_stderr_has "already running"

        # the first one is untouched: same processes, its staging directory
        # and cgroup still there, and it still stops normally
        after=$(tagged_pids | xargs)
        expect_equal "container processes" "$before" "$after"
        [[ -d $T/run/containers/twice ]] || { echo "the first one's staging directory is gone"; false; }
        [[ -n $(cgroup_leftovers) ]] || { echo "the first one's cgroup is gone"; false; }
        kill -0 "$first"
        kill -TERM "$first"
        wait_exit "$first" 15
        expect_status 0
        expect_line "got SIGTERM"
        expect_nothing_left
}

@test "two --run of one unit started at the same moment: exactly one runs" {
        plain_unit race "/bin/sh -c 'echo started; exec $H wait-signal 20'"
        local round a b sa sb
        for round in 1 2 3 4 5; do
                # shellcheck disable=SC2046
                env --default-signal=INT "$CCSUPD" --run="$T/units/race.unit" $(ccsupd_args) \
                        </dev/null >"$T/a.out" 2>"$T/a.err" &
                a=$!
                # shellcheck disable=SC2046
                env --default-signal=INT "$CCSUPD" --run="$T/units/race.unit" $(ccsupd_args) \
                        </dev/null >"$T/b.out" 2>"$T/b.err" &
                b=$!
                echo "$a $b" >>"$T/bg-pids"
                # the loser ends by itself; then stop the winner
                for ((i = 0; i < 300; i++)); do
                        grep -q ready "$T/a.out" "$T/b.out" 2>/dev/null && break
                        sleep 0.05
                done
                sleep 0.2
                kill -TERM "$a" "$b" 2>/dev/null || true
                sa=0 sb=0
                wait "$a" || sa=$?
                wait "$b" || sb=$?
                echo "round $round: exit $sa and $sb; stderr: $(cat "$T/a.err" "$T/b.err")"
                if [[ $sa -eq 125 ]]; then
                        [[ $sb -eq 0 ]] && grep -q "already running" "$T/a.err"
                else
                        [[ $sa -eq 0 && $sb -eq 125 ]] && grep -q "already running" "$T/b.err"
                fi
                expect_nothing_left
        done
}
