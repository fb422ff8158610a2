#!/usr/bin/env bats
# Unit templates (UNITS.md "Where units live", "Syntax"): NAME@.unit never
# runs; NAME@INSTANCE.unit, a symlink to it or an empty file, runs it with
# %i/%p/%n; drop-ins per template and per instance; `show` Template/Instance.

load sup-helpers

setup_file() { run_setup_file; }
setup() { sup_setup; }
teardown() { sup_teardown; }

# worker@: a template whose process records its specifiers in the environment.
worker_template() {
        sleeper worker@ Environment=INST=%i Environment=PREFIX=%p Environment=FULL=%n \
                Environment=PCT=100%% Environment=KEEP=50%x "$@"
}

env_of() { tr '\0' '\n' <"/proc/$(prop "$1" MainPID)/environ"; }

@test "templates: instances run (symlink and empty file) with %i %p %n, the template never does" {
        worker_template
        ln -s worker@.unit "$T/units/worker@a.unit"
        : >"$T/units/worker@b.unit"
        sup_start --no-watch
        wait_state worker@a running
        wait_state worker@b running
        local e
        e=$(env_of worker@a)
        grep -qx 'INST=a' <<<"$e"
        grep -qx 'PREFIX=worker' <<<"$e"
        grep -qx 'FULL=worker@a' <<<"$e"
        grep -qx 'PCT=100%' <<<"$e"
        grep -qx 'KEEP=50%x' <<<"$e"
        grep -qx 'INST=b' <<<"$(env_of worker@b)"

        run ctl list
        expect_status 0
        expect_output_has "worker@a "
        expect_output_has "worker@b "
        [[ $output != *"worker@ "* ]]
        run ctl show worker@
        expect_status 4
        run ctl status worker@
        expect_status 4

        expect_equal "Template" worker@ "$(prop worker@a Template)"
        expect_equal "Instance" a "$(prop worker@a Instance)"
        expect_equal "FragmentPath" "$T/units/worker@.unit" "$(prop worker@b FragmentPath)"
        run ctl status worker@b
        expect_status 0
        expect_output_has "File: $T/units/worker@.unit"
        # a unit that is no instance has empty values
        sleeper plain
        ctl reload >/dev/null
        wait_state plain running
        expect_equal "Template" "" "$(prop plain Template)"
        expect_equal "Instance" "" "$(prop plain Instance)"
}

@test "templates: drop-ins of the template apply to every instance, the instance's come later" {
        worker_template
        : >"$T/units/worker@1.unit"
        : >"$T/units/worker@2.unit"
        mkdir -p "$T/units/worker@.unit.d" "$T/units/worker@2.unit.d"
        printf '[Process]\nEnvironment=COLOR=blue\nEnvironment=SHARED=yes\n' >"$T/units/worker@.unit.d/10-all.conf"
        printf '[Process]\nEnvironment=COLOR=red\n' >"$T/units/worker@2.unit.d/20-one.conf"
        sup_start --no-watch
        wait_state worker@1 running
        wait_state worker@2 running
        grep -qx 'COLOR=blue' <<<"$(env_of worker@1)"
        grep -qx 'SHARED=yes' <<<"$(env_of worker@1)"
        grep -qx 'COLOR=red' <<<"$(env_of worker@2)"
        grep -qx 'SHARED=yes' <<<"$(env_of worker@2)"
        expect_equal "drop-ins of 1" "$T/units/worker@.unit.d/10-all.conf" "$(prop worker@1 DropIns)"
        expect_equal "drop-ins of 2" "$T/units/worker@.unit.d/10-all.conf $T/units/worker@2.unit.d/20-one.conf" \
                "$(prop worker@2 DropIns)"

        # an instance drop-in with the template drop-in's file name replaces it
        printf '[Process]\nEnvironment=COLOR=green\n' >"$T/units/worker@2.unit.d/10-all.conf"
        run ctl reload
        expect_equal "reload" "changed worker@2" "$output"
        wait_state worker@2 running
        grep -qx 'COLOR=red' <<<"$(env_of worker@2)"
        ! grep -qx 'SHARED=yes' <<<"$(env_of worker@2)"
        expect_equal "drop-ins of 2" "$T/units/worker@2.unit.d/10-all.conf $T/units/worker@2.unit.d/20-one.conf" \
                "$(prop worker@2 DropIns)"
}

