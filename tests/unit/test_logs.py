"""ketch.engine.logs._read_all: tail, since, until and stream filters on a json-file log.

LOG is the file dockerd 20.10.24 wrote for
`sh -c 'echo o1; sleep .3; echo e1 >&2; sleep .3; echo o2; sleep 1.2; echo e2 >&2; printf partial'`
and each expected list is what `GET /containers/{id}/logs` answered for the same
query. Docker applies `tail` to the file's lines first, and only then drops lines
of the streams not asked for, and lines outside since/until.
"""

import os

import pytest

from ketch.engine.logs import LogEntry, LogOptions, _read_all
from ketch.timefmt import parse_ns

LOG = (
    b'{"log":"o1\\n","stream":"stdout","time":"2026-11-22T22:48:59.425695694Z"}\n'
    b'{"log":"e1\\n","stream":"stderr","time":"2026-11-22T22:48:59.735275349Z"}\n'
    b'{"log":"o2\\n","stream":"stdout","time":"2026-11-22T22:49:00.040385689Z"}\n'
    b'{"log":"e2\\n","stream":"stderr","time":"2026-11-22T22:49:01.242084829Z"}\n'
    b'{"log":"partial","stream":"stdout","time":"2026-11-22T22:49:01.297301856Z"}\n'
)
E1_TIME = parse_ns("2026-11-22T22:48:59.735275349Z")
UNTIL = parse_ns("2026-11-22T22:49:00.5Z")
ALL = ["o1\n", "e1\n", "o2\n", "e2\n", "partial"]


QUERIES = [
    ({}, ALL),
    ({"stderr": False}, ["o1\n", "o2\n", "partial"]),
    ({"stdout": False}, ["e1\n", "e2\n"]),
    ({"stdout": False, "stderr": False}, []),
    ({"tail": 1}, ["partial"]),
    ({"tail": 0}, []),
    ({"tail": 5}, ALL),
    ({"tail": 7}, ALL),  # more than the file has, but fewer than twice as many
    ({"tail": 100}, ALL),
    ({"since_ns": E1_TIME}, ["e1\n", "o2\n", "e2\n", "partial"]),  # since is inclusive
    ({"since_ns": E1_TIME, "tail": 4}, ["e1\n", "o2\n", "e2\n", "partial"]),
    ({"until_ns": UNTIL}, ["o1\n", "e1\n", "o2\n"]),
    ({"since_ns": E1_TIME, "until_ns": UNTIL, "stderr": False}, ["o2\n"]),
    ({"tail": 2, "stderr": False}, ["partial"]),
    ({"tail": 1, "until_ns": UNTIL}, []),
]


@pytest.mark.parametrize("opts,logs", QUERIES)
def test_read_all(tmp_path, opts, logs):
    path = tmp_path / "c-json.log"
    path.write_bytes(LOG)
    entries, offset = _read_all(str(path), LogOptions(**opts))
    assert [e.data.decode() for e in entries] == logs
    assert offset == len(LOG)


def test_entries_carry_stream_and_time(tmp_path):
    path = tmp_path / "c-json.log"
    path.write_bytes(LOG)
    entries, _ = _read_all(str(path), LogOptions(tail=2))
    assert entries == [LogEntry(2, "2026-11-22T22:49:01.242084829Z", b"e2\n"),
                       LogEntry(1, "2026-11-22T22:49:01.297301856Z", b"partial")]


def test_a_torn_last_line_waits(tmp_path):
    """A line still being appended is not read; the offset stops before it (for follow)."""
    path = tmp_path / "c-json.log"
    torn = b'{"log":"o3\\n","stream":"stdout","ti'
    path.write_bytes(LOG + torn)
    entries, offset = _read_all(str(path), LogOptions())
    assert [e.data for e in entries][-1] == b"partial"
    assert offset == len(LOG)


def test_garbage_lines_are_skipped(tmp_path):
    path = tmp_path / "c-json.log"
    path.write_bytes(b'not json\n{"log":"x\\n","stream":"weird","time":""}\n' + LOG)
    entries, _ = _read_all(str(path), LogOptions())
    assert [e.data.decode() for e in entries] == ALL


def test_missing_file(tmp_path):
    assert _read_all(str(tmp_path / "nope.log"), LogOptions()) == ([], 0)


def test_details_is_mobys_attrs_string(tmp_path):
    # json-file lines as dockerd 20.10 wrote them for --log-opt labels=foo,a --log-opt env=E1
    # ("E1=x y", labels foo=bar a=b); `docker logs --details` printed "E1=x+y,a=b,foo=bar hi2"
    path = tmp_path / "log.json"
    path.write_bytes(b'{"log":"hi2\\n","stream":"stdout","attrs":{"E1":"x y","a":"b","foo":"bar"},'
                     b'"time":"2026-12-06T16:09:56.269534455Z"}\n' + LOG[:LOG.index(b"\n") + 1])
    with_attrs, plain = _read_all(str(path), LogOptions())[0]
    assert with_attrs.details() == b"E1=x+y,a=b,foo=bar"
    assert plain.details() == b""  # dockerd: "--details" then puts a lone space before the line
    assert LogEntry(1, "", b"", (("k/=&", "a,b~"),)).details() == b"k%2F%3D%26=a%2Cb~"


