"""The build context on the daemon: the tar of ``POST /build`` unpacked into a private
directory, its Dockerfile read, removed when the build ends (moby's
``remotecontext.FromArchive`` and ``withDockerfileFromContext``).

    <data-root>/builder/context/         0700, emptied when ketchd starts
        <random>/                        0700, one build's context, removed after it

The tar is untrusted: it is unpacked with ``archive.untar`` (no entry, symlink or hard
link leaves the directory), plain or compressed (gzip, bzip2, xz, zstd, as moby's
DecompressStream). The Dockerfile is opened inside the directory (symlinks resolved
within it, as moby's FollowSymlinkInScope), and it and ``.dockerignore`` are removed
from the context when ``.dockerignore`` excludes them, as moby does, so a COPY cannot
pick them up.
"""

import io
import os
import shutil
import stat
import tarfile
import tempfile
from typing import BinaryIO

from ketch import errors
from ketch.archive.dockerignore import BadPattern, PatternMatcher, read_patterns
from ketch.archive.untar import Breakout, untar
from ketch.build import remote as remote_context
from ketch.build.context import MAX_DOCKERFILE, read_dockerfile, read_regular
from ketch.image.archive import open_decompressed
from ketch.linux import filemode
from ketch.linux.safepath import open_in_root

MODE = 0o700
DOCKERIGNORE = ".dockerignore"
DEFAULT_DOCKERFILE = "Dockerfile"


class BuildContexts:
    def __init__(self, root: str) -> None:
        self.root = root

    def sweep(self) -> None:
        """Make the root, and remove what a ketchd that stopped mid-build left in it."""
        filemode.makedirs(self.root, MODE, MODE)  # <data-root>/builder too: 0700
        os.chmod(self.root, MODE)
        for name in os.listdir(self.root):
            shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)

    def unpack(self, stream: BinaryIO) -> str:
        """A new private directory holding the context ``stream`` carries (blocking)."""
        filemode.makedirs(self.root, MODE, MODE)  # <data-root>/builder too: 0700
        path = tempfile.mkdtemp(prefix="", dir=self.root)  # mode 0700
        try:
            _unpack_into(stream, path)
        except BaseException:
            self.remove(path)
            raise
        return path

    def empty(self) -> str:
        """A new private directory with nothing in it (a remote Dockerfile's build)."""
        filemode.makedirs(self.root, MODE, MODE)  # <data-root>/builder too: 0700
        return tempfile.mkdtemp(prefix="", dir=self.root)

    def remote(self, url: str) -> tuple[str, str | None]:
        """``POST /build?remote=``: (a new private directory holding the context ``url``
        names: a git repository or a tarball, the Dockerfile's text when the URL served a
        plain-text Dockerfile, with an empty directory then) (blocking)."""
        filemode.makedirs(self.root, MODE, MODE)  # <data-root>/builder too: 0700
        got = remote_context.fetch_context(url, self.root)
        if got.directory is None:
            return self.empty(), got.dockerfile_text
        os.chmod(got.directory, MODE)
        return got.directory, None

    def remove(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def dockerfile(self, path: str, name: str, ignore_patterns=None) -> tuple[str, str]:
        """(the Dockerfile's name, its text) in the context ``path``: moby's
        withDockerfileFromContext (``build.context.read_dockerfile``). ``ignore_patterns(text)
        -> matcher`` reads .dockerignore (default: ``dockerignore_matcher``); the Dockerfile
        and .dockerignore it excludes are removed from the context."""
        root_fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            name, text = read_dockerfile(root_fd, name or DEFAULT_DOCKERFILE)
            _remove_ignored(root_fd, name, ignore_patterns or dockerignore_matcher)
        finally:
            os.close(root_fd)
        return name, text


def dockerignore_matcher(text: str):
    """What moby's removeDockerfile asks of .dockerignore: its deprecated ``Matches`` (one
    parent level); a malformed pattern removes nothing (moby ignores that error)."""
    try:
        matcher = PatternMatcher(read_patterns(text))
    except BadPattern:
        return lambda path: False
    return matcher.matches_legacy


def _unpack_into(stream: BinaryIO, path: str) -> None:
    raw = io.BufferedReader(stream if isinstance(stream, io.RawIOBase) else _Raw(stream), 1 << 20)
    if not raw.peek(1):
        return  # no body: an empty context
    root_fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        untar(open_decompressed(raw), root_fd, "/")
    except Breakout as exc:
        raise errors.InvalidArgument(str(exc)) from None
    except (tarfile.TarError, EOFError, ValueError) as exc:
        raise errors.Internal(f"Error processing tar file: {exc or 'unexpected EOF'}") from None
    finally:
        os.close(root_fd)


class _Raw(io.RawIOBase):
    """A file object with ``read`` only, seen as a RawIOBase (for BufferedReader.peek)."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._stream.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _remove_ignored(root_fd: int, dockerfile: str, ignore_patterns) -> None:
    """moby's removeDockerfile: .dockerignore and the Dockerfile go when it excludes them."""
    try:
        patterns_text = read_regular(root_fd, DOCKERIGNORE, MAX_DOCKERFILE)
    except FileNotFoundError:
        return
    matcher = ignore_patterns(patterns_text.decode("utf-8", "replace"))
    for name in (DOCKERIGNORE, dockerfile):
        clean = os.path.normpath("/" + name).lstrip("/")
        if clean and matcher(clean):
            _remove_in_root(root_fd, clean)


def _remove_in_root(root_fd: int, name: str) -> None:
    head, base = os.path.split(name)
    try:
        parent = open_in_root(root_fd, "/" + head) if head else os.dup(root_fd)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        dfd = os.open(f"/proc/self/fd/{parent}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    finally:
        os.close(parent)
    try:
        st = os.stat(base, dir_fd=dfd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(base, dir_fd=dfd)
        else:
            os.unlink(base, dir_fd=dfd)
    except FileNotFoundError:
        pass
    finally:
        os.close(dfd)
