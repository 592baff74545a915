"""THE container state machine: every status change of a container goes through ``apply``.

Docker's states (created, running, paused, exited, removing, dead) plus the transient
ones ketch needs while an operation is under way::

                      start                 started
    created ─────────────────▶ starting ──────────────▶ running ◀──── unpause ────┐
       ▲  │            ▲          │ start_failed          │  │ pause              │
       │  │            │          ▼ (back to where         │  └──────────▶ paused ──┘
       │  │            │        it started from)          │ stop            │ stop
       │  │ remove     │                                  ▼                 ▼
       │  │            └── start ── exited ◀── exited ── cleaning ◀─ exit ─ stopping
       │  ▼                          │             (rootfs unmounted,
       │ removing ◀──── remove ──────┘              bundle removed)
       │  │  └── remove_failed ──▶ dead
       │  ▼ removed: the record is gone ("destroy")

    cleaning ── restarting ("die") ──▶ restarting ── start ──▶ starting ── started ──▶ running
                                           │  (a restart policy's back-off: engine/restart.py)
                                           └── restart_canceled ──▶ exited
                                               (stop, kill, rm -f; a failed restart)

``exit`` (the monitor reported the init's exit) is taken from running, paused and
stopping. A container whose restart policy restarts it goes ``restarting`` instead of
``exited`` (the same "die"); Docker shows it running (``Running`` and ``Restarting``
true, ``Pid`` 0) while no process of it exists. The exit becomes visible (``exited``, Docker's "die") only once ``cleaning``
is over, so whoever sees a container exited also sees nothing of its last run left on
the host, and a ``start`` after a ``wait`` cannot meet the previous run's cleanup.

Transient states are never persisted and never shown: Docker clients see the stable
state they started from (``shown``), a crash in the middle of an operation leaves the
last stable state in the store, and ``reconcile`` repairs it from what really runs.

Each transition publishes exactly one event on the bus: Docker's action where Docker
has one (create, start, pause, unpause, die, destroy), an internal one otherwise.
Operations that change no state publish theirs with ``StateMachine.log``.
Guards raise Docker's refusals word for word.
"""

from ketch import errors, timefmt
from ketch.engine.events import Event, EventBus

CREATED, STARTING, RUNNING, PAUSED = "created", "starting", "running", "paused"
STOPPING, CLEANING, EXITED = "stopping", "cleaning", "exited"
REMOVING, REMOVED, DEAD = "removing", "removed", "dead"
RESTARTING = "restarting"

STABLE = frozenset({CREATED, RUNNING, PAUSED, EXITED, DEAD, RESTARTING})
ALIVE = frozenset({RUNNING, PAUSED, STOPPING, CLEANING})  # a monitor and an init exist


class Transition:
    __slots__ = ("action", "sources", "target", "event")

    def __init__(self, action: str, sources: tuple[str, ...], target: str | None,
                 event: str | None = None) -> None:
        self.action, self.sources, self.target, self.event = action, sources, target, event


# target None: back to the stable state the transient one started from.
TRANSITIONS = {t.action: t for t in (
    Transition("start", (CREATED, EXITED, RESTARTING), STARTING),
    Transition("start_failed", (STARTING,), None),
    Transition("started", (STARTING,), RUNNING, "start"),
    Transition("pause", (RUNNING,), PAUSED, "pause"),
    Transition("unpause", (PAUSED,), RUNNING, "unpause"),
    Transition("stop", (RUNNING, PAUSED), STOPPING),
    # a stop signal thawed a paused container that is being stopped (it shows running)
    Transition("thawed", (STOPPING,), STOPPING, "unpause"),
    Transition("exit", (RUNNING, PAUSED, STOPPING), CLEANING),
    Transition("exited", (CLEANING,), EXITED, "die"),
    Transition("restarting", (CLEANING,), RESTARTING, "die"),
    Transition("restart_canceled", (RESTARTING,), EXITED),
    Transition("remove", (CREATED, EXITED, DEAD), REMOVING),
    Transition("removed", (REMOVING,), REMOVED, "destroy"),
    Transition("remove_failed", (REMOVING,), DEAD),
    # ketchd restarted and found the container's monitor alive: adopt what really runs.
    Transition("recovered", (CREATED, RUNNING, PAUSED, EXITED, RESTARTING), RUNNING),
    Transition("recovered_paused", (CREATED, RUNNING, PAUSED, EXITED, RESTARTING), PAUSED),
)}


