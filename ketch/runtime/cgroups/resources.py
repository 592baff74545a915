"""OCI ``linux.resources`` -> ``Resources``: read once, validated once, errors naming the field.

The values keep the OCI units and conventions (bytes, microseconds, ``-1`` for
unlimited). Zero means "not set" wherever runc reads it so (memory limits, CPU
shares, quota and period, block IO weight), because Go's zero value is how runc's
configs say "absent" and Docker's specs rely on it. Fields the kernel no longer
honours are accepted and dropped: ``memory.kernel`` (kmem limits, gone in Linux 6.1),
``memory.useHierarchy`` (always on since 5.16), ``blockIO.leafWeight`` (CFQ, gone in 5.0).
"""

import re
from typing import NamedTuple

from ketch.errors import InvalidArgument
from ketch.runtime.cgroups import devices as devs

_CPU_LIST = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")
_PAGE_SIZE = re.compile(r"^\d+[KMG]B$")
_SECTIONS = {
    "memory": {"limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness",
               "disableOOMKiller", "useHierarchy", "checkBeforeUpdate"},
    "cpu": {"shares", "quota", "burst", "period", "realtimeRuntime", "realtimePeriod",
            "cpus", "mems", "idle"},
    "blockIO": {"weight", "leafWeight", "weightDevice", "throttleReadBpsDevice",
                "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"},
    "pids": {"limit"},
    "network": {"classID", "priorities"},
}
_TOP = set(_SECTIONS) | {"devices", "hugepageLimits", "rdma", "unified"}
_U64 = (1 << 64) - 1
_I64 = (1 << 63) - 1


class DeviceRate(NamedTuple):
    major: int
    minor: int
    rate: int

    def __str__(self) -> str:
        return f"{self.major}:{self.minor} {self.rate}"


class Resources(NamedTuple):
    memory_limit: int = 0
    memory_reservation: int = 0
    memory_swap: int = 0
    memory_kernel_tcp: int = 0
    memory_swappiness: int | None = None
    disable_oom_killer: bool = False
    check_before_update: bool = False
    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_burst: int | None = None
    cpu_period: int = 0
    cpu_rt_runtime: int = 0
    cpu_rt_period: int = 0
    cpus: str = ""
    mems: str = ""
    cpu_idle: int | None = None
    pids_limit: int | None = None
    blkio_weight: int = 0
    blkio_weight_devices: tuple[DeviceRate, ...] = ()  # rate is the weight
    throttle_read_bps: tuple[DeviceRate, ...] = ()
    throttle_write_bps: tuple[DeviceRate, ...] = ()
    throttle_read_iops: tuple[DeviceRate, ...] = ()
    throttle_write_iops: tuple[DeviceRate, ...] = ()
    hugepage_limits: tuple[tuple[str, int], ...] = ()     # (pageSize, limit)
    net_class_id: int | None = None
    net_priorities: tuple[tuple[str, int], ...] = ()      # (interface, priority)
    rdma: tuple[tuple[str, int | None, int | None], ...] = ()  # (device, handles, objects)
    devices: tuple[devs.Rule, ...] | None = None
    unified: tuple[tuple[str, str], ...] = ()


