"""Reading a container's log (json-file or local): filters, ``tail``, and ``follow``.

The log is the live file and the files rotated out of it (``<path>.N``, ``<path>.N.gz``;
``ketch/monitor/logfile.py`` draws them): they are read oldest first, the live one
last, and ``tail`` counts lines across all of them from the end, as moby's reader does.

``follow`` polls the file: the monitor appends whole lines, so a reader never sees a
torn entry, and polling keeps the order exact without a second channel. When the live
file is rotated away, the follower finishes the file it holds, reads the files rotated
after it (several rotations may pass between two polls), then opens the new live one.

The two formats differ only in their items: json-file's are lines, local's are framed
records (``ketch/monitor/localfmt.py``), found by their lengths; a ``_Format`` gives
each the few steps that differ. The local driver's files are read whole (a rotated one
is at most its max-size), its tail counted in records from each file's end.
"""

import asyncio
import gzip
import json
import os
from dataclasses import dataclass
from typing import AsyncIterator, BinaryIO, Callable
from urllib.parse import quote_plus

from ketch.engine import tailfile
from ketch.monitor import localfmt
from ketch.timefmt import format_ns_trimmed, parse_ns

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


def _decode_record(rec: localfmt.Record, opts: LogOptions) -> LogEntry | None:
    stream = _STREAMS.get(rec.source)
    if stream is None or (stream == 1 and not opts.stdout) or (stream == 2 and not opts.stderr):
        return None
    if rec.time_nano < opts.since_ns or (opts.until_ns and rec.time_nano > opts.until_ns):
        return None
    return LogEntry(stream, format_ns_trimmed(rec.time_nano), rec.text())


def _split_lines(data: bytes) -> tuple[list[bytes], int]:
    cut = data.rfind(b"\n") + 1
    return data[:cut].split(b"\n")[:-1], cut


def _last(items: list, n: int) -> list:
    return items if n < 0 else items[-n:] if n else []


def _local_tail_of(f: BinaryIO, n: int) -> tuple[list, int]:
    """The last ``n`` records (all if < 0) of the open live file, and the offset past
    the last whole one."""
    f.seek(0)
    data = f.read()
    records, end = localfmt.split(data)
    return _last(records, n), end


def _gz_data(path: str) -> bytes | None:
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (FileNotFoundError, OSError, EOFError):  # removed by a rotation, or damaged
        return None


def _local_file_items(path: str, n: int) -> list:
    if path.endswith(".gz"):
        data = _gz_data(path)
    else:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = None
    return _last(localfmt.split(data)[0], n) if data else []


def rotated(path: str) -> list[str]:
    """The files rotated out of the log at ``path``, newest (.1) first; a plain .N is
    taken over its .N.gz (both exist only while .N is being compressed)."""
    directory, base = os.path.split(path)
    found: dict[int, str] = {}
    try:
        names = os.listdir(directory or ".")
    except FileNotFoundError:
        return []
    for name in names:
        if not name.startswith(base + "."):
            continue
        rest = name[len(base) + 1:]
        number = rest.removesuffix(".gz")
        if number.isdigit() and (number not in found or not rest.endswith(".gz")):
            found[int(number)] = os.path.join(directory, name)
    return [found[n] for n in sorted(found)]


def _file_lines(path: str, lines: int) -> list[bytes]:
    """The last ``lines`` lines (all if < 0) of a rotated file."""
    if not path.endswith(".gz"):
        return tailfile.read_tail(path, lines)[0]
    data = _gz_data(path)
    return _last(data.split(b"\n")[:-1], lines) if data else []


@dataclass(frozen=True)
class _Format:
    tail_of: Callable  # (open live file, n) -> (last n items, offset past the whole ones)
    file_items: Callable  # (rotated file, n) -> its last n items
    split: Callable  # (bytes) -> (whole items, bytes they take)
    decode: Callable  # (item, LogOptions) -> LogEntry | None


_JSON = _Format(tailfile.read_tail_of, _file_lines, _split_lines, _decode)
_LOCAL = _Format(_local_tail_of, _local_file_items, localfmt.split, _decode_record)


def _format(path: str) -> _Format:
    """The local driver's log is local-logs/container.log (engine/containers/bundle.py)."""
    return _LOCAL if os.path.basename(os.path.dirname(path)) == "local-logs" else _JSON


