# Shared helpers of the supervisor daemon tests (tests/integration/sup-*.bats),
# on top of run-helpers.bash (T, CG, TAG, IMAGE, `unit`, cleanup by PID,
# cgroup and mount in teardown).
#
#   sup_start [CCSUPD OPTIONS]   ccsupd in the background on $T/units; waits
#                                for its control socket; sets SUP_PID and
#                                CCSUP_SOCKET. With SUP_WRAP=(CMD ARGS...),
#                                `CMD ARGS... ccsupd ...`: CMD must exec
#                                ccsupd (SUP_PID is CMD's PID), as nsenter
#                                does; with SUP_LOG_STDERR=0, ccsupd logs to
#                                the journal (no CCSUP_LOG_STDERR=1)
#   ctl ARGS                     ccsupctl (bats `run ctl ...` to check output)
#   wait_state UNIT STATE [SECS] until `ccsupctl show UNIT` says State=STATE
#   wait_until SECS CMD...       until CMD succeeds, SECS at most (never fails)
#   prop UNIT KEY                one `show` value
#   sup_stop                     SIGTERM, waits; sets $status to ccsupd's exit
#   sleeper NAME [LINES...]      a unit that runs until stopped (SIGTERM ends it)
#   add_with_libs ROOT BINARY    BINARY and the shared libraries ldd names, into
#                                the image directory ROOT at the same paths
#   add_libsystemd_program ROOT SRC NAME
#                                SRC (C, against libsystemd) built and put with
#                                its libraries in ROOT as /usr/local/bin/NAME
#   own_netns                    a network namespace of the test's (lo up),
#                                held by a sleeping process NET_PID; ccsupd
#                                runs in it (SUP_WRAP)
#   fake_fd_store CCSUPD ARGS... a fake systemd fd store (below); wait_store

load run-helpers

CCSUPCTL=${CCSUPCTL:-$CCSUP_BUILDDIR/ccsupctl}

sup_setup() {
        run_setup
        mkdir -p "$T/out"
        # a user namespace's root is an unprivileged host user: let it write
        [[ ${CCSUP_TEST_USERNS:-} != 1 ]] || chmod 0777 "$T/out"
        SUP_PID=
}

sup_teardown() {
        if [[ -n ${SUP_PID:-} ]] && kill -0 "$SUP_PID" 2>/dev/null; then
                kill -TERM "$SUP_PID" 2>/dev/null || true
                local i
                for ((i = 0; i < 300; i++)); do
                        kill -0 "$SUP_PID" 2>/dev/null || break
                        sleep 0.05
                done
        fi
        if [[ -n ${T:-} && -f $T/d.err ]]; then
                echo "--- ccsupd stderr (last 40 lines):"
                tail -n 40 "$T/d.err"
        fi
        run_teardown
}

sup_start() {
        local logenv=(CCSUP_LOG_STDERR=1)
        [[ ${SUP_LOG_STDERR:-1} != 0 ]] || logenv=()
        # shellcheck disable=SC2046
        env --default-signal=INT,QUIT "${logenv[@]}" "${SUP_WRAP[@]}" "$CCSUPD" $(ccsupd_args) \
                --log-level=debug "$@" </dev/null >"$T/d.out" 2>"$T/d.err" &
        SUP_PID=$!
        echo "$SUP_PID" >>"$T/bg-pids"
        export CCSUP_SOCKET=$T/run/control
        local i
        for ((i = 0; i < 200; i++)); do
                [[ -S $CCSUP_SOCKET ]] && return 0
                kill -0 "$SUP_PID" 2>/dev/null || break
                sleep 0.025
        done
        echo "ccsupd did not create its control socket" >&2
        cat "$T/d.err" >&2
        return 1
}

ctl() {
        "$CCSUPCTL" "$@"
}

prop() {
        "$CCSUPCTL" show "$1" | sed -n "s/^$2=//p"
}

wait_state() {
        local unit=$1 want=$2 secs=${3:-10} i s
        for ((i = 0; i < secs * 20; i++)); do
                s=$(prop "$unit" State 2>/dev/null)
                [[ $s == "$want" ]] && return 0
                if [[ -n ${SUP_PID:-} ]] && ! kill -0 "$SUP_PID" 2>/dev/null; then
                        echo "ccsupd (PID $SUP_PID) is gone" >&2
                        return 1
                fi
                sleep 0.05
        done
        echo "unit $unit: state '$s' after ${secs}s, expected '$want'" >&2
        "$CCSUPCTL" status "$unit" >&2 || true
        return 1
}

# wait_file FILE [SECS] [LINES]: until FILE has at least LINES lines (default 1)
wait_file() {
        local f=$1 secs=${2:-10} n=${3:-1} i
        for ((i = 0; i < secs * 20; i++)); do
                [[ -f $f && $(wc -l <"$f") -ge $n ]] && return 0
                sleep 0.05
        done
        echo "timed out waiting for $n line(s) in $f" >&2
        return 1
}

# wait_until SECS CMD...: until CMD succeeds (its stderr discarded), every
# 0.05 s, SECS at most; never fails itself: the checks after it tell
wait_until() {
        local secs=$1 i
        shift
        for ((i = 0; i < secs * 20; i++)); do
                "$@" 2>/dev/null && break
                sleep 0.05
        done
        return 0
}

# ended PID [SECS]: true once PID has ended, within SECS (default 5). A
# zombie has ended: a container orphaned by a killed ccsupd is reaped by the
# host's init, which on these VMs sweeps for orphans only every ~2 s.
ended() {
        local pid=$1 secs=${2:-5} i
        for ((i = 0; i < secs * 20; i++)); do
                [[ ! -e /proc/$pid ]] && return 0
                [[ $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) == Z ]] && return 0
                sleep 0.05
        done
        echo "PID $pid still runs after ${secs}s" >&2
        return 1
}

