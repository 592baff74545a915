"""Progress lines, as Compose v2 prints them while it creates, starts, stops and removes.

Compose writes its progress on stderr, in one of five modes (``--progress``):

    plain   one line per event: `` Container p-web-1  Started`` (Go's Println of the
            event's id, text and status: hence the leading and the double space)
    tty     a compact view redrawn in place: a title and one line per resource with its
            latest status and how long it took (the default on a terminal)
    json    one JSON object per event: {"id": ..., "text": ..., "status": ...}
    quiet   nothing
    auto    tty on a terminal, else plain

``Progress`` is thread-safe: the executor reports from its worker threads.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import TextIO

DRY_RUN_PREFIX = " DRY-RUN MODE - "

# the statuses of work in progress; anything else is an outcome (done, warning, error)
WORKING = frozenset({"Creating", "Starting", "Stopping", "Removing", "Recreate", "Restart",
                     "Waiting", "Killing", "Pulling", "Building", "Pausing", "Unpausing",
                     "Restarting", "Pushing", "Exporting"})
ERRORS = frozenset({"Error"})
MODES = ("auto", "tty", "plain", "json", "quiet")


class Progress:
    """Reports events: ``event("Container", "p-web-1", "Started")``."""

    def __init__(self, out: TextIO | None, mode: str = "auto", *, title: str = "Running",
                 dry_run: bool = False, ansi: str = "auto") -> None:
        self.out = out if out is not None else sys.stderr
        if mode not in MODES:
            from ketch.compose.errors import ComposeError
            raise ComposeError(f"unsupported --progress value {mode!r}")
        if mode == "auto":
            terminal = ansi != "never" and _isatty(self.out)
            mode = "tty" if terminal or ansi == "always" else "plain"
        self.mode = mode
        self.title = title
        self.dry_run = dry_run
        self._lock = threading.Lock()
        self._order: list[str] = []  # tty: resource ids in first-seen order
        self._state: dict[str, list] = {}  # tty: id -> [status, text, level, start, end]
        self._drawn = 0  # tty: lines of the last drawing

    def event(self, kind: str, name: str, status: str, text: str = "", *, level: str | None = None) -> None:
        """One event: ``kind`` is Container, Network, Volume, Image or Service; ``status``
        is what compose shows (Creating, Created, Started, Error...); ``text`` a detail
        printed before the status (as compose's Event.Text). ``level``: working, done,
        warning or error (else derived from the status)."""
        ident = f"{kind} {name}" if kind else name
        if level is None:
            level = "working" if status in WORKING else "error" if status in ERRORS else "done"
        with self._lock:
            if self.mode == "quiet":
                return
            if self.mode == "plain":
                prefix = DRY_RUN_PREFIX if self.dry_run else ""
                self._write(f"{prefix} {ident} {text} {status}\n")
            elif self.mode == "json":
                doc = {"dry-run": True} if self.dry_run else {}
                doc.update({k: v for k, v in (("id", ident), ("text", text), ("status", status)) if v})
                self._write(json.dumps(doc, separators=(",", ":")) + "\n")
            else:
                self._tty_event(ident, status, text, level)

    def message(self, text: str) -> None:
        """A line after the events (compose's TailMsgf): warnings, hints."""
        with self._lock:
            if self.mode == "quiet":
                return
            if self.mode == "json":
                self._write(json.dumps({"tail": True, "text": text}, separators=(",", ":")) + "\n")
            else:
                self._write(text + "\n")
                self._drawn = 0

    def done(self) -> None:
        """The end of the operation: the tty view is drawn a last time and left in place."""
        with self._lock:
            if self.mode == "tty" and self._order:
                self._draw(final=True)
                self._order.clear()
                self._state.clear()
                self._drawn = 0

    # -- tty ------------------------------------------------------------------------------
    def _tty_event(self, ident: str, status: str, text: str, level: str) -> None:
        now = time.monotonic()
        entry = self._state.get(ident)
        if entry is None:
            self._order.append(ident)
            self._state[ident] = [status, text, level, now, None]
        else:
            entry[0], entry[1], entry[2] = status, text, level
        entry = self._state[ident]
        entry[4] = None if level == "working" else now
        self._draw()

    def _draw(self, final: bool = False) -> None:
        done = sum(1 for i in self._order if self._state[i][2] != "working")
        lines = [f"[+] {self.title} {done}/{len(self._order)}"]
        width = max(len(i) for i in self._order)
        now = time.monotonic()
        for ident in self._order:
            status, text, level, start, end = self._state[ident]
            mark = {"working": "⠿", "done": "✔", "warning": "!", "error": "✘"}[level]
            took = ((end or now) - start)
            detail = f"{text} {status}".strip()
            lines.append(f" {mark} {ident:<{width}} {detail:<12} {took:>5.1f}s")
        up = f"\x1b[{self._drawn}A" if self._drawn else ""
        self._write(up + "".join(f"\r\x1b[K{line}\n" for line in lines))
        self._drawn = len(lines)

    def _write(self, text: str) -> None:
        try:
            self.out.write(text)
            self.out.flush()
        except (BrokenPipeError, ValueError):
            pass


def _isatty(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False
