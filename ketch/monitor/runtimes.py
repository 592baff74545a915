"""The runtimes a monitor can drive: ketch's own, in-process, or any runc-compatible binary.

Both fit one small interface: ``create`` (the container waits before exec and its pid
is known), ``start``, ``delete``. ketch's runtime is called as a library because the
monitor is already a fresh single-threaded process; runc and crun are run through
their command line, the contract containerd's shim uses::

    <runtime> [args] --root R create --bundle B --pid-file P [--console-socket S] ID
    <runtime> [args] --root R start ID
    <runtime> [args] --root R delete --force ID
"""

import array
import json
import os
import socket
import subprocess
from dataclasses import dataclass

from ketch.errors import ExecFailed, InvalidArgument
from ketch.monitor.protocol import RuntimeSpec
from ketch.runtime import container as rt
from ketch.runtime.process import Stdio


@dataclass
class Created:
    pid: int
    console_fd: int = -1


class KetchRuntime:
    def __init__(self, root: str, cid: str) -> None:
        self.root, self.id = root, cid
        self._container: rt.Container | None = None

    def create(self, bundle: str, stdio: Stdio | None, terminal: bool) -> Created:
        self._container, created = rt.create(self.root, self.id, bundle, stdio)
        return Created(created.pid, created.console_fd)

    def start(self) -> None:
        self._container.start()

    def pause(self) -> None:
        self._container.pause()

    def resume(self) -> None:
        self._container.resume()

    def delete(self) -> None:
        if self._container is not None:
            self._container.delete(force=True)


def _exec_error(text: str) -> Exception:
    """runc's create failure, classified the way docker/cli does for exit codes."""
    text = text or "runtime create failed"
    message = text if text.startswith("OCI runtime") else f"OCI runtime create failed: {text}: unknown"
    if "executable file not found" in text or "no such file or directory" in text:
        return ExecFailed(message, 127)
    if "permission denied" in text:
        return ExecFailed(message, 126)
    return InvalidArgument(message)


class CliRuntime:
    def __init__(self, spec: RuntimeSpec, root: str, cid: str, state_dir: str) -> None:
        self.spec, self.root, self.id, self.state_dir = spec, root, cid, state_dir

    def _cmd(self, *args: str) -> list[str]:
        return [self.spec.path, *self.spec.args, "--root", self.root, *args]

    def create(self, bundle: str, stdio: Stdio | None, terminal: bool) -> Created:
        pid_file = os.path.join(self.state_dir, "runtime.pid")
        log_file = os.path.join(self.state_dir, "runtime.log")
        # The container inherits the runtime's stdio, so its own errors go to --log.
        args = ["--log", log_file, "--log-format", "json", "create", "--bundle", bundle,
                "--pid-file", pid_file]
        console = None
        if terminal:
            sock_path = os.path.join(self.state_dir, "console.sock")
            console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            console.bind(sock_path)
            console.listen(1)
            args += ["--console-socket", sock_path]
        fds = (stdio.stdin, stdio.stdout, stdio.stderr) if stdio else (
            subprocess.DEVNULL, subprocess.DEVNULL, subprocess.DEVNULL)
        try:
            proc = subprocess.Popen(self._cmd(*args, self.id), stdin=fds[0], stdout=fds[1],
                                    stderr=fds[2], close_fds=True)
            master = _receive_console(console, proc) if console is not None else -1
            if proc.wait() != 0:
                if master >= 0:
                    os.close(master)
                raise _exec_error(_last_error(log_file))
        finally:
            if console is not None:
                console.close()
        with open(pid_file) as f:
            return Created(int(f.read().strip()), master)

    def start(self) -> None:
        res = subprocess.run(self._cmd("start", self.id), capture_output=True, text=True)
        if res.returncode != 0:
            raise InvalidArgument(f"OCI runtime start failed: {res.stderr.strip()}")

    def pause(self) -> None:
        self._simple("pause")

    def resume(self) -> None:
        self._simple("resume")

    def _simple(self, command: str) -> None:
        res = subprocess.run(self._cmd(command, self.id), capture_output=True, text=True)
        if res.returncode != 0:
            raise InvalidArgument(f"OCI runtime {command} failed: {res.stderr.strip()}")

    def delete(self) -> None:
        subprocess.run(self._cmd("delete", "--force", self.id), capture_output=True)


