"""`logs --tail` on a real container's json-file log: read from the end, same answers as all."""

import pytest

from tests.integration.conftest import wait_until


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
    script = "seq 1 100; until [ -e /go ]; do sleep 0.05; done; echo after"
    assert daemon.ketch("run", "-d", "--name", name, "busybox", "sh", "-c", script).returncode == 0
    assert wait_until(lambda: "100" in daemon.ketch("logs", name).stdout.split(), 10)
    follow = daemon.popen_ketch("logs", "-f", "--tail", "2", name)
    try:
        assert follow.stdout.readline() == b"99\n" and follow.stdout.readline() == b"100\n"
        daemon.ketch("exec", name, "touch", "/go", check=True)  # "after" only once it follows
        out, _ = follow.communicate(timeout=30)
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
    assert out.split() == [b"after"]


def test_follow_ends_with_the_run_it_found(daemon, names):
    """A restart ends `logs -f` as it ends dockerd's (the run's log driver closes), however
    quickly the next run starts: before, a follower that polled between the stop and the
    start ended and one that did not went on into the next run."""
    name = names()
    assert daemon.ketch("run", "-d", "--name", name, "busybox", "sh", "-c",
                        "echo run; exec sleep 1000").returncode == 0
    follow = daemon.popen_ketch("logs", "-f", name)
    try:
        assert follow.stdout.readline() == b"run\n"
        assert daemon.ketch("restart", "-t", "0", name).returncode == 0
        rest, _ = follow.communicate(timeout=20)
        assert follow.returncode == 0
        assert rest in (b"", b"run\n")  # the new run's line only if written before the stream saw the stop
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
