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
