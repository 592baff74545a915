"""ketch.api.http against real sockets: a Server on a temp Unix socket in a loop
thread, spoken to with raw sockets (to see the bytes) and http.client."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import json
import logging
import os
import shutil
import socket
import stat
import tempfile
import threading
import time

import h11
import pytest

from ketch.api.http import (
    BadRequest, RAW_STREAM, Response, Router, Server, StreamResponse, encode_headers, encode_json,
    json_response,
)

DEFAULT_HEADERS = {"Api-Version": "1.41", "Docker-Experimental": "false", "Ostype": "linux",
                   "Server": "Docker/ketch (linux)"}
TIMEOUT = 10


# clients


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=TIMEOUT)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


class RawClient:
    """A socket and a tiny HTTP/1.1 response reader, to see exactly what the server sends."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(path)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("server closed the connection")
        self.buf += data

    def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buf:
            self._fill()
        data, self.buf = self.buf.split(marker, 1)
        return data

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_to_eof(self) -> bytes:
        try:
            while True:
                self._fill()
        except EOFError:
            data, self.buf = self.buf, b""
            return data

    def read_head(self) -> tuple[int, str, dict[str, str]]:
        lines = self.read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        _, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(status), reason, headers

    def read_response(self, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        status, _, headers = self.read_head()
        if head_only:
            return status, headers, b""
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int(self.read_until(b"\r\n"), 16)
                body += self.read_exact(size)
                self.read_exact(2)
                if size == 0:
                    return status, headers, body
        if "content-length" in headers:
            return status, headers, self.read_exact(int(headers["content-length"]))
        return status, headers, self.read_to_eof()

    def at_eof(self) -> bool:
        try:
            self._fill()
        except (EOFError, ConnectionResetError):  # reset: the server closed with our bytes unread
            return True
        return False

    def close(self) -> None:
        self.sock.close()


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: docker\r\n\r\n".encode()


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: docker\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
            .encode() + body)


# the application under test


