"""engine/sysinfo.py on fake cgroup trees and /proc files: info's capability flags are
what the files say (moby's pkg/sysinfo), not constants."""

import os

from ketch.engine import sysinfo


def _touch(root, *parts, content=""):
    path = os.path.join(root, *parts)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)


def test_cgroup_v1_flags_follow_the_files(tmp_path):
    cg, proc = str(tmp_path / "cg"), str(tmp_path / "proc")
    _touch(cg, "memory", "memory.limit_in_bytes")
    _touch(cg, "memory", "memory.oom_control")
    _touch(cg, "cpu", "cpu.shares")
    _touch(cg, "pids", "pids.max")
    _touch(proc, "sys", "net", "ipv4", "ip_forward", content="1\n")
    _touch(proc, "sys", "net", "bridge", "bridge-nf-call-iptables", content="0\n")
    info = sysinfo.detect("1", cg, proc)
    assert info == sysinfo.SysInfo(memory_limit=True, swap_limit=False, oom_kill_disable=True,
                                   cpu_shares=True, cpu_cfs=False, cpuset=False, pids_limit=True,
                                   ipv4_forwarding=True, bridge_nf_iptables=False,
                                   bridge_nf_ip6tables=False)
    _touch(cg, "memory", "memory.memsw.limit_in_bytes")
    _touch(cg, "cpu", "cpu.cfs_quota_us")
    _touch(cg, "cpuset", "cpuset.cpus")
    info = sysinfo.detect("1", cg, proc)
    assert info.swap_limit and info.cpu_cfs and info.cpuset


def test_cgroup_v2_flags_follow_the_controllers(tmp_path):
    cg = str(tmp_path / "cg")
    _touch(cg, "cgroup.controllers", content="cpuset cpu io memory pids\n")
    info = sysinfo.detect("2", cg, str(tmp_path / "noproc"))
    assert (info.memory_limit, info.swap_limit, info.cpu_cfs, info.cpuset, info.pids_limit) == (True,) * 5
    assert not info.oom_kill_disable  # cgroup v2 has no memory.oom_control
    assert not info.ipv4_forwarding
    _touch(cg, "cgroup.controllers", content="pids\n")
    assert sysinfo.detect("2", cg).memory_limit is False


def test_backing_filesystem_is_the_longest_mount_above_the_path(tmp_path):
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "30 22 0:25 / /var/lib/my\\040data rw shared:2 - xfs /dev/sdb rw\n"
        "31 22 0:26 / /var/lib/mydata2 rw shared:3 - tmpfs tmpfs rw\n")
    assert sysinfo.backing_filesystem("/var/lib/my data/ketch", str(mountinfo)) == "xfs"
    assert sysinfo.backing_filesystem("/var/lib/mydata", str(mountinfo)) == "extfs"
    assert sysinfo.backing_filesystem("/var/lib/mydata2", str(mountinfo)) == "tmpfs"


def test_warnings_are_mobys_for_what_is_missing():
    everything = sysinfo.SysInfo(*([True] * 10))
    assert sysinfo.warnings(everything, "1") is None
    info = sysinfo.SysInfo(memory_limit=True, swap_limit=False, oom_kill_disable=False, cpu_shares=True,
                           cpu_cfs=True, cpuset=True, pids_limit=True, ipv4_forwarding=False,
                           bridge_nf_iptables=True, bridge_nf_ip6tables=True)
    assert sysinfo.warnings(info, "1") == ["WARNING: No swap limit support", "WARNING: No oom kill disable support",
                                           "WARNING: IPv4 forwarding is disabled"]
    assert sysinfo.warnings(info, "2") == ["WARNING: No swap limit support", "WARNING: IPv4 forwarding is disabled"]
