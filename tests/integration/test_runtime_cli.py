"""ketch-runtime, the runc-compatible command, on a bundle of its own."""

import json
import os
import shutil
import subprocess
import time

import pytest

from tests.integration.conftest import PYTHON, REPO, _cgroup_dirs, _mounts_under


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
    res = runtime("--root", root, "kill", "c2", "SIGFOO")
    assert (res.returncode, res.stderr) == (1, 'ketch-runtime: unknown signal "SIGFOO"\n')  # runc's words
    assert runtime("--root", root, "kill", "c2", "KILL").returncode == 0
    for _ in range(100):
        if json.loads(runtime("--root", root, "state", "c2").stdout)["status"] == "stopped":
            break
    assert runtime("--root", root, "delete", "c2").returncode == 0
    assert runtime("--root", root, "state", "c2").returncode == 1


def test_runtime_pause_resume(bundle, tmp_path):
    """runc pause/resume: the cgroup's freezer stops every process; state says paused."""
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["args"] = ["sh", "-c", "while :; do echo x >> /count; sleep 0.01; done"]
    spec["linux"]["cgroupsPath"] = f"/kt-rt-pause-{os.getpid()}"
    (bundle / "config.json").write_text(json.dumps(spec))
    root = str(tmp_path / "state")
    count = bundle / "rootfs" / "count"

    def counter() -> int:
        """How far the container got: the size of the file it keeps appending to."""
        for _ in range(250):
            if count.exists() and count.stat().st_size:
                return count.stat().st_size
            time.sleep(0.02)
        raise AssertionError("the container never counted")

    with open(tmp_path / "out", "w") as out:
        res = subprocess.run([PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                              "from ketch.runtime.cli import main; sys.exit(main(sys.argv[2:]))", REPO,
                              "--root", root, "create", "-b", str(bundle), "c3"],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60)
    assert res.returncode == 0, (tmp_path / "out").read_text()
    try:
        res = runtime("--root", root, "pause", "c3")
        assert (res.returncode, res.stderr) == (1, "ketch-runtime: container not running\n")
        assert runtime("--root", root, "start", "c3").returncode == 0
        counter()  # it runs
        res = runtime("--root", root, "resume", "c3")
        assert (res.returncode, res.stderr) == (1, "ketch-runtime: container not paused\n")
        assert runtime("--root", root, "pause", "c3").returncode == 0
        assert json.loads(runtime("--root", root, "state", "c3").stdout)["status"] == "paused"
        frozen = counter()
        time.sleep(0.3)
        assert counter() == frozen
        res = runtime("--root", root, "exec", "c3", "true")
        assert res.returncode == 1 and "cannot exec in a paused container" in res.stderr
        res = runtime("--root", root, "delete", "c3")
        assert res.returncode == 1 and "not stopped: paused" in res.stderr
        assert runtime("--root", root, "resume", "c3").returncode == 0
        assert json.loads(runtime("--root", root, "state", "c3").stdout)["status"] == "running"
        deadline = time.monotonic() + 10
        while counter() == frozen and time.monotonic() < deadline:
            time.sleep(0.02)
        assert counter() > frozen
        assert runtime("--root", root, "pause", "c3").returncode == 0
    finally:
        # delete --force of a frozen container thaws it so that SIGKILL can land
        res = runtime("--root", root, "delete", "--force", "c3")
    assert res.returncode == 0, res.stderr
    assert _cgroup_dirs(spec["linux"]["cgroupsPath"]) == []


def test_runtime_rejects_bad_config(tmp_path):
    (tmp_path / "config.json").write_text('{"root": {"path": "rootfs"}, "process": {"args": []}}')
    (tmp_path / "rootfs").mkdir()
    res = runtime("--root", str(tmp_path / "state"), "run", "-b", str(tmp_path), "bad")
    assert res.returncode == 1
    assert "process.args" in res.stderr
    assert not os.path.exists(tmp_path / "state" / "bad")


def _started(bundle, tmp_path, cid, spec_edit=None):
    """A running `sleep 30` container created and started through the command line."""
    spec = json.loads((bundle / "config.json").read_text())
    spec["process"]["args"] = ["sleep", "30"]
    if spec_edit:
        spec_edit(spec)
    (bundle / "config.json").write_text(json.dumps(spec))
    root = str(tmp_path / "state")
    with open(tmp_path / "out", "w") as out:
        subprocess.run([PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                        "from ketch.runtime.cli import main; sys.exit(main(sys.argv[2:]))", REPO,
                        "--root", root, "create", "-b", str(bundle), cid],
                       stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60, check=True)
    assert runtime("--root", root, "start", cid).returncode == 0
    return root


