"""An exec supervisor: one process per ``docker exec``, forked by the fork server.

Why not the container's monitor: from "started" on a container's monitor is the C
monitor (``handover.py``), which knows a small protocol and should stay small; running
an exec there means teaching C to join namespaces, load seccomp and relay a second set
of streams. A fresh ``ketch-runtime exec`` costs a Python interpreter's start (tens of
milliseconds, over the 30 ms budget). The fork server is warm and single-threaded and
already has the runtime imported, so it forks a supervisor that runs the runtime's exec
in-process (``runtime.execute.in_container``, the code behind ``ketch-runtime exec``),
relays stdio and reports the exit code; the C monitor is not involved at all::

    ketchd ── connect, {"exec": ExecRequest}\\n ──▶ fork server ── fork ──▶ supervisor (setsid,
                                                                         child subreaper)
                                                              runtime exec: intermediate ─▶ process
    ◀── created {pid} | error {message, exit_code} ──────────────────────┘
    ◀── stdout/stderr frames ──  ── stdin frames, resize, kill, close_stdin ──▶
    ◀── exited {exit_code} ── then the supervisor closes and ends

The process is the supervisor's child (the runtime's intermediate exits and the
supervisor, a subreaper, inherits it), so the exit is known even if ketchd's client
went away; if ketchd itself goes away the process runs on and its output is dropped.
The exec's output never reaches the container's log: only ketchd's connection sees it.
"""

import fcntl
import os
import selectors
import signal
import socket
import struct
import termios
import time

from ketch.errors import ExecFailed, KetchError
from ketch.linux import syscalls as sc
from ketch.monitor import protocol as proto
from ketch.monitor.children import ChildExits, read_output
from ketch.monitor.protocol import ExecRequest
from ketch.runtime.process import Stdio

DRAIN_TIMEOUT = 2.0  # output still buffered after the exit; a background child may hold it open
LINGER_TIMEOUT = 5.0  # for ketchd to close after "exited"
STDIN_LIMIT = 1 << 20  # input held for the process; past it ketchd's frames wait in the socket


