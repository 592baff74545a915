"""A small HTTP/1.1 server on asyncio and h11, serving a router over a Unix socket.

ketch needs its own server because Docker's attach and exec endpoints hijack the
connection (``Connection: Upgrade``, ``Upgrade: tcp``) and aiohttp refuses every
upgrade but websocket (aio-libs/aiohttp#2588). This module knows nothing of
Docker's routes; it only speaks the parts of Docker's HTTP dialect that every
route shares: the optional ``/v1.41`` path prefix, Go's query and bool parsing,
the 404 for unknown paths and methods, Go's net/http manners (Date, the request body
read before the answer, its plain answers to malformed requests), and hijacking.

One coroutine per connection serves its requests one after another::

    accept ─> read head ─> route ─> handler ─> skip unread body ─> response ─┐
                 ^                     │                                      │
                 └──── keep-alive <────┼──────────────────────────────────────┘
                                       └─> hijack(): raw bytes both ways until
                                           the handler returns, then close

so pipelined requests are answered in order and a handler reads its request
body straight off the socket (``Request.stream()`` never buffers a whole upload).

The client going away shows up as ``ConnectionResetError`` from every write
(``StreamResponse.write``, ``RawStream.write``) and from body reads cut short;
a handler may catch it or let it out, and either way the server closes the
connection without calling the error handler or logging anything.
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import errno
import json
import logging
import os
import re
import socket
import stat
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import AsyncIterator, Awaitable, Callable, Mapping, Union
from urllib.parse import parse_qs, unquote

import h11

from ketch.errors import InvalidArgument

__all__ = [
    "BadRequest", "RAW_STREAM", "MULTIPLEXED_STREAM", "RawStream", "Request", "Response",
    "Router", "Server", "StreamResponse", "encode_headers", "encode_json", "json_response",
]

log = logging.getLogger(__name__)

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"

MAX_HEAD_BYTES = 1 << 20  # Go's DefaultMaxHeaderBytes: X-Registry-Config headers get big
_HEAD_LIMIT = MAX_HEAD_BYTES + 4096  # what Go's server really reads before it answers 431
MAX_BODY_BYTES = 64 << 20  # what body() and json() buffer by default; stream() has no limit
_SKIP_LIMIT = 256 << 10  # unread body discarded to keep a connection alive, as Go's net/http
_LINGER = 0.5  # Go's rstAvoidanceDelay: a client still sending gets time to read our answer
_READ_HIGH_WATER = 1 << 20  # stop reading the socket while this much waits for a reader
_CLIENT_GONE = "client closed the connection"
_NO_BODY_STATUSES = frozenset((204, 304))
_FALSE_FLAGS = frozenset(("", "0", "no", "false", "none"))  # moby's httputils.BoolValue
_VERSION_PREFIX = re.compile(r"/v([0-9.]+)(?=/|$)")  # moby's versionMatcher
_INTEGER = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.Atoi accepts
_REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}


class BadRequest(InvalidArgument, ValueError):
    """The request itself is malformed; errors.InvalidArgument makes it a 400."""


class HeadTooLarge(BadRequest):
    """The request line and headers passed Go's limit: answered 431, as net/http does."""


def _go_quote(text: str) -> str:
    """Go's strconv.Quote, near enough: double quotes, backslash escapes."""
    return json.dumps(text, ensure_ascii=False)


def _head_size(event: h11.Request) -> int:
    """The size of a parsed request head as sent (names, values, separators, line ends)."""
    line = len(event.method) + len(event.target) + 12  # " ", " HTTP/1.1\r\n"
    return line + sum(len(name) + len(value) + 4 for name, value in event.headers.raw_items()) + 2


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response; its Content-Length is computed when it is sent."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] | None = None
    content_type: str | None = "text/plain; charset=utf-8"


# Go's net/http answers to a request it cannot parse, word for word: written raw, with no
# Date or Content-Length, before the connection closes
_GO_ERROR_HEADERS = b"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
_HEAD_TOO_LARGE = b"431 Request Header Fields Too Large"
_MALFORMED = b"400 Bad Request"
_date = [0, b""]


def _http_date() -> bytes:
    """The Date header Go's net/http puts on every response, formatted once a second."""
    now = int(time.time())
    if now != _date[0]:
        _date[:] = [now, email.utils.formatdate(now, usegmt=True).encode("ascii")]
    return _date[1]


