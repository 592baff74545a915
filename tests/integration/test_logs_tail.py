"""`logs --tail` on a real container's json-file log: read from the end, same answers as all."""

import time

import pytest


@pytest.mark.parametrize("tail, expected", [
    ("3", ["2998", "2999", "3000"]),
    ("0", []),
    ("5000", [str(i) for i in range(1, 3001)]),
    ("all", [str(i) for i in range(1, 3001)]),
])
def test_tail_of_a_long_log(daemon, names, tail, expected):
    name = names()
    res = daemon.ketch("run", "--name", name, "busybox", "seq", "1", "3000")
    assert res.returncode == 0, res.stderr
    out = daemon.ketch("logs", "--tail", tail, name)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == expected


def test_tail_then_follow_goes_on_after_the_tail(daemon, names):
    name = names()
    script = "seq 1 100; sleep 2; echo after"
    assert daemon.ketch("run", "-d", "--name", name, "busybox", "sh", "-c", script).returncode == 0
    deadline = time.monotonic() + 10
    while "100" not in daemon.ketch("logs", name).stdout.split() and time.monotonic() < deadline:
        time.sleep(0.05)
    out = daemon.ketch("logs", "-f", "--tail", "2", name, timeout=30)
    assert out.stdout.split() == ["99", "100", "after"]
