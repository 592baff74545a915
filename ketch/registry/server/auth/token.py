"""Bearer auth as distribution's token access controller does it: a JWT from the issuer
named by ``--token-issuer``, for the audience ``--token-service``, signed with a key the
registry trusts (``--token-key``: PEM certificates, as distribution's rootcertbundle, or
public keys). The signing key is found as distribution finds it: an ``x5c`` chain that
ends at a trusted certificate, or a ``kid`` (or ``jwk``) naming a trusted key by its
libtrust key id. The claims' ``access`` list grants actions on resources::

    {"iss": ISSUER, "aud": SERVICE, "exp": ..., "nbf": ..., "sub": "user",
     "access": [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}]}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Mapping

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ketch.registry.server.auth.access import Access, Challenge, scope

LEEWAY = 60  # seconds of clock skew distribution allows on exp and nbf
_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


class InvalidToken(ValueError):
    pass


def _b64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("malformed token encoding") from None


def key_id(public_key) -> str:
    """libtrust's key id: SHA-256 of the DER public key, 240 bits in base32, grouped by 4."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i:i + 4] for i in range(0, len(encoded), 4))


def load_keys(pem: bytes) -> tuple[list[x509.Certificate], list[object]]:
    """The certificates and public keys of a PEM bundle."""
    certificates, keys = [], []
    for block in pem.split(b"-----END ")[:-1]:
        begin = block.find(b"-----BEGIN ")
        if begin < 0:
            continue
        kind = block[begin + 11:block.find(b"-----", begin + 11)]
        text = block[begin:] + b"-----END " + kind + b"-----\n"
        if kind == b"CERTIFICATE":
            certificates.append(x509.load_pem_x509_certificate(text))
        elif kind == b"PUBLIC KEY":
            keys.append(serialization.load_pem_public_key(text))
    if not certificates and not keys:
        raise ValueError("no certificate or public key in the token key file")
    return certificates, keys


def _jwk_key(jwk: dict):
    try:
        if jwk.get("kty") == "EC":
            curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}[jwk["crv"]]
            return ec.EllipticCurvePublicNumbers(int.from_bytes(_b64(jwk["x"]), "big"),
                                                 int.from_bytes(_b64(jwk["y"]), "big"), curve).public_key()
        if jwk.get("kty") == "RSA":
            return rsa.RSAPublicNumbers(int.from_bytes(_b64(jwk["e"]), "big"),
                                        int.from_bytes(_b64(jwk["n"]), "big")).public_key()
    except (KeyError, TypeError, ValueError):
        pass
    raise InvalidToken("unusable jwk in token header")


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature):
        return False


@dataclass(frozen=True, slots=True)
class Claims:
    subject: str
    granted: frozenset[tuple[str, str, str]]  # (type, name, action)

    def allows(self, record: Access) -> bool:
        return any((record.type, record.name, action) in self.granted for action in (record.action, "*"))


