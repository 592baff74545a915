"""What a test ketchd has on the host, and a client to drive it with deadlines.

Shared by the supervision tests (issue 6). What "left" means, per daemon (``leftovers``):

    containers   records in GET /containers/json?all=1
    processes    monitors (comm ketch-monitor, with a file open under the daemon's root)
                 and container processes (in a cgroup under the daemon's cgroup parent);
                 never ketchd or its fork server, never a process of anyone else
    mounts       anything mounted under the daemon's root
    cgroups      directories under the daemon's cgroup parent
    state        <exec-root>/containers/*, <data-root>/containers/*, container directories
                 under <exec-root>/runtime, writable snapshots under <data-root>/snapshots

``reap`` ends by pid what a failing test leaked, so that the host stays clean.
"""

import http.client
import json
import os
import re
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor

from tests.integration.conftest import _cgroup_dirs, _mounts_under

HEX64 = re.compile(r"^[0-9a-f]{64}$")
# A container that ends on SIGTERM at once (pid 1 has no default action for it).
TERMINABLE = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]


# -- a small Engine API client with timeouts (one connection per request) -------------
class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def call(d, method: str, path: str, body=None, timeout: float = 30):
    """(status, decoded JSON or bytes); raises OSError/HTTPException when ketchd is unreachable."""
    conn = UnixHTTP(d.socket, timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, data, headers)
        resp = conn.getresponse()
        payload = resp.read()
        try:
            return resp.status, json.loads(payload) if payload.strip() else None
        except ValueError:
            return resp.status, payload
    finally:
        conn.close()


def ok(d, method: str, path: str, body=None, expect=(200, 201, 204), timeout: float = 30):
    status, doc = call(d, method, path, body, timeout)
    assert status in expect, f"{method} {path} -> {status} {doc!r}"
    return doc


def create(d, cmd: list[str], **host_config) -> str:
    body = {"Image": "busybox", "Cmd": cmd, "HostConfig": host_config}
    return ok(d, "POST", "/containers/create", body)["Id"]


def state(d, cid: str) -> dict:
    return ok(d, "GET", f"/containers/{cid}/json")["State"]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.02):
    """Poll ``predicate`` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


# -- what a daemon has on the host -----------------------------------------------------
def _links(pid: int) -> list[str]:
    out = []
    for link in ("cwd", "root"):
        try:
            out.append(os.readlink(f"/proc/{pid}/{link}"))
        except OSError:
            pass
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for fd in fds:
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def daemon_processes(d) -> dict[int, str]:
    """Monitors and container processes of daemon ``d`` (pid -> what it is), found through
    their files under its root and their cgroups; ketchd and its live fork server excluded."""
    ketchd = d.proc.pid if d.proc is not None and d.proc.poll() is None else None
    root = d.root + "/"
    cgroup_mark = f":{d.cgroup_parent}/"
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid in (os.getpid(), ketchd):
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/cgroup") as f:
                cgroup = f.read()
        except OSError:
            continue
        if fields[0] in ("Z", "X"):
            continue
        if ketchd is not None and int(fields[1]) == ketchd and "ketch.monitor.forkserver" in cmdline:
            continue
        files = [p for p in _links(pid) if p.startswith(root)]
        if cgroup_mark in cgroup:
            line = next(ln for ln in cgroup.splitlines() if cgroup_mark in ln)
            found[pid] = f"{comm} in cgroup {line.split(':', 2)[2]}"
        elif files:
            found[pid] = f"{comm} holding {files[0]}"
    return found


def monitors_by_container(d) -> dict[str, list[int]]:
    """Container id -> pids of the monitors holding a file of that container (a path under
    the daemon's root with the container's id in it)."""
    out: dict[str, list[int]] = {}
    root = d.root + "/"
    for pid, what in daemon_processes(d).items():
        if not what.startswith("ketch-monitor") or " in cgroup " in what:
            continue
        ids = {part for path in _links(pid) if path.startswith(root)
               for part in path[len(root):].split("/") if HEX64.match(part)}
        for cid in ids:
            out.setdefault(cid, []).append(pid)
    return out


def parent_of(pid: int) -> tuple[int, str]:
    """(ppid, comm of the parent) of a live process, (0, "") if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        with open(f"/proc/{ppid}/comm") as f:
            return ppid, f.read().strip()
    except (OSError, IndexError, ValueError):
        return 0, ""


