"""The C monitor in place (ketch/monitor/handover.py): which process supervises, the log
it writes for a real container compared byte for byte with logfile.JsonFileWriter's, and
the Python monitor when there is no C monitor."""

import json
import os
import sys
import time

import pytest

from tests.integration.conftest import REPO, destroy_daemon, make_daemon, wait_until

sys.path.insert(0, REPO)
from ketch.monitor.handover import DEFAULT_BINARY, SOURCE_DIR  # noqa: E402
from tests.unit.test_cmonitor import parse_trace, python_log  # noqa: E402

TRICKY = r"""
printf 'partial '; sleep 0.05; printf 'line\nnext'; sleep 0.05; printf ' \r\rcr\r\n'
printf '\377\376 bad \303\050 \342\202 \355\240\200\n' >&2
printf '\001\033[31mctl\177 "q" \\ /\t\n'
head -c 20000 /dev/zero | tr '\000' L; echo
head -c 40000 /dev/zero | tr '\000' M; sleep 0.05; echo tail
printf '\360\237\230'; sleep 0.05; printf '\200 split emoji\n'
i=0
while [ $i -lt 30 ]; do i=$((i+1)); echo "tick $i"; printf 'hal'; sleep 0.05; printf 'f\n' >&2; done
printf 'no newline at the end'
"""


def _monitor_pid(d, cid) -> int:
    pid = d.api("GET", f"/containers/{cid}/json")[1]["State"]["Pid"]
    with open(f"/proc/{pid}/status") as f:
        return int(next(line.split()[1] for line in f if line.startswith("PPid:")))


def _until(condition, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_c_monitor_is_built_and_supervises(daemon, names):
    source = os.path.join(SOURCE_DIR, "monitor.c")
    assert os.access(DEFAULT_BINARY, os.X_OK), "build the C monitor: scripts/install.sh"
    assert os.path.getmtime(DEFAULT_BINARY) >= os.path.getmtime(source), \
        "the C monitor is older than its source: scripts/install.sh rebuilds it"
    name = names()
    cid = daemon.ketch("run", "-d", "--name", name, "busybox", "sleep", "1000", check=True).stdout.strip()
    monitor = _monitor_pid(daemon, cid)
    # The Python monitor execs the C one just after it has reported "started".
    assert wait_until(lambda: os.readlink(f"/proc/{monitor}/exe") == DEFAULT_BINARY, 10), \
        os.readlink(f"/proc/{monitor}/exe")
    with open(f"/proc/{monitor}/status") as f:
        assert "ketch-monitor" in f.readline()
    daemon.ketch("rm", "-f", cid, check=True)


@pytest.fixture
def traced_daemon(monkeypatch, tmp_path):
    trace_dir = tmp_path / "traces"
    trace_dir.mkdir()
    monkeypatch.setenv("KETCH_MONITOR_TRACE", str(trace_dir))
    d = make_daemon()
    d.trace_dir = str(trace_dir)
    yield d
    destroy_daemon(d)


def test_container_log_is_byte_identical_to_jsonfilewriter(traced_daemon, tmp_path):
    d = traced_daemon
    cid = d.ketch("run", "-d", "busybox", "sh", "-c", TRICKY, check=True).stdout.strip()
    log_path = d.api("GET", f"/containers/{cid}/json")[1]["LogPath"]

    def logged(text: bytes) -> bool:
        with open(log_path, "rb") as f:
            return text in f.read()

    _until(lambda: logged(b"tick 5\\n"), what="some ticks")
    d.ketch("pause", cid, check=True)
    time.sleep(0.3)
    d.ketch("unpause", cid, check=True)
    assert d.ketch("wait", cid, timeout=60).stdout == "0\n"
    with open(os.path.join(d.trace_dir, f"{cid}.trace"), "rb") as f:
        records = parse_trace(f.read())
    with open(log_path, "rb") as f:
        c_log = f.read()
    assert c_log == python_log(records, str(tmp_path / "python.log"))
    entries = [json.loads(line) for line in c_log.splitlines()]
    assert entries[0]["log"] == "partial line\n"
    assert {"\ufffd\ufffd bad \ufffd( \ufffd \ufffd\ufffd\ufffd\n"} <= {e["log"] for e in entries}
    assert entries[-1]["log"] == "halno newline at the end"  # flushed at the end of stdout
    assert sum(e["log"] == "f\n" for e in entries) == 30  # stderr's own lines
    assert d.ketch("logs", cid).stdout.count("haltick") == 29
    d.ketch("rm", "-f", cid, check=True)


@pytest.mark.parametrize("binary", ["", "/nonexistent/ketch-monitor", "not-an-executable"])
def test_without_the_c_monitor_the_python_monitor_goes_on(monkeypatch, tmp_path, binary):
    if binary == "not-an-executable":  # executable bits, but exec fails (ENOEXEC)
        binary = str(tmp_path / binary)
        with open(binary, "wb") as f:
            f.write(b"\x00garbage")
        os.chmod(binary, 0o755)
    monkeypatch.setenv("KETCH_MONITOR_BINARY", binary)
    d = make_daemon()
    try:
        cid = d.ketch("run", "-d", "busybox", "sh", "-c",
                      "echo out; echo err >&2; sleep 0.5; echo later; sleep 0.5; exit 5",
                      check=True).stdout.strip()
        monitor = _monitor_pid(d, cid)
        assert os.readlink(f"/proc/{monitor}/exe").startswith("/usr/bin/python3")
        d.ketch("pause", cid, check=True)
        d.ketch("unpause", cid, check=True)
        assert d.ketch("wait", cid, timeout=30).stdout == "5\n"
        res = d.ketch("logs", cid)
        assert (res.stdout, res.stderr) == ("out\nlater\n", "err\n")
        d.ketch("rm", "-f", cid, check=True)
    finally:
        destroy_daemon(d)
