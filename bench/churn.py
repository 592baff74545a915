#!/usr/bin/env python3
"""Churn: N x `run -d busybox sleep 3600` from 16 clients, `ps` with N running, `rm -f` of all.

Starts a ketchd of its own (this checkout's code) on a temporary root, or talks to a
dockerd given with --docker-host, and drives it through the Engine API from client
threads, counting failures at each stage:

    run     create + start of N containers, C clients in parallel: wall time until all started
    ps      `ketch ps` / `ketch ps -a` end to end (median of --ps-runs), and GET /containers/json
    rm      DELETE ?force=1 of all of them, C clients in parallel: wall time

Targets (issue 6): zero failures, 500 started in under 10 s, `ps` under 30 ms with 500 running.
On the 2-core test VM (2026-12-06), N=500: at a7235ca 499 started in 11.0 s (1 pid-0 start
failure), `ketch ps` 61 ms, rm -f 42 x "Connection lost" and a leaked monitor; at d255f3b
(main) no failure, 500 started in 14.0 s, `ketch ps` 79 ms (API 40 ms), rm -f of all 12.5 s.

    .venv/bin/python3 bench/churn.py                 # N=500, 16 clients
    .venv/bin/python3 bench/churn.py -n 100
    .venv/bin/python3 bench/churn.py --docker-host unix:///tmp/d/docker.sock

Docker needs a busybox image: `tar -C rootfs -c . | docker import -c 'CMD ["sh"]' - busybox`.
Only containers labelled with this run's token are touched there. With its own ketchd,
everything is cleaned up by pid afterwards (monitors, container processes, mounts,
cgroups, the root) and whatever had to be cleaned up that way is reported as a leak.
"""

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = os.path.join(REPO, ".venv", "bin", "python3")
LABEL = "ketch.bench.churn"


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Api:
    """One request per connection, as a CLI does; unversioned paths (dockerd and ketchd)."""

    def __init__(self, host: str, timeout: float = 60) -> None:
        if not host.startswith("unix://"):
            raise SystemExit(f"only unix:// hosts: {host}")
        self.path = host[len("unix://"):]
        self.timeout = timeout

    def __call__(self, method: str, path: str, body=None):
        conn = UnixHTTP(self.path, self.timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, data, {"Content-Type": "application/json"} if data else {})
            resp = conn.getresponse()
            payload = resp.read()
            try:
                return resp.status, json.loads(payload) if payload.strip() else None
            except ValueError:
                return resp.status, payload
        finally:
            conn.close()


