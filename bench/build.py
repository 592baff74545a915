#!/usr/bin/env python3
"""What a build costs: a 5-step Dockerfile built cold, fully cached, and after a one-file
change, with `ketch build` against ketchd and beside Docker's classic builder
(`DOCKER_BUILDKIT=0 docker build` against a dockerd of the bench's own).

    flock /tmp/ketch-test.lock timeout 900 .venv/bin/python3 bench/build.py
    .venv/bin/python3 bench/build.py --no-docker -n 10
    .venv/bin/python3 bench/build.py --docker-cli     # also the docker client against ketchd

The Dockerfile (FROM and five steps: ENV, WORKDIR, COPY of a 20-file source tree, a RUN
that writes a file, CMD):

1. cold: `build --no-cache`: every step runs (the base image is local);
2. cached: the same context again: every step a cache hit (the issue's target: under
   60 ms end to end for ketch);
3. one-file change: one source file rewritten (new content each run): COPY and the steps
   after it run again, ENV and WORKDIR are hits.

Times are end to end (the client's start, the context sent, the build, the image tagged),
interleaved (every engine in turn each round, the first round discarded), median and p90
in ms. The engines are bench/network.py's (a ketchd of this checkout, a dockerd in a netns
of its own, both removed at the end with what they made, on failure too); RUN steps use
the default network, as a user's build does (--network none to leave it out).
"""

import argparse
import os
import signal
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench.network import (Docker, Engine, Ketch, clean_up, import_busybox, make_netns,  # noqa: E402
                           netns_dockerd, summary)

TAG = "kbench-build:latest"
DOCKERFILE = """FROM busybox
ENV APP=/app
WORKDIR /app
COPY src/ /app/src/
RUN echo built > /app/built && ls /app/src | wc -l > /app/count
CMD ["cat", "/app/built"]
"""
SOURCES = 20
CHANGED = "src/file07.txt"
TARGETS = {"cold": 700.0, "cached": 60.0}  # ms, ketch (issue 12)


class DockerBuilds(Docker):
    """The docker client with the classic builder (BuildKit off), against ``host``."""

    def __init__(self, host: str, netns: str | None = None, name: str = "docker") -> None:
        super().__init__(host, netns, host_address="-")
        self.name = name
        self.env = dict(self.env, DOCKER_BUILDKIT="0", DOCKER_CLI_HINTS="false")


def make_context(workdir: str) -> str:
    ctx = os.path.join(workdir, "context")
    os.makedirs(os.path.join(ctx, "src"))
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(DOCKERFILE)
    for i in range(SOURCES):
        with open(os.path.join(ctx, "src", f"file{i:02d}.txt"), "w") as f:
            f.write(f"source file {i}\n" * 50)
    return ctx


def build_args(ctx: str, network: str | None, *extra: str) -> tuple[str, ...]:
    net = ("--network", network) if network else ()
    return ("build", *net, *extra, "-t", TAG, ctx)


def measure(engines: list[Engine], ctx: str, runs: int, network: str | None) -> dict:
    """{(engine, scenario): [ms, ...]}: each round, every engine builds cold, cached and
    after a change, in turn."""
    scenarios = ("cold", "cached", "one-file change")
    samples: dict = {(e.name, s): [] for e in engines for s in scenarios}
    for e in engines:  # the base image's first use and the cache's first entries: not timed
        e.run(*build_args(ctx, network))
    counter = 0
    for i in range(1 + runs):
        for e in engines:
            times = {"cold": e.timed(*build_args(ctx, network, "--no-cache"))}
            e.run(*build_args(ctx, network))  # the cache holds this context's steps again
            times["cached"] = e.timed(*build_args(ctx, network))
            counter += 1
            with open(os.path.join(ctx, CHANGED), "w") as f:
                f.write(f"changed {counter}\n")
            times["one-file change"] = e.timed(*build_args(ctx, network))
            if i >= 1:  # the first round warms the page cache and the clients
                for s, t in times.items():
                    samples[(e.name, s)].append(t)
    return samples


def report(engines: list[Engine], samples: dict, runs: int) -> None:
    print(f"\n5-step build, end to end (n={runs}, interleaved; ms)")
    print(f"   {'':<16}{'scenario':<18}{'median':>10}{'p90':>10}{'vs docker':>11}")
    docker = next((e for e in engines if e.name == "docker"), None)
    for e in engines:
        for s in ("cold", "cached", "one-file change"):
            median, p90 = summary(samples[(e.name, s)])
            ratio = ""
            if docker is not None and e is not docker:
                ratio = f"{median / summary(samples[('docker', s)])[0]:.2f}x"
            target = TARGETS.get(s) if e.name == "ketch" else None
            mark = f"   (target < {target:.0f}: {'met' if median < target else 'NOT met'})" if target else ""
            print(f"   {e.name:<16}{s:<18}{median:>10.1f}{p90:>10.1f}{ratio:>11}{mark}")


def check(engines: list[Engine]) -> None:
    """The image each engine built runs and says what the RUN step wrote."""
    for e in engines:
        out = e.run("run", "--rm", "--network", "none", TAG).strip()
        if out != "built":
            raise RuntimeError(f"{e.name}: the built image printed {out!r}, not 'built'")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--runs", type=int, default=10, help="rounds of the three builds")
    p.add_argument("--network", help="RUN steps' network (default: the daemon's default)")
    p.add_argument("--docker-host", help="a running dockerd to measure (it needs busybox:latest) "
                   "instead of one of the bench's own")
    p.add_argument("--no-docker", action="store_true", help="measure ketch only")
    p.add_argument("--no-ketch", action="store_true", help="measure Docker only")
    p.add_argument("--docker-cli", action="store_true",
                   help="also the docker client (classic builder) against ketchd")
    args = p.parse_args()

    def interrupted(signum, frame):  # `timeout` and Ctrl-C clean up through the finally
        raise SystemExit(f"interrupted by signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)

    workdir = tempfile.mkdtemp(prefix="kb-build-", dir="/tmp")
    netns = f"kb-dockerd-{os.getpid()}"
    ketch = dockerd = None
    made_netns = False
    problems: list = []
    try:
        ctx = make_context(workdir)
        engines: list[Engine] = []
        if not args.no_ketch:
            ketch = Ketch()
            ketch.start()
            engines.append(ketch)
            if args.docker_cli:
                engines.append(DockerBuilds(ketch.daemon.host, name="docker->ketchd"))
        if args.docker_host:
            engines.append(DockerBuilds(args.docker_host))
        elif not args.no_docker:
            make_netns(netns)
            made_netns = True
            dockerd, unavailable = netns_dockerd(netns)
            try:
                dockerd.start()
            except unavailable as exc:
                print(f"dockerd: not measured ({exc})")
            else:
                docker = DockerBuilds(dockerd.host, netns)
                import_busybox(docker, workdir)
                engines.append(docker)
        if not engines:
            raise SystemExit("nothing to measure")
        for e in engines:
            print(f"{e.name}: {e.run('version', '--format', '{{.Server.Version}}').strip()}")
        samples = measure(engines, ctx, args.runs, args.network)
        check(engines)
        report(engines, samples, args.runs)
    finally:
        problems += clean_up(dockerd, netns if made_netns else None, ketch, workdir)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
