#!/usr/bin/env bats
# ccsupd's PID-1 requests when it is not PID 1 (CLI.md): refused, nothing
# stops. The PID-1 duties themselves are tested in a VM (make check-vm).

load sup-helpers

setup_file() { run_setup_file; }
setup() { sup_setup; }
teardown() { sup_teardown; }

@test "poweroff, reboot, halt: refused when ccsupd is not PID 1, and nothing stops" {
        sleeper keep
        sup_start --no-watch
        wait_state keep running
        local pid verb
        pid=$(prop keep MainPID)
        for verb in poweroff reboot halt; do
                run ctl "$verb"
                expect_status 1
                expect_output_has "ccsupd is not PID 1"
        done
        run ctl poweroff now
        expect_status 2
        kill -0 "$SUP_PID"
        expect_equal "state" running "$(prop keep State)"
        expect_equal "main PID" "$pid" "$(prop keep MainPID)"
}
