"""runtime/seccomp.py on the real kernel: compile in the test process, load in a child.

A filter cannot be removed once loaded, so it is only ever loaded in a forked child,
which reports over a pipe and always leaves through ``os._exit``. Each blocked call is
also made in an unfiltered child, so an EPERM is known to come from the filter.
"""

import ctypes
import errno
import json
import os
import signal

import pytest

from ketch.engine import seccomp as profiles
from ketch.errors import InvalidArgument
from ketch.linux import seccomp as lsc
from ketch.runtime import seccomp

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
]

DOCKER_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]
CLONE_NEWUSER = 0x10000000
# name -> arguments that are harmless (and fail, but for unshare) when the call is
# allowed; unshare comes last, as a new user namespace takes the child's capabilities
BLOCKED = {
    "keyctl": (0, 0, 0, 0, 0),
    "add_key": (0, 0, 0, 0, 0),
    "mount": (0, 0, 0, 0, 0),
    "reboot": (0, 0, 0, 0),
    "bpf": (-1, 0, 0),
    "unshare": (CLONE_NEWUSER,),
}


def docker_default(**overrides) -> dict:
    oci = profiles.to_oci(profiles.default_profile(), DOCKER_CAPS)
    oci.update(overrides)
    return oci


def raw_syscall(name: str, *args: int) -> tuple[int, int]:
    """(result, errno) of syscall(2) by name, bypassing libc wrappers."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    ctypes.set_errno(0)
    res = libc.syscall(ctypes.c_long(lsc.syscall_number(name)), *(ctypes.c_long(a) for a in args))
    return res, (ctypes.get_errno() if res == -1 else 0)


def in_child(work, filt: seccomp.Filter | None):
    """Run ``work()`` in a forked child (after loading ``filt``); return what it returned
    (JSON) and the child's wait status."""
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(rd)
            if filt is not None:
                seccomp.load(filt)
            payload = json.dumps({"result": work()})
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            payload = json.dumps({"error": f"{type(exc).__name__}: {exc}"})
        try:
            data = payload.encode()
            while data:
                data = data[os.write(wr, data):]
        finally:
            os._exit(0)
    os.close(wr)
    chunks = []
    with os.fdopen(rd, "rb") as f:
        while chunk := f.read():
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    report = json.loads(b"".join(chunks) or b"{}")
    assert "error" not in report, report["error"]
    return report.get("result"), status


def probe_blocked():
    return {name: raw_syscall(name, *args)[1] for name, args in BLOCKED.items()}


def test_docker_default_profile():
    filt = seccomp.compile_rules(docker_default())

    def work():
        with open("/proc/self/status") as f:
            status = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
        return {"seccomp": status["Seccomp"].strip(), "blocked": probe_blocked(),
                "getpid": [raw_syscall("getpid")[0], os.getpid()], "uname": os.uname().sysname,
                "clone3": raw_syscall("clone3", 0, 0)[1]}
    got, status = in_child(work, filt)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert got["seccomp"] == "2"
    assert got["blocked"] == {name: errno.EPERM for name in BLOCKED}
    assert got["getpid"][0] == got["getpid"][1]
    assert got["uname"] == "Linux"
    assert got["clone3"] == errno.ENOSYS  # the profile's errnoRet 38, so libc falls back to clone

    unfiltered, _ = in_child(probe_blocked, None)
    assert errno.EPERM not in unfiltered.values(), unfiltered


def test_default_errno_ret():
    filt = seccomp.compile_rules(docker_default(defaultErrnoRet=errno.ENOSYS))
    got, _ = in_child(probe_blocked, filt)
    assert got == {name: errno.ENOSYS for name in BLOCKED}


def test_cap_sys_admin_profile_allows_mount_family():
    oci = profiles.to_oci(profiles.default_profile(), DOCKER_CAPS + ["CAP_SYS_ADMIN"])
    got, _ = in_child(probe_blocked, seccomp.compile_rules(oci))
    assert got["mount"] != errno.EPERM and got["keyctl"] == errno.EPERM


