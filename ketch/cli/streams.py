"""Attached streams on the client: demultiplex output, forward stdin, raw terminal mode.

One ``poll`` loop moves bytes both ways (no threads, nothing to import): the
hijacked socket's frames go to fds 1 and 2, stdin goes to the socket, and stdin's
end becomes a half-close so the container sees EOF.
"""

import os
import select
import struct

from ketch.detachkeys import EscapeProxy

_HEADER = struct.Struct(">BxxxI")


class Demuxer:
    """Docker's multiplexed stream: 8-byte headers (stream id, size) before each payload."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self._buf = b""

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        if self.tty:
            return [(1, data)]
        self._buf += data
        out = []
        while len(self._buf) >= 8:
            stream, size = _HEADER.unpack_from(self._buf)
            if len(self._buf) < 8 + size:
                break
            out.append((stream if stream in (1, 2) else 2, self._buf[8:8 + size]))
            self._buf = self._buf[8 + size:]
        return out


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [])


def pump(hijacked, tty: bool, stdin: bool, detach_keys: bytes = b"") -> bool:
    """Copy until the daemon closes the stream (the container's output has ended) or,
    on a terminal, the user types ``detach_keys``; True in that case.

    The keys are caught here as well as by the daemon (as docker/cli does), so the
    terminal is given back at once even if the daemon's answer is slow.
    """
    proxy = EscapeProxy(detach_keys if tty and stdin else b"")
    demux = Demuxer(tty)
    poller = select.poll()
    sock_fd = hijacked.sock.fileno()
    poller.register(sock_fd, select.POLLIN)
    if stdin:
        poller.register(0, select.POLLIN)
    if hijacked.pending:
        for stream, payload in demux.feed(hijacked.recv()):
            _write_all(stream, payload)
    while True:
        for fd, _event in poller.poll():
            if fd == sock_fd:
                data = hijacked.recv(65536)
                if not data:
                    return False
                for stream, payload in demux.feed(data):
                    _write_all(stream, payload)
            elif fd == 0:
                try:
                    data = os.read(0, 65536)
                except OSError:
                    data = b""
                if data:
                    data, detached = proxy.feed(data)
                    if data:
                        hijacked.sock.sendall(data)
                    if detached:
                        return True
                else:
                    poller.unregister(0)
                    hijacked.close_write()


class RawTerminal:
    """Put the local terminal in raw mode for ``-it``; restore it on exit."""

    def __init__(self, fd: int = 0) -> None:
        self.fd = fd
        self._saved = None

    def __enter__(self) -> "RawTerminal":
        if os.isatty(self.fd):
            import termios
            import tty
            self._saved = termios.tcgetattr(self.fd)
            tty.setraw(self.fd, termios.TCSANOW)  # not TCSAFLUSH: keep what was typed ahead
        return self

    def __exit__(self, *exc) -> None:
        if self._saved is not None:
            import termios
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)


def terminal_size(fd: int = 1) -> tuple[int, int] | None:
    try:
        size = os.get_terminal_size(fd)
        return size.lines, size.columns
    except OSError:
        return None
