#!/usr/bin/env bats
# ccsupd --run: [Image] Image= (a directory), ReadOnly=, Persistent=, and the
# image directory is never modified.

load run-helpers

setup_file() { run_setup_file; }
setup() { run_setup; }
teardown() { run_teardown; }

# tree_fingerprint DIR: every entry's path, type, mode, owner, size, mtime, ctime,
# inode, link count and symlink target, then the sha256 of every regular file.
# (atime is left out: reading a file legitimately updates it.)
tree_fingerprint() {
        (
                cd "$1" &&
                        find . -printf '%p %y %m %U %G %s %T@ %C@ %i %n %l\n' | LC_ALL=C sort &&
                        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
        )
}

@test "Image= a directory: it is the container's root filesystem" {
        plain_unit img "/bin/cat /etc/os-release /etc/passwd"
        ccsup_run img
        expect_status 0
        expect_line 'NAME="ccsup test image"'
        expect_line 'app:x:1000:1000:app:/home/app:/bin/sh'
}

@test "ReadOnly=no (default): / is writable, and every start begins from the pristine image" {
        unit rw <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'ls /etc/marker 2>/dev/null; ls /bin/ls >/dev/null 2>&1 || echo ls-missing; $H write /etc/marker && rm /bin/ls && echo changed'
EOF
        ccsup_run rw
        expect_status 0
        expect_line "write /etc/marker: ok"
        expect_line changed
        ccsup_run rw
        expect_status 0
        expect_no_line /etc/marker
        expect_no_line ls-missing
        [[ ! -e $IMAGE/etc/marker && -e $IMAGE/bin/ls ]]
}

@test "ReadOnly=yes: writes to / fail, mounts stay writable" {
        mkdir "$T/src"
        unit ro <<EOF
[Image]
Image=$IMAGE
ReadOnly=yes

[Process]
Exec=/bin/sh -c '$H write /etc/x; $H write /x; $H write /tmp/x; $H write /srv/x; $H write /mnt/x; $H write /dev/shm/x'

[Mounts]
Tmpfs=/tmp
Volume=ro-vol:/srv
Bind=$T/src:/mnt
EOF
        ccsup_run ro
        expect_line "write /etc/x: EROFS (Read-only file system)"
        expect_line "write /x: EROFS (Read-only file system)"
        expect_line "write /tmp/x: ok"
        expect_line "write /srv/x: ok"
        expect_line "write /mnt/x: ok"
        expect_line "write /dev/shm/x: ok"
        [[ -e $T/src/x ]]
}

@test "Persistent=no: a file written in one run is gone in the next" {
        unit eph <<EOF
[Image]
Image=$IMAGE
Persistent=no

[Process]
Exec=/bin/sh -c 'cat /root/note 2>/dev/null || echo no-note; echo written >/root/note'
EOF
        ccsup_run eph
        expect_status 0
        expect_equal "first run" no-note "$output"
        ccsup_run eph
        expect_status 0
        expect_equal "second run" no-note "$output"
}

@test "Persistent=yes: changes survive across runs, stored under --state-dir" {
        unit keep <<EOF
[Image]
Image=$IMAGE
Persistent=yes

[Process]
Exec=/bin/sh -c 'cat /root/note 2>/dev/null || echo no-note; echo kept-$TAG >/root/note; rm -f /bin/vi'
EOF
        ccsup_run keep
        expect_status 0
        expect_equal "first run" no-note "$output"
        ccsup_run keep
        expect_status 0
        expect_equal "second run" "kept-$TAG" "$output"
        # the layer is below the state directory, not in the image
        grep -rqs --include=note "kept-$TAG" "$T/state" ||
                { echo "the note is not stored under --state-dir"; find "$T/state" | head -50; false; }
        [[ ! -e $IMAGE/root/note && -e $IMAGE/bin/vi ]]
}

@test "the image directory is never modified, whatever the container does" {
        local img=$T/image
        mkimage_with_helper "$img"
        local before
        before=$(tree_fingerprint "$img")

        local mode
        for mode in no yes; do
                unit vandal-$mode <<EOF
[Image]
Image=$img
Persistent=$mode

[Process]
Exec=$H write-everywhere
EOF
                ccsup_run vandal-$mode
                expect_status 0
                # the container really could write, chmod and delete (its own layer)
                [[ $output =~ written=[1-9] && $output =~ chmod=[1-9] && $output =~ deleted=[1-9] ]] ||
                        { echo "the container could not write ($output)"; false; }
        done
        unit vandal-ro <<EOF
[Image]
Image=$img
ReadOnly=yes

[Process]
Exec=$H write-everywhere
EOF
        ccsup_run vandal-ro

        local after
        after=$(tree_fingerprint "$img")
        if [[ $before != "$after" ]]; then
                diff <(echo "$before") <(echo "$after") | head -40
                echo "the image directory changed"
                false
        fi
}
