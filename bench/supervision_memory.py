#!/usr/bin/env python3
"""Memory cost of container supervision: the fork server plus one monitor per container.

Starts a ketchd of its own on a temporary root (its own cgroup parent), runs N detached
`busybox sleep 3600` containers, then sums Pss/Rss from /proc/PID/smaps_rollup over the
processes that supervise them: the fork server that ketchd started, and every monitor
forked by it (found by walking /proc/*/stat parents; nothing else is counted or touched).
Removes every container, stops ketchd by PID, removes the temporary root and checks that
nothing is left (processes, mounts under the root, cgroups under the parent).

    flock /tmp/ketch-test.lock .venv/bin/python3 bench/supervision_memory.py            # N=100
    flock /tmp/ketch-test.lock .venv/bin/python3 bench/supervision_memory.py --count 500
    ... --runtime runc          # monitors driving runc through its CLI instead of ketch's runtime
    ... --smaps-dump DIR        # keep /proc/PID/smaps of the fork server and two monitors
    ... --json                  # one JSON document on stdout as well
    ... --variant freeze        # the fork server with gc.freeze() before serving (bench-only wrapper)
"""

import argparse
import concurrent.futures
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = os.path.join(REPO, ".venv", "bin", "python3")
# .venv/bin/ketch{,d} may belong to another checkout (they insert its path): run this
# checkout's code with the venv's interpreter, the way those scripts do.
KETCH = [PYTHON, "-IS", "-c", f"import sys; sys.path.insert(0, {REPO!r}); "
         "from ketch.cli.main import main; sys.exit(main())"]
KETCHD = [PYTHON, "-I", "-c", f"import sys; sys.path.insert(0, {REPO!r}); "
          "from ketch.daemon.main import main; sys.exit(main())"]
BASE_ENV = dict(os.environ)

# Fork-server variants, measured without touching the product: ketchd is started through a
# wrapper that rewrites the fork server's command line (MonitorLauncher.start's -c code).
VARIANTS = {
    "default": "",
    "freeze": "import gc; gc.freeze(); ",  # after the imports, before serving
    "freeze-disable": "import gc; gc.freeze(); gc.disable(); ",
    "disable": "import gc; gc.disable(); ",
}
WRAPPER = """
import subprocess, sys
sys.path.insert(0, {repo!r})
import ketch.engine.monitors as m
class _Sub:
    def __getattr__(self, name):
        return getattr(subprocess, name)
    @staticmethod
    def Popen(args, **kw):
        needle = "from ketch.monitor.forkserver import serve; "
        args = [a.replace(needle, needle + {prelude!r}) if isinstance(a, str) else a for a in args]
        return subprocess.Popen(args, **kw)
m.subprocess = _Sub()
from ketch.daemon.main import main; sys.exit(main())
"""
FIELDS = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Shared_Clean", "Shared_Dirty",
          "Private_Clean", "Private_Dirty", "Anonymous")


# -- /proc ---------------------------------------------------------------------------
def stat(pid: int) -> tuple[str, int, int] | None:
    """(comm, ppid, starttime) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    comm = data[data.index("(") + 1:data.rindex(")")]
    rest = data[data.rindex(")") + 2:].split()
    return comm, int(rest[1]), int(rest[19])


def children_of(ppid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = stat(int(name))
            if st is not None and st[1] == ppid:
                out.append(int(name))
    return sorted(out)


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def rollup(pid: int) -> dict[str, int]:
    """smaps_rollup fields in kB."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                out[parts[0][:-1]] = int(parts[1])
    return out


def total(rolls: list[dict[str, int]]) -> dict[str, int]:
    return {k: sum(r.get(k, 0) for r in rolls) for k in FIELDS}


