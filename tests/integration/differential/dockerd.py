"""A dockerd of the tests' own: Debian's docker.io on a temporary root, the oracle.

Everything it owns lives under one short directory (``/tmp/kd-XXXXXX``):

    <root>/data/            --data-root (images, containers, containerd's content)
    <root>/exec/            --exec-root (containerd's socket and state, runc's state)
    <root>/docker.sock      -H unix://...
    <root>/docker.pid       --pidfile
    <root>/daemon.json      --config-file (empty: /etc/docker/daemon.json is not read)
    <root>/dockerd.log      its stdout and stderr
    cgroups /<basename of root>/<id> in every hierarchy (--cgroup-parent)

No default bridge, no iptables (``--bridge=none --iptables=false --ip-masq=false``): the
tests' dockerd must not touch the host's firewall nor take 172.17.0.0/16; user-defined
networks work (their bridges without NAT), so the network rows use those.
dockerd 20.10 starts a containerd of its own under the exec root; the containerd shims
it spawns are reparented to init. A few paths outside the root are fixed in dockerd and
containerd (``HOST_PATHS``): whichever of them did not exist before
start is removed at the end, so a machine that never ran Docker is left as it was.

``stop`` ends everything by pid: containers and networks removed through the API first,
then SIGTERM to dockerd (which stops its containerd), SIGKILL after a deadline, then any
process still holding a file under the root or sitting in the cgroup parent; ``leftovers`` says
what is still there afterwards (the fixture fails on it).
"""

import fcntl
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from tests.integration.conftest import _cgroup_dirs, _mounts_under

# Debian's docker.io; another dockerd (a newer Docker, say) can be named for a run.
DOCKERD = os.environ.get("KETCH_TEST_DOCKERD", "/usr/sbin/dockerd")
# Created by dockerd 20.10 / containerd 1.6 whatever the roots: the trust key, the plugin
# socket directory, containerd-shim's socket directory.
HOST_PATHS = ("/etc/docker/key.json", "/etc/docker", "/run/docker/plugins", "/run/docker",
              "/run/containerd/s", "/run/containerd", "/var/lib/docker")