def test_custom_profile_denies_mkdir_with_eacces(tmp_path):
    oci = {"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES}]}
    filt = seccomp.compile_rules(oci)

    def work():
        out = {}
        try:
            os.mkdir(tmp_path / "denied")
            out["mkdir"] = 0
        except OSError as exc:
            out["mkdir"] = exc.errno
        (tmp_path / "file").write_text("ok")  # everything else still works
        out["file"] = (tmp_path / "file").read_text()
        return out
    got, _ = in_child(work, filt)
    assert got == {"mkdir": errno.EACCES, "file": "ok"}
    assert not (tmp_path / "denied").exists()


def test_same_argument_twice_is_an_or():
    # runc's rule: comparisons on one argument become separate rules
    oci = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{
        "names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES,
        "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]}
    filt = seccomp.compile_rules(oci)
    assert len(filt.rules) == 2
    got, _ = in_child(lambda: [raw_syscall("getpgid", pid)[1] for pid in (1, 2, 0)], filt)
    assert got == [errno.EACCES, errno.EACCES, 0]


def test_different_arguments_are_an_and():
    oci = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{
        "names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES,
        "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}]}
    filt = seccomp.compile_rules(oci)
    assert len(filt.rules) == 1

    def work():
        return [raw_syscall("getpriority", which, who)[1] for which, who in ((0, 0), (0, os.getpid()), (1, 0))]
    got, _ = in_child(work, filt)
    assert got == [errno.EACCES, 0, 0]


def test_kill_process_action():
    oci = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}
    _, status = in_child(lambda: raw_syscall("getppid"), seccomp.compile_rules(oci))
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


# -- compile_rules: checks and translation (no filter loaded) -------------------------
def rule_oci(**call) -> dict:
    return {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", **call}]}


def test_compile_translates_actions_and_arches():
    filt = seccomp.compile_rules(docker_default())
    assert filt.default_action == lsc.act_errno(1)
    if os.uname().machine == "x86_64":
        assert filt.arches == tuple(lsc.arch_token(a) for a in ("x86_64", "x86", "x32"))
    assert filt.flags is None and not filt.notifies
    assert seccomp.compile_rules(rule_oci()).rules[0].action == lsc.act_errno(errno.EPERM)  # runc's default errno
    assert seccomp.compile_rules(rule_oci(action="SCMP_ACT_TRACE")).rules[0].action == lsc.act_trace(errno.EPERM)
    assert seccomp.compile_rules(rule_oci(action="SCMP_ACT_KILL")).rules[0].action == lsc.ACT_KILL_THREAD
    assert seccomp.compile_rules(rule_oci(action="SCMP_ACT_ALLOW")).rules == ()  # same as the default: dropped
    assert seccomp.compile_rules(rule_oci(action="SCMP_ACT_LOG", errnoRet=5)).rules[0].action == lsc.ACT_LOG


def test_compile_flags():
    assert seccomp.compile_rules(rule_oci()).flags is None
    assert seccomp.compile_rules({**rule_oci(), "flags": []}).flags == ()
    flags = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
    assert seccomp.compile_rules({**rule_oci(), "flags": flags}).flags == tuple(flags[1:])


def test_compile_skips_names_only_libseccomp_lacks():
    unknown = sorted(n for n in seccomp._docker_known_names() if lsc.syscall_number(n) is None)
    if not unknown:
        pytest.skip("this libseccomp knows every syscall of Docker's profile")
    filt = seccomp.compile_rules(rule_oci(names=[unknown[0], "mkdir"]))
    assert [r.syscall for r in filt.rules] == [lsc.syscall_number("mkdir")]


@pytest.mark.parametrize("oci,message", [
    ({"defaultAction": "SCMP_ACT_NOPE"}, 'unknown seccomp action "SCMP_ACT_NOPE" in linux.seccomp.defaultAction'),
    ({"syscalls": []}, "unknown seccomp action null in linux.seccomp.defaultAction"),
    (rule_oci(action="ERRNO"), 'unknown seccomp action "ERRNO" in linux.seccomp.syscalls[0].action'),
    (rule_oci(names=["mkdir", "mkdirr"]), 'unknown seccomp syscall "mkdirr" in linux.seccomp.syscalls[0]'),
    (rule_oci(names=[]), "linux.seccomp.syscalls[0].names must contain at least one syscall"),
    (rule_oci(errnoRet=-1), "linux.seccomp.syscalls[0].errnoRet must be an integer from 0 to 65535, not -1"),
    (rule_oci(args=[{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]),
     "linux.seccomp.syscalls[0].args[0].index must be an integer from 0 to 5, not 6"),
    (rule_oci(args=[{"index": 0, "value": 0, "op": "EQ"}]),
     'unknown seccomp operator "EQ" in linux.seccomp.syscalls[0].args[0].op'),
    ({**rule_oci(), "architectures": ["SCMP_ARCH_X86_64", "x86"]},
     'unknown seccomp architecture "x86" in linux.seccomp.architectures[1]'),
    ({**rule_oci(), "flags": ["SECCOMP_FILTER_FLAG_NOPE"]},
     'seccomp flag "SECCOMP_FILTER_FLAG_NOPE" in linux.seccomp.flags[0] is not supported'),
    (rule_oci(action="SCMP_ACT_NOTIFY"),
     "linux.seccomp.syscalls[0].action is SCMP_ACT_NOTIFY but linux.seccomp.listenerPath is not set"),
    ({**rule_oci(action="SCMP_ACT_NOTIFY", names=["write"]), "listenerPath": "/run/a.sock"},
     "SCMP_ACT_NOTIFY cannot be used for the write syscall"),
    ({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/a.sock"},
     "SCMP_ACT_NOTIFY cannot be used as default action"),
    ({**rule_oci(), "listenerMetadata": "m"},
     "linux.seccomp.listenerMetadata is set but linux.seccomp.listenerPath is not"),
])
def test_compile_errors(oci, message):
    with pytest.raises(InvalidArgument) as err:
        seccomp.compile_rules(oci)
    assert str(err.value) == message


def test_notify_with_listener_compiles():
    filt = seccomp.compile_rules({**rule_oci(action="SCMP_ACT_NOTIFY"), "listenerPath": "/run/a.sock"})
    assert filt.notifies and filt.listener_path == "/run/a.sock"


def test_compiled_program_behaves_as_the_libseccomp_load(tmp_path):
    """prepare() compiles to BPF once (cached on disk); loading the bytes with seccomp(2)
    gives the same filter as libseccomp's own load."""
    cache = tmp_path / "bpf"
    filt = seccomp.compile_rules(docker_default())
    compiled = seccomp.prepare(filt, str(cache))
    assert isinstance(compiled, seccomp.Compiled) and len(compiled.program) % 8 == 0
    assert len(list(cache.iterdir())) == 1
    again = seccomp.prepare(filt, str(cache))
    assert again.program == compiled.program

    def work():
        with open("/proc/self/status") as f:
            mode = next(line.split()[1] for line in f if line.startswith("Seccomp:"))
        return {"seccomp": mode, "blocked": probe_blocked(), "clone3": raw_syscall("clone3", 0, 0)[1]}
    from_bytes, status = in_child(work, compiled)
    from_lib, _ = in_child(work, filt)
    assert os.WIFEXITED(status) and from_bytes == from_lib
    assert from_bytes["seccomp"] == "2" and set(from_bytes["blocked"].values()) == {errno.EPERM}
