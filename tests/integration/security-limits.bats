#!/usr/bin/env bats
# Bounds on what one unit or one image can take from the host (issue 13,
# items 5 and 6): every tmpfs a unit does not size gets MemoryMax=, else
# ccsupd's --tmpfs-size (10% of RAM by default), instead of the kernel's half
# of the RAM each; and an image import stops, leaving the store as it was,
# when it unpacks to more than --image-size-max or would fill the store's
# filesystem.

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

# ------------------------------------------------------------------ image unpacking

# mk_bomb DIR LAYERS FILES MIB: an OCI layout (tag "latest") of LAYERS gzip'd
# layers, each FILES files of MIB MiB of zeros (a few KiB compressed), with
# true digests and diff IDs: a valid image, only big once unpacked.
mk_bomb() {
        python3 - "$@" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
d, nl, nf, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.makedirs(d + "/blobs/sha256", exist_ok=True)
class Zeros(io.RawIOBase):
    def __init__(self, n): self.left = n
    def readable(self): return True
    def readinto(self, b):
        k = min(len(b), self.left); b[:k] = bytes(k); self.left -= k; return k
def blob(data):
    h = hashlib.sha256(data).hexdigest()
    open(f"{d}/blobs/sha256/{h}", "wb").write(data)
    return "sha256:" + h, len(data)
layers, diffs = [], []
for l in range(nl):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for f in range(nf):
            ti = tarfile.TarInfo(f"l{l}-f{f}")
            ti.size, ti.mode = mib << 20, 0o644
            t.addfile(ti, Zeros(mib << 20))
    tar = raw.getvalue()
    diffs.append("sha256:" + hashlib.sha256(tar).hexdigest())
    dg, n = blob(gzip.compress(tar, 9))
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": dg, "size": n})
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/x"]},
                  "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
cd, cn = blob(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
                  "layers": layers}).encode()
md, mn = blob(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": md, "size": mn, "annotations": {"org.opencontainers.image.ref.name": "latest"}}]},
          open(d + "/index.json", "w"))
open(d + "/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
PY
}

# every path below the store with its type and size (the lock file's content aside)
store_listing() {
        (cd "$1/images" && find . -printf '%p %y %s\n' | sort)
}

ctl_image() { "$CCSUPCTL" image --state-dir="$T/state" "$@"; }

# A store that exists, with one small image in it, listed in $T/before.
store_with_one_image() {
        mk_bomb "$T/small" 1 1 1
        run ctl_image import "oci:$T/small" small:1
        assert_status 0
        store_listing "$T/state" >"$T/before"
}

expect_store_unchanged() {
        store_listing "$T/state" >"$T/after"
        diff "$T/before" "$T/after" || { echo "the store changed"; false; }
}

@test "image: a layer past --image-size-max fails, naming the bound, and leaves the store as it was" {
        store_with_one_image
        mk_bomb "$T/bomb" 1 1 64
        du -sh "$T/bomb"
        run ctl_image --image-size-max=16M import "oci:$T/bomb" bomb:1
        echo "$output"
        assert_status 1
        [[ $output == *"oci layout \`$T/bomb\`: layer 1 of 1 (sha256:"*"): the image unpacks to more than 16M (--image-size-max)"* ]]
        expect_store_unchanged
        # The same image within the default bound: a valid one.
        run ctl_image import "oci:$T/bomb" bomb:1
        assert_status 0
        [[ -n $(find "$T/state/images/layers" -name l0-f0 -size 64M) ]]
}

@test "image: the bound is the image's: layers that pass it together fail, and the first one is not kept" {
        store_with_one_image
        mk_bomb "$T/bomb" 2 1 12
        run ctl_image --image-size-max=16M import "oci:$T/bomb" bomb:1
        echo "$output"
        assert_status 1
        [[ $output == *"layer 2 of 2 (sha256:"*"): the image unpacks to more than 16M (--image-size-max)"* ]]
        expect_store_unchanged
        run ctl_image --image-size-max=24M import "oci:$T/bomb" bomb:1
        assert_status 0
}

@test "image: a compressed archive past --image-size-max fails before its layers, nothing left in tmp/" {
        store_with_one_image
        mk_bomb "$T/bomb" 1 1 64
        # The blob is tiny; an archive member of zeros makes the archive itself a bomb.
        head -c 64M /dev/zero >"$T/bomb/padding"
        tar -C "$T/bomb" -cf - . | gzip -1 >"$T/bomb.tar.gz"
        run ctl_image --image-size-max=16M import "oci-archive:$T/bomb.tar.gz" bomb:1
        echo "$output"
        assert_status 1
        [[ $output == *"oci archive \`$T/bomb.tar.gz\` unpacks to more than 16M (--image-size-max)"* ]]
        expect_store_unchanged
}

