"""A container's own mounts at start and stop: mount points and ``HostConfig.Tmpfs`` to OCI mounts.

moby's ``setupMounts`` (daemon/volumes_unix.go), ``TmpfsMounts`` and the user-mount half
of ``withMounts`` (daemon/oci_linux.go). At start, for each run:

- ``HostConfig.Tmpfs`` and ``--mount type=tmpfs`` become tmpfs mounts whose options start
  from ``noexec,nosuid,nodev,rprivate`` and are merged as moby's ``MergeTmpfsOptions``
  (the last of two options for one flag wins). A mount point on a tmpfs's destination is
  skipped, as moby's;
- a volume is mounted through ``VolumeAccess.mount`` (its ``mount`` event carries moby's
  attributes) and, at the container's first start, a new empty volume is seeded from the
  image's content at its destination unless ``nocopy`` (``volume/copyup.py``; moby does
  it at create, where its rootfs is mounted; ketch's is mounted only at start); a
  ``subpath`` is resolved inside the volume by descriptor and pinned with a bind under
  the run's exec directory (moby's ``safepath.Join``) until the run's teardown;
- a ``-v`` bind whose source is missing gets it made as a directory (0755, moby's
  ``MkdirAllAndChown``); a ``--mount`` bind does not (moby's ``SkipMountpointCreation``)
  unless ``BindOptions.CreateMountpoint``;
- binds and volumes become ``rbind`` (``bind`` for ``bind-recursive=disabled``), read-only
  as ``rro`` where the runtime and kernel support it (Docker 25+) else ``ro``, with their
  propagation; a shared or slave propagation needs a source on a shared (or slave) mount
  (``ensureShared``), else moby's error;
- on /etc/resolv.conf, /etc/hostname or /etc/hosts a mount point replaces Docker's own
  file with its default propagation (moby's ``TrySetNetworkMount``); specgen then drops
  its own.

What a run mounted is remembered per container, so its stop (any teardown of the bundle)
unmounts exactly that once; after a ketchd restart a running container's volumes are
counted again through ``VolumeAccess.restore`` (moby's ``LiveRestore``), with no event.

Mount point ``options`` read here (beside the ``spec``, moby's ``Spec``, which wins for
the fields it has): ``non_recursive``, ``readonly_non_recursive``,
``readonly_force_recursive``, ``create_mountpoint``, ``create_source`` (a ``-v`` bind),
``tmpfs_size``, ``tmpfs_mode`` (bytes, mode bits) and ``subpath`` (volume).
"""

import errno
import logging
import os
import stat
import threading
from dataclasses import replace

from ketch import errors
from ketch.apitypes.mounts import BIND, DEFAULT_PROPAGATION, TMPFS, VOLUME
from ketch.engine.volumes.mountpoint import MountPoint, VolumeAccess
from ketch.engine.volumes.namelocks import NameLocks
from ketch.linux import mount as mnt
from ketch.linux import syscalls as sc
from ketch.linux.safepath import open_in_root
from ketch.volume import copyup

log = logging.getLogger("ketchd.mounts")

NETWORK_FILES = ("/etc/resolv.conf", "/etc/hostname", "/etc/hosts")
TMPFS_DEFAULTS = ("noexec", "nosuid", "nodev", DEFAULT_PROPAGATION)
BIND_SOURCE_MODE = 0o755

# moby/sys/mount's flags table: option -> the flag it sets or clears (the collision key)
_FLAG_OF = {
    "ro": "rdonly", "rw": "rdonly", "suid": "nosuid", "nosuid": "nosuid", "dev": "nodev",
    "nodev": "nodev", "exec": "noexec", "noexec": "noexec", "sync": "sync", "async": "sync",
    "dirsync": "dirsync", "remount": "remount", "mand": "mand", "nomand": "mand",
    "atime": "noatime", "noatime": "noatime", "diratime": "nodiratime",
    "nodiratime": "nodiratime", "relatime": "relatime", "norelatime": "relatime",
    "strictatime": "strictatime", "nostrictatime": "strictatime",
}
_PROPAGATION_FLAGS = ("bind", "rbind", "unbindable", "runbindable", "private", "rprivate",
                      "shared", "rshared", "slave", "rslave")
