"""Running containers: start, stop, kill, pause, the exit and its cleanup, and reconcile.

Every operation that changes what runs takes the container's lock (one
``asyncio.Lock`` per container) for its state change, and never holds it while
waiting for an exit: the exit's own handling takes the same lock. So, per container:

- a start never overlaps the previous run's cleanup (the exit's teardown holds the
  lock, and the exit becomes visible only when the teardown is done);
- a signal is sent only to a running container, once; a monitor whose connection is
  closed is exiting, and the caller waits for that exit instead of failing;
- a stop runs as a task of its own, so a client that goes away cannot leave a
  container half-stopped, and a second ``stop`` joins the first.

Start, in order (moby's ``daemon/start.go``): the bundle (``bundle.py``), a monitor from
the fork server, wait for "created", send "start", wait for "started". A failure
undoes what was done and leaves the container as it was, with the error recorded.
"""

import asyncio
import json
import logging
import os
import signal

from ketch import errors, signals, timefmt
from ketch.engine import logconfig
from ketch.engine.containers import state as S
from ketch.engine.containers.attach import Attachments
from ketch.engine.containers.bundle import Bundles, Paths
from ketch.engine.containers.locks import ContainerLocks
from ketch.engine.containers.records import ContainerRecord, Registry
from ketch.engine.containers.state import StateMachine
from ketch.engine.containers.waiters import Waiters
from ketch.engine import restart
from ketch.engine.monitors import MonitorHandle, MonitorLauncher
from ketch.engine.networks.sandbox import ContainerNetworking
from ketch.engine.runtimes import Runtimes
from ketch.monitor import protocol as proto
from ketch.monitor import runtimes as monitor_runtimes
from ketch.runtime import cgroups

log = logging.getLogger("ketchd.lifecycle")


def parse_signal(value: str | int | None, default: int) -> int:
    """A signal as Docker reads it (name or number); ``default`` when none is given."""
    if value in (None, ""):
        return default
    return signals.parse(str(value), bounded=True)


