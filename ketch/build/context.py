"""COPY/ADD sources inside a root: the build context, another stage's or image's root, or
a directory a URL was downloaded into. Read-only; ``build.copier`` writes them.

API (everything takes a directory descriptor ``root_fd``, e.g. ``os.open(context_dir,
O_PATH | O_DIRECTORY)`` or a ``MountedRoots`` descriptor; nothing is ever reached outside
it: symlinks resolve as if the root were ``/``, their ``..`` stopping at it)::

    resolve_sources(root_fd, sources, cmd="COPY", in_context=True) -> list[Source]
        each source word as written (unexpanded words already expanded by the caller):
        "/" and "./" prefixes dropped, Go globs (``*``, ``?``, ``[...]``) matched against
        every path of the root; a path climbing out by ``..`` is refused ("COPY failed:
        forbidden path outside the build context: ../x ()"), symlinks are clamped inside
        the root; a missing one raises errors.InvalidArgument with moby's text ("COPY
        failed: file not found in build context or excluded by .dockerignore: stat x: file
        does not exist"; with in_context False, as for ``--from``: "COPY failed: stat x:
        file does not exist"); no match at all:
        "COPY failed: no source files were specified"
    resolve_word(root_fd, word, cmd="COPY", in_context=True) -> list[Source]
        the same for one word, without the "no source files" check (for callers that mix
        in other sources, e.g. ADD's downloads, in order)
    check_destination(cmd, count, dest)         several sources need a dest ending in "/"
    sources_hash(sources) -> str                what moby puts in history and cache keys:
                                                "file:<hex>", "dir:<hex>" or "multi:<hex>"
    read_dockerfile(root_fd, name) -> (name, text)  the Dockerfile in the context (moby's
                                                texts), a regular file of 16 MiB at most

Hashes: with ``in_context`` (the build context) as the docker CLI's context tar makes moby
hash it, exactly dockerd's values; otherwise (another image's root, a download) as moby's
lazy sources hash (type bits in the mode, owner names from the daemon host's passwd).

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

import functools
import grp
import hashlib
import os
import pwd
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from ketch import errors
from ketch.archive import gomatch
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
        out.extend(resolve_word(root_fd, word, cmd, in_context))
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


def resolve_word(root_fd: int, word: str, cmd: str = "COPY", in_context: bool = True) -> list[Source]:
    """One source word's sources (none for a glob that matches nothing)."""
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
            hashes = sorted(_tree_hashes(fd, "" if name == "." else name, st, not in_context))
            return Source(shown, True, _hash_list("dir", hashes))
        return Source(shown, False, "file:" + _entry_hash(fd, name, st, not in_context))
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


def _tree_hashes(dir_fd: int, rel: str, st: os.stat_result, lazy: bool) -> Iterator[str]:
    """The hash of the directory (unless it is the root) and of everything under it."""
    if rel:
        yield _entry_hash(dir_fd, rel, st, lazy)
    for name, is_dir, child in _children(dir_fd):
        try:
            path = f"{rel}/{name}" if rel else name
            cst = os.fstat(child)
            if is_dir:
                yield from _tree_hashes(child, path, cst, lazy)
            else:
                yield _entry_hash(child, path, cst, lazy)
        finally:
            os.close(child)


def _entry_hash(fd: int, name: str, st: os.stat_result, lazy: bool = False) -> str:
    """tarsum v1 of one entry: its header fields then its content (``fd`` is O_PATH).
    ``lazy``: as moby hashes a root it reads itself (another image's, a download): the
    header of its own ``archive.FileInfoHeader``, type bits in the mode and the owner's
    names looked up on the daemon's host (``ADD <url>`` then hashes as dockerd's does).
    Otherwise as the docker CLI's context tar has it (permission bits, no names)."""
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
    tar_mode = stat.S_IMODE(mode) | (stat.S_IFMT(mode) if lazy else 0)
    uname, gname = (_user_name(st.st_uid), _group_name(st.st_gid)) if lazy else ("", "")
    fields = [("name", name), ("mode", str(tar_mode)), ("uid", str(st.st_uid)),
              ("gid", str(st.st_gid)), ("size", str(size)), ("typeflag", flag),
              ("linkname", link), ("uname", uname), ("gname", gname),
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


@functools.lru_cache(maxsize=256)
def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


@functools.lru_cache(maxsize=256)
def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return ""


def _capability(fd: int, mode: int) -> bytes | None:
    if not stat.S_ISREG(mode):
        return None
    try:
        return os.getxattr(f"/proc/self/fd/{fd}", "security.capability")
    except OSError:
        return None


# -- the Dockerfile in the context -------------------------------------------------------

MAX_DOCKERFILE = 16 << 20


def read_dockerfile(root_fd: int, name: str) -> tuple[str, str]:
    """(the name found, the Dockerfile's text); ``name`` is relative to the context
    (``request.dockerfile``), symlinks resolved inside it. moby's texts: "Cannot locate
    specified Dockerfile: x" (a missing "Dockerfile" falls back to "dockerfile"), "the
    Dockerfile (x) cannot be empty". Only a regular file of MAX_DOCKERFILE bytes at most
    is read: a FIFO would block the thread, a device could be read forever."""
    try:
        data = read_regular(root_fd, name, MAX_DOCKERFILE)
    except FileNotFoundError:
        if name == "Dockerfile":
            try:
                return read_dockerfile(root_fd, "dockerfile")
            except errors.InvalidArgument:
                pass
        raise errors.InvalidArgument(f"Cannot locate specified Dockerfile: {name}") from None
    if len(data) > MAX_DOCKERFILE:
        raise errors.InvalidArgument(f"the Dockerfile ({name}) is larger than {MAX_DOCKERFILE} bytes")
    if not data:
        raise errors.InvalidArgument(f"the Dockerfile ({name}) cannot be empty")
    return name, data.decode("utf-8", "replace")


def read_regular(root_fd: int, name: str, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of the regular file ``name`` in the root (symlinks
    resolved inside it); ``FileNotFoundError`` if it is missing or not a regular file."""
    try:
        fd = open_in_root(root_fd, "/" + name.lstrip("/"), follow=True)
    except NotADirectoryError:
        raise FileNotFoundError(name) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FileNotFoundError(name)
        rfd = reopen(fd, os.O_RDONLY)
    finally:
        os.close(fd)
    with open(rfd, "rb") as f:
        return f.read(limit + 1)
