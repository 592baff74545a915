"""``ketch compose`` ps, logs, exec, top, port, ls, cp, attach, events, version on ketchd.

The containers are made through the API with compose's labels (as compose's `up` makes
them), so these commands are tested on their own: they find containers only through
those labels. Each test has its own project name and removes its containers.
"""

import json
import os
import secrets
import subprocess
import time
import urllib.parse

import pytest

from tests.integration.conftest import wait_until
from tests.integration.test_attach import Terminal

PROJECT = "com.docker.compose.project"


@pytest.fixture
def project(daemon):
    """A unique project name; every container of it is removed afterwards."""
    name = f"kc{os.getpid()}{secrets.token_hex(3)}"
    yield name
    filters = urllib.parse.quote(json.dumps({"label": [f"{PROJECT}={name}"]}))
    status, items = daemon.api("GET", f"/containers/json?all=1&filters={filters}")
    assert status == 200, items
    for c in items:
        daemon.api("DELETE", f"/containers/{c['Id']}?force=1&v=1")
    status, networks = daemon.api("GET", f"/networks?filters={filters}")
    for n in networks:
        daemon.api("DELETE", f"/networks/{n['Id']}")


def make(daemon, project: str, service: str, number: int, cmd: list[str], *, start: bool = True,
         oneoff: bool = False, ports: dict | None = None, tty: bool = False, stdin: bool = False,
         name: str | None = None) -> str:
    labels = {PROJECT: project, "com.docker.compose.service": service,
              "com.docker.compose.container-number": str(number),
              "com.docker.compose.oneoff": "True" if oneoff else "False",
              "com.docker.compose.config-hash": "0" * 64,
              "com.docker.compose.project.config_files": f"/srv/{project}/compose.yaml",
              "com.docker.compose.project.working_dir": f"/srv/{project}",
              "com.docker.compose.version": "2.29.7"}
    body = {"Image": "busybox", "Cmd": cmd, "Labels": labels, "Tty": tty, "OpenStdin": stdin,
            "HostConfig": {}}
    if ports:
        body["ExposedPorts"] = {p: {} for p in ports}
        body["HostConfig"]["PortBindings"] = {p: [{"HostIp": "127.0.0.1", "HostPort": h}]
                                              for p, h in ports.items()}
    cname = name or (f"{project}-{service}-run-{secrets.token_hex(6)}" if oneoff
                     else f"{project}-{service}-{number}")
    status, doc = daemon.api("POST", f"/containers/create?name={cname}", body)
    assert status == 201, doc
    if start:
        status, doc = daemon.api("POST", f"/containers/{doc['Id']}/start")
        assert status == 204, doc
    return cname


def compose(daemon, project: str, *args: str, input: str | None = None, timeout: float = 60):
    return daemon.ketch("compose", "-p", project, *args, input=input, timeout=timeout)


def exited(daemon, name: str) -> bool:
    return daemon.api("GET", f"/containers/{name}/json")[1]["State"]["Status"] == "exited"


def test_ps_table_quiet_services_json_and_status(daemon, project):
    make(daemon, project, "web", 1, ["sleep", "1000"])
    make(daemon, project, "web", 2, ["sleep", "1000"])
    make(daemon, project, "db", 1, ["true"])
    make(daemon, project, "web", 1, ["true"], oneoff=True, start=False)
    assert wait_until(lambda: exited(daemon, f"{project}-db-1"), 10)

    res = compose(daemon, project, "ps")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]
    assert [line.split()[0] for line in lines[1:]] == [f"{project}-web-1", f"{project}-web-2"]
    assert '"sleep 1000"' in lines[1] and " web " in lines[1] and "Up " in lines[1]

    res = compose(daemon, project, "ps", "-a", "--format", "{{.Name}} {{.Service}} {{.State}}")
    assert res.stdout.splitlines()[0] == f"{project}-db-1 db exited"
    assert len(res.stdout.splitlines()) == 4  # the run container too

    ids = compose(daemon, project, "ps", "-q").stdout.split()
    assert len(ids) == 2 and all(len(i) == 64 for i in ids)
    assert compose(daemon, project, "ps", "-a", "--services").stdout.split() == ["db", "web"]
    assert compose(daemon, project, "ps", "--status", "exited", "-q").stdout.split() == [
        daemon.api("GET", f"/containers/{project}-db-1/json")[1]["Id"]]
    assert compose(daemon, project, "ps", "--filter", "status=exited", "--format",
                   "{{.Name}}").stdout.split()[:1] == [f"{project}-db-1"]

    rows = [json.loads(line) for line in compose(daemon, project, "ps", "--format", "json").stdout.splitlines()]
    assert [r["Service"] for r in rows] == ["web", "web"]
    assert rows[0]["Name"] == f"{project}-web-1" and rows[0]["Project"] == project
    assert rows[0]["State"] == "running" and rows[0]["Publishers"] == [] and rows[0]["ExitCode"] == 0

    only = compose(daemon, project, "ps", "-a", "db", "--format", "{{.Name}}")
    assert only.stdout.split() == [f"{project}-db-1"]
    bad = compose(daemon, project, "ps", "--filter", "nope=1")
    assert bad.returncode == 1 and bad.stderr.strip() == "unknown filter nope"


