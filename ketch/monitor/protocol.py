"""Frames between ketchd and a monitor.

Each frame is Docker's 8-byte stream header (stream id, three zero bytes, big-endian
payload length) followed by the payload, so stdout/stderr frames can be forwarded to
an attached client as they are. Stream ids 0-2 are stdin/stdout/stderr; CONTROL
frames carry one JSON object.

ketchd -> monitor (CONTROL ``op``): start, kill {signal}, resize {height, width},
close_stdin, subscribe (send me output from now on).
monitor -> ketchd (CONTROL ``event``): created {pid}, started {started_at},
error {message, exit_code}, exited {exit_code, finished_at, oom_killed}.
"""

import json
import struct

STDIN, STDOUT, STDERR = 0, 1, 2
CONTROL = 0x10
HEADER = struct.Struct(">BxxxI")
HEADER_SIZE = HEADER.size


def frame(stream: int, payload: bytes) -> bytes:
    return HEADER.pack(stream, len(payload)) + payload


def control(doc: dict) -> bytes:
    return frame(CONTROL, json.dumps(doc, separators=(",", ":")).encode())


class FrameReader:
    """Incremental decoder: feed bytes, get complete (stream, payload) frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        out = []
        while len(self._buf) >= HEADER_SIZE:
            stream, size = HEADER.unpack_from(self._buf)
            if len(self._buf) < HEADER_SIZE + size:
                break
            out.append((stream, bytes(self._buf[HEADER_SIZE:HEADER_SIZE + size])))
            del self._buf[:HEADER_SIZE + size]
        return out
