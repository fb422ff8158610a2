#!/usr/bin/env python3
# socket-client.py stream|dgram ADDRESS: one request to a [Socket] socket of
# tests/integration/sup-socket.bats, its one-line answer on stdout. ADDRESS
# is HOST:PORT, [IPV6]:PORT or a unix socket path. Exits 1 with the error
# (refused, timeout) on stderr.
import socket
import sys

kind, addr = sys.argv[1], sys.argv[2]
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 10
stype = socket.SOCK_STREAM if kind == "stream" else socket.SOCK_DGRAM
if addr.startswith("/"):
    fam, target = socket.AF_UNIX, addr
elif addr.startswith("["):
    host, port = addr[1:].split("]:")
    fam, target = socket.AF_INET6, (host, int(port))
else:
    host, port = addr.rsplit(":", 1)
    fam, target = socket.AF_INET, (host, int(port))
s = socket.socket(fam, stype)
s.settimeout(timeout)
try:
    if stype == socket.SOCK_DGRAM and fam == socket.AF_UNIX:
        s.bind("\0ccsup-test-client-%d" % __import__("os").getpid())
    s.connect(target)
    if stype == socket.SOCK_DGRAM:
        s.send(b"ping\n")
    sys.stdout.write(s.recv(512).decode())
except OSError as e:
    sys.stderr.write("socket-client: %s %s: %s\n" % (kind, addr, e))
    sys.exit(1)
