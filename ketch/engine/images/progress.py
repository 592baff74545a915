"""Progress of a stream being read, reported as moby's progress.Reader does.

A report goes out every 512 KiB read (or every 1% of the total when that is less), at
most ten a second, and always at the end; the caller's ``report`` turns them into
whatever its client reads (the API's JSON progress messages).
"""

import io
import time
from dataclasses import dataclass
from typing import BinaryIO, Callable

_EVERY = 512 * 1024
_INTERVAL = 0.1  # moby's rate.Every(100ms)


@dataclass(frozen=True)
class Progress:
    id: str  # "" or a short id ("a1b2c3d4e5f6")
    action: str  # "Loading layer", "Importing"
    current: int
    total: int  # 0 when unknown


Report = Callable[[Progress], None]


class ProgressReader(io.RawIOBase):
    def __init__(self, src: BinaryIO, total: int, report: Report, id: str, action: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._src = src
        self._report = report
        self._id, self._action = id, action
        self._clock = clock
        self.total = total
        self.current = 0
        self._last_update = 0
        self._last_time: float | None = None
        self._every = min(_EVERY, int(total * 0.01)) if total > 0 else _EVERY

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._src.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.current += n
        if self.current - self._last_update > self._every or not n:
            self._update(last=not n)
            self._last_update = self.current
        return n

    def _update(self, last: bool) -> None:
        now = self._clock()
        allowed = self._last_time is None or now - self._last_time >= _INTERVAL
        if last or self.current == self.total or allowed:
            self._last_time = now
            self._report(Progress(self._id, self._action, self.current, self.total))

    def done(self) -> None:
        """Report the whole stream as read, for a reader whose bytes went another way
        (copied by the kernel from a file)."""
        self.current = self.total
        self._update(last=True)
