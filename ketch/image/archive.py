"""Layer tarballs: decompress, extract into an overlayfs layer directory, and write.

Every layer of an image is extracted into a directory of its own, and overlayfs
stacks those directories. The OCI layer format marks deletions with whiteout
files; overlayfs has its own marks, so extraction converts them, as Docker's
overlay2 driver and containerd's overlay snapshotter do::

    in the layer tar            in the layer directory
    ----------------            ----------------------
    dir/.wh.name                dir/name          character device 0:0
    dir/.wh..wh..opq            dir/              xattr trusted.overlay.opaque=y
    dir/.wh..wh.<other>         (skipped: aufs metadata)

A layer's content is untrusted. Names are cleaned and confined to the layer
directory, and every parent is resolved with ``safepath.resolve_in_root``, so a
symlink the layer itself creates (``a -> /etc``, ``a -> ../../..``) is followed
as the container would follow it, never onto the host.

Deferred work (directory times, set after the last entry) finds its directory again by
walking from the layer root without following any symlink: a later entry may have
replaced a parent with a symlink, which must not lead the times out.

Everything streams: a layer is read and written in chunks, whatever its size. A caller
that knows how big the layer may be passes ``max_size``: reading more tar than that, or
writing more file content (a sparse entry inflates to zeros), stops the extraction, so a
small compressed bomb cannot fill the disk.
"""

import bz2
import decimal
import errno
import gzip
import io
import logging
import lzma
import os
import posixpath
import shutil
import stat
import tarfile
import zlib
from typing import BinaryIO, Iterator

from ketch.archive.compression import sniff
from ketch.errors import InvalidArgument
from ketch.linux.safepath import mkdir_all_in_root, open_no_symlinks, resolve_in_root

try:
    import zstandard
except ImportError:  # optional: only zstd-compressed layers need it
    zstandard = None

log = logging.getLogger(__name__)

CHUNK = 1 << 20

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
PAX_XATTR = "SCHILY.xattr."

# overlayfs trusts its own xattrs (opaque, redirect, metacopy, origin); only the
# whiteout conversion above may write them, never the layer's content.
_OVERLAY_XATTR_PREFIX = "trusted.overlay."

# Labels the host put on the files, not content of the tree: leaving them out
# keeps write_tar's output the same on every host.
_HOST_XATTRS = frozenset({"security.selinux"})

# Whatever a corrupt or hostile stream makes the decoders or the filesystem raise.
_BAD_ARCHIVE: tuple[type[BaseException], ...] = (
    tarfile.TarError, OSError, EOFError, ValueError, OverflowError, zlib.error, lzma.LZMAError,
)
if zstandard is not None:
    _BAD_ARCHIVE += (zstandard.ZstdError,)


# -- decompression ----------------------------------------------------------------


class _Prefixed(io.RawIOBase):
    """The bytes already read to sniff the format, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO):
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        if not data:
            return 0
        buffer[: len(data)] = data
        return len(data)


def open_decompressed(stream: BinaryIO) -> BinaryIO:
    """Return a stream of the tar inside ``stream``, decompressing it if needed.

    The format is told by its magic bytes: gzip, bzip2, xz, zstd (with the
    optional ``zstandard`` package) or, failing those, a plain tar. Closing the
    result does not close ``stream``.
    """
    head = b""
    while len(head) < 6:
        data = stream.read(6 - len(head))
        if not data:
            break
        head += data
    raw = io.BufferedReader(_Prefixed(head, stream), CHUNK)
    kind = sniff(head)
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if kind == "bzip2":
        return bz2.BZ2File(raw, mode="rb")
    if kind == "xz":
        return lzma.LZMAFile(raw, mode="rb")
    if kind == "zstd":
        if zstandard is None:
            raise InvalidArgument("zstd layers need the zstandard package")
        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
    return raw


# -- extraction -------------------------------------------------------------------


class SizeExceeded(InvalidArgument):
    """A layer went past the size its caller allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"layer exceeds its declared size of {limit} bytes")


