"""The repository primitives against a fake registry on loopback: redirects that must not
carry credentials, Link pagination, resumed and hostile blob downloads, manifest checks,
foreign layers, retries."""

import base64
import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ketch.errors import InvalidArgument
from ketch.image.verify import VerificationFailed
from ketch.oci import reference
from ketch.registry.client import apierror, remote
from ketch.registry.client import manifest as mf
from ketch.registry.client.auth import AuthConfig
from ketch.registry.client.manifest import Descriptor
from ketch.registry.client.transport import Retry, Session

BASIC = "Basic " + base64.b64encode(b"alice:pw").decode()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Fake:
    """A loopback HTTP server; ``route(handler)`` answers each request (and records it)."""

    def __init__(self, route):
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                fake.requests.append((self.command, self.path, dict(self.headers)))
                route(self)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = _any

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                if not any(k.lower() == "content-length" for k, _ in headers):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # the client hanging up on a hostile answer is the point of some tests

        self.server = Server(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fakes():
    made = []

    def make(route):
        made.append(Fake(route))
        return made[-1]
    yield make
    for f in made:
        f.close()


@pytest.fixture
def session():
    with Session(retry=Retry(attempts=3, delay=0.01)) as s:
        yield s


def _repo(session, host, auth=AuthConfig(), push=False):
    return remote.open_repository(session, reference.parse(f"{host}/team/app:1"), auth, push)


def test_credentials_do_not_follow_a_redirect_to_blob_storage(fakes, session):
    blob = b"layer bytes"
    storage = fakes(lambda h: h.reply(200, blob))

    def registry(h):
        if h.headers.get("Authorization") != BASIC:
            return h.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                           [("WWW-Authenticate", 'Basic realm="r"')])
        if h.path.startswith("/v2/team/app/blobs/"):
            return h.reply(307, headers=[("Location", f"http://{storage.host}/store/{sha256(blob)}?sig=1")])
        h.reply(200, b"{}")

    reg = fakes(registry)
    repo = _repo(session, reg.host, AuthConfig("alice", "pw"))
    assert repo.open_blob(Descriptor("x", sha256(blob), len(blob))).read() == blob
    assert reg.requests[-1][2]["Authorization"] == BASIC
    method, path, headers = storage.requests[-1]
    assert path.startswith("/store/") and "Authorization" not in headers


def test_tags_follow_the_link_header(fakes, session):
    pages = {"": (["a", "b"], "</v2/team/app/tags/list?last=b&n=2>; rel=\"next\""),
             "b": (["c", "d"], "</v2/team/app/tags/list?last=d&n=2>; rel=\"next\""),
             "d": (["e"], None)}

    def registry(h):
        if h.path == "/v2/":
            return h.reply(200)
        last = h.path.partition("last=")[2].partition("&")[0]
        tags, link = pages[last]
        h.reply(200, json.dumps({"name": "team/app", "tags": tags}).encode(),
                [("Link", link)] if link else [])

    reg = fakes(registry)
    assert _repo(session, reg.host).list_tags(page_size=2) == ["a", "b", "c", "d", "e"]
    assert [p for m, p, _ in reg.requests[1:]] == ["/v2/team/app/tags/list?n=2",
                                                   "/v2/team/app/tags/list?last=b&n=2",
                                                   "/v2/team/app/tags/list?last=d&n=2"]


def _blob_server(blob, behaviour):
    """A registry whose blob GETs are answered by ``behaviour(handler, attempt)``."""
    attempts = []

    def registry(h):
        if h.path == "/v2/":
            return h.reply(200)
        attempts.append(h.headers.get("Range"))
        behaviour(h, len(attempts))
    return registry, attempts


def _cut(h, data, total):
    """Headers promising ``total`` bytes, ``data`` of them, then a dropped connection."""
    h.send_response(200)
    h.send_header("Content-Length", str(total))
    h.end_headers()
    h.wfile.write(data)
    h.wfile.flush()
    h.connection.shutdown(socket.SHUT_RDWR)
    h.close_connection = True