sup_stop() {
        kill -TERM "$SUP_PID"
        local i
        for ((i = 0; i < 600; i++)); do
                kill -0 "$SUP_PID" 2>/dev/null || break
                sleep 0.05
        done
        status=0
        wait "$SUP_PID" || status=$?
        SUP_PID=
}

sleeper() {
        local name=$1
        shift
        unit "$name" <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'trap "exit 0" TERM; while :; do sleep 0.05; done'
StopTimeoutSec=5s
$(printf '%s\n' "$@")
EOF
}

add_with_libs() {
        local root=$1 bin=$2 lib
        install -D -m 0755 "$bin" "$root$bin"
        for lib in $(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u); do
                mkdir -p "$root$(dirname "$lib")"
                cp -L "$lib" "$root$lib"
        done
}

# A fake service manager for the fd store: NOTIFY_SOCKET at $T/notify.sock;
# it keeps the fds of FDSTORE=1 datagrams by FDNAME= (FDSTOREREMOVE=1 drops
# them) and writes the store as "NAME PID" lines to $T/store.now after each
# datagram (PID from the pidfd's fdinfo). Once $T/restart exists, it starts
# a ccsupd (ARGS) itself as systemd would (if $T/inject holds "NAME PID",
# the fd stored as NAME is replaced by a pidfd of PID first): the stored fds from 3 on,
# LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES; that ccsupd's PID goes to $T/sup2.pid.
fake_fd_store() {
        python3 - "$T" "$@" <<'EOF' &
import os, select, socket, sys
T, argv = sys.argv[1], sys.argv[2:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(T + "/notify.sock")
store = []  # (name, fd)

def fd_pid(fd):
    for line in open("/proc/self/fdinfo/%d" % fd):
        if line.startswith("Pid:"):
            return line.split()[1]
    return "?"

def dump():
    with open(T + "/store.now.tmp", "w") as f:
        for name, fd in store:
            f.write("%s %s\n" % (name, fd_pid(fd)))
    os.rename(T + "/store.now.tmp", T + "/store.now")

def start_ccsupd():
    global store
    if os.path.exists(T + "/inject"):  # "NAME PID": that name's fd replaced
        name, pid = open(T + "/inject").read().split()
        store = [(n, os.pidfd_open(int(pid)) if n == name else fd) for n, fd in store]
    pid = os.fork()
    if pid == 0:
        high = [os.dup(fd) for _, fd in store]
        for i, fd in enumerate(high):
            os.dup2(fd, 3 + i)
        os.closerange(3 + len(high), 65536)
        env = dict(os.environ, NOTIFY_SOCKET=T + "/notify.sock", CCSUP_LOG_STDERR="1",
                   LISTEN_FDS=str(len(store)), LISTEN_PID=str(os.getpid()),
                   LISTEN_FDNAMES=":".join(n for n, _ in store))
        err = os.open(T + "/d.err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(err, 2)
        os.dup2(err, 1)
        nul = os.open("/dev/null", os.O_RDONLY)
        os.dup2(nul, 0)
        os.execve(argv[0], argv, env)
    with open(T + "/sup2.pid.tmp", "w") as f:
        f.write("%d\n" % pid)
    os.rename(T + "/sup2.pid.tmp", T + "/sup2.pid")

restarted = False
while True:
    if not restarted and os.path.exists(T + "/restart"):
        restarted = True
        start_ccsupd()
    try:  # reap that ccsupd once it exits: no zombie for the teardown to wait on
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        pass
    if not select.select([s], [], [], 0.05)[0]:
        continue
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
    fds = []
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds += list(memoryview(data).cast("i")[: len(data) // 4])
    kv = dict(l.split("=", 1) for l in msg.decode().split("\n") if "=" in l)
    name = kv.get("FDNAME", "stored")
    if kv.get("FDSTORE") == "1":
        store += [(name, fd) for fd in fds]
        fds = []
    elif kv.get("FDSTOREREMOVE") == "1":
        for n, fd in store:
            if n == name:
                os.close(fd)
        store = [(n, fd) for n, fd in store if n != name]
    for fd in fds:
        os.close(fd)
    dump()
EOF
        echo $! >>"$T/bg-pids"
        local i
        for ((i = 0; i < 100; i++)); do
                [[ -S $T/notify.sock ]] && return 0
                sleep 0.02
        done
        return 1
}

# wait_store LINES...: until $T/store.now holds exactly these lines (sorted)
wait_store() {
        local want i
        want=$(printf '%s\n' "$@" | sort)
        for ((i = 0; i < 200; i++)); do
                [[ -f $T/store.now && $(sort "$T/store.now") == "$want" ]] && return 0
                sleep 0.05
        done
        echo "fd store: expected:" >&2
        echo "$want" >&2
        echo "got:" >&2
        cat "$T/store.now" >&2 || true
        return 1
}

add_libsystemd_program() {
        local root=$1 src=$2 name=$3 bin=$BATS_FILE_TMPDIR/$3
        # shellcheck disable=SC2046
        gcc -O2 -o "$bin" "$src" $(pkg-config --cflags --libs libsystemd) || return 1
        add_with_libs "$root" "$bin"
        mkdir -p "$root/usr/local/bin"
        mv "$root$bin" "$root/usr/local/bin/$name"
}

own_netns() {
        unshare -n -- sh -c 'ip link set lo up && exec sleep 3600' &
        NET_PID=$!
        echo "$NET_PID" >>"$T/bg-pids"
        # lo is up once sh has exec'd sleep
        wait_until 5 sh -c '[ "$(cat /proc/$0/comm)" = sleep ]' "$NET_PID"
        SUP_WRAP=(nsenter -t "$NET_PID" -n --)
}
