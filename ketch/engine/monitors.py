"""ketchd's side of the monitors: start the fork server, spawn and reconnect monitors.

A ``MonitorHandle`` is one connection to one monitor. It reads frames in a task and
hands them to callbacks: ``on_output(frame_bytes, stream, payload)`` for container
output (the raw frame is passed along so it can be forwarded to Docker clients
unchanged; it may return an awaitable, and reading waits for it), ``on_event(doc)`` for control events and ``on_close()`` when the monitor's
connection ends. Callbacks are plain functions: whatever must wait (the exit's
cleanup takes the container's lock) is scheduled by the callback as a task, so the
reader never blocks behind a lifecycle operation that is itself waiting on the reader.

A closed connection means the monitor is exiting (it closes only when its container
is gone): ``signal`` reports it instead of failing, and the caller waits for the exit.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
from typing import Awaitable, Callable

from ketch.errors import Internal, InvalidArgument, Unavailable
from ketch.linux.unixpath import reachable
from ketch.monitor import protocol as proto

OutputCallback = Callable[[bytes, int, bytes], Awaitable | None]  # what to await before reading on
EventCallback = Callable[[proto.Event], None]
RECONNECT_TIMEOUT = 5.0
NETNS_TIMEOUT = 10.0


class _MonitorProtocol(asyncio.StreamReaderProtocol):
    """A monitor that exits with our last op still unread in its socket (a resize or a
    signal sent as the process ended) resets the connection: AF_UNIX reports that as
    ECONNRESET after everything the monitor sent. asyncio would hand the reader the
    error, which discards the frames still buffered (the ``exited`` event among them);
    here it is the end of the stream, read to the last frame."""

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(None if isinstance(exc, ConnectionResetError) else exc)


async def connect(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``asyncio.open_unix_connection`` with ``_MonitorProtocol``."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(loop=loop)
    protocol = _MonitorProtocol(reader, loop=loop)
    transport, _ = await loop.create_unix_connection(lambda: protocol, path)
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)


class MonitorHandle:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.on_output: OutputCallback = lambda raw, stream, payload: None
        self.on_event: EventCallback = lambda doc: None
        self.on_close: Callable[[], None] = lambda: None
        self.closed = False
        self._task: asyncio.Task | None = None
        self._calls: dict[int, asyncio.Future] = {}
        self._next_call = 0

    def start_reading(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    async def _read_frame(self) -> tuple[bytes, int, bytes]:
        header = await self.reader.readexactly(proto.HEADER_SIZE)
        stream, size = proto.HEADER.unpack(header)
        return header, stream, await self.reader.readexactly(size)

    async def next_event(self, kinds: tuple[str, ...]) -> proto.Event:
        """Read frames until an event of one of ``kinds``; used before ``start_reading``."""
        while True:
            header, stream, payload = await self._read_frame()
            if stream != proto.CONTROL:
                if (wait := self.on_output(header + payload, stream, payload)) is not None:
                    await wait
                continue
            event = proto.Event.decode(payload)
            if event.event in kinds:
                return event
            self.on_event(event)

    async def _read_loop(self) -> None:
        lost = False  # not when ketchd itself shuts down (the task is cancelled)
        try:
            while True:
                header, stream, payload = await self._read_frame()
                if stream != proto.CONTROL:
                    if (wait := self.on_output(header + payload, stream, payload)) is not None:
                        await wait  # the client is behind: the monitor waits with it
                    continue
                event = proto.Event.decode(payload)
                reply = self._calls.pop(event.call, None) if event.call else None
                if reply is not None:
                    if not reply.done():
                        reply.set_result(event)
                    continue
                self.on_event(event)
        except (asyncio.IncompleteReadError, ConnectionError):
            lost = True
        finally:
            for reply in self._calls.values():
                if not reply.done():
                    reply.set_exception(Internal("the container's monitor went away"))
            self._calls.clear()
            self.close()
        if lost:
            self.on_close()

    async def call(self, op: proto.Op) -> None:
        """Send ``op`` and wait for the monitor's answer; its error as ``InvalidArgument``."""
        self._next_call += 1
        number = self._next_call
        reply = asyncio.get_running_loop().create_future()
        self._calls[number] = reply
        if not await self.send_op(op.replace(call=number)):
            self._calls.pop(number, None)
            raise Internal("the container's monitor went away")
        answer = await reply
        if answer.event == proto.ERROR:
            raise InvalidArgument(answer.message or f"{op.op} failed")

    async def send_op(self, op: proto.Op) -> bool:
        """Send a control op; False if the monitor has closed its connection (exiting)."""
        return await self._write(op.encode())

    async def signal(self, sig: int) -> bool:
        return await self.send_op(proto.Op(proto.KILL, signal=sig))

    async def send_stdin(self, data: bytes) -> bool:
        return await self._write(proto.frame(proto.STDIN, data))

    async def _write(self, data: bytes) -> bool:
        if self.closed or self.writer.is_closing():
            return False
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, OSError):
            return False
        return True

    def close(self) -> None:
        self.closed = True
        if not self.writer.is_closing():
            self.writer.close()


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

    async def spawn(self, request: proto.MonitorRequest | proto.ExecRequest) -> MonitorHandle:
        line = request.to_line()  # before connecting: the server waits for a whole line
        try:
            with reachable(self.socket_path) as path:
                reader, writer = await connect(path)
        except OSError as exc:
            raise Unavailable(f"cannot reach the monitor fork server: {exc}") from None
        try:
            writer.write(line)
            await writer.drain()
        except BaseException:
            writer.close()
            raise
        return MonitorHandle(reader, writer)

    async def netns_sockets(self, path: str, create: bool, dns: bool = False) -> list[socket.socket]:
        """Sockets made inside the network namespace at ``path`` (made there first when
        ``create``): a netlink socket, and with ``dns`` the embedded DNS server's UDP and
        TCP sockets on 127.0.0.11:53 (``monitor/netnsop.py``)."""
        line = json.dumps({"netns": {"path": path, "create": create, "dns": dns}}).encode() + b"\n"
        return await asyncio.to_thread(self._netns_sockets, line, 3 if dns else 1)

    def _netns_sockets(self, line: bytes, count: int) -> list[socket.socket]:
        try:
            with reachable(self.socket_path) as path, \
                    socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(NETNS_TIMEOUT)
                conn.connect(path)
                conn.sendall(line)
                msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, count, socket.MSG_CMSG_CLOEXEC)
        except OSError as exc:
            raise Unavailable(f"cannot reach the monitor fork server: {exc}") from None
        socks = [socket.socket(fileno=fd) for fd in fds]
        if msg != b"ok\n" or len(socks) != count:
            for s in socks:
                s.close()
            text = msg.decode(errors="replace").strip()
            raise Internal(f"cannot set up the network namespace: {text.removeprefix('error ')}")
        return socks

    @staticmethod
    async def reconnect(state_dir: str) -> tuple[MonitorHandle, proto.Event] | None:
        """Connect to a monitor (after a ketchd restart) and read its status event
        ({"state": "created"|"running"|"exited", "pid", "paused"}); None if it is gone."""
        try:
            with reachable(os.path.join(state_dir, "monitor.sock")) as path:
                reader, writer = await connect(path)
        except OSError:
            return None
        handle = MonitorHandle(reader, writer)
        try:
            if not await handle.send_op(proto.Op(proto.SUBSCRIBE)):
                return None
            status = await asyncio.wait_for(handle.next_event((proto.STATUS,)), RECONNECT_TIMEOUT)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError, ValueError):
            handle.close()
            return None
        return handle, status
