"""Healthchecks: one probe loop per running container that has a healthcheck.

The loop is driven by the container's events, as moby drives its health monitor from
start, pause, unpause and exit (``daemon/health.go``)::

    start, recovered       -> Health starts over (starting, streak 0, log kept), loop runs
    unpause                -> the loop runs again (the status is left as it was)
    pause, exit, destroy   -> the loop stops; a stopped loop leaves the status unhealthy

Each probe is an exec in the container (``ExecService.run_captured``: the same process,
events and exit code as ``docker exec``); the decisions are the pure ones of
``containers/health.py``. A status change is published as ``health_status: <status>``
and saved with the record.
"""

import asyncio
import logging
import time

from ketch import errors, timefmt
from ketch.engine.containers import state as S
from ketch.engine.containers.exec import ExecService
from ketch.engine.containers.health import (MAX_OUTPUT, Health, HealthConfig, Result,
                                            output_text, timeout_output)
from ketch.engine.containers.records import ContainerRecord, Registry
from ketch.engine.containers.state import StateMachine
from ketch.engine.events import Event

log = logging.getLogger("ketchd.health")

_RESTART = frozenset({"start", "recovered"})
_STOP = frozenset({"pause", "exit", "die", "destroy"})


class HealthMonitor:
    def __init__(self, registry: Registry, machine: StateMachine, execs: ExecService) -> None:
        self.registry = registry
        self.machine = machine
        self.execs = execs
        self._loops: dict[str, asyncio.Task] = {}
        machine.bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.type != "container" or event.action not in _RESTART | _STOP | {"unpause"}:
            return
        rec = self.registry.find(event.actor_id) if event.action != "destroy" else None
        if event.action in _STOP or rec is None:
            self._stop(event.actor_id, rec)
            return
        cfg = HealthConfig.from_docker(rec.config.get("Healthcheck"))
        if cfg is None:
            return
        if event.action in _RESTART:
            self._stop(rec.id, None)  # moby: in case of an auto-restart
            rec.health = rec.health.restarted() if rec.health is not None else Health()
        elif rec.health is None:
            rec.health = Health()
        if rec.state.status == S.RUNNING and rec.id not in self._loops:
            task = asyncio.get_running_loop().create_task(self._run(rec, cfg))
            self._loops[rec.id] = task

    def _stop(self, cid: str, rec: ContainerRecord | None) -> None:
        task = self._loops.pop(cid, None)
        if task is None:
            return
        task.cancel()
        if rec is not None and rec.health is not None:
            rec.health = rec.health.stopped()
            self._save(rec)  # a pause saved the record before this event

    def _save(self, rec: ContainerRecord) -> None:
        if self.registry.by_id.get(rec.id) is rec:  # never brings back a removed record
            self.registry.save(rec)

    async def _run(self, rec: ContainerRecord, cfg: HealthConfig) -> None:
        started = timefmt.parse_ns(rec.state.started_at)
        try:
            while True:
                health = rec.health or Health()
                await asyncio.sleep(cfg.next_delay(health.status, time.time_ns() - started) / 1e9)
                result = await self._probe(rec, cfg)
                if self._loops.get(rec.id) is not asyncio.current_task():
                    return  # stopped while the probe ran: its result is not taken (moby)
                in_start_period = timefmt.parse_ns(result.start) - started < cfg.start_period
                self._record(rec, (rec.health or Health()).recorded(result, cfg, in_start_period))
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a broken loop must not go unnoticed, nor kill ketchd
            log.exception("health monitor of %s failed", rec.id[:12])
            if self._loops.get(rec.id) is asyncio.current_task():
                del self._loops[rec.id]

    async def _probe(self, rec: ContainerRecord, cfg: HealthConfig) -> Result:
        start = time.time_ns()
        argv = cfg.command(rec.config.get("Shell"))
        try:
            if not argv:
                raise errors.InvalidArgument(f"healthcheck for container {rec.id} has no command")
            run = await self.execs.run_captured(rec.id, argv, cfg.probe_timeout / 1e9, MAX_OUTPUT)
        except errors.KetchError as exc:  # moby: the probe's error is its output, exit -1
            return Result(_stamp(start), _stamp(time.time_ns()), -1, str(exc))
        output = output_text(run.output, run.truncated)
        if run.timed_out:
            return Result(_stamp(start), _stamp(time.time_ns()), -1,
                          timeout_output(cfg.probe_timeout, output))
        return Result(_stamp(start), _stamp(time.time_ns()), run.exit_code, output)

    def _record(self, rec: ContainerRecord, health: Health) -> None:
        before = rec.health.status if rec.health is not None else None
        rec.health = health
        if health.status != before:
            self._save(rec)
            self.machine.log(rec, f"health_status: {health.status}")


def _stamp(ns: int) -> str:
    return timefmt.format_ns_trimmed(ns)
