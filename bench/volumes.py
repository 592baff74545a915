#!/usr/bin/env python3
"""What volumes cost: a named volume, an anonymous one, a bind mount and a tmpfs added to
`run --rm busybox true`, and the copy-up of a 50 MB image directory into a new volume,
for ketch and beside Docker.

    flock /tmp/ketch-test.lock timeout 900 .venv/bin/python3 bench/volumes.py
    .venv/bin/python3 bench/volumes.py --no-docker -n 10

1. `run --rm --network none busybox true`, plain and with `-v NAME:/d` (a volume made
   beforehand), `-v /d` (an anonymous volume, made and removed by each run),
   `-v HOSTDIR:/d` and `--tmpfs /t`; interleaved (every variant of every engine in turn,
   so all see the same machine noise); median and p90 of each, and what the mount adds
   to the plain run (difference of medians).
2. Copy-up: an image whose VOLUME /data holds 50 MB (--files files of equal size, random
   bytes), run as `run --rm -v NEW:/data IMAGE true` with a volume not yet made (seeded
   from the image) and with `-v NEW:/data:nocopy` (not seeded); the difference of the
   medians is the copy, given also as MB/s. The volumes are removed between runs (not timed).

The engines are bench/network.py's: a ketchd of this checkout on a root of its own, and
a dockerd of the bench's own in a network namespace of its own (or --docker-host), both
removed at the end with all they made, on failure too. Runs use `--network none`: what
is measured is the mounts, not the networking.
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

IMAGE = "kbench-volimg:latest"
MB = 1_000_000


def run_overhead(engines: list[Engine], runs: int, hostdir: str) -> None:
    variants = {"plain": (), "named -v": ("-v", "kbench-named:/d"), "anonymous -v": ("-v", "/d"),
                "bind -v": ("-v", f"{hostdir}:/d"), "--tmpfs": ("--tmpfs", "/t")}
    for e in engines:
        e.run("volume", "create", "kbench-named")
    print(f"\n1. run --rm --network none busybox true, with one mount (n={runs}, interleaved)")
    samples: dict = {(e.name, v): [] for e in engines for v in variants}
    for i in range(3 + runs):
        for e in engines:
            for v, args in variants.items():
                t = e.timed("run", "--rm", "--network", "none", *args, "busybox", "true")
                if i >= 3:  # the first rounds warm the caches
                    samples[(e.name, v)].append(t)
    print(f"   {'':<8}{'variant':<15}{'median':>10}{'p90':>10}{'added':>10}")
    medians = {}
    for e in engines:
        plain = summary(samples[(e.name, "plain")])[0]
        for v in variants:
            median, p90 = summary(samples[(e.name, v)])
            medians[(e.name, v)] = median
            added = "" if v == "plain" else f"{median - plain:>7.1f} ms"
            print(f"   {e.name:<8}{v:<15}{median:>7.1f} ms{p90:>7.1f} ms{added:>10}")
    if len(engines) == 2:
        k, d = (e.name for e in engines)
        print("   ketch/docker (medians):  " + "  ".join(
            f"{v} {medians[(k, v)] / medians[(d, v)]:.2f}x" for v in variants))
    for e in engines:
        e.run("volume", "rm", "kbench-named")


def make_image(e: Engine, files: int, total: int) -> None:
    """IMAGE: busybox with VOLUME /data holding ``files`` files of random bytes, ``total`` in all."""
    size = total // files
    script = (f"mkdir /data && i=0 && while [ $i -lt {files} ]; do "
              f"head -c {size} /dev/urandom > /data/f$i; i=$((i+1)); done")
    cid = e.run("run", "-d", "--network", "none", "busybox", "sh", "-c", script).strip()
    try:
        if e.run("wait", cid).strip() != "0":
            raise RuntimeError(f"{e.name}: making /data failed: {e.run('logs', cid)}")
        e.run("commit", "-c", 'VOLUME ["/data"]', cid, IMAGE)
    finally:
        e.run("rm", "-f", cid)


def copy_up(engines: list[Engine], runs: int, files: int, total: int) -> None:
    print(f"\n2. copy-up of /data ({total / MB:.0f} MB in {files} files) into a new volume "
          f"(n={runs}, interleaved)")
    for e in engines:
        make_image(e, files, total)
    samples: dict = {(e.name, mode): [] for e in engines for mode in ("copy", "nocopy")}
    for i in range(1 + runs):
        for e in engines:
            for mode in ("copy", "nocopy"):
                spec = "kbench-copy:/data" + (":nocopy" if mode == "nocopy" else "")
                t = e.timed("run", "--rm", "--network", "none", "-v", spec, IMAGE, "true")
                if mode == "copy":  # the copy is there: the volume holds the image's /data
                    got = e.run("run", "--rm", "--network", "none", "-v", "kbench-copy:/v", "busybox",
                                "sh", "-c", "ls /v | wc -l").strip()
                    if got != str(files):
                        raise RuntimeError(f"{e.name}: the volume holds {got} files, not {files}")
                e.run("volume", "rm", "kbench-copy")
                if i >= 1:
                    samples[(e.name, mode)].append(t)
    print(f"   {'':<8}{'copy: median':>14}{'p90':>10}{'nocopy: median':>16}{'p90':>10}{'copy adds':>11}{'MB/s':>8}")
    added = {}
    for e in engines:
        cm, cp = summary(samples[(e.name, "copy")])
        nm, np_ = summary(samples[(e.name, "nocopy")])
        added[e.name] = cm - nm
        rate = f"{total / MB / ((cm - nm) / 1000):>8.0f}" if cm > nm else f"{'-':>8}"
        print(f"   {e.name:<8}{cm:>11.1f} ms{cp:>7.1f} ms{nm:>13.1f} ms{np_:>7.1f} ms{cm - nm:>8.1f} ms{rate}")
    if len(engines) == 2 and all(v > 0 for v in added.values()):
        k, d = (e.name for e in engines)
        print(f"   ketch/docker: copy {added[k] / added[d]:.2f}x the time")
    for e in engines:
        e.run("rmi", IMAGE)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--runs", type=int, default=20, help="runs of each `run --rm` variant")
    p.add_argument("--copy-runs", type=int, default=5, help="runs of each copy-up variant")
    p.add_argument("--files", type=int, default=50, help="files in the image's /data")
    p.add_argument("--mb", type=int, default=50, help="MB in the image's /data")
    p.add_argument("--docker-host", help="a running dockerd to measure (it needs busybox:latest) "
                   "instead of one of the bench's own")
    p.add_argument("--no-docker", action="store_true", help="measure ketch only")
    p.add_argument("--no-ketch", action="store_true", help="measure Docker only")
    p.add_argument("--skip-run", action="store_true", help="only the copy-up part")
    p.add_argument("--skip-copy", action="store_true", help="only the run --rm part")
    args = p.parse_args()

    def interrupted(signum, frame):  # `timeout` and Ctrl-C clean up through the finally
        raise SystemExit(f"interrupted by signal {signum}")
    signal.signal(signal.SIGTERM, interrupted)

    workdir = tempfile.mkdtemp(prefix="kb-vol-", dir="/tmp")
    hostdir = os.path.join(workdir, "bind")
    os.mkdir(hostdir)
    netns = f"kb-dockerd-{os.getpid()}"
    ketch = dockerd = None
    made_netns = False
    problems: list = []
    try:
        engines: list[Engine] = []
        if not args.no_ketch:
            ketch = Ketch()
            ketch.start()
            engines.append(ketch)
        if args.docker_host:
            engines.append(Docker(args.docker_host))
        elif not args.no_docker:
            make_netns(netns)
            made_netns = True
            dockerd, unavailable = netns_dockerd(netns)
            try:
                dockerd.start()
            except unavailable as exc:
                print(f"dockerd: not measured ({exc})")
            else:
                docker = Docker(dockerd.host, netns)
                import_busybox(docker, workdir)
                engines.append(docker)
        if not engines:
            raise SystemExit("nothing to measure")
        for e in engines:
            print(f"{e.name}: {e.run('version', '--format', '{{.Server.Version}}').strip()}")
        if not args.skip_run:
            run_overhead(engines, args.runs, hostdir)
        if not args.skip_copy:
            copy_up(engines, args.copy_runs, args.files, args.mb * MB)
    finally:
        problems += clean_up(dockerd, netns if made_netns else None, ketch, workdir)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
