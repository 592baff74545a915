"""Reading a container's json-file log: filters, ``tail``, and ``follow``.

``follow`` polls the file: the monitor appends whole lines, so a reader never sees a
torn entry, and polling keeps the order exact without a second channel.
"""

import asyncio
import json
import os
from dataclasses import dataclass
from typing import AsyncIterator, Callable
from urllib.parse import quote_plus

from ketch.engine import tailfile
from ketch.timefmt import parse_ns

POLL_INTERVAL = 0.1
_STREAMS = {"stdout": 1, "stderr": 2}


@dataclass(frozen=True)
class LogOptions:
    stdout: bool = True
    stderr: bool = True
    since_ns: int = 0
    until_ns: int = 0
    tail: int = -1  # -1: all
    follow: bool = False


@dataclass(frozen=True)
class LogEntry:
    stream: int  # 1 stdout, 2 stderr
    time: str
    data: bytes
    attrs: tuple[tuple[str, str], ...] = ()  # json-file's "attrs" (from --log-opt labels/env)

    def details(self) -> bytes:
        """moby's attrsByteSlice: the attributes sorted by key, query-escaped, joined by
        commas; ``logs --details`` puts it and a space before each line (empty: a space)."""
        return ",".join(f"{quote_plus(k, safe='')}={quote_plus(v, safe='')}"
                        for k, v in sorted(self.attrs)).encode()


def _decode(line: bytes, opts: LogOptions) -> LogEntry | None:
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    stream = _STREAMS.get(doc.get("stream"))
    if stream is None or (stream == 1 and not opts.stdout) or (stream == 2 and not opts.stderr):
        return None
    if opts.since_ns or opts.until_ns:
        t = parse_ns(doc.get("time", ""))
        if t < opts.since_ns or (opts.until_ns and t > opts.until_ns):
            return None
    attrs = doc.get("attrs")
    pairs = tuple((str(k), str(v)) for k, v in attrs.items()) if isinstance(attrs, dict) else ()
    return LogEntry(stream, doc.get("time", ""), doc.get("log", "").encode(), pairs)


def _read_all(path: str, opts: LogOptions) -> tuple[list[LogEntry], int]:
    # Docker takes the last lines of the file first, then filters them; the tail is
    # found from the end of the file, so its cost does not grow with the log.
    lines, end = tailfile.read_tail(path, opts.tail)
    return [e for e in (_decode(line, opts) for line in lines) if e], end


async def read(path: str, opts: LogOptions, running: Callable[[], bool]) -> AsyncIterator[LogEntry]:
    entries, offset = await asyncio.to_thread(_read_all, path, opts)
    for entry in entries:
        yield entry
    if not opts.follow:
        return
    pending = b""
    # One open file for the whole follow, as Docker's reader has: the container may be
    # removed (its log deleted) before a slow client has read everything.
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    with f:
        f.seek(offset)
        while True:
            alive = running()
            chunk = f.read()
            if chunk:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    entry = _decode(line, opts)
                    if entry:
                        yield entry
            elif not alive:
                return
            else:
                await asyncio.sleep(POLL_INTERVAL)


def size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
