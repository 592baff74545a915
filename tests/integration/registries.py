"""Registries for tests: Debian's docker-registry (distribution 2.8) and a token server.

Everything listens on 127.0.0.1 on a free port and lives in a temporary directory;
``stop()`` ends the registry by its PID and removes the directory. Reusable by any test
that needs a registry (the client library's, pull/push's)::

    with DockerRegistry() as reg:                          # anonymous, plain HTTP
    with DockerRegistry(htpasswd={"alice": "s3cret"}):     # Basic auth (bcrypt)
    ca = CA.create(tmp); with DockerRegistry(tls=ca):      # HTTPS, cert from a test CA
    with TokenServer() as ts, DockerRegistry(token=ts):    # Bearer tokens (JWT, RS256)

``random_layer`` makes a real gzip'd tar layer; ``ImageBlobs`` a small image (config,
layers, manifest) ready to push.
"""

import base64
import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import bcrypt

REGISTRY_BIN = "/usr/bin/docker-registry"
OPENSSL = "openssl"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openssl(*args: str) -> bytes:
    return subprocess.run([OPENSSL, *args], check=True, capture_output=True).stdout


# -- certificates -----------------------------------------------------------------------
@dataclass
class CA:
    """A throwaway certificate authority (openssl CLI)."""
    directory: str
    cert: str
    key: str

    @classmethod
    def create(cls, directory: str, name: str = "ketch test CA") -> "CA":
        os.makedirs(directory, exist_ok=True)
        cert, key = os.path.join(directory, "ca.crt"), os.path.join(directory, "ca.key")
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                 "-days", "2", "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return cls(directory, cert, key)

    def issue(self, name: str, sans: tuple[str, ...] = ("IP:127.0.0.1", "DNS:localhost"),
              client: bool = False) -> tuple[str, str]:
        """(cert, key) signed by this CA, for a server (with ``sans``) or a client."""
        cert, key = os.path.join(self.directory, f"{name}.cert"), os.path.join(self.directory, f"{name}.key")
        csr, ext = cert + ".csr", cert + ".ext"
        _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                 "-subj", f"/CN={name}")
        with open(ext, "w") as f:
            if client:
                f.write("extendedKeyUsage=clientAuth\n")
            else:
                f.write(f"subjectAltName={','.join(sans)}\nextendedKeyUsage=serverAuth\n")
        _openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key, "-CAcreateserial",
                 "-out", cert, "-days", "2", "-extfile", ext)
        return cert, key


# -- JWT signing for the token server (RS256, textbook PKCS#1 v1.5 on openssl's numbers) --
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SigningKey:
    def __init__(self, directory: str) -> None:
        self.key = os.path.join(directory, "token.key")
        self.cert = os.path.join(directory, "token.crt")
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key, "-out", self.cert,
                 "-days", "2", "-subj", "/CN=ketch test token issuer")
        text = _openssl("rsa", "-in", self.key, "-noout", "-text").decode()
        self.n = self._number(text, "modulus")
        self.d = self._number(text, "privateExponent")
        der = _openssl("rsa", "-in", self.key, "-pubout", "-outform", "DER")
        # libtrust's key ID, what distribution's token verifier indexes its root keys by
        b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
        self.kid = ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))

    @staticmethod
    def _number(text: str, label: str) -> int:
        lines = text.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith(label + ":"))
        digits = []
        for line in lines[start + 1:]:
            if not line.startswith(" "):
                break
            digits.append(line.strip().replace(":", ""))
        return int("".join(digits), 16)

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        k = (self.n.bit_length() + 7) // 8
        t = _SHA256_DIGEST_INFO + hashlib.sha256(signing_input.encode()).digest()
        em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
        signature = pow(int.from_bytes(em, "big"), self.d, self.n).to_bytes(k, "big")
        return f"{signing_input}.{_b64url(signature)}"


@dataclass
class TokenRequest:
    method: str
    user: str          # "" for anonymous
    scopes: list[str]
    params: dict[str, str]


class TokenServer:
    """docker/distribution's token protocol (GET with Basic, POST with refresh_token).

    ``users`` are name -> password; anonymous requests get ``pull`` on repositories under
    ``public/``; users get what they ask for. Tokens last ``expires_in`` seconds.
    Every request is recorded in ``requests``.
    """

    def __init__(self, users: dict[str, str] | None = None, service: str = "ketch-test-registry",
                 issuer: str = "ketch-test-issuer", expires_in: int = 300) -> None:
        self.directory = tempfile.mkdtemp(prefix="kt-tok-")
        self.users = users if users is not None else {"alice": "s3cret"}
        self.service, self.issuer, self.expires_in = service, issuer, expires_in
        self.key = SigningKey(self.directory)
        self.refresh_tokens: dict[str, str] = {}
        self.requests: list[TokenRequest] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def realm(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def grant(self, user: str, scope: str) -> dict | None:
        parts = scope.split(":")
        if len(parts) < 3:
            return None
        kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
        if not user:
            actions = [a for a in actions if a == "pull"] if name.startswith("public/") else []
        return {"type": kind, "name": name, "actions": actions}

    def _token(self, user: str, scopes: list[str]) -> dict:
        now = int(time.time())
        access = [g for g in (self.grant(user, s) for s in scopes) if g]
        claims = {"iss": self.issuer, "sub": user, "aud": self.service, "exp": now + self.expires_in,
                  "nbf": now - 10, "iat": now, "jti": secrets.token_hex(8), "access": access}
        return {"token": self.key.sign(claims), "access_token": self.key.sign(claims),
                "expires_in": self.expires_in,
                "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}

    def start(self) -> "TokenServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _reply(self, status: int, doc: dict) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _denied(self) -> None:
                self._reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "incorrect username or password"}]})

            def do_GET(self) -> None:
                query = urllib.parse.urlsplit(self.path).query
                pairs = urllib.parse.parse_qsl(query)
                params, scopes = dict(pairs), [v for k, v in pairs if k == "scope"]
                user = ""
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    name, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    if server.users.get(name) != password:
                        server.requests.append(TokenRequest("GET", name, scopes, params))
                        return self._denied()
                    user = name
                server.requests.append(TokenRequest("GET", user, scopes, params))
                doc = server._token(user, scopes)
                if user and params.get("offline_token") == "true":
                    refresh = secrets.token_hex(16)
                    server.refresh_tokens[refresh] = user
                    doc["refresh_token"] = refresh
                self._reply(200, doc)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                params = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                scopes = params.get("scope", "").split()
                user = server.refresh_tokens.get(params.get("refresh_token", ""), "")
                server.requests.append(TokenRequest("POST", user, scopes, params))
                if params.get("grant_type") != "refresh_token" or not user:
                    return self._reply(400, {"error": "invalid_grant"})
                doc = server._token(user, scopes)
                self._reply(200, {"access_token": doc["access_token"], "expires_in": doc["expires_in"],
                                  "scope": " ".join(scopes), "refresh_token": params["refresh_token"]})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "TokenServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# -- docker-registry --------------------------------------------------------------------
