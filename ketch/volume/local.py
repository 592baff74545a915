"""The ``local`` volume driver: a directory per volume, or a filesystem mounted on it.

On disk, as moby's ``volume/local``::

    <data-root>/volumes/            0701  others may pass through but not list the names
        <name>/                     0701  the volume's root (moby keeps opts.json here;
                                          ketch keeps the options in its database)
            _data/                  0755  what containers see (the volume's mountpoint)

A volume made with ``-o type=... -o device=... [-o o=...]`` has its filesystem mounted
on ``_data`` at its first use and unmounted at its last (moby counts the users in
memory; so does this driver, and the engine mounts the volumes of running containers
again after a restart, which finds the mount already there).

Names follow moby's rule for the local driver (``[a-zA-Z0-9][a-zA-Z0-9_.-]+``), which
leaves no way to name a path outside the root ("..", "/"); ``path_of`` checks it again.

A removal first renames the volume's directory to a tombstone, ``.<name>.removing-<hex>``
(a leading dot: never a volume's name), and deletes it afterwards: the start-up sweep
deletes tombstones only, never a directory with a volume's name (moby adopts those).
"""

import ipaddress
import os
import re
import secrets
import socket
import stat
from typing import Callable

from ketch import errors, units
from ketch.linux import filemode, fstree
from ketch.linux import mount as mnt
from ketch.linux import syscalls as sc

ROOT_MODE = 0o701  # moby's volumes dir: no listing of the names by other users
VOLUME_MODE = 0o701  # the volume's own root, as moby's
DATA_MODE = 0o755  # _data: what the container's users need to reach
DATA = "_data"

NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"  # moby's names.RestrictedNameChars
_NAME = re.compile(r"\A[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")
_TOMBSTONE = re.compile(r"\A\.[a-zA-Z0-9][a-zA-Z0-9_.-]+\.removing-[0-9a-f]+\Z")

VALID_OPTS = ("type", "o", "device", "size")
# an option -> the options it needs, in the order they are asked for
_REQUIRED = (("device", ("type",)), ("type", ("device",)), ("o", ("device", "type")))


def validate_name(name: str) -> None:
    """moby's ``Root.validateName``; the message is Docker's word for word."""
    if len(name) == 1:
        raise errors.InvalidArgument(
            "volume name is too short, names should be at least two alphanumeric characters")
    if not _NAME.match(name):
        raise errors.InvalidArgument(
            f"{units.go_quote(name)} includes invalid characters for a local volume name, only "
            f"{units.go_quote(NAME_CHARS)} are allowed. If you intended to pass a host directory, "
            "use absolute path")


def validate_opts(opts: dict[str, str]) -> None:
    """moby's ``Root.validateOpts`` (local_unix.go): known keys, ``size`` needs quota
    support (ketch has none), ``type``/``device``/``o`` go together."""
    for key in opts:
        if key not in VALID_OPTS:
            raise errors.InvalidArgument(f"invalid option: {units.go_quote(key)}")
    if opts.get("type") == "cifs" and opts.get("device"):
        if _url_port(opts["device"]):
            raise errors.InvalidArgument("port not allowed in CIFS device URL, include 'port' in 'o='")
    if "size" in opts:
        try:
            size = units.parse_ram(opts["size"])
        except ValueError as exc:
            raise errors.InvalidArgument(str(exc)) from None
        if size > 0:
            raise errors.InvalidArgument("quota size requested but no quota support")
    for key, needs in _REQUIRED:
        if key in opts:
            for need in needs:
                if need not in opts:
                    raise errors.InvalidArgument(f"missing required option: {units.go_quote(need)}")


def _url_port(device: str) -> str:
    """The port of a ``//host:port/share`` device, as Go's url.Parse sees it."""
    rest = device.split("://", 1)[1] if "://" in device else device
    if not rest.startswith("//") and "://" not in device:
        return ""
    host = rest.lstrip("/").split("/", 1)[0].rsplit("@", 1)[-1]
    if host.startswith("["):
        host = host.rsplit("]", 1)[-1]
    return host.rsplit(":", 1)[1] if ":" in host else ""


def needs_mount(opts: dict[str, str]) -> bool:
    return bool(opts.get("device") or opts.get("type"))


