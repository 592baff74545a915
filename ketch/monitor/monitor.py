"""One container's monitor: create it, hold its stdio, log, reap, report the exit.

Runs single-threaded around one ``selectors`` loop. Its lifetime::

    spawned by the fork server with ketchd's connection ─▶ runtime create ─▶ "created"
    ─▶ wait for "start" ─▶ runtime start ─▶ "started" ─▶ pump output to the log and to
    subscribers, stdin from ketchd ─▶ init exits ─▶ drain output ─▶ exit.json ─▶ "exited"

Right after "started" the process exec()s the C monitor (``handover.py``), which does
everything from "pump output" on exactly as this class would; this class does it itself
only when there is no C monitor (``KETCH_MONITOR_BINARY=""`` or not built) or the
container ended before the hand-over.

Files, in the container's exec directory (``MonitorRequest.state_dir``)::

    monitor.sock   ketchd reconnects here after a restart
    exit.json      {"exit_code", "finished_at", "oom_killed"} once the container is gone
"""

import fcntl
import json
import os
import selectors
import signal
import socket
import termios
import struct
import time

from ketch.errors import ExecFailed, KetchError
from ketch.linux import syscalls as sc
from ketch.linux.atomic import write_file
from ketch.linux.unixpath import listen
from ketch.monitor import handover
from ketch.monitor.children import ChildExits, read_output
from ketch.monitor import protocol as proto
from ketch.monitor import logfile
from ketch.monitor import runtimes
from ketch.monitor.protocol import MonitorRequest
from ketch.runtime import cgroups
from ketch.runtime.process import Stdio
from ketch.timefmt import format_ns

DRAIN_TIMEOUT = 2.0


class _Client:
    def __init__(self, sock: socket.socket, subscribed: bool) -> None:
        self.sock = sock
        self.reader = proto.FrameReader()
        self.subscribed = subscribed


