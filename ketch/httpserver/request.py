"""A request as a handler sees it, and the raw byte stream a hijacked connection becomes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, AsyncIterator, Mapping
from urllib.parse import parse_qs, unquote

import h11

from ketch.errors import InvalidArgument

if TYPE_CHECKING:
    from ketch.httpserver.connection import Connection
    from ketch.httpserver.response import StreamResponse


class BadRequest(InvalidArgument, ValueError):
    """The request itself is malformed; errors.InvalidArgument makes it a 400."""


class HeadTooLarge(BadRequest):
    """The request line and headers passed Go's limit: answered 431, as net/http does."""


class Request:
    """One request; its body is read from the connection only when asked for.

    ``path`` is the decoded path without the query (gorilla/mux matches the decoded
    path); ``target`` is the request target as sent.
    """

    __slots__ = ("method", "target", "path", "headers", "match", "http_version",
                 "response_headers", "status", "_raw_query", "_query", "_conn", "_body",
                 "_body_read", "_stream_response", "_hijacked", "_expects_continue")

    def __init__(self, conn: Connection, event: h11.Request) -> None:
        self.method = event.method.decode("ascii")
        self.target = event.target.decode("latin-1")
        path, _, self._raw_query = self.target.partition("?")
        if "%" in path:
            path = unquote(path)
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
        self.status = 0  # of the response, once its head is sent (for access logs)
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

    @property
    def remote(self) -> str:
        """The client's address: "host:port" for TCP, "@" for a Unix socket peer."""
        peer = self._conn.transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            return f"[{peer[0]}]:{peer[1]}" if ":" in peer[0] else f"{peer[0]}:{peer[1]}"
        return "@"

    @property
    def secure(self) -> bool:
        """Whether the connection is TLS."""
        return self._conn.transport.get_extra_info("sslcontext") is not None

    @property
    def bytes_sent(self) -> int:
        """Body bytes written to this connection so far (for access logs)."""
        return self._conn.sent

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter, as Go's Request.FormValue."""
        values = self.query.get(name)
        return values[0] if values else default

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

        For long polls to stop work nobody will read; Go cancels the request's
        context on the same signal. Not for hijacked streams, where a half-close
        is normal: there RawStream.read() returns b"".
        """
        await self._conn.wait_eof()

    async def hijack(self, status: int = 101, headers: Mapping[str, str] | None = None,
                     content_type: str | None = None, *, upgrade: str | None = None,
                     reason: bytes = b"Switching Protocols", date: bool = True) -> RawStream:
        """Answer with a bare head and hand the socket over as raw bytes both ways.

        A client that sent ``Upgrade`` gets a 101 (status 101, the default) naming
        ``upgrade`` (default: the protocol the client asked for); a client that did
        not, or status=200, gets ``200 OK`` with no framing. Any unread request body
        is read and dropped first, since the raw stream starts after it. The stream
        lives until the handler returns; the server closes the connection then.
        """
        conn = self._conn
        h = conn.h11
        if self._hijacked or h.our_state is not h11.SEND_RESPONSE:
            raise RuntimeError("response already started")
        if h.their_state is h11.SEND_BODY:
            self._send_continue()
            if not await conn.skip_body(conn.server.max_body_size):
                raise BadRequest(f"request body exceeds {conn.server.max_body_size} bytes")
        items = conn.head_items(self, content_type, headers, date=date)
        if status == 101 and "upgrade" in self.headers:
            protocol = upgrade or self.headers["upgrade"]
            items += [(b"Connection", b"Upgrade"), (b"Upgrade", protocol.encode("latin-1"))]
            head = h.send(h11.InformationalResponse(status_code=101, headers=items, reason=reason))
            self.status = 101
        else:
            lines = [b"%s: %s\r\n" % item for item in items]
            head = b"HTTP/1.1 200 OK\r\n" + b"".join(lines) + b"\r\n"
            self.status = 200
        self._hijacked = True
        conn.unread(h.trailing_data[0])  # bytes the client sent right after the request
        conn.write(head)
        await conn.drain()
        return RawStream(conn)

    def _send_continue(self) -> None:
        if self._expects_continue:
            self._expects_continue = False
            self._conn.write(self._conn.h11.send(h11.InformationalResponse(status_code=100, headers=[])))


class RawStream:
    """The connection after Request.hijack(): raw bytes both ways."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Connection) -> None:
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
