#!/usr/bin/env bats
# Containers from layered images (issue 8): every transport runs (oci:,
# oci-archive:, docker-archive:, NAME:TAG from the store), the image config
# supplies the defaults of UNITS.md and the unit overrides them, whiteouts and
# opaque directories show inside the container, broken and hostile images are
# refused with a precise message and exit 125, more layers than one page of
# mount options can name still mount, and the daemon imports in the
# background while other units run.

load sup-helpers
load image-helpers

setup_file() {
        run_setup_file
        export IMG=$BATS_FILE_TMPDIR
        is_root || return 0
        command -v umoci >/dev/null && command -v skopeo >/dev/null || return 0
        make_layered_images "$IMG" "$IMAGE"
}

setup() {
        sup_setup
        command -v umoci >/dev/null || skip "umoci not installed (contrib/deps)"
        command -v skopeo >/dev/null || skip "skopeo not installed (contrib/deps)"
        L=$IMG/layout
}

teardown() { sup_teardown; }

# image_unit NAME IMAGE [PROCESS LINES...]
image_unit() {
        local name=$1 image=$2
        shift 2
        unit "$name" <<EOF
[Image]
Image=$image

[Process]
$(printf '%s\n' "$@")
EOF
}

expect_image_defaults() {
        expect_status 0
        expect_line cmd-from-image
        expect_line "uid=1234 gid=1000"
        expect_line pwd=/work
        expect_line FOO=bar
        expect_line HOME=/home/app
}

layer_count() { find "$T/state/images/layers" -mindepth 1 -maxdepth 1 | wc -l; }

@test "layered: oci: runs with the image's Entrypoint, Cmd, Env, WorkingDir and User" {
        image_unit c "oci:$L:v2"
        ccsup_run c
        expect_image_defaults
        # imported once, into the store; the second run finds it there
        [[ $(layer_count) -eq 4 ]]
        ccsup_run c
        expect_image_defaults
        expect_nothing_left
}

@test "layered: oci-archive: and docker-archive: run the same, sharing the layers" {
        image_unit a "oci-archive:$IMG/image.tar:v2"
        ccsup_run a
        expect_image_defaults
        image_unit d "docker-archive:$IMG/docker.tar"
        ccsup_run d
        expect_image_defaults
        [[ $(layer_count) -eq 4 ]]
}

@test "layered: NAME:TAG from the store, after ccsupctl image import" {
        run "$CCSUPCTL" image --state-dir="$T/state" import "oci-archive:$IMG/image.tar:v2" bb:test
        [[ $status -eq 0 ]]
        image_unit s bb:test
        ccsup_run s
        expect_image_defaults
        image_unit missing bb:nope
        ccsup_run missing
        expect_status 125
        expect_stderr_has "image \`bb:nope\` is not in the store"
}

@test "layered: Exec= replaces Cmd after the Entrypoint; Environment=, User=, WorkingDirectory= override" {
        image_unit o "oci:$L:v2" "Exec='echo exec; id -u; pwd; echo FOO=\$FOO BAR=\$BAR HOME=\$HOME'" \
                Environment=FOO=unit Environment=BAR=2 User=0 WorkingDirectory=/tmp
        ccsup_run o
        expect_status 0
        expect_line exec
        expect_line 0
        expect_line /tmp
        expect_line "FOO=unit BAR=2 HOME=/root"
        expect_no_line cmd-from-image
}

@test "layered: Entrypoint= without Exec= drops the image's Cmd; User= names resolve in the merged tree" {
        image_unit e "oci:$L:v2" "Entrypoint=/bin/echo entry"
        ccsup_run e
        expect_status 0
        expect_equal "output" entry "$output"
        image_unit f "oci:$L:v2" "Entrypoint=/bin/echo" "Exec=one two"
        ccsup_run f
        expect_status 0
        expect_equal "output" "one two" "$output"
        # app is 1000 in the lowest layer's /etc/passwd, 1234 in the top one's
        image_unit g "oci:$L:v2" "User=app:0" "Exec='id -u; id -g'"
        ccsup_run g
        expect_status 0
        expect_line 1234
        expect_line 0
        image_unit h "oci:$L:v2" "User=nobody-here" "Exec=true"
        ccsup_run h
        expect_status 125
        expect_stderr_has "user \`nobody-here\` not found in the image's /etc/passwd"
}