def test_a_server_ignoring_range_restarts_and_the_bytes_had_are_skipped(fakes, session):
    blob = bytes(range(256)) * 400

    def behaviour(h, n):
        if n == 1:
            return _cut(h, blob[:30000], len(blob))
        h.reply(200, blob)  # Range ignored: the whole blob again

    route, attempts = _blob_server(blob, behaviour)
    reg = fakes(route)
    stream = _repo(session, reg.host).open_blob(Descriptor("x", sha256(blob), len(blob)))
    assert stream.read() == blob and stream.resumes == 1
    assert attempts == [None, "bytes=30000-"]


def test_a_partial_response_resumes_from_its_offset(fakes, session):
    blob = b"0123456789" * 5000

    def behaviour(h, n):
        if n == 1:
            return _cut(h, blob[:12345], len(blob))
        start = int(h.headers["Range"].split("=")[1].rstrip("-"))
        h.reply(206, blob[start:], [("Content-Range", f"bytes {start}-{len(blob) - 1}/{len(blob)}")])

    route, attempts = _blob_server(blob, behaviour)
    reg = fakes(route)
    seen = []
    stream = _repo(session, reg.host).open_blob(Descriptor("x", sha256(blob), len(blob)), on_progress=seen.append)
    assert stream.read() == blob and attempts == [None, "bytes=12345-"]
    assert seen[-1] == len(blob)


@pytest.mark.parametrize("served", [b"evil" * 100, b"short"])
def test_a_blob_that_is_not_what_its_descriptor_says_is_refused(fakes, session, served):
    expected = b"good" * 25
    route, _ = _blob_server(expected, lambda h, n: h.reply(200, served))
    reg = fakes(route)
    stream = _repo(session, reg.host).open_blob(Descriptor("x", sha256(expected), len(expected)))
    with pytest.raises(VerificationFailed, match=f"^filesystem layer verification failed for digest {sha256(expected)}$"):
        stream.read()


def test_an_endless_blob_is_cut_at_its_declared_size(fakes, session):
    expected = b"x" * 100

    def behaviour(h, n):
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for _ in range(100):  # far more than declared
            h.wfile.write(b"10000\r\n" + b"y" * 0x10000 + b"\r\n")
        h.wfile.write(b"0\r\n\r\n")

    route, _ = _blob_server(expected, behaviour)
    reg = fakes(route)
    received = 0
    with pytest.raises(VerificationFailed):
        for chunk in _repo(session, reg.host).open_blob(Descriptor("x", sha256(expected), 100)):
            received += len(chunk)
    assert received <= 100


def _manifest_server(raw, headers):
    def registry(h):
        if h.path == "/v2/":
            return h.reply(200)
        h.reply(200, raw, headers)
    return registry


MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": mf.mediatypes.DOCKER_MANIFEST,
                       "config": {"mediaType": mf.mediatypes.DOCKER_CONFIG, "digest": "sha256:" + "1" * 64,
                                  "size": 1}, "layers": []}).encode()


def test_manifest_by_digest_is_verified(fakes, session):
    good = sha256(MANIFEST)
    reg = fakes(_manifest_server(MANIFEST, [("Content-Type", mf.mediatypes.DOCKER_MANIFEST),
                                            ("Docker-Content-Digest", good)]))
    repo = _repo(session, reg.host)
    fetched = repo.get_manifest(good)
    assert fetched.digest == good and fetched.raw == MANIFEST
    other = "sha256:" + "9" * 64
    with pytest.raises(mf.ManifestError, match=f"^manifest verification failed for digest {other}$"):
        repo.get_manifest(other)


