"""The device controller as data: OCI rules -> a normalized rule set -> v1 lines or a BPF program.

OCI lists device rules in the order cgroup v1 applied them. Replaying that list
(``normalize``, a port of runc's devices emulator) gives what the kernel would end up
with: a default (allow or deny) plus exceptions that all say the opposite. Because the
exceptions never disagree with each other, their order no longer matters, so the same
set drives both hierarchies:

    v1: devices.deny "a", then one devices.allow write per exception (or the reverse)
    v2: a BPF_PROG_TYPE_CGROUP_DEVICE program, one block per exception (runc's
        devicefilter, itself from crun's ebpf.c):

        r2 = type, r3 = access, r4 = major, r5 = minor       (struct bpf_cgroup_dev_ctx)
        block i:  if r2 != type   goto block i+1
                  if r3 & access != r3 goto block i+1        (omitted for "rwm")
                  if r4 != major  goto block i+1             (omitted for "*")
                  if r5 != minor  goto block i+1             (omitted for "*")
                  return not default
        last:     return default

Where v1 would silently ignore a rule (denying part of an allowed wildcard), this
refuses it, as runc does, rather than leave the user believing a device is blocked.
"""

import sys
from typing import NamedTuple

from ketch.errors import InvalidArgument

WILDCARD = -1
_ACCESS = "rwm"


class Rule(NamedTuple):
    allow: bool
    type: str  # "a", "b" or "c"
    major: int = WILDCARD
    minor: int = WILDCARD
    access: str = _ACCESS

    def cgroup_string(self) -> str:
        """devices.list syntax: ``c 1:3 rwm``, ``c 136:* rwm``, ``a *:* rwm``."""
        def num(n: int) -> str:
            return "*" if n == WILDCARD else str(n)
        return f"{self.type} {num(self.major)}:{num(self.minor)} {self.access}"

    def __str__(self) -> str:
        return f"{'allow' if self.allow else 'deny'} {self.cgroup_string()}"


def parse(devices: list, where: str = "linux.resources.devices") -> list[Rule]:
    """OCI ``linux.resources.devices`` -> rules; errors name the entry."""
    if not isinstance(devices, list):
        raise InvalidArgument(f"invalid {where}: expected an array")
    rules = []
    for i, entry in enumerate(devices):
        here = f"{where}[{i}]"
        if not isinstance(entry, dict):
            raise InvalidArgument(f"invalid {here}: expected an object")
        unknown = set(entry) - {"allow", "type", "major", "minor", "access"}
        if unknown:
            raise InvalidArgument(f"unknown field {here}.{sorted(unknown)[0]}")
        allow = entry.get("allow")
        if not isinstance(allow, bool):
            raise InvalidArgument(f"invalid {here}.allow: expected a boolean, got {allow!r}")
        kind = entry.get("type") or "a"
        if kind not in ("a", "b", "c"):
            raise InvalidArgument(f"invalid {here}.type: {kind!r} is not one of a, b, c")
        numbers = []
        for name in ("major", "minor"):
            n = entry.get(name)
            if n is None:
                n = WILDCARD
            if isinstance(n, bool) or not isinstance(n, int) or n < WILDCARD or n > 0xFFFFFFFF:
                raise InvalidArgument(f"invalid {here}.{name}: {n!r}")
            numbers.append(n)
        access = entry.get("access") or _ACCESS
        if not isinstance(access, str) or set(access) - set(_ACCESS):
            raise InvalidArgument(f"invalid {here}.access: {access!r} is not made of r, w, m")
        rules.append(Rule(allow, kind, numbers[0], numbers[1], _canonical(access)))
    return rules


def _canonical(access: str | set) -> str:
    return "".join(c for c in _ACCESS if c in access)


def normalize(rules: list[Rule], where: str = "linux.resources.devices") -> tuple[bool, list[Rule]]:
    """Replay the rules as cgroup v1 would: (default_allow, exceptions sorted by major, minor, type).

    Starts from deny-all, as runc does, so a list without a leading wildcard is an
    allow list.
    """
    default_allow = False
    exceptions: dict[tuple[str, int, int], str] = {}
    for i, rule in enumerate(rules):
        if rule.type == "a":
            default_allow, exceptions = rule.allow, {}
            continue
        key = (rule.type, rule.major, rule.minor)
        if rule.allow != default_allow:
            exceptions[key] = _canonical(set(exceptions.get(key, "")) | set(rule.access))
            continue
        # The rule agrees with the default: it takes access away from an exception.
        for partial in ((rule.type, WILDCARD, rule.minor), (rule.type, rule.major, WILDCARD),
                        (rule.type, WILDCARD, WILDCARD)):
            if partial != key and set(exceptions.get(partial, "")) & set(rule.access):
                wide = Rule(not default_allow, *partial, exceptions[partial])
                raise InvalidArgument(f"invalid {where}[{i}]: cannot {rule} inside the wider "
                                      f"rule {wide}: cgroup v1 would ignore it")
        left = _canonical(set(exceptions.get(key, "")) - set(rule.access))
        if left:
            exceptions[key] = left
        else:
            exceptions.pop(key, None)
    ordered = sorted(exceptions.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0]))
    return default_allow, [Rule(not default_allow, t, ma, mi, acc) for (t, ma, mi), acc in ordered]


def to_text(default_allow: bool, exceptions: list[Rule]) -> str:
    """The normalized set as plan text: ``allow a *:* rwm`` or ``deny a *:* rwm``, then the exceptions."""
    head = Rule(default_allow, "a")
    return "\n".join(str(r) for r in [head, *exceptions])


