#!/usr/bin/env bats
# [Resources]: every limit lands in the container's cgroup files, and the
# kernel enforces them: OOM kill (result oom-kill, exit 137), PidsMax= stops a
# fork bomb, CPUQuota= holds a CPU burner. On this project's hybrid hosts the
# limits go through the v1 controllers; pure v2 runs in `make check-vm`.

load run-helpers

setup_file() { run_setup_file; }
setup() { run_setup; }
teardown() { run_teardown; }

# cgfile CONTROLLER FILE: a file of the running container's cgroup, v1
# hierarchy CONTROLLER on v1/hybrid, the cgroup2 tree on v2
cgfile() {
        local name=$CTR
        if [[ -d /sys/fs/cgroup/$1 ]]; then
                cat "/sys/fs/cgroup/$1$CG/$name.ctr/$2"
        else
                cat "$(cgroup2_root)$CG/$name.ctr/$2"
        fi
}

v2() { [[ ! -d /sys/fs/cgroup/memory ]]; }

# The v1 blkio weight exists only with the BFQ I/O scheduler (blkio.weight
# or blkio.bfq.weight at the root); without it IOWeight= is a start error
# naming the controller (tested in "a limit the kernel refuses...").
have_blkio_weight() {
        v2 || [[ -e /sys/fs/cgroup/blkio/blkio.weight || -e /sys/fs/cgroup/blkio/blkio.bfq.weight ]]
}

@test "every [Resources] key is visible in the container's cgroup files" {
        local ioweight=IOWeight=500
        have_blkio_weight || ioweight=
        unit limits <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'echo ready; exec $H wait-signal 30'

[Resources]
MemoryMax=64M
MemoryHigh=48M
MemorySwapMax=16M
CPUQuota=20%
CPUWeight=200
CPUSet=0
PidsMax=50
$ioweight
EOF
        CTR=limits
        ccsup_start limits
        wait_for_output '^ready$'
        if v2; then
                expect_equal memory.max $((64 << 20)) "$(cgfile memory memory.max)"
                expect_equal memory.high $((48 << 20)) "$(cgfile memory memory.high)"
                expect_equal memory.swap.max $((16 << 20)) "$(cgfile memory memory.swap.max)"
                expect_equal cpu.max "20000 100000" "$(cgfile cpu cpu.max)"
                expect_equal cpu.weight 200 "$(cgfile cpu cpu.weight)"
                expect_equal cpuset.cpus 0 "$(cgfile cpuset cpuset.cpus)"
                expect_equal pids.max 50 "$(cgfile pids pids.max)"
        else
                expect_equal memory.limit_in_bytes $((64 << 20)) "$(cgfile memory memory.limit_in_bytes)"
                expect_equal memory.memsw.limit_in_bytes $((80 << 20)) \
                        "$(cgfile memory memory.memsw.limit_in_bytes)"
                expect_equal cpu.cfs_quota_us 20000 "$(cgfile cpu cpu.cfs_quota_us)"
                expect_equal cpu.cfs_period_us 100000 "$(cgfile cpu cpu.cfs_period_us)"
                expect_equal "cpu.shares (weight 200)" 2048 "$(cgfile cpu cpu.shares)"
                expect_equal cpuset.cpus 0 "$(cgfile cpuset cpuset.cpus)"
                expect_equal pids.max 50 "$(cgfile pids pids.max)"
                local w
                if [[ -n $ioweight ]]; then
                        w=$(cgfile blkio blkio.weight 2>/dev/null || cgfile blkio blkio.bfq.weight)
                        expect_equal "blkio weight (IOWeight=500 on 10..1000)" 50 "${w##* }"
                fi
                # logged once, ignored
                grep -q "MemoryHigh= is ignored" "$T/bg.err" ||
                        { echo "no warning about MemoryHigh= on v1"; false; }
        fi
        kill -TERM "$CCSUPD_PID"
        wait_exit "$CCSUPD_PID" 15
        expect_status 0
        expect_nothing_left
}

