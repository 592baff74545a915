"""Test helpers for ketch's registry server: keys and certificates made on the spot, JWTs
signed as a token issuer signs them, a small token issuer over HTTP, and a small OCI image
layout for skopeo to copy."""

from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import io
import ipaddress
import json
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pem(obj) -> bytes:
    if isinstance(obj, x509.Certificate):
        return obj.public_bytes(serialization.Encoding.PEM)
    if hasattr(obj, "private_bytes"):
        return obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    return obj.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def certificate(subject_key, name: str, issuer_key=None, issuer_cert=None, ca: bool = False,
                ip: str | None = None, days: int = 1) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer_cert.subject if issuer_cert else subject)
               .public_key(subject_key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                                        critical=False)
    return builder.sign(issuer_key or subject_key, hashes.SHA256())


def tls_files(directory: Path, ip: str = "127.0.0.1") -> tuple[str, str]:
    """A self-signed certificate for ip and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(key, ip, ip=ip, ca=True)
    (directory / "tls.crt").write_bytes(pem(cert))
    (directory / "tls.key").write_bytes(pem(key))
    return str(directory / "tls.crt"), str(directory / "tls.key")


def sign_jwt(key, claims: dict, header: dict | None = None) -> str:
    """A JWT signed with an EC (ES256) or RSA (RS256) private key."""
    alg = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
    head = {"typ": "JWT", "alg": alg, **(header or {})}
    signed = f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(claims).encode())}"
    if alg == "ES256":
        r, s = decode_dss_signature(key.sign(signed.encode(), ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        signature = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signed}.{b64url(signature)}"


def claims(issuer: str, service: str, access: list[dict], subject: str = "alice", ttl: int = 300) -> dict:
    now = int(time.time())
    return {"iss": issuer, "aud": service, "sub": subject, "iat": now, "nbf": now - 1, "exp": now + ttl,
            "jti": b64url(hashlib.sha256(str(time.time()).encode()).digest()[:12]), "access": access}


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class TokenIssuer:
    """GET /token?service=...&scope=... -> {"token": ...}: grants every scope asked for to
    anyone whose Basic credentials are in users (anonymous: pull only), as docker_auth would."""

    def __init__(self, issuer: str, service: str, users: dict[str, str]) -> None:
        from ketch.registry.server.auth.token import key_id
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = certificate(self.key, issuer, ca=True)
        self.kid = key_id(self.key.public_key())
        self.issuer, self.service, self.users = issuer, service, users
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                query = parse_qs(urlparse(self.path).query)
                user = None
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    if outer.users.get(name) != password:
                        self.send_response(401)
                        self.end_headers()
                        return
                    user = name
                access = []
                for scope in query.get("scope", []):
                    for item in scope.split(" "):
                        kind, _, rest = item.partition(":")
                        name, _, actions = rest.rpartition(":")
                        granted = actions.split(",") if user else [a for a in actions.split(",") if a == "pull"]
                        access.append({"type": kind, "name": name, "actions": granted})
                outer.requests.append({"user": user, "scope": query.get("scope", []),
                                       "service": query.get("service", [""])[0]})
                token = sign_jwt(outer.key, claims(outer.issuer, outer.service, access, user or ""),
                                 {"kid": outer.kid})
                body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def oci_layout(root: Path, tag: str = "1", payload: bytes = b"hello\n") -> str:
    """A one-layer OCI image layout at root; returns the manifest digest."""
    def blob(data: bytes) -> tuple[str, int]:
        digest = hashlib.sha256(data).hexdigest()
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (root / "blobs" / "sha256" / digest).write_bytes(data)
        return f"sha256:{digest}", len(data)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    layer_tar = buf.getvalue()
    layer = blob(gzip.compress(layer_tar, mtime=0))
    config = blob(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                              "rootfs": {"type": "layers",
                                         "diff_ids": ["sha256:" + hashlib.sha256(layer_tar).hexdigest()]}}).encode())
    manifest = blob(json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config[0], "size": config[1]},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer[0],
                    "size": layer[1]}]}).encode())
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest[0], "size": manifest[1],
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return manifest[0]
