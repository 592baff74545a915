"""The container's filesystem view, built inside its new mount namespace.

Order (runc's ``prepareRootfs``): make the host's mounts private, bind the rootfs onto
itself so it is a mount point, mount the spec's mounts under it, create devices and the
/dev symlinks, ``pivot_root``, then mask and freeze paths and make the root read-only.
Destinations are resolved inside the rootfs, so a symlink in the image cannot send a
mount to the host; everything created before ``pivot_root`` (mount points, device
nodes, the /dev links, the v1 cgroup directories) is created by name relative to a
descriptor of its resolved parent (``safepath.open_dir_in_root``), never under a path
joined to the root, which would follow an image's symlinked ``/dev`` or ``/etc`` out of
it. Every mount then goes onto a descriptor of its destination opened inside the root
(``_open_mount_point``), never onto a path the kernel would walk again, which another
container sharing a volume could have changed meanwhile (CVE-2021-30465); binds are
made detached, given their flags, then attached (``open_tree``, ``mount_setattr``,
``move_mount``). After ``pivot_root`` (the console, the working directory) paths are
the container's; read-only and masked paths are handled by descriptor too.
"""

import errno
import os
import stat

from ketch.errors import InvalidArgument
from ketch.linux import syscalls as sc
from ketch.linux import mount as mnt
from ketch.linux.mount import PROPAGATION, MountAttrs, ParsedOptions, mount_attrs, parse_options
from ketch.linux.safepath import mkdir_all_in_root, open_dir_in_root, open_in_root, resolve_in_root
from ketch.runtime.specconv import ContainerConfig, Device, MountSpec

# Devices every container gets (the OCI spec's "default devices").
DEFAULT_DEVICES = (
    Device("/dev/null", "c", 1, 3), Device("/dev/zero", "c", 1, 5),
    Device("/dev/full", "c", 1, 7), Device("/dev/random", "c", 1, 8),
    Device("/dev/urandom", "c", 1, 9), Device("/dev/tty", "c", 5, 0),
)
DEV_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
)


def _mount_target(root: str, m: MountSpec) -> str:
    """Create the mount point inside ``root``: a file for a bind of a file, else a dir.

    Both by descriptor (``safepath``): nothing is created outside ``root`` whatever
    the tree does meanwhile. Returns its host path as resolved inside ``root``, for
    messages and tests; the mount itself goes onto ``_open_mount_point``'s descriptor."""
    if m.is_bind and not os.path.isdir(m.source):
        target = resolve_in_root(root, m.destination)
        inside = os.path.relpath(target, root)
        parent = open_dir_in_root(root, os.path.dirname(inside))
        try:
            # mknod of a regular file: never follows a symlink, never opens a fifo or device
            os.mknod(os.path.basename(inside), stat.S_IFREG | 0o644, dir_fd=parent)
        except FileExistsError:
            pass
        finally:
            os.close(parent)
        return target
    try:
        return mkdir_all_in_root(root, m.destination)
    except NotADirectoryError:
        raise InvalidArgument(f"mount destination {m.destination} is not a directory") from None


def _open_mount_point(root_fd: int, m: MountSpec) -> int:
    """An ``O_PATH`` descriptor of the destination, resolved inside the root by the
    kernel (``openat2`` ``RESOLVE_IN_ROOT``) or by the descriptor walk: whatever a
    component has been swapped for since it was created, it is inside the root. Every
    mount goes onto this descriptor, never onto a path resolved again (CVE-2021-30465)."""
    try:
        return open_in_root(root_fd, m.destination)
    except (FileNotFoundError, NotADirectoryError):
        raise InvalidArgument(f"mount destination {m.destination} changed while mounting") from None


# Under /proc only these take a mount (what lxcfs emulates), as runc's checkProcMount:
# a mount over /proc/self/attr, /proc/sys/kernel/core_pattern, ... would blind the kernel's
# interfaces the runtime or the host rely on.
_PROC_MOUNTABLE = frozenset({
    "proc/cpuinfo", "proc/diskstats", "proc/meminfo", "proc/stat", "proc/swaps", "proc/uptime",
    "proc/loadavg", "proc/slabinfo", "proc/net/dev", "proc/sys/kernel/ns_last_pid",
    "proc/sys/crypto/fips_enabled"})
_PROC_ROOT_INO = 1


