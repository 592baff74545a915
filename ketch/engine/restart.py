"""Restart policies (``--restart no|on-failure[:N]|always|unless-stopped``), as moby 26 has them.

Two halves:

- pure rules (``RestartPolicy``, ``Backoff``, ``should_start_on_boot``, ``cancels``): moby's
  ``restartmanager`` and the checks around it, given exit codes and durations, no clock;
- ``Restarts``: the timers. It hears the bus: a "die" that left its container
  ``restarting`` arms a timer for the back-off the exit chose; when it fires, the
  container is started again (Docker's events: "die", then "start"; no "restart").
  ``stop``/``kill``/``rm -f`` end the back-off through the state machine
  (``restart_canceled``), which ends the timer too.

What outlives ketchd is in the record: the policy (HostConfig), ``restart_count`` and
``manually_stopped`` (moby's HasBeenManuallyStopped), and the ``restarting`` state itself.
The back-off delay is not kept (moby's is not either): on daemon start, ``boot`` applies
moby's restore rule to every container that is not running, as dockerd does.
"""

import asyncio
import logging
import signal
from dataclasses import dataclass
from typing import Protocol

from ketch import errors, timefmt
from ketch.engine.containers import state as S
from ketch.engine.events import Event, EventBus

log = logging.getLogger("ketchd.restart")

FIRST_DELAY = 0.1  # seconds; doubled after each quick exit
MAX_DELAY = 60.0
RESET_AFTER = 10.0  # a run this long starts the back-off over

NONE, ALWAYS, ON_FAILURE, UNLESS_STOPPED = "no", "always", "on-failure", "unless-stopped"


@dataclass(frozen=True)
class RestartPolicy:
    name: str = ""  # "" is what clients before moby 25 sent for "no"
    maximum_retry_count: int = 0

    @classmethod
    def of(cls, host_config: dict) -> "RestartPolicy":
        doc = host_config.get("RestartPolicy") or {}
        return cls(str(doc.get("Name") or ""), int(doc.get("MaximumRetryCount") or 0))

    def to_docker(self) -> dict:
        """As moby stores it: an empty name is "no" (daemon/create.go)."""
        return {"Name": self.name or NONE, "MaximumRetryCount": self.maximum_retry_count}

    @property
    def none(self) -> bool:
        return self.name in ("", NONE)

    def validate(self) -> None:
        """moby's ``container.ValidateRestartPolicy``, word for word."""
        if self.name in (ALWAYS, UNLESS_STOPPED, NONE):
            if self.maximum_retry_count:
                msg = "invalid restart policy: maximum retry count can only be used with 'on-failure'"
                if self.maximum_retry_count < 0:
                    msg += " and cannot be negative"
                raise errors.InvalidArgument(msg)
        elif self.name == ON_FAILURE:
            if self.maximum_retry_count < 0:
                raise errors.InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
        elif self.name:
            raise errors.InvalidArgument(
                f"invalid restart policy: unknown policy '{self.name}'; use one of "
                f"'{NONE}', '{ALWAYS}', '{ON_FAILURE}', or '{UNLESS_STOPPED}'")


def validate_create(host_config: dict) -> None:
    """moby's validateHostConfig: --rm and a restart policy exclude each other."""
    policy = RestartPolicy.of(host_config)
    if host_config.get("AutoRemove") and not policy.none:
        raise errors.InvalidArgument("can't create 'AutoRemove' container with restart policy")
    policy.validate()


class Backoff:
    """moby's restartManager without its timer: one per container run of restarts,
    replaced on a manual start, canceled by a stop, kill or removal."""

    __slots__ = ("delay", "canceled")

    def __init__(self) -> None:
        self.delay = 0.0
        self.canceled = False

    def should_restart(self, policy: RestartPolicy, restart_count: int, exit_code: int,
                       manually_stopped: bool, ran: float) -> float | None:
        """The delay before the next start, or None for no restart. The delay moves
        (doubles, or starts over after a run of ``RESET_AFTER`` s) whatever the answer."""
        if policy.none or self.canceled:
            return None
        if ran >= RESET_AFTER:
            self.delay = 0.0
        self.delay = FIRST_DELAY if self.delay == 0 else min(self.delay * 2, MAX_DELAY)
        if policy.name == ALWAYS:
            restart = True
        elif policy.name == UNLESS_STOPPED:
            restart = not manually_stopped
        elif policy.name == ON_FAILURE:
            limit = policy.maximum_retry_count
            restart = exit_code != 0 and (limit == 0 or restart_count < limit)
        else:
            restart = False
        return self.delay if restart else None

    def cancel(self) -> None:
        self.canceled = True