class Lifecycle:
    def __init__(self, registry: Registry, machine: StateMachine, bundles: Bundles,
                 launcher: MonitorLauncher, runtimes: Runtimes, waiters: Waiters,
                 networking: ContainerNetworking, locks: ContainerLocks) -> None:
        self.registry = registry
        self.machine = machine
        self.bundles = bundles
        self.paths: Paths = bundles.paths
        self.launcher = launcher
        self.runtimes = runtimes
        self.waiters = waiters
        self.networking = networking
        self.attachments = Attachments(self.handle_of)
        self._live: dict[str, MonitorHandle] = {}
        self.locks = locks
        self._stops: dict[str, asyncio.Task] = {}
        self._tasks: set[asyncio.Task] = set()  # exit handling in flight

    def lock(self, cid: str) -> asyncio.Lock:
        return self.locks.lock(cid)

    def handle_of(self, cid: str) -> MonitorHandle | None:
        return self._live.get(cid)

    def forget(self, cid: str) -> None:
        """The container is gone: drop what is kept for it."""
        self.locks.forget(cid)
        self.attachments.run_ended(cid)

    # -- start ------------------------------------------------------------------
    async def start(self, rec: ContainerRecord, policy: bool = False) -> bool:
        """Start ``rec``; False if it was already running (Docker answers 304: a
        restarting container counts as running). ``policy``: the restart policy's start
        at the end of a back-off, which keeps the restart count; a user's start resets
        it (moby's ResetRestartManager)."""
        async with self.lock(rec.id):
            if rec.state.alive:
                if rec.state.paused:
                    raise S.refusal("start", rec.state, rec.id)
                return False
            if policy != (rec.state.status == S.RESTARTING):
                return False  # a user's start of a restarting one; a canceled back-off
            self.machine.apply(rec, "start")
            if not policy:
                rec.backoff, rec.restart_count, rec.manually_stopped = restart.Backoff(), 0, False
            loop = asyncio.get_running_loop()
            loop.run_in_executor(None, cgroups.warm_attach)
            try:
                net = await self.networking.attach(rec)
                prepared = await asyncio.to_thread(self.bundles.prepare, rec, net)
                handle, pid, started_at = await self._launch(rec, prepared.exec_dir,
                                                             prepared.cgroups_path)
            except BaseException as exc:
                await asyncio.to_thread(self._teardown_quietly, rec.id)
                await self.networking.detach(rec.id)
                if isinstance(exc, errors.KetchError):
                    code = exc.exit_code if isinstance(exc, errors.ExecFailed) else 128
                    self.machine.apply(rec, "start_failed", exit_code=code, error=str(exc), pid=0)
                else:
                    self.machine.apply(rec, "start_failed")
                raise
            rec.cgroups_path = prepared.cgroups_path
            self._live[rec.id] = handle
            self.machine.apply(rec, "started", pid=pid, started_at=started_at, exit_code=0,
                               error="", oom_killed=False, finished_at=timefmt.ZERO)
            self.attachments.run_started(rec.id)
            handle.start_reading()
            return True

    async def _launch(self, rec: ContainerRecord, exec_dir: str,
                      cgroups_path: str) -> tuple[MonitorHandle, int, str]:
        cfg = rec.config
        log = logconfig.monitor_spec(rec.host_config.get("LogConfig"))
        log_path = self.paths.log_path(rec.id, log.driver)
        os.makedirs(os.path.dirname(log_path), exist_ok=True)  # local-logs/, made at start as moby's
        handle = await self.launcher.spawn(proto.MonitorRequest(
            id=rec.id, bundle=exec_dir, runtime_root=self.paths.runtime_root, state_dir=exec_dir,
            log_path=log_path, tty=bool(cfg.get("Tty")),
            stdin=bool(cfg.get("OpenStdin")),
            runtime=proto.RuntimeSpec.from_json(self.runtimes.spec(rec.runtime)),
            cgroups_path=cgroups_path, log=log))
        self._wire(rec.id, handle)
        try:
            event = await handle.next_event((proto.CREATED, proto.ERROR))
            if event.event == proto.ERROR:
                raise _start_error(event)
            pid = event.pid
            if pid <= 0:
                raise errors.Internal(f"the container's monitor reported an invalid pid {pid}")
            if not await handle.send_op(proto.Op(proto.START)):
                raise errors.Internal("the container's monitor exited during start")
            event = await handle.next_event((proto.STARTED, proto.ERROR))
            if event.event == proto.ERROR:
                raise _start_error(event)
        except (asyncio.IncompleteReadError, ConnectionError):
            handle.close()
            raise errors.Internal("the container's monitor exited during start") from None
        except BaseException:
            handle.close()  # the monitor deletes a container nobody will start
            raise
        return handle, pid, event.started_at

    def _wire(self, cid: str, handle: MonitorHandle) -> None:
        def on_output(raw: bytes, stream: int, payload: bytes):
            return self.attachments.output(cid, raw, stream, payload)  # a held queue: wait

        def on_event(event: proto.Event) -> None:
            if event.event == proto.EXITED:
                self.spawn(self._exited(cid, handle, event.exit_doc()))

        def on_close() -> None:
            self.spawn(self._monitor_lost(cid, handle))

        handle.on_output = on_output
        handle.on_event = on_event
        handle.on_close = on_close

    def spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- exit ---------------------------------------------------------------------
    async def _exited(self, cid: str, handle: MonitorHandle | None, doc: dict,
                      policy: bool = True) -> None:
        """The run is over: tear its bundle down, then make the exit visible ("die").
        ``policy``: its restart policy may restart it (not for an exit ``reconcile``
        finds: the daemon-start rule of engine/restart.py judges those, as moby's
        restore does)."""
        async with self.lock(cid):
            if self._live.get(cid) is not handle:
                return  # this run's exit was already handled
            self._live.pop(cid, None)
            if handle is not None:
                handle.close()
            rec = self.registry.find(cid)
            if rec is None or not rec.state.alive:
                return
            self.machine.apply(rec, "exit")
            await asyncio.to_thread(self._teardown_quietly, cid)
            await self.networking.detach(cid)
            self.attachments.run_ended(cid)
            if doc.get("oom_killed"):  # moby hears containerd's OOM event before the exit
                self.machine.log(rec, "oom")
            code = int(doc["exit_code"])
            delay = None if not policy else rec.backoff.should_restart(
                restart.RestartPolicy.of(rec.host_config), rec.restart_count, code,
                rec.manually_stopped, restart.ran_seconds(rec.state.started_at, doc["finished_at"]))
            if delay is not None:  # engine/restart.py hears the "die" and waits ``delay``
                rec.restart_count += 1
            self.machine.apply(rec, "exited" if delay is None else "restarting", exit_code=code,
                               pid=0, finished_at=doc["finished_at"],
                               oom_killed=bool(doc.get("oom_killed")))

    async def _monitor_lost(self, cid: str, handle: MonitorHandle | None) -> None:
        """The monitor's connection ended without an exit event: its exit file says how
        the container ended; without one the monitor died, and what it supervised is
        ended here so nothing is left running unsupervised."""
        if self._live.get(cid) is not handle:
            return
        doc, _ = await asyncio.to_thread(self._read_exit_or_end, cid)
        await self._exited(cid, handle, doc)

    def _read_exit_or_end(self, cid: str) -> tuple[dict, bool]:
        """The run's exit file and True; or, without one, end the run's processes and
        runtime state and return exit code 255 (moby's code for a lost container), False."""
        try:
            with open(self.paths.exit_file(cid)) as f:
                return json.load(f), True
        except (OSError, ValueError):
            pass
        rec = self.registry.find(cid)
        if rec is not None:
            self._force_delete(rec)
        return {"exit_code": 255, "finished_at": timefmt.now(), "oom_killed": False}, False

    def _force_delete(self, rec: ContainerRecord) -> None:
        spec = proto.RuntimeSpec.from_json(self.runtimes.spec(rec.runtime))
        try:
            monitor_runtimes.force_delete(spec, self.paths.runtime_root, rec.id,
                                          self.paths.exec_dir(rec.id))
            if rec.cgroups_path:  # also when the runtime's state was already gone
                cgroups.manager(rec.cgroups_path).destroy()
        except (errors.KetchError, OSError) as exc:
            log.warning("cannot end the processes of %s: %s", rec.id, exc)

    def _teardown_quietly(self, cid: str) -> None:
        try:
            self.bundles.teardown(cid)
        except (errors.KetchError, OSError) as exc:
            log.error("cannot remove the bundle of %s: %s", cid, exc)

    # -- signals ------------------------------------------------------------------
    async def kill(self, rec: ContainerRecord, sig: int) -> None:
        async with self.lock(rec.id):
            if rec.state.status == S.RESTARTING:
                self._killed_restarting(rec, sig)
                return
            if not rec.state.alive:
                raise errors.Conflict(f"container {rec.id} is not running")
            await self._signal(rec, sig)

    def _manual_kill(self, rec: ContainerRecord, sig: int) -> None:
        """moby's killWithSignal: a user's signal marks the container stopped by hand
        (unless-stopped), and the stop signal or SIGKILL ends its restarts."""
        if restart.cancels(parse_signal(rec.config.get("StopSignal"), None), sig):
            rec.backoff.cancel()
        if not rec.manually_stopped:
            rec.manually_stopped = True
            self.registry.save(rec)

    def _killed_restarting(self, rec: ContainerRecord, sig: int) -> bool:
        """A signal for a container in its back-off: no process to send it to; the
        restart ends if the signal cancels it (caller holds the lock). True if it ended."""
        self._manual_kill(rec, sig)
        if rec.backoff.canceled:
            self.machine.apply(rec, "restart_canceled")
        return rec.backoff.canceled

    async def _signal(self, rec: ContainerRecord, sig: int) -> None:
        """Send ``sig`` once (caller holds the lock). A monitor that has closed is exiting."""
        self._manual_kill(rec, sig)
        handle = self._live.get(rec.id)
        if handle is None:
            # Alive with no monitor to ask: end it through what the runtime knows.
            self.spawn(self._monitor_lost(rec.id, None))
            return
        if not await handle.signal(sig):
            return
        self.machine.log(rec, "kill", {"signal": str(sig)})
        if rec.state.paused and _thaws(rec, sig):
            # A frozen process cannot take a signal: thaw it, as moby does for SIGKILL and
            # for the stop signal (any signal when the container names none).
            try:
                await handle.call(proto.Op(proto.RESUME))
            except errors.KetchError:
                return  # it is exiting already
            if rec.state.status == S.STOPPING:
                self.machine.apply(rec, "thawed", shown=S.RUNNING)
            else:
                self.machine.apply(rec, "unpause")

    async def kill_and_wait(self, rec: ContainerRecord) -> None:
        """``rm -f``: SIGKILL once, then wait until the exit is visible. Decided under the
        lock, so a start in progress finishes first and its container is killed too."""
        async with self.lock(rec.id):
            if rec.state.status == S.RESTARTING:
                self._killed_restarting(rec, signal.SIGKILL)
            if not rec.state.alive:
                return
            done = self.waiters.register(rec, "not-running")
            await self._signal(rec, signal.SIGKILL)
        await done

    # -- stop -----------------------------------------------------------------------
    async def stop(self, rec: ContainerRecord, timeout: int | None, sig: int | None = None) -> bool:
        """Docker's stop: the stop signal, then SIGKILL after ``timeout`` seconds (-1: never).
        False if the container was not running."""
        async with self.lock(rec.id):
            task = self._stops.get(rec.id)
            if task is None and rec.state.status == S.RESTARTING:
                # moby cancels the back-off whatever the signal (its SIGKILL would)
                self._killed_restarting(rec, signal.SIGKILL)
                self.machine.log(rec, "stop")
                return True
            if task is None:
                if not rec.state.alive:
                    return False
                if timeout is None:
                    timeout = rec.config.get("StopTimeout")
                    timeout = 10 if timeout is None else int(timeout)
                first = sig or parse_signal(rec.config.get("StopSignal"), signal.SIGTERM)
                if rec.state.status != S.STOPPING:
                    self.machine.apply(rec, "stop")
                done = self.waiters.register(rec, "not-running")
                if timeout != 0:
                    await self._signal(rec, first)
                task = asyncio.get_running_loop().create_task(self._escalate(rec, timeout, done))
                self._stops[rec.id] = task
                task.add_done_callback(lambda _t, cid=rec.id: self._stops.pop(cid, None))
        await asyncio.shield(task)
        return True

    async def _escalate(self, rec: ContainerRecord, timeout: int, done: asyncio.Future) -> None:
        if timeout >= 0:
            try:
                await asyncio.wait_for(asyncio.shield(done), timeout)
            except asyncio.TimeoutError:
                async with self.lock(rec.id):
                    if rec.state.alive:
                        await self._signal(rec, signal.SIGKILL)
        await done
        self.machine.log(rec, "stop")  # moby's, once the container is down, however it went

    # -- pause ----------------------------------------------------------------------
    async def pause(self, rec: ContainerRecord) -> None:
        """Freeze the container's processes through its runtime (runc pause)."""
        await self._freeze(rec, "pause", proto.PAUSE)

    async def unpause(self, rec: ContainerRecord) -> None:
        await self._freeze(rec, "unpause", proto.RESUME)

    async def _freeze(self, rec: ContainerRecord, action: str, op: str) -> None:
        async with self.lock(rec.id):
            handle = self._live.get(rec.id)
            if not self.machine.can(rec, action) or handle is None:
                raise S.refusal(action, rec.state, rec.id)
            await handle.call(proto.Op(op))
            self.machine.apply(rec, action)

    # -- daemon restart ---------------------------------------------------------------
    async def reconcile(self, rec: ContainerRecord) -> None:
        """After a ketchd restart, make the record agree with what really runs: adopt a
        live monitor (whatever the record says), record an exit that happened while
        ketchd was down, end what a crash left half-made."""
        exec_dir = self.paths.exec_dir(rec.id)
        if not os.path.isdir(exec_dir):
            if rec.state.alive:  # running, yet nothing of its run exists
                await self._recover_then_exit(rec)
            return
        found = await self.launcher.reconnect(exec_dir)
        if found is not None:
            handle, status = found
            if status.state in ("running", "created"):
                await self._adopt(rec, handle, status)
                return
            handle.close()  # exited: its exit file is written
        await self._recover_then_exit(rec)

    async def _adopt(self, rec: ContainerRecord, handle: MonitorHandle, status: proto.Event) -> None:
        if status.state == "created":  # started by nobody, and its creator is gone
            handle.close()
            await self._recover_then_exit(rec)
            return
        async with self.lock(rec.id):
            action = "recovered_paused" if status.paused else "recovered"
            if rec.state.status != (S.PAUSED if status.paused else S.RUNNING):
                self.machine.apply(rec, action, pid=status.pid or rec.state.pid)
            self._live[rec.id] = handle
            self._wire(rec.id, handle)
            self.attachments.run_started(rec.id)
            await asyncio.to_thread(self.bundles.restore, rec)  # its volumes count as mounted
            # its ports and names again, before an exit can be read and undo them
            await self.networking.restore(rec)
            handle.start_reading()

    async def _recover_then_exit(self, rec: ContainerRecord) -> None:
        """No monitor: record the run's end from its exit file (or end what is left of
        it), and clear its bundle."""
        doc, from_file = await asyncio.to_thread(self._read_exit_or_end, rec.id)
        async with self.lock(rec.id):
            if not rec.state.alive and from_file and _ran_after(doc, rec):
                self.machine.apply(rec, "recovered")  # a run its record never heard of
        if rec.state.alive:
            await self._exited(rec.id, None, doc, policy=False)
        else:
            await asyncio.to_thread(self._teardown_quietly, rec.id)
            await self.networking.detach(rec.id)


def _thaws(rec: ContainerRecord, sig: int) -> bool:
    """moby's killWithSignal: which signals unpause a paused container to be delivered."""
    stop_signal = rec.config.get("StopSignal")
    return sig == signal.SIGKILL or not stop_signal or \
        parse_signal(stop_signal, signal.SIGTERM) == sig


def _ran_after(doc: dict, rec: ContainerRecord) -> bool:
    """An exit file newer than what the record knows: a run it never heard of."""
    return timefmt.parse_ns(doc.get("finished_at", "")) > timefmt.parse_ns(rec.state.finished_at)


# What moby 26's libcontainerd and containerd's shim put before the runtime's own error.
TASK_PREFIX = "failed to create task for container: failed to create shim task: "


def _start_error(event: proto.Event) -> errors.KetchError:
    code = event.exit_code or 125
    message = event.message
    if message.startswith("OCI runtime"):
        message = TASK_PREFIX + message
    if code in (126, 127):
        return errors.ExecFailed(message, code)
    return errors.InvalidArgument(message)
