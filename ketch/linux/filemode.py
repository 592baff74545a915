"""Files and directories made with exactly the mode asked for, whatever the umask.

ketchd inherits the umask of whoever started it: with 0 the defaults (0666, 0777) would
make its state world-writable, with 077 a container's non-root user could no longer read
the files made for it (/etc/hosts) nor traverse its root. So every mode is explicit and
set again after creation, which the umask cannot narrow.
"""

import os


def mkdir(path: str, mode: int) -> None:
    """``os.mkdir`` with exactly ``mode``; raises ``FileExistsError`` like it."""
    os.mkdir(path, mode)
    os.chmod(path, mode)


def makedirs(path: str, mode: int, parents: int = 0o755) -> None:
    """``mkdir -p``: ``path`` gets ``mode``, missing parents ``parents``, both exactly.
    Directories that exist are left as they are."""
    path = os.path.normpath(path)
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for i, d in enumerate(reversed(missing)):
        want = mode if i == len(missing) - 1 else parents
        try:
            mkdir(d, want)
        except FileExistsError:  # made meanwhile by someone else: theirs to set
            if not os.path.isdir(d):
                raise


def create(path: str, mode: int, flags: int = os.O_WRONLY) -> int:
    """Open ``path``, creating it with exactly ``mode`` (``O_EXCL``: never an existing
    file, whose mode is not ours to change); returns the fd."""
    fd = os.open(path, flags | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        raise
    return fd
