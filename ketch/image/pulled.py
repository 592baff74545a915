"""Ingest a layer blob as it arrives from a registry, in one pass, keeping it as pulled.

Unlike ``layer.ingest`` (import, which recompresses), the blob is stored byte for byte,
so its digest stays the manifest's and a push of the image sends the same blobs::

    blob stream ─┬─▶ content writer (sha256) ─▶ digest, checked against the manifest
                 └─▶ inflate, 1 MiB+ a call ─▶ spooled tar (unnamed file) + sha256 ─▶ diff_id
    both checked ─▶ apply_layer_file(spooled tar) ─▶ snapshot dir (contents copied by the kernel)

Nothing is committed to the content store unless both checks pass, and nothing is
unpacked before they do; the snapshot dir is half-written on failure and the caller
removes it. The spooled tar is never parsed by Python as a stream: tarfile reads its
headers by seeking, ``copy_file_range`` moves the files' bytes.
"""

import hashlib
import os
import queue
import secrets
import threading
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

from ketch.errors import InvalidArgument
from ketch.image.archive import apply_layer_file
from ketch.image.content import BLOB_MODE, ContentStore
from ketch.linux import filemode

try:
    from isal import isal_zlib as _gzip_zlib  # several times zlib's speed
except ImportError:
    _gzip_zlib = zlib
try:
    import zstandard
except ImportError:  # optional: only zstd-compressed layers need it
    zstandard = None

CHUNK = 1 << 20
MAX_PIECE = 8 << 20  # decompressed bytes held at once
_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
# what a corrupt stream makes the decompressors raise
_BAD_STREAM: tuple[type[BaseException], ...] = (zlib.error, getattr(_gzip_zlib, "error", zlib.error),
                                                 ValueError, EOFError)
if zstandard is not None:
    _BAD_STREAM += (zstandard.ZstdError,)


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


class _Inflater:
    """The tar inside a blob (gzip, its concatenated members as pigz writes them, zstd or
    plain), handed on in pieces of at most MAX_PIECE bytes: a small blob may inflate a
    thousandfold."""

    def __init__(self, head: bytes) -> None:
        if head.startswith(_GZIP):
            self.kind = "gzip"
            self._inflate = _gzip_zlib.decompressobj(31)
        elif head.startswith(_ZSTD):
            if zstandard is None:
                raise InvalidArgument("zstd layers need the zstandard package")
            self.kind = "zstd"
            self._inflate = zstandard.ZstdDecompressor().decompressobj()
        else:
            self.kind = "tar"
            self._inflate = None

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.kind == "zstd":
            out = self._inflate.decompress(data)
            if out:
                yield out
            return
        while data:
            out = self._inflate.decompress(data, MAX_PIECE)
            data = self._inflate.unconsumed_tail
            if self._inflate.eof:  # the next member, if any, follows
                data = self._inflate.unused_data
                self._inflate = _gzip_zlib.decompressobj(31)
            if out:
                yield out

    def finish(self) -> Iterator[bytes]:
        if self.kind == "gzip":
            out = self._inflate.flush()
            if out:
                yield out


class _TarSpool:
    """The layer's tar, inflated into an unnamed file of the content store's ingest/
    (gone with its descriptor, even after a crash) and hashed on the way: the diff_id.
    ``apply_layer_file`` then unpacks it with the kernel copying the files' contents."""

    def __init__(self, content: ContentStore) -> None:
        ingest = os.path.join(content.root, "ingest")
        try:
            self.fd = os.open(ingest, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, BLOB_MODE)
        except OSError:  # a filesystem without O_TMPFILE
            path = os.path.join(ingest, secrets.token_hex(16))
            self.fd = filemode.create(path, BLOB_MODE, os.O_RDWR)
            os.unlink(path)
        self._hash = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    @property
    def diff_id(self) -> str:
        return f"sha256:{self._hash.hexdigest()}"

    def close(self) -> None:
        os.close(self.fd)


class _Spooling:
    """The blob inflated into its spooled tar by a thread of its own, fed pieces of the
    blob as they arrive: isal, hashlib and write release the GIL, so one layer's download
    and its inflation run on two cores at once. The first error is kept in ``error``
    (the pieces after it are dropped) for the caller to raise after the digest's check."""

    def __init__(self, inflater: _Inflater, spool: _TarSpool) -> None:
        self._inflater = inflater
        self.spool = spool
        self.error: BaseException | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(4)
        self._thread = threading.Thread(target=self._run, name="inflate", daemon=True)
        self._thread.start()
        self._finished = False

    def _run(self) -> None:
        while (piece := self._queue.get()) is not None:
            if self.error is None:
                try:
                    for out in self._inflater.feed(piece):
                        self.spool.write(out)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    self.error = exc
        if self.error is None:
            try:
                for out in self._inflater.finish():
                    self.spool.write(out)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                self.error = exc

    def put(self, piece: bytes) -> None:
        self._queue.put(piece)

    def finish(self) -> None:
        """Wait for the pieces put so far to be spooled (at once after an error)."""
        if not self._finished:
            self._finished = True
            self._queue.put(None)
            self._thread.join()


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

    def close(self) -> None:
        self._f.close()

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