def encode_headers(headers: Mapping[str, str]) -> dict[str, tuple[bytes, bytes]]:
    """Headers as the server keeps them (lower-case name -> encoded name and value), for
    Server's default_headers and Request.response_headers."""
    return {name.lower(): (name.encode("latin-1"), str(value).encode("latin-1"))
            for name, value in headers.items()}


_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_JSON_ASCII = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def encode_json(obj: object) -> bytes:
    """Compact JSON and a newline, as Go's json.Encoder (with SetEscapeHTML(false)) writes."""
    try:
        return _JSON.encode(obj).encode() + b"\n"
    except UnicodeEncodeError:  # lone surrogates, e.g. from undecodable file names
        return _JSON_ASCII.encode(obj).encode() + b"\n"


def json_response(obj: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, encode_json(obj), headers, "application/json")


class Request:
    """One request; its body is read from the connection only when asked for."""

    __slots__ = ("method", "path", "api_version", "headers", "match", "http_version",
                 "response_headers", "_raw_query", "_query", "_conn", "_body", "_body_read",
                 "_stream_response", "_hijacked", "_expects_continue")

    def __init__(self, conn: _Connection, event: h11.Request) -> None:
        self.method = event.method.decode("ascii")
        path, _, self._raw_query = event.target.decode("latin-1").partition("?")
        if "%" in path:
            path = unquote(path)  # gorilla/mux matches the decoded path, as moby configures it
        self.api_version = None
        if path.startswith("/v"):
            version = _VERSION_PREFIX.match(path)
            if version is not None:
                self.api_version = version.group(1)
                path = path[version.end():] or "/"
        self.path = path
        headers: dict[str, str] = {}
        for name, value in event.headers:
            key = name.decode("latin-1")
            text = value.decode("latin-1")
            headers[key] = headers[key] + ", " + text if key in headers else text
        self.headers = headers
        self.http_version = event.http_version.decode("ascii")
        self.match: dict[str, str] = {}
        # headers every response to this request carries (from encode_headers), set by a
        # handler or a wrapper around it before it answers; moby's middlewares do the same
        self.response_headers: Mapping[str, tuple[bytes, bytes]] | None = None
        self._query: dict[str, list[str]] | None = None
        self._conn = conn
        self._body: bytes | None = None
        self._body_read = 0
        self._stream_response: StreamResponse | None = None
        self._hijacked = False
        self._expects_continue = conn.h11.they_are_waiting_for_100_continue

    @property
    def query(self) -> dict[str, list[str]]:
        if self._query is None:
            self._query = parse_qs(self._raw_query, keep_blank_values=True) if self._raw_query else {}
        return self._query

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter, as Go's Request.FormValue (what moby reads)."""
        values = self.query.get(name)
        return values[0] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        """moby's BoolValueOrDefault: absent -> default; "", 0, no, false, none -> False; else True."""
        values = self.query.get(name)
        if not values:
            return default
        return values[0].strip().lower() not in _FALSE_FLAGS

    def int_arg(self, name: str, default: int | None = None, bits: int = 64) -> int | None:
        """Go's strconv.Atoi on a query parameter, as moby parses them, for an int of
        ``bits`` bits (32 where a bigger value means nothing, as a stop timeout of more
        than 68 years); absent or empty -> default. The errors are Go's own text."""
        value = self.arg(name)
        if not value:
            return default
        if _INTEGER.fullmatch(value) is None:
            raise BadRequest(f"strconv.Atoi: parsing {_go_quote(value)}: invalid syntax")
        number = int(value)
        if not -(1 << (bits - 1)) <= number < 1 << (bits - 1):
            raise BadRequest(f"strconv.Atoi: parsing {_go_quote(value)}: value out of range")
        return number

    async def stream(self) -> AsyncIterator[bytes]:
        """The body in chunks as they arrive (Content-Length or chunked framing)."""
        conn = self._conn
        if self._body is not None or conn.h11.their_state is not h11.SEND_BODY:
            raise RuntimeError("request body already read")
        self._send_continue()
        while True:
            event = await conn.next_event()
            if type(event) is h11.Data:
                self._body_read += len(event.data)
                yield bytes(event.data)  # h11 hands out bytearrays
            elif type(event) is h11.EndOfMessage:
                return

    async def body(self, limit: int | None = None) -> bytes:
        """The whole body; more than limit bytes (default Server.max_body_size) is a BadRequest."""
        if self._body is not None:
            return self._body
        if limit is None:
            limit = self._conn.server.max_body_size
        declared = self.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise BadRequest(f"request body exceeds {limit} bytes")
        chunks, size = [], 0
        async for chunk in self.stream():
            size += len(chunk)
            if size > limit:
                raise BadRequest(f"request body exceeds {limit} bytes")
            chunks.append(chunk)
        self._body = b"".join(chunks)
        return self._body

    async def json(self, limit: int | None = None) -> object:
        """The body decoded as JSON; None for an empty body."""
        data = await self.body(limit)
        if not data.strip():
            return None
        try:
            return json.loads(data)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            raise BadRequest(f"invalid JSON: {exc}") from None

    async def wait_disconnected(self) -> None:
        """Return once the client has closed its side of the connection or gone.

        For long polls (wait, events) to stop work nobody will read; Go cancels the
        request's context on the same signal. Not for hijacked streams, where a
        half-close is normal: there RawStream.read() returns b"".
        """
        await self._conn.wait_eof()

    async def hijack(self, status: int = 101, headers: Mapping[str, str] | None = None,
                     content_type: str = RAW_STREAM) -> RawStream:
        """Answer with a bare head and hand the socket over as raw bytes both ways.

        A client that sent ``Upgrade`` gets ``101 UPGRADED`` (status 101, the default);
        an old client that did not, or status=200, gets ``200 OK`` with no framing,
        as moby does. Any unread request body is read and dropped first, since the
        raw stream starts after it. The stream lives until the handler returns;
        the server closes the connection then.
        """
        conn = self._conn
        h = conn.h11
        if self._hijacked or h.our_state is not h11.SEND_RESPONSE:
            raise RuntimeError("response already started")
        if h.their_state is h11.SEND_BODY:
            self._send_continue()
            if not await conn.skip_body(conn.server.max_body_size):
                raise BadRequest(f"request body exceeds {conn.server.max_body_size} bytes")
        items = conn.head_items(self, content_type, headers, date=False)  # moby writes no Date here
        if status == 101 and "upgrade" in self.headers:
            items += [(b"Connection", b"Upgrade"), (b"Upgrade", b"tcp")]
            head = h.send(h11.InformationalResponse(status_code=101, headers=items, reason=b"UPGRADED"))
        else:
            lines = [b"%s: %s\r\n" % item for item in items]
            head = b"HTTP/1.1 200 OK\r\n" + b"".join(lines) + b"\r\n"
        self._hijacked = True
        conn.unread(h.trailing_data[0])  # bytes the client sent right after the request
        conn.write(head)
        await conn.drain()
        return RawStream(conn)

    def _send_continue(self) -> None:
        if self._expects_continue:
            self._expects_continue = False
            self._conn.write(self._conn.h11.send(h11.InformationalResponse(status_code=100, headers=[])))


