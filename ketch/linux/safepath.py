"""Paths inside a root that a symlink cannot lead out of.

A container's rootfs, a layer being extracted and a volume are all trees whose
content is untrusted: any component may be a symlink, and its target (``/etc``,
``../../..``) means something inside the container, not on the host. These
functions resolve a path the way the container would see it, with ``root`` as
``/``, the way containerd's ``fs.RootPath`` and Go's ``securejoin`` do: symlinks
are followed one component at a time, absolute targets restart at ``root`` and
``..`` stops at ``root``.

The result is only as good as the tree staying still: nothing else may rename
entries under ``root`` between the resolution and its use. That holds for a
layer being extracted and for a stopped container's rootfs. ``mkdir_all_in_root``
and ``open_dir_in_root`` go one step further for code that creates entries: they
walk one component at a time by descriptor without letting the kernel follow a
symlink, so directories they make, and names created relative to the descriptor
``open_dir_in_root`` hands back (``mknod``, ``symlink`` with ``dir_fd``), land
inside ``root`` even if the tree moved.

Like ``os``, every function raises ``OSError`` carrying the errno and the path;
callers map it into ``ketch.errors`` where they know what it means.
"""

import errno
import os
import stat
from _collections import deque

from ketch.linux import syscalls as sc  # collections itself costs ~3 ms at the runtime's start-up

# containerd and securejoin give up after this many links, so a layer that
# resolves for them resolves for us.
MAX_SYMLINKS = 255


def resolve_in_root(root: str, path: str) -> str:
    """Return the host path under ``root`` that ``path`` names when ``root`` is ``/``.

    Every existing component is followed if it is a symlink; components that do
    not exist are taken literally, so the result may name something that does
    not exist yet (the place to create it). The result never leaves ``root``.
    """
    root = os.path.abspath(root)
    pending = deque(path.split("/"))
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.popleft()
        if part in ("", "."):
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            # Nothing there, so nothing to follow: the rest is lexical.
            resolved.append(part)
            continue
        if not stat.S_ISLNK(st.st_mode):
            resolved.append(part)
            continue
        links += 1
        if links > MAX_SYMLINKS:
            where = os.path.join(root, path.lstrip("/"))
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), where)
        try:
            target = os.readlink(candidate)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            pending.appendleft(part)  # no longer a symlink since the lstat: look again
            continue
        if target.startswith("/"):
            resolved.clear()
        pending.extendleft(reversed(target.split("/")))
    return os.path.join(root, *resolved)


def mkdir_all_in_root(root: str, path: str, mode: int = 0o755) -> str:
    """Create the directory ``path`` names inside ``root``, with its missing parents.

    Returns the host path. Directories created get exactly ``mode`` whatever the
    umask; existing ones are left as they are. Raises ``NotADirectoryError`` if a
    component exists and is not a directory.

    The walk is by descriptor, as ``open_in_root``'s: each component is opened (or made
    with ``mkdirat``) relative to the one before, never following a symlink the kernel
    meets; symlinks are read and resolved here inside ``root``. A tree changing meanwhile
    can make the walk fail or create elsewhere inside ``root``, never outside it.
    """
    root = os.path.abspath(root)
    stack = [(os.open(root, _DIR_FLAGS), "")]  # (descriptor, name), the root first
    pending = deque(path.split("/"))
    links = 0
    try:
        while pending:
            part = pending.popleft()
            if part in ("", "."):
                continue
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop()[0])
                continue
            parent = stack[-1][0]
            try:
                child = os.open(part, _PATH_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                try:
                    os.mkdir(part, mode, dir_fd=parent)
                except FileExistsError:
                    pending.appendleft(part)  # made meanwhile by someone else: look again
                    continue
                child = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=parent)
                stack.append((child, part))
                os.chmod(f"/proc/self/fd/{child}", mode)  # the inode itself, whatever the umask did
                continue
            st = os.fstat(child)
            if stat.S_ISLNK(st.st_mode):
                try:
                    target = os.readlink("", dir_fd=child)
                finally:
                    os.close(child)
                links += 1
                if links > MAX_SYMLINKS:
                    where = os.path.join(root, path.lstrip("/"))
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), where)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop()[0])
                pending.extendleft(reversed(target.split("/")))
                continue
            stack.append((child, part))
            if not stat.S_ISDIR(st.st_mode):
                where = os.path.join(root, *(name for _, name in stack[1:]))
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), where)
        return os.path.join(root, *(name for _, name in stack[1:]))
    finally:
        for fd, _ in stack:
            os.close(fd)


