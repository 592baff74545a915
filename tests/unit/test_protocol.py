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