def _check_proc_destination(root_fd: int, target_fd: int, m: MountSpec) -> None:
    """runc's checkProcMount, on where the descriptor really is (symlinks resolved)."""
    inside = os.path.relpath(os.readlink(_procfd(target_fd)), os.readlink(_procfd(root_fd)))
    if inside != "proc" and not inside.startswith("proc/"):
        return
    if inside == "proc":
        if m.type == "proc" and not m.is_bind:
            return
        if m.is_bind and _is_procfs_root(m.source):
            return
        raise InvalidArgument(f'"{m.destination}" cannot be mounted because it is not of type proc')
    if inside not in _PROC_MOUNTABLE:
        raise InvalidArgument(f'"{m.destination}" cannot be mounted because it is inside /proc')


def _is_procfs_root(path: str) -> bool:
    """Whether ``path`` is the root of a procfs (its root inode, on a "proc" mount)."""
    st = os.stat(path)
    if st.st_ino != _PROC_ROOT_INO:
        return False
    device = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    return any(m.device == device and m.fstype == "proc" for m in mnt.mountinfo())


def _procfd(fd: int) -> str:
    # the magic link names the object the descriptor holds, not a path walked again
    return f"/proc/self/fd/{fd}"


def _bind(source: str, target_fd: int, opts: ParsedOptions, attrs: MountAttrs, recursive: bool) -> None:
    """A bind of ``source`` onto the mount point ``target_fd``, with the new mount API:
    the copy is made detached (``open_tree``), given its flags there (so it is never
    visible writable when it should be read-only), then attached by descriptor."""
    tree = sc.open_tree(sc.AT_FDCWD, source, sc.OPEN_TREE_CLONE | (sc.AT_RECURSIVE if recursive else 0))
    try:
        if attrs.set or attrs.clear:
            sc.mount_setattr(tree, attrs.set, attrs.clear)
        if attrs.rec_set or attrs.rec_clear:
            sc.mount_setattr(tree, attrs.rec_set, attrs.rec_clear, recursive=True)
        sc.move_mount(tree, target_fd)
        for prop in opts.propagation:  # on the mount just attached, through its descriptor
            sc.mount_setattr(tree, propagation=prop & ~sc.MS_REC, recursive=bool(prop & sc.MS_REC))
    finally:
        os.close(tree)


def _mounted_here(root_fd: int, m: MountSpec, under_dev: int) -> int:
    """The mount just made at ``m.destination``, opened again: for changes after the
    mount (propagation), which need the new mount rather than the mount point under it.
    It must be a mount root on a filesystem other than the one under it, else the tree
    changed meanwhile and the change would land on another mount."""
    fd = _open_mount_point(root_fd, m)
    if sc.is_mount_root(fd) is False or os.fstat(fd).st_dev == under_dev:
        os.close(fd)
        raise InvalidArgument(f"mount destination {m.destination} changed while mounting")
    return fd


_cgroup_mounts: dict[str, str] | None = None


def host_cgroup_mounts() -> dict[str, str]:
    """cgroup v1 hierarchies of the host: controllers ("cpu,cpuacct") -> mount point.

    Read once per process: the fork server calls it before it forks any container, so
    containers do not each read a mount table that lists every other container's
    rootfs (~1 ms of kernel time per container with 500 running). Hierarchies are
    mounted at boot and do not move while ketchd runs."""
    global _cgroup_mounts
    if _cgroup_mounts is None:
        _cgroup_mounts = _read_cgroup_mounts()
    return _cgroup_mounts


def _read_cgroup_mounts() -> dict[str, str]:
    out = {}
    for m in mnt.mountinfo():
        if m.fstype == "cgroup":
            names = [o for o in m.super_options.split(",") if o not in ("rw", "ro")]
            out[",".join(n.replace("name=", "") for n in names)] = m.mount_point
    return out


def _mount_cgroup(root_fd: int, target_fd: int, m: MountSpec, opts: ParsedOptions) -> None:
    """/sys/fs/cgroup inside the container, as runc does it.

    v2: the cgroup2 filesystem (rooted at the container's cgroup by its cgroup
    namespace). v1: a tmpfs holding, per hierarchy, a bind of this process's own
    cgroup directory (the container's), then every piece made read-only.
    """
    from ketch.runtime import cgroups  # imported before the fork when the config has a cgroupsPath
    flags = opts.flags & ~sc.MS_RDONLY
    if cgroups.detect() == "v2":
        sc.mount("cgroup2", _procfd(target_fd), "cgroup2", opts.flags)
        return
    under = os.fstat(target_fd).st_dev
    sc.mount("tmpfs", _procfd(target_fd), "tmpfs", flags | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, "mode=755")
    hierarchies = host_cgroup_mounts()
    with open("/proc/self/cgroup") as f:
        own = [line.rstrip("\n").split(":", 2) for line in f]
    tmpfs = _mounted_here(root_fd, m, under)  # the tmpfs just mounted
    # read-only unless the spec says rw (privileged containers), as runc does
    attrs = mount_attrs(m.options)
    try:
        for _hid, controllers, path in own:
            name = controllers.replace("name=", "")
            if not controllers or name not in hierarchies:
                continue
            os.mkdir(name, 0o755, dir_fd=tmpfs)
            dest = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=tmpfs)
            try:
                _bind(os.path.join(hierarchies[name], path.lstrip("/")), dest, opts.replace(propagation=()),
                      attrs, recursive=True)
            finally:
                os.close(dest)
            for single in name.split(",") if "," in name else ():
                os.symlink(name, single, dir_fd=tmpfs)  # cpu -> cpu,cpuacct
        if opts.flags & sc.MS_RDONLY:
            sc.mount(None, _procfd(tmpfs), None, sc.MS_REMOUNT | sc.MS_RDONLY | flags, "mode=755")
    finally:
        os.close(tmpfs)


