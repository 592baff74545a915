"""``ketch network`` and ``ketch port`` against docker 28's own behaviour.

tests/golden/network_cli_docker28.json was made by scripts/record_docker_cli.py: the
docker 28.2.2 CLI ran each line of tests/golden/network_cli_cases.txt against
tests/fakedaemon.py answering from ``canned``, and for every case its exit status, stdout,
stderr ("docker" read as "ketch" where it names the program) and the requests it sent
were kept. Cases whose output docker varies from run to run (Go map order) were left out.

Here ketch's CLI runs in-process against the same fake daemon and must do the same.
"""

import io
import json
import pathlib
import sys

import pytest

from ketch.cli import main as cli_main
from tests.fakedaemon import FakeDaemon

GOLDEN = json.loads((pathlib.Path(__file__).resolve().parents[1] / "golden"
                     / "network_cli_docker28.json").read_text())


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    with FakeDaemon(str(tmp_path_factory.mktemp("fake") / "api.sock"), GOLDEN["canned"]) as fake:
        yield fake


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=lambda c: " ".join(c["argv"]))
def test_ketch_does_what_docker_28_does(case, daemon, tmp_path, capsys, monkeypatch):
    daemon.log.clear()
    monkeypatch.setattr(sys, "stdin", io.StringIO(case["stdin"] or ""))
    code = cli_main.main(["-H", f"unix://{daemon.socket}", "--config", str(tmp_path)] + case["argv"])
    out, err = capsys.readouterr()
    assert (code, out, err) == (case["rc"], case["stdout"], case["stderr"])
    assert _networking(daemon.requests()) == _networking(case["requests"])


_HOST_FIELDS = ("PortBindings", "PublishAllPorts", "NetworkMode", "Links", "Dns", "DnsOptions",
                "DnsSearch", "ExtraHosts")


def _networking(requests: list) -> list:
    """The requests, a container create body cut to its networking fields (the rest of it
    is test_runconfig's and test_netopts' business)."""
    out = []
    for method, path, query, body in requests:
        if path.endswith("/containers/create") and isinstance(body, dict):
            host = body.get("HostConfig") or {}
            body = {"ExposedPorts": body.get("ExposedPorts"), "MacAddress": body.get("MacAddress"),
                    **{k: host.get(k) for k in _HOST_FIELDS}, "NC": body.get("NetworkingConfig")}
        out.append([method, path, query, body])
    return out


def test_the_golden_covers_every_subcommand():
    seen = {tuple(c["argv"][:2]) for c in GOLDEN["cases"]}
    for sub in ("create", "ls", "inspect", "rm", "prune", "connect", "disconnect"):
        assert any(s[:2] == ("network", sub) for s in seen), sub
    assert any(c["argv"][0] == "port" for c in GOLDEN["cases"])


def test_bare_network_prints_its_help_on_stderr(capsys):
    assert cli_main.main(["network"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("Usage:  ketch network COMMAND\n\nManage networks\n")


def test_top_level_help_lists_the_network_noun_and_port(capsys):
    cli_main.main(["--help"])
    out = capsys.readouterr().out
    assert "  network     Manage networks\n" in out and "\n  port\n" in out
