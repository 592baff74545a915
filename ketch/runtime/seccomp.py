"""OCI ``linux.seccomp`` -> a libseccomp filter, as runc builds it.

``compile_rules`` runs in the caller, before any fork, so a bad profile fails there: it
checks every field, resolves action, architecture and syscall names to numbers, and
returns a ``Filter`` that is plain data. ``load`` runs in the container's init and only
hands that data to libseccomp (``ketch.linux.seccomp``).

runc's choices, kept here:
- a syscall libseccomp cannot name is skipped (an older libseccomp, a newer profile);
  ketch adds one check runc lacks: a name that neither libseccomp nor Docker's default
  profile knows is taken for a typo and refused;
- a rule whose action equals the default action is dropped (libseccomp refuses it);
- a rule comparing the same argument twice becomes one rule per comparison (an OR, which
  is what such profiles mean, e.g. ``personality(0) || personality(8)``); otherwise all
  comparisons form one rule (an AND);
- SCMP_ACT_ERRNO and SCMP_ACT_TRACE return ``errnoRet`` (default EPERM); for other actions
  ``errnoRet`` is ignored, as runc ignores it;
- with no ``flags`` at all, SECCOMP_FILTER_FLAG_SPEC_ALLOW is set where supported; an
  explicit list (even empty) is taken as it is;
- SCMP_ACT_NOTIFY needs ``listenerPath``, is refused as the default action and for
  ``write``; ``load`` returns the notification fd for the caller to hand to the listener.
"""

import errno
import functools
import hashlib
import json
import os
import socket
from typing import NamedTuple

from ketch.errors import InvalidArgument
from ketch.linux import filemode
from ketch.linux import seccomp as lsc
from ketch.linux.atomic import write_file

_CACHE_MODE = 0o600  # compiled programs, in the runtime's 0700 root
_DEFAULT_PROFILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "engine", "data", "seccomp-default.json")
_OCI_ARCHES = (
    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
    "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
)
ACTIONS = ("SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
           "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY")
FLAG_TSYNC = "SECCOMP_FILTER_FLAG_TSYNC"  # libseccomp syncs threads itself: accepted, no-op
FLAG_LOG = "SECCOMP_FILTER_FLAG_LOG"
FLAG_SPEC_ALLOW = "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
_FLAG_ATTRS = {FLAG_LOG: lsc.ATTR_CTL_LOG, FLAG_SPEC_ALLOW: lsc.ATTR_CTL_SSB}
_MAX_ARGS = 6  # a Linux syscall has at most six arguments
_U64 = 2**64 - 1
_OPTIMIZE_ABOVE = 32  # runc: a binary tree pays off past this many rules


class Filter(NamedTuple):
    """A compiled filter: libseccomp numbers only, ready to load."""
    default_action: int
    arches: tuple[int, ...]
    rules: tuple[lsc.Rule, ...]
    flags: tuple[str, ...] | None = None  # None: runc's default (SPEC_ALLOW if supported)
    listener_path: str = ""
    listener_metadata: str = ""

    @property
    def notifies(self) -> bool:
        return any(rule.action == lsc.ACT_NOTIFY for rule in self.rules)


def compile_rules(oci: dict) -> Filter:
    """Check and translate an OCI ``linux.seccomp`` object. Errors name the field."""
    if not isinstance(oci, dict):
        raise InvalidArgument("linux.seccomp must be an object")
    listener = _string(oci, "listenerPath", "linux.seccomp.listenerPath")
    metadata = _string(oci, "listenerMetadata", "linux.seccomp.listenerMetadata")
    if metadata and not listener:
        raise InvalidArgument("linux.seccomp.listenerMetadata is set but linux.seccomp.listenerPath is not")
    default_name = oci.get("defaultAction")
    default = _action(default_name, oci.get("defaultErrnoRet"), "linux.seccomp.defaultAction",
                      "linux.seccomp.defaultErrnoRet")
    if default_name == "SCMP_ACT_NOTIFY":
        raise InvalidArgument("SCMP_ACT_NOTIFY cannot be used as default action")
    arches = tuple(_arch(a, f"linux.seccomp.architectures[{i}]")
                   for i, a in enumerate(_list(oci, "architectures", "linux.seccomp.architectures")))
    flags = _flags(oci)
    rules: list[lsc.Rule] = []
    for i, call in enumerate(_list(oci, "syscalls", "linux.seccomp.syscalls")):
        rules.extend(_rules(call, f"linux.seccomp.syscalls[{i}]", default, listener))
    return Filter(default, arches, tuple(rules), flags, listener, metadata)


class Compiled(NamedTuple):
    """A filter compiled to BPF: what the container's init loads (in microseconds)."""
    program: bytes
    flags: int  # seccomp(2) flags the filter needs
    optional_flags: int  # flags to drop if this kernel refuses them


