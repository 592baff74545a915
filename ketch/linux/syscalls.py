"""The one ctypes boundary: the Linux syscalls that Python 3.11's ``os`` module lacks.

Every function raises ``OSError`` with the errno and the failing path, like ``os`` does.
Importing this module loads libc once; it has no other side effects.
"""

import ctypes
import os
import struct

_libc = ctypes.CDLL(None, use_errno=True)

# <linux/mount.h>
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_POSIXACL = 0x10000
MS_I_VERSION = 0x800000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MS_LAZYTIME = 0x2000000
MNT_FORCE = 0x1
MNT_DETACH = 0x2

# <linux/sched.h>
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

# <linux/prctl.h>
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36

_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "armv7l": 218, "ppc64le": 203,
                   "s390x": 217, "riscv64": 41}.get(os.uname().machine)

_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                        ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong]
_libc.syscall.restype = ctypes.c_long
_libc.capget.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
_libc.capset.argtypes = [ctypes.c_void_p, ctypes.c_void_p]

_CAP_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _check(ret: int, *paths: str | None) -> None:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), *[p for p in paths[:2] if p is not None])


def _b(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


def mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0,
          data: str | None = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), target)


def umount(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(_b(target), flags), target)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags))


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(fd, nstype))


def pivot_root(new_root: str, put_old: str) -> None:
    if _SYS_PIVOT_ROOT is None:
        raise OSError(38, f"pivot_root: unknown syscall number for {os.uname().machine}")
    _check(_libc.syscall(_SYS_PIVOT_ROOT, _b(new_root), _b(put_old)), new_root)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    ret = _libc.prctl(option, arg2, arg3, arg4, arg5)
    _check(ret)
    return ret


def set_process_name(name: str) -> None:
    """Name shown by ``ps -o comm`` (15 bytes at most)."""
    buf = ctypes.create_string_buffer(name.encode()[:15])
    _check(_libc.prctl(PR_SET_NAME, ctypes.addressof(buf), 0, 0, 0))


def capget() -> tuple[int, int, int]:
    """This thread's (effective, permitted, inheritable) capability sets as 64-bit masks."""
    hdr = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(hdr), data))
    return tuple((data[1].__getattribute__(f) << 32) | data[0].__getattribute__(f)
                 for f in ("effective", "permitted", "inheritable"))


def capset(effective: int, permitted: int, inheritable: int) -> None:
    hdr = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in (0, 1):
        shift = 32 * i
        data[i] = _CapData((effective >> shift) & 0xFFFFFFFF, (permitted >> shift) & 0xFFFFFFFF,
                           (inheritable >> shift) & 0xFFFFFFFF)
    _check(_libc.capset(ctypes.byref(hdr), data))


def setdomainname(name: str) -> None:
    raw = name.encode()
    _check(_libc.setdomainname(raw, len(raw)))


# statx(2): only the attributes are read, for STATX_ATTR_MOUNT_ROOT (Linux 5.8), which
# marks the root of any mount, a bind mount of the same filesystem included.
AT_SYMLINK_NOFOLLOW, AT_NO_AUTOMOUNT, AT_EMPTY_PATH = 0x100, 0x800, 0x1000
STATX_ATTR_MOUNT_ROOT = 0x2000
_STATX_SIZE = 256
_U64 = struct.Struct("=Q")
_OFF_ATTRIBUTES, _OFF_ATTRIBUTES_MASK = 8, 56  # in struct statx
_libc.statx.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_void_p]


def is_mount_root(fd: int) -> bool | None:
    """Whether the directory open at ``fd`` is the root of a mount; None if the kernel
    cannot tell (before 5.8)."""
    buf = ctypes.create_string_buffer(_STATX_SIZE)
    _check(_libc.statx(fd, b"", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, 0, buf))
    (mask,) = _U64.unpack_from(buf, _OFF_ATTRIBUTES_MASK)
    if not mask & STATX_ATTR_MOUNT_ROOT:
        return None
    (attributes,) = _U64.unpack_from(buf, _OFF_ATTRIBUTES)
    return bool(attributes & STATX_ATTR_MOUNT_ROOT)