def test_runtime_exec_ps_list(bundle, tmp_path):
    root = _started(bundle, tmp_path, "c3")
    try:
        res = runtime("--root", root, "exec", "-e", "FOO=bar", "--cwd", "/bin", "c3",
                      "sh", "-c", "echo $FOO; pwd; hostname; echo $$; exit 6")
        assert res.returncode == 6, res.stderr
        out = res.stdout.splitlines()
        assert out[:3] == ["bar", "/bin", "rt"]
        assert int(out[3]) > 1  # a new process in the container's pid namespace
        state = json.loads(runtime("--root", root, "state", "c3").stdout)
        assert state["status"] == "running"
        for _ in range(5):  # a failed exec's process is gone when the exec returns
            res = runtime("--root", root, "exec", "c3", "nosuch")
            assert res.returncode != 0 and "executable file not found in $PATH" in res.stderr
            pids = json.loads(runtime("--root", root, "ps", "--format", "json", "c3").stdout)
            assert pids == [state["pid"]]
        assert runtime("--root", root, "list", "-q").stdout.split() == ["c3"]
    finally:
        runtime("--root", root, "delete", "--force", "c3")
    assert runtime("--root", root, "list", "-q").stdout.split() == []


def test_runtime_spec_and_features(tmp_path):
    assert runtime("spec", "--bundle", str(tmp_path)).returncode == 0
    spec = json.loads((tmp_path / "config.json").read_text())
    assert spec["process"]["args"] == ["sh"] and spec["root"]["path"] == "rootfs"
    res = runtime("spec", "--bundle", str(tmp_path))
    assert res.returncode == 1 and "exists" in res.stderr
    features = json.loads(runtime("features").stdout)
    assert "CAP_SYS_ADMIN" in features["linux"]["capabilities"] and features["linux"]["seccomp"]["enabled"]
    assert {"rro", "rrw", "rnosuid", "rnoexec", "rnosymfollow"} <= set(features["mountOptions"])


def test_runtime_version_in_runcs_shape():
    """containerd's go-runc and docker info read `runc --version` line by line."""
    for flag in ("--version", "-v"):
        res = runtime(flag)
        assert res.returncode == 0, res.stderr
        lines = res.stdout.splitlines()
        assert lines[0].startswith("ketch-runtime version ") and "spec: 1.1.0" in lines
        libseccomp = [line for line in lines if line.startswith("libseccomp: ")]
        assert libseccomp and libseccomp[0].split(": ")[1].count(".") == 2


def test_runtime_errors_go_to_the_log_as_json(tmp_path):
    log = tmp_path / "runtime.log"
    res = runtime("--root", str(tmp_path / "state"), "--log", str(log), "--log-format", "json",
                  "start", "nosuch")
    assert res.returncode == 1
    doc = json.loads(log.read_text().splitlines()[-1])
    assert doc["level"] == "error" and "nosuch does not exist" in doc["msg"]


def test_ketch_runtime_fits_the_daemons_runtime_slot(fresh_daemon):
    """ketchd drives ketch-runtime through the runc command line, like runc itself."""
    d = fresh_daemon
    d.stop()
    d.write_config(runtimes={"kcli": {"path": os.path.join(REPO, ".venv", "bin", "ketch-runtime")}})
    d.start()
    assert "kcli" in d.ketch("info", "-f", "{{json .Runtimes}}").stdout
    res = d.ketch("run", "--rm", "--runtime", "kcli", "busybox", "sh", "-c",
                  "grep CapEff /proc/self/status; exit 3")
    assert res.returncode == 3, res.stderr
    assert res.stdout == "CapEff:\t00000000a80425fb\n"
    res = d.ketch("run", "--rm", "--runtime", "kcli", "busybox", "nosuch")
    assert res.returncode == 127 and "executable file not found" in res.stderr
    res = d.ketch("run", "--rm", "--runtime", "nope", "busybox", "true")
    assert res.returncode == 125 and "unknown or invalid runtime name: nope" in res.stderr