# The HOST_PATHS are shared by every test dockerd running at once (each xdist worker may
# start its own): which of them existed before the first of those dockerds, and who runs
# one, is kept in one file under a lock; the last to stop removes the rest. (Each dockerd
# on its own once removed a path that another, still running, made again at once: "dockerd
# left: /run/docker", about 1 CI run in 3.)
_SHARED = os.path.join(tempfile.gettempdir(), "ketch-test-dockerd-hostpaths.json")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _shared_host_paths(change):
    """``change(doc)`` under the lock, with ``doc`` {"users": [[pid, root]...], "existed":
    [...]}: users whose test process is gone are dropped first; its result returned."""
    with open(_SHARED + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(_SHARED) as f:
                doc = json.load(f)
        except (FileNotFoundError, ValueError):
            doc = {"users": [], "existed": []}
        doc["users"] = [u for u in doc["users"] if _alive(u[0])]
        if not doc["users"]:  # the first of the ones running now
            doc["existed"] = [p for p in HOST_PATHS if os.path.lexists(p)]
        result = change(doc)
        if doc["users"]:
            with open(_SHARED + ".tmp", "w") as f:
                json.dump(doc, f)
            os.replace(_SHARED + ".tmp", _SHARED)
        else:
            try:
                os.unlink(_SHARED)
            except FileNotFoundError:
                pass
        return result


class DockerdUnavailable(Exception):
    """dockerd is not installed or did not come up; the message says why."""


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def api(socket_path: str, method: str, path: str, timeout: float = 30):
    """(status, decoded JSON or bytes) of one request on a fresh connection."""
    conn = _UnixHTTP(socket_path, timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        payload = resp.read()
        try:
            return resp.status, json.loads(payload) if payload.strip() else None
        except ValueError:
            return resp.status, payload
    finally:
        conn.close()


def stray_veth_pairs() -> dict[str, str]:
    """Veth pairs with both ends in this (the host's) namespace, host end unattached and
    its peer down: name -> peer. libnetwork makes a pair here, then moves one end into the
    container's namespace; dockerd 20.10 sometimes leaves a pair it never moved (seen once
    in several suites). ketchd never makes such a pair: its peer is born in the container's
    namespace (netlink.add_veth)."""
    out = subprocess.run(["ip", "-o", "link", "show", "type", "veth"], capture_output=True,
                         text=True).stdout
    links = {}
    for line in out.splitlines():
        fields = line.split(": ", 2)
        if len(fields) < 3 or "@" not in fields[1]:
            continue
        name, peer = fields[1].split("@", 1)
        links[name] = (peer, "master " in fields[2], "state DOWN" in fields[2])
    return {name: peer for name, (peer, attached, _) in links.items()
            if peer in links and not attached and links[peer][2]}


class Dockerd:
    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix="kd-", dir="/tmp")
        self.socket = os.path.join(self.root, "docker.sock")
        self.host = f"unix://{self.socket}"
        self.data_root = os.path.join(self.root, "data")
        self.exec_root = os.path.join(self.root, "exec")
        self.pidfile = os.path.join(self.root, "docker.pid")
        self.log_path = os.path.join(self.root, "dockerd.log")
        self.cgroup_parent = "/" + os.path.basename(self.root)
        self.proc: subprocess.Popen | None = None
        self.existed = set(HOST_PATHS)  # until start(): none of them is this one's to remove
        self.host_left: list[str] = []  # what the last dockerd to stop could not remove
        self.pairs_before: set[str] = set()

    def start(self, timeout: float = 60.0) -> None:
        if not os.access(DOCKERD, os.X_OK):
            raise DockerdUnavailable(f"{DOCKERD} not found: install Debian's docker.io "
                                     "(scripts/install.sh --with-tests does)")
        config = os.path.join(self.root, "daemon.json")
        with open(config, "w") as f:
            f.write("{}\n")
        self.pairs_before = set(stray_veth_pairs())
        self.join_host_paths()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [DOCKERD, "--data-root", self.data_root, "--exec-root", self.exec_root,
                 "-H", self.host, "--pidfile", self.pidfile, "--config-file", config,
                 "--bridge=none", "--iptables=false", "--ip-masq=false", "--ip6tables=false",
                 "--cgroup-parent", self.cgroup_parent],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DockerdUnavailable(f"dockerd exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if api(self.socket, "GET", "/_ping", timeout=2)[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        raise DockerdUnavailable(f"dockerd did not answer within {timeout:.0f}s:\n{self.log()}")

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    # -- what it has on the host ---------------------------------------------------
    def processes(self) -> dict[int, str]:
        """dockerd, its containerd, the shims and container processes: anything with a file
        or an argument under the root, or in a cgroup under the cgroup parent."""
        root = self.root + "/"
        mark = f":{self.cgroup_parent}/"
        found = {}
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == os.getpid():
                continue
            pid = int(name)
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                        continue
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
                with open(f"/proc/{pid}/cgroup") as f:
                    cgroup = f.read()
            except (OSError, IndexError):
                continue
            if root in cmdline or mark in cgroup or self.proc is not None and pid == self.proc.pid:
                found[pid] = cmdline[:120]
        return found

    def leftovers(self) -> dict[str, list]:
        out = {
            "processes": [f"{pid} {cmd}" for pid, cmd in sorted(self.processes().items())],
            "mounts": _mounts_under(self.root),
            "cgroups": sorted(set(_cgroup_dirs(self.cgroup_parent))),
            "root": [self.root] if os.path.lexists(self.root) else [],
            "host paths": self.host_left,
        }
        return {k: v for k, v in out.items() if v}

    # -- teardown ------------------------------------------------------------------
    def stop(self, timeout: float = 30.0) -> dict[str, list]:
        """End it all; returns what was still there after a clean shutdown (empty when
        all went well), having then removed that too as far as it can."""
        stuck: list[str] = []  # networks dockerd would not remove: their bridges stay
        if self.proc is not None and self.proc.poll() is None:
            stuck = self._remove_containers()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        # containerd ends with dockerd; give its shims a moment to follow.
        deadline = time.monotonic() + 10
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.1)
        # dockerd never removes the cgroup parent itself, only its containers' cgroups.
        problems = {k: v for k, v in self.leftovers().items() if k in ("processes", "mounts")}
        children = [p for p in _cgroup_dirs(self.cgroup_parent) if not p.endswith(self.cgroup_parent)]
        if children:
            problems["cgroups"] = sorted(set(children))
        if stuck:
            problems["networks"] = stuck
            for nid in stuck:  # dockerd's Linux bridge of a user-defined network
                subprocess.run(["ip", "link", "del", f"br-{nid[:12]}"], check=False, capture_output=True)
        for name in set(stray_veth_pairs()) - self.pairs_before:  # its own, never moved
            subprocess.run(["ip", "link", "del", name], check=False, capture_output=True)
        self._force_clean()
        problems.update(self.leftovers())
        return problems

    def _remove_containers(self) -> list[str]:
        """Remove every container, then every user-defined network; the ids of the networks
        still there afterwards."""
        try:
            status, items = api(self.socket, "GET", "/containers/json?all=1", timeout=10)
            for c in items if status == 200 else []:
                api(self.socket, "DELETE", f"/containers/{c['Id']}?force=1", timeout=30)
            # dockerd keeps a user-defined network's Linux bridge when it stops
            status, items = api(self.socket, "GET", "/networks", timeout=10)
            for n in items if status == 200 else []:
                if n["Name"] not in ("bridge", "host", "none"):
                    api(self.socket, "DELETE", f"/networks/{n['Id']}", timeout=30)
            status, items = api(self.socket, "GET", "/networks", timeout=10)
            return [n["Id"] for n in items if status == 200 and n["Name"] not in ("bridge", "host", "none")]
        except (OSError, http.client.HTTPException):
            return []

    def _force_clean(self) -> None:
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        for target in sorted(_mounts_under(self.root), key=len, reverse=True):
            subprocess.run(["umount", "-l", target], check=False, capture_output=True)
        for path in sorted(set(_cgroup_dirs(self.cgroup_parent)), key=len, reverse=True):
            try:
                os.rmdir(path)
            except OSError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)
        _shared_host_paths(self._leave)

    def join_host_paths(self) -> None:
        """Before the dockerd starts: it is one of those sharing the HOST_PATHS."""
        def join(doc) -> set[str]:
            doc["users"].append([os.getpid(), self.root])
            return set(doc["existed"])
        self.existed = _shared_host_paths(join)

    def _leave(self, doc) -> None:
        """Under the shared lock: this dockerd is gone; the last one removes the host paths
        that none had before, while another still runs they are its."""
        doc["users"] = [u for u in doc["users"] if u[1] != self.root]
        if doc["users"]:
            self.existed = set(HOST_PATHS)
            return
        self.existed = set(doc["existed"])
        for path in HOST_PATHS:  # files before their directories (the tuple's order)
            if path in self.existed or not os.path.lexists(path):
                continue
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    os.rmdir(path)  # only when empty: anything else is not ours
                else:
                    os.unlink(path)
            except OSError:
                pass
        # checked here, under the lock: a dockerd starting next may make them again at once
        self.host_left = [p for p in HOST_PATHS if p not in self.existed and os.path.lexists(p)]
