#!/usr/bin/env bats
# `ccsupctl image pull` against a real registry: Debian's docker-registry on
# 127.0.0.1 (a random port, its own config and storage), images made here
# (tests/integration/registry-helpers.bash) and pushed with skopeo. Every
# registry these tests start is killed by its PID in teardown.

load helpers
load image-helpers
load registry-helpers

setup_file() {
        export IMG=$BATS_FILE_TMPDIR
        command -v docker-registry >/dev/null && command -v skopeo >/dev/null || return 0
        [[ $(id -u) -eq 0 ]] || return 0
        reg_start "$IMG/reg"
        echo "$REG_PID" >"$IMG/reg.pid"
        echo "$REG" >"$IMG/reg.addr"
        HOSTARCH=$(dpkg --print-architecture)
        OTHERARCH=arm64
        [[ $HOSTARCH != arm64 ]] || OTHERARCH=amd64
        echo "$HOSTARCH $OTHERARCH" >"$IMG/arch"
        local l=$IMG/layout
        mk_reg_image "$l" gz gzip "$HOSTARCH" etc/one=1 etc/two=2 >"$IMG/gz.digest"
        mk_reg_image "$l" more gzip "$HOSTARCH" etc/one=1 etc/two=2 etc/three=3 >"$IMG/more.digest"
        mk_reg_image "$l" zst zstd "$HOSTARCH" z/one=zstd-1 z/two=zstd-2 >"$IMG/zst.digest"
        mk_reg_image "$l" raw none "$HOSTARCH" r/one=raw-1 >"$IMG/raw.digest"
        mk_reg_image "$l" multi gzip index m/common=c >"$IMG/multi.digest"
        reg_push "$l:gz" "$REG/test/gz:v1"
        reg_push "$l:more" "$REG/test/gz:more"
        reg_push "$l:zst" "$REG/test/zst:v1"
        reg_put "$l" raw "$REG/test/raw:v1"
        reg_push "$l:multi" "$REG/test/multi:v1" --all
        reg_push "$l:gz" "$REG/test/v2s2:v1" --format v2s2
}

teardown_file() {
        [[ -f $IMG/reg.pid ]] && reg_stop "$(cat "$IMG/reg.pid")"
        true
}

setup() {
        ccsup_setup
        [[ $(id -u) -eq 0 ]] || skip "needs root (layer owners)"
        command -v docker-registry >/dev/null || skip "docker-registry not installed (contrib/deps)"
        command -v skopeo >/dev/null || skip "skopeo not installed (contrib/deps)"
        STATE=$TEST_DIR/state
        REG=$(cat "$IMG/reg.addr")
        LOG=$IMG/reg/registry.log
        read -r HOSTARCH OTHERARCH <"$IMG/arch"
        EXTRA_PIDS=()
}

teardown() {
        local p
        for p in "${EXTRA_PIDS[@]}"; do reg_stop "$p"; done
        ccsup_teardown
}

pull() { "$CCSUPCTL" image --state-dir="$STATE" pull --insecure-registry="$REG" "$@"; }
layers_of() { "$CCSUPCTL" image --state-dir="$STATE" inspect "$1" | sed -n 's/^Layer=//p'; }
store_debris() { find "$STATE/images" -name '.tmp-*' -o -name 'src-*' | wc -l; }

@test "pull: by tag, OCI manifest with gzip layers, tagged HOST/REPO:TAG" {
        run pull "$REG/test/gz:v1"
        assert_status 0
        [[ ${lines[-1]} == "$(cat "$IMG/gz.digest")" ]]
        # one line per layer when stderr is not a terminal
        [[ $output == *"layer 1/2 sha256:"*"fetched"* ]]
        [[ $output == *"layer 2/2 sha256:"*"fetched"* ]]
        run "$CCSUPCTL" image --state-dir="$STATE" --no-legend list
        assert_status 0
        [[ $output == *"$REG/test/gz:v1 "* ]]
        run "$CCSUPCTL" image --state-dir="$STATE" inspect "$REG/test/gz:v1"
        assert_status 0
        # the layers are unpacked: their files are there
        [[ $(cat "$STATE"/images/layers/*/etc/one) == 1 ]]
        [[ $(cat "$STATE"/images/layers/*/etc/two) == 2 ]]
        [[ $(store_debris) -eq 0 ]]
}