class LocalDriver:
    name = "local"

    def __init__(self, root: str) -> None:
        self.root = os.path.normpath(root)
        filemode.makedirs(self.root, ROOT_MODE)
        self._active: dict[str, int] = {}  # volume -> mounts of its device in use

    def names(self) -> list[str]:
        """The volume directories on disk: those with a volume's name."""
        return sorted(e.name for e in os.scandir(self.root)
                      if e.is_dir(follow_symlinks=False) and _NAME.match(e.name))

    def tombstones(self) -> list[str]:
        """The directories of removals a crash cut short (see ``bury``)."""
        return sorted(e.name for e in os.scandir(self.root)
                      if e.is_dir(follow_symlinks=False) and _TOMBSTONE.match(e.name))

    def created_at(self, name: str) -> float:
        """The modification time of the volume's root (moby's localVolume.CreatedAt)."""
        return os.stat(self.path_of(name)).st_mtime

    def path_of(self, name: str) -> str:
        """The volume's root directory; never outside ``root``."""
        validate_name(name)
        path = os.path.join(self.root, name)
        if os.path.dirname(path) != self.root:  # the rule above already forbids it
            raise errors.InvalidArgument(f"invalid volume name: {name}")
        return path

    def data_path(self, name: str) -> str:
        return os.path.join(self.path_of(name), DATA)

    def create(self, name: str, opts: dict[str, str]) -> str:
        """Make the volume's directories; returns its mountpoint. Whatever fails leaves
        nothing behind."""
        validate_name(name)
        validate_opts(opts)
        root = self.path_of(name)
        made = False
        try:
            try:
                filemode.mkdir(root, VOLUME_MODE)
                made = True
            except FileExistsError:
                if not os.path.isdir(root) or os.path.islink(root):
                    raise errors.Internal(f"error while creating volume root path '{root}': "
                                          f"mkdir {root}: not a directory") from None
            data = os.path.join(root, DATA)
            try:
                filemode.mkdir(data, DATA_MODE)
            except FileExistsError:
                pass
            except OSError as exc:  # moby's message for this step
                raise errors.Internal(f"error while creating volume data path '{data}': "
                                      f"mkdir {data}: {_go_errno(exc)}") from None
            return data
        except OSError as exc:
            if made:
                fstree.remove_tree(root)
            raise errors.Internal(f"error while creating volume root path '{root}': "  # Go's PathError
                                  f"mkdir {root}: {_go_errno(exc)}") from None
        except BaseException:
            if made:
                fstree.remove_tree(root)
            raise

    # -- use ------------------------------------------------------------------------
    def mount(self, name: str, opts: dict[str, str]) -> str:
        """The volume's data path, its filesystem mounted there first if it has one."""
        path = self.data_path(name)
        if needs_mount(opts):
            if not self._active.get(name) and not _mounted(path):
                self._mount_device(path, opts)
            self._active[name] = self._active.get(name, 0) + 1
        return path

    def unmount(self, name: str, opts: dict[str, str]) -> None:
        if not needs_mount(opts):
            return
        left = self._active.get(name, 0) - 1
        if left > 0:
            self._active[name] = left
            return
        self._active.pop(name, None)
        self._unmount_device(self.data_path(name))

    def active(self, name: str) -> int:
        return self._active.get(name, 0)

    def _mount_device(self, path: str, opts: dict[str, str]) -> None:
        device, joined = mount_source(opts)
        options = tuple(o for o in joined.split(",") if o)
        m = mnt.Mount(opts.get("type", ""), device, path, options)
        try:
            mnt.apply(m)
        except OSError as exc:
            parsed = mnt.parse_options(options)
            text = f"mount {device}:{path}"
            if parsed.flags:
                text += f", flags: 0x{parsed.flags:x}"
            if parsed.data:
                text += f", data: {parsed.data}"
            text += f": {_go_errno(exc)}"
            password = _option(opts.get("o", ""), "password")
            if password:
                text = text.replace(f"password={password}", "password=********", 1)
            raise errors.Internal(f"failed to mount local volume: {text}") from None

    def _unmount_device(self, path: str) -> None:
        try:
            sc.umount(path)
        except OSError as exc:
            if _mounted(path):
                raise errors.Internal(f"unmount {path}: {_go_errno(exc)}") from None

    # -- removal and usage ----------------------------------------------------------
    def remove(self, name: str, opts: dict[str, str]) -> None:
        """Delete the volume's directories (its device unmounted first); a volume whose
        directory is already gone is removed all the same."""
        tomb = self.bury(name)
        if tomb:
            try:
                self.delete_tombstone(tomb)
            except BaseException:
                self.unbury(tomb, name)
                raise

    def bury(self, name: str) -> str:
        """Rename the volume's directory to a tombstone (fast: no data is touched, a device
        mounted on ``_data`` moves along); returns the tombstone's name, "" when there
        was no directory. The name is free again at once."""
        if self._active.get(name):
            raise errors.Internal("volume has active mounts")
        root = self.path_of(name)
        tomb = f".{name}.removing-{secrets.token_hex(4)}"
        try:
            os.rename(root, os.path.join(self.root, tomb))
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise errors.Internal(f"error removing volume path '{root}': {_go_errno(exc)}") from None
        return tomb

    def unbury(self, tomb: str, name: str) -> None:
        """Undo ``bury`` (the data could not be deleted: the volume stays), unless a new
        volume took the name meanwhile (then the tombstone waits for the next sweep)."""
        root = self.path_of(name)
        if os.path.lexists(root):
            return
        try:
            os.rename(os.path.join(self.root, tomb), root)
        except OSError:
            pass

    def delete_tombstone(self, tomb: str) -> None:
        """Blocking: delete a buried volume's directories, its device unmounted first."""
        if not _TOMBSTONE.match(tomb):
            raise errors.InvalidArgument(f"not a removed volume: {tomb}")
        root = os.path.join(self.root, tomb)
        data = os.path.join(root, DATA)
        if _mounted(data):
            self._unmount_device(data)
        try:
            fstree.remove_tree(root)
        except OSError as exc:  # said of the volume's path, as the user knows it
            shown = os.path.join(self.root, tomb[1:].rsplit(".removing-", 1)[0])
            raise errors.Internal(f"error removing volume path '{shown}': {_go_errno(exc)}") from None

    def unmount_stale(self, name: str) -> bool:
        """Blocking: unmount the device on the data of a volume no one uses now (what an
        unclean shutdown left mounted); whether there was one."""
        if self._active.get(name):
            return False
        data = self.data_path(name)
        if not _mounted(data):
            return False
        self._unmount_device(data)
        return True

    def usage(self, name: str) -> int:
        """Bytes of the files under the volume's data, hard links counted once (moby's
        ``directory.Size``); -1 when it cannot be read."""
        try:
            return _size(self.data_path(name))
        except OSError:
            return -1


