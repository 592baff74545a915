"""A fake Engine API on a Unix socket: canned answers, every request recorded.

For tests of the CLI's requests and rendering without a daemon, and for recording what
the real docker CLI sends and prints for the same answers (scripts/record_docker_cli.py).
``canned`` is a list of [method, path regexp (without the /vX.Y prefix), status, body];
the first that matches answers, else 404 "not canned". ``/_ping`` always answers OK.
"""

import json
import re
import socketserver
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that hung up: nothing to report


class FakeDaemon:
    def __init__(self, socket_path: str, canned: list) -> None:
        self.socket = socket_path
        self.canned = canned
        self.log: list[tuple[str, str, bytes]] = []  # (method, path with query, body)
        self._server = _Server(socket_path, self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeDaemon":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def requests(self) -> list:
        """The recorded requests, comparable across clients: [method, path, query, body],
        filters as name -> sorted values (docker sends {"n": {"v": true}}, ketch {"n": ["v"]})."""
        out = []
        for method, raw_path, body in self.log:
            path, _, query = raw_path.partition("?")
            params = urllib.parse.parse_qs(query)
            if "filters" in params:
                doc = json.loads(params["filters"][0])
                params["filters"] = {k: sorted(v) for k, v in doc.items()}
            out.append([method, path, params, json.loads(body) if body else None])
        return out

    def _handler(self):
        daemon = self

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
                elif path.startswith("/version"):
                    status, out = 200, {"ApiVersion": "1.45", "MinAPIVersion": "1.24",
                                        "Version": "28.0.0", "Os": "linux", "Arch": "amd64"}
                else:
                    daemon.log.append((self.command, self.path, body))
                    for method, pattern, canned_status, canned_body in daemon.canned:
                        if method == self.command and re.fullmatch(pattern, path):
                            status, out = canned_status, canned_body
                            break
                data = (out if isinstance(out, str) else json.dumps(out)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Api-Version", "1.45")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = _answer
        return Handler