@test "pull: by digest" {
        local d
        d=$(cat "$IMG/gz.digest")
        run pull "$REG/test/gz@$d"
        assert_status 0
        [[ ${lines[-1]} == "$d" ]]
        run "$CCSUPCTL" image --state-dir="$STATE" inspect "$REG/test/gz@$d"
        assert_status 0
        # a digest that the registry does not have: its own error text
        run pull "$REG/test/gz@sha256:$(printf '0%.0s' {1..64})"
        assert_status 1
        [[ $output == *"registry \`$REG\`, repository \`test/gz\`"*"HTTP 404"*"MANIFEST_UNKNOWN"* ]]
}

@test "pull: zstd and uncompressed layers" {
        run pull "$REG/test/zst:v1"
        assert_status 0
        [[ ${lines[-1]} == "$(cat "$IMG/zst.digest")" ]]
        [[ $(cat "$STATE"/images/layers/*/z/two) == zstd-2 ]]
        run pull "$REG/test/raw:v1"
        assert_status 0
        [[ ${lines[-1]} == "$(cat "$IMG/raw.digest")" ]]
        [[ $(cat "$STATE"/images/layers/*/r/one) == raw-1 ]]
}

@test "pull: a Docker schema 2 manifest (skopeo --format v2s2)" {
        local raw want
        raw=$(skopeo inspect --raw --tls-verify=false "docker://$REG/test/v2s2:v1")
        [[ $raw == *application/vnd.docker.distribution.manifest.v2+json* ]]
        want=sha256:$(printf '%s' "$raw" | sha256sum | cut -d' ' -f1)
        run pull "$REG/test/v2s2:v1"
        assert_status 0
        [[ ${lines[-1]} == "$want" ]]
        [[ $(cat "$STATE"/images/layers/*/etc/two) == 2 ]]
}

@test "pull: a multi-platform index gives the host's image, --platform another, none a clear error" {
        run pull "$REG/test/multi:v1"
        assert_status 0
        [[ $(cat "$STATE"/images/layers/*/arch) == "$HOSTARCH" ]]
        local host=${lines[-1]}
        run pull --platform="linux/$OTHERARCH" "$REG/test/multi:v1"
        assert_status 0
        [[ ${lines[-1]} != "$host" ]]
        # the common layer was stored already: not fetched again
        [[ $output == *"layer 1/2 sha256:"*"already stored"* ]]
        grep -qx "$OTHERARCH" "$STATE"/images/layers/*/arch
        run pull --platform=linux/s390x "$REG/test/multi:v1"
        assert_status 1
        [[ $output == *"repository \`test/multi\`"*"no image for platform linux/s390x (it has: linux/arm64, linux/amd64)"* ]]
        run pull --platform=linux "$REG/test/multi:v1"
        assert_status 1
        [[ $output == *"invalid platform \`linux\`"* ]]
}

@test "pull: a missing tag or repository gives the registry's own error, exit 1" {
        run pull "$REG/test/gz:nope"
        assert_status 1
        [[ $output == *"ccsupctl: image pull: registry \`$REG\`, repository \`test/gz\`: manifest \`nope\`: HTTP 404: MANIFEST_UNKNOWN: manifest unknown"* ]]
        run pull "$REG/test/absent:v1"
        assert_status 1
        [[ $output == *"repository \`test/absent\`: manifest \`v1\`: HTTP 404: "*"UNKNOWN"* ]]
        run pull "$REG/Bad/Name:v1"
        assert_status 1
        [[ $output == *"invalid repository name"* ]]
        run pull "127.0.0.1:/test/gz:v1"
        assert_status 1
        [[ $output == *"invalid registry host \`127.0.0.1:\` (expected HOST[:PORT])"* ]]
        [[ ! -e $STATE/images/repositories.json ]] || ! grep -q test "$STATE/images/repositories.json"
}

@test "pull: stored layers are not fetched again; an unchanged tag costs one manifest request" {
        local one two three before
        run pull "$REG/test/gz:v1"
        assert_status 0
        one=$(layer_digest "$IMG/layout" "$(cat "$IMG/more.digest")" 0)
        three=$(layer_digest "$IMG/layout" "$(cat "$IMG/more.digest")" 2)
        sleep 0.2 # the access log is written after the response
        before=$(reg_blob_gets "$LOG" "$one")
        run pull "$REG/test/gz:more"
        assert_status 0
        [[ $output == *"layer 1/3 sha256:"*"already stored"* ]]
        [[ $output == *"layer 2/3 sha256:"*"already stored"* ]]
        [[ $output == *"layer 3/3 sha256:"*"fetched"* ]]
        sleep 0.2
        [[ $(reg_blob_gets "$LOG" "$one") -eq $before ]]
        [[ $(reg_blob_gets "$LOG" "$three") -ge 1 ]]
        # again: nothing but the manifest (no /v2/ probe: the store remembers it)
        local blobs manifests probes
        blobs=$(reg_gets "$LOG" blobs)
        manifests=$(reg_gets "$LOG" manifests)
        probes=$(reg_probes "$LOG")
        run pull "$REG/test/gz:more"
        assert_status 0
        sleep 0.2
        [[ $(reg_gets "$LOG" blobs) -eq $blobs ]]
        [[ $(reg_gets "$LOG" manifests) -eq $((manifests + 1)) ]]
        [[ $(reg_probes "$LOG") -eq $probes ]]
        # what it remembers no longer holds (HTTPS said for a plain HTTP
        # registry): probed again, and pulled
        [[ $(cat "$STATE/images/registries/$REG") == "http anonymous" ]]
        echo "https anonymous" >"$STATE/images/registries/$REG"
        run pull "$REG/test/gz:more"
        assert_status 0
        sleep 0.2
        [[ $(reg_probes "$LOG") -gt $probes ]]
        [[ $(cat "$STATE/images/registries/$REG") == "http anonymous" ]]
}

@test "pull: a tampered blob in the registry is rejected and nothing is stored" {
        # a registry of its own, so that the shared one stays intact
        local d=$TEST_DIR/treg l=$TEST_DIR/tl digest ldigest data
        reg_start "$d"
        EXTRA_PIDS+=("$REG_PID")
        # three layers, streamed in parallel; the middle one is tampered with
        digest=$(mk_reg_image "$l" t none "$HOSTARCH" t/a=first t/file=original-content t/c=third)
        reg_put "$l" t "$REG/test/t:v1"
        ldigest=$(layer_digest "$l" "$digest" 1)
        data=$d/storage/docker/registry/v2/blobs/sha256/${ldigest:7:2}/${ldigest#sha256:}/data
        [[ -f $data ]]
        # same size, one word changed
        sed -i 's/original-content/tampered-content/' "$data"
        run "$CCSUPCTL" image --state-dir="$STATE" pull --insecure-registry="$REG" "$REG/test/t:v1"
        assert_status 1
        [[ $output == *"layer 2 of 3 ($ldigest)"*"digest mismatch"* ]]
        run "$CCSUPCTL" image --state-dir="$STATE" --no-legend list
        [[ $output != *test/t* ]]
        [[ $(find "$STATE/images/layers" -mindepth 1 | wc -l) -eq 0 ]]
        [[ $(store_debris) -eq 0 ]]
        # refused bytes are not kept for a resume
        [[ -z $(ls -A "$STATE/images/partial") ]]
        # a blob longer than its descriptor says
        printf 'more' >>"$data"
        run "$CCSUPCTL" image --state-dir="$STATE" pull --insecure-registry="$REG" "$REG/test/t:v1"
        assert_status 1
        [[ $output == *"blob $ldigest: longer than the"*"bytes its descriptor says"* ]]
        [[ $(find "$STATE/images/layers" -mindepth 1 | wc -l) -eq 0 ]]
}

@test "pull: htpasswd basic auth with credentials from a containers-auth.json file" {
        command -v htpasswd >/dev/null || skip "htpasswd not installed (apache2-utils, contrib/deps)"
        local d=$TEST_DIR/areg l=$TEST_DIR/al
        mkdir -p "$d"
        htpasswd -Bbn alice s3cret >"$d/htpasswd"
        reg_start "$d" "auth:
  htpasswd:
    realm: ccsup-test
    path: $d/htpasswd"
        EXTRA_PIDS+=("$REG_PID")
        mk_reg_image "$l" a gzip "$HOSTARCH" a/file=auth >/dev/null
        skopeo copy -q --dest-tls-verify=false --dest-creds=alice:s3cret "oci:$l:a" "docker://$REG/test/a:v1"
        # no credentials: the registry's refusal
        printf '{"auths": {}}' >"$TEST_DIR/none.json"
        run "$CCSUPCTL" image --state-dir="$STATE" pull --insecure-registry="$REG" \
                --registry-auth="$TEST_DIR/none.json" "$REG/test/a:v1"
        assert_status 1
        [[ $output == *"registry \`$REG\`"*"HTTP 401"*"UNAUTHORIZED"* ]]
        # wrong ones
        printf '{"auths": {"%s": {"auth": "%s"}}}' "$REG" "$(printf alice:wrong | base64)" >"$TEST_DIR/bad.json"
        run "$CCSUPCTL" image --state-dir="$STATE" pull --insecure-registry="$REG" \
                --registry-auth="$TEST_DIR/bad.json" "$REG/test/a:v1"
        assert_status 1
        [[ $output == *"HTTP 401"* ]]
        # the right ones, as skopeo login writes them
        skopeo login --tls-verify=false --authfile="$TEST_DIR/auth.json" -u alice -p s3cret "$REG" >/dev/null
        run "$CCSUPCTL" image --state-dir="$STATE" pull --insecure-registry="$REG" \
                --registry-auth="$TEST_DIR/auth.json" "$REG/test/a:v1"
        assert_status 0
        [[ $(cat "$STATE"/images/layers/*/a/file) == auth ]]
        # an auth file that is not there, named: an error
        run "$CCSUPCTL" image --state-dir="$STATE" pull --insecure-registry="$REG" \
                --registry-auth="$TEST_DIR/missing.json" "$REG/test/a:v1"
        assert_status 1
        [[ $output == *"registry auth file \`$TEST_DIR/missing.json\`: No such file or directory"* ]]
}

