#!/usr/bin/env bats
# ccsupd --run: a container that cannot be set up is reported with its cause on
# stderr, --run exits 125 (as `docker run` does), never hangs (ccsup_run has a
# timeout: a hang is status 124), and leaves nothing behind.

load run-helpers

setup_file() { run_setup_file; }
setup() { run_setup; }
teardown() { run_teardown; }

@test "Bind= with a missing source: 125, the path and the errno text" {
        unit bind <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/true

[Mounts]
Bind=/nonexistent:/x
EOF
        ccsup_run bind
        expect_status 125
        expect_stderr_has "/nonexistent"
        expect_stderr_has "No such file or directory"
        expect_nothing_left
}

@test "a missing image: 125, naming the image" {
        cat >"$T/units/noimage.unit" <<EOF
[Image]
Image=$T/no-such-image

[Process]
Exec=/bin/true
EOF
        ccsup_run noimage
        expect_status 125
        expect_stderr_has "$T/no-such-image"
        expect_nothing_left
}

@test "an image that is a file, not a directory: 125" {
        echo "not an image" >"$T/file-image"
        cat >"$T/units/fileimage.unit" <<EOF
[Image]
Image=$T/file-image

[Process]
Exec=/bin/true
EOF
        ccsup_run fileimage
        expect_status 125
        expect_stderr_has "$T/file-image"
        expect_nothing_left
}

@test "a command not found: 125, naming the command" {
        plain_unit nocmd /usr/bin/no-such-command
        ccsup_run nocmd
        expect_status 125
        expect_stderr_has "/usr/bin/no-such-command"
        expect_stderr_has "No such file or directory"
        expect_nothing_left
}

@test "a command that is not executable: 125, naming the command" {
        plain_unit noexec /etc/passwd
        ccsup_run noexec
        expect_status 125
        expect_stderr_has "/etc/passwd"
        expect_stderr_has "Permission denied"
        expect_nothing_left
}

@test "a directory as command: 125" {
        plain_unit dircmd /etc
        ccsup_run dircmd
        expect_status 125
        expect_stderr_has "/etc"
        expect_nothing_left
}

@test "User= unknown in the image: 125, naming the user" {
        unit baduser <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/true
User=no-such-user
EOF
        ccsup_run baduser
        expect_status 125
        expect_stderr_has "no-such-user"
        expect_nothing_left
}

@test "SupplementaryGroups= unknown in the image: 125, naming the group" {
        unit badgroup <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/true
SupplementaryGroups=no-such-group
EOF
        ccsup_run badgroup
        expect_status 125
        expect_stderr_has "no-such-group"
        expect_nothing_left
}

@test "a failed setup does not break the next run" {
        unit bind <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/true

[Mounts]
Bind=/nonexistent:/x
EOF
        local i
        for i in 1 2 3; do
                ccsup_run bind
                expect_status 125
        done
        plain_unit good "$H exit 0"
        ccsup_run good
        expect_status 0
        expect_nothing_left
}

@test "Mode=container:NAME: 125, --run has no other unit to join" {
        unit sidecar <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/true

[Network]
Mode=container:web
EOF
        ccsup_run sidecar
        expect_status 125
        expect_stderr_has "network mode \`container:web\` is not supported with --run"
        expect_nothing_left
}
