#!/usr/bin/env bats
# [Health] (UNITS.md): TCP= and HTTP= checks done by ccsupd itself inside the
# container's network namespace (busybox httpd and nc as the servers), Exec=
# checks through the exec path, verdicts after Retries=, StartPeriodSec=,
# readiness at the first healthy verdict, and OnFailure=restart|stop|none.
# ccsupd runs in a network namespace of the test's; the containers have
# their own (Mode=none, the default), or share ccsupd's (Mode=host).

load sup-helpers
load image-helpers

setup_file() {
        run_setup_file
        is_root || return 0
        # an OCI image whose config has a Docker Healthcheck (CMD-SHELL,
        # 200ms interval, 2 retries)
        export LAYOUT=$BATS_FILE_TMPDIR/layout
        mk_tar "$BATS_FILE_TMPDIR/rootfs.tar" "$IMAGE"
        OCI_CONFIG_EXTRA='{"Healthcheck": {"Test": ["CMD-SHELL", "echo image check; test -e /ctl/ok"],
                "Interval": 200000000, "Timeout": 1000000000, "Retries": 2}}' \
                mk_oci_layout "$LAYOUT" application/vnd.oci.image.layer.v1.tar /bin/sh "$BATS_FILE_TMPDIR/rootfs.tar"
}

setup() {
        sup_setup
        mkdir -p "$T/ctl/www"
        echo hello >"$T/ctl/www/index.html"
        own_netns
}
teardown() { sup_teardown; }

# checked NAME SCRIPT [LINES...]: a unit running the sh SCRIPT (with the
# test's $T/ctl at /ctl); LINES follow, e.g. "[Health]" "TCP=8080"
checked() {
        local name=$1 script=$2
        shift 2
        unit "$name" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c '$script'
StopTimeoutSec=5s

[Mounts]
Bind=$T/ctl:/ctl

$(printf '%s\n' "$@")
EOF
}

# until /ctl/NAME exists
GATE='gate() { while [ ! -e /ctl/$1 ]; do sleep 0.05; done; }; trap "exit 0" TERM;'
HTTPD='trap "exit 0" TERM; httpd -f -p 127.0.0.1:8080 -h /ctl/www & wait'

# the status line "Health: VERDICT (N checks; last TIME, AGO ago: passed|failed: OUTPUT)":
# hline UNIT, houtput UNIT (OUTPUT), hcount UNIT (N)
hline() { "$CCSUPCTL" status "$1" | sed -n 's/^ *Health: //p'; }
houtput() { hline "$1" | sed -n 's/^[a-z]* ([0-9]* checks; last .* ago: \(passed\|failed\): \(.*\))$/\2/p'; }
hcount() { hline "$1" | sed -n 's/^[a-z]* (\([0-9]*\) checks;.*/\1/p'; }

wait_health() {
        local unit=$1 want=$2 secs=${3:-10}
        wait_until "$secs" sh -c '[ "$("$0" show "$1" | sed -n "s/^Health=//p")" = "$2" ]' \
                "$CCSUPCTL" "$unit" "$want"
        [[ $(prop "$unit" Health) == "$want" ]] || { ctl status "$unit" >&2; return 1; }
}

@test "TCP=: starting until the port accepts, then running (healthy); After= waits for it" {
        checked db "$GATE"' gate listen; exec nc -ll -p 5432 -e /bin/true' \
                "[Health]" "TCP=5432" "IntervalSec=200ms" "Retries=100"
        sleeper app "[Unit]" "After=db"
        sup_start
        wait_state db starting 10
        wait_until 5 sh -c '"$0" status db | grep -q "Health: .*: failed: connect"' "$CCSUPCTL"
        [[ $(prop db Health) == starting ]]
        [[ $(houtput db) == *"Connection refused"* ]]
        [[ $(prop db Ready) == no ]]
        # set up, held before its exec until db is healthy (prelaunch)
        [[ $(prop app State) == starting ]]
        run ctl status app
        [[ $output == *"State: starting (held, success)"* ]]

        touch "$T/ctl/listen"
        wait_state db running 10
        [[ $(prop db Health) == healthy ]]
        [[ $(prop db Ready) == yes ]]
        wait_state app running 10
        run ctl status db
        [[ $output == *"State: running (healthy, success)"* ]]
        [[ $output == *"Health: healthy ("*" checks; last "*"passed: connected to 127.0.0.1:5432)"* ]]
}

