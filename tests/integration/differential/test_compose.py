"""ketch compose against ketchd and against a real dockerd, the oracle: the same projects
leave the same things behind (containers' names, labels, config, mounts, networks and
aliases; networks; volumes), print the same progress lines and exit codes, and `down`
leaves nothing on either.

Also Docker's own compose (Debian's docker-compose 1.29) on both daemons: what it leaves
on ketchd is what it leaves on dockerd.

ketch's client does not negotiate: against dockerd 20.10 ketch compose runs with
DOCKER_API_VERSION=1.41 (what that dockerd answers), as the docker CLI can be pinned.
What differs by the API version and not by the engine (RestartPolicy "" or "no") and ids are
masked (``_container_view``, ``_mask``).

Run alone: flock /tmp/ketch-test.lock .venv/bin/python3 -m pytest -p no:cacheprovider
-q tests/integration/differential/test_compose.py
"""

import json
import os
import re
import shutil
import subprocess
import urllib.parse
import uuid

import pytest

from tests.integration.conftest import PYTHON, REPO
from tests.integration.differential.dockerd import api

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("differential")]

COMPOSE = [PYTHON, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
           "from ketch.compose.main import main; sys.exit(main(sys.argv[2:]))", REPO]
TIMEOUT = 120
INSPECT_VERSION = "1.41"  # dockerd 20.10's
HEX = re.compile(r"\b[0-9a-f]{12}(?:[0-9a-f]{52})?\b")

DOCKERFILE = """FROM busybox
COPY . /var/www
WORKDIR /var/www
RUN echo installed > /var/www/installed
EXPOSE 8080
ENTRYPOINT ["sh", "-c", "echo hello > index.html && exec httpd -f -p 8080 -h /var/www"]
"""
TERMINABLE = "trap 'exit 0' TERM; sleep 1000 & wait"

# The notes' shape, busybox stand-ins (the node app built, postgres a sleeping busybox)
NOTES = f"""services:
  web:
    build: ./app
    ports: ["8080"]
    environment:
      DB_HOST: {{project}}-postgres
    depends_on:
      db:
        condition: service_healthy
    networks: [appnet]
  db:
    image: busybox
    container_name: {{project}}-postgres
    command: ["sh", "-c", "touch /ready; {TERMINABLE}"]
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 500ms
    environment:
      POSTGRES_USER: notes
      POSTGRES_DB: notes
    volumes: ["dbdata:/var/lib/postgresql/data"]
    ports: ["5432"]
    networks: [appnet]
volumes:
  dbdata:
networks:
  appnet:
    driver: bridge
"""

# More of a service's keys: replicas, two networks with aliases, network_mode service:,
# anonymous and bind volumes, tmpfs, labels, restart, init, a completed dependency
EXTRAS = f"""services:
  front:
    image: busybox
    command: ["sh", "-c", "{TERMINABLE}"]
    deploy:
      replicas: 2
    expose: ["9000"]
    labels:
      team: notes
    restart: unless-stopped
    networks:
      front: {{aliases: [edge]}}
      back: {{}}
  side:
    image: busybox
    command: ["sh", "-c", "{TERMINABLE}"]
    network_mode: "service:back"
    init: true
  back:
    image: busybox
    command: ["sh", "-c", "{TERMINABLE}"]
    volumes:
      - /scratch
      - ./conf:/conf:ro
    tmpfs: [/run/cache]
    user: "1000:1000"
    working_dir: /tmp
    networks: [back]
    depends_on:
      setup:
        condition: service_completed_successfully
  setup:
    image: busybox
    command: ["true"]
    networks: [back]
networks:
  front: {{}}
  back:
    internal: true
"""


