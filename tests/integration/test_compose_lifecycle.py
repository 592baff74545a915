"""create, start, stop, restart, pause, unpause, kill, rm, wait, `up --wait` and `down`
without a compose file, on ketchd, through compose's labels."""

import pytest

from tests.integration import test_compose_up
from tests.integration.test_compose_up import compose, containers, left, write

project = test_compose_up.project  # the fixture: a unique project name and directory, cleaned up

APP = """
services:
  front:
    image: busybox
    command: ["sleep", "300"]
    stop_grace_period: 1s
    depends_on:
      back:
        condition: service_healthy
  back:
    image: busybox
    command: ["sleep", "300"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  job:
    image: busybox
    command: ["sh", "-c", "sleep 1; exit 7"]
"""


def states(daemon, name) -> dict[str, str]:
    return {n.rsplit("-", 2)[1]: c["State"] for n, c in containers(daemon, name).items()}


def test_create_start_stop_restart_pause_kill_rm(daemon, project):
    name, path = project
    write(path, APP)
    r = compose(daemon, name, path, "create")
    assert r.returncode == 0, r.stderr
    assert f" Container {name}-front-1  Created" in r.stderr.splitlines()
    assert states(daemon, name) == {"front": "created", "back": "created", "job": "created"}

    r = compose(daemon, name, path, "start", "front")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines.index(f" Container {name}-back-1  Healthy") < lines.index(f" Container {name}-front-1  Starting")
    assert states(daemon, name) == {"front": "running", "back": "running", "job": "created"}

    r = compose(daemon, name, path, "stop", "back")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [f" Container {name}-back-1  Stopping", f" Container {name}-back-1  Stopped"]
    r = compose(daemon, name, path, "restart", "-t", "1", "back")
    assert r.returncode == 0, r.stderr
    assert f" Container {name}-back-1  Started" in r.stderr.splitlines()

    r = compose(daemon, name, path, "pause", "front")
    assert r.returncode == 0, r.stderr
    assert states(daemon, name)["front"] == "paused"
    r = compose(daemon, name, path, "unpause")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [f" Container {name}-front-1  Unpaused"]
    r = compose(daemon, name, path, "kill", "-s", "KILL", "front")
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [f" Container {name}-front-1  Killing", f" Container {name}-front-1  Killed"]

    r = compose(daemon, name, path, "rm", "-f")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"Going to remove {name}-front-1, {name}-job-1"
    assert sorted(containers(daemon, name)) == [f"{name}-back-1"]
    r = compose(daemon, name, path, "rm", "-f", "-s", "-v")
    assert r.returncode == 0, r.stderr
    assert containers(daemon, name) == {}
    r = compose(daemon, name, path, "rm", "-f")
    assert r.stderr.strip() == "No stopped containers"
    r = compose(daemon, name, path, "down")
    assert r.returncode == 0, r.stderr
    assert left(daemon, name) == []


def test_up_wait_then_wait_and_down_by_name(daemon, project, tmp_path_factory):
    name, path = project
    write(path, APP)
    r = compose(daemon, name, path, "up", "--wait", "front", "back")
    assert r.returncode == 0, r.stderr
    assert f" Container {name}-front-1  Healthy" in r.stderr.splitlines()
    r = compose(daemon, name, path, "up", "-d", "job")
    assert r.returncode == 0, r.stderr
    r = compose(daemon, name, path, "wait", "job")
    assert r.returncode == 7, r.stderr
    assert r.stdout.startswith('container "') and r.stdout.rstrip().endswith("exited with status code 7")
    # no compose file: the project is rebuilt from the containers' labels
    elsewhere = tmp_path_factory.mktemp("nofile")
    r = daemon.ketch("compose", "-p", name, "--project-directory", str(elsewhere), "down", "-t", "1")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines.index(f" Container {name}-front-1  Removed") < lines.index(f" Container {name}-back-1  Stopping")
    assert left(daemon, name) == []


def test_up_wait_timeout(daemon, project):
    name, path = project
    write(path, """
    services:
      sick:
        image: busybox
        command: ["sleep", "300"]
        stop_grace_period: 1s
        healthcheck:
          test: ["CMD", "false"]
          interval: 10s
    """)
    r = compose(daemon, name, path, "up", "--wait", "--wait-timeout", "1")
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == "application not healthy after 1s"
    r = compose(daemon, name, path, "down", "-t", "0")
    assert left(daemon, name) == []


@pytest.mark.parametrize("flag", ["--dry-run"])
def test_dry_run_touches_nothing(daemon, project, flag):
    name, path = project
    write(path, APP)
    r = daemon.ketch("compose", flag, "-p", name, "-f", str(path / "compose.yaml"), "up", "-d")
    assert r.returncode == 0, r.stderr
    assert f" DRY-RUN MODE -  Container {name}-front-1  Started" in r.stderr.splitlines()
    assert left(daemon, name) == []
