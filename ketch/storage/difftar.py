"""A container's writable layer as an OCI layer tar (``docker commit``).

This is moby's overlay2 ``Diff`` (``archive.TarWithOptions`` of the upper dir with the
``OverlayWhiteoutFormat``): the upper dir is archived as ``treetar`` archives a tree
(``filepath.Walk`` order, PAX, numeric ids, whole-second mtimes, hard links kept,
never following a link), with overlayfs's own marks turned into the OCI ones::

    in the upper dir                        in the layer tar
    ----------------                        ----------------
    dir/name   character device 0:0        dir/.wh.name        empty file, mode 0600
    dir/       trusted.overlay.opaque=y    dir/ then dir/.wh..wh..opq   (the dir's mode)

Docker keeps a container's mount points (``/etc/hosts``, ``/proc``, ...) in an init
layer that is never committed; ketch's runtime makes them in the writable layer, so
``skip`` names them (left out unless deleted), and ``lazy`` names directories that are
in the upper dir only as their parents: those are written only before something below
them is, so a commit with no change of its own has no entries at all.
"""

import os
import stat
import tarfile
from typing import BinaryIO

from ketch.storage import treetar
from ketch.storage.changes import OPAQUE_XATTR, is_whiteout

WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"


class _DiffWriter(treetar._Writer):
    def __init__(self, tf: tarfile.TarFile, skip: frozenset[str], lazy: frozenset[str]) -> None:
        super().__init__(tf)
        self.skip = skip
        self.lazy = lazy
        self.pending: list[tarfile.TarInfo] = []  # lazy directories not written yet
        self.entries = 0

    def _flush(self) -> None:
        for info in self.pending:
            self.tf.addfile(info)
            self.entries += 1
        self.pending.clear()

    def directory(self, rel: str, fd: int) -> None:
        path = "/" + rel.rstrip("/")
        if path in self.skip:
            return  # a mount point: nothing of the container's own is below it
        st = os.fstat(fd)
        info = self.info(rel, st)
        info.type = tarfile.DIRTYPE
        info.pax_headers = treetar._xattrs(fd)
        if path in self.lazy:
            self.pending.append(info)
            self.tree(rel, fd)
            if self.pending and self.pending[-1] is info:
                self.pending.pop()
            return
        self._flush()
        self.tf.addfile(info)
        self.entries += 1
        if _opaque(fd):
            marker = tarfile.TarInfo(rel + WHITEOUT_OPAQUE)
            marker.mode = info.mode & 0o777
            marker.uid, marker.gid = info.uid, info.gid
            marker.uname = marker.gname = ""
            marker.mtime = 0  # moby's header for it has no ModTime
            self.tf.addfile(marker)
            self.entries += 1
        self.tree(rel, fd)

    def entry(self, rel: str, name: str, st: os.stat_result, dir_fd: int) -> None:
        whiteout = is_whiteout(st)
        if "/" + rel in self.skip and not whiteout:
            return
        if stat.S_ISSOCK(st.st_mode):
            return
        self._flush()
        self.entries += 1
        if not whiteout:
            super().entry(rel, name, st, dir_fd)
            return
        head, _, base = rel.rpartition("/")
        info = self.info((head + "/" if head else "") + WHITEOUT_PREFIX + base, st)
        info.mode = 0o600
        info.type = tarfile.REGTYPE
        self.tf.addfile(info)


def _opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, OPAQUE_XATTR) == b"y"
    except OSError:
        return False


def write_diff(upper_fd: int, out: BinaryIO, skip: frozenset[str] = frozenset(),
               lazy: frozenset[str] = frozenset()) -> int:
    """Write the layer tar of the upper dir open as ``upper_fd`` to ``out`` (neither is
    closed); returns the number of entries (0: the layer is empty)."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape", copybufsize=treetar.CHUNK) as tf:
        writer = _DiffWriter(tf, skip, lazy)
        writer.tree("", upper_fd)
    return writer.entries
