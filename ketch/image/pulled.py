"""Ingest a layer blob as it arrives from a registry, in one pass, keeping it as pulled.

Unlike ``layer.ingest`` (import, which recompresses), the blob is stored byte for byte,
so its digest stays the manifest's and a push of the image sends the same blobs::

    blob stream ─▶ raw tee ─┬─▶ content writer (sha256) ─▶ digest, checked against the manifest
                            └─▶ decompress ─▶ tar tee ─┬─▶ apply_layer ─▶ snapshot dir
                                                       └─▶ sha256 ─▶ diff_id, checked against the config

Nothing is committed to the content store unless both checks pass; the snapshot dir is
half-written on failure and the caller removes it.
"""

import hashlib
import os
import secrets
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable

from ketch.errors import InvalidArgument
from ketch.image.archive import apply_layer
from ketch.image.content import BLOB_MODE, ContentStore, Writer
from ketch.linux import filemode

try:
    from isal import isal_zlib as _gzip_zlib  # several times zlib's speed
except ImportError:
    _gzip_zlib = zlib

CHUNK = 1 << 20
MAX_PIECE = 8 << 20  # decompressed bytes held at once
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class PulledLayer:
    digest: str
    diff_id: str
    compressed_size: int
    size: int  # bytes of file content once unpacked


class DigestMismatch(InvalidArgument):
    pass


class ChunkReader:
    """``read(n)`` over an iterable of byte chunks (a registry's blob stream)."""

    def __init__(self, chunks) -> None:
        self._it = iter(chunks)
        self._buf = b""
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        if self._pos >= len(self._buf):
            self._buf, self._pos = next(self._it, b""), 0
        if self._pos == 0 and (n is None or n < 0 or n >= len(self._buf)):
            self._pos = len(self._buf)
            return self._buf  # a whole chunk as it came: no copy
        if n is None or n < 0:
            n = len(self._buf) - self._pos
        out = self._buf[self._pos:self._pos + n]
        self._pos += len(out)
        return out


class _RawTee:
    """Reads the blob, writing every byte to the content writer and counting them."""

    def __init__(self, src: BinaryIO, writer: Writer, on_bytes: Callable[[int], None] | None) -> None:
        self._src = src
        self._writer = writer
        self._on_bytes = on_bytes

    def read(self, n: int = -1) -> bytes:
        data = self._src.read(CHUNK if n is None or n < 0 else n)
        if data:
            self._writer.write(data)
            if self._on_bytes is not None:
                self._on_bytes(len(data))
        return data


