"""Docker seccomp profiles -> the OCI ``linux.seccomp`` of one container, as moby does it.

A Docker profile is the OCI object plus conditions: ``archMap`` (which architectures to
allow, keyed by the native one) and, per syscall group, ``includes``/``excludes`` on the
container's capabilities, the host architecture and the host kernel version. moby's
``profiles/seccomp.setupSeccomp`` resolves those conditions once, in the daemon; the
runtime only ever sees the plain OCI object. This module is that function, pure: the host
facts (architecture, kernel) are parameters that default to ``uname``.

Docker's default profile ships next to this module as ``data/seccomp-default.json``.
"""

import copy
import json
import os

from ketch.errors import InvalidArgument

_DEFAULT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                             "seccomp-default.json")

# moby's goToNative/nativeToSeccomp, keyed by what uname -m says instead of GOARCH.
_MACHINE_TO_NATIVE = {
    "x86_64": "amd64", "amd64": "amd64", "i386": "x86", "i486": "x86", "i586": "x86",
    "i686": "x86", "aarch64": "arm64", "arm64": "arm64", "armv6l": "arm", "armv7l": "arm",
    "armv8l": "arm", "ppc": "ppc", "ppc64": "ppc64", "ppc64le": "ppc64le", "s390": "s390",
    "s390x": "s390x", "riscv64": "riscv64", "loongarch64": "loong64", "mips64": "mips64",
}
_NATIVE_TO_SECCOMP = {
    "x86": "SCMP_ARCH_X86", "amd64": "SCMP_ARCH_X86_64", "arm": "SCMP_ARCH_ARM",
    "arm64": "SCMP_ARCH_AARCH64", "mips64": "SCMP_ARCH_MIPS64",
    "mips64n32": "SCMP_ARCH_MIPS64N32", "mipsel64": "SCMP_ARCH_MIPSEL64",
    "mips3l64n32": "SCMP_ARCH_MIPSEL64N32", "mipsle": "SCMP_ARCH_MIPSEL",
    "ppc": "SCMP_ARCH_PPC", "ppc64": "SCMP_ARCH_PPC64", "ppc64le": "SCMP_ARCH_PPC64LE",
    "riscv64": "SCMP_ARCH_RISCV64", "s390": "SCMP_ARCH_S390", "s390x": "SCMP_ARCH_S390X",
    "loong64": "SCMP_ARCH_LOONGARCH64",
}
# The OCI fields a Docker profile shares with linux.seccomp; moby copies them through.
_PASSTHROUGH = ("defaultAction", "defaultErrnoRet", "architectures", "flags",
                "listenerPath", "listenerMetadata")

_ERR_PREFIX = "Decoding seccomp profile failed: "


def default_profile() -> dict:
    """Docker's default profile (a fresh copy each call; callers may mutate it)."""
    with open(_DEFAULT_PATH, encoding="utf-8") as f:
        return json.load(f)


_default_oci: dict[frozenset[str], dict | None] = {}


def default_oci(capabilities: list[str]) -> dict | None:
    """``to_oci`` of Docker's default profile, computed once per bounding set (containers
    mostly share one): reading and checking the profile took ~1 ms of every start. The
    answer is shared: read-only."""
    key = frozenset(_cap_name(c) for c in capabilities)
    if key not in _default_oci:
        _default_oci[key] = to_oci(default_profile(), capabilities)
    return _default_oci[key]


def parse_profile(body: str) -> dict:
    """A profile as the API receives it (``SecurityOpt: ["seccomp=<json>"]``), checked for
    the types moby's decoder demands; errors carry moby's wording."""
    try:
        profile = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(_ERR_PREFIX + _go_syntax_error(exc)) from None
    problem = _type_error(profile)
    if problem:
        raise InvalidArgument(_ERR_PREFIX + problem)
    return profile


def load_profile_file(path: str) -> dict:
    """``--security-opt seccomp=/path.json``: read and parse a profile file."""
    try:
        with open(path, "rb") as f:
            body = f.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        reason = reason[:1].lower() + reason[1:]
        verb = "read" if isinstance(exc, IsADirectoryError) else "open"
        raise InvalidArgument(f"opening seccomp profile ({path}) failed: {verb} {path}: {reason}") from None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument(_ERR_PREFIX + "invalid character in string literal") from None
    return parse_profile(text)


