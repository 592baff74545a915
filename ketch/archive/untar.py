"""Extract an untrusted tar into a directory of an untrusted tree (``PUT /archive``).

moby's ``archive.Unpack`` rules and messages: names are cleaned and may not climb out
of the target (``"../x" is outside of "/tmp"``), a symlink may not point out of it by
``..`` (``invalid symlink``), a hard link may not name a file out of it (``invalid
hardlink``), and with ``no_overwrite_dir_non_dir`` a directory and a non-directory do
not replace each other. Beyond moby (which relies on a chroot for this): the directory
an entry lands in is reached fd by fd from the container's root (``safepath``), and
must lie under the target, so a symlink the tar (or the container, racing) put in
the way cannot carry a write, a chmod or a chown anywhere else; metadata is applied
through descriptors or ``AT_SYMLINK_NOFOLLOW``, never through a path the kernel
would follow.
"""

import errno
import os
import posixpath
import shutil
import stat
import tarfile
from dataclasses import dataclass
from typing import BinaryIO

from ketch.linux.safepath import open_in_root

CHUNK = 1 << 20


class Breakout(Exception):
    """An entry that would leave the target; the text is moby's."""


@dataclass(frozen=True)
class UntarOptions:
    no_overwrite_dir_non_dir: bool = False
    chown: tuple[int, int] | None = None  # copyUIDGID: the container user's ids for every entry
    no_lchown: bool = False  # keep the extracting user's ids (docker cp to the host: NoLchown)
    rebase: tuple[str, str] | None = None  # (old, new) first name component: docker cp's rename
    # ADD's archives: dockerd unpacks them chrooted into the destination, so ``../x`` and
    # ``/x`` (names and hard link targets) land inside it and symlink texts are kept
    clamp: bool = False


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Extraction:
    def __init__(self, root_fd: int, target: str, options: UntarOptions) -> None:
        self.root_fd = root_fd
        self.target = "/" + target.strip("/") if target.strip("/") else "/"
        self.options = options
        self.target_fd = open_in_root(root_fd, self.target)
        st = os.fstat(self.target_fd)
        self.target_key = (st.st_dev, st.st_ino)
        root_st = os.fstat(root_fd)
        self.root_key = (root_st.st_dev, root_st.st_ino)
        self.dirs: dict[str, int] = {"": os.dup(self.target_fd)}
        self.dir_times: list[tuple[str, int]] = []

    def close(self) -> None:
        for fd in self.dirs.values():
            os.close(fd)
        os.close(self.target_fd)

    def in_container(self, rel: str) -> str:
        return posixpath.join(self.target, rel) if rel else self.target

    def parent_fd(self, rel: str) -> int:
        """The directory ``rel`` (relative to the target) names, created if missing,
        refused if it resolves outside the target."""
        if rel in self.dirs:
            return self.dirs[rel]
        head, base = posixpath.split(rel)
        up = self.parent_fd(head)
        try:
            os.mkdir(base, 0o755, dir_fd=up)
        except FileExistsError:
            pass
        fd = open_in_root(self.root_fd, self.in_container(rel))
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            os.close(fd)
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), self.in_container(rel))
        if not self._under_target(fd):
            os.close(fd)
            raise Breakout(f"{_q(rel)} is outside of {_q(self.target)}")
        self.dirs[rel] = fd
        return fd

    def _under_target(self, fd: int) -> bool:
        """Climb by ``..`` from ``fd`` until the target (inside) or the root (outside)."""
        cur = os.dup(fd)
        try:
            for _ in range(4096):
                st = os.fstat(cur)
                key = (st.st_dev, st.st_ino)
                if key == self.target_key:
                    return True
                if key == self.root_key:
                    return False
                up = os.open("..", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=cur)
                os.close(cur)
                cur = up
                if (st.st_dev, st.st_ino) == _key(os.fstat(cur)):
                    return False  # reached a / that is not the root: not ours
            return False
        finally:
            os.close(cur)

    def entry(self, tf: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        if self.options.rebase:
            member.name = _rebased(member.name, *self.options.rebase)
            if member.islnk():
                member.linkname = _rebased(member.linkname, *self.options.rebase)
        name = posixpath.normpath("/" + member.name).lstrip("/") \
            if member.name.startswith("/") or self.options.clamp else posixpath.normpath(member.name)
        if name == ".." or name.startswith("../"):
            raise Breakout(f"{_q(member.name)} is outside of {_q(self.target)}")
        if name == ".":
            name = ""
        if member.islnk() and self.options.clamp:
            member.linkname = posixpath.normpath("/" + member.linkname).lstrip("/")
        if member.issym() and not self.options.clamp:
            # Go's filepath.Join: an absolute target is joined, not restarted
            where = posixpath.dirname(self.in_container(name)) + "/" + member.linkname
            if not _within(posixpath.normpath(where), self.target):
                raise Breakout(f"invalid symlink {_q(self.in_container(name))} -> {_q(member.linkname)}")
        if member.islnk():
            where = posixpath.normpath(self.target + "/" + member.linkname)
            if not _within(where, self.target):
                raise Breakout(f"invalid hardlink {_q(where)} -> {_q(member.linkname)}")
        if not name:  # the target itself: only its metadata
            if member.isdir():
                self.metadata(self.target_fd, None, member)
            return
        head, base = posixpath.split(name)
        pfd = self.parent_fd(head)
        try:
            old = os.stat(base, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            old = None
        if old is not None:
            old_dir = stat.S_ISDIR(old.st_mode)
            if self.options.no_overwrite_dir_non_dir and old_dir and not member.isdir():
                raise OSError(f"cannot overwrite directory {_q(self.in_container(name))} "
                              f"with non-directory {_q(self.target)}")
            if self.options.no_overwrite_dir_non_dir and not old_dir and member.isdir():
                raise OSError(f"cannot overwrite non-directory {_q(self.in_container(name))} "
                              f"with directory {_q(self.target)}")
            if not (old_dir and member.isdir()):
                if old_dir:
                    shutil.rmtree(base, dir_fd=pfd)
                else:
                    os.unlink(base, dir_fd=pfd)
                self.dirs = {k: v for k, v in self.dirs.items() if not _drop(k, name, v)}
        if member.isdir():
            if old is None or not stat.S_ISDIR(old.st_mode):
                os.mkdir(base, 0o700, dir_fd=pfd)
            self.dir_times.append((name, int(member.mtime)))
        elif member.isreg():
            fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600, dir_fd=pfd)
            try:
                src = tf.extractfile(member)
                while chunk := src.read(CHUNK):
                    os.write(fd, chunk)
                self._file_metadata(fd, member)  # the inode just made: no reopen by path
            finally:
                os.close(fd)
            return
        elif member.issym():
            os.symlink(member.linkname, base, dir_fd=pfd)
        elif member.islnk():
            src_rel = posixpath.normpath(self.target + "/" + member.linkname)
            src_rel = posixpath.relpath(src_rel, self.target)
            shead, sbase = posixpath.split(src_rel)
            try:
                sfd = self.parent_fd(shead if shead != "." else "")
                os.link(sbase, base, src_dir_fd=sfd, dst_dir_fd=pfd, follow_symlinks=False)
            except OSError as exc:
                if not self.options.clamp or exc.errno is None:
                    raise
                # Go's LinkError, with the paths dockerd's chrooted unpack sees
                raise OSError(exc.errno, f"link /{member.linkname} /{name}: "
                              f"{os.strerror(exc.errno).lower()}") from None
            return
        elif member.ischr() or member.isblk() or member.isfifo():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK if member.isblk() else stat.S_IFIFO
            os.mknod(base, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=pfd)
        else:
            return  # unknown types: moby skips them too (with a debug line)
        self.metadata(pfd, base, member)

    def metadata(self, pfd: int, base: str | None, member: tarfile.TarInfo) -> None:
        uid, gid = self.options.chown or (member.uid, member.gid)
        if base is None:
            fd = os.dup(pfd)
        else:
            fd = os.open(base, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
        try:
            link = stat.S_ISLNK(os.fstat(fd).st_mode)
            if link:  # lchown and lutimes through the parent, which never follow
                if not self.options.no_lchown:
                    os.chown(base, uid, gid, dir_fd=pfd, follow_symlinks=False)
                os.utime(base, ns=(int(member.mtime * 1e9),) * 2, dir_fd=pfd, follow_symlinks=False)
                return
            proc = f"/proc/self/fd/{fd}"  # the inode itself, whatever the tree does now
            if not self.options.no_lchown:
                os.chown(proc, uid, gid)
            os.chmod(proc, member.mode & 0o7777)
            if not member.isdir():
                os.utime(proc, ns=(int(member.mtime * 1e9),) * 2)
        finally:
            os.close(fd)

    def _file_metadata(self, fd: int, member: tarfile.TarInfo) -> None:
        """``metadata`` for a regular file through the descriptor that created it (O_EXCL:
        its own inode), in the same order: owner, mode, times."""
        uid, gid = self.options.chown or (member.uid, member.gid)
        if not self.options.no_lchown:
            os.fchown(fd, uid, gid)
        os.fchmod(fd, member.mode & 0o7777)
        os.utime(fd, ns=(int(member.mtime * 1e9),) * 2)

    def finish(self) -> None:
        """Directory times last: extracting into them changed them (moby does the same)."""
        for name, mtime in reversed(self.dir_times):
            try:
                fd = open_in_root(self.target_fd, name, follow=False)
            except OSError:
                continue
            try:
                if stat.S_ISDIR(os.fstat(fd).st_mode):
                    os.utime(f"/proc/self/fd/{fd}", ns=(mtime * 10**9,) * 2)
            finally:
                os.close(fd)


def _rebased(name: str, old: str, new: str) -> str:
    """moby's ``RebaseArchiveEntries``: the first component ``old`` becomes ``new``."""
    first, sep, rest = name.strip("/").partition("/")
    if first != old.strip("/"):
        return name
    return new + sep + rest if new else rest or "."


def _key(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


def _within(path: str, target: str) -> bool:
    return target == "/" or path == target or path.startswith(target.rstrip("/") + "/")


def _drop(key: str, name: str, fd: int) -> bool:
    if key == name or key.startswith(name + "/"):
        os.close(fd)
        return True
    return False


def untar(stream: BinaryIO, root_fd: int, target: str, options: UntarOptions = UntarOptions()) -> None:
    """Extract the uncompressed tar ``stream`` into directory ``target`` (a path inside
    the tree whose root is ``root_fd``). Raises ``Breakout`` or ``OSError``."""
    ex = _Extraction(root_fd, target, options)
    try:
        with tarfile.open(fileobj=stream, mode="r|", encoding="utf-8", errors="surrogateescape") as tf:
            for member in _members(tf):
                ex.entry(tf, member)
        ex.finish()
    finally:
        ex.close()


def _members(tf: tarfile.TarFile):
    """``tf``'s members as Go's archive/tar reads them: a stream that ends inside the
    last member's padding, its data complete, ends the archive (docker/cli's
    ReplaceFileTarWrapper sends such a context for ``docker build -f-`` or a Dockerfile
    outside the context: no padding, no end-of-archive blocks)."""
    last = None
    while True:
        try:
            member = tf.next()
        except tarfile.ReadError:
            if last is not None and tf.fileobj.tell() >= last.offset_data + last.size:
                return  # only the padding is missing
            raise
        if member is None:
            return
        last = member
        yield member