class Side:
    """A compose client (ketch compose or docker-compose 1.29) on one daemon."""

    def __init__(self, target, argv: list[str], api_version: str = "") -> None:
        self.target = target
        self.argv = argv
        self.env = {k: v for k, v in target.env.items() if not k.startswith("COMPOSE_")}
        if api_version:
            self.env["DOCKER_API_VERSION"] = api_version

    def compose(self, workdir: str, project: str, *args: str) -> tuple[int, str]:
        raw = subprocess.run([*self.argv, "-p", project, *args], cwd=workdir, env=self.env,
                             capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        return raw.returncode, raw.stdout + raw.stderr

    def get(self, path: str):
        # both asked at dockerd's API version: what changed with the version is not compared
        status, doc = api(self.target.socket, "GET", f"/v{INSPECT_VERSION}{path}")
        assert status == 200, (path, status, doc)
        return doc

    def left(self, project: str) -> dict:
        """What the project has on the daemon, as compared."""
        q = "filters=" + urllib.parse.quote(json.dumps({"label": [f"com.docker.compose.project={project}"]}))
        out: dict = {"containers": {}, "networks": {}, "volumes": {}}
        for item in self.get(f"/containers/json?all=1&{q}"):
            doc = self.get(f"/containers/{item['Id']}/json")
            out["containers"][doc["Name"].lstrip("/")] = _container_view(doc)
        for net in self.get(f"/networks?{q}"):
            out["networks"][net["Name"]] = _network_view(self.get(f"/networks/{net['Id']}"))
        for vol in self.get(f"/volumes?{q}")["Volumes"] or []:
            out["volumes"][vol["Name"]] = {k: vol.get(k) for k in ("Driver", "Labels", "Options", "Scope")}
        return _mask(out)


def _container_view(doc: dict) -> dict:
    cfg, host = doc["Config"], doc["HostConfig"]
    restart = dict(host["RestartPolicy"], Name=host["RestartPolicy"]["Name"] or "no")  # API 1.44+: "no"
    return {
        "State": doc["State"]["Status"],
        "Health": (doc["State"].get("Health") or {}).get("Status"),
        "Config": {k: cfg.get(k) for k in ("User", "ExposedPorts", "Env", "Cmd", "Entrypoint", "Healthcheck",
                                           "WorkingDir", "Labels", "StopSignal", "Tty", "OpenStdin")},
        "HostConfig": {k: host.get(k) for k in ("NetworkMode", "PortBindings", "Binds", "Mounts", "Tmpfs",
                                                "Init", "VolumesFrom", "Links", "Privileged", "ReadonlyRootfs",
                                                "AutoRemove", "ExtraHosts", "CapAdd", "CapDrop")}
        | {"RestartPolicy": restart},
        "Mounts": sorted(({k: m.get(k) for k in ("Type", "Destination", "RW", "Mode")}
                          | {"Name": bool(m.get("Name")) if m["Type"] == "volume" else None}
                          for m in doc["Mounts"]), key=lambda m: m["Destination"]),
        # masked before sorting: a random short id sorts anywhere among the names
        "Networks": {name: sorted(HEX.sub("<id>", a) for a in ep.get("Aliases") or []) for name, ep in
                     (doc["NetworkSettings"]["Networks"] or {}).items()},
        "Ports": sorted(doc["NetworkSettings"]["Ports"] or {}),
    }


def _network_view(doc: dict) -> dict:
    return {"Driver": doc["Driver"], "Internal": doc["Internal"], "Attachable": doc["Attachable"],
            "Labels": doc["Labels"], "Options": doc["Options"], "EnableIPv6": doc["EnableIPv6"],
            "Containers": sorted(c["Name"] for c in (doc.get("Containers") or {}).values())}


def _mask(value):
    """Ids (image ids in labels, container ids in aliases) differ on every run."""
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if isinstance(value, str):
        return HEX.sub("<id>", value)
    return value


def _differences(ref, got, path: str = "") -> list[str]:
    """Where ``got`` (ketchd's) differs from ``ref`` (dockerd's), one line a leaf."""
    if isinstance(ref, dict) and isinstance(got, dict):
        return [d for k in sorted(set(ref) | set(got), key=str)
                for d in (_differences(ref.get(k, "<missing>"), got.get(k, "<missing>"), f"{path}.{k}"))]
    return [] if ref == got else [f"{path}: dockerd {json.dumps(ref)} | ketchd {json.dumps(got)}"]


def _progress(text: str) -> list[str]:
    """compose v2's plain progress lines, sorted: parallel steps print in any order."""
    return sorted(line for line in text.splitlines() if re.match(r" (Container|Network|Volume) ", line))


def _write_project(workdir: str, project: str, text: str) -> None:
    os.makedirs(os.path.join(workdir, "app"), exist_ok=True)
    os.makedirs(os.path.join(workdir, "conf"), exist_ok=True)
    with open(os.path.join(workdir, "app", "Dockerfile"), "w") as f:
        f.write(DOCKERFILE)
    with open(os.path.join(workdir, "compose.yaml"), "w") as f:
        f.write(text.replace("{project}", project))


@pytest.fixture(scope="module")
def engines(pair):
    version = api(pair.dockerd.socket, "GET", "/version")[1]["ApiVersion"]
    return {"ketch compose": (Side(pair.ketchd, COMPOSE), Side(pair.dockerd, COMPOSE, version))}


def _play(sides, tmp_path, project: str, text: str, *up: str) -> dict:
    """up on both daemons (each in a directory of the same name: the working_dir label),
    what each left, then down on both; returns {"ketchd"/"dockerd": (up, left, down)}."""
    out = {}
    for side in sides:
        workdir = str(tmp_path / side.target.name / project)
        _write_project(workdir, project, text)
        try:
            code, text_up = side.compose(workdir, project, "up", "-d", *up)
            left = side.left(project)
        finally:
            down = side.compose(workdir, project, "down", "-v", "--rmi", "local", "-t", "1")
        out[side.target.name] = (code, text_up, left, down, side.left(project))
    return out


def _compare(out: dict, project_dirs: tuple[str, str]) -> None:
    ref, got = out["dockerd"], out["ketchd"]
    assert ref[0] == 0, ref[1]
    assert (got[0], _progress(got[1])) == (ref[0], _progress(ref[1])), got[1]
    # the working_dir label names each side's directory: the same but for the side's name
    left_ref = json.loads(json.dumps(ref[2]).replace(project_dirs[0], "<dir>"))
    left_got = json.loads(json.dumps(got[2]).replace(project_dirs[1], "<dir>"))
    assert not _differences(left_ref, left_got), "\n".join(_differences(left_ref, left_got))
    assert (got[3][0], _progress(got[3][1])) == (ref[3][0], _progress(ref[3][1])), got[3][1]
    empty = {"containers": {}, "networks": {}, "volumes": {}}
    assert (got[4], ref[4]) == (empty, empty)


@pytest.mark.parametrize("shape", ["notes", "extras"])
def test_ketch_compose_leaves_what_it_leaves_on_dockerd(engines, tmp_path, shape):
    project = f"kdc{shape}{uuid.uuid4().hex[:6]}"
    text = NOTES if shape == "notes" else EXTRAS
    out = _play(engines["ketch compose"], tmp_path, project, text)
    _compare(out, (str(tmp_path / "dockerd"), str(tmp_path / "ketchd")))


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose 1.29 not installed")
def test_docker_compose_1_29_leaves_the_same_on_ketchd_as_on_dockerd(pair, tmp_path):
    project = f"kdv1{uuid.uuid4().hex[:6]}"
    v1 = ["docker-compose", "--ansi", "never"]
    out = _play([Side(pair.ketchd, v1), Side(pair.dockerd, v1)], tmp_path, project, NOTES)
    ref, got = out["dockerd"], out["ketchd"]
    assert (got[0], ref[0]) == (0, 0), (got[1], ref[1])
    left_ref = json.loads(json.dumps(ref[2]).replace(str(tmp_path / "dockerd"), "<dir>"))
    left_got = json.loads(json.dumps(got[2]).replace(str(tmp_path / "ketchd"), "<dir>"))
    assert not _differences(left_ref, left_got), "\n".join(_differences(left_ref, left_got))
    empty = {"containers": {}, "networks": {}, "volumes": {}}
    assert (got[3][0], got[4], ref[4]) == (0, empty, empty)
