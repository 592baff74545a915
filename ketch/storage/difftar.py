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

import errno
import os
import stat
import tarfile
from typing import BinaryIO

from ketch.storage import treetar
from ketch.storage.changes import OPAQUE_XATTR, is_whiteout

WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"


class _TarStream:
    """The bytes ``tarfile.open(mode="w|", format=PAX_FORMAT)`` writes, written straight to
    ``out``: each header as ``TarInfo.tobuf`` makes it, file data as it is read, 512-byte
    padding, the two zero blocks and the padding to a 10 KiB record at the end. tarfile's
    own stream copies every byte through its buffer a few times; this copies none."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.offset = 0

    def _write(self, data) -> None:
        self.out.write(data)
        self.offset += len(data)

    def addfile(self, info: tarfile.TarInfo, fileobj=None) -> None:
        self._write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if fileobj is None or not info.size:
            return
        left = info.size
        while left > 0:
            data = fileobj.read(min(treetar.CHUNK, left))
            if not data:
                raise OSError("unexpected end of data")
            self._write(data)
            left -= len(data)
        remainder = info.size % tarfile.BLOCKSIZE
        if remainder:
            self._write(tarfile.NUL * (tarfile.BLOCKSIZE - remainder))

    def close(self) -> None:
        self._write(tarfile.NUL * (tarfile.BLOCKSIZE * 2))
        remainder = self.offset % tarfile.RECORDSIZE
        if remainder:
            self._write(tarfile.NUL * (tarfile.RECORDSIZE - remainder))


class _DiffWriter(treetar._Writer):
    def __init__(self, tf: _TarStream, skip: frozenset[str], lazy: frozenset[str],
                 clamp: int | None = None) -> None:
        super().__init__(tf)
        self.skip = skip
        self.lazy = lazy
        self.clamp = clamp
        self.size = 0  # bytes of file content
        self.pending: list[tuple[tarfile.TarInfo, os.stat_result, bool]] = []  # lazy dirs not written yet
        self.entries = 0

    def info(self, name: str, st: os.stat_result) -> tarfile.TarInfo:
        info = super().info(name, st)
        if self.clamp is not None and info.mtime > self.clamp:
            info.mtime = self.clamp
        return info

    def _flush(self) -> None:
        for info, st, opaque in self.pending:
            self._dir_entry(info, st, opaque)
        self.pending.clear()

    def _dir_entry(self, info: tarfile.TarInfo, st: os.stat_result, opaque: bool) -> None:
        self.tf.addfile(info)
        self.entries += 1
        if opaque:
            marker = tarfile.TarInfo(info.name + WHITEOUT_OPAQUE)
            marker.mode = info.mode & 0o777
            marker.uid, marker.gid = info.uid, info.gid
            marker.uname = marker.gname = ""
            marker.mtime = 0  # moby's header for it has no ModTime
            self.tf.addfile(marker)
            self.entries += 1

    def directory(self, rel: str, fd: int) -> None:
        path = "/" + rel.rstrip("/")
        if path in self.skip:
            return  # a mount point: nothing of the container's own is below it
        st = os.fstat(fd)
        info = self.info(rel, st)
        info.type = tarfile.DIRTYPE
        info.pax_headers = treetar._xattrs(fd)
        if path in self.lazy:
            item = (info, st, False)
            self.pending.append(item)
            self.tree(rel, fd)
            if self.pending and self.pending[-1] is item:
                self.pending.pop()
            return
        self._flush()
        self._dir_entry(info, st, _opaque(fd))
        self.tree(rel, fd)

    def entry(self, rel: str, name: str, st: os.stat_result, dir_fd: int) -> None:
        whiteout = is_whiteout(st)
        if ("/" + rel in self.skip and not whiteout) or stat.S_ISSOCK(st.st_mode):
            return
        self._flush()
        info = self.info(rel, st)
        if whiteout:
            head, _, base = rel.rpartition("/")
            info.name = (head + "/" if head else "") + WHITEOUT_PREFIX + base
            info.mode = 0o600
            info.type = tarfile.REGTYPE
            self.tf.addfile(info)
            self.entries += 1
            return
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            if key in self.first_link:
                info.type = tarfile.LNKTYPE
                info.linkname = self.first_link[key]
                self.tf.addfile(info)
                self.entries += 1
                return
        if stat.S_ISREG(st.st_mode):
            if self._regular(info, name, dir_fd):
                self.entries += 1
                if st.st_nlink > 1:
                    self.first_link[(st.st_dev, st.st_ino)] = rel
            return
        if stat.S_ISLNK(st.st_mode):
            info.type = tarfile.SYMTYPE
            try:
                info.linkname = os.readlink(name, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno in treetar._GONE + (errno.EINVAL,):
                    return
                raise
        else:
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
                info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            elif stat.S_ISFIFO(st.st_mode):
                info.type = tarfile.FIFOTYPE
        if st.st_nlink > 1:
            self.first_link[(st.st_dev, st.st_ino)] = rel
        self.tf.addfile(info)
        self.entries += 1

    def _regular(self, info: tarfile.TarInfo, name: str, dir_fd: int) -> bool:
        """treetar's regular file; False: it went."""
        try:
            fd = os.open(name, treetar._FILE_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in treetar._GONE:
                return False
            raise
        with os.fdopen(fd, "rb") as src:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # swapped since the stat: skip it
                return False
            info.type = tarfile.REGTYPE
            info.size = st.st_size
            info.pax_headers = treetar._xattrs(fd)
            self.tf.addfile(info, treetar._Exactly(src, st.st_size))
            self.size += st.st_size
        return True


def _opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, OPAQUE_XATTR) == b"y"
    except OSError:
        return False


def write_diff(upper_fd: int, out: BinaryIO, skip: frozenset[str] = frozenset(),
               lazy: frozenset[str] = frozenset(), clamp: int | None = None) -> tuple[int, int]:
    """Write the layer tar of the upper dir open as ``upper_fd`` to ``out`` (neither is
    closed); returns (entries, bytes of file content); 0 entries: the layer is empty.
    ``clamp``: no mtime later than this (seconds since the epoch)."""
    tf = _TarStream(out)
    writer = _DiffWriter(tf, skip, lazy, clamp)
    writer.tree("", upper_fd)
    tf.close()
    return writer.entries, writer.size