@test "image: ccsupd --image-size-max bounds the import of Image=oci:… at start" {
        mk_bomb "$T/bomb" 1 1 64
        unit bomb <<EOF
[Image]
Image=oci:$T/bomb

[Process]
Exec=/x
EOF
        ccsup_run bomb --image-size-max=16M
        expect_status 125
        expect_stderr_has "the image unpacks to more than 16M (--image-size-max)"
        [[ -z $(ls -A "$T/state/images/layers") && -z $(ls -A "$T/state/images/tmp") ]] ||
                { find "$T/state/images"; false; }
        run "$CCSUPD" --image-size-max=lots --help
        assert_status 2
        [[ $output == *"--image-size-max: invalid size \`lots\`"* ]]
}

@test "image: the daemon's --image-size-max bounds its imports; the unit fails with the reason, the store stays clean" {
        mk_bomb "$T/bomb" 1 1 64
        unit bomb <<EOF
[Image]
Image=oci:$T/bomb

[Process]
Exec=/x

[Restart]
Policy=no
EOF
        sleeper ok
        sup_start --image-size-max=16M
        wait_state bomb failed 30
        wait_state ok running
        run ctl status bomb
        expect_output_has "the image unpacks to more than 16M (--image-size-max)"
        [[ -z $(ls -A "$T/state/images/layers") && -z $(ls -A "$T/state/images/tmp") ]] ||
                { find "$T/state/images"; false; }
}

# in_small_fs SIZE INODES CMD...: CMD with $T/state on a tmpfs of SIZE bytes and
# INODES inodes, in a private mount namespace (nothing is mounted on the host)
in_small_fs() {
        local size=$1 inodes=$2
        shift 2
        unshare -m --propagation private bash -c '
                mount -t tmpfs -o "size=$1,nr_inodes=$2" ccsup-test "$3" || exit 99
                shift 3
                "$@"' bash "$size" "$inodes" "$T/state" "$@"
}

small_fs_import() {
        local size=$1 inodes=$2 src=$3
        # shellcheck disable=SC2016
        in_small_fs "$size" "$inodes" bash -c '
                ccsupctl=$1 state=$2 src=$3 small=$4
                listing() { (cd "$state/images" && find . -printf "%p %y %s\n" | sort); }
                "$ccsupctl" image --state-dir="$state" import "oci:$small" small:1 >/dev/null || exit 98
                listing >"$state/../before"
                "$ccsupctl" image --state-dir="$state" import "$src" big:1
                echo "status=$?"
                listing >"$state/../after"
                df -k "$state"' bash "$CCSUPCTL" "$T/state" "$src" "$T/small"
}

@test "image: an import that would fill the store's filesystem stops, keeps a reserve and leaves nothing" {
        mk_bomb "$T/small" 1 1 1
        # 10 files of 6M: the first ones fit in 40M, the reserve stops the rest.
        mk_bomb "$T/bomb" 1 10 6
        run small_fs_import 40M 10000 "oci:$T/bomb"
        echo "$output"
        [[ $output == *"status=1"* ]]
        [[ $output == *"layer 1 of 1 (sha256:"*"): unpacking into \`$T/state/images\`: \`l0-f"*"\` (6M) would fill the filesystem: "*" available, 2M kept free"* ]]
        diff "$T/before" "$T/after" || { echo "the store changed"; false; }
        # The same on a filesystem big enough.
        run small_fs_import 128M 10000 "oci:$T/bomb"
        [[ $output == *"status=0"* ]]
}

@test "image: an import that would use up the store's inodes stops and leaves nothing" {
        mk_bomb "$T/small" 1 1 1
        mk_bomb "$T/bomb" 1 400 0
        run small_fs_import 64M 300 "oci:$T/bomb"
        echo "$output"
        [[ $output == *"status=1"* ]]
        [[ $output == *"would use up the filesystem's inodes"* ]]
        diff "$T/before" "$T/after" || { echo "the store changed"; false; }
        run small_fs_import 64M 2000 "oci:$T/bomb"
        [[ $output == *"status=0"* ]]
}
