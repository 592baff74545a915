"""``exec``: the API, ``ketch exec``, the docker CLI and the docker SDK, on the real kernel.

The exec'd process must be the container's own process in every respect the probe can
see (capabilities, seccomp, no_new_privs, ids, rlimits, namespaces), except where the
exec says otherwise (``--privileged``, ``-u``, ``-w``, ``-e``)."""

import json
import os
import shutil
import socket

import pytest

from tests.integration.conftest import wait_until
from tests.integration.test_attach import Terminal
from tests.probe.image import probe_image

DOCKER = shutil.which("docker")
OCI_127 = ('OCI runtime exec failed: exec failed: unable to start container process: '
           'exec: "nope": executable file not found in $PATH: unknown')
PROBE = ["status", "--", "ids", "--", "rlimits", "--", "ns", "--", "syscall", "mount", "unshare_mnt",
         "keyctl", "ptrace", "chroot", "setns"]


def _exec_processes(daemon) -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "ketch-exec":
                    out.append(int(pid))
        except OSError:
            pass
    return out


@pytest.fixture
def running(daemon, names):
    name = names("exec")
    daemon.ketch("run", "-d", "--name", name, "-e", "FROM_RUN=1", "busybox", "sleep", "1000", check=True)
    yield name
    daemon.ketch("rm", "-f", name)
    assert wait_until(lambda: not _exec_processes(daemon), 10), "an exec supervisor outlived its container"


