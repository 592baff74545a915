"""COPY/ADD: write resolved sources (``build.context``) into the root of the image being
built, as moby's classic builder does (``builder/dockerfile/copy.go``, ``performCopy``).

API (call from the edit function given to ``BuildBackend.mutate``; ``dest_root_fd`` is
``MountedRoots.root``, ``src_root_fd`` the context's descriptor or a ``MountedRoots.sources``
one; both may be O_PATH; ``dest`` is absolute, WORKDIR applied (``dispatch.normalize_dest``),
its trailing "/" kept)::

    resolve_chown(dest_root_fd, "user:group") -> Owner
                                                names through the IMAGE's /etc/passwd and
                                                /etc/group (numbers as they are); a missing
                                                group part means the user's name/number again
    parse_chmod("755") -> int                   --chmod (octal)
    copy_sources(src_root_fd, sources, dest_root_fd, dest, CopyOptions(...))
    write_heredoc(dest_root_fd, dest, name, data, CopyOptions(...))   COPY <<EOF /path

Errors are errors.InvalidArgument with moby's texts ("failed to copy files: ...",
"unable to convert uid/gid chown string to host mapping: can't find uid for user x: no
such user: x").

The rules (moby's):

- a directory source: its content goes into ``dest`` (made if missing), never the directory
  itself; an existing directory there is merged; a non-directory in the way of a directory
  is replaced and the other way round;
- a file source: into ``dest`` itself, or ``dest/<name>`` when ``dest`` ends in "/" or is an
  existing directory; missing parents are made (0755, owned by the copy's owner);
- ``dest`` resolves inside the root: its symlinks (the image's) are followed as if the root
  were ``/``; every entry is then created by descriptor without following anything;
- mode, hard links within a copy, symlinks (as links, targets verbatim), devices and fifos
  are kept, and ``security.capability``; the mtime of files only (whole seconds, as moby's
  tar): directories and symlinks get the build's time, as dockerd 20.10's do;
- then everything written is chowned to ``owner`` (root unless --chown; ``None`` keeps the
  source's owners: COPY --from without --chown). As in Docker, that chown drops setuid/
  setgid bits and file capabilities of regular files (the kernel does on a chown);
- ADD of a local tar (plain, gzip, bzip2, xz, zstd) extracts it into ``dest`` instead, with
  the owners in the archive, entries that would leave ``dest`` refused;
- beyond the classic builder (BuildKit's): ``chmod``, ``excludes`` (.dockerignore-style
  patterns, relative to each source), ``parents`` (keep the source's path under ``dest``;
  "a/./b/c" keeps "b/c"), heredoc files (mode 0644).
"""

import errno
import os
import posixpath
import re
import shutil
import stat
from dataclasses import dataclass
from typing import BinaryIO

from ketch import errors
from ketch.archive.dockerignore import BadPattern, PatternMatcher
from ketch.archive.untar import Breakout, UntarOptions, untar
from ketch.build.compression import open_tar
from ketch.build.context import Source
from ketch.linux import userdb
from ketch.linux.safepath import open_in_root, reopen, resolve_in_root

CHUNK = 1 << 20
_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Owner:
    uid: int
    gid: int


ROOT = Owner(0, 0)


@dataclass(frozen=True)
class CopyOptions:
    owner: Owner | None = ROOT  # None: keep the source's owners
    chmod: int | None = None
    decompress: bool = False  # ADD: extract local tars
    excludes: tuple[str, ...] = ()
    parents: bool = False


_INT = re.compile(r"[+-]?[0-9]+\Z")


def parse_chmod(text: str) -> int:
    if not re.fullmatch(r"[0-7]{1,4}", text):
        raise errors.InvalidArgument(f"invalid chmod parameter: {text!r}")
    return int(text, 8)


def resolve_chown(dest_root_fd: int, chown: str) -> Owner:
    """moby's ``parseChownFlag``: "user", "user:group", numbers or names of the image."""
    prefix = "unable to convert uid/gid chown string to host mapping: "
    parts = chown.split(":")
    if len(parts) > 2:
        raise errors.InvalidArgument(prefix + "invalid chown string format: " + chown)
    user, group = (parts[0], parts[0]) if len(parts) == 1 else parts
    uid = _lookup(dest_root_fd, "/etc/passwd", user, "user", prefix + f"can't find uid for user {user}: ")
    gid = _lookup(dest_root_fd, "/etc/group", group, "group", prefix + f"can't find gid for group {group}: ")
    return Owner(uid, gid)


