"""Feed an async byte stream (an HTTP upload) to blocking code running in a thread.

Named for what it does: it was ``engine/bridge.py``, a name that network bridges need.
"""

import asyncio
import io
import queue


class StreamClosed(Exception):
    pass


class ChunkReader(io.RawIOBase):
    """The thread's end: a readable file object over chunks put by the event loop."""

    def __init__(self, depth: int = 8) -> None:
        self._q: queue.Queue[bytes | None] = queue.Queue(depth)
        self._buf = b""
        self._eof = False
        self.abandoned = False  # the reader stopped early; the feeder should stop too

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not self._buf and not self._eof:
            chunk = self._q.get()
            if chunk is None:
                self._eof = True
            else:
                self._buf = chunk
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def abandon(self) -> None:
        """Called by the thread when it fails: unblocks the feeder, drops what is queued."""
        self.abandoned = True
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass

    async def put(self, chunk: bytes) -> None:
        if self.abandoned:
            raise StreamClosed()
        try:
            self._q.put_nowait(chunk)
        except queue.Full:
            while not self.abandoned:
                try:
                    await asyncio.to_thread(self._q.put, chunk, True, 0.2)
                    return
                except queue.Full:
                    continue
            raise StreamClosed() from None

    async def finish(self) -> None:
        if not self.abandoned:
            await self.put(None)  # type: ignore[arg-type]


async def run_with_stream(chunks, fn):
    """Run ``fn(reader)`` in a thread while feeding it ``chunks`` (an async iterator)."""
    reader = ChunkReader()

    def target():
        try:
            return fn(reader)
        finally:
            reader.abandon()

    task = asyncio.ensure_future(asyncio.to_thread(target))
    try:
        async for chunk in chunks:
            if chunk:
                await reader.put(chunk)
        await reader.finish()
    except StreamClosed:
        pass
    return await task