@test "layered: a whiteout hides a lower file, an opaque directory hides the lower content" {
        # as root: the image's user (app) may not write /etc, and holds no
        # capability that would let it
        image_unit w "oci:$L:v2" "User=0" \
                "Exec='ls /etc/remove-me 2>/dev/null || echo no-remove-me; ls -A /opt; cat /opt/only; echo x >/etc/new && echo writable'"
        ccsup_run w
        expect_status 0
        expect_line no-remove-me
        expect_line only
        expect_line new
        expect_no_line old
        expect_line writable
        # the lower image is untouched, and shows its own files
        image_unit v1 "oci:$L:v1" "Exec=/bin/sh -c 'cat /etc/remove-me; ls /opt; ls /etc/new 2>/dev/null || echo pristine'"
        ccsup_run v1
        expect_status 0
        expect_line gone
        expect_line old
        expect_line pristine
}

@test "layered: ReadOnly=yes, and Persistent=yes keeps the writable layer" {
        unit ro <<EOF
[Image]
Image=oci:$L:v2
ReadOnly=yes

[Process]
# root, who could write /etc but for ReadOnly=yes
User=0
Exec='touch /etc/x 2>/dev/null && echo wrote || echo read-only; ls /etc/remove-me 2>/dev/null || echo no-remove-me'
EOF
        ccsup_run ro
        expect_status 0
        expect_line read-only
        expect_line no-remove-me
        unit p <<EOF
[Image]
Image=oci:$L:v2
Persistent=yes

[Process]
User=0
Exec='cat /etc/kept 2>/dev/null || echo first; echo kept >/etc/kept'
EOF
        ccsup_run p
        expect_status 0
        expect_line first
        ccsup_run p
        expect_status 0
        expect_line kept
}

@test "layered: ReadOnly=yes makes a missing mount point without making the root writable" {
        mkdir "$T/www"
        echo served >"$T/www/index.html"
        unit ro <<EOF
[Image]
Image=oci:$L:v2
ReadOnly=yes

[Process]
Exec='cat /srv/www/index.html; touch /etc/x 2>/dev/null && echo wrote || echo read-only; touch /srv/y 2>/dev/null && echo wrote || echo read-only'

[Mounts]
Bind=$T/www:/srv/www:ro
EOF
        ccsup_run ro
        expect_status 0
        expect_line served
        expect_no_line wrote
        # the store's layers hold no trace of the mount point
        [[ -z $(find "$T/state/images/layers" -path '*/srv/www') ]]
}

@test "layered: the image's StopSignal stops the container" {
        image_unit sig "oci:$L:v2" \
                "Exec='trap \"echo got-usr1; exit 0\" USR1; trap \"echo got-term; exit 0\" TERM; echo up; while :; do sleep 0.05; done'"
        ccsup_start sig
        wait_for_output '^up$'
        kill -TERM "$CCSUPD_PID"
        wait_exit "$CCSUPD_PID" 15
        expect_status 0
        expect_line got-usr1
}

@test "layered: 40 layers mount, through lowerdir+ and through the mount(2) fallback" {
        local d=$BATS_FILE_TMPDIR/many i
        if [[ ! -d $d/layout ]]; then
                mkdir -p "$d/f"
                cp -r "$L" "$d/layout"
                umoci tag --image "$d/layout:v1" m
                for ((i = 1; i <= 39; i++)); do
                        echo "$i" >"$d/f/n"
                        umoci insert --image "$d/layout:m" "$d/f/n" "/layers/$i"
                done
        fi
        image_unit many "oci:$d/layout:m" "Exec=/bin/sh -c 'ls /layers | wc -l; cat /layers/1'"
        ccsup_run many
        expect_status 0
        expect_line 39
        expect_line 1
        [[ $(layer_count) -eq 40 ]]
        unit manyro <<EOF
[Image]
Image=oci:$d/layout:m
ReadOnly=yes

[Process]
Exec=/bin/cat /layers/39
EOF
        # the mount(2) path of kernels before 6.8 (a test switch)
        if has_test_switches; then
                CCSUP_TEST_OVERLAY_LEGACY=1 ccsup_run many
                expect_status 0
                expect_line 39
                CCSUP_TEST_OVERLAY_LEGACY=1 ccsup_run manyro
                expect_status 0
                expect_line 39
        fi
        ccsup_run manyro
        expect_status 0
        expect_line 39
}

