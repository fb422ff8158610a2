#!/usr/bin/env bats
# The fd store (UNITS.md, Readiness: FDSTORE=1, FDNAME=, FDSTOREREMOVE=1,
# FileDescriptorStoreMax=). The container's client is built on libsystemd's
# sd_pid_notify_with_fds(), sd_notify_barrier() and
# sd_listen_fds_with_names() (tests/helper/fdstore-client.c): the fds it
# stores come back at its next start after the [Socket] ones, across its
# restarts, ccsupd's daemon-reexec and, under (a fake) systemd, a killed
# ccsupd's successor; the limit, floods and bad datagrams leak no fd.

load sup-helpers

setup_file() {
        run_setup_file
        is_root || return 0
        add_libsystemd_program "$IMAGE" "$CCSUP_SRCDIR/tests/helper/fdstore-client.c" fdstore-client
}
setup() {
        sup_setup
        mkdir -p "$T/ctl"
}
teardown() { sup_teardown; }

# client NAME [LINES...]: a Notify=yes unit running fdstore-client, with
# $T/ctl/NAME at /ctl; LINES go to [Process]
client() {
        local name=$1
        shift
        mkdir -p "$T/ctl/$name"
        unit "$name" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/usr/local/bin/fdstore-client
Notify=yes
StopTimeoutSec=5s
$(printf '%s\n' "$@")

[Restart]
DelaySec=200ms

[Mounts]
Bind=$T/ctl/$name:/ctl
EOF
}

# fds NAME: what the client's current run got (once it has started)
fds() {
        cat "$T/ctl/$1/fds"
}

# restarted NAME: forget the report, restart the unit, wait for the new one
restarted() {
        rm -f "$T/ctl/$1/fds"
        ctl restart "$1"
        wait_state "$1" running 10
        wait_file "$T/ctl/$1/fds"
}

# cmd NAME LINES...: the client runs LINES; returns once ccsupd has read
# every datagram they sent
cmd() {
        local name=$1 d=$T/ctl/$1
        shift
        rm -f "$d/ack"
        printf '%s\n' "$@" >"$d/cmd.tmp"
        mv "$d/cmd.tmp" "$d/cmd"
        wait_file "$d/ack" 10 0
        [[ -f $d/ack ]]
}

# the number of ccsupd's open fds
nfds() {
        ls "/proc/$SUP_PID/fd" | wc -l
}

# the number of the client's memfds that ccsupd holds
nmemfds() {
        local n
        n=$(ls -l "/proc/$SUP_PID/fd" | grep -c 'memfd:fdstore-client') || true
        echo "${n:-0}"
}

@test "stored fds come back after the [Socket] fds at the next start; FDSTOREREMOVE=1; a stop empties the store" {
        client svc "FileDescriptorStoreMax=8" "[Socket]" "ListenStream=$T/svc.sock" \
                "FileDescriptorName=web"
        sup_start
        wait_state svc running 10
        wait_file "$T/ctl/svc/fds"
        expect_equal "first start" "LISTEN_FDS=1 web socket" "$(fds svc | paste -sd' ')"

        cmd svc "store db one" "store db two" "store - three" "twice dup four"
        restarted svc
        # the same memfd passed twice is kept once; no FDNAME= is "stored"
        expect_equal "after restart" "LISTEN_FDS=5 web socket db one db two stored three dup four" \
                "$(fds svc | paste -sd' ')"
        expect_equal "memfds ccsupd holds" 4 "$(nmemfds)"

        # the container dies: the store is there at its automatic restart
        cmd svc "remove db"
        rm -f "$T/ctl/svc/fds"
        ctl kill --signal=KILL svc
        wait_file "$T/ctl/svc/fds"
        wait_state svc running 10
        [[ $(prop svc Restarts) -ge 1 ]]
        expect_equal "after FDSTOREREMOVE=1 and a crash" "LISTEN_FDS=3 web socket stored three dup four" \
                "$(fds svc | paste -sd' ')"

        expect_equal "memfds ccsupd holds" 2 "$(nmemfds)"
        # stopped by the operator: the store goes, and its fds with it
        ctl stop svc
        wait_state svc inactive 10
        expect_equal "memfds ccsupd holds after the stop" 0 "$(nmemfds)"
        rm -f "$T/ctl/svc/fds"
        ctl start svc
        wait_file "$T/ctl/svc/fds"
        expect_equal "after stop and start" "LISTEN_FDS=1 web socket" "$(fds svc | paste -sd' ')"
}

