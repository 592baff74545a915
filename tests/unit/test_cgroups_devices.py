"""ketch.runtime.cgroups.devices: rule replay (runc's emulator) and the BPF device program.

The expected programs are runc's ``devicefilter_test.go`` ones, in our listing syntax;
the kernel's verifier and the real effect are exercised in tests/integration.
"""

import sys

import pytest

from ketch.errors import InvalidArgument
from ketch.runtime.cgroups import devices as d

R = d.Rule
W = d.WILDCARD

# runc's specconv.AllowedDevices, as in its TestDeviceFilter_BuiltInAllowList.
BUILTIN = [R(True, "c", W, W, "m"), R(True, "b", W, W, "m"), R(True, "c", 1, 3), R(True, "c", 1, 8),
           R(True, "c", 1, 7), R(True, "c", 5, 0), R(True, "c", 1, 5), R(True, "c", 1, 9),
           R(True, "c", 136, W), R(True, "c", 5, 2), R(True, "c", 10, 200)]

PROLOGUE = """\
  0: ldxw r2, [r1+0]
  1: and32 r2, 65535
  2: ldxw r3, [r1+0]
  3: rsh32 r3, 16
  4: ldxw r4, [r1+4]
  5: ldxw r5, [r1+8]
"""


@pytest.mark.parametrize("rules,default_allow,exceptions", [
    ([], False, []),
    ([R(True, "a")], True, []),
    # runc's TestDeviceFilter_Weird: the wildcard resets what came before it.
    ([R(False, "b", 8, 1), R(True, "a"), R(False, "b", 8, 2)], True, [R(False, "b", 8, 2)]),
    ([R(False, "a"), R(True, "c", 1, 3, "r"), R(True, "c", 1, 3, "w")], False, [R(True, "c", 1, 3, "rw")]),
    ([R(False, "a"), R(True, "c", 1, 3), R(False, "c", 1, 3, "w")], False, [R(True, "c", 1, 3, "rm")]),
    ([R(False, "a"), R(True, "c", 1, 3), R(False, "c", 1, 3)], False, []),
    # denying what was never allowed changes nothing (dockerd's "deny c 10:229")
    ([R(False, "a"), R(True, "c", 1, 5), R(False, "c", 10, 229)], False, [R(True, "c", 1, 5)]),
])
def test_normalize(rules, default_allow, exceptions):
    assert d.normalize(rules) == (default_allow, exceptions)


def test_normalize_sorts_by_major_minor_type():
    _, exceptions = d.normalize(BUILTIN)
    assert [e.cgroup_string() for e in exceptions] == [
        "b *:* m", "c *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
        "c 5:0 rwm", "c 5:2 rwm", "c 10:200 rwm", "c 136:* rwm"]


def test_normalize_refuses_a_hole_in_a_wildcard():
    rules = [R(False, "a"), R(True, "c", W, W, "m"), R(False, "c", 1, 3, "m")]
    with pytest.raises(InvalidArgument, match=r"linux.resources.devices\[2\].*c \*:\* m"):
        d.normalize(rules)
    # no overlap in access: fine
    assert d.normalize([R(False, "a"), R(True, "c", W, W, "m"), R(False, "c", 1, 3, "r")])[1] == [
        R(True, "c", W, W, "m")]


def test_parse_oci_entries():
    assert d.parse([{"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 136, "access": "wr"},
                    {"allow": True, "type": "b", "major": 8, "minor": 0}]) == [
        R(False, "a"), R(True, "c", 136, W, "rw"), R(True, "b", 8, 0, "rwm")]


def test_text_round_trip():
    normalized = d.normalize(BUILTIN)
    text = d.to_text(*normalized)
    assert text.splitlines()[:2] == ["deny a *:* rwm", "allow b *:* m"]
    assert d.from_text(text) == normalized
    with pytest.raises(InvalidArgument):
        d.from_text("allow c 1:3 rwm")


def test_program_empty_rejects_everything():
    assert d.listing(d.program(False, [])) + "\n" == PROLOGUE + "  6: mov32 r0, 0\n  7: exit\n"
    assert d.listing(d.program(True, [])) + "\n" == PROLOGUE + "  6: mov32 r0, 1\n  7: exit\n"


def test_program_privileged_except_one_device():
    # runc's TestDeviceFilter_PrivilegedExceptSingleDevice
    got = d.listing(d.program(*d.normalize([R(True, "a"), R(False, "b", 8, 0)])))
    assert got + "\n" == PROLOGUE + """\
  6: jne r2, 1, +4
  7: jne r4, 8, +3
  8: jne r5, 0, +2
  9: mov32 r0, 0
 10: exit
 11: mov32 r0, 1
 12: exit
"""


def test_program_access_check_and_wildcards():
    got = d.listing(d.program(False, [R(True, "c", W, W, "m"), R(True, "c", 10, 200, "rw"),
                                      R(True, "c", 136, W)]))
    assert got + "\n" == PROLOGUE + """\
  6: jne r2, 2, +5
  7: mov32 r1, r3
  8: and32 r1, 1
  9: jne r1, r3, +2
 10: mov32 r0, 1
 11: exit
 12: jne r2, 2, +7
 13: mov32 r1, r3
 14: and32 r1, 6
 15: jne r1, r3, +4
 16: jne r4, 10, +3
 17: jne r5, 200, +2
 18: mov32 r0, 1
 19: exit
 20: jne r2, 2, +3
 21: jne r4, 136, +2
 22: mov32 r0, 1
 23: exit
 24: mov32 r0, 0
 25: exit
"""


def test_program_builtin_allow_list_matches_runc():
    insns = d.program(*d.normalize(BUILTIN))
    assert len(insns) == 64  # runc: instructions 0..63
    jne_imm = [i.imm for i in insns if i.code == 0x55]
    assert jne_imm == [1, 2, 2, 1, 3, 2, 1, 5, 2, 1, 7, 2, 1, 8, 2, 1, 9, 2, 5, 0, 2, 5, 2,
                       2, 10, 200, 2, 136]
    # every jump lands on the first instruction of the next block
    starts = {6} | {n + 1 for n, i in enumerate(insns) if i.code == 0x95}
    for n, i in enumerate(insns):
        if i.code in (0x55, 0x5D):
            assert n + 1 + i.off in starts


def test_encoding():
    insns = d.program(False, [R(True, "c", 0xFFFFFFFF, 3)])
    raw = d.encode(insns)
    assert len(raw) == 8 * len(insns)
    if sys.byteorder == "little":
        assert raw[:8] == bytes.fromhex("6112000000000000")          # ldxw r2, [r1+0]
        assert raw[-16:] == bytes.fromhex("b400000000000000" "9500000000000000")
    assert insns[7].imm == -1  # major 4294967295 as the s32 the kernel compares as u32
    with pytest.raises(InvalidArgument):
        d.program(False, [R(False, "c", 1, 3)])  # agrees with the default: not an exception
