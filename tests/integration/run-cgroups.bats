#!/usr/bin/env bats
# ccsupd --run: one cgroup per container below --cgroup; every process of the
# container is in it; nothing is left behind when the container ends.

load run-helpers

setup_file() { run_setup_file; }
setup() { run_setup; }
teardown() { run_teardown; }

# v2_path PID: the process's cgroup v2 path ("0::" line)
v2_path() {
        sed -n 's/^0:://p' "/proc/$1/cgroup" 2>/dev/null
}

@test "inside: every process sees itself at the root of its cgroup namespace" {
        plain_unit inside "/bin/sh -c '$H fork-orphans 3 30 >/dev/null; cat /proc/[0-9]*/cgroup | cut -d: -f3 | sort -u'"
        ccsup_run inside
        expect_status 0
        expect_equal "cgroup paths of all processes inside" "/" "$output"
}

@test "outside: every process of a running container is in one cgroup below --cgroup" {
        plain_unit watched "/bin/sh -c '$H fork-orphans 5 60 >/dev/null; echo ready; exec $H wait-signal 30'"
        ccsup_start watched
        wait_for_output '^ready$'
        sleep 0.2
        local pids pid path first=""
        pids=$(tagged_pids)
        echo "container processes: $pids"
        [[ $(wc -w <<<"$pids") -eq 6 ]] || { echo "expected 6 processes"; false; }
        for pid in $pids; do
                path=$(v2_path "$pid")
                [[ -n $path ]] || continue   # it may just have ended
                [[ $path == "$CG"/* ]] || { echo "process $pid is in $path, not below $CG"; false; }
                [[ -z $first || $path == "$first" ]] || { echo "two cgroups: $first $path"; false; }
                first=$path
        done
        # the cgroup's own list agrees
        local listed
        listed=$(sort -n "$(cgroup2_root)$first/cgroup.procs" | xargs)
        expect_equal "cgroup.procs of $first" "$(xargs <<<"$pids")" "$listed"
        kill -TERM "$CCSUPD_PID"
        wait_exit "$CCSUPD_PID" 15
        expect_status 0
        expect_nothing_left
}

@test "50 orphaned sleepers ignoring SIGTERM are gone, with their cgroup, when the command ends" {
        plain_unit orphans "/bin/sh -c '$H fork-orphans 50 120 >/dev/null; exit 0'"
        ccsup_run orphans
        expect_status 0
        expect_nothing_left
}

@test "Mode=host, Init=yes: 50 orphaned sleepers are gone, with their cgroup, when the command ends" {
        unit orphans <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c '$H fork-orphans 50 120 >/dev/null; exit 3'
Init=yes

[Network]
Mode=host
EOF
        ccsup_run orphans
        expect_status 3
        expect_nothing_left
}

@test "a stopped container leaves no process and no cgroup behind" {
        unit stopped <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c '$H fork-orphans 20 120 >/dev/null; exec $H ignore-term 60'
StopTimeoutSec=1
EOF
        ccsup_start stopped
        wait_for_output '^ready$'
        [[ -n $(cgroup_leftovers) ]] || { echo "no cgroup below $CG while running"; false; }
        kill -TERM "$CCSUPD_PID"
        wait_exit "$CCSUPD_PID" 15
        expect_status 137
        expect_nothing_left
}

# v1_path PID CONTROLLER: the process's cgroup in that v1 hierarchy
v1_path() {
        awk -F: -v c="$2" '{ n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) print $3 }' \
                "/proc/$1/cgroup" 2>/dev/null
}

hybrid_only() {
        [[ -d /sys/fs/cgroup/unified && -d /sys/fs/cgroup/freezer ]] ||
                skip "needs a hybrid host (cgroup2 at /sys/fs/cgroup/unified, v1 controllers)"
}

@test "hybrid: --run without limits joins the cgroup2 tree only; MemoryMax= adds the memory hierarchy" {
        hybrid_only
        unit plain <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'echo ready; exec $H wait-signal 30'
EOF
        ccsup_start plain
        wait_for_output '^ready$'
        local pid
        pid=$(tagged_pids)
        expect_equal "cgroup2 path" "$CG/plain.ctr" "$(v2_path "$pid")"
        # where ccsupd itself is, not below $CG
        local c
        for c in freezer memory pids cpu devices; do
                [[ $(v1_path "$pid" "$c") != "$CG"/* ]] || { echo "joined the $c hierarchy"; false; }
        done
        kill -TERM "$CCSUPD_PID"
        wait_exit "$CCSUPD_PID" 15
        expect_status 0
        expect_nothing_left

        unit limited <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'echo ready; exec $H wait-signal 30'

[Resources]
MemoryMax=64M
EOF
        ccsup_start limited
        wait_for_output '^ready$'
        pid=$(tagged_pids)
        expect_equal "cgroup2 path" "$CG/limited.ctr" "$(v2_path "$pid")"
        expect_equal "memory path" "$CG/limited.ctr" "$(v1_path "$pid" memory)"
        expect_equal "memory.limit_in_bytes" $((64 << 20)) \
                "$(cat "/sys/fs/cgroup/memory$CG/limited.ctr/memory.limit_in_bytes")"
        kill -TERM "$CCSUPD_PID"
        wait_exit "$CCSUPD_PID" 15
        expect_status 0
        expect_nothing_left
}

@test "CCSUP_TEST_CGROUP_MODE=v1: the pure-v1 backend tracks (freezer) and empties the container" {
        need_test_switches
        hybrid_only
        unit v1 <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c '$H fork-orphans 10 120 >/dev/null; echo ready; exec $H ignore-term 30'
StopTimeoutSec=1

[Resources]
PidsMax=100
EOF
        CCSUP_TEST_CGROUP_MODE=v1 ccsup_start v1 --log-level=debug
        wait_for_output '^ready$'
        local pid
        for pid in $(tagged_pids); do
                expect_equal "freezer path of $pid" "$CG/v1.ctr" "$(v1_path "$pid" freezer)"
                expect_equal "pids path of $pid" "$CG/v1.ctr" "$(v1_path "$pid" pids)"
                # not placed in the cgroup2 tree: v1 ignores it
                [[ $(v2_path "$pid") != "$CG"/* ]] || { echo "in the cgroup2 tree"; false; }
        done
        expect_equal "pids.max" 100 "$(cat "/sys/fs/cgroup/pids$CG/v1.ctr/pids.max")"
        kill -TERM "$CCSUPD_PID"
        wait_exit "$CCSUPD_PID" 15
        expect_status 137
        expect_stderr_has ", v1)"
        expect_nothing_left
}

@test "CCSUP_TEST_NO_CLONE3: the clone() + pidfd_open() fallback places every process in the cgroup" {
        need_test_switches
        unit fallback <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c '$H fork-orphans 5 60 >/dev/null; cat /proc/[0-9]*/cgroup | cut -d: -f3 | sort -u'
EOF
        CCSUP_TEST_NO_CLONE3=1 ccsup_run fallback --log-level=debug
        expect_status 0
        expect_stderr_has "(clone, cgroup"
        expect_equal "cgroup paths of all processes inside" "/" "$output"
        expect_nothing_left
}
