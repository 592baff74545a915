"""Content-addressed blob store.

Layout under its root::

    blobs/sha256/<hex>    complete, verified blobs (never modified once there)
    ingest/<random>       blobs being written; renamed into blobs/ only after the digest
                          is checked, so a failed or interrupted write leaves nothing visible

Only ketchd reads blobs, and an image's layers are nobody else's to list or read:
directories ``DIR_MODE`` (0700) and blobs ``BLOB_MODE`` (0600), as moby's image store.
"""

import hashlib
import os
import secrets

from ketch.errors import InvalidArgument, NotFound
from ketch.linux import filemode
from ketch.oci import digest as dg

DIR_MODE = 0o700
BLOB_MODE = 0o600
DIRS = ("", "blobs", "blobs/sha256", "ingest")  # under the root, parents first


class Writer:
    def __init__(self, store: "ContentStore") -> None:
        self._store = store
        self.path = os.path.join(store.root, "ingest", secrets.token_hex(16))
        self._f = os.fdopen(filemode.create(self.path, BLOB_MODE), "wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._f.write(data)
        self._hash.update(data)
        self.size += len(data)

    def close(self) -> None:
        """Close the file but keep it in ingest/ (at ``path``) for ``commit`` or ``abort`` later."""
        self._f.close()

    @property
    def digest(self) -> str:
        return f"sha256:{self._hash.hexdigest()}"

    def commit(self, expected: str | None = None) -> str:
        self._f.close()
        digest = self.digest
        if expected is not None and expected != digest:
            self.abort()
            raise InvalidArgument(f"digest mismatch: expected {expected}, got {digest}")
        target = self._store.path(digest)
        if os.path.exists(target):
            os.unlink(self.path)
        else:
            os.replace(self.path, target)
        return digest

    def abort(self) -> None:
        if not self._f.closed:
            self._f.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            self.abort()
        return False


class ContentStore:
    def __init__(self, root: str) -> None:
        self.root = root
        for d in DIRS:
            filemode.makedirs(os.path.join(root, d), DIR_MODE)
        ingest = os.path.join(root, "ingest")
        for stale in os.listdir(ingest):  # left by a crash mid-write
            os.unlink(os.path.join(ingest, stale))

    def path(self, digest: str) -> str:
        return os.path.join(self.root, "blobs", "sha256", dg.hexpart(digest))

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def writer(self) -> Writer:
        return Writer(self)

    def put(self, data: bytes) -> str:
        with self.writer() as w:
            w.write(data)
            return w.commit()

    def read(self, digest: str) -> bytes:
        try:
            with open(self.path(digest), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None

    def size(self, digest: str) -> int:
        return os.path.getsize(self.path(digest))

    def delete(self, digest: str) -> None:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass
