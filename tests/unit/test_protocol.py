"""ketch.monitor.protocol: Docker's 8-byte stream header, decoded from any split of the bytes."""

import json

import pytest

from ketch.monitor.protocol import CONTROL, STDERR, STDIN, STDOUT, FrameReader, control, frame


@pytest.mark.parametrize("stream,payload,wire", [
    (STDOUT, b"hi\n", b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"),
    (STDERR, b"", b"\x02\x00\x00\x00\x00\x00\x00\x00"),
    (STDIN, b"x" * 258, b"\x00\x00\x00\x00\x00\x00\x01\x02" + b"x" * 258),
    (CONTROL, b"{}", b"\x10\x00\x00\x00\x00\x00\x00\x02{}"),
])
def test_frame(stream, payload, wire):
    assert frame(stream, payload) == wire


def test_control_is_compact_json():
    wire = control({"op": "kill", "signal": 15})
    assert wire == frame(CONTROL, b'{"op":"kill","signal":15}')


FRAMES = [
    (STDOUT, b"o1\n"),
    (STDERR, b"e1\n"),
    (STDOUT, b""),
    (CONTROL, json.dumps({"event": "exited", "exit_code": 3}).encode()),
    (STDOUT, bytes(range(256)) * 300),  # 76800 bytes, a length above 65535
]
WIRE = b"".join(frame(s, p) for s, p in FRAMES)


def _pieces(data, sizes):
    """``data`` cut into pieces of the given sizes, repeating the pattern."""
    out, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        out.append(data[i:i + n])
        i, k = i + n, k + 1
    return out


@pytest.mark.parametrize("sizes", [
    [len(WIRE)],  # all at once
    [1],  # byte by byte
    [3],  # every header split
    [8],  # header and payload apart
    [7, 9],
    [8 + 3, 5],  # a frame and a bit of the next
    [65536],
    [0, 5],  # empty feeds in between
])
def test_reader_reassembles_any_split(sizes):
    reader = FrameReader()
    got = []
    for piece in _pieces(WIRE, [s or 1 for s in sizes]):
        got += reader.feed(piece)
        if 0 in sizes:
            assert reader.feed(b"") == []
    assert got == FRAMES


def test_reader_holds_an_incomplete_frame():
    reader = FrameReader()
    assert reader.feed(frame(STDOUT, b"hello")[:-1]) == []
    assert reader.feed(b"o" + frame(STDERR, b"x")[:4]) == [(STDOUT, b"hello")]
    assert reader.feed(frame(STDERR, b"x")[4:]) == [(STDERR, b"x")]


# -- typed ops and events ---------------------------------------------------------------
from ketch.monitor import protocol as proto  # noqa: E402


@pytest.mark.parametrize("op,wire", [
    (proto.Op(proto.START), b'{"op":"start"}'),
    (proto.Op(proto.KILL, signal=9), b'{"op":"kill","signal":9}'),
    (proto.Op(proto.RESIZE, height=24, width=80), b'{"op":"resize","height":24,"width":80}'),
    (proto.Op(proto.PAUSE, call=3), b'{"op":"pause","call":3}'),
    (proto.Op(proto.SUBSCRIBE), b'{"op":"subscribe"}'),
])
def test_ops_on_the_wire(op, wire):
    assert op.encode() == frame(CONTROL, wire)
    assert proto.Op.decode(wire) == op


def test_an_unknown_op_is_refused():
    with pytest.raises(ValueError):
        proto.Op.decode(b'{"op":"format_disk"}')


@pytest.mark.parametrize("event", [
    proto.Event(proto.CREATED, pid=42),
    proto.Event(proto.STARTED, started_at="2026-12-06T00:00:00.000000001Z"),
    proto.Event(proto.ERROR, message="exec failed", exit_code=127),
    proto.Event(proto.EXITED, exit_code=0, finished_at="2026-12-06T00:00:01.000000000Z"),
    proto.Event(proto.STATUS, pid=7, state="running", paused=True),
    proto.Event(proto.DONE, call=5),
])
def test_events_round_trip(event):
    (stream, payload), = FrameReader().feed(event.encode())
    assert stream == CONTROL and proto.Event.decode(payload) == event


def test_exited_always_carries_its_exit_code_even_zero():
    wire = proto.Event(proto.EXITED, exit_code=0, finished_at="t").encode()
    assert json.loads(wire[8:]) == {"event": "exited", "exit_code": 0, "finished_at": "t",
                                    "oom_killed": False}


def test_monitor_request_round_trip():
    req = proto.MonitorRequest("c" * 64, "/b", "/r", "/s", "/l", tty=True, stdin=False,
                               runtime=proto.RuntimeSpec("runc", "/usr/sbin/runc", ("--x",)),
                               cgroups_path="/ketch/c")
    assert proto.MonitorRequest.from_json(json.loads(req.to_line())) == req


def test_monitor_request_carries_the_log_spec():
    req = proto.MonitorRequest("c" * 64, "/b", "/r", "/s", "/l",
                               log=proto.LogSpec("json-file", 10_000_000, 3, True))
    assert proto.MonitorRequest.from_json(json.loads(req.to_line())) == req
    doc = json.loads(req.to_line())
    del doc["log"]  # a ketchd from before log options: json-file, never rotated
    assert proto.MonitorRequest.from_json(doc).log == proto.LogSpec("json-file", -1, 1, False)
