"""GET /events: the kept events from ``since``, then live ones until ``until`` or until
the client goes (moby 26.1's ``getEvents``).

A live event older than ``since`` is still sent, as moby does: ``since`` only selects
what is replayed. ``until`` in the past answers with the replay alone.
"""

import asyncio
import contextlib
import time
from typing import Callable, Protocol

from ketch import errors
from ketch.api import filters as flt
from ketch.api.http import Request, Router, StreamResponse, encode_json
from ketch.engine.events import Event, EventFilter

QUEUE = 1024  # a reader that falls this far behind misses events (moby drops them too)


class EventsBackend(Protocol):
    def subscribe(self, fn: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``fn`` for every event from now on; returns the unsubscribe function."""

    def replay(self, since_ns: int | None, until_ns: int | None,
               match: Callable[[Event], bool]) -> list[Event]:
        """The kept events between the two times (None: unbounded) that ``match``."""


def event_time(value: str | None) -> int | None:
    """moby's eventTime over ParseTimestamps: "<seconds>[.<fraction>]" to nanoseconds,
    None for none ("0" is the epoch: everything kept); strconv's error otherwise (moby
    answers 500: it is not typed)."""
    if not value:
        return None
    secs, dot, frac = value.partition(".")
    for part in (secs,) + ((frac,) if dot else ()):
        digits = part[1:] if part[:1] in "+-" and part else part
        if not (digits.isascii() and digits.isdigit()) or not -(1 << 63) <= int(part) < 1 << 63:
            raise errors.Internal(f'strconv.ParseInt: parsing "{part}": '
                                  + ("value out of range" if digits.isdigit() else "invalid syntax"))
    nanos = int(int(frac) * 10.0 ** (9 - len(frac))) if dot else 0
    return int(secs) * 10**9 + nanos


def add_routes(router: Router, backend: EventsBackend) -> None:
    async def events(request: Request) -> StreamResponse:
        since_text, until_text = request.arg("since") or "", request.arg("until") or ""
        since, until = event_time(since_text), event_time(until_text)
        timeout = None
        if until is not None:
            if since is not None and until < since:
                raise errors.InvalidArgument(f"`since` time ({since_text}) cannot be after "
                                             f"`until` time ({until_text})")
            timeout = (until - time.time_ns()) / 1e9
        match = EventFilter(flt.parse(request.arg("filters"), None))
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE)

        def hear(ev: Event) -> None:  # may run on a worker thread
            if not ev.internal and match(ev):
                loop.call_soon_threadsafe(_offer, queue, ev)

        # subscribed before the replay is taken: nothing falls between the two
        unsubscribe = backend.subscribe(hear)
        try:
            buffered = backend.replay(since, until, match)
            resp = StreamResponse(200, content_type="application/json")
            await resp.prepare(request)
            seen = {id(e) for e in buffered}
            for ev in buffered:
                await resp.write(encode_json(ev.to_docker()))
            if timeout is not None and timeout <= 0:
                await resp.finish()
                return resp
            gone = asyncio.ensure_future(request.wait_disconnected())
            deadline = None if timeout is None else loop.time() + timeout
            try:
                while True:
                    get = asyncio.ensure_future(queue.get())
                    left = None if deadline is None else max(deadline - loop.time(), 0)
                    done, _ = await asyncio.wait({get, gone}, timeout=left,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if get not in done:
                        get.cancel()
                        break
                    ev = get.result()
                    if id(ev) in seen:  # published between subscribe and replay
                        continue
                    await resp.write(encode_json(ev.to_docker()))
            finally:
                gone.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await gone
            with contextlib.suppress(ConnectionError):
                await resp.finish()
            return resp
        finally:
            unsubscribe()

    router.add("GET", "/events", events)


def _offer(queue: asyncio.Queue, ev: Event) -> None:
    with contextlib.suppress(asyncio.QueueFull):
        queue.put_nowait(ev)