class App:
    """Routes exercising every feature; handlers record what they saw in self.seen."""

    def __init__(self) -> None:
        self.seen: dict[str, object] = {}
        self.errors: list[BaseException] = []
        self.event = threading.Event()  # handler -> test
        self.release = threading.Event()  # test -> handler
        self.reached = threading.Event()  # handler -> test: /wait is running, the request is in flight
        self.router = Router()
        add = self.router.add
        add("GET", "/_ping", self.ping)
        add("GET", "/containers/json", self.list_containers)
        add("GET", "/containers/{id}/json", self.inspect)
        add("GET", "/images/{name:.*}/json", self.image)
        add("GET", "/query", self.query)
        add("POST", "/echo", self.echo)
        add("POST", "/small", self.small)
        add("POST", "/json", self.json)
        add("POST", "/count", self.count)
        add("POST", "/ignore-body", self.ping)
        add("POST", "/refuse-body", self.bad)
        add("POST", "/stream-ignoring-body", self.lazy_stream)
        add("GET", "/versioned", self.versioned)
        add("GET", "/stream", self.stream)
        add("GET", "/lazy-stream", self.lazy_stream)
        add("GET", "/forever", self.forever)
        add("GET", "/forever-uncaught", self.forever_uncaught)
        add("GET", "/wait", self.wait)
        add("GET", "/boom", self.boom)
        add("GET", "/bad", self.bad)
        add("GET", "/nothing", self.nothing)
        add("GET", "/broken-stream", self.broken_stream)
        add("POST", "/containers/{id}/attach", self.attach)
        add("POST", "/exec/{id}/start", self.exec_start)
        add("POST", "/hangup", self.hangup)

    def error_handler(self, request, exc: BaseException) -> Response:
        self.errors.append(exc)
        status = 400 if isinstance(exc, BadRequest) else 500
        return json_response({"message": str(exc)}, status)

    async def ping(self, request):
        return Response(200, b"OK")

    async def list_containers(self, request):
        return json_response([])

    async def inspect(self, request):
        return json_response({"Id": request.match["id"], "version": request.api_version,
                              "path": request.path})

    async def image(self, request):
        return json_response({"name": request.match["name"]})

    async def query(self, request):
        return json_response({"query": request.query, "filter": request.arg("filter"),
                              "missing": request.arg("missing", "dflt"),
                              "all": request.flag("all"), "size": request.flag("size", True),
                              "limit": request.int_arg("limit", -1),
                              "t": request.int_arg("t", None, bits=32)})

    async def echo(self, request):
        return Response(200, await request.body(), content_type="application/octet-stream")

    async def small(self, request):
        return Response(200, await request.body(limit=10))

    async def json(self, request):
        return json_response({"got": await request.json()})

    async def count(self, request):
        digest, size, chunks, largest = hashlib.sha256(), 0, 0, 0
        async for chunk in request.stream():
            if chunks == 0:
                self.event.set()  # the first bytes arrived while the client is still sending
            digest.update(chunk)
            size += len(chunk)
            chunks += 1
            largest = max(largest, len(chunk))
        return json_response({"size": size, "sha256": digest.hexdigest(), "chunks": chunks,
                              "largest": largest})

    async def stream(self, request):
        response = StreamResponse(content_type="application/json")
        await response.prepare(request)
        await asyncio.to_thread(self.release.wait, TIMEOUT)
        await response.write(b'{"StatusCode":0}\n')
        await response.finish()

    async def lazy_stream(self, request):
        return StreamResponse(headers={"X-Lazy": "1"})

    async def forever(self, request):
        response = StreamResponse()
        await response.prepare(request)
        try:
            while True:
                await response.write(b"x" * 4096)
                await asyncio.sleep(0.001)
        except Exception as exc:
            self.seen["forever"] = exc
            self.event.set()
            raise

    async def forever_uncaught(self, request):
        response = StreamResponse()
        await response.prepare(request)
        self.event.set()
        while True:
            await response.write(b"x" * 4096)
            await asyncio.sleep(0.001)

    async def wait(self, request):
        self.reached.set()
        await request.wait_disconnected()
        self.seen["wait"] = "disconnected"
        self.event.set()

    async def versioned(self, request):
        request.response_headers = encode_headers({"Api-Version": "9.9", "Server": "mine"})
        if request.flag("fail"):
            raise BadRequest("refused")
        return Response(200, b"OK", {"X-Last": "z", "A-First": "a"})

    async def boom(self, request):
        raise RuntimeError("boom")

    async def bad(self, request):
        raise BadRequest("bad parameter")

    async def nothing(self, request):
        return None

    async def broken_stream(self, request):
        response = StreamResponse()
        await response.prepare(request)
        await response.write(b"partial")
        raise RuntimeError("disk on fire")

    async def attach(self, request):
        stream = await request.hijack()
        while True:
            data = await stream.read()
            if not data:
                break
            await stream.write(data.upper())
        await stream.write(b"EOF")
        self.seen["attach"] = "done"

    async def exec_start(self, request):
        config = await request.json()
        stream = await request.hijack(content_type="application/vnd.docker.multiplexed-stream")
        await stream.write(json.dumps(config).encode() + b"|")
        await stream.write(await stream.read())

    async def hangup(self, request):
        stream = await request.hijack(headers={"X-Extra": "yes"})
        await stream.write(b"bye")
        await stream.close()


class ServerThread:
    """A Server on a loop of its own thread, so tests can use blocking clients."""

    def __init__(self, app: App, path: str, **options) -> None:
        self.path = path
        self.loop = asyncio.new_event_loop()
        self.loop_errors: list[dict] = []
        self.loop.set_exception_handler(lambda loop, context: self.loop_errors.append(context))
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        options.setdefault("default_headers", DEFAULT_HEADERS)
        self.server = Server(app.router, app.error_handler, **options)
        self.call(self.server.serve_unix(path))

    def call(self, coro, timeout: float = TIMEOUT):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self.loop.is_running():
            self.call(self.server.close(timeout=2))
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(TIMEOUT)
        self.loop.close()


@pytest.fixture
def sockdir():
    path = tempfile.mkdtemp(prefix="ketch-http-", dir="/tmp")  # AF_UNIX paths must stay short
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def app():
    return App()


