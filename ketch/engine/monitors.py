"""ketchd's side of the monitors: start the fork server, spawn and reconnect monitors.

A ``MonitorHandle`` is one connection to one monitor. It reads frames in a task and
hands them to two callbacks: ``on_output(frame_bytes, stream, payload)`` for container
output (the raw frame is passed along so it can be forwarded to Docker clients
unchanged) and ``on_event(doc)`` for control events.
"""

import asyncio
import json
import os
import subprocess
import sys
from typing import Awaitable, Callable

from ketch.errors import Internal, InvalidArgument, Unavailable
from ketch.linux.unixpath import reachable
from ketch.monitor import protocol as proto

OutputCallback = Callable[[bytes, int, bytes], None]
EventCallback = Callable[[dict], Awaitable[None] | None]


class MonitorHandle:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.on_output: OutputCallback = lambda raw, stream, payload: None
        self.on_event: EventCallback = lambda doc: None
        self.on_close: Callable[[], None] = lambda: None
        self._task: asyncio.Task | None = None
        self._first: asyncio.Future | None = None
        self._calls: dict[int, asyncio.Future] = {}
        self._next_call = 0

    def start_reading(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    async def next_event(self, kinds: tuple[str, ...]) -> dict:
        """Read frames until an event of one of ``kinds``; used before ``start_reading``."""
        while True:
            header = await self.reader.readexactly(proto.HEADER_SIZE)
            stream, size = proto.HEADER.unpack(header)
            payload = await self.reader.readexactly(size)
            if stream == proto.CONTROL:
                doc = json.loads(payload)
                if doc.get("event") in kinds:
                    return doc
                await _maybe_await(self.on_event(doc))
            else:
                self.on_output(header + payload, stream, payload)

    async def _read_loop(self) -> None:
        try:
            while True:
                header = await self.reader.readexactly(proto.HEADER_SIZE)
                stream, size = proto.HEADER.unpack(header)
                payload = await self.reader.readexactly(size)
                if stream == proto.CONTROL:
                    doc = json.loads(payload)
                    reply = self._calls.pop(doc.get("call"), None) if "call" in doc else None
                    if reply is not None:
                        if not reply.done():
                            reply.set_result(doc)
                        continue
                    await _maybe_await(self.on_event(doc))
                else:
                    self.on_output(header + payload, stream, payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for reply in self._calls.values():
                if not reply.done():
                    reply.set_exception(Internal("the container's monitor went away"))
            self._calls.clear()
            self.close()
            self.on_close()

    async def call(self, op: dict) -> None:
        """Send ``op`` and wait for the monitor's answer; its error as ``InvalidArgument``."""
        self._next_call += 1
        number = self._next_call
        reply = asyncio.get_running_loop().create_future()
        self._calls[number] = reply
        await self.send({**op, "call": number})
        doc = await reply
        if doc.get("event") == "error":
            raise InvalidArgument(doc.get("message") or f"{op.get('op')} failed")

    async def send(self, op: dict) -> None:
        self.writer.write(proto.control(op))
        await self.writer.drain()

    async def send_stdin(self, data: bytes) -> None:
        self.writer.write(proto.frame(proto.STDIN, data))
        await self.writer.drain()

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


async def _maybe_await(value) -> None:
    if asyncio.iscoroutine(value):
        await value


class MonitorLauncher:
    """Owns the fork server process; spawns monitors through it."""

    def __init__(self, exec_root: str) -> None:
        self.socket_path = os.path.join(exec_root, "forkserver.sock")
        self._proc: subprocess.Popen | None = None

    def start(self) -> None:
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        code = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from ketch.monitor.forkserver import serve; serve(sys.argv[2])")
        # -I -S: the fork server needs only the standard library and ketch itself,
        # and every monitor it forks inherits a smaller interpreter.
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", code, package_root, self.socket_path],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, close_fds=True)
        line = self._proc.stdout.readline()
        if line.strip() != b"ready":
            raise Internal("the monitor fork server did not start")
        self._proc.stdout.close()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass

    async def spawn(self, request: dict) -> MonitorHandle:
        try:
            with reachable(self.socket_path) as path:
                reader, writer = await asyncio.open_unix_connection(path)
        except OSError as exc:
            raise Unavailable(f"cannot reach the monitor fork server: {exc}") from None
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        return MonitorHandle(reader, writer)

    @staticmethod
    async def reconnect(state_dir: str) -> MonitorHandle | None:
        """Connect to a running monitor (after a ketchd restart); None if it is gone."""
        try:
            with reachable(os.path.join(state_dir, "monitor.sock")) as path:
                reader, writer = await asyncio.open_unix_connection(path)
        except OSError:
            return None
        handle = MonitorHandle(reader, writer)
        await handle.send({"op": "subscribe"})
        return handle
