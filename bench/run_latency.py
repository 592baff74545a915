#!/usr/bin/env python3
"""Median end-to-end latency of `ketch run --rm busybox true`, and of Docker's when given.

Starts a ketchd of its own on a temporary root (or uses --ketch-host), then runs the
commands interleaved (ketch, docker, ketch, ...) so both see the same machine noise.

    .venv/bin/python3 bench/run_latency.py                       # ketch alone
    .venv/bin/python3 bench/run_latency.py --docker-host unix:///tmp/d/docker.sock

Docker needs a busybox image: `tar -C rootfs -c . | docker import -c 'CMD ["sh"]' - busybox`.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KETCH = os.path.join(REPO, ".venv", "bin", "ketch")
PYTHON = os.path.join(REPO, ".venv", "bin", "python3")


def timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {res.stderr.decode()}")
    return elapsed * 1000


def start_ketchd(root: str) -> tuple[subprocess.Popen, str]:
    host = f"unix://{root}/ketch.sock"
    with open(os.path.join(root, "daemon.json"), "w") as f:
        f.write("{}")
    # This checkout's ketchd, whatever checkout the .venv/bin launchers point at.
    proc = subprocess.Popen([PYTHON, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                             "from ketch.daemon.main import main; sys.exit(main(sys.argv[2:]))", REPO,
                             "-H", host, "--data-root", f"{root}/data", "--exec-root",
                             f"{root}/exec", "--config-file", f"{root}/daemon.json"],
                            stdout=subprocess.DEVNULL, stderr=open(f"{root}/ketchd.log", "w"))
    env = dict(os.environ, KETCH_HOST=host)
    for _ in range(300):
        if subprocess.run([KETCH, "version"], env=env, capture_output=True).returncode == 0:
            return proc, host
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("ketchd did not start")


def summary(name: str, samples: list[float]) -> str:
    samples = sorted(samples)
    p90 = samples[int(len(samples) * 0.9) - 1]
    return f"{name:<40} median {statistics.median(samples):7.1f} ms   p90 {p90:7.1f} ms   (n={len(samples)})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--runs", type=int, default=30)
    p.add_argument("--ketch-host", help="use this ketchd instead of starting one")
    p.add_argument("--docker-host", help="also measure docker against this dockerd (unix://...)")
    p.add_argument("--docker-network-none", action="store_true", help="add --network none to docker")
    args = p.parse_args()

    root = None
    proc = None
    if args.ketch_host:
        host = args.ketch_host
    else:
        root = tempfile.mkdtemp(prefix="ketch-bench-", dir="/tmp")
        proc, host = start_ketchd(root)
    kenv = dict(os.environ, KETCH_HOST=host)
    denv = dict(os.environ, DOCKER_HOST=args.docker_host or "")
    ketch_cmd = [KETCH, "run", "--rm", "busybox", "true"]
    docker_cmd = ["docker", "run", "--rm"] + (["--network", "none"] if args.docker_network_none else []) + \
        ["busybox", "true"]
    try:
        for _ in range(3):  # warm caches
            timed(ketch_cmd, kenv)
            if args.docker_host:
                timed(docker_cmd, denv)
        ks, ds = [], []
        for _ in range(args.runs):
            ks.append(timed(ketch_cmd, kenv))
            if args.docker_host:
                ds.append(timed(docker_cmd, denv))
        print(summary("ketch run --rm busybox true", ks))
        if ds:
            print(summary(" ".join(docker_cmd[:-2]) + " busybox true", ds))
            print(f"ratio docker/ketch (medians): {statistics.median(ds) / statistics.median(ks):.1f}x")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(20)
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
