"""``ketch cp``: docker/cli's ``cp.go`` and the client half of moby's ``archive/copy.go``.

The daemon only stats, sends a tar of one path and extracts a tar into a directory;
which directory, and under what name, is decided here from both sides' stats:
``SRC/.`` copies a directory's contents, ``SRC`` the directory itself, a trailing
``/`` on the destination asks for a directory. Local tars are written and read by
``ketch.archive`` (entries confined to the destination), never by a ``tar`` binary.
"""

import dataclasses
import os
import stat
import sys
import tempfile

from ketch.archive.pathstat import PathStat
from ketch.archive.tarwrite import write_tar
from ketch.archive.untar import Breakout, UntarOptions, untar
from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError

CP = Command("cp", "ketch cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
             "\tketch cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
             "Copy files/folders between a container and the local filesystem", (
                 FlagSpec("archive", "a", "bool", help="Archive mode (copy all uid/gid information)"),
                 FlagSpec("follow-link", "L", "bool", help="Always follow symlinks in SRC_PATH"),
                 FlagSpec("quiet", "q", "bool", help="Suppress progress output during copy. Progress "
                          "output is automatically suppressed if no terminal is attached"),
             ), min_args=2, max_args=2, aliases=("ketch container cp",))

CHUNK = 1 << 16

# As docker/cli's CopyTo: a container's tar never replaces a host directory with a file
# (nor the reverse), nor hands what it writes on the host to the container's uids.
TO_HOST = UntarOptions(no_overwrite_dir_non_dir=True, no_lchown=True)


def split_cp_arg(arg: str) -> tuple[str, str]:
    """docker/cli's ``splitCpArg``: ``CONTAINER:PATH``, unless it is a local path."""
    if os.path.isabs(arg) or arg.startswith("."):
        return "", arg  # ./file:name is a local file with a colon in its name
    container, sep, path = arg.partition(":")
    return (container, path) if sep else ("", arg)


def human_size(n: float) -> str:
    """go-units ``HumanSizeWithPrecision(n, 3)``: decimal units, 3 significant digits."""
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000.0
        i += 1
    return f"{n:.3g}{units[i]}"


def _preserve(abs_path: str, original: str) -> str:
    """``PreserveTrailingDotOrSeparator``."""
    if original.endswith("/.") and not abs_path.endswith("/."):
        return abs_path.rstrip("/") + "/."
    if original.endswith("/") and not abs_path.endswith("/"):
        return abs_path + "/"
    return abs_path


def cp(cli, args, path):
    opts, (source, dest) = parse_args(CP, args, path)
    if not source:
        raise StatusError(1, "source can not be empty")
    if not dest:
        raise StatusError(1, "destination can not be empty")
    quiet = opts["quiet"] if "quiet" in opts.changed else not sys.stdout.isatty()
    src_c, src_path = split_cp_arg(source)
    dst_c, dst_path = split_cp_arg(dest)
    try:
        if src_c and dst_c:
            raise StatusError(1, "copying between containers is not supported")
        if src_c:
            return _from_container(cli, src_c, src_path, dst_path, opts["follow-link"], quiet)
        if dst_c:
            return _to_container(cli, dst_c, src_path, dst_path, opts["follow-link"], opts["archive"], quiet)
        raise StatusError(1, "must specify at least one container source")
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc)) from None
    except (Breakout, OSError) as exc:
        raise StatusError(1, str(exc)) from None


class _ChunkReader:
    def __init__(self, chunks) -> None:
        self.it, self.buf, self.total = iter(chunks), b"", 0

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self.buf) < n:
            chunk = next(self.it, None)
            if chunk is None:
                break
            self.total += len(chunk)
            self.buf += chunk
        if n < 0:
            n = len(self.buf)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


