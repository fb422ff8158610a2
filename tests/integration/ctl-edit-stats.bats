#!/usr/bin/env bats
# `ccsupctl stats` and `ccsupctl edit` (CLI.md): the resource table from the
# containers' cgroups and network namespaces; the drop-in override.conf
# edited with $EDITOR, checked with the unit before it replaces the old one.

load sup-helpers

setup_file() { run_setup_file; }
setup() { sup_setup; }
teardown() { sup_teardown; }

# stats_row UNIT: the unit's row of `ccsupctl stats --no-stream --no-legend`
stats_row() {
        ctl stats --no-stream --no-legend | awk -v u="$1" '$1 == u'
}

@test "stats: CPU% of a busy and an idle container, memory, its limit, tasks; network bytes of its own namespace" {
        unit busy <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do :; done'
StopTimeoutSec=5s

[Resources]
MemoryMax=64M
EOF
        sleeper idle
        sleeper hostnet "[Network]" "Mode=host"
        sup_start
        wait_state busy running
        wait_state idle running
        wait_state hostnet running

        run ctl stats --no-stream
        echo "$output"
        [ "$status" -eq 0 ]
        [[ ${lines[0]} =~ ^UNIT\ +CPU%\ +MEM\ +MEM-LIMIT\ +PIDS\ +NET-RX\ +NET-TX$ ]]
        [ "${#lines[@]}" -eq 4 ]

        read -r name cpu mem lim pids rx tx <<<"$(stats_row busy)"
        [ "$name" = busy ]
        # a shell loop spinning: most of one CPU (the machine is shared: > 20%)
        [[ $cpu =~ ^[0-9]+\.[0-9]{2}%$ ]]
        [ "${cpu%%.*}" -ge 20 ]
        [[ $mem =~ ^[0-9.]+(B|KiB|MiB)$ ]]
        [ "$lim" = 64.0MiB ]
        [ "$pids" -ge 1 ]
        # Mode=none: an own namespace with lo only, and lo is not counted
        [ "$rx" = 0B ] && [ "$tx" = 0B ]

        read -r name cpu mem lim pids rx tx <<<"$(stats_row idle)"
        [ "${cpu%%.*}" -lt 20 ]
        [ "$lim" = - ]
        [ "$pids" -ge 1 ]

        # host networking: the host's counters are not the container's
        read -r name cpu mem lim pids rx tx <<<"$(stats_row hostnet)"
        [ "$rx" = - ] && [ "$tx" = - ]

        # traffic in the container's namespace: a veth pair inside it, whose
        # IPv6 link-local start (DAD, router solicitations) sends packets
        # from one end to the other; no address is involved
        pid=$(prop idle MainPID)
        nsenter -t "$pid" -n sh -c 'ip link add va type veth peer name vb && ip link set va up && ip link set vb up'
        wait_until 15 sh -c "[ \"\$(nsenter -t $pid -n cat /sys/class/net/vb/statistics/rx_bytes)\" -gt 0 ]"
        read -r name cpu mem lim pids rx tx <<<"$(stats_row idle)"
        echo "idle: rx=$rx tx=$tx"
        [ "$tx" != 0B ] && [ "$tx" != - ]
        [ "$rx" != 0B ] && [ "$rx" != - ]

        # named units: only those, a stopped one with dashes; an unknown one: 4
        ctl stop idle
        run ctl stats --no-stream --no-legend idle busy
        echo "$output"
        [ "$status" -eq 0 ]
        [ "${#lines[@]}" -eq 2 ]
        [[ ${lines[0]} =~ ^idle\ +-\ +-\ +-\ +-\ +-\ +-$ ]]
        [[ ${lines[1]} =~ ^busy\  ]]
        run ctl stats --no-stream nosuch
        [ "$status" -eq 4 ]
        [[ $output == *nosuch* ]]
        run ctl stats --bogus
        [ "$status" -eq 2 ]
}

