"""Ingest one layer in a single pass: unpack it, hash it and store it compressed.

The uncompressed tar is read once; as it streams into the layer directory its bytes
also feed the DiffID hash and a gzip compressor writing the blob into the content
store::

    input (any compression) ─▶ decompress ─┬─▶ apply_layer ─▶ snapshot dir
                                           ├─▶ sha256 ─────▶ diff_id
                                           └─▶ gzip ───────▶ content writer ─▶ digest
"""

import hashlib
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from ketch.image.archive import Limited, apply_layer, open_decompressed
from ketch.image.content import ContentStore, Writer
from ketch.oci import mediatypes

_GZIP_WBITS = 31  # zlib's gzip container: mtime 0 and no name, so output is deterministic


@dataclass(frozen=True)
class LayerInfo:
    diff_id: str
    digest: str
    media_type: str
    compressed_size: int
    size: int  # bytes of file content once unpacked


class _Tee:
    """A file-like reader that hashes and compresses everything read through it."""

    def __init__(self, src: BinaryIO, writer: Writer) -> None:
        self._src = src
        self._writer = writer
        self._hash = hashlib.sha256()
        self._gz = zlib.compressobj(6, zlib.DEFLATED, _GZIP_WBITS)

    def read(self, n: int = -1) -> bytes:
        data = self._src.read(n)
        if data:
            self._hash.update(data)
            out = self._gz.compress(data)
            if out:
                self._writer.write(out)
        return data

    def drain(self) -> None:
        """Read what the tar reader left (end-of-archive padding): it is part of the DiffID."""
        while self.read(1 << 20):
            pass

    def finish(self) -> str:
        self._writer.write(self._gz.flush())
        return f"sha256:{self._hash.hexdigest()}"


def ingest(stream: BinaryIO, content: ContentStore, dest: str, *,
           max_size: int | None = None) -> LayerInfo:
    """Unpack ``stream`` into ``dest`` and store it gzip-compressed in ``content``.

    ``max_size`` bounds the uncompressed tar, what follows its end included
    (``archive.SizeExceeded`` past it). On failure nothing is committed to
    ``content``; ``dest`` is half-written and the caller removes it.
    """
    with content.writer() as writer:
        src = open_decompressed(stream)
        if max_size is not None:
            src = Limited(src, max_size)
        tee = _Tee(src, writer)
        size = apply_layer(tee, dest, max_size=max_size)
        tee.drain()
        diff_id = tee.finish()
        compressed = writer.size
        digest = writer.commit()
    return LayerInfo(diff_id, digest, mediatypes.OCI_LAYER_GZIP, compressed, size)
