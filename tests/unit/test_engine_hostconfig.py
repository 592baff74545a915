"""HostConfig -> OCI pieces: resources, capabilities, security options, ulimits, devices."""

import pytest

from ketch.engine import devices, hostconfig, resources, security
from ketch.engine.runtimes import build as build_runtimes
from ketch.errors import InvalidArgument

MB = 1024 * 1024


@pytest.mark.parametrize("hc, expected", [
    ({}, {"devices": []}),
    ({"Memory": 64 * MB}, {"devices": [], "memory": {"limit": 64 * MB, "swap": 128 * MB}}),
    # the default swap (twice the memory) stops at what the kernel holds, and stays an int64
    ({"Memory": 1 << 62}, {"devices": [], "memory": {"limit": 1 << 62, "swap": resources.MAX_MEMORY}}),
    ({"Memory": resources.MAX_MEMORY},
     {"devices": [], "memory": {"limit": resources.MAX_MEMORY, "swap": resources.MAX_MEMORY}}),
    ({"Memory": 64 * MB, "MemorySwap": -1}, {"devices": [], "memory": {"limit": 64 * MB, "swap": -1}}),
    ({"Memory": 64 * MB, "MemorySwap": 64 * MB}, {"devices": [], "memory": {"limit": 64 * MB, "swap": 64 * MB}}),
    ({"Memory": 64 * MB, "MemoryReservation": 32 * MB, "OomKillDisable": True},
     {"devices": [], "memory": {"limit": 64 * MB, "swap": 128 * MB, "reservation": 32 * MB,
                                "disableOOMKiller": True}}),
    ({"NanoCpus": 500_000_000}, {"devices": [], "cpu": {"period": 100000, "quota": 50000}}),
    ({"CpuShares": 512, "CpuPeriod": 50000, "CpuQuota": 25000},
     {"devices": [], "cpu": {"shares": 512, "quota": 25000, "period": 50000}}),
    ({"CpusetCpus": "0", "CpusetMems": "0"}, {"devices": [], "cpu": {"cpus": "0", "mems": "0"}}),
    ({"PidsLimit": 100}, {"devices": [], "pids": {"limit": 100}}),
    ({"PidsLimit": -1}, {"devices": [], "pids": {"limit": -1}}),
    ({"PidsLimit": 0}, {"devices": []}),
    ({"BlkioWeight": 300}, {"devices": [], "blockIO": {"weight": 300}}),
])
def test_resources(hc, expected):
    assert resources.build(hc, 2, []) == expected


