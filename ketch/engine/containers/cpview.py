"""What ``docker cp`` sees of a container: its root with its volumes and binds in place.

moby's ``openContainerFS`` (daemon/containerfs_linux.go) and ``checkIfPathIsInAVolume``
(daemon/archive_unix.go). A copy reads and writes a volume's data or a bind's source, as
the container itself would, and nothing of it shows outside the copy:

- on the host side (``hold``/``release``), each volume is mounted for the copy through
  ``VolumeAccess`` (counted, with its ``mount``/``unmount`` events, as moby's
  ``setupMounts`` does for cp) and a missing ``-v`` bind source is made;
- in a mount namespace of the copying thread's own (``bind_all``), each source is bound
  onto its destination inside the root, read-only where the mount point is (recursively,
  unless ``ReadOnlyNonRecursive``, as moby's ``makeMountRRO``). The namespace goes with
  the thread, even if ketchd dies midway.

Which mount points, and where (moby's rules):

- tmpfs mount points and ``HostConfig.Tmpfs`` destinations are not bound: a copy sees
  the root beneath them, as Docker's does (its view has no tmpfs of the container's);
- shallower destinations first (``sortMounts``), so a nested mount point lands inside
  the volume holding it, where the container sees it;
- a missing destination is made in the root, a directory or (for a file source) an empty
  file (``createIfNotExists``); it stays there, as in Docker;
- then the container's /etc/resolv.conf, /etc/hostname and /etc/hosts, so a copy reads
  the container's own files, not the image's (``NetworkMounts``).

Each destination is opened inside the root by ``open_in_root`` (no symlink of the
container's leads it out) and the clone of the source (``open_tree``) is attached to that
descriptor (``move_mount``): no path is resolved between choosing the place and mounting.

A write is refused before any byte is written under a read-only mount point ("mounted
volume is marked read-only"); under a writable one it is allowed even with a read-only
rootfs. The mount point holding a path is the deepest one containing it (moby walks its
map in no order, which is right only when mount points do not nest).
"""

import logging
import os
import posixpath
import stat
from dataclasses import dataclass

from ketch import errors
from ketch.apitypes.mounts import BIND, TMPFS, VOLUME
from ketch.engine.volumes.mountpoint import MountPoint, VolumeAccess
from ketch.engine.volumes.mountspec import mount_attributes
from ketch.linux import syscalls as sc
from ketch.linux.safepath import mkdir_all_in_root, open_dir_in_root, open_in_root, reopen

log = logging.getLogger("ketchd.containers")

BIND_SOURCE_MODE = 0o755  # moby's MkdirAllAndChown of a -v bind source
DESTINATION_MODE = 0o755  # createIfNotExists


@dataclass(frozen=True)
class Bound:
    """A mount point and the host path the copy binds onto its destination (a volume's
    ``subpath`` is opened inside it by descriptor only when bound: a container sharing
    the volume may swap one of its components for a symlink meanwhile)."""
    point: MountPoint
    source: str
    subpath: str = ""


# -- pure: which mount points, in which order, and writes under them ---------------------
def view_points(points: list[MountPoint], tmpfs: dict | None) -> list[MountPoint]:
    """The mount points a copy binds, shallowest destination first (a stable sort)."""
    skip = set(tmpfs or ())
    chosen = [mp for mp in points if mp.type != TMPFS and mp.destination not in skip]
    return sorted(chosen, key=lambda mp: _depth(mp.destination))


def _depth(path: str) -> int:
    return len(posixpath.normpath(path).split("/"))


def _holds(destination: str, path: str) -> bool:
    """moby's HasResource: ``path`` is the destination or under it."""
    dest = posixpath.normpath(destination)
    path = posixpath.normpath(path)
    return path == dest or path.startswith(dest.rstrip("/") + "/")


def holding(points: list[MountPoint], path: str) -> MountPoint | None:
    """The mount point ``path`` (resolved, inside the container) lies in, if any."""
    found = [mp for mp in points if _holds(mp.destination, path)]
    return max(found, key=lambda mp: _depth(mp.destination)) if found else None


def check_writable(points: list[MountPoint], path: str, readonly_rootfs: bool) -> None:
    """moby's refusals of an extraction to ``path`` (resolved, inside the container)."""
    mp = holding(points, path)
    if mp is not None and not mp.rw:
        raise errors.InvalidArgument("mounted volume is marked read-only")
    if mp is None and readonly_rootfs:
        raise errors.InvalidArgument("container rootfs is marked read-only")


def _bind_option(mp: MountPoint, key: str, spec_key: str) -> bool:
    bind = (mp.spec or {}).get("BindOptions") or {}
    return bool(bind.get(spec_key) or mp.options.get(key))


def network_bounds(points: list[MountPoint], files: dict[str, str], readonly_rootfs: bool) -> list[Bound]:
    """moby's NetworkMounts, bound after the mount points: the container's
    /etc/resolv.conf, /etc/hostname and /etc/hosts (``files``: destination -> host path),
    but where a mount point of the user's is; writable unless the rootfs is read-only."""
    covered = {mp.destination for mp in points}
    return [Bound(MountPoint(BIND, dest, source=src, rw=not readonly_rootfs, propagation="rprivate"), src)
            for dest, src in files.items() if dest not in covered]


# -- the host side: sources for the copy --------------------------------------------------
def hold(volumes: VolumeAccess | None, cid: str, points: list[MountPoint]) -> list[Bound]:
    """The sources of ``points`` for a copy: volumes mounted for ``cid`` (undone by
    ``release``, here too when one fails), missing ``-v`` bind sources made."""
    bound: list[Bound] = []
    try:
        for mp in points:
            bound.append(Bound(mp, _source(volumes, cid, mp), _subpath(mp)))
    except BaseException:
        release(volumes, cid, bound)
        raise
    return bound


