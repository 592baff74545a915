"""The hand-over from the Python monitor to the C monitor (``ketch-monitor``).

A forked Python process costs ~3 MiB of private memory per container (bench/SUPERVISION.md);
the C monitor ~0.1 MiB. So the Python monitor creates and starts the container as
before, and once it has broadcast "started" it ``exec()``s the C monitor, which does the
rest of ``Monitor``'s work (pump output, ops, reap, exit.json, "exited")::

    fork server ─ fork ─▶ Python monitor: create ─ "created" ─ start ─ "started" ─ exec ─▶ ketch-monitor
                          (same pid: the init stays its child, it stays a child subreaper)

What crosses the exec: fds (ketchd's connections, ``monitor.sock``'s listening socket,
the output pipes or the pty master, the stdin pipe), made inheritable while every
other fd is close-on-exec, and argv (pid, paths, the runtime's command line for
pause/resume/delete). Bytes the Python side had read but not handled (a partial log
line, the start of a client's next frame) go over in memfds.

The binary is built at install time (``scripts/install.sh``) next to its source,
``ketch/monitor/cmonitor/ketch-monitor``, so every checkout runs its own. Without it the
Python monitor simply goes on (the exec is the only switch). Environment, read by the
monitor (inherited from ketchd through the fork server):

    KETCH_MONITOR_BINARY   the C monitor to exec; empty: never exec (the Python monitor)
    KETCH_MONITOR_TRACE    a directory: the C monitor records what it reads from the container
                           (chunks and times) in <dir>/<container id>.trace; tests replay it
                           through logfile.JsonFileWriter and compare the logs
"""

import json
import os
import sys

from ketch.monitor.protocol import LogSpec, RuntimeSpec

SOURCE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cmonitor")
DEFAULT_BINARY = os.path.join(SOURCE_DIR, "ketch-monitor")
ENV_BINARY = "KETCH_MONITOR_BINARY"
ENV_TRACE = "KETCH_MONITOR_TRACE"
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNTIME_CODE = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from ketch.runtime.cli import main; sys.exit(main(sys.argv[2:]))")


def binary() -> str | None:
    """The C monitor to exec, or None to stay in Python."""
    path = os.environ.get(ENV_BINARY, DEFAULT_BINARY)
    return path if path and os.access(path, os.X_OK) else None


def runtime_command(spec: RuntimeSpec, root: str) -> tuple[list[str], str]:
    """The runtime's command line up to the verb, and its kind ("ketch" or "cli"): the
    C monitor appends ``pause ID``, ``resume ID`` or ``delete --force ID``. ketch's own
    runtime runs as ``ketch-runtime`` from this checkout with this interpreter."""
    if spec.path:
        return [spec.path, *spec.args, "--root", os.path.join(root, spec.name)], "cli"
    return [sys.executable, "-I", "-S", "-c", RUNTIME_CODE, PACKAGE_ROOT, "--root", root], "ketch"


def log_args(spec: LogSpec) -> list[str]:
    """The C monitor's flags for the log's driver and rotation (the path goes as --log-path)."""
    args = ["--log-driver", spec.driver]
    if spec.max_size > 0:
        args += ["--log-max-size", str(spec.max_size), "--log-max-file", str(spec.max_file)]
    if spec.compress:
        args.append("--log-compress")
    return args


def delete_request(req) -> str:
    """The line a C monitor sends the fork server to have its container deleted."""
    doc = {"id": req.id, "runtime_root": req.runtime_root, "state_dir": req.state_dir,
           "runtime": req.runtime.to_json()}
    return json.dumps({"delete": doc}, separators=(",", ":")) + "\n"


class Handover:
    """Collects the fds and arguments, then execs."""

    def __init__(self, path: str) -> None:
        self.argv = [path]
        self.keep: list[int] = []
        self._memfds: list[int] = []

    def arg(self, *args: str) -> None:
        self.argv += args

    def fd(self, flag: str, fd: int) -> None:
        self.keep.append(fd)
        self.argv += [flag, str(fd)]

    def memfd(self, data: bytes) -> int:
        fd = os.memfd_create("ketch-handover")
        self._memfds.append(fd)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
        self.keep.append(fd)
        return fd

    def execute(self) -> None:
        """exec the C monitor; returns only if that failed (the caller goes on in Python)."""
        keep = set(self.keep) | {0, 1, 2}
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            try:
                os.set_inheritable(fd, fd in keep)
            except OSError:  # the listing's own fd, closed by now
                pass
        try:
            os.execv(self.argv[0], self.argv)
        except OSError as exc:
            print(f"ketch-monitor: cannot exec {self.argv[0]}: {exc}; the Python monitor goes on",
                  file=sys.stderr, flush=True)
        for fd in self.keep:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass
        for fd in self._memfds:
            os.close(fd)