def _lookup(root_fd: int, path: str, name: str, kind: str, prefix: str) -> int:
    if _INT.match(name):
        return int(name)
    entries = userdb.read_entries(root_fd, path)  # the image's: guarded (a fifo, a device)
    if entries is None:
        raise errors.InvalidArgument(prefix + f"open {path}: no such file or directory")
    for fields in entries:
        fields[0] = fields[0].strip()
        if not fields[0] or fields[0] != name:
            continue
        try:
            return int(fields[2]) if len(fields) > 2 else 0
        except ValueError:
            return 0  # runc's parser leaves an unparsable id at 0
    raise errors.InvalidArgument(prefix + f"no such {kind}: {name}")


# -- the copy ------------------------------------------------------------------------------

def copy_sources(src_root_fd: int, sources: list[Source] | tuple[Source, ...], dest_root_fd: int,
                 dest: str, options: CopyOptions = CopyOptions()) -> None:
    try:
        excludes = PatternMatcher(list(options.excludes)) if options.excludes else None
    except BadPattern as exc:
        raise errors.InvalidArgument(str(exc)) from None
    for source in sources:
        try:
            _copy_one(src_root_fd, source, dest_root_fd, dest, options, excludes)
        except Breakout as exc:
            raise errors.InvalidArgument(f"failed to copy files: {exc}") from None
        except OSError as exc:
            raise errors.InvalidArgument(f"failed to copy files: {_os_text(exc)}") from None


def write_heredoc(dest_root_fd: int, dest: str, name: str, data: bytes,
                  options: CopyOptions = CopyOptions()) -> None:
    """``COPY <<name dest``: a file ``name`` with ``data`` (mode 0644, or --chmod).

    The name is the Dockerfile's, any text: BuildKit makes the file at ``path.Join("/",
    name)`` in a scratch state and copies that, so only the cleaned name's last component
    reaches dest (``<<../../etc/x`` is ``x``), never a path that climbs out of the root."""
    base = posixpath.basename(posixpath.normpath("/" + name))
    if not base:
        raise errors.InvalidArgument(f"failed to copy files: invalid heredoc name {name!r}")
    try:
        target = _file_target(dest_root_fd, dest, base)
        parent, base = _make_parents(dest_root_fd, target, options.owner or ROOT)
        try:
            _replace(parent, base, is_dir=False)
            fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600, dir_fd=parent)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                owner = options.owner or ROOT
                os.fchown(fd, owner.uid, owner.gid)
                os.fchmod(fd, options.chmod if options.chmod is not None else 0o644)
            finally:
                os.close(fd)
        finally:
            os.close(parent)
    except OSError as exc:
        raise errors.InvalidArgument(f"failed to copy files: {_os_text(exc)}") from None


def _os_text(exc: OSError) -> str:
    what = (exc.strerror or str(exc)).lower() if exc.strerror else str(exc)
    return f"{exc.filename}: {what}" if exc.filename else what


def _copy_one(src_root_fd: int, source: Source, dest_root_fd: int, dest: str,
              options: CopyOptions, excludes: PatternMatcher | None) -> None:
    if options.parents:
        dest = _with_parents(dest, source)
    src = open_in_root(src_root_fd, source.path, follow=True)
    try:
        st = os.fstat(src)
        if stat.S_ISDIR(st.st_mode):
            _copy_directory(src, dest_root_fd, dest, options, excludes)
            return
        if excludes and (excludes.matches(source.path.strip("/")) or excludes.matches(source.name)):
            return
        if options.decompress and source.decompress and stat.S_ISREG(st.st_mode):
            rfd = reopen(src, os.O_RDONLY)
            try:
                stream = open_tar(rfd)
            finally:
                os.close(rfd)
            if stream is not None:
                with stream:
                    _extract(stream, dest_root_fd, dest)
                return
        target = _file_target(dest_root_fd, dest, source.name)
        parent, base = _make_parents(dest_root_fd, target, options.owner or ROOT)
        tree = _Tree(options)
        try:
            tree.entry(src, st, parent, base)
        finally:
            tree.finish()
            os.close(parent)
    finally:
        os.close(src)


def _with_parents(dest: str, source: Source) -> str:
    """--parents: the source's directories (after a "/./" pivot) under dest."""
    path = source.path
    if "/./" in path:
        path = path.split("/./", 1)[1]
    path = os.path.normpath("/" + path).lstrip("/")
    if source.is_dir:
        return dest.rstrip("/") + "/" + path if path not in ("", ".") else dest
    head = os.path.dirname(path)
    return (dest.rstrip("/") + "/" + head + "/") if head else (dest.rstrip("/") + "/")


def _resolved(root_fd: int, path: str) -> list[str]:
    """The components of ``path`` inside the root with every existing symlink (also the
    last) followed inside it; what does not exist is taken literally."""
    base = f"/proc/self/fd/{root_fd}"
    host = resolve_in_root(base, path)
    rel = os.path.relpath(host, base)
    return [] if rel == "." else rel.split("/")


