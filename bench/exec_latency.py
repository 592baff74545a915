#!/usr/bin/env python3
"""Median end-to-end latency of `exec CONTAINER true`, ketch beside Docker when given.

Three views of the same operation, each against a running busybox container:

- `ketch exec C true`: the CLI process, start to exit (what a user waits for);
- `docker exec C true` against ketchd (and against dockerd with --docker-host);
- the API round trip a client makes (exec create, start attached until the stream
  ends, inspect for the exit code) from a warm client, without any CLI start-up.

Starts a ketchd of its own on a temporary root (or uses --ketch-host) and runs the
commands interleaved so ketch and Docker see the same machine noise.

    .venv/bin/python3 bench/exec_latency.py
    .venv/bin/python3 bench/exec_latency.py --docker-host unix:///tmp/d/docker.sock

Docker needs a busybox image: `tar -C rootfs -c . | docker import -c 'CMD ["sh"]' - busybox`.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "bench"))

from run_latency import summary, timed  # noqa: E402

# This checkout's CLI and daemon, not whichever .venv/bin launchers were installed last.
_LAUNCH = "import sys; sys.path.insert(0, sys.argv[1]); from ketch.{}.main import main; sys.exit(main(sys.argv[2:]))"
KETCH = [sys.executable, "-I", "-S", "-c", _LAUNCH.format("cli"), REPO]
KETCHD = [sys.executable, "-I", "-c", _LAUNCH.format("daemon"), REPO]


def start_ketchd(root: str) -> tuple[subprocess.Popen, str]:
    host = f"unix://{root}/ketch.sock"
    with open(os.path.join(root, "daemon.json"), "w") as f:
        f.write("{}")
    proc = subprocess.Popen([*KETCHD, "-H", host, "--data-root", f"{root}/data", "--exec-root",
                             f"{root}/exec", "--config-file", f"{root}/daemon.json"],
                            stdout=subprocess.DEVNULL, stderr=open(f"{root}/ketchd.log", "w"))
    env = dict(os.environ, KETCH_HOST=host)
    for _ in range(300):
        if subprocess.run([*KETCH, "version"], env=env, capture_output=True).returncode == 0:
            return proc, host
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("ketchd did not start")


def api_exec(host: str, container: str):
    from churn import Api
    from ketch.client.api import API_VERSION, APIClient
    server = Api(host)("GET", "/version")[1]["ApiVersion"]  # dockerd 20.10 speaks only 1.41
    client = APIClient(host, min(API_VERSION, server, key=lambda v: tuple(map(int, v.split(".")))))

    def once() -> float:
        t0 = time.perf_counter()
        eid = client.exec_create(container, {"Cmd": ["true"], "AttachStdout": True, "AttachStderr": True})
        hijacked = client.exec_attach(eid, False)
        while hijacked.recv():
            pass
        hijacked.close()
        if client.exec_inspect(eid)["ExitCode"] != 0:
            raise SystemExit("exec true failed")
        return (time.perf_counter() - t0) * 1000
    return once


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--runs", type=int, default=30)
    p.add_argument("--ketch-host", help="use this ketchd instead of starting one")
    p.add_argument("--docker-host", help="also measure docker against this dockerd (unix://...)")
    args = p.parse_args()

    root = proc = None
    if args.ketch_host:
        host = args.ketch_host
    else:
        root = tempfile.mkdtemp(prefix="ketch-bench-", dir="/tmp")
        proc, host = start_ketchd(root)
    kenv = dict(os.environ, KETCH_HOST=host, DOCKER_HOST=host)
    denv = dict(os.environ, DOCKER_HOST=args.docker_host or "")
    name = f"exec-bench-{os.getpid()}"
    docker_on = shutil.which("docker") is not None
    try:
        subprocess.run([*KETCH, "run", "-d", "--name", name, "busybox", "sleep", "3600"], env=kenv,
                       check=True, stdout=subprocess.DEVNULL)
        if args.docker_host:
            subprocess.run(["docker", "run", "-d", "--network", "none", "--name", name, "busybox",
                            "sleep", "3600"], env=denv, check=True, stdout=subprocess.DEVNULL)
        rows = {"ketch exec C true": ([*KETCH, "exec", name, "true"], kenv)}
        if docker_on:
            rows["docker exec C true (ketchd)"] = (["docker", "exec", name, "true"], kenv)
        if args.docker_host:
            rows["docker exec C true (dockerd)"] = (["docker", "exec", name, "true"], denv)
        samples: dict[str, list[float]] = {k: [] for k in rows}
        api = api_exec(host, name)
        api_samples: list[float] = []
        docker_api = api_exec(args.docker_host, name) if args.docker_host else None
        docker_api_samples: list[float] = []
        for i in range(args.runs + 3):  # the first three warm caches
            for key, (cmd, env) in rows.items():
                t = timed(cmd, env)
                if i >= 3:
                    samples[key].append(t)
            t = api()
            if i >= 3:
                api_samples.append(t)
            if docker_api is not None:
                t = docker_api()
                if i >= 3:
                    docker_api_samples.append(t)
        for key, values in samples.items():
            print(summary(key, values))
        print(summary("API create+start+inspect (ketchd)", api_samples))
        if docker_api_samples:
            print(summary("API create+start+inspect (dockerd)", docker_api_samples))
    finally:
        subprocess.run([*KETCH, "rm", "-f", name], env=kenv, capture_output=True)
        if args.docker_host:
            subprocess.run(["docker", "rm", "-f", name], env=denv, capture_output=True)
        if proc is not None:
            proc.terminate()
            proc.wait(20)
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