def to_oci(profile: dict, capabilities: list[str], arch: str | None = None,
           kernel: tuple[int, int] | None = None) -> dict | None:
    """moby's setupSeccomp: the OCI ``linux.seccomp`` for a container whose bounding set is
    ``capabilities``, on a host of architecture ``arch`` (uname -m or Go's name: "x86_64",
    "amd64", "arm64", ...) running kernel ``(version, major)``. None when the profile has
    neither a default action nor syscalls (moby: seccomp disabled). A profile moby's
    decoder would refuse is refused here too, with its words."""
    problem = _type_error(profile)
    if problem:
        raise InvalidArgument(_ERR_PREFIX + problem)
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidArgument("'architectures' and 'archMap' were specified in the seccomp "
                              "profile, use either 'architectures' or 'archMap'")
    native = _native_arch(arch)
    kernel = kernel if kernel is not None else host_kernel()
    caps = {_cap_name(c) for c in capabilities}

    out: dict = {"defaultAction": profile.get("defaultAction", "")}
    for key in _PASSTHROUGH[1:]:
        value = profile.get(key)
        if value is None or (key != "defaultErrnoRet" and not value):
            continue  # Go's omitempty: a nil pointer, an empty string or slice
        out[key] = copy.deepcopy(value)
    scmp_arch = _NATIVE_TO_SECCOMP.get(native)
    for entry in profile.get("archMap") or []:
        if scmp_arch and entry.get("architecture") == scmp_arch:
            out.setdefault("architectures", []).append(entry["architecture"])
            out["architectures"].extend(entry.get("subArchitectures") or [])
            break

    syscalls = []
    for call in profile.get("syscalls") or []:
        if call is None or not _applies(call, caps, native, kernel):
            continue
        if call.get("name") and call.get("names"):
            raise InvalidArgument("'name' and 'names' were specified in the seccomp profile, "
                                  "use either 'name' or 'names'")
        syscalls.append(_oci_syscall(call))
    if syscalls:
        out["syscalls"] = syscalls
    return out


def host_kernel() -> tuple[int, int]:
    """The running kernel as moby reads it: the first two numbers of uname -r."""
    return _parse_release(os.uname().release)


def _parse_release(release: str) -> tuple[int, int]:
    parts = release.split(".", 2)
    try:
        return int(parts[0]), int(_leading_digits(parts[1]))
    except (IndexError, ValueError):
        raise InvalidArgument(f'failed to parse kernel version "{release}"') from None


def _leading_digits(s: str) -> str:
    n = 0
    while n < len(s) and s[n].isdigit():
        n += 1
    return s[:n]


def _native_arch(arch: str | None) -> str:
    name = arch or os.uname().machine
    return _MACHINE_TO_NATIVE.get(name, name)


def _cap_name(name: str) -> str:
    upper = name.upper()
    return upper if upper.startswith("CAP_") else "CAP_" + upper


def _applies(call: dict, caps: set[str], native: str, kernel: tuple[int, int]) -> bool:
    excludes = call.get("excludes") or {}
    if native in (excludes.get("arches") or []):
        return False
    if any(c in caps for c in excludes.get("caps") or []):
        return False
    minimum = _min_kernel(excludes)
    if minimum and kernel >= minimum:
        return False
    includes = call.get("includes") or {}
    arches = includes.get("arches") or []
    if arches and native not in arches:
        return False
    if not all(c in caps for c in includes.get("caps") or []):
        return False
    minimum = _min_kernel(includes)
    if minimum and kernel < minimum:
        return False
    return True


def _min_kernel(condition: dict) -> tuple[int, int] | None:
    """moby's KernelVersion.UnmarshalJSON: "<kernel>.<major>", each 0..255, not 0.0."""
    raw = condition.get("minKernel")
    if raw is None or raw == "":
        return None
    shown = json.dumps(raw)
    expected = f'invalid kernel version: {shown}, expected "<kernel>.<major>"'
    if not isinstance(raw, str):
        raise InvalidArgument(f"{expected}: json: cannot unmarshal {_json_type(raw)} into Go value of type string")
    parts = raw.split(".", 2)
    if len(parts) != 2:
        raise InvalidArgument(expected)
    version = []
    for part in parts:
        if not part.isascii() or not part.isdigit():
            raise InvalidArgument(f'{expected}: strconv.ParseUint: parsing "{part}": invalid syntax')
        if int(part) > 255:
            raise InvalidArgument(f'{expected}: strconv.ParseUint: parsing "{part}": value out of range')
        version.append(int(part))
    if version == [0, 0]:
        raise InvalidArgument(f"{expected}: version cannot be 0.0")
    return version[0], version[1]


def _oci_syscall(call: dict) -> dict:
    """One specs.LinuxSyscall as Go marshals it (omitempty errnoRet and args)."""
    names = [call["name"]] if call.get("name") else list(call.get("names") or [])
    out: dict = {"names": names, "action": call.get("action", "")}
    if call.get("errnoRet") is not None:
        out["errnoRet"] = call["errnoRet"]
    args = []
    for arg in call.get("args") or []:
        if arg is None:
            continue
        oci_arg = {"index": arg.get("index", 0), "value": arg.get("value", 0)}
        if arg.get("valueTwo"):
            oci_arg["valueTwo"] = arg["valueTwo"]
        oci_arg["op"] = arg.get("op", "")
        args.append(oci_arg)
    if args:
        out["args"] = args
    return out


