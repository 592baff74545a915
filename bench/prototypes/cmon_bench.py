"""Prototype (c) driver: N instances of the C monitor (cmon.c), each supervising
`sh -c 'echo ...; exec sleep 3600'`; sums Pss/Rss of the monitors (smaps_rollup), then
ends every child with SIGTERM and checks each monitor wrote exit.json (143) and exited.

    gcc -O2 -s -o /tmp/cmon bench/prototypes/cmon.c
    python3 bench/prototypes/cmon_bench.py --binary /tmp/cmon --count 100

Each monitor is started detached (setsid, reparented away from this script by a double
fork, as ketch's fork server does), so the figures include nothing of this script.
Only processes this script started are signalled, by pid.
"""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time

CHILD = ["/bin/sh", "-c", "echo hello from $$; echo to stderr >&2; exec sleep 3600"]


def stat(pid: int):
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return data[data.index("(") + 1:data.rindex(")")], int(rest[1]), int(rest[19])


def children(ppid: int) -> list[int]:
    return [int(n) for n in os.listdir("/proc") if n.isdigit() and (stat(int(n)) or ("", -1))[1] == ppid]


def rollup(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                out[parts[0][:-1]] = int(parts[1])
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmPTE:"):
                out["VmPTE"] = int(line.split()[1])
    return out


def spawn_detached(argv: list[str]) -> int:
    """Double fork + setsid; returns the grandchild's pid (read back through a pipe)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setsid()
            gpid = os.fork()
            if gpid == 0:
                os.close(w)
                null = os.open("/dev/null", os.O_RDWR)
                for fd in (0, 1):
                    os.dup2(null, fd)
                os.execv(argv[0], argv)
            os.write(w, str(gpid).encode())
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    with os.fdopen(r) as f:
        return int(f.read())


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--binary", default="/tmp/cmon")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="cmon-", dir="/tmp")
    mons: dict[int, tuple[str, int]] = {}  # pid -> (state dir, start time)
    status = 0
    try:
        for i in range(args.count):
            d = os.path.join(work, f"c{i}")
            os.mkdir(d)
            pid = spawn_detached([args.binary, d, os.path.join(d, "json.log"), "--", *CHILD])
            mons[pid] = (d, stat(pid)[2])
        time.sleep(1.5)
        logs_ok = sum(1 for d, _ in mons.values() if b"hello from" in open(os.path.join(d, "json.log"), "rb").read())
        rolls = [rollup(pid) for pid in mons]
        n = len(rolls)
        keys = ("Pss", "Rss", "Private_Dirty", "Pss_Anon", "Pss_File", "VmPTE")
        mean = {k: sum(r.get(k, 0) for r in rolls) / n for k in keys}
        res = {"design": f"C monitor ({os.path.basename(args.binary)}, {os.path.getsize(args.binary)} bytes)",
               "n": n, "logs_ok": logs_ok, "monitor_mean": mean, "per_container": mean}
        print(f"{res['design']}: n={n} logs={logs_ok}/{n} | monitor mean Pss {mean['Pss']:.0f} kB "
              f"Rss {mean['Rss']:.0f} kB Private_Dirty {mean['Private_Dirty']:.0f} kB "
              f"VmPTE {mean['VmPTE']:.0f} kB")
        if args.json:
            print(json.dumps(res))
    finally:
        for mpid, (_d, start) in mons.items():
            if (stat(mpid) or ("", 0, -1))[2] == start:
                for cpid in children(mpid):
                    os.kill(cpid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
                (stat(m) or ("", 0, -1))[2] == s for m, (_d, s) in mons.items()):
            time.sleep(0.05)
        for mpid, (_d, start) in mons.items():
            if (stat(mpid) or ("", 0, -1))[2] == start:
                print(f"monitor {mpid} did not exit; killing it", file=sys.stderr)
                for cpid in children(mpid):
                    os.kill(cpid, signal.SIGKILL)
                os.kill(mpid, signal.SIGKILL)
                status = 1
        bad = 0
        for d, _ in mons.values():
            try:
                with open(os.path.join(d, "exit.json")) as f:
                    bad += json.load(f)["exit_code"] != 143
            except OSError:
                bad += 1
        if bad:
            print(f"{bad} monitors without exit.json 143", file=sys.stderr)
            status = 1
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
