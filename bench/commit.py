#!/usr/bin/env python3
"""Commit throughput: a container whose writable layer holds ~200 MB, committed to an image.

The layer is the same on both daemons: files of mixed sizes (2000 small ones of 1-32 KiB,
60 of 1 MiB, 5 of 22 MiB), each half random bytes and half words, so that gzip makes it
about two thirds of its size (layer data is neither text nor noise). It is written on
the host once and copied into a created container with `cp`; then `POST /commit` is timed
(the daemon's whole work: pausing, reading the layer, compressing it once, unpacking it
as the new image's layer, recording it), three times, interleaved with Docker's when a
dockerd is available (started on its own root as the differential tests start one).

    flock /tmp/ketch-test.lock .venv/bin/python3 bench/commit.py
    flock /tmp/ketch-test.lock .venv/bin/python3 bench/commit.py --no-docker

Reports MB/s of layer content (bytes of the files / seconds of the request).
"""

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests.integration import conftest  # noqa: E402
from tests.integration.differential import dockerd as dockerd_mod  # noqa: E402
from tests.integration.differential.dockerd import Dockerd, DockerdUnavailable, api  # noqa: E402

MB = 1_000_000


def _words(rng: random.Random) -> bytes:
    vocab = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(4000)]
    return b" ".join(rng.choice(vocab) for _ in range(400_000))


def make_tree(root: str, seed: int = 7, mix: str = "mixed") -> int:
    """The layer's files under ``root``; returns their total size. ``mix`` "large": 20 files
    of 10 MiB instead (what the commit costs without the making of many files)."""
    rng = random.Random(seed)
    text = _words(rng)

    def blob(size: int) -> bytes:
        half = size // 2
        start = rng.randrange(0, max(1, len(text) - half))
        part = text[start:start + half]
        return (rng.randbytes(size - len(part)) + part)[:size]

    if mix == "large":
        sizes = [("big", 10 << 20)] * 20
    else:
        sizes = [("small", rng.randint(1024, 32 * 1024)) for _ in range(2000)]
        sizes += [("medium", 1 << 20)] * 60 + [("big", 22 << 20)] * 5
    total = 0
    for i, (kind, size) in enumerate(sizes):
        d = os.path.join(root, "data", kind, f"{i % 20:02d}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
            for off in range(0, size, 4 << 20):
                f.write(blob(min(4 << 20, size - off)))
        total += size
    return total


def _copy_in(run, tree: str, name: str) -> None:
    res = run("create", "--name", name, "busybox", "true")
    assert res.returncode == 0, res.stderr
    res = run("cp", os.path.join(tree, "data"), f"{name}:/data")
    assert res.returncode == 0, res.stderr


def _commit(socket: str, name: str) -> float:
    t0 = time.perf_counter()
    status, doc = api(socket, "POST", f"/commit?container={name}", timeout=600)
    elapsed = time.perf_counter() - t0
    assert status == 201, (status, doc)
    status, _ = api(socket, "DELETE", f"/images/{doc['Id']}")
    assert status == 200, status
    return elapsed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--runs", type=int, default=3)
    p.add_argument("--no-docker", action="store_true", help="measure ketch alone")
    p.add_argument("--mix", choices=("mixed", "large"), default="mixed")
    p.add_argument("--base", default="/var/tmp",
                   help="where the daemons' roots go (default /var/tmp; on this VM /tmp's directory "
                        "makes every file creation ~15x dearer, whoever creates it)")
    args = p.parse_args()
    base = args.base
    real_mkdtemp = tempfile.mkdtemp
    dockerd_mod.tempfile = type("T", (), {"mkdtemp": staticmethod(
        lambda prefix="", dir=None: real_mkdtemp(prefix=prefix, dir=base))})

    tree = tempfile.mkdtemp(prefix="kb-commit-", dir=base)
    ketchd = dockerd = None
    try:
        size = make_tree(tree, mix=args.mix)
        os.sync()  # what was written is on disk before anything is timed
        print(f"layer: {size / MB:.0f} MB in {sum(len(f) for _, _, f in os.walk(tree))} files")
        ketchd = conftest.Daemon(tempfile.mkdtemp(prefix="kt-", dir=base))
        ketchd.start()
        _copy_in(ketchd.ketch, tree, "bench-commit")
        docker_socket = None
        if not args.no_docker and shutil.which("docker"):
            dockerd = Dockerd()
            try:
                dockerd.start()
                docker_socket = dockerd.socket
                _import_busybox(dockerd, tree)
                _copy_in(lambda *a: _docker(dockerd, *a), tree, "bench-commit")
            except DockerdUnavailable as exc:
                print(f"dockerd unavailable: {exc}")
                docker_socket = None
        times: dict[str, list[float]] = {"ketch": [], "docker": []}
        for _ in range(args.runs):
            times["ketch"].append(_commit(ketchd.socket, "bench-commit"))
            if docker_socket:
                times["docker"].append(_commit(docker_socket, "bench-commit"))
        for who, samples in times.items():
            if samples:
                med = statistics.median(samples)
                print(f"{who:<7} commit of {size / MB:.0f} MB: median {med:6.2f} s = {size / MB / med:6.1f} MB/s"
                      f"   (runs: {', '.join(f'{s:.2f}' for s in samples)})")
    finally:
        if ketchd is not None:
            ketchd.remove_all_containers()
            conftest.destroy_daemon(ketchd)
        if dockerd is not None:
            left = dockerd.stop()
            if left:
                print(f"dockerd left: {left}")
        shutil.rmtree(tree, ignore_errors=True)
    return 0


def _docker(dockerd, *argv):
    import subprocess
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_HOST"] = f"unix://{dockerd.socket}"
    return subprocess.run(["docker", *argv], env=env, capture_output=True, text=True, timeout=600)


def _import_busybox(dockerd, workdir: str) -> None:
    from ketch.image import embedded
    tar = os.path.join(workdir, "busybox.tar")
    with open(tar, "wb") as f:
        embedded.build_rootfs_tar(f)
    argv = ["import"]
    for change in embedded.CHANGES:
        argv += ["-c", change]
    res = _docker(dockerd, *argv, tar, embedded.REFERENCE)
    os.unlink(tar)
    assert res.returncode == 0, res.stderr


if __name__ == "__main__":
    sys.exit(main())
