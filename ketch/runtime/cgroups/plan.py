"""``Resources`` -> the cgroup files to write, in order: pure, printable, golden-tested.

A plan is ``{file: value}`` in write order. v1 files are named ``<controller>/<file>``
(the controller is the hierarchy's directory under the cgroup root), v2 files by
their bare name. Rules the appliers (``v1.py``, ``v2.py``) follow for every plan:

- A value of several lines is several writes, one per line, in order: the kernel takes
  one device rule or one throttle entry per write(2).
- A file the kernel may lack has a fallback (``FALLBACKS``): ``blkio.weight`` ->
  ``blkio.bfq.weight`` on v1, ``io.bfq.weight`` -> ``io.weight`` (rescaled) on v2.
- v2 has one entry that is not a file: ``devices``, the normalized device rules
  (``devices.to_text``), which the v2 applier compiles into a BPF program.

Order matters where the kernel checks one file against another: cpuset before
anything (v1 refuses tasks without it), a period before its quota, and on v1 the
memory limit before memory+swap (the applier swaps those two when raising a limit,
which only the current value can tell).
"""

from ketch.errors import InvalidArgument
from ketch.runtime.cgroups import devices as devs
from ketch.runtime.cgroups.resources import Resources, blkio_to_io_weight, shares_to_weight, swap_to_v2


def _num(n: int) -> str:
    """OCI -1 (unlimited) as cgroup v2 spells it."""
    return "max" if n == -1 else str(n)


def _lines(items) -> str:
    return "\n".join(str(i) for i in items)


def plan_v1(r: Resources) -> dict[str, str]:
    if r.unified:
        raise InvalidArgument("invalid linux.resources.unified: cgroup v2 files cannot be set "
                              "on a cgroup v1 host")
    p: dict[str, str] = {}
    if r.cpus:
        p["cpuset/cpuset.cpus"] = r.cpus
    if r.mems:
        p["cpuset/cpuset.mems"] = r.mems
    if r.devices is not None:
        default_allow, exceptions = devs.normalize(list(r.devices))
        p[f"devices/devices.{'allow' if default_allow else 'deny'}"] = "a"
        if exceptions:
            p[f"devices/devices.{'deny' if default_allow else 'allow'}"] = _lines(
                e.cgroup_string() for e in exceptions)
    if r.memory_limit:
        p["memory/memory.limit_in_bytes"] = str(r.memory_limit)
    swap = r.memory_swap or (-1 if r.memory_limit == -1 else 0)
    if swap:
        p["memory/memory.memsw.limit_in_bytes"] = str(swap)
    if r.memory_reservation:
        p["memory/memory.soft_limit_in_bytes"] = str(r.memory_reservation)
    if r.memory_kernel_tcp:
        p["memory/memory.kmem.tcp.limit_in_bytes"] = str(r.memory_kernel_tcp)
    if r.memory_swappiness is not None:
        p["memory/memory.swappiness"] = str(r.memory_swappiness)
    if r.disable_oom_killer:
        p["memory/memory.oom_control"] = "1"
    if r.cpu_shares:
        p["cpu/cpu.shares"] = str(r.cpu_shares)
    if r.cpu_period:
        p["cpu/cpu.cfs_period_us"] = str(r.cpu_period)
    if r.cpu_quota:
        p["cpu/cpu.cfs_quota_us"] = str(r.cpu_quota)
    if r.cpu_burst is not None:
        p["cpu/cpu.cfs_burst_us"] = str(r.cpu_burst)
    if r.cpu_rt_period:
        p["cpu/cpu.rt_period_us"] = str(r.cpu_rt_period)
    if r.cpu_rt_runtime:
        p["cpu/cpu.rt_runtime_us"] = str(r.cpu_rt_runtime)
    if r.cpu_idle is not None:
        p["cpu/cpu.idle"] = str(r.cpu_idle)
    if r.pids_limit is not None:
        p["pids/pids.max"] = str(r.pids_limit) if r.pids_limit > 0 else "max"
    if r.blkio_weight:
        p["blkio/blkio.weight"] = str(r.blkio_weight)
    if r.blkio_weight_devices:
        p["blkio/blkio.weight_device"] = _lines(r.blkio_weight_devices)
    for name, rates in (("read_bps", r.throttle_read_bps), ("write_bps", r.throttle_write_bps),
                        ("read_iops", r.throttle_read_iops), ("write_iops", r.throttle_write_iops)):
        if rates:
            p[f"blkio/blkio.throttle.{name}_device"] = _lines(rates)
    for size, limit in r.hugepage_limits:
        p[f"hugetlb/hugetlb.{size}.limit_in_bytes"] = str(limit)
    if r.net_class_id is not None:
        p["net_cls/net_cls.classid"] = str(r.net_class_id)
    if r.net_priorities:
        p["net_prio/net_prio.ifpriomap"] = _lines(f"{n} {prio}" for n, prio in r.net_priorities)
    if r.rdma:
        p["rdma/rdma.max"] = _rdma(r)
    return p


