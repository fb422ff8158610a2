#!/usr/bin/env bats
# `ccsupctl verify FILE...` (CLI.md, UNITS.md): checks unit files without a
# daemon; prints one "FILE:LINE: message" line per error, nothing for a valid
# file; exit 1 if any file has an error, 2 on a usage error.
#
# Messages are matched by their FILE:LINE: prefix and a key word (the key or
# section name), not by their full wording.

load helpers

@test "verify: a valid unit prints nothing and exits 0" {
        valid_unit_text | mkunit "$TEST_DIR" good
        run "$CCSUPCTL" verify "$TEST_DIR/good.unit"
        assert_status 0
        assert_no_output
}

@test "verify: an unknown key is reported as FILE:LINE: and exits 1" {
        mkunit "$TEST_DIR" bad <<'UNIT'
[Image]
Image=/var/lib/ccsup/images/busybox-rootfs
Bogus=1
[Process]
Exec=/bin/true
UNIT
        local f=$TEST_DIR/bad.unit
        run "$CCSUPCTL" verify "$f"
        assert_status 1
        assert_line_matching "$f:3: " Bogus
        assert_all_lines_prefixed "$f:"
}

@test "verify: line numbers count comments, blank lines and continuations" {
        mkunit "$TEST_DIR" lines <<'UNIT'
# a comment
  ; an indented comment

[Image]
Image=/var/lib/ccsup/images/busybox-rootfs

[Process]
Exec=/bin/sh -c
  "echo continued"
Environment=A=1
NoSuchKey=yes
UNIT
        local f=$TEST_DIR/lines.unit
        run "$CCSUPCTL" verify "$f"
        assert_status 1
        assert_line_matching "$f:11: " NoSuchKey
}

@test "verify: all errors of a file are reported at once" {
        mkunit "$TEST_DIR" many <<'UNIT'
[Image]
Image=/var/lib/ccsup/images/busybox-rootfs
Bogus=1
ReadOnly=maybe
[Process]
Exec=/bin/true
StopTimeoutSec=ten seconds
[Restart]
Policy=sometimes
UNIT
        local f=$TEST_DIR/many.unit
        run "$CCSUPCTL" verify "$f"
        assert_status 1
        assert_line_matching "$f:3: " Bogus
        assert_line_matching "$f:4: " ReadOnly
        assert_line_matching "$f:7: " StopTimeoutSec
        assert_line_matching "$f:9: " Policy
        assert_all_lines_prefixed "$f:"
}

@test "verify: an unknown section is reported on its header line" {
        mkunit "$TEST_DIR" section <<'UNIT'
[Image]
Image=/var/lib/ccsup/images/busybox-rootfs
[Process]
Exec=/bin/true
[Bogus]
Key=value
UNIT
        local f=$TEST_DIR/section.unit
        run "$CCSUPCTL" verify "$f"
        assert_status 1
        assert_line_matching "$f:5: " Bogus
}

@test "verify: X- sections and keys are ignored" {
        mkunit "$TEST_DIR" x <<'UNIT'
[Image]
Image=/var/lib/ccsup/images/busybox-rootfs
X-Owner=ops
[Process]
Exec=/bin/true
[X-Local]
Anything=goes
UNIT
        run "$CCSUPCTL" verify "$TEST_DIR/x.unit"
        assert_status 0
        assert_no_output
}

@test "verify: a missing required key names its section's header line" {
        mkunit "$TEST_DIR" noimage <<'UNIT'
[Process]
Exec=/bin/true

[Image]
ReadOnly=yes
UNIT
        local f=$TEST_DIR/noimage.unit
        run "$CCSUPCTL" verify "$f"
        assert_status 1
        assert_line_matching "$f:4: " Image
}

@test "verify: a missing required section is reported on line 1" {
        mkunit "$TEST_DIR" nosection <<'UNIT'
# no [Image] section at all
[Process]
Exec=/bin/true
UNIT
        local f=$TEST_DIR/nosection.unit
        run "$CCSUPCTL" verify "$f"
        assert_status 1
        assert_line_matching "$f:1: " Image
}

@test "verify: unbalanced quotes in Exec= are an error on their line" {
        mkunit "$TEST_DIR" quotes <<'UNIT'
[Image]
Image=/var/lib/ccsup/images/busybox-rootfs
[Process]
Exec=/bin/sh -c "echo unbalanced
UNIT
        local f=$TEST_DIR/quotes.unit
        run "$CCSUPCTL" verify "$f"
        assert_status 1
        assert_line_matching "$f:4: " ""
}

@test "verify: a ';' inside a value is not a comment" {
        mkunit "$TEST_DIR" semi <<'UNIT'
[Image]
Image=/var/lib/ccsup/images/busybox-rootfs
[Process]
Exec=/bin/sh -c "echo a ; echo 'b'"
UNIT
        run "$CCSUPCTL" verify "$TEST_DIR/semi.unit"
        assert_status 0
        assert_no_output
}