# -- ketchd --------------------------------------------------------------------------
def ketch(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run([*KETCH, *args], env=env, capture_output=True, text=True)
    if check and res.returncode != 0:
        raise RuntimeError(f"ketch {' '.join(args)}: exit {res.returncode}: {res.stderr.strip()}")
    return res


def start_ketchd(root: str, cgroup_parent: str, variant: str = "default") -> tuple[subprocess.Popen, dict]:
    host = f"unix://{root}/ketch.sock"
    with open(os.path.join(root, "daemon.json"), "w") as f:
        json.dump({"cgroup-parent": cgroup_parent}, f)
    cmd = KETCHD if variant == "default" else \
        [PYTHON, "-I", "-c", WRAPPER.format(repo=REPO, prelude=VARIANTS[variant])]
    proc = subprocess.Popen([*cmd, "-H", host, "--data-root", f"{root}/data", "--exec-root",
                             f"{root}/exec", "--config-file", f"{root}/daemon.json"],
                            stdout=subprocess.DEVNULL, stderr=open(f"{root}/ketchd.log", "w"), env=BASE_ENV)
    env = dict(BASE_ENV, KETCH_HOST=host)
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"ketchd exited {proc.returncode}; see {root}/ketchd.log")
        if ketch(env, "version", check=False).returncode == 0:
            return proc, env
        time.sleep(0.1)
    raise RuntimeError("ketchd did not start")


def fork_server_of(ketchd_pid: int) -> int:
    for pid in children_of(ketchd_pid):
        if "ketch.monitor.forkserver" in cmdline(pid):
            return pid
    raise RuntimeError("no fork server under ketchd")


def check_code(fs_pid: int) -> None:
    """The fork server must run this checkout's ketch, not another one's."""
    if REPO not in cmdline(fs_pid):
        raise RuntimeError(f"fork server {fs_pid} does not run {REPO}: {cmdline(fs_pid)}")


def monitors_of(fs_pid: int) -> list[int]:
    return [p for p in children_of(fs_pid) if (stat(p) or ("",))[0] == "ketch-monitor"]


# -- clean-up checks -----------------------------------------------------------------
def leftovers(root: str, cgroup_parent: str, seen: dict[int, int]) -> list[tuple[int, str]]:
    pids = {pid for pid, start in seen.items() if (stat(pid) or ("", 0, -1))[2] == start}
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid() and root in cmdline(int(name)):
            pids.add(int(name))
    for top in cgroup_dirs(cgroup_parent):
        for dirpath, _dirs, files in os.walk(top):
            if "cgroup.procs" in files:
                with open(os.path.join(dirpath, "cgroup.procs")) as f:
                    pids.update(int(x) for x in f.read().split())
    return [(pid, (stat(pid) or ("?",))[0]) for pid in sorted(pids) if stat(pid) is not None]


def mounts_under(root: str) -> list[str]:
    real = os.path.realpath(root)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == real or point.startswith(real + "/"):
                out.append(point)
    return out


def cgroup_dirs(parent: str) -> list[str]:
    """The directories named after the bench's cgroup parent in every hierarchy."""
    base = "/sys/fs/cgroup"
    rel = parent.strip("/")
    cands = [os.path.join(base, rel)]
    for h in os.listdir(base):
        cands.append(os.path.join(base, h, rel))
    return [d for d in cands if os.path.isdir(d)]


def remove_cgroups(parent: str) -> list[str]:
    """rmdir (bottom-up) what is left under the bench's own parent; returns what stays."""
    left = []
    for top in cgroup_dirs(parent):
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError:
                left.append(dirpath)
    return left


# -- the measurement -----------------------------------------------------------------
def fmt_kib(kb: float) -> str:
    return f"{kb / 1024:8.2f} MiB" if kb >= 1024 else f"{kb:8.0f} KiB"


