"""Attaching and detaching: `ketch attach`, `run -it`/`start -ai` detach keys, the
`detachKeys` API parameter, driven through a real pseudo-terminal as a user types."""

import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import time

import pytest

from tests.integration.conftest import PYTHON, REPO

CTRL_P_Q = b"\x10\x11"


class Terminal:
    """A ketch CLI process on a pty of its own: type into it, read what it shows."""

    def __init__(self, daemon, *args: str, docker: bool = False) -> None:
        argv = (["docker", *args] if docker else
                [PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                 "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO, *args])
        env = daemon.env()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvpe(argv[0], argv, env)
        self.seen = b""
        self.code: int | None = None

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 4096)
        except OSError:
            return False
        self.seen += data
        return bool(data)

    def expect(self, text: bytes, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            if time.monotonic() > deadline or not self._read(0.2):
                raise AssertionError(f"{text!r} never shown; the terminal shows {self.seen!r}")

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)

    def wait(self, timeout: float = 20) -> int:
        """The exit code, once the CLI ends (reading on so it never blocks on output)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                while self._read(0):
                    if not select.select([self.fd], [], [], 0)[0]:
                        break
                os.close(self.fd)
                self.code = os.waitstatus_to_exitcode(status)
                return self.code
            self._read(0.1)
        self.kill()
        raise AssertionError(f"the CLI did not end; the terminal shows {self.seen!r}")

    def kill(self) -> None:
        if self.code is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            os.close(self.fd)
            self.code = -9


@pytest.fixture
def terminal(daemon):
    opened = []

    def open_(*args: str, docker: bool = False) -> Terminal:
        opened.append(Terminal(daemon, *args, docker=docker))
        return opened[-1]
    yield open_
    for t in opened:
        t.kill()


def _state(daemon, name: str) -> str:
    return daemon.ketch("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name).stdout.strip()


def test_detach_from_run_it_and_attach_again(daemon, names, terminal):
    name = names()
    t = terminal("run", "-it", "--name", name, "busybox", "sh")
    t.expect(b"/ # ")
    t.type(b"echo one-$((40+2))\r")
    t.expect(b"one-42")
    t.type(CTRL_P_Q)
    assert t.wait() == 0, t.seen  # docker run: detaching is a success
    assert _state(daemon, name) == "running 0"

    # docker attach: the same shell, its state intact; detaching says so and exits 1.
    t = terminal("attach", name)
    t.type(b"echo two-$((40+3))\r")
    t.expect(b"two-43")
    t.type(CTRL_P_Q)
    assert t.wait() == 1
    assert b"read escape sequence" in t.seen
    assert _state(daemon, name) == "running 0"

    # The shell's own end is the attach's end, with its code.
    t = terminal("container", "attach", "--detach-keys", "ctrl-x,x", name)
    t.type(b"echo three-$((1+2))\r")
    t.expect(b"three-3")
    t.type(b"exit 4\r")
    assert t.wait() == 4, t.seen
    assert _state(daemon, name) == "exited 4"
    daemon.ketch("rm", name, check=True)


def test_custom_keys_false_starts_and_start_ai(daemon, names, terminal):
    name = names()
    t = terminal("run", "-it", "--detach-keys", "ctrl-a,b", "--name", name, "busybox", "sh")
    t.expect(b"/ # ")
    t.type(b"stty -ixon; echo ready; cat -v\r")
    t.expect(b"ready\r\n")
    # The default keys are data now, and so is "\x01" followed by anything but "b".
    t.type(CTRL_P_Q + b"\x01c\r")
    t.expect(b"^P^Q^Ac")
    t.type(b"\x04\x01b")
    assert t.wait() == 0, t.seen
    assert _state(daemon, name) == "running 0"
    daemon.ketch("kill", name, check=True)
    assert daemon.ketch("wait", name).stdout.strip() == "137"

    t = terminal("start", "-ai", "--detach-keys", "ctrl-e", name)
    t.expect(b"/ # ")
    t.type(b"\x05")
    assert t.wait() == 0, t.seen
    assert _state(daemon, name) == "running 0"
    daemon.ketch("rm", "-f", name, check=True)


def test_detach_keys_only_on_a_terminal(daemon, names):
    """Without -t the bytes are data: moby's escape proxy reads only a terminal's input."""
    res = daemon.ketch("run", "--rm", "-i", "busybox", "od", "-An", "-tx1", input=CTRL_P_Q + b"z")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["10", "11", "7a"]


def test_bad_detach_keys_create_nothing(daemon, names):
    name = names()
    res = daemon.ketch("run", "-i", "--detach-keys", "ctrl-!", "--name", name, "busybox", "true")
    assert res.returncode == 125
    assert "Invalid detach keys (ctrl-!) provided" in res.stderr
    assert daemon.api("GET", f"/containers/{name}/json")[0] == 404
    # -d never attaches, so the keys do not matter (as in docker)
    res = daemon.ketch("run", "-d", "--detach-keys", "nonsense", "--name", name, "busybox", "true")
    assert res.returncode == 0, res.stderr
    daemon.ketch("rm", "-f", name, check=True)


def test_attach_refusals(daemon, names):
    name = names()
    daemon.ketch("create", "--name", name, "busybox", "true", check=True)
    res = daemon.ketch("attach", name)
    assert (res.returncode, res.stderr) == (1, "You cannot attach to a stopped container, start it first\n")
    res = daemon.ketch("attach", "no-such-container-here")
    assert (res.returncode, res.stderr) == (1, "Error response from daemon: No such container: no-such-container-here\n")
    res = daemon.ketch("attach")
    assert res.returncode == 1 and res.stderr.startswith("ketch: 'ketch attach' requires 1 argument\n")
    daemon.ketch("rm", name, check=True)

    daemon.ketch("run", "-dit", "--name", name, "busybox", "sh", check=True)
    res = daemon.ketch("attach", name, input="")
    assert (res.returncode, res.stderr) == (1, "the input device is not a TTY\n")
    daemon.ketch("rm", "-f", name, check=True)


def test_attach_without_tty_follows_output_to_the_exit_code(daemon, names):
    name = names()
    daemon.ketch("run", "-d", "-i", "--name", name, "busybox", "sh", "-c",
                 "read line; echo got $line; exit 6", check=True)
    # stdin stays open: its end would end the attach (the container was not run with
    # StdinOnce), and output after that is not ours to see, as with docker.
    proc = subprocess.Popen([PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                             "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO,
                             "attach", name], env=daemon.env(), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(b"hello\n")
        proc.stdin.flush()
        assert proc.wait(30) == 6, proc.stderr.read()
        assert proc.stdout.read() == b"got hello\n"
    finally:
        proc.kill()
        proc.communicate()


def test_api_detach_keys_end_the_stream_and_leave_the_container(daemon, names):
    """docker SDK style: detachKeys on the attach request; the daemon ends the stream."""
    name = names()
    cid = daemon.ketch("run", "-dit", "--name", name, "busybox", "sh", check=True).stdout.strip()
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(daemon.socket)
        s.sendall(f"POST /v1.45/containers/{cid}/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x "
                  "HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode())
        s.settimeout(20)
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        assert head.startswith(b"HTTP/1.1 101"), head
        s.sendall(b"echo via-$((1+1))\r")
        seen = head
        while b"via-2" not in seen:
            data = s.recv(4096)
            assert data, seen
            seen += data
        s.sendall(b"\x18")
        while s.recv(4096):  # the daemon closes the stream
            pass
    assert _state(daemon, name) == "running 0"
    status, body = daemon.api("POST", f"/containers/{cid}/attach?stream=1&stdin=1&detachKeys=ctrl-1")
    assert status == 400 and body["message"] == "Invalid detach keys (ctrl-1) provided"
    daemon.ketch("rm", "-f", name, check=True)


@pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")
def test_docker_cli_detaches_and_attaches(daemon, names, terminal):
    name = names()
    t = terminal("run", "-it", "--name", name, "busybox", "sh", docker=True)
    t.expect(b"/ # ")
    t.type(b"echo one-$((40+2))\r")
    t.expect(b"one-42")
    t.type(CTRL_P_Q)
    assert t.wait() == 0, t.seen
    assert _state(daemon, name) == "running 0"
    t = terminal("attach", "--detach-keys", "ctrl-e", name, docker=True)
    t.type(b"echo two-$((40+3))\r")
    t.expect(b"two-43")
    t.type(b"exit 5\r")
    assert t.wait() == 5, t.seen
    assert _state(daemon, name) == "exited 5"
    daemon.ketch("rm", name, check=True)


def test_detach_keys_from_the_config_file(daemon, names, terminal, tmp_path):
    (tmp_path / "config.json").write_text('{"detachKeys": "ctrl-e"}')
    name = names()
    t = terminal("--config", str(tmp_path), "run", "-it", "--name", name, "busybox", "sh")
    t.expect(b"/ # ")
    t.type(b"\x05")
    assert t.wait() == 0, t.seen
    assert _state(daemon, name) == "running 0"
    t = terminal("--config", str(tmp_path), "attach", "--detach-keys", "ctrl-x", name)
    t.type(b"echo flag-$((2+2))\r")
    t.expect(b"flag-4")
    t.type(b"\x05\x18")  # the flag wins over the file
    assert t.wait() == 1 and b"read escape sequence" in t.seen
    daemon.ketch("rm", "-f", name, check=True)
