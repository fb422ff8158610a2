#!/usr/bin/env bats
# UserNamespace= (UNITS.md "User namespaces"): the container's root is an
# unprivileged host user of a range of its own, the image enters idmapped,
# and root's capabilities inside are powerless over the host.
#
# The ranges come from a test file named by CCSUP_SUBUID/CCSUP_SUBGID, never
# from the host's /etc/subuid: ccsup owns 300000-562143 (four slots of 65536)
# and user alice holds the second slot.

load sup-helpers

setup_file() {
        run_setup_file
        is_root || return 0
        add_libsystemd_program "$IMAGE" "$CCSUP_SRCDIR/tests/helper/listen-server.c" listen-server
}
setup() {
        sup_setup
        # the container's root must reach ccsupd's runtime directory, as it
        # reaches /run/ccsup (ccsupd says so when it cannot)
        chmod 0711 "$T"
        printf 'ccsup:300000:262144\nalice:365536:65536\n' >"$T/subuid"
        cp "$T/subuid" "$T/subgid"
        export CCSUP_SUBUID=$T/subuid CCSUP_SUBGID=$T/subgid
        mkdir -p "$T/bind"
        chmod 0777 "$T/bind"
        echo host >"$T/bind/rootfile"
        chmod 0644 "$T/bind/rootfile"
        SEC=()
        MNT=()
}
teardown() { sup_teardown; }

# ns_unit NAME [PROCESS LINES...]: a sleeper with UserNamespace=auto, the
# lines of the arrays SEC in [Security] (after it) and MNT in [Mounts], and
# the test's bind directory at /bind. SEC and MNT are emptied after use.
ns_unit() {
        local name=$1
        shift
        sleeper "$name" "$@" '[Security]' 'UserNamespace=auto' "${SEC[@]}" '[Mounts]' "Bind=$T/bind:/bind" "${MNT[@]}"
        SEC=()
        MNT=()
}

status_id() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

start_error() { ctl status "$1" | sed -n 's/^Start error: //p'; }

@test "userns: container root is the range's first host ID; ranges are stable and never overlap a user's" {
        ns_unit a
        ns_unit b
        sup_start
        wait_state a running
        wait_state b running
        local pa pb
        pa=$(prop a MainPID)
        pb=$(prop b MainPID)
        expect_equal "a's uid on the host" 300000 "$(status_id "$pa" Uid)"
        expect_equal "a's gid on the host" 300000 "$(status_id "$pa" Gid)"
        expect_equal "UIDRange of a" 300000:65536 "$(prop a UIDRange)"
        # the second slot is alice's: b gets the third
        expect_equal "UIDRange of b" 431072:65536 "$(prop b UIDRange)"
        expect_equal "b's uid on the host" 431072 "$(status_id "$pb" Uid)"
        expect_equal "uid inside" 0 "$(ctl exec a id -u)"
        expect_equal "map" "0 300000 65536" "$(ctl exec a cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
        # the image is shown as the container root's, and was never chowned
        expect_equal "owner of /bin inside" 0 "$(ctl exec a stat -c %u /bin)"
        expect_equal "owner of the image on the host" 0 "$(stat -c %u "$IMAGE/bin")"
        # the same range at every start, also after a ccsupd restart
        ctl restart a
        expect_equal "after restart" 300000 "$(status_id "$(prop a MainPID)" Uid)"
        sup_stop
        sup_start
        wait_state b running
        expect_equal "b after a new ccsupd" 431072:65536 "$(prop b UIDRange)"
        [[ $(<"$T/state/userns/b") == "431072 65536" ]]
        # a unit without a user namespace has none
        sleeper plain
        ctl reload >/dev/null
        wait_state plain running
        expect_equal "UIDRange of plain" "" "$(prop plain UIDRange)"
        expect_equal "plain's uid" 0 "$(status_id "$(prop plain MainPID)" Uid)"
}

