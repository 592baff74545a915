"""One lock per volume name (moby's store ``locks.Lock(name)``).

Starts, stops and creates run in worker threads and call the volume service, whose
counts and driver mounts are per name. A lock per name, not one for all volumes, so a
mount that hangs on one volume (an NFS server gone) holds up only that volume's users:
other volumes mount and unmount, other containers stop. Several names are taken in
sorted order, so two callers that each need two of them cannot deadlock. An entry
lives only while someone holds or waits for it.
"""

import threading
from contextlib import contextmanager
from typing import Iterable, Iterator


class NameLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}  # name -> (lock, holders+waiters)

    def _enter(self, name: str) -> threading.Lock:
        with self._guard:
            lock, users = self._locks.get(name) or (threading.Lock(), 0)
            self._locks[name] = (lock, users + 1)
        return lock

    def _leave(self, name: str) -> None:
        with self._guard:
            lock, users = self._locks[name]
            if users <= 1:
                del self._locks[name]
            else:
                self._locks[name] = (lock, users - 1)

    @contextmanager
    def hold(self, names: Iterable[str]) -> Iterator[None]:
        """Hold the locks of ``names`` (each once, in sorted order) for the block."""
        taken: list[tuple[str, threading.Lock, bool]] = []
        try:
            for name in sorted(set(names)):
                lock = self._enter(name)
                taken.append((name, lock, False))
                lock.acquire()
                taken[-1] = (name, lock, True)
            yield
        finally:
            for name, lock, acquired in reversed(taken):
                if acquired:
                    lock.release()
                self._leave(name)

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)
