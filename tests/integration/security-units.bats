#!/usr/bin/env bats
# Untrusted unit files (issue 13, items 3 and 7): whoever can write a unit file
# is root (Privileged=yes, Bind=/:/host), so ccsupd loads only files and
# directories that root alone could have written, as sshd's StrictModes does;
# CatUnit (they may hold secrets) answers root only; skipped files are logged.

load sup-helpers

setup_file() { run_setup_file; }
setup() { sup_setup; }
teardown() { sup_teardown; }

# marker UNIT: a unit that would leave $T/out/UNIT behind if it ever ran, in
# file FILE (default $T/units/UNIT.unit)
marker() {
        local name=$1 file=${2:-$T/units/$1.unit}
        mkdir -p "$(dirname "$file")"
        cat >"$file" <<EOF
[Image]
Image=$IMAGE

[Process]
Environment=CCSUP_TEST_TAG=$TAG
Exec=/bin/sh -c 'echo ran >/out/$name; trap "exit 0" TERM; while :; do sleep 0.05; done'
StopTimeoutSec=5s

[Mounts]
Bind=$T/out:/out
EOF
}

# refused UNIT REASON: UNIT is bad, status and the log show REASON, and it
# never ran
refused() {
        local name=$1 reason=$2
        wait_state "$name" bad
        run ctl status "$name"
        [[ $output == *"untrusted: $reason"* ]] || {
                echo "status of $name does not say 'untrusted: $reason':" >&2
                echo "$output" >&2
                return 1
        }
        grep -qF -- "untrusted: $reason" "$T/d.err" || {
                echo "the log does not say 'untrusted: $reason'" >&2
                return 1
        }
        [[ ! -e $T/out/$name ]] || {
                echo "unit $name ran" >&2
                return 1
        }
}

@test "unit files another user owns or may write, and symlinks to them, are bad and never start" {
        marker good
        marker owner
        chown 65534 "$T/units/owner.unit"
        marker groupw
        chmod 0664 "$T/units/groupw.unit"
        marker worldw
        chmod 0666 "$T/units/worldw.unit"
        mkdir -m 0755 "$T/elsewhere"
        marker link "$T/elsewhere/theirs.unit"
        chown 65534 "$T/elsewhere/theirs.unit"
        ln -s "$T/elsewhere/theirs.unit" "$T/units/link.unit"
        marker dropin
        mkdir "$T/units/dropin.unit.d"
        printf '[Process]\nEnvironment=X=1\n' >"$T/units/dropin.unit.d/10-x.conf"
        chmod 0666 "$T/units/dropin.unit.d/10-x.conf"
        marker dropdir
        mkdir -m 0777 "$T/units/dropdir.unit.d"
        chmod 0777 "$T/units/dropdir.unit.d"

        sup_start
        wait_state good running
        wait_file "$T/out/good"
        refused owner "owned by uid 65534, not root"
        refused groupw "writable by group or others (mode 0664)"
        refused worldw "writable by group or others (mode 0666)"
        refused link "symlink target $T/elsewhere/theirs.unit is owned by uid 65534, not root"
        refused dropin "writable by group or others (mode 0666)"
        refused dropdir "writable by group or others (mode 0777)"
        run ctl status dropin
        expect_output_has "$T/units/dropin.unit.d/10-x.conf: untrusted"

        # a start asked for by root does not start them either
        run ctl start owner
        [[ $status -ne 0 ]]
        sleep 0.3
        [[ ! -e $T/out/owner ]]

        # root takes them over: a reload starts them
        chown 0 "$T/units/owner.unit" "$T/elsewhere/theirs.unit"
        chmod 0644 "$T/units/groupw.unit" "$T/units/dropin.unit.d/10-x.conf"
        chmod 0755 "$T/units/dropdir.unit.d"
        ctl reload
        wait_state owner running
        wait_state groupw running
        wait_state link running
        wait_state dropin running
        wait_state dropdir running
        expect_equal "worldw still refused" bad "$(prop worldw State)"
        wait_file "$T/out/owner"
}

