#!/usr/bin/env python3
"""Runs the runtime-spec's examples (oci-spec-examples.json) through
ccsup-runtime: create, the host-side checks, start, wait, delete.

usage: oci-spec-examples.py RUNTIME ROOTFS WORKDIR CGROUP-PARENT

WORKDIR gets the bundle (a copy of ROOTFS at rootfs/, as the spec's
relative root.path has it), --root, and @DIR@. Prints one line per case
and exits 1 if any case did not do what it says. After each case nothing
may be left in --root nor under CGROUP-PARENT.
"""
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import time

RT, ROOTFS, WORK, CGP = sys.argv[1:5]
HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLE = os.path.join(WORK, "bundle")
ROOT = os.path.join(WORK, "root")
DATA = os.path.join(WORK, "data")
V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def rt(*args, **kw):
    return subprocess.run([RT, "--root", ROOT, *args], capture_output=True, text=True, timeout=60, **kw)


def put(c, dotted, value):
    keys = dotted.split(".")
    for k in keys[:-1]:
        c = c.setdefault(k, {})
    c[keys[-1]] = value


def lookup(c, dotted):
    keys = dotted.split(".")
    for k in keys[:-1]:
        c = c.setdefault(k, {})
    return c.setdefault(keys[-1], [])


def subst(v):
    if isinstance(v, str):
        return v.replace("@DIR@", DATA)
    if isinstance(v, list):
        return [subst(x) for x in v]
    if isinstance(v, dict):
        return {k: subst(x) for k, x in v.items()}
    return v


def squeeze(s):
    return re.sub(" +", " ", s)


def leftovers(cid):
    left = []
    if os.path.exists(os.path.join(ROOT, cid)):
        left.append(os.path.join(ROOT, cid))
    for d in ["/sys/fs/cgroup" + CGP + "/c"] + ["/sys/fs/cgroup/%s%s/c" % (x, CGP) for x in os.listdir("/sys/fs/cgroup")]:
        if os.path.isdir(d):
            left.append(d)
    return left


def cgroup_file(rel):
    if V2:
        return "/sys/fs/cgroup%s/c/%s" % (CGP, rel)
    ctl, f = rel.split("/", 1)
    return "/sys/fs/cgroup/%s%s/c/%s" % (ctl, CGP, f)


def wait_stopped(cid):
    for _ in range(400):
        r = rt("state", cid)
        if r.returncode == 0 and json.loads(r.stdout)["status"] == "stopped":
            return True
        time.sleep(0.05)
    return False


def run_case(n, case, base):
    cid = "ex%d" % n
    c = copy.deepcopy(base)
    for k, v in subst(case.get("set", {})).items():
        put(c, k, v)
    for k, v in subst(case.get("append", {})).items():
        lookup(c, k).extend(v)
    if "args" in case:
        c["process"]["args"] = case["args"]
    with open(os.path.join(BUNDLE, "config.json"), "w") as f:
        json.dump(c, f)
    out_path = os.path.join(WORK, "out")
    problems = []
    # the container keeps create's stdout and stderr: files, not pipes
    err_path = os.path.join(WORK, "err")
    with open(out_path, "w") as out, open(err_path, "w") as err:
        r = subprocess.run([RT, "--root", ROOT, "create", "--bundle", BUNDLE, cid], stdout=out,
                           stderr=err, timeout=60)
    r.stderr = open(err_path).read()
    if "error" in case:
        if r.returncode != 1:
            problems.append("create exited %d, expected 1" % r.returncode)
            rt("delete", "--force", cid)
        if case["error"] not in r.stderr:
            problems.append("error %r does not name %r" % (r.stderr.strip(), case["error"]))
    elif r.returncode != 0:
        problems.append("create failed: " + r.stderr.strip())
    else:
        st = json.loads(rt("state", cid).stdout)
        for k, v in case.get("state", {}).items():
            if st.get(k) != v:
                problems.append("state %s is %r, expected %r" % (k, st.get(k), v))
        for rel, want in case.get("cgroup", {}).get("v2" if V2 else "v1", {}).items():
            try:
                got = open(cgroup_file(rel)).read().strip()
            except OSError as e:
                got = str(e)
            if got != want:
                problems.append("%s is %r, expected %r" % (cgroup_file(rel), got, want))
        if "host" in case:
            status = open("/proc/%d/status" % st["pid"]).read()
            uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
            if uid != case["host"]["uid"]:
                problems.append("the host sees uid %d, expected %d" % (uid, case["host"]["uid"]))
        s = rt("start", cid)
        if s.returncode != 0:
            problems.append("start failed: " + s.stderr.strip())
        elif not wait_stopped(cid):
            problems.append("did not stop within 20 s")
        d = rt("delete", "--force", cid)
        if d.returncode != 0:
            problems.append("delete failed: " + d.stderr.strip())
        output = open(out_path).read() + open(err_path).read()
        for want in case.get("stdout", []):
            if squeeze(want) not in squeeze(output):
                problems.append("output lacks %r:\n%s" % (want, output))
    left = leftovers(cid)
    if left:
        problems.append("left behind: " + ", ".join(left))
        rt("delete", "--force", cid)
    return problems


def main():
    cases = json.load(open(os.path.join(HERE, "oci-spec-examples.json")))["cases"]
    shutil.rmtree(BUNDLE, ignore_errors=True)
    os.makedirs(BUNDLE)
    subprocess.run(["cp", "-a", ROOTFS, os.path.join(BUNDLE, "rootfs")], check=True)
    os.makedirs(DATA, exist_ok=True)
    with open(os.path.join(DATA, "hello"), "w") as f:
        f.write("hello from the host\n")
    # the user-namespace cases reach --root by path
    os.chmod(WORK, 0o711)
    r = subprocess.run([RT, "spec", "--bundle", BUNDLE], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("spec: " + r.stderr)
    base = json.load(open(os.path.join(BUNDLE, "config.json")))
    base["linux"]["cgroupsPath"] = CGP + "/c"
    failed = 0
    for n, case in enumerate(cases, 1):
        problems = run_case(n, case, base)
        verdict = "refused" if "error" in case else "runs"
        if problems:
            failed += 1
            print("FAIL %d %s (%s; %s)" % (n, case["name"], verdict, case["from"]))
            for p in problems:
                print("    " + p)
        else:
            print("ok %d %s (%s; %s)" % (n, case["name"], verdict, case["from"]))
    print("%d of %d examples did what they say" % (len(cases) - failed, len(cases)))
    sys.exit(1 if failed else 0)


main()
