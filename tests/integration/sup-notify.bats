#!/usr/bin/env bats
# ccsupd under systemd: the sd_notify protocol, read from a datagram socket
# passed as NOTIFY_SOCKET.

load sup-helpers

setup_file() { run_setup_file; }
setup() { sup_setup; }
teardown() { sup_teardown; }

# a listener writing each datagram on one line ('\n' inside shown as '|'),
# except the fd store's FDSTORE=1/FDSTOREREMOVE=1 (sup-adopt.bats tests those)
listen() {
        python3 - "$T/notify.sock" "$T/notify.log" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        m = s.recv(4096).decode()
        if not m.startswith("FDSTORE"):
            log.write(m.replace("\n", "|") + "\n")
EOF
        echo $! >>"$T/bg-pids"
        local i
        for ((i = 0; i < 100; i++)); do
                [[ -S $T/notify.sock ]] && return 0
                sleep 0.02
        done
        return 1
}

@test "READY=1 after the first start attempts, STATUS=, RELOADING=1 then READY=1, STOPPING=1" {
        listen
        sleeper up
        # fails to start (no image): its first attempt ends in failed
        unit down <<EOF
[Image]
Image=$T/no-such-image

[Process]
Exec=$H exit 1

[Restart]
Policy=no
EOF
        NOTIFY_SOCKET=$T/notify.sock sup_start
        wait_file "$T/notify.log"
        local first
        first=$(head -n1 "$T/notify.log")
        [[ $first == "READY=1|STATUS=1 running, 1 failed" ]] || { echo "first: $first"; false; }
        # by READY=1, both units had their first attempt
        expect_equal "up" running "$(prop up State)"
        expect_equal "down" failed "$(prop down State)"

        kill -HUP "$SUP_PID"
        wait_file "$T/notify.log" 5 3
        local reloading
        reloading=$(sed -n 2p "$T/notify.log")
        [[ $reloading =~ ^RELOADING=1\|MONOTONIC_USEC=[0-9]+$ ]] || { echo "got: $reloading"; false; }
        [[ $(sed -n 3p "$T/notify.log") == "READY=1|"* ]]

        ctl stop up
        wait_file "$T/notify.log" 5 4
        [[ $(tail -n1 "$T/notify.log") == "STATUS=0 running, 1 failed" ]] || { cat "$T/notify.log"; false; }
        # a reload asked for over the control socket is announced too
        ctl reload
        wait_file "$T/notify.log" 5 6
        expect_equal "RELOADING=1 count" 2 "$(grep -c '^RELOADING=1' "$T/notify.log")"
        [[ $(tail -n1 "$T/notify.log") == "READY=1|"* ]]
        expect_equal "READY=1 count" 3 "$(grep -c '^READY=1' "$T/notify.log")"
        sup_stop
        expect_status 0
        grep -q '^STOPPING=1' "$T/notify.log"
}

@test "WATCHDOG=1 at half of WATCHDOG_USEC" {
        listen
        NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=400000 sup_start
        sleep 1
        sup_stop
        local n
        n=$(grep -c '^WATCHDOG=1$' "$T/notify.log")
        echo "$n pings in ~1 s"
        [[ $n -ge 3 && $n -le 7 ]]
}

@test "READY=1 is not held back by a dependency that keeps restarting" {
        listen
        unit flappy <<EOF
[Image]
Image=$T/no-such-image

[Process]
Exec=/bin/true

[Restart]
Policy=always
DelaySec=1min
EOF
        sleeper dependent '[Unit]' 'Requires=flappy'
        NOTIFY_SOCKET=$T/notify.sock sup_start
        wait_file "$T/notify.log" 5
        expect_equal "first message" "READY=1|STATUS=0 running, 1 waiting" "$(head -n1 "$T/notify.log")"
        expect_equal "dependent" inactive "$(prop dependent State)"
}
