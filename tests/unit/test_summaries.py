"""SummaryEncoder: the listing's bytes are exactly encode_json of the summaries, also after
the containers change state, are renamed, or are removed (their cached pieces go stale)."""

import json
import types

import pytest

from ketch import timefmt
from ketch.api import summaries, views
from ketch.api.http import encode_json
from ketch.engine.containers.records import ContainerRecord
from ketch.engine.containers.state import ContainerState

NOW = 1795387800.0


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr(views, "time", types.SimpleNamespace(time=lambda: NOW))


def ago(seconds):
    return timefmt.format_ns(int((NOW - seconds) * 10**9))


def record(n, name=None, labels=None, image="busybox", args=("sleep", "3600")):
    return ContainerRecord(id=f"{n:064x}", name=name or f"c{n}", created=ago(600 - n), image=image,
                           image_id="sha256:" + "a" * 64, config={"Labels": labels or {}},
                           host_config={}, path=args[0], args=list(args[1:]), snapshot="s",
                           parents=[], state=ContainerState())


def expected(records):
    return encode_json([views.container_summary(rec) for rec in records])


def run(rec, seconds_ago):
    rec.state = ContainerState.from_docker({"Status": "running", "Running": True, "Pid": 42,
                                            "StartedAt": ago(seconds_ago)})


def test_listing_is_encode_json_of_the_summaries():
    recs = [record(1), record(2, labels={"a": "b", "é": "ü <&>"}), record(3, image="sha256:" + "a" * 64),
            record(4, name="naïve", args=("sh", "-c", 'echo "hi there"'))]
    run(recs[1], 150)
    enc = summaries.SummaryEncoder()
    assert enc.listing(recs) == expected(recs)
    assert enc.listing([]) == expected([]) == b"[]\n"


def test_state_status_and_name_changes_show_up_through_the_cache():
    recs = [record(1), record(2)]
    enc = summaries.SummaryEncoder()
    enc.listing(recs)
    run(recs[0], 3 * 3600)
    recs[1].name = "renamed"
    out = enc.listing(recs)
    assert out == expected(recs)
    docs = json.loads(out)
    assert docs[0]["State"] == "running" and docs[0]["Status"] == "Up 3 hours"
    assert docs[1]["Names"] == ["/renamed"]
    recs[0].state = ContainerState.from_docker({"Status": "exited", "StartedAt": ago(300),
                                                "FinishedAt": ago(150), "ExitCode": 3})
    assert json.loads(enc.listing(recs))[0]["Status"] == "Exited (3) 2 minutes ago"


def test_a_lone_surrogate_is_escaped_not_fatal():
    rec = record(1, labels={"bad": "\ud800"})
    out = summaries.SummaryEncoder().listing([rec])
    assert json.loads(out) == json.loads(expected([rec]))
    assert b"\\ud800" in out


def test_forget_drops_removed_containers():
    recs = [record(i) for i in range(5)]
    enc = summaries.SummaryEncoder()
    enc.listing(recs)
    assert len(enc) == 5
    enc.forget(r.id for r in recs[:2])
    assert len(enc) == 2
    assert enc.listing(recs[:2]) == expected(recs[:2])
