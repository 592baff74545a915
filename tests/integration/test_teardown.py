"""The teardown's own checks can fail: a leftover monitor and runtime state are seen,
and only for the daemon that owns them."""

from tests.integration.conftest import wait_until


def test_teardown_sees_leftover_monitors_and_runtime_state(fresh_daemon, daemon):
    d = fresh_daemon
    cid = d.ketch("run", "-d", "busybox", "sleep", "60", check=True).stdout.strip()
    try:
        mine = d.monitors()
        assert len(mine) == 1
        assert not set(mine) & set(daemon.monitors())  # another daemon's check skips it
        assert any(cid in path for path in d.runtime_state())
        d.stop()  # the container outlives ketchd: what a forgetful teardown would leave
        assert d.monitors() == mine
    finally:
        if d.proc is None:
            d.start()
        d.api("DELETE", f"/containers/{cid}?force=1")
    assert wait_until(lambda: not d.monitors(), 10)
    assert d.runtime_state() == []
