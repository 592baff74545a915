"""`ketch pause`/`unpause`: the container's processes frozen through its runtime (ketch's
own or runc), and Docker's answers around a paused container."""

import time

import pytest

COUNTER = "i=0; while :; do i=$((i+1)); echo $i; sleep 0.02; done"


def _lines(daemon, name: str) -> int:
    return len(daemon.ketch("logs", name).stdout.splitlines())


def _wait_for_more(daemon, name: str, than: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = _lines(daemon, name)
        if n > than:
            return n
        time.sleep(0.05)
    raise AssertionError(f"{name} stopped counting at {than}")


@pytest.mark.parametrize("runtime", ["ketch", "runc"])
def test_pause_freezes_and_unpause_thaws(daemon, names, runtime):
    name = names()
    daemon.ketch("run", "-d", "--runtime", runtime, "--name", name, "busybox", "sh", "-c", COUNTER, check=True)
    _wait_for_more(daemon, name, 0)
    assert daemon.ketch("pause", name).stdout == f"{name}\n"
    frozen = _lines(daemon, name)
    time.sleep(0.5)
    assert _lines(daemon, name) == frozen  # nothing ran while frozen
    assert daemon.ketch("inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}",
                        name).stdout == "paused true true\n"
    status = daemon.ketch("ps", "--filter", f"name={name}", "--format", "{{.Status}}").stdout
    assert status.startswith("Up ") and status.endswith(" (Paused)\n")
    assert daemon.ketch("ps", "-q", "--filter", "status=paused", "--filter", f"name={name}").stdout.strip()
    assert daemon.ketch("container", "unpause", name).stdout == f"{name}\n"
    _wait_for_more(daemon, name, frozen)
    assert daemon.ketch("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", name).stdout == "running false\n"
    daemon.ketch("rm", "-f", name, check=True)


@pytest.mark.parametrize("how,code", [(["kill"], 137), (["stop", "-t", "30"], 143), (["rm", "-f"], None)])
def test_a_paused_container_can_still_be_ended(daemon, names, how, code):
    """A frozen process cannot take a signal: ketchd thaws it after sending SIGKILL or the
    stop signal, as moby does; so stop ends it with SIGTERM (143), not after its timeout."""
    name = names()
    # PID 1 ignores signals it has no handler for: this one handles TERM.
    daemon.ketch("run", "-d", "--name", name, "busybox", "sh", "-c",
                 "trap 'exit 143' TERM; while true; do sleep 0.1; done", check=True)
    daemon.ketch("pause", name, check=True)
    started = time.monotonic()
    res = daemon.ketch(*how, name, timeout=60)
    assert res.returncode == 0, res.stderr
    assert time.monotonic() - started < 15
    if how[0] != "rm":
        assert daemon.ketch("wait", name).stdout == f"{code}\n"
        assert daemon.ketch("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", name).stdout == "exited false\n"
        daemon.ketch("rm", name, check=True)
    else:
        assert daemon.api("GET", f"/containers/{name}/json")[0] == 404


def test_refusals_in_dockers_words(daemon, names):
    name, created = names(), names()
    cid = daemon.ketch("run", "-d", "--name", name, "busybox", "sleep", "1000", check=True).stdout.strip()
    daemon.ketch("create", "--name", created, "busybox", check=True)
    ccid = daemon.ketch("inspect", "-f", "{{.Id}}", created).stdout.strip()

    res = daemon.ketch("unpause", name)
    assert (res.returncode, res.stderr) == (1, f"Error response from daemon: Container {cid} is not paused\n")
    daemon.ketch("pause", name, check=True)
    res = daemon.ketch("pause", name)
    assert (res.returncode, res.stderr) == (1, f"Error response from daemon: Container {cid} is already paused\n")
    res = daemon.ketch("attach", name)
    assert (res.returncode, res.stderr) == (1, "You cannot attach to a paused container, unpause it first\n")
    res = daemon.ketch("start", name)
    assert res.returncode == 1
    assert "Error response from daemon: cannot start a paused container, try unpause instead" in res.stderr
    res = daemon.ketch("pause", created, "no-such-container-x")
    assert res.returncode == 1
    assert f"container {ccid} is not running" in res.stderr and "No such container: no-such-container-x" in res.stderr
    res = daemon.ketch("pause")
    assert res.returncode == 1 and "'ketch pause' requires at least 1 argument" in res.stderr
    status, body = daemon.api("POST", f"/containers/{created}/unpause")
    assert status == 409 and body["message"] == f"Container {ccid} is not paused"
    info = daemon.api("GET", "/info")[1]
    assert info["ContainersPaused"] >= 1
    daemon.ketch("rm", "-f", name, created, check=True)


def test_docker_sdk_pause(daemon, names):
    client = daemon.sdk()
    name = names()
    c = client.containers.run("busybox", ["sleep", "1000"], name=name, detach=True)
    try:
        c.pause()
        c.reload()
        assert c.status == "paused" and c.attrs["State"]["Paused"] is True
        c.unpause()
        c.reload()
        assert c.status == "running"
    finally:
        c.remove(force=True)
        client.close()
