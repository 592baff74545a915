"""Bad limits, capabilities, profiles and devices: a clear error, exit 125, nothing left."""

import os

import pytest


@pytest.mark.parametrize("args, words", [
    (["--cap-add", "FOO"], 'invalid CapAdd: unknown capability: "CAP_FOO"'),
    (["--cpuset-cpus", "99"], "Requested CPUs are not available - requested 99"),
    (["--memory", "1k"], "Minimum memory limit allowed is 6MB"),
    (["--cpus", "99"], "Range of CPUs is from 0.01 to"),
    (["--device", "/dev/nosuch"], 'adding custom device "/dev/nosuch": no such file or directory'),
    (["--blkio-weight", "5"], "Range of blkio weight is from 10 to 1000"),
    (["--ulimit", "nofile=10:5"], "ulimit soft limit must be less than or equal to hard limit: 10 > 5"),
    (["--sysctl", "kernel.hostname=x"], "sysctl 'kernel.hostname=x' is not allowed"),
    (["--security-opt", "seccomp=/nonexistent.json"], "opening seccomp profile (/nonexistent.json) failed"),
])
def test_bad_settings_are_refused_cleanly(daemon, args, words):
    before = daemon.api("GET", "/containers/json?all=1")[1]
    res = daemon.ketch("run", "--rm", *args, "busybox", "true")
    assert res.returncode == 125, res.stderr
    assert words in res.stderr
    assert daemon.api("GET", "/containers/json?all=1")[1] == before


def test_unknown_seccomp_syscall_is_refused_and_leaves_nothing(daemon, tmp_path):
    profile = tmp_path / "bad.json"
    profile.write_text('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdirr"],'
                       '"action":"SCMP_ACT_ERRNO"}]}')
    res = daemon.ketch("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox", "true")
    assert res.returncode == 125
    assert 'unknown seccomp syscall "mkdirr" in linux.seccomp.syscalls[0]' in res.stderr
    for sub in ("containers", "runtime"):
        path = os.path.join(daemon.exec_root, sub)
        running = {c["Id"] for c in daemon.api("GET", "/containers/json")[1]}
        entries = {e for e in (os.listdir(path) if os.path.isdir(path) else []) if not e.startswith(".")}
        assert entries - {"runc", "crun"} <= running