class Limited(io.RawIOBase):
    """``src``, raising ``SizeExceeded`` once more than ``limit`` bytes were read from it."""

    def __init__(self, src: BinaryIO, limit: int) -> None:
        self._src = src
        self.limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        # Ask for one byte past the limit at most: that byte is enough to know.
        want = min(len(buffer), self.limit - self.count + 1)
        data = self._src.read(want) if want > 0 else b""
        n = len(data)
        buffer[:n] = data
        self.count += n
        if self.count > self.limit:
            raise SizeExceeded(self.limit)
        return n


def apply_layer(tar_stream: BinaryIO, dest: str, *, max_size: int | None = None) -> int:
    """Extract the uncompressed layer tar ``tar_stream`` into the directory ``dest``.

    ``dest`` is this layer's own directory (created if missing); whiteouts become
    overlayfs whiteouts in it. Returns the number of bytes of file content
    written, the layer's size. With ``max_size``, more than that many bytes of tar
    or of file content raise ``SizeExceeded`` (an ``InvalidArgument``).

    Raises ``InvalidArgument`` naming the entry on any error. ``dest`` is then
    half-written: the caller must delete it.
    """
    os.makedirs(dest, exist_ok=True)
    if max_size is not None:
        tar_stream = io.BufferedReader(Limited(tar_stream, max_size), CHUNK)
    return _Extraction(os.path.abspath(dest), max_size).run(tar_stream)


def apply_layer_file(fd: int, dest: str, *, max_size: int | None = None) -> int:
    """``apply_layer`` of an uncompressed layer tar held in the regular file ``fd``.

    Files' contents are copied by the kernel (``copy_file_range``, a reflink where the
    filesystem has them) from their offsets in the tar, never through Python: a load's
    layers, spooled to disk, unpack at the disk's speed. ``fd``'s position is not used.
    """
    if max_size is not None and os.fstat(fd).st_size > max_size:
        raise SizeExceeded(max_size)
    os.makedirs(dest, exist_ok=True)
    with os.fdopen(os.dup(fd), "rb", buffering=CHUNK) as f:
        f.seek(0)
        return _Extraction(os.path.abspath(dest), max_size, source_fd=fd).run(f)


def _copy_range(src: int, dst: int, offset: int, count: int) -> None:
    """``count`` bytes of ``src`` from ``offset`` to ``dst``'s position, in the kernel."""
    use_copy_range = True
    while count > 0:
        if use_copy_range:
            try:
                n = os.copy_file_range(src, dst, count, offset_src=offset)
            except OSError as exc:  # another filesystem, or one that cannot
                if exc.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
                    raise
                use_copy_range = False
                continue
        else:
            n = os.sendfile(dst, src, offset, count)
        if n == 0:
            raise tarfile.ReadError("unexpected end of data")
        offset += n
        count -= n


def _clean(name: str) -> str:
    """``name`` as a path relative to the layer root, with ``..`` stopped at the root."""
    return posixpath.normpath("/" + name.lstrip("/")).lstrip("/")


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _mtime_ns(member: tarfile.TarInfo) -> int:
    # A PAX mtime has sub-second digits a float would round.
    raw = member.pax_headers.get("mtime")
    if raw is not None:
        try:
            return int(decimal.Decimal(raw) * 1_000_000_000)
        except decimal.InvalidOperation:
            pass
    return int(member.mtime) * 1_000_000_000


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__


