"""Integration fixtures: a ketchd of our own per test worker, and ways to drive it.

Every daemon gets a fresh temporary root (data root, exec root and socket under one
short /tmp directory) and is torn down completely: its containers removed, the
daemon and its fork server ended by pid; leftover mounts, cgroups, monitor processes
and runtime state are reported as a failure; then the directory is deleted.

A monitor is known by its name (``ketch-monitor``, set with prctl) and by holding a
file under its daemon's root (its stderr is ``<exec-root>/containers/<id>/monitor.log``).
Its parent chain is no help: once ketchd and the fork server are gone, monitors are
reparented to init. The root is unique per daemon, so other workers' daemons and their
monitors never match. Teardown only reports leftover monitors; it kills nothing.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYTHON = os.path.join(REPO, ".venv", "bin", "python3")

pytestmark = pytest.mark.integration


def _mounts_under(prefix: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(prefix)]


def _cgroup_dirs(parent: str) -> list[str]:
    out = []
    for hierarchy in os.listdir("/sys/fs/cgroup"):
        path = os.path.join("/sys/fs/cgroup", hierarchy) + parent
        if os.path.isdir(path):
            out += [os.path.join(dirpath, d) for dirpath, dirs, _ in os.walk(path) for d in dirs]
            out.append(path)
    if os.path.exists("/sys/fs/cgroup" + parent):
        out.append("/sys/fs/cgroup" + parent)
    return out


class Daemon:
    def __init__(self, root: str) -> None:
        self.root = root
        self.socket = os.path.join(root, "ketch.sock")
        self.host = f"unix://{self.socket}"
        self.data_root = os.path.join(root, "data")
        self.exec_root = os.path.join(root, "exec")
        self.log_path = os.path.join(root, "ketchd.log")
        self.proc: subprocess.Popen | None = None
        # Each daemon's containers live under a cgroup parent of their own, and its
        # default bridge, subnet and nftables table are its own too.
        self.cgroup_parent = "/" + os.path.basename(root)
        self.subnet_lock, self.bip = _take_subnet()
        self.bridge = "kb" + os.path.basename(root).removeprefix("kt-")[:8].replace("_", "")
        self.firewall_table = "ketch-" + os.path.basename(root)
        self.umask = -1  # ketchd's umask: -1 inherits the test's; set before start()

    def subnet(self, k: int) -> str:
        """A /24 for this daemon's user-defined network number ``k`` (0..29): its own, as
        its default bridge's is, so parallel daemons' bridges never share a subnet
        (10.180-209.N; the default bridges are 10.213.N, the differential's and the
        docker-client tests' networks 10.231-232.x)."""
        assert 0 <= k < 30
        return f"10.{180 + k}.{self.bip.split('.')[2]}.0/24"

    def write_config(self, **keys) -> None:
        """daemon.json: this daemon's own cgroup parent, bridge, subnet and firewall table,
        and ``keys`` (read at the next start)."""
        with open(os.path.join(self.root, "daemon.json"), "w") as f:
            json.dump({"cgroup-parent": self.cgroup_parent, "bridge": self.bridge, "bip": self.bip,
                       "firewall-table": self.firewall_table, **keys}, f)

    # -- lifecycle ----------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        if not os.path.exists(os.path.join(self.root, "daemon.json")):
            self.write_config()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [PYTHON, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
             "from ketch.daemon.main import main; sys.exit(main(sys.argv[2:]))", REPO,
             "-H", self.host, "--data-root", self.data_root, "--exec-root", self.exec_root,
             "--config-file", os.path.join(self.root, "daemon.json"), "--debug"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL, umask=self.umask)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ketchd exited early:\n{self.log()}")
            if self._pingable():
                return
            time.sleep(0.05)
        raise RuntimeError(f"ketchd did not come up:\n{self.log()}")

    def _pingable(self) -> bool:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(self.socket)
                s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return s.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop ketchd (containers keep running, as with a real restart)."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-5000:]
        except OSError:
            return ""

    def monitors(self) -> dict[int, str]:
        """This daemon's live monitor processes: pid -> the file that ties it to our root.

        A monitor's own children carry its name until they exec (a container's init is
        released by start and may exec only after start has answered): not monitors."""
        out = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() != "ketch-monitor":
                        continue
                with open(f"/proc/{pid}/stat") as f:
                    ppid = f.read().rsplit(")", 1)[1].split()[1]
                with open(f"/proc/{ppid}/comm") as f:
                    if f.read().strip() == "ketch-monitor":
                        continue
                links = [os.readlink(f"/proc/{pid}/cwd")]
                links += [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
            except OSError:  # it ended meanwhile
                continue
            mine = [p for p in links if p.startswith(self.root + "/")]
            if mine:
                out[int(pid)] = mine[0]
        return out

    def runtime_state(self) -> list[str]:
        """Files under ``<exec-root>/runtime``: state a runtime kept for a container that is
        gone. Empty directories (runc's root) do not count, nor a runtime's shared caches in
        dot-directories (``.bpf``: ketch-runtime's compiled seccomp programs, kept on purpose)."""
        base = os.path.join(self.exec_root, "runtime")
        out = []
        for dirpath, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if not d.startswith(".")]  # <root>/.bpf, <root>/runc/.bpf
            out += [os.path.join(dirpath, name) for name in files]
        return sorted(out)

    def remove_all_containers(self) -> None:
        status, items = self.api("GET", "/containers/json?all=1")
        for c in items if status == 200 else []:
            self.api("DELETE", f"/containers/{c['Id']}?force=1")

    # -- clients ------------------------------------------------------------------
    def env(self) -> dict:
        env = dict(os.environ, KETCH_HOST=self.host, DOCKER_HOST=self.host)
        env.pop("DOCKER_CONTEXT", None)
        return env

    def ketch(self, *args: str, input: bytes | str | None = None, timeout: float = 60,
              check: bool = False) -> subprocess.CompletedProcess:
        return self._run(self._ketch_cmd(args), input, timeout, check)

    def popen_ketch(self, *args: str) -> subprocess.Popen:
        """A ketch command left running (``logs -f``...): stdout piped, bytes; the caller ends it."""
        return subprocess.Popen(self._ketch_cmd(args), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.env())

    @staticmethod
    def _ketch_cmd(args) -> list[str]:
        return [PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO, *args]

    def docker(self, *args: str, input: bytes | str | None = None, timeout: float = 60,
               check: bool = False) -> subprocess.CompletedProcess:
        return self._run(["docker", *args], input, timeout, check)

    def _run(self, cmd, input, timeout, check) -> subprocess.CompletedProcess:
        data = input.encode() if isinstance(input, str) else input
        raw = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout,
                             env=self.env(), stdin=None if input is not None else subprocess.DEVNULL)
        res = subprocess.CompletedProcess(raw.args, raw.returncode,
                                          raw.stdout.decode(errors="replace"),
                                          raw.stderr.decode(errors="replace"))
        if check and res.returncode != 0:
            raise AssertionError(f"{cmd} exited {res.returncode}:\n{res.stdout}\n{res.stderr}")
        return res

    def api(self, method: str, path: str, body=None, raw: bool = False):
        """One request on a fresh connection; returns (status, decoded JSON or bytes)."""
        sys.path.insert(0, REPO)
        from ketch.client.http import Connection
        conn = Connection(self.socket, self.host)
        try:
            data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
            headers = {"Content-Type": "application/json"} if body is not None else {}
            resp = conn.send(method, path, data, headers)
            payload = resp.read()
            if raw:
                return resp.status, payload, resp.headers
            try:
                return resp.status, json.loads(payload) if payload.strip() else None
            except ValueError:
                return resp.status, payload
        finally:
            conn.close()

    def sdk(self):
        import docker
        return docker.DockerClient(base_url=self.host, version="1.45", timeout=60)


