"""Ingest one layer in a single pass: unpack it, hash it and store it compressed.

The uncompressed tar is read once; as it streams into the layer directory its bytes
also feed the DiffID hash and a gzip compressor writing the blob into the content
store::

    input (any compression) ─▶ decompress ─┬─▶ apply_layer ─▶ snapshot dir
                                           ├─▶ sha256 ─────▶ diff_id
                                           └─▶ gzip ───────▶ content writer ─▶ digest
                                               (own thread)    (sha256 ─▶ digest)

gzip is python-isal's deflate, several times zlib's speed; it releases the GIL, so it
runs on a thread of its own beside the unpacking, fed 1 MiB at a time.
"""

import hashlib
import queue
import threading
from dataclasses import dataclass
from typing import BinaryIO, Callable

from isal import isal_zlib

from ketch.image.archive import Limited, apply_layer, open_decompressed
from ketch.image.content import ContentStore, Writer
from ketch.oci import mediatypes

# the gzip container with mtime 0 and no name: the same tar always gives the same blob
_GZIP_WBITS = 31
GZIP_LEVEL = 2  # isal's default of 0-3: on layer data both faster and smaller than 1
_BATCH = 1 << 20
_QUEUED = 4  # batches waiting for the compressor: bounds the memory a fast reader takes


@dataclass(frozen=True)
class LayerInfo:
    diff_id: str
    digest: str
    media_type: str
    compressed_size: int
    size: int  # bytes of file content once unpacked


class Compressor:
    """gzip into ``writer`` on a thread of its own. ``feed`` hands it bytes; ``finish``
    waits for the last of them and re-raises what failed there; ``abort`` stops it."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer
        self._queue: queue.Queue = queue.Queue(_QUEUED)
        self._error: BaseException | None = None
        self._gz = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, _GZIP_WBITS)
        self._thread = threading.Thread(target=self._run, name="gzip", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is not None:
                continue  # failed: drain, so that feed never blocks
            try:
                out = self._gz.compress(data)
                if out:
                    self._writer.write(out)
            except BaseException as exc:  # noqa: B902 - handed to the feeding thread
                self._error = exc

    def feed(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def finish(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        self._writer.write(self._gz.flush())

    def abort(self) -> None:
        if self._thread.is_alive():
            self._error = self._error or RuntimeError("aborted")
            self._queue.put(None)
            self._thread.join()


class _Digester:
    """The uncompressed bytes of a layer: hashed for the DiffID, batched to the gzip thread."""

    def __init__(self, writer: Writer) -> None:
        self._hash = hashlib.sha256()
        self._batch = bytearray()
        self.gzip = Compressor(writer)

    def _take(self, data: bytes) -> None:
        self._hash.update(data)
        if not self._batch and len(data) >= _BATCH:
            self.gzip.feed(data)  # a whole chunk: handed on as it is, no copy
            return
        self._batch += data
        if len(self._batch) >= _BATCH:
            self.gzip.feed(bytes(self._batch))
            self._batch.clear()

    def finish(self) -> str:
        if self._batch:
            self.gzip.feed(bytes(self._batch))
        self.gzip.finish()
        return f"sha256:{self._hash.hexdigest()}"


class _Tee(_Digester):
    """A file-like reader that hashes and compresses everything read through it."""

    def __init__(self, src: BinaryIO, writer: Writer) -> None:
        super().__init__(writer)
        self._src = src

    def read(self, n: int = -1) -> bytes:
        data = self._src.read(n)
        if data:
            self._take(data)
        return data

    def drain(self) -> None:
        """Read what the tar reader left (end-of-archive padding): it is part of the DiffID."""
        while self.read(_BATCH):
            pass


class TarSink(_Digester):
    """A file-like writer for a layer tar being made (commit): hashed and compressed."""

    def write(self, data: bytes) -> int:
        self._take(data if isinstance(data, bytes) else bytes(data))
        return len(data)


def store(produce: Callable[[TarSink], int], content: ContentStore) -> LayerInfo:
    """Store the layer tar ``produce(sink)`` writes (returning the layer's size) in
    ``content``, gzip-compressed; nothing is committed if it fails."""
    with content.writer() as writer:
        sink = TarSink(writer)
        try:
            size = produce(sink)
            diff_id = sink.finish()
        finally:
            sink.gzip.abort()  # a no-op once finished
        compressed_size = writer.size
        digest = writer.commit()
    return LayerInfo(diff_id, digest, mediatypes.OCI_LAYER_GZIP, compressed_size, size)


def ingest(stream: BinaryIO, content: ContentStore, dest: str, compressed: bool = True, *,
           max_size: int | None = None) -> LayerInfo:
    """Unpack ``stream`` into ``dest`` and store it gzip-compressed in ``content``.
    ``compressed`` False: ``stream`` is a plain tar (a commit's), not sniffed.

    ``max_size`` bounds the uncompressed tar, what follows its end included
    (``archive.SizeExceeded`` past it). On failure nothing is committed to
    ``content``; ``dest`` is half-written and the caller removes it.
    """
    with content.writer() as writer:
        src = open_decompressed(stream) if compressed else stream
        if max_size is not None:
            src = Limited(src, max_size)
        tee = _Tee(src, writer)
        try:
            size = apply_layer(tee, dest, max_size=max_size)
            tee.drain()
            diff_id = tee.finish()
        finally:
            tee.gzip.abort()  # a no-op once finished
        compressed_size = writer.size
        digest = writer.commit()
    return LayerInfo(diff_id, digest, mediatypes.OCI_LAYER_GZIP, compressed_size, size)
