#!/usr/bin/env bats
# Bash completion of ccsupctl and ccsupd (contrib/bash-completion), run by
# bash-completion itself: commands, options, and unit names from the
# running ccsupd.

load sup-helpers

setup_file() { run_setup_file; }
setup() {
        sup_setup
        [[ -f /usr/share/bash-completion/bash_completion ]] ||
                skip "bash-completion is not installed (contrib/deps installs it)"
}
teardown() { sup_teardown; }

# complete_words FILE WORDS...: with contrib/bash-completion/FILE, what completing the last word (may be "") offers,
# sorted, one per line
complete_words() {
        local prog=$1
        shift
        # a shell as a user has it: none of bats' options (SHELLOPTS)
        env -u SHELLOPTS -u BASHOPTS bash --norc -c '
                set +euET
                source /usr/share/bash-completion/bash_completion
                source "$CCSUP_SRCDIR/contrib/bash-completion/$1"
                shift
                COMP_WORDS=("$@")
                COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
                COMP_LINE="$*"
                COMP_POINT=${#COMP_LINE}
                COMPREPLY=()
                compopt() { :; } # outside a real completion
                "_${COMP_WORDS[0]}" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" \
                        "${COMP_WORDS[COMP_CWORD - 1]}"
                printf "%s\n" "${COMPREPLY[@]}" | sort
        ' bash "$prog" "$@"
}

@test "completion: ccsupctl commands, options, and the running daemon's unit names" {
        export PATH=$CCSUP_BUILDDIR:$PATH
        sleeper alpha
        sleeper beta
        sup_start
        wait_state alpha running
        wait_state beta running

        run complete_words ccsupctl ccsupctl st
        [ "$output" = "$(printf '%s\n' start stats status stop)" ]
        run complete_words ccsupctl ccsupctl --no-l
        [ "$output" = --no-legend ]
        run complete_words ccsupctl ccsupctl restart ""
        [ "$output" = "$(printf '%s\n' alpha beta)" ]
        run complete_words ccsupctl ccsupctl stats --no-stream a
        [ "$output" = alpha ]
        run complete_words ccsupctl ccsupctl kill --signal ""
        [[ $output == *KILL* ]]
        # --socket on the command line is the daemon asked
        sock=$CCSUP_SOCKET
        unset CCSUP_SOCKET
        run complete_words ccsupctl ccsupctl --socket="$sock" edit b
        [ "$output" = beta ]
        # no daemon: no names, no error
        run complete_words ccsupctl ccsupctl --socket="$T/none" status ""
        [ "$status" -eq 0 ]
        [ -z "$output" ]
}

@test "completion: ccsupd options from its --help, and their values" {
        export PATH=$CCSUP_BUILDDIR:$PATH
        run complete_words ccsupd ccsupd --no
        [ "$output" = --no-watch ]
        run complete_words ccsupd ccsupd --log-level ""
        [ "$output" = "$(printf '%s\n' debug err info notice warning)" ]
        run complete_words ccsupd ccsupd --ru
        [ "$output" = "$(printf '%s\n' --run= --runtime-dir=)" ]
}
