"""ketch.client.http: response framing over a real Unix socket in tmp_path.

A listening socket stands in for the daemon: the test accepts the client's
connection and writes canned response bytes -- all at once, or a few bytes at a
time from a thread, so every read boundary is exercised.
"""

import socket
import threading
import time

import pytest

from ketch.client.http import ConnectionFailed, Connection, build_path, filters_query, quote_segment


@pytest.fixture
def server(tmp_path):
    """connect(data, size, close): a client Connection and the server's end, which sends
    ``data`` at once (size None) or ``size`` bytes at a time from a thread."""
    path = str(tmp_path / "s")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(4)
    opened, threads = [], []

    def connect(data, size=None, close=False):
        conn = Connection(path, f"unix://{path}")
        peer, _ = listener.accept()
        opened.append((conn, peer))
        if size is None:
            peer.sendall(data)
            if close:
                peer.shutdown(socket.SHUT_WR)
        else:
            thread = threading.Thread(target=_trickle, args=(peer, data, size, close))
            thread.start()
            threads.append(thread)
        return conn, peer

    yield connect
    for thread in threads:
        thread.join()
    for conn, peer in opened:
        conn.close()
        peer.close()
    listener.close()


def _trickle(peer, data, size, close):
    for i in range(0, len(data), size):
        peer.sendall(data[i:i + size])
        time.sleep(0.0002)
    if close:
        peer.shutdown(socket.SHUT_WR)


def serve(connect, data, size=None, close=False):
    return connect(data, size, close)


OK_JSON = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"Id":"abc"}\n'
CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
CHUNKED_EXT = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
               b"5;name=value\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n")
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"
NOT_MODIFIED = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
CLOSE_DELIMITED = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end\nof the stream"

# response bytes -> status, reason, body, the pieces chunks() yields (None: not checked)
RESPONSES = [
    (OK_JSON, 200, "OK", b'{"Id":"abc"}\n', None),
    (CHUNKED, 200, "OK", b"hello world", [b"hello", b" world"]),
    (CHUNKED_EXT, 200, "OK", b"hello0123456789", [b"hello", b"0123456789"]),
    (NO_CONTENT, 204, "No Content", b"", []),
    (NOT_MODIFIED, 304, "Not Modified", b"", []),
    (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 404, "Not Found", b"", []),
    (b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", 200, "", b"ok", None),
    (b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", 101, "UPGRADED", b"", []),
]


@pytest.mark.parametrize("size", [None, 1, 7])
@pytest.mark.parametrize("wire,status,reason,body,pieces", RESPONSES)
def test_response_framing(server, wire, status, reason, body, pieces, size):
    """Each response is followed by a second one on the same connection: the body must
    end exactly where the framing says, leaving the next response intact."""
    conn, _ = serve(server, wire + OK_JSON, size)
    resp = conn.send("GET", "/x")
    assert (resp.status, resp.reason) == (status, reason)
    got = list(resp.chunks())
    assert b"".join(got) == body
    if pieces is not None and size is None:
        assert got == pieces
    if status != 101:
        assert conn.send("GET", "/y").json() == {"Id": "abc"}
        assert conn.keep_alive


@pytest.mark.parametrize("size", [None, 2])
def test_close_delimited_body(server, size):
    conn, _ = serve(server, CLOSE_DELIMITED, size, close=True)
    resp = conn.send("GET", "/containers/x/logs")
    assert resp.read() == b"until the end\nof the stream"
    assert conn.keep_alive is False


def test_headers(server):
    conn, _ = serve(server, b"HTTP/1.1 200 OK\r\nApi-Version: 1.45\r\nDATE: Mon, 02 Jan 2024 03:04:05 GMT"
                            b"\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n")
    resp = conn.send("GET", "/_ping")
    assert resp.headers == {"api-version": "1.45", "date": "Mon, 02 Jan 2024 03:04:05 GMT",
                            "x-empty": "", "content-length": "0"}


def test_connection_close_header(server):
    conn, _ = serve(server, b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
    assert conn.send("GET", "/x").read() == b"ok"
    assert conn.keep_alive is False


def test_head_has_no_body(server):
    conn, _ = serve(server, b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n" + OK_JSON)
    resp = conn.send("HEAD", "/images/busybox/json")
    assert (resp.status, resp.read()) == (200, b"")
    assert conn.send("GET", "/y").json() == {"Id": "abc"}


@pytest.mark.parametrize("wire,empty", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", True),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n \n ", True),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]", False),
])
def test_json(server, wire, empty):
    conn, _ = serve(server, wire)
    assert conn.send("GET", "/x").json() == (None if empty else [])


@pytest.mark.parametrize("wire", [
    b"",  # closed before answering
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",  # closed inside a chunk
    # A body shorter than its framing fails as Go's client does ('unexpected EOF'): a
    # truncated `save`/`export` stream must not look successful.
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",  # no last chunk
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello",  # no CRLF after data
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",  # no final CRLF
])
def test_cut_short(server, wire):
    conn, _ = serve(server, wire, close=True)
    with pytest.raises(ConnectionFailed):
        conn.send("GET", "/x").read()


@pytest.mark.parametrize("size", [None, 1])
@pytest.mark.parametrize("wire", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nshort\r\n",
])
def test_cut_short_streams_what_came(server, wire, size):
    """chunks() hands out what arrived, then fails with Go's text."""
    conn, _ = serve(server, wire, size, close=True)
    got = b""
    with pytest.raises(ConnectionFailed, match="^unexpected EOF$"):
        for piece in conn.send("GET", "/x").chunks():
            got += piece
    assert got == b"short"
    assert conn.keep_alive is False


