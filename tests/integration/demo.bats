#!/usr/bin/env bats
# A first run: contrib/demo on the example units of units/examples, run the
# way the demo runs them (its own copies, image and www directory, ccsupd in
# the foreground), and the example unit of the README. The demo runs in a
# network namespace of its own: web.unit uses Mode=host, port 8080.

load sup-helpers

setup_file() { run_setup_file; }
setup() { sup_setup; }
teardown() { sup_teardown; }

# demo_start: contrib/demo with this build, in $T/demo, in a new network
# namespace with loopback up; SUP_PID is ccsupd (unshare, sh and the demo
# exec it in turn)
demo_start() {
        env --default-signal=INT,QUIT CCSUP_LOG_STDERR=1 \
                unshare -n -- sh -c 'ip link set lo up && exec "$@"' sh \
                "$CCSUP_SRCDIR/contrib/demo" --builddir="$CCSUP_BUILDDIR" \
                --dir="$T/demo" --cgroup="$CG" </dev/null >"$T/d.out" 2>"$T/d.err" &
        SUP_PID=$!
        echo "$SUP_PID" >>"$T/bg-pids"
        export CCSUP_SOCKET=$T/demo/run/control
        local i
        for ((i = 0; i < 400; i++)); do
                [[ -S $CCSUP_SOCKET ]] && return 0
                kill -0 "$SUP_PID" 2>/dev/null || break
                sleep 0.025
        done
        echo "the demo's ccsupd did not create its control socket" >&2
        cat "$T/d.out" "$T/d.err" >&2
        return 1
}

# in_demo_net CMD...: CMD in the demo's network namespace
in_demo_net() {
        nsenter -t "$SUP_PID" -n "$@"
}

@test "contrib/demo: every example unit reaches the state the demo promises" {
        demo_start
        wait_state hello running 15
        wait_state web running 15
        wait_state worker running 15
        wait_state batch exited 15
        [[ $(prop batch Result) == success ]]
        wait_state socket running 15
        # notify.unit is ready two seconds after its start, not before
        [[ $(prop notify Ready) == no || $(prop notify State) == running ]]
        wait_state notify running 15
        [[ $(prop notify Ready) == yes ]]
        [[ $(prop notify StatusText) == serving || $(prop notify StatusText) == "alive at "* ]]

        # what the demo tells the user is what runs
        grep -Eq '^  hello +running:' "$T/d.out"
        grep -Eq '^  web +running:' "$T/d.out"
        grep -Eq '^  worker +running:' "$T/d.out"
        grep -Eq '^  batch +exited:' "$T/d.out"
        grep -Eq '^  notify +running:' "$T/d.out"
        grep -Eq '^  socket +running:' "$T/d.out"
        ! grep -q 'left out' "$T/d.out" || false
        grep -q 'all example units are valid' "$T/d.out"
        ! grep -q 'command not found' "$T/d.err" || false
        ! grep -q 'not supported yet' "$T/d.out" || false

        # web serves the demo's page on port 8080, from a read-only root
        # ("running" is when httpd exists; it listens a moment later)
        wait_until 10 in_demo_net timeout 2 busybox wget -q -O /dev/null \
                http://127.0.0.1:8080/
        run in_demo_net timeout 5 busybox wget -q -O - http://127.0.0.1:8080/
        [[ $status -eq 0 ]]
        [[ $output == '<h1>hello from ccsup</h1>' ]]
        run ctl exec web /bin/touch /probe
        [[ $status -ne 0 ]]
        [[ $output == *"Read-only file system"* ]]

        # socket.unit answers on the socket ccsupd holds, from a container
        # without a network of its own; a restart refuses no connection
        run in_demo_net timeout 5 busybox wget -q -O - http://127.0.0.1:8090/
        [[ $status -eq 0 ]]
        [[ $output == "hello from PID 1 (socket-activated)" ]]
        ctl restart socket
        run in_demo_net timeout 5 busybox wget -q -O - http://127.0.0.1:8090/
        [[ $status -eq 0 && $output == "hello from PID 1 (socket-activated)" ]]
        [[ $(prop socket Restarts) == 0 ]]

        # hello logs, batch ran once into its volume, worker reached web
        wait_until 10 sh -c '"$0" logs hello | grep -q "hello from hello"' "$CCSUPCTL"
        run ctl logs hello
        [[ $output == *"hello from hello"* ]]
        grep -q 'stdout F run 1$' "$T/demo/log/batch.log"
        [[ $(prop worker Restarts) == 0 ]]
        [[ $(prop web Restarts) == 0 ]]

        # Ctrl-C ends the demo: every container stops, promptly (web has
        # Init=yes, so it does not wait for its stop timeout)
        kill -INT "$SUP_PID"
        local i
        for ((i = 0; i < 80; i++)); do
                kill -0 "$SUP_PID" 2>/dev/null || break
                sleep 0.05
        done
        ! kill -0 "$SUP_PID" 2>/dev/null || false
        wait "$SUP_PID"
        SUP_PID=
        ! grep -q 'stop timeout' "$T/d.err" || false
}

@test "the README's example unit verifies" {
        awk '/^```ini$/ { f = 1; next } /^```$/ { if (f) exit } f' \
                "$CCSUP_SRCDIR/README.md" >"$T/web.unit"
        grep -q '^\[Image\]$' "$T/web.unit"
        run ctl verify "$T/web.unit"
        echo "$output"
        [[ $status -eq 0 ]]
}