class ContainerState:
    """One container's state. ``status`` may be transient; ``shown`` is always stable."""

    __slots__ = ("status", "shown", "pid", "exit_code", "error", "started_at", "finished_at",
                 "oom_killed")

    def __init__(self, status: str = CREATED, pid: int = 0, exit_code: int = 0, error: str = "",
                 started_at: str = timefmt.ZERO, finished_at: str = timefmt.ZERO,
                 oom_killed: bool = False) -> None:
        self.status = self.shown = status
        self.pid, self.exit_code, self.error = pid, exit_code, error
        self.started_at, self.finished_at, self.oom_killed = started_at, finished_at, oom_killed

    # -- questions the engine asks ----------------------------------------------
    @property
    def running(self) -> bool:
        """Running as Docker reports it (paused and restarting containers are running)."""
        return self.shown in (RUNNING, PAUSED, RESTARTING)

    @property
    def restarting(self) -> bool:
        return self.shown == RESTARTING

    @property
    def paused(self) -> bool:
        return self.shown == PAUSED

    @property
    def alive(self) -> bool:
        return self.status in ALIVE

    # -- Docker's State object ----------------------------------------------------
    def to_docker(self) -> dict:
        status = REMOVING if self.status == REMOVING else self.shown
        return {"Status": status, "Running": self.running, "Paused": self.paused,
                "Restarting": status == RESTARTING, "OOMKilled": self.oom_killed, "Dead": status == DEAD,
                "Pid": self.pid if self.running else 0, "ExitCode": self.exit_code,
                "Error": self.error, "StartedAt": self.started_at, "FinishedAt": self.finished_at}

    @classmethod
    def from_docker(cls, doc: dict) -> "ContainerState":
        status = doc.get("Status") or CREATED
        if status not in STABLE:  # a transient state a crash left behind (e.g. "removing")
            status = RUNNING if doc.get("Running") else (EXITED if doc.get("StartedAt", timefmt.ZERO)
                                                         != timefmt.ZERO else CREATED)
        return cls(status, int(doc.get("Pid") or 0), int(doc.get("ExitCode") or 0),
                   doc.get("Error") or "", doc.get("StartedAt") or timefmt.ZERO,
                   doc.get("FinishedAt") or timefmt.ZERO, bool(doc.get("OOMKilled")))


def refusal(action: str, state: ContainerState, cid: str, name: str = "") -> errors.KetchError:
    """Docker's answer to an operation the container's state does not allow."""
    status = state.status
    if status == REMOVED:  # removed while this operation waited for the container's lock
        return errors.no_such_container(cid)
    if status in (REMOVING, DEAD) and action in ("start", "remove"):
        if action == "remove" and status == REMOVING:
            return errors.Conflict(f"removal of container {cid[:12]} is already in progress")
        if action == "start":
            return errors.Conflict("container is marked for removal and cannot be started")
    if action == "start" and state.paused:
        return errors.Conflict("cannot start a paused container, try unpause instead")
    if action == "pause" and state.paused:
        return errors.Conflict(f"Container {cid} is already paused")
    if action == "pause" and state.restarting:
        return is_restarting(cid)
    if action == "unpause" and not state.paused:
        return errors.Conflict(f"Container {cid} is not paused")
    if action == "remove" and (state.alive or state.restarting):
        return errors.cannot_remove_running(name or cid, state.paused, state.restarting)
    if action in ("pause", "unpause", "stop", "exit") and not state.alive:
        return errors.Conflict(f"container {cid} is not running")
    return errors.Conflict(f"cannot {action.replace('_', ' ')} container {cid[:12]}: it is {status}")


def is_restarting(cid: str) -> errors.KetchError:
    """moby's errContainerIsRestarting (pause, exec, top of a restarting container)."""
    return errors.Conflict(f"Container {cid} is restarting, wait until the container is running")


class StateMachine:
    """Applies transitions to records, persists stable states, publishes one event each."""

    def __init__(self, bus: EventBus, save) -> None:
        self.bus = bus
        self._save = save  # save(record): the registry's persistence

    def can(self, rec, action: str) -> bool:
        return rec.state.status in TRANSITIONS[action].sources

    def apply(self, rec, action: str, **changes) -> ContainerState:
        """Move ``rec`` along ``action`` (raising Docker's refusal if not allowed), set the
        given fields, persist if the new state is stable, and publish the event."""
        t = TRANSITIONS[action]
        st = rec.state
        if st.status not in t.sources:
            raise refusal(action, st, rec.id, rec.name)
        for key, value in changes.items():
            setattr(st, key, value)
        target = st.shown if t.target is None else t.target
        st.status = target
        if target in STABLE:
            st.shown = target
        if target in STABLE:
            self._save(rec)
        attributes = None
        if t.event == "die":  # moby's handleContainerExit
            ran = timefmt.parse_ns(st.finished_at) - timefmt.parse_ns(st.started_at)
            attributes = {"exitCode": str(st.exit_code),
                          "execDuration": str(max(ran, 0) // 10**9)}
        self.bus.publish(container_event(rec, t.event or action, attributes, internal=t.event is None))
        return st

    def log(self, rec, action: str, attributes: dict[str, str] | None = None) -> None:
        """Docker's event for an operation that changes no state: kill, rename, attach,
        detach, resize, oom, restart, and for the exec, health, export and archive
        operations ("exec_create: sh", {"execID": ...}; "archive-path"; "export")."""
        self.bus.publish(container_event(rec, action, attributes))


def container_event(rec, action: str, attributes: dict[str, str] | None = None,
                    internal: bool = False) -> Event:
    """moby's LogContainerEventWithAttributes: the action's attributes, the container's
    labels over them, then its image and name over both."""
    attrs = dict(attributes or {})
    attrs.update(rec.config.get("Labels") or {})
    if rec.image:
        attrs["image"] = rec.image
    attrs["name"] = rec.name
    return Event("container", action, rec.id, attrs, internal=internal)
