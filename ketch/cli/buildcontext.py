"""The build context on the client side, as docker/cli's ``image/build`` prepares it:
what ``ketch build PATH | URL | -`` sends, and the Dockerfile's name inside it.

    PATH   a directory: tarred here (owners 0:0), minus what ``.dockerignore`` excludes
           (``<Dockerfile>.dockerignore`` next to the Dockerfile first, as BuildKit); the
           Dockerfile and .dockerignore are always sent (the daemon drops them if excluded)
    -      stdin: a tar (plain or compressed) as it is, or a Dockerfile put in a tar
    URL    git or http(s): not fetched here, sent as ``remote=`` for the daemon to fetch

A Dockerfile outside the context (``-f ../x``) or from stdin (``-f -``) is added to the tar
under a random name, ``.dockerfile.<20 hex>``, and to its .dockerignore (docker/cli's
AddDockerfileToBuildContext). The tar is spooled to a temporary file: its size is the
"Sending build context" line.
"""

import io
import os
import secrets
import stat
import tarfile
import tempfile
import time
from dataclasses import dataclass

from ketch.archive import dockerignore
from ketch.archive.compression import sniff
from ketch.archive.urlkind import is_git_url, is_url

DEFAULT_DOCKERFILE = "Dockerfile"
CHUNK = 1 << 20


class ContextError(Exception):
    """The context could not be prepared; the text is docker/cli's."""


@dataclass
class Context:
    """What goes to the daemon: a spooled tar (None for a remote context), the
    Dockerfile's path in it, and the remote URL."""
    body: object | None  # a file positioned at 0
    size: int
    dockerfile: str
    remote: str = ""

    def chunks(self):
        if self.body is None:
            return None
        return iter(lambda: self.body.read(CHUNK), b"")

    def close(self) -> None:
        if self.body is not None:
            self.body.close()


def prepare(context: str, dockerfile: str, stdin) -> Context:
    """The context for ``ketch build <context>`` with ``-f dockerfile`` ("" if not given)."""
    if dockerfile == "-" and context == "-":
        raise ContextError("invalid argument: can't use stdin for both build context and dockerfile")
    if context == "-":
        try:
            ctx = _from_reader(stdin, dockerfile)
        except ContextError as exc:
            raise ContextError(f"unable to prepare context from STDIN: {exc}") from None
    elif os.path.exists(context):
        ctx = _from_dir(context, dockerfile, stdin)
    elif is_git_url(context) or is_url(context):
        return Context(None, 0, dockerfile if dockerfile != "-" else "", remote=context)
    else:
        raise ContextError(f'unable to prepare context: path "{context}" not found')
    return ctx


def _is_archive(head: bytes) -> bool:
    if sniff(head) != "tar":  # compressed
        return True
    try:
        with tarfile.open(fileobj=io.BytesIO(head), mode="r|") as tf:
            return tf.next() is not None
    except (tarfile.TarError, EOFError):
        return False