@pytest.fixture
def serve(app, sockdir):
    started = []

    def start(**options) -> ServerThread:
        started.append(ServerThread(app, os.path.join(sockdir, f"s{len(started)}.sock"), **options))
        return started[-1]

    yield start
    for server in started:
        server.stop()
        assert server.loop_errors == []


@pytest.fixture
def server(serve):
    return serve()


def request(server: ServerThread, method: str, path: str, body=None, headers=None):
    conn = UnixHTTPConnection(server.path)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


# routing and query parsing


@pytest.mark.parametrize("path, version", [("/containers/abc/json", None),
                                           ("/v1.41/containers/abc/json", "1.41"),
                                           ("/v1.24/containers/abc/json", "1.24")])
def test_routes_with_and_without_version_prefix(server, path, version):
    status, headers, body = request(server, "GET", path)
    assert status == 200
    assert json.loads(body) == {"Id": "abc", "version": version, "path": "/containers/abc/json"}
    assert headers["Content-Type"] == "application/json"
    for name, value in DEFAULT_HEADERS.items():
        assert headers[name] == value


def test_static_route_wins_over_pattern(server):
    assert request(server, "GET", "/v1.41/containers/json")[2] == b"[]\n"


@pytest.mark.parametrize("path, name", [("/images/alpine/json", "alpine"),
                                        ("/v1.41/images/docker.io/library/alpine:3.19/json",
                                         "docker.io/library/alpine:3.19"),
                                        ("/images/registry%2Fname/json", "registry/name")])
def test_pattern_with_slashes(server, path, name):
    status, _, body = request(server, "GET", path)
    assert (status, json.loads(body)) == (200, {"name": name})


def test_query_parsing(server):
    status, _, body = request(server, "GET", "/query?filter=a&filter=b&empty=&limit=5&x=%7B%22a%22%3A1%7D")
    assert status == 200
    assert json.loads(body) == {
        "query": {"filter": ["a", "b"], "empty": [""], "limit": ["5"], "x": ['{"a":1}']},
        "filter": "a", "missing": "dflt", "all": False, "size": True, "limit": 5, "t": None}


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("True", True),
                                             ("yes", True), ("0", False), ("false", False),
                                             ("", False), ("no", False), ("None", False)])
def test_flag_parses_like_docker(server, value, expected):
    body = request(server, "GET", f"/query?all={value}&size={value}")[2]
    assert json.loads(body)["all"] is expected
    assert json.loads(body)["size"] is expected  # present overrides the default


@pytest.mark.parametrize("junk, message", [
    ("abc", 'strconv.Atoi: parsing "abc": invalid syntax'),
    ("1.5", 'strconv.Atoi: parsing "1.5": invalid syntax'),
    ("1_000", 'strconv.Atoi: parsing "1_000": invalid syntax'),
    ("%205", 'strconv.Atoi: parsing " 5": invalid syntax'),
    ("0x10", 'strconv.Atoi: parsing "0x10": invalid syntax'),
    ("9223372036854775808", 'strconv.Atoi: parsing "9223372036854775808": value out of range'),
    ("-9223372036854775809", 'strconv.Atoi: parsing "-9223372036854775809": value out of range'),
])
def test_int_arg_rejects_junk_with_gos_words(server, app, junk, message):
    status, _, body = request(server, "GET", f"/query?limit={junk}")
    assert status == 400
    assert json.loads(body)["message"] == message


@pytest.mark.parametrize("value, status, t", [
    ("2147483647", 200, 2147483647),
    ("-2147483648", 200, -2147483648),
    ("%2B007", 200, 7),  # a plus sign, leading zeros: Atoi takes them
    ("2147483648", 400, 'strconv.Atoi: parsing "2147483648": value out of range'),
    ("-2147483649", 400, 'strconv.Atoi: parsing "-2147483649": value out of range'),
])
def test_int_arg_of_32_bits(server, app, value, status, t):
    got, _, body = request(server, "GET", f"/query?t={value}")
    assert got == status
    assert json.loads(body)["t" if status == 200 else "message"] == t