def cancels(stop_signal: int | None, sig: int) -> bool:
    """moby's killWithSignal: which signals end the restarts (ExitOnNext): SIGKILL, the
    container's stop signal, or any signal when the container names none."""
    return stop_signal is None or sig == signal.SIGKILL or sig == stop_signal


def ran_seconds(started_at: str, finished_at: str) -> float:
    return max(timefmt.parse_ns(finished_at) - timefmt.parse_ns(started_at), 0) / 1e9


def should_start_on_boot(policy: RestartPolicy, restart_count: int, exit_code: int,
                         manually_stopped: bool, started_before: bool, ran: float) -> bool:
    """moby's daemon.restore: a container that is not running is started if it ever was
    and its policy (with a fresh back-off) would restart it now. So ``always`` comes
    back even after a user's stop, ``unless-stopped`` only if the user did not stop it,
    ``on-failure`` if its last exit code was not 0 and retries are left."""
    if not started_before:
        return False
    return Backoff().should_restart(policy, restart_count, exit_code, manually_stopped, ran) is not None


class Lifecycle(Protocol):
    """What this module needs of ``containers.lifecycle.Lifecycle``."""
    registry: "Registry"
    machine: S.StateMachine

    async def start(self, rec, policy: bool = False) -> bool: ...

    def lock(self, cid: str) -> asyncio.Lock: ...


class Registry(Protocol):
    def find(self, ref: str): ...


class Restarts:
    """The back-off timers, armed by "die" into ``restarting`` and ended by a start,
    a ``restart_canceled`` or the container's removal."""

    def __init__(self, lifecycle: Lifecycle, bus: EventBus) -> None:
        self.lifecycle = lifecycle
        self.machine = lifecycle.machine
        self._timers: dict[str, asyncio.Task] = {}
        bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.type != "container":
            return
        if event.action == "die":
            rec = self.lifecycle.registry.find(event.actor_id)
            if rec is not None and rec.state.status == S.RESTARTING:
                self._arm(rec, rec.backoff.delay)
        elif event.action in ("restart_canceled", "destroy"):
            task = self._timers.pop(event.actor_id, None)
            if task is not None:
                task.cancel()

    def _arm(self, rec, delay: float) -> None:
        old = self._timers.pop(rec.id, None)
        if old is not None:
            old.cancel()
        task = asyncio.get_running_loop().create_task(self._restart_after(rec, delay))
        self._timers[rec.id] = task
        task.add_done_callback(lambda t, cid=rec.id: self._timers.pop(cid, None)
                               if self._timers.get(cid) is t else None)

    async def _restart_after(self, rec, delay: float) -> None:
        await asyncio.sleep(delay)
        if rec.state.status != S.RESTARTING:
            return
        try:
            await self.lifecycle.start(rec, policy=True)
        except errors.KetchError as exc:  # moby: the container stays stopped, with the error
            log.warning("cannot restart container %s: %s", rec.id, exc)
            async with self.lifecycle.lock(rec.id):
                if rec.state.status == S.RESTARTING:
                    self.machine.apply(rec, "restart_canceled")

    def pending(self, cid: str) -> bool:
        return cid in self._timers

    async def boot(self, records) -> None:
        """After ketchd's start (and ``reconcile``): moby's restore rule for every
        container that is not running. A back-off a crash interrupted is over: its
        container is stopped first, then judged like the others."""
        for rec in records:
            if rec.state.status == S.RESTARTING and not self.pending(rec.id):
                async with self.lifecycle.lock(rec.id):
                    if rec.state.status == S.RESTARTING:
                        self.machine.apply(rec, "restart_canceled")
            st = rec.state
            if st.status != S.EXITED:
                continue
            if should_start_on_boot(RestartPolicy.of(rec.host_config), rec.restart_count,
                                    st.exit_code, rec.manually_stopped,
                                    st.started_at != timefmt.ZERO,
                                    ran_seconds(st.started_at, st.finished_at)):
                try:
                    await self.lifecycle.start(rec)
                except errors.KetchError as exc:
                    log.error("failed to start container %s: %s", rec.id, exc)

    def close(self) -> None:
        """ketchd is stopping: the timers end, the ``restarting`` states stay (``boot``
        picks them up at the next start)."""
        for task in list(self._timers.values()):
            task.cancel()
        self._timers.clear()
