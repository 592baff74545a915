#!/usr/bin/env python3
"""Pull and push throughput of a ~200 MB multi-layer image against a local docker-registry,
for ketch and, when Debian's dockerd is installed, for a dockerd of the bench's own.

    .venv/bin/python3 bench/registry.py                  # 4 layers of 50 MB, 3 rounds each
    .venv/bin/python3 bench/registry.py --size-mb 200 --layers 4 --rounds 3 --no-docker

The image is made here (half random bytes, half repetitive text per file, gzip'd: about
half the size compressed) and uploaded straight to the registry with ketch's registry
client. A pull round is ``pull`` of the image whose layers are absent (``rmi`` before
each round removes them); a push round is ``push`` to a fresh registry, so every blob is
sent. MB/s are the image's unpacked size (what ``images`` shows) over the wall time of
the CLI command, as the issue's figures were taken; the compressed rate is shown beside.
Both dockerd and the registries listen on 127.0.0.1 only; dockerd pushes to and pulls
from it over plain HTTP, as it does for loopback registries.
"""

import argparse
import gzip
import hashlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
PYTHON = os.path.join(REPO, ".venv", "bin", "python3")

from tests.integration.registries import DockerRegistry  # noqa: E402

MB = 1_000_000


def make_layer(index: int, size: int) -> tuple[bytes, str, int]:
    """(gzip blob, diff_id, unpacked bytes) of one layer of ``size`` bytes in 1 MB files."""
    text = (b"ketch registry bench line %d: the quick brown fox jumps over the lazy dog\n" % index) * 8000
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for n in range(max(1, size // MB)):
            data = os.urandom(MB // 2) + text[:MB - MB // 2]
            info = tarfile.TarInfo(f"layer{index}/file{n:04d}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    try:
        from isal import igzip
        blob = igzip.compress(raw, 1)
    except ImportError:
        blob = gzip.compress(raw, 1, mtime=0)
    return blob, "sha256:" + hashlib.sha256(raw).hexdigest(), len(raw)


def upload_image(registry: DockerRegistry, name: str, size: int, layers: int) -> tuple[int, int]:
    """Make the image and put it in ``registry`` as ``name``; (unpacked, compressed) bytes."""
    import json
    from ketch.oci import reference
    from ketch.registry.client import remote
    from ketch.registry.client.transport import Session
    session = Session()
    ref = reference.parse(f"{registry.host}/{name}")
    repo = remote.open_repository(session, ref, push=True)
    descs, diff_ids, unpacked, packed = [], [], 0, 0
    for i in range(layers):
        blob, diff_id, raw = make_layer(i, size // layers)
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        repo.upload_blob(digest, len(blob), blob)
        descs.append({"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                      "digest": digest, "size": len(blob)})
        diff_ids.append(diff_id)
        unpacked += raw
        packed += len(blob)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "created": "2026-12-01T00:00:00Z",
                         "history": [{"created_by": "bench"} for _ in diff_ids]}).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    repo.upload_blob(config_digest, len(config), config)
    media = "application/vnd.docker.distribution.manifest.v2+json"
    manifest = json.dumps({"schemaVersion": 2, "mediaType": media,
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                      "digest": config_digest, "size": len(config)},
                           "layers": descs}).encode()
    repo.put_manifest(ref.tag, manifest, media)
    session.close()
    return unpacked, packed


def run(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {res.stderr.decode()}")
    return elapsed


def start_ketchd(root: str) -> tuple[subprocess.Popen, str]:
    host = f"unix://{root}/ketch.sock"
    with open(os.path.join(root, "daemon.json"), "w") as f:
        f.write('{"cgroup-parent": "/%s"}' % os.path.basename(root))
    proc = subprocess.Popen(
        [PYTHON, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "from ketch.daemon.main import main; sys.exit(main(sys.argv[2:]))", REPO,
         "-H", host, "--data-root", f"{root}/data", "--exec-root", f"{root}/exec",
         "--config-file", f"{root}/daemon.json"],
        stdout=subprocess.DEVNULL, stderr=open(f"{root}/ketchd.log", "w"))
    for _ in range(300):
        if os.path.exists(f"{root}/ketch.sock"):
            return proc, host
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("ketchd did not start")


def ketch_cmd(*args: str) -> list[str]:
    return [PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
            "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO, *args]


def cpu_seconds(pid: int | None) -> float:
    """User + system time of a process so far (all its threads)."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(label: str, cli, env: dict, source: DockerRegistry, name: str, rounds: int,
            unpacked: int, packed: int, pid: int | None = None) -> None:
    image = f"{source.host}/{name}"
    pulls, pushes, cpu = [], [], []
    for i in range(rounds):
        before = cpu_seconds(pid)
        pulls.append(run(cli("pull", image), env))
        cpu.append(cpu_seconds(pid) - before)
        with DockerRegistry() as target:
            pushed = f"{target.host}/bench/pushed:{i}"
            run(cli("tag", image, pushed), env)
            pushes.append(run(cli("push", pushed), env))
            run(cli("rmi", pushed), env)
        run(cli("rmi", image), env)
    for what, samples in (("pull", pulls), ("push", pushes)):
        t = statistics.median(samples)
        print(f"{label:<8} {what}  median {t:6.2f} s  {unpacked / MB / t:7.1f} MB/s unpacked  "
              f"{packed / MB / t:7.1f} MB/s compressed  (runs: {', '.join(f'{s:.2f}' for s in samples)})")
    if pid is not None:
        print(f"{label:<8} daemon CPU per pull: {statistics.median(cpu):.2f} s")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mb", type=int, default=200)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-docker", action="store_true", help="measure ketch only")
    args = p.parse_args()
    with DockerRegistry() as source:
        unpacked, packed = upload_image(source, "bench/image:1", args.size_mb * MB, args.layers)
        print(f"image: {args.layers} layers, {unpacked / MB:.0f} MB unpacked, {packed / MB:.0f} MB gzip'd")
        root = tempfile.mkdtemp(prefix="kt-bench-", dir="/tmp")
        proc, host = start_ketchd(root)
        try:
            measure("ketch", ketch_cmd, dict(os.environ, KETCH_HOST=host), source, "bench/image:1",
                    args.rounds, unpacked, packed, proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
            shutil.rmtree(root, ignore_errors=True)
        if args.no_docker:
            return 0
        from tests.integration.differential.dockerd import Dockerd, DockerdUnavailable
        dockerd = Dockerd()
        try:
            dockerd.start()
        except DockerdUnavailable as exc:
            print(f"dockerd: not measured ({exc})")
            dockerd.stop()
            return 0
        try:
            measure("dockerd", lambda *a: ["docker", *a], dict(os.environ, DOCKER_HOST=dockerd.host),
                    source, "bench/image:1", args.rounds, unpacked, packed)
        finally:
            left = dockerd.stop()
            if left:
                print(f"dockerd left: {left}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
