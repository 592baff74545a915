"""Files under a root directory. Whole files (links, manifests) are written to a temporary
file beside their target, fsynced and renamed over it, so a crash leaves the old file or
the new, never a part; blobs arrive by rename from their upload's file."""

from __future__ import annotations

import os
import shutil
import uuid
from typing import BinaryIO

from ketch.registry.server.drivers.base import FileInfo, PathNotFound, check_path


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Writer:
    def __init__(self, path: str, append: bool) -> None:
        self._path = path
        self._file = open(path, "ab" if append else "wb", buffering=0)
        self._size = self._file.tell() if append else 0

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:  # unbuffered: write() may take less than asked
            written = self._file.write(view)
            view = view[written:]
        self._size += len(data)
        return len(data)

    def commit(self) -> None:
        os.fsync(self._file.fileno())
        self._file.close()

    def cancel(self) -> None:
        self._file.close()
        try:
            os.unlink(self._path)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        self._file.close()


class FilesystemDriver:
    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)

    def _full(self, path: str) -> str:
        return os.path.join(self.root, check_path(path))

    def get_content(self, path: str) -> bytes:
        try:
            with open(self._full(path), "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise PathNotFound(path) from None

    def put_content(self, path: str, data: bytes) -> None:
        full = self._full(path)
        directory = os.path.dirname(full)
        os.makedirs(directory, exist_ok=True)
        temp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
        try:
            with open(temp, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, full)
        except BaseException:
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
            raise
        _fsync_dir(directory)

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        try:
            f = open(self._full(path), "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise PathNotFound(path) from None
        if offset:
            f.seek(offset)
        return f

    def writer(self, path: str, append: bool = False) -> _Writer:
        full = self._full(path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        return _Writer(full, append)

    def stat(self, path: str) -> FileInfo:
        try:
            st = os.stat(self._full(path))
        except (FileNotFoundError, NotADirectoryError):
            raise PathNotFound(path) from None
        is_dir = os.path.isdir(self._full(path))
        return FileInfo(path, 0 if is_dir else st.st_size, st.st_mtime, is_dir)

    def list(self, path: str) -> list[str]:
        try:
            names = os.listdir(self._full(path))
        except (FileNotFoundError, NotADirectoryError):
            raise PathNotFound(path) from None
        return sorted(name for name in names if not name.startswith(".tmp-"))

    def move(self, source: str, dest: str) -> None:
        full_dest = self._full(dest)
        os.makedirs(os.path.dirname(full_dest), exist_ok=True)
        try:
            os.replace(self._full(source), full_dest)
        except FileNotFoundError:
            raise PathNotFound(source) from None
        _fsync_dir(os.path.dirname(full_dest))

    def delete(self, path: str) -> None:
        full = self._full(path)
        try:
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            else:
                os.unlink(full)
        except (FileNotFoundError, NotADirectoryError):
            raise PathNotFound(path) from None