# -- our own ketchd -----------------------------------------------------------------------
class Ketchd:
    def __init__(self, exec_tmpfs: bool = False) -> None:
        self.root = tempfile.mkdtemp(prefix="kb-", dir="/tmp")
        self.host = f"unix://{self.root}/ketch.sock"
        self.exec_root = os.path.join(self.root, "exec")
        self.exec_tmpfs = exec_tmpfs
        self.cgroup_parent = "/" + os.path.basename(self.root)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if self.exec_tmpfs:  # as /run is on a standard Debian: the exec root's files on tmpfs
            os.mkdir(self.exec_root, 0o700)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0700", "tmpfs", self.exec_root], check=True)
        config = os.path.join(self.root, "daemon.json")
        with open(config, "w") as f:
            json.dump({"cgroup-parent": self.cgroup_parent}, f)
        with open(os.path.join(self.root, "ketchd.log"), "ab") as log:
            self.proc = subprocess.Popen(
                [PYTHON, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                 "from ketch.daemon.main import main; sys.exit(main(sys.argv[2:]))", REPO,
                 "-H", self.host, "--data-root", os.path.join(self.root, "data"),
                 "--exec-root", self.exec_root, "--config-file", config],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        api = Api(self.host, 2)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"ketchd exited: see {self.root}/ketchd.log")
            try:
                if api("GET", "/_ping")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit("ketchd did not come up")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def processes(self) -> dict[int, str]:
        """Monitors and container processes of this ketchd: files open under its root, or a
        cgroup under its cgroup parent. ketchd itself (and its fork server) excluded."""
        mine = {os.getpid()} | ({self.proc.pid} if self.proc and self.proc.poll() is None else set())
        found = {}
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) in mine:
                continue
            pid = int(name)
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{pid}/cgroup") as f:
                    cgroup = f.read()
                with open(f"/proc/{pid}/comm") as f:
                    comm = f.read().strip()
                fds = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
            except OSError:
                continue
            if fields[0] == "Z" or int(fields[1]) in mine and comm != "ketch-monitor":
                continue
            if f":{self.cgroup_parent}/" in cgroup or any(p.startswith(self.root + "/") for p in fds):
                found[pid] = comm
        return found

    def cleanup(self) -> list[str]:
        """Stop ketchd, then end by pid, unmount and remove what it left; report it."""
        self.stop()
        leaks = []
        for _ in range(3):
            procs = self.processes()
            if not procs:
                break
            leaks.append(f"{len(procs)} processes ({', '.join(sorted(set(procs.values())))})")
            for path in self._cgroups():
                for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
                    try:
                        with open(os.path.join(path, name), "w") as f:
                            f.write(value)
                    except OSError:
                        pass
            for pid in procs:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 10
            while self.processes() and time.monotonic() < deadline:
                time.sleep(0.05)
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if line.split()[4].startswith(self.root + "/")]
        if self.exec_tmpfs and self.exec_root in mounts:
            mounts.remove(self.exec_root)  # ours, unmounted last
        if mounts:
            leaks.append(f"{len(mounts)} mounts")
        if self.exec_tmpfs:
            mounts.append(self.exec_root)
        for target in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", target], check=False)
        cgroups = [p for p in self._cgroups() if not p.endswith(self.cgroup_parent)]
        if cgroups:
            leaks.append(f"{len(cgroups)} cgroup directories")
        for path in sorted(self._cgroups(), key=len, reverse=True):
            try:
                os.rmdir(path)
            except OSError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)
        return leaks

    def _cgroups(self) -> list[str]:
        out = []
        for base in ("/sys/fs/cgroup", *(os.path.join("/sys/fs/cgroup", h) for h in os.listdir("/sys/fs/cgroup"))):
            path = base + self.cgroup_parent
            if os.path.isdir(path):
                out += [os.path.join(dp, d) for dp, dirs, _ in os.walk(path) for d in dirs] + [path]
        return out


# -- stages ---------------------------------------------------------------------------------
def parallel(clients: int, fn, items) -> tuple[float, list, list[str]]:
    """Run fn over items from `clients` threads: (wall seconds, per-item seconds, failures)."""
    failures: list[str] = []
    latencies: list[float] = []

    def one(item):
        t0 = time.perf_counter()
        try:
            fn(item)
            latencies.append(time.perf_counter() - t0)
        except Exception as exc:  # noqa: BLE001 - counted and shown
            failures.append(f"{type(exc).__name__}: {exc}")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, items))
    return time.perf_counter() - t0, latencies, failures


