"""The event journal: the bus's replay ring on disk, so ``/events?since=`` reaches back
across a ketchd restart.

``<data-root>/events.jsonl`` (0600: attributes carry container labels) holds one
Docker-shaped event per line, oldest first. Appending is one ``write(2)`` on an
``O_APPEND`` descriptor and no fsync: the line is in the page cache before the state
change returns, so a killed ketchd loses nothing; only a host crash can lose the tail,
and a torn last line is skipped on load. The file is bounded: once it holds twice the
ring, the newest ``keep`` lines are written to a new file that replaces it atomically
(amortized, one rewrite per ``keep`` events).
"""

import json
import logging
import os

from ketch.engine.events import HISTORY, Event
from ketch.linux import filemode

log = logging.getLogger("ketchd.events")

FILE = "events.jsonl"
MODE = 0o600


class EventLog:
    def __init__(self, path: str, keep: int = HISTORY) -> None:
        self.path = path
        self.keep = keep
        self._fd = -1
        self._lines = 0

    def load(self) -> list[Event]:
        events = []
        try:
            with open(self.path, "rb") as f:
                for line in f:
                    try:
                        events.append(Event.from_docker(json.loads(line)))
                    except (ValueError, KeyError, TypeError):
                        continue  # a line torn by a host crash
        except FileNotFoundError:
            pass
        events = events[-self.keep:]
        self._rewrite(events)
        return events

    def append(self, event: Event) -> None:
        if self._fd < 0:
            self._rewrite([])
        line = json.dumps(event.to_docker(), separators=(",", ":")).encode() + b"\n"
        os.write(self._fd, line)
        self._lines += 1
        if self._lines >= 2 * self.keep:
            self._compact()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _compact(self) -> None:
        try:
            with open(self.path, "rb") as f:
                tail = f.readlines()[-self.keep:]
        except OSError as exc:
            log.warning("cannot compact %s: %s", self.path, exc)
            return
        self._replace(tail)

    def _rewrite(self, events: list[Event]) -> None:
        self._replace([json.dumps(e.to_docker(), separators=(",", ":")).encode() + b"\n"
                       for e in events])

    def _replace(self, lines: list[bytes]) -> None:
        tmp = self.path + ".new"
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        fd = filemode.create(tmp, MODE, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, b"".join(lines))
            os.fsync(fd)  # once per compaction: the rename must not reach the disk before the lines
            os.replace(tmp, self.path)
        except BaseException:
            os.close(fd)
            raise
        self.close()
        self._fd = fd
        self._lines = len(lines)
