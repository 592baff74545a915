"""Daemon-level behaviour: restarts with running containers, side-by-side daemons, cleanup."""

import os

from tests.integration.conftest import _mounts_under, wait_until


def _pids_of(daemon, cid):
    return daemon.api("GET", f"/containers/{cid}/json")[1]["State"]["Pid"]


def test_containers_survive_a_daemon_restart(fresh_daemon):
    d = fresh_daemon
    # it ends when told (a file appears), not after a time a slow restart could outlast
    cid = d.ketch("run", "-d", "busybox", "sh", "-c",
                  "echo before; until [ -e /go ]; do sleep 0.05; done; echo after; exit 3",
                  check=True).stdout.strip()
    pid = _pids_of(d, cid)
    assert pid > 0
    d.stop()
    assert os.path.exists(f"/proc/{pid}")  # the container outlives ketchd
    d.start()
    assert d.ketch("inspect", "-f", "{{.State.Running}}", cid).stdout == "true\n"
    d.ketch("exec", cid, "touch", "/go", check=True)
    assert d.ketch("wait", cid, timeout=30).stdout == "3\n"
    assert d.ketch("logs", cid).stdout == "before\nafter\n"
    assert not _mounts_under(os.path.join(d.exec_root, "containers", cid))


def test_a_paused_container_stays_paused_across_a_restart(fresh_daemon):
    d = fresh_daemon
    cid = d.ketch("run", "-d", "busybox", "sleep", "1000", check=True).stdout.strip()
    d.ketch("pause", cid, check=True)
    d.restart()
    assert d.ketch("inspect", "-f", "{{.State.Status}}", cid).stdout == "paused\n"
    assert d.ketch("unpause", cid).returncode == 0  # through the monitor, reattached
    assert d.ketch("inspect", "-f", "{{.State.Status}}", cid).stdout == "running\n"
    d.ketch("pause", cid, check=True)
    d.ketch("rm", "-f", cid, check=True)


def test_exit_while_daemon_is_down_is_recorded(fresh_daemon):
    d = fresh_daemon
    cid = d.ketch("run", "-d", "busybox", "sh", "-c", "sleep 0.5; exit 4", check=True).stdout.strip()
    d.stop()
    # The monitor writes exit.json once the container is gone; only then restart.
    assert wait_until(lambda: os.path.exists(os.path.join(d.exec_root, "containers", cid, "exit.json")),
                      30), "the monitor did not record the exit"
    d.start()
    out = d.ketch("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", cid).stdout
    assert out == "exited 4\n"
    assert not _mounts_under(os.path.join(d.exec_root, "containers", cid))


def test_two_daemons_side_by_side(daemon, fresh_daemon):
    a = daemon.ketch("run", "-d", "busybox", "sleep", "30", check=True).stdout.strip()
    try:
        assert fresh_daemon.api("GET", f"/containers/{a}/json")[0] == 404
        assert fresh_daemon.ketch("run", "--rm", "busybox", "echo", "other").stdout == "other\n"
        assert daemon.ketch("inspect", "-f", "{{.State.Running}}", a).stdout == "true\n"
    finally:
        daemon.ketch("rm", "-f", a)


def test_second_daemon_on_the_same_root_is_refused(fresh_daemon):
    import subprocess
    from tests.integration.conftest import PYTHON, REPO
    res = subprocess.run(
        [PYTHON, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "from ketch.daemon.main import main; sys.exit(main(sys.argv[2:]))", REPO,
         "-H", f"unix://{fresh_daemon.root}/other.sock", "--data-root", fresh_daemon.data_root,
         "--exec-root", fresh_daemon.root + "/exec2"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 1
    assert "another ketchd is already using the data root" in res.stderr


def _run_state(daemon) -> set[tuple[str, str]]:
    """Bundles, and runtime state (ketch's own per container, runc's/crun's under a root
    of their own), as (kind, container id)."""
    out = {("bundle", c) for c in os.listdir(os.path.join(daemon.exec_root, "containers"))}
    runtime_dir = os.path.join(daemon.exec_root, "runtime")
    for entry in os.listdir(runtime_dir) if os.path.isdir(runtime_dir) else []:
        if entry.startswith("."):
            continue  # the runtime's caches (compiled seccomp programs)
        if entry in ("runc", "crun"):
            out |= {("runtime", c) for c in os.listdir(os.path.join(runtime_dir, entry))}
        else:
            out.add(("runtime", entry))
    return out


def test_nothing_left_after_containers_finish(daemon):
    # The worker's daemon is shared: an earlier test's container may still be finishing
    # its own cleanup, which only ever removes entries. So: nothing new may stay.
    before_mounts, before = set(_mounts_under(daemon.root)), _run_state(daemon)
    for args in (("true",), ("nosuch",), ("sh", "-c", "exit 1")):
        daemon.ketch("run", "--rm", "busybox", *args)
    assert set(_mounts_under(daemon.root)) - before_mounts == set()
    assert _run_state(daemon) - before == set()


def _monitors_of(daemon) -> set[int]:
    return set(daemon.monitors())


def test_monitor_processes_end_with_their_containers(daemon):
    before = _monitors_of(daemon)
    daemon.ketch("run", "--rm", "busybox", "true", check=True)
    assert wait_until(lambda: _monitors_of(daemon) - before == set(), 30), "the monitor did not end"
    cid = daemon.ketch("run", "-d", "busybox", "sleep", "30", check=True).stdout.strip()
    assert len(_monitors_of(daemon) - before) == 1
    daemon.ketch("rm", "-f", cid, check=True)
    assert wait_until(lambda: _monitors_of(daemon) - before == set(), 30), "the monitor did not end"


def test_what_a_crash_left_without_a_record_is_swept_at_start(fresh_daemon):
    d = fresh_daemon
    kept = d.ketch("create", "busybox", "true", check=True).stdout.strip()
    snapshots = os.path.join(d.data_root, "snapshots")
    before = set(os.listdir(snapshots))
    # As create leaves them when ketchd dies before the record is committed:
    os.makedirs(os.path.join(snapshots, "0123456789ab", "fs"))
    os.makedirs(os.path.join(snapshots, "0123456789ab", "work"))
    orphan = "f" * 64
    os.makedirs(os.path.join(d.data_root, "containers", orphan))
    d.restart()
    assert set(os.listdir(snapshots)) == before
    assert sorted(os.listdir(os.path.join(d.data_root, "containers"))) == [kept]
    assert d.ketch("start", "-a", kept).returncode == 0  # what has a record is untouched
    d.ketch("rm", kept, check=True)