# The new mount API (Linux 5.2; mount_setattr 5.12) and openat2 (5.6): syscall numbers
# from the table shared by every architecture since 5.1 (424 and up).
_SYS_OPEN_TREE, _SYS_MOVE_MOUNT, _SYS_OPENAT2, _SYS_MOUNT_SETATTR = 428, 429, 437, 442
_SYS_FSOPEN, _SYS_FSCONFIG, _SYS_FSMOUNT = 430, 431, 432
FSCONFIG_SET_FLAG, FSCONFIG_CMD_CREATE = 0, 6
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
OPEN_TREE_CLONE = 0x1
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_EMPTY_PATH = 0x40
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70  # the atime mode: RELATIME (0), NOATIME or STRICTATIME
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_NOSYMFOLLOW = 0x200000
RESOLVE_NO_MAGICLINKS = 0x2
RESOLVE_IN_ROOT = 0x10


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def _fd_result(ret: int, *paths: str | None) -> int:
    _check(ret, *paths)
    return ret


def open_tree(dirfd: int, path: str, flags: int) -> int:
    """A descriptor of the mount at ``path``; with OPEN_TREE_CLONE a detached copy of it
    (of its whole subtree with AT_RECURSIVE), as a bind mount would make."""
    return _fd_result(_libc.syscall(_SYS_OPEN_TREE, ctypes.c_int(dirfd), _b(path),
                                    ctypes.c_uint(flags | os.O_CLOEXEC)), path)


def move_mount(from_fd: int, to_fd: int) -> None:
    """Attach the mount ``from_fd`` holds onto the object ``to_fd`` holds: both by
    descriptor, so no path is resolved between choosing the place and mounting there."""
    _check(_libc.syscall(_SYS_MOVE_MOUNT, ctypes.c_int(from_fd), b"", ctypes.c_int(to_fd), b"",
                         ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)))


def mount_setattr(fd: int, attr_set: int = 0, attr_clr: int = 0, propagation: int = 0,
                  recursive: bool = False) -> None:
    """Change the flags (MOUNT_ATTR_*) or propagation (MS_SHARED, ...) of the mount
    ``fd`` holds, and of every mount under it if ``recursive``."""
    attr = _MountAttr(attr_set, attr_clr, propagation, 0)
    flags = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
    _check(_libc.syscall(_SYS_MOUNT_SETATTR, ctypes.c_int(fd), b"", ctypes.c_uint(flags),
                         ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr))))


def openat2(dirfd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    return _fd_result(_libc.syscall(_SYS_OPENAT2, ctypes.c_int(dirfd), _b(path), ctypes.byref(how),
                                    ctypes.c_size_t(ctypes.sizeof(how))), path)


def fsmount_new(fstype: str, flags: tuple[str, ...] = (), attrs: int = 0) -> int:
    """A new, detached mount of a fresh ``fstype`` filesystem (fsopen, fsconfig, fsmount),
    its superblock given ``flags`` ("ro", ...) and the mount ``attrs`` (MOUNT_ATTR_*);
    attach it with ``move_mount``. For filesystems that need no source or data."""
    fs = _fd_result(_libc.syscall(_SYS_FSOPEN, _b(fstype), ctypes.c_uint(1)), fstype)  # FSOPEN_CLOEXEC
    try:
        for flag in flags:
            _check(_libc.syscall(_SYS_FSCONFIG, ctypes.c_int(fs), ctypes.c_uint(FSCONFIG_SET_FLAG),
                                 _b(flag), None, ctypes.c_int(0)), fstype)
        _check(_libc.syscall(_SYS_FSCONFIG, ctypes.c_int(fs), ctypes.c_uint(FSCONFIG_CMD_CREATE),
                             None, None, ctypes.c_int(0)), fstype)
        return _fd_result(_libc.syscall(_SYS_FSMOUNT, ctypes.c_int(fs), ctypes.c_uint(1),  # FSMOUNT_CLOEXEC
                                        ctypes.c_uint(attrs)), fstype)
    finally:
        os.close(fs)