@test "HTTP=: busybox httpd, 2xx healthy; 404 and a dead server unhealthy, OnFailure=none only reports" {
        checked web "$HTTPD" "[Health]" "HTTP=127.0.0.1:8080/index.html" "IntervalSec=200ms" \
                "Retries=2" "OnFailure=none"
        sup_start
        wait_state web running 10
        [[ $(prop web Health) == healthy ]]
        [[ $(houtput web) == "GET /index.html: HTTP/1.1 200 OK" ]]

        # a page that goes away: 404, unhealthy, and it keeps running
        rm "$T/ctl/www/index.html"
        wait_health web unhealthy 10
        [[ $(houtput web) == "GET /index.html: HTTP/1.1 404 Not Found" ]]
        [[ $(prop web State) == running ]]
        run ctl status web
        [[ $output == *"State: running (unhealthy, success)"* ]]
        grep -q 'unhealthy after 2 failed checks (OnFailure=none)' "$T/d.err"

        # and comes back
        echo hello >"$T/ctl/www/index.html"
        wait_health web healthy 10
        [[ $(prop web Restarts) == 0 ]]
}

@test "HTTP= in Mode=host: the check connects in ccsupd's own namespace" {
        nsenter -t "$NET_PID" -n busybox httpd -f -p 127.0.0.1:8090 -h "$T/ctl/www" &
        echo $! >>"$T/bg-pids"
        checked hostweb 'trap "exit 0" TERM; while :; do sleep 0.05; done' "[Network]" "Mode=host" \
                "[Health]" "HTTP=http://localhost:8090/" "IntervalSec=200ms"
        sup_start
        wait_state hostweb running 10
        [[ $(houtput hostweb) == "GET /: HTTP/1.1 200 OK" ]]
}

@test "Exec=: exit 0 healthy; failures past Retries= restart it with result unhealthy (OnFailure=restart)" {
        checked svc "$GATE"' while :; do sleep 0.05; done' \
                "[Health]" "Exec=/bin/sh -c 'echo checking \$HOSTNAME; test ! -e /ctl/sick'" \
                "IntervalSec=200ms" "Retries=3" "[Restart]" "DelaySec=100ms"
        sup_start
        wait_state svc running 10
        [[ $(houtput svc) == "checking svc" ]]
        pid=$(prop svc MainPID)

        touch "$T/ctl/sick"
        wait_until 10 sh -c '[ "$("$0" show svc | sed -n "s/^Restarts=//p")" -ge 1 ]' "$CCSUPCTL"
        [[ $(prop svc Restarts) -ge 1 ]]
        grep -q 'unhealthy after 3 failed checks (OnFailure=restart)' "$T/d.err"
        grep -q 'running -> stopping (unhealthy, success)' "$T/d.err"
        grep -q 'stopping -> waiting' "$T/d.err"
        # the failing checks said why
        grep -q 'health check failed: exit status 1: checking svc' "$T/d.err"
        rm "$T/ctl/sick"
        wait_state svc running 10
        [[ $(prop svc MainPID) != "$pid" ]]
        [[ $(prop svc Result) == unhealthy ]] || [[ $(prop svc Result) == success ]]
}

@test "OnFailure=stop: stopped and left failed with result unhealthy" {
        checked svc 'trap "exit 0" TERM; while :; do sleep 0.05; done' \
                "[Health]" "Exec=/bin/sh -c 'test ! -e /ctl/sick'" "IntervalSec=200ms" "Retries=2" \
                "OnFailure=stop"
        sup_start
        wait_state svc running 10
        touch "$T/ctl/sick"
        wait_state svc failed 10
        [[ $(prop svc Result) == unhealthy ]]
        [[ $(prop svc Restarts) == 0 ]]
        [[ $(prop svc Health) == unhealthy ]]
        run ctl status svc
        [[ $output == *"State: failed (unhealthy)"* ]]
        [[ $output == *"Health: unhealthy ("*" checks; last "*"failed: exit status 1)"* ]]
}

@test "a missing health command: unhealthy with the reason" {
        checked svc 'trap "exit 0" TERM; while :; do sleep 0.05; done' \
                "[Health]" "Exec=/no/such/check" "IntervalSec=200ms" "Retries=1" "OnFailure=stop" \
                "[Restart]" "Policy=no"
        sup_start
        wait_state svc failed 10
        [[ $(prop svc Result) == unhealthy ]]
        [[ $(houtput svc) == *"/no/such/check"*"No such file or directory"* ]]
}

