"""``wait`` conditions (not-running, next-exit, removed), answered from the event bus.

A waiter is resolved by the event that makes its condition true: Docker's "die" (the
exit is visible, so its cleanup is done) for not-running and next-exit, "destroy" for
removed (and for every other waiter of a container that no longer exists). A container
in its restart back-off counts as running (moby's State.Running): its not-running
waiters wait for the next exit, or for ``restart_canceled`` (moby's SetStopped).
"""

import asyncio

from ketch import errors
from ketch.engine.events import Event, EventBus

CONDITIONS = ("not-running", "next-exit", "removed")


class Waiters:
    def __init__(self, bus: EventBus) -> None:
        self._waiting: dict[str, list[tuple[str, asyncio.Future, object]]] = {}
        bus.subscribe(self._on_event)

    def register(self, rec, condition: str) -> asyncio.Future:
        """A future for ``condition`` on ``rec``, resolved with the exit code."""
        if condition not in CONDITIONS:
            raise errors.InvalidArgument(f"invalid condition: \"{condition}\"")
        fut = asyncio.get_running_loop().create_future()
        if condition == "not-running" and not rec.state.alive and not rec.state.restarting:
            fut.set_result(rec.state.exit_code)
            return fut
        self._waiting.setdefault(rec.id, []).append((condition, fut, rec))
        return fut

    def _on_event(self, event: Event) -> None:
        if event.type != "container" or event.action not in ("die", "restart_canceled", "destroy"):
            return
        hit = CONDITIONS if event.action == "destroy" else ("not-running", "next-exit")
        remaining = []
        for condition, fut, rec in self._waiting.pop(event.actor_id, []):
            if condition in hit:
                if not fut.done():
                    fut.set_result(rec.state.exit_code)
            elif not fut.cancelled():
                remaining.append((condition, fut, rec))
        if remaining:
            self._waiting[event.actor_id] = remaining
