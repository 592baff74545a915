"""Docker's HTTP dialect on top of ketch.httpserver: what every Engine API route shares.

The optional ``/v1.41`` path prefix (moby's versionMatcher: the version goes to
``Request.api_version``, the route sees the path without it), Go's query parsing as
moby reads it (``flag``: httputils.BoolValue; ``int_arg``: strconv.Atoi with Go's own
error text), moby's JSON 404 and 500 bodies, and its hijack (``101 UPGRADED``,
``Upgrade: tcp``, the raw-stream media type, no Date). Everything generic (h11,
keep-alive, bodies, Go's net/http manners, sockets) is ketch.httpserver's; its names
are re-exported here so the routes import one module.
"""

from __future__ import annotations

import json
import re
from typing import Callable, Mapping

import h11

from ketch.httpserver import (MAX_BODY_BYTES, MAX_HEAD_BYTES, BadRequest, HeadTooLarge, RawStream,
                              Response, Router, StreamResponse, encode_headers, encode_json,
                              json_response)
from ketch.httpserver import Request as _Request
from ketch.httpserver import Server as _Server
from ketch.httpserver import head_size as _head_size

__all__ = [
    "BadRequest", "HeadTooLarge", "MAX_BODY_BYTES", "MAX_HEAD_BYTES", "MULTIPLEXED_STREAM",
    "RAW_STREAM", "RawStream", "Request", "Response", "Router", "Server", "StreamResponse",
    "encode_headers", "encode_json", "json_response", "_head_size",
]

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"

_FALSE_FLAGS = frozenset(("", "0", "no", "false", "none"))  # moby's httputils.BoolValue
_VERSION_PREFIX = re.compile(r"/v([0-9.]+)(?=/|$)")  # moby's versionMatcher
_INTEGER = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.Atoi accepts


def _go_quote(text: str) -> str:
    """Go's strconv.Quote, near enough: double quotes, backslash escapes."""
    return json.dumps(text, ensure_ascii=False)


class Request(_Request):
    """A request to the Engine API: the /vX.Y prefix taken off into ``api_version``."""

    __slots__ = ("api_version",)

    def __init__(self, conn, event: h11.Request) -> None:
        super().__init__(conn, event)
        self.api_version = None
        path = self.path
        if path.startswith("/v"):
            version = _VERSION_PREFIX.match(path)
            if version is not None:
                self.api_version = version.group(1)
                self.path = path[version.end():] or "/"

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

    async def hijack(self, status: int = 101, headers: Mapping[str, str] | None = None,
                     content_type: str | None = RAW_STREAM, **_: object) -> RawStream:
        """moby's hijack: ``101 UPGRADED`` with ``Upgrade: tcp`` for a client that asked to
        upgrade, else a bare ``200 OK``; no Date on the head."""
        return await super().hijack(status, headers, content_type, upgrade="tcp",
                                    reason=b"UPGRADED", date=False)


def _page_not_found(request: _Request) -> Response:
    return json_response({"message": "page not found"}, 404)


class Server(_Server):
    """The Engine API's server: Docker's requests, moby's 404 and 500 bodies."""

    request_class = Request

    def __init__(self, router: Router,
                 error_handler: Callable[[_Request | None, BaseException], Response],
                 not_found: Callable[[_Request], Response] | None = None, **options) -> None:
        super().__init__(router, error_handler, not_found or _page_not_found, **options)

    def fallback_error(self, request: _Request | None) -> Response:
        return json_response({"message": "internal server error"}, 500)