def timed_cmd(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {res.stderr.decode(errors='replace').strip()}")
    return elapsed * 1000


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))] if s else float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-n", "--count", type=int, default=500)
    p.add_argument("-c", "--clients", type=int, default=16)
    p.add_argument("--ps-runs", type=int, default=7)
    p.add_argument("--image", default="busybox")
    p.add_argument("--docker-host", help="run against this dockerd (unix://...) instead of a ketchd of our own")
    p.add_argument("--exec-tmpfs", action="store_true",
                   help="our ketchd's --exec-root on a tmpfs, as /run/ketch is where /run is a tmpfs")
    args = p.parse_args()

    ketchd = None
    if args.docker_host:
        host, who = args.docker_host, "dockerd"
        cli = ["docker"] if shutil.which("docker") else None
        env = dict(os.environ, DOCKER_HOST=host)
    else:
        ketchd = Ketchd(args.exec_tmpfs)
        ketchd.start()
        host, who = ketchd.host, "ketchd"
        cli = [PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
               "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO]
        env = dict(os.environ, KETCH_HOST=host)
    api = Api(host)
    try:
        if api("GET", "/_ping")[0] != 200:
            raise OSError("/_ping did not answer 200")
    except (OSError, http.client.HTTPException) as exc:
        if ketchd is not None:
            ketchd.cleanup()
        raise SystemExit(f"churn: cannot reach {host}: {exc}")
    token = secrets.token_hex(4)
    ours = urllib.parse.quote(json.dumps({"label": [f"{LABEL}={token}"]}))
    ids: list[str] = []
    failures_total = 0
    print(f"churn against {who} at {host}: {args.count} x run -d {args.image} sleep 3600, "
          f"{args.clients} clients")
    try:
        def run(i: int) -> None:
            status, doc = api("POST", "/containers/create", {
                "Image": args.image, "Cmd": ["sleep", "3600"], "Labels": {LABEL: token}})
            if status != 201:
                raise RuntimeError(f"create {status} {doc}")
            ids.append(doc["Id"])
            status, doc = api("POST", f"/containers/{doc['Id']}/start")
            if status not in (204, 304):
                raise RuntimeError(f"start {status} {doc}")

        wall, lat, failures = parallel(args.clients, run, range(args.count))
        failures_total += len(failures)
        print(f"run     {args.count - len(failures):4d}/{args.count} started in {wall:6.2f} s "
              f"({args.count / wall:5.1f}/s; per run median {statistics.median(lat) * 1000 if lat else 0:.0f} ms, "
              f"p90 {pct(lat, 0.9) * 1000:.0f} ms)   failures: {len(failures)}")
        for f in failures[:5]:
            print(f"          {f}")

        status, listed = api("GET", f"/containers/json?filters={ours}")
        running = len(listed) if status == 200 else -1
        print(f"ps      {running} of ours running")
        samples: dict[str, list[float]] = {}
        ps_failures = []
        for _ in range(args.ps_runs):
            for name, fn in [("GET /containers/json", lambda: api("GET", "/containers/json")),
                             ("GET /containers/json?all=1", lambda: api("GET", "/containers/json?all=1"))]:
                t0 = time.perf_counter()
                status, _ = fn()
                samples.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
                if status != 200:
                    ps_failures.append(f"{name}: {status}")
            if cli:
                for flags in ([], ["-a"]):
                    name = " ".join([os.path.basename(cli[0]) if cli[0] == "docker" else "ketch", "ps", *flags])
                    try:
                        samples.setdefault(name, []).append(timed_cmd([*cli, "ps", *flags], env))
                    except RuntimeError as exc:
                        ps_failures.append(str(exc))
        failures_total += len(ps_failures)
        for name, s in samples.items():
            print(f"        {name:<28} median {statistics.median(s):7.1f} ms   min {min(s):7.1f} ms "
                  f"  (n={len(s)})")
        print(f"        failures: {len(ps_failures)}")
        for f in ps_failures[:5]:
            print(f"          {f}")

        def rm(cid: str) -> None:
            status, doc = api("DELETE", f"/containers/{cid}?force=1")
            if status != 204:
                raise RuntimeError(f"rm -f {status} {doc}")

        wall, lat, failures = parallel(args.clients, rm, list(ids))
        failures_total += len(failures)
        print(f"rm -f   {len(ids) - len(failures):4d}/{len(ids)} removed in {wall:6.2f} s "
              f"({len(ids) / wall if wall else 0:5.1f}/s; per rm median {statistics.median(lat) * 1000 if lat else 0:.0f} ms)"
              f"   failures: {len(failures)}")
        for f in failures[:5]:
            print(f"          {f}")
    finally:
        # Whatever is still ours: removed through the API (a second chance), then by pid.
        try:
            status, left = api("GET", f"/containers/json?all=1&filters={ours}")
            left = left if status == 200 else []
        except Exception:  # noqa: BLE001 - the cleanup by pid below still runs
            left = []
        if left:
            print(f"cleanup {len(left)} containers still listed; removing them again")
            parallel(args.clients, lambda c: api("DELETE", f"/containers/{c['Id']}?force=1"), left)
        if ketchd is not None:
            leaks = ketchd.cleanup()
            print(f"left    {', '.join(leaks) if leaks else 'nothing'}")
            failures_total += len(leaks)
    print(f"total failures: {failures_total}")
    return 1 if failures_total else 0


if __name__ == "__main__":
    sys.exit(main())