class _Object:
    """One JSON object of the document, read with its path in every error."""

    def __init__(self, value, where: str, known: set[str] | None = None):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise InvalidArgument(f"invalid {where}: expected an object")
        if known is not None:
            unknown = sorted(set(value) - known)
            if unknown:
                raise InvalidArgument(f"unknown field {where}.{unknown[0]}")
        self.value, self.where = value, where

    def integer(self, key: str, lo: int, hi: int, default=None):
        v = self.value.get(key)
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidArgument(f"invalid {self.where}.{key}: expected an integer, got {v!r}")
        if not lo <= v <= hi:
            raise InvalidArgument(f"invalid {self.where}.{key}: {v} is out of range [{lo}, {hi}]")
        return v

    def boolean(self, key: str) -> bool:
        v = self.value.get(key, False)
        if not isinstance(v, bool):
            raise InvalidArgument(f"invalid {self.where}.{key}: expected a boolean, got {v!r}")
        return v

    def string(self, key: str) -> str:
        v = self.value.get(key) or ""
        if not isinstance(v, str):
            raise InvalidArgument(f"invalid {self.where}.{key}: expected a string, got {v!r}")
        return v

    def objects(self, key: str, known: set[str]) -> list["_Object"]:
        v = self.value.get(key) or []
        if not isinstance(v, list):
            raise InvalidArgument(f"invalid {self.where}.{key}: expected an array")
        return [_Object(item, f"{self.where}.{key}[{i}]", known) for i, item in enumerate(v)]


