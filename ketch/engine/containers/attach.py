"""Attached clients: who receives a container's output, and the way in for its stdin.

A client may attach before the container starts (``docker start -a``, ``docker run``
attaches first): its ``OutputQueue`` waits for the next run and ends with it. Output
frames arrive from the run's monitor (``output``); ``run_ended`` closes every queue of
the run. Stdin sent before the run has started is held until it has.
"""

import asyncio
from typing import Awaitable

from ketch import errors
from ketch.monitor import protocol as proto


class OutputQueue:
    """One attached client's view of a container's output: frames, then None at the end.

    ``put`` never waits (a container's monitor reader must not); ``offer`` is ``put`` for a
    producer that can wait (an exec's reader): past ``LIMIT`` queued bytes it returns what
    to await, so a client that reads slowly holds the process back instead of growing
    ketchd's memory. A ``hold`` queue (a build step's: its container is the build's alone)
    holds the container back that way too. After ``close`` or ``release`` nobody reads:
    frames are dropped, nobody waits."""

    LIMIT = 1 << 20

    def __init__(self, stdout: bool, stderr: bool, hold: bool = False) -> None:
        self.hold = hold
        self.want = {1: stdout, 2: stderr}
        self.queue: asyncio.Queue[tuple[bytes, int, bytes] | None] = asyncio.Queue()
        self.queued = 0
        self.closed = False
        self._room = asyncio.Event()
        self._room.set()

    def put(self, raw: bytes, stream: int, payload: bytes) -> None:
        if self.want.get(stream) and not self.closed:
            self.queue.put_nowait((raw, stream, payload))
            self.queued += len(raw)
            if self.queued > self.LIMIT:
                self._room.clear()

    def offer(self, raw: bytes, stream: int, payload: bytes) -> Awaitable | None:
        self.put(raw, stream, payload)
        return None if self._room.is_set() else self._room.wait()

    async def get(self) -> tuple[bytes, int, bytes] | None:
        item = await self.queue.get()
        if item is not None:
            self.queued -= len(item[0])
            if self.queued <= self.LIMIT:
                self._room.set()
        return item

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)
            self._room.set()

    def release(self) -> None:
        """Detached: whoever waits for room goes on, later frames are dropped."""
        self.closed = True
        self._room.set()


class Attachments:
    def __init__(self, handle_of) -> None:
        self._handle_of = handle_of  # cid -> the running monitor's handle, or None
        self._sinks: dict[str, set[OutputQueue]] = {}
        self._started: dict[str, asyncio.Event] = {}

    def attach(self, cid: str, stdout: bool, stderr: bool, hold: bool = False) -> OutputQueue:
        sink = OutputQueue(stdout, stderr, hold)
        self._sinks.setdefault(cid, set()).add(sink)
        return sink

    def detach(self, cid: str, sink: OutputQueue) -> None:
        self._sinks.get(cid, set()).discard(sink)
        if sink.hold:
            sink.release()

    # -- from the lifecycle -------------------------------------------------------
    def output(self, cid: str, raw: bytes, stream: int, payload: bytes) -> Awaitable | None:
        """Frames to every queue; what the monitor's reader awaits when a ``hold`` queue
        is full."""
        wait = None
        for sink in list(self._sinks.get(cid, ())):
            if sink.hold:
                wait = sink.offer(raw, stream, payload) or wait
            else:
                sink.put(raw, stream, payload)
        return wait

    def run_started(self, cid: str) -> None:
        self._started.setdefault(cid, asyncio.Event()).set()

    def run_ended(self, cid: str) -> None:
        self._started.pop(cid, None)
        for sink in self._sinks.pop(cid, set()):
            sink.close()

    # -- input ----------------------------------------------------------------------
    async def send_stdin(self, cid: str, data: bytes) -> None:
        handle = self._handle_of(cid)
        if handle is None:  # attached before start: hold it until the run has begun
            await self._started.setdefault(cid, asyncio.Event()).wait()
            handle = self._handle_of(cid)
        if handle is not None:
            await handle.send_stdin(data)

    async def close_stdin(self, cid: str) -> None:
        handle = self._handle_of(cid)
        if handle is not None:
            await handle.send_op(proto.Op(proto.CLOSE_STDIN))

    async def resize(self, cid: str, height: int, width: int) -> None:
        handle = self._handle_of(cid)
        if handle is None:
            raise errors.Conflict(f"container {cid} is not running")
        await handle.send_op(proto.Op(proto.RESIZE, height=height, width=width))
