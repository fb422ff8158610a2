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

in_remote() {
        nsenter -t "$REMOTE_PID" -n -- "$@"
}

# remote_netns: another namespace of the test's ("another host"), wired to
# ccsupd's by a veth: 192.168.77.1 / fd77::1 there, .2 / ::2 here
remote_netns() {
        unshare -n -- sh -c 'ip link set lo up && exec sleep 3600' &
        REMOTE_PID=$!
        echo "$REMOTE_PID" >>"$T/bg-pids"
        wait_until 5 sh -c '[ "$(cat /proc/$0/comm)" = sleep ]' "$REMOTE_PID"
        in_ns ip link add vr0 type veth peer name vr1 netns "$REMOTE_PID"
        in_ns ip addr add 192.168.77.1/24 dev vr0
        in_ns ip addr add fd77::1/64 dev vr0 nodad
        in_ns ip link set vr0 up
        in_remote ip addr add 192.168.77.2/24 dev vr1
        in_remote ip addr add fd77::2/64 dev vr1 nodad
        in_remote ip link set vr1 up
}

# request NETNS-PID HOST PORT: one TCP request from that namespace
request() {
        nsenter -t "$1" -n -- sh -c 'echo hi | busybox nc -w 2 "$0" "$1"' "$2" "$3"
}

# bridge_unit NAME [NETWORK LINES...]: TCP servers on ports 80 and 81
# answering "NAME LINE" and "NAME-81 LINE", a UDP one on 53 ("NAME ping"),
# its eth0 addresses in /out/NAME.addr
bridge_unit() {
        local name=$1
        shift
        printf '#!/bin/sh\nread line\necho "%s $line"\n' "$name" >"$T/out/reply-$name"
        printf '#!/bin/sh\nread line\necho "%s-81 $line"\n' "$name" >"$T/out/reply81-$name"
        chmod +x "$T/out/reply-$name" "$T/out/reply81-$name"
        unit "$name" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'ip -o addr show dev eth0 >/out/$name.addr; ip route >/out/$name.route; nc -ll -p 80 -e /out/reply-$name & nc -ll -p 81 -e /out/reply81-$name & $H udp-echo 53 $name & trap "exit 0" TERM; while :; do sleep 0.05; done'
StopTimeoutSec=5s

[Mounts]
Bind=$T/out:/out

[Network]
Mode=bridge
$(printf '%s\n' "$@")
EOF
}

# wait_serving NAME...: until the servers of bridge_unit listen in each
# (TCP 80 and 81, UDP 53 on its address): "running" is the exec of the
# shell, not the bind of the servers it starts in the background
wait_serving() {
        local name ip
        for name; do
                ip=$(prop "$name" IPAddress)
                wait_until 5 sh -c "nsenter -t $NET_PID -n busybox nc -w 1 $ip 80 </dev/null && nsenter -t $NET_PID -n busybox nc -w 1 $ip 81 </dev/null && nsenter -t $NET_PID -n python3 '$CCSUP_SRCDIR/tests/integration/socket-client.py' dgram $ip:53 1 >/dev/null"
        done
}

# ask FROM-UNIT HOST PORT: one request from inside FROM-UNIT's container
ask() {
        ctl exec "$1" /bin/sh -c "echo hi | nc -w 2 $2 $3"
}

# the host ends of the containers' veths (the test's own are not counted)
veths() {
        in_ns ip -o link show type veth | grep -c ': ccv'
}

