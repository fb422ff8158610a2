#!/usr/bin/env bats
# [Socket] (UNITS.md): ccsupd binds the sockets and hands them to the
# container with systemd's protocol. The server in the container is built on
# libsystemd's sd_listen_fds_with_names() (tests/helper/listen-server.c),
# which refuses fds whose LISTEN_PID is not its own. ccsupd runs in a network
# namespace of the test's (held by a sleeping process, so that a second
# ccsupd can join the same one); clients connect there on loopback.

load sup-helpers

setup_file() {
        run_setup_file
        is_root || return 0
        add_libsystemd_program "$IMAGE" "$CCSUP_SRCDIR/tests/helper/listen-server.c" listen-server
}

setup() {
        sup_setup
        own_netns
}
teardown() { sup_teardown; }

# client stream|dgram ADDRESS [TIMEOUT]: one request, in the test's namespace
client() {
        nsenter -t "$NET_PID" -n python3 "$CCSUP_SRCDIR/tests/integration/socket-client.py" "$@"
}

# server NAME [LINES...]: a unit running listen-server; LINES go to [Socket]
server() {
        local name=$1
        shift
        unit "$name" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/usr/local/bin/listen-server
StopTimeoutSec=5s

[Restart]
DelaySec=2s

[Socket]
$(printf '%s\n' "$@")
EOF
}

@test "TCP, IPv6, UDP and unix sockets reach the container as fds 3... with LISTEN_FDNAMES" {
        server web "ListenStream=127.0.0.1:8080" "ListenStream=[::1]:8081" \
                "ListenDatagram=127.0.0.1:8082" "ListenStream=$T/web.sock" "SocketMode=0600" \
                "FileDescriptorName=http"
        sup_start
        wait_state web running 10
        run client stream 127.0.0.1:8080
        echo "$output"
        [[ $status -eq 0 ]]
        # PID 1 of the container: LISTEN_PID matched, or there would be no answer
        [[ $output =~ ^http\ PID=1\ FDS=4\ INODE=[0-9]+$ ]]
        run client stream "[::1]:8081"
        [[ $status -eq 0 && $output == "http PID=1 FDS=4 "* ]]
        run client dgram 127.0.0.1:8082
        [[ $status -eq 0 && $output == "http PID=1 FDS=4 "* ]]
        run client stream "$T/web.sock"
        [[ $status -eq 0 && $output == "http PID=1 FDS=4 "* ]]
        [[ $(stat -c %a "$T/web.sock") == 600 ]]
        # the container has a network of its own: the sockets are ccsupd's
        run nsenter -t "$(prop web MainPID)" -n ip -o addr
        [[ $output != *127.0.0.1/8*8080* ]]
}

