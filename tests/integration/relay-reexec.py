#!/usr/bin/env python3
# relay-reexec.py MODE ...: TCP connections through ccsupd's [::1] relay of
# a published port while ccsupd re-executes, stops the unit or is killed
# (sup-bridge.bats). ECHO is a port published to `nc -ll -e /bin/cat`, HALF
# one published to `ccsup-testhelper tcp-half-close` writing into OUT.
#
#   keep CCSUPCTL ECHO HALF OUT  four connections across a daemon-reexec:
#                                idle, data in flight, each side half-closed
#   stop CCSUPCTL ECHO UNIT      one across a daemon-reexec, then ctl stop UNIT
#   udp CCSUPCTL PORT INNER      one UDP client across a daemon-reexec: its
#                                flow's socket towards INNER is the same after
#   kill ECHO PID                one, then kill -9 PID (ccsupd)
# Prints one line per check ("NAME same" when every byte came back in order);
# exits 1 at the first failure.
import os
import socket
import subprocess
import sys
import threading
import time


def conn(port):
    return socket.create_connection(("::1", port), timeout=20)


def recv_exact(s, n):
    b = bytearray()
    while len(b) < n:
        x = s.recv(min(65536, n - len(b)))
        if not x:
            break
        b.extend(x)
    return bytes(b)


def recv_eof(s):
    b = bytearray()
    while True:
        x = s.recv(65536)
        if not x:
            return bytes(b)
        b.extend(x)


def check(name, ok, detail=""):
    print("%s %s" % (name, "same" if ok else "differ " + detail), flush=True)
    if not ok:
        sys.exit(1)


def reexec(ctl):
    r = subprocess.run([ctl, "daemon-reexec"])
    if r.returncode != 0:
        print("daemon-reexec exit %d" % r.returncode, flush=True)
        sys.exit(1)


def mode_keep(ctl, echo, half, out):
    # idle: a round trip, nothing pending at the exec
    a = conn(echo)
    p1 = os.urandom(64 << 10)
    a.sendall(p1)
    check("idle-before", recv_exact(a, len(p1)) == p1)
    # the server half-closed before the exec, the client still sends after
    h = conn(half)
    check("server-half-close-before", recv_eof(h) == b"hello\n")
    # the client half-closed before the exec, the echo comes back after
    c = conn(echo)
    p2 = os.urandom(256 << 10)
    c.sendall(p2)
    c.shutdown(socket.SHUT_WR)
    # in flight: 4 MB sent while the exec happens, nothing read until after
    # (every buffer on the way full, the relay's too)
    b = conn(echo)
    big = os.urandom(4 << 20)
    sender = threading.Thread(target=b.sendall, args=(big,))
    sender.start()
    reexec(ctl)
    got = bytearray()

    def rx():
        got.extend(recv_exact(b, len(big)))

    reader = threading.Thread(target=rx)
    reader.start()
    sender.join(30)
    reader.join(30)
    check("in-flight", bytes(got) == big, "%d of %d" % (len(got), len(big)))
    b.shutdown(socket.SHUT_WR)
    check("in-flight-eof", recv_eof(b) == b"")
    e = recv_eof(c)
    check("client-half-close", e == p2, "%d of %d" % (len(e), len(p2)))
    p3 = os.urandom(200 << 10)
    a.sendall(p3)
    check("idle-after", recv_exact(a, len(p3)) == p3)
    a.shutdown(socket.SHUT_WR)
    check("idle-eof", recv_eof(a) == b"")
    p4 = os.urandom(300 << 10)
    h.sendall(p4)
    h.close()
    # a file per connection: the test's probes of the port made some too
    got = None
    for _ in range(200):
        for name in sorted(os.listdir(out)):
            path = os.path.join(out, name)
            if name.startswith("half-close.") and not name.endswith(".part") and os.path.getsize(path) > 0:
                with open(path, "rb") as f:
                    got = f.read()
        if got is not None:
            break
        time.sleep(0.05)
    check("server-half-close-after", got == p4, "%s" % (None if got is None else len(got)))


def mode_stop(ctl, echo, unit):
    a = conn(echo)
    a.sendall(b"before\n")
    check("stop-before", recv_exact(a, 7) == b"before\n")
    reexec(ctl)
    a.sendall(b"after\n")
    check("stop-after", recv_exact(a, 6) == b"after\n")
    subprocess.run([ctl, "stop", unit], check=True)
    try:
        left = recv_eof(a)
        print("closed" if left == b"" else "data %r" % left, flush=True)
    except ConnectionResetError:
        print("reset", flush=True)


def upstream(port):
    """The local ports of the sockets ccsupd keeps towards the container's port."""
    r = subprocess.run(["ss", "-Hunap"], capture_output=True, text=True, check=True)
    return sorted(line.split()[3].rsplit(":", 1)[1] for line in r.stdout.splitlines()
                  if line.split()[4].endswith(":%d" % port) and "ccsupd" in line)


def mode_udp(ctl, port, inner):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.connect(("::1", port))
    s.send(b"one\n")
    print(s.recv(512).decode().strip(), flush=True)
    before = upstream(inner)
    print("flows %d" % len(before), flush=True)
    reexec(ctl)
    s.send(b"two\n")
    print(s.recv(512).decode().strip(), flush=True)
    after = upstream(inner)
    print("upstream %s" % ("kept" if before == after else "%s then %s" % (before, after)), flush=True)


def mode_kill(echo, pid):
    a = conn(echo)
    a.sendall(b"before\n")
    check("kill-before", recv_exact(a, 7) == b"before\n")
    os.kill(pid, 9)
    try:
        left = recv_eof(a)
        print("closed" if left == b"" else "data %r" % left, flush=True)
    except ConnectionResetError:
        print("reset", flush=True)


mode = sys.argv[1]
if mode == "keep":
    mode_keep(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
elif mode == "stop":
    mode_stop(sys.argv[2], int(sys.argv[3]), sys.argv[4])
elif mode == "udp":
    mode_udp(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
elif mode == "kill":
    mode_kill(int(sys.argv[2]), int(sys.argv[3]))
else:
    sys.exit(2)
