#!/usr/bin/env python3
"""The runtime alone: create + start + wait + delete of `true`, on one prepared bundle.

Drives each runtime through the runc command line exactly as a shim does (this
process is the child subreaper that reaps the container), interleaving runtimes so
they share the machine's noise. Compares ketch-runtime with runc and crun when they
are installed and able to run here.

    .venv/bin/python3 bench/runtime_cycle.py -n 30
"""

import argparse
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KETCH_RUNTIME = os.environ.get("KETCH_RUNTIME") or os.path.join(REPO, ".venv", "bin", "ketch-runtime")
PR_SET_CHILD_SUBREAPER = 36


def make_bundle(root: str) -> str:
    bundle = os.path.join(root, "bundle")
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"))
    shutil.copy("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    os.link(os.path.join(rootfs, "bin", "busybox"), os.path.join(rootfs, "bin", "true"))
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)  # runc's default config
    with open(os.path.join(bundle, "config.json")) as f:
        spec = json.load(f)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["/bin/true"]
    spec["ociVersion"] = "1.1.0"  # what crun 1.8 accepts
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    return bundle


def cycle(runtime: str, state: str, bundle: str, n: int) -> float:
    cid = f"bench-{os.path.basename(runtime)}-{n}"
    t0 = time.perf_counter()
    subprocess.run([runtime, "--root", state, "create", "--bundle", bundle,
                    "--pid-file", f"{state}/{cid}.pid", cid],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    with open(f"{state}/{cid}.pid") as f:
        pid = int(f.read())
    subprocess.run([runtime, "--root", state, "start", cid], check=True)
    os.waitpid(pid, 0)
    subprocess.run([runtime, "--root", state, "delete", cid], check=True)
    return (time.perf_counter() - t0) * 1000


def in_process_cycle(state: str, bundle: str, n: int) -> float:
    """The same steps through the library, as ketchd's monitors run ketch's runtime."""
    from ketch.runtime import container
    from ketch.runtime.process import Stdio
    t0 = time.perf_counter()
    null = os.open(os.devnull, os.O_RDWR)
    try:
        c, _created = container.create(state, f"inproc-{n}", bundle, Stdio(null, null, null))
    finally:
        os.close(null)
    c.start()
    os.waitpid(c.pid, 0)
    c.delete()
    return (time.perf_counter() - t0) * 1000


def works(runtime: str, state: str, bundle: str) -> bool:
    try:
        cycle(runtime, state, bundle, 0)
        return True
    except (subprocess.CalledProcessError, OSError, FileNotFoundError) as exc:
        print(f"{runtime}: cannot run here ({exc})", file=sys.stderr)
        return False


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--runs", type=int, default=30)
    args = p.parse_args()
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    root = tempfile.mkdtemp(prefix="ketch-rtbench-", dir="/tmp")
    try:
        bundle = make_bundle(root)
        candidates = [KETCH_RUNTIME] + [r for r in (shutil.which("runc"), shutil.which("crun")) if r]
        states = {r: os.path.join(root, "state-" + os.path.basename(r)) for r in candidates}
        runtimes = [r for r in candidates if works(r, states[r], bundle)]
        samples = {r: [] for r in runtimes}
        sys.path.insert(0, REPO)
        inproc = os.path.join(root, "state-inproc")
        samples["ketch runtime, in-process (as ketchd's monitors use it)"] = []
        for i in range(3):
            for r in runtimes:
                cycle(r, states[r], bundle, 1000 + i)
            in_process_cycle(inproc, bundle, 1000 + i)
        for i in range(args.runs):
            for r in runtimes:
                samples[r].append(cycle(r, states[r], bundle, i + 1))
            samples["ketch runtime, in-process (as ketchd's monitors use it)"].append(
                in_process_cycle(inproc, bundle, i + 1))
        for r in samples:
            s = sorted(samples[r])
            print(f"{os.path.basename(r):<14} median {statistics.median(s):6.1f} ms   "
                  f"p90 {s[int(len(s) * 0.9) - 1]:6.1f} ms   (n={len(s)})")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
