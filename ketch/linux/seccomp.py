"""libseccomp through ctypes: build a filter from rules and load it into this process.

A thin binding of the few libseccomp calls a runtime needs (runc uses the same ones
through libseccomp-golang). Written here rather than taken from PyPI because the
runtime runs without site-packages (``python -I -S``) and imports only the standard
library; it is the linux/ package's second ctypes boundary, next to ``syscalls``.
"""

import ctypes
import ctypes.util
import errno
import os
from typing import NamedTuple

ACT_KILL_PROCESS = 0x80000000
ACT_KILL_THREAD = 0x00000000
ACT_TRAP = 0x00030000
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000
ACT_NOTIFY = 0x7FC00000

CMP = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
       "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
_FLTATR_CTL_NNP = 3  # libseccomp sets no_new_privs on load unless told not to
# Filter attributes (enum scmp_filter_attr) for load(attrs=...).
ATTR_CTL_LOG = 6        # SECCOMP_FILTER_FLAG_LOG
ATTR_CTL_SSB = 7        # SECCOMP_FILTER_FLAG_SPEC_ALLOW
ATTR_CTL_OPTIMIZE = 8   # 2: binary tree of syscalls (libseccomp >= 2.5)
_NR_SCMP_ERROR = -1


def act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


def act_trace(code: int) -> int:
    return 0x7FF00000 | (code & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


_lib = None


def _libseccomp():
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
        try:
            lib = ctypes.CDLL(name, use_errno=True)
        except OSError:
            raise OSError(errno.ENOSYS, "libseccomp is not installed (Debian: libseccomp2)") from None
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_native.restype = ctypes.c_uint32
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                               ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.seccomp_api_get.restype = ctypes.c_uint
        lib.seccomp_api_get.argtypes = []
        lib.seccomp_notify_fd.argtypes = [ctypes.c_void_p]
        _lib = lib
    return _lib


def syscall_number(name: str) -> int | None:
    """The syscall's number for the native architecture, or None if libseccomp does not know it."""
    nr = _libseccomp().seccomp_syscall_resolve_name(name.encode())
    return None if nr == _NR_SCMP_ERROR else nr


def arch_token(name: str) -> int | None:
    """libseccomp's token for an architecture ("x86_64", "x86", "aarch64", ...)."""
    token = _libseccomp().seccomp_arch_resolve_name(name.encode())
    return token or None


def arch_native() -> int:
    """libseccomp's token for the architecture this process runs as."""
    return _libseccomp().seccomp_arch_native()


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


def library_version() -> str:
    """libseccomp's own version ("2.5.4"), as runc --version reports it."""
    lib = _libseccomp()
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    v = lib.seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


def api_level() -> int:
    """libseccomp's API level for this kernel (6 and up: SCMP_ACT_NOTIFY works)."""
    return _libseccomp().seccomp_api_get()


class ArgRule(NamedTuple):
    index: int
    op: str  # "SCMP_CMP_EQ", ...
    value: int
    value_two: int = 0


class Rule(NamedTuple):
    syscall: int
    action: int
    args: tuple[ArgRule, ...] = ()


def load(default_action: int, arches: list[int], rules: list[Rule],
         attrs: dict[int, int] | None = None, optional_attrs: dict[int, int] | None = None) -> int | None:
    """Compile the filter and install it in the calling thread/process (irreversible).

    ``attrs`` are filter attributes (``ATTR_*``) that must take; ``optional_attrs`` are
    set where this libseccomp and kernel support them and skipped elsewhere. Returns the
    notification fd (close-on-exec) when a rule uses ACT_NOTIFY, else None.
    """
    lib = _libseccomp()
    ctx = _build(lib, default_action, arches, rules, attrs, optional_attrs)
    try:
        _check(lib.seccomp_load(ctx), "seccomp_load")
        if any(rule.action == ACT_NOTIFY for rule in rules):
            fd = lib.seccomp_notify_fd(ctx)
            _check(fd, "seccomp_notify_fd")
            return fd
        return None
    finally:
        lib.seccomp_release(ctx)


def export_bpf(default_action: int, arches: list[int], rules: list[Rule],
               attrs: dict[int, int] | None = None, optional_attrs: dict[int, int] | None = None) -> bytes:
    """The filter compiled to classic BPF (``struct sock_filter`` array), not loaded.

    Compiling a Docker-sized profile takes ~20 ms here; the program itself loads in
    microseconds (``load_bpf``), so callers compile once and keep the bytes.
    """
    lib = _libseccomp()
    ctx = _build(lib, default_action, arches, rules, attrs, optional_attrs)
    try:
        r, w = os.pipe()
        try:
            _check(lib.seccomp_export_bpf(ctx, w), "seccomp_export_bpf")
            os.close(w)
            w = -1
            chunks = []
            while data := os.read(r, 65536):
                chunks.append(data)
            return b"".join(chunks)
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)
    finally:
        lib.seccomp_release(ctx)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277, "armv7l": 383, "ppc64le": 358, "s390x": 348,
                "riscv64": 277}.get(os.uname().machine)
SECCOMP_SET_MODE_FILTER = 1
FILTER_FLAG_LOG = 2
FILTER_FLAG_SPEC_ALLOW = 4


def load_bpf(program: bytes, flags: int = 0) -> None:
    """Install a compiled filter with seccomp(2) (irreversible)."""
    if _SYS_SECCOMP is None:
        raise OSError(errno.ENOSYS, f"seccomp: unknown syscall number for {os.uname().machine}")
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    ret = libc.syscall(_SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, ctypes.c_ulong(flags), ctypes.byref(prog))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {os.strerror(err)}")


def _build(lib, default_action: int, arches: list[int], rules: list[Rule],
           attrs: dict[int, int] | None, optional_attrs: dict[int, int] | None):
    """A libseccomp filter context holding the rules; the caller releases it."""
    ctx = lib.seccomp_init(default_action)
    if not ctx:
        raise OSError(errno.EINVAL, "seccomp_init failed")
    try:
        _check(lib.seccomp_attr_set(ctx, _FLTATR_CTL_NNP, 0), "seccomp_attr_set")
        for attr, value in (attrs or {}).items():
            _check(lib.seccomp_attr_set(ctx, attr, value), f"seccomp_attr_set({attr})")
        for attr, value in (optional_attrs or {}).items():
            lib.seccomp_attr_set(ctx, attr, value)  # EOPNOTSUPP/EINVAL: an older kernel or libseccomp
        for arch in arches:
            ret = lib.seccomp_arch_add(ctx, arch)
            if ret not in (0, -errno.EEXIST):
                _check(ret, "seccomp_arch_add")
        for rule in rules:
            if rule.action == default_action:
                continue  # libseccomp refuses rules that change nothing
            cmps = (_ArgCmp * max(1, len(rule.args)))()
            for i, a in enumerate(rule.args):
                cmps[i] = _ArgCmp(a.index, CMP[a.op], a.value, a.value_two)
            ret = lib.seccomp_rule_add_array(ctx, rule.action, rule.syscall, len(rule.args), cmps)
            _check(ret, f"seccomp_rule_add for syscall {rule.syscall}")
    except BaseException:
        lib.seccomp_release(ctx)
        raise
    return ctx


def _check(ret: int, what: str) -> None:
    if ret < 0:
        raise OSError(-ret, f"{what}: {os.strerror(-ret)}")
