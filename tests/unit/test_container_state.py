"""The container state machine: every transition, every refusal, one event each.

Refusal texts are Docker's (moby daemon/start.go, pause.go, unpause.go, delete.go).
"""

import pytest

from ketch import errors
from ketch.engine.containers import state as S
from ketch.engine.containers.records import ContainerRecord
from ketch.engine.containers.state import ContainerState, StateMachine
from ketch.engine.events import EventBus

CID = "c" * 64


def record(status=S.CREATED):
    rec = ContainerRecord(id=CID, name="web", created="x", image="busybox", image_id="sha256:x",
                          config={"Labels": {"a": "b"}}, host_config={}, path="sh", args=[],
                          snapshot="s", parents=[])
    rec.state = ContainerState(status)
    return rec


@pytest.fixture
def machine():
    bus = EventBus()
    saved, events = [], []
    bus.subscribe(events.append)
    m = StateMachine(bus, lambda rec: saved.append(rec.state.to_docker()))
    m.saved, m.events = saved, events
    return m


def drive(machine, rec, *actions):
    for action in actions:
        machine.apply(rec, action)
    return rec


def test_a_full_life_publishes_one_event_per_transition(machine):
    rec = record()
    actions = ["start", "started", "pause", "unpause", "stop", "exit", "exited", "remove", "removed"]
    drive(machine, rec, *actions)
    assert [(e.action, e.internal) for e in machine.events] == [
        ("start", True), ("start", False), ("pause", False), ("unpause", False), ("stop", True),
        ("exit", True), ("die", False), ("remove", True), ("destroy", False)]
    assert rec.state.status == S.REMOVED


def test_a_stop_signal_thaws_a_paused_container_being_stopped(machine):
    rec = drive(machine, record(), "start", "started", "pause", "stop")
    assert rec.state.to_docker()["Paused"] is True
    machine.apply(rec, "thawed", shown=S.RUNNING)
    doc = rec.state.to_docker()
    assert (rec.state.status, doc["Status"], doc["Paused"]) == (S.STOPPING, "running", False)
    assert machine.events[-1].action == "unpause"
    drive(machine, rec, "exit", "exited")
    assert rec.state.to_docker()["Status"] == "exited"


def test_only_stable_states_are_saved(machine):
    rec = record()
    drive(machine, rec, "start", "started", "stop", "exit", "exited")
    assert [doc["Status"] for doc in machine.saved] == ["running", "exited"]


def test_transient_states_show_the_stable_state_they_left():
    rec = record()
    m = StateMachine(EventBus(), lambda rec: None)
    m.apply(rec, "start")
    assert rec.state.to_docker()["Status"] == "created" and not rec.state.running
    m.apply(rec, "started", pid=42)
    m.apply(rec, "pause")
    m.apply(rec, "stop")
    doc = rec.state.to_docker()
    assert (doc["Status"], doc["Running"], doc["Paused"], doc["Pid"]) == ("paused", True, True, 42)
    m.apply(rec, "exit")  # cleaning: the exit is not visible yet
    assert rec.state.to_docker()["Running"] is True
    m.apply(rec, "exited", exit_code=3, pid=0)
    doc = rec.state.to_docker()
    assert (doc["Status"], doc["Running"], doc["ExitCode"], doc["Pid"]) == ("exited", False, 3, 0)


def test_a_failed_start_goes_back_to_where_it_started(machine):
    rec = record(S.EXITED)
    machine.apply(rec, "start")
    machine.apply(rec, "start_failed", exit_code=127, error="not found")
    assert rec.state.status == S.EXITED and rec.state.exit_code == 127
    rec = record()
    drive(machine, rec, "start", "start_failed")
    assert rec.state.status == S.CREATED


def test_die_carries_the_exit_code_the_run_time_and_the_labels(machine):
    rec = drive(machine, record(), "start", "started", "exit")
    rec.state.started_at = "2026-12-06T16:00:00.5Z"
    machine.apply(rec, "exited", exit_code=137, finished_at="2026-12-06T16:01:03.4Z")
    die = machine.events[-1]
    assert die.to_docker()["Actor"] == {"ID": CID, "Attributes": {
        "a": "b", "execDuration": "62", "exitCode": "137", "image": "busybox", "name": "web"}}