def open_dir_in_root(root: str, path: str, mode: int = 0o755) -> int:
    """An ``O_PATH`` descriptor of the directory ``path`` names inside ``root``.

    The directory and its missing parents are created first, as by
    ``mkdir_all_in_root``. Then each component of the resolved path is opened
    relative to the one before with ``O_NOFOLLOW | O_DIRECTORY``: a component
    that is (or has become) a symlink or not a directory raises
    ``NotADirectoryError`` instead of being followed. The caller closes it.
    """
    root = os.path.abspath(root)
    host = mkdir_all_in_root(root, path, mode)
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in os.path.relpath(host, root).split("/"):
            if part == ".":
                continue
            if part == "..":  # resolve_in_root never gives one; refuse rather than climb
                raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), host)
            try:
                child = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except NotADirectoryError:
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), host) from None
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


_DIR_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


def open_in_root(root_fd: int, path: str, follow: bool = True) -> int:
    """An ``O_PATH`` descriptor of what ``path`` names when the directory ``root_fd`` is ``/``.

    Unlike ``resolve_in_root`` this never hands the kernel a path to walk: each
    component is opened relative to the descriptor of the one before with
    ``O_NOFOLLOW``, symlinks are read and followed here (absolute targets restart at
    the root, ``..`` is popped from the stack of descriptors and stops at the root).
    A tree that changes meanwhile (a directory swapped for a symlink to ``/``) can
    make the walk fail or land elsewhere inside the root, never outside it: the
    CVE-2018-15664 race. The last component is followed only if ``follow`` or the
    path ends in ``/`` or ``/.``. Raises ``FileNotFoundError`` for a missing
    component, ``NotADirectoryError`` when one that must be a directory is not.

    Where the kernel has ``openat2`` it does the same walk in one call
    (``RESOLVE_IN_ROOT``); the walk here remains for older kernels, for a rename race
    the kernel reports (``EAGAIN``) and for chains of links longer than its 40.
    """
    global _openat2
    if _openat2:
        flags = os.O_PATH | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
        try:
            return sc.openat2(root_fd, path or ".", flags, sc.RESOLVE_IN_ROOT | sc.RESOLVE_NO_MAGICLINKS)
        except OSError as exc:
            if exc.errno in (errno.ENOSYS, errno.EPERM):  # before 5.6, or a seccomp filter
                _openat2 = False
            elif exc.errno not in (errno.EAGAIN, errno.ELOOP, errno.EXDEV):
                raise type(exc)(exc.errno, exc.strerror, path) from None
    return _open_in_root_walk(root_fd, path, follow)


_openat2 = True


def _open_in_root_walk(root_fd: int, path: str, follow: bool) -> int:
    pending = deque(path.split("/"))
    stack = [os.dup(root_fd)]
    links = 0
    try:
        while pending:
            part = pending.popleft()
            if part in ("", "."):
                continue
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            more = bool(pending)  # "a/" and "a/." follow a and need a directory
            try:
                fd = os.open(part, _PATH_FLAGS, dir_fd=stack[-1])
            except NotADirectoryError:  # the parent was swapped for a non-directory
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path) from None
            except FileNotFoundError:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path) from None
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode) and (more or follow):
                try:
                    target = os.readlink("", dir_fd=fd)
                finally:
                    os.close(fd)
                links += 1
                if links > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                pending.extendleft(reversed(target.split("/")))
                continue
            if more and not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            stack.append(fd)
        return stack.pop()
    finally:
        for fd in stack:
            os.close(fd)


def open_no_symlinks(root: str, path: str) -> int:
    """An ``O_PATH`` descriptor of ``path`` under ``root``, reached without following
    any symlink (not even the last component); ``..`` is refused. For finding again
    what was made at ``path``: a component that has become a symlink since raises
    ``NotADirectoryError`` (or ``FileNotFoundError`` when it is gone) instead of
    leading anywhere. The caller closes it."""
    fd = os.open(root, _DIR_FLAGS)
    try:
        parts = [p for p in path.split("/") if p not in ("", ".")]
        for i, part in enumerate(parts):
            if part == "..":
                raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), path)
            flags = _PATH_FLAGS | (os.O_DIRECTORY if i < len(parts) - 1 else 0)
            try:
                child = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path) from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def reopen(fd: int, flags: int) -> int:
    """Open the object an ``O_PATH`` descriptor holds, by the descriptor, not by a path
    the tree could change (``/proc/self/fd`` links to the inode itself)."""
    return os.open(f"/proc/self/fd/{fd}", flags | os.O_CLOEXEC)


_PATH_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
