"""Copy-up at create: a new, empty volume seeded from the image's content at its
destination (moby's ``populateVolumes``, called by its container create).

Only volumes (never binds), only with ``copy_data`` (not ``nocopy``; ``--volumes-from``
mount points never copy), only where the image has a directory (or a symlink, resolved
inside the image) at the destination, and only into a volume empty at that moment
(``volume/copyup.py``). A create with nothing to copy mounts nothing.

The image is read through a read-only view of the container's snapshot mounted in a
mount namespace of a thread of its own: nothing else sees it and it goes with the
thread. A volume with driver options (a device) is mounted for the copy in the host's
namespace (where the driver counts it) and unmounted after; a ``subpath`` is resolved
inside the volume by descriptor and the copy goes there (moby copies after
``mnt.Setup`` resolved it). The volumes' locks are held (sorted) for the whole seeding,
so two creates sharing a new volume seed it once.
"""

import os
import shutil
import tempfile
import threading
from typing import Callable

from ketch import errors
from ketch.apitypes.mounts import VOLUME
from ketch.engine.volumes.mountpoint import MountPoint, VolumeAccess
from ketch.engine.volumes.mountsetup import mount_attributes, pin_subpath, subpath_of
from ketch.engine.volumes.namelocks import NameLocks
from ketch.linux import mount as mnt
from ketch.linux import syscalls as sc
from ketch.storage import layerstat
from ketch.volume import copyup


def candidates(points: list[MountPoint], layers: list[str]) -> list[MountPoint]:
    """The mount points that may need seeding: volumes to copy into, whose destination
    shows a directory (or a symlink, resolved only in the mounted view) in ``layers``
    (the image's layer directories, top-most first)."""
    return [mp for mp in points if mp.type == VOLUME and mp.copy_data
            and layerstat.kind_at(layers, mp.destination) in (layerstat.DIR, layerstat.SYMLINK)]


class Seeder:
    def __init__(self, volumes: VolumeAccess, locks: NameLocks, scratch_dir: str,
                 copy_into_empty=None) -> None:
        self.volumes = volumes
        self.locks = locks
        self.scratch_dir = scratch_dir
        self._copy = copy_into_empty or copyup.copy_into_empty

    def seed(self, cid: str, points: list[MountPoint], layers: list[str],
             mount_image: Callable[[str], None]) -> None:
        """Seed the volumes of container ``cid`` (in a worker thread). ``mount_image(target)``
        mounts the read-only view of the container's image at ``target``."""
        todo = candidates(points, layers)
        if not todo:
            return
        with self.locks.hold(mp.name for mp in todo):
            targets: list[tuple[MountPoint, str]] = []
            mounted: list[str] = []
            try:
                for mp in todo:
                    vol = self.volumes.get(mp.name)
                    if vol.options:  # a device: mounted by the driver, counted for the copy
                        path = self.volumes.mount(mp.name, cid, mount_attributes(mp, cid))
                        mounted.append(mp.name)
                    else:
                        path = vol.mountpoint
                        if _has_entries(path) and not subpath_of(mp):
                            continue  # moby's copyExistingContents: not empty, no copy
                    targets.append((mp, path))
                if targets:
                    self._in_private_namespace(cid, targets, mount_image)
            finally:
                for name in reversed(mounted):
                    try:
                        self.volumes.unmount(name, cid)
                    except errors.KetchError:
                        pass

    def _in_private_namespace(self, cid: str, targets: list[tuple[MountPoint, str]],
                              mount_image: Callable[[str], None]) -> None:
        scratch = tempfile.mkdtemp(prefix=f"seed-{cid[:12]}-", dir=self.scratch_dir)
        failure: list[BaseException] = []

        def body() -> None:
            try:
                # this thread only: its own mount namespace, private, so the mounts below
                # neither propagate to the host nor outlive the thread
                sc.unshare(sc.CLONE_NEWNS)
                sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
                root = os.path.join(scratch, "root")
                os.mkdir(root, 0o700)
                mount_image(root)
                try:
                    for mp, path in targets:
                        self._copy_one(root, mp, path, os.path.join(scratch, "pins"))
                finally:
                    for point in mnt.mounts_under(scratch):
                        mnt.unmount(point, lazy=True)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                failure.append(exc)

        try:
            thread = threading.Thread(target=body, name=f"seed-{cid[:12]}", daemon=True)
            thread.start()
            thread.join()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if failure:
            exc = failure[0]
            if isinstance(exc, errors.KetchError):
                raise exc
            if isinstance(exc, OSError):
                raise errors.Internal(f"failed to populate volume: {exc}") from None
            raise exc

    def _copy_one(self, root: str, mp: MountPoint, path: str, pins: str) -> None:
        sub = subpath_of(mp)
        if sub:
            try:
                path = pin_subpath(path, sub, pins)
            except errors.InvalidArgument:
                return  # a missing subpath: the start refuses it with moby's message
        self._copy(root, mp.destination, path)


def _has_entries(path: str) -> bool:
    try:
        with os.scandir(path) as it:
            return next(it, None) is not None
    except OSError:
        return False
