"""Copy-up: an image's content at a volume's destination seeds a new, empty volume.

moby's ``copyExistingContents``: when a container first mounts an empty volume on a
path that holds a directory in its image, that directory is copied into the volume
(continuity's ``fs.CopyDir``), its own owner, mode and xattrs onto the volume's root
(older moby's ``copyOwnership``).

The source is the container's rootfs, which is untrusted: its path is resolved inside
the rootfs (``safepath.open_in_root``) and the tree is walked by descriptor, every entry
opened relative to its parent with ``O_NOFOLLOW``, so neither a symlink in the image
nor one swapped in meanwhile leads the copy out of the rootfs, and nothing is ever
written through a symlink in the volume. What is copied: directories, regular files
(``copy_file_range``, falling back to ``sendfile``), symlinks as symlinks, hardlinks as
hardlinks (within the copy), device nodes, fifos and sockets re-made with ``mknod`` as
continuity does; owners, modes (setuid, setgid, sticky), nanosecond mtimes and atimes,
and extended attributes (``security.capability`` included, set after the chown that
would clear it).
"""

import errno
import os
import stat

from ketch.linux.safepath import open_in_root, reopen

_DIR_OPEN = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: an entry swapped for a fifo after its lstat must not hang the open
_FILE_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY
_CHUNK = 1 << 30


def copy_into_empty(rootfs: str, path_in_container: str, volume_dir: str) -> bool:
    """Copy the directory ``path_in_container`` of ``rootfs`` into ``volume_dir`` if the
    volume is empty and the path (resolved inside ``rootfs``) is a directory.

    Returns whether it copied. A missing path, or one that is not a directory, copies
    nothing (moby's CopyDir would fail on a file; the mount of a directory over it fails
    at start anyway). An empty image directory still gives the volume its owner and
    mode. Raises ``OSError`` if the copy fails part way.
    """
    dst = os.open(volume_dir, _DIR_OPEN)
    try:
        with os.scandir(dst) as it:
            if next(it, None) is not None:
                return False
        src = _open_source(rootfs, path_in_container)
        if src is None:
            return False
        try:
            _Copier().copy_tree(src, dst)
            # the volume's root becomes the image directory: owner and mode (moby's
            # copyOwnership, CopyDir's copyFileInfo of the root), xattrs, times
            _copy_xattrs(src, dst)
            _copy_attrs(dst, os.fstat(src))
        finally:
            os.close(src)
        return True
    finally:
        os.close(dst)


def _open_source(rootfs: str, path: str) -> int | None:
    """A readable descriptor of the directory ``path`` names inside ``rootfs``, or None."""
    root = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            found = open_in_root(root, path, follow=True)
        except (FileNotFoundError, NotADirectoryError):
            return None
    finally:
        os.close(root)
    try:
        if not stat.S_ISDIR(os.fstat(found).st_mode):
            return None
        return reopen(found, os.O_RDONLY | os.O_DIRECTORY)
    finally:
        os.close(found)


