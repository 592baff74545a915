"""COPY/ADD sources inside a root: the build context, another stage's or image's root, or
a directory a URL was downloaded into. Read-only; ``build.copier`` writes them.

API (everything takes a directory descriptor ``root_fd``, e.g. ``os.open(context_dir,
O_PATH | O_DIRECTORY)`` or a ``MountedRoots`` descriptor; nothing is ever reached outside
it: ``..`` stops at the root, symlinks resolve as if the root were ``/``)::

    resolve_sources(root_fd, sources, cmd="COPY", in_context=True) -> list[Source]
        each source word as written (unexpanded words already expanded by the caller):
        "/" and "./" prefixes dropped, Go globs (``*``, ``?``, ``[...]``) matched against
        every path of the root; a path climbing out by ``..`` is refused ("COPY failed:
        forbidden path outside the build context: ../x ()"), symlinks are clamped inside
        the root; a missing one raises errors.InvalidArgument with moby's text ("COPY failed: file not found in build context or excluded by
        .dockerignore: stat x: file does not exist"; with in_context False, as for
        ``--from``: "COPY failed: stat x: file does not exist"); no match at all:
        "COPY failed: no source files were specified"
    check_destination(cmd, count, dest)         several sources need a dest ending in "/"
    sources_hash(sources) -> str                what moby puts in history and cache keys:
                                                "file:<hex>", "dir:<hex>" or "multi:<hex>"
    read_dockerfile(root_fd, name) -> str       the Dockerfile in the context (moby's texts:
                                                "Cannot locate specified Dockerfile: x", the
                                                lower-case "dockerfile" fallback, empty refused)
    drop_ignored_build_files(root_fd, dockerfile)
                                                after reading it, as moby's daemon does: the
                                                Dockerfile and .dockerignore leave the context
                                                if .dockerignore excludes them

A ``Source`` is what ``build.copier.copy_sources`` takes: its path in the root (as matched,
not resolved: the destination name of a symlink source is the link's name), whether it is
a directory (its content is copied, not the directory itself), its hash, and whether ADD
may extract it (never for a download).

The hash is moby's tarsum v1 per entry: sha256 over the entry's tar header fields (name,
"dir/" for a directory, permission mode, uid, gid, size, type, link target, empty user and
group names, device numbers, the security.capability xattr; not the mtime, so a ``touch``
keeps the cache as in Docker) followed by the content; a directory's is sha256 over its
entries' hashes sorted, joined by ",". For a context the docker CLI sent (owners 0:0) it is
dockerd's hash exactly (``file:aec08426...`` for a 0644 "A\n" a.txt, as ORACLE12 recorded).
Any change of content, name, mode or owner changes it.
"""

import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from ketch import errors
from ketch.archive import gomatch
from ketch.archive.dockerignore import BadPattern, PatternMatcher, read_patterns
from ketch.linux.safepath import open_in_root, reopen

CHUNK = 1 << 20
_NOFOLLOW = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Source:
    path: str  # relative to the root, "/"-separated, "." for the root itself
    is_dir: bool
    hash: str  # "file:<hex>" or "dir:<hex>"
    decompress: bool = True  # ADD may extract it if it is a tar (not for URLs)

    @property
    def name(self) -> str:
        """The name a file source gets under a directory destination."""
        return self.path.rstrip("/").rsplit("/", 1)[-1] or "."


def resolve_sources(root_fd: int, sources: list[str] | tuple[str, ...], cmd: str = "COPY",
                    in_context: bool = True) -> list[Source]:
    out: list[Source] = []
    for word in sources:
        out.extend(_resolve_one(root_fd, word, cmd, in_context))
    if not out:
        raise errors.InvalidArgument(f"{cmd} failed: no source files were specified")
    return out


def check_destination(cmd: str, count: int, dest: str) -> None:
    if count > 1 and not dest.endswith("/"):
        raise errors.InvalidArgument(
            f"When using {cmd} with more than one source file, the destination must be a directory and end with a /")


def sources_hash(sources: list[Source] | tuple[Source, ...]) -> str:
    if len(sources) == 1:
        return sources[0].hash
    return _hash_list("multi", [s.hash for s in sources])


def _hash_list(prefix: str, hashes: list[str]) -> str:
    return prefix + ":" + hashlib.sha256(",".join(hashes).encode()).hexdigest()


