"""Files in a dict: for tests and for a registry that need not outlive its process."""

from __future__ import annotations

import io
import threading
import time
from typing import BinaryIO

from ketch.registry.server.drivers.base import FileInfo, PathNotFound, check_path


class _Writer:
    def __init__(self, driver: InMemoryDriver, path: str, append: bool) -> None:
        self._driver = driver
        self._path = path
        with driver._lock:
            if not append or path not in driver._files:
                driver._files[path] = (bytearray(), time.time())

    @property
    def size(self) -> int:
        return len(self._driver._files[self._path][0])

    def write(self, data: bytes) -> int:
        with self._driver._lock:
            content, _ = self._driver._files[self._path]
            content += data
            self._driver._files[self._path] = (content, time.time())
        return len(data)

    def commit(self) -> None:
        pass

    def cancel(self) -> None:
        with self._driver._lock:
            self._driver._files.pop(self._path, None)

    def close(self) -> None:
        pass


class InMemoryDriver:
    def __init__(self) -> None:
        self._files: dict[str, tuple[bytearray, float]] = {}
        self._lock = threading.Lock()  # gc and the server's threads may share one

    def _is_dir(self, path: str) -> bool:
        prefix = path + "/"
        return any(name.startswith(prefix) for name in self._files)

    def get_content(self, path: str) -> bytes:
        check_path(path)
        with self._lock:
            if path not in self._files:
                raise PathNotFound(path)
            return bytes(self._files[path][0])

    def put_content(self, path: str, data: bytes) -> None:
        check_path(path)
        with self._lock:
            self._files[path] = (bytearray(data), time.time())

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        return io.BytesIO(self.get_content(path)[offset:])

    def writer(self, path: str, append: bool = False) -> _Writer:
        return _Writer(self, check_path(path), append)

    def stat(self, path: str) -> FileInfo:
        check_path(path)
        with self._lock:
            if path in self._files:
                content, mtime = self._files[path]
                return FileInfo(path, len(content), mtime, False)
            if self._is_dir(path):
                return FileInfo(path, 0, time.time(), True)
        raise PathNotFound(path)

    def list(self, path: str) -> list[str]:
        check_path(path)
        prefix = path + "/"
        with self._lock:
            names = {name[len(prefix):].split("/", 1)[0] for name in self._files if name.startswith(prefix)}
        if not names:
            raise PathNotFound(path)
        return sorted(names)

    def move(self, source: str, dest: str) -> None:
        check_path(source)
        check_path(dest)
        with self._lock:
            if source not in self._files:
                raise PathNotFound(source)
            self._files[dest] = self._files.pop(source)

    def delete(self, path: str) -> None:
        check_path(path)
        prefix = path + "/"
        with self._lock:
            doomed = [name for name in self._files if name == path or name.startswith(prefix)]
            if not doomed:
                raise PathNotFound(path)
            for name in doomed:
                del self._files[name]
