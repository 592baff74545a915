"""One container's resource usage, read from either hierarchy into the same values.

Times are nanoseconds, sizes bytes. A limit of ``None`` is unlimited (the engine
shows the host's total, as Docker does). What a hierarchy does not report stays at
its zero value: v2 has no per-CPU usage, v1 no ``memory.peak`` before Linux 6.8.
The parsers are pure functions of file text, tested without a kernel.
"""

from typing import NamedTuple

# v1 reports "no limit" as PAGE_COUNTER_MAX pages; anything this large is unlimited.
_UNLIMITED = 1 << 62


class CpuStats(NamedTuple):
    total_ns: int = 0
    user_ns: int = 0
    system_ns: int = 0
    per_cpu_ns: tuple[int, ...] = ()
    periods: int = 0
    throttled_periods: int = 0
    throttled_time_ns: int = 0


class MemoryStats(NamedTuple):
    usage: int = 0
    limit: int | None = None
    max_usage: int = 0
    failcnt: int = 0
    stats: dict[str, int] = {}  # memory.stat as the kernel names it


class PidsStats(NamedTuple):
    current: int = 0
    limit: int | None = None


class BlkioEntry(NamedTuple):
    major: int
    minor: int
    op: str  # v1: "Read", "Write", "Sync", "Async", "Discard", "Total"; v2: "Read", "Write"
    value: int


class BlkioStats(NamedTuple):
    io_service_bytes: tuple[BlkioEntry, ...] = ()
    io_serviced: tuple[BlkioEntry, ...] = ()


class Stats(NamedTuple):
    cpu: CpuStats = CpuStats()
    memory: MemoryStats = MemoryStats()
    pids: PidsStats = PidsStats()
    blkio: BlkioStats = BlkioStats()
    oom_kill: int = 0


def flat_keyed(text: str) -> dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat, memory.events, cpuacct.stat)."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def limit(text: str) -> int | None:
    """A limit file: ``max``, a huge v1 number or empty -> None."""
    text = text.strip()
    if not text or text == "max":
        return None
    n = int(text)
    return None if n >= _UNLIMITED else n


def integer(text: str) -> int:
    text = text.strip()
    return int(text) if text and text.lstrip("-").isdigit() else 0


def blkio_v1(text: str) -> tuple[BlkioEntry, ...]:
    """``8:0 Read 4096`` lines; the closing ``Total N`` line has no device and is dropped."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0]:
            major, minor = parts[0].split(":")
            out.append(BlkioEntry(int(major), int(minor), parts[1], int(parts[2])))
    return tuple(out)


def io_stat_v2(text: str) -> BlkioStats:
    """``8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`` lines."""
    nbytes, nios = [], []
    for line in text.splitlines():
        dev, *pairs = line.split()
        if ":" not in dev:
            continue
        major, minor = (int(x) for x in dev.split(":"))
        values = dict(p.split("=", 1) for p in pairs if "=" in p)
        for key, op, into in (("rbytes", "Read", nbytes), ("wbytes", "Write", nbytes),
                              ("rios", "Read", nios), ("wios", "Write", nios)):
            if key in values:
                into.append(BlkioEntry(major, minor, op, int(values[key])))
    return BlkioStats(tuple(nbytes), tuple(nios))
