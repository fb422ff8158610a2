# Shared helpers of the `ccsupd --run` tests (tests/integration/run-*.bats).
#
# Every test gets, in setup:
#   T        a private temporary directory (units/, state/, run/, log/ below it)
#   CG       a private cgroup path (--cgroup), removed in teardown in every hierarchy
#   TAG      a unique value; `unit` adds Environment=CCSUP_TEST_TAG=$TAG to each
#            unit's [Process] section, so every process of the test's containers
#            can be found from the host (and killed, by PID, in teardown)
#   IMAGE    the busybox image of this .bats file (made once, in setup_file)
# and teardown kills what the test started, unmounts anything left below $T,
# removes the test's cgroups bottom-up and deletes $T, even when the test failed.
#
# Works from `make check` (CCSUP_BUILDDIR/CCSUP_SRCDIR set by Makefile.am) and by
# hand: `CCSUP_BUILDDIR=/path/to/build bats tests/integration/run-process.bats`.

load helpers

: "${CCSUP_SRCDIR:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${CCSUP_BUILDDIR:=$CCSUP_SRCDIR}"
CCSUPD=${CCSUPD:-$CCSUP_BUILDDIR/ccsupd}
CCSUP_TESTHELPER=${CCSUP_TESTHELPER:-$CCSUP_BUILDDIR/tests/helper/ccsup-testhelper}
MKIMAGE=$CCSUP_SRCDIR/contrib/mkimage
# path of the helper inside images
H=/usr/bin/ccsup-testhelper
RUN_TIMEOUT=${RUN_TIMEOUT:-30}

# need_test_switches: skip unless this build reads the CCSUP_TEST_*
# variables (configure --enable-test-switches, lib/test-switches.h)
has_test_switches() {
        grep -q '^#define CCSUP_TEST_SWITCHES 1' "$CCSUP_BUILDDIR/config.h" 2>/dev/null
}
need_test_switches() {
        has_test_switches || skip "built without --enable-test-switches"
}

is_root() {
        [[ $(id -u) -eq 0 ]]
}

# ------------------------------------------------------------------ images

# mkimage_with_helper DIR: a busybox image with the test helper in it.  The
# helper is built from source here when the build tree has none (bats by hand).
mkimage_with_helper() {
        local dir=$1 helper=$CCSUP_TESTHELPER
        if [[ ! -x $helper ]]; then
                helper=${BATS_FILE_TMPDIR:-/tmp}/ccsup-testhelper
                if [[ ! -x $helper ]]; then
                        gcc -static -O2 -o "$helper" \
                                "$CCSUP_SRCDIR/tests/helper/ccsup-testhelper.c" || return 1
                fi
        fi
        "$MKIMAGE" "$dir" --helper "$helper" >/dev/null
}

# for setup_file: one shared image per .bats file
run_setup_file() {
        is_root || return 0
        export IMAGE=$BATS_FILE_TMPDIR/image
        mkimage_with_helper "$IMAGE"
}

# ------------------------------------------------------------------ cgroups

# mount points of every cgroup hierarchy: the cgroup2 one and each v1 one
cgroup_roots() {
        awk '{ for (i = 7; i <= NF && $i != "-"; i++) ; if (i >= NF) next; if ($(i+1) == "cgroup" || $(i+1) == "cgroup2") print $5 }' \
                /proc/self/mountinfo | sort -u
}

cgroup2_root() {
        awk '{ for (i = 7; i <= NF && $i != "-"; i++) ; if (i >= NF) next; if ($(i+1) == "cgroup2") print $5 }' \
                /proc/self/mountinfo | head -n1
}

# every directory below $CG (not $CG itself), in every hierarchy
cgroup_leftovers() {
        local root
        for root in $(cgroup_roots); do
                [[ -d $root$CG ]] && find "$root$CG" -mindepth 1 -type d
        done
        return 0
}

# every PID in a cgroup.procs at or below $CG, in every hierarchy
cgroup_pids() {
        local root
        for root in $(cgroup_roots); do
                [[ -d $root$CG ]] && find "$root$CG" -name cgroup.procs -exec cat {} + 2>/dev/null
        done | sort -un
}

# ------------------------------------------------------------------ processes

# PIDs (host view) of every process whose environment holds our tag
tagged_pids() {
        grep -l -z -x -s -F "CCSUP_TEST_TAG=$TAG" /proc/[0-9]*/environ 2>/dev/null |
                sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p' | sort -n
}

# the processes this test started: its background ccsupd instances, and every
# process of its containers (tagged, or in its cgroups)
test_pids() {
        { cat "$T/bg-pids" 2>/dev/null; tagged_pids; cgroup_pids; } | sort -un
}

