"""top, diff, export, container prune and wait conditions, through ketch, docker and the SDK."""

import io
import os
import shutil
import subprocess
import tarfile
import threading
import time

import pytest

from tests.integration.conftest import PYTHON, REPO, wait_until

needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")


def _run(daemon, name, *cmd):
    res = daemon.ketch("run", "-d", "--name", name, "busybox", *cmd)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


# -- top ---------------------------------------------------------------------------------

def test_top_default_columns_host_pids_and_ps_options(daemon, names):
    name = names()
    cid = _run(daemon, name, "sh", "-c", "sleep 300 & exec sleep 301")
    try:
        res = daemon.ketch("top", name)
        assert res.returncode == 0, res.stderr
        lines = res.stdout.splitlines()
        assert lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        cmds = sorted(line.split(None, 7)[7] for line in lines[1:])
        assert cmds == ["sleep 300", "sleep 301"]
        init_pid = daemon.ketch("inspect", "-f", "{{.State.Pid}}", name).stdout.strip()
        assert init_pid in [line.split()[1] for line in lines[1:]]  # the host's pid
        # the words after the container are ps's options
        res = daemon.ketch("top", name, "-o", "pid,args")
        assert res.stdout.splitlines()[0].split() == ["PID", "COMMAND"]
        doc = daemon.sdk().containers.get(cid).top(ps_args="-o pid,comm")
        assert doc["Titles"] == ["PID", "COMMAND"]
        assert sorted(p[1] for p in doc["Processes"]) == ["sleep", "sleep"]
        status, body = daemon.api("GET", f"/containers/{cid}/top?ps_args=-o%20x=PID")
        assert (status, body) == (500, {"message": 'specifying "x=PID" is not allowed'})
    finally:
        daemon.ketch("rm", "-f", name)


@needs_docker
def test_top_through_docker_and_of_a_stopped_container(daemon, names):
    name = names()
    cid = _run(daemon, name, "sleep", "300")
    try:
        res = daemon.docker("top", name)
        assert res.returncode == 0, res.stderr
        assert res.stdout.splitlines()[0].startswith("UID                 PID")
        assert res.stdout.splitlines()[1].endswith("sleep 300")
        daemon.ketch("kill", name, check=True)
        daemon.ketch("wait", name)
        for client in (daemon.ketch, daemon.docker):
            res = client("top", name)
            assert res.returncode == 1
            assert res.stderr.strip() == f"Error response from daemon: container {cid} is not running"
        status, _ = daemon.api("GET", f"/containers/{cid}/top")
        assert status == 409
    finally:
        daemon.ketch("rm", "-f", name)


# -- diff ----------------------------------------------------------------------------------

CHANGE_SCRIPT = ("echo x > /etc/x; rm /etc/group; rm -r /home; mkdir -p /tmp/new/deep; "
                 "echo y > /tmp/new/deep/f; rm -r /usr/sbin; mkdir /usr/sbin; touch /usr/sbin/only")
EXPECTED_CHANGES = ["C /etc", "A /etc/x", "D /etc/group", "D /home", "C /tmp", "A /tmp/new",
                    "A /tmp/new/deep", "A /tmp/new/deep/f", "C /usr", "D /usr/sbin",
                    "A /usr/sbin/only"]


def _sorted_docker_order(lines):
    # Docker's order is filepath.Walk's (byte order, parents first)
    return sorted(lines, key=lambda line: line.split(" ", 1)[1].encode())


@needs_docker
def test_diff_running_and_stopped_through_every_client(daemon, names):
    name = names()
    cid = _run(daemon, name, "sh", "-c", CHANGE_SCRIPT + "; exec sleep 300")
    try:
        assert wait_until(lambda: "A /usr/sbin/only" in daemon.ketch("diff", name).stdout, 10)
        want = _sorted_docker_order(EXPECTED_CHANGES)
        got = daemon.ketch("diff", name).stdout.splitlines()
        assert got == want
        assert daemon.docker("diff", name).stdout.splitlines() == want
        daemon.ketch("stop", "-t", "0", name, check=True)
        assert daemon.ketch("diff", name).stdout.splitlines() == want
        sdk = daemon.sdk().containers.get(cid).diff()
        kinds = {0: "C", 1: "A", 2: "D"}
        assert [f"{kinds[c['Kind']]} {c['Path']}" for c in sdk] == want
    finally:
        daemon.ketch("rm", "-f", name)


