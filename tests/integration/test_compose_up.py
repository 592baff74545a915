"""`ketch compose up` and `down` on ketchd: the notes' file shape with busybox stand-ins (a
"db" with a named volume, a container_name, a healthcheck; a "web" on a user network that
reaches db by its service name once db is healthy), re-running up, config-hash
recreation, --scale, --no-deps, attached up, and down leaving nothing behind."""

import json
import os
import secrets
import signal
import subprocess
import textwrap
import urllib.parse

import pytest

from tests.integration.conftest import wait_until

PROJECT = "com.docker.compose.project"


def by_project(name: str) -> str:
    return "filters=" + urllib.parse.quote(json.dumps({"label": [f"{PROJECT}={name}"]}))

NOTES = """
services:
  db:
    image: busybox
    container_name: {name}-pg
    command: ["sh", "-c", "mkdir -p /data/www && echo db-says-hi > /data/www/index.html && exec httpd -f -p 5432 -h /data/www"]
    volumes:
      - data:/data
    networks: [back]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5432/"]
      interval: 1s
      timeout: 2s
      retries: 30
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && wget -q -O /www/index.html http://db:5432/ && exec httpd -f -p 8080 -h /www"]
    environment:
      GREETING: "{greeting}"
    ports:
      - "127.0.0.1::8080"
    depends_on:
      db:
        condition: service_healthy
    networks: [back]
volumes:
  data:
networks:
  back:
    driver: bridge
"""


@pytest.fixture
def project(daemon, tmp_path):
    """A unique project in its own directory; whatever it leaves is removed afterwards."""
    name = f"kcu{os.getpid()}{secrets.token_hex(3)}"
    yield name, tmp_path
    _, items = daemon.api("GET", "/containers/json?all=1&" + by_project(name))
    for c in items or []:
        daemon.api("DELETE", f"/containers/{c['Id']}?force=1&v=1")
    for kind in ("networks", "volumes"):
        _, items = daemon.api("GET", f"/{kind}?" + by_project(name))
        items = items.get("Volumes") if kind == "volumes" else items
        for item in items or []:
            daemon.api("DELETE", f"/{kind}/{item.get('Id', item['Name'])}")


def write(path, text: str, **values) -> None:
    (path / "compose.yaml").write_text(textwrap.dedent(text).format(**values))


def compose(daemon, name, path, *args, timeout=90, input=None):
    return daemon.ketch("compose", "-p", name, "--project-directory", str(path), "-f", str(path / "compose.yaml"),
                        *args, timeout=timeout, input=input)


def containers(daemon, name) -> dict[str, dict]:
    """name -> /containers/json item of the project's containers."""
    _, items = daemon.api("GET", "/containers/json?all=1&" + by_project(name))
    return {c["Names"][0].lstrip("/"): c for c in items}


def left(daemon, name) -> list[str]:
    out = [f"container {n}" for n in containers(daemon, name)]
    _, nets = daemon.api("GET", "/networks?" + by_project(name))
    _, vols = daemon.api("GET", "/volumes?" + by_project(name))
    return out + [f"network {n['Name']}" for n in nets] + [f"volume {v['Name']}" for v in vols.get("Volumes") or []]


def test_notes_shape_up_again_recreate_down(daemon, project):
    name, path = project
    write(path, NOTES, name=name, greeting="hello")
    r = compose(daemon, name, path, "up", "-d")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    for line in (f" Network {name}_back  Creating", f" Network {name}_back  Created",
                 f' Volume "{name}_data"  Created', f" Container {name}-pg  Started",
                 f" Container {name}-pg  Waiting", f" Container {name}-pg  Healthy",
                 f" Container {name}-web-1  Started"):
        assert line in lines, r.stderr
    assert lines.index(f" Container {name}-pg  Healthy") < lines.index(f" Container {name}-web-1  Starting")
    first = containers(daemon, name)
    assert sorted(first) == [f"{name}-pg", f"{name}-web-1"]
    web = first[f"{name}-web-1"]
    assert web["Labels"]["com.docker.compose.service"] == "web"
    assert web["Labels"]["com.docker.compose.container-number"] == "1"
    # web reached db by its service name over the user network
    r = daemon.ketch("exec", f"{name}-web-1", "cat", "/www/index.html")
    assert r.stdout.strip() == "db-says-hi", r.stderr

    r = compose(daemon, name, path, "up", "-d")
    assert r.returncode == 0, r.stderr
    assert f" Container {name}-web-1  Running" in r.stderr.splitlines()
    assert {n: c["Id"] for n, c in containers(daemon, name).items()} == {n: c["Id"] for n, c in first.items()}

    write(path, NOTES, name=name, greeting="changed")
    r = compose(daemon, name, path, "up", "-d")
    assert r.returncode == 0, r.stderr
    assert f" Container {name}-web-1  Recreated" in r.stderr.splitlines()
    now = containers(daemon, name)
    assert now[f"{name}-pg"]["Id"] == first[f"{name}-pg"]["Id"]
    assert now[f"{name}-web-1"]["Id"] != first[f"{name}-web-1"]["Id"]
    assert now[f"{name}-web-1"]["State"] == "running"

    r = compose(daemon, name, path, "down")
    assert r.returncode == 0, r.stderr
    assert f" Network {name}_back  Removed" in r.stderr.splitlines()
    assert left(daemon, name) == [f"volume {name}_data"]  # named volumes stay without -v
    r = compose(daemon, name, path, "down", "-v")
    assert r.returncode == 0, r.stderr
    assert left(daemon, name) == []