kill_test_processes() {
        local pid tries
        for tries in 1 2 3 4 5 6 7 8 9 10; do
                local pids=$(test_pids)
                [[ -z $pids ]] && return 0
                for pid in $pids; do
                        # never ourselves or an ancestor
                        [[ $pid == "$$" || $pid == "$BASHPID" || $pid == "$PPID" ]] && continue
                        kill -KILL "$pid" 2>/dev/null || true
                done
                sleep 0.2
        done
}

# ------------------------------------------------------------------ mounts

# the host's mount table without mount ids and parent ids (fields 1 and 2)
# The host's mounts, but those that other test files' engines make while
# they run beside this one under `make -j2 check` (podman's storage under
# their bats directories, CNI's netns files): what ccsupd --run could leak
# lies under $T or elsewhere.
mount_table() {
        cut -d' ' -f3- /proc/self/mountinfo | awk '$3 !~ "^/tmp/bats-run-" && $3 !~ "^/run/netns/."'
}

# ------------------------------------------------------------------ setup/teardown

run_setup() {
        is_root || skip "needs root: containers need namespaces, mounts and cgroups"
        [[ -x $CCSUPD ]] || { echo "ccsupd not built: $CCSUPD" >&2; return 1; }
        [[ -d ${IMAGE:-} ]] || { echo "no test image (setup_file failed?)" >&2; return 1; }
        T=$(mktemp -d /tmp/ccsup-runtests.XXXXXX)
        mkdir -p "$T/units" "$T/state" "$T/run" "$T/log"
        # a user namespace's root must reach the runtime directory
        [[ ${CCSUP_TEST_USERNS:-} != 1 ]] || chmod 0711 "$T"
        CG=/ccsup-test-$BATS_TEST_NUMBER-$$
        TAG=ccsup-test-$BATS_TEST_NUMBER-$$-$RANDOM
        : >"$T/bg-pids"
        mount_table >"$T/mounts.before"
}

run_teardown() {
        [[ -n ${T:-} && -d $T ]] || return 0
        kill_test_processes
        # mounts that leaked below $T (there should be none): innermost first
        local mp
        for mp in $(awk -v t="$T/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
                umount -l "$mp" 2>/dev/null || true
        done
        # cgroups, bottom-up, in every hierarchy (a dir may be busy for a moment)
        local root try
        for root in $(cgroup_roots); do
                [[ -d $root$CG ]] || continue
                for try in 1 2 3 4 5 6 7 8 9 10; do
                        find "$root$CG" -depth -type d -exec rmdir {} + 2>/dev/null || true
                        [[ -d $root$CG ]] || break
                        sleep 0.1
                done
        done
        rm -rf --one-file-system "$T"
}

# ------------------------------------------------------------------ units

# unit NAME < body: writes $T/units/NAME.unit, adding the tag to [Process].
# With CCSUP_TEST_USERNS=1 in the environment (the security battery again, in
# user namespaces), every unit but a Privileged=yes one (the two exclude each
# other) also gets UserNamespace=auto.
unit() {
        local name=$1
        awk -v tag="Environment=CCSUP_TEST_TAG=$TAG" -v userns="${CCSUP_TEST_USERNS:-}" \
                '{ print } /^\[Process\][ \t]*$/ { print tag }
                 /^Privileged=(yes|true|on|1)[ \t]*$/ { priv = 1 }
                 END { if (userns == "1" && !priv) print "[Security]\nUserNamespace=auto" }' >"$T/units/$name.unit"
}

# plain NAME EXEC: the smallest unit: our image, one command
plain_unit() {
        unit "$1" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$2
EOF
}

ccsupd_args() {
        echo "--state-dir=$T/state" "--runtime-dir=$T/run" "--log-dir=$T/log" \
                "--cgroup=$CG" "--unit-path=$T/units"
}

# ccsup_run NAME [CCSUPD OPTIONS]: runs `ccsupd --run` in the foreground, with
# a timeout (a hang is a failure, status 124), stdin /dev/null, stdout and stderr
# into files (no pipe a leftover process could hold open).  Sets $status,
# $output (stdout), $stderr, and ${lines[@]} (stdout lines).
ccsup_run() {
        local name=$1
        shift
        status=0
        # shellcheck disable=SC2046
        timeout -k 5 "$RUN_TIMEOUT" "$CCSUPD" --run="$T/units/$name.unit" $(ccsupd_args) "$@" \
                </dev/null >"$T/stdout" 2>"$T/stderr" || status=$?
        output=$(<"$T/stdout")
        stderr=$(<"$T/stderr")
        mapfile -t lines <"$T/stdout"
        show_run
        if [[ $status -eq 124 ]]; then
                echo "ccsupd --run hung: killed after ${RUN_TIMEOUT}s" >&2
        fi
}

# shown by bats only when the test fails
show_run() {
        echo "--- ccsupd --run: status $status"
        echo "--- stdout:"
        printf '%s\n' "$output"
        echo "--- stderr:"
        printf '%s\n' "$stderr"
        echo "---"
}

# ccsup_start NAME [CCSUPD OPTIONS]: `ccsupd --run` in the background; sets
# $CCSUPD_PID; output in $T/bg.out and $T/bg.err.  SIGINT and SIGQUIT are reset
# to their defaults (bash ignores them in background jobs).
ccsup_start() {
        local name=$1
        shift
        # truncate here, not in the child: a wait_for_output right after must
        # not see the previous run's output
        : >"$T/bg.out"
        : >"$T/bg.err"
        # shellcheck disable=SC2046
        env --default-signal=INT,QUIT "$CCSUPD" --run="$T/units/$name.unit" $(ccsupd_args) "$@" \
                </dev/null >>"$T/bg.out" 2>>"$T/bg.err" &
        CCSUPD_PID=$!
        echo "$CCSUPD_PID" >>"$T/bg-pids"
}

# wait_for_output PATTERN [SECS]: until a line of $T/bg.out matches (grep -E)
wait_for_output() {
        local pattern=$1 secs=${2:-15} i
        for ((i = 0; i < secs * 20; i++)); do
                grep -qE -- "$pattern" "$T/bg.out" 2>/dev/null && return 0
                sleep 0.05
        done
        echo "timed out after ${secs}s waiting for output /$pattern/" >&2
        echo "--- bg stdout:"; cat "$T/bg.out"; echo "--- bg stderr:"; cat "$T/bg.err"
        return 1
}

# wait_exit PID SECS: waits for a background job to end; sets $status (its
# exit status) and $elapsed (ms); status 124 when it did not end in time
wait_exit() {
        local pid=$1 secs=$2 start=$(date +%s%N) i
        for ((i = 0; i < secs * 20; i++)); do
                if ! kill -0 "$pid" 2>/dev/null ||
                        [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]]; then
                        break
                fi
                sleep 0.05
        done
        elapsed=$((($(date +%s%N) - start) / 1000000))
        if kill -0 "$pid" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
                status=124
                echo "process $pid still running after ${secs}s" >&2
                return 0
        fi
        status=0
        wait "$pid" || status=$?
        output=$(<"$T/bg.out")
        stderr=$(<"$T/bg.err")
        mapfile -t lines <"$T/bg.out"
        show_run
}

