#!/usr/bin/env python3
# A registry that misbehaves, for the error tests of image-registry.bats:
# no real registry serves these. GET /v2/ is fine; /v2/h/KIND/manifests/t is
#   big      5 MiB of manifest (more than a manifest may be)
#   badjson  an OCI manifest media type over bytes that are not JSON
#   html     a text/html page
#   lie      a valid manifest whose Docker-Content-Digest is another digest
#   loop     a redirect to itself, forever
#   hang     nothing at all: the connection stays open and silent
# usage: hostile-registry.py PORTFILE
import http.server, json, os, sys, time

portfile = sys.argv[1]
OCI = "application/vnd.oci.image.manifest.v1+json"
Z = "sha256:" + "0" * 64
valid = json.dumps({"schemaVersion": 2, "mediaType": OCI,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": Z, "size": 2},
                    "layers": []}).encode()


class H(http.server.BaseHTTPRequestHandler):
    def reply(self, code, ctype, body, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        p = self.path
        if p == "/v2/":
            return self.reply(200, "application/json", b"{}")
        kind = p.split("/")[3] if p.startswith("/v2/h/") else ""
        if kind == "big":
            return self.reply(200, OCI, b" " * (5 << 20))
        if kind == "badjson":
            return self.reply(200, OCI, b"{not json")
        if kind == "html":
            return self.reply(200, "text/html", b"<html>sign in first</html>")
        if kind == "lie":
            return self.reply(200, OCI, valid, [("Docker-Content-Digest", Z)])
        if kind == "loop":
            return self.reply(302, "text/plain", b"", [("Location", p)])
        if kind == "hang":
            time.sleep(600)
            return
        self.reply(404, "application/json", b'{"errors": [{"code": "NAME_UNKNOWN", "message": "no"}]}')

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
