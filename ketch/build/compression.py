"""What moby's ``archive.DecompressStream`` accepts, by content (not by name): gzip,
bzip2, xz and (as BuildKit) zstd; anything else passes through as it is.

    decompressed(f) -> BinaryIO      f must be seekable (its magic is peeked, then f rewound)
    open_tar(fd) -> BinaryIO | None  the decompressed stream of a file that is a tar (its
                                     first header reads: moby's ``isArchivePath``), else None
"""

import bz2
import gzip
import io
import lzma
import os
import tarfile
from typing import BinaryIO

_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"\x28\xb5\x2f\xfd", "zstd"))


def kind(head: bytes) -> str:
    """"gzip", "bzip2", "xz", "zstd" or "" for the first bytes of a stream."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return ""


def decompressed(f: BinaryIO) -> BinaryIO:
    head = f.read(6)
    f.seek(0)
    which = kind(head)
    if which == "gzip":
        return gzip.GzipFile(fileobj=f, mode="rb")
    if which == "bzip2":
        return bz2.BZ2File(f)
    if which == "xz":
        return lzma.LZMAFile(f)
    if which == "zstd":
        import zstandard  # only when a zstd stream comes
        return zstandard.ZstdDecompressor().stream_reader(f)
    return f


def open_tar(fd: int) -> BinaryIO | None:
    """``fd`` is readable (the caller's; it is duplicated, not consumed)."""
    f = os.fdopen(os.dup(fd), "rb")
    try:
        try:
            with tarfile.open(fileobj=decompressed(f), mode="r|") as tf:
                if tf.next() is None:
                    raise tarfile.ReadError("no entries")
        except Exception:  # not a (readable) archive
            f.close()
            return None
        f.seek(0)
        return io.BufferedReader(_Closing(decompressed(f), f), 1 << 20)
    except BaseException:
        f.close()
        raise


class _Closing(io.RawIOBase):
    """A decompressed stream that closes the file under it too."""

    def __init__(self, stream: BinaryIO, base: BinaryIO) -> None:
        self.stream, self.base = stream, base

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.stream.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                if self.stream is not self.base:
                    self.stream.close()
            finally:
                self.base.close()
        super().close()