def test_manifest_with_a_lying_digest_header_is_refused(fakes, session):
    lie = "sha256:" + "8" * 64
    reg = fakes(_manifest_server(MANIFEST, [("Content-Type", mf.mediatypes.DOCKER_MANIFEST),
                                            ("Docker-Content-Digest", lie)]))
    with pytest.raises(mf.ManifestError, match="manifest verification failed"):
        _repo(session, reg.host).get_manifest("1")


def test_oversized_manifests_are_refused_before_reading_them_all(fakes, session):
    big = b" " * (mf.MAX_MANIFEST_SIZE + 10)
    reg = fakes(_manifest_server(big, [("Content-Type", mf.mediatypes.DOCKER_MANIFEST)]))
    with pytest.raises(mf.ManifestError, match="exceeds limit of 4194304 bytes"):
        _repo(session, reg.host).get_manifest("1")


def test_content_type_disagreeing_with_the_document_is_refused(fakes, session):
    reg = fakes(_manifest_server(MANIFEST, [("Content-Type", mf.mediatypes.OCI_INDEX)]))
    with pytest.raises(mf.ManifestError, match="does not match Content-Type"):
        _repo(session, reg.host).get_manifest("1")


def test_foreign_layer_comes_from_its_urls_without_credentials(fakes, session):
    blob = b"foreign layer"
    elsewhere = fakes(lambda h: h.reply(200, blob))

    def registry(h):
        if h.headers.get("Authorization") != BASIC:
            return h.reply(401, b"", [("WWW-Authenticate", 'Basic realm="r"')])
        if "/blobs/" in h.path:
            return h.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}')
        h.reply(200)

    reg = fakes(registry)
    desc = Descriptor(mf.DOCKER_FOREIGN_LAYER, sha256(blob), len(blob),
                      ("file:///etc/passwd", f"http://{elsewhere.host}/layer.tgz"))
    assert _repo(session, reg.host, AuthConfig("alice", "pw")).open_blob(desc).read() == blob
    assert "Authorization" not in elsewhere.requests[0][2]


def test_a_connection_dropped_before_the_answer_is_retried(fakes, session):
    dropped = []

    def registry(h):
        if h.path == "/v2/" and not dropped:
            dropped.append(1)
            h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
            return
        h.reply(200)

    reg = fakes(registry)
    _repo(session, reg.host)
    assert dropped and [p for _, p, _ in reg.requests].count("/v2/") >= 2


def test_put_manifest_returns_its_digest(fakes, session):
    def registry(h):
        if h.path == "/v2/":
            return h.reply(200)
        h.reply(201, headers=[("Docker-Content-Digest", sha256(h.body))])

    reg = fakes(registry)
    repo = _repo(session, reg.host, push=True)
    assert repo.put_manifest("1", MANIFEST, mf.mediatypes.DOCKER_MANIFEST) == sha256(MANIFEST)
    method, path, headers = reg.requests[-1]
    assert (method, path, headers["Content-Type"]) == ("PUT", "/v2/team/app/manifests/1", mf.mediatypes.DOCKER_MANIFEST)


def test_monolithic_and_chunked_upload_requests(fakes, session):
    def registry(h):
        if h.path == "/v2/":
            return h.reply(200)
        if h.command in ("POST", "PATCH"):
            return h.reply(202, headers=[("Location", f"/v2/team/app/blobs/uploads/u{len(reg.requests)}?_state=s")])
        h.reply(201)

    reg = fakes(registry)
    repo = _repo(session, reg.host, push=True)
    data = b"z" * 2500
    repo.upload_blob(sha256(data), len(data), data)
    post, put = reg.requests[-2:]
    assert post[:2] == ("POST", "/v2/team/app/blobs/uploads/")
    assert put[0] == "PUT" and put[1].endswith(f"?_state=s&digest={sha256(data).replace(':', '%3A')}")
    assert put[2]["Content-Length"] == "2500"
    del reg.requests[:]
    repo.upload_blob(sha256(data), len(data), data, chunk_size=1000)
    assert [(m, h.get("Content-Range")) for m, _, h in reg.requests] == [
        ("POST", None), ("PATCH", "0-999"), ("PATCH", "1000-1999"), ("PATCH", "2000-2499"), ("PUT", None)]
    with pytest.raises(InvalidArgument, match="longer than its declared 10 bytes"):
        repo.upload_blob(sha256(data), 10, data)


