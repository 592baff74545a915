"""A tar of one file or directory of an untrusted tree, read through descriptors only.

moby's ``containerArchivePath``: a directory is sent with its own entry first, every
name under ``name`` (``etc/``, ``etc/passwd``); anything else is one entry named
``name``. Children are opened relative to their parent's descriptor with
``O_NOFOLLOW``, so a directory swapped for a symlink while the walk runs fails to
open (it is left out) instead of leading the walk out of the tree.
"""

import errno
import os
import stat
import tarfile
from typing import BinaryIO

CHUNK = 1 << 20
_SKIP = (errno.ENOENT, errno.ELOOP, errno.ENOTDIR, errno.ENXIO)


class _Exactly:
    """Reads exactly ``size`` bytes of a file that may shrink or grow meanwhile (padded
    with zeros, truncated), so the tar stays well-formed."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.left = fd, size

    def read(self, n: int = CHUNK) -> bytes:
        n = min(n, self.left)
        if n <= 0:
            return b""
        data = os.read(self.fd, n) or b"\0" * n
        self.left -= len(data)
        return data


def write_tar(out: BinaryIO, obj_fd: int, name: str) -> None:
    """Write what the ``O_PATH`` descriptor ``obj_fd`` holds to ``out`` as entry ``name``
    (a directory with its whole tree). ``out`` is not closed."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape", copybufsize=CHUNK) as tf:
        links: dict[tuple[int, int], str] = {}
        st = os.fstat(obj_fd)
        if stat.S_ISDIR(st.st_mode):
            dfd = os.open(f"/proc/self/fd/{obj_fd}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                _add(tf, st, name, None, None, links)
                _add_children(tf, dfd, name, links)
            finally:
                os.close(dfd)
        elif stat.S_ISLNK(st.st_mode):
            _add(tf, st, name, None, os.readlink("", dir_fd=obj_fd), links)
        elif stat.S_ISREG(st.st_mode):
            fd = os.open(f"/proc/self/fd/{obj_fd}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _add(tf, os.fstat(fd), name, fd, None, links)
            finally:
                os.close(fd)
        else:
            _add(tf, st, name, None, None, links)


def _add_children(tf: tarfile.TarFile, dfd: int, prefix: str, links: dict) -> None:
    for child in sorted(os.listdir(dfd)):
        rel = f"{prefix}/{child}"
        try:
            st = os.stat(child, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                fd = os.open(child, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                             dir_fd=dfd)
                try:
                    _add(tf, os.fstat(fd), rel, None, None, links)
                    _add_children(tf, fd, rel, links)
                finally:
                    os.close(fd)
            elif stat.S_ISREG(st.st_mode):
                fd = os.open(child, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                             dir_fd=dfd)
                try:
                    st = os.fstat(fd)
                    if stat.S_ISREG(st.st_mode):
                        _add(tf, st, rel, fd, None, links)
                finally:
                    os.close(fd)
            elif stat.S_ISLNK(st.st_mode):
                _add(tf, st, rel, None, os.readlink(child, dir_fd=dfd), links)
            elif not stat.S_ISSOCK(st.st_mode):
                _add(tf, st, rel, None, None, links)
        except OSError as exc:
            if exc.errno not in _SKIP:  # gone or swapped meanwhile: not there to copy
                raise


def _add(tf: tarfile.TarFile, st: os.stat_result, name: str, fd: int | None,
         linkname: str | None, links: dict) -> None:
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = int(st.st_mtime)
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        tf.addfile(info)
        return
    if st.st_nlink > 1:
        key = (st.st_dev, st.st_ino)
        if key in links:
            info.type, info.linkname = tarfile.LNKTYPE, links[key]
            tf.addfile(info)
            return
        links[key] = name
    if stat.S_ISREG(st.st_mode) and fd is not None:
        info.type, info.size = tarfile.REGTYPE, st.st_size
        tf.addfile(info, _Exactly(fd, st.st_size))
        return
    if linkname is not None:
        info.type, info.linkname = tarfile.SYMTYPE, linkname
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    elif stat.S_ISFIFO(st.st_mode):
        info.type = tarfile.FIFOTYPE
    else:
        return
    tf.addfile(info)
