"""engine/seccomp.py: Docker profile -> OCI linux.seccomp, against dockerd's own output.

The goldens ``tests/golden/seccomp_dockerd_*.json`` are the ``linux.seccomp`` of the
config.json that a real dockerd (20.10.24, amd64, kernel 6.18) wrote for
``docker run --security-opt seccomp=<Docker's default profile> [--cap-add ...] busybox``,
with the same profile file that ketch ships. One known difference: that dockerd predates
moby 23, which copies every field the profile shares with the OCI object, so it drops
``defaultErrnoRet``; ketch keeps it, as current moby does.
"""

import json
import os

import pytest

from ketch.engine import seccomp
from ketch.errors import InvalidArgument

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "golden")
DOCKER_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]
ORACLE_HOST = {"arch": "amd64", "kernel": (6, 18)}


def golden(name: str) -> dict:
    with open(os.path.join(GOLDEN, f"seccomp_dockerd_{name}.json")) as f:
        return json.load(f)


def groups(oci: dict) -> list[tuple]:
    return [(tuple(c["names"]), c["action"], json.dumps(c.get("args")), c.get("errnoRet"))
            for c in oci["syscalls"]]


def names(oci: dict) -> set[str]:
    return {n for c in oci["syscalls"] for n in c["names"]}


@pytest.mark.parametrize("name,extra", [("default", []), ("cap_sys_admin", ["CAP_SYS_ADMIN"]),
                                        ("cap_sys_ptrace", ["CAP_SYS_PTRACE"])])
def test_matches_dockerd(name, extra):
    got = seccomp.to_oci(seccomp.default_profile(), DOCKER_CAPS + extra, **ORACLE_HOST)
    assert got.pop("defaultErrnoRet") == 1
    assert json.dumps(got) == json.dumps(golden(name))  # same content, same key order


def test_host_defaults_are_uname():
    machine = os.uname().machine
    assert seccomp.to_oci(seccomp.default_profile(), DOCKER_CAPS) == seccomp.to_oci(
        seccomp.default_profile(), DOCKER_CAPS, arch=machine, kernel=seccomp.host_kernel())


def test_uname_and_go_arch_names_agree():
    profile = seccomp.default_profile()
    assert seccomp.to_oci(profile, DOCKER_CAPS, "x86_64", (6, 0)) == seccomp.to_oci(profile, DOCKER_CAPS, "amd64", (6, 0))
    assert seccomp.to_oci(profile, DOCKER_CAPS, "aarch64", (6, 0)) == seccomp.to_oci(profile, DOCKER_CAPS, "arm64", (6, 0))


def test_arm64():
    oci = seccomp.to_oci(seccomp.default_profile(), DOCKER_CAPS, arch="arm64", kernel=(6, 0))
    assert oci["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert {"arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls"} <= names(oci)
    assert not {"arch_prctl", "modify_ldt", "s390_runtime_instr", "swapcontext"} & names(oci)
    clone = [c for c in oci["syscalls"] if c["names"] == ["clone"]]
    assert clone == [{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}]}]


def test_s390x_clone_flags_are_the_second_argument():
    oci = seccomp.to_oci(seccomp.default_profile(), DOCKER_CAPS, arch="s390x", kernel=(6, 0))
    assert oci["architectures"] == ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"]
    clone = [c for c in oci["syscalls"] if c["names"] == ["clone"]]
    assert clone[0]["args"][0]["index"] == 1


def test_arch_without_archmap_entry_gets_no_architectures():
    oci = seccomp.to_oci(seccomp.default_profile(), DOCKER_CAPS, arch="ppc64le", kernel=(6, 0))
    assert "architectures" not in oci
    assert "sync_file_range2" in names(oci)


@pytest.mark.parametrize("kernel,has_ptrace", [((4, 7), False), ((4, 8), True), ((3, 99), False),
                                               ((5, 0), True), ((6, 0), True)])
