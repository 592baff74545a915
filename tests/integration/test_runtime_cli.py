"""ketch-runtime, the runc-compatible command, on a bundle of its own."""

import json
import os
import shutil
import subprocess

import pytest

from tests.integration.conftest import PYTHON, REPO, _mounts_under


def runtime(*args, **kw):
    return subprocess.run([PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                           "from ketch.runtime.cli import main; sys.exit(main(sys.argv[2:]))", REPO, *args],
                          capture_output=True, text=True, timeout=60, **kw)


@pytest.fixture
def bundle(tmp_path):
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", rootfs / "bin" / "busybox")
    for applet in ("sh", "echo", "hostname", "cat", "ls", "sleep"):
        os.link(rootfs / "bin" / "busybox", rootfs / "bin" / applet)
    spec = {
        "ociVersion": "1.2.0", "root": {"path": "rootfs"}, "hostname": "rt",
        "process": {"args": ["sh", "-c", "echo $$; hostname; ls /proc/1/ns >/dev/null && exit 4"],
                    "env": ["PATH=/bin"], "cwd": "/"},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                   {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]}],
        "linux": {"namespaces": [{"type": t} for t in ("pid", "mount", "uts", "ipc", "network")]},
    }
    (tmp_path / "config.json").write_text(json.dumps(spec))
    return tmp_path


def test_runtime_run_foreground(bundle, tmp_path):
    res = runtime("--root", str(tmp_path / "state"), "run", "-b", str(bundle), "c1")
    assert res.returncode == 4, res.stderr
    assert res.stdout.splitlines() == ["1", "rt"]
    assert not _mounts_under(str(bundle))
    assert os.listdir(tmp_path / "state") == []


def test_runtime_create_start_state_delete(bundle, tmp_path):
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["args"] = ["sleep", "30"]
    (bundle / "config.json").write_text(json.dumps(spec))
    root = str(tmp_path / "state")
    pidfile = tmp_path / "pid"
    # The init keeps create's stdio, as with runc: give it files, not our pipes.
    with open(tmp_path / "out", "w") as out:
        res = subprocess.run([PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                              "from ketch.runtime.cli import main; sys.exit(main(sys.argv[2:]))", REPO,
                              "--root", root, "create", "-b", str(bundle), "--pid-file", str(pidfile), "c2"],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60)
    assert res.returncode == 0, (tmp_path / "out").read_text()
    state = json.loads(runtime("--root", root, "state", "c2").stdout)
    assert state["status"] == "created" and state["pid"] == int(pidfile.read_text())
    assert runtime("--root", root, "start", "c2").returncode == 0
    assert json.loads(runtime("--root", root, "state", "c2").stdout)["status"] == "running"
    assert runtime("--root", root, "delete", "c2").returncode == 1  # running
    assert runtime("--root", root, "kill", "c2", "KILL").returncode == 0
    for _ in range(100):
        if json.loads(runtime("--root", root, "state", "c2").stdout)["status"] == "stopped":
            break
    assert runtime("--root", root, "delete", "c2").returncode == 0
    assert runtime("--root", root, "state", "c2").returncode == 1


def test_runtime_rejects_bad_config(tmp_path):
    (tmp_path / "config.json").write_text('{"root": {"path": "rootfs"}, "process": {"args": []}}')
    (tmp_path / "rootfs").mkdir()
    res = runtime("--root", str(tmp_path / "state"), "run", "-b", str(tmp_path), "bad")
    assert res.returncode == 1
    assert "process.args" in res.stderr
    assert not os.path.exists(tmp_path / "state" / "bad")