@test "a check that hangs is killed at TimeoutSec= while another unit's checks go on" {
        checked hang 'trap "exit 0" TERM; while :; do sleep 0.05; done' \
                "[Health]" "Exec=/bin/sleep 1000" "TimeoutSec=500ms" "IntervalSec=100ms" \
                "Retries=2" "OnFailure=none"
        checked web "$HTTPD" "[Health]" "HTTP=127.0.0.1:8080/" "IntervalSec=100ms"
        sup_start
        wait_state web running 10
        wait_health hang unhealthy 10
        [[ $(houtput hang) == "timed out after 500ms, killed" ]]
        # the web unit was checked all along: many checks, never stalled
        n1=$(hcount web)
        sleep 1
        n2=$(hcount web)
        (( n2 - n1 >= 5 ))
        [[ $(prop web Health) == healthy ]]
        # the killed check's process is gone: no sleep 1000 piles up in the container
        run ctl exec hang ps -o args
        [[ $(grep -c 'sleep 1000' <<<"$output") -le 1 ]]
        # nothing of the checks is left after the stop
        ctl stop hang web
        wait_state hang inactive 10
}

@test "TCP= that never answers: the connection attempt is given up at TimeoutSec=" {
        # a listener that never accepts, its backlog full: a SYN to it is dropped
        nsenter -t "$NET_PID" -n python3 -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 81)); s.listen(0)
cs = [socket.socket() for _ in range(3)]
for c in cs:
    c.setblocking(False); c.connect_ex(("127.0.0.1", 81))
time.sleep(3600)' &
        echo $! >>"$T/bg-pids"
        wait_until 20 sh -c 'nsenter -t "$0" -n ss -Htln | grep -q "127.0.0.1:81 "' "$NET_PID"
        checked svc 'trap "exit 0" TERM; while :; do sleep 0.05; done' "[Network]" "Mode=host" \
                "[Health]" "TCP=81" "TimeoutSec=300ms" "IntervalSec=100ms" "Retries=2" \
                "OnFailure=none"
        sup_start
        wait_health svc unhealthy 10
        [[ $(houtput svc) == "connect to 127.0.0.1:81: no answer within 300ms" ]]
        [[ $(prop svc State) == starting ]]
}

@test "StartPeriodSec=: failures in it do not count, the first success ends it" {
        checked svc "$GATE"' gate listen; '"$HTTPD" \
                "[Health]" "HTTP=127.0.0.1:8080/" "StartPeriodSec=3s" "StartIntervalSec=100ms" \
                "IntervalSec=100ms" "Retries=1" "OnFailure=stop" "[Process]" "StartTimeoutSec=20s"
        sup_start
        wait_state svc starting 10
        sleep 1.5
        # many failed checks, none counted: still starting
        [[ $(prop svc State) == starting ]]
        [[ $(prop svc Health) == starting ]]
        (( $(hcount svc) >= 5 ))
        touch "$T/ctl/listen"
        wait_state svc running 10
        [[ $(prop svc Health) == healthy ]]

        # past the start period, one failure (Retries=1) stops it
        checked late 'trap "exit 0" TERM; while :; do sleep 0.05; done' \
                "[Health]" "TCP=9" "StartPeriodSec=1s" "StartIntervalSec=100ms" "IntervalSec=100ms" \
                "Retries=1" "OnFailure=stop"
        ctl reload
        ctl start late || true
        wait_state late failed 10
        [[ $(prop late Result) == unhealthy ]]
        grep -q 'late: health check failed (start period: not counted)' "$T/d.err"
}

@test "show: Health= is empty without [Health]" {
        sleeper plain
        sup_start
        wait_state plain running 10
        [[ $(ctl show plain | grep '^Health=') == "Health=" ]]
        run ctl status plain
        [[ $output != *"Health:"* ]]
}

@test "the image's Healthcheck is the default check, with its durations" {
        unit img <<EOF
[Image]
Image=oci:$LAYOUT

[Process]
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 0.05; done'
StopTimeoutSec=5s

[Mounts]
Bind=$T/ctl:/ctl

[Restart]
Policy=no

[Health]
# no check here: the image's, with its interval and retries; a start period
# so that its failures before /ctl/ok exist do not count, however slow the
# machine
StartPeriodSec=1min
StartIntervalSec=200ms
EOF
        sup_start
        wait_state img starting 20
        wait_until 20 sh -c '"$0" status img | grep -q "failed: exit status 1: image check)"' "$CCSUPCTL"
        [[ $(houtput img) == "exit status 1: image check" ]]
        touch "$T/ctl/ok"
        wait_state img running 10
        [[ $(prop img Health) == healthy ]]
        [[ $(houtput img) == "image check" ]]
        # the image's 2 retries, then OnFailure=restart's stop: failed with Policy=no
        rm "$T/ctl/ok"
        wait_state img failed 10
        [[ $(prop img Result) == unhealthy ]]
        grep -q 'img: unhealthy after 2 failed checks' "$T/d.err"
}
