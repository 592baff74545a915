"""Responses: a complete one (``Response``) and one written piece by piece (``StreamResponse``),
and the encodings every server shares (headers, compact JSON, the Date header)."""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Mapping

import h11

if TYPE_CHECKING:
    from ketch.httpserver.connection import Connection
    from ketch.httpserver.request import Request

REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
_date = [0, b""]


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response; its Content-Length is computed when it is sent."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] | None = None
    content_type: str | None = "text/plain; charset=utf-8"


def http_date() -> bytes:
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
        self._conn: Connection | None = None
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
        reason = REASONS.get(self.status, b"")
        conn.write(conn.h11.send(h11.Response(status_code=self.status, headers=items, reason=reason)))
        self._conn = conn
        self._head_only = request.method == "HEAD"
        request._stream_response = self
        request.status = self.status
        await conn.drain()

    async def write(self, data: bytes) -> None:
        conn = self._conn
        if conn is None:
            raise RuntimeError("stream response not prepared")
        if self._finished:
            raise RuntimeError("stream response already finished")
        if data and not self._head_only:
            conn.write(b"".join(conn.h11.send_with_data_passthrough(h11.Data(data=data))))
            conn.sent += len(data)
        await conn.drain()

    async def finish(self) -> None:
        if self._conn is None:
            raise RuntimeError("stream response not prepared")
        if not self._finished:
            self._finished = True
            self._conn.write(self._conn.h11.send(h11.EndOfMessage()))
            await self._conn.drain()
