"""What another local user can reach of ketchd's state: nothing (moby's modes).

Each daemon here lives under a world-traversable directory, so the modes ketch sets are
all that stands between its files and ``nobody``. The probes run as uid/gid 65534 with
no supplementary groups (``setpriv``) and must all fail with EACCES, while containers,
including one run as 65534, keep working. The daemons run under the laxest umask (0:
nothing may come out world-writable) or the strictest (077: what containers read must
still be readable), since ketchd must set its modes itself.
"""

import io
import json
import os
import secrets
import stat
import subprocess
import tarfile
import tempfile

import pytest

from tests.integration.conftest import Daemon, destroy_daemon

NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]

# Run as nobody: each (operation, path) -> the errno name, or "ok" when it worked.
_PROBE = r"""
import errno, json, os, sys
out = []
for op, path in json.loads(sys.argv[1]):
    try:
        if op == "read":
            with open(path, "rb") as f:
                f.read(1)
        else:
            os.listdir(path)
        out.append("ok")
    except OSError as exc:
        out.append(errno.errorcode[exc.errno])
print(json.dumps(out))
"""

# Run as nobody: every file below the roots that it can read, and those holding the secret.
_SCAN = r"""
import json, os, sys
secret = sys.argv[1].encode()
readable, leaks = [], []
for root in sys.argv[2:]:
    for dirpath, dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                with open(path, "rb") as f:
                    data = f.read(1 << 20)
            except OSError:
                continue
            readable.append(path)
            if secret in data:
                leaks.append(path)
print(json.dumps([readable, leaks]))
"""


def _as_nobody(script: str, *args: str):
    res = subprocess.run([*NOBODY, "/usr/bin/python3", "-I", "-S", "-c", script, *args],
                         capture_output=True, text=True, timeout=60, cwd="/")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def _probe(targets: list[tuple[str, str]]) -> dict[str, str]:
    got = _as_nobody(_PROBE, json.dumps(targets))
    return {f"{op} {path}": result for (op, path), result in zip(targets, got)}


def _tree(root: str, skip: tuple[str, ...] = ()) -> list[tuple[str, int]]:
    """(path, mode) of everything below ``root`` as root sees it, not below mount points
    (a running container's rootfs) nor into the paths in ``skip``."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [n for n in dirs if os.path.join(dirpath, n) not in skip
                   and not os.path.ismount(os.path.join(dirpath, n))]
        for name in [*dirs, *files]:
            path = os.path.join(dirpath, name)
            out.append((path, os.lstat(path).st_mode))
    return out


def _mode(path: str) -> str:
    return oct(stat.S_IMODE(os.stat(path).st_mode))


def _rootfs_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"layer content nobody may read\n"
        info = tarfile.TarInfo("etc/motd")
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def open_daemon():
    """A daemon whose root (and so its data and exec roots) others may traverse. Its
    umask is the test's to set before ``start()``."""
    root = tempfile.mkdtemp(prefix="kt-", dir="/tmp")
    os.chmod(root, 0o755)
    d = Daemon(root)
    yield d
    destroy_daemon(d)


def _paths(d: Daemon, cid: str) -> dict[str, str]:
    blobs = os.path.join(d.data_root, "content", "blobs", "sha256")
    return {
        "data": d.data_root, "db": os.path.join(d.data_root, "ketch.db"),
        "lock": os.path.join(d.data_root, "ketchd.lock"),
        "content": os.path.join(d.data_root, "content"), "blobs": blobs,
        "blob": os.path.join(blobs, sorted(os.listdir(blobs))[0]),
        "ingest": os.path.join(d.data_root, "content", "ingest"),
        "snapshots": os.path.join(d.data_root, "snapshots"),
        "containers": os.path.join(d.data_root, "containers"),
        "container": os.path.join(d.data_root, "containers", cid),
        "log": os.path.join(d.data_root, "containers", cid, f"{cid}-json.log"),
        "exec": d.exec_root, "bundles": os.path.join(d.exec_root, "containers"),
        "bundle": os.path.join(d.exec_root, "containers", cid),
        "config": os.path.join(d.exec_root, "containers", cid, "config.json"),
        "runtime": os.path.join(d.exec_root, "runtime"),
        "state": os.path.join(d.exec_root, "runtime", cid, "state"),
    }


def _attempts(p: dict[str, str]) -> list[tuple[str, str]]:
    """What a curious local user would try: the database (the secret is in its WAL),
    the image content, the container's log and spec, and the runtime's state."""
    reads = [p["db"], p["db"] + "-wal", p["db"] + "-shm", p["blob"], p["log"], p["config"],
             p["state"]]
    lists = [p["content"], p["blobs"], p["snapshots"], p["containers"], p["container"],
             p["bundles"], p["bundle"], p["runtime"]]
    return [("read", path) for path in reads] + [("list", path) for path in lists]


