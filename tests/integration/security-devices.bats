#!/usr/bin/env bats
# Device nodes (issue 13, item 1): a container reaches only the devices of
# its own /dev and those of Devices=. A real loop device of the test's own
# (losetup on a small file) stands for a host disk, c 1:11 for /dev/kmsg:
#   - an image layer carrying their nodes: the nodes are dropped at import;
#   - a directory image, a Bind= carrying them: nodev, they never open, for
#     root and for User=;
#   - every mount but /dev and its pts is nodev (/proc/self/mountinfo);
#   - the device allowlist of the cgroup (a BPF device program on v2 and
#     hybrid, the devices controller on v1): even with CAP_MKNOD, only the
#     default nodes can be made and opened in /dev;
#   - Devices= opens exactly the device it names, with the access it gives.
# The BPF program alone, on a pure cgroup2 mount too: tests/unit/test-cgroup.

load run-helpers
load image-helpers

MARKER=ccsup-loop-marker

setup_file() {
        run_setup_file || return
        is_root || return 0
        # the loop device, over a file holding the marker
        export LOOP_FILE=$BATS_FILE_TMPDIR/disk.img
        printf '%s' "$MARKER" >"$LOOP_FILE"
        truncate -s 1M "$LOOP_FILE"
        export LOOP
        LOOP=$(losetup -f --show "$LOOP_FILE") || return
        export LOOP_MAJ=$((0x$(stat -c %t "$LOOP"))) LOOP_MIN=$((0x$(stat -c %T "$LOOP")))
        # the nodes, world-readable and writable, in the (directory) image
        mkdir -p "$IMAGE/ccsup-dev"
        mknod -m 0666 "$IMAGE/ccsup-dev/loop" b "$LOOP_MAJ" "$LOOP_MIN"
        mknod -m 0666 "$IMAGE/ccsup-dev/kmsg" c 1 11
        # and in the one layer of an OCI image (python's tarfile keeps nodes)
        export LAYOUT=$BATS_FILE_TMPDIR/layout
        mk_tar "$BATS_FILE_TMPDIR/layer.tar" "$IMAGE"
        tar -tvf "$BATS_FILE_TMPDIR/layer.tar" | grep -q '^b.*ccsup-dev/loop$' || return
        mk_oci_layout "$LAYOUT" application/vnd.oci.image.layer.v1.tar /bin/true \
                "$BATS_FILE_TMPDIR/layer.tar"
}

teardown_file() {
        [[ -n ${LOOP:-} ]] && losetup -d "$LOOP"
        return 0
}

setup() {
        run_setup
        [[ -b ${LOOP:-} ]] || { echo "no loop device (setup_file failed)" >&2; return 1; }
}
teardown() { run_teardown; }

# the cgroup backends this host can run: the default one, and on a hybrid
# host the pure-v1 one too (the devices controller instead of BPF)
cgroup_modes() {
        echo default
        has_test_switches && [[ -d /sys/fs/cgroup/unified && -d /sys/fs/cgroup/devices ]] && echo v1
        return 0
}

# run_in MODE NAME: ccsup_run NAME with the cgroup backend of MODE
run_in() {
        if [[ $1 == v1 ]]; then
                CCSUP_TEST_CGROUP_MODE=v1 ccsup_run "$2"
        else
                ccsup_run "$2"
        fi
}

# open_rows PATH...: the helper's open-rw of each path, in one shell
open_rows() {
        local p cmd=""
        for p in "$@"; do cmd+="$H open-rw $p; "; done
        echo "/bin/sh -c '$cmd true'"
}

# expect_refused PATH ERRNO: neither open for reading nor for writing
expect_refused() {
        expect_line "open-r $1: $2"
        expect_line "open-w $1: $2"
}

