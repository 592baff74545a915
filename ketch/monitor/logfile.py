"""Docker's json-file log format, written by the monitor.

One JSON object per line: ``{"log":"hi\\n","stream":"stdout","time":"<RFC 3339 nano>"}``.
Output is split at newlines like Docker's log copier; a line without its newline is
held back until the newline comes, the buffer passes 16 KiB, or the stream ends.
"""

import json
import os

from ketch.timefmt import format_ns_trimmed

MAX_PARTIAL = 16 * 1024


class JsonFileWriter:
    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes, now_ns: int) -> None:
        buf = self._partial[stream] + data
        lines = buf.split(b"\n")
        rest = lines.pop()
        out = [self._entry(stream, line + b"\n", now_ns) for line in lines]
        while len(rest) >= MAX_PARTIAL:
            out.append(self._entry(stream, rest[:MAX_PARTIAL], now_ns))
            rest = rest[MAX_PARTIAL:]
        self._partial[stream] = rest
        if out:
            os.write(self._fd, b"".join(out))

    def flush(self, stream: str, now_ns: int) -> None:
        rest = self._partial[stream]
        if rest:
            self._partial[stream] = b""
            os.write(self._fd, self._entry(stream, rest, now_ns))

    def fileno(self) -> int:
        return self._fd

    def partial(self) -> dict[str, bytes]:
        """The lines held back, by stream (what a successor must start from)."""
        return dict(self._partial)

    def close(self) -> None:
        os.close(self._fd)

    @staticmethod
    def _entry(stream: str, data: bytes, now_ns: int) -> bytes:
        doc = {"log": data.decode("utf-8", "replace"), "stream": stream, "time": format_ns_trimmed(now_ns)}
        return json.dumps(doc, separators=(",", ":")).encode() + b"\n"
