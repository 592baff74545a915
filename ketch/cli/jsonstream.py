"""Rendering the daemon's JSON message stream as docker/cli's jsonmessage does.

On a terminal a message with progress rewrites its id's line in place (one line per
id, the cursor moved up to it); elsewhere progress is left out and only statuses and
``stream`` text are printed. An ``error`` message ends the command with it.
"""

import json

from ketch.cli.main import StatusError
from ketch.units import human_size


def _bar(detail: dict) -> str:
    current, total = detail.get("current") or 0, detail.get("total") or 0
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return "%8s" % human_size(current, 4)
    percentage = min(int(current / total * 100) // 2, 50)
    numbers = "%8s/%s" % (human_size(current, 4), human_size(total, 4))
    if current > total:
        numbers = "%8s" % human_size(current, 4)
    return "[%s>%s] " % ("=" * percentage, " " * (50 - percentage)) + numbers


class Display:
    def __init__(self, out, terminal: bool) -> None:
        self.out = out
        self.terminal = terminal
        self.lines: dict[str, int] = {}  # id -> its line, counted from the first

    def message(self, doc: dict) -> None:
        if doc.get("error") or doc.get("errorDetail"):
            detail = doc.get("errorDetail") or {}
            raise StatusError(1, detail.get("message") or doc.get("error") or "")
        detail = doc.get("progressDetail")
        text = doc.get("stream")
        if text is not None and text != "":
            self.out.write(text)
            return
        status = doc.get("status") or ""
        ident = doc.get("id") or ""
        if detail and _bar(detail):
            if not self.terminal:
                return
            self._progress(ident, f"{status} {_bar(detail)}")
            return
        line = f"{ident}: {status}" if ident else status
        if self.terminal and ident in self.lines:
            self._progress(ident, status)
            return
        self.out.write(line + "\n")

    def _progress(self, ident: str, text: str) -> None:
        line = f"{ident}: {text}" if ident else text
        if ident not in self.lines:
            self.lines[ident] = len(self.lines)
            self.out.write(f"\x1b[2K\r{line}\n")
            return
        up = len(self.lines) - self.lines[ident]
        self.out.write(f"\x1b[{up}A\x1b[2K\r{line}\r\x1b[{up}B")

    def stream(self, resp) -> None:
        """Render every message of a response; the first error raises StatusError."""
        buf = b""
        for chunk in resp.chunks():
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                if raw.strip():
                    self.message(json.loads(raw))
            self.out.flush()
        if buf.strip():
            self.message(json.loads(buf))
        self.out.flush()
