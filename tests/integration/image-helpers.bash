# Layered test images for the tests that run containers from them
# (tests/integration/image-layers.bats), made by tools nobody here wrote:
# umoci builds the layers (a whiteout, an opaque directory, a new
# /etc/passwd in an upper layer, an image config), skopeo copies the result
# to an oci-archive and a docker-archive. Hostile or broken images that no
# tool would make are written by hand (mk_oci_layout).

# make_layered_images DIR ROOTFS: DIR/layout:v1 is ROOTFS (plus /opt/old/file
# and /etc/remove-me) in one layer; DIR/layout:v2 adds three layers: a whiteout
# of /etc/remove-me, /opt made opaque with only /opt/only, and an /etc/passwd
# where `app` is uid 1234; its config has an Entrypoint, a Cmd, Env, a
# WorkingDir, a User (by name) and a StopSignal. DIR/image.tar and
# DIR/docker.tar are skopeo's oci-archive and docker-archive of v2.
make_layered_images() {
        local d=$1 rootfs=$2 b=$1/bundle
        umoci init --layout "$d/layout"
        umoci new --image "$d/layout:base"
        umoci unpack --image "$d/layout:base" "$b" >/dev/null
        cp -a "$rootfs/." "$b/rootfs/"
        mkdir -p "$b/rootfs/opt/old" "$b/rootfs/work"
        echo old >"$b/rootfs/opt/old/file"
        echo gone >"$b/rootfs/etc/remove-me"
        umoci repack --image "$d/layout:v1" "$b"
        rm -rf "$b"
        umoci insert --image "$d/layout:v1" --tag v2 --whiteout /etc/remove-me
        mkdir -p "$d/newopt"
        echo new >"$d/newopt/only"
        umoci insert --image "$d/layout:v2" --opaque "$d/newopt" /opt
        sed 's/^app:x:1000:1000:/app:x:1234:1000:/' "$rootfs/etc/passwd" >"$d/passwd"
        umoci insert --image "$d/layout:v2" "$d/passwd" /etc/passwd
        umoci config --image "$d/layout:v2" \
                --config.entrypoint=/bin/sh --config.entrypoint=-c \
                --config.cmd='echo cmd-from-image; echo uid=$(id -u) gid=$(id -g); echo pwd=$(pwd); echo FOO=$FOO; echo HOME=$HOME' \
                --config.env=FOO=bar --config.workingdir=/work --config.user=app \
                --config.stopsignal=SIGUSR1
        skopeo copy -q "oci:$d/layout:v2" "oci-archive:$d/image.tar:v2"
        skopeo copy -q "oci:$d/layout:v2" "docker-archive:$d/docker.tar:test/busybox:v2"
}

# mk_oci_layout DIR MEDIATYPE CMD TAR...: an OCI layout (tag "latest") whose
# layers are the given uncompressed tars, each declared with MEDIATYPE, and
# whose config runs CMD (one word); $OCI_CONFIG_EXTRA, a JSON object, is
# merged into the config's "config" (e.g. a Healthcheck).
mk_oci_layout() {
        python3 - "$@" <<'PY'
import hashlib, json, os, sys
d, mediatype, cmd, tars = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
os.makedirs(d + "/blobs/sha256", exist_ok=True)
def blob(data):
    h = hashlib.sha256(data).hexdigest()
    open(f"{d}/blobs/sha256/{h}", "wb").write(data)
    return "sha256:" + h, len(data)
layers, diffs = [], []
for t in tars:
    data = open(t, "rb").read()
    dg, n = blob(data)
    layers.append({"mediaType": mediatype, "digest": dg, "size": n})
    diffs.append(dg)
config = {"Cmd": [cmd]}
config.update(json.loads(os.environ.get("OCI_CONFIG_EXTRA") or "{}"))
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": config,
                  "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
cd, cn = blob(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
                  "layers": layers}).encode()
md, mn = blob(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": md, "size": mn, "annotations": {"org.opencontainers.image.ref.name": "latest"}}]},
          open(d + "/index.json", "w"))
open(d + "/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
PY
}

# mk_tar OUT ROOTDIR [NAME=TEXT...]: a tar of ROOTDIR's content, plus extra
# regular files whose names are taken literally (../escape, /abs...)
mk_tar() {
        python3 - "$@" <<'PY'
import io, sys, tarfile
out, root, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    if root != "-":
        t.add(root, arcname=".")
    for e in extra:
        name, text = e.split("=", 1)
        ti = tarfile.TarInfo(name)
        ti.size = len(text)
        ti.mode = 0o644
        t.addfile(ti, io.BytesIO(text.encode()))
PY
}