@test "pull: TLS with the registry's CA from --registry-certs; an unknown CA or plain HTTP refused" {
        local d=$TEST_DIR/sreg l=$TEST_DIR/sl c=$TEST_DIR/certs
        mkdir -p "$d" "$c"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ccsup-test-ca \
                -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$d/srv.key" -out "$d/srv.csr" 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1\n' >"$d/ext"
        openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
                -extfile "$d/ext" -out "$d/srv.crt" 2>/dev/null
        REG_TLS_CERT=$d/srv.crt REG_TLS_KEY=$d/srv.key reg_start "$d"
        EXTRA_PIDS+=("$REG_PID")
        mk_reg_image "$l" s gzip "$HOSTARCH" s/file=tls >/dev/null
        reg_push "$l:s" "$REG/test/s:v1"
        # the system's CAs do not know it
        run "$CCSUPCTL" image --state-dir="$STATE" pull --registry-certs="$c" "$REG/test/s:v1"
        assert_status 1
        [[ $output == *"registry \`$REG\`"*"/v2/ probe"*"certificate"* ]]
        mkdir -p "$c/$REG"
        cp "$d/ca.crt" "$c/$REG/ca.crt"
        run "$CCSUPCTL" image --state-dir="$STATE" pull --registry-certs="$c" "$REG/test/s:v1"
        assert_status 0
        [[ $(cat "$STATE"/images/layers/*/s/file) == tls ]]
        # the CA known, but the certificate is for 127.0.0.1, not localhost
        mkdir -p "$c/localhost:$REG_PORT"
        cp "$d/ca.crt" "$c/localhost:$REG_PORT/ca.crt"
        run "$CCSUPCTL" image --state-dir="$TEST_DIR/state-mismatch" pull --registry-certs="$c" "localhost:$REG_PORT/test/s:v1"
        assert_status 1
        [[ $output == *"registry \`localhost:$REG_PORT\`"*"/v2/ probe"*"subject name"* ]]
        [[ ! -e $TEST_DIR/state-mismatch/images/repositories.json ]]
        # the shared registry speaks plain HTTP: refused unless named insecure
        run "$CCSUPCTL" image --state-dir="$STATE" pull "$(cat "$IMG/reg.addr")/test/gz:v1"
        assert_status 1
        [[ $output == *"/v2/ probe"* ]]
}

@test "pull: bearer tokens from the registry's token server, one token per pull, reused for every blob" {
        # Debian ships no token server: tests/integration/token-server.py is
        # a small one of this test suite's own (JWTs signed with openssl).
        local d=$TEST_DIR/breg l=$TEST_DIR/bl tport i
        mkdir -p "$d"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ccsup-token-signer \
                -keyout "$d/tok.key" -out "$d/tok.crt" 2>/dev/null
        python3 "$CCSUP_SRCDIR/tests/integration/token-server.py" "$d/tok.key" "$d/tok.crt" ccsup-issuer \
                alice:s3cret "$d/tport" "$d/token.log" &
        EXTRA_PIDS+=("$!")
        for ((i = 0; i < 100; i++)); do [[ -f $d/tport ]] && break; sleep 0.1; done
        tport=$(cat "$d/tport")
        reg_start "$d" "auth:
  token:
    realm: http://127.0.0.1:$tport/token
    service: ccsup-registry
    issuer: ccsup-issuer
    rootcertbundle: $d/tok.crt"
        EXTRA_PIDS+=("$REG_PID")
        mk_reg_image "$l" b gzip "$HOSTARCH" b/one=bearer-1 b/two=bearer-2 >/dev/null
        skopeo copy -q --dest-tls-verify=false --dest-creds=alice:s3cret "oci:$l:b" "docker://$REG/test/b:v1"
        printf '{"auths": {"%s": {"auth": "%s"}}}' "$REG" "$(printf alice:s3cret | base64)" >"$TEST_DIR/auth.json"
        : >"$d/token.log"
        run "$CCSUPCTL" image --state-dir="$STATE" pull --insecure-registry="$REG" \
                --registry-auth="$TEST_DIR/auth.json" "$REG/test/b:v1"
        assert_status 0
        [[ $(cat "$STATE"/images/layers/*/b/two) == bearer-2 ]]
        # one token, for this repository's pull scope, with the credentials
        [[ $(grep -c '"agent": "ccsup/' "$d/token.log") -eq 1 ]]
        grep -q '"scope": \["repository:test/b:pull"\], "service": "ccsup-registry", "authorized": true' "$d/token.log"
        sleep 0.2
        [[ $(reg_gets "$d/registry.log" blobs) -eq 3 ]] # config and two layers, each once
        # credentials the token server refuses: its own error text
        printf '{"auths": {"%s": {"auth": "%s"}}}' "$REG" "$(printf alice:nope | base64)" >"$TEST_DIR/bad.json"
        run "$CCSUPCTL" image --state-dir="$TEST_DIR/state2" pull --insecure-registry="$REG" \
                --registry-auth="$TEST_DIR/bad.json" "$REG/test/b:v1"
        assert_status 1
        [[ $output == *"registry \`$REG\`, repository \`test/b\`: token endpoint: HTTP 401: UNAUTHORIZED: bad credentials"* ]]
        # a token the registry refuses (it grants nothing): its 401, once, no loop
        touch "$d/token.log.deny"
        run "$CCSUPCTL" image --state-dir="$TEST_DIR/state3" pull --insecure-registry="$REG" \
                --registry-auth="$TEST_DIR/auth.json" "$REG/test/b:v1"
        assert_status 1
        [[ $output == *"registry \`$REG\`, repository \`test/b\`: manifest \`v1\`: HTTP 401"* ]]
        [[ ! -e $TEST_DIR/state3/images/repositories.json ]]
}

