"""The ``probe:latest`` image: probe.c built static, beside busybox and its applets.

``probe_image(daemon, tmp_dir)`` compiles the probe with ``gcc -static``, lays out a
rootfs (``/probe``, ``/bin/busybox`` with every applet a hard link, the embedded busybox
image's ``/etc/passwd`` and ``/etc/group``), imports it with ``ketch import`` and removes
it when the last user is done. Several test modules share one import per daemon; without
gcc (``scripts/install.sh --with-tests`` installs it) the tests that need it are skipped.

``run_probe`` runs one container and splits the probe's output into the sections of its
subcommands.
"""

import contextlib
import os
import shutil
import subprocess

import pytest

from ketch.image.archive import write_tar
from ketch.image.embedded import BUSYBOX, GROUP, PASSWD

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe.c")
REFERENCE = "probe:latest"
RUNTIMES = ("ketch", "runc")

_users: dict[str, int] = {}  # daemon socket -> modules using its probe image


def build_rootfs(root: str) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("gcc not found: scripts/install.sh --with-tests installs gcc and libc6-dev")
    for d in ("bin", "dev", "etc", "proc", "sys", "tmp"):
        os.makedirs(os.path.join(root, d))
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    built = subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", os.path.join(root, "probe"), SOURCE],
                           capture_output=True, text=True)
    assert built.returncode == 0, f"gcc -static failed (libc6-dev missing?):\n{built.stderr}"
    binary = os.path.join(root, "bin", "busybox")
    shutil.copyfile(BUSYBOX, binary)
    os.chmod(binary, 0o755)
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True, text=True).stdout.split()
    for applet in set(applets) - {"busybox"}:
        os.link(binary, os.path.join(root, "bin", applet))
    for name, text in (("passwd", PASSWD), ("group", GROUP)):
        with open(os.path.join(root, "etc", name), "w") as f:
            f.write(text)


@contextlib.contextmanager
def probe_image(daemon, tmp_dir: str):
    """Make ``probe:latest`` exist in ``daemon`` while the block runs (reference counted)."""
    if not _users.get(daemon.socket):
        root = os.path.join(tmp_dir, "rootfs")
        build_rootfs(root)
        tar = os.path.join(tmp_dir, "probe.tar")
        with open(tar, "wb") as out:
            write_tar(root, out, uid=0, gid=0)
        daemon.ketch("import", tar, REFERENCE, check=True)
    _users[daemon.socket] = _users.get(daemon.socket, 0) + 1
    try:
        yield REFERENCE
    finally:
        _users[daemon.socket] -= 1
        if not _users[daemon.socket]:
            daemon.ketch("rmi", REFERENCE, check=True)


def run_probe(daemon, runtime: str, flags, *segments, code: int = 0, name: str | None = None,
              shell: bool = False) -> list[list[str]]:
    """Run ``/probe seg1 -- seg2 ...`` in a new container; the output lines of each segment.

    Without ``name`` the container is run with ``--rm``. With ``shell`` pid 1 is a shell
    and the probe its child."""
    argv = []
    for seg in segments:
        argv += [*(["--"] if argv else []), *seg]
    where = ["--name", name] if name else ["--rm"]
    command = ["sh", "-c", '/probe "$@"; exit $?', "sh"] if shell else ["/probe"]
    res = daemon.ketch("run", *where, "--runtime", runtime, *flags, REFERENCE, *command, *argv)
    assert res.returncode == code, \
        f"{runtime} {flags} {argv}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    sections: list[list[str]] = [[]]
    for line in res.stdout.splitlines():
        if line == "--":
            sections.append([])
        else:
            sections[-1].append(line)
    return sections


def results(lines: list[str]) -> dict[str, str]:
    """``what: RESULT`` lines as {what: RESULT}."""
    return dict(line.rsplit(": ", 1) for line in lines)
