"""Supervision under load, restarts and crashes (issue 6).

Each test drives a ketchd of its own (``fresh_daemon``) hard through the Engine API and
then checks that the daemon's view is exact and that nothing of a removed container is
left on the host: no record, process, mount, cgroup or state directory. Waits are
deadlines over polled conditions; the only sleeps choose *when* ketchd is killed.

What "left" means, per daemon (``leftovers``):

    containers   records in GET /containers/json?all=1
    processes    monitors (comm ketch-monitor, with a file open under the daemon's root)
                 and container processes (in a cgroup under the daemon's cgroup parent);
                 never ketchd or its fork server, never a process of anyone else
    mounts       anything mounted under the daemon's root
    cgroups      directories under the daemon's cgroup parent
    state        <exec-root>/containers/*, <data-root>/containers/*, container directories
                 under <exec-root>/runtime, writable snapshots under <data-root>/snapshots
"""

import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import PYTHON, REPO, _cgroup_dirs, _mounts_under

HEX64 = re.compile(r"^[0-9a-f]{64}$")


# -- a small Engine API client with timeouts (one connection per request) -------------
class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def call(d, method: str, path: str, body=None, timeout: float = 30):
    """(status, decoded JSON or bytes); raises OSError/HTTPException when ketchd is unreachable."""
    conn = _UnixHTTP(d.socket, timeout)
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
    """Container id -> pids of monitors holding files of that container's exec directory."""
    out: dict[str, list[int]] = {}
    prefix = os.path.join(d.exec_root, "containers") + "/"
    for pid, what in daemon_processes(d).items():
        if not what.startswith("ketch-monitor"):
            continue
        for path in _links(pid):
            if path.startswith(prefix):
                out.setdefault(path[len(prefix):].split("/")[0], []).append(pid)
                break
    return out


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
                pool.submit(_quiet, call, d, "DELETE", f"/containers/{c['Id']}?force=1", None, 15)

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
                _quiet(os.rmdir, path)


def _quiet(fn, *args):
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 - cleanup goes on
        return exc


@pytest.fixture
def own(fresh_daemon):
    """A daemon of the test's own, cleaned up by pid afterwards however the test ended."""
    yield fresh_daemon
    reap(fresh_daemon)


def log_text(d, cid: str) -> str:
    """The container's stdout as text (the API's multiplexed frames taken apart)."""
    status, raw = call(d, "GET", f"/containers/{cid}/logs?stdout=1")
    assert status == 200, raw
    if isinstance(raw, (dict, list)) or raw is None:
        raw = json.dumps(raw).encode() if raw is not None else b""
    out, i = b"", 0
    while i + 8 <= len(raw):
        size = int.from_bytes(raw[i + 4:i + 8], "big")
        out += raw[i + 8:i + 8 + size]
        i += 8 + size
    return out.decode(errors="replace")


# -- 1: a start right after an exit ----------------------------------------------------
RUN_COUNTER = "echo run >> /runs; echo count=$(wc -l < /runs); test -x /bin/sh && echo sh-ok; exec sleep 1000"


def test_kill_wait_start_100_times(own):
    """Each start comes right after the previous run's exit has been reported: it must not
    race that run's cleanup (rootfs unmount, exec dir removal) and the writable layer must
    come through intact (its /runs file counts every run; /bin/sh is still there)."""
    d = own
    cid = create(d, ["sh", "-c", RUN_COUNTER])
    errors = []
    runs = 0

    def started_and_counted(n: int) -> None:
        wait_until(lambda: log_text(d, cid).count("sh-ok") >= n, 10, f"run {n} to write its count")

    ok(d, "POST", f"/containers/{cid}/start")
    runs = 1
    started_and_counted(runs)
    for i in range(100):
        # Mostly the way a script does it (inspect until it shows the exit, then start
        # at once: the tightest race with the previous run's cleanup); the others too.
        way = ("wait", "inspect", "next-exit", "inspect", "inspect")[i % 5] if i % 10 else "cli"
        if way == "cli":
            for args in (("kill", cid), ("wait", cid), ("start", cid)):
                res = d.ketch(*args, timeout=30)
                if res.returncode != 0:
                    errors.append(f"round {i}: ketch {args[0]}: {res.stderr.strip()}")
        else:
            if way == "next-exit":
                # The headers come before the exit: once read, the wait is registered.
                waiter = _UnixHTTP(d.socket, 30)
                waiter.request("POST", f"/containers/{cid}/wait?condition=next-exit")
                answer = waiter.getresponse()
                assert answer.status == 200, answer.read()
            ok(d, "POST", f"/containers/{cid}/kill")
            if way == "wait":
                ok(d, "POST", f"/containers/{cid}/wait")
            elif way == "inspect":
                wait_until(lambda: not state(d, cid)["Running"], 10, "the exit to show", interval=0)
            else:
                assert json.loads(answer.read())["StatusCode"] == 137
                waiter.close()
            status, doc = call(d, "POST", f"/containers/{cid}/start")
            if status != 204:
                errors.append(f"round {i} ({way}): start -> {status} {doc}")
        runs += 1
        if not errors:
            try:
                started_and_counted(runs)
            except AssertionError as exc:
                errors.append(f"round {i} ({way}): {exc}; state {state(d, cid)}")
        if errors:
            break
    assert not errors, errors
    st = state(d, cid)
    assert st["Running"] and st["Pid"] > 0 and alive(st["Pid"]), st
    last = log_text(d, cid).splitlines()[-2:]
    assert last == [f"count={runs}", "sh-ok"], f"the writable layer lost runs: {last}"
    ok(d, "DELETE", f"/containers/{cid}?force=1")
    assert_nothing_left(d)


