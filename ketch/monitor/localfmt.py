"""Docker's ``local`` log format: length-framed protobuf ``LogEntry`` records.

Each record is moby's api/types/plugins/logdriver ``LogEntry``::

    1 source string   2 time_nano int64   3 line bytes   4 partial bool
    5 partial_log_metadata { 1 last bool  2 id string  3 ordinal int32 }

as proto3 writes it (fields in number order, zero values left out), with its length as
a 4-byte big-endian number before it and again after it (so a reader can walk the file
backwards for ``--tail``). The line is kept without its newline: a reader adds one
unless the record is a partial that is not the last of its line (moby's decoder).

No protobuf library: the few varints and length-delimited fields are written by hand,
here and in the C monitor (``cmonitor/monitor.c``), which must agree byte for byte.
"""

import struct
from dataclasses import dataclass

FRAME = 4
MAX_RECORD = 1_000_000  # moby's maxMsgLen: a longer length means a damaged file


@dataclass(frozen=True)
class Record:
    source: str
    time_nano: int
    line: bytes
    partial: bool = False
    last: bool = False
    partial_id: str = ""
    ordinal: int = 0

    def text(self) -> bytes:
        """What ``logs`` shows: the line, with its newline unless more of it follows."""
        return self.line if self.partial and not self.last else self.line + b"\n"


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # int64 as protobuf's two's complement
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _bytes_field(tag: int, data: bytes) -> bytes:
    return bytes([tag]) + _varint(len(data)) + data if data else b""


def _message(rec: Record) -> bytes:
    out = _bytes_field(0x0A, rec.source.encode())
    if rec.time_nano:
        out += b"\x10" + _varint(rec.time_nano)
    out += _bytes_field(0x1A, rec.line)
    if rec.partial:
        meta = (b"\x08\x01" if rec.last else b"") + _bytes_field(0x12, rec.partial_id.encode())
        if rec.ordinal:
            meta += b"\x18" + _varint(rec.ordinal)
        out += b"\x20\x01" + b"\x2a" + _varint(len(meta)) + meta
    return out


def encode(rec: Record) -> bytes:
    msg = _message(rec)
    size = struct.pack(">I", len(msg))
    return size + msg + size


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("bad varint")
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return n, i


def _fields(buf: bytes):
    """(number, value) for each field: an int for varints, bytes for length-delimited."""
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(buf, i)
        elif wire == 2:
            size, i = _read_varint(buf, i)
            if i + size > len(buf):
                raise ValueError("field past the end")
            value, i = buf[i:i + size], i + size
        elif wire in (1, 5):  # fixed64/fixed32: none in LogEntry, skipped as protobuf does
            i += 8 if wire == 1 else 4
            continue
        else:
            raise ValueError(f"wire type {wire}")
        yield number, value


def decode_message(buf: bytes) -> Record:
    fields: dict = {"source": "", "time_nano": 0, "line": b"", "partial": False}
    meta: dict = {}
    for number, value in _fields(buf):
        if number == 1 and isinstance(value, bytes):
            fields["source"] = value.decode("utf-8", "replace")
        elif number == 2 and isinstance(value, int):
            fields["time_nano"] = value - (1 << 64) if value >= 1 << 63 else value
        elif number == 3 and isinstance(value, bytes):
            fields["line"] = value
        elif number == 4 and isinstance(value, int):
            fields["partial"] = bool(value)
        elif number == 5 and isinstance(value, bytes):
            for n, v in _fields(value):
                if n == 1 and isinstance(v, int):
                    meta["last"] = bool(v)
                elif n == 2 and isinstance(v, bytes):
                    meta["partial_id"] = v.decode("utf-8", "replace")
                elif n == 3 and isinstance(v, int):
                    meta["ordinal"] = v
    return Record(**fields, **meta)


def split(data: bytes) -> tuple[list[Record], int]:
    """The whole records at the start of ``data`` and the bytes they take (a record still
    being written, or a damaged tail, is left)."""
    out: list[Record] = []
    i = 0
    while len(data) - i >= 2 * FRAME:
        (size,) = struct.unpack_from(">I", data, i)
        end = i + FRAME + size + FRAME
        if size > MAX_RECORD or end > len(data):
            break
        if data[end - FRAME:end] != data[i:i + FRAME]:
            break
        try:
            out.append(decode_message(data[i + FRAME:end - FRAME]))
        except ValueError:
            break
        i = end
    return out, i


def tail_offset(data: bytes, n: int) -> int:
    """Where the last ``n`` records of ``data`` start, walking the trailing lengths back
    (moby's getTailReader); 0 if there are fewer."""
    offset = len(data)
    found = 0
    while found < n and offset >= 2 * FRAME:
        (size,) = struct.unpack_from(">I", data, offset - FRAME)
        start = offset - 2 * FRAME - size
        if start < 0 or data[start:start + FRAME] != data[offset - FRAME:offset]:
            break
        offset = start
        found += 1
    return offset if found == n else 0
