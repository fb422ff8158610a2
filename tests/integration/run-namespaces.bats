#!/usr/bin/env bats
# ccsupd --run: namespaces (pid, mount, uts, ipc, cgroup, net) and [Network] Mode=.

load run-helpers

setup_file() { run_setup_file; }
setup() { run_setup; }
teardown() { run_teardown; }

# host_ns NAME: the host's namespace link, e.g. "pid:[4026531836]"
host_ns() {
        readlink "/proc/self/ns/$1"
}

# container_ns NAME: from the helper's `ns` output in $output
container_ns() {
        awk -v n="$1" '$1 == n { print $2 }' <<<"$output"
}

@test "the command is PID 1 of its namespace and sees no host process" {
        plain_unit pids "$H pids"
        ccsup_run pids
        expect_status 0
        expect_equal "PIDs in /proc" "1" "$output"
}

@test "pid, mount, uts, ipc, cgroup and net namespaces are the container's own" {
        plain_unit ns "$H ns"
        ccsup_run ns
        expect_status 0
        local n
        for n in pid mnt uts ipc cgroup net; do
                local inside outside
                inside=$(container_ns "$n")
                outside=$(host_ns "$n")
                [[ -n $inside && $inside != "?" ]] || { echo "no $n namespace inside"; false; }
                if [[ $inside == "$outside" ]]; then
                        echo "$n namespace is the host's ($outside)"
                        false
                fi
        done
        # no user namespace (UserNamespace= is later work)
        expect_equal "user namespace" "$(host_ns user)" "$(container_ns user)"
}

@test "Mode=none (the default): loopback only, and it is up" {
        plain_unit net "$H ifaces"
        ccsup_run net
        expect_status 0
        expect_equal "interfaces" "lo up" "$output"
}

@test "Mode=none explicitly: loopback works" {
        unit net <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c '$H ifaces; $H loopback'

[Network]
Mode=none
EOF
        ccsup_run net
        expect_status 0
        expect_line "lo up"
        expect_line "loopback: ok"
        [[ ${#lines[@]} -eq 2 ]]
}

@test "Mode=host: the host's network namespace and interfaces" {
        unit hostnet <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c '$H ns; $H ifaces'

[Network]
Mode=host
EOF
        ccsup_run hostnet
        expect_status 0
        expect_equal "net namespace" "$(host_ns net)" "$(container_ns net)"
        # the other namespaces stay private
        [[ $(container_ns pid) != "$(host_ns pid)" ]]
        [[ $(container_ns mnt) != "$(host_ns mnt)" ]]
        local inside outside
        inside=$(awk 'NF == 2 && ($2 == "up" || $2 == "down") { print $1 }' <<<"$output" | sort | xargs)
        outside=$(ls /sys/class/net | sort | xargs)
        expect_equal "interfaces" "$outside" "$inside"
}

@test "uts: the container's hostname is not the host's, and cannot be changed without CAP_SYS_ADMIN" {
        unit uts <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c '$H hostname; hostname changed-inside 2>/dev/null || echo refused'
EOF
        local before
        before=$(hostname)
        ccsup_run uts
        expect_status 0
        expect_equal "hostname inside, then" "uts"$'\n'"refused" "$output"
        expect_equal "host's hostname" "$before" "$(hostname)"
}

@test "ipc: System V objects of the host are invisible" {
        command -v ipcmk >/dev/null || skip "ipcmk (util-linux) not installed"
        local id
        id=$(ipcmk -Q 2>/dev/null | awk '{ print $NF }')
        [[ -n $id ]] || skip "cannot create a message queue on the host"
        plain_unit ipc "/bin/cat /proc/sysvipc/msg"
        ccsup_run ipc
        ipcrm -q "$id"
        expect_status 0
        # only the header line
        [[ ${#lines[@]} -eq 1 ]] || { echo "host message queue visible inside"; false; }
}
