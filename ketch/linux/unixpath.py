"""Unix socket paths longer than the kernel's 108-byte ``sun_path``.

Container state lives under ``<exec-root>/containers/<64-hex id>/``, which a long exec
root pushes past the limit. The directory is reached instead through a short
``/proc/self/fd/<n>`` path while a descriptor of it is held open; that works for both
``bind`` and ``connect`` and needs no ``chdir`` (unsafe in a threaded process).
"""

import contextlib
import os
import socket

MAX_SUN_PATH = 107


@contextlib.contextmanager
def reachable(path: str):
    """Yield a path naming the same socket as ``path`` that fits in ``sun_path``."""
    if len(os.fsencode(path)) <= MAX_SUN_PATH:
        yield path
        return
    fd = os.open(os.path.dirname(path) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{os.path.basename(path)}"
    finally:
        os.close(fd)


def listen(path: str, mode: int = 0o600, backlog: int = 64) -> socket.socket:
    """A listening Unix socket at ``path`` (a stale socket file there is replaced)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with reachable(path) as short:
            sock.bind(short)
        os.chmod(path, mode)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock
