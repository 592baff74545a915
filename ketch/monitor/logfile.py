"""Docker's json-file log format, written by the monitor, with json-file's rotation.

One JSON object per line: ``{"log":"hi\\n","stream":"stdout","time":"<RFC 3339 nano>"}``.
Output is split at newlines like Docker's log copier; a line without its newline is
held back until the newline comes, the buffer passes 16 KiB, or the stream ends.

Rotation is moby's loggerutils.LogFile: before each entry, a file at ``max_size`` bytes
or more is rotated, so a file ends at most one entry past the limit. With ``max_file``
files kept, the files are::

    <id>-json.log          the live one
    <id>-json.log.1        the newest rotated one (.1.gz once compressed)
    ...
    <id>-json.log.<max_file - 1>[.gz]   the oldest; the next rotation removes it

Rotation renames (``.N-1`` -> ``.N``, the live file -> ``.1``) and starts a new live
file. With ``compress``, ``.1`` is then gzipped to ``.1.gz`` (through ``.1.gz.tmp``, so a
reader sees whole files only) and removed. With ``max_file`` 1 the live file is
emptied instead. The C monitor (``cmonitor/monitor.c``) does the same, byte for byte
(it gzips in a child process so the container's output keeps flowing); this module is
its specification.
"""

import gzip
import json
import os

from ketch.monitor import localfmt
from ketch.monitor.protocol import LogSpec
from ketch.timefmt import format_ns_trimmed

MAX_PARTIAL = 16 * 1024
# what an entry holds: a line with its newline, a MAX_PARTIAL piece of a longer line,
# or the end of a stream's output that had no newline
LINE, CHUNK, REST = "line", "chunk", "rest"


def rotated_name(path: str, n: int, compress: bool) -> str:
    return f"{path}.{n}{'.gz' if compress else ''}"


def rotate(path: str, max_file: int, compress: bool) -> None:
    """moby's loggerutils.rotate: shift the rotated files up by one, the live file to .1."""
    if max_file < 2:
        return
    try:
        os.unlink(rotated_name(path, max_file - 1, compress))
    except FileNotFoundError:
        pass
    for i in range(max_file - 1, 1, -1):
        try:
            os.rename(rotated_name(path, i - 1, compress), rotated_name(path, i, compress))
        except FileNotFoundError:
            pass
    try:
        os.rename(path, f"{path}.1")
    except FileNotFoundError:
        pass


def compress_file(path: str) -> None:
    """``path`` -> ``path.gz`` (whole or not at all), then ``path`` is removed."""
    tmp = path + ".gz.tmp"
    with open(path, "rb") as src, gzip.open(tmp, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    os.rename(tmp, path + ".gz")
    os.unlink(path)


def open_log(path: str, truncate: bool = False) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | (os.O_TRUNC if truncate else 0)
    return os.open(path, flags, 0o640)


class JsonFileWriter:
    def __init__(self, path: str, spec: LogSpec = LogSpec()) -> None:
        self._path = path
        self._spec = spec
        self._fd = -1 if spec.driver == "none" else open_log(path)
        self._size = os.fstat(self._fd).st_size if self._fd >= 0 else 0
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes, now_ns: int) -> None:
        if self._fd < 0:
            return
        buf = self._partial[stream] + data
        lines = buf.split(b"\n")
        rest = lines.pop()
        out = []
        for line in lines:
            while len(line) >= MAX_PARTIAL:  # moby's copier splits at its 16 KiB buffer, whatever the reads
                out.append(self._entry(stream, line[:MAX_PARTIAL], now_ns, CHUNK))
                line = line[MAX_PARTIAL:]
            out.append(self._entry(stream, line + b"\n", now_ns, LINE))
        while len(rest) >= MAX_PARTIAL:
            out.append(self._entry(stream, rest[:MAX_PARTIAL], now_ns, CHUNK))
            rest = rest[MAX_PARTIAL:]
        self._partial[stream] = rest
        self._append(out)

    def flush(self, stream: str, now_ns: int) -> None:
        rest = self._partial[stream]
        if rest and self._fd >= 0:
            self._partial[stream] = b""
            self._append([self._entry(stream, rest, now_ns, REST)])

    def _append(self, entries: list[bytes]) -> None:
        """Write the entries, rotating before any that finds the file full."""
        batch: list[bytes] = []
        for entry in entries:
            if 0 < self._spec.max_size <= self._size:
                self._write(b"".join(batch))
                batch = []
                self._rotate()
            batch.append(entry)
            self._size += len(entry)
        self._write(b"".join(batch))

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def _rotate(self) -> None:
        spec = self._spec
        os.close(self._fd)
        rotate(self._path, spec.max_file, spec.compress)
        self._fd = open_log(self._path, truncate=True)
        self._size = 0
        if spec.compress and spec.max_file > 1:
            compress_file(f"{self._path}.1")

    def fileno(self) -> int:
        return self._fd

    def size(self) -> int:
        """Bytes in the live file (where a successor's next rotation check starts)."""
        return self._size

    def partial(self) -> dict[str, bytes]:
        """The lines held back, by stream (what a successor must start from)."""
        return dict(self._partial)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _entry(self, stream: str, data: bytes, now_ns: int, kind: str) -> bytes:
        doc = {"log": data.decode("utf-8", "replace"), "stream": stream, "time": format_ns_trimmed(now_ns)}
        return json.dumps(doc, separators=(",", ":")).encode() + b"\n"


class LocalWriter(JsonFileWriter):
    """Docker's ``local`` driver: the same splitting and rotation, records in
    ``localfmt``'s framing. The pieces of a line longer than MAX_PARTIAL are partial
    records sharing an id (``<stream>-<first piece's time in ns>``: moby's is random;
    this one lets the C monitor's log be compared with this one) with ordinals from 1;
    the piece that ends with the newline is the last. The end of a stream without a
    newline is a partial, not last, as moby's copier leaves it. A series interrupted by
    a monitor's handover starts again under a new id in the successor."""

    def __init__(self, path: str, spec: LogSpec = LogSpec()) -> None:
        super().__init__(path, spec)
        self._series: dict[str, tuple[str, int]] = {}  # stream -> (id, last ordinal)

    def _entry(self, stream: str, data: bytes, now_ns: int, kind: str) -> bytes:
        series = self._series.pop(stream, None)
        if kind == LINE and series is None:
            return localfmt.encode(localfmt.Record(stream, now_ns, data[:-1]))
        pid, ordinal = series or (f"{stream}-{now_ns}", 0)
        if kind == CHUNK:
            self._series[stream] = (pid, ordinal + 1)
        line = data[:-1] if kind == LINE else data
        return localfmt.encode(localfmt.Record(stream, now_ns, line, True, kind == LINE, pid, ordinal + 1))


def writer(path: str, spec: LogSpec) -> JsonFileWriter:
    """The writer for the spec's driver (``none`` writes nothing)."""
    return LocalWriter(path, spec) if spec.driver == "local" else JsonFileWriter(path, spec)