@test "the limit, a flood of 1000 fds, bad datagrams and outsiders leak no fd" {
        client svc "FileDescriptorStoreMax=4"
        client nostore
        sleeper other
        sup_start
        wait_state svc running 10
        wait_state nostore running 10
        wait_state other running 10
        local before
        before=$(nfds)

        # 1000 fds, 253 a datagram (the kernel's SCM_MAX_FD): 4 are kept
        cmd svc "flood 1000"
        expect_equal "ccsupd's fds after the flood" $((before + 4)) "$(nfds)"
        expect_equal "warnings" 1 "$(grep -c 'svc: fd store full (FileDescriptorStoreMax=4)' "$T/d.err")"
        cmd svc "remove flood"
        expect_equal "ccsupd's fds after FDSTOREREMOVE=1" "$before" "$(nfds)"

        # an invalid FDNAME=: the datagram is dropped, its fd closed
        cmd svc 'raw FDSTORE=1\nFDNAME=a:b'
        grep -q 'svc: notify message dropped: invalid field `FDNAME=a:b`' "$T/d.err"
        # FileDescriptorStoreMax=0 (the default): FDSTORE=1 is ignored
        cmd nostore "store x y" "flood 300"
        grep -q 'nostore: FDSTORE=1 ignored: FileDescriptorStoreMax= is 0' "$T/d.err"
        expect_equal "ccsupd's fds" "$before" "$(nfds)"

        # a process outside the container: not stored, closed
        python3 - "$T/run/notify/svc/notify" <<'EOF'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(sys.argv[1])
fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(253)]
socket.send_fds(s, [b"FDSTORE=1\nFDNAME=evil"], fds)
EOF
        sleep 0.3
        grep -q 'svc: notify message from PID [0-9]* ignored: not in the container' "$T/d.err"
        expect_equal "ccsupd's fds after the outsider" "$before" "$(nfds)"
        rm -f "$T/ctl/svc/fds"
        restarted svc
        expect_equal "nothing stored" "LISTEN_FDS=0" "$(fds svc | paste -sd' ')"
        # the daemon and the other units carry on
        [[ $(prop other State) == running ]]
        [[ $(prop nostore State) == running ]]
}

@test "FileDescriptorStoreMax=256 (the largest) with [Socket]: all of them come back" {
        client big "FileDescriptorStoreMax=256" "[Socket]" "ListenStream=$T/big.sock"
        sup_start
        wait_state big running 10
        wait_file "$T/ctl/big/fds"
        cmd big "flood 300"
        restarted big
        expect_equal "fds" "LISTEN_FDS=257" "$(head -n 1 "$T/ctl/big/fds")"
        expect_equal "the socket first" "big socket" "$(sed -n 2p "$T/ctl/big/fds")"
        expect_equal "stored ones" 256 "$(grep -c '^flood -$' "$T/ctl/big/fds")"
        # a limit higher than that is refused
        sed -i 's/^FileDescriptorStoreMax=256$/FileDescriptorStoreMax=257/' "$T/units/big.unit"
        run ctl verify "$T/units/big.unit"
        [[ $status -eq 1 && $output == *"invalid number of file descriptors (0 to 256) \`257\`"* ]]
}

@test "the fd store survives daemon-reexec; a lower FileDescriptorStoreMax= closes the newest" {
        client svc "FileDescriptorStoreMax=4"
        sup_start
        wait_state svc running 10
        wait_file "$T/ctl/svc/fds"
        cmd svc "store a one" "store b two" "store c three"

        run ctl daemon-reexec
        [[ $status -eq 0 ]]
        wait_until 10 sh -c '"$0" show svc | grep -qx State=running' "$CCSUPCTL"
        grep -q 'svc: fd store: 3 fd(s) taken back' "$T/d.err"
        restarted svc
        expect_equal "after daemon-reexec" "LISTEN_FDS=3 a one b two c three" "$(fds svc | paste -sd' ')"

        sed -i 's/^FileDescriptorStoreMax=4$/FileDescriptorStoreMax=2/' "$T/units/svc.unit"
        rm -f "$T/ctl/svc/fds"
        ctl reload
        wait_file "$T/ctl/svc/fds"
        grep -q 'svc: fd store: `c` closed (FileDescriptorStoreMax=2)' "$T/d.err"
        expect_equal "after the reload" "LISTEN_FDS=2 a one b two" "$(fds svc | paste -sd' ')"
}

