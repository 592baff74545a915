"""The seccomp mode a container runs in, as `ketch run` flags choose it (moby's WithSeccomp).

Docker 26 and later drop only the default profile for ``--privileged``: a profile named
with ``--security-opt seccomp=`` is still loaded, and enforced.
"""

import json

import pytest

# allows everything but mkdir, which fails with EPERM
DENY_MKDIR = {"defaultAction": "SCMP_ACT_ALLOW",
              "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
DENIED = "mkdir: can't create directory '/x': Operation not permitted\n"


@pytest.fixture(scope="module")
def profile(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("seccomp") / "deny-mkdir.json"
    path.write_text(json.dumps(DENY_MKDIR))
    return str(path)


@pytest.mark.parametrize("flags, mode, mkdir", [
    ([], "2", "OK"),
    (["--security-opt", "seccomp=unconfined"], "0", "OK"),
    (["--privileged"], "0", "OK"),
    (["--privileged", "--security-opt", "seccomp=PROFILE"], "2", "EPERM"),
    (["--security-opt", "seccomp=PROFILE"], "2", "EPERM"),
])
def test_seccomp_mode_and_profile(daemon, profile, flags, mode, mkdir):
    flags = [f.replace("PROFILE", profile) for f in flags]
    res = daemon.ketch("run", "--rm", *flags, "busybox", "sh", "-c",
                       "grep '^Seccomp:' /proc/1/status; mkdir /x && echo made")
    status = "Seccomp:\t" + mode + "\n"
    if mkdir == "OK":
        assert (res.returncode, res.stdout, res.stderr) == (0, status + "made\n", "")
    else:
        assert (res.returncode, res.stdout, res.stderr) == (1, status, DENIED)