def _attrs(f: Filter) -> tuple[dict, dict]:
    attrs, optional = {}, {}
    if f.flags is None:
        optional[lsc.ATTR_CTL_SSB] = 1
    else:
        for flag in f.flags:
            if flag in _FLAG_ATTRS:
                attrs[_FLAG_ATTRS[flag]] = 1
    if len(f.rules) > _OPTIMIZE_ABOVE:
        optional[lsc.ATTR_CTL_OPTIMIZE] = 2
    return attrs, optional


def prepare_oci(oci: dict, cache_dir: str | None = None) -> "Filter | Compiled":
    """``prepare(compile_rules(oci))``, skipping both when this very ``linux.seccomp`` was
    compiled before (the cache is keyed by its JSON; it was validated then)."""
    if cache_dir:
        key = hashlib.sha256(json.dumps(oci, sort_keys=True).encode()).hexdigest()
        meta = os.path.join(cache_dir, key + ".json")
        try:
            with open(meta) as fh:
                flags, optional, program_key = json.load(fh)
            with open(os.path.join(cache_dir, program_key), "rb") as fh:
                return Compiled(fh.read(), flags, optional)
        except (FileNotFoundError, ValueError):
            pass
    compiled = prepare(compile_rules(oci), cache_dir)
    if cache_dir and isinstance(compiled, Compiled):
        program_key = hashlib.sha256(compiled.program).hexdigest()
        for name, data in ((program_key, compiled.program),
                           (key + ".json", json.dumps([compiled.flags, compiled.optional_flags,
                                                       program_key]).encode())):
            write_file(os.path.join(cache_dir, name), data, _CACHE_MODE)
    return compiled


def prepare(f: Filter, cache_dir: str | None = None) -> "Filter | Compiled":
    """Compile ``f`` to BPF before forking the container (a filter that notifies stays a
    Filter: libseccomp must load it to get the listener fd). Compiling Docker's profile
    costs ~20 ms, so programs are kept in ``cache_dir`` by a hash of what makes them."""
    if f.notifies:
        return f
    flags = lsc.FILTER_FLAG_LOG if f.flags and FLAG_LOG in f.flags else 0
    if f.flags and FLAG_SPEC_ALLOW in f.flags:
        flags |= lsc.FILTER_FLAG_SPEC_ALLOW
    optional = lsc.FILTER_FLAG_SPEC_ALLOW if f.flags is None else 0
    key = hashlib.sha256(repr((f.default_action, f.arches, f.rules, f.flags, lsc.api_level(),
                               os.uname().machine)).encode()).hexdigest()
    path = os.path.join(cache_dir, key) if cache_dir else None
    if path:
        try:
            with open(path, "rb") as fh:
                return Compiled(fh.read(), flags, optional)
        except FileNotFoundError:
            pass
    attrs, optional_attrs = _attrs(f)
    program = lsc.export_bpf(f.default_action, list(f.arches), list(f.rules), attrs, optional_attrs)
    if path:
        filemode.makedirs(cache_dir, 0o700, parents=0o700)  # the runtime's root, if first
        write_file(path, program, _CACHE_MODE)
    return Compiled(program, flags, optional)


def load(f: "Filter | Compiled") -> int | None:
    """Install ``f`` in the calling process (irreversible; call it in the container's init).

    Returns the SCMP_ACT_NOTIFY fd when the filter notifies: the caller sends it to
    ``f.listener_path`` (OCI "container process state", see ``send_to_listener``).
    """
    if isinstance(f, Compiled):
        try:
            lsc.load_bpf(f.program, f.flags | f.optional_flags)
        except OSError as exc:
            if exc.errno != errno.EINVAL or not f.optional_flags:
                raise
            lsc.load_bpf(f.program, f.flags)
        return None
    if f.notifies and lsc.api_level() < 6:
        raise InvalidArgument(f"seccomp notify unsupported: API level: got {lsc.api_level()}, want at least 6. "
                              "Please try with libseccomp >= 2.5.0 and Linux >= 5.7")
    attrs, optional = _attrs(f)
    try:
        return lsc.load(f.default_action, list(f.arches), list(f.rules), attrs, optional)
    except OSError as exc:
        if exc.errno == errno.EOPNOTSUPP:
            raise InvalidArgument(f"seccomp flags {list(f.flags or ())} are not supported by this kernel") from None
        raise


def send_to_listener(f: Filter, notify_fd: int, pid: int, state: dict) -> None:
    """Send the container process state and ``notify_fd`` to the seccomp agent, one
    connection per message (OCI runtime spec, "The Container Process State")."""
    message = {"ociVersion": state.get("ociVersion", "1.0.2"), "fds": ["seccompFd"], "pid": pid,
               "state": state}
    if f.listener_metadata:
        message["metadata"] = f.listener_metadata
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(f.listener_path)
        socket.send_fds(sock, [json.dumps(message).encode()], [notify_fd])