def _request(peer, size):
    peer.settimeout(5)
    data = b""
    while len(data) < size and (chunk := peer.recv(65536)):
        data += chunk
    return data


@pytest.mark.parametrize("method,body,headers,wire", [
    ("GET", None, None, b"GET /v1.45/_ping HTTP/1.1\r\nHost: ketch\r\nUser-Agent: ketch-cli\r\n\r\n"),
    ("POST", None, None,
     b"POST /v1.45/_ping HTTP/1.1\r\nHost: ketch\r\nUser-Agent: ketch-cli\r\nContent-Length: 0\r\n\r\n"),
    ("POST", b'{"a":1}', {"Content-Type": "application/json"},
     b"POST /v1.45/_ping HTTP/1.1\r\nHost: ketch\r\nUser-Agent: ketch-cli\r\n"
     b"Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"),
    ("POST", iter([b"ab", b"", b"0123456789abcdef"]), None,
     b"POST /v1.45/_ping HTTP/1.1\r\nHost: ketch\r\nUser-Agent: ketch-cli\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"),
])
def test_request_bytes(server, method, body, headers, wire):
    conn, peer = serve(server, NO_CONTENT)
    conn.send(method, "/v1.45/_ping", body, headers)
    assert _request(peer, len(wire)) == wire


def test_cannot_connect(tmp_path):
    path = str(tmp_path / "nothing.sock")
    with pytest.raises(ConnectionFailed) as exc:
        Connection(path, "unix:///run/ketch/ketch.sock")
    assert str(exc.value) == ("Cannot connect to the ketch daemon at unix:///run/ketch/ketch.sock. "
                              "Is the ketch daemon running?")


@pytest.mark.parametrize("version,path,query,expected", [
    (None, "/_ping", None, "/_ping"),
    ("1.45", "/containers/json", None, "/v1.45/containers/json"),
    ("1.45", "/containers/json", {"all": True, "limit": 0, "size": False, "filters": None},
     "/v1.45/containers/json?all=1&limit=0"),
    ("1.45", "/images/create", {"fromImage": "busybox", "tag": "1.36"},
     "/v1.45/images/create?fromImage=busybox&tag=1.36"),
    ("1.45", "/x", {"filters": '{"label":["a=b"]}'},
     "/v1.45/x?filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D"),
    ("1.45", "/x", {"t": ["a:1", "b:2"]}, "/v1.45/x?t=a%3A1&t=b%3A2"),
    ("1.45", "/x", {"all": False}, "/v1.45/x"),
])
def test_build_path(version, path, query, expected):
    assert build_path(version, path, query) == expected


def test_filters_query_leaves_out_no_filters():
    assert filters_query(None) is None and filters_query({}) is None
    assert build_path("1.45", "/x", {"filters": filters_query({"label": ["a=b"]})}) == (
        "/v1.45/x?filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D")


@pytest.mark.parametrize("segment,quoted", [
    ("web", "web"),
    ("busybox:latest", "busybox:latest"),
    ("localhost:5000/a/b@sha256:ab", "localhost:5000/a/b@sha256:ab"),
    ("a b?c#d%", "a%20b%3Fc%23d%25"),
])
def test_quote_segment(segment, quoted):
    assert quote_segment(segment) == quoted


class _CountingSocket:
    """A daemon's socket that hands out at most 64 KiB a receive, counting the bytes each
    way of receiving took."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0
        self.via_recv = self.via_recv_into = 0

    def recv(self, n):
        piece = self.data[self.at:self.at + min(n, 65536)]
        self.at += len(piece)
        self.via_recv += len(piece)
        return piece

    def recv_into(self, view):
        piece = self.data[self.at:self.at + min(len(view), 65536)]
        view[:len(piece)] = piece
        self.at += len(piece)
        self.via_recv_into += len(piece)
        return len(piece)

    def close(self):
        pass


def test_a_large_chunk_is_received_straight_into_one_buffer(server):
    # save's 256 KiB chunks were added up from 64 KiB receives, each addition copying all
    # that came before (bytes are immutable): ~93 MB/s where curl does ~240
    body = bytes(range(256)) * 4096 * 4  # 4 MiB, one chunk
    wire = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    conn, _ = serve(server, b"")
    conn.sock.close()
    conn.sock = fake = _CountingSocket(wire)
    resp = conn._response()
    assert b"".join(resp.chunks()) == body
    assert fake.via_recv_into >= len(body) - 65536 and fake.via_recv <= 2 * 65536


def test_docker_api_version_pins_the_client_s_version(monkeypatch):
    # as the docker CLI's: ketch compose against dockerd 20.10 (API 1.41 at most)
    from ketch.client.api import API_VERSION, APIClient
    monkeypatch.delenv("DOCKER_API_VERSION", raising=False)
    assert APIClient("unix:///x.sock").version == API_VERSION
    monkeypatch.setenv("DOCKER_API_VERSION", "1.41")
    assert APIClient("unix:///x.sock").version == "1.41"
    assert APIClient("unix:///x.sock", version="1.44").version == "1.44"