@test "userns: binds: written files belong to the range, host root's are nobody, :idmap maps them" {
        mkdir -p "$T/idm"
        echo mine >"$T/idm/rootfile"
        MNT=("Bind=$T/idm:/idm:idmap" "Volume=vol:/vol")
        ns_unit a
        sup_start
        wait_state a running
        ctl exec a sh -c 'echo x >/bind/new && echo y >/idm/new && echo z >/vol/new'
        expect_equal "owner of a file written to a plain bind" 300000 "$(stat -c %u "$T/bind/new")"
        expect_equal "host root's file in a plain bind, inside" 65534 "$(ctl exec a stat -c %u /bind/rootfile)"
        expect_equal "host root's file in an idmapped bind, inside" 0 "$(ctl exec a stat -c %u /idm/rootfile)"
        expect_equal "written through the idmapped bind, on the host" 0 "$(stat -c %u "$T/idm/new")"
        expect_equal "a volume's file on the host" 0 "$(stat -c %u "$T/state/volumes/vol/new")"
        expect_equal "writable layer and tmpfs belong to root inside" "0 0" \
                "$(ctl exec a sh -c 'touch /etc/w /tmp/w && stat -c %u /etc/w /tmp/w' | tr '\n' ' ' | sed 's/ $//')"
}

@test "userns: CAP_SYS_ADMIN from AddCapabilities= is powerless over the host" {
        SEC=(AddCapabilities=CAP_SYS_ADMIN AddCapabilities=CAP_MKNOD)
        ns_unit a
        sup_start
        wait_state a running
        run ctl exec a sh -c 'echo pwned >>/bind/rootfile'
        [[ $status -ne 0 ]]
        expect_equal "host file" host "$(<"$T/bind/rootfile")"
        run ctl exec a chown 0 /bind/rootfile
        [[ $status -ne 0 ]]
        expect_equal "owner" 0 "$(stat -c %u "$T/bind/rootfile")"
        # no device of the host: a block device node cannot be made
        run ctl exec a mknod /tmp/disk b 8 0
        [[ $status -ne 0 ]]
        # no host mount: the bind cannot be remounted read-write, sysfs not written
        run ctl exec a sh -c 'echo 1 >/proc/sys/kernel/sysrq'
        [[ $status -ne 0 ]]
        # its own mount namespace is its own to change
        ctl exec a mount -t tmpfs none /mnt
}

@test "userns: Init=yes and User= work inside" {
        ns_unit a Init=yes User=1000:1000
        sup_start
        wait_state a running
        local init=$(prop a MainPID) child
        [[ $(cat "/proc/$init/cmdline" | tr '\0' ' ') == *ccsup-init* ]] || [[ $(<"/proc/$init/comm") == *init* ]]
        child=$(cat "/proc/$init/task/$init/children" | awk '{ print $1 }')
        [[ -n $child ]]
        expect_equal "User=1000 on the host" 301000 "$(status_id "$child" Uid)"
        # the init runs as the user too, as it does without a user namespace
        expect_equal "init on the host" 301000 "$(status_id "$init" Uid)"
        expect_equal "id inside" "1000" "$(ctl exec a sh -c 'id -u' 2>/dev/null || true)"
}

@test "userns: bad ranges and filesystems that cannot idmap are start errors naming the reason" {
        ns_unit a '[Restart]' 'Policy=no'
        SEC=('UserNamespace=100000:65536')
        ns_unit outside '[Restart]' 'Policy=no'
        SEC=('UserNamespace=300000:1000')
        ns_unit overlap '[Restart]' 'Policy=no'
        SEC=('UserNamespace=400000:1000')
        ns_unit alice '[Restart]' 'Policy=no'
        MNT=("Bind=/proc/driver:/x:idmap")
        ns_unit proc '[Restart]' 'Policy=no'
        sup_start
        wait_state a running
        wait_state outside failed
        wait_state alice failed
        wait_state proc failed
        expect_equal "outside" "user namespace range 100000:65536 lies outside the \`ccsup\` entries of $T/subuid" \
                "$(start_error outside)"
        expect_equal "alice" "user namespace range 400000:1000 overlaps user alice's 365536:65536 in $T/subuid" \
                "$(start_error alice)"
        [[ $(start_error proc) == "idmapped mount of \`/proc/driver\`: its filesystem "*"cannot be idmapped"* ]]
        # overlap is judged against a's record, whichever started first
        ctl start overlap || true
        wait_state overlap failed
        expect_equal "overlap" "user namespace range 300000:1000 overlaps unit a's 300000:65536" "$(start_error overlap)"
        # the daemon and the good container keep running
        expect_equal "a" running "$(prop a State)"
}

