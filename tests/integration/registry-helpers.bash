# A real registry for the pull tests: Debian's docker-registry (the
# distribution project's reference registry) on 127.0.0.1, a random port,
# its own config and storage; images made here and pushed with skopeo.

# free_port: a TCP port on 127.0.0.1 nobody listens on now.
free_port() {
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# reg_start DIR [EXTRA_YAML]: a registry with its storage under DIR; sets
# REG_PID, REG_PORT, REG (127.0.0.1:PORT). EXTRA_YAML is appended to the
# config (auth:, or an http: tls: block via REG_TLS_CERT/REG_TLS_KEY).
reg_start() {
        local d=$1 extra=${2:-} scheme=http
        mkdir -p "$d/storage"
        REG_PORT=$(free_port)
        REG=127.0.0.1:$REG_PORT
        {
                echo "version: 0.1"
                echo "log:"
                echo "  level: info"
                echo "storage:"
                echo "  filesystem:"
                echo "    rootdirectory: $d/storage"
                echo "  delete:"
                echo "    enabled: true"
                echo "http:"
                echo "  addr: $REG"
                if [[ -n ${REG_TLS_CERT:-} ]]; then
                        echo "  tls:"
                        echo "    certificate: $REG_TLS_CERT"
                        echo "    key: $REG_TLS_KEY"
                fi
                [[ -z $extra ]] || printf '%s\n' "$extra"
        } >"$d/config.yml"
        docker-registry serve "$d/config.yml" >"$d/registry.log" 2>&1 &
        REG_PID=$!
        [[ -n ${REG_TLS_CERT:-} ]] && scheme=https
        local i
        for ((i = 0; i < 100; i++)); do
                curl -sk -o /dev/null "$scheme://$REG/v2/" && return 0
                kill -0 "$REG_PID" 2>/dev/null || break
                sleep 0.1
        done
        cat "$d/registry.log" >&2
        return 1
}

# reg_stop PID: ends a registry this test started.
reg_stop() {
        [[ -n ${1:-} ]] || return 0
        kill "$1" 2>/dev/null || true
        wait "$1" 2>/dev/null || true
}

# reg_push LAYOUT:TAG REG/REPO:TAG [skopeo options]: into the registry.
reg_push() {
        local src=$1 dst=$2
        shift 2
        skopeo copy -q --dest-tls-verify=false "$@" "oci:$src" "docker://$dst" >/dev/null
}

# reg_blob_gets LOG DIGEST: how often ccsup fetched that blob (access log).
reg_blob_gets() {
        grep -c "\"GET /v2/[^ ]*/blobs/$2 HTTP[^\"]*\" [0-9]* [0-9]* \"[^\"]*\" \"ccsup/" "$1" || true
}

# reg_gets LOG KIND: ccsup's GET requests of KIND (blobs, manifests).
reg_gets() {
        grep -c "\"GET /v2/[^ ]*/$2/[^ ]* HTTP[^\"]*\" [0-9]* [0-9]* \"[^\"]*\" \"ccsup/" "$1" || true
}

# reg_probes LOG: ccsup's /v2/ probes.
reg_probes() {
        grep -c "\"GET /v2/ HTTP[^\"]*\" [0-9]* [0-9]* \"[^\"]*\" \"ccsup/" "$1" || true
}

# mk_reg_image LAYOUT TAG COMPRESSION ARCH NAME=TEXT...: adds image TAG to
# the OCI layout LAYOUT: one layer per NAME=TEXT (a tar holding that one
# file; the same NAME=TEXT is always the same layer), compressed with
# none|gzip|zstd, its config for linux/ARCH running /bin/sh.
# With ARCH "index": an image index of a linux/amd64 and a linux/arm64
# image, each with the given layers plus /arch holding its architecture.
mk_reg_image() {
        python3 - "$@" <<'PY'
import gzip, hashlib, io, json, os, subprocess, sys, tarfile
d, tag, comp, arch, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
os.makedirs(d + "/blobs/sha256", exist_ok=True)
def blob(data):
    h = hashlib.sha256(data).hexdigest()
    open(f"{d}/blobs/sha256/{h}", "wb").write(data)
    return {"digest": "sha256:" + h, "size": len(data)}
def layer(spec):
    name, text = spec.split("=", 1)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode, ti.mtime = len(text), 0o644, 0
        t.addfile(ti, io.BytesIO(text.encode()))
    raw = buf.getvalue()
    mt = "application/vnd.oci.image.layer.v1.tar"
    if comp == "gzip":
        data, mt = gzip.compress(raw, mtime=0), mt + "+gzip"
    elif comp == "zstd":
        data, mt = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout, mt + "+zstd"
    else:
        data = raw
    return dict(blob(data), mediaType=mt), "sha256:" + hashlib.sha256(raw).hexdigest()
def image(a, specs):
    ls = [layer(s) for s in specs]
    cfg = json.dumps({"architecture": a, "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                      "rootfs": {"type": "layers", "diff_ids": [x[1] for x in ls]}}).encode()
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": dict(blob(cfg), mediaType="application/vnd.oci.image.config.v1+json"),
                      "layers": [x[0] for x in ls]}).encode()
    return dict(blob(man), mediaType="application/vnd.oci.image.manifest.v1+json",
                platform={"os": "linux", "architecture": a})
if arch == "index":
    ms = [image(a, files + ["arch=" + a]) for a in ("arm64", "amd64")]
    idx = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                      "manifests": ms}).encode()
    top = dict(blob(idx), mediaType="application/vnd.oci.image.index.v1+json")