def parse(resources: dict | None) -> Resources:
    top = _Object(resources, "linux.resources", _TOP)
    r = top.value
    mem = _Object(r.get("memory"), "linux.resources.memory", _SECTIONS["memory"])
    cpu = _Object(r.get("cpu"), "linux.resources.cpu", _SECTIONS["cpu"])
    blk = _Object(r.get("blockIO"), "linux.resources.blockIO", _SECTIONS["blockIO"])
    pids = _Object(r.get("pids"), "linux.resources.pids", _SECTIONS["pids"])
    net = _Object(r.get("network"), "linux.resources.network", _SECTIONS["network"])

    limit = mem.integer("limit", -1, _I64, 0)
    swap = mem.integer("swap", -1, _I64, 0)
    if limit > 0 and swap > 0 and swap < limit:
        raise InvalidArgument(f"invalid linux.resources.memory.swap: memory+swap limit {swap} "
                              f"is lower than the memory limit {limit}")
    mem.integer("kernel", -1, _I64)
    mem.boolean("useHierarchy")
    quota = cpu.integer("quota", -1, _I64, 0)
    burst = cpu.integer("burst", 0, _U64)
    if burst and quota > 0 and burst > quota:
        raise InvalidArgument(f"invalid linux.resources.cpu.burst: {burst} is larger than "
                              f"the quota {quota}")
    cpus, mems = cpu.string("cpus"), cpu.string("mems")
    for name, value in (("cpus", cpus), ("mems", mems)):
        if value and not _CPU_LIST.match(value):
            raise InvalidArgument(f"invalid linux.resources.cpu.{name}: {value!r} is not a "
                                  "list such as 0-3,7")
    blk.integer("leafWeight", 0, 1000)
    weight = blk.integer("weight", 0, 1000, 0)
    if weight:
        _weight(weight)

    def rates(key: str, field: str, lo: int, hi: int) -> tuple[DeviceRate, ...]:
        known = {"major", "minor", field} | ({"leafWeight"} if field == "weight" else set())
        out = []
        for o in blk.objects(key, known):
            value = o.integer(field, lo, hi)
            if value is not None:
                out.append(DeviceRate(o.integer("major", 0, 0xFFFFFFFF, 0), o.integer("minor", 0, 0xFFFFFFFF, 0), value))
        return tuple(out)

    hugepages = []
    for o in top.objects("hugepageLimits", {"pageSize", "limit"}):
        size = o.string("pageSize")
        if not _PAGE_SIZE.match(size):
            raise InvalidArgument(f"invalid {o.where}.pageSize: {size!r} is not a size such as 2MB")
        hugepages.append((size, o.integer("limit", 0, _U64, 0)))

    rdma = []
    for dev, limits in sorted(_Object(r.get("rdma"), "linux.resources.rdma").value.items()):
        o = _Object(limits, f"linux.resources.rdma.{dev}", {"hcaHandles", "hcaObjects"})
        handles, objects = o.integer("hcaHandles", 0, 0xFFFFFFFF), o.integer("hcaObjects", 0, 0xFFFFFFFF)
        if handles is None and objects is None:
            raise InvalidArgument(f"invalid {o.where}: set hcaHandles or hcaObjects")
        rdma.append((dev, handles, objects))

    unified = []
    for key, value in _Object(r.get("unified"), "linux.resources.unified").value.items():
        if "/" in key or key.startswith(".") or "." not in key:
            raise InvalidArgument(f"invalid linux.resources.unified: {key!r} is not a cgroup file name")
        if not isinstance(value, str):
            raise InvalidArgument(f"invalid linux.resources.unified.{key}: expected a string")
        unified.append((key, value))

    rules = r.get("devices")
    return Resources(
        memory_limit=limit,
        memory_reservation=mem.integer("reservation", -1, _I64, 0),
        memory_swap=swap,
        memory_kernel_tcp=mem.integer("kernelTCP", -1, _I64, 0),
        memory_swappiness=mem.integer("swappiness", 0, 100),
        disable_oom_killer=mem.boolean("disableOOMKiller"),
        check_before_update=mem.boolean("checkBeforeUpdate"),
        cpu_shares=cpu.integer("shares", 0, _U64, 0),
        cpu_quota=quota,
        cpu_burst=burst,
        cpu_period=cpu.integer("period", 0, _U64, 0),
        cpu_rt_runtime=cpu.integer("realtimeRuntime", -1, _I64, 0),
        cpu_rt_period=cpu.integer("realtimePeriod", 0, _U64, 0),
        cpus=cpus,
        mems=mems,
        cpu_idle=cpu.integer("idle", 0, 1),
        pids_limit=pids.integer("limit", -1, _I64),
        blkio_weight=weight,
        blkio_weight_devices=tuple(DeviceRate(d.major, d.minor, _weight(d.rate, "weightDevice"))
                                   for d in rates("weightDevice", "weight", 0, 1000)),
        throttle_read_bps=rates("throttleReadBpsDevice", "rate", 0, _U64),
        throttle_write_bps=rates("throttleWriteBpsDevice", "rate", 0, _U64),
        throttle_read_iops=rates("throttleReadIOPSDevice", "rate", 0, _U64),
        throttle_write_iops=rates("throttleWriteIOPSDevice", "rate", 0, _U64),
        hugepage_limits=tuple(hugepages),
        net_class_id=net.integer("classID", 0, 0xFFFFFFFF),
        net_priorities=tuple((o.string("name"), o.integer("priority", 0, 0xFFFFFFFF, 0))
                             for o in net.objects("priorities", {"name", "priority"})),
        rdma=tuple(rdma),
        devices=tuple(devs.parse(rules)) if rules else None,
        unified=tuple(unified),
    )


def _weight(w: int, field: str = "weight") -> int:
    if not 10 <= w <= 1000:
        raise InvalidArgument(f"invalid linux.resources.blockIO.{field}: {w} is out of range [10, 1000]")
    return w


# --- conversions runc uses between the v1 and v2 scales ---------------------------------

def shares_to_weight(shares: int) -> int:
    """cpu.shares [2, 262144] -> cpu.weight [1, 10000] (runc's ConvertCPUSharesToCgroupV2Value)."""
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_to_io_weight(weight: int) -> int:
    """blkio.weight [10, 1000] -> io.weight [1, 10000] (runc's ConvertBlkIOToIOWeightValue)."""
    return 1 + ((weight - 10) * 9999) // 990


def swap_to_v2(swap: int, limit: int) -> int | None:
    """OCI memory+swap -> memory.swap.max (swap alone); -1 is max, None is "leave alone".

    runc's ConvertMemorySwapToCgroupV2Value, with its special case folded in: swap equal
    to the limit means no swap at all.
    """
    if limit == -1 and swap == 0:
        return -1
    if swap in (-1, 0):
        return swap or None
    if limit in (0, -1):
        raise InvalidArgument("invalid linux.resources.memory.swap: a swap limit needs a memory limit")
    return swap - limit