@test "userns: without a ccsup entry, the default range from 524288" {
        printf 'alice:524288:65536\n' >"$T/subuid"
        : >"$T/subgid"
        ns_unit a
        sup_start
        wait_state a running
        expect_equal "UIDRange" 589824:65536 "$(prop a UIDRange)"
}

@test "verify: UserNamespace= and :idmap values" {
        sleeper good '[Security]' 'UserNamespace=700000:65536' '[Mounts]' "Bind=$T/bind:/b:ro,idmap"
        run "$CCSUPCTL" verify "$T/units/good.unit"
        expect_status 0
        sleeper bad '[Security]' 'UserNamespace=lots'
        run "$CCSUPCTL" verify "$T/units/bad.unit"
        expect_status 1
        expect_output_has "UserNamespace=: invalid user namespace \`lots\` (expected no, auto or HOSTUID:COUNT)"
        sleeper noidmap '[Mounts]' "Bind=$T/bind:/b:idmap"
        run "$CCSUPCTL" verify "$T/units/noidmap.unit"
        expect_status 1
        expect_output_has "idmap needs UserNamespace="
}

@test "userns: an image with IDs beyond the range is a start error naming the file" {
        cp -a "$IMAGE" "$T/img70k"
        chown 70000 "$T/img70k/etc/passwd"
        unit big <<EOF
[Image]
Image=$T/img70k

[Process]
Exec=/bin/true

[Restart]
Policy=no

[Security]
UserNamespace=auto
EOF
        sup_start
        wait_state big failed
        expect_equal "start error" "user namespace: the image has files owned by ID 70000 ($T/img70k/etc/passwd), beyond the 65536 IDs of the range" \
                "$(start_error big)"
        # the image was not changed
        expect_equal "owner" 70000 "$(stat -c %u "$T/img70k/etc/passwd")"
}

@test "userns: a killed ccsupd re-adopts the container, with its range, and exec still joins" {
        ns_unit a
        sup_start
        wait_state a running
        local pid
        pid=$(prop a MainPID)
        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        rm -f "$T/run/control"
        sup_start
        wait_state a running
        expect_equal "PID" "$pid" "$(prop a MainPID)"
        grep -q "re-adopted PID $pid" "$T/d.err"
        expect_equal "UIDRange" 300000:65536 "$(prop a UIDRange)"
        expect_equal "uid inside" 0 "$(ctl exec a id -u)"
        ctl exec a touch /bind/after
        expect_equal "owner" 300000 "$(stat -c %u "$T/bind/after")"
        ctl stop a
        expect_equal "state" inactive "$(prop a State)"
        ! kill -0 "$pid" 2>/dev/null
}

@test "userns: a Persistent=yes layer belongs to the container's root and keeps its files" {
        ns_unit a '[Image]' 'Persistent=yes'
        sup_start
        wait_state a running
        ctl exec a sh -c 'echo kept >/etc/kept && mkdir /data && chown 1000 /data'
        expect_equal "upper on the host" 300000 "$(stat -c %u "$T/state/persistent/a/upper")"
        expect_equal "a file of root's on the host" 300000 "$(stat -c %u "$T/state/persistent/a/upper/etc/kept")"
        expect_equal "a file of 1000's on the host" 301000 "$(stat -c %u "$T/state/persistent/a/upper/data")"
        ctl restart a
        expect_equal "kept" kept "$(ctl exec a cat /etc/kept)"
        expect_equal "owner inside" 0 "$(ctl exec a stat -c %u /etc/kept)"
}

