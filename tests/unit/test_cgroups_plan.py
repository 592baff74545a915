"""ketch.runtime.cgroups.plan: OCI linux.resources -> {file: value}, as pure data.

The goldens ``tests/golden/cgroups_<case>_<version>.txt`` are ``render(plan)``: one
write a line, in order. DOCKER is the ``linux.resources`` dockerd 28 wrote for
``docker run -m 16m --memory-swap 32m --memory-reservation 8m --pids-limit 10 --cpus 0.5
--cpu-shares 512 --cpuset-cpus 0 --blkio-weight 300 --device-read-bps /dev/vda:1mb``
on this suite's v1 host; runc then held memory.limit_in_bytes 16777216,
memsw 33554432, soft limit 8388608, cfs_quota_us 50000, cfs_period_us 100000,
shares 512, pids.max 10, cpuset.cpus 0, throttle.read_bps_device "254:0 1048576",
which the v1 golden matches. Set KETCH_UPDATE_GOLDEN=1 to rewrite the goldens.
"""

import os
import pathlib

import pytest

from ketch.errors import InvalidArgument
from ketch.runtime.cgroups import plan
from ketch.runtime.cgroups.plan import FALLBACKS, controllers_v2, render
from ketch.runtime.cgroups.resources import blkio_to_io_weight, shares_to_weight

GOLDEN = pathlib.Path(__file__).parent.parent / "golden"

DOCKER = {
    "devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
        {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
        {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
        {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
    ],
    "memory": {"limit": 16777216, "reservation": 8388608, "swap": 33554432, "disableOOMKiller": False},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
    "pids": {"limit": 10},
    "blockIO": {"weight": 0, "throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}]},
}

FULL = {
    "devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "access": "m"},
        {"allow": True, "type": "b", "access": "m"},
        {"allow": True, "type": "c", "major": 136, "access": "rwm"},
        {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rw"},
        {"allow": True, "type": "c", "major": 1, "minor": 3},
    ],
    "memory": {"limit": 536870912, "reservation": 268435456, "swap": 1073741824, "kernel": -1,
               "kernelTCP": 1048576, "swappiness": 10, "disableOOMKiller": True},
    "cpu": {"shares": 1024, "quota": 200000, "burst": 100000, "period": 100000, "cpus": "0-3,7",
            "mems": "0", "idle": 0},
    "pids": {"limit": 100},
    "blockIO": {"weight": 500, "leafWeight": 300,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 600}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 700}],
                "throttleReadIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 400}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
    "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
}


@pytest.mark.parametrize("case,resources", [("docker", DOCKER), ("full", FULL)])
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_golden(case, resources, version):
    got = render(plan(resources, version))
    path = GOLDEN / f"cgroups_{case}_{version}.txt"
    if os.environ.get("KETCH_UPDATE_GOLDEN"):
        path.write_text(got)
    assert got == path.read_text()


def test_plan_is_pure_and_ordered():
    first = plan(FULL, "v1")
    assert plan(FULL, "v1") == first
    keys = list(first)
    assert keys.index("cpuset/cpuset.cpus") == 0  # v1 refuses tasks before cpuset is set
    assert keys.index("cpu/cpu.cfs_period_us") < keys.index("cpu/cpu.cfs_quota_us")
    assert keys.index("memory/memory.limit_in_bytes") < keys.index("memory/memory.memsw.limit_in_bytes")
    assert keys.index("devices/devices.deny") < keys.index("devices/devices.allow")


@pytest.mark.parametrize("resources,v1,v2", [
    ({}, {}, {}),
    (None, {}, {}),
    # 0 is "not set" (runc's Go zero value); -1 is unlimited.
    ({"memory": {"limit": 0}, "cpu": {"shares": 0, "quota": 0}}, {}, {}),
    ({"memory": {"limit": -1}},
     {"memory/memory.limit_in_bytes": "-1", "memory/memory.memsw.limit_in_bytes": "-1"},
     {"memory.swap.max": "max", "memory.max": "max"}),
    # swap equal to the limit: no swap at all.
    ({"memory": {"limit": 16777216, "swap": 16777216}},
     {"memory/memory.limit_in_bytes": "16777216", "memory/memory.memsw.limit_in_bytes": "16777216"},
     {"memory.swap.max": "0", "memory.max": "16777216"}),
    ({"memory": {"limit": 16777216, "swap": -1}},
     {"memory/memory.limit_in_bytes": "16777216", "memory/memory.memsw.limit_in_bytes": "-1"},
     {"memory.swap.max": "max", "memory.max": "16777216"}),
    ({"memory": {"limit": 16777216}}, {"memory/memory.limit_in_bytes": "16777216"}, {"memory.max": "16777216"}),
    # v2 has no oom_control, swappiness or kernel TCP: ignored, as runc does.
    ({"memory": {"disableOOMKiller": True, "swappiness": 0, "kernelTCP": 4096}},
     {"memory/memory.kmem.tcp.limit_in_bytes": "4096", "memory/memory.swappiness": "0",
      "memory/memory.oom_control": "1"}, {}),
    ({"memory": {"disableOOMKiller": False}}, {}, {}),
    ({"pids": {"limit": 0}}, {"pids/pids.max": "max"}, {"pids.max": "max"}),
    ({"pids": {"limit": -1}}, {"pids/pids.max": "max"}, {"pids.max": "max"}),
    ({"pids": {"limit": 1}}, {"pids/pids.max": "1"}, {"pids.max": "1"}),
    ({"cpu": {"quota": -1, "period": 100000}},
     {"cpu/cpu.cfs_period_us": "100000", "cpu/cpu.cfs_quota_us": "-1"}, {"cpu.max": "max 100000"}),
    ({"cpu": {"quota": 50000}}, {"cpu/cpu.cfs_quota_us": "50000"}, {"cpu.max": "50000"}),
    ({"cpu": {"shares": 2}}, {"cpu/cpu.shares": "2"}, {"cpu.weight": "1"}),
    ({"cpu": {"shares": 262144}}, {"cpu/cpu.shares": "262144"}, {"cpu.weight": "10000"}),
    ({"blockIO": {"weight": 10}}, {"blkio/blkio.weight": "10"}, {"io.bfq.weight": "10"}),
    ({"network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]}},
     {"net_cls/net_cls.classid": "1048577", "net_prio/net_prio.ifpriomap": "eth0 500"}, {}),
    # the devices list is applied only when there is one
    ({"devices": []}, {}, {}),
    ({"devices": [{"allow": True, "access": "rwm"}]}, {"devices/devices.allow": "a"},
     {"devices": "allow a *:* rwm"}),
])
def test_plan_table(resources, v1, v2):
    assert plan(resources, "v1") == v1
    assert plan(resources, "v2") == v2


def test_unified_is_written_last_and_wins():
    got = plan({"memory": {"limit": 1000}, "unified": {"memory.max": "2000", "io.max": "8:0 rbps=1"}}, "v2")
    assert list(got.items()) == [("memory.max", "2000"), ("io.max", "8:0 rbps=1")]


@pytest.mark.parametrize("resources,field", [
    ({"memory": {"limit": "1g"}}, "linux.resources.memory.limit"),
    ({"memory": {"limit": -2}}, "linux.resources.memory.limit"),
    ({"memory": {"limit": True}}, "linux.resources.memory.limit"),
    ({"memory": {"limit": 2000, "swap": 1000}}, "linux.resources.memory.swap"),
    ({"memory": {"swappiness": 101}}, "linux.resources.memory.swappiness"),
    ({"memory": {"disableOOMKiller": "yes"}}, "linux.resources.memory.disableOOMKiller"),
    ({"memory": {"limitt": 1}}, "linux.resources.memory.limitt"),
    ({"memory": []}, "linux.resources.memory"),
    ({"cpu": {"cpus": "0-3,x"}}, "linux.resources.cpu.cpus"),
    ({"cpu": {"quota": 1000, "burst": 2000}}, "linux.resources.cpu.burst"),
    ({"cpu": {"idle": 2}}, "linux.resources.cpu.idle"),
    ({"blockIO": {"weight": 5}}, "linux.resources.blockIO.weight"),
    ({"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 2000}]}},
     "linux.resources.blockIO.weightDevice[0].weight"),
    ({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "rate": -1}]}},
     "linux.resources.blockIO.throttleReadBpsDevice[0].rate"),
    ({"hugepageLimits": [{"pageSize": "2M", "limit": 1}]}, "linux.resources.hugepageLimits[0].pageSize"),
    ({"rdma": {"mlx": {}}}, "linux.resources.rdma.mlx"),
    ({"unified": {"../memory.max": "1"}}, "linux.resources.unified"),
    ({"pids": {"limit": 1.5}}, "linux.resources.pids.limit"),
    ({"devices": [{"allow": "no"}]}, "linux.resources.devices[0].allow"),
    ({"devices": [{"allow": True, "type": "x"}]}, "linux.resources.devices[0].type"),
    ({"devices": [{"allow": True, "access": "rwx"}]}, "linux.resources.devices[0].access"),
    ({"devices": [{"allow": True, "major": -2}]}, "linux.resources.devices[0].major"),
    ({"bogus": {}}, "linux.resources.bogus"),
])
def test_invalid_values_name_the_field(resources, field):
    for version in ("v1", "v2"):
        with pytest.raises(InvalidArgument) as e:
            plan(resources, version)
        assert field in str(e.value)


