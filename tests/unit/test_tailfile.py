"""tailfile: the last N whole lines, read backwards in blocks, checked against a plain split.

Small blocks (a few bytes) make every line cross block boundaries; a generated file of
about 50 MB checks the real block size. Timing is left to bench/logs_tail.py.
"""

import os

import pytest

from ketch.engine import tailfile


def _expected(data: bytes, n: int) -> tuple[list[bytes], int]:
    end = data.rfind(b"\n") + 1
    lines = data[:end].split(b"\n")[:-1]
    return (lines if n < 0 else lines[max(0, len(lines) - n):] if n else []), end


CONTENTS = [
    b"",
    b"\n",
    b"\n\n\n",
    b"one\n",
    b"one",  # a torn line only: nothing whole yet
    b"one\ntwo\nthree\n",
    b"one\ntwo\nthree",  # no trailing newline: "three" is still being written
    b"a\n\nb\n\n",  # empty lines count as lines
    b"".join(b"line %d %s\n" % (i, b"x" * (i % 37)) for i in range(300)),
]


@pytest.mark.parametrize("data", CONTENTS)
@pytest.mark.parametrize("n", [-1, 0, 1, 2, 3, 5, 299, 300, 301, 10_000])
@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, tailfile.BLOCK])
def test_tail_is_the_last_n_whole_lines(tmp_path, data, n, block):
    path = tmp_path / "log"
    path.write_bytes(data)
    assert tailfile.read_tail(str(path), n, block) == _expected(data, n)


def test_a_missing_file_is_empty(tmp_path):
    assert tailfile.read_tail(str(tmp_path / "nope"), 10) == ([], 0)


def test_a_big_file(tmp_path):
    """~50 MB of json-file lines of varied length, built by repeating one chunk."""
    chunk = b"".join(b'{"log":"%s\\n","stream":"stdout","time":"2026-12-06T13:00:00.%09dZ"}\n'
                     % (b"y" * (i * 7 % 200), i) for i in range(1000))
    path = tmp_path / "big-json.log"
    with open(path, "wb") as f:
        for _ in range(50 * 1024 * 1024 // len(chunk)):
            f.write(chunk)
        f.write(b'{"log":"last\\n"')  # a torn final line
    size = os.path.getsize(path)
    lines = chunk.split(b"\n")[:-1]
    got, end = tailfile.read_tail(str(path), 1500)
    assert got == lines[-500:] + lines
    assert end == size - len(b'{"log":"last\\n"')
    assert tailfile.read_tail(str(path), 1) == ([lines[-1]], end)
    assert tailfile.read_tail(str(path), 0) == ([], end)