def test_min_kernel_includes(kernel, has_ptrace):
    oci = seccomp.to_oci(seccomp.default_profile(), DOCKER_CAPS, arch="amd64", kernel=kernel)
    assert ("ptrace" in names(oci)) is has_ptrace
    # CAP_SYS_PTRACE allows ptrace whatever the kernel
    oci = seccomp.to_oci(seccomp.default_profile(), DOCKER_CAPS + ["CAP_SYS_PTRACE"], arch="amd64", kernel=kernel)
    assert "ptrace" in names(oci)


def test_min_kernel_excludes():
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"minKernel": "5.3"}}]}
    assert "syscalls" in seccomp.to_oci(profile, [], "amd64", (5, 2))
    assert "syscalls" not in seccomp.to_oci(profile, [], "amd64", (5, 3))


def test_caps_includes_need_all_and_excludes_any():
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["a"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_X", "CAP_Y"]}},
        {"names": ["b"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_X", "CAP_Y"]}},
        {"names": ["c"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
        {"names": ["d"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["arm64"]}},
    ]}

    def kept(caps, arch="amd64"):
        return sorted(names(seccomp.to_oci(profile, caps, arch, (6, 0))))
    assert kept([]) == ["b", "d"]
    assert kept(["CAP_X"]) == ["d"]
    assert kept(["CAP_X", "CAP_Y"]) == ["a", "d"]
    assert kept(["x", "cap_y"]) == ["a", "d"]  # Docker's short and lower-case names
    assert kept([], "arm64") == ["b", "c"]


def test_default_profile_behaviour_by_caps():
    base = seccomp.to_oci(seccomp.default_profile(), DOCKER_CAPS, "amd64", (6, 0))
    admin = seccomp.to_oci(seccomp.default_profile(), DOCKER_CAPS + ["CAP_SYS_ADMIN"], "amd64", (6, 0))
    assert not {"mount", "unshare", "setns", "bpf", "umount2"} & names(base)
    assert {"mount", "unshare", "setns", "bpf", "umount2"} <= names(admin)
    assert {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38} in base["syscalls"]
    assert not any(c["names"] == ["clone3"] and c["action"] == "SCMP_ACT_ERRNO" for c in admin["syscalls"])
    assert "chroot" in names(base)  # CAP_SYS_CHROOT is a default capability
    assert "reboot" not in names(base)


def test_passthrough_fields_and_go_omitempty():
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 0, "flags": ["SECCOMP_FILTER_FLAG_LOG"],
               "listenerPath": "/run/agent.sock", "listenerMetadata": "m", "comment": "ignored",
               "architectures": ["SCMP_ARCH_X86_64"],
               "syscalls": [{"name": "mkdir", "action": "SCMP_ACT_NOTIFY", "comment": "x",
                             "args": [{"index": 1, "value": 2, "valueTwo": 0, "op": "SCMP_CMP_EQ"},
                                      {"index": 2, "value": 3, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ"}]}]}
    before = json.dumps(profile)
    assert seccomp.to_oci(profile, [], "amd64", (6, 0)) == {
        "defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 0, "architectures": ["SCMP_ARCH_X86_64"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"], "listenerPath": "/run/agent.sock", "listenerMetadata": "m",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY",
                      "args": [{"index": 1, "value": 2, "op": "SCMP_CMP_EQ"},
                               {"index": 2, "value": 3, "valueTwo": 4, "op": "SCMP_CMP_MASKED_EQ"}]}]}
    assert json.dumps(profile) == before  # the input is not modified


def test_disabled_profile_is_none():
    assert seccomp.to_oci({}, DOCKER_CAPS) is None
    assert seccomp.to_oci({"defaultAction": "", "syscalls": []}, DOCKER_CAPS) is None


@pytest.mark.parametrize("profile,message", [
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
      "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": None}]},
     "'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "mkdir", "names": ["rmdir"], "action": "SCMP_ACT_ERRNO"}]},
     "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ERRNO",
                                                       "includes": {"minKernel": "4"}}]},
     'Decoding seccomp profile failed: invalid kernel version: "4", expected "<kernel>.<major>"'),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": "mkdir"},
     "Decoding seccomp profile failed: json: cannot unmarshal string into Go struct field "
     "Seccomp.syscalls of type []*seccomp.Syscall"),
])
def test_to_oci_errors(profile, message):
    with pytest.raises(InvalidArgument) as err:
        seccomp.to_oci(profile, DOCKER_CAPS, "amd64", (6, 0))
    assert str(err.value) == message


