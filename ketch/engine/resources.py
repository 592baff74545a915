"""HostConfig resource fields -> OCI ``linux.resources`` (pure), with moby's validation.

The checks and their messages are moby's ``verifyPlatformContainerResources``: users
see them as ``Error response from daemon: ...``. The maximum memory check is ketch's
own, in the same words as moby's minimum one.
"""

import os
import re

from ketch.errors import InvalidArgument

MIN_MEMORY = 6 * 1024 * 1024
# The most a cgroup memory counter holds: the kernel's PAGE_COUNTER_MAX (LONG_MAX / page
# size) in bytes, what memory.limit_in_bytes reads back as "no limit". A bigger value
# would be clamped there, or, doubled into the default swap limit, pass int64 and fail
# only at start; it is refused at create instead.
MAX_MEMORY = (2**63 - 1) // os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PAGE_SIZE")
DEFAULT_CPU_PERIOD = 100000

# runc's specconv.AllowedDevices comes after these; Docker's own list (deny all, allow
# the standard character devices, keep /dev/fuse out).
DEFAULT_DEVICE_RULES = (
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
    {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
)


def _int(hc: dict, key: str) -> int:
    value = hc.get(key) or 0
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(f"invalid value for {key}: {value!r}")
    return value


def _uint_list(spec: str, maximum: int = 0) -> set[int]:
    """moby's parsers.ParseUintList(Maximum): "0-3,5" -> {0, 1, 2, 3, 5}."""
    out: set[int] = set()
    if not spec:
        return out
    invalid = f"invalid format: {spec}"

    def number(text: str) -> int:
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            raise ValueError(invalid)
        return int(text)

    for part in spec.split(","):
        lo, dash, hi = part.partition("-")
        first = number(lo)
        last = number(hi) if dash else first
        if last < first:
            raise ValueError(invalid)
        if maximum and last > maximum:
            raise ValueError(f"value of out range, maximum is {maximum}")
        out.update(range(first, last + 1))
    return out


def _available(what: str, spec: str, available: str) -> None:
    """sysinfo.IsCpusetCpusAvailable / IsCpusetMemsAvailable, with moby's messages."""
    have = _uint_list(available)
    try:
        wanted = _uint_list(spec, max([8192, *have]))
    except ValueError as exc:
        raise InvalidArgument(f"Invalid value {spec} for cpuset {what}: {exc}") from None
    if not wanted <= have:
        nodes = "CPUs" if what == "cpus" else "memory nodes"
        raise InvalidArgument(f"Requested {nodes} are not available - requested {spec}, "
                              f"available: {available}")


def _online_nodes() -> str:
    try:
        with open("/sys/devices/system/node/online") as f:
            return f.read().strip() or "0"
    except OSError:
        return "0"  # no NUMA: one node


def memory(hc: dict) -> dict:
    limit, swap = _int(hc, "Memory"), hc.get("MemorySwap") or 0
    reservation = _int(hc, "MemoryReservation")
    if limit and limit < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    for value, what in ((limit, "memory limit"), (swap, "memoryswap limit"),
                        (reservation, "memory reservation")):
        if value > MAX_MEMORY:
            raise InvalidArgument(f"Maximum {what} allowed is {MAX_MEMORY} bytes "
                                  "(the kernel's page counter maximum)")
    if swap and swap != -1 and not limit:
        raise InvalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage")
    if limit and swap > 0 and swap < limit:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
    if limit and reservation and limit < reservation:
        raise InvalidArgument("Minimum memory limit can not be less than memory reservation limit, see usage")
    if reservation and reservation < MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    out: dict = {}
    if limit:
        out["limit"] = limit
        # unset: as much swap as memory (Docker), at most what the kernel holds
        out["swap"] = swap if swap else min(2 * limit, MAX_MEMORY)
    elif swap == -1:
        out["swap"] = -1
    if reservation:
        out["reservation"] = reservation
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1:
        if not 0 <= swappiness <= 100:
            raise InvalidArgument(f"Invalid value: {swappiness}, valid memory swappiness range is 0-100")
        out["swappiness"] = swappiness
    if hc.get("OomKillDisable"):
        out["disableOOMKiller"] = True
    return out


def cpu(hc: dict, ncpu: int) -> dict:
    nano, period, quota = _int(hc, "NanoCpus"), _int(hc, "CpuPeriod"), _int(hc, "CpuQuota")
    if nano and (period or quota):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set"
                              if period else "Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if nano and not 0.01 <= nano / 1e9 <= ncpu:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only "
                              f"{ncpu} CPUs available")
    if period and not 1000 <= period <= 1000000:
        raise InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
    if quota and quota > 0 and quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    out: dict = {}
    if _int(hc, "CpuShares"):
        out["shares"] = _int(hc, "CpuShares")
    if nano:
        out["period"] = DEFAULT_CPU_PERIOD
        out["quota"] = nano * DEFAULT_CPU_PERIOD // 10**9
    else:
        if quota:
            out["quota"] = quota
        if period:
            out["period"] = period
    if hc.get("CpusetCpus"):
        _available("cpus", hc["CpusetCpus"], f"0-{ncpu - 1}" if ncpu > 1 else "0")
        out["cpus"] = hc["CpusetCpus"]
    if hc.get("CpusetMems"):
        _available("mems", hc["CpusetMems"], _online_nodes())
        out["mems"] = hc["CpusetMems"]
    return out


def build(hc: dict, ncpu: int, device_rules: list[dict]) -> dict:
    """The whole ``linux.resources`` for a container."""
    out: dict = {"devices": list(device_rules)}
    mem = memory(hc)
    if mem:
        out["memory"] = mem
    c = cpu(hc, ncpu)
    if c:
        out["cpu"] = c
    pids = hc.get("PidsLimit")
    if pids is not None and pids != 0:
        out["pids"] = {"limit": pids if pids > 0 else -1}
    weight = _int(hc, "BlkioWeight")
    if weight:
        if not 10 <= weight <= 1000:
            raise InvalidArgument("Range of blkio weight is from 10 to 1000")
        out["blockIO"] = {"weight": weight}
    return out