def container_pids(d, cid: str) -> list[int]:
    """Processes in container ``cid``'s cgroup."""
    mark = f":{d.cgroup_parent}/{cid}"
    pids = []
    for pid, what in daemon_processes(d).items():
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                if mark in f.read():
                    pids.append(pid)
        except OSError:
            pass
    return pids


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def leftovers(d, with_records: bool = True) -> dict[str, list]:
    out: dict[str, list] = {}
    if with_records:
        status, items = call(d, "GET", "/containers/json?all=1")
        assert status == 200, items
        out["containers"] = [f"{c['Id'][:12]} {c['State']}" for c in items]
    out["processes"] = [f"{pid} {what}" for pid, what in sorted(daemon_processes(d).items())]
    out["mounts"] = _mounts_under(d.root)
    parent = [p for p in _cgroup_dirs(d.cgroup_parent) if not p.endswith(d.cgroup_parent)]
    out["cgroups"] = sorted(set(parent))
    out["exec dirs"] = _listdir(os.path.join(d.exec_root, "containers"))
    out["data dirs"] = _listdir(os.path.join(d.data_root, "containers"))
    runtime = os.path.join(d.exec_root, "runtime")
    out["runtime state"] = [os.path.join(dirpath, x) for dirpath, dirs, _ in os.walk(runtime)
                            for x in dirs if HEX64.match(x)]
    snapshots = os.path.join(d.data_root, "snapshots")
    out["writable snapshots"] = [s for s in _listdir(snapshots)
                                 if os.path.isdir(os.path.join(snapshots, s, "work"))]
    return {k: v for k, v in out.items() if v}


def assert_nothing_left(d, timeout: float = 10, with_records: bool = True) -> None:
    found: dict = {}

    def clean():
        found.clear()
        found.update(leftovers(d, with_records))
        return not found

    try:
        wait_until(clean, timeout, "nothing left", interval=0.1)
    except AssertionError:
        raise AssertionError(f"left behind: {json.dumps(found, indent=1)}") from None


def _thaw(d) -> None:
    for path in _cgroup_dirs(d.cgroup_parent):
        for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            try:
                with open(os.path.join(path, name), "w") as f:
                    f.write(value)
            except OSError:
                pass


def reap(d) -> None:
    """After a test, whatever its outcome: remove every container with a deadline, then end
    by pid any process of this daemon that is still there (a failing run's leak), so that
    the fixture's own checks (mounts, cgroups) can run and the host stays clean."""
    if d.proc is None or d.proc.poll() is not None:
        d.proc = None
        d.start()

    def remove_all():
        try:
            status, items = call(d, "GET", "/containers/json?all=1", timeout=10)
        except (OSError, http.client.HTTPException):
            return
        with ThreadPoolExecutor(8) as pool:
            for c in items if status == 200 else []:
                pool.submit(quiet, call, d, "DELETE", f"/containers/{c['Id']}?force=1", None, 15)

    remove_all()
    leaked = False
    for _ in range(3):
        procs = daemon_processes(d)
        if not procs:
            break
        leaked = True
        _thaw(d)
        for pid in procs:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            wait_until(lambda: not daemon_processes(d), 10, "leftover processes to end", 0.05)
        except AssertionError:
            pass
    remove_all()
    if leaked:  # the test failed on them already; their cgroups go too, nobody else will
        for path in sorted(_cgroup_dirs(d.cgroup_parent), key=len, reverse=True):
            if not path.endswith(d.cgroup_parent):
                quiet(os.rmdir, path)


def quiet(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - cleanup goes on
        return exc