class StreamResponse:
    """A response whose body is written piece by piece.

    prepare() sends the head at once (clients such as ``docker wait`` need the
    headers before the body exists); the body is chunked unless headers carry a
    Content-Length. Every write() goes to the socket before it returns, waiting
    while the client reads slower than we write. For HEAD the body is dropped.
    """

    def __init__(self, status: int = 200, headers: Mapping[str, str] | None = None,
                 content_type: str | None = "application/octet-stream") -> None:
        self.status = status
        self.headers = headers
        self.content_type = content_type
        self._conn: _Connection | None = None
        self._head_only = False
        self._finished = False

    @property
    def prepared(self) -> bool:
        return self._conn is not None

    async def prepare(self, request: Request) -> None:
        if self._conn is not None:
            raise RuntimeError("stream response already prepared")
        conn = request._conn
        keep = await conn.settle_body(request)
        items = conn.head_items(request, self.content_type, self.headers)
        if conn.server.closing or not keep:
            items.append((b"Connection", b"close"))
        reason = _REASONS.get(self.status, b"")
        conn.write(conn.h11.send(h11.Response(status_code=self.status, headers=items, reason=reason)))
        self._conn = conn
        self._head_only = request.method == "HEAD"
        request._stream_response = self
        await conn.drain()

    async def write(self, data: bytes) -> None:
        conn = self._conn
        if conn is None:
            raise RuntimeError("stream response not prepared")
        if self._finished:
            raise RuntimeError("stream response already finished")
        if data and not self._head_only:
            conn.write(b"".join(conn.h11.send_with_data_passthrough(h11.Data(data=data))))
        await conn.drain()

    async def finish(self) -> None:
        if self._conn is None:
            raise RuntimeError("stream response not prepared")
        if not self._finished:
            self._finished = True
            self._conn.write(self._conn.h11.send(h11.EndOfMessage()))
            await self._conn.drain()


