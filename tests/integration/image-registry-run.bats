#!/usr/bin/env bats
# Units with Image=HOST:PORT/REPO:TAG: ccsupd pulls the image on first start
# in its import helper (the unit is `starting` meanwhile), Pull=missing,
# always and never, and `show` has the digest the container runs from. The
# registry is Debian's docker-registry on 127.0.0.1 (a random port), the
# image the test image pushed there with skopeo; each registry is killed by
# its PID in teardown.

bats_require_minimum_version 1.5.0

load sup-helpers
load image-helpers
load registry-helpers

setup_file() {
        run_setup_file
        is_root || return 0
        command -v docker-registry >/dev/null && command -v skopeo >/dev/null || return 0
        local d=$BATS_FILE_TMPDIR
        # v1: the test image, one layer; v2: the same plus /v2-marker
        mk_tar "$d/rootfs.tar" "$IMAGE"
        mkdir -p "$d/extra"
        echo two >"$d/extra/v2-marker"
        mk_tar "$d/extra.tar" "$d/extra"
        mk_oci_layout "$d/v1" application/vnd.oci.image.layer.v1.tar /bin/sh "$d/rootfs.tar"
        mk_oci_layout "$d/v2" application/vnd.oci.image.layer.v1.tar /bin/sh "$d/rootfs.tar" "$d/extra.tar"
        # bad: no /bin/sh in it, so no container of it can start
        mk_oci_layout "$d/bad" application/vnd.oci.image.layer.v1.tar /bin/sh "$d/extra.tar"
}

setup() {
        sup_setup
        command -v docker-registry >/dev/null || skip "docker-registry not installed (contrib/deps)"
        command -v skopeo >/dev/null || skip "skopeo not installed (contrib/deps)"
        D=$BATS_FILE_TMPDIR
        REG_PID=
        reg_start "$T/reg"
        echo "$REG_PID" >>"$T/bg-pids"
        reg_push "$D/v1:latest" "$REG/test/bb:v1"
}

teardown() {
        reg_stop "$REG_PID"
        sup_teardown
}

web_unit() {
        local name=$1 image=$2
        shift 2
        unit "$name" <<EOF
[Image]
Image=$image
$(printf '%s\n' "$@")

[Process]
Exec=/bin/sh -c 'ls /v2-marker 2>/dev/null; trap "exit 0" TERM; while :; do sleep 0.05; done'
StopTimeoutSec=5s
EOF
}

