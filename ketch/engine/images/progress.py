"""Progress of a transfer, reported as moby's progress.Reader does, in the API's JSON
progress messages (``apitypes/progress``).

A report goes out every 512 KiB (or every 1% of the total when that is less), at most
ten a second, and always at the end. ``Reporter`` takes the counts of a transfer that
counts for itself (a registry download or upload); ``ProgressReader`` counts a stream
as it is read (a layer being loaded, an import from a URL).
"""

import io
import time
from typing import BinaryIO, Callable

from ketch.apitypes import progress as prog

_EVERY = 512 * 1024
_INTERVAL = 0.1  # moby's rate.Every(100ms)

Report = Callable[[dict], None]  # takes one apitypes/progress message


class Reporter:
    def __init__(self, report: Report, total: int, id: str, action: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._report = report
        self._id, self._action = id, action
        self._clock = clock
        self.total = total
        self.current = 0
        self._last_update = 0
        self._last_time: float | None = None
        self._every = min(_EVERY, int(total * 0.01)) if total > 0 else _EVERY

    def update(self, current: int, last: bool = False) -> None:
        """``current`` bytes are through (``last``: and that is all of them)."""
        self.current = current
        if self.current - self._last_update > self._every or last:
            self._send(last)
            self._last_update = self.current

    def done(self) -> None:
        """Report the whole transfer as through (for bytes that went another way, such
        as copied by the kernel from a file)."""
        self.current = self.total
        self._send(last=True)

    def _send(self, last: bool) -> None:
        now = self._clock()
        allowed = self._last_time is None or now - self._last_time >= _INTERVAL
        if last or self.current == self.total or allowed:
            self._last_time = now
            self._report(prog.progress(self._action, self._id, self.current, self.total))


class ProgressReader(io.RawIOBase):
    def __init__(self, src: BinaryIO, total: int, report: Report, id: str, action: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._src = src
        self.reporter = Reporter(report, total, id, action, clock)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._src.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.reporter.update(self.reporter.current + n, last=not n)
        return n

    def done(self) -> None:
        self.reporter.done()