@test "Mode=bridge: eth0 with an address, the default route; containers reach each other and the bridge" {
        bridge_unit web
        bridge_unit db
        sup_start
        wait_state web running
        wait_state db running
        wait_serving web db
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
        nsenter -t "$NET_PID" -n -- busybox nc -l -p 9999 -e echo bridge-ok &
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
        wait_serving web db
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

@test "PublishPort=: TCP, UDP and ranges from another netns through the host address, from 127.0.0.1, hairpin from a container" {
        remote_netns
        bridge_unit web "PublishPort=8080:80 9000-9001:80-81 8053:53/udp 127.0.0.1:8090:80"
        bridge_unit db
        sup_start
        wait_state web running
        wait_state db running
        wait_serving web db
        [ "$(prop web PublishedPorts)" = "8080:80/tcp 9000-9001:80-81/tcp 8053:53/udp 127.0.0.1:8090:80/tcp" ]
        wait_until 5 sh -c "nsenter -t $NET_PID -n busybox nc -w 1 $(prop web IPAddress) 81 </dev/null"

        run request "$REMOTE_PID" 192.168.77.1 8080
        [ "$output" = "web hi" ]
        run request "$REMOTE_PID" 192.168.77.1 9000
        [ "$output" = "web hi" ]
        run request "$REMOTE_PID" 192.168.77.1 9001
        [ "$output" = "web-81 hi" ]
        run in_remote python3 "$CCSUP_SRCDIR/tests/integration/socket-client.py" dgram 192.168.77.1:8053 3
        [ "$output" = "web ping" ]
        # from the host itself, on loopback, as docker run -p
        run request "$NET_PID" 127.0.0.1 8080
        [ "$output" = "web hi" ]
        run request "$NET_PID" 127.0.0.1 8090
        [ "$output" = "web hi" ]
        run in_ns python3 "$CCSUP_SRCDIR/tests/integration/socket-client.py" dgram 127.0.0.1:8053 3
        [ "$output" = "web ping" ]
        # a port published on 127.0.0.1 is not reachable from another host
        run request "$REMOTE_PID" 192.168.77.1 8090
        [ "$output" != "web hi" ]
        # hairpin: a container reaches another's published port by a host address
        run ask db 192.168.77.1 8080
        [ "$output" = "web hi" ]
        run ask db 10.89.0.1 9001
        [ "$output" = "web-81 hi" ]
        # and its own, through the host (with br_netfilter: the port's hairpin)
        run ask web 192.168.77.1 8080
        [ "$output" = "web hi" ]
}

@test "Mode=bridge: outgoing traffic is masqueraded behind the host's address" {
        remote_netns
        bridge_unit web
        sup_start
        wait_state web running
        nsenter -t "$REMOTE_PID" -n -- python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7000)); s.listen(1)
c, a = s.accept(); c.sendall((a[0] + "\n").encode())' &
        echo $! >>"$T/bg-pids"
        wait_until 5 sh -c "nsenter -t $REMOTE_PID -n ss -ltn | grep -q :7000"
        run ctl exec web /bin/sh -c "nc -w 2 192.168.77.2 7000 </dev/null"
        [ "$output" = 192.168.77.1 ]
}

@test "PublishPort=: a port published twice or bound by a host process is a start error naming it; the others keep running" {
        bridge_unit web "PublishPort=8080:80"
        bridge_unit other "PublishPort=7000-8080:7000-8080" $'\n[Restart]\nPolicy=no\n[Unit]\nAfter=web'
        bridge_unit third "PublishPort=8085:80/tcp" $'\n[Restart]\nPolicy=no'
        # nsenter execs: $! is the listener's own PID, which teardown kills
        nsenter -t "$NET_PID" -n -- busybox nc -l -p 8085 &
        echo $! >>"$T/bg-pids"
        wait_until 5 sh -c "nsenter -t $NET_PID -n ss -ltn | grep -q :8085"
        sup_start
        wait_state web running
        wait_state other failed
        wait_state third failed
        run ctl status other
        [[ $output == *"host port 8080/tcp is published by unit \`web\`"* ]]
        run ctl status third
        [[ $output == *"PublishPort=8085:80/tcp: host port 8085/tcp: already in use on the host"* ]]
        [ "$(veths)" -eq 1 ]
        [ -z "$(prop other IPAddress)" ]
        run request "$NET_PID" 127.0.0.1 8080
        [ "$output" = "web hi" ]
        # nothing of the failed ones in the table
        ! in_ns nft list table inet ccsup | grep -q 'dport 8085'
}

# try_bind FAMILY PROTO PORT: a host process binding the port, with
# SO_REUSEADDR as servers do; prints "bound" or the error
try_bind() {
        in_ns python3 -c '
import socket, sys
fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM if sys.argv[2] == "udp" else socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
try:
    s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", int(sys.argv[3])))
    if sys.argv[2] == "tcp":
        s.listen(1)
    print("bound")
except OSError as e:
    print(e.strerror)' "$@"
}

