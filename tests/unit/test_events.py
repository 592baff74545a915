"""The event bus's replay, moby's event filters, the events journal, /events' time
parsing and the CLI's rendering of events."""

import json
import os
import stat

import pytest

from ketch import errors
from ketch.api.routes.events import event_time
from ketch.cli.commands import events as cli_events
from ketch.engine.eventlog import EventLog
from ketch.engine.events import Event, EventBus, EventFilter

CID = "c" * 64


def container(action="start", name="web", image="busybox:latest", t=1, **extra):
    return Event("container", action, CID, {"name": name, "image": image, **extra}, time_nano=t)


def image(action="tag", name="busybox:latest", t=1):
    return Event("image", action, "sha256:" + "a" * 64, {"name": name}, time_nano=t)


def test_the_docker_shape_with_the_deprecated_fields():
    doc = container(t=1_700_000_000_123456789, z="1", a="2").to_docker()
    assert list(doc) == ["status", "id", "from", "Type", "Action", "Actor", "scope", "time", "timeNano"]
    assert (doc["status"], doc["id"], doc["from"]) == ("start", CID, "busybox:latest")
    assert list(doc["Actor"]["Attributes"]) == ["a", "image", "name", "z"]  # Go's map order
    assert (doc["time"], doc["timeNano"]) == (1_700_000_000, 1_700_000_000_123456789)
    assert "from" not in image().to_docker()
    assert "status" not in Event("network", "create", "n").to_docker()
    prune = Event("container", "prune", "", {"reclaimed": "0"}).to_docker()  # no actor: no id
    assert (prune["status"], "id" in prune, "from" in prune) == ("prune", False, False)
    assert Event.from_docker(doc).to_docker() == doc


FILTERS = [
    ({}, container(), True),
    ({"type": ["image"]}, container(), False),
    ({"type": ["image", "container"]}, container(), True),
    ({"event": ["start"]}, container(), True),
    ({"event": ["stop"]}, container(), False),
    ({"event": ["exec_start"]}, container("exec_start: sh -c true"), True),  # moby #25798
    ({"event": ["exec_die"]}, container("exec_die: x"), False),
    ({"container": ["we"]}, container(), True),  # a prefix of the name
    ({"container": ["ccc"]}, container(), True),  # of the id
    ({"container": ["db"]}, container(), False),
    ({"container": ["web"]}, image(), False),  # no image is that container
    ({"image": ["busybox"]}, container(), True),  # the tag stripped
    ({"image": ["busybox:latest"]}, container(), True),
    ({"image": ["alpine"]}, container(), False),
    ({"image": ["busybox"]}, image(), True),
    ({"label": ["tier"]}, container(tier="web"), True),
    ({"label": ["tier=web"]}, container(tier="web"), True),
    ({"label": ["tier=db"]}, container(tier="web"), False),
    ({"label": ["tier", "zone"]}, container(tier="web"), False),  # every label must be there
    ({"scope": ["local"]}, container(), True),
    ({"scope": ["swarm"]}, container(), False),
    ({"daemon": ["x"]}, container(), False),
    ({"volume": ["v"]}, container(), False),
    ({"nonsense": ["x"]}, container(), True),  # moby does not check the keys of /events
]


@pytest.mark.parametrize("filters,event,expected", FILTERS)
def test_filters_match_as_moby(filters, event, expected):
    assert EventFilter(filters)(event) is expected


def test_replay_takes_since_and_until_and_leaves_internal_events_out():
    bus = EventBus(history=3)
    heard = []
    bus.subscribe(heard.append)
    for t in range(1, 6):
        bus.publish(container(t=t * 10))
    bus.publish(Event("container", "cleaning", CID, internal=True, time_nano=60))
    assert len(heard) == 6  # subscribers hear everything
    everything = lambda e: True  # noqa: E731
    assert [e.time_nano for e in bus.replay(None, None, everything)] == []  # neither bound: nothing
    assert [e.time_nano for e in bus.replay(0, None, everything)] == [30, 40, 50]  # since the epoch
    assert [e.time_nano for e in bus.replay(35, None, everything)] == [40, 50]
    assert [e.time_nano for e in bus.replay(1, 45, everything)] == [30, 40]  # the ring kept 3
    assert [e.time_nano for e in bus.replay(None, 35, everything)] == [30]
    assert bus.replay(1, None, EventFilter({"event": ["die"]})) == []