def test_diff_of_a_fresh_container_is_empty_and_missing_names_fail(daemon, names):
    name = names()
    res = daemon.ketch("create", "--name", name, "busybox", "true")
    try:
        cid = res.stdout.strip()
        assert daemon.api("GET", f"/containers/{cid}/changes") == (200, None)
        res = daemon.ketch("diff", name)
        assert (res.returncode, res.stdout) == (0, "")
        res = daemon.ketch("diff", "nosuch-" + name)
        assert res.returncode == 1
        assert res.stderr.strip() == f"Error response from daemon: No such container: nosuch-{name}"
    finally:
        daemon.ketch("rm", "-f", name)


# -- export --------------------------------------------------------------------------------

def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name: m for m in tf.getmembers()}


@needs_docker
def test_export_running_and_stopped_applies_whiteouts(daemon, names, tmp_path):
    name = names()
    cid = _run(daemon, name, "sh", "-c", CHANGE_SCRIPT + "; ln -s /etc/shadow /escape; exec sleep 300")
    try:
        assert wait_until(lambda: "/escape" in daemon.ketch("diff", name).stdout, 10)
        out = tmp_path / "run.tar"
        res = daemon.ketch("export", "-o", str(out), name)
        assert res.returncode == 0, res.stderr
        running = _members(out.read_bytes())
        assert "etc/x" in running and "tmp/new/deep/f" in running and "bin/busybox" in running
        assert "etc/group" not in running and "home" not in running
        assert "usr/sbin/only" in running and not any(n.startswith("usr/sbin/") and n != "usr/sbin/only"
                                                      for n in running)
        assert running["escape"].issym() and running["escape"].linkname == "/etc/shadow"
        assert "proc/self" not in running  # the container's mounts are not its files
        daemon.ketch("stop", "-t", "0", name, check=True)
        stopped = daemon.docker("export", name)  # to stdout (a pipe)
        assert stopped.returncode == 0, stopped.stderr
        raw = subprocess.run(["docker", "export", name], capture_output=True, env=daemon.env()).stdout
        members = _members(raw)
        assert set(members) == set(running)
        with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
            assert tf.extractfile("etc/x").read() == b"x\n"
        sdk = b"".join(daemon.sdk().containers.get(cid).export())
        assert set(_members(sdk)) == set(running)
        assert not os.listdir(os.path.join(daemon.exec_root, "exports"))  # nothing left mounted
    finally:
        daemon.ketch("rm", "-f", name)


def test_export_refuses_a_terminal_and_bad_outputs(daemon, names, tmp_path):
    name = names()
    daemon.ketch("create", "--name", name, "busybox", "true", check=True)
    try:
        cli = (f"{PYTHON} -I -S -c 'import sys; sys.path.insert(0, sys.argv[1]); from ketch.cli.main "
               f"import main; sys.exit(main(sys.argv[2:]))' {REPO}")
        res = subprocess.run(["script", "-eqc", f"{cli} export {name}", "/dev/null"],
                             capture_output=True, env=daemon.env(), timeout=30)
        assert res.returncode == 1
        assert b"cowardly refusing to save to a terminal. Use the -o flag or redirect" in res.stdout
        res = daemon.ketch("export", "-o", str(tmp_path), name)
        assert (res.returncode, res.stderr.strip()) == (1, "failed to export container: cannot write to a directory")
        res = daemon.ketch("export", "-o", "/nonexistent-dir/x.tar", name)
        assert res.stderr.strip() == ("failed to export container: invalid output path: stat "
                                      "/nonexistent-dir: no such file or directory")
    finally:
        daemon.ketch("rm", "-f", name)


# -- prune ---------------------------------------------------------------------------------