def _from_reader(stdin, dockerfile: str) -> Context:
    """docker/cli's GetContextFromReader."""
    head = stdin.read(1024)
    spool = tempfile.TemporaryFile()
    if _is_archive(head):
        spool.write(head)
        while chunk := stdin.read(CHUNK):
            spool.write(chunk)
        return _spooled(spool, dockerfile or DEFAULT_DOCKERFILE)
    if dockerfile == "-":
        raise ContextError("build context is not an archive")
    if dockerfile:
        raise ContextError("ambiguous Dockerfile source: both stdin and flag correspond to Dockerfiles")
    data = head + stdin.read()
    with tarfile.open(fileobj=spool, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo(DEFAULT_DOCKERFILE)
        info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
        tf.addfile(info, io.BytesIO(data))
        end = _end_of(tf)
    return _spooled(_go_length(spool, end), DEFAULT_DOCKERFILE)


def _end_of(tf: tarfile.TarFile) -> int:
    """Where the tar ends as Go's archive/tar writes it: two zero blocks after the last
    entry, no padding to tarfile's 10 KiB records (the size docker's client reports)."""
    return tf.offset + 2 * tarfile.BLOCKSIZE


def _go_length(spool, end: int):
    spool.truncate(end)
    spool.seek(end)
    return spool


def _spooled(spool, dockerfile: str) -> Context:
    size = spool.tell()
    spool.seek(0)
    return Context(spool, size, dockerfile)


def _resolve_dir(given: str) -> str:
    """docker/cli's resolveAndValidateContextPath."""
    path = os.path.abspath(given)
    try:
        path = _eval_symlinks(path)
    except OSError as exc:
        raise ContextError(f"unable to prepare context: unable to evaluate symlinks in context path: "
                           f"lstat {exc.filename}: {_strerror(exc)}") from None
    if not os.path.isdir(path):
        raise ContextError(f"unable to prepare context: context must be a directory: {path}")
    return path


def _eval_symlinks(path: str) -> str:
    """Go's filepath.EvalSymlinks: the path with every link resolved; a missing component
    is an error naming it."""
    os.lstat(path)  # the error names the path as given
    return os.path.realpath(path, strict=True)


def _strerror(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def _dockerfile_path(context_dir: str, given: str) -> str:
    """docker/cli's getDockerfileRelPath: the Dockerfile's absolute path."""
    if given:
        path = os.path.abspath(given)
    else:
        path = os.path.join(context_dir, DEFAULT_DOCKERFILE)
        lower = os.path.join(context_dir, DEFAULT_DOCKERFILE.lower())
        if not os.path.lexists(path) and os.path.lexists(lower):
            path = lower
    try:
        return _eval_symlinks(path)
    except FileNotFoundError as exc:
        raise ContextError(f"unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
                           f"lstat {exc.filename or path}: no such file or directory") from None
    except OSError as exc:
        raise ContextError(f"unable to prepare context: unable to stat Dockerfile: {_strerror(exc)}") from None


def _ignore_patterns(context_dir: str, dockerfile_abs: str | None) -> list[str]:
    candidates = [os.path.join(context_dir, ".dockerignore")]
    if dockerfile_abs:
        candidates.insert(0, dockerfile_abs + ".dockerignore")  # BuildKit's per-Dockerfile file
    for path in candidates:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return dockerignore.read_patterns(f.read())
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ContextError(f"error reading .dockerignore: {_strerror(exc)}") from None
    return []


def _from_dir(context: str, dockerfile: str, stdin) -> Context:
    """docker/cli's GetContextFromLocalDir, then the tar of what .dockerignore keeps."""
    context_dir = _resolve_dir(context)
    from_stdin = dockerfile == "-"
    dockerfile_abs = None if from_stdin else _dockerfile_path(context_dir, dockerfile)
    rel = "-" if from_stdin else os.path.relpath(dockerfile_abs, context_dir)
    outside = rel == ".." or rel.startswith("../")
    extra = None
    if from_stdin:
        extra = stdin.read()
    elif outside:
        try:
            with open(dockerfile_abs, "rb") as f:
                extra = f.read()
        except OSError as exc:
            raise ContextError(f"unable to open Dockerfile: open {dockerfile}: {_strerror(exc)}") from None
    try:
        patterns = _ignore_patterns(context_dir, dockerfile_abs)
        spool = tempfile.TemporaryFile()
        random_name = ".dockerfile." + secrets.token_hex(10) if extra is not None else ""
        end = _write_tar(spool, context_dir, patterns, rel if not (from_stdin or outside) else "",
                         from_stdin or outside, random_name, extra)
        _go_length(spool, end)
    except dockerignore.BadPattern as exc:
        raise ContextError(f"checking context: {exc}") from None
    return _spooled(spool, random_name or rel)


def _write_tar(out, root: str, patterns: list[str], dockerfile: str, skip_dockerfile_keep: bool,
               random_name: str, extra: bytes | None) -> int:
    """archive.TarWithOptions with ChownOpts 0:0, then (a Dockerfile from elsewhere) the
    random-named file and the .dockerignore naming it; where the tar ends (``_end_of``)."""
    names = dockerignore.walk_context(root, patterns, dockerfile or DEFAULT_DOCKERFILE,
                                      dockerfile_from_stdin=skip_dockerfile_keep)
    ignore_text = None
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as tf:
        inodes: dict[tuple[int, int], str] = {}
        for name in names:
            path = os.path.join(root, name)
            if random_name and name == ".dockerignore":
                with open(path, "rb") as f:
                    ignore_text = f.read()
                continue
            _add(tf, path, name, inodes)
        if random_name:
            _add_file(tf, random_name, extra or b"", 0o600)
            body = (ignore_text if ignore_text is not None else b".dockerignore") + \
                f"\n{random_name}\n".encode()
            _add_file(tf, ".dockerignore", body, 0o600)
        end = _end_of(tf)
    return end


def _add(tf: tarfile.TarFile, path: str, name: str, inodes: dict) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return  # gone since the walk
    info = tf.gettarinfo(path, name)
    if info is None:
        return  # a socket: not sent (docker's tar skips them too)
    info.mtime = int(info.mtime)  # moby's FileInfoHeader: whole seconds (no PAX record for it)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
        key = (st.st_dev, st.st_ino)
        if key in inodes:
            info.type, info.linkname, info.size = tarfile.LNKTYPE, inodes[key], 0
            tf.addfile(info)
            return
        inodes[key] = name
    if info.isreg():
        with open(path, "rb") as f:
            tf.addfile(info, f)
    elif info.isdir() or info.issym() or info.ischr() or info.isblk() or info.isfifo():
        tf.addfile(info)


def _add_file(tf: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    tf.addfile(info, io.BytesIO(data))
