"""What a container changed: its writable (upper) layer read against the layers below.

This is moby's ``archive.OverlayChanges`` (overlay2's native ``Changes``), kept word for
word in its rules because ``docker diff`` users compare outputs:

- every path in the upper layer is a change, visited in ``filepath.Walk`` order (names
  sorted by bytes, parents before children); the root itself is not;
- a character device 0/0 is a whiteout: the path was deleted (``D``); so is a directory
  with ``trusted.overlay.opaque=y`` (its lower content was hidden; what the upper holds
  below it is then reported as added or modified on its own);
- otherwise the path is modified (``C``) if any lower layer has it, else added (``A``);
  a directory present below with the same size, mode and mtime is not a change at all
  (it is only there as the parent of a change);
- the parent of an added or deleted path is reported as modified once, unless it was
  already reported (or is ``/``).

Docker keeps the mount points of a container (``/etc/hosts``, ``/proc``, ...) in an "init"
layer between the image and the writable layer, so they never show in its diff; ketch's
runtime creates them in the writable layer. ``mountpoints`` names them: they are left
out (unless deleted), and their parent directories (``/etc``, ``/dev``) count as present
below with only their mode compared, so that making a mount point in them is no change
while adding or deleting something else in them still is.

Lower layers are looked at with ``lstat``: moby's ``os.Stat`` follows a symlink of the
image, here on the host, and that is not a thing for ketchd to do with untrusted trees.
"""

import errno
import os
import stat
from dataclasses import dataclass

MODIFY, ADD, DELETE = 0, 1, 2
KIND_LETTER = {MODIFY: "C", ADD: "A", DELETE: "D"}
OPAQUE_XATTR = "trusted.overlay.opaque"


@dataclass(frozen=True)
class Change:
    path: str
    kind: int

    def to_docker(self) -> dict:
        return {"Path": self.path, "Kind": self.kind}

    def __str__(self) -> str:
        return f"{KIND_LETTER[self.kind]} {self.path}"


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(dir_fd: int) -> bool:
    try:
        return os.getxattr(dir_fd, OPAQUE_XATTR) == b"y"
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP):
            return False
        raise


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _walk_dir(rel: str, dir_fd: int):
    """(path inside the container, lstat, opaque) below the open directory ``dir_fd``, in
    filepath.Walk order: names sorted by bytes, each entry before its children. Directories
    are opened one by one without following symlinks, so a running container that swaps a
    directory for a symlink cannot send the walk outside its layer; entries that vanish
    meanwhile are skipped."""
    with os.scandir(dir_fd) as it:
        entries = sorted((e.name for e in it), key=os.fsencode)
    for name in entries:
        child = rel.rstrip("/") + "/" + name
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if not stat.S_ISDIR(st.st_mode):
            yield child, st, False
            continue
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except (FileNotFoundError, NotADirectoryError, OSError) as exc:
            if getattr(exc, "errno", None) not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                raise
            continue
        try:
            yield child, st, _is_opaque(fd)
            yield from _walk_dir(child, fd)
        finally:
            os.close(fd)


def _same_dir(upper: os.stat_result, lower: os.stat_result) -> bool:
    # Go's FileMode of both (type bits equal: both directories), size, and mtime to the
    # nanosecond (sameFsTime).
    return (upper.st_size == lower.st_size and upper.st_mode == lower.st_mode
            and upper.st_mtime_ns == lower.st_mtime_ns)


def overlay_changes(lowers: list[str], upper: str,
                    mountpoints: frozenset[str] = frozenset()) -> list[Change]:
    """The changes of ``upper`` over ``lowers`` (host directories, top-most first)."""
    fd = os.open(upper, _DIR_FLAGS)
    try:
        return _changes(lowers, fd, mountpoints)
    finally:
        os.close(fd)


class _Lower:
    """One lower layer, looked up without following its symlinks anywhere: a path whose
    parent is a symlink in the layer is not there (the container's upper layer replaced
    it), and the host's own files are never what is looked at."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._is_dir: dict[str, bool] = {"/": True}

    def _dir(self, path: str) -> bool:
        known = self._is_dir.get(path)
        if known is None:
            st = self.lstat(path)
            known = self._is_dir[path] = st is not None and stat.S_ISDIR(st.st_mode)
        return known

    def lstat(self, path: str) -> os.stat_result | None:
        if not self._dir(os.path.dirname(path)):
            return None
        try:
            return os.lstat(os.path.join(self.root, path.lstrip("/")))
        except (FileNotFoundError, NotADirectoryError):
            return None


def _parents(paths: frozenset[str]) -> frozenset[str]:
    out = set()
    for path in paths:
        while (path := os.path.dirname(path)) != "/":
            out.add(path)
    return frozenset(out)


def _bare_holder(layers: list[_Lower], path: str, st: os.stat_result) -> bool:
    """A parent of mount points that is in the upper layer only because they are: its
    mode is the one below (or the default 0755 of a directory made for them)."""
    below = next((b for b in (layer.lstat(path) for layer in layers) if b is not None), None)
    return below is not None and below.st_mode == st.st_mode or below is None and st.st_mode & 0o7777 == 0o755


def bare_holders(lowers: list[str], upper: str, mountpoints: frozenset[str]) -> frozenset[str]:
    """The parents of ``mountpoints`` that are directories in ``upper`` and no change in
    themselves (what ``overlay_changes`` leaves out as "only the parent of a change")."""
    layers = [_Lower(root) for root in lowers]
    out = set()
    for path in _parents(mountpoints):
        try:
            st = os.lstat(os.path.join(upper, path.lstrip("/")))
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and _bare_holder(layers, path, st):
            out.add(path)
    return frozenset(out)


def _changes(lowers: list[str], upper_fd: int, mountpoints: frozenset[str]) -> list[Change]:
    layers = [_Lower(root) for root in lowers]
    holders = _parents(mountpoints)
    changes: list[Change] = []
    changed_dirs: set[str] = set()
    for path, st, opaque in _walk_dir("/", upper_fd):
        is_dir = stat.S_ISDIR(st.st_mode)
        if is_whiteout(st) or opaque:
            kind = DELETE
        elif path in mountpoints:
            continue
        elif path in holders and is_dir:
            if _bare_holder(layers, path, st):
                continue  # only the parent of a change
            kind = MODIFY
        else:
            below = next((b for b in (layer.lstat(path) for layer in layers) if b is not None), None)
            if below is None:
                kind = ADD
            elif is_dir and stat.S_ISDIR(below.st_mode) and _same_dir(st, below):
                continue  # only the parent of a change
            else:
                kind = MODIFY
        if is_dir:
            changed_dirs.add(path)
        if kind in (ADD, DELETE):
            parent = os.path.dirname(path)
            if parent not in changed_dirs and parent != "/":
                changes.append(Change(parent, MODIFY))
                changed_dirs.add(parent)
        changes.append(Change(path, kind))
    return changes
