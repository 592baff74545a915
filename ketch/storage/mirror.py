"""A layer directory made from the entries of a layer tar as they are written (``commit``).

``difftar`` walks a writable layer and writes its tar; the same walk hands each entry to
a ``Mirror``, which makes it in the new layer's directory exactly as ``apply_layer`` would
unpack the tar (overlayfs whiteouts and opaque marks, owners, modes, whole-second mtimes,
``security.capability``), with the very bytes that went into the tar, so the directory
and the blob cannot disagree, and without parsing the tar back.

Creating files is the slow part on most filesystems (the journal), so files are made by
a few worker threads, each owning the files whose path hashes to it (a hard link goes to
its target's worker, so it is made after it); directories are made at once by the walk,
and get their modes and times last, deepest first.

The names come from the walk of ketchd's own snapshot (no ``..``, no ``/``); the
destination is a fresh directory nothing else writes to; nothing here follows a symlink.
"""

import os
import queue
import stat
import threading
import zlib

from ketch.storage.changes import OPAQUE_XATTR

WORKERS = 3
_QUEUED = 16  # operations waiting per worker: bounds the memory of chunks in flight
_CAP = "security.capability"


def _times(st: os.stat_result) -> tuple[int, int]:
    ns = int(st.st_mtime) * 1_000_000_000  # the tar's whole seconds
    return ns, ns


class Mirror:
    def __init__(self, dest: str) -> None:
        self.dest = dest
        self.size = 0  # bytes of regular files, as apply_layer counts a layer
        self._dirs: list[tuple[str, os.stat_result, str | None]] = []
        self._error: BaseException | None = None
        self._queues = [queue.Queue(_QUEUED) for _ in range(WORKERS)]
        self._threads = [threading.Thread(target=self._run, args=(q,), name="mirror", daemon=True)
                         for q in self._queues]
        self._files: dict[str, int] = {}  # path -> fd, each touched by its own worker only
        for t in self._threads:
            t.start()

    def _path(self, rel: str) -> str:
        return os.path.join(self.dest, rel.rstrip("/"))

    def _queue(self, rel: str) -> queue.Queue:
        return self._queues[zlib.crc32(rel.encode("utf-8", "surrogateescape")) % WORKERS]

    def _submit(self, rel: str, op, *args) -> None:
        if self._error is not None:
            raise self._error
        self._queue(rel).put((op, args))

    def _run(self, q: queue.Queue) -> None:
        while (item := q.get()) is not None:
            if self._error is not None:
                continue
            op, args = item
            try:
                op(*args)
            except BaseException as exc:  # noqa: B902 - raised by the walk's next call
                self._error = exc

    # -- the walk's calls ------------------------------------------------------------
    def directory(self, rel: str, st: os.stat_result, capability: str | None, opaque: bool) -> None:
        path = self._path(rel)
        os.mkdir(path, 0o700)
        if opaque:
            os.setxattr(path, OPAQUE_XATTR, b"y", follow_symlinks=False)
        self._dirs.append((path, st, capability))

    def whiteout(self, rel: str, st: os.stat_result) -> None:  # noqa: ARG002 - the tar has its header
        self._submit(rel, self._whiteout, rel)

    def special(self, rel: str, st: os.stat_result) -> None:
        """A fifo or a device node, as it is."""
        self._submit(rel, self._node, rel, st.st_mode, st.st_rdev, st)

    def symlink(self, rel: str, target: str, st: os.stat_result) -> None:
        self._submit(rel, self._symlink, rel, target, st)

    def hardlink(self, rel: str, first: str) -> None:
        self._submit(first, self._link, first, rel)

    def file_open(self, rel: str, st: os.stat_result, capability: str | None) -> str:
        self.size += st.st_size
        self._submit(rel, self._open, rel, st, capability)
        return rel

    def file_write(self, token: str, data: bytes) -> None:
        self._submit(token, self._write, token, data)

    def file_close(self, token: str, st: os.stat_result, capability: str | None) -> None:
        self._submit(token, self._close, token, st, capability)

    def finish(self) -> None:
        """Wait for the workers, then give directories their owners, modes and times."""
        self._stop()
        if self._error is not None:
            raise self._error
        for path, st, capability in reversed(self._dirs):
            os.lchown(path, st.st_uid, st.st_gid)
            os.chmod(path, stat.S_IMODE(st.st_mode))
            if capability is not None:
                os.setxattr(path, _CAP, capability.encode("utf-8", "surrogateescape"))
            os.utime(path, ns=_times(st), follow_symlinks=False)

    def abort(self) -> None:
        self._error = self._error or RuntimeError("aborted")
        self._stop()

    def _stop(self) -> None:
        for q in self._queues:
            q.put(None)
        for t in self._threads:
            t.join()
        for fd in self._files.values():
            os.close(fd)
        self._files.clear()

    # -- on the workers -----------------------------------------------------------------
    def _node(self, rel: str, mode: int, rdev: int, st: os.stat_result) -> None:
        path = self._path(rel)
        os.mknod(path, mode, rdev)
        os.lchown(path, st.st_uid, st.st_gid)
        os.chmod(path, stat.S_IMODE(mode))
        os.utime(path, ns=_times(st), follow_symlinks=False)

    def _whiteout(self, rel: str) -> None:
        os.mknod(self._path(rel), stat.S_IFCHR, os.makedev(0, 0))  # as apply_layer makes one

    def _link(self, first: str, rel: str) -> None:
        os.link(self._path(first), self._path(rel), follow_symlinks=False)

    def _symlink(self, rel: str, target: str, st: os.stat_result) -> None:
        path = self._path(rel)
        os.symlink(target, path)
        os.lchown(path, st.st_uid, st.st_gid)
        os.utime(path, ns=_times(st), follow_symlinks=False)

    def _open(self, rel: str, st: os.stat_result, capability: str | None) -> None:
        self._files[rel] = os.open(self._path(rel),
                                   os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)

    def _write(self, rel: str, data: bytes) -> None:
        fd = self._files[rel]
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    def _close(self, rel: str, st: os.stat_result, capability: str | None) -> None:
        fd = self._files.pop(rel)
        try:
            os.fchown(fd, st.st_uid, st.st_gid)
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
            if capability is not None:
                os.setxattr(fd, _CAP, capability.encode("utf-8", "surrogateescape"))
            os.utime(fd, ns=_times(st))
        finally:
            os.close(fd)