def _file_target(root_fd: int, dest: str, name: str) -> list[str]:
    """Where a file source lands: dest itself, or dest/name for a dest ending in "/" or
    an existing directory (whose last component then is not followed: it is replaced)."""
    parts = _resolved(root_fd, dest)
    if dest.endswith("/") or _is_dir(root_fd, parts):
        return parts + _name_parts(name)
    if not parts:
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), "/")
    return parts


def _name_parts(name: str) -> list[str]:
    """A source's name (a heredoc's may hold "/" and "..") as components under the
    destination: cleaned lexically from "/", so no ".." reaches an openat() to climb out."""
    parts = [p for p in os.path.normpath("/" + name).split("/") if p]
    if not parts:
        raise errors.InvalidArgument(f"failed to copy files: invalid file name {name!r}")
    return parts


def _is_dir(root_fd: int, parts: list[str]) -> bool:
    try:
        fd = _walk(root_fd, parts)
    except OSError:
        return False
    os.close(fd)
    return True


def _walk(root_fd: int, parts: list[str]) -> int:
    """The directory ``parts`` names, each component opened without following."""
    fd = os.open(".", _DIR, dir_fd=root_fd)
    try:
        for part in parts:
            child = os.open(part, _DIR, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _make_dirs(root_fd: int, parts: list[str], owner: Owner | None) -> tuple[int, bool]:
    """The directory ``parts`` names, made with its missing parents (0755, chowned to
    ``owner``); returns its descriptor and whether the last one was made here. A
    component in the way that is not a directory raises ENOTDIR; nothing is followed."""
    fd = os.open(".", _DIR, dir_fd=root_fd)
    made = False
    try:
        for part in parts:
            made = False
            if part in ("", ".", "..") or "/" in part:  # one component, never a step up
                raise errors.InvalidArgument(f"failed to copy files: invalid path component {part!r}")
            try:
                child = os.open(part, _DIR, dir_fd=fd)
            except FileNotFoundError:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                    made = True
                except FileExistsError:
                    pass
                child = os.open(part, _DIR, dir_fd=fd)
                if made:
                    os.chmod(f"/proc/self/fd/{child}", 0o755)  # whatever the umask did
                    if owner is not None:
                        os.chown(f"/proc/self/fd/{child}", owner.uid, owner.gid)
            except OSError as exc:
                if exc.errno == errno.ELOOP:  # a symlink the resolution did not expect
                    raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), "/" + "/".join(parts)) from None
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd, made


def _make_parents(root_fd: int, parts: list[str], owner: Owner) -> tuple[int, str]:
    # the base is used with dir_fd= (unlink, rmtree, open): one plain component only
    if parts[-1] in ("", ".", "..") or "/" in parts[-1]:
        raise errors.InvalidArgument(f"failed to copy files: invalid file name {parts[-1]!r}")
    fd, _ = _make_dirs(root_fd, parts[:-1], owner)
    return fd, parts[-1]


def _replace(parent: int, name: str, is_dir: bool) -> bool:
    """Clear the way for a new entry ``name``: anything there goes unless both are
    directories (then it is merged); returns whether a directory stays."""
    try:
        old = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(old.st_mode):
        if is_dir:
            return True
        shutil.rmtree(name, dir_fd=parent)
    else:
        os.unlink(name, dir_fd=parent)
    return False


def _copy_directory(src: int, root_fd: int, dest: str, options: CopyOptions,
                    excludes: PatternMatcher | None) -> None:
    parts = _resolved(root_fd, dest)
    # moby: the destination is made (root-owned), its content copied, then the owner set on
    # what was copied and on the destination only if it was made here
    try:
        dfd, made = _make_dirs(root_fd, parts, ROOT)
    except NotADirectoryError:
        raise errors.InvalidArgument("failed to copy files: failed to copy directory: mkdir "
                                     f"/{'/'.join(parts)}: not a directory") from None
    try:
        tree = _Tree(options, excludes)
        tree.children(src, dfd, "")
        if made and options.owner is not None:
            os.chown(f"/proc/self/fd/{dfd}", options.owner.uid, options.owner.gid)
    finally:
        tree.finish()
        os.close(dfd)


