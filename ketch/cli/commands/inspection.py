"""Looking into a container: top (its processes), diff (its changes), export (its files)."""

import os
import stat
import sys
import tempfile

from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError

TOP = Command("top", "ketch top CONTAINER [ps OPTIONS]", "Display the running processes of a container",
              (), interspersed=False, min_args=1, aliases=("ketch container top",))
DIFF = Command("diff", "ketch diff CONTAINER",
               "Inspect changes to files or directories on a container's filesystem",
               (), min_args=1, max_args=1, aliases=("ketch container diff",))
EXPORT = Command("export", "ketch export [OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive", (
    FlagSpec("output", "o", "string", help="Write to a file, instead of STDOUT"),
), min_args=1, max_args=1, aliases=("ketch container export",))

_KIND = {0: "C", 1: "A", 2: "D"}


def top(cli, args, path):
    """docker/cli's runTop: the ps options are the words after the container, joined."""
    _, rest = parse_args(TOP, args, path)
    if not rest[0]:
        raise StatusError(1, "invalid container name or ID: value is empty")
    from ketch.cli.format.tabwriter import Writer
    try:
        doc = cli.client.top(rest[0], " ".join(rest[1:]))
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    w = Writer(minwidth=20, tabwidth=1, padding=3)
    w.write("\t".join(doc.get("Titles") or []) + "\n")
    for proc in doc.get("Processes") or []:
        w.write("\t".join(proc) + "\n")
    sys.stdout.write(w.flush())
    return 0


def diff(cli, args, path):
    _, names = parse_args(DIFF, args, path)
    if not names[0]:
        raise StatusError(1, "Container name cannot be empty")
    try:
        changes = cli.client.changes(names[0]) or []
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    sys.stdout.write("".join(f"{_KIND.get(c['Kind'], '?')} {c['Path']}\n" for c in changes))
    return 0


def _check_output(target: str, failure: str = "failed to export container") -> None:
    """docker/cli's ValidateOutputPath, in docker 28's words."""
    directory = os.path.dirname(os.path.normpath(target))
    if directory and directory != ".":
        try:
            os.stat(directory)
        except FileNotFoundError:
            raise StatusError(1, f"{failure}: invalid output path: stat "
                                 f"{directory}: no such file or directory") from None
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return
    mode = st.st_mode
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device file"),
                       (stat.S_ISBLK, "a block device file"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            raise StatusError(1, f"{failure}: cannot write to {what}")


def export(cli, args, path):
    opts, names = parse_args(EXPORT, args, path)
    target = opts["output"]
    if not target and os.isatty(1):
        raise StatusError(1, "cowardly refusing to save to a terminal. Use the -o flag or redirect")
    if target:
        _check_output(target)
    try:
        resp = cli.client.export(names[0])
        if not target:
            for chunk in resp.chunks():
                _write_all(1, chunk)
            return 0
        _copy_to_file(target, resp)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    return 0


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _copy_to_file(target: str, resp) -> None:
    """docker/cli's CopyToFile: a temporary file beside the target, renamed when complete,
    so a failed export leaves no partial tar under the wanted name."""
    directory = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".docker_temp_", dir=directory)
    try:
        for chunk in resp.chunks():
            _write_all(fd, chunk)
        os.close(fd)
        fd = -1
        os.chmod(tmp, 0o600)
        os.rename(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        os.unlink(tmp)
        raise