def _older_lines(path: str, live: BinaryIO | None, lines: int, fmt: _Format = _JSON) -> list:
    """The last ``lines`` lines (all if < 0) of the rotated files, oldest first. A file
    that is the one open as ``live`` (rotated since it was opened) is not read twice."""
    inode = os.fstat(live.fileno()).st_ino if live else None
    out: list[bytes] = []
    for name in rotated(path):
        if lines >= 0 and len(out) >= lines:
            break
        try:
            if inode is not None and os.stat(name).st_ino == inode:
                continue
        except FileNotFoundError:
            continue
        got = fmt.file_items(name, lines - len(out) if lines >= 0 else -1)
        out = got + out
    return out


def _read_from(path: str, opts: LogOptions) -> tuple[list[LogEntry], BinaryIO | None, int]:
    """The entries asked for, the live file (open) and the offset a follower goes on from."""
    fmt = _format(path)
    try:
        live: BinaryIO | None = open(path, "rb")
    except FileNotFoundError:
        live = None
    try:
        # Docker takes the last lines of the files first, then filters them; the tail is
        # found from the end of each file, so its cost does not grow with the log.
        lines, end = fmt.tail_of(live, opts.tail) if live else ([], 0)
        if opts.tail < 0 or len(lines) < opts.tail:
            lines = _older_lines(path, live, opts.tail - len(lines) if opts.tail >= 0 else -1, fmt) + lines
    except BaseException:
        if live:
            live.close()
        raise
    return [e for e in (fmt.decode(line, opts) for line in lines) if e], live, end


def _read_all(path: str, opts: LogOptions) -> tuple[list[LogEntry], int]:
    entries, live, end = _read_from(path, opts)
    if live:
        live.close()
    return entries, end


def _rotated_after(path: str, f: BinaryIO, fmt: _Format = _JSON) -> list:
    """The lines of the files rotated after ``f``, oldest first: those newer than ``f``'s
    own (found by its inode; none if it is no longer among them, gzipped or removed)."""
    st = os.fstat(f.fileno())
    if st.st_nlink == 0:  # removed: its inode number may be another file's by now
        return []
    inode = st.st_ino
    names = rotated(path)
    for i, name in enumerate(names):
        try:
            if os.stat(name).st_ino == inode:
                return [item for newer in reversed(names[:i]) for item in fmt.file_items(newer, -1)]
        except FileNotFoundError:
            continue
    return []


def _replaced(path: str, f: BinaryIO) -> bool:
    """The live file is no longer ``f``: it was rotated away (or the log removed). A file
    rotated out and then removed (two rotations between polls) has no links left, and the
    new live file may have been given its freed inode number: compared by number alone,
    the follower stayed on the removed file and ended with what it held."""
    held = os.fstat(f.fileno())
    try:
        live = os.stat(path)
    except FileNotFoundError:  # between the rename and the new file, or the log removed
        return False
    return held.st_nlink == 0 or live.st_ino != held.st_ino


async def read(path: str, opts: LogOptions, running: Callable[[], bool]) -> AsyncIterator[LogEntry]:
    entries, f, offset = await asyncio.to_thread(_read_from, path, opts)
    try:
        for entry in entries:
            yield entry
        if not opts.follow:
            return
        while f is None:  # no live file: between a rotation's rename and the new file
            if not running():
                return
            await asyncio.sleep(POLL_INTERVAL)
            try:
                f, offset = open(path, "rb"), 0
            except FileNotFoundError:
                continue
        # One open file at a time, as Docker's reader has: the container may be removed
        # (its log deleted) before a slow client has read everything.
        fmt = _format(path)
        pending = b""
        f.seek(offset)
        while True:
            alive = running()
            chunk = f.read()
            if chunk:
                pending += chunk
                items, used = fmt.split(pending)
                pending = pending[used:]
                for item in items:
                    entry = fmt.decode(item, opts)
                    if entry:
                        yield entry
            elif _replaced(path, f):
                try:
                    new = open(path, "rb")
                except FileNotFoundError:  # between the rename and the new file
                    await asyncio.sleep(POLL_INTERVAL)
                    continue
                for item in await asyncio.to_thread(_rotated_after, path, f, fmt):
                    entry = fmt.decode(item, opts)
                    if entry:
                        yield entry
                f.close()
                f, pending = new, b""
            elif not alive:
                return
            else:
                await asyncio.sleep(POLL_INTERVAL)
    finally:
        if f is not None:
            f.close()


def size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