def ingest(stream: BinaryIO, content: ContentStore, dest: str, digest: str, diff_id: str,
           on_bytes: Callable[[int], None] | None = None, verifies_itself: bool = False) -> PulledLayer:
    """Unpack the blob ``stream`` into ``dest``; store it as is in ``content`` if its digest
    is ``digest`` and its tar's is ``diff_id``. ``on_bytes(n)`` is told of each piece read.
    ``verifies_itself``: the stream raises at its end unless its bytes are ``digest``'s.

    Both digests are checked before anything is unpacked (moby verifies a layer before it
    registers it): the blob is inflated as it arrives into a spooled tar, in large pieces
    (the decompressor and the hash work on megabytes per call), and that tar is unpacked
    by ``apply_layer_file``. An uncompressed blob is its own spool."""
    writer_of = (lambda: _CheckedElsewhere(content, digest)) if verifies_itself else content.writer
    with writer_of() as writer:
        spooling: _Spooling | None = None
        try:
            head = b""
            while len(head) < 4 and (data := stream.read(CHUNK)):
                head += data
            inflater = _Inflater(head)
            if inflater.kind != "tar":
                spooling = _Spooling(inflater, _TarSpool(content))
            pending: list[bytes] = []  # raw bytes gathered for one large call of the decompressor
            held = 0
            data = head
            while data:
                writer.write(data)
                if on_bytes is not None:
                    on_bytes(len(data))
                if spooling is not None:
                    pending.append(data)
                    held += len(data)
                data = stream.read(CHUNK)
                if pending and (held >= CHUNK or not data):
                    spooling.put(pending[0] if len(pending) == 1 else b"".join(pending))
                    pending, held = [], 0
            if spooling is not None:
                spooling.finish()
            if writer.digest != digest:  # (the stream that verifies itself raised already)
                raise DigestMismatch(f"filesystem layer verification failed for digest {digest}")
            spool = spooling.spool if spooling is not None else None
            if spooling is not None and spooling.error is not None:
                if isinstance(spooling.error, _BAD_STREAM):  # said after the digest's check
                    raise InvalidArgument(f"failed to register layer: {spooling.error}") from None
                raise spooling.error
            got = spool.diff_id if spool is not None else digest
            if got != diff_id:
                raise DigestMismatch(f"failed to register layer: layer {digest} has diff_id "
                                     f"{got}, the image config says {diff_id}")
            writer.close()
            try:
                if spool is not None:
                    size = apply_layer_file(spool.fd, dest)
                else:
                    with open(writer.path, "rb") as tar:
                        size = apply_layer_file(tar.fileno(), dest)
            except InvalidArgument:
                raise
            except Exception as exc:  # noqa: BLE001 - Docker's wording
                raise InvalidArgument(f"failed to register layer: {exc}") from None
        finally:
            if spooling is not None:
                spooling.finish()
                spooling.spool.close()
        compressed = writer.size
        writer.commit(digest)
    return PulledLayer(digest, diff_id, compressed, size)


def unpack_stored(content: ContentStore, digest: str, diff_id: str, dest: str) -> int:
    """Unpack the layer blob ``digest`` of ``content`` into ``dest`` (a layer stored before
    it was unpacked: a commit's), its tar checked against ``diff_id`` first. Returns the
    bytes of file content written."""
    with open(content.path(digest), "rb") as blob:
        head = blob.read(4)
        inflater = _Inflater(head)
        if inflater.kind == "tar":
            blob.seek(0)
            if diff_id != digest:
                raise DigestMismatch(f"layer {digest} has diff_id {digest}, the image config says {diff_id}")
            return apply_layer_file(blob.fileno(), dest)
        spool = _TarSpool(content)
        try:
            data = head + blob.read(CHUNK)
            while data:
                for piece in inflater.feed(data):
                    spool.write(piece)
                data = blob.read(CHUNK)
            for piece in inflater.finish():
                spool.write(piece)
            if spool.diff_id != diff_id:
                raise DigestMismatch(f"layer {digest} has diff_id {spool.diff_id}, the image config "
                                     f"says {diff_id}")
            return apply_layer_file(spool.fd, dest)
        finally:
            spool.close()