# -- across rotated files ----------------------------------------------------------------

def _line(i: int) -> bytes:
    return b'{"log":"l%d\\n","stream":"stdout","time":"2026-11-22T22:48:%02d.5Z"}\n' % (i, i)


def _rotated_log(tmp_path, gz: bool):
    """l0-l2 in .2, l3-l5 in .1, l6-l8 live: what max-file=3 leaves after two rotations."""
    import gzip
    path = tmp_path / "c-json.log"
    for n, first in ((2, 0), (1, 3)):
        data = b"".join(_line(i) for i in range(first, first + 3))
        if gz:
            (tmp_path / f"c-json.log.{n}.gz").write_bytes(gzip.compress(data))
        else:
            (tmp_path / f"c-json.log.{n}").write_bytes(data)
    path.write_bytes(b"".join(_line(i) for i in range(6, 9)))
    return path


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("opts,want", [
    ({}, list(range(9))), ({"tail": 2}, [7, 8]), ({"tail": 3}, [6, 7, 8]), ({"tail": 5}, [4, 5, 6, 7, 8]),
    ({"tail": 7}, list(range(2, 9))), ({"tail": 100}, list(range(9))), ({"tail": 0}, []),
    ({"since_ns": parse_ns("2026-11-22T22:48:02Z"), "until_ns": parse_ns("2026-11-22T22:48:05Z")}, [2, 3, 4]),
])
def test_read_across_rotated_files(tmp_path, gz, opts, want):
    path = _rotated_log(tmp_path, gz)
    entries, _ = _read_all(str(path), LogOptions(**opts))
    assert [e.data for e in entries] == [b"l%d\n" % i for i in want]


def test_a_file_being_compressed_is_read_once(tmp_path):
    """.1 and .1.gz both exist while the monitor compresses: the plain one is read."""
    import gzip
    path = _rotated_log(tmp_path, gz=False)
    (tmp_path / "c-json.log.1.gz").write_bytes(gzip.compress((tmp_path / "c-json.log.1").read_bytes()))
    (tmp_path / "c-json.log.2.gz.tmp").write_bytes(b"half a gzip")
    entries, _ = _read_all(str(path), LogOptions())
    assert [e.data for e in entries] == [b"l%d\n" % i for i in range(9)]


def test_follow_goes_on_after_a_rotation(tmp_path):
    import asyncio
    from ketch.engine import logs
    path = tmp_path / "c-json.log"
    path.write_bytes(_line(0))
    state = {"running": True}

    async def scenario():
        got = []
        reader = logs.read(str(path), LogOptions(follow=True), lambda: state["running"])
        got.append((await reader.__anext__()).data)
        with open(path, "ab") as f:  # the rest of the old file, then the rotation
            f.write(_line(1))
        os.rename(path, str(path) + ".1")
        path.write_bytes(_line(2))
        got.append((await reader.__anext__()).data)
        got.append((await reader.__anext__()).data)
        state["running"] = False
        async for entry in reader:
            got.append(entry.data)
        return got

    assert asyncio.run(asyncio.wait_for(scenario(), 10)) == [b"l0\n", b"l1\n", b"l2\n"]


def test_follow_reads_the_files_rotated_between_two_polls(tmp_path):
    import asyncio
    from ketch.engine import logs
    path = tmp_path / "c-json.log"
    path.write_bytes(_line(0))
    state = {"running": True}

    async def scenario():
        got = []
        reader = logs.read(str(path), LogOptions(follow=True), lambda: state["running"])
        got.append((await reader.__anext__()).data)
        # two rotations (max-file=3) before the follower looks again
        with open(path, "ab") as f:
            f.write(_line(1))
        os.rename(path, str(path) + ".1")
        path.write_bytes(_line(2))
        os.rename(str(path) + ".1", str(path) + ".2")
        os.rename(path, str(path) + ".1")
        path.write_bytes(_line(3))
        for _ in range(3):
            got.append((await reader.__anext__()).data)
        state["running"] = False
        async for entry in reader:
            got.append(entry.data)
        return got

    assert asyncio.run(asyncio.wait_for(scenario(), 10)) == [b"l0\n", b"l1\n", b"l2\n", b"l3\n"]


def test_follow_that_starts_between_a_rotations_rename_and_the_new_file_waits_for_it(tmp_path):
    """The live file renamed away and not made again yet when the follow starts: the
    stream ended after the rotated files (the SDK's `containers.run` got lines 10-12 of
    40 with max-size=3k, about 1 run in 10 beside a busy loop)."""
    import asyncio
    from ketch.engine import logs
    path = tmp_path / "c-json.log"
    (tmp_path / "c-json.log.1").write_bytes(_line(0))
    state = {"running": True}

    async def scenario():
        got = []
        reader = logs.read(str(path), LogOptions(follow=True), lambda: state["running"])
        got.append((await reader.__anext__()).data)
        path.write_bytes(_line(1))
        got.append((await reader.__anext__()).data)
        state["running"] = False
        async for entry in reader:
            got.append(entry.data)
        return got

    assert asyncio.run(asyncio.wait_for(scenario(), 10)) == [b"l0\n", b"l1\n"]
