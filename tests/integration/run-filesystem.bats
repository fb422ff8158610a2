#!/usr/bin/env bats
# ccsupd --run: the container's filesystem: /proc, /sys, /dev, [Mounts], masked
# and read-only paths, pivot_root, file descriptors and cwd, no leaks to the host.

load run-helpers

setup_file() { run_setup_file; }
setup() { run_setup; }
teardown() { run_teardown; }

# mount_of MOUNTPOINT: "fstype options" of the topmost mount there, from the
# container's mountinfo in $output
mount_of() {
        awk -v mp="$1" '{ for (i = 7; i <= NF && $i != "-"; i++) ; if (i >= NF) next; if ($5 == mp) r = $(i+1) " " $6 } END { print r }' <<<"$output"
}

# has_opt "rw,nosuid,..." OPT
has_opt() {
        [[ ,$1, == *,$2,* ]]
}

@test "/proc is a proc mount of the container's PID namespace" {
        plain_unit proc "/bin/sh -c 'cat /proc/self/mountinfo; echo PIDS; $H pids; true'"
        ccsup_run proc
        expect_status 0
        local m
        m=$(mount_of /proc)
        [[ $m == "proc "* ]] || { echo "/proc: '$m'"; false; }
        # sh (1) and the helper only
        local pids=${output##*PIDS$'\n'}
        [[ $pids =~ ^1\ [0-9]+$ ]] || { echo "PIDs: $pids"; false; }
}

@test "/sys is mounted read-only" {
        plain_unit sys "/bin/sh -c 'cat /proc/self/mountinfo; $H write /sys/ccsup-test'"
        ccsup_run sys
        local m
        m=$(mount_of /sys)
        [[ $m == "sysfs "* ]] || { echo "/sys: '$m'"; false; }
        has_opt "${m#* }" ro || { echo "/sys is not read-only: $m"; false; }
        expect_line "write /sys/ccsup-test: EROFS (Read-only file system)"
}

@test "/dev holds exactly null zero full random urandom tty, pts, shm, mqueue and the usual symlinks" {
        plain_unit dev "$H lsdir /dev"
        ccsup_run dev
        expect_status 0
        local sorted
        sorted=$(sort <<<"$output")
        echo "$sorted"
        local want=("null c 1:3" "zero c 1:5" "full c 1:7" "random c 1:8"
                "urandom c 1:9" "tty c 5:0")
        local w
        for w in "${want[@]}"; do
                grep -q "^$w " <<<"$sorted" || { echo "missing device: $w"; false; }
        done
        grep -q '^pts d ' <<<"$sorted"
        grep -q '^shm d ' <<<"$sorted"
        grep -q '^mqueue d ' <<<"$sorted"
        grep -qx 'fd l /proc/self/fd' <<<"$sorted"
        grep -qx 'stdin l /proc/self/fd/0' <<<"$sorted"
        grep -qx 'stdout l /proc/self/fd/1' <<<"$sorted"
        grep -qx 'stderr l /proc/self/fd/2' <<<"$sorted"
        grep -qx 'ptmx l pts/ptmx' <<<"$sorted"
        # no other device node: no host device leaks in
        local extra
        extra=$(awk '$2 == "c" || $2 == "b"' <<<"$sorted" |
                grep -vE '^(null|zero|full|random|urandom|tty) c ' || true)
        [[ -z $extra ]] || { echo "unexpected devices: $extra"; false; }
}

@test "/dev/pts is a new devpts instance, /dev/shm a tmpfs, /dev/mqueue an mqueue" {
        plain_unit pts "/bin/sh -c 'cat /proc/self/mountinfo; exec 3<>/dev/ptmx; echo PTS; ls /dev/pts; $H write /dev/shm/x'"
        ccsup_run pts
        expect_status 0
        [[ $(mount_of /dev/pts) == "devpts "* ]]
        [[ $(mount_of /dev/shm) == "tmpfs "* ]]
        [[ $(mount_of /dev/mqueue) == "mqueue "* ]]
        # a private instance: the first pty opened inside is number 0, and no
        # host terminal is visible
        local pts=${output##*PTS$'\n'}
        pts=$(head -n -1 <<<"$pts" | sort | xargs)
        expect_equal "/dev/pts after opening one pty" "0 ptmx" "$pts"
        expect_line "write /dev/shm/x: ok"
}

@test "masked paths read empty" {
        local p masked=(/proc/acpi /proc/asound /proc/kcore /proc/keys /proc/latency_stats
                /proc/timer_list /proc/timer_stats /proc/sched_debug /proc/scsi /proc/interrupts
                /sys/firmware /sys/devices/virtual/powercap)
        local script=""
        for p in "${masked[@]}"; do
                # only what exists here can be masked
                if [[ -d $p ]]; then
                        script+="$H count-entries $p; "
                elif [[ -e $p ]]; then
                        script+="$H read-size $p; "
                fi
        done
        [[ -n $script ]] || skip "none of the masked paths exists on this kernel"
        plain_unit masked "/bin/sh -c '$script'"
        ccsup_run masked
        expect_status 0
        local l
        for l in "${lines[@]}"; do
                [[ $l == *": 0 bytes" || $l == *": 0 entries" ]] || { echo "not masked: $l"; false; }
        done
        [[ ${#lines[@]} -eq $(grep -o "$H" <<<"$script" | wc -l) ]]
}

@test "read-only paths: /proc/sys, /proc/sysrq-trigger, /proc/bus, /proc/fs, /proc/irq" {
        plain_unit ro "/bin/sh -c 'cat /proc/self/mountinfo; $H open-w /proc/sys/kernel/hostname; $H open-w /proc/sysrq-trigger'"
        ccsup_run ro
        expect_line "open-w /proc/sys/kernel/hostname: EROFS (Read-only file system)"
        if [[ -e /proc/sysrq-trigger ]]; then
                expect_line "open-w /proc/sysrq-trigger: EROFS (Read-only file system)"
        fi
        local p m
        for p in /proc/sys /proc/bus /proc/fs /proc/irq; do
                [[ -e $p ]] || continue
                m=$(mount_of "$p")
                [[ -n $m ]] || { echo "$p is not a (read-only) mount"; false; }
                has_opt "${m#* }" ro || { echo "$p is not read-only: $m"; false; }
        done
}

@test "pivot_root: the host's root is gone, only the container's mounts remain" {
        echo secret >"$T/host-marker"
        plain_unit pivot "/bin/sh -c 'cat /proc/self/mountinfo; echo END; cat $T/host-marker; cat /etc/os-release'"
        ccsup_run pivot
        [[ $output != *secret* ]] || { echo "a host file is visible inside"; false; }
        expect_output_has 'NAME="ccsup test image"'
        local mounts
        mounts=$(sed '/^END$/,$d' <<<"$output" | awk '{ print $5 }')
        [[ -n $mounts ]]
        local mp bad=""
        for mp in $mounts; do
                [[ $mp == / || $mp == /proc || $mp == /proc/* || $mp == /sys || $mp == /sys/* ||
                        $mp == /dev || $mp == /dev/* ]] || bad+=" $mp"
        done
        [[ -z $bad ]] || { echo "mounts that are not the container's:$bad"; false; }
        # exactly one root mount
        [[ $(grep -cx / <<<"$mounts") -eq 1 ]]
}

@test "Bind= read-only: the host directory is readable, not writable" {
        mkdir "$T/src"
        echo from-host >"$T/src/file"
        unit bind <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'cat /mnt/file; $H write /mnt/file inside; $H write /mnt/new'

[Mounts]
Bind=$T/src:/mnt:ro
EOF
        ccsup_run bind
        expect_line "from-host"
        expect_line "write /mnt/file: EROFS (Read-only file system)"
        expect_line "write /mnt/new: EROFS (Read-only file system)"
        expect_equal "host file" from-host "$(cat "$T/src/file")"
        [[ ! -e $T/src/new ]]
}

@test "Bind= read-write: writes reach the host directory" {
        mkdir "$T/src"
        unit bind <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H write /srv/from-container hello

[Mounts]
Bind=$T/src:/srv
EOF
        ccsup_run bind
        expect_status 0
        expect_equal "file written inside" hello "$(cat "$T/src/from-container")"
}

@test "Bind= with '-': a missing source is skipped" {
        unit bind <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H write /mnt/x

[Mounts]
Bind=-/nonexistent-ccsup-source:/mnt
EOF
        ccsup_run bind
        expect_status 0
        expect_line "write /mnt/x: ok"
}

@test "Tmpfs= with size and mode" {
        unit tmpfs <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'cat /proc/self/mountinfo; $H lsdir /; dd if=/dev/zero of=/mnt/big bs=1024 count=2048 2>/dev/null && echo dd-fit || echo dd-full'

[Mounts]
Tmpfs=/mnt:size=1M,mode=1777
EOF
        ccsup_run tmpfs
        expect_status 0
        local m
        m=$(mount_of /mnt)
        [[ $m == "tmpfs "* ]] || { echo "/mnt: '$m'"; false; }
        expect_line "mnt d 1777"
        expect_line "dd-full"
        [[ $output == *size=1024k* ]] || { echo "no size=1024k in the mount options"; false; }
}

@test "Volume=: created under --state-dir, kept across runs" {
        unit vol <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'cat /srv/counter 2>/dev/null; echo run >>/srv/counter'

[Mounts]
Volume=data:/srv
EOF
        ccsup_run vol
        expect_status 0
        [[ -z $output ]]
        ccsup_run vol
        expect_status 0
        expect_equal "volume content in run 2" "run" "$output"
        ccsup_run vol
        expect_equal "volume content in run 3" "run"$'\n'"run" "$output"
        # it lives below the state directory
        local f
        f=$(find "$T/state" -name counter -path '*data*')
        [[ -n $f ]] || { echo "no volume 'data' with the file under --state-dir"; find "$T/state"; false; }
}

@test "ReadOnly=yes: missing mount points of Bind=, Tmpfs=, Volume= are made, the root stays read-only and the image untouched" {
        mkdir "$T/www"
        echo served >"$T/www/index.html"
        echo config >"$T/app.conf"
        local before
        before=$(cd "$IMAGE" && find . | sort | sha256sum)
        unit ro <<EOF
[Image]
Image=$IMAGE
ReadOnly=yes

[Process]
Exec=/bin/sh -c 'cat /srv/www/index.html /etc/app/app.conf; $H write /var/cache/x hi; $H write /data/v/x hi; $H write /newfile; $H write /srv/other; cat /proc/self/mountinfo'

[Mounts]
Bind=$T/www:/srv/www:ro
Bind=$T/app.conf:/etc/app/app.conf:ro
Tmpfs=/var/cache
Volume=vol:/data/v
EOF
        ccsup_run ro
        expect_status 0
        expect_line served
        expect_line config
        expect_line "write /var/cache/x: ok"
        expect_line "write /data/v/x: ok"
        expect_line "write /newfile: EROFS (Read-only file system)"
        expect_line "write /srv/other: EROFS (Read-only file system)"
        local m
        m=$(mount_of /)
        has_opt "${m#* }" ro || { echo "the root mount is not read-only: $m"; false; }
        expect_equal "image tree" "$before" "$(cd "$IMAGE" && find . | sort | sha256sum)"
        [[ ! -e $IMAGE/srv/www && ! -e $IMAGE/etc/app ]]
}

@test "ReadOnly=yes with every mount point present: the image itself, bound read-only" {
        unit ro <<EOF
[Image]
Image=$IMAGE
ReadOnly=yes

[Process]
Exec=/bin/sh -c '$H write /tmp/x; cat /proc/self/mountinfo'

[Mounts]
Tmpfs=/run
EOF
        ccsup_run ro
        expect_status 0
        expect_line "write /tmp/x: EROFS (Read-only file system)"
        # no overlay: the fast path, a read-only bind of the directory
        local m
        m=$(mount_of /)
        [[ $m != overlay* ]] || { echo "root: '$m'"; false; }
        has_opt "${m#* }" ro || { echo "the root mount is not read-only: $m"; false; }
}

@test "the container gets exactly the fds 0, 1 and 2" {
        plain_unit fds "$H fds"
        # an inherited fd without CLOEXEC that must not reach the container
        exec 7<"$BATS_TEST_FILENAME"
        ccsup_run fds
        exec 7<&-
        expect_status 0
        expect_equal "open fds" "0 1 2" "$output"
}

@test "the cwd is inside the container's root even when ccsupd runs elsewhere" {
        plain_unit cwd "$H cwd"
        cd "$T/units"
        ccsup_run cwd
        expect_status 0
        expect_equal cwd "/" "$output"
}

@test "100 runs leave the host's mount table exactly as it was" {
        mkdir "$T/src"
        plain_unit true /bin/true
        unit mounts <<EOF
[Image]
Image=$IMAGE
Persistent=yes

[Process]
Exec=/bin/true

[Mounts]
Bind=$T/src:/mnt:ro
Tmpfs=/tmp
Volume=v:/srv
EOF
        local i rc
        for ((i = 0; i < 90; i++)); do
                rc=0
                timeout 10 "$CCSUPD" --run="$T/units/true.unit" $(ccsupd_args) \
                        </dev/null >"$T/stdout" 2>"$T/stderr" || rc=$?
                [[ $rc -eq 0 ]] || { echo "run $i: status $rc"; cat "$T/stderr"; false; }
        done
        for ((i = 0; i < 10; i++)); do
                rc=0
                timeout 10 "$CCSUPD" --run="$T/units/mounts.unit" $(ccsupd_args) \
                        </dev/null >"$T/stdout" 2>"$T/stderr" || rc=$?
                [[ $rc -eq 0 ]] || { echo "run $i with mounts: status $rc"; cat "$T/stderr"; false; }
        done
        expect_nothing_left
}
