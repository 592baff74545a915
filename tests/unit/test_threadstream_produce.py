"""ketch.engine.threadstream.produce: a thread's writes as an async stream, bounded."""

import asyncio
import threading

import pytest

from ketch.engine import threadstream


def test_chunks_in_order_then_the_error():
    def fn(out):
        for i in range(100):
            out.write(bytes([i]) * 1000)
        raise ValueError("late failure")

    async def main():
        got = []
        with pytest.raises(ValueError, match="late failure"):
            async for chunk in threadstream.produce(fn, chunk_size=4096):
                got.append(chunk)
        return b"".join(got)

    data = asyncio.run(main())
    assert data == b"".join(bytes([i]) * 1000 for i in range(100))


def test_a_reader_that_leaves_stops_the_writer():
    stopped = threading.Event()

    def fn(out):
        try:
            while True:
                out.write(b"x" * 65536)
        finally:
            stopped.set()

    async def main():
        gen = threadstream.produce(fn, chunk_size=65536)
        async for _ in gen:
            break
        await gen.aclose()

    asyncio.run(asyncio.wait_for(main(), 10))
    assert stopped.wait(5)