def test_router_rejects_duplicates_and_relative_patterns():
    router = Router()

    async def handler(request):
        return None

    router.add("GET", "/a/{id}", handler)
    with pytest.raises(ValueError):
        router.add("get", "/a/{id}", handler)
    with pytest.raises(ValueError):
        router.add("GET", "a", handler)
    assert router.resolve("GET", "/a/x") == (handler, {"id": "x"})
    assert router.resolve("GET", "/a/x/y") is None
    assert router.resolve("HEAD", "/a/x") == (handler, {"id": "x"})
    assert router.resolve("POST", "/a/x") is None


# responses


def test_json_encoding_matches_go():
    assert encode_json({"a": [1, 2], "b": "<é&>"}) == '{"a":[1,2],"b":"<é&>"}\n'.encode()
    assert encode_json("\udcff") == b'"\\udcff"\n'  # lone surrogate: still valid JSON
    assert json_response({"x": 1}, 201).status == 201


def test_not_found_and_wrong_method(server):
    for method, path in [("GET", "/nope"), ("GET", "/v1.41/nope"), ("DELETE", "/_ping"),
                         ("POST", "/containers/abc/json")]:
        status, headers, body = request(server, method, path)
        assert (status, body) == (404, b'{"message":"page not found"}\n')
        assert headers["Api-Version"] == "1.41"


def test_custom_not_found(serve, app):
    server = serve(not_found=lambda request: Response(404, f"no {request.path}".encode()))
    assert request(server, "GET", "/v1.41/x")[::2] == (404, b"no /x")


def test_error_handler(server, app):
    assert request(server, "GET", "/boom")[::2] == (500, b'{"message":"boom"}\n')
    assert request(server, "GET", "/bad")[::2] == (400, b'{"message":"bad parameter"}\n')
    assert request(server, "GET", "/nothing")[0] == 500
    assert [type(e) for e in app.errors] == [RuntimeError, BadRequest, RuntimeError]


def test_failure_after_the_response_started_closes_and_logs(server, app, caplog):
    client = RawClient(server.path)
    client.send(get("/broken-stream"))
    assert client.read_head()[0] == 200
    assert client.read_to_eof() == b"7\r\npartial\r\n"  # no final chunk: the client sees it cut
    assert app.errors == []  # too late for an error response
    assert "GET /broken-stream failed after the response started" in caplog.text
    assert "disk on fire" in caplog.text
    client.close()


def test_broken_error_handler_falls_back_to_500(serve, app, caplog):
    app.error_handler = lambda request, exc: 1 / 0
    server = serve()
    assert request(server, "GET", "/boom")[::2] == (500, b'{"message":"internal server error"}\n')
    assert "http error handler failed" in caplog.text


def test_head_sends_headers_only(server):
    client = RawClient(server.path)
    client.send(b"HEAD /containers/abc/json HTTP/1.1\r\nHost: docker\r\n\r\n" + get("/_ping"))
    status, headers, _ = client.read_response(head_only=True)
    assert status == 200
    assert headers["content-type"] == "application/json"
    get_body = b'{"Id":"abc","version":null,"path":"/containers/abc/json"}\n'
    assert int(headers["content-length"]) == len(get_body)  # as the GET would say
    assert client.read_response()[2] == b"OK"  # the next bytes are the next response
    client.close()


def test_head_then_get_on_one_connection(server):
    client = RawClient(server.path)
    client.send(b"HEAD /_ping HTTP/1.1\r\nHost: docker\r\n\r\n" + get("/_ping"))
    assert client.read_response(head_only=True)[0] == 200
    status, headers, body = client.read_response()
    assert (status, body) == (200, b"OK")  # no stray HEAD body bytes before it
    client.close()


def test_stream_response_headers_arrive_before_body(server, app):
    client = RawClient(server.path)
    client.send(get("/stream"))
    status, _, headers = client.read_head()  # the handler is still blocked
    assert status == 200
    assert headers["transfer-encoding"] == "chunked"
    assert headers["content-type"] == "application/json"
    assert headers["api-version"] == "1.41"
    assert "content-length" not in headers
    app.release.set()
    assert client.read_until(b"0\r\n\r\n") == b'11\r\n{"StatusCode":0}\n\r\n'
    client.send(get("/_ping"))  # and the connection stays usable
    assert client.read_response()[2] == b"OK"
    client.close()