# -- 2: create under CPU load ------------------------------------------------------------
@pytest.fixture
def cpu_load():
    """Two busy loops of our own, ended by pid."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    yield
    for p in procs:
        p.kill()
        p.wait()


def test_200_starts_under_cpu_load(own, cpu_load):
    """Runtime create must return the container's pid however its two children are
    scheduled: a pid-0 container shows Running with Pid 0 and its exit is never seen."""
    d = own
    errors = []

    def one(i: int) -> None:
        cid = create(d, ["true"])
        status, doc = call(d, "POST", f"/containers/{cid}/start")
        if status != 204:
            errors.append(f"start {i}: {status} {doc}")
            return
        seen = []

        def exited():
            st = state(d, cid)
            if st["Running"]:
                seen.append(st["Pid"])
            return not st["Running"] and st

        try:
            st = wait_until(exited, 15, f"container {i} to exit")
        except AssertionError as exc:
            errors.append(f"start {i}: {exc}; pids seen {sorted(set(seen))}")
            return
        if 0 in seen or st["ExitCode"] != 0:
            errors.append(f"start {i}: pids seen while running {sorted(set(seen))}, state {st}")
            return
        ok(d, "DELETE", f"/containers/{cid}")

    def guarded(i: int) -> None:
        try:
            one(i)
        except Exception as exc:  # noqa: BLE001 - counted
            errors.append(f"start {i}: {type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(guarded, range(200)))
    assert not errors, f"{len(errors)} errors:\n" + "\n".join(errors[:10])
    assert_nothing_left(d)


# -- 3: many clients cycling -------------------------------------------------------------
TERMINABLE = ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]


def test_16_sdk_clients_cycling(own):
    """docker SDK: 16 clients x 25 run/inspect/stop/start/inspect/rm -f, no error at all."""
    import docker

    d = own
    errors = []

    def client_loop(n: int) -> None:
        client = docker.DockerClient(base_url=d.host, version="1.45", timeout=30)
        try:
            for i in range(25):
                step = "run"
                try:
                    c = client.containers.run("busybox", TERMINABLE, detach=True)
                    step = "inspect"
                    c.reload()
                    assert c.status == "running", c.attrs["State"]
                    step = "stop"
                    c.stop(timeout=3)
                    step = "start"
                    c.start()
                    step = "inspect"
                    c.reload()
                    assert c.status == "running", c.attrs["State"]
                    assert c.attrs["State"]["Pid"] > 0, c.attrs["State"]
                    step = "rm -f"
                    c.remove(force=True)
                except Exception as exc:  # noqa: BLE001 - counted
                    errors.append(f"client {n} cycle {i} {step}: {type(exc).__name__}: {exc}")
        finally:
            client.close()

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(client_loop, range(16)))
    assert not errors, f"{len(errors)} errors:\n" + "\n".join(errors[:10])
    assert_nothing_left(d)


# -- 5: rm -f -----------------------------------------------------------------------------
def test_rm_f_of_running_and_paused_containers(own):
    """rm -f sends one SIGKILL and waits: no second signal to a monitor that already
    closed ("Connection lost"), and a paused container is thawed so it can die."""
    d = own
    running = [create(d, ["sleep", "1000"]) for _ in range(40)]
    paused = [create(d, ["sleep", "1000"]) for _ in range(10)]
    for cid in running + paused:
        ok(d, "POST", f"/containers/{cid}/start")
    for cid in paused:
        ok(d, "POST", f"/containers/{cid}/pause")
        assert state(d, cid)["Status"] == "paused"
    errors = []

    def rm(cid: str) -> None:
        status, doc = call(d, "DELETE", f"/containers/{cid}?force=1")
        if status != 204:
            errors.append(f"{cid[:12]} ({'paused' if cid in paused else 'running'}): {status} {doc}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(rm, paused + running))
    assert not errors, errors
    assert_nothing_left(d)


# -- 6: a created container whose ketchd dies --------------------------------------------
def _kill9(d) -> None:
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.proc = None


def test_created_container_removable_after_ketchd_kill9(own):
    d = own
    name = f"created-{os.getpid():07d}"
    res = d.ketch("create", "--name", name, "busybox", "sleep", "1000")
    assert res.returncode == 0, res.stderr
    _kill9(d)
    d.start()
    assert state(d, name)["Status"] == "created"
    res = d.ketch("rm", name)
    assert res.returncode == 0, res.stderr
    assert_nothing_left(d)


SLOW_CREATE = """#!/bin/sh
# A runc-compatible runtime: ketch's own, which after create waits for {release}:
# ketchd is killed while its container sits created in the runtime.
creating=
for a in "$@"; do [ "$a" = create ] && creating=1; done
{python} -I -S -c 'import sys; sys.path.insert(0, "{repo}"); from ketch.runtime.cli import main; sys.exit(main())' "$@" || exit $?
if [ -n "$creating" ]; then
    : > {marker}
    while [ ! -e {release} ]; do sleep 0.02; done
