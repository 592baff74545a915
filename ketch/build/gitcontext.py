"""A git build context (``POST /build?remote=<git URL>``, ``ketch build <git URL>``): moby's
``builder/remotecontext/git`` (gitutils): the URL's ``#ref:subdir`` fragment, a clone with
the host's ``git`` into a private directory, the subdir resolved inside the checkout.

This is where a URL from a Dockerfile's author reaches a command line: a ref starting with
``-`` is refused and ``--`` goes before it (CVE-2019-13139), ``file://`` submodules are
refused, and none of the host's git configuration is read.

API (blocking)::

    parse_git_url(remote) -> GitRemote       (remote, ref: default "master", subdir)
    clone(remote, workdir) -> str            the context: a new directory in workdir, the
                                             only thing left there (nothing on failure)
"""

import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ketch import errors
from ketch.build import netpool
from ketch.linux.safepath import open_in_root


@dataclass(frozen=True)
class GitRemote:
    remote: str
    ref: str
    subdir: str


def parse_git_url(remote: str) -> GitRemote:
    """moby's parseRemoteURL: "https://" added to a bare host path, "#ref:subdir"."""
    if not _is_git_transport(remote):
        remote = "https://" + remote
    if remote.startswith("git@"):
        base, _, fragment = remote.partition("#")
    else:
        parts = urlsplit(remote)
        fragment = parts.fragment
        base = urlunsplit(parts._replace(fragment=""))
    ref, _, subdir = fragment.partition(":")
    ref = ref or "master"
    if ref.startswith("-"):
        raise errors.InvalidArgument(f"invalid refspec: {ref}")
    return GitRemote(base, ref, subdir)


def _is_git_transport(s: str) -> bool:
    return s.startswith("git@") or urlsplit(s).scheme.lower() in ("git", "http", "https", "ssh")


_GIT_ENV = {
    "GIT_PROTOCOL_FROM_USER": "0",  # no unsafe transports for submodules
    "GIT_CONFIG_NOSYSTEM": "1",  # nothing of the host's git configuration
    "GIT_CONFIG_GLOBAL": "/dev/null",  # git >= 2.32 (moby's WithIsolatedConfig)
    "HOME": "/dev/null",
    "XDG_CONFIG_HOME": "/dev/null",  # the global file's other place, for older git
    "GIT_TERMINAL_PROMPT": "0",  # a daemon has nobody to ask for a password
    "GIT_ASKPASS": "/bin/false",
    "SSH_ASKPASS": "/bin/false",
}


def _git(cwd: str, *args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(_GIT_ENV)
    with subprocess.Popen(["git", "-c", "protocol.file.allow=never", *args], cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          start_new_session=True) as proc:
        cancel = netpool.current()  # run from netpool.run: a cancel kills it
        # its group: git fetch's transport helper (git-remote-http) holds the output pipe too
        done = (cancel.register(lambda: proc.returncode is None and os.killpg(proc.pid, signal.SIGKILL))
                if cancel is not None else (lambda: None))
        try:
            out, _ = proc.communicate()
        finally:
            done()
        if cancel is not None and cancel.cancelled:
            raise errors.Internal("context canceled")
    return proc.returncode, out.decode("utf-8", "replace")


def clone(remote: str, workdir: str) -> str:
    """The checked-out context (the fragment's subdir of it): a new directory in workdir,
    the only thing the clone leaves there (nothing on failure)."""
    repo = parse_git_url(remote)
    root = tempfile.mkdtemp(prefix="docker-build-git", dir=workdir)
    try:
        return _clone_into(root, repo, workdir)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def _clone_into(root: str, repo: GitRemote, workdir: str) -> str:
    code, out = _git(root, "init", "-q")
    if code:
        raise errors.Internal(f"failed to init repo at {os.path.basename(root)}: {out}: exit status {code}")
    code, out = _git(root, "remote", "add", "origin", repo.remote)
    if code:
        raise errors.Internal(f"failed add origin repo at {repo.remote}: {out}: exit status {code}")
    # shallow first; a dumb http server cannot, so then the whole history (moby asks the
    # server which it is; trying is simpler and gives the same result)
    code, out = _git(root, "fetch", "--depth", "1", "origin", "--", repo.ref)
    if code:
        code, out = _git(root, "fetch", "origin", "--", repo.ref)
    if code:
        raise errors.Internal(f"error fetching: {out}: exit status {code}")
    code, out = _git(root, "checkout", repo.ref)
    if code:
        code2, _ = _git(root, "checkout", "FETCH_HEAD")
        if code2:
            raise errors.Internal(f"error checking out {repo.ref}: {out}: exit status {code}")
    code, out = _git(root, "submodule", "update", "--init", "--recursive", "--depth=1")
    if code:
        raise errors.Internal(f"error initializing submodules: {out}: exit status {code}")
    if not repo.subdir:
        return root
    try:
        where = _subdir(root, repo.subdir)
        # the context alone stays in workdir: the caller removes just the directory it gets
        final = tempfile.mkdtemp(prefix="docker-build-git", dir=workdir)
        os.rmdir(final)
        os.rename(where, final)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return final


def _subdir(root: str, subdir: str) -> str:
    """The subdir inside the checkout, its symlinks resolved inside it (moby's
    FollowSymlinkInScope); a path that climbs out is refused."""
    lexical = os.path.normpath(subdir.lstrip("/"))
    shown = os.path.join(os.path.basename(root), lexical)  # never ketchd's data root in a text
    if lexical == ".." or lexical.startswith("../"):
        raise errors.InvalidArgument(f'error setting git context, "{subdir}" not within git root')
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fd = open_in_root(root_fd, subdir, follow=True)
        except (FileNotFoundError, NotADirectoryError):
            raise errors.InvalidArgument(f"stat {shown}: no such file or directory") from None
        try:
            if not os.path.isdir(f"/proc/self/fd/{fd}"):
                raise errors.InvalidArgument(f"error setting git context, not a directory: {shown}")
            where = os.readlink(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
    finally:
        os.close(root_fd)
    real_root = os.path.realpath(root)
    if where != real_root and not where.startswith(real_root.rstrip("/") + "/"):
        raise errors.InvalidArgument(f'error setting git context, "{subdir}" not within git root')
    return where
