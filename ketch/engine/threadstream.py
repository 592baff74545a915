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
        self._cut = False  # the feeder failed: reads raise instead of waiting
        self.abandoned = False  # the reader stopped early; the feeder should stop too

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not self._buf and not self._eof:
            if self._cut:
                raise OSError("upload interrupted")
            chunk = self._q.get()
            if chunk is None:
                self._eof = True
            else:
                self._buf = chunk
        if self._cut and not self._buf:
            raise OSError("upload interrupted")

    def readinto(self, b) -> int:
        self._fill()
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all of them without ``n``): a whole chunk as it came when it
        fits, where RawIOBase's read would copy it twice through a buffer."""
        if n is None or n < 0:
            return self.readall()
        self._fill()
        if n >= len(self._buf):
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out

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

    def cut(self) -> None:
        """Called by the feeder when its source fails: the thread's reads raise OSError
        from now on, so that it ends instead of waiting for chunks that never come."""
        self._cut = True
        try:
            self._q.put_nowait(b"")  # wakes a read waiting on an empty queue
        except queue.Full:
            pass  # the reader is not waiting: it finds the flag on its next read


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
    except BaseException:
        reader.cut()
        try:
            await asyncio.shield(task)
        except BaseException:  # noqa: BLE001 - the source's failure is the one to report
            pass
        raise
    return await task


class ChunkWriter(io.RawIOBase):
    """The other direction: blocking code in a thread writes, the event loop reads the
    chunks (``produce``). A write waits while ``depth`` chunks are queued, so a slow
    client slows the writer instead of filling memory; once the reader is gone, writes
    raise ``StreamClosed``."""

    def __init__(self, depth: int = 4) -> None:
        self._q: queue.Queue[bytes | None] = queue.Queue(depth)
        self.abandoned = False

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        data = bytes(b)
        if data:
            self._put(data)
        return len(data)

    def _put(self, item: bytes | None) -> None:
        while not self.abandoned:
            try:
                self._q.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise StreamClosed()


async def produce(fn, chunk_size: int = 1 << 18):
    """Run ``fn(file)`` in a thread; yield what it writes, in chunks of about
    ``chunk_size``. An error of ``fn`` is raised here, after the chunks written before it."""
    writer = ChunkWriter()
    failure: list[BaseException] = []

    def target() -> None:
        buffered = io.BufferedWriter(writer, chunk_size)
        try:
            try:
                fn(buffered)
            finally:
                buffered.flush()  # what was written before a failure goes out too
        except StreamClosed:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the event loop below
            failure.append(exc)
        finally:
            try:
                writer._put(None)
            except StreamClosed:
                pass

    task = asyncio.ensure_future(asyncio.to_thread(target))
    try:
        while (chunk := await asyncio.to_thread(writer._q.get)) is not None:
            yield chunk
    finally:
        writer.abandoned = True
        while True:  # unblock a writer waiting on a full queue
            try:
                writer._q.get_nowait()
            except queue.Empty:
                break
        try:  # and a get of ours still waiting in its thread (we were cancelled)
            writer._q.put_nowait(None)
        except queue.Full:
            pass
        await task
    if failure:
        raise failure[0]