@needs_docker
def test_container_prune_with_filters_and_prompt(fresh_daemon, names):
    daemon = fresh_daemon  # prune removes every stopped container of its daemon
    keep_running, labelled, plain, kept = names(), names(), names(), names()
    _run(daemon, keep_running, "sleep", "300")
    try:
        ids = {}
        for n, labels in ((labelled, ["--label", "tier=db"]), (plain, []), (kept, ["--label", "keep"])):
            res = daemon.ketch("run", "--name", n, *labels, "busybox", "sh", "-c", "echo data > /f")
            assert res.returncode == 0, res.stderr
            ids[n] = daemon.ketch("inspect", "-f", "{{.Id}}", n).stdout.strip()
        # no -f: the question, and "n" prunes nothing
        res = daemon.ketch("container", "prune", input="n\n")
        assert (res.returncode, res.stdout) == (0, "WARNING! This will remove all stopped containers.\n"
                                                   "Are you sure you want to continue? [y/N] ")
        res = daemon.ketch("container", "prune", "-f", "--filter", "label=tier=db")
        assert res.stdout == f"Deleted Containers:\n{ids[labelled]}\n\nTotal reclaimed space: 5B\n", res.stderr
        res = daemon.docker("container", "prune", "-f", "--filter", "label!=keep", "--filter", "until=1h")
        assert res.stdout == "Total reclaimed space: 0B\n", res.stderr  # all created after until
        res = daemon.docker("container", "prune", "--filter", "label!=keep", input="y\n")
        assert res.stdout.endswith(f"Deleted Containers:\n{ids[plain]}\n\nTotal reclaimed space: 5B\n"), res.stdout
        report = daemon.sdk().containers.prune(filters={"label": ["nosuch"]})
        assert report == {"ContainersDeleted": None, "SpaceReclaimed": 0}
        res = daemon.ketch("container", "prune", "-f", "--filter", "status=exited")
        assert (res.returncode, res.stderr.strip()) == (1, "Error response from daemon: invalid filter 'status'")
        left = daemon.ketch("ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert kept in left and keep_running in left and plain not in left and labelled not in left
        report = daemon.sdk().containers.prune()
        assert report["ContainersDeleted"] == [ids[kept]]
    finally:
        for n in (keep_running, labelled, plain, kept):
            daemon.ketch("rm", "-f", n)


# -- wait conditions -----------------------------------------------------------------------

def test_wait_conditions_through_the_sdk(daemon, names):
    client = daemon.sdk()
    c = client.containers.create("busybox", ["sh", "-c", "exit 3"], name=names())
    results = {}

    def waiter(condition):
        results[condition] = c.wait(condition=condition, timeout=30)["StatusCode"]

    threads = [threading.Thread(target=waiter, args=(cond,)) for cond in ("next-exit", "removed")]
    for t in threads:
        t.start()
    time.sleep(0.5)  # both requests are registered before the container runs
    # not-running on a created container answers at once
    assert c.wait(condition="not-running", timeout=10)["StatusCode"] == 0
    c.start()
    threads[0].join(20)
    assert results.get("next-exit") == 3 and "removed" not in results
    c.remove()
    threads[1].join(20)
    assert results.get("removed") == 3
    import docker
    with pytest.raises(docker.errors.APIError, match='invalid condition: "sometime"'):
        client.containers.create("busybox", "true").wait(condition="sometime")
    client.containers.prune()


def test_export_never_follows_a_symlink_swapped_in_mid_walk(daemon, names):
    """The container swaps directory /d for a symlink to / as fast as it can: every export
    holds /d either as the directory (with its one file) or as the symlink, never the host's
    files through it."""
    name = names()
    swap = ("mkdir /d; echo in > /d/file; "
            "while true; do mv /d /d.real; ln -s / /d; rm /d; mv /d.real /d; done")
    cid = _run(daemon, name, "sh", "-c", swap)
    try:
        seen_link = seen_dir = 0
        for _ in range(20):
            status, data, _ = daemon.api("GET", f"/containers/{cid}/export", raw=True)
            assert status == 200
            members = _members(data)
            below = [n for n in members if n.startswith("d/")]
            assert set(below) <= {"d/file"}, below[:5]
            assert not any(n.startswith(("work/", "d.real/work")) for n in members)
            if "d" in members and members["d"].issym():
                seen_link += 1
            elif "d" in members:
                seen_dir += 1
        assert seen_link + seen_dir > 0
    finally:
        daemon.ketch("rm", "-f", name)