@test "PublishPort=: the host ports are held while the container runs, [::1] relayed; a host process cannot take them" {
        bridge_unit web "PublishPort=8080:80 8053:53/udp [::]:8081:81"
        sup_start
        wait_state web running
        wait_serving web
        [ "$(try_bind 4 tcp 8080)" = "Address already in use" ]
        [ "$(try_bind 6 tcp 8080)" = "Address already in use" ]
        [ "$(try_bind 4 udp 8053)" = "Address already in use" ]
        [ "$(try_bind 6 tcp 8081)" = "Address already in use" ]
        # only what is published: IPv4 8081 and TCP 8053 stay free
        [ "$(try_bind 4 tcp 8081)" = bound ]
        [ "$(try_bind 4 tcp 8053)" = bound ]
        # the published port still reaches the container, on 127.0.0.1 and
        # on [::1] (relayed by ccsupd: [::1] cannot be DNATed)
        run request "$NET_PID" 127.0.0.1 8080
        [ "$output" = "web hi" ]
        run request "$NET_PID" ::1 8080
        [ "$output" = "web hi" ]
        run request "$NET_PID" ::1 8081
        [ "$output" = "web-81 hi" ]
        # UDP on [::1] too, a flow per client: two clients, each its answer
        run in_ns python3 "$CCSUP_SRCDIR/tests/integration/socket-client.py" dgram "[::1]:8053" 3
        [ "$output" = "web ping" ]
        run in_ns python3 "$CCSUP_SRCDIR/tests/integration/socket-client.py" dgram "[::1]:8053" 3
        [ "$output" = "web ping" ]
        run in_ns python3 "$CCSUP_SRCDIR/tests/integration/socket-client.py" dgram "127.0.0.1:8053" 3
        [ "$output" = "web ping" ]
        # a port published on IPv4 only is refused on [::1], not left hanging
        run in_ns busybox nc -w 2 ::1 8053 </dev/null
        [ "$status" -ne 0 ]
        # held again by a ccsupd that re-adopted the container
        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        rm -f "$T/run/control"
        sup_start
        wait_state web running
        grep -q "re-adopted PID" "$T/d.err"
        [ "$(try_bind 4 tcp 8080)" = "Address already in use" ]
        run request "$NET_PID" ::1 8080
        [ "$output" = "web hi" ]
        run in_ns python3 "$CCSUP_SRCDIR/tests/integration/socket-client.py" dgram "[::1]:8053" 3
        [ "$output" = "web ping" ]
        run ctl daemon-reexec
        wait_state web running
        [ "$(try_bind 4 tcp 8080)" = "Address already in use" ]
        run request "$NET_PID" ::1 8081
        [ "$output" = "web-81 hi" ]
        run in_ns python3 "$CCSUP_SRCDIR/tests/integration/socket-client.py" dgram "[::1]:8053" 3
        [ "$output" = "web ping" ]
        [ "$(try_bind 4 udp 8053)" = "Address already in use" ]
        # let go with the container
        ctl stop web
        wait_state web inactive
        [ "$(try_bind 4 tcp 8080)" = bound ]
        [ "$(try_bind 6 tcp 8080)" = bound ]
        [ "$(try_bind 4 udp 8053)" = bound ]
}

@test "the nftables table of another tool survives every action of ccsupd byte for byte" {
        in_ns nft -f - <<'NFT'
table ip ccsup {
        chain input {
                type filter hook input priority 10; policy accept;
                tcp dport 1234 accept
        }
}
table inet mine {
        set allowed { type ipv4_addr; elements = { 10.1.2.3 } }
        chain forward {
                type filter hook forward priority 5; policy accept;
                ip saddr @allowed accept
        }
}
NFT
        local before
        before=$(in_ns nft list table ip ccsup; in_ns nft list table inet mine)
        same() {
                [ "$(in_ns nft list table ip ccsup; in_ns nft list table inet mine)" = "$before" ]
        }
        bridge_unit web "PublishPort=8080:80"
        bridge_unit db
        sup_start
        wait_state web running
        wait_state db running
        same
        ctl restart web
        wait_state web running
        same
        ctl stop db
        wait_state db inactive
        same
        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        rm -f "$T/run/control"
        sup_start
        wait_state web running
        same
        run ctl daemon-reexec
        wait_state web running
        same
        sup_stop
        ! in_ns nft list table inet ccsup
        same
}

