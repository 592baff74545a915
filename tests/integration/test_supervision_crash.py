"""Supervision across ketchd crashes (issue 6): kill -9 of ketchd at random moments of a
create/start/stop/rm churn, and between the runtime's create and start.

After a restart ``ps -a`` must be exact (a running container has a live init and a
monitor; nothing runs for a container shown stopped or not shown at all), exits that
happened while ketchd was down are recorded with their codes, and removing everything
leaves nothing on the host (``leftovers``). The only sleeps choose when ketchd is killed.
"""

import http.client
import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import PYTHON, REPO
from tests.integration.leftovers import (
    TERMINABLE, alive, assert_nothing_left, call, container_pids, create, daemon_processes,
    monitors_by_container, ok, parent_of, quiet, reap, state, wait_until)


@pytest.fixture
def own(fresh_daemon):
    """A daemon of the test's own, cleaned up by pid afterwards however the test ended."""
    yield fresh_daemon
    reap(fresh_daemon)


# -- 6: a created container whose ketchd dies --------------------------------------------
def _kill9(d) -> None:
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.proc = None


def test_created_container_removable_after_ketchd_kill9(own):
    """`ketch create`, kill -9 of ketchd, restart: the container is still "created" and
    `ketch rm` removes it with nothing left."""
    d = own
    name = f"created-{os.getpid():07d}"
    res = d.ketch("create", "--name", name, "busybox", "sleep", "1000")
    assert res.returncode == 0, res.stderr
    _kill9(d)
    d.start()
    assert state(d, name)["Status"] == "created"
    res = d.ketch("rm", name)
    assert res.returncode == 0, res.stderr
    assert_nothing_left(d)


SLOW_CREATE = """#!/bin/sh
# A runc-compatible runtime: ketch's own, which after create waits for {release}:
# ketchd is killed while its container sits created in the runtime.
creating=
for a in "$@"; do [ "$a" = create ] && creating=1; done
{python} -I -S -c 'import sys; sys.path.insert(0, "{repo}"); from ketch.runtime.cli import main; sys.exit(main())' "$@" || exit $?
if [ -n "$creating" ]; then
    : > {marker}
    while [ ! -e {release} ]; do sleep 0.02; done
fi
"""


@pytest.mark.parametrize("then", ["rm", "start"])
def test_container_killed_between_runtime_create_and_start(own, then):
    """ketchd dies after the runtime created the container and before it was started: the
    monitor must not wait forever, and after a restart the container can be removed (or
    started) leaving no monitor, init, cgroup or runtime state behind."""
    d = own
    marker, release = os.path.join(d.root, "created"), os.path.join(d.root, "release")
    wrapper = os.path.join(d.root, "slow-create")
    with open(wrapper, "w") as f:
        f.write(SLOW_CREATE.format(python=PYTHON, repo=REPO, marker=marker, release=release))
    os.chmod(wrapper, 0o755)
    d.write_config(runtimes={"slow": {"path": wrapper}})
    d.restart()
    made = []

    def create_and_start() -> None:
        # Whether the runtime's create comes with the API's create or its start, the
        # request that reaches it is cut by the kill.
        made.append(create(d, ["sleep", "1000"], Runtime="slow"))
        call(d, "POST", f"/containers/{made[0]}/start", timeout=30)

    starter = ThreadPoolExecutor(1)
    cut = starter.submit(quiet, create_and_start)
    wait_until(lambda: os.path.exists(marker), 20, "the runtime to create the container")
    _kill9(d)
    open(release, "w").close()
    cut.result(30)
    starter.shutdown()
    # The monitor learns nothing more from the ketchd that asked for it.
    d.start()
    listed = ok(d, "GET", "/containers/json?all=1")
    assert len(listed) <= 1, listed
    if not listed:  # an unacknowledged create may be forgotten, but nothing of it may stay
        assert_nothing_left(d)
        return
    cid = listed[0]["Id"]
    st = state(d, cid)
    assert not st["Running"], st
    if then == "start":
        status, doc = call(d, "POST", f"/containers/{cid}/start")
        assert status == 204, doc
        st = state(d, cid)
        assert st["Running"] and alive(st["Pid"]), st
        assert st["Pid"] in container_pids(d, cid)
        status, doc = call(d, "DELETE", f"/containers/{cid}?force=1")
    else:
        status, doc = call(d, "DELETE", f"/containers/{cid}")
    assert status == 204, doc
    assert_nothing_left(d)


# -- 4: kill -9 of ketchd during churn ---------------------------------------------------
# Exits with its own code when signalled from the host (a pid 1 gets only the signals it
# handles), so that an exit can be caused while ketchd is down.
EXIT_ON_USR1 = "trap 'exit {code}' USR1; sleep 1000 & wait"


