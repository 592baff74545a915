"""ketch.monitor.logfile: Docker's json-file format, written into tmp_path.

LINE is a line dockerd 20.10.24 wrote for `echo o1` (the key order and
separators are Docker's). Partial lines follow moby's log copier: output is
cut at newlines, a line without its newline is held until the newline comes or
16 KiB have piled up, and what is left is written, without a newline, at the end.
"""

import json

import pytest

from ketch.monitor.logfile import MAX_PARTIAL, JsonFileWriter

NOW = 1795387739_425695694  # 2026-11-22T22:48:59.425695694Z
LINE = b'{"log":"o1\\n","stream":"stdout","time":"2026-11-22T22:48:59.425695694Z"}\n'


def _entries(path):
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def _logs(path):
    return [(e["stream"], e["log"]) for e in _entries(path)]


def test_line_bytes_are_dockers(tmp_path):
    w = JsonFileWriter(str(tmp_path / "c-json.log"))
    w.write("stdout", b"o1\n", NOW)
    w.close()
    assert (tmp_path / "c-json.log").read_bytes() == LINE


K = MAX_PARTIAL
# writes (stream, data) then the streams flushed at exit -> the entries in the file
CASES = [
    ("one line", [("stdout", b"hi\n")], [], [("stdout", "hi\n")]),
    ("two lines in one write", [("stdout", b"a\nb\n")], [], [("stdout", "a\n"), ("stdout", "b\n")]),
    ("empty line", [("stdout", b"\n")], [], [("stdout", "\n")]),
    ("line held until its newline", [("stdout", b"par"), ("stdout", b"tial\n")], [],
     [("stdout", "partial\n")]),
    ("partial kept at exit", [("stdout", b"a\npar")], ["stdout"], [("stdout", "a\n"), ("stdout", "par")]),
    ("nothing pending", [("stdout", b"a\n")], ["stdout", "stderr"], [("stdout", "a\n")]),
    ("streams held apart", [("stdout", b"a"), ("stderr", b"b\n"), ("stdout", b"c\n")], [],
     [("stderr", "b\n"), ("stdout", "ac\n")]),
    ("16 KiB without newline", [("stdout", b"x" * K)], [], [("stdout", "x" * K)]),
    ("just under 16 KiB is held", [("stdout", b"x" * (K - 1))], [], []),
    ("40000 bytes", [("stdout", b"x" * 40000)], ["stdout"],
     [("stdout", "x" * K), ("stdout", "x" * K), ("stdout", "x" * (40000 - 2 * K))]),
    ("a long line in one read is split as moby's 16 KiB copier buffer splits it",
     [("stdout", b"y" * (K + 5) + b"\nz\n")], [],
     [("stdout", "y" * K), ("stdout", "yyyyy\n"), ("stdout", "z\n")]),
    ("a line of exactly 16 KiB", [("stdout", b"w" * K + b"\n")], [], [("stdout", "w" * K), ("stdout", "\n")]),
    ("invalid UTF-8", [("stderr", b"\xff\xfeok\n")], [], [("stderr", "\ufffd\ufffdok\n")]),
    ("UTF-8", [("stdout", "caf\u00e9 \u672c\n".encode())], [], [("stdout", "caf\u00e9 \u672c\n")]),
    ("carriage returns are data", [("stdout", b"a\r\nb\rc\n")], [], [("stdout", "a\r\n"), ("stdout", "b\rc\n")]),
]


@pytest.mark.parametrize("name,writes,flushed,expected", CASES, ids=[c[0] for c in CASES])
def test_writes(tmp_path, name, writes, flushed, expected):
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(str(path))
    for stream, data in writes:
        w.write(stream, data, NOW)
    for stream in flushed:
        w.flush(stream, NOW)
    w.close()
    assert _logs(path) == expected


def test_appends_to_an_existing_file(tmp_path):
    path = tmp_path / "c-json.log"
    path.write_bytes(LINE)
    w = JsonFileWriter(str(path))
    w.write("stderr", b"e1\n", NOW + 1)
    w.close()
    assert _entries(path) == [
        {"log": "o1\n", "stream": "stdout", "time": "2026-11-22T22:48:59.425695694Z"},
        {"log": "e1\n", "stream": "stderr", "time": "2026-11-22T22:48:59.425695695Z"},
    ]


@pytest.mark.parametrize("ns,text", [
    (NOW, "2026-11-22T22:48:59.425695694Z"),
    (1795387739_500000000, "2026-11-22T22:48:59.5Z"),
    (1795387739_000000000, "2026-11-22T22:48:59Z"),
])
def test_time_field(tmp_path, ns, text):
    path = tmp_path / "c-json.log"
    w = JsonFileWriter(str(path))
    w.write("stdout", b"x\n", ns)
    w.close()
    assert _entries(path)[0]["time"] == text


# -- rotation (moby's loggerutils.LogFile) -------------------------------------------------

from ketch.monitor.protocol import LogSpec  # noqa: E402


def _write_lines(w, count):
    for i in range(count):
        w.write("stdout", b"%03d\n" % i, NOW)


def _all_logs(tmp_path):
    import gzip
    out = {}
    for p in sorted(tmp_path.iterdir()):
        data = gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()
        out[p.name] = [json.loads(line)["log"] for line in data.splitlines()]
    return out


def test_a_full_file_rotates_before_the_next_entry(tmp_path):
    size = len(LINE.replace(b"o1", b"000"))
    w = JsonFileWriter(str(tmp_path / "c-json.log"), LogSpec("json-file", 2 * size, 3))
    _write_lines(w, 7)
    w.close()
    assert _all_logs(tmp_path) == {"c-json.log": ["006\n"], "c-json.log.1": ["004\n", "005\n"],
                                   "c-json.log.2": ["002\n", "003\n"]}


def test_an_entry_may_pass_the_limit(tmp_path):
    w = JsonFileWriter(str(tmp_path / "c-json.log"), LogSpec("json-file", 10, 2))
    w.write("stdout", b"x" * 100 + b"\n", NOW)
    w.close()
    assert [p.name for p in tmp_path.iterdir()] == ["c-json.log"]


def test_max_file_1_empties_the_live_file(tmp_path):
    w = JsonFileWriter(str(tmp_path / "c-json.log"), LogSpec("json-file", 1, 1))
    _write_lines(w, 3)
    w.close()
    assert _all_logs(tmp_path) == {"c-json.log": ["002\n"]}


def test_compress_gzips_rotated_files(tmp_path):
    w = JsonFileWriter(str(tmp_path / "c-json.log"), LogSpec("json-file", 1, 3, True))
    _write_lines(w, 4)
    w.close()
    assert _all_logs(tmp_path) == {"c-json.log": ["003\n"], "c-json.log.1.gz": ["002\n"],
                                   "c-json.log.2.gz": ["001\n"]}


def test_rotation_starts_from_the_size_already_there(tmp_path):
    path = tmp_path / "c-json.log"
    path.write_bytes(LINE * 3)  # a successor (or a restart) finds the file as it was left
    w = JsonFileWriter(str(path), LogSpec("json-file", len(LINE) * 3, 2))
    _write_lines(w, 1)
    w.close()
    assert _all_logs(tmp_path) == {"c-json.log": ["000\n"], "c-json.log.1": ["o1\n"] * 3}


def test_none_writes_nothing(tmp_path):
    w = JsonFileWriter(str(tmp_path / "c-json.log"), LogSpec("none"))
    _write_lines(w, 3)
    w.flush("stdout", NOW)
    w.close()
    assert list(tmp_path.iterdir()) == []
