"""A build step that writes files (COPY, ADD, WORKDIR's directory): its edit applied to the
parent's root, mounted writable in a mount namespace of a thread of its own.

    thread (its own mount namespace, private: nothing propagates, nothing outlives it)
      <scratch>/root     overlay: the parent's layers + a new writable upper snapshot
                         (a bind of the upper alone for a scratch parent)
      <scratch>/src-N    each source image read-only: overlay of its layers over an empty dir
      edit(MountedRoots(root fd, {image id: fd}))       O_PATH descriptors, valid during edit
      unmount all
    upper snapshot ─ stage (difftar, mtimes clamped when reproducible) ─▶ Staged
    upper snapshot removed (the layer's own snapshot is made from its blob on first use)

The edit never runs in ketchd's own namespace: a symlink it follows or a mount it makes
cannot touch the host's view, and a ketchd killed midway leaves no mount behind.
"""

import os
import shutil
import tempfile
from typing import Callable

from ketch.build.backend import MountedRoots
from ketch.engine.builds.images import BuildImages
from ketch.engine.images.record import Staged
from ketch.engine.images.service import Image
from ketch.linux import mount as mnt
from ketch.linux import syscalls as sc
from ketch.storage.overlay import MAX_MOUNT_DATA

SCRATCH_PREFIX = "build-"
_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


def mutate(builds: BuildImages, parent: Image | None, sources: dict[str, Image],
           edit: Callable[[MountedRoots], None], scratch_dir: str) -> Staged:
    """Blocking, in a thread that may leave its mount namespace (``shielded.in_own_thread``):
    ``edit`` applied to ``parent``'s root; what it changed, staged."""
    images = builds.images
    snapshots = images.snapshots
    for image in ([parent] if parent else []) + list(sources.values()):
        images.ensure_unpacked(image)
    lowers = images.snapshot_names(parent) if parent else []
    source_layers = {image_id: [snapshots.fs(n) for n in images.snapshot_names(image)]
                     for image_id, image in sources.items()}
    upper = snapshots.new(writable=True)
    try:
        scratch = tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=scratch_dir)
        try:
            _edit_in_namespace(snapshots.mounts(upper, lowers), source_layers, edit, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return builds.stage(upper, lowers)
    finally:
        snapshots.remove(upper)


def read_root(builds: BuildImages, image: Image, fn: Callable[[int], object], scratch_dir: str):
    """Blocking, in a thread that may leave its mount namespace (``shielded.in_own_thread``):
    ``fn`` on the image's root mounted read-only (COPY --from's sources hashed)."""
    images = builds.images
    images.ensure_unpacked(image)
    layers = [images.snapshots.fs(n) for n in images.snapshot_names(image)]
    scratch = tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=scratch_dir)
    try:
        sc.unshare(sc.CLONE_NEWNS)
        sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
        empty, empty2, target = (os.path.join(scratch, n) for n in ("empty", "empty2", "root"))
        for path in (empty, empty2, target):
            os.mkdir(path, 0o755)
        mnt.apply(view_mount(layers, empty, empty2), target)
        try:
            fd = os.open(target, _DIR)
            try:
                return fn(fd)
            finally:
                os.close(fd)
        finally:
            mnt.unmount(target, lazy=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _edit_in_namespace(root_mounts: list[mnt.Mount], sources: dict[str, list[str]],
                       edit: Callable[[MountedRoots], None], scratch: str) -> None:
    sc.unshare(sc.CLONE_NEWNS)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    empty = os.path.join(scratch, "empty")
    os.mkdir(empty, 0o755)
    os.mkdir(os.path.join(scratch, "empty2"), 0o755)
    mounted: list[str] = []
    fds: list[int] = []
    try:
        root = os.path.join(scratch, "root")
        os.mkdir(root, 0o755)
        for m in root_mounts:
            mnt.apply(m, root)
        mounted.append(root)
        views: dict[str, int] = {}
        for i, (image_id, layers) in enumerate(sources.items()):
            target = os.path.join(scratch, f"src-{i}")
            os.mkdir(target, 0o755)
            mnt.apply(view_mount(layers, empty, os.path.join(scratch, "empty2")), target)
            mounted.append(target)
            fd = os.open(target, _DIR)
            fds.append(fd)
            views[image_id] = fd
        root_fd = os.open(root, _DIR)
        fds.append(root_fd)
        edit(MountedRoots(root_fd, views))
    finally:
        for fd in fds:
            os.close(fd)
        for target in reversed(mounted):
            mnt.unmount(target, lazy=True)


def view_mount(layers: list[str], empty: str, empty2: str) -> mnt.Mount:
    """A read-only overlay of ``layers`` (top-most first): overlayfs wants two lower dirs
    at least without an upper one, so an empty one goes below (two for no layer)."""
    lowers = layers + [empty] if layers else [empty, empty2]
    option = "lowerdir=" + ":".join(lowers)
    if len(option) + 3 > MAX_MOUNT_DATA:
        from ketch.errors import InvalidArgument
        raise InvalidArgument(f"too many layers to mount ({len(layers)})")
    return mnt.Mount("overlay", "overlay", options=("ro", option))
