#!/usr/bin/env bats
# ccsupd reloads (UNITS.md "Reload"), the unit-path watch, and dependencies.

load sup-helpers

setup_file() { run_setup_file; }
setup() { sup_setup; }
teardown() { sup_teardown; }

@test "reload: added units start, removed stop, changed restart, untouched keep their PID" {
        sleeper keep
        sleeper change
        sleeper gone
        sup_start --no-watch
        wait_state keep running
        wait_state change running
        wait_state gone running
        local keep_pid change_pid
        keep_pid=$(prop keep MainPID)
        change_pid=$(prop change MainPID)

        sleeper fresh
        rm "$T/units/gone.unit"
        echo 'Environment=NEW=1' >>"$T/units/change.unit"
        run ctl reload
        expect_status 0
        expect_equal "reload output" "added fresh|changed change|removed gone" "$(sort <<<"$output" | tr '\n' '|' | sed 's/|$//')"
        wait_state fresh running
        wait_state change running
        expect_equal "untouched PID" "$keep_pid" "$(prop keep MainPID)"
        [[ $(prop change MainPID) != "$change_pid" ]]
        local i
        for ((i = 0; i < 100; i++)); do
                ctl show gone >/dev/null 2>&1 || break
                sleep 0.05
        done
        run ctl show gone
        expect_status 4

        # nothing changed: nothing printed, nothing restarted
        run ctl reload
        expect_status 0
        assert_no_output
        expect_equal "untouched PID" "$keep_pid" "$(prop keep MainPID)"

        # drop-ins count as changes
        change_pid=$(prop change MainPID)
        mkdir -p "$T/units/change.unit.d"
        printf '[Process]\nEnvironment=DROP=1\n' >"$T/units/change.unit.d/50-drop.conf"
        run ctl reload
        expect_equal "reload output" "changed change" "$output"
        wait_state change running
        [[ $(prop change MainPID) != "$change_pid" ]]
        grep -qz '^DROP=1$' "/proc/$(prop change MainPID)/environ"
        expect_equal "drop-ins" "$T/units/change.unit.d/50-drop.conf" "$(prop change DropIns)"
}

@test "a bad edit keeps the running container with its old configuration and shows the errors" {
        sleeper svc
        sup_start --no-watch
        wait_state svc running
        local pid
        pid=$(prop svc MainPID)
        cp "$T/units/svc.unit" "$T/svc.good"
        echo 'NotAKey=1' >>"$T/units/svc.unit"
        run ctl reload
        expect_status 0
        expect_equal "reload output" "bad svc" "$output"
        expect_equal "state" running "$(prop svc State)"
        expect_equal "PID" "$pid" "$(prop svc MainPID)"
        [[ $(prop svc LoadErrors) == "$T/units/svc.unit:"*"NotAKey"* ]]
        run ctl status svc
        expect_status 0
        expect_output_has "Load errors: $T/units/svc.unit:"
        # a restart uses the last good configuration
        ctl restart svc
        expect_equal "state" running "$(prop svc State)"
        pid=$(prop svc MainPID)
        cp "$T/svc.good" "$T/units/svc.unit"
        run ctl reload
        expect_status 0
        expect_equal "LoadErrors" "" "$(prop svc LoadErrors)"
        expect_equal "PID" "$pid" "$(prop svc MainPID)"

        # a stopped unit whose file is bad is bad, and does not start
        ctl stop svc
        echo 'NotAKey=1' >>"$T/units/svc.unit"
        ctl reload
        expect_equal "state" bad "$(prop svc State)"
        run ctl start svc
        expect_status 1
}

@test "the unit path is watched: a new file starts within 2 s, removing it stops it" {
        sup_start
        sleeper dropped
        local start=$(date +%s%N)
        wait_state dropped running 2
        echo "started after $((($(date +%s%N) - start) / 1000000)) ms"
        local pid
        pid=$(prop dropped MainPID)
        rm "$T/units/dropped.unit"
        local i
        for ((i = 0; i < 40; i++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.05
        done
        ! kill -0 "$pid" 2>/dev/null
        run ctl show dropped
        expect_status 4
        # drop-in directories are watched too
        sleeper withdrop
        wait_state withdrop running 2
        pid=$(prop withdrop MainPID)
        mkdir -p "$T/units/withdrop.unit.d"
        sleep 0.3 # the new directory is watched after the next reload
        printf '[Process]\nEnvironment=X=1\n' >"$T/units/withdrop.unit.d/x.conf"
        for ((i = 0; i < 40; i++)); do
                [[ $(prop withdrop MainPID) != "$pid" && $(prop withdrop State) == running ]] && break
                sleep 0.05
        done
        [[ $(prop withdrop MainPID) != "$pid" ]]
        ctl stop withdrop
}

@test "dependencies: start order, Requires= propagates stops and failures, start pulls requirements" {
        local u
        for u in db web worker; do
                unit "$u" <<EOF
[Unit]
$([[ $u == web ]] && echo Requires=db)
$([[ $u == worker ]] && echo After=web)
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'cut -d" " -f1 /proc/uptime > /out/$u; trap "exit 0" TERM; while :; do sleep 0.05; done'

[Restart]
Policy=no

[Mounts]
Bind=$T/out:/out
$([[ $u != worker ]] && printf '[Health]\nExec=/bin/test -s /out/%s\nIntervalSec=100ms\n' "$u")
EOF
        done
        sup_start
        wait_state worker running
        wait_state web running
        # launched in order (ccsupd's clock), and the containers saw it too
        local db web worker
        db=$(prop db StartedAt)
        web=$(prop web StartedAt)
        worker=$(prop worker StartedAt)
        [[ $db -lt $web && $web -lt $worker ]]
        # each shell writes its file a moment after its exec; db and web are
        # ready (for After=) only once their file is there, so what the
        # containers saw is ordered too, however the host schedules them
        for u in db web worker; do wait_file "$T/out/$u"; done
        python3 -c 'import sys; a,b,c=(float(open(f).read()) for f in sys.argv[1:]); assert a <= b <= c, (a,b,c)' \
                "$T/out/db" "$T/out/web" "$T/out/worker"

        # stopping db stops web (Requires=), not worker (After= only)
        ctl stop db
        expect_equal "web" inactive "$(prop web State)"
        expect_equal "worker" running "$(prop worker State)"
        # starting web pulls db in first
        ctl start web
        expect_equal "db" running "$(prop db State)"
        expect_equal "web" running "$(prop web State)"
        # db failing for good fails web, with result dependency
        ctl kill --signal=KILL db
        wait_state db failed
        wait_state web failed
        expect_equal "result" dependency "$(prop web Result)"
}

@test "a dependency cycle makes every unit on it bad, naming the cycle; the others run" {
        sleeper a '[Unit]' 'After=b'
        sleeper b '[Unit]' 'Requires=c'
        sleeper c '[Unit]' 'After=a'
        sleeper free
        sup_start
        wait_state free running
        local u
        for u in a b c; do
                expect_equal "$u" bad "$(prop "$u" State)"
                [[ $(prop "$u" LoadErrors) == *"dependency cycle: $u -> "*" -> $u"* ]]
        done
        expect_equal "a's cycle" "dependency cycle: a -> b -> c -> a" "$(prop a LoadErrors)"
        # breaking the cycle makes them start
        sleeper c
        run ctl reload
        wait_state a running
        wait_state b running
        wait_state c running
}
