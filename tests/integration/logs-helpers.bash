# Shared helpers of the container output tests (tests/integration/logs-*.bats),
# on top of sup-helpers.bash.
#
#   output_unit NAME TARGET EXEC [LINES...]
#                                a unit that runs EXEC once (Policy=no), its
#                                output to [Log] Target=TARGET, LINES added to
#                                [Log]; TARGET auto: no Target= (and no [Log]
#                                section without LINES)
#   expect_lines LINE...         $output is exactly these lines (none: empty)
#   wait_lines FILE N [SECS]     until FILE has N lines (10 s); shows it if not
#   follow ARGS                  `ccsupctl logs -f ARGS` in the background,
#                                under FOLLOW_WRAP=(CMD ARGS...) if set (CMD
#                                must exec it, as nsenter does); output in
#                                $T/follow.out and follow.err; sets FOLLOW_PID
#   end_follow SIGNAL            sends it, waits (10 s at most); $status is its
#                                exit status, 124 if it did not end
#   kill_follow                  for teardown: SIGKILL to a `logs -f` left

load sup-helpers

output_unit() {
        local name=$1 target=$2 exec=$3 log=
        shift 3
        if [[ $target != auto || $# -gt 0 ]]; then
                log=$'\n[Log]\n'
                [[ $target == auto ]] || log+="Target=$target"$'\n'
                log+=$(printf '%s\n' "$@")
        fi
        unit "$name" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$exec

[Restart]
Policy=no
$log
EOF
}

expect_lines() {
        local want
        want=$(printf '%s\n' "$@")
        [[ $# -gt 0 ]] || want=
        if [[ $output != "$want" ]]; then
                echo "--- expected:"; printf '%s\n' "$want"
                echo "--- got:"; printf '%s\n' "$output"
                return 1
        fi
}

wait_lines() {
        local f=$1 n=$2 secs=${3:-10} i
        for ((i = 0; i < secs * 20; i++)); do
                [[ -f $f && $(wc -l <"$f") -ge $n ]] && return 0
                sleep 0.05
        done
        echo "timed out waiting for $n line(s) in $f; it has:" >&2
        cat "$f" >&2
        return 1
}

follow() {
        "${FOLLOW_WRAP[@]}" "$CCSUPCTL" logs -f "$@" >"$T/follow.out" 2>"$T/follow.err" &
        FOLLOW_PID=$!
        echo "$FOLLOW_PID" >>"$T/bg-pids"
}

end_follow() {
        local i
        kill "-$1" "$FOLLOW_PID"
        for ((i = 0; i < 200; i++)); do
                [[ $(awk '{ print $3 }' "/proc/$FOLLOW_PID/stat" 2>/dev/null) == Z ]] && break
                kill -0 "$FOLLOW_PID" 2>/dev/null || break
                sleep 0.05
        done
        status=124
        if [[ $i -lt 200 ]]; then
                status=0
                wait "$FOLLOW_PID" || status=$?
                FOLLOW_PID=
        fi
        echo "--- logs -f: status $status; stderr:"
        cat "$T/follow.err"
}

kill_follow() {
        if [[ -n ${FOLLOW_PID:-} ]]; then
                kill -KILL "$FOLLOW_PID" 2>/dev/null || true
                wait "$FOLLOW_PID" 2>/dev/null || true
        fi
        FOLLOW_PID=
}
