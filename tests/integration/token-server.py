#!/usr/bin/env python3
# A small bearer-token server for the registry tests (Debian ships none):
# the docker/distribution token protocol. GET /token?service=S&scope=...
# with HTTP basic credentials USER:PASS answers {"token": JWT, "expires_in":
# N}; the JWT (RS256, signed with openssl, the certificate in its x5c
# header) grants the scope's actions, and the registry trusts it through
# auth.token.rootcertbundle. Every request is logged, one line each, to LOG.
# While LOG.deny exists, the tokens grant nothing (the registry refuses them).
#
# usage: token-server.py KEY CERT ISSUER USER:PASS PORTFILE LOG
import base64, http.server, json, os, subprocess, sys, time, urllib.parse

key, cert, issuer, creds, portfile, log = sys.argv[1:7]
expires = int(os.environ.get("TOKEN_EXPIRES", "300"))


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der(path):
    pem = open(path).read()
    body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
    return base64.b64decode("".join(body.split()))


x5c = base64.b64encode(der(cert)).decode()


def sign(claims):
    head = b64(json.dumps({"typ": "JWT", "alg": "RS256", "x5c": [x5c]}).encode())
    body = b64(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=f"{head}.{body}".encode(),
                         capture_output=True, check=True).stdout
    return f"{head}.{body}.{b64(sig)}"


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        auth = self.headers.get("Authorization", "")
        ok = auth == "Basic " + base64.b64encode(creds.encode()).decode()
        with open(log, "a") as f:
            f.write(json.dumps({"path": u.path, "scope": q.get("scope", []), "service": q.get("service", [""])[0],
                                "authorized": ok, "agent": self.headers.get("User-Agent", "")}) + "\n")
        if u.path != "/token" or not ok:
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}')
            return
        access = []
        for s in ([] if os.path.exists(log + ".deny") else q.get("scope", [])):
            parts = s.split(":")
            if len(parts) == 3:
                access.append({"type": parts[0], "name": parts[1], "actions": parts[2].split(",")})
        now = int(time.time())
        tok = sign({"iss": issuer, "sub": creds.split(":")[0], "aud": q.get("service", [""])[0],
                    "exp": now + expires, "nbf": now - 10, "iat": now, "jti": str(time.time_ns()),
                    "access": access})
        data = json.dumps({"token": tok, "expires_in": expires}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