class Churn(threading.Thread):
    """create/start/stop/kill/rm of short and long containers, as fast as ketchd answers;
    requests cut by a ketchd kill are expected and counted, not failures."""

    def __init__(self, d, up: threading.Event) -> None:
        super().__init__(daemon=True)
        self.d, self.up = d, up
        self.stopping = threading.Event()
        self.known: set[str] = set()
        self.ops = 0
        self.cut = 0
        self.rng = random.Random(6)

    def run(self) -> None:
        while not self.stopping.is_set():
            self.up.wait()
            try:
                self.step()
                self.ops += 1
            except (OSError, http.client.HTTPException, KeyError, TypeError):
                self.cut += 1

    def step(self) -> None:
        d, rng = self.d, self.rng
        known = sorted(self.known)
        op = rng.random()
        if len(known) < 4 or (op < 0.4 and len(known) < 12):
            cmd = rng.choice([["sleep", "1000"], ["true"], ["sh", "-c", "exit 3"], TERMINABLE])
            status, doc = call(d, "POST", "/containers/create",
                               {"Image": "busybox", "Cmd": cmd, "HostConfig": {}}, timeout=20)
            if status == 201:
                self.known.add(doc["Id"])
                call(d, "POST", f"/containers/{doc['Id']}/start", timeout=20)
        elif op < 0.55:
            call(d, "POST", f"/containers/{rng.choice(known)}/start", timeout=20)
        elif op < 0.7:
            call(d, "POST", f"/containers/{rng.choice(known)}/stop?t=1", timeout=20)
        elif op < 0.8:
            call(d, "POST", f"/containers/{rng.choice(known)}/kill", timeout=20)
        else:
            cid = rng.choice(known)
            status, _ = call(d, "DELETE", f"/containers/{cid}?force=1", timeout=20)
            if status in (204, 404):
                self.known.discard(cid)


def exactness_problems(d) -> tuple[dict[str, dict], list[str]]:
    """ps -a is the truth: a running container has a live init in its cgroup whose parent is
    a monitor; nothing runs for a container shown stopped; every container process and
    monitor on the host belongs to a listed container."""
    status, items = call(d, "GET", "/containers/json?all=1")
    assert status == 200, items
    states = {c["Id"]: state(d, c["Id"]) for c in items}
    problems = []
    monitors = monitors_by_container(d)
    for cid, st in states.items():
        pids = container_pids(d, cid)
        if st["Running"]:
            if not (st["Pid"] > 0 and alive(st["Pid"]) and st["Pid"] in pids):
                problems.append(f"{cid[:12]} shows running with pid {st['Pid']}, its cgroup has {pids}")
            elif parent_of(st["Pid"])[1] != "ketch-monitor":
                problems.append(f"{cid[:12]}'s init {st['Pid']} has parent {parent_of(st['Pid'])}, not a monitor")
        else:
            if pids:
                problems.append(f"{cid[:12]} shows {st['Status']} but has processes {pids}")
            if cid in monitors:
                problems.append(f"{cid[:12]} shows {st['Status']} but has monitors {monitors[cid]}")
    for cid, pids in monitors.items():
        if cid not in states:
            problems.append(f"monitors {pids} of {cid[:12]}, which ps -a does not list")
    for pid, what in daemon_processes(d).items():
        if " in cgroup " in what and what.rsplit("/", 1)[1] not in states:
            problems.append(f"process {pid} ({what}) of no listed container")
    return states, problems


def assert_exact(d, timeout: float = 10) -> dict[str, dict]:
    """``exactness_problems`` is empty within ``timeout`` (a monitor may take a moment to go)."""
    found: dict = {}

    def exact():
        found["states"], found["problems"] = exactness_problems(d)
        return not found["problems"]

    try:
        wait_until(exact, timeout, "ps -a to match the host", interval=0.1)
    except AssertionError:
        problems = found["problems"]
        raise AssertionError(f"{len(problems)} problems:\n" + "\n".join(problems)) from None
    return found["states"]


KILLS = 50


def test_kill9_of_ketchd_during_churn(own):
    """50 kill -9 of ketchd at random moments while a client churns containers; every
    ketchd comes back, ps -a is exact, untouched containers still run with the same pid,
    five exits caused while ketchd was down are recorded with their codes, and removing
    everything leaves nothing."""
    d = own
    long_lived = [create(d, ["sleep", "1000"]) for _ in range(3)]
    exiting = {create(d, ["sh", "-c", EXIT_ON_USR1.format(code=code)]): code for code in range(3, 8)}
    for cid in long_lived + list(exiting):
        ok(d, "POST", f"/containers/{cid}/start")
    before = {cid: state(d, cid) for cid in long_lived + list(exiting)}
    trigger_at = dict(zip(range(9, KILLS, 10), exiting))  # one exit while ketchd is down, every 10 kills

    up = threading.Event()
    up.set()
    churn = Churn(d, up)
    churn.start()
    rng = random.Random(9)
    try:
        for i in range(KILLS):
            time.sleep(rng.uniform(0.05, 0.5))  # when to kill: the only sleep
            up.clear()
            _kill9(d)
            if i in trigger_at:
                cid = trigger_at[i]
                pid = before[cid]["Pid"]
                os.kill(pid, signal.SIGUSR1)
                wait_until(lambda: not alive(pid), 10, f"{cid[:12]} to exit while ketchd is down")
            d.start()
            up.set()
            if i in trigger_at:
                st = state(d, trigger_at[i])
                assert (st["Status"], st["ExitCode"]) == ("exited", exiting[trigger_at[i]]), st
    finally:
        churn.stopping.set()
        up.set()
        churn.join(30)
    assert churn.ops > KILLS, f"the churn did too little: {churn.ops} ops, {churn.cut} cut"

    states = assert_exact(d)
    for cid in long_lived:
        st = states[cid]
        assert (st["Status"], st["Pid"], st["StartedAt"]) == \
            ("running", before[cid]["Pid"], before[cid]["StartedAt"]), st
    for cid, code in exiting.items():
        assert (states[cid]["Status"], states[cid]["ExitCode"]) == ("exited", code), states[cid]
    errors = []
    for cid in states:
        status, doc = call(d, "DELETE", f"/containers/{cid}?force=1")
        if status != 204:
            errors.append(f"rm -f {cid[:12]} ({states[cid]['Status']}): {status} {doc}")
    assert not errors, errors
    assert_nothing_left(d)
