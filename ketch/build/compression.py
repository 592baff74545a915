"""Is a file a tar? moby's ``isArchivePath``: its first header reads, plain or compressed
(gzip, bzip2, xz and, as BuildKit, zstd: ``image.archive.open_decompressed``)."""

import io
import os
import tarfile
from typing import BinaryIO

from ketch.image.archive import open_decompressed


def open_tar(fd: int) -> BinaryIO | None:
    """The decompressed stream of the file ``fd`` if it is a tar, else None. ``fd`` is
    readable (the caller's; it is duplicated, not consumed)."""
    f = os.fdopen(os.dup(fd), "rb")
    try:
        try:
            with tarfile.open(fileobj=open_decompressed(f), mode="r|") as tf:
                if tf.next() is None:
                    raise tarfile.ReadError("no entries")
        except Exception:  # not a (readable) archive
            f.close()
            return None
        f.seek(0)
        return io.BufferedReader(_Closing(open_decompressed(f), f), 1 << 20)
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
                self.stream.close()
            finally:
                self.base.close()
        super().close()
