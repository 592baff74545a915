"""``ketch network`` and ``ketch port`` against docker 28's own behaviour.

tests/golden/network_cli_docker28.json was made by running the docker 28.2.2 CLI against
a fake Engine API on a Unix socket that answered from ``canned`` (a list of [method,
path regexp, status, body]) and recorded each request: for every case, docker's exit
status, stdout, stderr ("docker" read as "ketch" where it names the program) and the
requests it sent (bodies decoded; filters as name -> sorted values, since docker sends
``{"name": {"v": true}}`` and ketch the equivalent ``{"name": ["v"]}``). Cases whose
output docker varies from run to run (Go map order) were left out.

Here ketch's CLI runs in-process against the same fake daemon and must do the same.
"""

import io
import json
import pathlib
import re
import socketserver
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler

import pytest

from ketch.cli import main as cli_main

GOLDEN = json.loads((pathlib.Path(__file__).resolve().parents[1] / "golden"
                     / "network_cli_docker28.json").read_text())


class _Daemon(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hung up: nothing for the test to see (and not on its stderr)


def _handler(canned, log):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = re.sub(r"^/v[0-9.]+", "", self.path)
            status, out = 404, {"message": "not canned"}
            if path.startswith("/_ping"):
                status, out = 200, "OK"
            else:
                log.append((self.command, self.path, body))
                for method, pattern, canned_status, canned_body in canned:
                    if method == self.command and re.fullmatch(pattern, path):
                        status, out = canned_status, canned_body
                        break
            data = (out if isinstance(out, str) else json.dumps(out)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_HEAD = _answer
    return Handler


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    sock = str(tmp_path_factory.mktemp("fake") / "api.sock")
    log: list = []
    server = _Daemon(sock, _handler(GOLDEN["canned"], log))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield sock, log
    server.shutdown()
    server.server_close()


def _request(method: str, raw_path: str, body: bytes) -> list:
    path, _, query = raw_path.partition("?")
    params = urllib.parse.parse_qs(query)
    if "filters" in params:
        doc = json.loads(params["filters"][0])
        params["filters"] = {k: sorted(v) for k, v in doc.items()}
    return [method, path, params, json.loads(body) if body else None]


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=lambda c: " ".join(c["argv"]))
def test_ketch_does_what_docker_28_does(case, daemon, tmp_path, capsys, monkeypatch):
    sock, log = daemon
    log.clear()
    monkeypatch.setattr(sys, "stdin", io.StringIO(case["stdin"] or ""))
    code = cli_main.main(["-H", f"unix://{sock}", "--config", str(tmp_path)] + case["argv"])
    out, err = capsys.readouterr()
    requests = [_request(*entry) for entry in log]
    assert (code, out, err) == (case["rc"], case["stdout"], case["stderr"])
    assert requests == case["requests"]


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
