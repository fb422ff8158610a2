#!/usr/bin/env bats
# [Log] Target=journal (and auto) against a real systemd-journald, started by
# each test in a private mount namespace (tmpfs on /run/systemd, /run/log and
# /var/log/journal, its own journald.conf): the host's journal is never
# touched, and no systemd as PID 1 is needed. ccsupd, ccsupctl and journalctl
# run in that namespace (nsenter). Checked: the container's stdout/stderr are
# journal stream sockets (the output never passes through ccsupd), entries
# carry SYSLOG_IDENTIFIER=NAME and the stream's priority, ccsupd's own
# messages CCSUP_UNIT=NAME; `ccsupctl logs [-n N] [-f]` and `status` read them.

load logs-helpers

JOURNALD=${JOURNALD:-/lib/systemd/systemd-journald}

setup_file() { run_setup_file; }
setup() {
        sup_setup
        JPID= FOLLOW_PID=
        journald_start
}
teardown() {
        kill_follow
        if [[ -n ${SUP_PID:-} && -n ${JPID:-} ]]; then
                echo "--- ccsupd's journal entries:"
                jj -o short-monotonic SYSLOG_IDENTIFIER=ccsupd 2>&1 | tail -n 40 || true
        fi
        sup_teardown
        # journald last (ccsupd logs to it until the end), by its PID; with it
        # goes the namespace and its tmpfs mounts
        if [[ -n ${JPID:-} ]]; then
                kill -KILL "$JPID" 2>/dev/null || true
        fi
}

# journald_start: journald in a new mount namespace; sets JPID (journald's
# PID, which holds the namespace). Skips, with the reason, when it cannot run.
journald_start() {
        [[ -x $JOURNALD ]] || skip "no $JOURNALD (Debian package systemd)"
        command -v journalctl >/dev/null || skip "no journalctl"
        command -v nsenter >/dev/null || skip "no nsenter (util-linux)"
        printf '%s\n' '[Journal]' 'Storage=volatile' 'ReadKMsg=no' 'ForwardToSyslog=no' \
                'ForwardToKMsg=no' 'ForwardToConsole=no' 'ForwardToWall=no' 'RateLimitBurst=0' \
                >"$T/journald.conf"
        # /var/log/journal exists on hosts with a persistent journal: hide it,
        # or journald would append to it. Nothing is created on the host but
        # /run/systemd or /run/log if they are missing (on /run, a tmpfs).
        unshare -m --propagation private sh -c '
                set -e
                mount --make-rprivate /
                for d in /run/systemd /run/log; do
                        mkdir -p "$d"
                        mount -t tmpfs -o mode=0755 tmpfs "$d"
                done
                if [ -d /var/log/journal ]; then mount -t tmpfs -o mode=0755 tmpfs /var/log/journal; fi
                if [ -e /etc/systemd/journald.conf ]; then mount --bind "$1" /etc/systemd/journald.conf; fi
                echo $$ >"$2"
                exec "$3"' sh "$T/journald.conf" "$T/journald.pid" "$JOURNALD" \
                </dev/null >"$T/journald.out" 2>&1 &
        local job=$! i
        echo "$job" >>"$T/bg-pids"
        # killed by PID in teardown; no "Killed" job notice from bash
        disown "$job"
        for ((i = 0; i < 100; i++)); do
                if ! kill -0 "$job" 2>/dev/null; then
                        skip "systemd-journald did not start: $(tr '\n' ' ' <"$T/journald.out")"
                fi
                [[ -s $T/journald.pid ]] && JPID=$(<"$T/journald.pid")
                if [[ -n $JPID && $(readlink "/proc/$JPID/exe") == *journald* ]] &&
                        jns test -S /run/systemd/journal/stdout; then
                        # the namespace really is another one
                        [[ $(readlink "/proc/$JPID/ns/mnt") != $(readlink /proc/self/ns/mnt) ]]
                        return 0
                fi
                sleep 0.05
        done
        skip "systemd-journald did not create /run/systemd/journal/stdout within 5s: $(tr '\n' ' ' <"$T/journald.out")"
}

# jns CMD...: CMD in journald's mount namespace (nsenter execs it: same PID)
jns() {
        nsenter --mount="/proc/$JPID/ns/mnt" "$@"
}

jj() {
        jns journalctl --no-pager "$@"
}

jctl() {
        jns "$CCSUPCTL" "$@"
}

# ccsupd in the namespace, logging to the journal (no CCSUP_LOG_STDERR)
jsup_start() {
        local SUP_WRAP=(nsenter --mount="/proc/$JPID/ns/mnt") SUP_LOG_STDERR=0
        sup_start "$@"
}

# wait_journal N SECS JOURNALCTL-ARGS...: until journalctl shows N entries
wait_journal() {
        local n=$1 secs=$2 i
        shift 2
        for ((i = 0; i < secs * 20; i++)); do
                [[ $(jj -q -o cat "$@" 2>/dev/null | wc -l) -ge $n ]] && return 0
                sleep 0.05
        done
        echo "timed out waiting for $n journal entries of: $*; there are:" >&2
        jj -o verbose "$@" >&2
        return 1
}

# jfollow ARGS: follow (`ccsupctl logs -f ARGS`) in the namespace
jfollow() {
        local FOLLOW_WRAP=(nsenter --mount="/proc/$JPID/ns/mnt")
        follow "$@"
}

