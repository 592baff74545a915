"""The listening side: a Server serves one Router on Unix sockets and TCP ports (TLS optional)."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import ssl as _ssl
import stat
from typing import Callable, Mapping

from ketch.httpserver.connection import Connection
from ketch.httpserver.request import Request
from ketch.httpserver.response import Response, encode_headers
from ketch.httpserver.router import Router

MAX_BODY_BYTES = 64 << 20  # what body() and json() buffer by default; stream() has no limit


def page_not_found(request: Request) -> Response:
    """Go's http.NotFound, what gorilla/mux answers for a path no route matches."""
    return Response(404, b"404 page not found\n", {"X-Content-Type-Options": "nosniff"})


class Server:
    """Serves a Router; every exception a handler raises goes to error_handler.

    error_handler(request, exc) returns the Response to send; if it fails itself,
    fallback_error() answers. A request that cannot be parsed gets Go's plain answer
    (400 or 431) without reaching it. Exceptions after the response has started cannot
    be answered: the connection is closed. default_headers go on every response;
    headers that depend on the route go in Request.response_headers. Every response
    but a hijacked stream's carries Date, as from Go's net/http. access_log(request),
    if given, is called once each request is over (request.status, request.bytes_sent).
    A dialect subclasses Server and sets request_class.
    """

    request_class: type[Request] = Request

    def __init__(self, router: Router,
                 error_handler: Callable[[Request | None, BaseException], Response],
                 not_found: Callable[[Request], Response] | None = None, *,
                 default_headers: Mapping[str, str] | None = None,
                 max_body_size: int = MAX_BODY_BYTES,
                 access_log: Callable[[Request], None] | None = None) -> None:
        self.router = router
        self.error_handler = error_handler
        self.not_found = not_found or page_not_found
        self.max_body_size = max_body_size
        self.access_log = access_log
        self.closing = False
        self.default_items = encode_headers(default_headers or {})
        self.connections: set[Connection] = set()
        self._listeners: list[asyncio.AbstractServer] = []
        self._path: str | None = None
        self._socket_identity: tuple[int, int] | None = None

    def fallback_error(self, request: Request | None) -> Response:
        """The answer when error_handler itself failed."""
        return Response(500, b"Internal Server Error\n")

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
            listener = await asyncio.get_running_loop().create_unix_server(
                lambda: Connection(self), sock=sock, backlog=1024)
        except BaseException:
            sock.close()
            raise
        self._listeners.append(listener)
        self._path = path
        self._socket_identity = (st.st_dev, st.st_ino)

    async def serve_tcp(self, host: str, port: int,
                        ssl: _ssl.SSLContext | None = None) -> tuple[str, int]:
        """Listen on host:port (port 0: any free port), with TLS when ssl is given;
        returns the address bound once listening."""
        listener = await asyncio.get_running_loop().create_server(
            lambda: Connection(self), host or None, port, ssl=ssl, backlog=1024,
            reuse_address=True, ssl_handshake_timeout=30 if ssl else None)
        self._listeners.append(listener)
        return listener.sockets[0].getsockname()[:2]

    async def close(self, timeout: float = 5.0) -> None:
        """Stop listening, close idle connections, give in-flight ones timeout seconds, remove the socket."""
        self.closing = True
        for listener in self._listeners:
            listener.close()
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
        for listener in self._listeners:
            await listener.wait_closed()
        self._listeners = []

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
