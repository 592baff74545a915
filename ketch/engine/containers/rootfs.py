"""Reading a container's filesystem from the host: its changes (``docker diff``) and its
merged tree (``docker export``), running or stopped.

A running (or paused) container's tree is the overlay its bundle mounted; a stopped
one's is a read-only overlay of its writable layer over the image's layers, mounted for
the export under ``<exec-root>/exports/`` and detached at once: the open directory keeps
it alive until the export ends, and nothing is left mounted if ketchd dies meanwhile.
Both are read descriptor by descriptor, never following the container's symlinks
(``storage/treetar``).
"""

import os
import secrets

from ketch.engine.containers.bundle import Paths
from ketch.engine.containers.records import ContainerRecord
from ketch.linux import filemode
from ketch.linux import mount as mnt
from ketch.linux import syscalls as sc
from ketch.storage import treetar
from ketch.storage.changes import Change
from ketch.storage.overlay import OverlaySnapshotter

EXPORTS_MODE = 0o700
# moby's initlayer.Setup: what Docker keeps out of the writable layer, and so out of diff
INIT_LAYER = frozenset({"/dev/pts", "/dev/shm", "/proc", "/sys", "/.dockerenv", "/etc/resolv.conf",
                        "/etc/hosts", "/etc/hostname", "/dev/console", "/etc/mtab"})


class RootfsReader:
    def __init__(self, paths: Paths, snapshots: OverlaySnapshotter) -> None:
        self.paths = paths
        self.snapshots = snapshots

    def changes(self, rec: ContainerRecord) -> list[Change]:
        return self.snapshots.changes(rec.snapshot, rec.parents, INIT_LAYER)

    def open_merged(self, rec: ContainerRecord) -> int:
        """A directory descriptor on the container's merged tree; the caller closes it."""
        if rec.state.alive:
            fd = self._live(rec)
            if fd is not None:
                return fd
        if not rec.parents:  # no image layers: the writable layer is the whole tree
            return treetar.open_root(self.snapshots.fs(rec.snapshot))
        exports = os.path.join(self.paths.exec_root, "exports")
        filemode.makedirs(exports, EXPORTS_MODE)
        target = os.path.join(exports, secrets.token_hex(8))
        filemode.mkdir(target, EXPORTS_MODE)
        try:
            mnt.apply(self.snapshots.view_mount(rec.snapshot, rec.parents), target)
            try:
                return treetar.open_root(target)
            finally:
                mnt.unmount(target, lazy=True)
        finally:
            os.rmdir(target)

    def _live(self, rec: ContainerRecord) -> int | None:
        try:
            fd = treetar.open_root(self.paths.bundle_rootfs(rec.id))
        except OSError:
            return None
        if sc.is_mount_root(fd):
            return fd
        os.close(fd)  # stopped meanwhile (or a kernel that cannot tell): mount our own
        return None

    @staticmethod
    def write(fd: int, out) -> None:
        treetar.write_tree(fd, out)
