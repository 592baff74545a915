"""The StorageDriver protocol every backend implements; one test suite checks them all
(tests/unit/test_registry_drivers.py).

Paths are relative, "/"-separated and never contain "." or ".." components.
Directories exist implicitly: a file's parents appear when it is written and
``list`` shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Protocol


class PathNotFound(FileNotFoundError):
    """No file or directory at the path."""


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str
    size: int  # 0 for a directory
    mtime: float
    is_dir: bool


class FileWriter(Protocol):
    """Appends to a file; what was written stays there even without commit()."""

    @property
    def size(self) -> int:
        """The file's size so far, including what was there before an append."""

    def write(self, data: bytes) -> int: ...

    def commit(self) -> None:
        """Make what was written durable (fsync) and close."""

    def cancel(self) -> None:
        """Close and remove the file."""

    def close(self) -> None: ...


class StorageDriver(Protocol):
    def get_content(self, path: str) -> bytes:
        """The whole file (small files: links, manifests); PathNotFound if absent."""

    def put_content(self, path: str, data: bytes) -> None:
        """Replace the file atomically: a reader sees the old content or the new, never a part."""

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        """The file opened for reading from offset; PathNotFound if absent."""

    def writer(self, path: str, append: bool = False) -> FileWriter:
        """A writer that truncates the file, or appends to it (creating it either way)."""

    def stat(self, path: str) -> FileInfo:
        """PathNotFound if nothing is there."""

    def list(self, path: str) -> list[str]:
        """The names of a directory's children, sorted; PathNotFound if it does not exist."""

    def move(self, source: str, dest: str) -> None:
        """Rename a file atomically, replacing dest; PathNotFound if source is absent."""

    def delete(self, path: str) -> None:
        """Remove a file or a whole directory; PathNotFound if absent."""


def check_path(path: str) -> str:
    parts = path.split("/")
    if not path or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"invalid storage path: {path!r}")
    return path