# The daemon's answers, from dockerd 20.10.24 given each body through the API.
@pytest.mark.parametrize("body,message", [
    ("{bad", "invalid character 'b' looking for beginning of object key string"),
    ('{"defaultAction":1}', "json: cannot unmarshal number into Go struct field Seccomp.defaultAction "
                            "of type specs.LinuxSeccompAction"),
    ('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":"x"}',
     "json: cannot unmarshal string into Go struct field Seccomp.syscalls of type []*seccomp.Syscall"),
    ('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":"x"}]}',
     "json: cannot unmarshal string into Go struct field Syscall.syscalls.names of type []string"),
    ('{"defaultAction":"SCMP_ACT_ALLOW"} x', "invalid character 'x' after top-level value"),
    ('{"defaultAction":"SCMP_ACT_ALLOW",', "unexpected end of JSON input"),
    ("[1]", "json: cannot unmarshal array into Go value of type seccomp.Seccomp"),
    ('{"syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","args":[{"index":"0"}]}]}',
     "json: cannot unmarshal string into Go struct field LinuxSeccompArg.syscalls.args.index of type uint"),
    ('{"syscalls":[{"names":["mkdir"],"includes":{"minKernel":"4.x"}}]}',
     'invalid kernel version: "4.x", expected "<kernel>.<major>": strconv.ParseUint: parsing "x": invalid syntax'),
])
def test_parse_profile_errors(body, message):
    with pytest.raises(InvalidArgument) as err:
        seccomp.parse_profile(body)
    assert str(err.value) == "Decoding seccomp profile failed: " + message


def test_load_profile_file(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(seccomp.default_profile()))
    assert seccomp.load_profile_file(str(path)) == seccomp.default_profile()
    with pytest.raises(InvalidArgument) as err:
        seccomp.load_profile_file(str(tmp_path / "missing.json"))
    missing = tmp_path / "missing.json"
    assert str(err.value) == f"opening seccomp profile ({missing}) failed: open {missing}: no such file or directory"
    path.write_text("{bad")
    with pytest.raises(InvalidArgument, match="^Decoding seccomp profile failed: invalid character 'b'"):
        seccomp.load_profile_file(str(path))


def test_default_profile_is_a_fresh_copy():
    a = seccomp.default_profile()
    a["syscalls"].clear()
    assert seccomp.default_profile()["syscalls"]


def test_kernel_release_parsing():
    assert seccomp._parse_release("6.18.44-fc-v657") == (6, 18)
    assert seccomp._parse_release("3.12-1-amd64") == (3, 12)
    assert seccomp._parse_release("5.4.0-rc5") == (5, 4)


def test_default_oci_is_to_oci_of_the_default_profile_per_bounding_set():
    from ketch.engine.security import DEFAULT_CAPABILITIES
    base = list(DEFAULT_CAPABILITIES)
    wider = base + ["CAP_SYS_ADMIN"]
    assert seccomp.default_oci(base) == seccomp.to_oci(seccomp.default_profile(), base)
    assert seccomp.default_oci(wider) == seccomp.to_oci(seccomp.default_profile(), wider)
    assert seccomp.default_oci(wider) != seccomp.default_oci(base)  # CAP_SYS_ADMIN opens syscalls
    assert seccomp.default_oci(list(reversed(base))) is seccomp.default_oci(base)