class DockerRegistry:
    """A docker-registry (distribution 2.8) process of its own, on 127.0.0.1:PORT."""

    def __init__(self, htpasswd: dict[str, str] | None = None, tls: CA | None = None,
                 token: TokenServer | None = None, client_ca: CA | None = None) -> None:
        self.directory = tempfile.mkdtemp(prefix="kt-reg-")
        self.port = free_port()
        self.htpasswd, self.tls, self.token, self.client_ca = htpasswd, tls, token, client_ca
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(self.directory, "registry.log")

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    def _config(self) -> str:
        lines = ["version: 0.1", "log:", "  level: warn", "  accesslog:", "    disabled: true",
                 "storage:", "  filesystem:", f"    rootdirectory: {self.directory}/data",
                 "  delete:", "    enabled: true", "  maintenance:", "    uploadpurging:",
                 "      enabled: false",
                 "http:", f"  addr: {self.host}", f"  secret: {secrets.token_hex(16)}"]
        if self.tls:
            cert, key = self.tls.issue(f"registry-{self.port}")
            lines += ["  tls:", f"    certificate: {cert}", f"    key: {key}"]
            if self.client_ca:
                lines += ["    clientcas:", f"      - {self.client_ca.cert}"]
        if self.htpasswd is not None:
            path = os.path.join(self.directory, "htpasswd")
            with open(path, "w") as f:
                for user, password in self.htpasswd.items():
                    f.write(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(5)).decode()}\n")
            lines += ["auth:", "  htpasswd:", "    realm: basic-realm", f"    path: {path}"]
        elif self.token:
            lines += ["auth:", "  token:", f"    realm: {self.token.realm}",
                      f"    service: {self.token.service}", f"    issuer: {self.token.issuer}",
                      f"    rootcertbundle: {self.token.key.cert}"]
        path = os.path.join(self.directory, "config.yml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self, timeout: float = 20.0) -> "DockerRegistry":
        config = self._config()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", config], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.logs()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("docker-registry did not start listening")

    def logs(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "DockerRegistry":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# -- content ----------------------------------------------------------------------------
def random_layer(size: int = 4096, name: str = "data") -> bytes:
    """A gzip'd tar holding one file of ``size`` random bytes (``/<name>``)."""
    payload = os.urandom(size)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(payload), 0o644, 0
        tar.addfile(info, io.BytesIO(payload))
    return gzip.compress(buf.getvalue(), mtime=0)


def sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


@dataclass
class ImageBlobs:
    """A small single-platform image: layers (gzip'd tars), its config and manifest."""
    layers: list[bytes]
    architecture: str = "amd64"
    variant: str = ""
    media_type: str = "application/vnd.docker.distribution.manifest.v2+json"
    config: bytes = field(init=False)
    manifest: bytes = field(init=False)

    def __post_init__(self) -> None:
        diff_ids = [sha256(gzip.decompress(layer)) for layer in self.layers]
        config = {"architecture": self.architecture, "os": "linux",
                  "config": {"Cmd": ["/bin/sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids},
                  "history": [{"created_by": "test"} for _ in self.layers]}
        if self.variant:
            config["variant"] = self.variant
        self.config = json.dumps(config).encode()
        oci = self.media_type.startswith("application/vnd.oci.")
        layer_type = ("application/vnd.oci.image.layer.v1.tar+gzip" if oci
                      else "application/vnd.docker.image.rootfs.diff.tar.gzip")
        config_type = ("application/vnd.oci.image.config.v1+json" if oci
                       else "application/vnd.docker.container.image.v1+json")
        self.manifest = json.dumps({
            "schemaVersion": 2, "mediaType": self.media_type,
            "config": {"mediaType": config_type, "digest": sha256(self.config), "size": len(self.config)},
            "layers": [{"mediaType": layer_type, "digest": sha256(layer), "size": len(layer)}
                       for layer in self.layers]}).encode()

    @classmethod
    def random(cls, count: int = 2, size: int = 4096, **kw) -> "ImageBlobs":
        return cls([random_layer(size, f"layer{i}") for i in range(count)], **kw)

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    @property
    def blobs(self) -> list[bytes]:
        return [self.config, *self.layers]
