"""One ``asyncio.Lock`` per container, shared by everything that changes what runs:
start, exit, stop (``lifecycle.py``), remove, cp into a running container, and network
connect/disconnect (``engine/networks``) — so none of them meets another halfway."""

import asyncio


class ContainerLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, cid: str) -> asyncio.Lock:
        return self._locks.setdefault(cid, asyncio.Lock())

    def forget(self, cid: str) -> None:
        """The container is gone."""
        self._locks.pop(cid, None)