@test "Target=journal: stream sockets, SYSLOG_IDENTIFIER=NAME, stdout at info, stderr at err; ccsupd's messages carry CCSUP_UNIT" {
        output_unit web journal "/bin/sh -c 'echo hello; sleep 0.3; echo oops >&2; sleep 1000'"
        jsup_start
        wait_state web running
        wait_journal 2 10 SYSLOG_IDENTIFIER=web

        run jj -o verbose SYSLOG_IDENTIFIER=web MESSAGE=hello
        expect_status 0
        expect_output_has "PRIORITY=6"
        expect_output_has "_TRANSPORT=stdout"
        run jj -o verbose SYSLOG_IDENTIFIER=web MESSAGE=oops
        expect_output_has "PRIORITY=3"
        expect_output_has "_TRANSPORT=stdout"

        # the container writes to journald's sockets itself: not pipes
        # read by ccsupd, not a file
        local pid
        pid=$(prop web MainPID)
        [[ $(readlink "/proc/$pid/fd/1") == socket:* ]]
        [[ $(readlink "/proc/$pid/fd/2") == socket:* ]]
        [[ ! -e $T/log/web.log ]]

        # ccsupd's own messages about the unit
        run jj -o verbose CCSUP_UNIT=web
        expect_status 0
        expect_output_has "SYSLOG_IDENTIFIER=ccsupd"
        [[ $(jj -q -o cat CCSUP_UNIT=web | wc -l) -ge 1 ]]
        # and they are not the container's output
        run jctl logs web
        expect_status 0
        expect_lines hello oops
}

@test "Target=auto picks the journal when journald runs" {
        output_unit autoweb auto "/bin/sh -c 'echo from auto; sleep 1000'"
        jsup_start
        wait_state autoweb running
        wait_journal 1 10 SYSLOG_IDENTIFIER=autoweb
        run jj -o cat SYSLOG_IDENTIFIER=autoweb
        expect_lines "from auto"
        local pid
        pid=$(prop autoweb MainPID)
        [[ $(readlink "/proc/$pid/fd/1") == socket:* ]]
        [[ ! -e $T/log/autoweb.log ]]
        run jctl logs autoweb
        expect_status 0
        expect_lines "from auto"
}

@test "logs, logs -n N and status read the journal; other entries of the same name are not shown" {
        output_unit lines journal "/bin/sh -c 'for i in 1 2 3 4 5 6 7 8 9 10 11; do echo line \$i; done; sleep 0.3; echo err >&2; sleep 1000'"
        output_unit silent journal "/bin/sh -c 'sleep 1000'"
        jsup_start
        wait_state lines running
        wait_journal 12 10 SYSLOG_IDENTIFIER=lines
        # sent as SYSLOG_IDENTIFIER=lines, but not over a stream: not output
        if jns logger --help 2>&1 | grep -q -- --journald; then
                printf 'MESSAGE=intruder\nSYSLOG_IDENTIFIER=lines\n' | jns logger --journald
                wait_journal 13 10 SYSLOG_IDENTIFIER=lines
        fi

        run jctl logs lines
        expect_status 0
        expect_lines "line 1" "line 2" "line 3" "line 4" "line 5" "line 6" "line 7" "line 8" "line 9" \
                "line 10" "line 11" "err"
        run jctl logs -n 3 lines
        expect_status 0
        expect_lines "line 10" "line 11" "err"
        run jctl logs --lines=1 lines
        expect_lines "err"
        run jctl logs -n 0 lines
        expect_status 0
        expect_lines
        run jctl logs -n 100 lines
        expect_equal "lines" 12 "${#lines[@]}"

        run jctl status lines
        expect_status 0
        local tail
        tail=$'\n\n'$(printf 'line %s\n' 3 4 5 6 7 8 9 10 11)$'\nerr'
        [[ $output == *"$tail" ]] || {
                echo "--- expected the end:"; printf '%s\n' "$tail"; echo "--- got:"; printf '%s\n' "$output"
                return 1
        }

        # nothing written yet: no output, no blank line in status
        wait_state silent running
        run jctl logs silent
        expect_status 0
        expect_lines
        run jctl status silent
        [[ $output != *$'\n\n'* ]]
}

@test "logs -f follows the journal; -n 0 shows only new entries; SIGTERM ends it with 0" {
        output_unit ticker journal "/bin/sh -c 'i=0; while :; do i=\$((i+1)); echo tick \$i; sleep 0.05; done'"
        jsup_start
        wait_state ticker running
        wait_journal 5 10 SYSLOG_IDENTIFIER=ticker

        jfollow -n 2 ticker
        wait_lines "$T/follow.out" 40 20
        end_follow TERM
        expect_status 0
        # consecutive: nothing lost, nothing twice
        run awk '$1 != "tick" { print "not a tick: " $0; exit 1 }
                NR > 1 && $2 != prev + 1 { print "after " prev ": " $2; exit 1 }
                { prev = $2 }' "$T/follow.out"
        expect_status 0

        local last
        last=$(jctl logs -n 1 ticker | awk '{ print $2 }')
        [[ $last -gt 0 ]]
        jfollow -n 0 ticker
        wait_lines "$T/follow.out" 5 20
        end_follow INT
        expect_status 0
        [[ $(head -n 1 "$T/follow.out" | awk '{ print $2 }') -gt $last ]]

        # a closed pipe ends it too
        run timeout 10 bash -c 'set -o pipefail; nsenter --mount="/proc/$1/ns/mnt" "$0" logs -f ticker | head -n 1' \
                "$CCSUPCTL" "$JPID"
        expect_status 0
        expect_lines "tick 1"
}