def _remove(path: str) -> None:
    """Remove whatever is at ``path``: an entry replacing it takes its place."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)  # never follows symlinks inside
    else:
        os.unlink(path)


class _Extraction:
    def __init__(self, dest: str, max_size: int | None = None, source_fd: int | None = None):
        self.dest = dest
        self.max_size = max_size
        self.source_fd = source_fd  # the tar is this file: contents copied by offset
        self.size = 0
        # Directory times are set last: writing their content would change them. Kept
        # by the path relative to dest, whose directory was that entry's.
        self.dir_times: dict[str, tuple[int, int]] = {}

    def run(self, tar_stream: BinaryIO) -> int:
        where = "at the start of the layer"
        try:
            tf = tarfile.open(
                # a file is read by seeking from header to header; a stream in order
                fileobj=tar_stream, mode="r:" if self.source_fd is not None else "r|",
                encoding="utf-8", errors="surrogateescape",
                bufsize=CHUNK,  # tarfile reads a stream 10 KiB at a time by default
            )
        except _BAD_ARCHIVE as exc:
            raise InvalidArgument(f"invalid layer archive {where}: {_reason(exc)}") from exc
        size = 0
        with tf:
            while True:
                try:
                    member = tf.next()
                except _BAD_ARCHIVE as exc:
                    raise InvalidArgument(f"invalid layer archive {where}: {_reason(exc)}") from exc
                if member is None:
                    break
                # A stream has no use for the members already seen; keeping them
                # would cost memory in proportion to the number of entries.
                del tf.members[:]
                try:
                    size += self.entry(tf, member)
                except SizeExceeded:
                    raise
                except _BAD_ARCHIVE as exc:
                    raise InvalidArgument(f"layer entry {member.name!r}: {_reason(exc)}") from exc
                where = f"after entry {member.name!r}"
        self.set_dir_times()
        return size

    def set_dir_times(self) -> None:
        for rel, (ino, ns) in self.dir_times.items():
            try:
                fd = open_no_symlinks(self.dest, rel)
            except (FileNotFoundError, NotADirectoryError):
                continue  # a later entry replaced it or one of its parents
            try:
                st = os.fstat(fd)
                if stat.S_ISDIR(st.st_mode) and st.st_ino == ino:
                    # An O_PATH descriptor takes no futimens; its /proc link is the inode.
                    os.utime(f"/proc/self/fd/{fd}", ns=(ns, ns))
            except _BAD_ARCHIVE as exc:
                raise InvalidArgument(f"layer directory {rel!r}: {_reason(exc)}") from exc
            finally:
                os.close(fd)

    def entry(self, tf: tarfile.TarFile, member: tarfile.TarInfo) -> int:
        rel = _clean(member.name)
        if not rel:
            return 0  # the layer root's metadata belongs to the snapshotter
        parent_rel, base = posixpath.split(rel)
        if any(part.startswith(WHITEOUT_META_PREFIX) for part in parent_rel.split("/")):
            return 0  # inside an aufs metadata directory such as .wh..wh.plnk
        if base.startswith(WHITEOUT_PREFIX):
            self.whiteout(parent_rel, base)
            return 0
        parent = mkdir_all_in_root(self.dest, parent_rel)
        path = os.path.join(parent, base)

        if member.isdir():
            self.directory(path)
            self.metadata(path, member)
            self.dir_times[os.path.relpath(path, self.dest)] = (os.lstat(path).st_ino, _mtime_ns(member))
            return 0
        if member.islnk():
            self.hardlink(path, member.linkname)
            return 0
        if not (member.isreg() or member.issym() or member.isdev()):
            raise ValueError(f"unsupported entry type {member.type!r}")
        _remove(path)
        if member.isreg():
            return self.regular(path, tf, member)
        if member.issym():
            os.symlink(member.linkname, path)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        else:
            os.mkfifo(path, 0o600)
        self.metadata(path, member, symlink=member.issym())
        ns = _mtime_ns(member)
        os.utime(path, ns=(ns, ns), follow_symlinks=False)
        return 0

    def whiteout(self, parent_rel: str, base: str) -> None:
        parent = mkdir_all_in_root(self.dest, parent_rel)
        if base == WHITEOUT_OPAQUE:
            os.setxattr(parent, OPAQUE_XATTR, b"y", follow_symlinks=False)
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return
        name = base[len(WHITEOUT_PREFIX):]
        if name in ("", ".", ".."):
            raise ValueError("invalid whiteout name")
        path = os.path.join(parent, name)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))
            return
        # The path came from this same layer, and a whiteout hides only what lower
        # layers hold (OCI layer spec). Our entry already hides a lower file; a
        # directory must also stop lower ones merging into it.
        if stat.S_ISDIR(st.st_mode):
            os.setxattr(path, OPAQUE_XATTR, b"y", follow_symlinks=False)

    def directory(self, path: str) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode):
            return  # a directory over a directory merges
        if st is not None:
            os.unlink(path)
        os.mkdir(path, 0o700)
        if st is not None and _is_whiteout(st):
            # Deleted and recreated in this layer: the lower directory's
            # content must stay hidden, which overlayfs calls opaque.
            os.setxattr(path, OPAQUE_XATTR, b"y", follow_symlinks=False)

    def hardlink(self, path: str, linkname: str) -> None:
        target_rel = _clean(linkname)
        if not target_rel:
            raise ValueError("hard link to the layer root")
        target_parent, target_base = posixpath.split(target_rel)
        # The target's own last component is not followed: a hard link to a
        # symlink links the symlink, as link(2) does.
        target = os.path.join(resolve_in_root(self.dest, target_parent), target_base)
        if target == path:
            return
        try:
            os.lstat(target)  # before anything is removed
        except (FileNotFoundError, NotADirectoryError):
            raise ValueError(f"hard link target {linkname!r} not found in the layer") from None
        _remove(path)
        # No metadata: it belongs to the target's inode, and changing it through a
        # link that names a symlink would follow that symlink.
        os.link(target, path, follow_symlinks=False)

    def regular(self, path: str, tf: tarfile.TarFile, member: tarfile.TarInfo) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        written = 0
        if self.source_fd is not None and not member.issparse():
            if self.max_size is not None and self.size + member.size > self.max_size:
                raise SizeExceeded(self.max_size)
            fd = os.open(path, flags, 0o600)
            try:
                _copy_range(self.source_fd, fd, member.offset_data, member.size)
                self.metadata(fd, member)
                ns = _mtime_ns(member)
                os.utime(fd, ns=(ns, ns))
            finally:
                os.close(fd)
            self.size += member.size
            return member.size
        src = tf.extractfile(member)
        with os.fdopen(os.open(path, flags, 0o600), "wb") as out:
            while chunk := src.read(CHUNK):
                out.write(chunk)
                written += len(chunk)
                # a sparse entry's holes come out as zeros the tar never held
                if self.max_size is not None and self.size + written > self.max_size:
                    raise SizeExceeded(self.max_size)
            out.flush()
            fd = out.fileno()
            self.metadata(fd, member)
            ns = _mtime_ns(member)
            os.utime(fd, ns=(ns, ns))
        self.size += written
        return written

    def metadata(self, target: str | int, member: tarfile.TarInfo, symlink: bool = False) -> None:
        """Owner, xattrs and mode of ``target``, a path not to follow or an open fd."""
        follow = isinstance(target, int)  # os refuses follow_symlinks=False with an fd
        os.chown(target, member.uid, member.gid, follow_symlinks=follow)
        for key, value in member.pax_headers.items():
            if not key.startswith(PAX_XATTR):
                continue
            name = key[len(PAX_XATTR):]
            if name.startswith(_OVERLAY_XATTR_PREFIX):
                continue
            try:
                os.setxattr(
                    target, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=follow
                )
            except OSError as exc:
                # Docker's choice too: user.* xattrs cannot go on symlinks or
                # devices, and some filesystems take none; the layer still works.
                if exc.errno not in (errno.EPERM, errno.ENOTSUP):
                    raise
                log.warning("layer entry %r: xattr %s not set: %s", member.name, name, _reason(exc))
        # After chown, which clears setuid and setgid; symlinks have no mode of their own.
        if not symlink:
            os.chmod(target, member.mode & 0o7777, follow_symlinks=follow)


# -- writing ----------------------------------------------------------------------


def _walk(root: str) -> Iterator[tuple[str, bool]]:
    """Each path under ``root``, relative, and whether it is a directory; symlinks not followed."""
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(os.path.join(root, rel) if rel else root) as entries:
            for entry in entries:
                child = f"{rel}/{entry.name}" if rel else entry.name
                is_dir = entry.is_dir(follow_symlinks=False)
                yield child, is_dir
                if is_dir:
                    stack.append(child)


def _xattrs(path: str) -> dict[str, str]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as exc:
        if exc.errno == errno.ENOTSUP:
            return {}
        raise
    headers = {}
    for name in sorted(names):
        if name in _HOST_XATTRS:
            continue
        value = os.getxattr(path, name, follow_symlinks=False)
        headers[PAX_XATTR + name] = value.decode("utf-8", "surrogateescape")
    return headers


def write_tar(
    root: str,
    out: BinaryIO,
    *,
    mtime: int | None = None,
    uid: int | None = None,
    gid: int | None = None,
) -> None:
    """Write the tree under ``root`` to ``out`` as a deterministic, uncompressed tar.

    Entries are sorted by their names (relative, directories ending in ``/``,
    ``root`` itself left out), in PAX format with numeric ids only. ``mtime``,
    ``uid`` and ``gid`` override every entry's, so the same tree always gives
    the same bytes. Files sharing an inode become hard links to the first one;
    sockets are left out, as tar cannot hold them. ``out`` is not closed.
    """
    root = os.path.abspath(root)
    names = sorted(
        (os.fsencode(rel + "/" if is_dir else rel), rel) for rel, is_dir in _walk(root)
    )
    first_link: dict[tuple[int, int], str] = {}
    with tarfile.open(
        fileobj=out,
        mode="w|",
        format=tarfile.PAX_FORMAT,
        encoding="utf-8",
        errors="surrogateescape",
        copybufsize=CHUNK,
    ) as tf:
        for _, rel in names:
            path = os.path.join(root, rel)
            st = os.lstat(path)
            if stat.S_ISSOCK(st.st_mode):
                continue
            info = tarfile.TarInfo(rel)
            info.mode = stat.S_IMODE(st.st_mode)
            info.uid = st.st_uid if uid is None else uid
            info.gid = st.st_gid if gid is None else gid
            info.uname = info.gname = ""
            # Whole seconds, as Docker writes them.
            info.mtime = int(st.st_mtime) if mtime is None else mtime
            info.pax_headers = _xattrs(path)
            if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                if key in first_link:
                    info.type = tarfile.LNKTYPE
                    info.linkname = first_link[key]
                    tf.addfile(info)
                    continue
                first_link[key] = rel
            if stat.S_ISREG(st.st_mode):
                info.type = tarfile.REGTYPE
                info.size = st.st_size
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                with os.fdopen(fd, "rb") as src:
                    tf.addfile(info, src)
                continue
            if stat.S_ISDIR(st.st_mode):
                info.type = tarfile.DIRTYPE
            elif stat.S_ISLNK(st.st_mode):
                info.type = tarfile.SYMTYPE
                info.linkname = os.readlink(path)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
                info.devmajor = os.major(st.st_rdev)
                info.devminor = os.minor(st.st_rdev)
            elif stat.S_ISFIFO(st.st_mode):
                info.type = tarfile.FIFOTYPE
            tf.addfile(info)


def gzip_stream(src: BinaryIO, dst: BinaryIO, level: int = 6) -> None:
    """Gzip ``src`` into ``dst`` in chunks, with no name and mtime 0 in the header.

    The same input then always gives the same bytes, so a compressed layer's
    digest depends only on its tar. ``dst`` is not closed.
    """
    with gzip.GzipFile(filename="", mode="wb", compresslevel=level, fileobj=dst, mtime=0) as gz:
        while chunk := src.read(CHUNK):
            gz.write(chunk)
