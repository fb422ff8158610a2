#!/usr/bin/env bats
# `ccsupctl image import|list|inspect|remove` against images made by tools
# nobody here wrote: umoci builds an OCI layout from the busybox rootfs in
# three layers (a file deleted by a whiteout, a directory replaced by an
# opaque one), skopeo copies it to an oci-archive and a docker-archive, and
# the store must read all three, share their layers, and unpack them to the
# same tree umoci itself unpacks.

load helpers

setup_file() {
        export IMG=$BATS_FILE_TMPDIR
        [[ $(id -u) -eq 0 ]] || return 0
        command -v umoci >/dev/null && command -v skopeo >/dev/null || return 0
        local r=$IMG/rootfs b=$IMG/bundle
        if ! bash "$CCSUP_SRCDIR/contrib/mkimage" "$r" >/dev/null 2>&1; then
                # No busybox-static: a small rootfs by hand is enough here.
                mkdir -p "$r/bin" "$r/etc"
                cp /bin/sh "$r/bin/sh"
                echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
        fi
        mkdir -p "$r/opt/old"
        echo old >"$r/opt/old/file"
        echo gone >"$r/etc/remove-me"
        umoci init --layout "$IMG/layout"
        umoci new --image "$IMG/layout:base"
        umoci unpack --image "$IMG/layout:base" "$b" >/dev/null
        cp -a "$r/." "$b/rootfs/"
        umoci repack --image "$IMG/layout:v1" "$b"
        umoci insert --image "$IMG/layout:v1" --tag v2 --whiteout /etc/remove-me
        mkdir -p "$IMG/newopt"
        echo new >"$IMG/newopt/only"
        umoci insert --image "$IMG/layout:v2" --opaque "$IMG/newopt" /opt
        umoci config --image "$IMG/layout:v2" --config.entrypoint=/bin/sh \
                --config.env=FOO=bar --config.workingdir=/tmp
        skopeo copy -q "oci:$IMG/layout:v2" "oci-archive:$IMG/image.tar:v2"
        skopeo copy -q "oci:$IMG/layout:v2" "docker-archive:$IMG/docker.tar:test/busybox:v2"
        umoci unpack --image "$IMG/layout:v2" "$IMG/umoci-unpacked" >/dev/null
}

setup() {
        ccsup_setup
        [[ $(id -u) -eq 0 ]] || skip "needs root (layer owners, device nodes, trusted.* xattrs)"
        command -v umoci >/dev/null || skip "umoci not installed (contrib/deps)"
        command -v skopeo >/dev/null || skip "skopeo not installed (contrib/deps)"
        if "$CCSUPCTL" image --help 2>&1 | grep -q "not implemented"; then
                skip "ccsupctl has no image command yet (verb_image is not hooked into ccsupctl.c)"
        fi
        STATE=$TEST_DIR/state
}

ctl() { "$CCSUPCTL" image --state-dir="$STATE" "$@"; }

layer_count() { find "$STATE/images/layers" -mindepth 1 -maxdepth 1 | wc -l; }

@test "image: imports the umoci OCI layout, three layers" {
        run ctl import "oci:$IMG/layout:v2" bb:oci
        assert_status 0
        [[ $output == sha256:* ]]
        run ctl inspect bb:oci
        assert_status 0
        [[ $(grep -c '"DiffID"' <<<"$output") -eq 3 ]]
        [[ $output == *'"/bin/sh"'* && $output == *FOO=bar* ]]
        [[ $(layer_count) -eq 3 ]]
}

