#!/usr/bin/env python3
"""What compose costs: `up -d` and `down` of a 5-service project, end to end, with
ketch compose against ketchd, ketch compose against dockerd, and Docker's compose 1.29
(Debian's docker-compose) against dockerd.

    flock /tmp/ketch-test.lock timeout 900 .venv/bin/python3 bench/compose.py
    .venv/bin/python3 bench/compose.py --no-docker -n 20
    .venv/bin/python3 bench/compose.py --v1-on-ketchd    # also docker-compose 1.29 -> ketchd

The project (busybox, the image each engine has): five services on the project's default
network, one publishing a port, one with a named volume, a depends_on chain (web -> api ->
db); each container ends on SIGTERM at once, so `down` measures the engine, not a stop
timeout. A round, for every client in turn: `up -d` (network, volume, five containers
created and started) timed, then `down -v` (five stopped and removed, the network and the
volume removed) timed; the first round is discarded; median and p90 in ms. After each
`up -d` the bench checks that five containers of the project run, after `down` that none
is left. The issue's target: `up -d` under 500 ms for ketch compose on ketchd.

ketch compose pins DOCKER_API_VERSION to what dockerd answers (20.10: 1.41; ketch's client
does not negotiate); docker-compose 1.29 negotiates (docker-py's "auto").

The engines are bench/network.py's: a ketchd of this checkout on a root of its own, and a
dockerd in a network namespace of its own (busybox `docker import`ed), both removed at the
end with what they made, on failure too.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench.network import (PYTHON, Docker, Ketch, clean_up, import_busybox, make_netns,  # noqa: E402
                           netns_dockerd, summary)

PROJECT = "kbench-compose"
TARGET_UP = 500.0  # ms, ketch compose -> ketchd (issue 13)
TERMINABLE = "trap 'exit 0' TERM; sleep 1000 & wait"
COMPOSE = f"""services:
  web:
    image: busybox
    command: ["sh", "-c", "{TERMINABLE}"]
    ports: ["8080"]
    depends_on: [api]
  api:
    image: busybox
    command: ["sh", "-c", "{TERMINABLE}"]
    environment: {{DB_HOST: db}}
    depends_on: [db]
  db:
    image: busybox
    command: ["sh", "-c", "{TERMINABLE}"]
    volumes: ["dbdata:/var/lib/data"]
  cache:
    image: busybox
    command: ["sh", "-c", "{TERMINABLE}"]
  worker:
    image: busybox
    command: ["sh", "-c", "{TERMINABLE}"]
    environment: {{QUEUE: cache}}
volumes:
  dbdata:
"""
SERVICES = 5


class Client:
    """A compose client pointed at one engine's socket."""

    def __init__(self, name: str, argv: list[str], host: str, api_version: str = "") -> None:
        self.name, self.argv, self.host = name, argv, host
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "KETCH_", "COMPOSE_"))}
        self.env.update(DOCKER_HOST=host, KETCH_HOST=host)
        if api_version:
            self.env["DOCKER_API_VERSION"] = api_version

    def run(self, workdir: str, *args: str) -> float:
        """``args`` run in ``workdir``; its time in ms (a failure raises)."""
        t0 = time.perf_counter()
        res = subprocess.run([*self.argv, "-p", PROJECT, *args], cwd=workdir, env=self.env,
                             capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        elapsed = (time.perf_counter() - t0) * 1000
        if res.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)} exited {res.returncode}:\n{res.stdout}{res.stderr}")
        return elapsed

    def running(self) -> int:
        """How many of the project's containers run (the docker client, the same for all)."""
        out = subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}"],
                             env=self.env, capture_output=True, text=True,
                             timeout=30)
        return len(out.stdout.split())


def ketch_compose(host: str, on: str, api_version: str = "") -> Client:
    """This checkout's compose, started as the ketch-compose launcher starts it (-I);
    ``api_version``: DOCKER_API_VERSION, for an engine older than API 1.45."""
    argv = [PYTHON, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
            "from ketch.compose.main import main; sys.exit(main(sys.argv[2:]))", REPO]
    return Client(f"ketch compose -> {on}", argv, host, api_version)


