"""Basic auth against an htpasswd file whose hashes are bcrypt (``htpasswd -B``), the only
kind distribution accepts. The file is read again when it changes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import threading
from typing import Mapping

import bcrypt

from ketch.registry.server.auth.access import Access, Challenge


def parse(text: str) -> dict[str, bytes]:
    """user -> bcrypt hash; blank lines and comments skipped, other hash kinds ignored."""
    users = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if sep and hashed.startswith(("$2y$", "$2a$", "$2b$")):
            users[user] = hashed.encode()
    return users


def verify(hashed: bytes, password: str) -> bool:
    if hashed.startswith(b"$2y$"):  # PHP/Apache's name for the same algorithm
        hashed = b"$2b$" + hashed[4:]
    try:
        return bcrypt.checkpw(password.encode(), hashed)
    except ValueError:
        return False


def basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    value = headers.get("authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class HtpasswdController:
    def __init__(self, path: str, realm: str) -> None:
        self.path = path
        self.realm = realm
        self._users: dict[str, bytes] = {}
        self._stamp: tuple[float, int] | None = None
        # bcrypt costs ~0.1 s a check and clients send credentials with every request:
        # (user, sha256 of the password) once verified, until the file changes
        self._verified: set[tuple[str, bytes]] = set()
        self._lock = threading.Lock()
        self._load()  # a missing or unreadable file fails at start, not at the first request

    def _load(self) -> dict[str, bytes]:
        with self._lock:
            st = os.stat(self.path)
            stamp = (st.st_mtime, st.st_size)
            if stamp != self._stamp:
                with open(self.path, encoding="utf-8") as f:
                    self._users = parse(f.read())
                self._verified = set()
                self._stamp = stamp
            return self._users

    def authorize(self, headers: Mapping[str, str], records: tuple[Access, ...]) -> str:
        credentials = basic_credentials(headers)
        if credentials is not None:
            user, password = credentials
            hashed = self._load().get(user)
            key = (user, hashlib.sha256(password.encode()).digest())
            if hashed is not None and (key in self._verified or verify(hashed, password)):
                self._verified.add(key)
                return user
        raise Challenge(f'Basic realm="{self.realm}"')
