"""Frames between ketchd and a monitor.

Each frame is Docker's 8-byte stream header (stream id, three zero bytes, big-endian
payload length) followed by the payload, so stdout/stderr frames can be forwarded to
an attached client as they are. Stream ids 0-2 are stdin/stdout/stderr; CONTROL
frames carry one JSON object.

The conversation, on the connection the fork server hands the monitor (the
"creator") and on later connections to ``monitor.sock`` (after a ketchd restart)::

    ketchd                                         monitor
    ── MonitorRequest as one JSON line ──────────▶ (via the fork server)
                                                   runtime create
    ◀── created {pid} ─────────────────────────── (or error {message, exit_code}; the end)
    ── start ─────────────────────────────────────▶ runtime start
    ◀── started {started_at} ──────────────────── (or error)
    ◀── stdout/stderr frames ───────────────────── while the container runs
    ── stdin frames, kill {signal}, resize {height, width}, close_stdin ──▶
    ── pause/resume {call} ──────────────────────▶ ◀── done {call} | error {call, message}
    ◀── exited {exit_code, finished_at, oom_killed} ── exit.json is written first;
                                                   then the monitor closes and ends
    later connection:
    ── subscribe ─────────────────────────────────▶
    ◀── status {state: created|running|exited, pid, paused} ── then output and events

From "started" on, the peer is the C monitor the Python one exec()s into (same process,
same connections; ``handover.py``): it speaks exactly this protocol.

If the creator's connection closes before ``start``, nobody will ever start the
container: the monitor deletes it and ends (its ketchd died during the start). A
closed connection from the monitor's side always means the monitor is ending.
"""

import json
import struct
from dataclasses import dataclass, field

from ketch.value import Value

STDIN, STDOUT, STDERR = 0, 1, 2
CONTROL = 0x10
HEADER = struct.Struct(">BxxxI")
HEADER_SIZE = HEADER.size


def frame(stream: int, payload: bytes) -> bytes:
    return HEADER.pack(stream, len(payload)) + payload


def control(doc: dict) -> bytes:
    return frame(CONTROL, json.dumps(doc, separators=(",", ":")).encode())


# ketchd -> monitor
START, KILL, RESIZE, CLOSE_STDIN, PAUSE, RESUME, SUBSCRIBE = (
    "start", "kill", "resize", "close_stdin", "pause", "resume", "subscribe")
OPS = (START, KILL, RESIZE, CLOSE_STDIN, PAUSE, RESUME, SUBSCRIBE)
# monitor -> ketchd
CREATED, STARTED, ERROR, EXITED, STATUS, DONE = (
    "created", "started", "error", "exited", "status", "done")


class Op(Value):
    """An operation ketchd asks of a monitor. ``call`` numbers the ops that are answered
    (pause, resume) so the answer finds its caller."""
    # op: str
    # signal: int     kill
    # height: int     resize
    # width: int      resize
    # call: int       pause, resume
    FIELDS = __slots__ = ("op", "signal", "height", "width", "call")
    DEFAULTS = {"signal": 0, "height": 0, "width": 0, "call": 0}

    def encode(self) -> bytes:
        doc = {"op": self.op}
        for key in ("signal", "height", "width", "call"):
            if getattr(self, key):
                doc[key] = getattr(self, key)
        return control(doc)

    @classmethod
    def decode(cls, payload: bytes) -> "Op":
        doc = json.loads(payload)
        if doc.get("op") not in OPS:
            raise ValueError(f"unknown op {doc.get('op')!r}")
        return cls(doc["op"], int(doc.get("signal") or 0), int(doc.get("height") or 0),
                   int(doc.get("width") or 0), int(doc.get("call") or 0))


class Event(Value):
    """What a monitor tells ketchd (see the diagram above for which fields each carries)."""
    # event: str
    # pid: int           created, status
    # started_at: str    started
    # message: str       error
    # exit_code: int     error, exited
    # finished_at: str   exited
    # oom_killed: bool   exited
    # state: str         status: created | running | exited
    # paused: bool       status
    # call: int          done, error (the op's number)
    FIELDS = __slots__ = ("event", "pid", "started_at", "message", "exit_code", "finished_at",
                          "oom_killed", "state", "paused", "call")
    DEFAULTS = {"pid": 0, "started_at": "", "message": "", "exit_code": 0, "finished_at": "",
                "oom_killed": False, "state": "", "paused": False, "call": 0}

    def encode(self) -> bytes:
        doc = {"event": self.event}
        for key in self.FIELDS[1:]:
            value = getattr(self, key)
            if value != self.DEFAULTS[key] or (self.event == EXITED and key in (
                    "exit_code", "finished_at", "oom_killed")):
                doc[key] = value
        return control(doc)

    @classmethod
    def decode(cls, payload: bytes) -> "Event":
        doc = json.loads(payload)
        return cls(str(doc.get("event", "")), int(doc.get("pid") or 0), doc.get("started_at", ""),
                   doc.get("message", ""), int(doc.get("exit_code") or 0),
                   doc.get("finished_at", ""), bool(doc.get("oom_killed")), doc.get("state", ""),
                   bool(doc.get("paused")), int(doc.get("call") or 0))

    def exit_doc(self) -> dict:
        """exit.json's content: the same fields the exited event carries."""
        return {"exit_code": self.exit_code, "finished_at": self.finished_at,
                "oom_killed": self.oom_killed}


