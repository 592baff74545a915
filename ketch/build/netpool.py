"""Where a build's network work runs: ``ADD <url>`` downloads, ``remote=`` contexts, git
clones. Not asyncio's default executor (a few threads the whole daemon shares: a server
that accepts and never answers would hold them all) but a bounded pool of its own, and
cancellable: ``run`` gives the work a ``Cancel`` (``current()`` in its thread) on which
the blocking parts register how to stop them (the HTTP connection's socket shut down, the
git process killed); a cancelled ``run`` (the client went away) stops them at once::

    await netpool.run(fn, *args, undo=remove)   fn(*args) in the pool; cancelled: the
                                               work stopped, ``undo(result)`` if it still
                                               finished
"""

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ketch import errors

log = logging.getLogger("ketchd.build")

THREADS = 4
_POOL = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="ketch-build-net")
_current: contextvars.ContextVar["Cancel | None"] = contextvars.ContextVar("build_net_cancel", default=None)


class Cancel:
    """Thread-safe: how to stop the work in flight; once cancelled, what registers is
    stopped at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stops: list[Callable[[], None]] = []
        self.cancelled = False

    def register(self, stop: Callable[[], None]) -> Callable[[], None]:
        """``stop`` runs on cancel; returns what unregisters it (the work ended)."""
        with self._lock:
            if not self.cancelled:
                self._stops.append(stop)
                return lambda: self._unregister(stop)
        _quietly(stop)
        raise errors.Internal("context canceled")  # Go's text for a cancelled request

    def _unregister(self, stop: Callable[[], None]) -> None:
        with self._lock:
            if stop in self._stops:
                self._stops.remove(stop)

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            stops, self._stops = self._stops, []
        for stop in stops:
            _quietly(stop)


def current() -> Cancel | None:
    """The running work's ``Cancel`` (None outside ``run``)."""
    return _current.get()


async def run(fn: Callable, *args, undo: Callable | None = None):
    cancel = Cancel()
    context = contextvars.copy_context()
    context.run(_current.set, cancel)
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(_POOL, context.run, fn, *args)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        cancel.cancel()
        if undo is not None:
            def later(done: asyncio.Future) -> None:
                if not done.cancelled() and done.exception() is None:
                    loop.run_in_executor(None, undo, done.result())
            future.add_done_callback(later)
        raise


def _quietly(stop: Callable[[], None]) -> None:
    try:
        stop()
    except Exception as exc:  # stopping is best effort: the work fails on its own then
        log.debug("stopping build network work: %s", exc)