@test "a group-writable unit directory makes its units bad; a sticky world-writable ancestor is fine" {
        mkdir -m 0775 "$T/shared"
        chmod 0775 "$T/shared"
        marker shared "$T/shared/shared.unit"
        # $T/sticky is like /tmp (which is above $T too): 1777, root's
        mkdir "$T/sticky"
        chmod 1777 "$T/sticky"
        mkdir -m 0755 "$T/sticky/units"
        marker sticky "$T/sticky/units/sticky.unit"
        marker good

        sup_start --unit-path="$T/units:$T/shared:$T/sticky/units"
        wait_state good running
        wait_state sticky running
        wait_file "$T/out/sticky"
        refused shared "directory $T/shared is writable by group or others (mode 0775)"
        grep -qF "$T/shared: untrusted: writable by group or others (mode 0775); every unit in it is refused" "$T/d.err"

        run "$CCSUPCTL" verify "$T/shared/shared.unit"
        expect_status 1
        expect_equal "verify says the same" \
                "$T/shared/shared.unit: untrusted: directory $T/shared is writable by group or others (mode 0775)" \
                "$output"

        chmod 0755 "$T/shared"
        ctl reload
        wait_state shared running
}

@test "a unit directory that is sticky and world-writable itself is refused" {
        mkdir "$T/open"
        chmod 1777 "$T/open"
        marker open "$T/open/open.unit"
        sup_start --unit-path="$T/units:$T/open"
        refused open "directory $T/open is writable by group or others (mode 1777)"
}

@test "verify reports the reasons ccsupd gives" {
        marker owner
        chown 65534 "$T/units/owner.unit"
        marker worldw
        chmod 0666 "$T/units/worldw.unit"
        marker good
        run "$CCSUPCTL" verify "$T/units/good.unit" "$T/units/owner.unit" "$T/units/worldw.unit"
        expect_status 1
        expect_equal "verify output" \
                "$T/units/owner.unit: untrusted: owned by uid 65534, not root|$T/units/worldw.unit: untrusted: writable by group or others (mode 0666)" \
                "$(tr '\n' '|' <<<"$output" | sed 's/|$//')"
}

@test "cat: root only (unit files may hold secrets); list stays open" {
        sleeper x
        sup_start
        wait_state x running
        run ctl cat x
        expect_status 0
        expect_output_has "# $T/units/x.unit"
        expect_output_has "StopTimeoutSec=5s"

        chmod 0666 "$T/run/control"
        chmod o+x "$T" "$T/run"
        run setpriv --reuid=65534 --regid=65534 --clear-groups "$CCSUPCTL" list
        expect_status 0
        expect_output_has "x "
        run setpriv --reuid=65534 --regid=65534 --clear-groups "$CCSUPCTL" cat x
        expect_status 5
        expect_equal "the error" \
                "ccsupctl: CatUnit: permission denied (Access denied: only root may read unit files)" \
                "$output"
        [[ $output != *"StopTimeoutSec"* ]]
        # whether the unit exists is not told either
        run setpriv --reuid=65534 --regid=65534 --clear-groups "$CCSUPCTL" cat nosuchunit
        expect_status 5
}

@test "files skipped for their name are logged, once" {
        sleeper good
        cp "$T/units/good.unit" "$T/units/-dash.unit"
        cp "$T/units/good.unit" "$T/units/good.unit.bak"
        mkdir "$T/units/bad name.unit.d"
        cp "$T/units/good.unit" "$T/units/.hidden.unit"
        sup_start --no-watch
        wait_state good running
        ctl reload
        ctl reload
        local log=$T/d.err
        expect_equal "logged once" 1 \
                "$(grep -cF -- "$T/units/-dash.unit: unit file skipped: invalid unit name \`-dash\`" "$log")"
        grep -qF -- "$T/units/bad name.unit.d: drop-in directory skipped: invalid unit name \`bad name\`" "$log"
        grep -qF -- "$T/units/good.unit.bak: skipped: not a unit file (NAME.unit) or drop-in directory (NAME.unit.d)" "$log"
        ! grep -q "hidden" "$log"
        run ctl list
        [[ $output != *dash* ]]

        # gone and back: logged again
        mv "$T/units/-dash.unit" "$T/-dash.unit"
        ctl reload
        mv "$T/-dash.unit" "$T/units/-dash.unit"
        ctl reload
        expect_equal "logged again" 2 "$(grep -cF -- "$T/units/-dash.unit: unit file skipped" "$log")"
}