def _resolve_one(root_fd: int, word: str, cmd: str, in_context: bool) -> list[Source]:
    path = word.removeprefix("/").removeprefix("./")
    if _has_wildcards(path):
        return [_source(root_fd, rel, cmd, in_context) for rel in _glob(root_fd, path)]
    return [_source(root_fd, path, cmd, in_context)]


def _has_wildcards(name: str) -> bool:
    i = 0
    while i < len(name):
        if name[i] == "\\":
            i += 1
        elif name[i] in "*?[":
            return True
        i += 1
    return False


def _glob(root_fd: int, pattern: str) -> Iterator[str]:
    """The paths under the root that Go's ``filepath.Match(pattern, path)`` accepts, in
    ``filepath.Walk`` order. A malformed pattern matches nothing (moby ignores the error).
    Only as deep as the pattern has components: ``*`` never matches a ``/``."""
    depth = pattern.count("/") + 1

    def walk(dir_fd: int, rel: str, level: int) -> Iterator[str]:
        for name, is_dir, child in _children(dir_fd):
            path = f"{rel}/{name}" if rel else name
            try:
                try:
                    hit = gomatch.match(pattern, path)
                except gomatch.BadPattern:
                    hit = False
                if hit:
                    yield path
                if is_dir and level < depth:
                    yield from walk(child, path, level + 1)
            finally:
                os.close(child)

    fd = os.dup(root_fd)
    try:
        yield from walk(fd, "", 1)
    finally:
        os.close(fd)


def _children(dir_fd: int) -> Iterator[tuple[str, bool, int]]:
    """(name, is a directory, O_PATH descriptor opened without following) per entry,
    sorted by name; the caller closes each descriptor."""
    readable = reopen(dir_fd, os.O_RDONLY | os.O_DIRECTORY)
    try:
        names = sorted(os.listdir(readable))
    finally:
        os.close(readable)
    for name in names:
        try:
            child = os.open(name, _NOFOLLOW, dir_fd=dir_fd)
        except FileNotFoundError:
            continue  # gone meanwhile
        yield name, stat.S_ISDIR(os.fstat(child).st_mode), child


def _source(root_fd: int, path: str, cmd: str, in_context: bool) -> Source:
    shown = path or "."
    lexical = gomatch.clean(shown)
    if lexical == ".." or lexical.startswith("../"):  # a symlink is clamped; a path is refused
        raise errors.InvalidArgument(f"{cmd} failed: forbidden path outside the build context: {shown} ()")
    try:
        fd = open_in_root(root_fd, path, follow=True)
    except (FileNotFoundError, NotADirectoryError) as exc:
        what = "file does not exist" if isinstance(exc, FileNotFoundError) else "not a directory"
        prefix = "file not found in build context or excluded by .dockerignore: " if in_context else ""
        raise errors.InvalidArgument(f"{cmd} failed: {prefix}stat {shown}: {what}") from None
    except OSError as exc:
        raise errors.InvalidArgument(f"{cmd} failed: stat {shown}: {exc.strerror.lower()}") from None
    try:
        st = os.fstat(fd)
        name = _rel_in_root(root_fd, fd) or lexical
        if stat.S_ISDIR(st.st_mode):
            hashes = sorted(_tree_hashes(fd, "" if name == "." else name, st))
            return Source(shown, True, _hash_list("dir", hashes))
        return Source(shown, False, "file:" + _entry_hash(fd, name, st))
    finally:
        os.close(fd)


def _rel_in_root(root_fd: int, fd: int) -> str:
    """Where ``fd`` is, relative to the root (moby hashes the resolved path: a symlink
    source hashes as its target); "" if the kernel cannot say."""
    try:
        root = os.readlink(f"/proc/self/fd/{root_fd}")
        here = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""
    if here == root:
        return "."
    prefix = root.rstrip("/") + "/"
    return here[len(prefix):] if here.startswith(prefix) else ""


def _tree_hashes(dir_fd: int, rel: str, st: os.stat_result) -> Iterator[str]:
    """The hash of the directory (unless it is the root) and of everything under it."""
    if rel:
        yield _entry_hash(dir_fd, rel, st)
    for name, is_dir, child in _children(dir_fd):
        try:
            path = f"{rel}/{name}" if rel else name
            cst = os.fstat(child)
            if is_dir:
                yield from _tree_hashes(child, path, cst)
            else:
                yield _entry_hash(child, path, cst)
        finally:
            os.close(child)