MONITOR_EXIT_TIMEOUT = 10.0  # a monitor ends shortly after its container; none is left running


def wait_until(condition, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _stray_bundles(d: Daemon) -> list[str]:
    """Bundles (exec-root/containers/<id>) of containers that are not alive: a run whose
    cleanup failed. Cleanups in flight are waited for."""
    def stray() -> list[str]:
        status, items = d.api("GET", "/containers/json")
        alive = {c["Id"] for c in items} if status == 200 else set()
        bundles = os.path.join(d.exec_root, "containers")
        return sorted(set(os.listdir(bundles)) - alive) if os.path.isdir(bundles) else []
    wait_until(lambda: not stray(), 10)
    return stray()


def _describe(d: Daemon, cids: list[str]) -> dict:
    """What a failed teardown check needs to be understood: state, command, files, log."""
    out = {}
    for cid in cids:
        status, doc = d.api("GET", f"/containers/{cid}/json")
        bundle = os.path.join(d.exec_root, "containers", cid)
        files = sorted(os.listdir(bundle)) if os.path.isdir(bundle) else None
        try:
            with open(d.log_path, errors="replace") as f:
                log = [line for line in f if cid[:12] in line or cid in line][-10:]
        except OSError:
            log = []
        out[cid] = {"state": doc.get("State") if status == 200 else status,
                    "cmd": [doc.get("Path")] + (doc.get("Args") or []) if status == 200 else None,
                    "bundle": files, "ketchd.log": log}
    return out


def _teardown(d: Daemon) -> list[str]:
    problems = []
    d.user_bridges = []
    try:
        if d.proc is not None and d.proc.poll() is None:
            status, nets = d.api("GET", "/networks")
            d.user_bridges = [n["Options"].get("com.docker.network.bridge.name") or f"br-{n['Id'][:12]}"
                              for n in nets if n["Driver"] == "bridge" and n["Name"] != "bridge"] \
                if status == 200 else []
            left = _stray_bundles(d)
            if left:
                problems.append(f"bundles of containers that are not running: {_describe(d, left)}")
            d.remove_all_containers()
    finally:
        d.stop()
    if not wait_until(lambda: not d.monitors(), MONITOR_EXIT_TIMEOUT):
        problems.append(f"monitor processes left (pid: file under {d.root}): {d.monitors()}")
    state_left = d.runtime_state()
    if state_left:
        problems.append(f"runtime state left: {state_left}")
    cgroups_left = [p for p in _cgroup_dirs(d.cgroup_parent)]
    if cgroups_left:
        problems.append(f"cgroups left: {cgroups_left}")
        for path in sorted(cgroups_left, key=len, reverse=True):
            try:
                os.rmdir(path)
            except OSError:
                pass
    problems += _network_leftovers(d)
    d.subnet_lock.close()
    left = _mounts_under(d.root)
    for target in sorted(left, key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False)
    if left:
        problems.append(f"mounts left under {d.root}: {left}")
    return problems


SUBNET_LOCKS = "/tmp/ketch-test-subnets"


def _take_subnet():
    """A /24 of 10.213.0.0/16 no other live test daemon holds: an flock on a file per
    subnet, held for the daemon's life (and dropped with the process if it dies)."""
    import fcntl
    os.makedirs(SUBNET_LOCKS, exist_ok=True)
    for n in range(256):
        f = open(os.path.join(SUBNET_LOCKS, str(n)), "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            continue
        return f, f"10.213.{n}.1/24"
    raise RuntimeError("no free test subnet")


def _network_leftovers(d: Daemon) -> list[str]:
    """The daemon's bridge, veths on it, its nftables table and namespace files:
    reported, then removed."""
    problems = []
    for bridge in [d.bridge] + getattr(d, "user_bridges", []):
        if os.path.exists(f"/sys/class/net/{bridge}"):
            problems.append(f"bridge {bridge} left")
            subprocess.run(["ip", "link", "del", bridge], check=False)
    listed = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        if line.split()[-1:] == [d.firewall_table]:
            problems.append(f"nftables table {line} left")
            subprocess.run(["nft", "delete", *line.split()[1:]], check=False)
    netns_dir = os.path.join(d.exec_root, "netns")
    if os.path.isdir(netns_dir) and os.listdir(netns_dir):
        problems.append(f"network namespaces left: {os.listdir(netns_dir)}")
    return problems


def make_daemon() -> Daemon:
    root = tempfile.mkdtemp(prefix="kt-", dir="/tmp")
    d = Daemon(root)
    d.start()
    return d


def destroy_daemon(d: Daemon) -> None:
    problems = _teardown(d)
    shutil.rmtree(d.root, ignore_errors=True)
    assert not problems, problems


@pytest.fixture(scope="session")
def daemon():
    """The shared daemon of this test worker. Tests remove what they create."""
    d = make_daemon()
    yield d
    destroy_daemon(d)


@pytest.fixture
def fresh_daemon():
    """A daemon of the test's own, for tests that restart it or count its objects."""
    d = make_daemon()
    yield d
    destroy_daemon(d)


@pytest.fixture
def names(daemon):
    """Container names for one test; whatever is left of them is removed afterwards."""
    used: list[str] = []

    def make(prefix: str = "t") -> str:
        # Fixed width: `--filter name=` matches substrings, so no name may contain another.
        name = f"{prefix}-{os.getpid():07d}-{len(used):03d}-{secrets.token_hex(4)}"
        used.append(name)
        return name

    yield make
    for name in used:
        daemon.api("DELETE", f"/containers/{name}?force=1")