class _Tree:
    """Copies entries by descriptor: the source's are O_PATH, never followed."""

    def __init__(self, options: CopyOptions, excludes: PatternMatcher | None = None) -> None:
        self.options = options
        self.excludes = excludes
        self.links: dict[tuple[int, int], tuple[int, str]] = {}  # (dev, ino) -> (parent fd, name)

    def children(self, src_dir: int, dest_dir: int, rel: str) -> None:
        readable = reopen(src_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            names = sorted(os.listdir(readable))
        finally:
            os.close(readable)
        for name in names:
            path = f"{rel}/{name}" if rel else name
            try:
                child = os.open(name, _PATH, dir_fd=src_dir)
            except FileNotFoundError:
                continue
            try:
                st = os.fstat(child)
                if self.excludes is not None and self.excludes.matches(path):
                    if not (stat.S_ISDIR(st.st_mode) and self.excludes.exclusions):
                        continue
                self.entry(child, st, dest_dir, name, path)
            finally:
                os.close(child)

    def entry(self, src: int, st: os.stat_result, parent: int, name: str, rel: str = "") -> None:
        mode = st.st_mode
        if stat.S_ISSOCK(mode):
            return  # tar cannot carry sockets; moby skips them
        is_dir = stat.S_ISDIR(mode)
        kept_dir = _replace(parent, name, is_dir)
        if stat.S_ISREG(mode) and st.st_nlink > 1:
            seen = self.links.get((st.st_dev, st.st_ino))
            if seen is not None:
                os.link(seen[1], name, src_dir_fd=seen[0], dst_dir_fd=parent, follow_symlinks=False)
                return
        if is_dir:
            if not kept_dir:
                os.mkdir(name, 0o700, dir_fd=parent)
            dfd = os.open(name, _DIR, dir_fd=parent)
            try:
                self.children(src, dfd, rel)
                self._metadata(dfd, st, src)
            finally:
                os.close(dfd)
            return
        if stat.S_ISREG(mode):
            self._write(src, parent, name)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink("", dir_fd=src), name, dir_fd=parent)
            self._link_metadata(parent, name, st)
            return
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
            os.mknod(name, stat.S_IFMT(mode) | 0o600, st.st_rdev, dir_fd=parent)
        fd = os.open(name, _PATH, dir_fd=parent)
        try:
            self._metadata(fd, st, src)
            os.utime(f"/proc/self/fd/{fd}", ns=(_mtime(st), _mtime(st)))
        finally:
            os.close(fd)
        if stat.S_ISREG(mode) and st.st_nlink > 1:
            self.links[(st.st_dev, st.st_ino)] = (os.dup(parent), name)

    def _write(self, src: int, parent: int, name: str) -> None:
        rfd = reopen(src, os.O_RDONLY)
        try:
            wfd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                          0o600, dir_fd=parent)
            try:
                _copy_data(rfd, wfd)
            finally:
                os.close(wfd)
        finally:
            os.close(rfd)

    def _metadata(self, fd: int, st: os.stat_result, src: int) -> None:
        """The source's owner, mode and capability, then the copy's owner: in moby's order
        (tar extraction, then ``fixPermissions``), so the kernel drops what a chown drops."""
        proc = f"/proc/self/fd/{fd}"
        os.chown(proc, st.st_uid, st.st_gid)
        os.chmod(proc, self.options.chmod if self.options.chmod is not None else stat.S_IMODE(st.st_mode))
        if stat.S_ISREG(st.st_mode):
            try:
                cap = os.getxattr(f"/proc/self/fd/{src}", "security.capability")
            except OSError:
                cap = None
            if cap is not None:
                os.setxattr(proc, "security.capability", cap)
        owner = self.options.owner
        if owner is not None:
            os.chown(proc, owner.uid, owner.gid)

    def _link_metadata(self, parent: int, name: str, st: os.stat_result) -> None:
        owner = self.options.owner
        uid, gid = (owner.uid, owner.gid) if owner is not None else (st.st_uid, st.st_gid)
        os.chown(name, uid, gid, dir_fd=parent, follow_symlinks=False)

    def finish(self) -> None:
        for fd, _ in self.links.values():
            os.close(fd)
        self.links = {}


def _mtime(st: os.stat_result) -> int:
    return st.st_mtime_ns - st.st_mtime_ns % 1_000_000_000  # moby's tar keeps whole seconds


def _copy_data(rfd: int, wfd: int) -> None:
    try:
        while os.copy_file_range(rfd, wfd, 1 << 30):
            pass
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise
    while chunk := os.read(rfd, CHUNK):
        view = memoryview(chunk)
        while view:
            view = view[os.write(wfd, view):]


# -- ADD's archives ------------------------------------------------------------------------

def _extract(stream: BinaryIO, root_fd: int, dest: str) -> None:
    parts = _resolved(root_fd, dest)
    fd, _ = _make_dirs(root_fd, parts, ROOT)
    os.close(fd)
    try:
        untar(stream, root_fd, "/" + "/".join(parts), UntarOptions(clamp=True))
    except OSError as exc:  # dockerd's chrooted unpack reports its errors so
        text = exc.strerror if exc.filename is None and exc.strerror else _os_text(exc)
        raise errors.InvalidArgument(f"failed to copy files: Error processing tar file(exit status 1): "
                                     f"{text}") from None
