"""``Mount``: the lingua franca between snapshotters, the engine and the runtime.

A snapshotter returns ``Mount`` values instead of mounting, so the caller decides where
(and in which namespace) they are applied, and tests can compare them as data.
"""

import re
from typing import Iterator, NamedTuple

from ketch.linux import syscalls as sc
from ketch.value import Value

# option -> (set flags, clear flags); the table of runc's parseMountOptions.
_FLAG_OPTIONS: dict[str, tuple[int, int]] = {
    "ro": (sc.MS_RDONLY, 0), "rw": (0, sc.MS_RDONLY),
    "nosuid": (sc.MS_NOSUID, 0), "suid": (0, sc.MS_NOSUID),
    "nodev": (sc.MS_NODEV, 0), "dev": (0, sc.MS_NODEV),
    "noexec": (sc.MS_NOEXEC, 0), "exec": (0, sc.MS_NOEXEC),
    "sync": (sc.MS_SYNCHRONOUS, 0), "async": (0, sc.MS_SYNCHRONOUS),
    "dirsync": (sc.MS_DIRSYNC, 0),
    "remount": (sc.MS_REMOUNT, 0),
    "mand": (sc.MS_MANDLOCK, 0), "nomand": (0, sc.MS_MANDLOCK),
    "noatime": (sc.MS_NOATIME, 0), "atime": (0, sc.MS_NOATIME),
    "nodiratime": (sc.MS_NODIRATIME, 0), "diratime": (0, sc.MS_NODIRATIME),
    "relatime": (sc.MS_RELATIME, 0), "norelatime": (0, sc.MS_RELATIME),
    "strictatime": (sc.MS_STRICTATIME, 0), "nostrictatime": (0, sc.MS_STRICTATIME),
    "lazytime": (sc.MS_LAZYTIME, 0), "nolazytime": (0, sc.MS_LAZYTIME),
    "nosymfollow": (sc.MS_NOSYMFOLLOW, 0), "symfollow": (0, sc.MS_NOSYMFOLLOW),
    "bind": (sc.MS_BIND, 0), "rbind": (sc.MS_BIND | sc.MS_REC, 0),
    "silent": (sc.MS_SILENT, 0), "loud": (0, sc.MS_SILENT),
    "acl": (sc.MS_POSIXACL, 0), "noacl": (0, sc.MS_POSIXACL),
    "iversion": (sc.MS_I_VERSION, 0), "noiversion": (0, sc.MS_I_VERSION),
}
PROPAGATION: dict[str, int] = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}