def _fixed_modes(p: dict[str, str]) -> dict[str, str]:
    """The modes of the fixed paths, which the start-up repairs: moby's (daemon_unix.go
    setupDaemonRoot, image/fs.go, create.go), and 0711 for the exec root, which holds
    the API socket by default."""
    return {
        p["data"]: "0o710", p["db"]: "0o600", p["db"] + "-wal": "0o600",
        p["db"] + "-shm": "0o600", p["lock"]: "0o600",
        p["content"]: "0o700", os.path.dirname(p["blobs"]): "0o700", p["blobs"]: "0o700",
        p["ingest"]: "0o700", p["snapshots"]: "0o700", p["containers"]: "0o710",
        p["exec"]: "0o711", p["bundles"]: "0o710", p["runtime"]: "0o700",
    }


def _entry_modes(p: dict[str, str]) -> dict[str, str]:
    """The modes of one container's and one blob's files, set when they are made
    (jsonfilelog's 0640 for the log)."""
    return {p["container"]: "0o710", p["log"]: "0o640", p["bundle"]: "0o710",
            p["config"]: "0o600", p["blob"]: "0o600"}


def _containers_still_work(d: Daemon, running: str) -> None:
    """A container as 65534 reads the files ketch made for it and uses its rootfs; the
    running one's log is still served."""
    res = d.ketch("run", "--rm", "-u", "65534", "busybox", "sh", "-c",
                  "id -u; cat /etc/hosts /etc/resolv.conf /etc/hostname >/dev/null && ls / >/dev/null"
                  " && echo w >/tmp/f && cat /tmp/f", timeout=60)
    assert (res.returncode, res.stdout) == (0, "65534\nw\n"), res.stderr
    assert d.ketch("logs", running, check=True).stdout == "logged\n"


def test_state_and_content_are_out_of_other_users_reach(open_daemon):
    d = open_daemon
    d.umask = 0
    d.start()
    secret = "s3cret-" + secrets.token_hex(8)
    d.ketch("import", "-", "modes/layer:1", input=_rootfs_tar(), check=True)
    cid = d.ketch("run", "-d", "-e", f"DB_PASSWORD={secret}", "busybox", "sh", "-c",
                  "echo logged; exec sleep 60", check=True).stdout.strip()
    try:
        _containers_still_work(d, cid)
        p = _paths(d, cid)
        denied = _probe(_attempts(p))
        assert denied == {k: "EACCES" for k in denied}
        readable, leaks = _as_nobody(_SCAN, secret, d.data_root, d.exec_root)
        assert (readable, leaks) == ([], [])
        expected = {**_fixed_modes(p), **_entry_modes(p)}
        assert {path: _mode(path) for path in expected} == expected
        # Nothing ketch made is world-writable (below a snapshot's fs/ is the image's own
        # content; the runtime's exec.fifo is 0622 by design, as runc's, in a 0700 dir).
        snapshots = os.path.join(d.data_root, "snapshots")
        layers = tuple(os.path.join(snapshots, n, "fs") for n in os.listdir(snapshots))
        writable = [path for path, mode in _tree(d.data_root, layers) + _tree(d.exec_root)
                    if mode & stat.S_IWOTH and not stat.S_ISLNK(mode)
                    and os.path.basename(path) != "exec.fifo"]
        assert writable == []
    finally:
        d.api("DELETE", f"/containers/{cid}?force=1")


def _loosen(p: dict[str, str]) -> None:
    """The modes ketch used to leave, and worse: everything readable and traversable."""
    for path in (p["data"], p["exec"]):
        os.chmod(path, 0o711)
    for key in ("content", "blobs", "ingest", "snapshots", "containers", "container",
                "bundles", "bundle", "runtime"):
        os.chmod(p[key], 0o755)
    os.chmod(os.path.dirname(p["blobs"]), 0o755)
    for path in (p["db"], p["db"] + "-wal", p["db"] + "-shm", p["lock"], p["blob"], p["log"],
                 p["config"]):
        if os.path.exists(path):
            os.chmod(path, 0o644)


def test_an_existing_data_root_with_old_modes_is_repaired_at_start(open_daemon):
    d = open_daemon
    d.start()
    secret = "s3cret-" + secrets.token_hex(8)
    cid = d.ketch("run", "-d", "-e", f"DB_PASSWORD={secret}", "busybox", "sh", "-c",
                  "echo logged; exec sleep 60", check=True).stdout.strip()
    try:
        d.stop()  # the container keeps running; its bundle stays in the exec root
        p = _paths(d, cid)
        _loosen(p)
        assert _probe([("read", p["db"]), ("read", p["config"])]) == {
            f"read {p['db']}": "ok", f"read {p['config']}": "ok"}  # the old exposure
        d.umask = 0o077  # modes must not come from the umask
        d.start()
        # Only the fixed paths: what is below them is out of reach through them, and a
        # start-up that walked every container and blob would not be cheap.
        assert {path: _mode(path) for path in _fixed_modes(p)} == _fixed_modes(p)
        denied = _probe(_attempts(p))
        assert denied == {k: "EACCES" for k in denied}
        assert _as_nobody(_SCAN, secret, d.data_root, d.exec_root) == [[], []]
        _containers_still_work(d, cid)
    finally:
        if d.proc is None:
            d.start()
        d.api("DELETE", f"/containers/{cid}?force=1")