ANON = """
services:
  web:
    image: busybox
    command: ["sleep", "300"]
    stop_grace_period: 1s
    volumes:
      - /anon
"""


def test_down_v_removes_an_inherited_anonymous_volume(daemon, project):
    name, path = project
    write(path, ANON)
    volume = None
    try:
        assert compose(daemon, name, path, "up", "-d").returncode == 0
        _, info = daemon.api("GET", f"/containers/{name}-web-1/json")
        volume = next(m["Name"] for m in info["Mounts"] if m["Destination"] == "/anon")
        r = compose(daemon, name, path, "up", "-d", "--force-recreate")
        assert r.returncode == 0, r.stderr
        _, info = daemon.api("GET", f"/containers/{name}-web-1/json")
        assert [m["Name"] for m in info["Mounts"] if m["Destination"] == "/anon"] == [volume]  # inherited
        r = compose(daemon, name, path, "down", "-v", "-t", "0")
        assert r.returncode == 0, r.stderr
        assert left(daemon, name) == []
        assert daemon.api("GET", f"/volumes/{volume}")[0] == 404
    finally:
        if volume:
            daemon.api("DELETE", f"/containers/{name}-web-1?force=1")
            daemon.api("DELETE", f"/volumes/{volume}")


SIMPLE = """
services:
  api:
    image: busybox
    command: ["sleep", "300"]
    stop_grace_period: 1s
    depends_on: [store]
  store:
    image: busybox
    command: ["sleep", "300"]
    stop_grace_period: 1s
"""


def test_scale_and_no_deps(daemon, project):
    name, path = project
    write(path, SIMPLE)
    r = compose(daemon, name, path, "up", "-d", "--no-deps", "api")
    assert r.returncode == 0, r.stderr
    assert sorted(containers(daemon, name)) == [f"{name}-api-1"]
    r = compose(daemon, name, path, "up", "-d", "--scale", "api=3")
    assert r.returncode == 0, r.stderr
    assert sorted(containers(daemon, name)) == [f"{name}-api-{n}" for n in (1, 2, 3)] + [f"{name}-store-1"]
    r = compose(daemon, name, path, "up", "-d", "--scale", "api=1")
    assert r.returncode == 0, r.stderr
    assert sorted(containers(daemon, name)) == [f"{name}-api-1", f"{name}-store-1"]
    r = compose(daemon, name, path, "scale", "api=2")
    assert r.returncode == 0, r.stderr
    assert sorted(containers(daemon, name)) == [f"{name}-api-1", f"{name}-api-2", f"{name}-store-1"]
    r = compose(daemon, name, path, "scale", "nope=2")
    assert (r.returncode, r.stderr.strip()) == (1, "no such service: nope")
    # store leaves the file: an orphan, warned about, then removed
    write(path, SIMPLE.replace("    depends_on: [store]\n", "").split("  store:")[0])
    r = compose(daemon, name, path, "up", "-d")
    assert r.returncode == 0, r.stderr
    assert f"Found orphan containers ([{name}-store-1]) for this project." in r.stderr
    r = compose(daemon, name, path, "up", "-d", "--remove-orphans")
    assert r.returncode == 0, r.stderr
    assert f" Container {name}-store-1  Removed" in r.stderr.splitlines()
    assert f"{name}-store-1" not in containers(daemon, name)
    r = compose(daemon, name, path, "down", "-t", "0", "--rmi", "local")
    assert r.returncode == 0, r.stderr
    assert left(daemon, name) == []
    assert daemon.api("GET", "/images/busybox/json")[0] == 200  # tagged by the user: not "local"


ONESHOT = """
services:
  talk:
    image: busybox
    command: ["sh", "-c", "echo hello from talk; sleep 0.2; exit 3"]
  idle:
    image: busybox
    command: ["sleep", "300"]
"""


