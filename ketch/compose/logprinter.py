"""Containers' output as compose prints it: ``web-1  | line``, one colour per container.

``LogPrinter`` is compose's formatter.logConsumer: every name gets a prefix padded to the
longest name registered so far plus one (``%-*s | ``), coloured from compose's rainbow
(cyan, yellow, green, magenta, blue, then their intense forms) unless colour is off.
``watch`` follows containers' streams (a thread each) into a printer: the attach stream
for an attached ``up``, the logs endpoint for ``logs``.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from typing import Callable, TextIO

from ketch.compose.eventlines import rfc3339_nano

_NAMES = ("grey", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
_CODES = {name: str(30 + i) for i, name in enumerate(_NAMES)}
# compose's rainbow, in its order
RAINBOW = tuple([_CODES[n] for n in ("cyan", "yellow", "green", "magenta", "blue")]
                + [_CODES[n] + ";1" for n in ("cyan", "yellow", "green", "magenta", "blue")])
RESET_LINE = "\r\033[K"  # goterm.RESET_LINE, before a status line on a terminal


def paint(code: str | None, text: str) -> str:
    return text if code is None else f"\033[{code}m{text}\033[0m"


class LogPrinter:
    """Thread-safe: each call writes whole lines under a lock."""

    def __init__(self, out: TextIO, *, color: bool, prefix: bool = True, timestamps: bool = False,
                 err: TextIO | None = None) -> None:
        self.out = out
        self.err_out = err or out
        self.color = color
        self.prefix = prefix
        self.timestamps = timestamps
        self._lock = threading.Lock()
        self._colors: dict[str, str | None] = {}
        self._prefixes: dict[str, str] = {}
        self._next = 0

    def register(self, name: str) -> None:
        """Give ``name`` its colour and re-pad every prefix to the longest name."""
        with self._lock:
            self._register(name)

    def _register(self, name: str) -> None:
        if name in self._colors:
            return
        code = None
        if self.color and name:
            code = RAINBOW[self._next % len(RAINBOW)]
            self._next += 1
        self._colors[name] = code
        width = max(len(n) for n in self._colors) + 1
        for n, c in self._colors.items():
            self._prefixes[n] = paint(c, f"{n:<{width}} | ") if self.prefix else ""

    def log(self, name: str, message: str) -> None:
        """A message (its lines) from ``name`` on stdout."""
        self._write(self.out, name, message)

    def err(self, name: str, message: str) -> None:
        self._write(self.err_out, name, message)

    def status(self, name: str, message: str) -> None:
        """compose's status line in the container's colour: ``web-1 exited with code 0``."""
        with self._lock:
            self._register(name)
            text = f"{RESET_LINE if self.color else ''}{name} {message}\n"
            self.out.write(paint(self._colors[name], text))
            self.out.flush()

    def _write(self, stream: TextIO, name: str, message: str) -> None:
        stamp = rfc3339_nano(time.time_ns(), fixed=True) + " " if self.timestamps else ""
        with self._lock:
            self._register(name)
            prefix = self._prefixes[name]
            stream.write("".join(f"{prefix}{stamp}{line}\n" for line in message.split("\n")))
            stream.flush()


# -- following containers -------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class LogTarget:
    """A container to follow: its ID and the name printed before its lines."""
    id: str
    name: str


def display_name(container: dict) -> str:
    """compose's getContainerNameWithoutProject: ``web-1`` for ``proj-web-1``, the whole
    name for a ``container_name:`` one. ``container`` is a /containers/json item or an
    inspect document."""
    from ketch.compose import labels as L
    names = container.get("Names")
    name = (names[0] if names else container.get("Name", "")).lstrip("/")
    lab = container.get("Labels") or (container.get("Config") or {}).get("Labels") or {}
    project = lab.get(L.PROJECT, "")
    default = f"{project}-{lab.get(L.SERVICE, '')}-{lab.get(L.CONTAINER_NUMBER, '')}"
    return name if name != default or not project else name[len(project) + 1:]


def target(container) -> LogTarget:
    if isinstance(container, LogTarget):
        return container
    if isinstance(container, dict):
        return LogTarget(container.get("Id") or container.get("ID"), display_name(container))
    return LogTarget(container.id, container.name)


class _LineSplitter:
    """compose's utils.GetWriter: whole lines to ``emit``; what is left at the end too."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.buf = b""

    def feed(self, data: bytes) -> None:
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            self.emit(line.decode("utf-8", "replace"))

    def close(self) -> None:
        if self.buf:
            self.emit(self.buf.decode("utf-8", "replace"))
            self.buf = b""