class _Copier:
    """One copy: remembers the inodes with several links it has copied, to link them."""

    def __init__(self) -> None:
        # (st_dev, st_ino) of a source with st_nlink > 1 -> (dst dir fd, name) of its copy
        self._links: dict[tuple[int, int], tuple[int, str]] = {}
        self._link_dirs: set[int] = set()
        self._held: list[int] = []  # dir fds kept open for _links, closed at the end

    def copy_tree(self, src_dir: int, dst_dir: int) -> None:
        try:
            self._copy_dir_entries(src_dir, dst_dir)
        finally:
            for fd in self._held:
                os.close(fd)

    def _copy_dir_entries(self, src_dir: int, dst_dir: int) -> None:
        with os.scandir(src_dir) as it:
            entries = [(e.name, e.stat(follow_symlinks=False)) for e in it]
        for name, st in entries:
            mode = st.st_mode
            if stat.S_ISDIR(mode):
                self._copy_dir(src_dir, dst_dir, name, st)
            elif stat.S_ISREG(mode):
                self._copy_file(src_dir, dst_dir, name, st)
            elif stat.S_ISLNK(mode):
                target = os.readlink(name, dir_fd=src_dir)
                os.symlink(target, name, dir_fd=dst_dir)
                os.chown(name, st.st_uid, st.st_gid, dir_fd=dst_dir, follow_symlinks=False)
                os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst_dir,
                         follow_symlinks=False)
            else:  # character and block devices, fifos, sockets: continuity's copyIrregular
                os.mknod(name, stat.S_IFMT(mode) | 0o600, st.st_rdev, dir_fd=dst_dir)
                made = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst_dir)
                try:
                    where = f"/proc/self/fd/{made}"  # the inode just made, not a path
                    os.chown(where, st.st_uid, st.st_gid)
                    os.chmod(where, stat.S_IMODE(mode))
                    os.utime(where, ns=(st.st_atime_ns, st.st_mtime_ns))
                finally:
                    os.close(made)

    def _copy_dir(self, src_parent: int, dst_parent: int, name: str, st: os.stat_result) -> None:
        src = os.open(name, _DIR_OPEN, dir_fd=src_parent)
        try:
            os.mkdir(name, 0o700, dir_fd=dst_parent)
            dst = os.open(name, _DIR_OPEN, dir_fd=dst_parent)
            try:
                self._copy_dir_entries(src, dst)
                _copy_xattrs(src, dst)
                _copy_attrs(dst, st)  # after the entries, which change the mtime
            finally:
                if dst in self._link_dirs:
                    self._held.append(dst)
                else:
                    os.close(dst)
        finally:
            os.close(src)

    def _copy_file(self, src_parent: int, dst_parent: int, name: str, st: os.stat_result) -> None:
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self._links:
            first_dir, first_name = self._links[key]
            os.link(first_name, name, src_dir_fd=first_dir, dst_dir_fd=dst_parent,
                    follow_symlinks=False)
            return
        src = os.open(name, _FILE_OPEN, dir_fd=src_parent)
        try:
            if not stat.S_ISREG(os.fstat(src).st_mode):  # swapped since the scan
                raise OSError(errno.EAGAIN, "changed during copy-up", name)
            dst = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                          0o600, dir_fd=dst_parent)
            try:
                _copy_data(src, dst, st.st_size)
                _copy_xattrs(src, dst, after_chown=st)
                _copy_attrs(dst, st, owned=True)
            finally:
                os.close(dst)
        finally:
            os.close(src)
        if st.st_nlink > 1:
            self._links[key] = (dst_parent, name)
            self._link_dirs.add(dst_parent)


def _copy_data(src: int, dst: int, size: int) -> None:
    """In the kernel: copy_file_range (reflinks where the filesystem can), else sendfile."""
    copied = 0
    try:
        while True:
            n = os.copy_file_range(src, dst, _CHUNK)
            if n == 0:
                break
            copied += n
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
    offset = copied
    while True:
        n = os.sendfile(dst, src, offset, _CHUNK)
        if n == 0:
            break
        offset += n


def _copy_xattrs(src: int, dst: int, after_chown: os.stat_result | None = None) -> None:
    """Extended attributes, by descriptor. For a file the chown comes first, since it
    clears security.capability (and the setuid bits, which the chmod after restores)."""
    if after_chown is not None:
        os.fchown(dst, after_chown.st_uid, after_chown.st_gid)
    try:
        names = os.listxattr(src)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return
        raise
    for key in names:
        try:
            os.setxattr(dst, key, os.getxattr(src, key))
        except OSError as exc:
            if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENODATA):
                raise


def _copy_attrs(dst: int, st: os.stat_result, owned: bool = False) -> None:
    if not owned:
        os.fchown(dst, st.st_uid, st.st_gid)
    os.fchmod(dst, stat.S_IMODE(st.st_mode))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
