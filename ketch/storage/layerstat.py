"""What an image's layers show at a path, read from the layers' directories without
mounting them: overlayfs's answer (the top-most layer that has the path wins; a 0/0
character device deletes it, an opaque directory hides what the layers below hold).

Symlinks on the way are not followed (a container's symlinks mean nothing on the host):
a path through one answers ``SYMLINK``, for the caller to leave to the runtime.
"""

import os
import stat

from ketch.storage.changes import OPAQUE_XATTR, is_whiteout

DIR, FILE, SYMLINK = "dir", "file", "symlink"


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def kind_at(layers: list[str], path: str) -> str | None:
    """DIR, FILE (anything else that is not a directory), SYMLINK, or None (absent) at
    ``path`` (absolute, clean) in the merged view of ``layers``, top-most first."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return DIR
    for layer in layers:
        here = layer
        for i, part in enumerate(parts):
            here = os.path.join(here, part)
            try:
                st = os.lstat(here)
            except (FileNotFoundError, NotADirectoryError):
                # absent from this layer: the lower ones show through unless a directory
                # on the way is opaque here
                if any(_opaque(os.path.join(layer, *parts[:j])) for j in range(1, i + 1)):
                    return None
                break
            if is_whiteout(st):
                return None
            if stat.S_ISLNK(st.st_mode):
                return SYMLINK
            if i == len(parts) - 1:
                return DIR if stat.S_ISDIR(st.st_mode) else FILE
            if not stat.S_ISDIR(st.st_mode):
                return None  # a file where a directory of the path would be
    return None
