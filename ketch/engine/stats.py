"""Container stats in Docker's shape (``GET /containers/{id}/stats``), from the cgroups."""

import os
import time

from ketch import timefmt
from ketch.runtime import cgroups
from ketch.runtime.cgroups import Stats

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def system_cpu_usage() -> int:
    """Host CPU time in nanoseconds, from the first line of /proc/stat (Docker's way)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    return sum(int(x) for x in fields) * (10**9 // _CLK_TCK)


def host_memory() -> int:
    with open("/proc/meminfo") as f:
        return int(f.readline().split()[1]) * 1024


def sample(cgroups_path: str) -> tuple[Stats, int, str]:
    """(cgroup stats, system CPU usage, read time) of one container, now."""
    stats = cgroups.manager(cgroups_path).stats() if cgroups_path else Stats()
    return stats, system_cpu_usage(), timefmt.now()


def _cpu(stats: Stats | None, system: int) -> dict:
    if stats is None:
        return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    c = stats.cpu
    usage = {"total_usage": c.total_ns}
    if c.per_cpu_ns:
        usage["percpu_usage"] = list(c.per_cpu_ns)
    usage.update({"usage_in_kernelmode": c.system_ns, "usage_in_usermode": c.user_ns})
    return {"cpu_usage": usage, "system_cpu_usage": system, "online_cpus": os.cpu_count() or 1,
            "throttling_data": {"periods": c.periods, "throttled_periods": c.throttled_periods,
                                "throttled_time": c.throttled_time_ns}}


def _blkio(stats: Stats) -> dict:
    def entries(items):
        return [{"major": e.major, "minor": e.minor, "op": e.op, "value": e.value} for e in items]
    return {"io_service_bytes_recursive": entries(stats.blkio.io_service_bytes),
            "io_serviced_recursive": entries(stats.blkio.io_serviced),
            "io_queue_recursive": None, "io_service_time_recursive": None,
            "io_wait_time_recursive": None, "io_merged_recursive": None,
            "io_time_recursive": None, "sectors_recursive": None}


_NET_COUNTERS = ("bytes", "packets", "errors", "dropped")


def network_counters(interfaces: dict[str, str]) -> dict:
    """Docker's ``networks``: per interface of the container (``eth0``), its counters,
    read from the host's end of its veth pair (what it receives the container sent)."""
    out = {}
    for ifname, host_ifname in sorted(interfaces.items()):
        base = f"/sys/class/net/{host_ifname}/statistics/"
        values = {}
        try:
            for theirs, ours in (("rx", "tx"), ("tx", "rx")):
                for counter in _NET_COUNTERS:
                    with open(base + f"{ours}_{counter}") as f:
                        values[f"{theirs}_{counter}"] = int(f.read())
        except (OSError, ValueError):
            continue  # gone meanwhile
        out[ifname] = {k: values[k] for k in sorted(values, key=_net_order)}
    return out


def _net_order(key: str) -> tuple:
    direction, counter = key.split("_", 1)
    return direction != "rx", _NET_COUNTERS.index(counter)


def docker_json(cid: str, name: str, cur: tuple[Stats, int, str] | None,
                prev: tuple[Stats, int, str] | None, networks: dict | None = None) -> dict:
    """One stats object; ``prev`` fills ``precpu_stats`` (zeros when None, as Docker)."""
    if cur is None:  # not running: Docker's zero value
        return {"read": timefmt.ZERO, "preread": timefmt.ZERO, "pids_stats": {},
                "blkio_stats": _blkio(Stats()), "num_procs": 0, "storage_stats": {},
                "cpu_stats": _cpu(None, 0), "precpu_stats": _cpu(None, 0), "memory_stats": {},
                "name": "/" + name, "id": cid}
    stats, system, read = cur
    mem = stats.memory
    memory = {"usage": mem.usage}
    if mem.max_usage:
        memory["max_usage"] = mem.max_usage
    memory.update({"stats": dict(mem.stats), "limit": mem.limit or host_memory()})
    if mem.failcnt:
        memory["failcnt"] = mem.failcnt
    pids = {"current": stats.pids.current}
    if stats.pids.limit is not None:
        pids["limit"] = stats.pids.limit
    return {
        "read": read, "preread": prev[2] if prev else timefmt.ZERO,
        "pids_stats": pids, "blkio_stats": _blkio(stats), "num_procs": 0, "storage_stats": {},
        "cpu_stats": _cpu(stats, system),
        "precpu_stats": _cpu(prev[0], prev[1]) if prev else _cpu(None, 0),
        "memory_stats": memory, "name": "/" + name, "id": cid,
        **({"networks": networks} if networks else {}),
    }


def wait_interval(start: float, interval: float = 1.0) -> float:
    """Seconds left until ``interval`` after ``start``."""
    return max(0.0, interval - (time.monotonic() - start))