class _Decompressed:
    """A file-like reader of the tar inside the raw stream (gzip, zstd or plain),
    hashing all of it: the diff_id."""

    def __init__(self, raw: _RawTee) -> None:
        self._raw = raw
        self._hash = hashlib.sha256()
        self._pending = b""
        self._pos = 0
        head = b""
        while len(head) < 4:
            data = raw.read(4 - len(head))
            if not data:
                break
            head += data
        self._head = head
        self._eof = False
        if head.startswith(_GZIP):
            self._inflate = _gzip_zlib.decompressobj(31)
            self._kind = "gzip"
        elif head.startswith(_ZSTD):
            import zstandard
            self._inflate = zstandard.ZstdDecompressor().decompressobj()
            self._kind = "zstd"
        else:
            self._inflate = None
            self._kind = "tar"

    def _more(self) -> bytes:
        """The next piece of decompressed bytes, hashed here in one call per piece (every
        byte is read eventually: ``drain``); b"" at the end of the blob."""
        out = self._inflated()
        if out:
            self._hash.update(out)
        return out

    def _inflated(self) -> bytes:
        while True:
            data, self._head = (self._head, b"") if self._head else (self._raw.read(CHUNK), b"")
            if not data:
                if self._inflate is not None and self._kind == "gzip":
                    out = self._inflate.flush()
                    if out:
                        return out
                return b""
            if self._inflate is None:
                return data
            if self._kind == "gzip":  # a bounded piece: a small blob may inflate a thousandfold
                out = self._inflate.decompress(data, MAX_PIECE)
                if self._inflate.unconsumed_tail:
                    self._head = self._inflate.unconsumed_tail
            else:
                out = self._inflate.decompress(data)
            if self._kind == "gzip" and self._inflate.eof:
                # concatenated gzip members (pigz): decode the next one
                rest = self._inflate.unused_data
                self._inflate = _gzip_zlib.decompressobj(31)
                if rest:
                    self._head = rest
            if out:
                return out

    def read(self, n: int = -1) -> bytes:
        pos, pending = self._pos, self._pending
        if 0 <= n <= len(pending) - pos:  # the common case: tarfile's 10 KiB reads
            self._pos = pos + n
            return pending[pos:pos + n]
        if n is None or n < 0:
            n = 1 << 62
        parts, want = [], n
        while want > 0:
            if self._pos >= len(self._pending):
                if self._eof:
                    break
                self._pending, self._pos = self._more(), 0
                if not self._pending:
                    self._eof = True
                    break
            piece = self._pending[self._pos:self._pos + want]  # no copy of the rest
            self._pos += len(piece)
            want -= len(piece)
            parts.append(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def drain(self) -> None:
        """What the tar reader left (its end-of-archive padding) is part of the diff_id."""
        while self.read(CHUNK):
            pass

    @property
    def diff_id(self) -> str:
        return f"sha256:{self._hash.hexdigest()}"


class _CheckedElsewhere:
    """A content writer for a stream that verifies its own digest (the registry client's
    blob stream raises at its end when the bytes are not the digest's): the bytes are
    not hashed a second time; ``commit`` renames them into place under that digest."""

    def __init__(self, content: ContentStore, digest: str) -> None:
        self._content = content
        self.digest = digest
        self.path = os.path.join(content.root, "ingest", secrets.token_hex(16))
        self._f = os.fdopen(filemode.create(self.path, BLOB_MODE), "wb")
        self.size = 0

    def write(self, data: bytes) -> None:
        self._f.write(data)
        self.size += len(data)

    def commit(self, expected: str) -> str:
        self._f.close()
        os.replace(self.path, self._content.path(expected))
        return expected

    def __enter__(self) -> "_CheckedElsewhere":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if not self._f.closed:
            self._f.close()
        if exc_type is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        return False


def _check_rest(raw: _RawTee, writer, digest: str) -> None:
    """Read the blob to its end (trailing bytes after the compressed stream are the blob's
    too) and check its digest: moby verifies a layer before it unpacks it, so a corrupt
    blob is "verification failed" rather than whatever the decompressor saw first."""
    while raw.read(CHUNK):
        pass
    if writer.digest != digest:
        raise DigestMismatch(f"filesystem layer verification failed for digest {digest}")


def ingest(stream: BinaryIO, content: ContentStore, dest: str, digest: str, diff_id: str,
           on_bytes: Callable[[int], None] | None = None, verifies_itself: bool = False) -> PulledLayer:
    """Unpack the blob ``stream`` into ``dest``; store it as is in ``content`` if its digest
    is ``digest`` and its tar's is ``diff_id``. ``on_bytes(n)`` is told of each piece read.
    ``verifies_itself``: the stream raises at its end unless its bytes are ``digest``'s."""
    writer_of = (lambda: _CheckedElsewhere(content, digest)) if verifies_itself else content.writer
    with writer_of() as writer:
        raw = _RawTee(stream, writer, on_bytes)
        tar = _Decompressed(raw)
        try:
            size = apply_layer(tar, dest)
            tar.drain()
        except Exception as exc:  # noqa: BLE001 - a corrupt blob says so before anything else
            _check_rest(raw, writer, digest)
            if isinstance(exc, InvalidArgument):
                raise
            raise InvalidArgument(f"failed to register layer: {exc}") from None
        _check_rest(raw, writer, digest)
        if tar.diff_id != diff_id:
            raise DigestMismatch(f"failed to register layer: layer {digest} has diff_id "
                                 f"{tar.diff_id}, the image config says {diff_id}")
        compressed = writer.size
        writer.commit(digest)
    return PulledLayer(digest, diff_id, compressed, size)