@test "verify: a line of 4096 bytes works, a longer one is an error on its line" {
        local pad4k pad5k
        # "Environment=A=" is 14 bytes: pad the line to exactly 4096 bytes.
        pad4k=$(head -c $((4096 - 14)) /dev/zero | tr '\0' x)
        pad5k=$(head -c 5000 /dev/zero | tr '\0' x)
        { valid_unit_text; echo "Environment=A=$pad4k"; } | mkunit "$TEST_DIR" long-ok
        run "$CCSUPCTL" verify "$TEST_DIR/long-ok.unit"
        assert_status 0
        assert_no_output

        { valid_unit_text; echo "Environment=A=$pad5k"; } | mkunit "$TEST_DIR" long-bad
        local f=$TEST_DIR/long-bad.unit
        run "$CCSUPCTL" verify "$f"
        assert_status 1
        assert_line_matching "$f:6: " ""
        # Reported once, not again for a cut-off tail parsed as a new line.
        assert_all_lines_prefixed "$f:6: "
}

@test "verify: keys of later work are rejected like unknown keys (and a FileDescriptorStoreMax= out of range)" {
        mkunit "$TEST_DIR" later <<'UNIT'
[Image]
Image=/var/lib/ccsup/images/busybox-rootfs
[Process]
Exec=/bin/true
Notify=yes
FileDescriptorStoreMax=4096
[Security]
UserNamespace=lots
[Network]
Mode=bridge
PublishPort=8080-8081:80
UNIT
        local f=$TEST_DIR/later.unit
        run "$CCSUPCTL" verify "$f"
        assert_status 1
        assert_line_matching "$f:6: " FileDescriptorStoreMax
        assert_line_matching "$f:8: " UserNamespace
        assert_line_matching "$f:11: " "the host and container port ranges differ in length"
}

@test "verify: [Health] is checked key by key" {
        mkunit "$TEST_DIR" hc <<'UNIT'
[Image]
Image=/var/lib/ccsup/images/busybox-rootfs
[Process]
Exec=/bin/true
[Health]
HTTP=web:80/
IntervalSec=0
Retries=none
OnFailure=panic
UNIT
        local f=$TEST_DIR/hc.unit
        run "$CCSUPCTL" verify "$f"
        assert_status 1
        assert_line_matching "$f:6: HTTP=: invalid URL" "names are not resolved"
        assert_line_matching "$f:7: IntervalSec=: " "must be more than 0"
        assert_line_matching "$f:8: Retries=: " "invalid number"
        assert_line_matching "$f:9: OnFailure=: " "expected restart, stop or none"

        mkunit "$TEST_DIR" hc <<'UNIT'
[Image]
Image=/var/lib/ccsup/images/busybox-rootfs
[Process]
Exec=/bin/true
[Health]
TCP=8080
IntervalSec=2s
TimeoutSec=1s
Retries=2
StartPeriodSec=10s
StartIntervalSec=1s
OnFailure=stop
UNIT
        run "$CCSUPCTL" verify "$f"
        assert_status 0
}

@test "verify: errors in a drop-in name the drop-in file and its line" {
        valid_unit_text | mkunit "$TEST_DIR" web
        mkunit "$TEST_DIR" web.unit.d/10-extra.conf <<'UNIT'
[Resources]
MemoryMax=256M
Bogus=1
UNIT
        local d=$TEST_DIR/web.unit.d/10-extra.conf
        run "$CCSUPCTL" verify "$TEST_DIR/web.unit"
        assert_status 1
        assert_line_matching "$d:3: " Bogus
}

@test "verify: several files, one bad: exit 1, only the bad one reported" {
        valid_unit_text | mkunit "$TEST_DIR" one
        valid_unit_text | mkunit "$TEST_DIR" two
        mkunit "$TEST_DIR" three <<'UNIT'
[Image]
Image=/var/lib/ccsup/images/busybox-rootfs
[Process]
Exec=/bin/true
Bogus=1
UNIT
        local f=$TEST_DIR/three.unit
        run "$CCSUPCTL" verify "$TEST_DIR/one.unit" "$f" "$TEST_DIR/two.unit"
        assert_status 1
        assert_line_matching "$f:5: " Bogus
        assert_all_lines_prefixed "$f:"
}

@test "verify: a missing file is an error naming the file" {
        valid_unit_text | mkunit "$TEST_DIR" good
        local f=$TEST_DIR/does-not-exist.unit
        run "$CCSUPCTL" verify "$TEST_DIR/good.unit" "$f"
        assert_status 1
        assert_line_matching "$f" ""
        [[ $output != *"$TEST_DIR/good.unit"* ]]
}

@test "verify: every example unit verifies clean" {
        # Copies: the checkout may belong to a user, and only files root alone
        # could have written are trusted (that is another test's business).
        local f units=()
        for f in "$CCSUP_EXAMPLES"/*.unit; do
                cp "$f" "$TEST_DIR/"
                units+=("$TEST_DIR/${f##*/}")
        done
        [[ -f ${units[0]} ]]
        run "$CCSUPCTL" verify "${units[@]}"
        assert_status 0
        assert_no_output
}

@test "verify: no file is a usage error (exit 2)" {
        run "$CCSUPCTL" verify
        assert_status 2
}