def test_version_specific_refusals():
    with pytest.raises(InvalidArgument, match="linux.resources.unified"):
        plan({"unified": {"memory.max": "1"}}, "v1")
    with pytest.raises(InvalidArgument, match="linux.resources.cpu.realtimeRuntime"):
        plan({"cpu": {"realtimeRuntime": 950000, "realtimePeriod": 1000000}}, "v2")
    with pytest.raises(InvalidArgument, match="swap limit needs a memory limit"):
        plan({"memory": {"swap": 1000}}, "v2")
    with pytest.raises(InvalidArgument, match="cgroup version"):
        plan({}, "v3")


def test_runc_conversions():
    assert [shares_to_weight(s) for s in (2, 512, 1024, 262144, 1, 10**9)] == [1, 20, 39, 10000, 1, 10000]
    assert [blkio_to_io_weight(w) for w in (10, 100, 500, 1000)] == [1, 910, 4950, 10000]
    fallback, convert = FALLBACKS["io.bfq.weight"]
    assert fallback == "io.weight"
    assert convert("500\n8:0 600") == "4950\n8:0 5960"
    assert FALLBACKS["blkio/blkio.weight"][0] == "blkio/blkio.bfq.weight"


def test_controllers_v2():
    assert controllers_v2(plan(FULL, "v2")) == ["cpuset", "memory", "cpu", "pids", "io", "hugetlb", "rdma"]
    assert controllers_v2({"devices": "deny a *:* rwm", "cgroup.freeze": "1"}) == []