def test_logs_prefixes_tail_index_and_timestamps(daemon, project):
    make(daemon, project, "web", 1, ["sh", "-c", "echo one; echo two"])
    make(daemon, project, "web", 2, ["sh", "-c", "echo three >&2"])
    make(daemon, project, "backend", 1, ["echo", "four"])
    for n in (f"{project}-web-1", f"{project}-web-2", f"{project}-backend-1"):
        assert wait_until(lambda: exited(daemon, n), 10)

    res = compose(daemon, project, "logs", "--no-color")
    assert res.returncode == 0, res.stderr
    lines = sorted(res.stdout.splitlines())
    assert lines == sorted(["web-1      | one", "web-1      | two", "web-2      | three",
                            "backend-1  | four"])
    assert compose(daemon, project, "logs", "--no-log-prefix", "web").stdout.split() in (
        ["one", "two", "three"], ["three", "one", "two"], ["one", "three", "two"])
    assert compose(daemon, project, "logs", "--no-color", "--tail", "1", "--index", "1",
                   "web").stdout == "web-1  | two\n"
    stamped = compose(daemon, project, "logs", "--no-color", "-t", "backend").stdout
    assert stamped.startswith("backend-1  | 20") and stamped.endswith(" four\n")
    res = compose(daemon, project, "logs", "--index", "1")
    assert res.returncode == 1 and "--index requires one service to be selected" in res.stderr
    res = compose(daemon, project, "--ansi", "always", "logs", "backend")
    assert res.stdout == "\033[36mbackend-1  | \033[0mfour\n"


