"""What the host's cgroups and kernel let containers have, as moby's pkg/sysinfo finds it.

``docker info`` reports these (``MemoryLimit``, ``SwapLimit``, ``CpuCfsQuota``, ...) and
the docker CLI prints a warning for each one that is false ("WARNING: No swap limit
support"), so they must be what ketch can really apply on this host: the files its
cgroup managers write exist. Read from the files each time (a few stat calls).
"""

import os
from dataclasses import dataclass

from ketch.linux import mount as mnt


@dataclass(frozen=True)
class SysInfo:
    memory_limit: bool = False
    swap_limit: bool = False
    oom_kill_disable: bool = False
    cpu_shares: bool = False
    cpu_cfs: bool = False  # both CpuCfsPeriod and CpuCfsQuota
    cpuset: bool = False
    pids_limit: bool = False
    ipv4_forwarding: bool = False
    bridge_nf_iptables: bool = False
    bridge_nf_ip6tables: bool = False


# statfs magic names as moby's graphdriver.FsNames calls them, by /proc/mounts type
_FS_NAMES = {"ext2": "extfs", "ext3": "extfs", "ext4": "extfs", "overlay": "overlayfs",
             "fuse.sshfs": "sshfs", "nfs4": "nfs", "nfs": "nfs"}


def backing_filesystem(path: str, mountinfo: str = "/proc/self/mountinfo") -> str:
    """The file system the data root lives on, named as overlay2's DriverStatus names it."""
    path = os.path.realpath(path)
    best, fstype = "", "<unknown>"
    try:
        for m in mnt.mountinfo(mountinfo):
            point = m.mount_point
            inside = path == point or path.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best, fstype = point, m.fstype
    except (OSError, ValueError, IndexError):
        pass
    return _FS_NAMES.get(fstype, fstype)


def _proc_bool(path: str) -> bool:
    """moby's readProcBool: the file holds "1"; missing or unreadable is false."""
    try:
        with open(path) as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def detect(version: str, cgroup_root: str = "/sys/fs/cgroup", proc: str = "/proc") -> SysInfo:
    """``version`` is "1" or "2" (cgroups.detect() without its "v")."""
    net = os.path.join(proc, "sys", "net")
    common = dict(ipv4_forwarding=_proc_bool(os.path.join(net, "ipv4", "ip_forward")),
                  bridge_nf_iptables=_proc_bool(os.path.join(net, "bridge", "bridge-nf-call-iptables")),
                  bridge_nf_ip6tables=_proc_bool(os.path.join(net, "bridge", "bridge-nf-call-ip6tables")))
    if version == "2":
        try:
            with open(os.path.join(cgroup_root, "cgroup.controllers")) as f:
                controllers = set(f.read().split())
        except OSError:
            controllers = set()
        memory = "memory" in controllers
        # moby's applyMemoryCgroupInfoV2: swap with memory; no oom-kill-disable, no kmem
        return SysInfo(memory_limit=memory, swap_limit=memory, cpu_shares="cpu" in controllers,
                       cpu_cfs="cpu" in controllers, cpuset="cpuset" in controllers,
                       pids_limit="pids" in controllers, **common)

    def has(controller: str, name: str = "") -> bool:
        return os.path.exists(os.path.join(cgroup_root, controller, name))

    return SysInfo(memory_limit=has("memory"), swap_limit=has("memory", "memory.memsw.limit_in_bytes"),
                   oom_kill_disable=has("memory", "memory.oom_control"),
                   cpu_shares=has("cpu", "cpu.shares"), cpu_cfs=has("cpu", "cpu.cfs_quota_us"),
                   cpuset=has("cpuset"), pids_limit=has("pids"), **common)


def warnings(info: SysInfo, cgroup_version: str) -> list[str] | None:
    """moby's fillPlatformInfo warnings, in its order, for what this host lacks; None
    (JSON null, as moby's nil slice) when it lacks nothing."""
    v1 = cgroup_version == "1"
    checks = (
        (info.memory_limit, "WARNING: No memory limit support"),
        (info.swap_limit, "WARNING: No swap limit support"),
        (info.oom_kill_disable or not v1, "WARNING: No oom kill disable support"),
        (info.cpu_cfs, "WARNING: No cpu cfs quota support"),
        (info.cpu_cfs, "WARNING: No cpu cfs period support"),
        (info.cpu_shares, "WARNING: No cpu shares support"),
        (info.cpuset, "WARNING: No cpuset support"),
        (info.ipv4_forwarding, "WARNING: IPv4 forwarding is disabled"),
        (info.bridge_nf_iptables, "WARNING: bridge-nf-call-iptables is disabled"),
        (info.bridge_nf_ip6tables, "WARNING: bridge-nf-call-ip6tables is disabled"),
    )
    return [text for ok, text in checks if not ok] or None
