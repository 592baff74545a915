"""ketchd's reading of a monitor's connection (engine/monitors.py)."""

import asyncio
import os
import socket
import threading

from ketch.engine import monitors
from ketch.monitor import protocol as proto


def test_frames_sent_before_a_reset_are_all_read(tmp_path):
    """A monitor that exits with an op of ours unread resets the connection (ECONNRESET):
    the output and the exit event it sent before must still arrive, then on_close."""
    path = os.path.join(tmp_path, "m.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    op_sent = threading.Event()

    def monitor() -> None:
        conn, _ = server.accept()
        conn.sendall(proto.frame(proto.STDOUT, b"out\n")
                     + proto.Event(proto.EXITED, exit_code=3).encode())
        op_sent.wait(10)
        conn.close()  # the resize below is unread: the peer sees a reset

    thread = threading.Thread(target=monitor)
    thread.start()

    async def client() -> list:
        seen: list = []
        closed = asyncio.Event()
        reader, writer = await monitors.connect(path)
        handle = monitors.MonitorHandle(reader, writer)
        handle.on_output = lambda raw, stream, payload: seen.append((stream, payload))
        handle.on_event = lambda ev: seen.append((ev.event, ev.exit_code))
        handle.on_close = lambda: (seen.append("closed"), closed.set())
        assert await handle.send_op(proto.Op(proto.RESIZE, height=1, width=1))
        await asyncio.sleep(0)  # the op is in the monitor's socket before it closes
        op_sent.set()
        await asyncio.to_thread(thread.join, 10)
        for _ in range(1000):  # until the transport has seen the reset (10 s at most)
            if writer.transport.is_closing():
                break
            await asyncio.sleep(0.01)
        for _ in range(2):  # and has told the reader: connection_lost is a call_soon away
            await asyncio.sleep(0)
        handle.start_reading()
        await asyncio.wait_for(closed.wait(), 10)
        return seen

    try:
        seen = asyncio.run(client())
    finally:
        op_sent.set()
        thread.join()
        server.close()
    assert seen == [(proto.STDOUT, b"out\n"), (proto.EXITED, 3), "closed"]


def test_the_fork_server_gives_up_on_a_client_that_sends_no_request(monkeypatch):
    """One connection that never sends its line blocked every later spawn of that ketchd."""
    import pytest
    from ketch.monitor import forkserver
    monkeypatch.setattr(forkserver, "REQUEST_TIMEOUT", 0.05)
    silent, server_end = socket.socketpair()
    with silent, server_end, pytest.raises(TimeoutError):
        forkserver._read_request(server_end)
    client, server_end = socket.socketpair()
    with client, server_end:
        client.sendall(b'{"a": 1}\n')
        assert forkserver._read_request(server_end) == {"a": 1}
        assert server_end.gettimeout() is None  # handed on blocking, as monitors expect


def test_a_request_that_cannot_be_encoded_never_reaches_the_server(tmp_path):
    """Encoded before connecting: a failure after the connection left the server waiting."""
    import pytest
    path = os.path.join(tmp_path, "fs.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    server.setblocking(False)

    class Unencodable:
        def to_line(self) -> bytes:
            raise TypeError("not JSON serializable")

    launcher = monitors.MonitorLauncher(str(tmp_path))
    launcher.socket_path = path
    with server:
        with pytest.raises(TypeError):
            asyncio.run(launcher.spawn(Unencodable()))
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody connected
