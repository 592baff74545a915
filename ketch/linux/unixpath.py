"""Unix socket paths longer than the kernel's 108-byte ``sun_path``.

Container state lives under ``<exec-root>/containers/<64-hex id>/``, which a long exec
root pushes past the limit. The directory is reached instead through a short
``/proc/self/fd/<n>`` path while a descriptor of it is held open; that works for both
``bind`` and ``connect`` and needs no ``chdir`` (unsafe in a threaded process).
"""

import contextlib
import os

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