@test "layered: broken images fail with a precise message and exit 125" {
        image_unit tag "oci:$L:nope"
        ccsup_run tag
        expect_status 125
        expect_stderr_has "no image tagged \`nope\`"

        # a corrupted layer blob (the largest blob: the base layer)
        local c=$T/corrupt blob
        cp -r "$L" "$c"
        blob=$(ls -S "$c/blobs/sha256" | head -n1)
        printf 'X' | dd of="$c/blobs/sha256/$blob" bs=1 seek=100 conv=notrunc status=none
        image_unit bad "oci:$c:v2" Exec=true
        ccsup_run bad
        expect_status 125
        expect_stderr_has "digest mismatch"

        # a missing blob
        local m=$T/missing
        cp -r "$L" "$m"
        rm "$m/blobs/sha256/$blob"
        image_unit gone "oci:$m:v2" Exec=true
        ccsup_run gone
        expect_status 125
        expect_stderr_has "$blob"

        # an unsupported media type
        mk_tar "$T/one.tar" - hello=world
        mk_oci_layout "$T/mt" application/vnd.example.unknown /bin/true "$T/one.tar"
        image_unit mt "oci:$T/mt" Exec=true
        ccsup_run mt
        expect_status 125
        expect_stderr_has "application/vnd.example.unknown"

        # a corrupt (truncated) archive
        head -c 20000 "$IMG/image.tar" >"$T/short.tar"
        image_unit short "oci-archive:$T/short.tar:v2" Exec=true
        ccsup_run short
        expect_status 125
        expect_stderr_has "oci archive \`$T/short.tar\`"

        # nothing half-made is left in the store
        [[ -z $(find "$T/state/images" -name '.tmp-*') ]]
        expect_nothing_left
}

@test "layered: a path-traversal layer is refused, nothing escapes" {
        mk_tar "$T/evil.tar" - "../../../escaped-$TAG=x"
        mk_oci_layout "$T/evil" application/vnd.oci.image.layer.v1.tar /bin/true "$T/evil.tar"
        image_unit evil "oci:$T/evil" Exec=true
        ccsup_run evil
        expect_status 125
        expect_stderr_has "escaped-$TAG"
        [[ -z $(find / -xdev -maxdepth 4 -name "escaped-$TAG" 2>/dev/null) ]]
        [[ $(layer_count) -eq 0 ]]
}

@test "layered, daemon: the import runs in the background; a bad archive fails alone" {
        sleeper keep
        unit layered <<EOF
[Image]
Image=oci-archive:$IMG/image.tar:v2

[Process]
Exec='trap "exit 0" USR1; while :; do sleep 0.05; done'
EOF
        head -c 20000 "$IMG/image.tar" >"$T/short.tar"
        unit broken <<EOF
[Image]
Image=oci-archive:$T/short.tar:v2

[Process]
Exec=true

[Restart]
Policy=no
EOF
        sup_start
        wait_state keep running
        wait_state layered running 30
        wait_state broken failed 30
        [[ $(prop broken Result) == start-error ]]
        run ctl status broken
        [[ $output == *"oci archive \`$T/short.tar\`"* ]]
        [[ $(prop keep State) == running ]]
        grep -q "importing image \`oci-archive:$IMG/image.tar:v2\`" "$T/d.err"
        # the image's StopSignal (SIGUSR1) ends it cleanly
        run ctl stop layered
        wait_state layered inactive 15
        [[ $(prop layered Result) == success ]]
}