def _entry_hash(fd: int, name: str, st: os.stat_result) -> str:
    """tarsum v1 of one entry: its header fields then its content (``fd`` is O_PATH)."""
    mode = st.st_mode
    link = ""
    if stat.S_ISLNK(mode):
        link = os.readlink("", dir_fd=fd)
        flag = "2"
    elif stat.S_ISDIR(mode):
        flag, name = "5", name + "/"
    elif stat.S_ISREG(mode):
        flag = "0"
    elif stat.S_ISCHR(mode):
        flag = "3"
    elif stat.S_ISBLK(mode):
        flag = "4"
    elif stat.S_ISFIFO(mode):
        flag = "6"
    else:
        flag = "0"
    size = st.st_size if stat.S_ISREG(mode) else 0
    dev = st.st_rdev if (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) else 0
    fields = [("name", name), ("mode", str(_tar_mode(mode))), ("uid", str(st.st_uid)),
              ("gid", str(st.st_gid)), ("size", str(size)), ("typeflag", flag),
              ("linkname", link), ("uname", ""), ("gname", ""),
              ("devmajor", str(os.major(dev))), ("devminor", str(os.minor(dev)))]
    cap = _capability(fd, mode)
    if cap is not None:
        fields.append(("security.capability", cap.decode("latin-1")))
    h = hashlib.sha256()
    for key, value in fields:
        h.update((key + value).encode("utf-8", "surrogateescape"))
    if stat.S_ISREG(mode) and size:
        rfd = reopen(fd, os.O_RDONLY)
        try:
            while chunk := os.read(rfd, CHUNK):
                h.update(chunk)
        finally:
            os.close(rfd)
    return h.hexdigest()


def _tar_mode(mode: int) -> int:
    """The tar header's mode as the docker CLI's context tar has it: permission bits and
    setuid/setgid/sticky, no type bits."""
    return stat.S_IMODE(mode)


def _capability(fd: int, mode: int) -> bytes | None:
    if not stat.S_ISREG(mode):
        return None
    try:
        return os.getxattr(f"/proc/self/fd/{fd}", "security.capability")
    except OSError:
        return None


# -- the Dockerfile in the context -------------------------------------------------------

def read_dockerfile(root_fd: int, name: str) -> str:
    """The Dockerfile's text; ``name`` is relative to the context (``request.dockerfile``)."""
    try:
        fd = open_in_root(root_fd, name, follow=True)
    except (FileNotFoundError, NotADirectoryError):
        if name == "Dockerfile":
            try:
                return read_dockerfile(root_fd, "dockerfile")
            except errors.InvalidArgument:
                pass
        raise errors.InvalidArgument(f"Cannot locate specified Dockerfile: {name}") from None
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise errors.InvalidArgument(f"Cannot locate specified Dockerfile: {name}")
        data = _read_all(fd)
    finally:
        os.close(fd)
    if not data:
        raise errors.InvalidArgument(f"the Dockerfile ({name}) cannot be empty")
    return data.decode("utf-8", "surrogateescape")


def _read_all(path_fd: int) -> bytes:
    rfd = reopen(path_fd, os.O_RDONLY)
    try:
        parts = []
        while chunk := os.read(rfd, CHUNK):
            parts.append(chunk)
        return b"".join(parts)
    finally:
        os.close(rfd)


def drop_ignored_build_files(root_fd: int, dockerfile: str) -> None:
    """moby's ``removeDockerfile``: if ``.dockerignore`` excludes itself or the Dockerfile
    (the CLI sent them anyway), remove them so COPY cannot see them. A malformed
    .dockerignore raises errors.InvalidArgument with Go's text."""
    try:
        fd = open_in_root(root_fd, ".dockerignore", follow=True)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return
        text = _read_all(fd).decode("utf-8", "surrogateescape")
    finally:
        os.close(fd)
    try:
        matcher = PatternMatcher(read_patterns(text))
    except BadPattern as exc:
        raise errors.InvalidArgument(str(exc)) from None
    for name in (".dockerignore", dockerfile):
        if matcher.matches_legacy(name):
            _remove_in_root(root_fd, name)


def _remove_in_root(root_fd: int, path: str) -> None:
    parent, _, name = gomatch.clean(path).rpartition("/")
    try:
        pfd = open_in_root(root_fd, parent, follow=True) if parent else os.dup(root_fd)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        os.unlink(name, dir_fd=pfd)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.EISDIR):
            raise
    finally:
        os.close(pfd)