@test "MemoryMax=: a memory hog is OOM-killed: exit 137 and oom-kill on stderr" {
        unit hog <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H hog-memory

[Resources]
MemoryMax=32M
MemorySwapMax=0
EOF
        ccsup_run hog
        expect_status 137
        expect_stderr_has "oom-kill"
        expect_nothing_left
}

@test "PidsMax=: a fork bomb stops at the limit" {
        unit bomb <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H fork-bomb 200

[Resources]
PidsMax=20
EOF
        ccsup_run bomb
        expect_status 0
        local forked
        forked=$(sed -n 's/^forked=\([0-9]*\) .*/\1/p' <<<"$output")
        echo "forked $forked of 200"
        ((forked < 20)) || { echo "PidsMax=20 did not hold"; false; }
        expect_output_has "error=EAGAIN"
        expect_nothing_left
}

@test "CPUQuota=20%: a CPU burner gets about 20% of one CPU" {
        unit burner <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H burn 4

[Resources]
CPUQuota=20%
EOF
        CTR=burner
        ccsup_start burner
        wait_for_output '^burning$'
        # CPU time of the cgroup over 3 s of wall time: cgroup2 cpu.stat (there
        # on every host: hybrid's tree too), in microseconds
        local f u0 u1 t0 t1 pct
        f=$(cgroup2_root)$CG/burner.ctr/cpu.stat
        u0=$(awk '$1 == "usage_usec" { print $2 }' "$f")
        t0=$(date +%s%6N)
        sleep 3
        u1=$(awk '$1 == "usage_usec" { print $2 }' "$f")
        t1=$(date +%s%6N)
        pct=$(((u1 - u0) * 100 / (t1 - t0)))
        echo "# CPUQuota=20%: the burner used ${pct}% of one CPU" >&3
        ((pct >= 10 && pct <= 35)) || { echo "used ${pct}%, expected about 20%"; false; }
        wait_exit "$CCSUPD_PID" 15
        expect_status 0
        expect_nothing_left
}

@test "Devices=: on v1 the devices cgroup allows exactly the default nodes and the device" {
        need_test_switches
        # (v2 and hybrid: a BPF device program, tests/integration/security-devices.bats)
        [[ -d /sys/fs/cgroup/devices ]] || skip "no v1 devices hierarchy"
        unit dev <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'echo ready; exec $H wait-signal 30'

[Security]
Devices=/dev/loop-control:/dev/lc:rw
EOF
        CTR=dev
        # a hybrid host runs the pure-v1 backend for it
        CCSUP_TEST_CGROUP_MODE=v1 ccsup_start dev
        wait_for_output '^ready$'
        local list
        list=$(cgfile devices devices.list | sort | xargs)
        expect_equal devices.list \
                "c 10:237 rw c 136:* rwm c 1:3 rwm c 1:5 rwm c 1:7 rwm c 1:8 rwm c 1:9 rwm c 5:0 rwm c 5:2 rwm" \
                "$list"
        kill -TERM "$CCSUPD_PID"
        wait_exit "$CCSUPD_PID" 15
        expect_status 0
        expect_nothing_left
}

@test "a limit the kernel refuses fails the start, naming the key and the controller" {
        # (a controller missing altogether: tests/unit/test-cgroup, on a
        # cgroup2 mount without it)
        unit badset <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/true

[Resources]
CPUSet=63
EOF
        ccsup_run badset
        expect_status 125
        expect_stderr_has "CPUSet=: cpuset controller"
        expect_nothing_left
        have_blkio_weight && return 0
        # no BFQ: no blkio weight to set
        unit iow <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/true

[Resources]
IOWeight=500
EOF
        ccsup_run iow
        expect_status 125
        expect_stderr_has "IOWeight=: the blkio controller is not available"
        expect_nothing_left
}
