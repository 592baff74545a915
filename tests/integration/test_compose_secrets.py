"""Secrets and configs whose content is not a file (`environment:`, `content:`) reach the
container through `up` as well as through `run`: the executor copies them in after create."""

import subprocess
import textwrap

from tests.integration import test_compose_up
from tests.integration.test_compose_up import compose

project = test_compose_up.project  # the fixture: a unique project, cleaned up after

FILE = """
services:
  app:
    image: busybox
    command: ["sleep", "300"]
    secrets: [token]
    configs:
      - source: motd
        target: /etc/motd
secrets:
  token:
    environment: TOKEN
configs:
  motd:
    content: "hello from {name}"
"""


def test_up_copies_environment_secrets_and_content_configs(daemon, project):
    name, path = project
    (path / "compose.yaml").write_text(textwrap.dedent(FILE).format(name=name))
    env = daemon.env()
    env["TOKEN"] = "s3cret"
    up = subprocess.run(daemon._ketch_cmd(["compose", "-p", name, "-f", str(path / "compose.yaml"), "up", "-d"]),
                        env=env, capture_output=True, text=True, timeout=90)
    assert up.returncode == 0, up.stderr
    seen = compose(daemon, name, path, "exec", "-T", "app", "cat", "/run/secrets/token", "/etc/motd")
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout == f"s3crethello from {name}"
    down = compose(daemon, name, path, "down")
    assert down.returncode == 0, down.stderr
