"""A client that does not read a build's stream (REVIEW12 #9): the RUN's output is held
back (the container waits) instead of piling up in ketchd's memory."""

import io
import socket
import tarfile
import time

from tests.integration.buildclean import remove_build_leftovers


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def _context(dockerfile: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tf.addfile(info, io.BytesIO(dockerfile))
    return buf.getvalue()


def test_a_client_that_does_not_read_holds_the_run_back(daemon):
    body = _context(b"FROM busybox\nRUN yes 0123456789012345678901234567890123456789 | head -c 400000000\n")
    sock = socket.socket(socket.AF_UNIX)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(daemon.socket)
    try:
        sock.sendall(b"POST /build?networkmode=none HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/x-tar\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        time.sleep(1.5)  # the step runs, its output fills what the socket holds
        before = _rss_kib(daemon.proc.pid)
        time.sleep(4)  # unbounded, ketchd grew by tens of MB a second here
        grown = _rss_kib(daemon.proc.pid) - before
        assert grown < 32 << 10, f"ketchd grew by {grown} KiB while the client read nothing"
    finally:
        sock.close()  # the build is cancelled: its container goes
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and daemon.ketch("ps", "-aq", "--filter", "label=ketch.build.step").stdout:
        time.sleep(0.1)
    assert daemon.ketch("ps", "-aq", "--filter", "label=ketch.build.step").stdout == ""
    remove_build_leftovers(daemon)