@test "an image layer's device nodes are dropped at import: not in the store, not in the container" {
        unit layered <<EOF
[Image]
Image=oci:$LAYOUT:latest

[Process]
Exec=$(open_rows /ccsup-dev/loop /ccsup-dev/kmsg)
EOF
        ccsup_run layered
        expect_status 0
        local p
        for p in /ccsup-dev/loop /ccsup-dev/kmsg; do
                expect_line "open-r $p: ENOENT (No such file or directory)"
        done
        # the rest of the layer is there (the helper ran from it)
        [[ -d $T/state/images/layers ]]
        local nodes
        nodes=$(find "$T/state/images" \( -type b -o -type c \) -printf '%p %Y\n')
        expect_equal "device nodes in the store" "" "$nodes"
        expect_nothing_left
}

@test "the nodes of a directory image never open (nodev root): root, User=, ReadOnly=yes" {
        local variant
        for variant in root user read-only; do
                unit "img-$variant" <<EOF
[Image]
Image=$IMAGE
$([[ $variant == read-only ]] && echo ReadOnly=yes)

[Process]
Exec=$(open_rows /ccsup-dev/loop /ccsup-dev/kmsg)
$([[ $variant == user ]] && echo User=65534)
EOF
                ccsup_run "img-$variant"
                echo "# $variant"
                # nodev: EACCES, whatever the node's mode and the user
                expect_refused /ccsup-dev/loop "EACCES (Permission denied)"
                expect_refused /ccsup-dev/kmsg "EACCES (Permission denied)"
                expect_nothing_left
        done
}

@test "every mount but /dev and /dev/pts is nodev; a node in a Bind= does not open" {
        mkdir -p "$T/data"
        mknod -m 0666 "$T/data/loop" b "$LOOP_MAJ" "$LOOP_MIN"
        unit mounts <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c '$H open-rw /data/loop; $H open-rw /vol/loop; cat /proc/self/mountinfo'
User=65534

[Mounts]
Bind=$T/data:/data
Bind=$T/data:/data-ro:ro
Volume=vol:/vol
Tmpfs=/scratch
Tmpfs=/tmp
EOF
        # the volume gets a node too (from the host side)
        mkdir -p "$T/state/volumes/vol"
        mknod -m 0666 "$T/state/volumes/vol/loop" b "$LOOP_MAJ" "$LOOP_MIN"
        ccsup_run mounts
        expect_status 0
        expect_refused /data/loop "EACCES (Permission denied)"
        expect_refused /vol/loop "EACCES (Permission denied)"
        # mount point ($5), per-mount options ($6), fstype after " - "
        local l mp opts fstype bad="" seen=""
        for l in "${lines[@]}"; do
                [[ $l == *" - "* ]] || continue
                read -r _ _ _ _ mp opts _ <<<"${l%% - *}"
                read -r fstype _ <<<"${l#* - }"
                seen+=" $mp"
                # the container's /dev and its pts hold its own nodes; the
                # masked files are the host's /dev/null itself (devtmpfs)
                [[ $mp == /dev || $mp == /dev/pts || $fstype == devtmpfs ]] && continue
                [[ ,$opts, == *,nodev,* ]] || bad+=" $mp($opts)"
        done
        local want
        for want in / /proc /sys /dev/shm /dev/mqueue /data /data-ro /vol /scratch /tmp; do
                [[ "$seen " == *" $want "* ]] || { echo "no mount at $want:$seen"; false; }
        done
        expect_equal "mounts without nodev" "" "$bad"
        expect_nothing_left
}

