"""Exec sessions: ``docker exec``'s create, start, resize and inspect (moby's ``daemon/exec.go``).

An exec is created against a running container (its config is fixed then: command,
env, user, working directory, privileges) and started once. Starting it asks the fork
server for an exec supervisor (``monitor/execsession.py``) with the complete OCI
process to run: the container's own process from its ``config.json`` (capabilities,
rlimits, no_new_privs, ...) with the exec's command, environment, user, directory and
terminal, and every capability for ``--privileged`` (as moby, the container's seccomp
filter stays: runc applies it to every process of the container). The supervisor's
frames come back on a ``MonitorHandle``: output goes to the attached client's queue,
``exited`` records the exit code, whether or not a client is still there.

Records live in memory, per container, and go when the container stops or is
removed (moby unregisters a container's execs in its cleanup).

``run_captured`` is the daemon's own exec (a health probe, moby's ``cmdProbe``): created
and started exactly as ``docker exec`` is, with the same events, its stdout and stderr
kept together up to a limit, killed when it runs past its timeout, and forgotten
once it has ended.
"""

import asyncio
import base64
import json
import os
import secrets
import signal
from dataclasses import dataclass

from ketch import detachkeys, errors
from ketch.engine import security, users
from ketch.engine.containers import state as S
from ketch.engine.containers.attach import OutputQueue
from ketch.engine.containers.records import ContainerRecord, Registry
from ketch.engine.events import Event, EventBus
from ketch.engine.monitors import MonitorHandle, MonitorLauncher
from ketch.engine.specgen import DEFAULT_PATH_ENV, replace_or_append_env
from ketch.monitor import protocol as proto
from ketch.runtime import cgroups

OCI_FAILED = "OCI runtime exec failed: exec failed: unable to start container process: {}: unknown"
RESIZE_START_TIMEOUT = 10.0  # moby's ContainerExecResize waits this long for the start


class ExecRecord:
    """One exec instance (moby's ``container.ExecConfig``)."""

    def __init__(self, eid: str, container: ContainerRecord, body: dict, env: list[str],
                 keys: bytes) -> None:
        cmd = list(body["Cmd"])
        self.id = eid
        self.container = container
        self.entrypoint, self.args = cmd[0], cmd[1:]
        self.tty = bool(body.get("Tty"))
        self.open_stdin = bool(body.get("AttachStdin"))
        self.open_stdout = bool(body.get("AttachStdout"))
        self.open_stderr = bool(body.get("AttachStderr"))
        self.privileged = bool(body.get("Privileged"))
        self.user = body.get("User") or container.config.get("User") or ""
        self.working_dir = body.get("WorkingDir") or container.config.get("WorkingDir") or ""
        self.console_size = body.get("ConsoleSize")
        self.env = env
        self.detach_keys = keys
        self.running = False
        self.exit_code: int | None = None
        self.pid = 0
        self.can_remove = False
        self.handle: MonitorHandle | None = None
        self.sink: OutputQueue | None = None
        self.ended = asyncio.Event()
        self.started = asyncio.Event()  # the process runs (or its start failed): moby's ec.Started

    @property
    def command(self) -> str:
        """As moby's exec events name it: ``true `` (a space, then no args) for ``exec c true``."""
        return f"{self.entrypoint} {' '.join(self.args)}"

    def to_docker(self) -> dict:
        """GET /exec/{id}/json (moby's ContainerExecInspect)."""
        process = {"tty": self.tty, "entrypoint": self.entrypoint, "arguments": self.args,
                   "privileged": self.privileged}
        if self.user:
            process["user"] = self.user
        return {"ID": self.id, "Running": self.running, "ExitCode": self.exit_code,
                "ProcessConfig": process, "OpenStdin": self.open_stdin,
                "OpenStderr": self.open_stderr, "OpenStdout": self.open_stdout,
                "CanRemove": self.can_remove, "ContainerID": self.container.id,
                "DetachKeys": base64.b64encode(self.detach_keys).decode(), "Pid": self.pid}