def _mount_one(root_fd: int, root: str, m: MountSpec) -> None:
    _mount_target(root, m)
    opts = parse_options(m.options)
    if m.is_bind and not os.path.exists(m.source):
        raise InvalidArgument(f"bind mount source {m.source} does not exist")
    target = _open_mount_point(root_fd, m)
    try:
        _check_proc_destination(root_fd, target, m)
        if m.type == "cgroup":
            _mount_cgroup(root_fd, target, m, opts)
            return
        if m.is_bind:
            _bind(m.source, target, opts, mount_attrs(m.options), recursive=bool(opts.flags & sc.MS_REC))
            return
        # A new filesystem has no mounts under it yet: "rro" is "ro" at mount time.
        rec = mount_attrs(m.options)
        flags = (opts.flags | _flags_of(rec.rec_set)) & ~_flags_of(rec.rec_clear)
        under = os.fstat(target).st_dev
        sc.mount(m.source or m.type, _procfd(target), m.type, flags, opts.data or None)
        if opts.propagation:
            new = _mounted_here(root_fd, m, under)
            try:
                for prop in opts.propagation:
                    sc.mount(None, _procfd(new), None, prop)
            finally:
                os.close(new)
    finally:
        os.close(target)


def _flags_of(attrs: int) -> int:
    return sum(flag for flag, attr in _MS_OF_ATTR if attrs & attr)


_MS_OF_ATTR = ((sc.MS_RDONLY, sc.MOUNT_ATTR_RDONLY), (sc.MS_NOSUID, sc.MOUNT_ATTR_NOSUID),
               (sc.MS_NODEV, sc.MOUNT_ATTR_NODEV), (sc.MS_NOEXEC, sc.MOUNT_ATTR_NOEXEC),
               (sc.MS_NODIRATIME, sc.MOUNT_ATTR_NODIRATIME), (sc.MS_NOATIME, sc.MOUNT_ATTR_NOATIME),
               (sc.MS_STRICTATIME, sc.MOUNT_ATTR_STRICTATIME),
               (sc.MS_NOSYMFOLLOW, sc.MOUNT_ATTR_NOSYMFOLLOW))


def _make_device(root: str, dev: Device) -> None:
    kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[dev.type]
    parent = open_dir_in_root(root, os.path.dirname(dev.path))
    name = os.path.basename(dev.path)
    try:
        try:
            os.unlink(name, dir_fd=parent)
        except FileNotFoundError:
            pass
        os.mknod(name, kind | (dev.mode & 0o7777), os.makedev(dev.major, dev.minor), dir_fd=parent)
        os.chown(name, dev.uid, dev.gid, dir_fd=parent, follow_symlinks=False)
    finally:
        os.close(parent)


def _has_dev_tmpfs(cfg: ContainerConfig) -> bool:
    return any(m.destination.rstrip("/") == "/dev" and not m.is_bind for m in cfg.mounts)


def _setup_dev(cfg: ContainerConfig) -> None:
    """Device nodes and the /dev links, in the /dev tmpfs wherever the image's /dev leads."""
    umask = os.umask(0)  # mknod honours the umask; the nodes get exactly their mode
    try:
        seen = set()
        for dev in DEFAULT_DEVICES + cfg.devices:
            if dev.path not in seen:
                seen.add(dev.path)
                _make_device(cfg.root, dev)
    finally:
        os.umask(umask)
    links = DEV_SYMLINKS + ((("/proc/kcore", "/dev/core"),) if os.path.exists("/proc/kcore") else ())
    dev = open_dir_in_root(cfg.root, "/dev")
    try:
        for target, link in links:
            try:
                os.symlink(target, os.path.basename(link), dir_fd=dev)
            except FileExistsError:  # a device of the config (privileged: the host's ptmx)
                pass
    finally:
        os.close(dev)