def docker_compose(host: str, on: str) -> Client:
    """docker-compose 1.29 negotiates the version itself (docker-py's "auto")."""
    return Client(f"docker-compose 1.29 -> {on}", ["docker-compose", "--ansi", "never"], host)


def engine_api_version(host: str) -> str:
    """The newest API version the engine at ``host`` speaks (dockerd 20.10: 1.41)."""
    out = subprocess.run(["docker", "version", "--format", "{{.Server.APIVersion}}"],
                         env=dict(os.environ, DOCKER_HOST=host), capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def measure(clients: list[Client], workdir: str, runs: int) -> dict:
    samples: dict = {(c.name, op): [] for c in clients for op in ("up -d", "down")}
    for i in range(1 + runs):
        for c in clients:
            up = c.run(workdir, "up", "-d")
            if c.running() != SERVICES:
                raise RuntimeError(f"{c.name}: {c.running()} containers run after up -d, not {SERVICES}")
            down = c.run(workdir, "down", "-v")
            if c.running() != 0:
                raise RuntimeError(f"{c.name}: containers left after down")
            if i >= 1:  # the first round warms the page cache, the clients and the image
                samples[(c.name, "up -d")].append(up)
                samples[(c.name, "down")].append(down)
    return samples


def report(clients: list[Client], samples: dict, runs: int) -> None:
    print(f"\ncompose, 5 services, end to end (n={runs}, interleaved; ms)")
    print(f"   {'':<32}{'':<8}{'median':>10}{'p90':>10}")
    for c in clients:
        for op in ("up -d", "down"):
            median, p90 = summary(samples[(c.name, op)])
            mark = ""
            if op == "up -d" and c.name == "ketch compose -> ketchd":
                mark = f"   (target < {TARGET_UP:.0f}: {'met' if median < TARGET_UP else 'NOT met'})"
            print(f"   {c.name:<32}{op:<8}{median:>10.1f}{p90:>10.1f}{mark}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--runs", type=int, default=10, help="rounds of up -d and down")
    p.add_argument("--docker-host", help="a running dockerd to measure (it needs busybox:latest) "
                   "instead of one of the bench's own")
    p.add_argument("--no-docker", action="store_true", help="measure ketchd only")
    p.add_argument("--v1-on-ketchd", action="store_true", help="also docker-compose 1.29 against ketchd")
    args = p.parse_args()

    def interrupted(signum, frame):  # `timeout` and Ctrl-C clean up through the finally
        raise SystemExit(f"interrupted by signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)

    workdir = tempfile.mkdtemp(prefix="kb-compose-", dir="/tmp")
    netns = f"kb-dockerd-{os.getpid()}"
    ketch = dockerd = None
    made_netns = False
    problems: list = []
    try:
        with open(os.path.join(workdir, "compose.yaml"), "w") as f:
            f.write(COMPOSE)
        v1 = shutil.which("docker-compose") is not None
        ketch = Ketch()
        ketch.start()
        clients = [ketch_compose(ketch.daemon.host, "ketchd")]
        if args.v1_on_ketchd and v1:
            clients.append(docker_compose(ketch.daemon.host, "ketchd"))
        docker_host = args.docker_host
        if not docker_host and not args.no_docker:
            make_netns(netns)
            made_netns = True
            dockerd, unavailable = netns_dockerd(netns)
            try:
                dockerd.start()
            except unavailable as exc:
                print(f"dockerd: not measured ({exc})")
            else:
                docker_host = dockerd.host
                import_busybox(Docker(docker_host, netns), workdir)
        if docker_host:
            clients.append(ketch_compose(docker_host, "dockerd", engine_api_version(docker_host)))
            if v1:
                clients.append(docker_compose(docker_host, "dockerd"))
            else:
                print("docker-compose 1.29: not measured (scripts/install.sh --with-tests installs it)")
        samples = measure(clients, workdir, args.runs)
        report(clients, samples, args.runs)
    finally:
        problems += clean_up(dockerd, netns if made_netns else None, ketch, workdir)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