@test "userns: a Devices= node opens as for host root (its copy is the range's), the allowlist still decides" {
        # /dev/loop-control: 0660 root:disk on the host, so it would not open
        # with the permissions of others; opening it has no effect
        local mode group
        mode=$(stat -c %a /dev/loop-control)
        group=$(stat -c %g /dev/loop-control)
        SEC=("Devices=/dev/loop-control:rw")
        ns_unit lc
        SEC=("Devices=/dev/loop-control:/dev/lc-ro:r" "AddCapabilities=MKNOD")
        ns_unit ro
        sup_start
        wait_state lc running
        wait_state ro running
        # owned by the container's root and the host group's ID, with the host's mode
        expect_equal "owner inside" "0:$group $mode" "$(ctl exec lc stat -c '%u:%g %a' /dev/loop-control)"
        run ctl exec lc "$H" open-rw /dev/loop-control
        expect_line "open-r /dev/loop-control: ok"
        expect_line "open-w /dev/loop-control: ok"
        # on the host, the copy is the range's first ID; the host's node is untouched
        local pid
        pid=$(prop lc MainPID)
        expect_equal "owner on the host" "300000 $((300000 + group))" \
                "$(stat -c '%u %g' "/proc/$pid/root/dev/loop-control")"
        expect_equal "the host's node" "0 $group $mode" "$(stat -c '%u %g %a' /dev/loop-control)"
        # :r is the allowlist's: the write is refused however the node is owned
        run ctl exec ro "$H" open-rw /dev/lc-ro
        expect_line "open-r /dev/lc-ro: ok"
        expect_line "open-w /dev/lc-ro: EPERM (Operation not permitted)"
        # and no node can be made, CAP_MKNOD or not
        run ctl exec ro mknod /tmp/null2 c 1 3
        [[ $status -ne 0 ]]
        [[ ! -e /proc/$(prop ro MainPID)/root/tmp/null2 ]]
}

@test "userns: Devices= naming a file that is not a node is a start error" {
        SEC=("Devices=$T/bind/plain:/dev/plain:rw")
        ns_unit notnode '[Restart]' 'Policy=no'
        touch "$T/bind/plain"
        sup_start
        wait_state notnode failed
        expect_equal "start error" "device \`$T/bind/plain\`: not a device node" "$(start_error notnode)"
}

# ns_owner PID: the inode of the user namespace that owns PID's network
# namespace (ioctl NS_GET_USERNS), then that of PID's own user namespace
ns_owner() {
        python3 -c '
import fcntl, os, sys
pid = sys.argv[1]
fd = os.open("/proc/%s/ns/net" % pid, os.O_RDONLY)
owner = fcntl.ioctl(fd, 0xb701)  # NS_GET_USERNS
print(os.fstat(owner).st_ino, os.stat("/proc/%s/ns/user" % pid).st_ino)' "$1"
}

# request HOST PORT: one line to a TCP server, from ccsupd's network namespace
request() {
        nsenter -t "$NET_PID" -n -- sh -c 'echo hi | busybox nc -w 2 "$0" "$1"' "$@"
}

@test "userns: Mode=bridge: the network namespace is the container's own, wired by ccsupd; re-adopted after kill -9" {
        own_netns
        printf '#!/bin/sh\nread line\necho "web $line $(id -u)"\n' >"$T/bind/reply"
        chmod 0755 "$T/bind/reply"
        unit web <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/bin/sh -c 'nc -ll -p 80 -e /bind/reply & trap "exit 0" TERM; while :; do sleep 0.05; done'
StopTimeoutSec=5s

[Security]
UserNamespace=auto

[Mounts]
Bind=$T/bind:/bind

[Network]
Mode=bridge
PublishPort=8080:80
EOF
        sup_start
        wait_state web running
        local pid addr owner
        pid=$(prop web MainPID)
        expect_equal "uid on the host" 300000 "$(status_id "$pid" Uid)"
        # owned by the container's user namespace: its root may bind port 80
        owner=$(ns_owner "$pid")
        expect_equal "owner of the netns" "${owner#* }" "${owner% *}"
        addr=$(prop web IPAddress)
        [[ -n $addr ]]
        expect_equal "eth0 inside" "$addr" "$(ctl exec web ip -o -4 addr show dev eth0 | awk '{ print $4 }' | cut -d/ -f1)"
        wait_until 5 sh -c 'echo hi | nsenter -t "$0" -n -- busybox nc -w 2 "$1" 80 | grep -q .' "$NET_PID" "$addr"
        expect_equal "from ccsupd's namespace" "web hi 0" "$(request "$addr" 80)"
        expect_equal "published port" "web hi 0" "$(request 127.0.0.1 8080)"
        # a restart keeps its address
        ctl restart web
        wait_state web running
        [[ $(prop web MainPID) != "$pid" ]]
        expect_equal "address after restart" "$addr" "$(prop web IPAddress)"
        wait_until 5 sh -c 'echo hi | nsenter -t "$0" -n -- busybox nc -w 2 "$1" 80 | grep -q .' "$NET_PID" "$addr"
        # kill -9 of ccsupd: re-adopted with its veth, no second one
        pid=$(prop web MainPID)
        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        rm -f "$T/run/control"
        sup_start
        wait_state web running
        expect_equal "PID" "$pid" "$(prop web MainPID)"
        grep -q "re-adopted PID $pid" "$T/d.err"
        expect_equal "veths" 1 "$(nsenter -t "$NET_PID" -n ip -o link show type veth | wc -l)"
        expect_equal "after re-adoption" "web hi 0" "$(request 127.0.0.1 8080)"
        expect_equal "exec joins" "0 300000 65536" "$(ctl exec web cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
        sup_stop
        expect_equal "veths at the end" 0 "$(nsenter -t "$NET_PID" -n ip -o link show type veth | wc -l)"
}

