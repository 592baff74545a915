"""Docker's own compose, unchanged, against ketchd: Debian's docker-compose 1.29 (docker-py).

The notes' shape (a web service built from a Dockerfile that copies the app, a database
with a fixed container_name, a named volume, published ports, a user-defined bridge
network, a healthcheck-gated depends_on) with busybox stand-ins: web is busybox httpd,
db another httpd that answers "db". Each test makes a project of its own (unique -p and
container_name, a /24 of this daemon's own) and ends with ``down -v --rmi local``, then
checks through the API that nothing of the project is left.

docker-compose 1.29 negotiates API 1.45 with ketchd, as with Docker >= 26, where image
inspect has no ContainerConfig any more; its recreation reads that field (the known
``KeyError: 'ContainerConfig'``), so the recreation steps pin COMPOSE_API_VERSION=1.44,
the workaround Docker's users apply, and ketchd answers 1.44 as dockerd does.
"""

import os
import re
import shutil
import subprocess
import time
import urllib.request
import uuid

import pytest

from tests.integration.conftest import wait_until

pytestmark = pytest.mark.skipif(shutil.which("docker-compose") is None,
                                reason="docker-compose 1.29 not installed (scripts/install.sh --with-tests)")

DOCKERFILE = """FROM busybox
COPY . /var/www
WORKDIR /var/www
RUN echo installed > /var/www/installed
EXPOSE 8080
ENTRYPOINT ["sh", "-c", "echo hello from web > index.html && exec httpd -f -p 8080 -h /var/www"]
"""

COMPOSE = """services:
  web:
    build: ./app
    init: true
    ports:
      - "8080"
    environment:
      DB_HOST: {db_name}
      TAG: ${{TAG:-one}}
    depends_on:
      db:
        condition: service_healthy
    networks:
      - appnet
  db:
    image: busybox
    container_name: {db_name}
    init: true
    sysctls:
      net.ipv4.tcp_syncookies: "0"
    command: ["sh", "-c", "echo db up; mkdir -p /www && echo db > /www/index.html && exec httpd -f -p 5432 -h /www"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5432/"]
      interval: 500ms
      retries: 20
    environment:
      POSTGRES_USER: notes
      DB_TAG: ${{DB_TAG:-one}}
    volumes:
      - dbdata:/var/lib/postgresql/data
    ports:
      - "5432"
    networks:
      - appnet
volumes:
  dbdata:
networks:
  appnet:
    driver: bridge
    ipam:
      config:
        - subnet: {subnet}
"""