def test_labels_cannot_hide_the_name_or_the_image(machine):
    """moby copies the labels first, then sets image and name over them."""
    rec = record()
    rec.config["Labels"] = {"name": "fake", "image": "fake", "signal": "label"}
    machine.log(rec, "kill", {"signal": "9"})
    attrs = machine.events[-1].attributes
    assert (attrs["name"], attrs["image"], attrs["signal"]) == ("web", "busybox", "label")


REFUSALS = [
    (S.PAUSED, "start", errors.Conflict, "cannot start a paused container, try unpause instead"),
    (S.REMOVING, "start", errors.Conflict, "container is marked for removal and cannot be started"),
    (S.DEAD, "start", errors.Conflict, "container is marked for removal and cannot be started"),
    (S.PAUSED, "pause", errors.Conflict, f"Container {CID} is already paused"),
    (S.CREATED, "pause", errors.Conflict, f"container {CID} is not running"),
    (S.EXITED, "pause", errors.Conflict, f"container {CID} is not running"),
    (S.RUNNING, "unpause", errors.Conflict, f"Container {CID} is not paused"),
    (S.CREATED, "unpause", errors.Conflict, f"Container {CID} is not paused"),
    (S.REMOVING, "remove", errors.Conflict, f"removal of container {CID[:12]} is already in progress"),
    (S.RUNNING, "remove", errors.Conflict, 'cannot remove container "/web": container is running: '
                                          "stop the container before removing or force remove"),
    (S.PAUSED, "remove", errors.Conflict,
     'cannot remove container "/web": container is paused and must be unpaused first'),
    (S.EXITED, "stop", errors.Conflict, f"container {CID} is not running"),
    (S.RUNNING, "exited", errors.Conflict, f"cannot exited container {CID[:12]}: it is running"),
    (S.REMOVED, "start", errors.NotFound, f"No such container: {CID}"),
    (S.REMOVED, "pause", errors.NotFound, f"No such container: {CID}"),
]


@pytest.mark.parametrize("status,action,kind,message", REFUSALS)
def test_refusals(machine, status, action, kind, message):
    rec = record()
    rec.state.status = rec.state.shown = status
    if status == S.REMOVING:
        rec.state.shown = S.EXITED
    with pytest.raises(kind) as exc:
        machine.apply(rec, action)
    assert str(exc.value) == message
    assert machine.events == [] and machine.saved == []  # a refusal changes nothing


def test_every_transition_names_known_states():
    known = {S.CREATED, S.STARTING, S.RUNNING, S.PAUSED, S.STOPPING, S.CLEANING, S.EXITED,
             S.REMOVING, S.REMOVED, S.DEAD, S.RESTARTING}
    for t in S.TRANSITIONS.values():
        assert set(t.sources) <= known and (t.target is None or t.target in known)


@pytest.mark.parametrize("doc,status", [
    ({"Status": "running", "Running": True}, S.RUNNING),
    ({"Status": "paused", "Running": True, "Paused": True}, S.PAUSED),
    ({"Status": "exited", "StartedAt": "2026-01-01T00:00:00.000000000Z"}, S.EXITED),
    ({}, S.CREATED),
    # transient states never reach the store, but an older ketch's store may say "removing"
    ({"Status": "removing", "StartedAt": "2026-01-01T00:00:00.000000000Z"}, S.EXITED),
    ({"Status": "removing"}, S.CREATED),
])
def test_from_docker(doc, status):
    st = ContainerState.from_docker(doc)
    assert (st.status, st.shown) == (status, status)


def test_round_trip_through_the_store_shape():
    rec = record()
    StateMachine(EventBus(), lambda r: None).apply(rec, "start")
    rec.state.status = rec.state.shown = S.RUNNING
    rec.state.pid, rec.state.started_at = 7, "2026-01-01T00:00:00.000000000Z"
    back = ContainerRecord.from_doc(rec.to_doc())
    assert back.state.to_docker() == rec.state.to_docker()
    assert isinstance(rec.state, ContainerState)  # to_doc leaves the record as it was


def test_a_failing_subscriber_does_not_break_a_transition(machine):
    def broken(event):
        raise RuntimeError("boom")
    machine.bus.subscribe(broken)
    rec = drive(machine, record(), "start", "started")
    assert rec.state.status == S.RUNNING