def measure(ketchd: subprocess.Popen, n: int, smaps_dump: str | None) -> dict:
    fs = fork_server_of(ketchd.pid)
    mons = monitors_of(fs)
    if len(mons) != n:
        raise RuntimeError(f"expected {n} monitors under the fork server {fs}, found {len(mons)}")
    fs_roll = rollup(fs)
    mon_rolls = [rollup(p) for p in mons]
    if smaps_dump:
        os.makedirs(smaps_dump, exist_ok=True)
        for name, pid in (("forkserver", fs), ("monitor-first", mons[0]), ("monitor-last", mons[-1])):
            shutil.copyfile(f"/proc/{pid}/smaps", os.path.join(smaps_dump, f"{name}.smaps"))
    ketchd_roll = rollup(ketchd.pid)
    mt = total(mon_rolls)
    all_t = total([fs_roll] + mon_rolls)
    return {
        "containers": n, "fork_server_pid": fs,
        "fork_server": {k: fs_roll.get(k, 0) for k in FIELDS},
        "monitors_total": mt,
        "monitor_mean": {k: mt[k] / n for k in FIELDS},
        "monitor_pss_min": min(r["Pss"] for r in mon_rolls),
        "monitor_pss_max": max(r["Pss"] for r in mon_rolls),
        "supervision_total": all_t,
        "per_container": {k: all_t[k] / n for k in FIELDS},
        "ketchd": {k: ketchd_roll.get(k, 0) for k in ("Rss", "Pss")},
    }