@test "the device allowlist is in every container's cgroup, also without Devices= and CAP_MKNOD" {
        local mode name
        for mode in $(cgroup_modes); do
                name=plain-$mode
                unit "$name" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'echo ready; exec $H wait-signal 30'
EOF
                if [[ $mode == v1 ]]; then
                        CCSUP_TEST_CGROUP_MODE=v1 ccsup_start "$name"
                else
                        ccsup_start "$name"
                fi
                wait_for_output '^ready$'
                echo "# cgroup backend: $mode"
                if [[ $mode == v1 ]]; then
                        # the devices controller: the default nodes, nothing else
                        expect_equal devices.list \
                                "c 136:* rwm c 1:3 rwm c 1:5 rwm c 1:7 rwm c 1:8 rwm c 1:9 rwm c 5:0 rwm c 5:2 rwm" \
                                "$(sort "/sys/fs/cgroup/devices$CG/$name.ctr/devices.list" | xargs)"
                else
                        # one BPF device program, on the container's cgroup2 cgroup
                        run "$CCSUP_TESTHELPER" device-programs "$(cgroup2_root)$CG/$name.ctr"
                        expect_equal "programs attached" "device-programs: 1" "$output"
                fi
                kill -TERM "$CCSUPD_PID"
                wait_exit "$CCSUPD_PID" 15
                expect_status 0
                expect_nothing_left
        done
}

@test "the device allowlist: with CAP_MKNOD only the default nodes can be made and opened in /dev" {
        local mode
        for mode in $(cgroup_modes); do
                unit mknod <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'for n in "loop b $LOOP_MAJ $LOOP_MIN" "kmsg c 1 11" "null2 c 1 3"; do set -- \$n; mknod -m 0666 /dev/\$1 \$2 \$3 \$4 2>&1 && echo made \$1; $H open-rw /dev/\$1; done'

[Security]
AddCapabilities=MKNOD
EOF
                run_in "$mode" mknod
                echo "# cgroup backend: $mode"
                # not made: EPERM from the allowlist, not from a missing capability
                expect_output_has "mknod: /dev/loop: Operation not permitted"
                expect_output_has "mknod: /dev/kmsg: Operation not permitted"
                expect_no_line "made loop"
                expect_no_line "made kmsg"
                if [[ ${CCSUP_TEST_USERNS:-} == 1 ]]; then
                        # in a user namespace the kernel makes no node at all
                        expect_output_has "mknod: /dev/null2: Operation not permitted"
                        expect_no_line "made null2"
                else
                        # a node of the list (c 1:3, /dev/null's) is made and opens
                        expect_line "made null2"
                        expect_line "open-r /dev/null2: ok"
                        expect_line "open-w /dev/null2: ok"
                fi
                expect_nothing_left
        done
}

@test "the device allowlist: Devices=...:r gives the read, the write is refused (EPERM)" {
        # the node is in /dev, which is not nodev: the refusal is the
        # allowlist's ("b MAJ:MIN r"), on open, whatever the node's mode
        local mode
        for mode in $(cgroup_modes); do
                unit handed <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$(open_rows /dev/disk0)

[Security]
Devices=$LOOP:/dev/disk0:r
EOF
                run_in "$mode" handed
                echo "# cgroup backend: $mode"
                expect_line "open-r /dev/disk0: ok"
                expect_line "open-w /dev/disk0: EPERM (Operation not permitted)"
                expect_nothing_left
        done
}

@test "Devices= pointing at the loop device opens it, for reading and writing" {
        local mode
        for mode in $(cgroup_modes); do
                unit devices <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c '$H open-rw /dev/disk0; head -c ${#MARKER} /dev/disk0; echo; printf written | dd of=/dev/disk0 bs=1 seek=512 conv=notrunc 2>/dev/null && echo write-ok; ls -l $LOOP 2>&1 | head -n1'

[Security]
Devices=$LOOP:/dev/disk0:rw
EOF
                run_in "$mode" devices
                echo "# cgroup backend: $mode"
                expect_status 0
                expect_line "open-r /dev/disk0: ok"
                expect_line "open-w /dev/disk0: ok"
                expect_line "$MARKER"
                expect_line write-ok
                # the host path itself is not there: only the named node
                expect_output_has "$LOOP: No such file or directory"
                expect_nothing_left
        done
        # what the container wrote reached the device
        sync
        [[ $(dd if="$LOOP" bs=1 skip=512 count=7 2>/dev/null) == written ]]
}
