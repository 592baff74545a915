#!/usr/bin/env python3
"""Throughput of `load` and `save` of a ~200 MB multi-layer image, and Docker's when given.

Makes a docker-archive (manifest.json, one uncompressed tar per layer) of LAYERS layers
holding files of mixed sizes, half random and half repetitive bytes, so gzip has the
work it has on real images. Each daemon then loads it (POST /images/load of the file)
and saves it (GET /images/{name}/get into a file), interleaved so both see the same
machine noise. MB/s is the image's uncompressed layer bytes over the wall time.

    .venv/bin/python3 bench/saveload.py                       # ketch alone (own ketchd)
    .venv/bin/python3 bench/saveload.py --docker-host unix:///tmp/d/docker.sock
"""

import argparse
import hashlib
import io
import json
import os
import random
import shutil
import statistics
import sys
import tarfile
import tempfile
import time

import docker

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_latency import start_ketchd  # noqa: E402

NAME = "bench/saveload:latest"


def _payload(rng: random.Random, size: int) -> bytes:
    """Half random bytes, half a repeated sentence: compresses to roughly 55%."""
    half = size // 2
    text = b"the quick brown fox jumps over the lazy dog; " * (half // 45 + 1)
    return rng.randbytes(half) + text[:size - half]


def _layer_tar(path: str, rng: random.Random, target: int, index: int) -> int:
    """One layer tar of about ``target`` bytes of file content; returns the content size."""
    total = 0
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        d = tarfile.TarInfo(f"layer{index}")
        d.type, d.mode = tarfile.DIRTYPE, 0o755
        tf.addfile(d)
        n = 0
        while total < target:
            size = rng.choice((4 << 10, 64 << 10, 512 << 10, 4 << 20))
            data = _payload(rng, size)
            info = tarfile.TarInfo(f"layer{index}/f{n}")
            info.size, info.mode = len(data), 0o644
            tf.addfile(info, io.BytesIO(data))
            total += size
            n += 1
    return total


def make_archive(path: str, layers: int, total_mb: int) -> int:
    """A docker-archive of ``layers`` layers; returns the bytes of file content in it."""
    rng = random.Random(1)
    work = tempfile.mkdtemp(prefix="kb-img-")
    try:
        diff_ids, names, content = [], [], 0
        for i in range(layers):
            layer = os.path.join(work, f"{i}.tar")
            content += _layer_tar(layer, rng, total_mb * (1 << 20) // layers, i)
            h = hashlib.sha256()
            with open(layer, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            diff_ids.append("sha256:" + h.hexdigest())
            names.append(f"{h.hexdigest()}/layer.tar")
        config = json.dumps({
            "architecture": "amd64", "os": "linux", "created": "2026-12-01T00:00:00Z",
            "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "2026-12-01T00:00:00Z", "created_by": f"layer {i}"}
                        for i in range(layers)],
        }).encode()
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        manifest = json.dumps([{"Config": config_name, "RepoTags": [NAME], "Layers": names}]).encode()
        with tarfile.open(path, "w") as out:
            for name, data in ((config_name, config), ("manifest.json", manifest)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                out.addfile(info, io.BytesIO(data))
            for i, name in enumerate(names):
                out.add(os.path.join(work, f"{i}.tar"), name)
        return content
    finally:
        shutil.rmtree(work)


def load(client: docker.DockerClient, archive: str) -> float:
    try:
        client.images.remove(NAME, force=True)
    except docker.errors.ImageNotFound:
        pass
    t0 = time.perf_counter()
    with open(archive, "rb") as f:
        client.images.load(f)
    return time.perf_counter() - t0


def save(client: docker.DockerClient, dest: str) -> float:
    t0 = time.perf_counter()
    with open(dest, "wb") as f:
        for chunk in client.images.get(NAME).save(chunk_size=1 << 20):
            f.write(chunk)
    elapsed = time.perf_counter() - t0
    os.unlink(dest)
    return elapsed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--runs", type=int, default=3)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--size-mb", type=int, default=200)
    p.add_argument("--ketch-host", help="an existing ketchd (default: start one)")
    p.add_argument("--docker-host", help="also measure this dockerd")
    args = p.parse_args()

    root = tempfile.mkdtemp(prefix="kb-sl-")
    proc = None
    try:
        host = args.ketch_host
        if host is None:
            proc, host = start_ketchd(root)
        archive = os.path.join(root, "image.tar")
        content = make_archive(archive, args.layers, args.size_mb)
        mb = content / 1e6
        print(f"image: {args.layers} layers, {mb:.0f} MB of files, archive {os.path.getsize(archive) / 1e6:.0f} MB")
        daemons = {"ketch": docker.DockerClient(base_url=host, timeout=600)}
        if args.docker_host:
            daemons["docker"] = docker.DockerClient(base_url=args.docker_host, timeout=600)
        results: dict[str, dict[str, list[float]]] = {n: {"load": [], "save": []} for n in daemons}
        for _ in range(args.runs):
            for name, client in daemons.items():
                results[name]["load"].append(mb / load(client, archive))
                results[name]["save"].append(mb / save(client, os.path.join(root, "out.tar")))
        for name, client in daemons.items():
            for op in ("load", "save"):
                print(f"{name:<7} {op}  median {statistics.median(results[name][op]):7.1f} MB/s   "
                      f"({', '.join(f'{v:.0f}' for v in results[name][op])})")
            client.images.remove(NAME, force=True)
            client.close()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