@pytest.mark.parametrize("text,nanos", [
    ("", None), ("0", 0), ("1700000000", 1_700_000_000 * 10**9), ("1700000000.5", 1_700_000_000_500_000_000),
    ("1700000000.000000001", 1_700_000_000_000_000_001), ("-1", -10**9),
])
def test_event_time(text, nanos):
    assert event_time(text) == nanos


@pytest.mark.parametrize("text,message", [
    ("abc", 'strconv.ParseInt: parsing "abc": invalid syntax'),
    ("1.x", 'strconv.ParseInt: parsing "x": invalid syntax'),
    ("99999999999999999999", 'strconv.ParseInt: parsing "99999999999999999999": value out of range'),
])
def test_event_time_errors_are_strconvs(text, message):
    with pytest.raises(errors.Internal, match=message):
        event_time(text)


def test_the_journal_is_private_bounded_and_survives_a_torn_line(tmp_path):
    path = str(tmp_path / "events.jsonl")
    log = EventLog(path, keep=4)
    bus = EventBus(history=4, journal=log)
    for t in range(1, 12):
        bus.publish(container(t=t))
    bus.publish(Event("container", "cleaning", CID, internal=True, time_nano=99))
    log.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as f:
        lines = f.readlines()
    assert len(lines) < 8  # compacted at twice the ring
    with open(path, "a") as f:
        f.write('{"Type": "contai')  # a host crash mid-line
    again = EventBus(history=4, journal=EventLog(path, keep=4))
    assert [e.time_nano for e in again.history] == [8, 9, 10, 11]
    assert again.history[-1].to_docker() == container(t=11).to_docker()


@pytest.fixture
def utc(monkeypatch):
    import time
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_cli_prints_events_as_docker(utc, monkeypatch):
    import time
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    doc = container(t=1_796_572_800_000_000_042, exitCode="0").to_docker()
    assert cli_events.pretty(doc) == (
        f"2026-12-06T16:00:00.000000042Z container start {CID} "
        "(exitCode=0, image=busybox:latest, name=web)")
    tmpl = cli_events._template("{{.Status}} {{.ID}} {{.From}} {{.Actor.Attributes.name}} {{.Scope}}")
    assert tmpl.execute(cli_events.Message(doc)) == f"start {CID} busybox:latest web local"
    as_json = cli_events._template("json").execute(cli_events.Message(doc))
    assert json.loads(as_json) == doc and as_json.startswith('{"status":"start"')
    assert cli_events._template("{{json .Actor}}").execute(cli_events.Message(doc)).startswith('{"ID":')


def test_the_cli_refuses_a_bad_template_with_64():
    from ketch.cli.main import StatusError
    with pytest.raises(StatusError) as err:
        cli_events._template("{{.Nope}}")
    assert err.value.code == 64 and err.value.message.startswith("Error parsing format: template: ")


def test_an_event_published_from_a_worker_thread_is_delivered_on_the_loop_thread():
    import asyncio
    import threading
    seen = []
    bus = EventBus()
    bus.subscribe(lambda e: seen.append((e.action, threading.get_ident())))

    async def main():
        bus.bind_loop(asyncio.get_running_loop())
        await asyncio.to_thread(bus.publish, Event("volume", "mount", "v"))
        # delivered before the worker's caller resumes, on the loop's thread
        return list(seen), threading.get_ident()

    delivered, loop_thread = asyncio.run(main())
    assert delivered == [("mount", loop_thread)]
    assert [e.action for e in bus.history] == ["mount"]
