#!/usr/bin/env bats
# [Security] capabilities by user (issue 13, item 4) and OOMScoreAdjust=
# (item 8): what /proc/self/status and /proc/self/oom_score_adj say inside.
#
# As Docker since CVE-2022-24769: root holds the set in its bounding,
# permitted and effective sets, with inheritable and ambient empty; any other
# User= holds nothing but AmbientCapabilities= (in inheritable, permitted,
# effective and ambient), the set staying its bounding set.

load sup-helpers

setup_file() {
        run_setup_file || return
        is_root || return 0
        # a setuid-root copy of the helper: what a non-root user regains by exec
        cp "$IMAGE$H" "$IMAGE$H-suid"
        chmod 4755 "$IMAGE$H-suid"
}
setup() { sup_setup; }
teardown() { sup_teardown; }

# the default set of UNITS.md (security-defaults.bats checks the arithmetic)
DEFAULT=00000000a00405fb
NONE=0000000000000000
NET_BIND_SERVICE=0000000000000400

# expect_caps INH PRM EFF BND AMB: the five lines of `$H caps` in $output
expect_caps() {
        expect_line "CapInh:	$1"
        expect_line "CapPrm:	$2"
        expect_line "CapEff:	$3"
        expect_line "CapBnd:	$4"
        expect_line "CapAmb:	$5"
}

# caps_unit NAME [LINES...]: prints the five sets, then tries setuid(0) and a
# bind to port 80; LINES go after [Process]'s Exec= (sections may follow)
caps_unit() {
        local name=$1
        shift
        unit "$name" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c '$H caps; $H try setuid0 bind-low; true'
$(printf '%s\n' "$@")
EOF
}

has_cap_sys_resource() {
        local eff
        eff=$(awk '$1 == "CapEff:" { print $2 }' /proc/self/status)
        (((0x$eff >> 24) & 1))
}

# ------------------------------------------------------------ capabilities

@test "root: the set in bounding, permitted and effective; inheritable and ambient empty" {
        caps_unit root
        ccsup_run root
        expect_status 0
        expect_caps $NONE $DEFAULT $DEFAULT $DEFAULT $NONE
        expect_line "setuid0: ok"
        expect_line "bind-low: ok"
}

@test "User= not root: nothing but the bounding set; setuid(0) and a low port fail" {
        caps_unit app "User=app"
        ccsup_run app
        expect_status 0
        expect_caps $NONE $NONE $NONE $DEFAULT $NONE
        expect_line "setuid0: EPERM (Operation not permitted)"
        expect_line "bind-low: EACCES (Permission denied)"
}

@test "User= not root with AmbientCapabilities=NET_BIND_SERVICE: that one in all four sets" {
        caps_unit amb "User=1000:1000" "" "[Security]" "AmbientCapabilities=cap_net_bind_service"
        ccsup_run amb
        expect_status 0
        expect_caps $NET_BIND_SERVICE $NET_BIND_SERVICE $NET_BIND_SERVICE $DEFAULT $NET_BIND_SERVICE
        expect_line "bind-low: ok"
        expect_line "setuid0: EPERM (Operation not permitted)"
}

@test "root with AmbientCapabilities=: the same sets as without" {
        caps_unit rootamb "" "[Security]" "AmbientCapabilities=NET_BIND_SERVICE"
        ccsup_run rootamb
        expect_status 0
        expect_caps $NONE $DEFAULT $DEFAULT $DEFAULT $NONE
}

@test "User= not root with Privileged=yes: still no capability, all of them in the bounding set" {
        caps_unit priv "User=app" "" "[Security]" "Privileged=yes"
        ccsup_run priv
        expect_status 0
        # what ccsupd itself may give: the test's own bounding set
        local bnd
        bnd=$(awk '$1 == "CapBnd:" { print $2 }' /proc/self/status)
        expect_caps $NONE $NONE $NONE "$bnd" $NONE
        expect_line "setuid0: EPERM (Operation not permitted)"
}

@test "User= not root: a setuid-root binary gets at most the bounding set" {
        unit suid <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H-suid status CapPrm CapEff
User=app

[Security]
NoNewPrivileges=no
DropCapabilities=SETUID
EOF
        ccsup_run suid
        expect_status 0
        # the default set without SETUID (7)
        local want
        want=$(printf '%016x' $((0x$DEFAULT & ~(1 << 7))))
        expect_line "CapPrm:	$want"
        expect_line "CapEff:	$want"
}

@test "ccsupctl exec as the unit's non-root user: the same sets as its PID 1" {
        unit web <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H wait-signal 1000
User=app

[Security]
AmbientCapabilities=NET_BIND_SERVICE
EOF
        sup_start
        wait_state web running
        run ctl exec web "$H" caps
        expect_status 0
        expect_caps $NET_BIND_SERVICE $NET_BIND_SERVICE $NET_BIND_SERVICE $DEFAULT $NET_BIND_SERVICE
        run ctl exec web "$H" status CapInh CapPrm CapEff CapBnd CapAmb
        local self=$output
        run ctl exec web grep ^Cap /proc/1/status
        expect_equal "capabilities of PID 1 and of exec" "$output" "$self"
}