def test_unprepared_stream_response_is_sent_empty(server):
    status, headers, body = request(server, "GET", "/lazy-stream")
    assert (status, headers["X-Lazy"], body) == (200, "1", b"")


# request bodies


def test_content_length_body(server):
    assert request(server, "POST", "/echo", body=b"hello world")[::2] == (200, b"hello world")


def test_chunked_body(server):
    client = RawClient(server.path)
    client.send(b"POST /echo HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    assert client.read_response()[::2] == (200, b"hello world")
    client.close()


def test_expect_100_continue(server):
    client = RawClient(server.path)
    client.send(b"POST /echo HTTP/1.1\r\nHost: docker\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
    assert client.read_head()[0] == 100
    client.send(b"abc")
    assert client.read_response()[::2] == (200, b"abc")
    client.close()


def test_json_body(server):
    headers = {"Content-Type": "application/json"}
    assert json.loads(request(server, "POST", "/json", b'{"Image":"alpine"}', headers)[2]) == {
        "got": {"Image": "alpine"}}
    assert json.loads(request(server, "POST", "/json", b"")[2]) == {"got": None}
    status, _, body = request(server, "POST", "/json", b"{nope", headers)
    assert status == 400
    assert json.loads(body)["message"].startswith("invalid JSON")


def test_body_limit(server):
    assert request(server, "POST", "/small", b"0123456789")[::2] == (200, b"0123456789")
    status, _, body = request(server, "POST", "/small", b"0123456789x")
    assert (status, json.loads(body)) == (400, {"message": "request body exceeds 10 bytes"})
    client = RawClient(server.path)  # chunked: no Content-Length to check up front
    client.send(b"POST /small HTTP/1.1\r\nHost: docker\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n")
    assert client.read_response()[0] == 400
    client.close()


def test_large_body_is_streamed_not_buffered(server, app):
    size = 48 << 20
    data = os.urandom(1 << 20) * 48
    client = RawClient(server.path)
    client.send(f"POST /count HTTP/1.1\r\nHost: docker\r\nContent-Length: {size}\r\n\r\n".encode())
    client.send(data[: 1 << 20])
    # the handler sees bytes while most of the body has not even been sent
    assert app.event.wait(TIMEOUT)
    client.send(data[1 << 20:])
    status, _, body = client.read_response()
    result = json.loads(body)
    assert status == 200
    assert result["size"] == size
    assert result["sha256"] == hashlib.sha256(data).hexdigest()
    assert result["chunks"] > 1
    assert result["largest"] <= 4 << 20
    client.close()


# connections


def test_keep_alive_serves_many_requests_on_one_connection(server):
    conn = UnixHTTPConnection(server.path)
    sockets = set()
    for i in range(5):
        conn.request("GET", f"/v1.41/containers/c{i}/json")
        response = conn.getresponse()
        assert json.loads(response.read())["Id"] == f"c{i}"
        conn.request("POST", "/echo", body=b"x" * i)
        assert conn.getresponse().read() == b"x" * i
        sockets.add(id(conn.sock))
    assert len(sockets) == 1
    conn.close()


def test_pipelined_requests_are_answered_in_order(server):
    client = RawClient(server.path)
    client.send(get("/containers/one/json") + post("/echo", b"two") + get("/boom") + get("/_ping")
                + post("/ignore-body", b"unread body") + get("/containers/six/json"))
    assert json.loads(client.read_response()[2])["Id"] == "one"
    assert client.read_response()[2] == b"two"
    assert client.read_response()[0] == 500
    assert client.read_response()[2] == b"OK"
    assert client.read_response()[2] == b"OK"
    assert json.loads(client.read_response()[2])["Id"] == "six"
    client.close()


def test_unread_large_body_closes_the_connection(server):
    client = RawClient(server.path)
    client.send(f"POST /ignore-body HTTP/1.1\r\nHost: docker\r\nContent-Length: {1 << 30}\r\n\r\n".encode())
    try:
        client.send(b"z" * (1 << 20))
    except BrokenPipeError:
        pass  # the server may already have given up on the body
    assert client.read_response()[2] == b"OK"
    assert client.at_eof()  # skipping a GiB to keep the connection is not worth it
    client.close()


@pytest.mark.parametrize("head", [b"GET /_ping HTTP/1.0\r\n\r\n",
                                  b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"])
def test_close_after_http10_and_connection_close(server, head):
    client = RawClient(server.path)
    client.send(head)
    assert client.read_response()[2] == b"OK"
    assert client.at_eof()
    client.close()


def test_malformed_request_gets_gos_plain_400_and_close(server, app):
    client = RawClient(server.path)
    client.send(b"GET /_ping HTTP/1.1\r\nthis is no header\r\n\r\n")
    # net/http's own words, before any router or middleware: no Date, no length
    assert client.read_to_eof() == (b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                    b"Connection: close\r\n\r\n400 Bad Request")
    assert app.errors == []
    client.close()


@pytest.mark.parametrize("size, status", [
    ((1 << 20) - 1000, 200),  # under Go's DefaultMaxHeaderBytes: served
    ((1 << 20) + 8192, 431),  # over it and its 4 KiB of slack: Go's 431, then close
])
@pytest.mark.parametrize("whole", [True, False])
def test_a_request_head_over_1mb_is_431(server, app, size, status, whole):
    client = RawClient(server.path)
    head = b"GET /_ping HTTP/1.1\r\nHost: d\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    if whole:
        client.send(head)
    else:  # in pieces, so that h11 sees an incomplete head pass its limit
        try:
            for i in range(0, len(head), 65536):
                client.send(head[i:i + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass
    status_got, headers, body = client.read_response()
    assert status_got == status
    if status == 431:
        assert body == b"431 Request Header Fields Too Large"
        assert headers["connection"] == "close"
        assert client.at_eof()
    client.close()


def test_head_size_counts_the_head_as_sent():
    """For a big head that reaches h11 whole (it checks only incomplete ones)."""
    from ketch.api.http import _head_size
    raw = b"GET /_ping?x=1 HTTP/1.1\r\nHost: d\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n"
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(raw)
    assert _head_size(conn.next_event()) == len(raw)


def test_client_disconnect_during_stream_is_quiet(server, app, caplog):
    caplog.set_level(logging.DEBUG)
    client = RawClient(server.path)
    client.send(get("/forever"))
    assert client.read_head()[0] == 200
    client.close()
    assert app.event.wait(TIMEOUT)
    assert isinstance(app.seen["forever"], ConnectionResetError)
    time.sleep(0.1)
    assert app.errors == []  # nothing to answer: the error handler is not involved
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_uncaught_disconnect_is_quiet(server, app, caplog):
    client = RawClient(server.path)
    client.send(get("/forever-uncaught"))
    assert client.read_head()[0] == 200
    assert app.event.wait(TIMEOUT)
    client.close()
    deadline = time.monotonic() + TIMEOUT
    while server.server.connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not server.server.connections
    assert app.errors == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_wait_disconnected(server, app):
    client = RawClient(server.path)
    client.send(get("/wait"))
    assert app.reached.wait(TIMEOUT)  # disconnect while the handler waits, not before it runs
    client.close()
    assert app.event.wait(TIMEOUT)
    assert app.seen["wait"] == "disconnected"


# hijacking


UPGRADE = "Connection: Upgrade\r\nUpgrade: tcp\r\n"


def test_hijack_with_upgrade(server, app):
    client = RawClient(server.path)
    # "early" goes out in the same packet as the request: it must reach the stream
    client.send(post("/v1.41/containers/c1/attach?stream=1&stdin=1", b"", UPGRADE) + b"early")
    status, reason, headers = client.read_head()
    assert (status, reason) == (101, "UPGRADED")
    assert headers["content-type"] == RAW_STREAM
    assert headers["connection"] == "Upgrade"
    assert headers["upgrade"] == "tcp"
    assert headers["api-version"] == "1.41"
    assert "content-length" not in headers and "transfer-encoding" not in headers
    assert client.read_exact(5) == b"EARLY"
    client.send(b"hello")
    assert client.read_exact(5) == b"HELLO"
    client.sock.shutdown(socket.SHUT_WR)  # stdin ended: the server reads EOF, still writes
    assert client.read_to_eof() == b"EOF"
    assert app.seen["attach"] == "done"
    client.close()


def test_hijack_after_reading_a_body(server):
    client = RawClient(server.path)
    client.send(post("/exec/e1/start", b'{"Detach":false,"Tty":true}',
                     UPGRADE + "Content-Type: application/json\r\n") + b"stdin!")
    status, _, headers = client.read_head()
    assert status == 101
    assert headers["content-type"] == "application/vnd.docker.multiplexed-stream"
    assert client.read_until(b"|") == b'{"Detach": false, "Tty": true}'
    assert client.read_exact(6) == b"stdin!"
    assert client.at_eof()  # the handler returned: the server closed the stream
    client.close()


def test_hijack_without_upgrade_answers_200(server):
    client = RawClient(server.path)
    client.send(post("/containers/c1/attach", b"") + b"old")
    status, reason, headers = client.read_head()
    assert (status, reason) == (200, "OK")
    assert headers["content-type"] == RAW_STREAM
    assert "content-length" not in headers and "transfer-encoding" not in headers
    assert client.read_exact(3) == b"OLD"
    client.sock.shutdown(socket.SHUT_WR)
    assert client.read_to_eof() == b"EOF"
    client.close()


def test_hijacked_stream_closed_by_server(server):
    client = RawClient(server.path)
    client.send(post("/hangup", b"", UPGRADE))
    status, _, headers = client.read_head()
    assert (status, headers["x-extra"]) == (101, "yes")
    assert client.read_to_eof() == b"bye"
    client.close()


def test_hijack_client_gone(server, app):
    client = RawClient(server.path)
    client.send(post("/containers/c1/attach", b"", UPGRADE))
    assert client.read_head()[0] == 101
    client.close()  # the handler reads b"" and its final write fails quietly
    deadline = time.monotonic() + TIMEOUT
    while server.server.connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not server.server.connections
    assert app.errors == []


# the socket and shutdown


def test_socket_mode_and_stale_socket(sockdir, app):
    path = os.path.join(sockdir, "d.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # a socket file nobody listens on
    server = ServerThread(app, path)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o660
        assert request(server, "GET", "/_ping")[2] == b"OK"
        with pytest.raises(OSError, match="another server is listening"):
            server.call(Server(Router(), app.error_handler).serve_unix(path))
    finally:
        server.stop()
    assert not os.path.exists(path)


def test_refuses_to_replace_a_regular_file(sockdir, app):
    path = os.path.join(sockdir, "file")
    with open(path, "w") as f:
        f.write("keep me")
    with pytest.raises(FileExistsError):
        asyncio.run(Server(Router(), app.error_handler).serve_unix(path))
    with open(path) as f:
        assert f.read() == "keep me"


def test_close_ends_idle_connections_and_waits_for_busy_ones(serve, app):
    server = serve()
    idle = UnixHTTPConnection(server.path)
    idle.request("GET", "/_ping")
    assert idle.getresponse().read() == b"OK"
    busy = RawClient(server.path)
    busy.send(get("/stream"))
    assert busy.read_head()[0] == 200
    closing = asyncio.run_coroutine_threadsafe(server.server.close(timeout=5), server.loop)
    time.sleep(0.1)
    assert idle.sock.recv(1) == b""  # closed at once
    assert not os.path.exists(server.path)
    app.release.set()  # the in-flight stream still completes
    assert busy.read_until(b"0\r\n\r\n").endswith(b'{"StatusCode":0}\n\r\n')
    assert busy.at_eof()
    closing.result(TIMEOUT)
    idle.close()
    busy.close()


def test_close_aborts_what_outlives_the_timeout(serve, app):
    server = serve()
    client = RawClient(server.path)
    client.send(get("/wait"))
    assert app.reached.wait(TIMEOUT)  # in flight: close() must wait for it, then abort it
    started = time.monotonic()
    server.call(server.server.close(timeout=0.2))
    # an idle connection would have closed at once; a busy one after the timeout
    assert 0.15 < time.monotonic() - started < 2
    assert client.at_eof()
    client.close()


# Go's net/http manners: Date, header order, per-request headers, the body read before the answer


HTTP_DATE = r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT"


def head_lines(client: RawClient) -> list[bytes]:
    return client.read_until(b"\r\n\r\n").split(b"\r\n")


@pytest.mark.parametrize("path", ["/_ping", "/nope", "/boom", "/stream-ignoring-body"])
def test_every_response_carries_a_date(serve, path):
    import email.utils
    import re
    server = serve(default_headers={})
    status, headers, _ = request(server, "POST" if "body" in path else "GET", path, body=b"" if "body" in path else None)
    assert re.fullmatch(HTTP_DATE, headers["Date"]), headers
    assert abs(email.utils.parsedate_to_datetime(headers["Date"]).timestamp() - time.time()) < 5


def test_head_fields_in_gos_order_and_route_headers(serve):
    server = serve(default_headers={"Docker-Experimental": "false"})
    client = RawClient(server.path)
    client.send(get("/versioned"))
    lines = head_lines(client)
    names = [line.split(b":")[0] for line in lines[1:]]
    # the handler's header map sorted (Go's Header.Write), then Date and Content-Length
    assert names == [b"A-First", b"Api-Version", b"Content-Type", b"Docker-Experimental", b"Server",
                     b"X-Last", b"Date", b"Content-Length"]
    assert b"Api-Version: 9.9" in lines
    client.read_exact(2)
    client.send(get("/versioned?fail=1"))  # an error answer keeps the request's headers
    assert b"Api-Version: 9.9" in head_lines(client)
    client.close()
    _, headers, _ = request(server, "GET", "/_ping")  # another request: no such headers
    assert "Api-Version" not in headers


def test_a_hijacked_head_has_no_date(server):
    client = RawClient(server.path)
    client.send(b"POST /containers/x/attach HTTP/1.1\r\nHost: d\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\n")
    lines = head_lines(client)
    assert lines[0] == b"HTTP/1.1 101 UPGRADED"
    assert not any(line.startswith(b"Date:") for line in lines)
    client.close()


@pytest.mark.parametrize("path", ["/refuse-body", "/ignore-body", "/stream-ignoring-body"])
def test_the_body_is_read_before_the_answer(server, path):
    """A client still sending when the answer comes may be cut off mid-write (docker
    import's "broken pipe"): like Go, read what is left of the body (up to 256 KiB) first."""
    body = b"x" * (200 << 10)
    client = RawClient(server.path)
    client.send(post(path, body)[:-len(body) + 1000])
    client.sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        client._fill()  # no answer while the body is still coming
    client.sock.settimeout(TIMEOUT)
    client.send(body[1000:])
    status, headers, _ = client.read_response()
    assert "connection" not in headers  # all read: the connection stays open
    client.send(get("/_ping"))
    assert client.read_response()[2] == b"OK"
    client.close()


def test_a_big_unread_body_closes_after_a_grace_period(server, app):
    client = RawClient(server.path)
    client.send(f"POST /refuse-body HTTP/1.1\r\nHost: d\r\nContent-Length: {1 << 20}\r\n\r\n".encode()
                + b"z" * (64 << 10))
    status, headers, body = client.read_response()
    assert (status, headers["connection"]) == (400, "close")
    time.sleep(0.1)
    client.send(b"z" * (64 << 10))  # still sending: no EPIPE yet, as with Go's rstAvoidanceDelay
    started = time.monotonic()
    assert client.at_eof()
    assert time.monotonic() - started < 2
    client.close()


def test_a_body_with_broken_framing_is_answered_with_close(server, app):
    client = RawClient(server.path)
    client.send(b"POST /count HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
    status, headers, _ = client.read_response()
    assert (status, headers.get("connection")) == (400, "close")
    assert client.at_eof()
    client.close()