reg_digest() { skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$1"; }

# web_moved LINE: the unit web on test/bb:v1 with LINE, ccsupd started and
# web running, its digest in v1; then the tag moved to the v2 image (one
# more layer), whose digest is in v2 (the caller's locals)
web_moved() {
        web_unit web "$REG/test/bb:v1" "$1"
        sup_start --insecure-registry="$REG"
        wait_state web running 30
        v1=$(prop web ImageDigest)
        reg_push "$D/v2:latest" "$REG/test/bb:v1"
        v2=$(reg_digest "$REG/test/bb:v1")
        [[ $v1 != "$v2" ]]
}

@test "registry unit: Image=HOST:PORT/REPO:TAG is pulled on first start; show has ImageDigest" {
        local want
        want=$(reg_digest "$REG/test/bb:v1")
        web_unit web "$REG/test/bb:v1"
        sup_start --insecure-registry="$REG"
        wait_state web running 30
        [[ $(prop web ImageDigest) == "$want" ]]
        [[ $(prop web Image) == "$REG/test/bb:v1" ]]
        grep -q "pulling image \`$REG/test/bb:v1\`" "$T/d.err"
        grep -q "pulled image \`$REG/test/bb:v1\` ($want)" "$T/d.err"
        run "$CCSUPCTL" image list
        assert_status 0
        [[ $output == *"$REG/test/bb:v1 "*"${want:0:19}"* ]]
        # a restart (Pull=missing, the default) does not ask the registry again
        sleep 0.2
        local before
        before=$(reg_gets "$T/reg/registry.log" manifests)
        ctl restart web
        wait_state web running 30
        sleep 0.2
        [[ $(reg_gets "$T/reg/registry.log" manifests) -eq $before ]]
}

@test "registry unit: docker:// references too; a missing tag fails the start with the registry's text" {
        web_unit web "docker://$REG/test/bb:v1"
        web_unit bad "$REG/test/bb:nope"
        sup_start --insecure-registry="$REG"
        wait_state web running 30
        wait_state bad waiting 30
        [[ $(ctl status bad) == *"registry \`$REG\`, repository \`test/bb\`: manifest \`nope\`: HTTP 404: MANIFEST_UNKNOWN"* ]]
        # the daemon and the other container are fine
        [[ $(prop web State) == running ]]
}

@test "registry unit: Pull=never does not pull; the start fails, naming Pull=never" {
        web_unit web "$REG/test/bb:v1" Pull=never
        sup_start --insecure-registry="$REG"
        wait_state web waiting 30
        [[ $(ctl status web) == *"not in the store (Pull=never: pull it with \`ccsupctl image pull\`)"* ]]
        [[ $(reg_gets "$T/reg/registry.log" manifests) -eq 0 ]]
        run "$CCSUPCTL" image pull --insecure-registry="$REG" "$REG/test/bb:v1"
        assert_status 0
        # the next start attempt (the restart timer's, or this one) finds it
        ctl start web || true
        wait_state web running 30
}

@test "registry unit: Pull=always follows a moved tag at each start, and starts from the store when the registry is gone" {
        local v1 v2
        web_moved Pull=always
        ctl restart web
        wait_state web running 30
        [[ $(prop web ImageDigest) == "$v2" ]]
        # the registry goes away: a warning, and the stored image runs
        reg_stop "$REG_PID"
        REG_PID=
        ctl restart web
        wait_state web running 30
        [[ $(prop web ImageDigest) == "$v2" ]]
        grep -q "pull of \`$REG/test/bb:v1\` failed, starting from the store" "$T/d.err"
}

@test "registry unit: Pull= and AutoUpdate= values are checked" {
        web_unit web "$REG/test/bb:v1" Pull=sometimes AutoUpdate=yes
        run "$CCSUPCTL" verify "$T/units/web.unit"
        assert_status 1
        [[ $output == *"unknown pull policy \`sometimes\` (expected missing, always or never)"* ]]
        [[ $output == *"AutoUpdate"*"expected no or registry"* ]]
}

@test "auto-update: a moved tag is pulled and the unit restarted on it; unchanged after; --dry-run only tells" {
        local v1 v2
        web_unit web "$REG/test/bb:v1" AutoUpdate=registry
        web_unit other "$REG/test/bb:v1"
        sup_start --insecure-registry="$REG"
        wait_state web running 30
        wait_state other running 30
        v1=$(prop web ImageDigest)
        run ctl auto-update --insecure-registry="$REG"
        assert_status 0
        [[ $output == "web $v1 $v1 unchanged" ]]
        reg_push "$D/v2:latest" "$REG/test/bb:v1"
        v2=$(reg_digest "$REG/test/bb:v1")
        # --dry-run prints what a run would, and changes nothing
        run ctl auto-update --dry-run --insecure-registry="$REG"
        assert_status 0
        [[ $output == "web $v1 $v2 updated" ]]
        [[ $(prop web ImageDigest) == "$v1" ]]
        local pid
        pid=$(prop other MainPID)
        run ctl auto-update --insecure-registry="$REG"
        assert_status 0
        [[ $output == "web $v1 $v2 updated" ]]
        [[ $(prop web ImageDigest) == "$v2" ]]
        [[ $(prop web State) == running ]]
        # the container runs from the new image: it has /v2-marker
        wait_until 10 sh -c '"$1" logs web | grep -q v2-marker' sh "$CCSUPCTL"
        ctl logs web | grep -q /v2-marker
        # a unit without AutoUpdate= is left alone
        [[ $(prop other MainPID) == "$pid" ]]
        run ctl auto-update --insecure-registry="$REG" other
        assert_status 1
        [[ $output == *"other: the unit does not have AutoUpdate=registry"* ]]
}

@test "auto-update: two rounds at once (ccsupctl's own, the daemon's) restart the unit once; the second finds it unchanged" {
        local v1 v2
        web_moved AutoUpdate=registry
        ctl auto-update --insecure-registry="$REG" >"$T/round1" 2>&1 &
        local p1=$!
        ctl auto-update >"$T/round2" 2>&1 &
        local p2=$!
        wait "$p1"
        wait "$p2"
        sort "$T/round1" "$T/round2" >"$T/rounds"
        printf '%s\n' "web $v1 $v2 updated" "web $v2 $v2 unchanged" | sort | diff - "$T/rounds"
        [[ $(prop web ImageDigest) == "$v2" ]]
        [[ $(prop web State) == running ]]
        # one start on the new image: one /v2-marker in the log
        wait_until 10 sh -c '"$1" logs web | grep -q v2-marker' sh "$CCSUPCTL"
        sleep 1
        [ "$(ctl logs web | grep -c /v2-marker)" -eq 1 ]
}

@test "auto-update: a new image whose container does not come up is rolled back" {
        local v1 bad
        web_unit web "$REG/test/bb:v1" AutoUpdate=registry
        sup_start --insecure-registry="$REG"
        wait_state web running 30
        v1=$(prop web ImageDigest)
        reg_push "$D/bad:latest" "$REG/test/bb:v1"
        bad=$(reg_digest "$REG/test/bb:v1")
        run --separate-stderr ctl auto-update --insecure-registry="$REG"
        assert_status 0
        [[ $output == "web $v1 $bad rolled-back" ]]
        [[ $stderr == *"web: the new image $bad did not come up (it did not reach running); back on $v1"* ]]
        [[ $(prop web State) == running ]]
        [[ $(prop web ImageDigest) == "$v1" ]]
        # the store's tag is back on the old image too: a restart keeps it
        ctl restart web
        wait_state web running 30
        [[ $(prop web ImageDigest) == "$v1" ]]
}

health_is() { [[ $(prop web Health) == "$1" ]]; }

@test "auto-update: a new image that runs but whose health check fails is rolled back" {
        local v1 v2
        # healthy without /v2-marker: v1 is, v2 (which has it) is not
        unit web <<EOF
[Image]
Image=$REG/test/bb:v1
AutoUpdate=registry

[Process]
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 0.05; done'
StopTimeoutSec=5s
StartTimeoutSec=20s

[Health]
Exec=/bin/sh -c '! test -e /v2-marker'
IntervalSec=200ms
Retries=2
OnFailure=none
EOF
        sup_start --insecure-registry="$REG"
        wait_state web running 30
        wait_until 20 health_is healthy
        v1=$(prop web ImageDigest)
        reg_push "$D/v2:latest" "$REG/test/bb:v1"
        v2=$(reg_digest "$REG/test/bb:v1")
        run --separate-stderr ctl auto-update --insecure-registry="$REG"
        assert_status 0
        [[ $output == "web $v1 $v2 rolled-back" ]]
        [[ $stderr == *"web: the new image $v2 did not come up (its health check says unhealthy); back on $v1"* ]]
        [[ $(prop web ImageDigest) == "$v1" ]]
        [[ $(prop web State) == running ]]
        health_is healthy
}

@test "control bus: PullImage pulls into the daemon's store with its registry options; AutoUpdate reports per unit" {
        command -v busctl >/dev/null || skip "busctl not installed"
        local A="--address=unix:path=$T/run/control" v1 v2
        web_unit web "$REG/test/bb:v1" AutoUpdate=registry
        sup_start --insecure-registry="$REG"
        wait_state web running 30
        v1=$(prop web ImageDigest)
        reg_push "$D/v2:latest" "$REG/test/bb:v2"
        v2=$(reg_digest "$REG/test/bb:v2")
        # the daemon's --insecure-registry; its store (ccsupctl image list asks it)
        run busctl "$A" call org.ccsup /org/ccsup org.ccsup.Manager1 PullImage ss "$REG/test/bb:v2" ""
        assert_status 0
        [[ $output == "s \"$v2\"" ]]
        run ctl image list
        [[ $output == *"$REG/test/bb:v2 "* ]]
        # refusals: not a reference, a platform without an architecture, the registry's own error
        run busctl "$A" call org.ccsup /org/ccsup org.ccsup.Manager1 PullImage ss "NOT A REF" ""
        [[ $status -ne 0 && $output == *"invalid repository name"* ]]
        run busctl "$A" call org.ccsup /org/ccsup org.ccsup.Manager1 PullImage ss "$REG/test/bb:v2" linux
        [[ $status -ne 0 && $output == *"invalid platform"* ]]
        run busctl "$A" call org.ccsup /org/ccsup org.ccsup.Manager1 PullImage ss "$REG/test/nosuch:v1" ""
        [[ $status -ne 0 && $output == *"registry \`$REG\`, repository \`test/nosuch\`"*"HTTP 404"* ]]
        # AutoUpdate: the unit's line as a struct
        run busctl "$A" call org.ccsup /org/ccsup org.ccsup.Manager1 AutoUpdate asb 0 false
        assert_status 0
        [[ $output == "a(ssss)as 1 \"web\" \"$v1\" \"$v1\" \"unchanged\" 0" ]]
        run busctl "$A" call org.ccsup /org/ccsup org.ccsup.Manager1 AutoUpdate asb 1 nosuch false
        [[ $status -ne 0 && $output == *"no unit"* ]]
        # ccsupctl auto-update without registry options asks the daemon,
        # whose --insecure-registry reaches the registry
        reg_push "$D/v2:latest" "$REG/test/bb:v1"
        run ctl auto-update --dry-run
        assert_status 0
        [[ $output == "web $v1 $v2 updated" ]]
        [[ $(prop web ImageDigest) == "$v1" ]]
        run ctl auto-update
        assert_status 0
        [[ $output == "web $v1 $v2 updated" ]]
        [[ $(prop web ImageDigest) == "$v2" ]]
        [[ $(prop web State) == running ]]
        # the daemon carries on
        run ctl list
        assert_status 0
}

@test "auto-update: ccsupd --auto-update-interval checks by itself and logs the result" {
        local v1 v2 i
        web_unit web "$REG/test/bb:v1" AutoUpdate=registry
        sup_start --insecure-registry="$REG" --auto-update-interval=1s
        wait_state web running 30
        v1=$(prop web ImageDigest)
        wait_until 10 grep -q "auto-update: web $v1 $v1 unchanged" "$T/d.err"
        grep -q "auto-update: web $v1 $v1 unchanged" "$T/d.err"
        reg_push "$D/v2:latest" "$REG/test/bb:v1"
        v2=$(reg_digest "$REG/test/bb:v1")
        wait_until 30 grep -q "auto-update: web $v1 $v2 updated" "$T/d.err"
        grep -q "auto-update: web $v1 $v2 updated" "$T/d.err"
        [[ $(prop web ImageDigest) == "$v2" ]]
        [[ $(prop web State) == running ]]
}
