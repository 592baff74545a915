"""Delete a directory tree without ever deleting through a mount point.

``shutil.rmtree`` follows no symlinks, but it does descend into mount points: when an
overlay is (re)mounted under a directory being cleaned up, rmtree deletes the files of
the mounted filesystem, which for an overlay means writing whiteouts over the image in
the container's writable layer. ``remove_tree`` unmounts what is mounted below first,
refuses to go on if anything stays mounted, and while deleting never enters a
directory on another device.
"""

import os
import stat

from ketch.errors import Internal
from ketch.linux import mount as mnt


def remove_tree(path: str) -> None:
    """Unmount everything below ``path``, then delete it; a missing path is not an error."""
    for point in mnt.mounts_under(path):
        try:
            mnt.unmount(point)
        except OSError:
            mnt.unmount(point, lazy=True)
    if mnt.mounts_under(path):
        raise Internal(f"cannot remove {path}: still mounted")
    try:
        top = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(top.st_mode):
        os.unlink(path)
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        _empty(fd, top.st_dev, path)
    finally:
        os.close(fd)
    os.rmdir(path)


def _empty(dir_fd: int, dev: int, where: str) -> None:
    with os.scandir(dir_fd) as entries:
        names = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
    for name, is_dir in names:
        if not is_dir:
            os.unlink(name, dir_fd=dir_fd)
            continue
        child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                        dir_fd=dir_fd)
        try:
            if os.fstat(child).st_dev != dev:
                raise Internal(f"cannot remove {where}/{name}: another filesystem is mounted there")
            _empty(child, dev, f"{where}/{name}")
        finally:
            os.close(child)
        os.rmdir(name, dir_fd=dir_fd)