class Watch:
    """Threads following containers; ``on_end(target)`` runs when one's stream ends."""

    def __init__(self, ctx, printer: LogPrinter, *, source: str, follow: bool, tail: str | None,
                 since: str | None, until: str | None, timestamps: bool,
                 on_end: Callable[[LogTarget], None] | None = None) -> None:
        if source not in ("attach", "logs"):
            raise ValueError(f"unknown source {source!r}")
        self.ctx = ctx
        self.printer = printer
        self.source = source
        self.query = {"follow": follow, "tail": tail, "since": since or None,
                      "until": until or None, "timestamps": timestamps}
        self.on_end = on_end
        self.errors: list[Exception] = []
        self._threads: list[threading.Thread] = []
        self._by_id: dict[str, threading.Thread] = {}
        self._socks: list[socket.socket] = []
        self._opened: list[threading.Event] = []  # set once a stream is open (or failed)
        self._lock = threading.Lock()
        self._stopped = False

    def add(self, container, *, since: str | None = None) -> LogTarget:
        """Follow one more container (a /containers/json item, an inspect document, a
        LogTarget); ``since`` overrides the watch's (a restarted container's logs)."""
        t = target(container)
        self.printer.register(t.name)
        opened = threading.Event()
        thread = threading.Thread(target=self._follow, args=(t, since, opened), daemon=True,
                                  name=f"logs-{t.name}")
        with self._lock:
            self._opened.append(opened)
            self._threads.append(thread)
            self._by_id[t.id] = thread
        thread.start()
        return t

    def following(self, cid: str, grace: float = 0.0) -> bool:
        """Whether a stream of container ``cid`` is still being read (after ``grace``
        seconds for one that is about to end)."""
        with self._lock:
            thread = self._by_id.get(cid)
        if thread is not None and grace:
            thread.join(grace)
        return thread is not None and thread.is_alive()

    def opened(self, timeout: float | None = None) -> bool:
        """Wait until every stream is open (attached `up` starts the containers only then,
        so no first line is lost); False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            events = list(self._opened)
        return all(e.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
                   for e in events)

    def _follow(self, t: LogTarget, since: str | None, opened: threading.Event) -> None:
        from ketch.client.http import ConnectionFailed, HTTPError
        from ketch.cli.streams import Demuxer
        client = self.ctx.client()
        try:
            tty = bool(client.inspect_container(t.id)["Config"].get("Tty"))
            out = _LineSplitter(lambda line: self.printer.log(t.name, line))
            err = out
            if self.source == "attach":
                err = _LineSplitter(lambda line: self.printer.err(t.name, line))
                conn = client.attach(t.id, False, True, True)
                sock, first = conn.sock, conn.pending
                chunks = _recv_all(conn, first)
            else:
                query = dict(self.query, since=since or self.query["since"])
                resp = client.logs(t.id, stdout=True, stderr=True,
                                   **{k: v for k, v in query.items() if v not in (None, False)})
                sock = resp.conn.sock
                chunks = resp.chunks()
            with self._lock:
                self._socks.append(sock)
                stopped = self._stopped
            opened.set()
            if not stopped:
                demux = Demuxer(tty)
                for chunk in chunks:
                    for stream, payload in demux.feed(chunk):
                        (err if stream == 2 else out).feed(payload)
            out.close()
            err.close()
        except (HTTPError, ConnectionFailed, OSError) as exc:
            if not self._stopped:
                with self._lock:
                    self.errors.append(exc)
        finally:
            opened.set()
            client.close()
        if self.on_end is not None and not self._stopped:
            self.on_end(t)

    def stop(self) -> None:
        """End every stream now (the threads then end)."""
        with self._lock:
            self._stopped = True
            socks = list(self._socks)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every thread, those added meanwhile too; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [t for t in self._threads if t.is_alive()]
            if not pending:
                return True
            for thread in pending:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                thread.join(left)
                if deadline is not None and time.monotonic() >= deadline:
                    with self._lock:
                        return not any(t.is_alive() for t in self._threads)


def _recv_all(hijacked, first: bytes):
    if first:
        yield first
    while data := hijacked.sock.recv(65536):
        yield data


def watch(ctx, printer: LogPrinter, containers, *, source: str = "attach", follow: bool = True,
          tail: str | None = None, since: str | None = None, until: str | None = None,
          timestamps: bool = False, on_end: Callable[[LogTarget], None] | None = None) -> Watch:
    """Start following ``containers`` into ``printer``; the Watch takes more with ``add``."""
    w = Watch(ctx, printer, source=source, follow=follow, tail=tail, since=since, until=until,
              timestamps=timestamps, on_end=on_end)
    targets = [target(c) for c in containers]
    for t in targets:  # the width of every prefix known before the first line
        printer.register(t.name)
    for t in targets:
        w.add(t)
    return w
