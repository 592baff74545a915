"""The cgroup managers against a temporary directory standing in for cgroupfs (youki's trick).

cgroupfs is only files, so apply, stats parsing, fallbacks and error messages are
checked here without a kernel. What the fake cannot do (a kernel that populates new
directories, refuses values, moves processes) is in tests/integration/test_cgroups.py.
A fake file records only the last write of a multi-line value.
"""

import os

import pytest

from ketch.errors import Internal, InvalidArgument
from ketch.runtime import cgroups
from ketch.runtime.cgroups import V1Manager, V2Manager, fs
from ketch.runtime.cgroups.stats import BlkioEntry
from ketch.runtime.cgroups.v1 import order_memory

V1_FILES = {
    "cpuset": ["cpuset.cpus", "cpuset.mems"],
    "cpu,cpuacct": ["cpu.shares", "cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.stat",
                    "cpuacct.usage", "cpuacct.usage_percpu", "cpuacct.stat"],
    "memory": ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
               "memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt", "memory.stat",
               "memory.oom_control", "memory.swappiness"],
    "devices": ["devices.allow", "devices.deny"],
    "freezer": ["freezer.state"],
    "blkio": ["blkio.bfq.weight", "blkio.throttle.read_bps_device",
              "blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive"],
    "pids": ["pids.max", "pids.current"],
    "systemd": [],
}