# OCI runtime spec 1.1's recursive options -> (MOUNT_ATTR_* set, MOUNT_ATTR_* cleared),
# applied with mount_setattr(AT_RECURSIVE) to a mount and every mount under it (runc's
# recAttrFlags). "ro" makes only the top of an rbind read-only; "rro" all of it.
_RECURSIVE_OPTIONS: dict[str, tuple[int, int]] = {
    "rro": (sc.MOUNT_ATTR_RDONLY, 0), "rrw": (0, sc.MOUNT_ATTR_RDONLY),
    "rnosuid": (sc.MOUNT_ATTR_NOSUID, 0), "rsuid": (0, sc.MOUNT_ATTR_NOSUID),
    "rnodev": (sc.MOUNT_ATTR_NODEV, 0), "rdev": (0, sc.MOUNT_ATTR_NODEV),
    "rnoexec": (sc.MOUNT_ATTR_NOEXEC, 0), "rexec": (0, sc.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (sc.MOUNT_ATTR_NODIRATIME, 0), "rdiratime": (0, sc.MOUNT_ATTR_NODIRATIME),
    "rrelatime": (sc.MOUNT_ATTR_RELATIME, sc.MOUNT_ATTR__ATIME),
    "rnorelatime": (0, sc.MOUNT_ATTR__ATIME),
    "rnoatime": (sc.MOUNT_ATTR_NOATIME, sc.MOUNT_ATTR__ATIME),
    "ratime": (0, sc.MOUNT_ATTR__ATIME),
    "rstrictatime": (sc.MOUNT_ATTR_STRICTATIME, sc.MOUNT_ATTR__ATIME),
    "rnostrictatime": (0, sc.MOUNT_ATTR__ATIME),
    "rnosymfollow": (sc.MOUNT_ATTR_NOSYMFOLLOW, 0), "rsymfollow": (0, sc.MOUNT_ATTR_NOSYMFOLLOW),
}
# per-mount MS_* flags and the MOUNT_ATTR_* bit that says the same to mount_setattr
_ATTR_OF_FLAG = (
    (sc.MS_RDONLY, sc.MOUNT_ATTR_RDONLY), (sc.MS_NOSUID, sc.MOUNT_ATTR_NOSUID),
    (sc.MS_NODEV, sc.MOUNT_ATTR_NODEV), (sc.MS_NOEXEC, sc.MOUNT_ATTR_NOEXEC),
    (sc.MS_NODIRATIME, sc.MOUNT_ATTR_NODIRATIME), (sc.MS_NOSYMFOLLOW, sc.MOUNT_ATTR_NOSYMFOLLOW),
)
_ATIME_OF_FLAG = ((sc.MS_NOATIME, sc.MOUNT_ATTR_NOATIME), (sc.MS_STRICTATIME, sc.MOUNT_ATTR_STRICTATIME),
                  (sc.MS_RELATIME, sc.MOUNT_ATTR_RELATIME))


class Mount(Value):
    # type: str
    # source: str
    # target: str
    # options: tuple[str, ...]
    FIELDS = __slots__ = ("type", "source", "target", "options")
    DEFAULTS = {"target": "", "options": ()}

    def to_oci(self, destination: str) -> dict:
        return {"destination": destination, "type": self.type, "source": self.source,
                "options": list(self.options)}


class ParsedOptions(Value):
    # flags: int
    # propagation: tuple[int, ...]
    # data: str
    FIELDS = __slots__ = ("flags", "propagation", "data")


def parse_options(options: tuple[str, ...] | list[str]) -> ParsedOptions:
    flags = 0
    propagation: list[int] = []
    data: list[str] = []
    for opt in options:
        if opt in _FLAG_OPTIONS:
            set_, clear = _FLAG_OPTIONS[opt]
            flags = (flags | set_) & ~clear
        elif opt in PROPAGATION:
            propagation.append(PROPAGATION[opt])
        elif opt not in _RECURSIVE_OPTIONS:  # those are mount_attrs'
            data.append(opt)
    return ParsedOptions(flags, tuple(propagation), ",".join(data))


class MountAttrs(Value):
    """What mount_setattr changes after a bind: MOUNT_ATTR_* bits set and cleared on the
    top mount (the options "ro", "nosuid", "rw", ...) and on the whole tree ("rro", ...)."""
    # set: int
    # clear: int
    # rec_set: int
    # rec_clear: int
    FIELDS = __slots__ = ("set", "clear", "rec_set", "rec_clear")
    DEFAULTS = {"set": 0, "clear": 0, "rec_set": 0, "rec_clear": 0}


def mount_attrs(options: tuple[str, ...] | list[str]) -> MountAttrs:
    """The mount_setattr changes ``options`` ask of a bind mount.

    Only what an option names changes: a bind of a nosuid mount stays nosuid unless
    "suid" says otherwise (runc 1.2 keeps the source's flags the same way). Setting an
    atime mode clears the whole atime field first, as the kernel requires."""
    set_ = clear = rec_set = rec_clear = 0
    for opt in options:
        if opt in _RECURSIVE_OPTIONS:
            on, off = _RECURSIVE_OPTIONS[opt]
            rec_set, rec_clear = (rec_set & ~off) | on, (rec_clear & ~on) | off
            continue
        on_flags, off_flags = _FLAG_OPTIONS.get(opt, (0, 0))
        for flag, attr in _ATTR_OF_FLAG:
            if on_flags & flag:
                set_, clear = set_ | attr, clear & ~attr
            elif off_flags & flag:
                set_, clear = set_ & ~attr, clear | attr
        for flag, attr in _ATIME_OF_FLAG:
            if on_flags & flag:
                set_, clear = (set_ & ~sc.MOUNT_ATTR__ATIME) | attr, clear | sc.MOUNT_ATTR__ATIME
            elif off_flags & flag and set_ & sc.MOUNT_ATTR__ATIME == attr:
                set_ &= ~sc.MOUNT_ATTR__ATIME  # "atime" after "noatime": back to relatime
    return MountAttrs(set_, clear, rec_set, rec_clear)


def apply(m: Mount, target: str | None = None) -> None:
    """Mount ``m`` at ``target`` (default ``m.target``) in the caller's mount namespace."""
    where = target or m.target
    parsed = parse_options(m.options)
    sc.mount(m.source, where, m.type, parsed.flags, parsed.data or None)
    for prop in parsed.propagation:
        sc.mount(None, where, None, prop)


def unmount(target: str, lazy: bool = False) -> None:
    sc.umount(target, sc.MNT_DETACH if lazy else 0)


class MountInfo(NamedTuple):
    """One line of ``/proc/<pid>/mountinfo`` (proc(5)), its paths unescaped."""
    mount_id: int
    parent_id: int
    device: str  # "major:minor"
    root: str  # the path of the filesystem mounted here
    mount_point: str
    options: str  # per-mount options ("rw,nosuid")
    optional: tuple[str, ...]  # "shared:1", "master:2", ...
    fstype: str
    source: str
    super_options: str


def mountinfo(path: str = "/proc/self/mountinfo") -> Iterator[MountInfo]:
    """The mounts of a mount namespace (this one's by default), in the table's order."""
    with open(path, "rb") as f:
        for raw in f:
            head, _, tail = raw.decode("utf-8", "surrogateescape").rstrip("\n").partition(" - ")
            fields = head.split(" ")
            fstype, source, super_options = (tail.split(" ") + ["", "", ""])[:3]
            yield MountInfo(int(fields[0]), int(fields[1]), fields[2], _unescape(fields[3]),
                            _unescape(fields[4]), fields[5], tuple(fields[6:]), fstype,
                            _unescape(source), super_options)


def mounts_under(path: str) -> list[str]:
    """Mount points at or below ``path`` in this mount namespace, deepest first."""
    prefix = path.rstrip("/") + "/"
    out = [m.mount_point for m in mountinfo()
           if m.mount_point == path or m.mount_point.startswith(prefix)]
    return sorted(out, key=len, reverse=True)


_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(text: str) -> str:
    """The kernel's octal escapes (``\\040`` for a space, any byte ``\\NNN``)."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), text)
