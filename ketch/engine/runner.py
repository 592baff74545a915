"""Running containers: start, stop, kill, wait, attach, and what happens when they exit.

Start, in order (moby's ``daemon/start.go``): mount the rootfs from the snapshotter's
``Mount`` data, write /etc/hostname, /etc/hosts and /etc/resolv.conf, generate the OCI
spec, ask the fork server for a monitor, wait for "created", send "start", wait for
"started". Any failure undoes what was done and leaves the record "created" with the
error, as Docker does.

Directories per container::

    <data-root>/containers/<id>/   hostname, hosts, resolv.conf, <id>-json.log
    <exec-root>/containers/<id>/   config.json and rootfs/ (the bundle), monitor.sock,
                                   exit.json, monitor.log
    <exec-root>/runtime/<id>/      the runtime's own state
"""

import asyncio
import json
import os
import shutil
import signal
from dataclasses import dataclass, field

from ketch import errors, timefmt
from ketch.engine import hostconfig, specgen, users
from ketch.engine.monitors import MonitorHandle, MonitorLauncher
from ketch.engine.records import ContainerRecord, Registry
from ketch.engine.runtimes import Runtimes
from ketch.linux import mount as mnt
from ketch.linux.atomic import write_file
from ketch.network import files as netfiles
from ketch.runtime import cgroups
from ketch.storage.overlay import OverlaySnapshotter

CONDITIONS = ("not-running", "next-exit", "removed")


@dataclass(frozen=True)
class Paths:
    data_root: str
    exec_root: str

    def data_dir(self, cid: str) -> str:
        return os.path.join(self.data_root, "containers", cid)

    def exec_dir(self, cid: str) -> str:
        return os.path.join(self.exec_root, "containers", cid)

    def bundle_rootfs(self, cid: str) -> str:
        return os.path.join(self.exec_dir(cid), "rootfs")

    def log_path(self, cid: str) -> str:
        return os.path.join(self.data_dir(cid), f"{cid}-json.log")

    @property
    def runtime_root(self) -> str:
        return os.path.join(self.exec_root, "runtime")


class OutputQueue:
    """One attached client's view of a container's output: frames, then None at the end."""

    def __init__(self, stdout: bool, stderr: bool) -> None:
        self.want = {1: stdout, 2: stderr}
        self.queue: asyncio.Queue[tuple[bytes, int, bytes] | None] = asyncio.Queue()

    def put(self, raw: bytes, stream: int, payload: bytes) -> None:
        if self.want.get(stream):
            self.queue.put_nowait((raw, stream, payload))

    def close(self) -> None:
        self.queue.put_nowait(None)


@dataclass
class Live:
    """A started container's connection to its monitor and who listens to it."""
    handle: MonitorHandle
    sinks: set = field(default_factory=set)


def parse_signal(value: str | int | None, default: int = signal.SIGKILL) -> int:
    if value in (None, ""):
        return default
    text = str(value).upper()
    if text.isdigit():
        num = int(text)
        if num <= 0 or num > 64:
            raise errors.InvalidArgument(f"Invalid signal: {value}")
        return num
    name = text if text.startswith("SIG") else "SIG" + text
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise errors.InvalidArgument(f"Invalid signal: {value}") from None


