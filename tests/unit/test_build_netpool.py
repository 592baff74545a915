"""A build's network work (build/netpool.py, build/remote.py) runs in its own pool and
stops when cancelled: a server that accepts and never answers holds no thread once the
build is gone (REVIEW12 #6)."""

import asyncio
import socket
import threading

import pytest

from ketch.build import gitcontext, netpool, remote


class Silent:
    """Accepts connections, reads the request, never answers; ``closed`` once the peer
    shut its side."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = threading.Event()
        self.closed = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.accepted.set()
        with conn:
            while conn.recv(65536):
                pass
        self.closed.set()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def silent():
    server = Silent()
    yield server
    server.close()


def _cancel_while_waiting(work, server: Silent) -> threading.Event:
    ended = threading.Event()

    def run():
        try:
            work()
        finally:
            ended.set()

    async def go():
        task = asyncio.ensure_future(netpool.run(run))
        assert await asyncio.to_thread(server.accepted.wait, 5)
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    asyncio.run(go())
    return ended


def test_a_cancelled_download_stops_reading(silent, tmp_path):
    ended = _cancel_while_waiting(lambda: remote.download(silent.url + "/f", str(tmp_path), "/f"), silent)
    assert ended.wait(5)  # the pool's thread is free again
    assert silent.closed.wait(5)
    assert list(tmp_path.iterdir()) == []


def test_a_cancelled_git_clone_is_killed(silent, tmp_path):
    ended = _cancel_while_waiting(lambda: gitcontext.clone(silent.url + "/repo.git", str(tmp_path)), silent)
    assert ended.wait(5)
    assert list(tmp_path.iterdir()) == []


def test_work_registered_after_the_cancel_is_stopped_at_once():
    cancel = netpool.Cancel()
    cancel.cancel()
    stopped = []
    with pytest.raises(Exception, match="context canceled"):
        cancel.register(lambda: stopped.append(1))
    assert stopped == [1]


def test_the_work_runs_in_the_builds_own_pool():
    async def go():
        return await netpool.run(lambda: (threading.current_thread().name, netpool.current() is not None))
    name, has_cancel = asyncio.run(go())
    assert name.startswith("ketch-build-net") and has_cancel