def test_logs_follow_ends_when_the_containers_stop(daemon, project):
    # the container ends when the test says so (a marker file), not after a fixed time that
    # a slow `logs -f` start could outlast
    make(daemon, project, "web", 1, ["sh", "-c", "echo start; until [ -e /go ]; do sleep 0.05; done; echo end"])
    proc = subprocess.Popen([*daemon._ketch_cmd(["compose", "-p", project, "logs", "-f", "--no-color"])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=daemon.env(), text=True)
    try:
        assert proc.stdout.readline() == "web-1  | start\n"  # listed while running, following
        done = daemon.ketch("exec", f"{project}-web-1", "touch", "/go")
        assert done.returncode == 0, done.stderr
        rest, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert rest == "web-1  | end\nweb-1 exited with code 0\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_logs_follow_picks_up_a_restarted_container(daemon, project):
    make(daemon, project, "web", 1, ["sleep", "1000"])
    make(daemon, project, "web", 2, ["sh", "-c", "echo run; exec sleep 1000"])
    proc = subprocess.Popen([*daemon._ketch_cmd(["compose", "-p", project, "logs", "-f", "--no-color"])],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=daemon.env(), text=True)
    try:
        assert proc.stdout.readline() == "web-2  | run\n"
        status, doc = daemon.api("POST", f"/containers/{project}-web-2/restart?t=0")
        assert status == 204, doc
        # the engine ends the stream with the run, as dockerd does: the exit, then the new start
        assert proc.stdout.readline() == "web-2 exited with code 137\n"
        assert proc.stdout.readline() == "web-2  | run\n"  # its new start, once
        for n in (1, 2):
            daemon.api("POST", f"/containers/{project}-web-{n}/kill")
        rest, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert sorted(rest.splitlines()) == ["web-1 exited with code 137", "web-2 exited with code 137"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_exec_env_user_workdir_index_and_exit_code(daemon, project):
    make(daemon, project, "web", 1, ["sleep", "1000"])
    make(daemon, project, "web", 2, ["sleep", "1000"])
    res = compose(daemon, project, "exec", "-T", "-e", "X=1", "-w", "/tmp", "-u", "65534", "web",
                  "sh", "-c", "echo $X $(pwd) $(id -u)")
    assert (res.returncode, res.stdout) == (0, "1 /tmp 65534\n"), res.stderr
    res = compose(daemon, project, "exec", "--index", "2", "web", "hostname")
    second = daemon.api("GET", f"/containers/{project}-web-2/json")[1]
    assert res.stdout.strip() == second["Config"]["Hostname"]
    assert compose(daemon, project, "exec", "-T", "web", "sh", "-c", "exit 7").returncode == 7
    res = compose(daemon, project, "exec", "web", "cat", input="piped\n")
    assert res.stdout == "piped\n"
    res = compose(daemon, project, "exec", "nope", "true")
    assert res.returncode == 1 and res.stderr.strip() == 'service "nope" is not running'
    res = compose(daemon, project, "exec", "--index", "3", "web", "true")
    assert res.stderr.strip() == 'service "web" is not running container #3'


def test_top_and_port(daemon, project):
    make(daemon, project, "web", 1, ["sleep", "1000"], ports={"80/tcp": "0", "53/udp": "0"})
    res = compose(daemon, project, "top")
    assert res.returncode == 0, res.stderr
    header, row = res.stdout.splitlines()[:2]
    assert header.split()[:2] == ["SERVICE", "#"] and header.split()[-1] == "CMD"
    assert row.split()[:2] == ["web", "1"] and row.endswith("sleep 1000")

    res = compose(daemon, project, "port", "web", "80")
    host, port = res.stdout.strip().rsplit(":", 1)
    assert (res.returncode, host) == (0, "127.0.0.1") and int(port) > 0
    assert compose(daemon, project, "port", "--protocol", "udp", "web", "53").returncode == 0
    res = compose(daemon, project, "port", "web", "81")
    assert res.returncode == 1
    assert res.stderr.startswith(f"no port 81/tcp for container {project}-web-1: ")


def test_ls(daemon, project):
    make(daemon, project, "web", 1, ["sleep", "1000"])
    make(daemon, project, "db", 1, ["true"])
    assert wait_until(lambda: exited(daemon, f"{project}-db-1"), 10)
    rows = json.loads(daemon.ketch("compose", "ls", "--format", "json").stdout)
    assert {"Name": project, "Status": "running(1)",
            "ConfigFiles": f"/srv/{project}/compose.yaml"} in rows
    rows = json.loads(daemon.ketch("compose", "ls", "-a", "--format", "json",
                                   "--filter", f"name={project}").stdout)
    assert rows == [{"Name": project, "Status": "exited(1), running(1)",
                     "ConfigFiles": f"/srv/{project}/compose.yaml"}]
    table = daemon.ketch("compose", "ls", "--filter", f"name={project}").stdout.splitlines()
    assert table[0].split() == ["NAME", "STATUS", "CONFIG", "FILES"]
    assert table[1].split() == [project, "running(1)", f"/srv/{project}/compose.yaml"]
    assert daemon.ketch("compose", "ls", "-q", "--filter", f"name={project}").stdout == project + "\n"
    bad = daemon.ketch("compose", "ls", "--filter", "status=x")
    assert bad.returncode == 1 and bad.stderr.strip() == "invalid filter 'status'"


def test_cp_both_ways(daemon, project, tmp_path):
    make(daemon, project, "web", 1, ["sleep", "1000"])
    make(daemon, project, "web", 2, ["sleep", "1000"])
    src = tmp_path / "in.txt"
    src.write_text("hello\n")
    res = compose(daemon, project, "cp", str(src), "web:/tmp/in.txt")
    assert res.returncode == 0, res.stderr
    for n in (1, 2):  # to the service: every container
        out = compose(daemon, project, "exec", "-T", "--index", str(n), "web", "cat", "/tmp/in.txt")
        assert out.stdout == "hello\n"
    res = compose(daemon, project, "cp", "web:/tmp/in.txt", str(tmp_path / "out.txt"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out.txt").read_text() == "hello\n"
    res = compose(daemon, project, "cp", "web:/a", "db:/b")
    assert res.stderr.strip() == "copying between services is not supported"


def test_attach_shows_output_and_returns_the_exit_code(daemon, project):
    make(daemon, project, "web", 1, ["sh", "-c", "for i in $(seq 40); do echo tick; sleep 0.1; done; exit 3"])
    res = compose(daemon, project, "attach", "--no-stdin", "web", timeout=30)
    assert res.returncode == 3, res.stderr
    assert "tick" in res.stdout


def test_events_json_and_plain(daemon, project):
    since = str(time.time() - 1)
    make(daemon, project, "web", 1, ["true"])
    make(daemon, project, "job", 1, ["true"], oneoff=True)
    assert wait_until(lambda: exited(daemon, f"{project}-web-1"), 10)
    until = str(time.time() + 1)
    res = compose(daemon, project, "events", "--json", "--since", since, "--until", until)
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in res.stdout.splitlines()]
    assert {e["action"] for e in events} >= {"create", "start", "die"}
    assert {e["service"] for e in events} == {"web"}  # one-off containers are left out
    assert all(not k.startswith("com.docker.compose.") for e in events for k in e["attributes"])
    assert events[0]["attributes"]["name"] == f"{project}-web-1"
    plain = compose(daemon, project, "events", "--since", since, "--until", until, "web").stdout
    first = plain.split("\n")[0]
    assert " container create " in first and f"name={project}-web-1" in first
    assert plain.split("\n")[1] == ""  # compose prints a blank line after each event


def test_version():
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = "import sys; sys.path.insert(0, sys.argv[1]); from ketch.compose.main import main; sys.exit(main(sys.argv[2:]))"
    run = lambda *a: subprocess.run([os.path.join(root, ".venv/bin/python3"), "-I", "-c", code, root, *a],
                                    capture_output=True, text=True, env=env, timeout=30)
    assert run("version").stdout == "Docker Compose version v2.29.7\n"
    assert run("version", "--short").stdout == "2.29.7\n"
    assert json.loads(run("version", "--format", "json").stdout) == {"version": "v2.29.7"}


COMPOSE_FILE = """
services:
  db:
    image: busybox
    command: ["sh", "-c", "echo db up; sleep 1000"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  web:
    image: busybox
    command: ["sleep", "1000"]
    environment:
      GREETING: hello $$HOME
    depends_on:
      db:
        condition: service_healthy
    ports: ["8080"]
"""


def test_config(daemon, project, tmp_path):
    (tmp_path / "compose.yaml").write_text(COMPOSE_FILE)
    f = str(tmp_path / "compose.yaml")
    res = compose(daemon, project, "-f", f, "config")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"name: {project}\nservices:\n  db:\n    command:\n      - sh\n")
    assert "      GREETING: hello $$HOME\n" in res.stdout  # $ doubled: it loads back the same
    doc = json.loads(compose(daemon, project, "-f", f, "config", "--format", "json").stdout)
    assert doc["services"]["web"]["depends_on"] == {"db": {"condition": "service_healthy", "required": True}}
    assert doc["networks"] == {"default": {"name": f"{project}_default"}}
    assert compose(daemon, project, "-f", f, "config", "--services").stdout == "db\nweb\n"
    assert compose(daemon, project, "-f", f, "config", "--images").stdout.split() == ["busybox", "busybox"]
    hashes = compose(daemon, project, "-f", f, "config", "--hash", "web").stdout.split()
    assert hashes[0] == "web" and len(hashes[1]) == 64
    quiet = compose(daemon, project, "-f", f, "config", "-q")
    assert (quiet.returncode, quiet.stdout) == (0, "")
    out = tmp_path / "out.yaml"
    assert compose(daemon, project, "-f", f, "config", "-o", str(out)).stdout == ""
    assert out.read_text() == res.stdout


def test_run_starts_dependencies_and_returns_the_exit_code(daemon, project, tmp_path):
    (tmp_path / "compose.yaml").write_text(COMPOSE_FILE)
    f = str(tmp_path / "compose.yaml")
    res = compose(daemon, project, "-f", f, "run", "--rm", "-e", "EXTRA=x", "web",
                  "sh", "-c", "echo $GREETING $EXTRA; exit 4")
    assert res.returncode == 4, res.stderr
    assert res.stdout == "hello $HOME x\n"
    assert f"Container {project}-db-1  Started" in res.stderr
    ps = compose(daemon, project, "-f", f, "ps", "-a", "--format", "{{.Name}} {{.State}}")
    assert ps.stdout == f"{project}-db-1 running\n"  # --rm: the run container is gone

    res = compose(daemon, project, "-f", f, "run", "-d", "--name", f"{project}-one", "-l", "k=v",
                  "-p", "127.0.0.1::9000", "web", "sleep", "100")
    assert res.returncode == 0, res.stderr
    cid = res.stdout.strip()
    info = daemon.api("GET", f"/containers/{cid}/json")[1]
    labels = info["Config"]["Labels"]
    assert info["Name"] == f"/{project}-one" and info["State"]["Running"]
    assert labels["com.docker.compose.oneoff"] == "True" and labels["k"] == "v"
    assert "com.docker.compose.container-number" not in labels
    assert list(info["HostConfig"]["PortBindings"]) == ["9000/tcp"]  # -p, not the service's ports
    assert compose(daemon, project, "-f", f, "ps", "--format", "{{.Name}}").stdout == f"{project}-db-1\n"
    res = compose(daemon, project, "-f", f, "run", "--no-deps", "--rm", "-T", "--entrypoint", "echo",
                  "web", "plain")
    assert (res.returncode, res.stdout) == (0, "plain\n"), res.stderr
    res = compose(daemon, project, "-f", f, "run", "nope")
    assert res.returncode == 1 and res.stderr.strip() == "no such service: nope"


PROFILED = """
services:
  sick:
    image: busybox
    command: ["sleep", "1000"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 200ms
      timeout: 1s
      retries: 1
  dbg:
    image: busybox
    command: ["sleep", "1000"]
    profiles: [debug]
    depends_on:
      sick:
        condition: service_healthy
        required: false
"""


def test_naming_a_profiled_service_enables_it_and_optional_deps_are_skipped(daemon, project, tmp_path):
    (tmp_path / "compose.yaml").write_text(PROFILED)
    f = str(tmp_path / "compose.yaml")
    assert compose(daemon, project, "-f", f, "config", "--services").stdout == "sick\n"
    assert compose(daemon, project, "-f", f, "config", "--services", "dbg").stdout == "dbg\nsick\n"
    res = compose(daemon, project, "-f", f, "up", "-d", "dbg")
    assert res.returncode == 0, res.stderr
    assert 'Skipped: optional dependency "sick" failed to start' in res.stderr
    ps = compose(daemon, project, "-f", f, "ps", "--format", "{{.Service}}")
    assert sorted(ps.stdout.split()) == ["dbg", "sick"]
    # run waits on the same (optional) condition with up's wait: skipped, not failed
    res = compose(daemon, project, "-f", f, "run", "--rm", "-T", "dbg", "echo", "ran")
    assert (res.returncode, res.stdout) == (0, "ran\n"), res.stderr
    assert "Skipped: optional dependency" in res.stderr
    res = compose(daemon, project, "-f", f, "down", "-t", "0")
    assert res.returncode == 0, res.stderr


def test_exec_and_run_take_a_tty_on_a_terminal(daemon, project, tmp_path):
    make(daemon, project, "web", 1, ["sleep", "1000"])
    (tmp_path / "compose.yaml").write_text(COMPOSE_FILE)
    t = Terminal(daemon, "compose", "-p", project, "exec", "web", "sh")
    try:
        t.expect(b"# ")
        t.type(b"tty; exit 5\r")
        t.expect(b"/dev/pts/")
        assert t.wait() == 5
        t = Terminal(daemon, "compose", "-p", project, "-f", str(tmp_path / "compose.yaml"), "run",
                     "--rm", "--no-deps", "web", "sh")
        t.expect(b"# ")
        t.type(b"echo hi-$((1+1)); [ -t 0 ] && exit 3\r")
        t.expect(b"hi-2")
        assert t.wait() == 3
    finally:
        t.kill()
