"""Docker's ``local`` log driver: the record format (monitor/localfmt.py), the writer
(logfile.LocalWriter: lines, partial pieces, rotation) and the reader (engine/logs.py:
tail, since/until, rotated and gzipped files, follow across a rotation).

The format is checked against bytes worked out by hand from moby's LogEntry proto
(what gogo-protobuf writes), not only against the decoder."""

import asyncio
import gzip
import os

import pytest

from ketch.engine import logs
from ketch.engine.logs import LogOptions, _read_all
from ketch.monitor import localfmt
from ketch.monitor.logfile import MAX_PARTIAL, LocalWriter, writer
from ketch.monitor.protocol import LogSpec


def test_encoding_is_mobys_framed_protobuf():
    rec = localfmt.Record("stdout", 1, b"hi")
    msg = b"\x0a\x06stdout" + b"\x10\x01" + b"\x1a\x02hi"
    assert localfmt.encode(rec) == len(msg).to_bytes(4, "big") + msg + len(msg).to_bytes(4, "big")
    # an empty line leaves field 3 out; a large time is a multi-byte varint
    assert localfmt.encode(localfmt.Record("stderr", 300, b""))[4:-4] == b"\x0a\x06stderr\x10\xac\x02"
    part = localfmt.Record("stdout", 0, b"x", True, True, "id", 2)
    assert localfmt.encode(part)[4:-4] == (b"\x0a\x06stdout\x1a\x01x\x20\x01"
                                           b"\x2a\x08" b"\x08\x01" b"\x12\x02id" b"\x18\x02")


@pytest.mark.parametrize("rec", [
    localfmt.Record("stdout", 1_700_000_000_123_456_789, b"line"),
    localfmt.Record("stderr", 0, b""),
    localfmt.Record("stdout", -5, b"\x00\xff" * 100),
    localfmt.Record("stdout", 7, b"a" * MAX_PARTIAL, True, False, "stdout-7", 1),
    localfmt.Record("stdout", 7, b"end", True, True, "stdout-7", 300),
])
def test_round_trip(rec):
    data = localfmt.encode(rec) * 2
    assert localfmt.split(data) == ([rec, rec], len(data))
    assert localfmt.split(data[:-1]) == ([rec], len(data) // 2)  # a record being written waits
    assert localfmt.tail_offset(data, 1) == len(data) // 2


def test_text_adds_the_newline_a_partial_piece_lacks():
    assert localfmt.Record("stdout", 1, b"a").text() == b"a\n"
    assert localfmt.Record("stdout", 1, b"a", True, False, "i", 1).text() == b"a"
    assert localfmt.Record("stdout", 1, b"a", True, True, "i", 2).text() == b"a\n"


def _records(path) -> list[localfmt.Record]:
    with open(path, "rb") as f:
        data = f.read()
    records, used = localfmt.split(data)
    assert used == len(data)
    return records


def test_writer_lines_and_partials(tmp_path):
    (tmp_path / "local-logs").mkdir()
    path = str(tmp_path / "local-logs" / "container.log")
    w = LocalWriter(path, LogSpec("local"))
    w.write("stdout", b"one\n\ntw", 10)
    w.write("stdout", b"o\n" + b"L" * (MAX_PARTIAL * 2 + 5), 20)
    w.write("stderr", b"err\n", 30)
    w.write("stdout", b"LL\nlast", 40)
    w.flush("stdout", 50)
    w.close()
    L = localfmt.Record
    assert _records(path) == [
        L("stdout", 10, b"one"), L("stdout", 10, b""), L("stdout", 20, b"two"),
        L("stdout", 20, b"L" * MAX_PARTIAL, True, False, "stdout-20", 1),
        L("stdout", 20, b"L" * MAX_PARTIAL, True, False, "stdout-20", 2),
        L("stderr", 30, b"err"),
        L("stdout", 40, b"L" * 7, True, True, "stdout-20", 3),
        L("stdout", 50, b"last", True, False, "stdout-50", 1),
    ]
    entries, _ = _read_all(path, LogOptions())
    assert b"".join(e.data for e in entries if e.stream == 1) == (
        b"one\n\ntwo\n" + b"L" * (MAX_PARTIAL * 2 + 7) + b"\nlast")


def _local_log(tmp_path, max_size=60, max_file=3, compress=True):
    directory = tmp_path / "local-logs"
    directory.mkdir()
    path = str(directory / "container.log")
    w = writer(path, LogSpec("local", max_size, max_file, compress))
    for i in range(12):
        w.write("stdout" if i % 3 else "stderr", b"line %d\n" % i, 1_000_000_000 * (i + 1))
    w.close()
    return path


def test_rotation_keeps_max_file_files(tmp_path):
    path = _local_log(tmp_path)
    assert sorted(os.listdir(os.path.dirname(path))) == ["container.log", "container.log.1.gz", "container.log.2.gz"]
    with open(path + ".1.gz", "rb") as f:
        assert localfmt.split(gzip.decompress(f.read()))[0]


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("opts,want", [
    ({}, "all kept"), ({"tail": 2}, [10, 11]), ({"tail": 0}, []), ({"stderr": False, "tail": 3}, [10, 11]),
    ({"since_ns": 9_000_000_000, "until_ns": 10_000_000_000}, [8, 9]),
])
def test_reader_across_rotated_files(tmp_path, compress, opts, want):
    path = _local_log(tmp_path, compress=compress)
    entries, _ = _read_all(path, LogOptions(**opts))
    got = [int(e.data.split()[1]) for e in entries]
    if want == "all kept":  # the oldest went with a rotation: the rest, in order
        assert got == list(range(12 - len(got), 12)) and len(got) >= 6
    else:
        assert got == want
    assert all(e.data.endswith(b"\n") for e in entries)
    assert all(e.stream == (1 if int(e.data.split()[1]) % 3 else 2) for e in entries)


def test_entries_carry_the_time(tmp_path):
    path = _local_log(tmp_path)
    entries, _ = _read_all(path, LogOptions(tail=1))
    assert entries[0].time == "1970-01-01T00:00:12Z"


def test_follow_goes_on_after_a_rotation(tmp_path):
    directory = tmp_path / "local-logs"
    directory.mkdir()
    path = str(directory / "container.log")
    w = writer(path, LogSpec("local", 1, 5, False))  # rotates before every entry
    w.write("stdout", b"l0\n", 1)
    state = {"running": True}

    async def scenario():
        got = []
        reader = logs.read(path, LogOptions(follow=True), lambda: state["running"])
        got.append((await reader.__anext__()).data)
        w.write("stdout", b"l1\nl2\n", 2)  # two rotations before the follower looks
        w.write("stdout", b"l3\n", 3)
        for _ in range(3):
            got.append((await reader.__anext__()).data)
        state["running"] = False
        async for entry in reader:
            got.append(entry.data)
        return got

    assert asyncio.run(asyncio.wait_for(scenario(), 10)) == [b"l0\n", b"l1\n", b"l2\n", b"l3\n"]
    w.close()


def test_a_torn_record_waits(tmp_path):
    directory = tmp_path / "local-logs"
    directory.mkdir()
    path = directory / "container.log"
    data = localfmt.encode(localfmt.Record("stdout", 1, b"a")) + localfmt.encode(localfmt.Record("stdout", 2, b"b"))
    path.write_bytes(data[:-3])
    entries, end = _read_all(str(path), LogOptions())
    assert [e.data for e in entries] == [b"a\n"] and end == len(data) // 2
