#!/usr/bin/env bats
# [Network] Mode=bridge under ccsupd (UNITS.md, Bridge networking): the
# bridge, a veth per container with eth0 inside, addresses leased across
# restarts, the nftables table `inet ccsup` (masquerade, PublishPort=,
# hairpin, 127.0.0.1 from the host). Hermetic: ccsupd runs in a network
# namespace of the test's (own_netns); every check runs there (in_ns) or in
# further namespaces the test made; the host's network is never touched.

load sup-helpers

setup_file() { run_setup_file; }
setup() {
        sup_setup
        own_netns
}
teardown() { sup_teardown; }

in_ns() {
        nsenter -t "$NET_PID" -n -- "$@"
}

# bridge_unit NAME [NETWORK LINES...]: a TCP server on port 80 answering
# "NAME LINE", its eth0 addresses in /out/NAME.addr
bridge_unit() {
        local name=$1
        shift
        printf '#!/bin/sh\nread line\necho "%s $line"\n' "$name" >"$T/out/reply-$name"
        chmod +x "$T/out/reply-$name"
        unit "$name" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'ip -o addr show dev eth0 >/out/$name.addr; ip route >/out/$name.route; nc -ll -p 80 -e /out/reply-$name & trap "exit 0" TERM; while :; do sleep 0.05; done'
StopTimeoutSec=5s

[Mounts]
Bind=$T/out:/out

[Network]
Mode=bridge
$(printf '%s\n' "$@")
EOF
}

# ask FROM-UNIT HOST PORT: one request from inside FROM-UNIT's container
ask() {
        ctl exec "$1" /bin/sh -c "echo hi | nc -w 2 $2 $3"
}

veths() {
        in_ns ip -o link show type veth | wc -l
}

@test "Mode=bridge: eth0 with an address, the default route; containers reach each other and the bridge" {
        bridge_unit web
        bridge_unit db
        sup_start
        wait_state web running
        wait_state db running
        wait_file "$T/out/web.addr"
        wait_file "$T/out/db.addr"
        in_ns ip -o addr show dev ccsup0 | grep -q 'inet 10.89.0.1/24'
        in_ns ip -o addr show dev ccsup0 | grep -q 'inet6 fd89::1/64'
        grep -q 'inet 10.89.0.[0-9]*/24' "$T/out/web.addr"
        grep -q 'default via 10.89.0.1 dev eth0' "$T/out/web.route"
        web=$(prop web IPAddress)
        db=$(prop db IPAddress)
        [[ $web == 10.89.0.* && $db == 10.89.0.* && $web != "$db" ]]
        grep -q "inet $web/24" "$T/out/web.addr"
        [ "$(veths)" -eq 2 ]
        [ "$(in_ns cat /proc/sys/net/ipv4/ip_forward)" = 1 ]

        run ask web "$db" 80
        [ "$status" -eq 0 ]
        [ "$output" = "db hi" ]
        run ask db "$web" 80
        [ "$output" = "web hi" ]
        # the bridge address from a container: a server of the test's there
        in_ns busybox nc -l -p 9999 -e echo bridge-ok &
        echo $! >>"$T/bg-pids"
        wait_until 5 sh -c "nsenter -t $NET_PID -n ss -ltn | grep -q :9999"
        run ask web 10.89.0.1 9999
        [ "$output" = bridge-ok ]
}

@test "Mode=bridge: the address is kept across restarts, Address= fixes one; veth and bridge go with the containers" {
        bridge_unit web
        bridge_unit db "Address=10.89.0.77"
        # a fresh netns may inherit forwarding on; ccsupd puts back what was
        in_ns sh -c 'echo 0 >/proc/sys/net/ipv4/ip_forward'
        sup_start
        wait_state web running
        wait_state db running
        [ "$(prop db IPAddress)" = 10.89.0.77 ]
        [ "$(prop db IPv6Address)" = fd89::4d ]
        web=$(prop web IPAddress)
        ctl restart web
        wait_state web running
        [ "$(prop web IPAddress)" = "$web" ]
        ctl stop web
        wait_state web inactive
        [ "$(veths)" -eq 1 ]
        [ -z "$(prop web IPAddress)" ]
        ctl stop db
        wait_state db inactive
        [ "$(veths)" -eq 0 ]
        ! in_ns ip link show ccsup0
        [ "$(in_ns cat /proc/sys/net/ipv4/ip_forward)" = 0 ]
        # the lease outlives ccsupd
        sup_stop
        sup_start
        ctl start web
        wait_state web running
        [ "$(prop web IPAddress)" = "$web" ]
        sup_stop
        ! in_ns ip link show ccsup0
        [ "$(veths)" -eq 0 ]
}

@test "Mode=bridge: kill -9 of ccsupd and daemon-reexec: containers re-adopted, no duplicate veth, address or rule" {
        bridge_unit web "PublishPort=8080:80"
        bridge_unit db
        sup_start
        wait_state web running
        wait_state db running
        local web db table
        web=$(prop web IPAddress)
        db=$(prop db IPAddress)
        table=$(in_ns nft list table inet ccsup)
        [ "$(veths)" -eq 2 ]

        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        rm -f "$T/run/control"
        cat "$T/d.err" >>"$T/d1.err"
        sup_start
        wait_state web running
        wait_state db running
        grep -q "re-adopted PID" "$T/d.err"
        [ "$(veths)" -eq 2 ]
        [ "$(in_ns ip -o link show type bridge | wc -l)" -eq 1 ]
        [ "$(in_ns ip -o -4 addr show dev ccsup0 | wc -l)" -eq 1 ]
        [ "$(prop web IPAddress)" = "$web" ]
        [ "$(prop web PublishedPorts)" = "8080:80/tcp" ]
        [ "$(in_ns nft list table inet ccsup)" = "$table" ]
        run ask web "$db" 80
        [ "$output" = "db hi" ]

        run ctl daemon-reexec
        [ "$status" -eq 0 ]
        wait_state web running
        wait_state db running
        [ "$(veths)" -eq 2 ]
        [ "$(in_ns nft list table inet ccsup)" = "$table" ]
        [ "$(prop db IPAddress)" = "$db" ]
        run ask db "$web" 80
        [ "$output" = "web hi" ]

        sup_stop
        [ "$(veths)" -eq 0 ]
        ! in_ns ip link show ccsup0
        ! in_ns nft list table inet ccsup
}

@test "Mode=bridge: a killed ccsupd whose containers died leaves nothing behind at the next start" {
        bridge_unit web
        sup_start
        wait_state web running
        pid=$(prop web MainPID)
        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        kill -KILL "$pid"
        wait_until 5 sh -c "! kill -0 $pid"
        rm -f "$T/run/control"
        in_ns ip link show ccsup0
        sup_start --no-watch
        # the unit starts again (it is wanted): one bridge, one veth
        wait_state web running
        [ "$(veths)" -eq 1 ]
        [ "$(in_ns ip -o link show type bridge | wc -l)" -eq 1 ]
}