class RawStream:
    """The connection after Request.hijack(): raw bytes both ways."""

    __slots__ = ("_conn",)

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn

    async def read(self, n: int = 65536) -> bytes:
        """Up to n bytes; b"" once the client half-closed (shutdown SHUT_WR) or went away."""
        return await self._conn.read_raw(n)

    async def write(self, data: bytes) -> None:
        self._conn.write(data)
        await self._conn.drain()

    async def close_write(self) -> None:
        """Half-close: the client reads EOF but may go on sending."""
        transport = self._conn.transport
        if not transport.is_closing() and transport.can_write_eof():
            transport.write_eof()

    async def close(self) -> None:
        self._conn.close()


Handler = Callable[[Request], Awaitable[Union[Response, StreamResponse, None]]]
_PARAM = re.compile(r"\{(\w+)(?::([^{}]+))?\}")


class Router:
    """Routes by method and path; ``{id}`` matches one segment, ``{name:.*}`` any text.

    Patterns without parameters are found by dictionary and win over patterned
    ones, which are tried in the order added (gorilla/mux's rule).
    """

    def __init__(self) -> None:
        self._static: dict[tuple[str, str], Handler] = {}
        self._patterned: dict[str, list[tuple[str, re.Pattern[str], Handler]]] = {}
        self._patterns: set[tuple[str, str]] = set()

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        method = method.upper()
        if not pattern.startswith("/"):
            raise ValueError(f"route pattern does not start with '/': {pattern!r}")
        if (method, pattern) in self._patterns:
            raise ValueError(f"route already added: {method} {pattern}")
        self._patterns.add((method, pattern))
        if "{" not in pattern:
            self._static[method, pattern] = handler
            return
        parts, end = [], 0
        for param in _PARAM.finditer(pattern):
            parts.append(re.escape(pattern[end:param.start()]))
            parts.append(f"(?P<{param.group(1)}>{param.group(2) or '[^/]+'})")
            end = param.end()
        parts.append(re.escape(pattern[end:]))
        prefix = pattern[:pattern.index("{")]  # cheap test before the regex
        self._patterned.setdefault(method, []).append((prefix, re.compile("".join(parts)), handler))

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        found = self._resolve(method, path)
        if found is None and method == "HEAD":
            found = self._resolve("GET", path)
        return found

    def _resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        handler = self._static.get((method, path))
        if handler is not None:
            return handler, {}
        for prefix, regex, handler in self._patterned.get(method, ()):
            if path.startswith(prefix):
                match = regex.fullmatch(path)
                if match is not None:
                    return handler, match.groupdict()
        return None


def _page_not_found(request: Request) -> Response:
    return json_response({"message": "page not found"}, 404)


