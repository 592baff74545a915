"""The fork server: a warm, single-threaded process that forks one monitor per container.

ketchd is multithreaded and must not fork namespaces itself, and a fresh Python
interpreter per container costs tens of milliseconds. So ketchd starts this process
once; it imports the monitor and the runtime up front and then, for each request on
its socket, forks a monitor (in a session of its own) that inherits the requesting
connection as its channel to ketchd::

    ketchd ── connect, {"id", "bundle", ...}\\n ──▶ fork server ── fork ──▶ monitor (setsid)
    ketchd ◀───────────── frames on the same connection ─────────────────────┘

It also forks exec supervisors (``execsession.py``), one per ``docker exec``, the
same way. It also deletes containers for C monitors (``handover.py``): a C monitor whose container
has exited sends ``{"delete": {...}}`` and a forked child runs ketch's runtime delete
in-process (~1 ms instead of a fresh interpreter's ~30 ms) and answers ``ok``; when
there is no fork server (ketchd is down) the monitor runs ``ketch-runtime delete``.
It also makes and enters network namespaces for ketchd (``netnsop.py``).

Each monitor is the fork server's child, reaped when its container is gone (a single
fork: a double fork, as daemons do it, cost one more fork and exit of this interpreter
per container for nothing; a session leader must only never open a terminal, and a
monitor opens none: a container's pty is opened inside the container and only its
master, which never becomes a controlling terminal, reaches the monitor). The fork
server is also a child subreaper. It dies with ketchd; its monitors are then
reparented to init and go on, so containers outlive both.
"""

import json
import os
import signal
import socket
import sys

from ketch.linux import syscalls as sc
from ketch.linux.unixpath import listen
from ketch.monitor import netnsop
from ketch.monitor.forkchild import answer_in_child
from ketch.monitor import protocol as proto
from ketch.monitor import runtimes
from ketch.monitor.execsession import run_exec
from ketch.monitor.monitor import run_monitor
from ketch.monitor.protocol import ExecRequest, MonitorRequest
from ketch.runtime import cgroups, execute, rootfs, seccomp

# Imported lazily by the runtime; loaded here once so that every monitor forks with them.
PRELOADED = (cgroups, execute, seccomp)


REQUEST_TIMEOUT = 10.0  # for a client's request line: one that never comes must not stop the server


def _read_request(conn: socket.socket) -> dict | None:
    conn.settimeout(REQUEST_TIMEOUT)
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buf += chunk
    conn.settimeout(None)  # the monitor or supervisor it goes to blocks as it always has
    return json.loads(buf)


def _delete(conn: socket.socket, listener: socket.socket, doc: dict) -> None:
    """Delete a container whose init is gone, in a child (the server goes on serving)."""
    spec = proto.RuntimeSpec.from_json(doc.get("runtime"))
    if spec.path:
        raise ValueError("only ketch's own runtime is deleted here")

    def work() -> None:  # the monitor falls back to the CLI on an error
        runtimes.force_delete(spec, doc["runtime_root"], doc["id"], doc["state_dir"])
        conn.sendall(b"ok\n")

    answer_in_child(conn, listener, work)


def _exec(conn: socket.socket, listener: socket.socket, doc: dict) -> None:
    """Fork an exec supervisor (``execsession.py``) for one ``docker exec``."""
    req = ExecRequest.from_json(doc)
    if os.fork():
        return  # _reap collects the supervisor when its process has exited
    try:
        listener.close()
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        run_exec(req, conn)
    finally:
        os._exit(1)


def _spawn(conn: socket.socket, listener: socket.socket, doc: dict, path: str) -> None:
    if "delete" in doc:
        _delete(conn, listener, doc["delete"])
        return
    if "exec" in doc:
        _exec(conn, listener, doc["exec"])
        return
    if "netns" in doc:
        netnsop.serve(conn, listener, doc["netns"])
        return
    req = MonitorRequest.from_json(doc)
    if os.fork():
        return  # _reap collects the monitor when its container is gone
    try:  # the monitor: a session of its own, detached from whoever asked
        listener.close()
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        run_monitor(req, conn, forkserver=path)
    finally:
        os._exit(1)


def _reap(_signum, _frame) -> None:
    """Collect monitors whose containers are gone (we are their subreaper)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(path: str) -> None:
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # ketchd died before we set the death signal
        return
    sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
    signal.signal(signal.SIGCHLD, _reap)
    if cgroups.detect() == "v1":
        rootfs.host_cgroup_mounts()  # read here once, inherited by every container's runtime
    listener = listen(path, 0o600, 64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        conn, _ = listener.accept()
        try:
            doc = _read_request(conn)
            if doc is not None:
                _spawn(conn, listener, doc, path)
        except Exception as exc:  # noqa: BLE001 - one bad request must not stop the server
            try:
                conn.sendall(proto.Event(proto.ERROR, message=str(exc), exit_code=125).encode())
            except OSError:
                pass
        finally:
            conn.close()


if __name__ == "__main__":
    serve(sys.argv[1])