@test "Mode=bridge over IPv6: --bridge-subnet6, container to container, published ports from another netns" {
        remote_netns
        bridge_unit web "PublishPort=8080:80 8053:53/udp"
        bridge_unit db
        sup_start --bridge-subnet=10.77.0.0/28 --bridge-subnet6=fd42:1::/64
        wait_state web running
        wait_state db running
        wait_serving web db
        in_ns ip -o addr show dev ccsup0 | grep -q 'inet6 fd42:1::1/64'
        in_ns ip -o addr show dev ccsup0 | grep -q 'inet 10.77.0.1/28'
        web6=$(prop web IPv6Address)
        [[ $web6 == fd42:1::* ]]
        grep -q "inet6 $web6/64" "$T/out/web.addr"
        run ctl exec db /bin/sh -c "ip -6 route | grep default"
        [[ $output == *"default via fd42:1::1 dev eth0"* ]]
        run ask db "$web6" 80
        [ "$output" = "web hi" ]
        # the first packets wait for neighbour discovery on both links
        wait_until 5 sh -c "nsenter -t $REMOTE_PID -n sh -c 'echo hi | busybox nc -w 1 fd77::1 8080' | grep -q 'web hi'"
        run request "$REMOTE_PID" fd77::1 8080
        [ "$output" = "web hi" ]
        run in_remote python3 "$CCSUP_SRCDIR/tests/integration/socket-client.py" dgram "[fd77::1]:8053" 3
        [ "$output" = "web ping" ]
}

@test "bad --bridge-subnet and --bridge-subnet6 are refused at start with the option named" {
        run "$CCSUPD" $(ccsupd_args) --bridge-subnet=10.0.0.0/31
        [ "$status" -ne 0 ]
        [[ $output == *"--bridge-subnet=10.0.0.0/31: expected an IPv4 subnet"* ]]
        run "$CCSUPD" $(ccsupd_args) --bridge-subnet6=fd00::/130
        [ "$status" -ne 0 ]
        [[ $output == *"--bridge-subnet6=fd00::/130"* ]]
}

@test "Mode=bridge: the bridge takes the uplink's MTU or --bridge-mtu, and every veth the bridge's" {
        # an uplink of the test's with a smaller MTU, the default route on it
        in_ns ip link add up0 mtu 1400 type veth peer name up1
        in_ns ip addr add 192.168.78.1/24 dev up0
        in_ns ip link set up1 up
        in_ns ip link set up0 up
        in_ns ip route add default via 192.168.78.254 dev up0
        bridge_unit web
        bridge_unit db
        sup_start
        wait_state web running
        wait_state db running
        in_ns ip -o link show dev ccsup0 | grep -q 'mtu 1400 '
        [ "$(in_ns ip -o link show type veth | grep ' ccv' | grep -c 'mtu 1400 ')" -eq 2 ]
        run ctl exec web cat /sys/class/net/eth0/mtu
        [ "$output" = 1400 ]
        sup_stop
        sup_start --bridge-mtu=1300
        wait_state web running
        wait_state db running
        wait_serving web db
        in_ns ip -o link show dev ccsup0 | grep -q 'mtu 1300 '
        run ctl exec web cat /sys/class/net/eth0/mtu
        [ "$output" = 1300 ]
        run ask web "$(prop db IPAddress)" 80
        [ "$output" = "db hi" ]
        sup_stop
        run "$CCSUPD" $(ccsupd_args) --bridge-mtu=576
        [ "$status" -ne 0 ]
        [[ $output == *"--bridge-mtu=576: expected 1280"* ]]
}

@test "--bridge-mtu=65535 beside an uplink of 1500: 1 MB each way to another host through the masquerade, byte for byte" {
        remote_netns
        in_ns ip -o link show dev vr0 | grep -q "mtu 1500 "
        head -c 1048576 /dev/urandom >"$T/out/blob"
        bridge_unit web
        sup_start --bridge-mtu=65535
        wait_state web running
        run ctl exec web cat /sys/class/net/eth0/mtu
        [ "$output" = 65535 ]
        # 7001 sends the blob and closes; 7002 reads 1 MB, answers its md5
        nsenter -t "$REMOTE_PID" -n -- python3 -c '
import hashlib, socket, sys, threading
blob = open(sys.argv[1], "rb").read()
def serve(port, handle):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(1)
    c, _ = s.accept(); handle(c); c.close()
def send(c):
    c.sendall(blob)
def receive(c):
    got = b""
    while len(got) < len(blob):
        d = c.recv(65536)
        if not d:
            break
        got += d
    c.sendall((hashlib.md5(got).hexdigest() + "\n").encode())
t = threading.Thread(target=serve, args=(7001, send)); t.start()
serve(7002, receive); t.join()' "$T/out/blob" &
        echo $! >>"$T/bg-pids"
        wait_until 5 sh -c "nsenter -t $REMOTE_PID -n ss -ltn | grep -q :7002"
        want=$(md5sum <"$T/out/blob" | cut -d' ' -f1)
        run ctl exec web /bin/sh -c "nc -w 5 192.168.77.2 7001 </dev/null | md5sum"
        [ "${output%% *}" = "$want" ]
        run ctl exec web /bin/sh -c "nc -w 5 192.168.77.2 7002 </out/blob"
        [ "$output" = "$want" ]
}