class ExecSupervisor:
    def __init__(self, req: ExecRequest, conn: socket.socket) -> None:
        self.req = req
        self.conn: socket.socket | None = conn
        self.reader = proto.FrameReader()
        self.sel = selectors.DefaultSelector()
        self.outputs: dict[int, int] = {}  # fd -> stream id
        self.stdin_fd = -1
        self.pty_fd = -1
        self.stdin_pending = bytearray()  # written as the process reads: never blocking
        self.stdin_eof = False  # close stdin once what is pending is written
        self._interest: dict[int, int] = {}  # fd -> the selector events registered
        self.pid = 0
        self.exit_code: int | None = None
        self._exits = ChildExits()
        self._watch(self._exits.fd, selectors.EVENT_READ)

    def _stdio(self) -> tuple[Stdio | None, list[int]]:
        if self.req.process.get("terminal"):
            return None, []
        devnull = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        child_ends, stdin = [devnull], devnull
        if self.req.stdin:
            r, w = os.pipe2(os.O_CLOEXEC)
            os.set_blocking(w, False)
            stdin, self.stdin_fd = r, w
            child_ends.append(r)
        fds = []
        for stream in (proto.STDOUT, proto.STDERR):
            r, w = os.pipe2(os.O_CLOEXEC)
            os.set_blocking(r, False)
            self.outputs[r] = stream
            child_ends.append(w)
            fds.append(w)
        return Stdio(stdin, fds[0], fds[1]), child_ends

    def start(self) -> bool:
        from ketch.monitor import runtimes
        from ketch.runtime import execute
        stdio, child_ends = self._stdio()
        try:
            if self.req.runtime.path:
                created = runtimes.cli_exec(self.req, stdio)
            else:
                created = execute.in_container(self.req.runtime_root, self.req.container_id,
                                               self.req.process, stdio)
        except (KetchError, OSError) as exc:
            code = exc.exit_code if isinstance(exc, ExecFailed) else 126
            self._send(proto.Event(proto.ERROR, message=str(exc), exit_code=code).encode())
            return False
        finally:
            for fd in child_ends:
                os.close(fd)
        self.pid = created.pid
        if created.console_fd >= 0:
            self.pty_fd = self.stdin_fd = created.console_fd
            os.set_blocking(self.pty_fd, False)
            self.outputs[self.pty_fd] = proto.STDOUT
        for fd in self.outputs:
            self._watch(fd, selectors.EVENT_READ)
        self._watch(self.conn.fileno(), selectors.EVENT_READ)
        self._send(proto.Event(proto.CREATED, pid=self.pid).encode())
        return True

    # -- the selector -------------------------------------------------------------
    def _watch(self, fd: int, events: int) -> None:
        """Make ``events`` what the selector waits for on ``fd`` (0: nothing)."""
        old = self._interest.get(fd, 0)
        if events == old:
            return
        if not old:
            self.sel.register(fd, events)
        elif not events:
            self.sel.unregister(fd)
        else:
            self.sel.modify(fd, events)
        if events:
            self._interest[fd] = events
        else:
            self._interest.pop(fd, None)

    def _events_of(self, fd: int) -> int:
        events = selectors.EVENT_READ if fd in self.outputs else 0
        if fd == self.stdin_fd and self.stdin_pending:
            events |= selectors.EVENT_WRITE
        return events

    def _dispatch(self, fd: int, mask: int) -> None:
        if fd == self._exits.fd:
            self._on_signal()
            return
        if self.conn is not None and fd == self.conn.fileno():
            self._on_conn()
            return
        if mask & selectors.EVENT_WRITE and fd == self.stdin_fd:
            self._flush_stdin()
        if mask & selectors.EVENT_READ and fd in self.outputs:
            self._on_output(fd)

    # -- events -------------------------------------------------------------------
    def _on_conn(self) -> None:
        if self.conn is None:  # dropped by a failed send earlier in the same select batch
            return
        try:
            data = self.conn.recv(65536)
        except OSError:
            data = b""
        if not data:  # ketchd went away: the process runs on, unheard
            self._drop_conn()
            self._close_stdin()
            return
        for stream, payload in self.reader.feed(data):
            if stream == proto.STDIN:
                self._write_stdin(payload)
            elif stream == proto.CONTROL:
                try:
                    op = proto.Op.decode(payload)
                except (ValueError, TypeError):
                    continue
                self._on_op(op)

    def _on_op(self, op: proto.Op) -> None:
        if op.op == proto.KILL and self.exit_code is None:
            try:
                os.kill(self.pid, op.signal or signal.SIGKILL)
            except ProcessLookupError:
                pass
        elif op.op == proto.RESIZE and self.pty_fd >= 0:
            try:  # a size the terminal cannot take must not end the exec
                fcntl.ioctl(self.pty_fd, termios.TIOCSWINSZ, struct.pack("HHHH", op.height, op.width, 0, 0))
            except (struct.error, OSError, TypeError):
                pass
        elif op.op == proto.CLOSE_STDIN:
            self._close_stdin()

    def _write_stdin(self, data: bytes) -> None:
        if self.stdin_fd < 0 or self.stdin_eof:
            return
        self.stdin_pending += data
        self._flush_stdin()

    def _flush_stdin(self) -> None:
        """Write what the process will take now; the rest waits for the fd to be writable
        (a blocking write would stop the output it must produce before reading more)."""
        while self.stdin_pending:
            try:
                n = os.write(self.stdin_fd, self.stdin_pending[:65536])
            except BlockingIOError:
                break
            except OSError:  # EPIPE, EIO: nobody reads the input any more
                self.stdin_pending.clear()
                self.stdin_eof = True
                break
            del self.stdin_pending[:n]
        if not self.stdin_pending and self.stdin_eof:
            self._end_stdin()
        self._update_interest()

    def _update_interest(self) -> None:
        if self.stdin_fd >= 0:
            self._watch(self.stdin_fd, self._events_of(self.stdin_fd))
        if self.conn is not None:  # past the limit, ketchd's frames wait (back-pressure)
            paused = len(self.stdin_pending) > STDIN_LIMIT
            self._watch(self.conn.fileno(), 0 if paused else selectors.EVENT_READ)

    def _close_stdin(self) -> None:
        """The client's input ended: pass the end on after what is still pending."""
        self.stdin_eof = True
        if not self.stdin_pending:
            self._end_stdin()

    def _end_stdin(self) -> None:
        if self.stdin_fd < 0:
            return
        if self.stdin_fd != self.pty_fd:
            self._watch(self.stdin_fd, 0)
            os.close(self.stdin_fd)
            self.stdin_fd = -1
        else:
            self.stdin_fd = -1  # the terminal stays: it carries the output
            self._watch(self.pty_fd, self._events_of(self.pty_fd))
            if self.exit_code is not None:
                return
            try:
                os.write(self.pty_fd, b"\x04")  # a terminal's EOF is ^D
            except OSError:
                pass

    def _on_output(self, fd: int) -> None:
        data = read_output(fd)
        if data is None:
            return
        if not data:
            del self.outputs[fd]
            self._watch(fd, self._events_of(fd))
            if fd != self.pty_fd:
                os.close(fd)
            return
        self._send(proto.frame(self.outputs[fd], data))

    def _on_signal(self) -> None:
        code = self._exits.reap(self.pid)
        if code is not None:
            self.exit_code = code

    # -- output -------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        if self.conn is None:
            return
        try:
            self.conn.sendall(data)
        except OSError:
            self._drop_conn()

    def _drop_conn(self) -> None:
        if self.conn is not None:
            self._watch(self.conn.fileno(), 0)
            self.conn.close()
            self.conn = None

    def run(self) -> None:
        if not self.start():
            return
        while self.exit_code is None:
            for key, mask in self.sel.select():
                self._dispatch(key.fd, mask)
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while self.outputs and time.monotonic() < deadline:
            for key, mask in self.sel.select(timeout=0.05):
                if key.fd in self.outputs:
                    self._on_output(key.fd)
        self.finish()

    def finish(self) -> None:
        """Report the exit and end the connection."""
        self._send(proto.Event(proto.EXITED, exit_code=self.exit_code).encode())
        self._linger()
        self._drop_conn()

    def _linger(self) -> None:
        """Wait for ketchd to close first. Closing with an op of ketchd's unread (a resize
        sent as the process ended) would reset the connection, and ketchd's next write
        would then fail and close its side before it has read "exited"."""
        if self.conn is None:
            return
        try:
            self.conn.shutdown(socket.SHUT_WR)
            self.conn.settimeout(LINGER_TIMEOUT)
            deadline = time.monotonic() + LINGER_TIMEOUT
            while time.monotonic() < deadline and self.conn.recv(65536):
                pass  # ops for a process that is gone
        except OSError:  # a timeout too: ketchd is not listening, nothing more to keep
            pass


def run_exec(req: ExecRequest, conn: socket.socket) -> None:
    """Entry point in the forked supervisor: never returns."""
    status = 0
    try:
        null = os.open("/dev/null", os.O_RDWR)
        for fd in (0, 1):
            os.dup2(null, fd)
        log = os.open(os.path.join(req.state_dir, "monitor.log"),
                      os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log, 2)
        os.close(null)
        os.close(log)
        sc.set_process_name("ketch-exec")
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)  # the process is ours once the intermediate exits
        ExecSupervisor(req, conn).run()
    except BaseException:  # noqa: BLE001 - report and die; there is no one to raise to
        import traceback
        traceback.print_exc()
        status = 1
    finally:
        os._exit(status)