fi
"""


@pytest.mark.parametrize("then", ["rm", "start"])
def test_container_killed_between_runtime_create_and_start(own, then):
    """ketchd dies after the runtime created the container and before it was started: the
    monitor must not wait forever, and after a restart the container can be removed (or
    started) leaving no monitor, init, cgroup or runtime state behind."""
    d = own
    marker, release = os.path.join(d.root, "created"), os.path.join(d.root, "release")
    wrapper = os.path.join(d.root, "slow-create")
    with open(wrapper, "w") as f:
        f.write(SLOW_CREATE.format(python=PYTHON, repo=REPO, marker=marker, release=release))
    os.chmod(wrapper, 0o755)
    with open(os.path.join(d.root, "daemon.json"), "w") as f:
        json.dump({"cgroup-parent": d.cgroup_parent, "runtimes": {"slow": {"path": wrapper}}}, f)
    d.restart()
    cid = create(d, ["sleep", "1000"], Runtime="slow")
    starter = ThreadPoolExecutor(1)
    start = starter.submit(_quiet, call, d, "POST", f"/containers/{cid}/start", None, 30)
    wait_until(lambda: os.path.exists(marker), 20, "the runtime to create the container")
    _kill9(d)
    open(release, "w").close()
    start.result(30)
    starter.shutdown()
    # The monitor learns nothing more from ketchd; its container waits in "created".
    d.start()
    st = state(d, cid)
    assert not st["Running"], st
    if then == "start":
        status, doc = call(d, "POST", f"/containers/{cid}/start")
        assert status == 204, doc
        st = state(d, cid)
        assert st["Running"] and alive(st["Pid"]), st
        assert container_pids(d, cid) == [st["Pid"]] or st["Pid"] in container_pids(d, cid)
        status, doc = call(d, "DELETE", f"/containers/{cid}?force=1")
    else:
        status, doc = call(d, "DELETE", f"/containers/{cid}")
    assert status == 204, doc
    assert_nothing_left(d)


# -- 4: kill -9 of ketchd during churn ---------------------------------------------------
WAIT_FOR_GO = "mkfifo /go && read x < /go; exit {code}"


def _trigger(d, cid: str) -> None:
    """Let a WAIT_FOR_GO container exit, from the host, through its rootfs."""
    fifo = os.path.join(d.exec_root, "containers", cid, "rootfs", "go")

    def opened():
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return None

    fd = wait_until(opened, 10, f"{fifo} to have a reader")
    os.write(fd, b"go\n")
    os.close(fd)


class Churn(threading.Thread):
    """create/start/stop/kill/rm of short and long containers, as fast as ketchd answers;
    requests cut by a ketchd kill are expected and counted, not failures."""

    def __init__(self, d, up: threading.Event) -> None:
        super().__init__(daemon=True)
        self.d, self.up = d, up
        self.stopping = threading.Event()
        self.known: set[str] = set()
        self.ops = 0
        self.cut = 0
        self.rng = random.Random(6)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.up.wait()
            try:
                self.step()
                self.ops += 1
            except (OSError, http.client.HTTPException, KeyError, TypeError):
                self.cut += 1

    def step(self) -> None:
        d, rng = self.d, self.rng
        known = sorted(self.known)
        op = rng.random()
        if len(known) < 4 or (op < 0.4 and len(known) < 12):
            cmd = rng.choice([["sleep", "1000"], ["true"], ["sh", "-c", "exit 3"], TERMINABLE])
            status, doc = call(d, "POST", "/containers/create",
                               {"Image": "busybox", "Cmd": cmd, "HostConfig": {}}, timeout=20)
            if status == 201:
                self.known.add(doc["Id"])
                call(d, "POST", f"/containers/{doc['Id']}/start", timeout=20)
        elif op < 0.55:
            call(d, "POST", f"/containers/{rng.choice(known)}/start", timeout=20)
        elif op < 0.7:
            call(d, "POST", f"/containers/{rng.choice(known)}/stop?t=1", timeout=20)
        elif op < 0.8:
            call(d, "POST", f"/containers/{rng.choice(known)}/kill", timeout=20)
        else:
            cid = rng.choice(known)
            status, _ = call(d, "DELETE", f"/containers/{cid}?force=1", timeout=20)
            if status in (204, 404):
                self.known.discard(cid)


def assert_exact(d) -> dict[str, dict]:
    """ps -a is the truth: a running container has a live init in its cgroup and a monitor;
    every container process and monitor on the host belongs to a running container."""
    status, items = call(d, "GET", "/containers/json?all=1")
    assert status == 200, items
    states = {c["Id"]: state(d, c["Id"]) for c in items}
    problems = []
    monitors = monitors_by_container(d)
    for cid, st in states.items():
        pids = container_pids(d, cid)
        if st["Running"]:
            if not (st["Pid"] > 0 and alive(st["Pid"]) and st["Pid"] in pids):
                problems.append(f"{cid[:12]} shows running with pid {st['Pid']}, its cgroup has {pids}")
            if cid not in monitors:
                problems.append(f"{cid[:12]} shows running but has no monitor")
        else:
            if pids:
                problems.append(f"{cid[:12]} shows {st['Status']} but has processes {pids}")
            if cid in monitors:
                problems.append(f"{cid[:12]} shows {st['Status']} but has monitors {monitors[cid]}")
    for cid, pids in monitors.items():
        if cid not in states:
            problems.append(f"monitors {pids} of {cid[:12]}, which ps -a does not list")
    listed = {cid[:64] for cid in states}
    for pid, what in daemon_processes(d).items():
        if " in cgroup " in what and what.rsplit("/", 1)[1] not in listed:
            problems.append(f"process {pid} ({what}) of no listed container")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
    return states


KILLS = 50


def test_kill9_of_ketchd_during_churn(own):
    d = own
    long_lived = [create(d, ["sleep", "1000"]) for _ in range(2)]
    exiting = {create(d, ["sh", "-c", WAIT_FOR_GO.format(code=code)]): code for code in range(3, 8)}
    for cid in long_lived + list(exiting):
        ok(d, "POST", f"/containers/{cid}/start")
    before = {cid: state(d, cid) for cid in long_lived + list(exiting)}
    trigger_at = dict(zip(range(9, KILLS, 10), exiting))  # one exit while ketchd is down, every 10 kills

    up = threading.Event()
    up.set()
    churn = Churn(d, up)
    churn.start()
    rng = random.Random(9)
    try:
        for i in range(KILLS):
            time.sleep(rng.uniform(0.05, 0.5))  # when to kill: the only sleep
            up.clear()
            _kill9(d)
            if i in trigger_at:
                cid = trigger_at[i]
                pid = before[cid]["Pid"]
                _trigger(d, cid)
                wait_until(lambda: not alive(pid), 10, f"{cid[:12]} to exit while ketchd is down")
            d.start()
            up.set()
            if i in trigger_at:
                st = state(d, trigger_at[i])
                assert (st["Status"], st["ExitCode"]) == ("exited", exiting[trigger_at[i]]), st
    finally:
        churn.stopping.set()
        up.set()
        churn.join(30)
    assert churn.ops > KILLS, f"the churn did too little: {churn.ops} ops, {churn.cut} cut"

    states = assert_exact(d)
    for cid in long_lived:
        st = states[cid]
        assert (st["Status"], st["Pid"], st["StartedAt"]) == \
            ("running", before[cid]["Pid"], before[cid]["StartedAt"]), st
    for cid, code in exiting.items():
        assert (states[cid]["Status"], states[cid]["ExitCode"]) == ("exited", code), states[cid]
    errors = []
    for cid in states:
        status, doc = call(d, "DELETE", f"/containers/{cid}?force=1")
        if status != 204:
            errors.append(f"rm -f {cid[:12]} ({states[cid]['Status']}): {status} {doc}")
    assert not errors, errors
    assert_nothing_left(d)
