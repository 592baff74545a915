"""Prototype (d): Debian's conmon (apt-get install conmon) supervising runc containers.

Builds one read-only busybox rootfs, N bundles (`sh -c 'echo; exec sleep 3600'`, cgroups
under a parent of its own), starts each container the way Podman does (conmon runs
`runc create`, then we run `runc start`), sums Pss/Rss of the conmon processes, then kills
every container through runc, checks conmon wrote each exit file, deletes the containers,
removes the cgroup parent and the temporary directory.

    apt-get install -y conmon
    flock /tmp/ketch-test.lock python3 bench/prototypes/conmon_bench.py --count 100
"""

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

RUNC = "/usr/sbin/runc"
CONMON = shutil.which("conmon") or "/usr/bin/conmon"
BUSYBOX = "/usr/bin/busybox"  # busybox-static


def rollup(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                out[parts[0][:-1]] = int(parts[1])
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmPTE:"):
                out["VmPTE"] = int(line.split()[1])
    return out


def make_rootfs(path: str) -> None:
    os.makedirs(os.path.join(path, "bin"))
    for d in ("proc", "dev", "sys", "tmp"):
        os.makedirs(os.path.join(path, d))
    shutil.copy(BUSYBOX, os.path.join(path, "bin", "busybox"))
    for name in ("sh", "sleep", "echo"):
        os.symlink("busybox", os.path.join(path, "bin", name))


def make_bundle(work: str, rootfs: str, cid: str, cgroup: str) -> str:
    bundle = os.path.join(work, cid)
    os.makedirs(bundle)
    subprocess.run([RUNC, "spec", "--bundle", bundle], check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        spec = json.load(f)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sh", "-c", "echo hello from $$; echo to stderr >&2; exec sleep 3600"]
    spec["root"] = {"path": rootfs, "readonly": True}
    spec["hostname"] = cid
    spec["linux"]["cgroupsPath"] = f"{cgroup}/{cid}"
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    return bundle


def cgroup_dirs(parent: str) -> list[str]:
    base = "/sys/fs/cgroup"
    rel = parent.strip("/")
    cands = [os.path.join(base, rel)] + [os.path.join(base, h, rel) for h in os.listdir(base)]
    return [d for d in cands if os.path.isdir(d)]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="conmon-bench-", dir="/tmp")
    runc_root = os.path.join(work, "runc")
    exits = os.path.join(work, "exits")
    socks = os.path.join(work, "socks")
    for d in (exits, socks):
        os.makedirs(d)
    cgroup = f"/ketch-bench-conmon-{secrets.token_hex(4)}"
    rootfs = os.path.join(work, "rootfs")
    make_rootfs(rootfs)
    runc = [RUNC, "--root", runc_root]
    cids: list[str] = []
    conmons: dict[str, int] = {}
    status = 0
    try:
        for i in range(args.count):
            cid = f"cb{i:04d}"
            bundle = make_bundle(work, rootfs, cid, cgroup)
            cmd = [CONMON, "--api-version", "1", "-c", cid, "-u", cid, "-n", cid, "-r", RUNC,
                   "-b", bundle, "-p", os.path.join(bundle, "pidfile"), "-P", os.path.join(bundle, "conmon.pid"),
                   "-l", f"k8s-file:{os.path.join(bundle, 'ctr.log')}", "--exit-dir", exits,
                   "--socket-dir-path", socks, "--log-level", "error",
                   "--runtime-arg", "--root", "--runtime-arg", runc_root]
            cids.append(cid)
            # conmon forks: the first process returns once the container is created.
            res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
            if res.returncode != 0:
                raise RuntimeError(f"conmon {cid}: {res.returncode} {res.stderr.strip()}")
            for _ in range(100):
                if os.path.exists(os.path.join(bundle, "pidfile")):
                    break
                time.sleep(0.05)
            subprocess.run(runc + ["start", cid], check=True, capture_output=True)
            with open(os.path.join(bundle, "conmon.pid")) as f:
                conmons[cid] = int(f.read())
        time.sleep(1.5)
        logs_ok = sum(1 for c in cids if b"hello from" in open(os.path.join(work, c, "ctr.log"), "rb").read())
        rolls = [rollup(pid) for pid in conmons.values()]
        n = len(rolls)
        keys = ("Pss", "Rss", "Private_Dirty", "Pss_Anon", "Pss_File", "VmPTE")
        mean = {k: sum(r.get(k, 0) for r in rolls) / n for k in keys}
        res = {"design": "Debian conmon 2.1.6 + runc", "n": n, "logs_ok": logs_ok, "monitor_mean": mean,
               "per_container": mean}
        print(f"{res['design']}: n={n} logs={logs_ok}/{n} | conmon mean Pss {mean['Pss']:.0f} kB "
              f"Rss {mean['Rss']:.0f} kB Private_Dirty {mean['Private_Dirty']:.0f} kB VmPTE {mean['VmPTE']:.0f} kB")
        if args.json:
            print(json.dumps(res))
    except BaseException as exc:  # noqa: BLE001
        print(f"FAILED: {exc!r}", file=sys.stderr)
        status = 1
    finally:
        for cid in cids:
            subprocess.run(runc + ["kill", cid, "KILL"], capture_output=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in conmons.values()):
            time.sleep(0.1)
        missing = [c for c in conmons if not os.path.exists(os.path.join(exits, c))]
        if missing:
            print(f"{len(missing)} exit files missing, e.g. {missing[0]}", file=sys.stderr)
            status = 1
        for cid, pid in conmons.items():
            if os.path.exists(f"/proc/{pid}"):
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if CONMON.encode() in f.read():
                        print(f"conmon {pid} still alive; killing it", file=sys.stderr)
                        os.kill(pid, 9)
                        status = 1
        for cid in cids:
            subprocess.run(runc + ["delete", "--force", cid], capture_output=True)
        for top in cgroup_dirs(cgroup):
            for dirpath, _d, _f in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
                try:
                    os.rmdir(dirpath)
                except OSError as exc:
                    print(f"cgroup left: {dirpath}: {exc}", file=sys.stderr)
                    status = 1
        real = os.path.realpath(work)
        with open("/proc/self/mountinfo") as f:
            left = [ln.split()[4] for ln in f if ln.split()[4].startswith(real)]
        if left:
            print(f"mounts left: {left[:3]}", file=sys.stderr)
            status = 1
        else:
            shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