class Monitor:
    def __init__(self, req: MonitorRequest, first: socket.socket, forkserver: str = "") -> None:
        self.req = req
        self.forkserver = forkserver
        self.sel = selectors.DefaultSelector()
        self.clients: list[_Client] = []
        self.outputs: dict[int, str] = {}  # fd -> "stdout" | "stderr"
        self.stdin_fd = -1
        self.pty_fd = -1
        self.runtime = runtimes.make(req.runtime, req.runtime_root, req.id, req.state_dir)
        self.pid = 0
        self.exit_code: int | None = None
        self.started = False
        self.paused = False
        self.abandoned = False  # the creator went away before "start": nobody will start it
        self.handed_over = False  # the exec to the C monitor was tried (it returned: failed)
        self.log = logfile.writer(req.log_path, req.log)
        self.creator = self._add_client(first, subscribed=True)
        self._exits = ChildExits()
        self.sel.register(self._exits.fd, selectors.EVENT_READ, self._on_signal)
        self.listener = self._listen(os.path.join(req.state_dir, "monitor.sock"))

    # -- set-up -----------------------------------------------------------------
    def _listen(self, path: str) -> socket.socket:
        sock = listen(path, 0o600, 8)
        sock.setblocking(False)
        self.sel.register(sock, selectors.EVENT_READ, self._on_accept)
        return sock

    def _add_client(self, sock: socket.socket, subscribed: bool) -> _Client:
        sock.setblocking(True)  # writes block: a slow ketchd slows the container, as in Docker
        c = _Client(sock, subscribed)
        self.clients.append(c)
        self.sel.register(sock, selectors.EVENT_READ, lambda _fd, c=c: self._on_client(c))
        return c

    def _stdio(self) -> tuple[Stdio | None, list[int]]:
        """Pipes (or nothing, for a terminal) for the container; returns the child ends."""
        if self.req.tty:
            return None, []
        devnull = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        child_ends = [devnull]
        stdin = devnull
        if self.req.stdin:
            r, w = os.pipe2(os.O_CLOEXEC)
            stdin, self.stdin_fd = r, w
            child_ends.append(r)
        fds = []
        for name in ("stdout", "stderr"):
            r, w = os.pipe2(os.O_CLOEXEC)
            self.outputs[r] = name
            os.set_blocking(r, False)
            self.sel.register(r, selectors.EVENT_READ, self._on_output)
            child_ends.append(w)
            fds.append(w)
        return Stdio(stdin, fds[0], fds[1]), child_ends

    def create(self) -> bool:
        stdio, child_ends = self._stdio()
        try:
            created = self.runtime.create(self.req.bundle, stdio, self.req.tty)
            if created.pid <= 0:  # never track "pid 0": kill(0) would signal our own group
                self.runtime.delete()
                raise KetchError(f"the runtime reported an invalid pid {created.pid}")
            self.pid = created.pid
        except (KetchError, OSError) as exc:
            code = exc.exit_code if isinstance(exc, ExecFailed) else 125
            self.broadcast(proto.Event(proto.ERROR, message=str(exc), exit_code=code).encode())
            return False
        finally:
            for fd in child_ends:
                os.close(fd)
        if created.console_fd >= 0:
            self.pty_fd = self.stdin_fd = created.console_fd
            os.set_blocking(self.pty_fd, False)
            self.outputs[self.pty_fd] = "stdout"
            self.sel.register(self.pty_fd, selectors.EVENT_READ, self._on_output)
        self.broadcast(proto.Event(proto.CREATED, pid=self.pid).encode())
        return True

    # -- events -----------------------------------------------------------------
    def _on_accept(self, _fd) -> None:
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return
        self._add_client(sock, subscribed=False)

    def _on_client(self, c: _Client) -> None:
        try:
            data = c.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._drop(c)
            return
        for stream, payload in c.reader.feed(data):
            if stream == proto.STDIN:
                self._write_stdin(payload)
            elif stream == proto.CONTROL:
                try:
                    op = proto.Op.decode(payload)
                except (ValueError, TypeError):
                    continue  # an op from a newer ketchd: ignore it rather than die
                self._OPS[op.op](self, c, op)

    # -- ops (one method each; _OPS is the dispatch table) ---------------------------
    def _op_start(self, c: _Client, op: proto.Op) -> None:
        if self.started:
            return
        try:
            self.runtime.start()
        except (KetchError, OSError) as exc:
            self._send(c, proto.Event(proto.ERROR, message=str(exc), exit_code=125).encode())
            return
        self.started = True
        self.broadcast(proto.Event(proto.STARTED, started_at=format_ns(time.time_ns())).encode())

    def _op_kill(self, c: _Client, op: proto.Op) -> None:
        if self.pid and self.exit_code is None:
            try:
                os.kill(self.pid, op.signal or signal.SIGTERM)
            except ProcessLookupError:
                pass

    def _op_resize(self, c: _Client, op: proto.Op) -> None:
        if self.pty_fd >= 0:
            size = struct.pack("HHHH", op.height, op.width, 0, 0)
            fcntl.ioctl(self.pty_fd, termios.TIOCSWINSZ, size)

    def _op_close_stdin(self, c: _Client, op: proto.Op) -> None:
        self._close_stdin()

    def _op_pause(self, c: _Client, op: proto.Op) -> None:
        if self._answer(c, op, self.runtime.pause):
            self.paused = True

    def _op_resume(self, c: _Client, op: proto.Op) -> None:
        if self._answer(c, op, self.runtime.resume):
            self.paused = False

    def _op_subscribe(self, c: _Client, op: proto.Op) -> None:
        c.subscribed = True
        state = "exited" if self.exit_code is not None else (
            "running" if self.started else "created")
        self._send(c, proto.Event(proto.STATUS, pid=self.pid, state=state,
                                  paused=self.paused).encode())

    _OPS = {proto.START: _op_start, proto.KILL: _op_kill, proto.RESIZE: _op_resize,
            proto.CLOSE_STDIN: _op_close_stdin, proto.PAUSE: _op_pause,
            proto.RESUME: _op_resume, proto.SUBSCRIBE: _op_subscribe}

    def _answer(self, c: _Client, op: proto.Op, action) -> bool:
        """Run a runtime operation for one client and answer it (done or error, with the
        op's call number). True if it was done."""
        if not self.pid or self.exit_code is not None:
            reply = proto.Event(proto.ERROR, message="container not running", call=op.call)
        else:
            try:
                action()
                reply = proto.Event(proto.DONE, call=op.call)
            except (KetchError, OSError) as exc:
                reply = proto.Event(proto.ERROR, message=str(exc), call=op.call)
        self._send(c, reply.encode())
        return reply.event == proto.DONE

    def _write_stdin(self, data: bytes) -> None:
        if self.stdin_fd < 0:
            return
        if not data:
            self._close_stdin()
            return
        try:
            os.set_blocking(self.stdin_fd, True)
            os.write(self.stdin_fd, data)
        except OSError:
            self._close_stdin()

    def _close_stdin(self) -> None:
        if self.stdin_fd >= 0 and self.stdin_fd != self.pty_fd:
            os.close(self.stdin_fd)
            self.stdin_fd = -1
        elif self.pty_fd >= 0:
            os.write(self.pty_fd, b"\x04")  # a terminal's EOF is ^D

    def _on_output(self, fd: int) -> None:
        data = read_output(fd)
        if data is None:
            return
        stream = self.outputs[fd]
        now = time.time_ns()
        if not data:
            self.log.flush(stream, now)
            self.sel.unregister(fd)
            del self.outputs[fd]
            if fd != self.pty_fd:
                os.close(fd)
            return
        self.log.write(stream, data, now)
        self.broadcast(proto.frame(proto.STDOUT if stream == "stdout" else proto.STDERR, data))

    def _on_signal(self, _fd) -> None:
        code = self._exits.reap(self.pid)
        if code is not None:
            self.exit_code = code

    # -- output -----------------------------------------------------------------
    def broadcast(self, data: bytes) -> None:
        for c in list(self.clients):
            if c.subscribed:
                self._send(c, data)

    def _send(self, c: _Client, data: bytes) -> None:
        try:
            c.sock.sendall(data)
        except OSError:
            self._drop(c)

    def _drop(self, c: _Client) -> None:
        if c in self.clients:
            self.clients.remove(c)
            self.sel.unregister(c.sock)
            c.sock.close()
        if c is self.creator and not self.started and self.exit_code is None:
            self.abandoned = True

    # -- main loop --------------------------------------------------------------
    def run(self) -> None:
        if not self.create():
            self._finish(None)
            return
        while self.exit_code is None and not self.abandoned:
            for key, _ in self.sel.select():
                key.data(key.fd)
            if self.started and self.exit_code is None and not self.handed_over:
                self.handed_over = True
                self._hand_over()  # returns only if there is no C monitor to exec
        if self.abandoned:  # the init waits on exec.fifo: delete ends it, unstarted
            self._finish(None)
            return
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while self.outputs and time.monotonic() < deadline:
            for key, _ in self.sel.select(timeout=0.05):
                if key.fd in self.outputs:
                    key.data(key.fd)
        self._finish(self.exit_code)

    def _hand_over(self) -> None:
        """exec the C monitor with everything it needs (see handover.py). Called between
        two batches of events, so every frame already read has been handled; what is left
        in a client's frame reader and the log's partial lines go over as memfds."""
        path = handover.binary()
        if path is None:
            return
        req = self.req
        h = handover.Handover(path)
        h.arg("--id", req.id, "--pid", str(self.pid), "--state-dir", req.state_dir)
        if self.log.fileno() >= 0:
            h.fd("--log-fd", self.log.fileno())
        h.arg("--log-path", req.log_path, *handover.log_args(req.log))
        h.fd("--listener", self.listener.fileno())
        for fd, stream in self.outputs.items():
            h.fd(f"--{stream}", fd)
        if self.pty_fd >= 0:
            h.fd("--pty", self.pty_fd)
        elif self.stdin_fd >= 0:
            h.fd("--stdin", self.stdin_fd)
        for stream, data in self.log.partial().items():
            if data:
                h.arg(f"--partial-{stream}", str(h.memfd(data)))
        for c in self.clients:
            fd = c.sock.fileno()
            h.keep.append(fd)
            spec = f"{fd}:{int(c.subscribed)}"
            if c.reader.pending():
                spec += f":{h.memfd(c.reader.pending())}"
            h.arg("--client", spec)
        if self.paused:
            h.arg("--paused")
        if req.cgroups_path:
            h.arg("--cgroups-path", req.cgroups_path)
        if os.environ.get(handover.ENV_TRACE):
            h.arg("--trace", os.path.join(os.environ[handover.ENV_TRACE], f"{req.id}.trace"))
        command, kind = handover.runtime_command(req.runtime, req.runtime_root)
        if kind == "ketch" and self.forkserver:
            h.arg("--delete-via", self.forkserver, handover.delete_request(req))
        h.arg("--runtime-kind", kind, "--", *command)
        h.execute()

    def _finish(self, exit_code: int | None) -> None:
        finished = format_ns(time.time_ns())
        oom = exit_code is not None and self._oom_killed()
        # The runtime's state and the cgroup go before "exited" is reported, so that whoever
        # sees the exit also sees nothing of the container left on the host.
        self.runtime.delete()
        self.log.close()
        # Nothing in the bundle directory is touched after "exited": ketchd may start the
        # next run there at once, and its monitor listens on the same monitor.sock.
        self.sel.unregister(self.listener)
        self.listener.close()
        try:
            os.unlink(os.path.join(self.req.state_dir, "monitor.sock"))
        except FileNotFoundError:
            pass
        if exit_code is not None:
            exited = proto.Event(proto.EXITED, exit_code=exit_code, finished_at=finished,
                                 oom_killed=oom)
            write_file(os.path.join(self.req.state_dir, "exit.json"),
                       json.dumps(exited.exit_doc()).encode(), 0o600)
            self.broadcast(exited.encode())
        if self.pty_fd >= 0:
            os.close(self.pty_fd)
        for c in list(self.clients):
            self._drop(c)

    def _oom_killed(self) -> bool:
        if not self.req.cgroups_path:
            return False
        try:
            return cgroups.manager(self.req.cgroups_path).oom_killed()
        except OSError:
            return False


def _redirect_stdio(log_path: str) -> None:
    # The fork server's stdio leads to ketchd, which the monitor must outlive.
    null = os.open("/dev/null", os.O_RDWR)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)


def run_monitor(req: MonitorRequest, conn: socket.socket, forkserver: str = "") -> None:
    """Entry point in the forked monitor process: never returns. ``forkserver``: the fork
    server's socket, where a C monitor asks for its container's delete."""
    status = 0
    try:
        _redirect_stdio(os.path.join(req.state_dir, "monitor.log"))
        sc.set_process_name("ketch-monitor")
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
        Monitor(req, conn, forkserver).run()
    except BaseException:  # noqa: BLE001 - report and die; there is no one to raise to
        import traceback
        traceback.print_exc()
        status = 1
    finally:
        os._exit(status)
