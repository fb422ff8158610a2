#!/usr/bin/env bats
# [Network] Mode=container:NAME under ccsupd (UNITS.md [Network]): a sidecar
# joins the network namespace of a running unit; without it running, the
# start fails with a message naming it.

load sup-helpers

setup_file() { run_setup_file; }
setup() { sup_setup; }
teardown() { sup_teardown; }

# web_unit [RESTART LINES...]: a TCP server on port 7777 of its own netns,
# answering "pong LINE" to each connection; its namespaces in /out/web.ns
web_unit() {
        printf '#!/bin/sh\nread line\necho "pong $line"\n' >"$T/out/reply"
        chmod +x "$T/out/reply"
        unit web <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c '$H ns >/out/web.ns; nc -ll -p 7777 -e /out/reply & trap "exit 0" TERM; while :; do sleep 0.05; done'
StopTimeoutSec=5s

[Restart]
$(printf '%s\n' "$@")

[Mounts]
Bind=$T/out:/out
EOF
}

net_ns() {
        sed -n 's/^net //p' "$1"
}

@test "Mode=container:NAME shares the running unit's network namespace; TCP over loopback between them" {
        web_unit
        unit side <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c '$H ns >/out/side.ns; i=0; while [ \$i -lt 100 ]; do echo ping | nc 127.0.0.1 7777 >/out/answer; [ -s /out/answer ] && break; i=\$((i+1)); sleep 0.05; done; trap "exit 0" TERM; while :; do sleep 0.05; done'
StopTimeoutSec=5s

[Mounts]
Bind=$T/out:/out

[Network]
Mode=container:web
EOF
        sup_start
        wait_state web running
        wait_state side running
        wait_file "$T/out/web.ns"
        wait_file "$T/out/side.ns"
        wait_file "$T/out/answer"

        local web_net side_net host_net
        web_net=$(net_ns "$T/out/web.ns")
        side_net=$(net_ns "$T/out/side.ns")
        host_net=$(readlink /proc/self/ns/net)
        [[ $web_net == net:\[* ]]
        expect_equal "the sidecar's netns" "$web_net" "$side_net"
        [[ $web_net != "$host_net" ]]
        # only the network namespace is shared
        [[ $(sed -n 's/^uts //p' "$T/out/web.ns") != $(sed -n 's/^uts //p' "$T/out/side.ns") ]]
        [[ $(sed -n 's/^mnt //p' "$T/out/web.ns") != $(sed -n 's/^mnt //p' "$T/out/side.ns") ]]
        expect_equal "the answer over loopback" "pong ping" "$(cat "$T/out/answer")"
        # the kernel's view agrees
        expect_equal "netns of the main PIDs" "$(readlink "/proc/$(prop web MainPID)/ns/net")" \
                "$(readlink "/proc/$(prop side MainPID)/ns/net")"

        # Requires= is implied: stopping web stops the sidecar first
        run ctl stop web
        expect_status 0
        expect_equal "side after web stopped" inactive "$(prop side State)"
}

@test "Mode=container:NAME: a start while NAME is not running is a start error naming it" {
        web_unit 'Policy=on-failure' 'DelaySec=60s'
        unit side <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'sleep 0.3; exit 1'

[Restart]
Policy=on-failure
DelaySec=200ms
MaxDelaySec=200ms

[Network]
Mode=container:web
EOF
        sup_start
        wait_state web running
        # web ends on its own (not for good): it waits 60 s for its restart,
        # and side's own restarts find no network namespace to join
        run ctl kill --signal=KILL web
        expect_status 0
        wait_state web waiting
        local i
        for ((i = 0; i < 100; i++)); do
                [[ $(prop side Result) == start-error ]] && break
                sleep 0.05
        done
        expect_equal "side's result" start-error "$(prop side Result)"
        grep -q "network mode \`container:web\`: unit \`web\` is waiting" "$T/d.err"
        run ctl status side
        expect_output_has "Start error: network mode \`container:web\`: unit \`web\` is waiting"
}