def test_v1_search(fakes, session):
    from ketch.registry.client.search import SearchResult, search, split_term

    def registry(h):
        if h.path == "/v2/":
            return h.reply(404)
        doc = {"num_results": 2, "query": "app", "results": [
            {"name": "team/app", "description": "an app", "star_count": 3, "is_official": False,
             "is_automated": True},
            {"name": "library/app", "star_count": "many", "is_official": True}]}
        h.reply(200, json.dumps(doc).encode(), [("Content-Type", "application/json")])

    reg = fakes(registry)
    assert split_term(f"{reg.host}/app") == (reg.host, "app")
    assert split_term("busybox") == ("docker.io", "busybox")
    results = search(session, f"{reg.host}/app", limit=10)
    assert results == [SearchResult("team/app", "an app", 3, False, True),
                       SearchResult("library/app", "", 0, True, False)]
    assert reg.requests[-1][1] == "/v1/search?q=app&n=10"
    with pytest.raises(InvalidArgument, match=r"^limit 101 is outside the range of \[1, 100\]$"):
        search(session, "x", limit=101)


def test_nobody_listening_fails_at_once_without_retries():
    import time
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Session(retry=Retry(attempts=3, delay=0.5)) as slow:
        started = time.monotonic()
        with pytest.raises(apierror.ConnectionFailed, match=f'^Get "http://127.0.0.1:{port}/v2/": dial tcp'):
            _repo(slow, f"127.0.0.1:{port}")
        assert time.monotonic() - started < 0.5


def test_credentials_do_not_follow_a_redirect_to_plain_http_on_the_same_host(fakes):
    from ketch.registry.client.endpoints import Endpoint
    from ketch.registry.client.transport import Registry
    with Session() as s:
        registry = Registry(s, Endpoint("https://127.0.0.1:1", "127.0.0.1:1", False), AuthConfig("a", "b"))
        assert registry._own("https://127.0.0.1:1/v2/x")
        assert not registry._own("http://127.0.0.1:1/v2/x")
        assert not registry._own("https://user@127.0.0.1:1/v2/x")
        assert not registry._own("https://127.0.0.1:2/v2/x")


def test_a_token_the_registry_stops_accepting_is_replaced(fakes, session):
    issued = []

    def token_server(h):
        issued.append(f"T{len(issued) + 1}")
        h.reply(200, json.dumps({"token": issued[-1], "expires_in": 300}).encode())

    tokens = fakes(token_server)
    challenge = f'Bearer realm="http://{tokens.host}/token",service="reg"'

    def registry(h):
        # T1 expired early on the registry's clock; T2 is good
        if h.headers.get("Authorization") != "Bearer T2":
            error = ',error="invalid_token"' if h.headers.get("Authorization") else ""
            return h.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                           [("WWW-Authenticate", challenge + error)])
        h.reply(200, json.dumps({"name": "team/app", "tags": ["1"]}).encode())

    reg = fakes(registry)
    assert _repo(session, reg.host).list_tags() == ["1"]
    assert issued == ["T1", "T2"]


def test_blobs_are_asked_for_as_stored_and_decoded_if_sent_encoded(fakes, session):
    import gzip
    blob = b"layer " * 1000

    def behaviour(h, n):
        assert h.headers.get("Accept-Encoding") == "identity"
        h.reply(200, gzip.compress(blob), [("Content-Encoding", "gzip")])  # a server that does anyway

    route, _ = _blob_server(blob, behaviour)
    reg = fakes(route)
    assert _repo(session, reg.host).open_blob(Descriptor("x", sha256(blob), len(blob))).read() == blob