@test "under systemd, the stored fds go to its fd store and come back after kill -9" {
        client svc "FileDescriptorStoreMax=4" "[Log]" "Target=none"
        # shellcheck disable=SC2046
        fake_fd_store "$CCSUPD" $(ccsupd_args) --log-level=debug
        NOTIFY_SOCKET=$T/notify.sock sup_start
        wait_state svc running 10
        wait_file "$T/ctl/svc/fds"
        local pid
        pid=$(prop svc MainPID)
        # an FDNAME= with a '-' and a '%' is named unambiguously
        cmd svc "store db one" "store db two" "store a-b%c three"
        wait_store "pidfd-svc $pid" "fdstore-svc-db ?" "fdstore-svc-db ?" "fdstore-svc-a%2Db%25c ?"

        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        rm -f "$T/run/control"
        touch "$T/restart"
        wait_file "$T/sup2.pid"
        SUP_PID=$(cat "$T/sup2.pid")
        echo "$SUP_PID" >>"$T/bg-pids"
        local i
        for ((i = 0; i < 200; i++)); do
                [[ -S $T/run/control ]] && break
                sleep 0.025
        done
        wait_state svc running 10
        expect_equal "PID of svc" "$pid" "$(prop svc MainPID)"
        grep -q 'svc: fd store: 3 fd(s) taken back' "$T/d.err"
        restarted svc
        expect_equal "after kill -9" "LISTEN_FDS=3 db one db two a-b%c three" "$(fds svc | paste -sd' ')"
        pid=$(prop svc MainPID)
        # each once in systemd's store still; FDSTOREREMOVE=1 reaches it
        wait_store "pidfd-svc $pid" "fdstore-svc-db ?" "fdstore-svc-db ?" "fdstore-svc-a%2Db%25c ?"
        cmd svc "remove db"
        wait_store "pidfd-svc $pid" "fdstore-svc-a%2Db%25c ?"
        # a stop empties both
        ctl stop svc
        wait_state svc inactive 10
        wait_store
}

# the keeper of the test's ccsupd (its comm), or nothing
keeper_pid() {
        local p
        for p in /proc/[0-9]*; do
                [[ $(cat "$p/comm" 2>/dev/null) == ccsupd-fdstore ]] || continue
                [[ $(readlink "$p/cwd" 2>/dev/null) == / ]] || continue
                grep -qs "$T/run/fdstore" "$p/net/unix" 2>/dev/null || continue
                # its listening socket's inode is among its fds
                local ino
                ino=$(awk -v path="$T/run/fdstore" '$8 == path && $6 == "01" { print $7; exit }' "$p/net/unix")
                [[ -n $ino ]] && ls -l "$p/fd" 2>/dev/null | grep -q "socket:\[$ino\]" && echo "${p#/proc/}"
        done
}

@test "without systemd, the fd keeper holds the store: the fds come back after kill -9; a clean exit ends it" {
        client svc "FileDescriptorStoreMax=4"
        sup_start
        wait_state svc running 10
        wait_file "$T/ctl/svc/fds"
        local keeper pid
        keeper=$(keeper_pid)
        [[ -n $keeper ]]
        echo "$keeper" >>"$T/bg-pids"
        [[ -S $T/run/fdstore && $(stat -c %a "$T/run/fdstore") == 600 ]]
        pid=$(prop svc MainPID)
        cmd svc "store db one" "store db two" "store log three"
        # the keeper holds the client's memfds (and the container's pidfd)
        wait_until 10 sh -c '[ "$(ls -l /proc/$0/fd | grep -c memfd:fdstore-client)" -eq 3 ]' "$keeper"
        ls -l "/proc/$keeper/fd" | grep -q 'anon_inode:\[pidfd\]'

        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        rm -f "$T/run/control"
        # the keeper outlives it
        kill -0 "$keeper"
        cat "$T/d.err" >>"$T/d1.err"
        sup_start
        wait_state svc running 10
        expect_equal "PID of svc" "$pid" "$(prop svc MainPID)"
        grep -q 'fd keeper: [0-9]* fd(s) taken back from a previous ccsupd' "$T/d.err"
        grep -q 'svc: fd store: 3 fd(s) taken back' "$T/d.err"
        expect_equal "the same keeper" "$keeper" "$(keeper_pid)"
        restarted svc
        expect_equal "after kill -9" "LISTEN_FDS=3 db one db two log three" "$(fds svc | paste -sd' ')"
        # FDSTOREREMOVE=1 reaches the keeper
        cmd svc "remove db"
        wait_until 10 sh -c '[ "$(ls -l /proc/$0/fd | grep -c memfd:fdstore-client)" -eq 1 ]' "$keeper"

        # daemon-reexec keeps the same keeper and adds nothing twice
        ctl daemon-reexec
        wait_until 10 sh -c '"$0" show svc | grep -qx State=running' "$CCSUPCTL"
        expect_equal "keeper after daemon-reexec" "$keeper" "$(keeper_pid)"
        expect_equal "memfds in the keeper" 1 "$(ls -l "/proc/$keeper/fd" | grep -c memfd:fdstore-client)"

        # a clean exit ends the keeper before ccsupd is gone
        kill -TERM "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        ! kill -0 "$keeper" 2>/dev/null
        [[ ! -e /proc/$keeper ]] || [[ $(awk '{ print $3 }' "/proc/$keeper/stat") == Z ]]
}