def test_attached_up_abort_and_exit_code(daemon, project):
    name, path = project
    write(path, ONESHOT)
    r = compose(daemon, name, path, "up", "--exit-code-from", "talk", "-t", "1")
    assert r.returncode == 3, r.stderr
    assert "Attaching to idle-1, talk-1" in r.stdout
    assert "talk-1  | hello from talk" in r.stdout
    assert "talk-1 exited with code 3" in r.stdout
    assert "Aborting on container exit..." in r.stderr
    assert all(c["State"] == "exited" for c in containers(daemon, name).values())
    r = compose(daemon, name, path, "down")
    assert r.returncode == 0, r.stderr
    assert left(daemon, name) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_attached_up_stops_on_ctrl_c(daemon, project, sig):
    name, path = project
    write(path, SIMPLE)
    proc = subprocess.Popen(daemon._ketch_cmd(["compose", "-p", name, "-f", str(path / "compose.yaml"), "up"]),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=daemon.env(), text=True)
    try:
        def both_running():
            found = containers(daemon, name)
            return len(found) == 2 and all(c["State"] == "running" for c in found.values())
        assert wait_until(both_running, 60)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Attaching to api-1, store-1" in out
    assert "Gracefully stopping... (press Ctrl+C again to force)" in err
    assert f" Container {name}-api-1  Stopped" in err.splitlines()
    assert all(c["State"] == "exited" for c in containers(daemon, name).values())
    assert compose(daemon, name, path, "down").returncode == 0
    assert left(daemon, name) == []


def test_down_remove_orphans_takes_a_running_one_off(daemon, project):
    name, path = project
    write(path, SIMPLE)
    r = compose(daemon, name, path, "run", "-d", "api")
    assert r.returncode == 0, r.stderr
    oneoff = [n for n, c in containers(daemon, name).items() if c["Labels"].get("com.docker.compose.oneoff") == "True"]
    assert len(oneoff) == 1 and containers(daemon, name)[oneoff[0]]["State"] == "running"
    r = compose(daemon, name, path, "down", "-t", "0")
    assert r.returncode == 0, r.stderr
    assert oneoff[0] in containers(daemon, name)  # plain down keeps one-offs, as compose 2.29
    r = compose(daemon, name, path, "down", "-t", "0", "--remove-orphans")
    assert r.returncode == 0, r.stderr
    assert left(daemon, name) == []


SLOW = """
services:
  api:
    image: busybox
    command: ["sleep", "300"]
    stop_grace_period: 60s
  other:
    image: busybox
    command: ["sleep", "300"]
"""


def test_second_ctrl_c_kills_at_once_and_only_ups_services(daemon, project):
    import time
    name, path = project
    write(path, SLOW)
    assert compose(daemon, name, path, "up", "-d", "other").returncode == 0
    errfile = path / "stderr"
    with open(errfile, "w") as err:
        proc = subprocess.Popen(daemon._ketch_cmd(["compose", "-p", name, "-f", str(path / "compose.yaml"),
                                                   "up", "api"]),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                env=daemon.env(), text=True)
    try:
        assert wait_until(lambda: containers(daemon, name).get(f"{name}-api-1", {}).get("State") == "running", 60)
        proc.send_signal(signal.SIGINT)
        assert wait_until(lambda: f" Container {name}-api-1  Stopping" in errfile.read_text(), 30)
        begun = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        assert time.monotonic() - begun < 20  # not the 60 s grace period
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, errfile.read_text()
    states = {n: c["State"] for n, c in containers(daemon, name).items()}
    assert states == {f"{name}-api-1": "exited", f"{name}-other-1": "running"}, errfile.read_text()
    assert compose(daemon, name, path, "down", "-t", "0").returncode == 0
    assert left(daemon, name) == []


def test_errors(daemon, project):
    name, path = project
    write(path, SIMPLE)
    r = compose(daemon, name, path, "up", "-d", "--force-recreate", "--no-recreate")
    assert (r.returncode, r.stderr.strip()) == (1, "--force-recreate and --no-recreate are incompatible")
    r = compose(daemon, name, path, "up", "-d", "nope")
    assert (r.returncode, r.stderr.strip()) == (1, "no such service: nope")
    r = compose(daemon, name, path, "up", "-d", "--scale", "api")
    assert r.stderr.strip() == 'invalid --scale option "api". Should be SERVICE=NUM'
    r = compose(daemon, name, path, "down", "--rmi", "some")
    assert r.stderr.strip() == 'invalid value for --rmi: "some"'
    assert left(daemon, name) == []