class Server:
    """Serves a Router; every exception a handler raises goes to error_handler.

    error_handler(request, exc) returns the Response to send. A request that cannot
    be parsed gets Go's plain answer (400 or 431) without reaching it. Exceptions after
    the response has started cannot be answered: the connection is closed.
    default_headers go on every response; headers that depend on the route (moby's
    Api-Version, Ostype, Server: not on a 404) go in Request.response_headers.
    Every response but a hijacked stream's carries Date, as from Go's net/http.
    """

    def __init__(self, router: Router,
                 error_handler: Callable[[Request | None, BaseException], Response],
                 not_found: Callable[[Request], Response] | None = None, *,
                 default_headers: Mapping[str, str] | None = None,
                 max_body_size: int = MAX_BODY_BYTES) -> None:
        self.router = router
        self.error_handler = error_handler
        self.not_found = not_found or _page_not_found
        self.max_body_size = max_body_size
        self.closing = False
        self.default_items = encode_headers(default_headers or {})
        self.connections: set[_Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._path: str | None = None
        self._socket_identity: tuple[int, int] | None = None

    async def serve_unix(self, path: str, mode: int = 0o660) -> None:
        """Listen on a Unix socket at path, replacing a stale socket file; returns once listening."""
        _remove_stale_socket(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            # chmod before listen(): until then connections are refused, so no
            # client ever reaches the socket while it still has the umask's mode
            os.chmod(path, mode)
            st = os.stat(path)
            self._server = await asyncio.get_running_loop().create_unix_server(
                lambda: _Connection(self), sock=sock, backlog=1024)
        except BaseException:
            sock.close()
            raise
        self._path = path
        self._socket_identity = (st.st_dev, st.st_ino)

    async def close(self, timeout: float = 5.0) -> None:
        """Stop listening, close idle connections, give in-flight ones timeout seconds, remove the socket."""
        self.closing = True
        if self._server is not None:
            self._server.close()
        self._remove_socket()  # new clients get ENOENT at once, and a new server may start
        for conn in list(self.connections):
            conn.close_if_idle()
        tasks = [conn.task for conn in self.connections if conn.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for conn in list(self.connections):
                conn.abort()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def _remove_socket(self) -> None:
        # only our own socket file: a newer daemon may already have replaced it
        if self._path is None:
            return
        try:
            st = os.stat(self._path)
            if (st.st_dev, st.st_ino) == self._socket_identity:
                os.unlink(self._path)
        except FileNotFoundError:
            pass
        self._path = None


def _remove_stale_socket(path: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise FileExistsError(errno.EEXIST, f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.setblocking(False)  # a live server with a full backlog answers EAGAIN instead of blocking
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        os.unlink(path)
        return
    except BlockingIOError:
        pass
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, f"another server is listening on {path}")


class _Connection(asyncio.Protocol):
    """One client connection: bytes in a queue, h11 to parse them, a task to run handlers."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=_HEAD_LIMIT)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.task: asyncio.Task[None] | None = None
        self.idle = True  # waiting for the next request
        self.eof = False  # the client closed its side, or the connection is gone
        self.lost = False
        self.must_close = False  # the request body was left unread: close after this response
        self.linger = False  # ... and give the client time to read the response first
        self._loop = asyncio.get_running_loop()
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._read_paused = False
        self._read_waiter: asyncio.Future[None] | None = None
        self._write_paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._eof_waiters: list[asyncio.Future[None]] = []

    # asyncio.Protocol callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.server.closing:
            transport.close()
            return
        self.server.connections.add(self)
        self.task = self._loop.create_task(self._run())

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered > _READ_HIGH_WATER and not self._read_paused:
            self._read_paused = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self._set_eof()
        return True  # keep our side open: the response or the raw stream still goes out

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._set_eof()
        self._wake(self._drain_waiters)  # drain() raises once it sees self.lost

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake(self._drain_waiters)

    # reading

    def _set_eof(self) -> None:
        self.eof = True
        self._wake_reader()
        self._wake(self._eof_waiters)

    @staticmethod
    def _wake(waiters: list[asyncio.Future[None]]) -> None:
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        waiters.clear()

    def _wake_reader(self) -> None:
        waiter = self._read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait_data(self) -> None:
        if self._read_waiter is not None:
            raise RuntimeError("another coroutine is already reading this connection")
        self._read_waiter = self._loop.create_future()
        try:
            await self._read_waiter
        finally:
            self._read_waiter = None

    def _taken(self, size: int) -> None:
        self._buffered -= size
        if self._read_paused and self._buffered <= _READ_HIGH_WATER // 2 and not self.lost:
            self._read_paused = False
            self.transport.resume_reading()

    def unread(self, data: bytes) -> None:
        if data:
            self._chunks.appendleft(data)
            self._buffered += len(data)

    async def wait_eof(self) -> None:
        if not self.eof:
            waiter = self._loop.create_future()
            self._eof_waiters.append(waiter)
            await waiter

    async def next_event(self) -> object:
        """The next h11 event, reading as needed; a client gone mid-request is ConnectionResetError."""
        h = self.h11
        while True:
            try:
                event = h.next_event()
            except h11.RemoteProtocolError as exc:
                if self.eof:
                    raise ConnectionResetError(_CLIENT_GONE) from None
                if exc.error_status_hint == 431:
                    raise HeadTooLarge(str(exc)) from None
                raise BadRequest(f"malformed request: {exc}") from None
            if event is not h11.NEED_DATA:
                return event
            if self._chunks:
                chunks = self._chunks
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                chunks.clear()
                self._taken(len(data))
                h.receive_data(data)
            elif self.eof:
                h.receive_data(b"")
            else:
                await self._wait_data()

    async def skip_body(self, limit: int) -> bool:
        """Read and drop the rest of the request body; False if it is longer than limit."""
        size = 0
        while True:
            event = await self.next_event()
            if type(event) is h11.Data:
                size += len(event.data)
                if size > limit:
                    return False
            elif type(event) is h11.EndOfMessage:
                return True

    async def read_raw(self, n: int) -> bytes:
        while not self._chunks:
            if self.eof:
                return b""
            await self._wait_data()
        chunk = self._chunks[0]
        if len(chunk) > n:
            self._chunks[0] = chunk[n:]
            chunk = chunk[:n]
        else:
            self._chunks.popleft()
        self._taken(len(chunk))
        return chunk

    # writing

    def write(self, data: bytes) -> None:
        # checked here because asyncio warns on stderr after repeated writes to a lost transport
        if self.lost or self.transport.is_closing():
            raise ConnectionResetError(_CLIENT_GONE)
        self.transport.write(data)

    async def drain(self) -> None:
        while True:
            if self.lost or self.transport.is_closing():
                raise ConnectionResetError(_CLIENT_GONE)
            if not self._write_paused:
                return
            waiter = self._loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter

    def head_items(self, request: Request | None, content_type: str | None,
                   headers: Mapping[str, str] | None, date: bool = True) -> list[tuple[bytes, bytes]]:
        """The head's fields in Go's order: the handler's sorted by name, then Date."""
        items = dict(self.server.default_items)
        if request is not None and request.response_headers:
            items.update(request.response_headers)
        if content_type is not None:
            items["content-type"] = (b"Content-Type", content_type.encode("latin-1"))
        if headers:
            for name, value in headers.items():
                items[name.lower()] = (name.encode("latin-1"), str(value).encode("latin-1"))
        out = sorted(items.values())
        if date:
            out.append((b"Date", _http_date()))
        return out

    async def settle_body(self, request: Request) -> bool:
        """Before a response head: read and drop what is left of the request body, as
        Go's net/http does, so that a client still sending an upload is not cut off
        mid-write by an early answer (a refused ``docker import`` would see EPIPE instead
        of the error). More than 256 KiB left is not read: the response then says
        ``Connection: close`` and the connection closes after a grace period. False when
        the connection must close after this response."""
        state = self.h11.their_state
        if state is h11.ERROR:  # a body that broke its framing: nothing after it can be read
            self.must_close = True
        if state is not h11.SEND_BODY:
            return not self.must_close
        self.must_close = True
        if request._expects_continue:
            return False  # no 100 sent: the client may send the body later, or never
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) - request._body_read >= _SKIP_LIMIT:
            self.linger = True
            return False
        try:
            if await self.skip_body(_SKIP_LIMIT):
                self.must_close = False
                return True
            self.linger = True
        except (ConnectionResetError, BadRequest):
            pass
        return False

    async def send_response(self, request: Request, response: Response) -> None:
        status = response.status
        keep = await self.settle_body(request)
        items = self.head_items(request, response.content_type, response.headers)
        body = response.body
        if status < 200 or status in _NO_BODY_STATUSES:
            body = b""
        else:
            items.append((b"Content-Length", b"%d" % len(body)))
        if self.server.closing or not keep:
            items.append((b"Connection", b"close"))
        h = self.h11
        out = [h.send(h11.Response(status_code=status, headers=items, reason=_REASONS.get(status, b"")))]
        if body and request.method != "HEAD":
            out += h.send_with_data_passthrough(h11.Data(data=body))
        out.append(h.send(h11.EndOfMessage()))
        self.write(b"".join(out))
        await self.drain()

    # life cycle

    def close(self) -> None:
        self.transport.close()
        self._set_eof()

    def close_if_idle(self) -> None:
        if self.idle and not self._chunks and not self.h11.trailing_data[0]:
            self.close()

    def abort(self) -> None:
        self.transport.abort()
        if self.task is not None:
            self.task.cancel()

    async def _run(self) -> None:
        try:
            while await self._serve_one():
                pass
            if self.linger and not self.transport.is_closing():
                # Go's closeWriteAndWait: the client, still writing, reads our answer
                # before the close makes its writes fail
                if self.transport.can_write_eof():
                    self.transport.write_eof()
                try:  # over sooner if the client leaves
                    await asyncio.wait_for(self.wait_eof(), _LINGER)
                except asyncio.TimeoutError:
                    pass
        except Exception:  # a bug here, never a handler's: those reach the error handler
            log.exception("http connection failed")
        finally:
            self.server.connections.discard(self)
            if not self.transport.is_closing():
                self.transport.close()

    async def _serve_one(self) -> bool:
        """Serve one request; False when the connection must close."""
        self.idle = True
        if self.server.closing:
            return False
        try:
            event = await self.next_event()
        except ConnectionResetError:
            return False
        except HeadTooLarge:
            self._answer_raw(_HEAD_TOO_LARGE)
            return False
        except BadRequest:
            self._answer_raw(_MALFORMED)
            return False
        if type(event) is not h11.Request:  # ConnectionClosed
            return False
        if _head_size(event) > _HEAD_LIMIT:  # a big head that came in whole: h11 took it
            self._answer_raw(_HEAD_TOO_LARGE)
            return False
        self.idle = False
        request = Request(self, event)
        try:
            found = self.server.router.resolve(request.method, request.path)
            if found is None:
                result: Response | StreamResponse | None = self.server.not_found(request)
            else:
                handler, request.match = found
                result = await handler(request)
            if request._hijacked:
                return False
            await self._complete(request, result)
        except Exception as exc:
            # a failed write closes the transport before connection_lost() runs; a
            # half-close is the client leaving too, except on a hijacked stream
            gone = self.transport.is_closing() or (self.eof and not request._hijacked)
            if request._hijacked or self.h11.our_state is not h11.SEND_RESPONSE:
                if not gone:  # a failure mid-stream nobody else will see
                    log.error("%s %s failed after the response started", request.method,
                              request.path, exc_info=exc)
                return False
            if gone and isinstance(exc, ConnectionError):
                return False
            await self._answer_error(request, exc)
        return await self._end_cycle(request)

    async def _complete(self, request: Request, result: Response | StreamResponse | None) -> None:
        if result is None:
            result = request._stream_response
            if result is None:
                raise RuntimeError("handler returned no response")
        if isinstance(result, Response):
            await self.send_response(request, result)
        elif isinstance(result, StreamResponse):
            if not result.prepared:
                await result.prepare(request)
            await result.finish()
        else:
            raise TypeError(f"handler returned {type(result).__name__}, not a response")

    def _answer_raw(self, status_line: bytes) -> None:
        """Go's answer to a request it could not parse; the connection closes after it."""
        try:
            self.write(b"HTTP/1.1 " + status_line + _GO_ERROR_HEADERS + status_line)
        except ConnectionError:
            pass
        self.linger = status_line is _HEAD_TOO_LARGE  # Go lingers for a client still sending

    async def _answer_error(self, request: Request, exc: BaseException) -> None:
        try:
            response = self.server.error_handler(request, exc)
        except Exception:
            log.exception("http error handler failed")
            response = json_response({"message": "internal server error"}, 500)
        try:
            await self.send_response(request, response)
        except (ConnectionError, h11.LocalProtocolError):
            pass

    async def _end_cycle(self, request: Request) -> bool:
        h = self.h11
        if self.must_close:
            return False
        if h.their_state is h11.SEND_BODY:
            if request._expects_continue:
                return False  # the client may or may not send the body now: start afresh
            try:
                if not await self.skip_body(_SKIP_LIMIT):
                    return False
            except (ConnectionResetError, BadRequest):
                return False
        if h.our_state is h11.DONE and h.their_state is h11.DONE:
            h.start_next_cycle()
            return True
        return False
