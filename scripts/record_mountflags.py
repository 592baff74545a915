#!/usr/bin/env python3
"""Record the mount flags' part of the create body the real docker CLI sends, or how it
fails: tests/golden/mountflags_docker28.jsonl (tests/unit/test_mountopts.py).

    scripts/record_mountflags.py [CASES] [GOLDEN]

Each line of CASES is what goes between ``docker create`` and the image (shell quoting).
docker runs in a temporary directory against tests/fakedaemon.py; relative bind sources
are made absolute client-side, so that directory is written ``$PWD`` in the golden (its
parent ``$PARENT``). Binds come out of a Go map in random order: they are recorded sorted
(and a case whose error depends on that order does not belong in CASES).
"""

import json
import os
import shlex
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from scripts.record_docker_cli import ketchify  # noqa: E402
from tests.fakedaemon import FakeDaemon  # noqa: E402

CANNED = [["POST", "/containers/create", 201, {"Id": "0123456789ab", "Warnings": []}]]
HOST_FIELDS = ("Binds", "Mounts", "Tmpfs", "VolumesFrom", "VolumeDriver")


def fields(body: dict) -> dict:
    out = {"Volumes": body.get("Volumes"), **{k: body["HostConfig"].get(k) for k in HOST_FIELDS}}
    if out["Binds"]:
        out["Binds"] = sorted(out["Binds"])
    return out


def record(daemon: FakeDaemon, argv: list[str], cwd: str, config: str) -> dict:
    daemon.log.clear()
    env = dict(os.environ, DOCKER_CONFIG=config)
    env.pop("DOCKER_CONTEXT", None)
    res = subprocess.run(["docker", "-H", f"unix://{daemon.socket}", "create", *argv, "busybox"],
                         capture_output=True, text=True, env=env, cwd=cwd, timeout=60)
    case: dict = {"argv": argv}
    if res.returncode == 0:
        (body,) = [r[3] for r in daemon.requests() if r[1].endswith("/containers/create")]
        case["fields"] = json.loads(json.dumps(fields(body)).replace(cwd, "$PWD")
                                    .replace(os.path.dirname(cwd), "$PARENT"))
        if res.stderr:
            case["stderr"] = ketchify(res.stderr)
    else:
        case.update(exit=res.returncode, stderr=ketchify(res.stderr))
    return case


def main() -> int:
    cases_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "tests/golden/mountflags_cases.txt")
    golden = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "tests/golden/mountflags_docker28.jsonl")
    out = []
    with tempfile.TemporaryDirectory() as tmp, \
            FakeDaemon(os.path.join(tmp, "api.sock"), CANNED) as daemon:
        cwd = os.path.join(tmp, "cwd")
        os.mkdir(cwd)
        for line in open(cases_path):
            if line.strip() and not line.startswith("#"):
                out.append(record(daemon, shlex.split(line), cwd, tmp))
    with open(golden, "w") as f:
        f.writelines(json.dumps(case) + "\n" for case in out)
    print(f"{len(out)} cases", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