def _from_container(cli, container: str, src: str, dst: str, follow: bool, quiet: bool) -> int:
    if follow:
        st = PathStat.from_header(cli.client.stat_path(container, src))
        if st.is_symlink:
            src = st.link_target  # the link's final target, with the source's name
    if dst != "-":
        parent = os.path.dirname(os.path.normpath(os.path.abspath(dst)))
        if not os.path.exists(parent):  # docker/cli's ValidateOutputPath, before any request
            raise StatusError(1, f'invalid output path: directory "{parent}" does not exist')
    resp = cli.client.get_archive(container, src)
    st = PathStat.from_header(resp.headers.get("x-docker-container-path-stat", ""))
    if dst == "-":
        out = sys.stdout.buffer
        for chunk in resp.chunks():
            out.write(chunk)
        out.flush()
        return 0
    dst = _preserve(os.path.abspath(dst), dst)
    sent_base = "." if src.endswith("/.") else os.path.basename(src.rstrip("/")) or "."
    target, rebase = _local_target(st, src, dst, sent_base)
    reader = _ChunkReader(resp.chunks())
    root_fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        untar(reader, root_fd, target, dataclasses.replace(TO_HOST, rebase=rebase))
    finally:
        os.close(root_fd)
    if not quiet:
        size = reader.total if st.is_dir else st.size
        print(f"Successfully copied {human_size(size)} to {dst.rstrip('/') or '/'}", file=sys.stderr)
    return 0


def _local_target(st: PathStat, src: str, dst: str, base: str) -> tuple[str, tuple[str, str] | None]:
    """Where the tar of ``src`` is extracted, and how its first name is renamed."""
    try:
        dst_st = os.stat(dst.rstrip("/.") or "/") if not dst.endswith("/.") else os.stat(dst)
        exists, is_dir = True, stat.S_ISDIR(dst_st.st_mode)
    except FileNotFoundError:
        exists, is_dir = False, False
    if st.is_dir:
        if exists and not is_dir:
            raise StatusError(1, "cannot copy directory")
        if exists:
            return dst, ((base, "") if src.endswith("/.") else None)
        parent = os.path.dirname(dst.rstrip("/"))
        return parent, (base, os.path.basename(dst.rstrip("/")))
    if exists and is_dir:
        return dst, None
    if dst.endswith("/"):
        raise StatusError(1, "no such directory")
    return os.path.dirname(dst), (base, os.path.basename(dst))


def _to_container(cli, container: str, src: str, dst: str, follow: bool, copy_uid_gid: bool,
                  quiet: bool) -> int:
    if src == "-":
        cli.client.put_archive(container, dst, iter(lambda: sys.stdin.buffer.read(CHUNK), b""),
                               copy_uid_gid)
        return 0
    src = _preserve(os.path.abspath(src), src)
    try:
        dst_st = PathStat.from_header(cli.client.stat_path(container, dst))
        if dst_st.is_symlink:
            dst = dst_st.link_target
            dst_st = PathStat.from_header(cli.client.stat_path(container, dst))
    except API_ERRORS:
        dst_st = None
    local = src.rstrip("/") if not src.endswith("/.") else src[:-2]
    st = os.stat(local) if follow else os.lstat(local)
    src_dir = stat.S_ISDIR(st.st_mode)
    name = "." if src.endswith("/.") else os.path.basename(local)
    if dst_st is not None and dst_st.is_dir:
        target, entry = dst, name
    elif dst_st is not None:
        if src_dir:
            raise StatusError(1, "cannot copy directory")
        target, entry = os.path.dirname(dst.rstrip("/")) or "/", os.path.basename(dst)
    else:
        if dst.endswith("/"):
            if not src_dir:
                raise StatusError(1, "no such directory")
        target, entry = os.path.dirname(dst.rstrip("/")) or "/", os.path.basename(dst.rstrip("/"))
        if src.endswith("/.") and src_dir:
            name = "."
    flags = os.O_PATH | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    fd = os.open(local, flags)
    with tempfile.TemporaryFile() as spool:
        try:
            write_tar(spool, fd, entry if name != "." or dst_st is None else ".")
        finally:
            os.close(fd)
        size = spool.tell()
        spool.seek(0)
        cli.client.put_archive(container, target, iter(lambda: spool.read(CHUNK), b""), copy_uid_gid)
    if not quiet:
        content = size if src_dir else st.st_size
        print(f"Successfully copied {human_size(content)} to {container}:{dst}", file=sys.stderr)
    return 0