# -- one field at a time ---------------------------------------------------------------
def _rules(call, where: str, default: int, listener: str) -> list[lsc.Rule]:
    if not isinstance(call, dict):
        raise InvalidArgument(f"{where} must be an object")
    names = _list(call, "names", f"{where}.names")
    if not names:
        raise InvalidArgument(f"{where}.names must contain at least one syscall")
    action_name = call.get("action")
    action = _action(action_name, call.get("errnoRet"), f"{where}.action", f"{where}.errnoRet")
    args = tuple(_arg(a, f"{where}.args[{j}]") for j, a in enumerate(_list(call, "args", f"{where}.args")))
    if action_name == "SCMP_ACT_NOTIFY":
        if not listener:
            raise InvalidArgument(f"{where}.action is SCMP_ACT_NOTIFY but linux.seccomp.listenerPath is not set")
        if "write" in names:
            raise InvalidArgument("SCMP_ACT_NOTIFY cannot be used for the write syscall")
    numbers = []
    for name in names:
        if not isinstance(name, str) or not name:
            raise InvalidArgument(f"{where}.names: empty string is not a valid syscall")
        number = lsc.syscall_number(name)
        if number is None:
            if name not in _docker_known_names():
                raise InvalidArgument(f'unknown seccomp syscall "{name}" in {where}')
            continue  # known to Docker, not to this libseccomp: skipped, as runc does
        numbers.append(number)
    if action == default:
        return []
    if len({a.index for a in args}) < len(args):
        groups = [(a,) for a in args]  # the same argument twice: one rule per comparison
    else:
        groups = [args]
    return [lsc.Rule(number, action, group) for number in numbers for group in groups]


def _action(name, errno_ret, field: str, errno_field: str) -> int:
    if name not in ACTIONS:
        raise InvalidArgument(f"unknown seccomp action {json.dumps(name)} in {field}")
    if errno_ret is not None:
        _uint(errno_ret, errno_field, 0xFFFF)
    code = errno.EPERM if errno_ret is None else errno_ret
    return {
        "SCMP_ACT_KILL": lsc.ACT_KILL_THREAD,
        "SCMP_ACT_KILL_THREAD": lsc.ACT_KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS": lsc.ACT_KILL_PROCESS,
        "SCMP_ACT_TRAP": lsc.ACT_TRAP,
        "SCMP_ACT_ERRNO": lsc.act_errno(code),
        "SCMP_ACT_TRACE": lsc.act_trace(code),
        "SCMP_ACT_ALLOW": lsc.ACT_ALLOW,
        "SCMP_ACT_LOG": lsc.ACT_LOG,
        "SCMP_ACT_NOTIFY": lsc.ACT_NOTIFY,
    }[name]


def _arch(name, field: str) -> int:
    if name not in _OCI_ARCHES:
        raise InvalidArgument(f"unknown seccomp architecture {json.dumps(name)} in {field}")
    token = lsc.arch_token(name.removeprefix("SCMP_ARCH_").lower())
    if token is None:
        raise InvalidArgument(f"seccomp architecture {name} in {field} is not supported by this libseccomp")
    return token


def _flags(oci: dict) -> tuple[str, ...] | None:
    if oci.get("flags") is None:
        return None
    out = []
    for i, flag in enumerate(_list(oci, "flags", "linux.seccomp.flags")):
        if flag == FLAG_TSYNC:
            continue
        if flag not in _FLAG_ATTRS:
            raise InvalidArgument(f"seccomp flag {json.dumps(flag)} in linux.seccomp.flags[{i}] is not supported")
        out.append(flag)
    return tuple(out)


def _arg(arg, where: str) -> lsc.ArgRule:
    if not isinstance(arg, dict):
        raise InvalidArgument(f"{where} must be an object")
    op = arg.get("op")
    if op not in lsc.CMP:
        raise InvalidArgument(f"unknown seccomp operator {json.dumps(op)} in {where}.op")
    index = _uint(arg.get("index"), f"{where}.index", _MAX_ARGS - 1)
    value = _uint(arg.get("value"), f"{where}.value", _U64)
    value_two = _uint(arg.get("valueTwo", 0), f"{where}.valueTwo", _U64)
    return lsc.ArgRule(index, op, value, value_two)


def _uint(value, field: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise InvalidArgument(f"{field} must be an integer from 0 to {maximum}, not {json.dumps(value)}")
    return value


def _list(obj: dict, key: str, field: str) -> list:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidArgument(f"{field} must be an array")
    return value


def _string(obj: dict, key: str, field: str) -> str:
    value = obj.get(key) or ""
    if not isinstance(value, str):
        raise InvalidArgument(f"{field} must be a string")
    return value


@functools.lru_cache(maxsize=1)
def _docker_known_names() -> frozenset[str]:
    """Every syscall Docker's default profile names, on any architecture."""
    with open(_DEFAULT_PROFILE, encoding="utf-8") as f:
        profile = json.load(f)
    return frozenset(n for call in profile["syscalls"] for n in call.get("names") or ())
