#!/usr/bin/env python3
# A proxy in front of a registry that cuts blob transfers, for the resume
# test of image-registry.bats: a GET of a blob over 4 KiB (a layer, not a
# config) without a Range header gets its headers and the first half of
# its body, then the connection is closed; a
# GET with Range (a resumed pull) passes through. Every blob GET is logged
# to LOG as "DIGEST RANGE-OR-none".
# usage: flaky-proxy.py UPSTREAM(HOST:PORT) PORTFILE LOG
import http.client, http.server, os, sys

upstream, portfile, log = sys.argv[1:4]


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        c = http.client.HTTPConnection(upstream)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "authorization", "range")}
        c.request("GET", self.path, headers=hdrs)
        r = c.getresponse()
        body = r.read()
        blob = "/blobs/" in self.path
        rng = self.headers.get("Range")
        if blob:
            with open(log, "a") as f:
                f.write(f"{self.path.rsplit('/', 1)[1]} {rng or 'none'}\n")
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        if blob and not rng and r.status == 200 and len(body) > 4096:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