@test "Address= outside the subnet or taken, a subnet too small: start errors naming them; the others keep running" {
        bridge_unit web "Address=10.89.0.20"
        bridge_unit twin "Address=10.89.0.20" $'\n[Restart]\nPolicy=no\n[Unit]\nAfter=web'
        bridge_unit far "Address=10.90.0.5" $'\n[Restart]\nPolicy=no'
        bridge_unit gw "Address=10.89.0.1" $'\n[Restart]\nPolicy=no'
        sup_start
        wait_state web running
        wait_state twin failed
        wait_state far failed
        wait_state gw failed
        run ctl status twin
        [[ $output == *"Address=10.89.0.20: taken by unit \`web\`"* ]]
        run ctl status far
        [[ $output == *"Address=10.90.0.5: not a container address of the bridge's subnet 10.89.0.0/24"* ]]
        run ctl status gw
        [[ $output == *"Address=10.89.0.1: not a container address"* ]]
        [ "$(veths)" -eq 1 ]
        [ "$(prop web IPAddress)" = 10.89.0.20 ]
        in_ns busybox ping -c 1 -W 2 10.89.0.20
        sup_stop

        # a /29 holds 5 containers: the sixth is refused, the five run
        rm -f "$T"/units/*.unit
        for i in 1 2 3 4 5 6; do
                bridge_unit "c$i" $'\n[Restart]\nPolicy=no'
        done
        sup_start --bridge-subnet=10.77.0.0/29
        for i in 1 2 3 4 5 6; do
                wait_until 10 sh -c "'$CCSUPCTL' show c$i | grep -Eq '^State=(running|failed)'"
        done
        local states
        states=$(for i in 1 2 3 4 5 6; do prop "c$i" State; done | sort | uniq -c)
        [[ $states == *"1 failed"* && $states == *"5 running"* ]]
        run sh -c "for i in 1 2 3 4 5 6; do '$CCSUPCTL' status c\$i; done"
        [[ $output == *"--bridge-subnet=10.77.0.0/29 is too small: all its 5 container addresses are taken by running units"* ]]
        [ "$(veths)" -eq 5 ]
}

@test "--bridge-subnet that overlaps a host route: a start error naming both; no bridge, no table; other units run" {
        in_ns ip link add lan0 type veth peer name lan1
        in_ns ip addr add 10.89.0.0/16 dev lan0
        in_ns ip link set lan1 up
        in_ns ip link set lan0 up
        bridge_unit web $'\n[Restart]\nPolicy=no'
        sleeper plain
        sup_start
        wait_state plain running
        wait_state web failed
        run ctl status web
        [[ $output == *"--bridge-subnet=10.89.0.0/24 overlaps the host's route 10.89.0.0/16 (dev lan0): choose a free subnet"* ]]
        ! in_ns ip link show ccsup0
        ! in_ns nft list table inet ccsup
        [ "$(veths)" -eq 0 ]
        [ -z "$(prop web IPAddress)" ]
        sup_stop
        # IPv6 too
        in_ns ip addr add fd89::/48 dev lan0 nodad
        sup_start --bridge-subnet=10.77.0.0/24
        wait_state web failed
        run ctl status web
        [[ $output == *"--bridge-subnet6=fd89::/64 overlaps the host's route fd89::/48 (dev lan0)"* ]]
        sup_stop
        # a free subnet works
        sup_start --bridge-subnet=10.77.0.0/24 --bridge-subnet6=fd42::/64
        wait_state web running
        [[ $(prop web IPAddress) == 10.77.0.* ]]
}

@test "names: bridge units resolve each other (NAME, NAME.ccsup) from their start and after restarts; DNS=, DNSSearch=, AddHost=" {
        bridge_unit web "DNS=192.0.2.53 2001:db8::53" "DNSSearch=example.test" "AddHost=gw.test:10.89.0.1"
        bridge_unit db
        sup_start
        wait_state web running
        wait_state db running
        wait_serving web db
        run ask web db 80
        [ "$output" = "db hi" ]
        run ask web db.ccsup 80
        [ "$output" = "db hi" ]
        run ask db web.ccsup 80
        [ "$output" = "web hi" ]
        run ctl exec web cat /etc/hosts
        [[ $output == *"gw.test"* ]]
        [[ $output == *"$(prop db IPv6Address)	db db.ccsup"* ]]
        run ctl exec web cat /etc/resolv.conf
        [ "$output" = $'nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch example.test' ]
        # the host's servers, never a loopback stub
        run ctl exec db cat /etc/resolv.conf
        ! grep -q 'nameserver 127\.' <<<"$output"
        ! grep -q 'nameserver ::1' <<<"$output"

        # a unit started later is known at once to those already running
        bridge_unit cache
        ctl reload
        ctl start cache
        wait_state cache running
        wait_serving cache
        run ask web cache 80
        [ "$output" = "cache hi" ]
        # after a restart, under the same name
        ctl restart db
        wait_state db running
        wait_serving db
        run ask cache db 80
        [ "$output" = "db hi" ]
        # a stopped unit is gone from the others' files
        ctl stop cache
        wait_state cache inactive
        run ctl exec web cat /etc/hosts
        [[ $output != *cache* ]]
}

@test "units/examples/bridge: webapp reaches db by name; its published port from 127.0.0.1 and another netns" {
        remote_netns
        local f
        for f in webapp db; do
                sed "s|^Image=/var/lib/ccsup/images/busybox-rootfs|Image=$IMAGE|" \
                        "$CCSUP_SRCDIR/units/examples/bridge/$f.unit" >"$T/units/$f.unit"
        done
        run ctl verify "$T/units/webapp.unit" "$T/units/db.unit"
        [ "$status" -eq 0 ]
        sup_start
        wait_state db running
        wait_state webapp running
        [ "$(prop webapp PublishedPorts)" = "8080:8080/tcp" ]
        wait_until 10 sh -c "nsenter -t $NET_PID -n busybox wget -q -O - http://127.0.0.1:8080/cgi-bin/record | grep -q 'hello from db'"
        run in_remote busybox wget -q -O - http://192.168.77.1:8080/cgi-bin/record
        [ "$output" = "hello from db" ]
        # db restarted (a new container, the same address and name): still found
        ctl restart db
        wait_state db running
        wait_until 10 sh -c "nsenter -t $REMOTE_PID -n busybox wget -q -O - http://192.168.77.1:8080/cgi-bin/record | grep -q 'hello from db'"
}

@test "PublishPort=: the table deleted by another tool is written whole again at the next start" {
        bridge_unit web "PublishPort=8080:80"
        bridge_unit db "PublishPort=8081:80"
        sup_start
        wait_state web running
        wait_state db running
        ctl stop db
        wait_state db inactive
        in_ns nft delete table inet ccsup
        ctl start db
        wait_state db running
        wait_until 5 sh -c "nsenter -t $NET_PID -n sh -c 'echo hi | busybox nc -w 1 127.0.0.1 8081' | grep -q 'db hi'"
        run request "$NET_PID" 127.0.0.1 8080
        [ "$output" = "web hi" ]
        in_ns nft list chain inet ccsup postrouting | grep -q masquerade
        grep -q "nftables chain \`publish\` of table \`inet ccsup\`: No such file or directory: writing the whole table again" "$T/d.err"
}

@test "PublishPort=: the [::1] relay carries 2 MB both ways, byte for byte, with a half-close" {
        unit echo <<UNITEOF
[Image]
Image=$IMAGE
[Process]
Exec=/bin/sh -c 'exec nc -ll -p 90 -e /bin/cat'
Init=yes
[Network]
Mode=bridge
PublishPort=9090:90
UNITEOF
        sup_start
        wait_state echo running
        wait_until 5 sh -c "nsenter -t $NET_PID -n busybox nc -w 1 $(prop echo IPAddress) 90 </dev/null"
        run in_ns python3 -c '
import hashlib, os, socket
data = os.urandom(2 << 20)
s = socket.create_connection(("::1", 9090), timeout=10)
sent = 0
got = bytearray()
s.setblocking(True)
import threading
def rx():
    while True:
        b = s.recv(65536)
        if not b:
            break
        got.extend(b)
t = threading.Thread(target=rx)
t.start()
s.sendall(data)
s.shutdown(socket.SHUT_WR)
t.join(20)
print("same" if bytes(got) == data else "differ %d of %d" % (len(got), len(data)))'
        [ "$output" = same ]
        # and a second connection after the first is gone
        run in_ns sh -c 'echo again | busybox nc -w 2 ::1 9090'
        [ "$output" = again ]
}

# relay_unit: "echo" publishing an echo server (9090:90), one that says
# hello and half-closes (9091:91, what it receives then in /out), UDP echo
# (8053:53); its servers listen when it returns
relay_unit() {
        unit echo <<UNITEOF
[Image]
Image=$IMAGE
[Process]
Exec=/bin/sh -c '$H tcp-half-close 91 /out & $H udp-echo 53 echo & exec nc -ll -p 90 -e /bin/cat'
Init=yes
[Mounts]
Bind=$T/out:/out
[Network]
Mode=bridge
PublishPort=9090:90 9091:91 8053:53/udp
UNITEOF
        sup_start
        wait_state echo running
        local ip
        ip=$(prop echo IPAddress)
        wait_until 5 sh -c "nsenter -t $NET_PID -n busybox nc -w 1 $ip 90 </dev/null && nsenter -t $NET_PID -n busybox nc -w 1 $ip 91 </dev/null && nsenter -t $NET_PID -n python3 '$CCSUP_SRCDIR/tests/integration/socket-client.py' dgram $ip:53 1 >/dev/null"
}

relay_client() {
        in_ns python3 "$CCSUP_SRCDIR/tests/integration/relay-reexec.py" "$@"
}

@test "PublishPort=: open [::1] connections survive daemon-reexec: idle, in flight, half-closed either way, byte for byte" {
        relay_unit
        run relay_client keep "$CCSUPCTL" 9090 9091 "$T/out"
        printf '%s\n' "$output"
        [ "$status" -eq 0 ]
        [ "${lines[*]}" = "idle-before same server-half-close-before same in-flight same in-flight-eof same client-half-close same idle-after same idle-eof same server-half-close-after same" ]
        # the same ccsupd process, re-executed, took them over
        # (the in-flight one may still have been in the accept queue, which
        # came over too)
        grep -E -q 'bridge: `echo`: [34] \[::1\] connection\(s\) and 0 UDP flow\(s\) kept across the daemon-reexec' "$T/d.err"
        kill -0 "$SUP_PID"
        # and new connections are relayed as before
        run in_ns sh -c 'echo again | busybox nc -w 2 ::1 9090'
        [ "$output" = again ]
}

@test "PublishPort=: a [::1] UDP flow keeps its socket across daemon-reexec" {
        relay_unit
        run relay_client udp "$CCSUPCTL" 8053 53
        printf '%s\n' "$output"
        [ "$status" -eq 0 ]
        [ "${lines[*]}" = "echo one flows 1 echo two upstream kept" ]
        grep -q 'bridge: `echo`: 0 \[::1\] connection(s) and 1 UDP flow(s) kept across the daemon-reexec' "$T/d.err"
}

# the sockets ccsupd has open
sup_sockets() {
        ls -l /proc/"$SUP_PID"/fd | grep -c 'socket:'
}

@test "PublishPort=: daemon-reexec leaks no fd; a connection kept across it closes with the unit's stop" {
        relay_unit
        ctl daemon-reexec
        local n0 s0
        n0=$(ls /proc/"$SUP_PID"/fd | wc -l)
        s0=$(sup_sockets)
        for _ in 1 2 3; do ctl daemon-reexec; done
        [ "$(ls /proc/"$SUP_PID"/fd | wc -l)" -eq "$n0" ]
        # the held ports themselves never came free meanwhile
        [ "$(try_bind 6 tcp 9090)" = "Address already in use" ]
        [ "$(try_bind 4 udp 8053)" = "Address already in use" ]
        run relay_client stop "$CCSUPCTL" 9090 echo
        printf '%s\n' "$output"
        [ "$status" -eq 0 ]
        [ "${lines[*]}" = "stop-before same stop-after same closed" ]
        # nothing of it left in ccsupd: no TCP socket, the 6 held ports free
        [ -z "$(in_ns ss -Htanp | grep "pid=$SUP_PID,")" ]
        [ "$(sup_sockets)" -eq $((s0 - 6)) ]
        [ "$(try_bind 6 tcp 9090)" = bound ]
        ctl start echo
        wait_state echo running
        [ "$(sup_sockets)" -eq "$s0" ]
}

@test "PublishPort=: kill -9 of ccsupd cuts the [::1] connections and leaks none of their sockets; the next one relays" {
        relay_unit
        run relay_client kill 9090 "$SUP_PID"
        printf '%s\n' "$output"
        [ "$status" -eq 0 ]
        [[ "${lines[*]}" = "kill-before same closed" || "${lines[*]}" = "kill-before same reset" ]]
        wait "$SUP_PID" 2>/dev/null || true
        rm -f "$T/run/control"
        # no process (the fd keeper included) holds a socket of the relay
        [ -z "$(in_ns ss -Htanp state established | grep -e ':9090' -e ':90 ')" ]
        cat "$T/d.err" >>"$T/d1.err"
        sup_start
        wait_state echo running
        grep -q "re-adopted PID" "$T/d.err"
        ! grep -q 'kept across the daemon-reexec' "$T/d.err"
        run in_ns sh -c 'echo again | busybox nc -w 2 ::1 9090'
        [ "$output" = again ]
        [ -z "$(in_ns ss -Htanp state established | grep -e ':9090' -e ':90 ')" ]
}

@test "PublishPort=: the publish chain rewritten alone (libnftnl) is the one the whole table (libnftables) writes" {
        bridge_unit web "PublishPort=8080:80"
        # db after web: its start rewrites the publish chain alone
        bridge_unit db "PublishPort=8081-8082:80-81" "PublishPort=127.0.0.1:5353:53/udp" "[Unit]" "After=web"
        sup_start
        wait_state web running
        wait_state db running
        local db fast whole
        db=$(prop db IPAddress)
        fast=$(in_ns nft list chain inet ccsup publish)
        echo "$fast"
        grep -q "tcp dport 8081 dnat ip to $db:80" <<<"$fast"
        grep -q "tcp dport 8082 dnat ip to $db:81" <<<"$fast"
        grep -q "ip daddr 127.0.0.1 udp dport 5353 dnat ip to $db:53" <<<"$fast"
        grep -q "tcp dport 8080 dnat ip6 to \[" <<<"$fast"
        # the table gone, the next start (of a third unit) writes it whole,
        # from text, db's rules with it
        in_ns nft delete table inet ccsup
        bridge_unit third "PublishPort=8090:80"
        ctl reload
        ctl start third
        wait_state third running
        grep -q "writing the whole table again" "$T/d.err"
        whole=$(in_ns nft list chain inet ccsup publish | grep -v "dport 8090 ")
        [ "$whole" = "$fast" ]
        # and what the rules say works: the range's second port, the UDP one
        wait_until 5 sh -c "nsenter -t $NET_PID -n sh -c 'echo hi | busybox nc -w 1 127.0.0.1 8082' | grep -q 'db-81 hi'"
        run request "$NET_PID" 127.0.0.1 8080
        [ "$output" = "web hi" ]
}

@test "PublishPort=: a range of 1000 ports (2000 rules) is published and removed in one chain rewrite" {
        bridge_unit web "PublishPort=8080:80"
        bridge_unit db "PublishPort=20000-20999:20000-20999/udp" "[Unit]" "After=web"
        sup_start
        wait_state web running
        wait_state db running
        [ "$(in_ns nft list chain inet ccsup publish | grep -c 'udp dport')" -eq 2000 ]
        ctl stop db
        wait_state db inactive
        [ "$(in_ns nft list chain inet ccsup publish | grep -c 'dport')" -eq 2 ]
        # both rewrites of the chain alone, none of the whole table
        ! grep "writing the whole table again" "$T/d.err"
        run request "$NET_PID" 127.0.0.1 8080
        [ "$output" = "web hi" ]
}
