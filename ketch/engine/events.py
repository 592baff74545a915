"""The engine's event bus: every state change of an object is published here, once.

Docker's ``/events`` stream, auto-remove, wait conditions, restart policies and
healthchecks all hear about changes the same way: they subscribe. Publishing never
blocks and never fails: a subscriber's error is logged, not raised into the state
change that published it (moby's ``daemon/events`` does the same with its
``pubsub.Publisher``).

An event is Docker's ``events.Message`` shape (Type, Action, Actor{ID, Attributes},
time, timeNano). Actions Docker does not have (ketch's transient states such as
``starting`` or ``cleaning``) carry ``internal=True`` so the ``/events`` API can leave
them out while in-process subscribers still see every transition.
"""

import logging
import time
from collections import deque
from typing import Callable

log = logging.getLogger("ketchd.events")

HISTORY = 1024  # what /events?since= can replay (moby keeps 256 by default)


class Event:
    __slots__ = ("type", "action", "actor_id", "attributes", "time_nano", "internal")

    def __init__(self, type: str, action: str, actor_id: str, attributes: dict[str, str] | None = None,
                 internal: bool = False, time_nano: int | None = None) -> None:
        self.type = type
        self.action = action
        self.actor_id = actor_id
        self.attributes = dict(attributes or {})
        self.internal = internal
        self.time_nano = time.time_ns() if time_nano is None else time_nano

    def to_docker(self) -> dict:
        return {"Type": self.type, "Action": self.action,
                "Actor": {"ID": self.actor_id, "Attributes": self.attributes},
                "scope": "local", "time": self.time_nano // 10**9, "timeNano": self.time_nano}

    def __repr__(self) -> str:
        return f"Event({self.type} {self.action} {self.actor_id[:12]})"


Subscriber = Callable[[Event], None]


class EventBus:
    def __init__(self, history: int = HISTORY) -> None:
        self._subscribers: list[Subscriber] = []
        self.history: deque[Event] = deque(maxlen=history)

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(event)`` for every event from now on; returns the unsubscribe function."""
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def publish(self, event: Event) -> None:
        self.history.append(event)
        for fn in list(self._subscribers):
            try:
                fn(event)
            except Exception:  # noqa: BLE001 - one subscriber must not break a state change
                log.exception("event subscriber failed on %r", event)
