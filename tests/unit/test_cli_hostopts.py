"""run/create flags for privileges and limits -> HostConfig, with docker/cli's parsing errors."""

import json

import pytest

from ketch.cli import runconfig
from ketch.cli.flags import UsageError, parse


def _hc(*argv):
    opts, rest = parse(runconfig.RUN, [*argv, "busybox"])
    return runconfig.build(opts, rest, detach=False)["HostConfig"]


def test_limits_and_privileges():
    hc = _hc("-m", "64m", "--memory-swap", "-1", "--cpus", "0.5", "-c", "512", "--pids-limit", "50",
             "--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--privileged", "--init",
             "--ulimit", "nofile=100:200", "--sysctl", "net.core.somaxconn=1024",
             "--oom-score-adj", "100", "--device", "/dev/null:/dev/n2:rw", "--security-opt", "no-new-privileges",
             "--cgroupns", "private", "--blkio-weight", "300")
    assert hc["Memory"] == 64 * 1024 * 1024 and hc["MemorySwap"] == -1
    assert hc["NanoCpus"] == 500_000_000 and hc["CpuShares"] == 512 and hc["PidsLimit"] == 50
    assert hc["CapAdd"] == ["NET_ADMIN"] and hc["CapDrop"] == ["ALL"] and hc["Privileged"] and hc["Init"]
    assert hc["Ulimits"] == [{"Name": "nofile", "Hard": 200, "Soft": 100}]
    assert hc["Sysctls"] == {"net.core.somaxconn": "1024"} and hc["OomScoreAdj"] == 100
    assert hc["Devices"] == [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/n2", "CgroupPermissions": "rw"}]
    assert hc["SecurityOpt"] == ["no-new-privileges"] and hc["CgroupnsMode"] == "private"
    assert hc["BlkioWeight"] == 300


def test_seccomp_profile_file_is_sent_inline(tmp_path):
    profile = tmp_path / "p.json"
    profile.write_text('{\n  "defaultAction": "SCMP_ACT_ALLOW"\n}\n')
    hc = _hc("--security-opt", f"seccomp={profile}")
    key, _, value = hc["SecurityOpt"][0].partition("=")
    assert key == "seccomp" and json.loads(value) == {"defaultAction": "SCMP_ACT_ALLOW"}


@pytest.mark.parametrize("argv, message", [
    (["--sysctl", "kernel.foo=1"], 'invalid argument "kernel.foo=1" for "--sysctl" flag: sysctl \'kernel.foo=1\' is not allowed'),
    (["--ulimit", "nofile=a"], 'invalid argument "nofile=a" for "--ulimit" flag: strconv.ParseInt: parsing "a": invalid syntax'),
    (["--ulimit", "bogus=1"], 'invalid argument "bogus=1" for "--ulimit" flag: invalid ulimit type: bogus'),
])
def test_flag_errors(argv, message):
    with pytest.raises(UsageError) as exc:
        parse(runconfig.RUN, [*argv, "busybox"])
    assert exc.value.message == message


def test_bad_security_opt():
    opts, rest = parse(runconfig.RUN, ["--security-opt", "foo", "busybox"])
    with pytest.raises(runconfig.ConfigError, match='Invalid --security-opt: "foo"'):
        runconfig.build(opts, rest, detach=False)