def _pivot_root(root: str) -> None:
    # pivot_root(".", ".") stacks the old root on top of the new one; unmounting "."
    # afterwards removes it without needing a put_old directory inside the image.
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new = os.open(root, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new)
        sc.pivot_root(".", ".")
        os.fchdir(old)
        sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
        sc.umount(".", sc.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old)
        os.close(new)


def _mask(root_fd: int, path: str, null_fd: int | None) -> None:
    """Hide ``path``: /dev/null over a file, an empty read-only tmpfs over a directory.

    By descriptor, both ends: the /dev/null bound is the one checked to be the null
    device, so a /dev shared with another container cannot have it swapped for a link to
    a file that would then be bound writable over the masked path (CVE-2025-31133)."""
    try:
        target = open_in_root(root_fd, path)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        if stat.S_ISDIR(os.fstat(target).st_mode):
            mnt = sc.fsmount_new("tmpfs", ("ro",), sc.MOUNT_ATTR_RDONLY)
        elif null_fd is None:
            return
        else:
            mnt = sc.open_tree(null_fd, "", sc.OPEN_TREE_CLONE | sc.AT_EMPTY_PATH)
        try:
            sc.move_mount(mnt, target)
        finally:
            os.close(mnt)
    finally:
        os.close(target)


def _open_dev_null() -> int | None:
    """The container's /dev/null, checked; None if it has none (runc then masks no files)."""
    try:
        fd = os.open("/dev/null", os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InvalidArgument("/dev/null is not the null device") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISCHR(st.st_mode) or st.st_rdev != os.makedev(1, 3):
        os.close(fd)
        raise InvalidArgument("/dev/null is not the null device")
    return fd


def _make_readonly(root_fd: int, path: str) -> None:
    """A read-only bind of ``path`` onto itself (its submounts as they were, rw or not);
    the flags it has (nosuid, noexec, ...) stay, as mount_setattr changes only "ro"."""
    try:
        target = open_in_root(root_fd, path)
    except (FileNotFoundError, NotADirectoryError):
        return
    try:
        tree = sc.open_tree(target, "", sc.OPEN_TREE_CLONE | sc.AT_RECURSIVE | sc.AT_EMPTY_PATH)
        try:
            sc.mount_setattr(tree, sc.MOUNT_ATTR_RDONLY)
            sc.move_mount(tree, target)
        finally:
            os.close(tree)
    finally:
        os.close(target)


def prepare(cfg: ContainerConfig) -> None:
    """Everything up to and including pivot_root. Runs in the container's mount namespace."""
    propagation = PROPAGATION.get(cfg.rootfs_propagation, sc.MS_PRIVATE | sc.MS_REC)
    sc.mount(None, "/", None, sc.MS_SLAVE | sc.MS_REC if propagation & sc.MS_SHARED else propagation)
    sc.mount(cfg.root, cfg.root, None, sc.MS_BIND | sc.MS_REC)
    # opened after the bind onto itself, so the descriptor is in the mount that pivot_root takes
    root_fd = os.open(cfg.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for m in cfg.mounts:
            try:
                _mount_one(root_fd, cfg.root, m)
            except (OSError, InvalidArgument) as exc:
                # runc's wording, which Docker shows after "error during container init: "
                raise InvalidArgument(f'error mounting "{m.source}" to rootfs at "{m.destination}": '
                                      f"{_cause(exc)}") from None
    finally:
        os.close(root_fd)
    if _has_dev_tmpfs(cfg):
        _setup_dev(cfg)
    _pivot_root(cfg.root)


def _cause(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"{exc.filename + ': ' if exc.filename else ''}{(exc.strerror or str(exc)).lower()}"
    return str(exc)


def finish(cfg: ContainerConfig) -> None:
    """After pivot_root: read-only then masked paths (runc's order), then the read-only root."""
    root_fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for path in cfg.readonly_paths:
            _make_readonly(root_fd, path)
        if cfg.masked_paths:
            null_fd = _open_dev_null()
            try:
                for path in cfg.masked_paths:
                    _mask(root_fd, path, null_fd)
            finally:
                if null_fd is not None:
                    os.close(null_fd)
    finally:
        os.close(root_fd)
    if cfg.readonly_root:
        sc.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC)


def bind_console(slave_path: str) -> None:
    """Make /dev/console the container's terminal (runc does the same bind)."""
    if not os.path.lexists("/dev/console"):
        os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    sc.mount(slave_path, "/dev/console", None, sc.MS_BIND)
