"""Work that a cancelled request must not cut in half.

A client that goes away cancels its handler's task; a thread cannot be stopped and a
clean-up must not stop halfway. These helpers let the work run to its end: ``finish``
awaits a clean-up then re-raises the cancel, ``uninterrupted`` lets the work finish and
undoes what it made, ``in_own_thread`` does that for a new thread (not a pool one: it
may unshare its mount namespace).
"""

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def finish(cleanup: Awaitable) -> None:
    """Run a clean-up to its end even if the awaiting task is cancelled meanwhile: the
    cancel is raised after it."""
    task = asyncio.ensure_future(cleanup)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task})
        raise


async def uninterrupted(work: Awaitable[T], undo: Callable[[T], None]) -> T:
    """Await ``work`` (a thread's); if the awaiting task is cancelled, the work still runs
    to its end, and what it made is undone then. If the loop closes first (ketchd
    stopping), the undo never runs: what the work made is left to the start-up sweeps and
    the image GC."""
    future = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        def later(done: asyncio.Future) -> None:
            if not done.cancelled() and done.exception() is None:
                undo(done.result())
        future.add_done_callback(later)
        raise


async def in_own_thread(fn: Callable[[], T], name: str, undo: Callable[[T], None]) -> T:
    """``uninterrupted`` for ``fn`` run in a new thread of its own."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()

    def settle(result, exc) -> None:
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)

    def body() -> None:
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the loop
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=body, name=name, daemon=True).start()
    return await uninterrupted(future, undo)