_TMPFS_DATA = ("", "size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol")
_SHARED = ("shared", "rshared")
_SLAVE = ("slave", "rslave")


# -- pure: one mount point or tmpfs to one OCI mount ----------------------------------------
def merge_tmpfs_options(options: list[str]) -> list[str]:
    """moby/sys/mount's MergeTmpfsOptions: one option per flag (the last wins), one
    propagation, one value per data key; an unknown option is refused."""
    seen: set[str] = set()
    out: list[str] = []
    for option in reversed(options):
        if option == "defaults":
            continue
        if option in _FLAG_OF or option in _PROPAGATION_FLAGS:
            key = "propagation" if option in _PROPAGATION_FLAGS else _FLAG_OF[option]
        else:
            name, sep, _ = option.partition("=")
            if not sep or name not in _TMPFS_DATA:
                raise errors.InvalidArgument(f'invalid tmpfs option "{name}"')
            key = "=" + name
        if key not in seen:
            seen.add(key)
            out.insert(0, option)
    return out


def tmpfs_mount(destination: str, data: str) -> dict:
    options = list(TMPFS_DEFAULTS) + (data.split(",") if data else [])
    return {"destination": destination, "type": "tmpfs", "source": "tmpfs",
            "options": merge_tmpfs_options(options)}


def _size_text(size: int) -> str:
    """ConvertTmpfsOptions: the largest of g, m, k that divides the size evenly."""
    for suffix, divisor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
        if size % divisor == 0:
            return f"{size // divisor}{suffix}"
    return str(size)


def tmpfs_data(mp: MountPoint) -> str:
    """moby's ConvertTmpfsOptions for a ``--mount type=tmpfs``."""
    opts = (mp.spec or {}).get("TmpfsOptions") or {}
    raw = [] if mp.rw else ["ro"]
    mode = opts.get("Mode") or mp.options.get("tmpfs_mode") or 0
    if mode:
        raw.append(f"mode={mode:o}")
    size = opts.get("SizeBytes") or mp.options.get("tmpfs_size") or 0
    if size:
        raw.append(f"size={_size_text(int(size))}")
    for item in opts.get("Options") or []:
        raw.append("=".join(item))
    return ",".join(raw)


def _bind_option(mp: MountPoint, key: str, spec_key: str) -> bool:
    bind = (mp.spec or {}).get("BindOptions") or {}
    return bool(bind.get(spec_key) or mp.options.get(key))


def bind_mount(mp: MountPoint, source: str, rro_error: str = "") -> dict:
    """withMounts for a bind or volume: rbind/bind, rro/ro, propagation.
    ``rro_error``: why recursive read-only is unavailable ("" when it is)."""
    network = mp.destination in NETWORK_FILES
    non_recursive = not network and _bind_option(mp, "non_recursive", "NonRecursive")
    ro_non_recursive = not network and _bind_option(mp, "readonly_non_recursive",
                                                    "ReadOnlyNonRecursive")
    ro_force = not network and _bind_option(mp, "readonly_force_recursive", "ReadOnlyForceRecursive")
    if mp.rw and ro_non_recursive:
        raise errors.InvalidArgument("mount options conflict: !ReadOnly && BindOptions.ReadOnlyNonRecursive")
    if mp.rw and ro_force:
        raise errors.InvalidArgument("mount options conflict: !ReadOnly && BindOptions.ReadOnlyForceRecursive")
    if ro_non_recursive and ro_force:
        raise errors.InvalidArgument(
            "mount options conflict: ReadOnlyNonRecursive && BindOptions.ReadOnlyForceRecursive")
    options = ["bind" if non_recursive else "rbind"]
    if not mp.rw:
        if rro_error and ro_force:
            raise errors.InvalidArgument(rro_error)
        options.append("ro" if ro_non_recursive or rro_error else "rro")
    propagation = DEFAULT_PROPAGATION if network else mp.propagation
    if propagation:
        options.append(propagation)
    return {"destination": mp.destination, "type": "bind", "source": source, "options": options}