@test "userns: [Socket]: the listening sockets reach the container's root, connections are served across restarts" {
        own_netns
        unit web <<EOF
[Image]
Image=$IMAGE

[Process]
Exec=/usr/local/bin/listen-server
StopTimeoutSec=5s

[Security]
UserNamespace=auto

[Socket]
ListenStream=127.0.0.1:8080
ListenStream=$T/web.sock
FileDescriptorName=http
EOF
        sup_start
        wait_state web running 10
        expect_equal "uid on the host" 300000 "$(status_id "$(prop web MainPID)" Uid)"
        run socket_client stream 127.0.0.1:8080
        echo "$output"
        [[ $status -eq 0 ]]
        # LISTEN_PID matched PID 1 of the container, or there would be no answer
        [[ $output =~ ^http\ PID=1\ FDS=2\ INODE=[0-9]+$ ]]
        local inode=${output##*INODE=}
        run socket_client stream "$T/web.sock"
        [[ $status -eq 0 && $output == "http PID=1 FDS=2 "* ]]
        # the same socket after a restart and after ccsupd's re-adoption
        ctl restart web
        run socket_client stream 127.0.0.1:8080
        [[ $status -eq 0 && ${output##*INODE=} == "$inode" ]]
        kill -KILL "$SUP_PID"
        wait "$SUP_PID" 2>/dev/null || true
        rm -f "$T/run/control"
        sup_start
        wait_state web running 10
        grep -q 're-adopted' "$T/d.err"
        ctl restart web
        run socket_client stream 127.0.0.1:8080
        [[ $status -eq 0 && ${output##*INODE=} == "$inode" ]]
        expect_equal "uid after restart" 300000 "$(status_id "$(prop web MainPID)" Uid)"
}

socket_client() {
        nsenter -t "$NET_PID" -n python3 "$CCSUP_SRCDIR/tests/integration/socket-client.py" "$@"
}

@test "userns: the trees' mount points are reused by the next start, remade when a bind changes kind, removed with the unit" {
        ns_unit a
        sup_start
        wait_state a running
        [[ -d $T/run/containers/a.trees/1 ]]
        ctl restart a
        wait_state a running
        # the directory bound at /bind becomes a file: the kept mount point is made again
        echo filebind >"$T/file"
        chmod 0644 "$T/file"
        sed -i "s|^Bind=$T/bind:/bind|Bind=$T/file:/bind|" "$T/units/a.unit"
        ctl reload >/dev/null
        ctl restart a
        wait_state a running
        expect_equal "the file bound" filebind "$(ctl exec a cat /bind)"
        [[ -f $T/run/containers/a.trees/1 ]]
        rm "$T/units/a.unit"
        ctl reload >/dev/null
        wait_until 10 sh -c '! [ -e "$0" ]' "$T/run/containers/a.trees"
}

@test "userns: Mode=container:NAME is a start error saying why; NAME keeps running" {
        sleeper web
        ns_unit side '[Restart]' 'Policy=no' '[Network]' 'Mode=container:web'
        sup_start
        wait_state web running
        wait_state side failed
        expect_equal "start error" "network mode \`container:web\` cannot be combined with UserNamespace=: that network namespace belongs to another user namespace" \
                "$(start_error side)"
        expect_equal "web" running "$(prop web State)"
}