@pytest.mark.parametrize("hc, message", [
    ({"Memory": 4 * MB}, "Minimum memory limit allowed is 6MB"),
    ({"Memory": -1}, "Minimum memory limit allowed is 6MB"),
    ({"Memory": resources.MAX_MEMORY + 1},
     f"Maximum memory limit allowed is {resources.MAX_MEMORY} bytes (the kernel's page counter maximum)"),
    ({"Memory": 2**63 - 1},
     f"Maximum memory limit allowed is {resources.MAX_MEMORY} bytes (the kernel's page counter maximum)"),
    ({"Memory": 64 * MB, "MemorySwap": 2**63 - 1},
     f"Maximum memoryswap limit allowed is {resources.MAX_MEMORY} bytes (the kernel's page counter maximum)"),
    ({"MemoryReservation": 2**63 - 1},
     f"Maximum memory reservation allowed is {resources.MAX_MEMORY} bytes (the kernel's page counter maximum)"),
    ({"MemorySwap": 64 * MB}, "You should always set the Memory limit when using Memoryswap limit, see usage"),
    ({"Memory": 64 * MB, "MemorySwap": 32 * MB}, "Minimum memoryswap limit should be larger than memory limit, see usage"),
    ({"NanoCpus": 5 * 10**9}, "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"),
    ({"NanoCpus": 10**9, "CpuPeriod": 10000}, "Conflicting options: Nano CPUs and CPU Period cannot both be set"),
    ({"CpuPeriod": 100}, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
    ({"CpuQuota": 100}, "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
    ({"BlkioWeight": 5}, "Range of blkio weight is from 10 to 1000"),
    ({"CpusetCpus": "0-3"}, "Requested CPUs are not available - requested 0-3, available: 0-1"),
    ({"MemorySwappiness": 200}, "Invalid value: 200, valid memory swappiness range is 0-100"),
    # moby's parsers.ParseUintList and sysinfo texts, word for word
    ({"CpusetCpus": "abc"}, "Invalid value abc for cpuset cpus: invalid format: abc"),
    ({"CpusetCpus": "1-0"}, "Invalid value 1-0 for cpuset cpus: invalid format: 1-0"),
    ({"CpusetCpus": "0,9000"}, "Invalid value 0,9000 for cpuset cpus: value of out range, maximum is 8192"),
    ({"CpusetMems": "x"}, "Invalid value x for cpuset mems: invalid format: x"),
    ({"CpusetMems": "0-63"}, "Requested memory nodes are not available - requested 0-63, available: "
                             + resources._online_nodes()),
])
def test_resource_errors(hc, message):
    with pytest.raises(InvalidArgument) as exc:
        resources.build(hc, 2, [])
    assert str(exc.value) == message


@pytest.mark.parametrize("add, drop, privileged, expected", [
    (None, None, False, list(security.DEFAULT_CAPABILITIES)),
    (["NET_ADMIN"], None, False, list(security.DEFAULT_CAPABILITIES) + ["CAP_NET_ADMIN"]),
    (["cap_sys_admin"], ["CHOWN"], False,
     [c for c in security.DEFAULT_CAPABILITIES if c != "CAP_CHOWN"] + ["CAP_SYS_ADMIN"]),
    (["NET_ADMIN"], ["ALL"], False, ["CAP_NET_ADMIN"]),
    (None, ["ALL"], False, []),
])
def test_capabilities(add, drop, privileged, expected):
    assert security.capabilities(add, drop, privileged) == expected


def test_capabilities_all_and_privileged():
    every = security.all_capabilities()
    assert security.capabilities(["ALL"], None, False) == every
    assert security.capabilities(["ALL"], ["SYS_ADMIN"], False) == [c for c in every if c != "CAP_SYS_ADMIN"]
    assert security.capabilities(None, ["ALL"], True) == every


def test_unknown_capability_is_dockers_error():
    with pytest.raises(InvalidArgument) as exc:
        security.capabilities(["FOO"], None, False)
    assert str(exc.value) == 'invalid CapAdd: unknown capability: "CAP_FOO"'


@pytest.mark.parametrize("opts, nnp, seccomp, unconfined", [
    ([], False, "default", False),
    (["no-new-privileges"], True, "default", False),
    (["no-new-privileges=false"], False, "default", False),
    (["seccomp=unconfined"], False, "unconfined", False),
    (["seccomp:unconfined"], False, "unconfined", False),
    (['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'], False, {"defaultAction": "SCMP_ACT_ALLOW"}, False),
    (["systempaths=unconfined", "apparmor=unconfined", "label=disable"], False, "default", True),
])
def test_security_options(opts, nnp, seccomp, unconfined):
    got = security.security_options(opts)
    assert (got.no_new_privileges, got.seccomp, got.unconfined_paths) == (nnp, seccomp, unconfined)


DENY_MKDIR = ('seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],'
              '"action":"SCMP_ACT_ERRNO","errnoRet":1}]}')


@pytest.mark.parametrize("hc, loaded", [
    ({}, "default"),
    ({"SecurityOpt": ["seccomp=unconfined"]}, None),
    ({"Privileged": True}, None),  # privileged drops the default profile...
    ({"Privileged": True, "SecurityOpt": [DENY_MKDIR]}, "explicit"),  # ...not one named (Docker 26+)
    ({"Privileged": True, "SecurityOpt": ["seccomp=unconfined"]}, None),
    ({"SecurityOpt": [DENY_MKDIR]}, "explicit"),
])
def test_seccomp_profile_loaded(hc, loaded):
    doc = hostconfig.spec_fields(hc, "c" * 64, cgroup_v2=False, init_path=None)["seccomp"]
    if loaded is None:
        assert doc is None
    elif loaded == "default":
        assert doc["defaultAction"] == "SCMP_ACT_ERRNO" and len(doc["syscalls"]) > 10
    else:
        assert doc["defaultAction"] == "SCMP_ACT_ALLOW"
        assert [(c["names"], c["action"], c.get("errnoRet")) for c in doc["syscalls"]] == \
            [(["mkdir", "mkdirat"], "SCMP_ACT_ERRNO", 1)]


@pytest.mark.parametrize("opts", [["foo"], ["no-new-privileges=maybe"], ["seccomp={bad json"]])
def test_bad_security_options(opts):
    with pytest.raises(InvalidArgument):
        security.security_options(opts)


def test_sysctls_must_be_namespaced():
    security.check_sysctls({"net.core.somaxconn": "1000", "kernel.shmmax": "1", "fs.mqueue.msg_max": "5"})
    with pytest.raises(InvalidArgument, match="kernel.hostname"):
        security.check_sysctls({"kernel.hostname": "x"})
    with pytest.raises(InvalidArgument, match="vm.swappiness"):
        security.check_sysctls({"vm.swappiness": "1"})


def test_ulimits():
    assert hostconfig.rlimits([{"Name": "nofile", "Soft": 1000, "Hard": 2000}]) == [
        {"type": "RLIMIT_NOFILE", "hard": 2000, "soft": 1000}]
    with pytest.raises(InvalidArgument, match="invalid ulimit type: nope"):
        hostconfig.rlimits([{"Name": "nope", "Soft": 1, "Hard": 1}])
    with pytest.raises(InvalidArgument, match="soft limit must be less than or equal to hard limit: 5 > 1"):
        hostconfig.rlimits([{"Name": "nproc", "Soft": 5, "Hard": 1}])


def test_devices_from_the_host():
    devs, rules = devices.resolve([{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mynull",
                                    "CgroupPermissions": "rw"}])
    assert devs[0]["path"] == "/dev/mynull" and (devs[0]["type"], devs[0]["major"], devs[0]["minor"]) == ("c", 1, 3)
    assert rules == [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}]
    with pytest.raises(InvalidArgument) as exc:
        devices.resolve([{"PathOnHost": "/dev/nosuch"}])
    assert str(exc.value) == ('error gathering device information while adding custom device '
                              '"/dev/nosuch": no such file or directory')
    assert any(d["path"] == "/dev/null" for d in devices.host_devices())
    assert not any(d["path"] in ("/dev/console", "/dev/ptmx") for d in devices.host_devices())


def test_validate_rejects_at_create():
    with pytest.raises(InvalidArgument):
        hostconfig.validate({"OomScoreAdj": 5000}, 2)
    hostconfig.validate({"Memory": 64 * MB, "CapAdd": ["NET_ADMIN"], "Ulimits": []}, 2)


@pytest.mark.parametrize("hc, message", [
    ({"Isolation": "hyperv"}, "Invalid isolation: \"hyperv\" - linux only supports 'default'"),
    ({"IOMaximumBandwidth": 5}, "Invalid QoS settings: linux does not support configuration of maximum bandwidth"),
    ({"IOMaximumIOps": 5}, "Invalid QoS settings: linux does not support configuration of maximum IOPs"),
])
def test_validate_has_runconfigs_checks(hc, message):
    with pytest.raises(InvalidArgument) as exc:
        hostconfig.validate(hc, 2)
    assert str(exc.value) == message
    hostconfig.validate({"Isolation": "default", "CpusetCpus": "0,1", "CpusetMems": "0"}, 2)


def test_runtime_table():
    rt = build_runtimes({"mine": {"path": "/bin/true", "runtimeArgs": ["--x"]}}, ["other=/bin/false"], None)
    assert rt.resolve(None) == "ketch" and rt.spec("mine")["args"] == ["--x"]
    assert rt.spec("other")["path"] == "/bin/false"
    with pytest.raises(InvalidArgument, match="unknown or invalid runtime name: nope"):
        rt.resolve("nope")
