#!/usr/bin/env bats
# Bounds on what one unit can take from the host (issue 13, item 5):
# every tmpfs a unit does not size gets MemoryMax=, else
# ccsupd's --tmpfs-size (10% of RAM by default), instead of the kernel's half
# of the RAM each.

load sup-helpers

setup_file() { run_setup_file; }
setup() { sup_setup; }
teardown() { sup_teardown; }

# ------------------------------------------------------------------ tmpfs

# kib_of MOUNTPOINT: the 1K-blocks column of `df -k` inside the container, from
# $output (before a line INODES)
kib_of() {
        awk -v mp="$1" '/^INODES$/ { exit } $1 != "Filesystem" && $NF == mp { print $2 }' <<<"$output"
}

# inodes_of MOUNTPOINT: the Inodes column of `df -i`, after the line INODES
inodes_of() {
        awk -v mp="$1" '/^INODES$/ { on = 1 } on && $NF == mp { print $2 }' <<<"$output"
}

# The kernel rounds a tmpfs size up to whole pages: KiB of PERMYRIAD/10000 of the RAM.
ram_share_kib() {
        local total page
        total=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
        page=$(($(getconf PAGESIZE) / 1024))
        echo $(((total * 1024 / 10000 * $1 + page * 1024 - 1) / (page * 1024) * page))
}

# expect_kib MOUNTPOINT WANT: df shows WANT KiB, give or take a page
expect_kib() {
        local got
        got=$(kib_of "$1")
        [[ -n $got ]] || { echo "no df line for $1"; false; }
        ((got >= $2 - 4 && got <= $2 + 4)) || { echo "$1: $got KiB, expected $2 KiB"; false; }
}

df_unit() {
        unit "$1" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'df -k / /scratch /sized; echo INODES; df -i / /scratch /sized'

[Mounts]
Tmpfs=/scratch
Tmpfs=/sized:size=3M
$2
EOF
}

@test "tmpfs: the writable root and Tmpfs= without size= get 10% of the RAM, size= wins" {
        df_unit sizes ""
        ccsup_run sizes
        expect_status 0
        local want
        want=$(ram_share_kib 1000)
        expect_kib / "$want"
        expect_kib /scratch "$want"
        expect_kib /sized 3072
}

@test "tmpfs: MemoryMax= sizes them, also over --tmpfs-size; size= still wins" {
        df_unit memmax $'\n[Resources]\nMemoryMax=48M'
        ccsup_run memmax --tmpfs-size=20M
        expect_status 0
        expect_kib / 49152
        expect_kib /scratch 49152
        expect_kib /sized 3072
}

@test "tmpfs: --tmpfs-size=SIZE and --tmpfs-size=PERCENT%; one inode per 4K, at least 4096" {
        df_unit opt ""
        ccsup_run opt --tmpfs-size=20M
        expect_status 0
        expect_kib / 20480
        expect_kib /scratch 20480
        expect_kib /sized 3072
        expect_equal "inodes of /" 5120 "$(inodes_of /)"
        expect_equal "inodes of /scratch" 5120 "$(inodes_of /scratch)"
        expect_equal "inodes of /sized" 4096 "$(inodes_of /sized)"
        ccsup_run opt --tmpfs-size=2.5%
        expect_status 0
        expect_kib / "$(ram_share_kib 250)"
        expect_kib /scratch "$(ram_share_kib 250)"
}

@test "tmpfs: the daemon's --tmpfs-size reaches its containers" {
        unit d <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'df -k / /scratch >/out/df; trap "exit 0" TERM; while :; do sleep 0.05; done'

[Mounts]
Bind=$T/out:/out
Tmpfs=/scratch
EOF
        sup_start --tmpfs-size=24M
        wait_state d running
        wait_file "$T/out/df" 10 3
        output=$(<"$T/out/df")
        expect_kib / 24576
        expect_kib /scratch 24576
}

@test "tmpfs: the bound holds: writing past it into / and a Tmpfs= fails with ENOSPC" {
        plain_unit fill "/bin/sh -c 'for d in / /scratch; do dd if=/dev/zero of=\$d/big bs=1M count=16 2>/dev/null && echo \$d fit || echo \$d full; done'"
        echo $'\n[Mounts]\nTmpfs=/scratch' >>"$T/units/fill.unit"
        ccsup_run fill --tmpfs-size=8M
        expect_status 0
        expect_line "/ full"
        expect_line "/scratch full"
        ccsup_run fill --tmpfs-size=32M
        expect_line "/ fit"
        expect_line "/scratch fit"
}

@test "tmpfs: a bad --tmpfs-size and Tmpfs= size=0 are refused" {
        plain_unit x "/bin/true"
        local bad
        for bad in 0 101% 0% -1M lots; do
                ccsup_run x "--tmpfs-size=$bad"
                expect_status 2
                expect_stderr_has "--tmpfs-size: invalid size \`$bad\`"
        done
        unit zero <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/true

[Mounts]
Tmpfs=/scratch:size=0
EOF
        ccsup_run zero
        [[ $status -ne 0 ]]
        expect_stderr_has "invalid tmpfs size \`0\`"
}