@test "pull: a registry that misbehaves gets precise errors and leaves the store as it was" {
        # tests/integration/hostile-registry.py: the answers no real registry gives
        local i h
        python3 "$CCSUP_SRCDIR/tests/integration/hostile-registry.py" "$TEST_DIR/hport" &
        EXTRA_PIDS+=("$!")
        for ((i = 0; i < 100; i++)); do [[ -f $TEST_DIR/hport ]] && break; sleep 0.1; done
        h=127.0.0.1:$(cat "$TEST_DIR/hport")
        hp() { "$CCSUPCTL" image --state-dir="$STATE" pull --insecure-registry="$h" "$h/h/$1:t"; }
        run hp big
        assert_status 1
        [[ $output == *"registry \`$h\`, repository \`h/big\`: manifest \`t\`: larger than 4194304 bytes"* ]]
        run hp badjson
        assert_status 1
        [[ $output == *"registry \`$h\`, repository \`h/badjson\`: manifest sha256:"* ]]
        [[ $output == *"JSON"* || $output == *"json"* ]]
        run hp html
        assert_status 1
        [[ $output == *"repository \`h/html\`: manifest \`t\`: unsupported media type \`text/html\`"* ]]
        run hp lie
        assert_status 1
        [[ $output == *"repository \`h/lie\`: manifest \`t\`: digest mismatch (the registry says sha256:000"* ]]
        run hp loop
        assert_status 1
        [[ $output == *"repository \`h/loop\`: manifest \`t\`: Maximum (8) redirects followed"* ]]
        # a registry that says nothing: a timeout (here 2 s), not a stuck pull
        local t0=$SECONDS
        CCSUP_REGISTRY_TIMEOUT_SEC=2 run hp hang
        assert_status 1
        [[ $output == *"repository \`h/hang\`: manifest \`t\`: Operation too slow"* ]]
        ((SECONDS - t0 < 15))
        [[ ! -e $STATE/images/repositories.json ]] || ! grep -q '"h/' "$STATE/images/repositories.json"
        [[ $(store_debris) -eq 0 ]]
}