# -- Go's encoding/json, as far as users see it ---------------------------------------
# Each struct: field -> (kind, Go type as the error names it). Kinds: "string", "uint",
# "uint64", "kernel", a nested struct's name, or "[]" + one of those.
_STRUCTS = {
    "Seccomp": {
        "defaultAction": ("string", "specs.LinuxSeccompAction"),
        "defaultErrnoRet": ("uint", "uint"),
        "architectures": ("[]string", "[]specs.Arch"),
        "flags": ("[]string", "[]specs.LinuxSeccompFlag"),
        "listenerPath": ("string", "string"),
        "listenerMetadata": ("string", "string"),
        "archMap": ("[]Architecture", "[]seccomp.Architecture"),
        "syscalls": ("[]Syscall", "[]*seccomp.Syscall"),
    },
    "Architecture": {
        "architecture": ("string", "specs.Arch"),
        "subArchitectures": ("[]string", "[]specs.Arch"),
    },
    "Syscall": {
        "names": ("[]string", "[]string"),
        "action": ("string", "specs.LinuxSeccompAction"),
        "errnoRet": ("uint", "uint"),
        "args": ("[]LinuxSeccompArg", "[]specs.LinuxSeccompArg"),
        "name": ("string", "string"),
        "comment": ("string", "string"),
        "includes": ("Filter", "seccomp.Filter"),
        "excludes": ("Filter", "seccomp.Filter"),
    },
    "Filter": {
        "caps": ("[]string", "[]string"),
        "arches": ("[]string", "[]string"),
        "minKernel": ("kernel", "seccomp.KernelVersion"),
    },
    "LinuxSeccompArg": {
        "index": ("uint", "uint"),
        "value": ("uint64", "uint64"),
        "valueTwo": ("uint64", "uint64"),
        "op": ("string", "specs.LinuxSeccompOperator"),
    },
}
_UINT_MAX = {"uint": 2**64 - 1, "uint64": 2**64 - 1}


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_error(profile) -> str | None:
    if not isinstance(profile, dict):
        if profile is None:
            return None
        return f"json: cannot unmarshal {_json_type(profile)} into Go value of type seccomp.Seccomp"
    return _check_struct(profile, "Seccomp", "")


def _check_struct(obj: dict, struct: str, path: str) -> str | None:
    for key, value in obj.items():
        spec = _STRUCTS[struct].get(key)
        if spec is None or value is None:
            continue  # Go ignores unknown fields; null leaves the zero value
        kind, gotype = spec
        field = f"{path}{key}"
        if kind.startswith("[]"):
            if not isinstance(value, list):
                return _mismatch(value, struct, field, gotype)
            for item in value:
                if item is not None:
                    problem = _check_value(item, kind[2:], gotype.lstrip("[]*"), struct, field)
                    if problem:
                        return problem
        else:
            problem = _check_value(value, kind, gotype, struct, field)
            if problem:
                return problem
    return None


def _check_value(value, kind: str, gotype: str, struct: str, field: str) -> str | None:
    if kind == "kernel":
        try:
            _min_kernel({"minKernel": value})
        except InvalidArgument as exc:
            return str(exc)
        return None
    if kind in _STRUCTS:
        if not isinstance(value, dict):
            return _mismatch(value, struct, field, gotype)
        return _check_struct(value, kind, field + ".")
    if kind == "string":
        return None if isinstance(value, str) else _mismatch(value, struct, field, gotype)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _mismatch(value, struct, field, gotype)
    if isinstance(value, float) or value < 0 or value > _UINT_MAX[kind]:
        return _mismatch(value, struct, field, gotype, f"number {json.dumps(value)}")
    return None


def _mismatch(value, struct: str, field: str, gotype: str, shown: str = "") -> str:
    shown = shown or _json_type(value)
    return f"json: cannot unmarshal {shown} into Go struct field {struct}.{field} of type {gotype}"


def _go_syntax_error(exc: json.JSONDecodeError) -> str:
    """Python's JSON syntax errors in the words of Go's encoding/json."""
    doc, pos = exc.doc, exc.pos
    if pos >= len(doc) or exc.msg.startswith("Unterminated string"):
        return "unexpected end of JSON input"
    char = doc[pos]
    if char in "'\"":
        shown = "'\\''" if char == "'" else "'\"'"
    else:
        shown = "'" + json.dumps(char)[1:-1] + "'"
    context = {
        "Expecting value": "looking for beginning of value",
        "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
        "Expecting ':' delimiter": "after object key",
        "Expecting ',' delimiter": "after object key:value pair" if _in_object(doc, pos) else "after array element",
        "Extra data": "after top-level value",
    }.get(exc.msg)
    if context is None:
        return f"invalid character {shown} in string literal" if exc.msg.startswith("Invalid") else exc.msg
    return f"invalid character {shown} {context}"


def _in_object(doc: str, pos: int) -> bool:
    """Whether ``pos`` is inside an object rather than an array (strings skipped)."""
    stack, in_string, escaped = [], False, False
    for ch in doc[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append(ch)
        elif ch in "]}" and stack:
            stack.pop()
    return bool(stack) and stack[-1] == "{"