class FrameReader:
    """Incremental decoder: feed bytes, get complete (stream, payload) frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        out = []
        while len(self._buf) >= HEADER_SIZE:
            stream, size = HEADER.unpack_from(self._buf)
            if len(self._buf) < HEADER_SIZE + size:
                break
            out.append((stream, bytes(self._buf[HEADER_SIZE:HEADER_SIZE + size])))
            del self._buf[:HEADER_SIZE + size]
        return out

    def pending(self) -> bytes:
        """Bytes fed but not yet part of a complete frame."""
        return bytes(self._buf)


@dataclass(frozen=True)
class RuntimeSpec:
    name: str = "ketch"
    path: str = ""  # a runc-compatible binary; empty for ketch's own runtime
    args: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def from_json(cls, doc: dict | None) -> "RuntimeSpec":
        doc = doc or {}
        return cls(doc.get("name", "ketch"), doc.get("path", ""), tuple(doc.get("args") or ()))

    def to_json(self) -> dict:
        return {"name": self.name, "path": self.path, "args": list(self.args)}


@dataclass(frozen=True)
class LogSpec:
    """How the monitor writes the container's log: ``json-file`` or ``local`` (the
    record format differs; both rotated when a write finds the file at ``max_size``
    bytes or more, ``max_file`` files kept, rotated files gzipped if ``compress``) or
    ``none`` (nothing written)."""
    driver: str = "json-file"
    max_size: int = -1
    max_file: int = 1
    compress: bool = False

    @classmethod
    def from_json(cls, doc: dict | None) -> "LogSpec":
        doc = doc or {}
        return cls(doc.get("driver", "json-file"), int(doc.get("max_size", -1)),
                   int(doc.get("max_file", 1)), bool(doc.get("compress")))

    def to_json(self) -> dict:
        return {"driver": self.driver, "max_size": self.max_size, "max_file": self.max_file,
                "compress": self.compress}


@dataclass(frozen=True)
class MonitorRequest:
    """What ketchd asks of a new monitor: the first line on its connection."""
    id: str
    bundle: str
    runtime_root: str
    state_dir: str
    log_path: str
    tty: bool = False
    stdin: bool = False
    runtime: RuntimeSpec = RuntimeSpec()
    cgroups_path: str = ""  # where to look for an OOM kill when the container exits
    log: LogSpec = LogSpec()

    @classmethod
    def from_json(cls, doc: dict) -> "MonitorRequest":
        return cls(doc["id"], doc["bundle"], doc["runtime_root"], doc["state_dir"],
                   doc["log_path"], bool(doc.get("tty")), bool(doc.get("stdin")),
                   RuntimeSpec.from_json(doc.get("runtime")), doc.get("cgroups_path", ""),
                   LogSpec.from_json(doc.get("log")))

    def to_line(self) -> bytes:
        doc = {"id": self.id, "bundle": self.bundle, "runtime_root": self.runtime_root,
               "state_dir": self.state_dir, "log_path": self.log_path, "tty": self.tty,
               "stdin": self.stdin, "runtime": self.runtime.to_json(),
               "cgroups_path": self.cgroups_path, "log": self.log.to_json()}
        return json.dumps(doc).encode() + b"\n"


@dataclass(frozen=True)
class ExecRequest:
    """What ketchd asks of an exec supervisor (``execsession.py``): run ``process`` (an OCI
    process document, complete) in the running container ``container_id``. Sent to the
    fork server as ``{"exec": {...}}``; the supervisor answers on the same connection
    with ``created {pid}`` or ``error``, output frames, then ``exited {exit_code}``."""
    exec_id: str
    container_id: str
    runtime_root: str
    state_dir: str  # the container's exec directory: the supervisor's own errors go to its log
    process: dict
    stdin: bool = False
    runtime: RuntimeSpec = RuntimeSpec()

    @classmethod
    def from_json(cls, doc: dict) -> "ExecRequest":
        return cls(doc["exec_id"], doc["container_id"], doc["runtime_root"], doc["state_dir"],
                   dict(doc["process"]), bool(doc.get("stdin")),
                   RuntimeSpec.from_json(doc.get("runtime")))

    def to_line(self) -> bytes:
        doc = {"exec_id": self.exec_id, "container_id": self.container_id,
               "runtime_root": self.runtime_root, "state_dir": self.state_dir,
               "process": self.process, "stdin": self.stdin, "runtime": self.runtime.to_json()}
        return json.dumps({"exec": doc}).encode() + b"\n"
