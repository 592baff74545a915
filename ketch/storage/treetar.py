"""A directory tree as a tar stream, read descriptor by descriptor (``docker export``).

The tree is a container's root filesystem: its content is untrusted and, for a running
container, changing while it is read. Every directory is opened with ``O_NOFOLLOW``
relative to its parent's descriptor, every file likewise, so a symlink is archived as a
symlink and never followed, and a directory swapped for a symlink mid-walk is skipped,
not entered. Nothing is ever executed or loaded from the tree.

The output is moby's ``archive.TarWithOptions`` of the merged tree (what ``docker
export`` streams): entries in ``filepath.Walk`` order (names sorted by bytes, a directory
before its content), relative names, directories ending in ``/``, PAX format with
numeric ids only, mtimes in whole seconds, ``security.capability`` as the only xattr,
hard links for files sharing an inode, sockets left out. It streams: ``out`` gets the
tar as it is made, one file at a time.
"""

import errno
import os
import stat
import tarfile
from typing import BinaryIO

CHUNK = 1 << 20
PAX_XATTR = "SCHILY.xattr."
_KEPT_XATTRS = ("security.capability",)  # moby's ReadSecurityXattrToTarHeader
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)


def _xattrs(fd: int) -> dict[str, str]:
    headers = {}
    for name in _KEPT_XATTRS:
        try:
            value = os.getxattr(fd, name)
        except OSError as exc:
            if exc.errno in (errno.ENODATA, errno.ENOTSUP):
                continue
            raise
        headers[PAX_XATTR + name] = value.decode("utf-8", "surrogateescape")
    return headers


class _Writer:
    def __init__(self, tf: tarfile.TarFile) -> None:
        self.tf = tf
        self.first_link: dict[tuple[int, int], str] = {}

    def info(self, name: str, st: os.stat_result) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.uname = info.gname = ""
        info.mtime = int(st.st_mtime)
        return info

    def tree(self, prefix: str, dir_fd: int) -> None:
        with os.scandir(dir_fd) as it:
            names = sorted((e.name for e in it), key=os.fsencode)
        for name in names:
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            rel = prefix + name
            if stat.S_ISDIR(st.st_mode):
                try:
                    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
                except OSError as exc:
                    if exc.errno in _GONE:
                        continue
                    raise
                try:
                    self.directory(rel + "/", fd)
                finally:
                    os.close(fd)
            else:
                self.entry(rel, name, st, dir_fd)

    def directory(self, rel: str, fd: int) -> None:
        st = os.fstat(fd)
        info = self.info(rel, st)
        info.type = tarfile.DIRTYPE
        info.pax_headers = _xattrs(fd)
        self.tf.addfile(info)
        self.tree(rel, fd)

    def entry(self, rel: str, name: str, st: os.stat_result, dir_fd: int) -> None:
        if stat.S_ISSOCK(st.st_mode):
            return
        info = self.info(rel, st)
        if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if key in self.first_link:
                info.type = tarfile.LNKTYPE
                info.linkname = self.first_link[key]
                self.tf.addfile(info)
                return
            self.first_link[key] = rel
        if stat.S_ISREG(st.st_mode):
            self.regular(info, name, dir_fd)
            return
        if stat.S_ISLNK(st.st_mode):
            info.type = tarfile.SYMTYPE
            try:
                info.linkname = os.readlink(name, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno in _GONE + (errno.EINVAL,):
                    return
                raise
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(st.st_mode):
            info.type = tarfile.FIFOTYPE
        self.tf.addfile(info)

    def regular(self, info: tarfile.TarInfo, name: str, dir_fd: int) -> None:
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in _GONE:
                return
            raise
        with os.fdopen(fd, "rb") as src:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # swapped since the stat: skip it
                return
            info.type = tarfile.REGTYPE
            info.size = st.st_size
            info.pax_headers = _xattrs(fd)
            # A file that shrinks while it is read would make tarfile fail; one that grows
            # is cut at the size in its header (moby copies what the header announced).
            self.tf.addfile(info, _Exactly(src, st.st_size))


class _Exactly:
    """``size`` bytes of ``src``: padded with zeros if it shrank meanwhile."""

    def __init__(self, src: BinaryIO, size: int) -> None:
        self.src, self.left = src, size

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n < 0 else min(n, self.left)
        data = self.src.read(n) or b"\0" * n
        self.left -= len(data)
        return data


def write_tree(root_fd: int, out: BinaryIO) -> None:
    """Write the tree below the open directory ``root_fd`` (left out itself) to ``out``;
    neither is closed."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape", copybufsize=CHUNK) as tf:
        _Writer(tf).tree("", root_fd)


def open_root(path: str) -> int:
    return os.open(path, _DIR_FLAGS)
