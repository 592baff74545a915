"""Atomic file writes: a reader sees the old file or the new one, never a torn one."""

import os
import threading


def write_file(path: str, data: bytes, mode: int = 0o644, durable: bool = False) -> None:
    """Write ``data`` to ``path`` via a temporary file and rename.

    The file gets exactly ``mode``, whatever the umask. ``durable`` adds the fsyncs
    that make the new content survive a power loss; metadata files that the daemon can
    rebuild do without them.
    """
    # one temporary name per writing thread: two threads writing the same file at once
    # (two builds' RUN steps sharing a cache mount's meta.json) must not rename each
    # other's file away
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_native_id()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)  # the umask narrowed it, or a stale tmp had another mode
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if durable:
        dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
