"""A minimal HTTP/1.1 client over a Unix socket, for the CLI.

Hand-written instead of ``http.client`` because the CLI has a start-up budget:
importing ``http.client`` pulls in the ``email`` package and costs ~50 ms here,
several times what this module needs. It speaks only what the Engine API uses:
Content-Length and chunked bodies, keep-alive, and hijacked (upgraded) streams.
"""

# The C module under socket.py, and no urllib.parse or json: those three would pull in
# enum, re and ipaddress, about as much start-up as everything else the CLI loads.
import _socket as socket

from ketch import fastjson
from ketch.errors import KetchError

_CHUNK = 65536
_LARGE = 1 << 20  # a body's read: fewer, larger receives


class ConnectionFailed(KetchError):
    """The daemon's socket could not be reached."""


class HTTPError(KetchError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Response:
    def __init__(self, conn: "Connection", status: int, reason: str, headers: dict[str, str],
                 head: bool = False) -> None:
        self.conn = conn
        self.status = status
        self.reason = reason
        self.headers = headers
        self._remaining = -1
        self._chunked = headers.get("transfer-encoding", "").lower() == "chunked"
        if "content-length" in headers:
            self._remaining = int(headers["content-length"])
        if status in (204, 304) or status < 200 or head:
            self._remaining = 0
            self._chunked = False
        self._done = self._remaining == 0

    def chunks(self):
        """The body, in pieces as they arrive."""
        if self._done:
            return
        if self._chunked:
            while True:
                size = int(self.conn.readline(strict=True).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.conn.readline(strict=True) not in (b"\r\n", b"\n"):
                        pass
                    break
                yield self.conn.readexactly(size)
                self.conn.readline(strict=True)
        elif self._remaining >= 0:
            while self._remaining > 0:
                data = self.conn.read(self._remaining)
                if not data:
                    # Go's client fails the read; a short save/export must not look complete.
                    self.conn.keep_alive = False
                    raise ConnectionFailed("unexpected EOF")
                self._remaining -= len(data)
                yield data
        else:  # until the server closes
            while data := self.conn.read(_LARGE):
                yield data
            self.conn.keep_alive = False
        self._done = True

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def json(self):
        data = self.read()
        return fastjson.loads(data) if data.strip() else None


class Connection:
    def __init__(self, path: str, display: str) -> None:
        self.display = display
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(path)
        except OSError:
            self.sock.close()
            raise ConnectionFailed(f"Cannot connect to the ketch daemon at {display}. "
                                   "Is the ketch daemon running?") from None
        self._buf = b""
        self._pos = 0
        self.keep_alive = True

    # -- reading ------------------------------------------------------------------
    # What was received and not yet taken is self._buf[self._pos:]: taking a line or a
    # chunk moves _pos instead of copying the rest of the buffer each time.
    def _fill(self) -> bool:
        data = self.sock.recv(_CHUNK)
        if not data:
            return False
        self._buf = self._buf[self._pos:] + data if self._pos < len(self._buf) else data
        self._pos = 0
        return True

    def _take(self, n: int) -> bytes:
        data = self._buf[self._pos:self._pos + n]
        self._pos += len(data)
        return data

    def readline(self, strict: bool = False) -> bytes:
        """One line with its newline; at end of stream what is left, or with ``strict``
        an error (inside a body the framing promised more)."""
        while (end := self._buf.find(b"\n", self._pos)) < 0:
            if not self._fill():
                if strict:
                    self.keep_alive = False
                    raise ConnectionFailed("unexpected EOF")
                return self._take(len(self._buf))
        return self._take(end + 1 - self._pos)

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes: what is buffered, else one receive of up to ``n``."""
        if self._pos < len(self._buf):
            return self._take(n)
        return self.sock.recv(min(n, _LARGE))

    def readexactly(self, n: int) -> bytes | bytearray:
        """``n`` bytes. A large piece (a chunk of a saved image) is received straight into
        one buffer of its size: adding up 64 KiB receives copied it over and over (bytes
        are immutable)."""
        have = len(self._buf) - self._pos
        if have >= n:
            return self._take(n)
        out = bytearray(n)
        out[:have] = self._take(have)
        view = memoryview(out)
        while have < n:
            got = self.sock.recv_into(view[have:])
            if not got:
                self.keep_alive = False
                raise ConnectionFailed("unexpected EOF")
            have += got
        return out

    def take_buffer(self) -> bytes:
        """Bytes already received past the response head (the start of a hijacked stream)."""
        return self._take(len(self._buf))

    # -- requests -----------------------------------------------------------------
    def send(self, method: str, path: str, body=None, headers: dict | None = None) -> Response:
        head = [f"{method} {path} HTTP/1.1", "Host: ketch", "User-Agent: ketch-cli"]
        hdrs = dict(headers or {})
        payload = b""
        chunked = False
        if isinstance(body, (bytes, bytearray)):
            payload = bytes(body)
            hdrs.setdefault("Content-Length", str(len(payload)))
        elif body is not None:  # an iterable of chunks: stream it
            chunked = True
            hdrs["Transfer-Encoding"] = "chunked"
        elif method in ("POST", "PUT"):
            hdrs.setdefault("Content-Length", "0")
        head += [f"{k}: {v}" for k, v in hdrs.items()]
        try:
            self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
            if chunked:
                for chunk in body:
                    if chunk:
                        self.sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            # The daemon answered before taking the whole body (an early error): read it.
            self.keep_alive = False
        return self._response(method == "HEAD")

    def _response(self, head: bool = False) -> Response:
        status_line = self.readline().decode("latin-1")
        if not status_line:
            raise ConnectionFailed("the daemon closed the connection")
        parts = status_line.split(" ", 2)
        status = int(parts[1])
        headers: dict[str, str] = {}
        while (line := self.readline()) not in (b"\r\n", b"\n", b""):
            key, _, value = line.decode("latin-1").partition(":")
            headers[key.strip().lower()] = value.strip()
        if headers.get("connection", "").lower() == "close":
            self.keep_alive = False
        return Response(self, status, parts[2].strip() if len(parts) > 2 else "", headers, head)

    def close(self) -> None:
        self.sock.close()


def filters_query(filters: dict | None) -> str | None:
    """The Go client's getFiltersQuery: ``filters`` (name -> values) as the JSON of the
    ``filters`` parameter, None (the parameter left out) when there are none."""
    return fastjson.dumps(filters) if filters else None


def build_path(version: str | None, path: str, query: dict | None = None) -> str:
    prefix = f"/v{version}" if version else ""
    if query:
        items = []
        for key, value in query.items():
            if value is None or value is False:
                continue
            if value is True:
                value = "1"
            if isinstance(value, (list, tuple)):
                items += [(key, str(v)) for v in value]
            else:
                items.append((key, str(value)))
        if items:
            query = "&".join(f"{_quote(k, '')}={_quote(v, '')}" for k, v in items)
            return f"{prefix}{path}?{query}"
    return prefix + path


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _quote(text: str, safe: str) -> str:
    """Percent-encoding (RFC 3986), as urllib.parse.quote: unreserved bytes and ``safe`` stay."""
    keep = _UNRESERVED | frozenset(safe.encode())
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in text.encode())


def quote_segment(value: str) -> str:
    return _quote(value, "/:@")