def mount_source(opts: dict[str, str],
                 resolve: Callable[[str], str] | None = None) -> tuple[str, str]:
    """moby's getMountOptions: the device and the ``o`` options to mount with, a network
    share's host name (``addr=`` of nfs and cifs, the host of a cifs ``//host/share``)
    resolved to an address, as the kernel's nfs and cifs want one."""
    device, options = opts.get("device", ""), opts.get("o", "")
    if not device:
        raise errors.Internal("missing device in volume options")
    resolve = resolve or _resolve
    kind = opts.get("type", "")
    if kind in ("nfs", "cifs"):
        addr = _option(options, "addr")
        if addr and not _is_ipv4(addr):
            options = options.replace(f"addr={addr}", f"addr={resolve(addr)}", 1)
        elif kind == "cifs" and device.startswith("//"):
            host = device[2:].split("/", 1)[0]
            if host and not _is_ip(host):
                device = "//" + resolve(host) + device[2 + len(host):]
    return device, options


def _resolve(host: str) -> str:
    try:
        return socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][4][0]
    except (OSError, IndexError) as exc:
        raise errors.Internal("error resolving passed in network volume address: "
                              f"lookup {host}: {getattr(exc, 'strerror', None) or exc}") from None


def _is_ipv4(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv4Address)
    except ValueError:
        return False


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _size(top: str) -> int:
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        d = stack.pop()
        try:
            entries = os.scandir(d)
        except FileNotFoundError:
            continue
        with entries:
            for entry in entries:
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
                elif st.st_size and (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
    return total


def _mounted(path: str) -> bool:
    """Whether a filesystem is mounted on ``path`` (the kernel's statx says so)."""
    try:
        fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        root = sc.is_mount_root(fd)
    finally:
        os.close(fd)
    if root is None:
        return path in mnt.mounts_under(path)
    return root


def _option(options: str, key: str) -> str:
    for item in options.split(","):
        k, _, v = item.partition("=")
        if k == key:
            return v
    return ""


def _go_errno(exc: OSError) -> str:
    """Go's text of an errno: strerror with a lower-case first letter."""
    text = os.strerror(exc.errno) if exc.errno else str(exc)
    return text[:1].lower() + text[1:]
