# Shared helpers of the supervisor daemon tests (tests/integration/sup-*.bats),
# on top of run-helpers.bash (T, CG, TAG, IMAGE, `unit`, cleanup by PID,
# cgroup and mount in teardown).
#
#   sup_start [CCSUPD OPTIONS]   ccsupd in the background on $T/units; waits
#                                for its control socket; sets SUP_PID and
#                                CCSUP_SOCKET. With SUP_WRAP=(CMD ARGS...),
#                                `CMD ARGS... ccsupd ...`: CMD must exec
#                                ccsupd (SUP_PID is CMD's PID), as nsenter
#                                does; with SUP_LOG_STDERR=0, ccsupd logs to
#                                the journal (no CCSUP_LOG_STDERR=1)
#   ctl ARGS                     ccsupctl (bats `run ctl ...` to check output)
#   wait_state UNIT STATE [SECS] until `ccsupctl show UNIT` says State=STATE
#   wait_until SECS CMD...       until CMD succeeds, SECS at most (never fails)
#   prop UNIT KEY                one `show` value
#   sup_stop                     SIGTERM, waits; sets $status to ccsupd's exit
#   sleeper NAME [LINES...]      a unit that runs until stopped (SIGTERM ends it)
#   add_with_libs ROOT BINARY    BINARY and the shared libraries ldd names, into
#                                the image directory ROOT at the same paths

load run-helpers

CCSUPCTL=${CCSUPCTL:-$CCSUP_BUILDDIR/ccsupctl}

sup_setup() {
        run_setup
        mkdir -p "$T/out"
        SUP_PID=
}

sup_teardown() {
        if [[ -n ${SUP_PID:-} ]] && kill -0 "$SUP_PID" 2>/dev/null; then
                kill -TERM "$SUP_PID" 2>/dev/null || true
                local i
                for ((i = 0; i < 300; i++)); do
                        kill -0 "$SUP_PID" 2>/dev/null || break
                        sleep 0.05
                done
        fi
        if [[ -n ${T:-} && -f $T/d.err ]]; then
                echo "--- ccsupd stderr (last 40 lines):"
                tail -n 40 "$T/d.err"
        fi
        run_teardown
}

sup_start() {
        local logenv=(CCSUP_LOG_STDERR=1)
        [[ ${SUP_LOG_STDERR:-1} != 0 ]] || logenv=()
        # shellcheck disable=SC2046
        env --default-signal=INT,QUIT "${logenv[@]}" "${SUP_WRAP[@]}" "$CCSUPD" $(ccsupd_args) \
                --log-level=debug "$@" </dev/null >"$T/d.out" 2>"$T/d.err" &
        SUP_PID=$!
        echo "$SUP_PID" >>"$T/bg-pids"
        export CCSUP_SOCKET=$T/run/control
        local i
        for ((i = 0; i < 200; i++)); do
                [[ -S $CCSUP_SOCKET ]] && return 0
                kill -0 "$SUP_PID" 2>/dev/null || break
                sleep 0.025
        done
        echo "ccsupd did not create its control socket" >&2
        cat "$T/d.err" >&2
        return 1
}

ctl() {
        "$CCSUPCTL" "$@"
}

prop() {
        "$CCSUPCTL" show "$1" | sed -n "s/^$2=//p"
}

wait_state() {
        local unit=$1 want=$2 secs=${3:-10} i s
        for ((i = 0; i < secs * 20; i++)); do
                s=$(prop "$unit" State 2>/dev/null)
                [[ $s == "$want" ]] && return 0
                if [[ -n ${SUP_PID:-} ]] && ! kill -0 "$SUP_PID" 2>/dev/null; then
                        echo "ccsupd (PID $SUP_PID) is gone" >&2
                        return 1
                fi
                sleep 0.05
        done
        echo "unit $unit: state '$s' after ${secs}s, expected '$want'" >&2
        "$CCSUPCTL" status "$unit" >&2 || true
        return 1
}

# wait_file FILE [SECS] [LINES]: until FILE has at least LINES lines (default 1)
wait_file() {
        local f=$1 secs=${2:-10} n=${3:-1} i
        for ((i = 0; i < secs * 20; i++)); do
                [[ -f $f && $(wc -l <"$f") -ge $n ]] && return 0
                sleep 0.05
        done
        echo "timed out waiting for $n line(s) in $f" >&2
        return 1
}

# wait_until SECS CMD...: until CMD succeeds (its stderr discarded), every
# 0.05 s, SECS at most; never fails itself: the checks after it tell
wait_until() {
        local secs=$1 i
        shift
        for ((i = 0; i < secs * 20; i++)); do
                "$@" 2>/dev/null && break
                sleep 0.05
        done
        return 0
}

sup_stop() {
        kill -TERM "$SUP_PID"
        local i
        for ((i = 0; i < 600; i++)); do
                kill -0 "$SUP_PID" 2>/dev/null || break
                sleep 0.05
        done
        status=0
        wait "$SUP_PID" || status=$?
        SUP_PID=
}

sleeper() {
        local name=$1
        shift
        unit "$name" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 0.05; done'
StopTimeoutSec=5s
$(printf '%s\n' "$@")
EOF
}

add_with_libs() {
        local root=$1 bin=$2 lib
        install -D -m 0755 "$bin" "$root$bin"
        for lib in $(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u); do
                mkdir -p "$root$(dirname "$lib")"
                cp -L "$lib" "$root$lib"
        done
}
