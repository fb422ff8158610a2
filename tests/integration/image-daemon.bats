#!/usr/bin/env bats
# `ccsupctl --socket=S image …` works on the store of the ccsupd on S (its
# --state-dir, asked over the socket), not on the default one (issue 13,
# item 11); the default store only when nobody answers on S, with a note;
# `image remove` goes through the daemon, which refuses an image a running
# container uses, naming the unit.
#
# The default store (/var/lib/ccsup) is never the host's: every ccsupctl
# that may fall back to it runs in a private mount namespace with a tmpfs
# over /var/lib (`ctl_private`), which also shows what it wrote there.

bats_require_minimum_version 1.5.0

load sup-helpers
load image-helpers

setup_file() {
        run_setup_file
        is_root || return 0
        # An OCI layout of the test image, one layer, written by hand: no
        # umoci or skopeo needed here.
        export LAYOUT=$BATS_FILE_TMPDIR/layout
        mk_tar "$BATS_FILE_TMPDIR/rootfs.tar" "$IMAGE"
        mk_oci_layout "$LAYOUT" application/vnd.oci.image.layer.v1.tar /bin/sh "$BATS_FILE_TMPDIR/rootfs.tar"
}

setup() {
        sup_setup
        S=$T/run/control
}

teardown() { sup_teardown; }

# ctl_private ARGS...: ccsupctl ARGS with the default store on a private
# tmpfs; afterwards $T/varlib lists what the command left under /var/lib.
ctl_private() {
        unshare -m --propagation private sh -c '
                out=$1
                shift
                mount -t tmpfs tmpfs /var/lib || exit 99
                "$@"
                rc=$?
                (cd /var/lib && find . -mindepth 1 | sort) >"$out"
                [ ! -f /var/lib/ccsup/images/repositories.json ] ||
                        cp /var/lib/ccsup/images/repositories.json "$out.repos"
                exit $rc' sh "$T/varlib" env -u CCSUP_STATE_DIR "$CCSUPCTL" "$@"
}

web_unit() {
        unit web <<EOF
[Image]
Image=bb:test

[Process]
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 0.05; done'
StopTimeoutSec=5s
EOF
}