def plan_v2(r: Resources) -> dict[str, str]:
    if r.cpu_rt_runtime or r.cpu_rt_period:
        raise InvalidArgument("invalid linux.resources.cpu.realtimeRuntime: realtime CPU limits "
                              "are not supported on cgroup v2")
    p: dict[str, str] = {}
    if r.cpus:
        p["cpuset.cpus"] = r.cpus
    if r.mems:
        p["cpuset.mems"] = r.mems
    if r.devices is not None:
        p["devices"] = devs.to_text(*devs.normalize(list(r.devices)))
    swap = swap_to_v2(r.memory_swap, r.memory_limit)
    if swap is not None:
        p["memory.swap.max"] = _num(swap)
    if r.memory_limit:
        p["memory.max"] = _num(r.memory_limit)
    if r.memory_reservation:
        p["memory.low"] = _num(r.memory_reservation)
    if r.cpu_shares:
        p["cpu.weight"] = str(shares_to_weight(r.cpu_shares))
    if r.cpu_quota or r.cpu_period:
        p["cpu.max"] = (str(r.cpu_quota) if r.cpu_quota > 0 else "max") + (
            f" {r.cpu_period}" if r.cpu_period else "")
    if r.cpu_burst is not None:
        p["cpu.max.burst"] = str(r.cpu_burst)
    if r.cpu_idle is not None:
        p["cpu.idle"] = str(r.cpu_idle)
    if r.pids_limit is not None:
        p["pids.max"] = str(r.pids_limit) if r.pids_limit > 0 else "max"
    weights = ([str(r.blkio_weight)] if r.blkio_weight else []) + [str(d) for d in r.blkio_weight_devices]
    if weights:
        p["io.bfq.weight"] = "\n".join(weights)
    io_max = [f"{d.major}:{d.minor} {key}={d.rate}"
              for key, rates in (("rbps", r.throttle_read_bps), ("wbps", r.throttle_write_bps),
                                 ("riops", r.throttle_read_iops), ("wiops", r.throttle_write_iops))
              for d in rates]
    if io_max:
        p["io.max"] = "\n".join(io_max)
    for size, limit in r.hugepage_limits:
        p[f"hugetlb.{size}.max"] = str(limit)
    if r.rdma:
        p["rdma.max"] = _rdma(r)
    # Last, so that an explicit v2 file overrides what was converted above (as runc does).
    for key, value in r.unified:
        p.pop(key, None)
        p[key] = value
    return p


def _rdma(r: Resources) -> str:
    lines = []
    for dev, handles, objects in r.rdma:
        parts = [dev] + ([f"hca_handle={handles}"] if handles is not None else []) + (
            [f"hca_object={objects}"] if objects is not None else [])
        lines.append(" ".join(parts))
    return "\n".join(lines)


def _io_weight_line(line: str) -> str:
    """One io.bfq.weight line (``500`` or ``8:0 500``) rescaled for io.weight."""
    *dev, weight = line.split()
    return " ".join([*dev, str(blkio_to_io_weight(int(weight)))])


# file -> (fallback file, value converter), used when the kernel lacks the first file.
FALLBACKS = {
    "blkio/blkio.weight": ("blkio/blkio.bfq.weight", lambda v: v),
    "blkio/blkio.weight_device": ("blkio/blkio.bfq.weight_device", lambda v: v),
    "io.bfq.weight": ("io.weight", lambda v: "\n".join(_io_weight_line(x) for x in v.splitlines())),
}


def controllers_v2(plan: dict[str, str]) -> list[str]:
    """The v2 controllers a plan needs enabled in every ancestor's cgroup.subtree_control."""
    out = []
    for key in plan:
        name = key.split(".", 1)[0]
        if "." in key and name not in ("cgroup", *out):
            out.append(name)
    return out


def render(plan: dict[str, str]) -> str:
    """The plan as text, one write a line: ``memory/memory.limit_in_bytes: 16777216``."""
    return "".join(f"{key}: {line}\n" for key, value in plan.items() for line in value.splitlines() or [""])