@test "pull: a transfer cut halfway is resumed with Range by the next pull" {
        # tests/integration/flaky-proxy.py cuts every layer GET without Range
        # in half; a Range request passes through to the real registry.
        local i p big digest half l=$TEST_DIR/rl
        digest=$(mk_reg_image "$l" r gzip "$HOSTARCH" "big/file=$(head -c 90000 /dev/urandom | base64 -w0)")
        reg_push "$l:r" "$REG/test/resume:v1"
        python3 "$CCSUP_SRCDIR/tests/integration/flaky-proxy.py" "$REG" "$TEST_DIR/pport" "$TEST_DIR/proxy.log" &
        EXTRA_PIDS+=("$!")
        for ((i = 0; i < 100; i++)); do [[ -f $TEST_DIR/pport ]] && break; sleep 0.1; done
        p=127.0.0.1:$(cat "$TEST_DIR/pport")
        big=$(layer_digest "$l" "$digest" 0)
        run "$CCSUPCTL" image --state-dir="$STATE" pull --insecure-registry="$p" "$p/test/resume:v1"
        assert_status 1
        [[ $output == *"registry \`$p\`, repository \`test/resume\`: blob $big: transfer closed with"* ]]
        [[ $(store_debris) -eq 0 ]]
        run "$CCSUPCTL" image --state-dir="$STATE" --no-legend list
        [[ $output != *test/resume* ]]
        # what arrived is kept for the resume
        [[ -s $STATE/images/partial/${big#sha256:} ]]
        half=$(stat -c %s "$STATE/images/partial/${big#sha256:}")
        run "$CCSUPCTL" image --state-dir="$STATE" pull --insecure-registry="$p" "$p/test/resume:v1"
        assert_status 0
        [[ ${lines[-1]} == "$digest" ]]
        grep -qx "$big bytes=$half-" "$TEST_DIR/proxy.log"
        [[ $(wc -c <"$STATE"/images/layers/*/big/file) -eq 120000 ]]
        # nothing left over once complete
        [[ -z $(ls -A "$STATE/images/partial") ]]
}