def report(m: dict) -> None:
    n = m["containers"]
    print(f"containers running                 {n}")
    print(f"fork server                        Pss {fmt_kib(m['fork_server']['Pss'])}   Rss {fmt_kib(m['fork_server']['Rss'])}")
    mm = m["monitor_mean"]
    print(f"one monitor (mean)                 Pss {fmt_kib(mm['Pss'])}   Rss {fmt_kib(mm['Rss'])}"
          f"   Private_Dirty {fmt_kib(mm['Private_Dirty'])}   Pss_Anon {fmt_kib(mm['Pss_Anon'])}"
          f"   Pss_File {fmt_kib(mm['Pss_File'])}")
    print(f"monitor Pss min/max                {fmt_kib(m['monitor_pss_min'])} / {fmt_kib(m['monitor_pss_max'])}")
    t = m["supervision_total"]
    print(f"supervision total (fs + monitors)  Pss {fmt_kib(t['Pss'])}   Rss {fmt_kib(t['Rss'])}")
    pc = m["per_container"]
    print(f"PER CONTAINER                      Pss {fmt_kib(pc['Pss'])}   Rss {fmt_kib(pc['Rss'])}"
          f"   (target: Pss < 1 MiB)")
    print(f"(ketchd itself, not counted)       Pss {fmt_kib(m['ketchd']['Pss'])}   Rss {fmt_kib(m['ketchd']['Rss'])}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", "-n", type=int, default=100)
    p.add_argument("--runtime", default="", help="ketch run --runtime (default: ketch's own)")
    p.add_argument("--parallel", type=int, default=1, help="concurrent `ketch run -d` (default 1; see SUPERVISION.md: 4 hits a race)")
    p.add_argument("--settle", type=float, default=3.0, help="seconds to wait before measuring")
    p.add_argument("--smaps-dump", help="copy /proc/PID/smaps of the fork server and two monitors here")
    p.add_argument("--variant", choices=sorted(VARIANTS), default="default",
                   help="fork-server variant (bench-only wrapper; default: the product as is)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if os.geteuid() != 0:
        print("must run as root", file=sys.stderr)
        return 1

    root = tempfile.mkdtemp(prefix="ketch-bench-sup-", dir="/tmp")
    cgroup_parent = f"/ketch-bench-{secrets.token_hex(4)}"
    ketchd = None
    env = None
    ids: list[str] = []
    started_pids: dict[int, int] = {}  # pid -> starttime of every supervisor process we saw
    problems: list[str] = []
    status = 0
    try:
        ketchd, env = start_ketchd(root, cgroup_parent, args.variant)
        run_args = ["run", "-d"] + (["--runtime", args.runtime] if args.runtime else []) + \
            ["busybox", "sleep", "3600"]
        t0 = time.monotonic()

        def one(_i: int) -> str:
            return ketch(env, *run_args).stdout.strip()

        with concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
            futures = [pool.submit(one, i) for i in range(args.count)]
            for fut in concurrent.futures.as_completed(futures):
                ids.append(fut.result())
        print(f"started {len(ids)} containers in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        time.sleep(args.settle)
        fs = fork_server_of(ketchd.pid)
        check_code(fs)
        for pid in [fs] + monitors_of(fs):
            st = stat(pid)
            if st:
                started_pids[pid] = st[2]
        m = measure(ketchd, args.count, args.smaps_dump)
        m["runtime"] = args.runtime or "ketch"
        m["variant"] = args.variant
        print(f"variant {args.variant}, runtime {m['runtime']}, fork server: {cmdline(fs)[:200]}")
        report(m)
        if args.json:
            print(json.dumps(m))
    except BaseException as exc:  # noqa: BLE001 - report, then clean up
        print(f"FAILED: {exc!r}", file=sys.stderr)
        status = 1
    finally:
        # Containers first (ketchd is still up), in batches.
        if env is not None and ketchd is not None and ketchd.poll() is None:
            all_ids = ketch(env, "ps", "-aq", "--no-trunc", check=False).stdout.split()
            for i in range(0, len(all_ids), 50):
                res = ketch(env, "rm", "-f", *all_ids[i:i + 50], check=False)
                if res.returncode != 0:
                    problems.append(f"ketch rm -f: {res.stderr.strip()}")
            left = ketch(env, "ps", "-aq", check=False).stdout.split()
            for cid in left:  # one by one, once more
                ketch(env, "rm", "-f", cid, check=False)
            left = ketch(env, "ps", "-aq", check=False).stdout.split()
            if left:
                problems.append(f"{len(left)} containers left after rm -f")
        if ketchd is not None:
            if ketchd.poll() is None:
                os.kill(ketchd.pid, signal.SIGTERM)
                try:
                    ketchd.wait(30)
                except subprocess.TimeoutExpired:
                    problems.append("ketchd did not stop on SIGTERM; killed")
                    os.kill(ketchd.pid, signal.SIGKILL)
                    ketchd.wait()
        # What is left of ours: supervisors we saw (same pid and start time), processes whose
        # command line names our temporary root (monitors are forks of our fork server), and
        # processes in cgroups under our own cgroup parent (containers).
        time.sleep(0.5)
        for pid, comm in leftovers(root, cgroup_parent, started_pids):
            problems.append(f"process {pid} ({comm}) still alive; killed")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
        left_mounts = mounts_under(root)
        if left_mounts:
            problems.append(f"mounts left under {root}: {left_mounts[:5]}")
            for point in sorted(left_mounts, key=len, reverse=True):
                subprocess.run(["umount", "-l", point], capture_output=True)
        if (problems or status) and os.path.exists(f"{root}/ketchd.log"):
            shutil.copyfile(f"{root}/ketchd.log", f"{root}.ketchd.log")
            problems.append(f"ketchd's log kept in {root}.ketchd.log")
        if not mounts_under(root):
            shutil.rmtree(root, ignore_errors=True)
            if os.path.exists(root):
                problems.append(f"{root} could not be removed")
        if cgroup_dirs(cgroup_parent):
            problems.append(f"cgroup parent {cgroup_parent} left behind by ketchd: {cgroup_dirs(cgroup_parent)[:3]}")
            left_cg = remove_cgroups(cgroup_parent)
            if left_cg:
                problems.append(f"cgroups that could not be removed: {left_cg[:5]}")
        if problems:
            status = 1
            for line in problems:
                print(f"CLEAN-UP: {line}", file=sys.stderr)
        else:
            print(f"clean-up: ok (no processes, mounts under {root}, or cgroups under {cgroup_parent} left)",
                  file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
