"""ketch.httpserver without Docker's dialect: TCP (and TLS) listeners, Go's plain 404,
paths taken as sent, the access log hook."""

from __future__ import annotations

import asyncio
import datetime
import http.client
import ipaddress
import ssl
import threading
import time

import pytest

from ketch.httpserver import Request, Response, Router, Server, json_response

TIMEOUT = 10


def _make_cert(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


class Running:
    """A Server on a loop of its own thread, listening on a loopback TCP port."""

    def __init__(self, ssl_context=None) -> None:
        self.log: list[tuple[str, str, int, int]] = []
        router = Router()
        router.add("GET", "/v1.41/thing", self.thing)
        router.add("PUT", "/upload", self.upload)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = Server(router, lambda request, exc: Response(500, str(exc).encode()),
                             access_log=lambda r: self.log.append((r.method, r.path, r.status, r.bytes_sent)))
        self.host, self.port = self.call(self.server.serve_tcp("127.0.0.1", 0, ssl=ssl_context))

    async def thing(self, request: Request):
        return json_response({"path": request.path, "remote": request.remote.rpartition(":")[0],
                              "secure": request.secure})

    async def upload(self, request: Request):
        return Response(201, b"%d" % len(await request.body()))

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TIMEOUT)

    def stop(self) -> None:
        self.call(self.server.close(timeout=2))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(TIMEOUT)
        self.loop.close()


@pytest.fixture
def running():
    server = Running()
    yield server
    server.stop()


def _get(conn, method, path, body=None):
    conn.request(method, path, body=body)
    response = conn.getresponse()
    return response.status, response.getheaders(), response.read()


def test_tcp_with_no_docker_dialect(running):
    conn = http.client.HTTPConnection(running.host, running.port, timeout=TIMEOUT)
    status, _, body = _get(conn, "GET", "/v1.41/thing")
    assert (status, body) == (200, b'{"path":"/v1.41/thing","remote":"127.0.0.1","secure":false}\n')
    status, headers, body = _get(conn, "GET", "/thing")  # no prefix rewrite: no route
    assert (status, body) == (404, b"404 page not found\n")
    assert dict(headers)["Content-Type"] == "text/plain; charset=utf-8"
    assert _get(conn, "PUT", "/upload", b"abc")[::2] == (201, b"3")
    conn.close()
    deadline = time.monotonic() + TIMEOUT  # logged once the response is out: maybe after we read it
    while len(running.log) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert running.log == [("GET", "/v1.41/thing", 200, 60), ("GET", "/thing", 404, 19),
                           ("PUT", "/upload", 201, 1)]


def test_a_broken_error_handler_gets_a_plain_500(running):
    running.server.error_handler = lambda request, exc: 1 / 0

    async def boom(request):
        raise RuntimeError("boom")
    running.server.router.add("GET", "/boom2", boom)
    conn = http.client.HTTPConnection(running.host, running.port, timeout=TIMEOUT)
    assert _get(conn, "GET", "/boom2")[::2] == (500, b"Internal Server Error\n")
    conn.close()


def test_tls(tmp_path):
    cert, key = _make_cert(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = Running(context)
    try:
        client_context = ssl.create_default_context(cafile=cert)
        conn = http.client.HTTPSConnection(server.host, server.port, timeout=TIMEOUT, context=client_context)
        status, _, body = _get(conn, "GET", "/v1.41/thing")
        assert (status, body) == (200, b'{"path":"/v1.41/thing","remote":"127.0.0.1","secure":true}\n')
        assert _get(conn, "PUT", "/upload", b"x" * 100000)[::2] == (201, b"100000")  # keep-alive over TLS
        conn.close()
        plain = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT)
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            _get(plain, "GET", "/v1.41/thing")
        plain.close()
    finally:
        server.stop()