class Capture:
    """Output kept up to ``limit`` bytes, stdout and stderr interleaved (moby's limitedBuffer)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    def put(self, raw: bytes, stream: int, payload: bytes) -> None:
        room = self.limit - len(self.data)
        if room > 0:
            self.data += payload[:room]
        if len(payload) > room:
            self.truncated = True

    def offer(self, raw: bytes, stream: int, payload: bytes) -> None:
        self.put(raw, stream, payload)  # bounded by dropping: the process never waits

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class CapturedRun:
    """How a ``run_captured`` exec ended: its exit code (the kill's when it timed out)."""

    exit_code: int
    output: bytes
    truncated: bool
    timed_out: bool


def exec_env(container_env: list[str], hostname: str, tty: bool, env: list[str]) -> list[str]:
    """moby: ReplaceOrAppendEnvValues(CreateDaemonEnvironment(tty, links), exec Env), where the
    daemon environment is PATH, HOSTNAME, TERM for a terminal, then the container's Env."""
    base = [DEFAULT_PATH_ENV, f"HOSTNAME={hostname}"] + (["TERM=xterm"] if tty else [])
    return replace_or_append_env(replace_or_append_env(base, container_env), env)


def exec_process(base: dict, rec: ExecRecord, user: users.ExecUser | None,
                 all_caps: list[str]) -> dict:
    """The OCI process of an exec: the container's own ``base`` with the exec's changes."""
    proc = dict(base)
    proc["args"] = [rec.entrypoint, *rec.args]
    proc["env"] = list(rec.env)
    proc["terminal"] = rec.tty
    proc.pop("consoleSize", None)
    if rec.tty and rec.console_size and any(rec.console_size):
        proc["consoleSize"] = {"height": int(rec.console_size[0]), "width": int(rec.console_size[1])}
    if rec.working_dir:
        proc["cwd"] = rec.working_dir
    if user is not None:
        proc["user"] = {"uid": user.uid, "gid": user.gid,
                        **({"additionalGids": list(user.additional_gids)} if user.additional_gids else {})}
    if rec.privileged:
        proc["capabilities"] = {kind: list(all_caps) for kind in
                                ("bounding", "effective", "permitted", "inheritable")}
    return proc


class ExecService:
    def __init__(self, registry: Registry, launcher: MonitorLauncher, bus: EventBus, paths,
                 runtimes) -> None:
        self.registry = registry
        self.launcher = launcher
        self.bus = bus
        self.paths = paths
        self.runtimes = runtimes
        self._execs: dict[str, ExecRecord] = {}
        self._of_container: dict[str, set[str]] = {}  # container id -> its exec ids
        bus.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.type == "container" and event.action in ("die", "destroy"):
            for eid in self._of_container.pop(event.actor_id, ()):
                self._execs.pop(eid, None)

    def _publish(self, rec: ExecRecord, action: str, extra: dict | None = None) -> None:
        c = rec.container
        attributes = {**(c.config.get("Labels") or {}), "execID": rec.id, "image": c.image,
                      "name": c.name, **(extra or {})}
        self.bus.publish(Event("container", action, c.id, attributes))

    @staticmethod
    def _active(c: ContainerRecord, shown: str) -> None:
        """moby's getActiveContainer: running and not paused. The paused error names the
        container as the client did (create) or by id (start), as moby's errExecPaused."""
        if not c.running:
            raise errors.Conflict(f"container {c.id} is not running")
        if c.state.paused:
            raise errors.Conflict(f"Container {shown} is paused, unpause the container before exec")
        if c.state.restarting:
            raise S.is_restarting(c.id)

    # -- create -------------------------------------------------------------------
    def create(self, ref: str, body: dict) -> str:
        c = self.registry.get(ref)
        self._active(c, ref)
        if body.get("User"):  # looked up now, for an early error
            self._user(c, body["User"])
        keys = b""
        if body.get("DetachKeys"):
            try:
                keys = detachkeys.parse(body["DetachKeys"])
            except errors.InvalidArgument:
                raise errors.InvalidArgument(
                    f"Invalid escape keys ({body['DetachKeys']}) provided") from None
        env = exec_env(c.config.get("Env") or [], c.config.get("Hostname") or c.id[:12],
                       bool(body.get("Tty")), list(body.get("Env") or []))
        rec = ExecRecord(secrets.token_hex(32), c, body, env, keys)
        self._execs[rec.id] = rec
        self._of_container.setdefault(c.id, set()).add(rec.id)
        self._publish(rec, f"exec_create: {rec.command}")
        return rec.id

    def _user(self, c: ContainerRecord, spec: str) -> users.ExecUser:
        try:
            return users.resolve(self.paths.bundle_rootfs(c.id), spec,
                                 c.host_config.get("GroupAdd") or [])
        except errors.KetchError as exc:
            raise errors.InvalidArgument(str(exc)) from None

    def _forget(self, rec: ExecRecord) -> None:
        self._execs.pop(rec.id, None)
        self._of_container.get(rec.container.id, set()).discard(rec.id)

    def get(self, eid: str) -> ExecRecord:
        rec = self._execs.get(eid)
        if rec is None:
            raise errors.NotFound(f"No such exec instance: {eid}")
        return rec

    def _startable(self, eid: str) -> ExecRecord:
        """moby's getExecConfig: the exec, in a container that can run it."""
        rec = self.get(eid)
        c = rec.container
        if c.id not in self.registry.by_id:
            raise errors.no_such_container(c.id)
        self._active(c, c.id)
        return rec

    # -- start --------------------------------------------------------------------
    async def start(self, eid: str, attached: bool,
                    console_size: list[int] | None = None) -> ExecRecord:
        """Start the exec; with ``attached``, its output goes to ``rec.sink``. Errors from
        the runtime (a missing command) are recorded (exit code 126/127) and raised.
        ``console_size`` (the start's, over the create's) is the terminal's from the first
        instruction: a resize after the start would race a command that reads it."""
        rec = self._startable(eid)
        if rec.exit_code is not None:
            raise errors.Conflict(f"Error: Exec command {rec.id} has already run")
        if rec.running:
            raise errors.Conflict(f"Error: Exec command {rec.id} is already running")
        rec.running = True
        if console_size is not None:
            rec.console_size = console_size
        self._publish(rec, f"exec_start: {rec.command}")
        if attached:
            rec.sink = OutputQueue(rec.open_stdout, rec.open_stderr)
        try:
            await self._launch(rec)
        except BaseException as exc:
            rec.started.set()
            rec.running = False
            rec.exit_code = exc.exit_code if isinstance(exc, errors.ExecFailed) else 126
            rec.can_remove = True  # kept: the client asks for the exit code (126/127) next
            if rec.sink is not None:
                rec.sink.close()
            rec.ended.set()
            raise
        return rec

    async def _launch(self, rec: ExecRecord) -> None:
        c = rec.container
        # The supervisor's first cgroup.procs write may wait for an RCU grace period on a
        # quiet host: take that wait now, beside the work below (as the lifecycle's start).
        asyncio.get_running_loop().run_in_executor(None, cgroups.warm_attach)
        base, user = await asyncio.to_thread(self._base_process, c, rec)
        process = exec_process(base, rec, user, security.all_capabilities())
        handle = await self.launcher.spawn(proto.ExecRequest(
            exec_id=rec.id, container_id=c.id, runtime_root=self.paths.runtime_root,
            state_dir=self.paths.exec_dir(c.id), process=process, stdin=rec.open_stdin,
            runtime=proto.RuntimeSpec.from_json(self.runtimes.spec(c.runtime))))
        rec.handle = handle
        handle.on_output = lambda raw, stream, payload: rec.sink and rec.sink.offer(raw, stream, payload)
        try:
            event = await handle.next_event((proto.CREATED, proto.ERROR))
        except (asyncio.IncompleteReadError, ConnectionError):
            handle.close()
            raise errors.Internal("the exec supervisor ended before the process started") from None
        if event.event == proto.ERROR:
            handle.close()
            message = OCI_FAILED.format(event.message)
            if event.exit_code in (126, 127):
                raise errors.ExecFailed(message, event.exit_code)
            raise errors.Internal(message)
        rec.pid = event.pid
        handle.on_event = lambda ev: self._on_exec_event(rec, ev)
        handle.on_close = lambda: self._ended(rec, None)
        handle.start_reading()
        rec.started.set()

    def _base_process(self, c: ContainerRecord, rec: ExecRecord) -> tuple[dict, users.ExecUser | None]:
        with open(os.path.join(self.paths.exec_dir(c.id), "config.json"), "rb") as f:
            base = json.load(f)["process"]
        user = self._user(c, rec.user) if rec.user else None
        return base, user

    def _on_exec_event(self, rec: ExecRecord, event: proto.Event) -> None:
        if event.event == proto.EXITED:
            self._ended(rec, event.exit_code)

    def _ended(self, rec: ExecRecord, exit_code: int | None) -> None:
        if rec.ended.is_set():
            return
        rec.running = False
        rec.exit_code = exit_code if exit_code is not None else 126
        rec.can_remove = True
        if rec.sink is not None:
            rec.sink.close()
        if rec.handle is not None:
            rec.handle.close()
        rec.ended.set()
        self._publish(rec, "exec_die", {"exitCode": str(rec.exit_code)})

    def detach(self, rec: ExecRecord) -> None:
        """The attached client is gone: the process's output is dropped from now on."""
        if rec.sink is not None:
            rec.sink.close()
            rec.sink = None
    # -- the daemon's own execs ------------------------------------------------------
    async def run_captured(self, ref: str, cmd: list[str], timeout: float,
                           limit: int) -> CapturedRun:
        """Run ``cmd`` in the container as an unattached exec with the container's user
        and working directory; ``timeout`` seconds after it started it is killed. Errors
        before it runs (not running, a missing command) are raised as ``start`` raises them."""
        eid = self.create(ref, {"Cmd": cmd, "AttachStdout": True, "AttachStderr": True})
        rec = self._execs[eid]
        capture = rec.sink = Capture(limit)
        timed_out = False
        try:
            await self.start(eid, attached=False)
            try:
                await asyncio.wait_for(asyncio.shield(rec.ended.wait()), timeout)
            except asyncio.TimeoutError:
                timed_out = True
                await self._kill(rec)
                await rec.ended.wait()
        except asyncio.CancelledError:
            await asyncio.shield(self._kill(rec))  # a paused or stopping container's probe
            raise
        finally:
            self._forget(rec)
        return CapturedRun(rec.exit_code if rec.exit_code is not None else -1,
                           bytes(capture.data), capture.truncated, timed_out)

    @staticmethod
    async def _kill(rec: ExecRecord) -> None:
        if rec.handle is not None and rec.running:
            await rec.handle.signal(int(signal.SIGKILL))  # False: the supervisor is gone already

    # -- streams and size -----------------------------------------------------------
    async def send_stdin(self, rec: ExecRecord, data: bytes) -> None:
        if rec.handle is not None:
            await rec.handle.send_stdin(data)

    async def close_stdin(self, rec: ExecRecord) -> None:
        if rec.handle is not None:
            await rec.handle.send_op(proto.Op(proto.CLOSE_STDIN))

    async def resize(self, eid: str, height: int, width: int) -> None:
        rec = self.get(eid)
        if not (0 <= height <= 0xFFFF and 0 <= width <= 0xFFFF):  # a tty's size is two uint16s
            raise errors.InvalidArgument(f"invalid terminal size: {height}x{width}")
        if rec.running:  # Running is set before the process starts: wait for it, as moby does
            try:
                await asyncio.wait_for(rec.started.wait(), RESIZE_START_TIMEOUT)
            except asyncio.TimeoutError:
                raise errors.Internal("timeout waiting for exec session ready") from None
        if rec.handle is None or not rec.running:
            raise errors.Conflict(f"Exec {eid} is not running")  # moby: the process is gone
        await rec.handle.send_op(proto.Op(proto.RESIZE, height=height, width=width))

    def inspect(self, eid: str) -> dict:
        return self.get(eid).to_docker()