class Runner:
    def __init__(self, registry: Registry, snapshots: OverlaySnapshotter,
                 launcher: MonitorLauncher, paths: Paths, runtimes: Runtimes) -> None:
        self.registry = registry
        self.runtimes = runtimes
        self.snapshots = snapshots
        self.launcher = launcher
        self.paths = paths
        self.live: dict[str, Live] = {}
        self.pending_sinks: dict[str, set] = {}  # attached before start
        self.waiters: dict[str, list[tuple[str, asyncio.Future]]] = {}
        self.on_removed_request = None  # set by ContainerService: async fn(rec) for AutoRemove
        self._started: dict[str, asyncio.Event] = {}  # stdin sent before start waits on these
        self.cgroup_v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        self.init_path: str | None = None  # daemon.json init-path
        self.cgroup_parent = "/ketch"  # daemon.json cgroup-parent

    # -- start ------------------------------------------------------------------
    def _mount_rootfs(self, rec: ContainerRecord) -> str:
        target = self.paths.bundle_rootfs(rec.id)
        os.makedirs(target, exist_ok=True)
        if not mnt.is_mountpoint(target):
            for m in self.snapshots.mounts(rec.snapshot, rec.parents):
                mnt.apply(m, target)
        return target

    def unmount_rootfs(self, cid: str) -> None:
        target = self.paths.bundle_rootfs(cid)
        while os.path.isdir(target) and mnt.is_mountpoint(target):
            try:
                mnt.unmount(target)
            except OSError:
                mnt.unmount(target, lazy=True)
        shutil.rmtree(self.paths.exec_dir(cid), ignore_errors=True)

    def _write_files(self, rec: ContainerRecord) -> tuple[str, str, str]:
        d = self.paths.data_dir(rec.id)
        paths = (os.path.join(d, "hostname"), os.path.join(d, "hosts"), os.path.join(d, "resolv.conf"))
        try:
            with open("/etc/resolv.conf") as f:
                host_resolv = f.read()
        except OSError:
            host_resolv = ""
        hostname = rec.config.get("Hostname") or rec.id[:12]
        write_file(paths[0], netfiles.hostname_file(hostname).encode())
        write_file(paths[1], netfiles.hosts(hostname).encode())
        write_file(paths[2], netfiles.resolv_conf(host_resolv).encode())
        return paths

    def _spec(self, rec: ContainerRecord, rootfs: str, files: tuple[str, str, str]) -> dict:
        cfg, host = rec.config, rec.host_config
        user = users.resolve(rootfs, cfg.get("User") or "", host.get("GroupAdd") or [])
        return specgen.build(specgen.SpecInput(
            rootfs=rootfs, args=[rec.path] + rec.args, env=cfg.get("Env") or [],
            hostname=cfg.get("Hostname") or rec.id[:12], domainname=cfg.get("Domainname") or "",
            working_dir=cfg.get("WorkingDir") or "/", uid=user.uid, gid=user.gid,
            additional_gids=user.additional_gids, tty=bool(cfg.get("Tty")),
            hostname_path=files[0], hosts_path=files[1], resolv_conf_path=files[2],
            readonly_rootfs=bool(host.get("ReadonlyRootfs")), shm_size=int(host.get("ShmSize") or 0),
            console_size=tuple(host["ConsoleSize"][:2]) if host.get("ConsoleSize") else None,
            **hostconfig.spec_fields(host, rec.id, self.cgroup_v2, self.init_path, self.cgroup_parent),
        ))

    async def start(self, rec: ContainerRecord) -> None:
        if rec.running:
            return
        if rec.status == "removing":
            raise errors.Conflict("container is marked for removal and cannot be started")
        exec_dir = self.paths.exec_dir(rec.id)
        asyncio.get_running_loop().run_in_executor(None, cgroups.warm_attach)
        try:
            rootfs = self._mount_rootfs(rec)
            files = self._write_files(rec)
            spec = self._spec(rec, rootfs, files)
            rec.cgroups_path = spec["linux"].get("cgroupsPath", "")
            if self.runtimes.spec(rec.runtime)["path"]:
                spec["root"]["path"] = "rootfs"  # runc wants it in the bundle; it is
            write_file(os.path.join(exec_dir, "config.json"), json.dumps(spec).encode())
            for stale in ("exit.json",):
                try:
                    os.unlink(os.path.join(exec_dir, stale))
                except FileNotFoundError:
                    pass
            await self._launch(rec, exec_dir, spec["linux"].get("cgroupsPath", ""))
        except errors.KetchError as exc:
            self.unmount_rootfs(rec.id)
            code = exc.exit_code if isinstance(exc, errors.ExecFailed) else 128
            rec.set_start_failed(code, str(exc))
            self.registry.save(rec)
            raise
        except BaseException:
            self.unmount_rootfs(rec.id)
            raise

    async def _launch(self, rec: ContainerRecord, exec_dir: str, cgroups_path: str) -> MonitorHandle:
        cfg = rec.config
        handle = await self.launcher.spawn({
            "id": rec.id, "bundle": exec_dir, "runtime_root": self.paths.runtime_root,
            "state_dir": exec_dir, "log_path": self.paths.log_path(rec.id),
            "tty": bool(cfg.get("Tty")), "stdin": bool(cfg.get("OpenStdin")),
            "runtime": self.runtimes.spec(rec.runtime), "cgroups_path": cgroups_path,
        })
        live = Live(handle, self.pending_sinks.pop(rec.id, set()))
        self._wire(rec.id, live)
        try:
            event = await handle.next_event(("created", "error"))
            if event["event"] == "error":
                raise _start_error(event)
            pid = int(event["pid"])
            await handle.send({"op": "start"})
            event = await handle.next_event(("started", "error"))
            if event["event"] == "error":
                raise _start_error(event)
        except (asyncio.IncompleteReadError, ConnectionError):
            handle.close()
            raise errors.Internal("the container's monitor exited during start") from None
        except BaseException:
            for sink in live.sinks:
                self.pending_sinks.setdefault(rec.id, set()).add(sink)
            handle.close()
            raise
        self.live[rec.id] = live
        self._started.pop(rec.id, asyncio.Event()).set()
        rec.set_running(pid, event["started_at"])
        self.registry.save(rec)
        handle.start_reading()
        return handle

    def _wire(self, cid: str, live: Live) -> None:
        def on_output(raw: bytes, stream: int, payload: bytes) -> None:
            for sink in list(live.sinks):
                sink.put(raw, stream, payload)

        async def on_event(doc: dict) -> None:
            if doc.get("event") == "exited":
                await self._exited(cid, doc["exit_code"], doc["finished_at"], doc.get("oom_killed", False))

        def on_close() -> None:
            if cid in self.live and self.live[cid] is live:
                asyncio.get_running_loop().create_task(self._monitor_lost(cid))

        live.handle.on_output = on_output
        live.handle.on_event = on_event
        live.handle.on_close = on_close

    # -- exit -------------------------------------------------------------------
    async def _exited(self, cid: str, code: int, finished_at: str, oom: bool) -> None:
        live = self.live.pop(cid, None)
        if live is not None:
            for sink in live.sinks:
                sink.close()
            live.handle.close()
        rec = self.registry.find(cid)
        if rec is None:
            return
        rec.set_exited(code, finished_at, oom)
        self.registry.save(rec)
        await asyncio.to_thread(self.unmount_rootfs, cid)
        self._resolve_waiters(cid, ("not-running", "next-exit"), code)
        if rec.host_config.get("AutoRemove") and self.on_removed_request is not None:
            await self.on_removed_request(rec)

    async def _monitor_lost(self, cid: str) -> None:
        """The monitor's connection dropped without an exit event: read its exit file."""
        exit_file = os.path.join(self.paths.exec_dir(cid), "exit.json")
        try:
            with open(exit_file) as f:
                doc = json.load(f)
            await self._exited(cid, doc["exit_code"], doc["finished_at"], doc.get("oom_killed", False))
        except (OSError, ValueError):
            await self._exited(cid, 255, timefmt.now(), False)

    # -- wait -------------------------------------------------------------------
    def register_wait(self, rec: ContainerRecord, condition: str) -> asyncio.Future:
        if condition not in CONDITIONS:
            raise errors.InvalidArgument(f"invalid condition: \"{condition}\"")
        fut = asyncio.get_running_loop().create_future()
        if condition == "not-running" and not rec.running:
            fut.set_result(rec.state["ExitCode"])
            return fut
        self.waiters.setdefault(rec.id, []).append((condition, fut))
        return fut

    def _resolve_waiters(self, cid: str, conditions: tuple[str, ...], code: int) -> None:
        remaining = []
        for condition, fut in self.waiters.pop(cid, []):
            if condition in conditions:
                if not fut.done():
                    fut.set_result(code)
            else:
                remaining.append((condition, fut))
        if remaining:
            self.waiters[cid] = remaining

    def removed(self, rec: ContainerRecord) -> None:
        self._resolve_waiters(rec.id, CONDITIONS, rec.state["ExitCode"])
        for sink in self.pending_sinks.pop(rec.id, set()):
            sink.close()

    # -- signals ----------------------------------------------------------------
    async def kill(self, rec: ContainerRecord, sig: int) -> None:
        live = self.live.get(rec.id)
        if not rec.running or live is None:
            raise errors.Conflict(f"Container {rec.id} is not running")
        await live.handle.send({"op": "kill", "signal": sig})
        if sig == signal.SIGKILL and rec.state["Paused"]:
            # A frozen process cannot die: thaw it (as containerd does) so SIGKILL lands.
            await self.unpause(rec)

    # -- pause ------------------------------------------------------------------
    async def pause(self, rec: ContainerRecord) -> None:
        """Freeze the container's processes through its runtime (runc pause)."""
        live = self.live.get(rec.id)
        if not rec.running or live is None:
            raise errors.Conflict(f"Container {rec.id} is not running")
        if rec.state["Paused"]:
            raise errors.Conflict(f"Container {rec.id} is already paused")
        await live.handle.call({"op": "pause"})
        rec.state.update(Status="paused", Paused=True)
        self.registry.save(rec)

    async def unpause(self, rec: ContainerRecord) -> None:
        live = self.live.get(rec.id)
        if not rec.state["Paused"]:
            raise errors.Conflict(f"Container {rec.id} is not paused")
        if not rec.running or live is None:
            raise errors.Conflict(f"Container {rec.id} is not running")
        await live.handle.call({"op": "resume"})
        rec.state.update(Status="running", Paused=False)
        self.registry.save(rec)

    async def stop(self, rec: ContainerRecord, timeout: int | None, sig: int | None = None) -> None:
        if not rec.running:
            return
        stop_signal = sig or parse_signal(rec.config.get("StopSignal"), signal.SIGTERM)
        if timeout is None:
            timeout = rec.config.get("StopTimeout")
            timeout = 10 if timeout is None else int(timeout)
        fut = self.register_wait(rec, "not-running")
        if timeout != 0:
            await self.kill(rec, stop_signal)
        if timeout >= 0:
            try:
                await asyncio.wait_for(asyncio.shield(fut), timeout)
                return
            except asyncio.TimeoutError:
                pass
        if rec.running:
            await self.kill(rec, signal.SIGKILL)
        await fut

    # -- attach -----------------------------------------------------------------
    def attach(self, rec: ContainerRecord, stdout: bool, stderr: bool) -> OutputQueue:
        sink = OutputQueue(stdout, stderr)
        live = self.live.get(rec.id)
        if live is not None:
            live.sinks.add(sink)
        else:
            self.pending_sinks.setdefault(rec.id, set()).add(sink)
        return sink

    def detach(self, rec: ContainerRecord, sink: OutputQueue) -> None:
        live = self.live.get(rec.id)
        if live is not None:
            live.sinks.discard(sink)
        self.pending_sinks.get(rec.id, set()).discard(sink)

    async def send_stdin(self, rec: ContainerRecord, data: bytes) -> None:
        if rec.id not in self.live and not rec.running:  # attached before start: hold it
            await self._started.setdefault(rec.id, asyncio.Event()).wait()
        live = self.live.get(rec.id)
        if live is not None:
            await live.handle.send_stdin(data)

    async def close_stdin(self, rec: ContainerRecord) -> None:
        live = self.live.get(rec.id)
        if live is not None:
            await live.handle.send({"op": "close_stdin"})

    async def resize(self, rec: ContainerRecord, height: int, width: int) -> None:
        live = self.live.get(rec.id)
        if live is None:
            raise errors.Conflict(f"Container {rec.id} is not running")
        await live.handle.send({"op": "resize", "height": height, "width": width})

    # -- daemon restart -----------------------------------------------------------
    async def reconcile(self, rec: ContainerRecord) -> None:
        """After a ketchd restart: reattach to a running container's monitor, or record its exit."""
        if not rec.running:
            return
        handle = await self.launcher.reconnect(self.paths.exec_dir(rec.id))
        if handle is None:
            await self._monitor_lost(rec.id)
            return
        live = Live(handle)
        self._wire(rec.id, live)
        self.live[rec.id] = live
        handle.start_reading()


def _start_error(event: dict) -> errors.KetchError:
    code = int(event.get("exit_code") or 125)
    if code in (126, 127):
        return errors.ExecFailed(event["message"], code)
    return errors.InvalidArgument(event["message"])