def put(path, text=""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def get(path):
    with open(path) as f:
        return f.read()


@pytest.fixture
def v1root(tmp_path):
    """A hybrid host: v1 hierarchies (cpu,cpuacct co-mounted, with symlinks) and unified."""
    root = str(tmp_path / "cgroup")
    for hierarchy in V1_FILES:
        put(f"{root}/{hierarchy}/cgroup.procs")
    put(f"{root}/cpuset/cpuset.cpus", "0-3\n")
    put(f"{root}/cpuset/cpuset.mems", "0\n")
    os.symlink("cpu,cpuacct", f"{root}/cpu")
    os.symlink("cpu,cpuacct", f"{root}/cpuacct")
    put(f"{root}/unified/cgroup.controllers")
    put(f"{root}/unified/cgroup.procs")
    return root


def v1leaf(root, path="/ketch/c1"):
    """What the kernel would create for a new cgroup."""
    for hierarchy, files in V1_FILES.items():
        put(f"{root}/{hierarchy}{path}/cgroup.procs")
        for name in files:
            put(f"{root}/{hierarchy}{path}/{name}")
    put(f"{root}/unified{path}/cgroup.procs")


@pytest.fixture
def v2root(tmp_path):
    root = str(tmp_path / "cgroup2")
    for d in ("", "/ketch"):
        put(f"{root}{d}/cgroup.controllers", "cpuset cpu io memory pids\n")
        put(f"{root}{d}/cgroup.subtree_control")
    for name in ("cgroup.procs", "cgroup.controllers", "cgroup.freeze", "cgroup.events", "memory.max",
                 "memory.swap.max", "memory.low", "memory.current", "memory.stat", "memory.events",
                 "cpu.weight", "cpu.max", "cpu.stat", "pids.max", "pids.current", "io.weight",
                 "io.max", "io.stat", "cpuset.cpus"):
        put(f"{root}/ketch/c1/{name}")
    return root


def test_detect_and_manager(v1root, v2root):
    assert cgroups.detect(v1root) == "v1"
    assert cgroups.detect(v2root) == "v2"
    assert isinstance(cgroups.manager("/ketch/c1", v1root), V1Manager)
    assert isinstance(cgroups.manager("/ketch/c1", v2root), V2Manager)


def test_v1_hierarchies(v1root):
    m = V1Manager("/ketch/c1", v1root)
    assert m.controllers()["cpu"] == m.controllers()["cpuacct"] == f"{v1root}/cpu,cpuacct"
    assert m.dirs() == [f"{v1root}/{h}/ketch/c1" for h in ("blkio", "cpu,cpuacct", "cpuset", "devices",
                                                          "freezer", "memory", "pids", "systemd", "unified")]


@pytest.mark.parametrize("path,clean", [("/ketch/c1", "/ketch/c1"), ("ketch/c1", "/ketch/c1"),
                                        ("//ketch/./c1/", "/ketch/c1")])
def test_clean_path(path, clean):
    assert fs.clean_path(path) == clean


@pytest.mark.parametrize("path", ["", "/", "/./", "/ketch/../etc", None])
def test_clean_path_refuses(path):
    with pytest.raises(InvalidArgument, match="linux.cgroupsPath"):
        fs.clean_path(path)


def test_v1_create_inherits_cpuset_and_destroy_removes_what_it_made(v1root):
    # The kernel gives a new cpuset cgroup empty cpus and mems.
    for d in ("/ketch", "/ketch/c1"):
        put(f"{v1root}/cpuset{d}/cpuset.cpus", "\n")
        put(f"{v1root}/cpuset{d}/cpuset.mems", "\n")
    m = V1Manager("/ketch/c1", v1root)
    m.create()
    assert get(f"{v1root}/cpuset/ketch/cpuset.cpus") == "0-3"
    assert get(f"{v1root}/cpuset/ketch/c1/cpuset.mems") == "0"
    assert os.path.isdir(f"{v1root}/memory/ketch/c1") and os.path.isdir(f"{v1root}/unified/ketch/c1")
    for d in ("/ketch/c1", "/ketch"):  # the fake's files would keep rmdir from working
        for name in ("cpuset.cpus", "cpuset.mems"):
            os.unlink(f"{v1root}/cpuset{d}/{name}")
    m.destroy()
    m.destroy()
    for h in os.listdir(v1root):
        assert not os.path.exists(f"{v1root}/{h}/ketch/c1")
        # only the parents this manager made go
        assert os.path.exists(f"{v1root}/{h}/ketch") == (h == "cpuset")


def test_v1_create_undoes_itself_on_failure(v1root):
    # no cpuset files in the new directories: the copy fails with ENOENT
    with pytest.raises(Internal, match="cannot create cgroup /ketch/c1"):
        V1Manager("/ketch/c1", v1root).create()
    for h in os.listdir(v1root):
        assert not os.path.exists(f"{v1root}/{h}/ketch")


def test_v1_apply(v1root):
    v1leaf(v1root)
    m = V1Manager("/ketch/c1", v1root)
    m.apply({"memory": {"limit": 16777216, "swap": 16777216, "reservation": 8388608},
             "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "1"},
             "pids": {"limit": 10}, "blockIO": {"weight": 300},
             "devices": [{"allow": False, "access": "rwm"},
                         {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]})
    leaf = "ketch/c1"
    assert get(f"{v1root}/memory/{leaf}/memory.limit_in_bytes") == "16777216"
    assert get(f"{v1root}/memory/{leaf}/memory.memsw.limit_in_bytes") == "16777216"
    assert get(f"{v1root}/memory/{leaf}/memory.soft_limit_in_bytes") == "8388608"
    assert get(f"{v1root}/cpu/{leaf}/cpu.cfs_quota_us") == "50000"
    assert get(f"{v1root}/cpuacct/{leaf}/cpu.shares") == "512"
    assert get(f"{v1root}/cpuset/{leaf}/cpuset.cpus") == "1"
    assert get(f"{v1root}/pids/{leaf}/pids.max") == "10"
    assert get(f"{v1root}/blkio/{leaf}/blkio.bfq.weight") == "300"  # no blkio.weight: BFQ's
    assert get(f"{v1root}/devices/{leaf}/devices.deny") == "a"
    assert get(f"{v1root}/devices/{leaf}/devices.allow") == "c 1:3 rwm"


def test_v1_apply_errors_name_file_and_value(v1root):
    v1leaf(v1root)
    m = V1Manager("/ketch/c1", v1root)
    limit = f"{v1root}/memory/ketch/c1/memory.limit_in_bytes"
    os.unlink(limit)
    os.mkdir(limit)  # a write that fails, as the kernel's EBUSY would
    with pytest.raises(InvalidArgument) as e:
        m.apply({"memory": {"limit": 4096}})
    assert str(e.value) == f"cannot set memory limit 4096: write {limit}: is a directory"
    with pytest.raises(InvalidArgument, match="^cannot set hugetlb.2MB.limit_in_bytes 0: the hugetlb "
                       "cgroup controller is not mounted under "):
        m.apply({"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]})
    with pytest.raises(InvalidArgument, match="cannot set pids limit 5: write .*pids.max: no such file"):
        V1Manager("/ketch/c2", v1root).apply({"pids": {"limit": 5}})


def test_v1_swap_without_swap_accounting(v1root):
    v1leaf(v1root)
    os.unlink(f"{v1root}/memory/ketch/c1/memory.memsw.limit_in_bytes")
    m = V1Manager("/ketch/c1", v1root)
    m.apply({"memory": {"limit": -1}})  # memsw -1 follows from limit -1: nothing to do
    assert get(f"{v1root}/memory/ketch/c1/memory.limit_in_bytes") == "-1"
    with pytest.raises(InvalidArgument, match="swapaccount=1"):
        m.apply({"memory": {"limit": 1000, "swap": 2000}})


def test_v1_memory_order():
    plan = {"cpuset/cpuset.cpus": "0", "memory/memory.limit_in_bytes": "200",
            "memory/memory.memsw.limit_in_bytes": "400", "pids/pids.max": "1"}
    assert list(order_memory(plan, None)) == list(plan)          # unlimited now: lower the limit first
    assert list(order_memory(plan, 400)) == list(plan)
    raised = list(order_memory(plan, 100))                       # raising: memsw first
    assert raised == ["cpuset/cpuset.cpus", "memory/memory.memsw.limit_in_bytes",
                      "memory/memory.limit_in_bytes", "pids/pids.max"]
    assert list(order_memory({**plan, "memory/memory.memsw.limit_in_bytes": "-1"}, None)) == raised


def test_v1_update_raising_memory_writes_memsw_first(v1root):
    v1leaf(v1root)
    leaf = f"{v1root}/memory/ketch/c1"
    put(f"{leaf}/memory.limit_in_bytes", "16777216\n")
    os.unlink(f"{leaf}/memory.memsw.limit_in_bytes")
    os.mkdir(f"{leaf}/memory.memsw.limit_in_bytes")  # fails: proves which was written first
    with pytest.raises(InvalidArgument, match="memory\\+swap limit 67108864"):
        V1Manager("/ketch/c1", v1root).update({"memory": {"limit": 33554432, "swap": 67108864}})
    assert get(f"{leaf}/memory.limit_in_bytes") == "16777216\n"


def test_v1_stats_and_oom(v1root):
    v1leaf(v1root)
    leaf = "ketch/c1"
    put(f"{v1root}/cpuacct/{leaf}/cpuacct.usage", "3000000000\n")
    put(f"{v1root}/cpuacct/{leaf}/cpuacct.usage_percpu", "1000000000 2000000000 \n")
    put(f"{v1root}/cpuacct/{leaf}/cpuacct.stat", "user 150\nsystem 50\n")
    put(f"{v1root}/cpu/{leaf}/cpu.stat", "nr_periods 10\nnr_throttled 3\nthrottled_time 123456\n")
    put(f"{v1root}/memory/{leaf}/memory.usage_in_bytes", "1048576\n")
    put(f"{v1root}/memory/{leaf}/memory.max_usage_in_bytes", "2097152\n")
    put(f"{v1root}/memory/{leaf}/memory.limit_in_bytes", "9223372036854771712\n")
    put(f"{v1root}/memory/{leaf}/memory.stat", "cache 4096\nrss 8192\ntotal_inactive_file 4096\n")
    put(f"{v1root}/memory/{leaf}/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    put(f"{v1root}/pids/{leaf}/pids.current", "3\n")
    put(f"{v1root}/pids/{leaf}/pids.max", "max\n")
    put(f"{v1root}/blkio/{leaf}/blkio.throttle.io_service_bytes_recursive",
        "8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n")
    put(f"{v1root}/blkio/{leaf}/blkio.throttle.io_serviced_recursive", "8:0 Read 1\n8:0 Write 2\n")
    s = V1Manager("/ketch/c1", v1root).stats()
    tick = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    assert (s.cpu.total_ns, s.cpu.user_ns, s.cpu.system_ns) == (3000000000, 150 * tick, 50 * tick)
    assert s.cpu.per_cpu_ns == (1000000000, 2000000000)
    assert (s.cpu.periods, s.cpu.throttled_periods, s.cpu.throttled_time_ns) == (10, 3, 123456)
    assert (s.memory.usage, s.memory.max_usage, s.memory.limit) == (1048576, 2097152, None)
    assert s.memory.stats == {"cache": 4096, "rss": 8192, "total_inactive_file": 4096}
    assert (s.pids.current, s.pids.limit) == (3, None)
    assert s.blkio.io_service_bytes == (BlkioEntry(8, 0, "Read", 4096), BlkioEntry(8, 0, "Write", 8192),
                                        BlkioEntry(8, 0, "Total", 12288))
    assert s.blkio.io_serviced[1] == BlkioEntry(8, 0, "Write", 2)
    assert s.oom_kill == 2
    assert V1Manager("/ketch/c1", v1root).oom_killed()
    put(f"{v1root}/memory/{leaf}/memory.oom_control", "oom_kill_disable 1\nunder_oom 1\noom_kill 0\n")
    assert V1Manager("/ketch/c1", v1root).oom_killed()
    put(f"{v1root}/memory/{leaf}/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    assert not V1Manager("/ketch/c1", v1root).oom_killed()


def test_v1_stats_prefers_usage_user_and_sys(v1root):
    v1leaf(v1root)
    put(f"{v1root}/cpuacct/ketch/c1/cpuacct.usage_user", "700\n")
    put(f"{v1root}/cpuacct/ketch/c1/cpuacct.usage_sys", "300\n")
    s = V1Manager("/ketch/c1", v1root).stats()
    assert (s.cpu.user_ns, s.cpu.system_ns) == (700, 300)


def test_v1_pids_are_the_union_of_every_hierarchy_and_below(v1root):
    v1leaf(v1root)
    put(f"{v1root}/memory/ketch/c1/cgroup.procs", "12\n7\n")
    put(f"{v1root}/pids/ketch/c1/cgroup.procs", "7\n")
    put(f"{v1root}/pids/ketch/c1/nested/cgroup.procs", "30\n")
    assert V1Manager("/ketch/c1", v1root).pids() == [7, 12, 30]


def test_v1_add_and_freeze(v1root):
    v1leaf(v1root)
    m = V1Manager("/ketch/c1", v1root)
    m.add(4242)
    for d in m.dirs():
        assert get(f"{d}/cgroup.procs") == "4242"
    m.freeze()
    assert get(f"{v1root}/freezer/ketch/c1/freezer.state") == "FROZEN"
    m.thaw()
    assert get(f"{v1root}/freezer/ketch/c1/freezer.state") == "THAWED"


def test_v2_apply_enables_controllers_top_down(v2root):
    m = V2Manager("/ketch/c1", v2root)
    m.apply({"memory": {"limit": 16777216, "swap": 33554432, "disableOOMKiller": True},
             "cpu": {"shares": 1024, "quota": 50000, "period": 100000},
             "pids": {"limit": 0}, "blockIO": {"weight": 500}})
    leaf = f"{v2root}/ketch/c1"
    assert get(f"{leaf}/memory.max") == "16777216"
    assert get(f"{leaf}/memory.swap.max") == "16777216"
    assert get(f"{leaf}/cpu.weight") == "39"
    assert get(f"{leaf}/cpu.max") == "50000 100000"
    assert get(f"{leaf}/pids.max") == "max"
    assert get(f"{leaf}/io.weight") == "4950"  # no io.bfq.weight: io.weight, rescaled
    # the fake records the last "+controller" written to each ancestor
    assert get(f"{v2root}/cgroup.subtree_control") == "+io"
    assert get(f"{v2root}/ketch/cgroup.subtree_control") == "+io"


def test_v2_apply_refuses_a_controller_the_host_lacks(v2root):
    with pytest.raises(InvalidArgument, match="^cannot set hugetlb.2MB.max 0: the hugetlb cgroup "
                       "controller is not available: cgroup .* does not offer it$"):
        V2Manager("/ketch/c1", v2root).apply({"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]})


def test_v2_check_before_update(v2root):
    put(f"{v2root}/ketch/c1/memory.current", "5000\n")
    m = V2Manager("/ketch/c1", v2root)
    with pytest.raises(InvalidArgument, match="current usage 5000 is higher"):
        m.update({"memory": {"limit": 4096, "checkBeforeUpdate": True}})
    m.update({"memory": {"limit": 4096}})
    assert get(f"{v2root}/ketch/c1/memory.max") == "4096"


def test_v2_create_and_destroy(v2root):
    m = V2Manager("/ketch/c2/inner", v2root)
    m.create()
    assert os.path.isdir(f"{v2root}/ketch/c2/inner")
    # create enabled the stats controllers wherever offered
    assert get(f"{v2root}/ketch/cgroup.subtree_control") == "+pids"
    m.destroy()
    m.destroy()
    assert not os.path.exists(f"{v2root}/ketch/c2")
    assert os.path.isdir(f"{v2root}/ketch")  # not ours


def test_v2_stats_and_oom(v2root):
    leaf = f"{v2root}/ketch/c1"
    put(f"{leaf}/cpu.stat", "usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\nnr_periods 5\n"
        "nr_throttled 1\nthrottled_usec 700\n")
    put(f"{leaf}/memory.current", "1048576\n")
    put(f"{leaf}/memory.max", "max\n")
    put(f"{leaf}/memory.stat", "anon 4096\nfile 8192\ninactive_file 4096\n")
    put(f"{leaf}/memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n")
    put(f"{leaf}/pids.current", "2\n")
    put(f"{leaf}/pids.max", "20\n")
    put(f"{leaf}/io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n")
    m = V2Manager("/ketch/c1", v2root)
    s = m.stats()
    assert (s.cpu.total_ns, s.cpu.user_ns, s.cpu.system_ns) == (3000000, 2000000, 1000000)
    assert (s.cpu.periods, s.cpu.throttled_periods, s.cpu.throttled_time_ns) == (5, 1, 700000)
    assert (s.memory.usage, s.memory.limit, s.memory.failcnt) == (1048576, None, 4)
    assert s.memory.stats["inactive_file"] == 4096
    assert (s.pids.current, s.pids.limit) == (2, 20)
    assert s.blkio.io_service_bytes == (BlkioEntry(8, 0, "Read", 4096), BlkioEntry(8, 0, "Write", 8192))
    assert s.blkio.io_serviced == (BlkioEntry(8, 0, "Read", 1), BlkioEntry(8, 0, "Write", 2))
    assert s.oom_kill == 1 and m.oom_killed()
    put(f"{leaf}/memory.events", "oom 0\noom_kill 0\n")
    assert not m.oom_killed()


def test_v2_freeze_waits_for_cgroup_events(v2root):
    leaf = f"{v2root}/ketch/c1"
    put(f"{leaf}/cgroup.events", "populated 1\nfrozen 1\n")
    V2Manager("/ketch/c1", v2root).freeze()
    assert get(f"{leaf}/cgroup.freeze") == "1"
