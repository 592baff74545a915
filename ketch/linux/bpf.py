"""bpf(2) through ctypes: load a cgroup device program and attach it to a cgroup2 directory.

Only the five commands a container runtime needs (the ones runc and crun use for the
cgroup v2 device controller). ``union bpf_attr`` is packed by hand: each command reads
a prefix of it, and the kernel requires the bytes past what it knows to be zero, so
every call passes a zeroed buffer of ``_ATTR_SIZE`` bytes.

Attaching holds its own reference on the program: it stays attached, and enforced,
after the loading fd is closed, until it is detached or the cgroup is removed.
"""

import ctypes
import errno
import os
import platform
import resource
import struct

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

_SYS_BPF = {"x86_64": 321, "aarch64": 280, "armv7l": 386, "ppc64le": 361,
            "s390x": 351, "riscv64": 280}.get(platform.machine())

# <linux/bpf.h>
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2

_ATTR_SIZE = 128


def _bpf(cmd: int, attr: ctypes.Array) -> int:
    if _SYS_BPF is None:
        raise OSError(errno.ENOSYS, f"bpf: unknown syscall number for {platform.machine()}")
    ret = _libc.syscall(_SYS_BPF, cmd, attr, _ATTR_SIZE)
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return ret


def _attr(fmt: str, *values) -> ctypes.Array:
    buf = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into(fmt, buf, 0, *values)
    return buf


def prog_load_cgroup_device(insns: bytes, license: str = "Apache") -> int:
    """Load a BPF_PROG_TYPE_CGROUP_DEVICE program; returns its fd.

    On failure the verifier's log is in the OSError's message.
    """
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(license.encode())

    def load(log: ctypes.Array | None) -> int:
        # prog_type, insn_cnt, insns, license, log_level, log_size, log_buf
        attr = _attr("=IIQQIIQ", BPF_PROG_TYPE_CGROUP_DEVICE, len(insns) // 8,
                     ctypes.addressof(code), ctypes.addressof(lic),
                     1 if log is not None else 0, len(log) if log is not None else 0,
                     ctypes.addressof(log) if log is not None else 0)
        return _bpf(BPF_PROG_LOAD, attr)

    try:
        return load(None)
    except OSError as exc:
        if exc.errno == errno.EPERM:
            # Before Linux 5.11 programs were charged to RLIMIT_MEMLOCK.
            _raise_memlock()
            try:
                return load(None)
            except OSError:
                pass
    log = ctypes.create_string_buffer(1 << 16)
    try:
        return load(log)
    except OSError as exc:
        text = log.value.decode(errors="replace").strip()
        raise OSError(exc.errno, f"{exc.strerror}: {text}" if text else exc.strerror) from None


def _raise_memlock() -> None:
    try:
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (OSError, ValueError):
        pass


def prog_attach(target_fd: int, prog_fd: int, attach_type: int = BPF_CGROUP_DEVICE,
                flags: int = BPF_F_ALLOW_MULTI) -> None:
    # target_fd, attach_bpf_fd, attach_type, attach_flags
    _bpf(BPF_PROG_ATTACH, _attr("=IIII", target_fd, prog_fd, attach_type, flags))


def prog_detach(target_fd: int, prog_fd: int, attach_type: int = BPF_CGROUP_DEVICE) -> None:
    _bpf(BPF_PROG_DETACH, _attr("=III", target_fd, prog_fd, attach_type))


def prog_query(target_fd: int, attach_type: int = BPF_CGROUP_DEVICE) -> list[int]:
    """Ids of the programs attached directly to ``target_fd`` (not inherited ones)."""
    count = 64
    while True:
        ids = (ctypes.c_uint32 * count)()
        # target_fd, attach_type, query_flags, attach_flags, prog_ids, prog_cnt
        attr = _attr("=IIIIQI", target_fd, attach_type, 0, 0, ctypes.addressof(ids), count)
        try:
            _bpf(BPF_PROG_QUERY, attr)
        except OSError as exc:
            if exc.errno == errno.ENOSPC and count < 4096:
                count *= 2
                continue
            raise
        found = struct.unpack_from("=I", attr, 24)[0]
        return list(ids[:found])


def prog_get_fd_by_id(prog_id: int) -> int:
    return _bpf(BPF_PROG_GET_FD_BY_ID, _attr("=I", prog_id))