@test "verify: AmbientCapabilities= outside the set is an error naming the capability and the line" {
        mkdir -p "$T/v"
        cat >"$T/v/out.unit" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/true
User=app

[Security]
AmbientCapabilities=NET_BIND_SERVICE NET_RAW
DropCapabilities=NET_BIND_SERVICE
EOF
        run ctl verify "$T/v/out.unit"
        expect_status 1
        expect_line "$T/v/out.unit:9: AmbientCapabilities=: CAP_NET_RAW is not in the container's capability set (the default set, or Capabilities=, with AddCapabilities= and DropCapabilities=)"
        expect_line "$T/v/out.unit:9: AmbientCapabilities=: CAP_NET_BIND_SERVICE is not in the container's capability set (the default set, or Capabilities=, with AddCapabilities= and DropCapabilities=)"
        expect_equal "error lines" 2 "${#lines[@]}"

        # added to the set, it is fine; an empty assignment clears the list
        cat >"$T/v/ok.unit" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/true
User=app

[Security]
AmbientCapabilities=NET_RAW
AddCapabilities=NET_RAW
EOF
        run ctl verify "$T/v/ok.unit"
        expect_status 0
        expect_equal "output" "" "$output"
        printf '%s\n' "AmbientCapabilities=SYS_ADMIN" "AmbientCapabilities=" >>"$T/v/ok.unit"
        run ctl verify "$T/v/ok.unit"
        expect_status 0

        printf '%s\n' "AmbientCapabilities=NET_FLY" >>"$T/v/ok.unit"
        run ctl verify "$T/v/ok.unit"
        expect_status 1
        expect_line "$T/v/ok.unit:13: AmbientCapabilities=: invalid capability \`NET_FLY\`"
}

# ------------------------------------------------------------ OOMScoreAdjust=

@test "OOMScoreAdjust=: containers do not inherit ccsupd's oom_score_adj (0 by default, else the key)" {
        unit web <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H wait-signal 1000
User=app
EOF
        unit adj <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H wait-signal 1000
User=app

[Resources]
OOMScoreAdjust=300
EOF
        SUP_WRAP=(choom -n 500 --)
        sup_start
        wait_state web running
        wait_state adj running
        expect_equal "ccsupd's own" 500 "$(cat "/proc/$SUP_PID/oom_score_adj")"
        expect_equal "PID 1, default" 0 "$(ctl exec web cat /proc/1/oom_score_adj)"
        expect_equal "exec, default" 0 "$(ctl exec web cat /proc/self/oom_score_adj)"
        expect_equal "PID 1, OOMScoreAdjust=300" 300 "$(ctl exec adj cat /proc/1/oom_score_adj)"
        expect_equal "exec, OOMScoreAdjust=300" 300 "$(ctl exec adj cat /proc/self/oom_score_adj)"
        # the main PID as the host sees it
        expect_equal "MainPID, host view" 300 "$(cat "/proc/$(prop adj MainPID)/oom_score_adj")"
}

@test "OOMScoreAdjust=: below ccsupd's own needs CAP_SYS_RESOURCE, which ccsupd uses before dropping it" {
        unit low <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'cat /proc/self/oom_score_adj; echo -1000 >/proc/self/oom_score_adj && echo lowered'
User=app

[Resources]
OOMScoreAdjust=-800
EOF
        if ! has_cap_sys_resource; then
                # a sandbox without it (as this one may be): a start error
                # that says so, never a silently ignored key
                ccsup_run low
                expect_status 125
                expect_stderr_has "OOMScoreAdjust=-800: /proc/self/oom_score_adj: Permission denied"
                skip "no CAP_SYS_RESOURCE here: the ccsupd-at--500 half is not checked"
        fi
        # ccsupd itself at -500: the default is 0 all the same
        plain_unit dflt "cat /proc/self/oom_score_adj"
        local real=$CCSUPD
        CCSUPD=$T/ccsupd-500
        printf '#!/bin/sh\necho -500 >/proc/self/oom_score_adj && exec %q "$@"\n' "$real" >"$CCSUPD"
        chmod +x "$CCSUPD"
        ccsup_run dflt
        expect_status 0
        expect_line 0
        ccsup_run low
        expect_status 0
        expect_line -800
        # the container (no CAP_SYS_RESOURCE) cannot go lower by itself
        expect_no_line lowered
        CCSUPD=$real
}

@test "verify: OOMScoreAdjust= takes -1000 to 1000, with precise errors" {
        mkdir -p "$T/v"
        local v
        for v in -1000 1000 0 -0 42 ""; do
                printf '[Image]\nImage=%s\n[Process]\nExec=/bin/true\n[Resources]\nOOMScoreAdjust=%s\n' \
                        "$IMAGE" "$v" >"$T/v/ok.unit"
                run ctl verify "$T/v/ok.unit"
                expect_status 0 || { echo "OOMScoreAdjust=$v refused"; return 1; }
        done
        local -A want=(
                [1001]="\`1001\` is out of range -1000 to 1000"
                [-1001]="\`-1001\` is out of range -1000 to 1000"
                [99999999999999999999]="invalid OOM score adjustment \`99999999999999999999\` (expected an integer from -1000 to 1000)"
                [abc]="invalid OOM score adjustment \`abc\` (expected an integer from -1000 to 1000)"
                [+5]="invalid OOM score adjustment \`+5\` (expected an integer from -1000 to 1000)"
                [--5]="invalid OOM score adjustment \`--5\` (expected an integer from -1000 to 1000)"
                [1.5]="invalid OOM score adjustment \`1.5\` (expected an integer from -1000 to 1000)"
        )
        for v in "${!want[@]}"; do
                printf '[Image]\nImage=%s\n[Process]\nExec=/bin/true\n[Resources]\nOOMScoreAdjust=%s\n' \
                        "$IMAGE" "$v" >"$T/v/bad.unit"
                run ctl verify "$T/v/bad.unit"
                expect_status 1
                expect_equal "OOMScoreAdjust=$v" "$T/v/bad.unit:6: OOMScoreAdjust=: ${want[$v]}" "$output"
        done
}