def mount_attributes(mp: MountPoint, cid: str) -> dict:
    """moby's attributes of a volume's ``mount`` event."""
    return {"driver": mp.driver, "container": cid, "destination": mp.destination,
            "read/write": "true" if mp.rw else "false", "propagation": mp.propagation}


def mount_points(docs: list[dict]) -> list[MountPoint]:
    return [MountPoint.from_doc(doc) for doc in docs]


# -- the host side: what a run mounts, and its release -----------------------------------
class MountSetup:
    def __init__(self, volumes: VolumeAccess, data_root: str = "", copy_into_empty=None,
                 locks: NameLocks | None = None) -> None:
        self.volumes = volumes
        self.data_root = data_root
        self._copy = copy_into_empty or copyup.copy_into_empty
        self._active: dict[str, list[str]] = {}  # container id -> volumes this run mounted
        self._lock = threading.Lock()
        # Starts and stops run in worker threads; the volume service and its driver count
        # mounts without a lock of their own (two first users of a device volume at once
        # would each mount it), so their calls for one volume go one at a time.
        self.locks = locks or NameLocks()
        self._copy_locks: dict[str, threading.Lock] = {}  # volume -> held while seeding it

    def setup(self, cid: str, mounts: list[dict], tmpfs: dict | None, rootfs: str,
              first_start: bool, rro_error: str = "", pin_dir: str = "") -> tuple[dict, ...]:
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
            out.append(self._mount(cid, mp, rootfs, first_start, rro_error, pin_dir))
        return tuple(out)

    def _mount(self, cid: str, mp: MountPoint, rootfs: str, first_start: bool,
               rro_error: str, pin_dir: str) -> dict:
        if mp.type == VOLUME:
            try:
                with self.locks.hold([mp.name]):
                    path = self.volumes.mount(mp.name, cid, mount_attributes(mp, cid))
            except errors.KetchError as exc:  # moby's MountPoint.Setup wraps the driver's error
                raise errors.wrapped(exc, f"error while mounting volume '{mp.source}'") from None
            with self._lock:
                self._active.setdefault(cid, []).append(mp.name)
            if first_start and mp.copy_data:
                with self._lock:
                    seeding = self._copy_locks.setdefault(mp.name, threading.Lock())
                with seeding:  # two first starts sharing a new volume: one seeds, one finds it full
                    self._copy_up(rootfs, mp, path)
            sub = ((mp.spec or {}).get("VolumeOptions") or {}).get("Subpath") or mp.options.get("subpath")
            return bind_mount(mp, pin_subpath(path, sub, pin_dir) if sub else path, rro_error)
        if mp.type == BIND:
            if not self._propagation_ok(cid, mp):
                mp = replace(mp, propagation="")  # moby's fallback: the default propagation
            if mp.options.get("create_source") or _bind_option(mp, "create_mountpoint",
                                                                "CreateMountpoint"):
                _make_source(mp.source)
            return bind_mount(mp, mp.source, rro_error)
        raise errors.InvalidArgument(f"unknown mount type {mp.type!r} for {mp.destination}")

    def _copy_up(self, rootfs: str, mp: MountPoint, path: str) -> None:
        try:
            self._copy(rootfs, mp.destination, path)
        except OSError as exc:
            raise errors.Internal(f"failed to populate volume: {exc}") from None

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
    with open("/proc/self/mountinfo") as f:
        for line in f:
            head = line.split(" - ", 1)[0].split()
            point = _unescape(head[4])
            if path == point or path.startswith(point.rstrip("/") + "/"):
                if len(point) >= len(best):
                    best, best_optional = point, " ".join(head[6:])
    if not best:
        raise OSError(errno.ENOENT, f"Can't find mount point of {source}")
    return best, best_optional


def _unescape(text: str) -> str:
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n") \
        .replace("\\134", "\\")