def _last_error(log_file: str) -> str:
    """The last error a runtime wrote to its --log (JSON lines: level, msg)."""
    message = ""
    try:
        with open(log_file) as f:
            for line in f:
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if doc.get("level") in ("error", "fatal"):
                    message = doc.get("msg", "")
    except OSError:
        pass
    return message


def _receive_console(listener: socket.socket, proc: subprocess.Popen) -> int:
    """The pty master a runtime sends over --console-socket (SCM_RIGHTS), or -1 if the
    runtime exits (failed) without sending one."""
    listener.settimeout(0.05)
    while True:
        try:
            conn, _ = listener.accept()
            break
        except TimeoutError:
            if proc.poll() is not None:
                return -1
    with conn:
        fds = array.array("i")
        _msg, ancdata, _flags, _addr = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    return fds[0] if fds else -1


def make(spec: RuntimeSpec, root: str, cid: str, state_dir: str):
    if not spec.path:
        return KetchRuntime(root, cid)
    return CliRuntime(spec, os.path.join(root, spec.name), cid, state_dir)


def force_delete(spec: RuntimeSpec, root: str, cid: str, state_dir: str) -> None:
    """End a container nobody supervises any more (its monitor is gone): kill its
    processes, remove its cgroup and the runtime's state. Missing state is not an error."""
    if spec.path:
        CliRuntime(spec, os.path.join(root, spec.name), cid, state_dir).delete()
        return
    from ketch.errors import NotFound
    from ketch.runtime import state
    try:
        state.load(root, cid).delete(force=True)
    except NotFound:
        pass


_EXEC_PREFIX = "exec failed: unable to start container process: "


def cli_exec(req, stdio: Stdio | None):
    """``<runtime> exec --detach --process`` for an exec supervisor (``execsession.py``): the
    process is reparented to the supervisor, a subreaper, once the runtime exits."""
    from ketch.runtime.process import Created as ProcessCreated
    spec = req.runtime
    state_dir = req.state_dir
    base = f"exec-{req.exec_id[:12]}"
    process_file = os.path.join(state_dir, base + ".json")
    pid_file = os.path.join(state_dir, base + ".pid")
    log_file = os.path.join(state_dir, base + ".log")
    with open(process_file, "w") as f:
        json.dump(req.process, f)
    cmd = [spec.path, *spec.args, "--root", os.path.join(req.runtime_root, spec.name), "--log",
           log_file, "--log-format", "json", "exec", "--detach", "--process", process_file,
           "--pid-file", pid_file]
    console = None
    if req.process.get("terminal"):
        sock_path = os.path.join(state_dir, base + ".sock")
        console = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        console.bind(sock_path)
        console.listen(1)
        cmd += ["--console-socket", sock_path]
    fds = (stdio.stdin, stdio.stdout, stdio.stderr) if stdio else (
        subprocess.DEVNULL, subprocess.DEVNULL, subprocess.DEVNULL)
    try:
        proc = subprocess.Popen(cmd + [req.container_id], stdin=fds[0], stdout=fds[1],
                                stderr=fds[2], close_fds=True)
        master = _receive_console(console, proc) if console is not None else -1
        if proc.wait() != 0:
            if master >= 0:
                os.close(master)
            text = _last_error(log_file).removeprefix(_EXEC_PREFIX) or "runtime exec failed"
            code = 127 if ("executable file not found" in text or "no such file or directory" in text) \
                else 126
            raise ExecFailed(text, code)
        with open(pid_file) as f:
            return ProcessCreated(int(f.read().strip()), master)
    finally:
        if console is not None:
            console.close()
            os.unlink(sock_path)
        for path in (process_file, pid_file, log_file):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