@test "Init=yes: LISTEN_PID is the command's PID; a restart refuses no connection" {
        server web "ListenStream=127.0.0.1:8080"
        mkdir -p "$T/units/web.unit.d"
        printf '[Process]\nInit=yes\n' >"$T/units/web.unit.d/init.conf"
        sup_start
        wait_state web running 10
        run client stream 127.0.0.1:8080
        [[ $status -eq 0 && $output == "web PID=2 FDS=1 "* ]]
        local inode=${output##*INODE=}

        # killed: 2 s before its restart, while connections wait in the backlog
        ctl kill --signal=KILL web
        wait_state web waiting 10
        run client stream 127.0.0.1:8080 15
        echo "$output"
        [[ $status -eq 0 && $output == "web PID=2 "* ]]
        [[ $(prop web Restarts) == 1 ]]
        # the very same socket
        [[ ${output##*INODE=} == "$inode" ]]
}

@test "Activation=on-demand: the first connection starts the unit" {
        server lazy "ListenStream=127.0.0.1:9090" "Activation=on-demand"
        sleeper other
        sup_start
        wait_state other running 10
        sleep 0.5
        [[ $(prop lazy State) == inactive ]]
        run client stream 127.0.0.1:9090 15
        [[ $status -eq 0 && $output == "lazy PID=1 "* ]]
        [[ $(prop lazy State) == running ]]
        grep -q 'lazy: traffic on a \[Socket\] socket: starting' "$T/d.err"
        # stopped by the operator: the socket listens on, and starts it again
        ctl stop lazy
        [[ $(prop lazy State) == inactive ]]
        run client stream 127.0.0.1:9090 15
        [[ $status -eq 0 && $output == "lazy PID=1 "* ]]
}

@test "the sockets survive daemon-reexec and a killed ccsupd's re-adoption" {
        server web "ListenStream=127.0.0.1:8080" "ListenDatagram=127.0.0.1:8082"
        server idle "ListenStream=127.0.0.1:9090" "Activation=on-demand"
        sup_start
        wait_state web running 10
        run client stream 127.0.0.1:8080
        [[ $status -eq 0 ]]
        local inode=${output##*INODE=}

        run ctl daemon-reexec
        [[ $status -eq 0 ]]
        wait_until 10 sh -c '"$0" show web | grep -qx State=running' "$CCSUPCTL"
        # the container restarts with what the re-executed ccsupd kept
        ctl restart web
        run client stream 127.0.0.1:8080
        [[ $status -eq 0 && ${output##*INODE=} == "$inode" ]]
        run client stream 127.0.0.1:9090 15
        [[ $status -eq 0 && $output == "idle PID=1 "* ]]

        # kill -9: the next ccsupd takes the sockets back from the container
        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        rm -f "$T/run/control"
        cat "$T/d.err" >>"$T/d1.err"
        sup_start
        wait_until 10 sh -c '"$0" show web | grep -qx State=running' "$CCSUPCTL"
        grep -q 're-adopted' "$T/d.err"
        ctl restart web
        run client stream 127.0.0.1:8080
        [[ $status -eq 0 && ${output##*INODE=} == "$inode" ]]
        run client dgram 127.0.0.1:8082
        [[ $status -eq 0 && $output == "web PID=1 FDS=2 "* ]]
}

@test "a port that cannot be bound is a start error naming it; a changed [Socket] rebinds on reload" {
        # something else holds 127.0.0.1:7070 in the namespace
        nsenter -t "$NET_PID" -n python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",7070)); s.listen(); time.sleep(3600)' &
        echo $! >>"$T/bg-pids"
        wait_until 5 sh -c 'nsenter -t "$0" -n ss -ltn | grep -q 127.0.0.1:7070' "$NET_PID"
        server busy "ListenStream=127.0.0.1:7070"
        server web "ListenStream=127.0.0.1:8080"
        sup_start
        wait_state web running 10
        wait_until 10 sh -c '"$0" show busy | grep -q "^Result=start-error"' "$CCSUPCTL"
        run ctl status busy
        [[ $output == *"ListenStream=127.0.0.1:7070: bind: Address already in use"* ]]
        # the daemon and the other unit carry on
        run client stream 127.0.0.1:8080
        [[ $status -eq 0 ]]

        sed -i 's/^ListenStream=127.0.0.1:8080$/ListenStream=127.0.0.1:8181/' "$T/units/web.unit"
        ctl reload
        wait_until 10 client stream 127.0.0.1:8181 1
        run client stream 127.0.0.1:8181
        [[ $status -eq 0 && $output == "web PID=1 "* ]]
        run client stream 127.0.0.1:8080 2
        [[ $status -ne 0 ]]
        [[ $output == *"refused"* ]]
}

@test "verify: [Socket] values are checked" {
        unit bad <<EOF
[Image]
Image=$IMAGE
[Process]
Exec=/bin/true
[Socket]
ListenStream=70000
ListenDatagram=300.1.1.1:53
ListenStream=[::1:80
ListenStream=relative/path
SocketMode=999
Activation=lazy
FileDescriptorName=a:b
EOF
        run ctl verify "$T/units/bad.unit"
        echo "$output"
        [[ $status -ne 0 ]]
        [[ $output == *"ListenStream=: invalid address \`70000\`"* ]]
        [[ $output == *"ListenDatagram=: invalid address \`300.1.1.1:53\`"* ]]
        [[ $output == *"\`[::1:80\`"* ]]
        [[ $output == *"\`relative/path\`"* ]]
        [[ $output == *"SocketMode="* ]]
        [[ $output == *"Activation=: unknown activation \`lazy\`"* ]]
        [[ $output == *"FileDescriptorName="* ]]
        unit od <<EOF
[Image]
Image=$IMAGE
[Process]
Exec=/bin/true
[Socket]
Activation=on-demand
EOF
        run ctl verify "$T/units/od.unit"
        [[ $status -ne 0 ]]
        [[ $output == *"Activation=on-demand needs ListenStream= or ListenDatagram="* ]]
}