def test_exec_output_exit_code_and_environment(daemon, running):
    res = daemon.ketch("exec", running, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (res.returncode, res.stdout, res.stderr) == (3, "out\n", "err\n")
    res = daemon.ketch("exec", "-e", "A=1", "-u", "1000:1000", "-w", "/tmp", running,
                       "sh", "-c", 'echo "$A $FROM_RUN $HOSTNAME"; id -u; id -g; pwd; echo "${TERM:-none}"')
    hostname = daemon.ketch("inspect", "-f", "{{.Config.Hostname}}", running).stdout.strip()
    assert res.stdout.splitlines() == [f"1 1 {hostname}", "1000", "1000", "/tmp", "none"], res
    assert daemon.ketch("exec", "-i", running, "cat", input="piped\n").stdout == "piped\n"


def test_exec_large_input_while_the_process_writes(daemon, running):
    """The process writes as it reads: stdin written blocking stopped the supervisor reading
    the process's output once a pipe filled, and both waited for ever."""
    data = "".join(f"{i}\n" for i in range(60_000))  # ~350 kB, far past the pipes' 64 KiB
    res = daemon.ketch("exec", "-i", running, "cat", input=data, timeout=30)
    assert res.returncode == 0 and len(res.stdout) == len(data) and res.stdout == data
    # ten lines out for each line in: the output pipe fills long before the input is taken
    res = daemon.ketch("exec", "-i", running, "awk", "{for (i = 0; i < 10; i++) print}",
                       input=data, timeout=30)
    assert res.returncode == 0 and res.stdout.count("\n") == 10 * data.count("\n")


def test_exec_env_file_and_user_name(daemon, running, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("FROM_FILE=x\nA=file\n")
    res = daemon.ketch("exec", "--env-file", str(env_file), "-e", "A=flag", "-u", "nobody", running,
                       "sh", "-c", 'echo "$FROM_FILE $A"; id -un')
    assert res.stdout.splitlines() == ["x flag", "nobody"], res


def test_missing_command_and_refusals(daemon, running, names):
    res = daemon.ketch("exec", running, "nope")
    assert res.returncode == 127
    assert res.stdout == OCI_127 + "\r\n"
    daemon.ketch("pause", running, check=True)
    try:
        res = daemon.ketch("exec", running, "true")
        assert (res.returncode, res.stderr.strip()) == (
            1, f"Error response from daemon: Container {running} is paused, unpause the container before exec")
    finally:
        daemon.ketch("unpause", running, check=True)
    stopped = names("exec")
    daemon.ketch("create", "--name", stopped, "busybox", "true", check=True)
    sid = daemon.ketch("inspect", "-f", "{{.Id}}", stopped).stdout.strip()
    res = daemon.ketch("exec", stopped, "true")
    assert (res.returncode, res.stderr.strip()) == (
        1, f"Error response from daemon: container {sid} is not running")
    res = daemon.ketch("exec", "no-such-container-x", "true")
    assert (res.returncode, res.stderr.strip()) == (1, "Error response from daemon: No such container: no-such-container-x")


def test_detached_exec_and_logs_untouched(daemon, running):
    daemon.ketch("exec", "-d", running, "sh", "-c", "echo hidden; echo done > /tmp/flag", check=True)
    assert wait_until(lambda: daemon.ketch("exec", running, "cat", "/tmp/flag").stdout == "done\n", 5)
    daemon.ketch("exec", running, "echo", "not-logged", check=True)
    assert daemon.ketch("logs", running).stdout == ""


def test_api_inspect_and_events(daemon, running):
    status, created = daemon.api("POST", f"/containers/{running}/exec",
                                 {"Cmd": ["sh", "-c", "exit 7"], "AttachStdout": True, "User": "1:1",
                                  "DetachKeys": "ctrl-a"})
    assert status == 201, created
    eid = created["Id"]
    status, doc = daemon.api("GET", f"/exec/{eid}/json")
    cid = daemon.ketch("inspect", "-f", "{{.Id}}", running).stdout.strip()
    assert doc == {"ID": eid, "Running": False, "ExitCode": None,
                   "ProcessConfig": {"tty": False, "entrypoint": "sh", "arguments": ["-c", "exit 7"],
                                     "privileged": False, "user": "1:1"},
                   "OpenStdin": False, "OpenStderr": False, "OpenStdout": True, "CanRemove": False,
                   "ContainerID": cid, "DetachKeys": "AQ==", "Pid": 0}
    status, body = daemon.api("POST", f"/exec/{eid}/start", {"Detach": True})
    assert status == 200, body
    assert wait_until(lambda: daemon.api("GET", f"/exec/{eid}/json")[1]["ExitCode"] == 7, 5)
    status, doc = daemon.api("GET", f"/exec/{eid}/json")
    assert (doc["Running"], doc["Pid"] > 0, doc["CanRemove"]) == (False, True, True)
    assert daemon.api("POST", f"/exec/{eid}/start", {"Detach": True}) == (
        409, {"message": f"Error: Exec command {eid} has already run"})
    assert daemon.api("POST", f"/containers/{running}/exec", {"Cmd": []}) == (
        400, {"message": "No exec command specified"})
    assert daemon.api("GET", "/exec/nope/json") == (404, {"message": "No such exec instance: nope"})
    daemon.ketch("rm", "-f", running, check=True)
    assert daemon.api("GET", f"/exec/{eid}/json")[0] == 404  # dropped with its container


def test_sdk_exec_run(daemon, running):
    c = daemon.sdk().containers.get(running)
    assert tuple(c.exec_run(["sh", "-c", "echo a; exit 2"])) == (2, b"a\n")
    code, (out, err) = c.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
    assert (code, out, err) == (0, b"o\n", b"e\n")
    _, stream = c.exec_run(["sh", "-c", "echo 1; sleep 0.2; echo 2"], stream=True)
    assert b"".join(stream) == b"1\n2\n"
    code, out = c.exec_run(["tty"], tty=True)
    assert (code, out) == (0, b"/dev/pts/0\r\n") or out.startswith(b"/dev/pts/"), out
    sock = c.exec_run(["cat"], stdin=True, socket=True).output
    raw = sock._sock
    raw.sendall(b"over the socket\n")
    raw.shutdown(socket.SHUT_WR)
    data = b""
    while chunk := raw.recv(4096):
        data += chunk
    raw.close()
    assert data == b"\x01\x00\x00\x00\x00\x00\x00\x10over the socket\n"


@pytest.mark.skipif(DOCKER is None, reason="no docker CLI")
def test_docker_cli_exec(daemon, running):
    res = daemon.docker("exec", "-e", "X=1", running, "sh", "-c", "echo $X; exit 4")
    assert (res.returncode, res.stdout) == (4, "1\n"), res
    res = daemon.docker("exec", running, "nope")
    assert res.returncode == 127 and OCI_127 in res.stdout, res
    assert daemon.docker("exec", "-i", running, "cat", input="in\n").stdout == "in\n"


@pytest.mark.parametrize("docker", [False, pytest.param(True, marks=pytest.mark.skipif(
    DOCKER is None, reason="no docker CLI"))], ids=["ketch", "docker"])
def test_exec_it_shell_through_a_pty(daemon, running, docker):
    term = Terminal(daemon, "exec", "-it", running, "sh", docker=docker)
    try:
        term.expect(b"# ")
        term.type(b"echo $((6*7)) $TERM; tty\r")
        term.expect(b"42 xterm")
        term.expect(b"/dev/pts/")
        term.type(b"exit 5\r")
        assert term.wait() == 5
    finally:
        term.kill()


def test_exec_detach_keys(daemon, running):
    term = Terminal(daemon, "exec", "-it", "--detach-keys", "ctrl-x", running, "sh")
    try:
        term.expect(b"# ")
        term.type(b"\x18")
        assert term.wait() == 1
        assert b"read escape sequence" in term.seen
    finally:
        term.kill()


@pytest.fixture(scope="module")
def probe(daemon, tmp_path_factory):
    with probe_image(daemon, str(tmp_path_factory.mktemp("probe"))) as ref:
        yield ref


RUNC = shutil.which("runc")
RUNTIMES = ["ketch", pytest.param("runc", marks=pytest.mark.skipif(RUNC is None, reason="no runc"))]
CHANGED = ["--cap-add", "SYS_ADMIN", "--cap-drop", "NET_RAW", "--security-opt", "no-new-privileges",
           "-u", "1000:1000", "--group-add", "44", "--ulimit", "nofile=100:200"]
_exec_outputs: dict[tuple[str, str], str] = {}


def _without_nofile(probe_output: str) -> str:
    return "".join(line for line in probe_output.splitlines(keepends=True) if not line.startswith("nofile "))


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("flags", [[], CHANGED], ids=["default", "changed"])
def test_exec_conforms_to_the_init(daemon, names, probe, flags, runtime):
    """The probe as the container's first process and as an exec agree, under ketch's
    runtime and runc's exec alike (namespace inodes aside, which differ per container)."""
    name = names("exec")
    daemon.ketch("run", "-d", "--name", name, "--runtime", runtime, *flags, probe, "sh", "-c",
                 f"/probe {' '.join(PROBE)} > /tmp/init.out; exec sleep 1000", check=True)
    try:
        assert wait_until(lambda: daemon.ketch("exec", name, "cat", "/tmp/init.out").stdout.count("--") == 4, 10)
        init = daemon.ketch("exec", name, "cat", "/tmp/init.out").stdout
        res = daemon.ketch("exec", name, "/probe", *PROBE)
        if runtime == "runc":
            # Debian's runc (1.1.5) sets an exec's rlimits from outside while its Go init
            # starts, and Go (1.19+) raises the soft nofile limit to the hard one at start-up:
            # the exec sometimes gets 200/200. ketch's own runtime is held to it exactly.
            init, res.stdout = _without_nofile(init), _without_nofile(res.stdout)
        assert res.stdout == init, res.stderr
        if not flags:
            assert "Seccomp:\t2" in init and "CapEff:\t00000000a80425fb" in init
        other = "runc" if runtime == "ketch" else "ketch"
        key = "changed" if flags else "default"
        seen = [line for line in _without_nofile(res.stdout).splitlines()  # runc's nofile: above
                if not line[:1].isalpha() or " " not in line
                or not line.split(" ", 1)[1].isdigit()]  # drops "ns inode" lines
        _exec_outputs[key, runtime] = "\n".join(seen)
        if (key, other) in _exec_outputs:
            assert _exec_outputs[key, runtime] == _exec_outputs[key, other]
        if runtime != "ketch":  # runc refuses capabilities this host's bounding set lacks
            return
        priv = daemon.ketch("exec", "--privileged", name, "/probe", "status").stdout
        with open("/proc/self/status") as f:
            host_bnd = next(line for line in f if line.startswith("CapBnd"))
        assert host_bnd in priv
        if not flags:  # root keeps them across execve; a non-root user only inherits them
            assert host_bnd.replace("CapBnd", "CapEff") in priv
        else:
            assert host_bnd.replace("CapBnd", "CapInh") in priv and "CapEff:\t0000000000000000" in priv
        assert "Seccomp:\t2" in priv  # as moby: --privileged widens the capabilities only
    finally:
        daemon.ketch("rm", "-f", name)


@pytest.mark.skipif(RUNC is None, reason="no runc")
def test_exec_in_a_runc_container(daemon, names):
    name = names("exec")
    daemon.ketch("run", "-d", "--name", name, "--runtime", "runc", "busybox", "sleep", "1000", check=True)
    try:
        res = daemon.ketch("exec", "-i", "-e", "A=1", name, "sh", "-c", 'cat; echo "$A"; exit 6', input="in\n")
        assert (res.returncode, res.stdout) == (6, "in\n1\n"), res
        res = daemon.ketch("exec", name, "nope")
        assert (res.returncode, res.stdout) == (127, OCI_127 + "\r\n"), res
    finally:
        daemon.ketch("rm", "-f", name)


def test_exit_recorded_when_the_client_goes(daemon, running):
    status, created = daemon.api("POST", f"/containers/{running}/exec",
                                 {"Cmd": ["sh", "-c", "sleep 0.5; exit 9"], "AttachStdout": True})
    eid = created["Id"]
    s = socket.socket(socket.AF_UNIX)
    s.connect(daemon.socket)
    body = json.dumps({"Detach": False}).encode()
    s.sendall(b"POST /v1.45/exec/" + eid.encode() + b"/start HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert s.recv(4096).startswith(b"HTTP/1.1 101")
    s.close()
    assert wait_until(lambda: daemon.api("GET", f"/exec/{eid}/json")[1]["ExitCode"] == 9, 5)


def test_repeated_api_execs_each_report_their_exit(daemon, running):
    """`exec CONTAINER true` through the API (create, start attached, inspect), several in a row:
    each ends 0. Its speed is measured by bench/exec_latency.py, not here (timed tests flake)."""
    from ketch.client.api import APIClient
    client = APIClient(daemon.host)
    for _ in range(7):
        eid = client.exec_create(running, {"Cmd": ["true"], "AttachStdout": True, "AttachStderr": True})
        h = client.exec_attach(eid, False)
        while h.recv():
            pass
        h.close()
        assert client.exec_inspect(eid)["ExitCode"] == 0
    client.close()


def test_resize_and_console_size(daemon, running):
    api = daemon.sdk().api
    eid = api.exec_create(running, ["sh", "-c", "stty size; until [ -e /tmp/resized ]; do sleep 0.05; done; "
                                    "stty size"], tty=True)["Id"]
    sock = api.exec_start(eid, tty=True, socket=True)._sock
    assert wait_until(lambda: api.exec_inspect(eid)["Running"], 10)
    api.exec_resize(eid, height=33, width=99)
    daemon.ketch("exec", running, "touch", "/tmp/resized", check=True)
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    sock.close()
    assert data.endswith(b"33 99\r\n"), data
    status, created = daemon.api("POST", f"/containers/{running}/exec",
                                 {"Cmd": ["stty", "size"], "Tty": True, "AttachStdout": True,
                                  "ConsoleSize": [5, 6]})
    eid = created["Id"]
    s = socket.socket(socket.AF_UNIX)
    s.connect(daemon.socket)
    body = json.dumps({"Tty": True, "ConsoleSize": [12, 34]}).encode()
    s.sendall(b"POST /v1.45/exec/" + eid.encode() + b"/start HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    s.close()
    assert data.endswith(b"\r\n\r\n12 34\r\n"), data  # the start's size, from the first instruction


def test_exec_t_without_a_terminal(daemon, running):
    """Once 126 in a few dozen calls under load: the start's [0, 0] size went as a resize
    the supervisor did not read before closing, and ketchd lost 'exited' to the reset."""
    for _ in range(20):
        res = daemon.ketch("exec", "-t", running, "stty", "size")
        assert res.returncode == 0, (res.stdout, res.stderr)


def test_exec_after_a_daemon_restart(fresh_daemon):
    d = fresh_daemon
    d.ketch("run", "-d", "--name", "survivor", "busybox", "sleep", "1000", check=True)
    try:
        d.restart()
        res = d.ketch("exec", "survivor", "sh", "-c", "echo again; exit 2")
        assert (res.returncode, res.stdout) == (2, "again\n"), res
    finally:
        d.ketch("rm", "-f", "survivor")