def from_text(text: str) -> tuple[bool, list[Rule]]:
    """Inverse of ``to_text``."""
    lines = text.splitlines()
    rules = []
    for line in lines:
        verb, kind, numbers, access = line.split()
        major, minor = (WILDCARD if n == "*" else int(n) for n in numbers.split(":"))
        rules.append(Rule(verb == "allow", kind, major, minor, access))
    if not rules or rules[0].type != "a" or any(r.type == "a" for r in rules[1:]):
        raise InvalidArgument(f"invalid device rule set: {text!r}")
    return rules[0].allow, rules[1:]


# --- the BPF program --------------------------------------------------------------------

# <linux/bpf_common.h>, <linux/bpf.h>
_LDX_MEM_W = 0x61       # BPF_LDX | BPF_MEM | BPF_W
_ALU_AND_K = 0x54       # BPF_ALU | BPF_AND | BPF_K
_ALU_RSH_K = 0x74       # BPF_ALU | BPF_RSH | BPF_K
_ALU_MOV_K = 0xB4       # BPF_ALU | BPF_MOV | BPF_K
_ALU_MOV_X = 0xBC       # BPF_ALU | BPF_MOV | BPF_X
_JMP_JNE_K = 0x55       # BPF_JMP | BPF_JNE | BPF_K
_JMP_JNE_X = 0x5D       # BPF_JMP | BPF_JNE | BPF_X
_JMP_EXIT = 0x95        # BPF_JMP | BPF_EXIT
_DEVCG_DEV = {"b": 1, "c": 2}                  # BPF_DEVCG_DEV_BLOCK, _CHAR
_DEVCG_ACC = {"m": 1, "r": 2, "w": 4}          # BPF_DEVCG_ACC_MKNOD, _READ, _WRITE


class Insn(NamedTuple):
    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0

    def encode(self) -> bytes:
        # struct bpf_insn {u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm;}: the
        # bitfield order follows the machine's byte order.
        regs = (self.src << 4 | self.dst) if sys.byteorder == "little" else (self.dst << 4 | self.src)
        return (self.code.to_bytes(1, sys.byteorder) + regs.to_bytes(1, sys.byteorder)
                + self.off.to_bytes(2, sys.byteorder, signed=True)
                + self.imm.to_bytes(4, sys.byteorder, signed=True))


def program(default_allow: bool, exceptions: list[Rule]) -> list[Insn]:
    insns = [
        Insn(_LDX_MEM_W, dst=2, src=1, off=0), Insn(_ALU_AND_K, dst=2, imm=0xFFFF),  # type
        Insn(_LDX_MEM_W, dst=3, src=1, off=0), Insn(_ALU_RSH_K, dst=3, imm=16),      # access
        Insn(_LDX_MEM_W, dst=4, src=1, off=4),                                       # major
        Insn(_LDX_MEM_W, dst=5, src=1, off=8),                                       # minor
    ]
    for rule in exceptions:
        if rule.type not in _DEVCG_DEV or rule.allow == default_allow:
            raise InvalidArgument(f"device rule {rule} is not an exception to the default")
        # Each check is (code, dst, src, imm); its offset, the distance to the end of the
        # block, is filled in once the block's length is known.
        checks = [(_JMP_JNE_K, 2, 0, _DEVCG_DEV[rule.type])]
        if rule.access != _ACCESS:
            mask = sum(_DEVCG_ACC[c] for c in rule.access)
            checks += [(_ALU_MOV_X, 1, 3, 0), (_ALU_AND_K, 1, 0, mask), (_JMP_JNE_X, 1, 3, 0)]
        if rule.major != WILDCARD:
            checks.append((_JMP_JNE_K, 4, 0, _to_s32(rule.major)))
        if rule.minor != WILDCARD:
            checks.append((_JMP_JNE_K, 5, 0, _to_s32(rule.minor)))
        size = len(checks) + 2
        for i, (code, dst, src, imm) in enumerate(checks):
            off = size - i - 1 if code in (_JMP_JNE_K, _JMP_JNE_X) else 0
            insns.append(Insn(code, dst, src, off, imm))
        insns += [Insn(_ALU_MOV_K, dst=0, imm=int(rule.allow)), Insn(_JMP_EXIT)]
    insns += [Insn(_ALU_MOV_K, dst=0, imm=int(default_allow)), Insn(_JMP_EXIT)]
    return insns


def _to_s32(n: int) -> int:
    """The immediate is compared as u32 by JNE on a u32 register; store it as its s32 bits."""
    return n - (1 << 32) if n >= 1 << 31 else n


def encode(insns: list[Insn]) -> bytes:
    return b"".join(i.encode() for i in insns)


def listing(insns: list[Insn]) -> str:
    """A readable listing, one instruction a line, for golden tests and debugging."""
    names = {_LDX_MEM_W: "ldxw", _ALU_AND_K: "and32", _ALU_RSH_K: "rsh32", _ALU_MOV_K: "mov32",
             _ALU_MOV_X: "mov32", _JMP_JNE_K: "jne", _JMP_JNE_X: "jne", _JMP_EXIT: "exit"}
    lines = []
    for n, i in enumerate(insns):
        op = names[i.code]
        if i.code == _LDX_MEM_W:
            text = f"{op} r{i.dst}, [r{i.src}+{i.off}]"
        elif i.code in (_ALU_AND_K, _ALU_RSH_K, _ALU_MOV_K):
            text = f"{op} r{i.dst}, {i.imm}"
        elif i.code == _ALU_MOV_X:
            text = f"{op} r{i.dst}, r{i.src}"
        elif i.code == _JMP_JNE_K:
            text = f"{op} r{i.dst}, {i.imm}, +{i.off}"
        elif i.code == _JMP_JNE_X:
            text = f"{op} r{i.dst}, r{i.src}, +{i.off}"
        else:
            text = op
        lines.append(f"{n:3}: {text}")
    return "\n".join(lines)
