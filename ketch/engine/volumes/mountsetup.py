"""A container's own mounts at start and stop, on the host's side.

moby's ``setupMounts`` (daemon/volumes_unix.go) and ``TmpfsMounts``; the mount entries
themselves are ``mountspec.py``'s (pure). At start, for each run:

- ``HostConfig.Tmpfs`` and ``--mount type=tmpfs`` become tmpfs mounts; a mount point on
  a tmpfs's destination is skipped, as moby's;
- a volume is mounted through ``VolumeAccess.mount`` (its ``mount`` event carries moby's
  attributes), one call per volume at a time (``namelocks.py``); a ``subpath`` is
  resolved inside the volume by descriptor and pinned with a bind under the run's exec
  directory (moby's ``safepath.Join``) until the run's teardown. (A new empty volume was
  seeded from the image at create: ``seed.py``.)
- a ``-v`` bind whose source is missing gets it made as a directory (0755, moby's
  ``MkdirAllAndChown``); a ``--mount`` bind does not (moby's ``SkipMountpointCreation``)
  unless ``BindOptions.CreateMountpoint``;
- a shared or slave propagation needs a source on a shared (or slave) mount
  (``ensureShared``), else moby's error.

What a run mounted is remembered per container, so its stop (any teardown of the bundle)
unmounts exactly that once; after a ketchd restart a running container's volumes are
counted again through ``VolumeAccess.restore`` (moby's ``LiveRestore``), with no event.
Mount point ``options`` read here: ``create_source`` (a ``-v`` bind) and those of
``mountspec.py``.
"""

import errno
import logging
import os
import stat
import threading
from dataclasses import replace

from ketch import errors
from ketch.apitypes.mounts import BIND, TMPFS, VOLUME
from ketch.engine.volumes.mountpoint import MountPoint, VolumeAccess
from ketch.engine.volumes.mountspec import (bind_mount, bind_option, mount_attributes, mount_points,
                                            subpath_of, tmpfs_data, tmpfs_mount)
from ketch.engine.volumes.namelocks import NameLocks
from ketch.linux import mount as mnt
from ketch.linux import syscalls as sc
from ketch.linux.safepath import open_in_root

log = logging.getLogger("ketchd.mounts")

BIND_SOURCE_MODE = 0o755
_SHARED = ("shared", "rshared")
_SLAVE = ("slave", "rslave")


# -- the host side: what a run mounts, and its release -----------------------------------
class MountSetup:
    def __init__(self, volumes: VolumeAccess, data_root: str = "", locks: NameLocks | None = None) -> None:
        self.volumes = volumes
        self.data_root = data_root
        self._active: dict[str, list[str]] = {}  # container id -> volumes this run mounted
        self._lock = threading.Lock()
        # Starts and stops run in worker threads; the volume service and its driver count
        # mounts without a lock of their own (two first users of a device volume at once
        # would each mount it), so their calls for one volume go one at a time.
        self.locks = locks or NameLocks()

    def setup(self, cid: str, mounts: list[dict], tmpfs: dict | None,
              rro_error: str = "", pin_dir: str = "") -> tuple[dict, ...]:
        """The OCI mounts of container ``cid`` for this run, from its mount points
        (``ContainerRecord.mounts``) and ``HostConfig.Tmpfs``, in moby's order before
        sorting (tmpfs first, then mount points). What it mounts is released by
        ``release``, also when it fails part way; a volume's subpath is pinned in
        ``pin_dir`` (``unpin`` ends that)."""
        tmpfs = dict(tmpfs or {})
        points = mount_points(mounts)
        out = [tmpfs_mount(dest, data or "") for dest, data in tmpfs.items()]
        out += [tmpfs_mount(mp.destination, tmpfs_data(mp)) for mp in points if mp.type == TMPFS]
        for mp in points:
            if mp.type == TMPFS or mp.destination in tmpfs:
                continue
            out.append(self._mount(cid, mp, rro_error, pin_dir))
        return tuple(out)

    def _mount(self, cid: str, mp: MountPoint, rro_error: str, pin_dir: str) -> dict:
        if mp.type == VOLUME:
            try:
                with self.locks.hold([mp.name]):
                    path = self.volumes.mount(mp.name, cid, mount_attributes(mp, cid))
            except errors.KetchError as exc:  # moby's MountPoint.Setup wraps the driver's error
                raise errors.wrapped(exc, f"error while mounting volume '{mp.source}'") from None
            with self._lock:
                self._active.setdefault(cid, []).append(mp.name)
            sub = subpath_of(mp)
            return bind_mount(mp, pin_subpath(path, sub, pin_dir) if sub else path, rro_error)
        if mp.type == BIND:
            if not self._propagation_ok(cid, mp):
                mp = replace(mp, propagation="")  # moby's fallback: the default propagation
            if mp.options.get("create_source") or bind_option(mp, "create_mountpoint",
                                                                "CreateMountpoint"):
                _make_source(mp.source)
            return bind_mount(mp, mp.source, rro_error)
        raise errors.InvalidArgument(f"unknown mount type {mp.type!r} for {mp.destination}")

    def _propagation_ok(self, cid: str, mp: MountPoint) -> bool:
        """moby's ensureShared / ensureSharedOrSlave on the bind's source. False: a slave
        bind of the data root the user gave no propagation for falls back to the default."""
        if mp.propagation not in _SHARED + _SLAVE:
            return True
        wanted = ("shared:",) if mp.propagation in _SHARED else ("shared:", "master:")
        try:
            point, optional = source_mount(mp.source)
        except OSError as exc:
            raise errors.InvalidArgument(str(exc)) from None
        if any(o.startswith(wanted) for o in optional.split()):
            return True
        if mp.propagation in _SHARED:
            raise errors.InvalidArgument(f"path {mp.source} is mounted on {point} but it is not a shared mount")
        explicit = ((mp.spec or {}).get("BindOptions") or {}).get("Propagation") or \
            any(word in _SHARED + _SLAVE + ("private", "rprivate") for word in mp.mode.split(","))
        in_root = self.data_root and (mp.source.startswith(self.data_root)
                                      or self.data_root.startswith(mp.source))
        if not in_root or explicit:
            raise errors.InvalidArgument(
                f"path {mp.source} is mounted on {point} but it is not a shared or slave mount")
        log.warning("container %s: falling back to default propagation for bind source %s "
                    "in daemon root", cid, mp.source)
        return False

    def release(self, cid: str) -> None:
        """Unmount what this container's run mounted (its stop, or a failed start)."""
        with self._lock:
            names = self._active.pop(cid, [])
        for name in names:
            try:
                with self.locks.hold([name]):
                    self.volumes.unmount(name, cid)
            except errors.KetchError as exc:
                log.error("cannot unmount volume %s of %s: %s", name, cid, exc)

    def restore(self, cid: str, mounts: list[dict], tmpfs: dict | None) -> None:
        """Container ``cid``, found running after a ketchd restart: its volumes count as
        mounted again, to be released at its stop."""
        names = [mp.name for mp in mount_points(mounts) if mp.type == VOLUME
                 and mp.destination not in (tmpfs or {})]
        with self._lock:
            if cid in self._active:
                return
            self._active[cid] = []
        for name in names:
            try:
                with self.locks.hold([name]):
                    self.volumes.restore(name, cid)
            except errors.KetchError as exc:
                log.error("cannot restore volume %s of %s: %s", name, cid, exc)
                continue
            with self._lock:
                self._active[cid].append(name)

    def active(self, cid: str) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._active.get(cid, ()))