@test "stats: streams a table every second until interrupted" {
        sleeper idle
        sup_start
        wait_state idle running
        "$CCSUPCTL" stats >"$T/stream" 2>"$T/stream.err" &
        spid=$!
        echo "$spid" >>"$T/bg-pids"
        wait_until 10 sh -c '[ "$(grep -c "^UNIT" "$0")" -ge 3 ]' "$T/stream"
        kill -INT "$spid"
        st=0
        wait "$spid" || st=$?
        cat "$T/stream" "$T/stream.err"
        [ "$st" -eq 0 ]
        [ "$(grep -c '^UNIT' "$T/stream")" -ge 3 ]
        [ "$(grep -c '^idle ' "$T/stream")" -ge 3 ]
}

# editor SCRIPT-BODY: an $EDITOR for the tests; "$1" is the copy to edit
editor() {
        printf '#!/bin/sh\n%s\n' "$1" >"$T/editor"
        chmod +x "$T/editor"
        export EDITOR=$T/editor
}

@test "edit: a new override.conf is written in the first unit directory, and ccsupd reloads" {
        mkdir -p "$T/units2"
        sleeper web
        sup_start --unit-path="$T/units:$T/units2"
        wait_state web running
        # the editor sees an empty copy named override.conf, outside the unit path
        editor 'echo "$1" >'"$T"'/edited; test ! -s "$1" || exit 9
printf "[Resources]\nMemoryMax=32M\n" >"$1"'
        run ctl edit web
        echo "$output"
        [ "$status" -eq 0 ]
        [[ $(cat "$T/edited") == */override.conf ]]
        [[ $(cat "$T/edited") != "$T"/units* ]]
        f=$T/units/web.unit.d/override.conf
        [ "$(cat "$f")" = "$(printf '[Resources]\nMemoryMax=32M')" ]
        [ "$(stat -c %a "$f")" = 644 ]
        [[ $output == *"$f: written"* ]]
        [[ $output == *"changed web"* ]]
        [ "$(prop web DropIns)" = "$f" ]
        [ ! -e "$(cat "$T/edited")" ]
        # the copy is the current override; an unchanged result changes nothing
        editor 'grep -q MemoryMax=32M "$1"'
        run ctl edit web
        [ "$status" -eq 0 ]
        [[ $output == *unchanged* ]]
        # after a restart the limit is in force
        ctl restart web
        wait_state web running
        [[ $(stats_row web) =~ \ 32.0MiB\  ]]
        # emptied: the drop-in goes
        editor ': >"$1"'
        run ctl edit web
        echo "$output"
        [ "$status" -eq 0 ]
        [ ! -e "$f" ]
        [ -z "$(prop web DropIns)" ]
}

@test "edit: an invalid result is refused with its FILE:LINE errors, and the old drop-in is kept" {
        sleeper web
        mkdir -p "$T/units/web.unit.d"
        printf '[Resources]\nMemoryMax=32M\n' >"$T/units/web.unit.d/override.conf"
        sup_start
        wait_state web running
        before=$(cat "$T/units/web.unit.d/override.conf")
        editor 'printf "[Resources]\nMemoryMax=lots\nNoSuchKey=1\n" >"$1"'
        run ctl edit web
        echo "$output"
        [ "$status" -eq 1 ]
        [[ $output == *"$T/units/web.unit.d/override.conf:2:"* ]]
        [[ $output == *"$T/units/web.unit.d/override.conf:3:"* ]]
        [[ $output == *kept* ]]
        [ "$(cat "$T/units/web.unit.d/override.conf")" = "$before" ]
        # nothing else was left in the drop-in directory
        [ "$(ls -A "$T/units/web.unit.d")" = override.conf ]
        # the unit keeps running, unchanged
        [ "$(prop web State)" = running ]
        [ -z "$(prop web LoadErrors)" ]

        # an editor that fails: nothing changes
        editor 'echo garbage >"$1"; exit 3'
        run ctl edit web
        echo "$output"
        [ "$status" -eq 1 ]
        [[ $output == *"exit status 3"* ]]
        [ "$(cat "$T/units/web.unit.d/override.conf")" = "$before" ]

        # no such unit: exit 4, no directory made
        run ctl edit nosuch
        [ "$status" -eq 4 ]
        [ ! -e "$T/units/nosuch.unit.d" ]
        run ctl edit
        [ "$status" -eq 2 ]
}