@test "templates: instances come and go with their files (inotify), a template edit restarts them" {
        worker_template
        sup_start
        run ctl list
        [[ $output != *worker@* ]]
        ln -s worker@.unit "$T/units/worker@x.unit"
        wait_state worker@x running 10
        local pid
        pid=$(prop worker@x MainPID)
        : >"$T/units/worker@y.unit"
        wait_state worker@y running 10
        expect_equal "untouched x" "$pid" "$(prop worker@x MainPID)"

        echo 'Environment=EDITED=1' >>"$T/units/worker@.unit"
        wait_until 10 grep -qx 'EDITED=1' <(env_of worker@x 2>/dev/null)
        wait_until 10 grep -qx 'EDITED=1' <(env_of worker@y 2>/dev/null)
        grep -qx 'EDITED=1' <<<"$(env_of worker@x)"
        grep -qx 'EDITED=1' <<<"$(env_of worker@y)"

        rm "$T/units/worker@x.unit"
        wait_until 10 eval '! ctl show worker@x >/dev/null 2>&1'
        run ctl show worker@x
        expect_status 4
        expect_equal "y" running "$(prop worker@y State)"

        # removing the template leaves its instances without a unit to load:
        # like any bad edit, the running one keeps its last configuration
        rm "$T/units/worker@.unit"
        wait_until 10 eval '[[ $(prop worker@y LoadErrors) == *"template worker@.unit not found"* ]]'
        expect_equal "errors" "$T/units/worker@y.unit: template worker@.unit not found" "$(prop worker@y LoadErrors)"
        expect_equal "y" running "$(prop worker@y State)"
}

@test "templates: a non-empty instance file is a unit of its own; a missing template is an error" {
        worker_template
        unit worker@own <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 0.05; done'
Environment=OWN=%i
EOF
        : >"$T/units/ghost@1.unit"
        sup_start --no-watch
        wait_state worker@own running
        wait_state ghost@1 bad
        grep -qx 'OWN=own' <<<"$(env_of worker@own)"
        ! grep -q '^PREFIX=' <<<"$(env_of worker@own)"
        expect_equal "FragmentPath" "$T/units/worker@own.unit" "$(prop worker@own FragmentPath)"
        expect_equal "Template" "" "$(prop worker@own Template)"
        expect_equal "Instance" own "$(prop worker@own Instance)"
        expect_equal "errors" "$T/units/ghost@1.unit: template ghost@.unit not found" "$(prop ghost@1 LoadErrors)"
        # a masked template masks its instances
        ln -sf /dev/null "$T/units/worker@.unit"
        : >"$T/units/worker@m.unit"
        ctl reload >/dev/null
        wait_state worker@m masked
}

@test "templates: Requires=db@%i and After= tie each instance to its own db" {
        sleeper db@
        unit web@ <<EOF
[Unit]
Requires=db@%i
After=db@%i

[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 0.05; done'
EOF
        local i
        for i in 1 2; do
                : >"$T/units/db@$i.unit"
                ln -s web@.unit "$T/units/web@$i.unit"
        done
        sup_start --no-watch
        for i in 1 2; do
                wait_state web@$i running
                wait_state db@$i running
        done
        [[ $(prop web@1 StartedAt) -ge $(prop db@1 StartedAt) ]]
        ctl stop db@1
        expect_equal "web@1" inactive "$(prop web@1 State)"
        expect_equal "web@2" running "$(prop web@2 State)"
        ctl start web@1
        expect_equal "db@1" running "$(prop db@1 State)"
        expect_equal "web@1" running "$(prop web@1 State)"
}

@test "verify: a template is checked with a sample instance; instances with their template" {
        worker_template "Hostname=host-%i"
        run "$CCSUPCTL" verify "$T/units/worker@.unit"
        expect_status 0
        assert_no_output
        : >"$T/units/worker@7.unit"
        run "$CCSUPCTL" verify "$T/units/worker@7.unit"
        expect_status 0
        assert_no_output
        # %i that makes a bad value is reported on the template's line
        cat >"$T/units/bad@.unit" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/true
Hostname=%i..x
EOF
        run "$CCSUPCTL" verify "$T/units/bad@.unit"
        expect_status 1
        [[ $output == "$T/units/bad@.unit:6: "* ]]
        : >"$T/units/bad@1.unit"
        run "$CCSUPCTL" verify "$T/units/bad@1.unit"
        expect_status 1
        [[ $output == "$T/units/bad@.unit:6: "* ]]
}
