"""Naming services on the command line (compose's ToProject): a service of an inactive
profile is enabled by naming it, and `config SERVICE` prints only it and its dependencies."""

import json

import pytest

from ketch.cli import flags
from ketch.compose.errors import ComposeError
from ketch.compose.main import GLOBAL, Context, main

COMPOSE = """\
services:
  web:
    image: busybox
    depends_on: [db]
    networks: [front]
  db:
    image: busybox
    networks: [back]
  other:
    image: busybox
  dbg:
    image: busybox
    profiles: [debug]
    depends_on: [db]
networks:
  front: {}
  back: {}
"""


@pytest.fixture
def project_file(tmp_path):
    path = tmp_path / "compose.yaml"
    path.write_text(COMPOSE)
    return str(path)


def _context(path: str) -> Context:
    opts, _ = flags.parse(GLOBAL, ["-f", path, "-p", "sel", "ps"], "ketch compose")
    return Context(opts, environ={})


def test_naming_a_service_enables_its_profile(project_file):
    ctx = _context(project_file)
    assert "dbg" not in ctx.project().services
    enabled = ctx.project(["dbg"])
    assert "dbg" in enabled.services and "debug" in enabled.profiles
    assert ctx.project(["web"]) is ctx.project()  # nothing to enable: the same project
    with pytest.raises(ComposeError, match="no such service: nope"):
        ctx.project(["nope"])


def _config(capsys, *args) -> str:
    rc = main(list(args))
    out = capsys.readouterr().out
    assert rc == 0
    return out


def test_config_services_lists_the_named_and_their_dependencies(project_file, capsys):
    assert _config(capsys, "-f", project_file, "config", "--services").split() == ["db", "other", "web"]
    assert _config(capsys, "-f", project_file, "config", "--services", "web").split() == ["db", "web"]
    assert _config(capsys, "-f", project_file, "config", "--services", "dbg").split() == ["db", "dbg"]


def test_config_service_prints_only_them_and_what_they_use(project_file, capsys):
    doc = json.loads(_config(capsys, "-f", project_file, "config", "--format", "json", "dbg"))
    assert sorted(doc["services"]) == ["db", "dbg"]
    assert sorted(doc["networks"]) == ["back", "default"]  # front: only web uses it
    doc = json.loads(_config(capsys, "-f", project_file, "--all-resources", "config", "--format", "json", "web"))
    assert sorted(doc["services"]) == ["db", "web"] and sorted(doc["networks"]) == ["back", "default", "front"]
    assert _config(capsys, "-f", project_file, "config", "--profiles", "web").split() == ["debug"]


def test_config_unknown_service(project_file, capsys):
    assert main(["-f", project_file, "config", "nope"]) == 1
    assert "no such service: nope" in capsys.readouterr().err