# ------------------------------------------------------------------ assertions

expect_status() {
        if [[ $status -ne $1 ]]; then
                echo "expected exit status $1, got $status" >&2
                return 1
        fi
}

# expect_line TEXT: some line of stdout is exactly TEXT
expect_line() {
        local l
        for l in "${lines[@]}"; do
                [[ $l == "$1" ]] && return 0
        done
        echo "expected a stdout line: '$1'" >&2
        return 1
}

# expect_no_line TEXT
expect_no_line() {
        local l
        for l in "${lines[@]}"; do
                if [[ $l == "$1" ]]; then
                        echo "unexpected stdout line: '$1'" >&2
                        return 1
                fi
        done
}

# expect_output_has TEXT: stdout contains TEXT
expect_output_has() {
        [[ $output == *"$1"* ]] && return 0
        echo "expected stdout to contain: '$1'" >&2
        return 1
}

# expect_stderr_has TEXT
expect_stderr_has() {
        [[ $stderr == *"$1"* ]] && return 0
        echo "expected stderr to contain: '$1'" >&2
        return 1
}

# expect_equal WHAT EXPECTED ACTUAL
expect_equal() {
        [[ $2 == "$3" ]] && return 0
        printf 'expected %s:\n  %s\ngot:\n  %s\n' "$1" "$2" "$3" >&2
        return 1
}

# nothing of the test's is left: no process, no cgroup below $CG, the host's
# mount table unchanged
expect_nothing_left() {
        local left
        left=$(tagged_pids; cgroup_pids)
        if [[ -n $left ]]; then
                echo "processes left behind:" >&2
                local p
                for p in $left; do
                        echo "  $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" >&2
                done
                return 1
        fi
        left=$(cgroup_leftovers)
        if [[ -n $left ]]; then
                echo "cgroups left behind:" >&2
                echo "$left" >&2
                return 1
        fi
        expect_host_mounts_unchanged
}

expect_host_mounts_unchanged() {
        if ! mount_table | diff -u "$T/mounts.before" - >&2; then
                echo "the host's mount table changed (above)" >&2
                return 1
        fi
}