@pytest.mark.parametrize("stop_signal,sig,thaws", [
    (None, 9, True), (None, 15, True), (None, 10, True),  # no stop signal: any signal (moby)
    ("SIGUSR2", 12, True), ("SIGUSR2", 9, True), ("SIGUSR2", 15, False), ("USR2", 10, False),
])
def test_which_signals_thaw_a_paused_container(stop_signal, sig, thaws):
    from ketch.engine.containers.lifecycle import _thaws
    rec = record()
    rec.config["StopSignal"] = stop_signal
    assert _thaws(rec, sig) is thaws


def test_an_ambiguous_prefix_is_mobys_400():
    from ketch.engine.containers.records import Registry

    class NoStore:
        def all_containers(self):
            return []

        def put_container(self, *args):
            pass

    registry = Registry(NoStore())
    for i, cid in enumerate(("ab" + "1" * 62, "ab" + "2" * 62)):
        rec = record()
        rec.id, rec.name = cid, f"c{i}"
        registry.add(rec)
    with pytest.raises(errors.InvalidArgument) as err:
        registry.get("ab")
    assert str(err.value) == "multiple IDs found with provided prefix: ab"  # moby 26 (20.10: "Multiple")
    assert registry.get("ab1").name == "c0"


# -- restarting (a restart policy's back-off) ----------------------------------------
def test_a_restart_policy_exit_is_a_die_into_restarting_then_a_start(machine):
    rec = drive(machine, record(), "start", "started", "exit")
    machine.apply(rec, "restarting", exit_code=3, pid=0)
    assert machine.events[-1].action == "die" and not machine.events[-1].internal
    assert machine.events[-1].attributes["exitCode"] == "3"
    doc = rec.state.to_docker()
    assert (doc["Status"], doc["Running"], doc["Restarting"], doc["Pid"]) == ("restarting", True, True, 0)
    assert machine.saved[-1]["Status"] == "restarting"  # survives a ketchd crash
    drive(machine, rec, "start", "started")
    assert rec.state.to_docker()["Restarting"] is False
    assert [e.action for e in machine.events if not e.internal][-2:] == ["die", "start"]


def test_a_canceled_restart_is_exited_without_a_die(machine):
    rec = drive(machine, record(), "start", "started", "exit", "restarting")
    count = len([e for e in machine.events if not e.internal])
    machine.apply(rec, "restart_canceled")
    assert rec.state.to_docker()["Status"] == "exited" and rec.state.to_docker()["Running"] is False
    assert len([e for e in machine.events if not e.internal]) == count
    assert machine.events[-1].action == "restart_canceled"


@pytest.mark.parametrize("action, message", [
    ("pause", f"Container {CID} is restarting, wait until the container is running"),
    ("remove", 'cannot remove container "/web": container is restarting: '
               "stop the container before removing or force remove"),
])
def test_refusals_of_a_restarting_container(machine, action, message):
    rec = drive(machine, record(), "start", "started", "exit", "restarting")
    with pytest.raises(errors.Conflict) as exc:
        machine.apply(rec, action)
    assert str(exc.value) == message


def test_restarting_reads_back_from_the_store():
    st = ContainerState.from_docker({"Status": "restarting", "Running": True, "Restarting": True,
                                     "ExitCode": 1, "StartedAt": "2026-01-01T00:00:00Z"})
    assert (st.status, st.running, st.restarting, st.alive) == (S.RESTARTING, True, True, False)


def test_wait_not_running_on_a_restarting_container_waits_for_its_end(machine):
    """moby's State.Wait: a restarting container is Running; SetStopped (our
    restart_canceled) and the next exit's die both end a not-running wait."""
    import asyncio

    from ketch.engine.containers.waiters import Waiters

    async def scenario():
        waiters = Waiters(machine.bus)
        rec = drive(machine, record(), "start", "started", "exit")
        machine.apply(rec, "restarting", exit_code=1)
        fut = waiters.register(rec, "not-running")
        nxt = waiters.register(rec, "next-exit")
        await asyncio.sleep(0)
        assert not fut.done() and not nxt.done()
        machine.apply(rec, "restart_canceled")
        assert (await fut, await nxt) == (1, 1)
        done = waiters.register(rec, "not-running")  # exited now: at once
        assert done.done()

    asyncio.run(scenario())
