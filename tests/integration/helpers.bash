# Shared helpers for the bats integration tests. In a .bats file:
#
#   load helpers
#
# Under `make check`, CCSUP_BUILDDIR and CCSUP_SRCDIR are set by the Makefile
# (AM_TESTS_ENVIRONMENT); run by hand (`bats tests/integration/x.bats`) they
# default to an in-tree build.

CCSUP_SRCDIR=${CCSUP_SRCDIR:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
CCSUP_BUILDDIR=${CCSUP_BUILDDIR:-$CCSUP_SRCDIR}
CCSUPD=$CCSUP_BUILDDIR/ccsupd
CCSUPCTL=$CCSUP_BUILDDIR/ccsupctl
CCSUP_EXAMPLES=$CCSUP_SRCDIR/units/examples

# Files and directories the tests write are 0644/0755 whatever umask the
# caller has (sudo keeps a user's 0002): ccsupd refuses unit files and unit
# directories that group or others may write.
umask 022

# A fresh temporary directory per test, in TEST_DIR. A .bats file that needs
# its own setup/teardown calls these from them.
ccsup_setup() {
        TEST_DIR=$(mktemp -d "${BATS_TMPDIR:-/tmp}/ccsup-test.XXXXXX")
}

ccsup_teardown() {
        if [[ -n ${TEST_DIR:-} && -d $TEST_DIR ]]; then
                rm -rf "$TEST_DIR"
        fi
}

setup() { ccsup_setup; }
teardown() { ccsup_teardown; }

# mkunit DIR NAME <<EOF ... EOF
# Writes standard input to DIR/NAME.unit (DIR is created). NAME may also be a
# relative file name with its own extension, e.g. "web.unit.d/10-x.conf".
mkunit() {
        local dir=$1 name=$2 file
        case $name in
        *.unit | *.conf) file=$dir/$name ;;
        *) file=$dir/$name.unit ;;
        esac
        mkdir -p "$(dirname "$file")"
        cat >"$file"
}

# A minimal valid unit body: a directory image and a command.
valid_unit_text() {
        printf '%s\n' \
                '[Image]' \
                'Image=/var/lib/ccsup/images/busybox-rootfs' \
                '' \
                '[Process]' \
                'Exec=/bin/sh -c "echo hello ; sleep 1"'
}

# assert_all_lines_prefixed PREFIX: every line of $output starts with PREFIX
# (a literal string).
assert_all_lines_prefixed() {
        local prefix=$1 l
        for l in "${lines[@]}"; do
                if [[ $l != "$prefix"* ]]; then
                        echo "line does not start with '$prefix': $l" >&2
                        return 1
                fi
        done
}

# assert_line_matching PREFIX WORD: some line of $output starts with PREFIX
# (literal) and contains WORD (literal, in any case).
assert_line_matching() {
        local prefix=$1 word=${2,,} l
        for l in "${lines[@]}"; do
                if [[ $l == "$prefix"* && ${l,,} == *"$word"* ]]; then
                        return 0
                fi
        done
        echo "no line starts with '$prefix' and contains '$word'; output was:" >&2
        printf '%s\n' "$output" >&2
        return 1
}

# assert_status N: the last `run` exited with N (prints the output otherwise).
assert_status() {
        if [[ $status -ne $1 ]]; then
                echo "exit status $status, expected $1; output was:" >&2
                printf '%s\n' "$output" >&2
                return 1
        fi
}

assert_no_output() {
        if [[ -n $output ]]; then
                echo "expected no output, got:" >&2
                printf '%s\n' "$output" >&2
                return 1
        fi
}
