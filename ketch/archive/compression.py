"""The compression of a tar stream, told by its first bytes as moby's
``archive.DetectCompression`` does (and zstd, as BuildKit and docker/cli 28): the one table
the daemon's readers (``image.archive.open_decompressed``) and the CLI's context check
share."""

MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
HEAD = 6  # enough bytes of a stream to tell


def sniff(head: bytes) -> str:
    """The compression of a stream starting with ``head``: gzip, bzip2, xz, zstd or tar."""
    return next((name for magic, name in MAGIC if head.startswith(magic)), "tar")