@test "image: umoci's whiteout and opaque directory become overlayfs ones" {
        ctl import "oci:$IMG/layout:v2" bb:oci >/dev/null
        local l2 l3
        l2=$(ctl inspect bb:oci | grep '"Path"' | sed -n 2p | sed 's/.*"Path": *"\([^"]*\)".*/\1/')
        l3=$(ctl inspect bb:oci | grep '"Path"' | sed -n 3p | sed 's/.*"Path": *"\([^"]*\)".*/\1/')
        [[ -c $l2/etc/remove-me ]]
        [[ $(stat -c %t:%T "$l2/etc/remove-me") == 0:0 ]]
        [[ $(getfattr --absolute-names --only-values -n trusted.overlay.opaque "$l3/opt" 2>/dev/null || \
                python3 -c "import os,sys; print(os.getxattr(sys.argv[1], 'trusted.overlay.opaque').decode())" "$l3/opt") == y ]]
        [[ -f $l3/opt/only && ! -e $l3/opt/.wh..wh..opq ]]
}

@test "image: skopeo's oci-archive and docker-archive import, sharing the layers" {
        run ctl import "oci:$IMG/layout:v2" bb:oci
        assert_status 0
        run ctl import "oci-archive:$IMG/image.tar:v2" bb:archive
        assert_status 0
        run ctl import "docker-archive:$IMG/docker.tar"
        assert_status 0
        [[ $(layer_count) -eq 3 ]]
        run ctl list
        assert_status 0
        [[ $output == *bb:oci* && $output == *bb:archive* && $output == *docker.io/test/busybox:v2* ]]
        run ctl inspect docker.io/test/busybox:v2
        assert_status 0
        [[ $output == *'"/bin/sh"'* && $output == *'"WorkingDir":"/tmp"'* ]]
        [[ -z $(find "$STATE/images" -name '.tmp-*') ]]
        [[ -z $(ls -A "$STATE/images/tmp") ]]
}

@test "image: the layers, stacked by overlayfs, equal umoci's own unpack" {
        ctl import "docker-archive:$IMG/docker.tar" >/dev/null
        local lower="" p m=$TEST_DIR/merged
        while read -r p; do
                lower=$p${lower:+:$lower}
        done < <( ctl inspect docker.io/test/busybox:v2 | grep '"Path"' | sed 's/.*"Path": *"\([^"]*\)".*/\1/')
        mkdir -p "$m"
        # In a private mount namespace: the host's mount table never changes
        # (other tests compare it, and may run at the same time).
        run unshare -m --propagation private sh -c \
                'mount -t overlay overlay -o "ro,lowerdir=$1" "$2" || exit 99; diff -r --no-dereference "$3" "$2"' \
                sh "$lower" "$m" "$IMG/umoci-unpacked/rootfs"
        [[ $status != 99 ]] || skip "overlayfs mount not possible here"
        assert_status 0
        [[ ! -e $IMG/umoci-unpacked/rootfs/etc/remove-me && ! -e $IMG/umoci-unpacked/rootfs/opt/old ]]
}

@test "image: remove keeps layers another image uses, then empties the store" {
        ctl import "oci:$IMG/layout:v1" bb:v1 >/dev/null
        ctl import "oci:$IMG/layout:v2" bb:v2 >/dev/null
        [[ $(layer_count) -eq 3 ]]
        run ctl remove bb:v2
        assert_status 0
        run ctl remove "oci:$IMG/layout:v2"
        assert_status 0
        [[ $(layer_count) -eq 1 ]]
        run ctl inspect bb:v1
        assert_status 0
        ctl remove bb:v1
        ctl remove "oci:$IMG/layout:v1"
        [[ $(layer_count) -eq 0 ]]
        [[ -z $(ls -A "$STATE/images/blobs/sha256") ]]
}

@test "image: errors name the problem and exit 1" {
        run ctl import "oci:$IMG/layout:nope"
        assert_status 1
        [[ $output == *"no image tagged \`nope\`"* ]]
        run ctl inspect missing:1
        assert_status 1
        [[ $output == *"no image \`missing:1\` in the store"* ]]
        run ctl import "oci-archive:$IMG/does-not-exist.tar"
        assert_status 1
        [[ $output == *"No such file or directory"* ]]
        run ctl import
        assert_status 2
}
