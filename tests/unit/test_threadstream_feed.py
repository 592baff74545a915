"""ketch.engine.threadstream.run_with_stream: an upload fed to a thread."""

import asyncio
import os
import threading

import pytest

from ketch.engine import threadstream


def test_the_thread_reads_everything():
    async def chunks():
        for i in range(20):
            yield bytes([i]) * 100

    got = asyncio.run(threadstream.run_with_stream(chunks(), lambda r: r.read()))
    assert got == b"".join(bytes([i]) * 100 for i in range(20))


def test_an_upload_cut_off_ends_the_thread_too():
    """The client goes away mid-upload: the thread's read fails instead of waiting
    forever for chunks that never come (it leaked, holding what it had opened)."""
    finished = threading.Event()
    failures = []

    async def chunks():
        yield b"first"
        raise ConnectionResetError("client gone")

    def fn(reader):
        try:
            while reader.read(1024):
                pass
        except OSError as exc:
            failures.append(exc)
        finally:
            finished.set()

    async def main():
        with pytest.raises(ConnectionResetError):
            await threadstream.run_with_stream(chunks(), fn)

    asyncio.run(asyncio.wait_for(main(), 10))
    assert finished.wait(5)
    assert failures and "interrupted" in str(failures[0])


def test_a_read_hands_out_whole_chunks_uncopied():
    chunk = os.urandom(1 << 16)

    async def chunks():
        yield chunk

    got = asyncio.run(threadstream.run_with_stream(chunks(), lambda r: r.read(1 << 20)))
    assert got is chunk