class TokenVerifier:
    def __init__(self, issuer: str, service: str, pem: bytes) -> None:
        self.issuer = issuer
        self.service = service
        self.roots, keys = load_keys(pem)
        self.trusted = {key_id(k): k for k in keys + [c.public_key() for c in self.roots]}

    def _signing_key(self, header: dict):
        chain = header.get("x5c")
        if chain:
            try:
                certs = [x509.load_der_x509_certificate(base64.b64decode(c)) for c in chain]
            except (TypeError, ValueError, binascii.Error):
                raise InvalidToken("malformed x5c in token header") from None
            now = time.time()
            leaf = certs[0]
            if not leaf.not_valid_before_utc.timestamp() <= now <= leaf.not_valid_after_utc.timestamp():
                raise InvalidToken("token signing certificate expired or not yet valid")
            try:
                for child, parent in zip(certs, certs[1:]):
                    child.verify_directly_issued_by(parent)
            except (ValueError, TypeError, InvalidSignature):
                raise InvalidToken("invalid token signing certificate chain") from None
            if certs[-1] not in self.roots and not any(_issued_by(certs[-1], root) for root in self.roots):
                raise InvalidToken("token signing certificate not trusted")
            return leaf.public_key()
        if isinstance(header.get("jwk"), dict):
            key = _jwk_key(header["jwk"])
            if key_id(key) not in self.trusted:
                raise InvalidToken("token signed by untrusted key")
            return key
        kid = header.get("kid")
        if isinstance(kid, str) and kid in self.trusted:
            return self.trusted[kid]
        raise InvalidToken(f"token signed by untrusted key with ID: {kid!r}")

    def verify(self, token: str, now: float | None = None) -> Claims:
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("malformed token")
        try:
            header, claims = json.loads(_b64(parts[0])), json.loads(_b64(parts[1]))
        except ValueError:
            raise InvalidToken("malformed token") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise InvalidToken("malformed token")
        now = time.time() if now is None else now
        if claims.get("iss") != self.issuer:
            raise InvalidToken("token from untrusted issuer")
        audience = claims.get("aud")
        if self.service not in (audience if isinstance(audience, list) else [audience]):
            raise InvalidToken("token intended for another audience")
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, (int, float)) or now > exp + LEEWAY:
            raise InvalidToken("token has expired")
        if isinstance(nbf, (int, float)) and now < nbf - LEEWAY:
            raise InvalidToken("token used before its time")
        self._check_signature(header, parts[0] + "." + parts[1], _b64(parts[2]))
        granted = set()
        for entry in claims.get("access") or ():
            if isinstance(entry, dict) and isinstance(entry.get("actions"), list):
                for action in entry["actions"]:
                    granted.add((str(entry.get("type")), str(entry.get("name")), str(action)))
        return Claims(str(claims.get("sub") or ""), frozenset(granted))

    def _check_signature(self, header: dict, signed: str, signature: bytes) -> None:
        alg = header.get("alg")
        if not isinstance(alg, str) or alg[:2] not in ("RS", "ES", "PS") or alg[2:] not in _HASHES:
            raise InvalidToken(f"unsupported signing algorithm: {alg!r}")
        key = self._signing_key(header)
        digest = _HASHES[alg[2:]]()
        try:
            if alg.startswith("ES"):
                if not isinstance(key, ec.EllipticCurvePublicKey):
                    raise InvalidToken("signing key does not match the algorithm")
                half = len(signature) // 2
                der = encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                           int.from_bytes(signature[half:], "big"))
                key.verify(der, signed.encode(), ec.ECDSA(digest))
            else:
                if not isinstance(key, rsa.RSAPublicKey):
                    raise InvalidToken("signing key does not match the algorithm")
                pad = (padding.PKCS1v15() if alg.startswith("RS")
                       else padding.PSS(padding.MGF1(digest), padding.PSS.DIGEST_LENGTH))
                key.verify(signature, signed.encode(), pad, digest)
        except InvalidSignature:
            raise InvalidToken("token signature does not verify") from None


class TokenController:
    def __init__(self, realm: str, verifier: TokenVerifier) -> None:
        self.realm = realm
        self.verifier = verifier

    def challenge(self, records: tuple[Access, ...], error: str | None = None) -> Challenge:
        """distribution's challengeParams, word for word."""
        header = f'Bearer realm={json.dumps(self.realm)},service={json.dumps(self.verifier.service)}'
        wanted = scope(records)
        if wanted:
            header += f",scope={json.dumps(wanted)}"
        if error:
            header += f",error={json.dumps(error)}"
        return Challenge(header)

    def authorize(self, headers: Mapping[str, str], records: tuple[Access, ...]) -> str:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self.challenge(records)
        try:
            claims = self.verifier.verify(token.strip())
        except InvalidToken:
            raise self.challenge(records, "invalid_token") from None
        if not all(claims.allows(record) for record in records):
            raise self.challenge(records, "insufficient_scope")
        return claims.subject
