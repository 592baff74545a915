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

The bus keeps the last ``HISTORY`` public events for ``/events?since=`` (moby keeps
256), and hands each to its ``journal`` (``eventlog.py``) so they outlive a restart.

Who publishes what (moby 26.1's actions and attributes)::

    container  create start restart die(exitCode, execDuration) kill(signal) stop
               pause unpause rename(oldName) destroy attach detach resize(height, width)
               oom update                           -> StateMachine.apply / .log
    container  exec_create/exec_start/exec_die, health_status, export,
               archive-path, extract-to-dir, prune   -> StateMachine.log(rec, action, attrs)
    image      import tag untag delete               -> ImageService (Actor.ID: image id)
"""

import asyncio
import logging
import threading
import time
from collections import deque
from typing import Callable, Protocol

from ketch.apitypes.prune import match_kv_list
from ketch.errors import InvalidArgument
from ketch.oci import reference

log = logging.getLogger("ketchd.events")

HISTORY = 1024  # what /events?since= can replay, also across a restart (moby keeps 256)

# the types moby fills the deprecated status/id/from fields for (API < 1.52)
_LEGACY = ("container", "image")


class Event:
    __slots__ = ("type", "action", "actor_id", "attributes", "time_nano", "internal", "scope")

    def __init__(self, type: str, action: str, actor_id: str, attributes: dict[str, str] | None = None,
                 internal: bool = False, time_nano: int | None = None, scope: str = "local") -> None:
        self.type = type
        self.action = action
        self.actor_id = actor_id
        self.attributes = dict(attributes or {})
        self.internal = internal
        self.time_nano = time.time_ns() if time_nano is None else time_nano
        self.scope = scope

    def to_docker(self) -> dict:
        """moby 26.1's ``events.Message`` as encoding/json writes it: the deprecated
        fields first (omitted when empty), the attributes in Go's map order (sorted)."""
        doc: dict = {}
        if self.type in _LEGACY:  # omitempty, as a prune's empty actor id
            legacy = (("status", self.action), ("id", self.actor_id),
                      ("from", self.attributes.get("image", "") if self.type == "container" else ""))
            doc.update((key, value) for key, value in legacy if value)
        doc["Type"] = self.type
        doc["Action"] = self.action
        doc["Actor"] = {"ID": self.actor_id, "Attributes": dict(sorted(self.attributes.items()))}
        doc["scope"] = self.scope
        doc["time"] = self.time_nano // 10**9
        doc["timeNano"] = self.time_nano
        return doc

    @classmethod
    def from_docker(cls, doc: dict) -> "Event":
        actor = doc.get("Actor") or {}
        return cls(str(doc["Type"]), str(doc["Action"]), str(actor.get("ID") or ""),
                   {str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()},
                   time_nano=int(doc["timeNano"]), scope=str(doc.get("scope") or "local"))

    def __repr__(self) -> str:
        return f"Event({self.type} {self.action} {self.actor_id[:12]})"


Subscriber = Callable[[Event], None]


class Journal(Protocol):
    def load(self) -> list[Event]:
        """The events kept by an earlier daemon, oldest first."""

    def append(self, event: Event) -> None:
        """Keep ``event``; must be cheap (no fsync): it runs inside every state change."""


class EventBus:
    def __init__(self, history: int = HISTORY, journal: Journal | None = None) -> None:
        self._subscribers: list[Subscriber] = []
        self.history: deque[Event] = deque(maxlen=history)
        self._journal = journal
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        if journal is not None:
            self.history.extend(journal.load())

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver every event on ``loop``'s thread from now on: an event published from a
        worker thread (a volume mounted while a start prepares its bundle) is handed over,
        so the journal and the subscribers only ever run on one thread. Call it from
        that thread."""
        self._loop = loop
        self._loop_thread = threading.get_ident()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Call ``fn(event)`` for every event from now on; returns the unsubscribe function."""
        self._subscribers.append(fn)
        return lambda: self._subscribers.remove(fn) if fn in self._subscribers else None

    def publish(self, event: Event) -> None:
        if self._loop is not None and threading.get_ident() != self._loop_thread:
            try:  # queued before the worker's result: delivered before its caller resumes
                self._loop.call_soon_threadsafe(self._deliver, event)
                return
            except RuntimeError:  # the loop is closed: ketchd is ending, nothing else runs
                pass
        self._deliver(event)

    def _deliver(self, event: Event) -> None:
        if not event.internal:
            self.history.append(event)
            if self._journal is not None:
                try:
                    self._journal.append(event)
                except OSError as exc:  # a full disk must not fail a container's stop
                    log.warning("cannot keep event %r: %s", event, exc)
        for fn in list(self._subscribers):
            try:
                fn(event)
            except Exception:  # noqa: BLE001 - one subscriber must not break a state change
                log.exception("event subscriber failed on %r", event)

    def replay(self, since_ns: int | None, until_ns: int | None,
               match: Callable[[Event], bool]) -> list[Event]:
        """moby's loadBufferedEvents: the kept events from ``since_ns`` on (and up to
        ``until_ns`` when given) that ``match``; nothing when neither bound is given."""
        if since_ns is None and until_ns is None:
            return []
        since = since_ns or 0
        return [e for e in self.history
                if e.time_nano >= since and (until_ns is None or e.time_nano <= until_ns) and match(e)]


# -- filters (moby's daemon/events/filter.go over filters.Args) ----------------------------

FILTER_KEYS = ("config", "container", "daemon", "event", "image", "label", "network", "node",
               "plugin", "scope", "secret", "service", "type", "volume")
_NAMED_TYPES = ("daemon", "container", "plugin", "volume", "network", "node", "service",
                "secret", "config")
_FUZZY_EVENTS = frozenset({"health_status", "exec_create", "exec_start"})


class EventFilter:
    """``/events?filters=``: every key must match (values of one key are alternatives)."""

    __slots__ = ("filters",)

    def __init__(self, filters: dict[str, list[str]]) -> None:
        self.filters = {k: set(v) for k, v in filters.items()}

    def __call__(self, ev: Event) -> bool:
        f = self.filters
        if not f:
            return True
        if f.get("event") and f["event"] & _FUZZY_EVENTS:  # "exec_start: sh" (moby #25798)
            if not _fuzzy(f, "event", ev.action):
                return False
        elif not _exact(f, "event", ev.action):
            return False
        if not _exact(f, "type", ev.type) or not _exact(f, "scope", ev.scope):
            return False
        name = ev.attributes.get("name", "")
        for key in _NAMED_TYPES:  # container=x leaves out every event whose actor is not x
            if f.get(key) and not (_fuzzy(f, key, ev.actor_id) or _fuzzy(f, key, name)):
                return False
        if f.get("image") and not self._match_image(ev):
            return False
        return match_kv_list(tuple(f.get("label") or ()), ev.attributes)

    def _match_image(self, ev: Event) -> bool:
        """The image's id or name for image events, the container's image otherwise,
        each also without its tag."""
        name = ev.attributes.get("name" if ev.type == "image" else "image", "")
        wanted = self.filters["image"]
        return any(v in wanted for v in (ev.actor_id, name, _strip_tag(ev.actor_id), _strip_tag(name)))


def _exact(f: dict[str, set[str]], key: str, source: str) -> bool:
    values = f.get(key)
    return not values or source in values


def _fuzzy(f: dict[str, set[str]], key: str, source: str) -> bool:
    values = f.get(key)
    return not values or source in values or any(source.startswith(v) for v in values)


def _strip_tag(name: str) -> str:
    try:
        return reference.parse(name, default_tag=False).familiar_name
    except InvalidArgument:
        return name
