"""An image's or container's user database (/etc/passwd, /etc/group) read safely.

The file belongs to whoever made the image: it is read through descriptors that never
leave the root (``open_in_root``), only if it is a regular file (a fifo would hang the
daemon's thread, a device node such as /dev/zero fill its memory), and only its first
MiB. Used by ``--user`` resolution (engine/users.py) and COPY --chown (build/copier.py).
"""

import errno
import os
import stat

from ketch.linux.safepath import open_in_root

MAX_DATABASE = 1 << 20  # a user database, not a stream to fill memory with


def read_entries(root: str | int, path: str) -> list[list[str]] | None:
    """The colon-separated fields of each line of ``path`` inside ``root`` (a path or a
    directory descriptor), blank and ``#`` lines left out; None when there is no such
    regular file (missing, a symlink loop, a fifo, a device...)."""
    try:
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) if isinstance(root, str) else root
    except FileNotFoundError:
        return None
    try:
        fd = open_in_root(root_fd, path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise
    finally:
        if root_fd is not root:
            os.close(root_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with open(f"/proc/self/fd/{fd}", "rb") as f:  # the inode the O_PATH descriptor holds
            text = f.read(MAX_DATABASE).decode("utf-8", "surrogateescape")
    finally:
        os.close(fd)
    return [line.split(":") for line in text.split("\n") if line.strip() and not line.startswith("#")]