def _source(volumes: VolumeAccess | None, cid: str, mp: MountPoint) -> str:
    if mp.type == VOLUME:
        if volumes is None:
            raise errors.Internal(f"no volume service to mount volume {mp.name}")
        try:
            return volumes.mount(mp.name, cid, mount_attributes(mp, cid))
        except errors.KetchError as exc:  # moby's MountPoint.Setup, for a copy as for a start
            raise errors.wrapped(exc, f"error while mounting volume '{mp.source}'") from None
    if mp.type == BIND:
        if mp.options.get("create_source") or _bind_option(mp, "create_mountpoint", "CreateMountpoint"):
            try:
                os.makedirs(mp.source, BIND_SOURCE_MODE)
            except FileExistsError:
                pass
            except OSError as exc:
                raise errors.Internal(f"error while creating mount source path '{mp.source}': "
                                      f"mkdir {mp.source}: {_go(exc)}") from None
        return mp.source
    raise errors.InvalidArgument(f"unknown mount type {mp.type!r} for {mp.destination}")


def _subpath(mp: MountPoint) -> str:
    if mp.type != VOLUME:
        return ""
    return ((mp.spec or {}).get("VolumeOptions") or {}).get("Subpath") or mp.options.get("subpath") or ""


def release(volumes: VolumeAccess | None, cid: str, bound: list[Bound]) -> None:
    """Undo ``hold``'s volume mounts (on the host side: a device a volume mounted lives
    in the host's namespace, not the copying thread's). One that fails is logged and the
    others still go (moby's UnmountVolumes): else they stay counted "in use" for good."""
    for b in reversed(bound):
        if b.point.type == VOLUME and volumes is not None:
            try:
                volumes.unmount(b.point.name, cid)
            except errors.KetchError as exc:
                log.error("cannot unmount volume %s of %s after a copy: %s", b.point.name, cid, exc)


# -- in the copying thread's own mount namespace ------------------------------------------
def bind_all(root: str, root_fd: int, bound: list[Bound]) -> None:
    """Bind each source onto its destination inside the root. The caller's thread must
    be in a private mount namespace of its own, and ``root_fd`` opened in it."""
    for b in bound:
        source = _open_source(b)
        try:
            is_dir = stat.S_ISDIR(os.fstat(source).st_mode)
            try:
                dest = _destination(root, root_fd, b.point.destination, is_dir)
            except OSError as exc:
                raise errors.Internal(f"open mount target {b.point.destination!r}: {_go(exc)}") from None
            try:
                _attach(source, dest, b.point)
            except OSError as exc:
                raise errors.Internal(f"bind {b.source} on {b.point.destination}: {_go(exc)}") from None
            finally:
                os.close(dest)
        finally:
            os.close(source)


def _open_source(b: Bound) -> int:
    """An O_PATH descriptor of what to bind: the host path (its symlinks followed, as
    moby's os.Stat), or the subpath inside the volume by descriptor."""
    try:
        fd = os.open(b.source, os.O_PATH | os.O_CLOEXEC)
    except OSError as exc:
        raise errors.Internal(f"stat {b.source}: {_go(exc)}") from None
    if not b.subpath:
        return fd
    try:
        return open_in_root(fd, b.subpath)
    except OSError as exc:  # mountsetup's words at start
        raise errors.InvalidArgument(f"cannot access path {posixpath.join(b.source, b.subpath)}: "
                                     f"{_go(exc)}") from None
    finally:
        os.close(fd)


def _destination(root: str, root_fd: int, destination: str, is_dir: bool) -> int:
    """An O_PATH descriptor of the destination inside the root, made if missing."""
    try:
        return open_in_root(root_fd, destination)
    except FileNotFoundError:
        pass
    if is_dir:
        mkdir_all_in_root(root, destination, DESTINATION_MODE)
    else:
        path_fd = open_dir_in_root(root, posixpath.dirname(destination) or "/", DESTINATION_MODE)
        try:
            parent = reopen(path_fd, os.O_RDONLY | os.O_DIRECTORY)
        finally:
            os.close(path_fd)
        try:
            os.close(os.open(posixpath.basename(destination), os.O_CREAT | os.O_WRONLY
                             | os.O_NOFOLLOW | os.O_CLOEXEC, DESTINATION_MODE, dir_fd=parent))
        finally:
            os.close(parent)
    return open_in_root(root_fd, destination)


def _attach(source_fd: int, dest_fd: int, mp: MountPoint) -> None:
    non_recursive = _bind_option(mp, "non_recursive", "NonRecursive")
    flags = sc.OPEN_TREE_CLONE | sc.AT_EMPTY_PATH | (0 if non_recursive else sc.AT_RECURSIVE)
    tree = sc.open_tree(source_fd, "", flags)
    try:
        # private: the copy's unmounts must not reach the source's peers (moby's MakeRPrivate)
        sc.mount_setattr(tree, propagation=sc.MS_PRIVATE, recursive=True)
        if not mp.rw:
            top_only = _bind_option(mp, "readonly_non_recursive", "ReadOnlyNonRecursive")
            sc.mount_setattr(tree, attr_set=sc.MOUNT_ATTR_RDONLY, recursive=not top_only)
        sc.move_mount(tree, dest_fd)
    finally:
        os.close(tree)


def _go(exc: OSError) -> str:
    """Go's text for an errno (glibc's, lower-cased)."""
    text = os.strerror(exc.errno) if exc.errno else str(exc)
    return text[:1].lower() + text[1:]
