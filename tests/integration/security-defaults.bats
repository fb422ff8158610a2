#!/usr/bin/env bats
# ccsupd --run: the default confinement: capabilities, no_new_privs, seccomp,
# unprivileged ICMP inside the container's own network namespace.

load run-helpers

setup_file() { run_setup_file; }
setup() { run_setup; }
teardown() { run_teardown; }

# The default set (UNITS.md): CHOWN 0, DAC_OVERRIDE 1, FOWNER 3, FSETID 4,
# KILL 5, SETGID 6, SETUID 7, SETPCAP 8, NET_BIND_SERVICE 10, SYS_CHROOT 18,
# AUDIT_WRITE 29, SETFCAP 31 (bit numbers of linux/capability.h); Docker's
# default set without MKNOD (27) and NET_RAW (13).
default_caps_hex() {
        local bit mask=0
        for bit in 0 1 3 4 5 6 7 8 10 18 29 31; do
                ((mask |= 1 << bit))
        done
        printf '%016x' "$mask"
}

@test "the default capability mask is 00000000a00405fb" {
        # a guard on the arithmetic below, independent of ccsupd
        expect_equal "default mask" 00000000a00405fb "$(default_caps_hex)"
}

@test "default capabilities: root holds the default set in bounding, permitted, effective; no inheritable or ambient" {
        plain_unit caps "$H caps"
        ccsup_run caps
        expect_status 0
        local want set
        want=$(default_caps_hex)
        for set in CapPrm CapEff CapBnd; do
                expect_line "$set:	$want"
        done
        expect_line "CapInh:	0000000000000000"
        expect_line "CapAmb:	0000000000000000"
}

@test "NoNewPrivileges is on by default" {
        plain_unit nnp "$H nnp"
        ccsup_run nnp
        expect_status 0
        expect_equal "NoNewPrivs" "NoNewPrivs:	1" "$output"
}

@test "a seccomp filter is on by default" {
        plain_unit seccomp "$H seccomp"
        ccsup_run seccomp
        expect_status 0
        expect_equal "Seccomp" "Seccomp:	2" "$output"
}

@test "forbidden system calls fail with EPERM: mount, namespaces, keyring, bpf, reboot, kexec, modules, perf" {
        local calls=(mount unshare-user unshare-net unshare-mount unshare-pid keyctl add_key
                bpf reboot kexec finit_module perf_event_open)
        plain_unit try "$H try ${calls[*]}"
        ccsup_run try
        local c
        for c in "${calls[@]}"; do
                expect_line "$c: EPERM (Operation not permitted)"
        done
        expect_status 1
}

@test "ordinary programs run under the filter" {
        plain_unit ordinary "/bin/sh -c 'mkdir -p /tmp/d && echo hello >/tmp/d/f && cat /tmp/d/f | tr a-z A-Z && ls / | grep -qx etc && sleep 0.1 && date +%Y >/dev/null && $H try chroot && echo all-ok'"
        ccsup_run ordinary
        expect_status 0
        expect_line HELLO
        expect_line "chroot: ok"
        expect_line all-ok
}

@test "unprivileged ICMP is allowed inside: ping_group_range is 0 2147483647" {
        local host_before
        host_before=$(cat /proc/sys/net/ipv4/ping_group_range)
        unit ping <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'cat /proc/sys/net/ipv4/ping_group_range; $H try icmp'
User=app
EOF
        ccsup_run ping
        expect_status 0
        # in a user namespace (CCSUP_TEST_USERNS=1): every group it maps
        if [[ ${CCSUP_TEST_USERNS:-} == 1 ]]; then
                expect_line "0	65535"
        else
                expect_line "0	2147483647"
        fi
        expect_line "icmp: ok"
        # the host's own setting is untouched
        expect_equal "host ping_group_range" "$host_before" "$(cat /proc/sys/net/ipv4/ping_group_range)"
}

@test "a non-root User= gets the default set as its bounding set, and no capability" {
        unit app <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=$H caps
User=app
EOF
        ccsup_run app
        expect_status 0
        expect_line "CapBnd:	$(default_caps_hex)"
        local set
        for set in CapInh CapPrm CapEff CapAmb; do
                expect_line "$set:	0000000000000000"
        done
}
