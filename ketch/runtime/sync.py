"""The create protocol between the runtime and the container's init, as typed messages.

Messages travel on a SOCK_SEQPACKET socketpair (one JSON object per packet, file
descriptors attached with SCM_RIGHTS), like runc's ``libcontainer/sync.go``::

    caller (create)                intermediate                     init (pid 1 inside)
    socketpair ── fork ──────────▶ waits
    cgroups: add(intermediate)
           ── GO ─────────────────▶ setns / unshare(namespaces)
                                   fork ─────────────────────────▶ (new pid namespace)
           ◀── PID {pid} ──────────┤ exit
    waitpid(intermediate)                                          hostname, loopback,
                                                                   mounts, /dev, pivot_root
           ◀── CONSOLE + fd ─────────────────────────────────────┤ (terminal only)
                                                                   sysctls, masked/ro paths, rlimits,
                                                                   seccomp, capabilities, user, cwd,
                                                                   look up argv[0]
           ◀── READY ────────────────────────────────────────────┤ (or ERROR {message, exit_code})
    create returns                                                 open(exec.fifo, O_WRONLY) blocks
    start: open(exec.fifo) ── "0" ◀────────────────────────────────┤ execve(argv)

The init's end of the socket is close-on-exec, so nothing of it reaches the container.
"""

import _socket as socket  # socket.py imports enum: see process.py
import struct  # not array: it imports collections.abc, ~3 ms of the runtime's start-up

from ketch import fastjson
from ketch.value import Value

GO = "go"
PID = "pid"
CONSOLE = "console"
READY = "ready"
ERROR = "error"

_MAX = 65536
_FD = struct.Struct("i")


class Message(Value):
    # type: str
    # pid: int
    # message: str
    # exit_code: int
    # fd: int
    FIELDS = __slots__ = ("type", "pid", "message", "exit_code", "fd")
    DEFAULTS = {"pid": 0, "message": "", "exit_code": 0, "fd": -1}


def pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def send(sock: socket.socket, msg: Message) -> None:
    body = fastjson.dumps({"type": msg.type, "pid": msg.pid, "message": msg.message,
                       "exit_code": msg.exit_code}).encode()
    if msg.fd >= 0:
        sock.sendmsg([body], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, _FD.pack(msg.fd))])
    else:
        sock.send(body)


def recv(sock: socket.socket) -> Message | None:
    """The next message, or None when the peer closed its end without a word."""
    fds: list[int] = []
    data, ancdata, _flags, _addr = sock.recvmsg(_MAX, socket.CMSG_SPACE(_FD.size))
    if not data:
        return None
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += (fd for (fd,) in _FD.iter_unpack(payload[: len(payload) - len(payload) % _FD.size]))
    doc = fastjson.loads(data)
    return Message(doc["type"], doc.get("pid", 0), doc.get("message", ""),
                   doc.get("exit_code", 0), fds[0] if fds else -1)
