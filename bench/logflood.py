#!/usr/bin/env python3
"""A container printing as fast as it can: does the log stay bounded, ketchd responsive,
memory flat?

Starts a ketchd of its own on a temporary root (its own cgroup parent), runs
`busybox yes` detached with `--log-opt max-size=10m --log-opt max-file=3` (options below)
for N seconds, and samples once a second: the latency of `ketch ps`, the Rss of ketchd
and of the container's monitor (with its gzip child, if any), and the bytes of the
container's log files on disk. Then removes the container, stops ketchd by PID, removes
the root and checks that nothing is left (supervision_memory.py's checks).

    flock /tmp/ketch-test.lock .venv/bin/python3 bench/logflood.py               # 60 s
    flock /tmp/ketch-test.lock .venv/bin/python3 bench/logflood.py --seconds 10 --compress
"""

import argparse
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from supervision_memory import (  # noqa: E402
    children_of, cgroup_dirs, fork_server_of, ketch, leftovers, monitors_of, mounts_under,
    remove_cgroups, rollup, start_ketchd, stat)


def ps_latency(env: dict) -> float:
    t0 = time.perf_counter()
    ketch(env, "ps")
    return (time.perf_counter() - t0) * 1000


def log_bytes(directory: str, cid: str) -> tuple[int, int]:
    """(bytes, files) of the container's log files."""
    total = files = 0
    for name in os.listdir(directory):
        if name.startswith(f"{cid}-json.log"):
            try:
                total += os.path.getsize(os.path.join(directory, name))
                files += 1
            except FileNotFoundError:  # rotated away between the listing and the stat
                pass
    return total, files


def rss_kib(pid: int) -> int:
    try:
        return rollup(pid).get("Rss", 0)
    except OSError:
        return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--max-size", default="10m")
    p.add_argument("--max-file", default="3")
    p.add_argument("--compress", action="store_true")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("must run as root", file=sys.stderr)
        return 1
    root = tempfile.mkdtemp(prefix="ketch-bench-flood-", dir="/tmp")
    cgroup_parent = f"/ketch-bench-{secrets.token_hex(4)}"
    ketchd = env = None
    seen: dict[int, int] = {}
    problems: list[str] = []
    status = 0
    try:
        ketchd, env = start_ketchd(root, cgroup_parent)
        before = [ps_latency(env) for _ in range(10)]
        opts = ["--log-opt", f"max-size={args.max_size}", "--log-opt", f"max-file={args.max_file}"]
        if args.compress:
            opts += ["--log-opt", "compress=true"]
        cid = ketch(env, "run", "-d", *opts, "busybox", "yes").stdout.strip()
        directory = os.path.join(root, "data", "containers", cid)
        time.sleep(0.5)
        fs = fork_server_of(ketchd.pid)
        monitor = monitors_of(fs)[0]
        for pid in (fs, monitor):
            seen[pid] = (stat(pid) or ("", 0, 0))[2]
        samples = []  # (t, ps ms, ketchd KiB, monitor KiB, log bytes, files)
        cpu0 = (cpu_seconds(ketchd.pid), cpu_seconds(monitor))
        t0 = time.monotonic()
        while (t := time.monotonic() - t0) < args.seconds:
            latency = ps_latency(env)
            helpers = sum(rss_kib(c) for c in children_of(monitor) if (stat(c) or ("",))[0] == "ketch-monitor")
            size, files = log_bytes(directory, cid)
            samples.append((t, latency, rss_kib(ketchd.pid), rss_kib(monitor) + helpers, size, files))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0 - t)))
        elapsed = time.monotonic() - t0
        cpu = (cpu_seconds(ketchd.pid) - cpu0[0], cpu_seconds(monitor) - cpu0[1])
        lines = sum(1 for _ in ketch(env, "logs", "--tail", "all", cid).stdout.splitlines())
        during = [s[1] for s in samples]
        first, last = samples[0], samples[-1]
        print(f"yes for {args.seconds:.0f} s, --log-opt max-size={args.max_size} max-file={args.max_file}"
              f"{' compress=true' if args.compress else ''}")
        print(f"ketch ps before   median {statistics.median(before):6.1f} ms   max {max(before):6.1f} ms")
        print(f"ketch ps during   median {statistics.median(during):6.1f} ms   p90 {pct(during, 0.9):6.1f} ms"
              f"   max {max(during):6.1f} ms   ({len(during)} samples)")
        print(f"ketchd Rss        first {first[2] / 1024:6.1f} MiB   last {last[2] / 1024:6.1f} MiB"
              f"   max {max(s[2] for s in samples) / 1024:6.1f} MiB")
        print(f"monitor Rss       first {first[3]:6d} KiB   last {last[3]:6d} KiB"
              f"   max {max(s[3] for s in samples):6d} KiB (with its gzip child)")
        peak = max(s[4] for s in samples)
        print(f"log on disk       max {peak:,} bytes ({peak / 2**20:.2f} MiB) in at most "
              f"{max(s[5] for s in samples)} files   at the end {last[4]:,} bytes")
        print(f"CPU               ketchd {100 * cpu[0] / elapsed:5.1f} %   monitor {100 * cpu[1] / elapsed:5.1f} %"
              " of one core (the output reaches ketchd too: it fans it out to attached clients)")
        print(f"`logs` read back  {lines} lines")
    except BaseException as exc:  # noqa: BLE001 - report, then clean up
        print(f"FAILED: {exc!r}", file=sys.stderr)
        status = 1
    finally:
        if env is not None and ketchd is not None and ketchd.poll() is None:
            ids = ketch(env, "ps", "-aq", check=False).stdout.split()
            if ids and ketch(env, "rm", "-f", *ids, check=False).returncode != 0:
                problems.append("ketch rm -f failed")
        if ketchd is not None and ketchd.poll() is None:
            os.kill(ketchd.pid, signal.SIGTERM)
            try:
                ketchd.wait(30)
            except subprocess.TimeoutExpired:
                problems.append("ketchd did not stop on SIGTERM; killed")
                os.kill(ketchd.pid, signal.SIGKILL)
                ketchd.wait()
        time.sleep(0.5)
        for pid, comm in leftovers(root, cgroup_parent, seen):
            problems.append(f"process {pid} ({comm}) still alive; killed")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if mounts_under(root):
            problems.append(f"mounts left under {root}: {mounts_under(root)[:5]}")
        else:
            shutil.rmtree(root, ignore_errors=True)
        if cgroup_dirs(cgroup_parent):
            problems.append(f"cgroup parent {cgroup_parent} left behind: {remove_cgroups(cgroup_parent)[:3]}")
        for problem in problems:
            print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems or status else 0


if __name__ == "__main__":
    sys.exit(main())