class Project:
    """A compose project on disk and docker-compose 1.29 pointed at the test's ketchd."""

    def __init__(self, daemon, directory: str, subnet: str) -> None:
        self.daemon = daemon
        self.name = f"ci{uuid.uuid4().hex[:10]}"
        self.db = f"{self.name}-postgres"
        self.dir = directory
        os.makedirs(os.path.join(directory, "app"))
        with open(os.path.join(directory, "app", "Dockerfile"), "w") as f:
            f.write(DOCKERFILE)
        with open(os.path.join(directory, "app", "server.js"), "w") as f:
            f.write("// the notes' app stand-in\n")
        with open(os.path.join(directory, "docker-compose.yml"), "w") as f:
            f.write(COMPOSE.format(db_name=self.db, subnet=subnet))

    def __call__(self, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        full = dict(self.daemon.env())
        full.pop("COMPOSE_API_VERSION", None)
        full["COLUMNS"] = "250"  # 1.29's ps wraps its table to the terminal's width (80 without one)
        full.update(env or {})
        return subprocess.run(["docker-compose", "--ansi", "never", "-p", self.name, *args], cwd=self.dir, env=full,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def ok(self, *args: str, **kw) -> str:
        res = self(*args, **kw)
        assert res.returncode == 0, (args, res.stdout, res.stderr)
        return res.stdout + res.stderr

    def containers(self) -> dict[str, dict]:
        status, items = self.daemon.api(
            "GET", "/containers/json?all=1&filters=" + _label_filter(self.name))
        assert status == 200
        return {c["Names"][0].lstrip("/"): c for c in items}

    def leftovers(self) -> list[str]:
        """What of the project the daemon still has: containers, networks, volumes, images."""
        left = [f"container {n}" for n in self.containers()]
        for kind in ("networks", "volumes"):
            status, doc = self.daemon.api("GET", f"/{kind}?filters=" + _label_filter(self.name))
            items = doc["Volumes"] if kind == "volumes" else doc
            left += [f"{kind[:-1]} {i['Name']}" for i in items or []]
        status, images = self.daemon.api("GET", "/images/json")
        left += [f"image {t}" for i in images for t in i.get("RepoTags") or [] if t.startswith(self.name + "_")]
        return left

    def down(self) -> None:
        self("down", "-v", "--rmi", "local", "-t", "1")


def _done(out: str, verb: str, name: str) -> bool:
    """compose 1.29's progress line, padded to the longest name: ``Creating p_web_1  ... done``."""
    return re.search(rf"^{verb} {re.escape(name)}\s+\.\.\. done$", out, re.M) is not None


def _label_filter(project: str) -> str:
    return urllib.request.quote('{"label":["com.docker.compose.project=%s"]}' % project)


def _fetch(url: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def project(daemon, tmp_path):
    p = Project(daemon, str(tmp_path / "notes"), daemon.subnet(21))
    try:
        yield p
    finally:
        p.down()
        left = p.leftovers()
        for name in [n for n in left if n.startswith("container ")]:  # a failed down
            daemon.api("DELETE", f"/containers/{name.split()[1]}?force=1&v=1")
        assert not left, left


def test_up_ps_logs_exec_run_stop_start_down(project):
    up = project.ok("up", "-d")
    web = f"{project.name}_web_1"
    for line in (f'Creating network "{project.name}_appnet" with driver "bridge"',
                 f'Creating volume "{project.name}_dbdata" with default driver',
                 f"Successfully tagged {project.name}_web:latest"):
        assert line in up, up
    assert _done(up, "Creating", project.db) and _done(up, "Creating", web), up
    # healthcheck-gated: db was healthy before web was created
    ps = project.ok("ps")
    assert re.search(rf"^{project.db} .* Up \(healthy\) ", ps, re.M), ps
    assert re.search(rf"^{web} .* Up ", ps, re.M), ps
    assert sorted(project.ok("ps", "-q").split()) == sorted(c["Id"] for c in project.containers().values())
    labels = project.containers()[web]["Labels"]
    assert (labels["com.docker.compose.project"], labels["com.docker.compose.service"],
            labels["com.docker.compose.container-number"], labels["com.docker.compose.oneoff"]) == \
        (project.name, "web", "1", "False")

    status, db = project.daemon.api("GET", f"/containers/{project.db}/json")
    assert (db["HostConfig"]["Init"], db["HostConfig"]["Sysctls"]) == (True, {"net.ipv4.tcp_syncookies": "0"})
    assert project.ok("exec", "-T", "db", "cat", "/proc/sys/net/ipv4/tcp_syncookies") == "0\n"

    port = project.ok("port", "web", "8080").strip()
    assert re.fullmatch(r"0\.0\.0\.0:\d+", port), port
    assert _fetch(f"http://127.0.0.1:{port.rsplit(':', 1)[1]}/") == "hello from web\n"

    # the user network's DNS: the service name and the container_name
    for host in ("db", project.db):
        assert project.ok("exec", "-T", "web", "wget", "-q", "-O", "-", f"http://{host}:5432/") == "db\n"
    assert project.ok("exec", "-T", "web", "cat", "/var/www/installed") == "installed\n"
    assert project.ok("exec", "-T", "web", "sh", "-c", "echo $DB_HOST; pwd") == f"{project.db}\n/var/www\n"
    assert project("exec", "-T", "web", "sh", "-c", "exit 3").returncode == 3

    logs = project.ok("logs", "db")
    assert re.search(rf"^{re.escape(project.db)}\s+\| db up$", logs, re.M), logs

    run = project("run", "--rm", "--entrypoint", "cat", "web", "/var/www/installed")
    assert (run.returncode, run.stdout) == (0, "installed\n"), run.stderr
    assert set(project.containers()) == {project.db, web}  # --rm: the one-off is gone

    project.ok("stop", "-t", "1")
    assert {c["State"] for c in project.containers().values()} == {"exited"}
    project.ok("start")
    assert wait_until(lambda: {c["State"] for c in project.containers().values()} == {"running"}, 10)
    assert _fetch(f"http://127.0.0.1:{project.ok('port', 'web', '8080').strip().rsplit(':', 1)[1]}/") \
        == "hello from web\n"

    down = project.ok("down", "-v", "--rmi", "local", "-t", "1")
    assert _done(down, "Removing", web) and _done(down, "Removing", project.db), down
    for line in (f"Removing network {project.name}_appnet", f"Removing volume {project.name}_dbdata",
                 f"Removing image {project.name}_web"):
        assert line in down, down
    assert project.leftovers() == []


def test_scale_recreate_keeps_the_volume_and_pause_kill(project):
    pinned = {"COMPOSE_API_VERSION": "1.44"}  # see the module's docstring
    project.ok("up", "-d", env=pinned)
    project.ok("exec", "-T", "db", "sh", "-c", "echo kept > /var/lib/postgresql/data/row")
    scaled = project.ok("up", "-d", "--scale", "web=2", env=pinned)
    assert _done(scaled, "Creating", f"{project.name}_web_2"), scaled
    assert {n for n in project.containers()} == {project.db, f"{project.name}_web_1", f"{project.name}_web_2"}

    # a changed environment: the config hash differs, both are recreated; the volume stays
    before = {n: c["Id"] for n, c in project.containers().items()}
    out = project.ok("up", "-d", "--scale", "web=1", env=dict(pinned, TAG="two", DB_TAG="two"))
    assert _done(out, "Recreating", project.db) and _done(out, "Recreating", f"{project.name}_web_1"), out
    after = {n: c["Id"] for n, c in project.containers().items()}
    assert set(after) == {project.db, f"{project.name}_web_1"}
    assert after[project.db] != before[project.db]
    assert project.ok("exec", "-T", "db", "cat", "/var/lib/postgresql/data/row") == "kept\n"
    assert project.ok("exec", "-T", "web", "sh", "-c", "echo $TAG") == "two\n"
    assert "is up-to-date" in project.ok("up", "-d", env=dict(pinned, TAG="two", DB_TAG="two"))

    project.ok("pause")
    assert {c["State"] for c in project.containers().values()} == {"paused"}
    project.ok("unpause")
    project.ok("kill")
    ps = project.ok("ps")
    assert re.search(rf"^{project.name}_web_1 .* Exit 137", ps, re.M), ps
    project.ok("rm", "-f")
    assert project.containers() == {}
