"""The last lines of a file, found by reading it backwards in blocks (moby's pkg/tailfile).

``logs --tail N`` on a log of hundreds of megabytes must not read the whole file: the
cost here is the size of the last N lines plus one block, whatever the file's size.
Only whole lines count: bytes after the last newline are a line still being written
(the monitor appends whole lines, so a reader sees at most a torn one at the very end).
"""

import os
from typing import BinaryIO

BLOCK = 64 * 1024


def _blocks_backwards(fd: int, end: int, block: int):
    """(offset, bytes) of fd[:end] from the end towards the start, ``block`` at a time."""
    pos = end
    while pos > 0:
        start = max(0, pos - block)
        yield start, os.pread(fd, pos - start, start)
        pos = start


def complete_end(fd: int, size: int, block: int = BLOCK) -> int:
    """The offset just past the last newline of fd[:size] (0 if there is none)."""
    for start, data in _blocks_backwards(fd, size, block):
        i = data.rfind(b"\n")
        if i >= 0:
            return start + i + 1
    return 0


def tail_start(fd: int, end: int, lines: int, block: int = BLOCK) -> int:
    """Where the last ``lines`` lines of fd[:end] begin; fd[:end] ends with a newline.

    The newline that ends the last line is not a boundary to count, so the search for
    the n-th boundary from the end starts just before it.
    """
    if lines <= 0 or end <= 0:
        return end
    seen = 0
    for start, data in _blocks_backwards(fd, end - 1, block):
        i = len(data)
        while (i := data.rfind(b"\n", 0, i)) >= 0:
            seen += 1
            if seen == lines:
                return start + i + 1
    return 0


def read_tail(path: str, lines: int, block: int = BLOCK) -> tuple[list[bytes], int]:
    """The last ``lines`` whole lines of the file (all of them if lines < 0), and the
    offset just past them, where a follower goes on reading."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return [], 0
    with f:
        return read_tail_of(f, lines, block)


def read_tail_of(f: BinaryIO, lines: int, block: int = BLOCK) -> tuple[list[bytes], int]:
    """read_tail on an open file (left open, positioned past the lines)."""
    fd = f.fileno()
    end = complete_end(fd, os.fstat(fd).st_size, block)
    start = 0 if lines < 0 else tail_start(fd, end, lines, block)
    f.seek(start)
    data = f.read(end - start)  # a buffered read: no 2 GiB cap as with one pread
    return data.split(b"\n")[:-1], end