else:
    top = image(arch, files)
    del top["platform"]
top["annotations"] = {"org.opencontainers.image.ref.name": tag}
try:
    index = json.load(open(d + "/index.json"))
except FileNotFoundError:
    index = {"schemaVersion": 2, "manifests": []}
index["manifests"] = [m for m in index["manifests"]
                      if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag] + [top]
json.dump(index, open(d + "/index.json", "w"))
open(d + "/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
print(top["digest"])
PY
}

# reg_put LAYOUT TAG REG/REPO:TAG: uploads the image byte for byte with the
# distribution API itself (skopeo would compress uncompressed layers):
# every blob (POST then PUT ?digest=), then the manifest under TAG.
reg_put() {
        python3 - "$@" <<'PY'
import json, sys, urllib.request
d, tag, dst = sys.argv[1], sys.argv[2], sys.argv[3]
host, rest = dst.split("/", 1)
repo, rtag = rest.rsplit(":", 1)
base = f"http://{host}/v2/{repo}"
def blob(dg):
    return open(f"{d}/blobs/sha256/{dg[7:]}", "rb").read()
def put_blob(dg):
    r = urllib.request.urlopen(urllib.request.Request(base + "/blobs/uploads/", method="POST", data=b""))
    loc = r.headers["Location"]
    loc = loc if loc.startswith("http") else f"http://{host}{loc}"
    loc += ("&" if "?" in loc else "?") + "digest=" + dg
    urllib.request.urlopen(urllib.request.Request(loc, method="PUT", data=blob(dg),
                           headers={"Content-Type": "application/octet-stream"}))
top = [m for m in json.load(open(d + "/index.json"))["manifests"]
       if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag][0]
man = json.loads(blob(top["digest"]))
for x in [man["config"]] + man["layers"]:
    put_blob(x["digest"])
urllib.request.urlopen(urllib.request.Request(f"{base}/manifests/{rtag}", method="PUT", data=blob(top["digest"]),
                       headers={"Content-Type": top["mediaType"]}))
PY
}

# layer_digest LAYOUT MANIFEST-DIGEST K: the digest of layer K (from 0).
layer_digest() {
        python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][int(sys.argv[2])]["digest"])' \
                "$1/blobs/sha256/${2#sha256:}" "$3"
}
