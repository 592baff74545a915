"""A small HTTP/1.1 server on asyncio and h11, with no dialect of its own.

ketch needs its own server because Docker's attach and exec endpoints hijack the
connection (``Connection: Upgrade``, ``Upgrade: tcp``) and aiohttp refuses every
upgrade but websocket (aio-libs/aiohttp#2588). Servers built on it: the Engine API
(ketch.api.http adds Docker's dialect: the /vX.Y prefix, Go's bools, error bodies)
and the registry server (ketch.registry.server).

    request     Request (body read on demand, hijack), RawStream, BadRequest
    response    Response, StreamResponse, encode_json, encode_headers
    router      Router (gorilla/mux's matching rules)
    connection  one connection's loop (keep-alive, pipelining, Go's manners)
    server      Server: serve_unix, serve_tcp (with TLS), close
"""

from ketch.httpserver.connection import MAX_HEAD_BYTES, head_size
from ketch.httpserver.request import BadRequest, HeadTooLarge, RawStream, Request
from ketch.httpserver.response import (Response, StreamResponse, encode_headers, encode_json,
                                       http_date, json_response)
from ketch.httpserver.router import Handler, Router
from ketch.httpserver.server import MAX_BODY_BYTES, Server, page_not_found

__all__ = [
    "BadRequest", "Handler", "HeadTooLarge", "MAX_BODY_BYTES", "MAX_HEAD_BYTES", "RawStream",
    "Request", "Response", "Router", "Server", "StreamResponse", "encode_headers", "encode_json",
    "head_size", "http_date", "json_response", "page_not_found",
]