def pin_subpath(volume_path: str, sub: str, pin_dir: str) -> str:
    """A volume's subpath, resolved inside the volume by descriptor and bound onto a new
    entry of ``pin_dir`` (moby's ``safepath.Join``): the runtime binds that pinned inode,
    so a container that shares the volume and swaps a component of the subpath for a
    symlink meanwhile cannot send the mount elsewhere (onto the host's ``/``)."""
    root = os.open(volume_path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = open_in_root(root, sub, follow=True)
    except OSError as exc:
        raise errors.InvalidArgument(f"cannot access path {os.path.join(volume_path, sub)}: "
                                     f"{(exc.strerror or str(exc)).lower()}") from None
    finally:
        os.close(root)
    try:
        os.makedirs(pin_dir, 0o700, exist_ok=True)
        target = os.path.join(pin_dir, str(len(os.listdir(pin_dir))))
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.mkdir(target, 0o700)
        else:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        sc.mount(f"/proc/self/fd/{fd}", target, None, sc.MS_BIND | sc.MS_REC)
    finally:
        os.close(fd)
    return target


def unpin(pin_dir: str) -> None:
    """Unmount what ``pin_subpath`` bound in ``pin_dir`` (also what a crash left)."""
    if not os.path.isdir(pin_dir):
        return
    for point in mnt.mounts_under(pin_dir):
        try:
            mnt.unmount(point, lazy=True)
        except OSError as exc:
            log.error("cannot unmount %s: %s", point, exc)


def _make_source(path: str) -> None:
    """A missing ``-v`` bind source is made a directory; an existing file is left as it is."""
    try:
        os.makedirs(path, BIND_SOURCE_MODE)
    except FileExistsError:
        return
    except NotADirectoryError:
        return
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            return
        raise errors.Internal(f"error while creating mount source path '{path}': "
                              f"mkdir {path}: {exc.strerror.lower()}") from None
    os.chmod(path, BIND_SOURCE_MODE)


def source_mount(source: str) -> tuple[str, str]:
    """moby's getSourceMount: the mount point (the longest, the last of equals) holding
    ``source`` after its symlinks, and that mount's optional fields."""
    path = os.path.realpath(source, strict=True)
    best, best_optional = "", ""
    for entry in mnt.mountinfo():
        point = entry.mount_point
        if path == point or path.startswith(point.rstrip("/") + "/"):
            if len(point) >= len(best):
                best, best_optional = point, " ".join(entry.optional)
    if not best:
        raise OSError(errno.ENOENT, f"Can't find mount point of {source}")
    return best, best_optional
