"""One client connection: bytes in a queue, h11 to parse them, a task to run handlers.

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

It keeps Go's net/http manners, which every Go server ketch stands in for shares: the
request body read before the answer, its plain answers to malformed requests, a Date
on every response, a grace period for a client still sending.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import TYPE_CHECKING, Mapping

import h11

from ketch.httpserver.request import BadRequest, HeadTooLarge, Request
from ketch.httpserver.response import REASONS, Response, StreamResponse, http_date

if TYPE_CHECKING:
    from ketch.httpserver.server import Server

log = logging.getLogger("ketch.httpserver")

MAX_HEAD_BYTES = 1 << 20  # Go's DefaultMaxHeaderBytes: X-Registry-Config headers get big
_HEAD_LIMIT = MAX_HEAD_BYTES + 4096  # what Go's server really reads before it answers 431
_SKIP_LIMIT = 256 << 10  # unread body discarded to keep a connection alive, as Go's net/http
_LINGER = 0.5  # Go's rstAvoidanceDelay: a client still sending gets time to read our answer
_READ_HIGH_WATER = 1 << 20  # stop reading the socket while this much waits for a reader
_CLIENT_GONE = "client closed the connection"
_NO_BODY_STATUSES = frozenset((204, 304))

# Go's net/http answers to a request it cannot parse, word for word: written raw, with no
# Date or Content-Length, before the connection closes
_GO_ERROR_HEADERS = b"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
_HEAD_TOO_LARGE = b"431 Request Header Fields Too Large"
_MALFORMED = b"400 Bad Request"


def head_size(event: h11.Request) -> int:
    """The size of a parsed request head as sent (names, values, separators, line ends)."""
    line = len(event.method) + len(event.target) + 12  # " ", " HTTP/1.1\r\n"
    return line + sum(len(name) + len(value) + 4 for name, value in event.headers.raw_items()) + 2


class Connection(asyncio.Protocol):
    """One client connection (see the module's docstring)."""

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
        self.sent = 0  # body bytes of the current response
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
            out.append((b"Date", http_date()))
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
        out = [h.send(h11.Response(status_code=status, headers=items, reason=REASONS.get(status, b"")))]
        request.status = status
        if body and request.method != "HEAD":
            out += h.send_with_data_passthrough(h11.Data(data=body))
            self.sent += len(body)
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
        if head_size(event) > _HEAD_LIMIT:  # a big head that came in whole: h11 took it
            self._answer_raw(_HEAD_TOO_LARGE)
            return False
        self.idle = False
        request = self.server.request_class(self, event)
        self.sent = 0
        try:
            return await self._handle(request)
        finally:
            if self.server.access_log is not None:
                self.server.access_log(request)

    async def _handle(self, request: Request) -> bool:
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
            response = self.server.fallback_error(request)
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
