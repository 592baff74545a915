"""The overlayfs snapshotter.

Layout under its root (``<data-root>/snapshots``)::

    <name>/fs      a layer's unpacked content, or a container's writable (upper) layer
    <name>/work    overlayfs's work dir, for writable snapshots only

Names are short random hex strings, not chain ids, so that the ``lowerdir=`` option
of an image with many layers stays under the kernel's one-page limit for mount data.
Nothing here mounts: ``mounts()`` returns ``Mount`` data for the caller to apply.

Modes (moby's overlay2): the root ``ROOT_MODE`` (0700: ketch maps no user namespace, so
no remapped group needs moby's 0710), a snapshot ``SNAPSHOT_MODE`` (0710), ``fs``
``FS_MODE`` (0755: an upper dir's mode is the mode of the container's ``/``, which its
non-root users traverse), ``work`` ``WORK_MODE`` (0700). A container's processes never
walk these paths: overlayfs reaches the layers with the mounter's credentials.
"""

import os
import secrets
import shutil

from ketch.errors import InvalidArgument
from ketch.storage import difftar, treetar
from ketch.storage.changes import Change, bare_holders, overlay_changes
from ketch.linux import filemode
from ketch.linux.fstree import tree_size
from ketch.linux.mount import Mount

ROOT_MODE = 0o700
SNAPSHOT_MODE = 0o710
FS_MODE = 0o755
WORK_MODE = 0o700

MAX_MOUNT_DATA = 4000  # the kernel copies at most one page of mount options


class OverlaySnapshotter:
    def __init__(self, root: str) -> None:
        self.root = root
        filemode.makedirs(root, ROOT_MODE)

    def fs(self, name: str) -> str:
        return os.path.join(self.root, name, "fs")

    def work(self, name: str) -> str:
        return os.path.join(self.root, name, "work")

    def new(self, writable: bool = False) -> str:
        """Create an empty snapshot; returns its name."""
        name = self.reserve()
        filemode.mkdir(os.path.join(self.root, name), SNAPSHOT_MODE)
        filemode.mkdir(self.fs(name), FS_MODE)
        if writable:
            filemode.mkdir(self.work(name), WORK_MODE)
        return name

    def reserve(self) -> str:
        """A name for a snapshot made later (a layer unpacked on first use), by ``adopt``."""
        return secrets.token_hex(6)

    def exists(self, name: str) -> bool:
        return os.path.isdir(self.fs(name))

    def adopt(self, made: str, name: str) -> None:
        """Give the complete snapshot ``made`` the reserved name ``name``, atomically."""
        os.rename(os.path.join(self.root, made), os.path.join(self.root, name))

    def remove(self, name: str) -> None:
        if not name or "/" in name:
            raise InvalidArgument(f"invalid snapshot name {name!r}")
        shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)

    def mounts(self, name: str, parents: list[str]) -> list[Mount]:
        """How to mount writable snapshot ``name`` over ``parents`` (top-most first)."""
        if not parents:
            return [Mount("bind", self.fs(name), options=("rbind", "rw"))]
        options = (
            "lowerdir=" + ":".join(self.fs(p) for p in parents),
            f"upperdir={self.fs(name)}",
            f"workdir={self.work(name)}",
        )
        if sum(len(o) + 1 for o in options) > MAX_MOUNT_DATA:
            raise InvalidArgument(f"too many layers to mount ({len(parents)})")
        return [Mount("overlay", "overlay", options=options)]

    def view_mount(self, name: str, parents: list[str]) -> Mount:
        """A read-only overlay of writable snapshot ``name`` over ``parents``: the upper
        layer as the top-most lower one, so its whiteouts and opaque directories apply
        (``docker export`` of a stopped container). Needs at least one parent."""
        lowers = "lowerdir=" + ":".join(self.fs(p) for p in [name, *parents])
        if len(lowers) + 3 > MAX_MOUNT_DATA:
            raise InvalidArgument(f"too many layers to mount ({len(parents)})")
        return Mount("overlay", "overlay", options=("ro", lowers))

    def changes(self, name: str, parents: list[str],
                mountpoints: frozenset[str] = frozenset()) -> list[Change]:
        """What writable snapshot ``name`` changed over ``parents`` (``docker diff``)."""
        return overlay_changes([self.fs(p) for p in parents], self.fs(name), mountpoints)

    def diff(self, name: str, parents: list[str], out,
             mountpoints: frozenset[str] = frozenset(), clamp: int | None = None) -> tuple[int, int]:
        """Write writable snapshot ``name``'s layer tar (over ``parents``) to ``out``.
        Returns (entries, bytes of file content); 0 entries: nothing changed. ``clamp``:
        no mtime in it later than that (a reproducible build's epoch)."""
        upper = self.fs(name)
        lazy = bare_holders([self.fs(p) for p in parents], upper, mountpoints)
        fd = treetar.open_root(upper)
        try:
            return difftar.write_diff(fd, out, mountpoints, lazy, clamp)
        finally:
            os.close(fd)

    def usage(self, name: str) -> int:
        """Bytes used by the files of snapshot ``name`` (its own layer only)."""
        return tree_size(self.fs(name))

    def names(self) -> list[str]:
        return os.listdir(self.root)