layers() { find "$T/state/images/layers" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

@test "image, daemon: import through --socket fills that ccsupd's --state-dir; a unit runs from it" {
        sup_start
        run --separate-stderr ctl_private --socket="$S" image import "oci:$LAYOUT:latest" bb:test
        [[ $status != 99 ]] || skip "no tmpfs mount in a private namespace here"
        assert_status 0
        [[ $output == sha256:* ]]
        local digest=$output
        [[ -z $stderr ]] || { echo "unexpected stderr: $stderr"; false; }
        # in the daemon's store, nothing in the default one
        grep -q '"bb:test"' "$T/state/images/repositories.json"
        [[ ! -s $T/varlib ]] || { echo "written under /var/lib:"; cat "$T/varlib"; false; }
        [[ $(layers) -eq 1 ]]

        run --separate-stderr ctl_private --socket="$S" image list
        assert_status 0
        [[ $output == *bb:test*"${digest:0:19}"* ]]
        run --separate-stderr ctl_private --socket="$S" image inspect bb:test
        assert_status 0
        [[ $output == *'"Digest":'*"\"$digest\""* ]]
        [[ $output == *'"Path":'*"\"$T/state/images/layers/"* ]]
        [[ ! -s $T/varlib ]]

        web_unit
        run ctl reload
        assert_status 0
        run ctl start web
        assert_status 0
        wait_state web running
        run ctl exec web cat /etc/passwd
        assert_status 0
        # the property ccsupctl asks, as busctl sees it
        if command -v busctl >/dev/null; then
                run busctl --address="unix:path=$S" get-property org.ccsup /org/ccsup \
                        org.ccsup.Manager1 StateDirectory
                assert_status 0
                expect_equal StateDirectory "s \"$T/state\"" "$output"
        fi
}

@test "image, daemon: remove is refused while a running unit uses the image, and works once it stopped" {
        sup_start
        run "$CCSUPCTL" --socket="$S" image import "oci:$LAYOUT:latest" bb:test
        assert_status 0
        local digest=$output
        web_unit
        ctl reload >/dev/null
        run ctl start web
        assert_status 0
        wait_state web running

        local ref
        for ref in bb:test "$digest"; do
                run --separate-stderr "$CCSUPCTL" --socket="$S" image remove "$ref"
                assert_status 1
                expect_equal stderr "ccsupctl: image remove: image \`$ref\` is used by running unit \`web\`; stop it first" "$stderr"
        done
        # a --state-dir that is the daemon's own: still through the daemon
        run --separate-stderr "$CCSUPCTL" --socket="$S" image --state-dir="$T/state/" remove bb:test
        assert_status 1
        [[ $stderr == *"used by running unit \`web\`"* ]]
        # still known after daemon-reexec (the runtime state records the digest)
        run ctl daemon-reexec
        assert_status 0
        run --separate-stderr "$CCSUPCTL" --socket="$S" image remove bb:test
        assert_status 1
        [[ $stderr == *"used by running unit \`web\`"* ]]
        # nothing removed, the container untouched
        run "$CCSUPCTL" --socket="$S" image inspect bb:test
        assert_status 0
        [[ $(layers) -eq 1 ]]
        [[ $(prop web State) == running ]]
        run ctl exec web true
        assert_status 0

        # not root: refused before anything is looked at
        chmod 0666 "$S"
        chmod o+x "$T" "$T/run"
        run setpriv --reuid=65534 --regid=65534 --clear-groups "$CCSUPCTL" --socket="$S" image remove bb:test
        assert_status 5
        [[ ${output,,} == *"permission denied"* ]]

        run ctl stop web
        assert_status 0
        wait_state web inactive
        run --separate-stderr "$CCSUPCTL" --socket="$S" image remove bb:test
        assert_status 0
        run "$CCSUPCTL" --socket="$S" image inspect bb:test
        assert_status 1
        # the record of the source still names it; removing that empties the store
        run "$CCSUPCTL" --socket="$S" image remove "oci:$LAYOUT:latest"
        assert_status 0
        [[ $(layers) -eq 0 ]]
        grep -q "image \`bb:test\` removed from the store" "$T/d.err"
}

@test "image, daemon: remove waits while an import holds the store's lock; the daemon answers meanwhile" {
        sup_start
        "$CCSUPCTL" --socket="$S" image import "oci:$LAYOUT:latest" bb:test >/dev/null
        flock "$T/state/images/lock" sleep 1.5 &
        echo $! >>"$T/bg-pids"
        sleep 0.2
        "$CCSUPCTL" --socket="$S" image remove bb:test 2>"$T/rm.err" &
        local rm=$!
        sleep 0.3
        # the loop is not blocked on the lock
        run timeout 2 "$CCSUPCTL" list
        assert_status 0
        kill -0 "$rm"
        wait "$rm"
        grep -q "is busy: an import holds its lock; waiting" "$T/rm.err"
        run "$CCSUPCTL" --socket="$S" image inspect bb:test
        assert_status 1
}

@test "image: with no ccsupd on --socket, the default store, with a note on stderr" {
        # no socket at all
        run --separate-stderr ctl_private --socket="$T/nobody" image import "oci:$LAYOUT:latest" bb:def
        [[ $status != 99 ]] || skip "no tmpfs mount in a private namespace here"
        assert_status 0
        [[ $output == sha256:* ]]
        expect_equal stderr "ccsupctl: image: no ccsupd answers at $T/nobody (No such file or directory); using the default store in /var/lib/ccsup/images" "$stderr"
        grep -q '"bb:def"' "$T/varlib.repos"
        grep -qx './ccsup/images/layers' "$T/varlib"

        # a socket nobody listens on (a ccsupd that is gone): the same
        python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/stale"
        [[ -S $T/stale ]]
        run --separate-stderr ctl_private --socket="$T/stale" image list
        assert_status 0
        [[ $stderr == *"no ccsupd answers at $T/stale (Connection refused)"* ]]

        # $CCSUP_STATE_DIR is the default then; a daemon's store is never it
        run --separate-stderr env CCSUP_STATE_DIR="$T/def" "$CCSUPCTL" --socket="$T/nobody" \
                image import "oci:$LAYOUT:latest" bb:def
        assert_status 0
        [[ $stderr == *"using the default store in $T/def/images"* ]]
        grep -q '"bb:def"' "$T/def/images/repositories.json"
        run env CCSUP_STATE_DIR="$T/def" "$CCSUPCTL" --socket="$T/nobody" image remove bb:def
        assert_status 0
        [[ -n $(ls "$T/def/images/layers") ]] # the source record keeps it
        sup_start
        run --separate-stderr env CCSUP_STATE_DIR="$T/def" "$CCSUPCTL" --socket="$S" image list
        assert_status 0
        [[ -z $stderr && $output != *bb:def* ]]
}
