"""``ketch stats`` and ``ketch update``."""

import select
import sys

from ketch import fastjson as json
from ketch.cli import hostopts
from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError
from ketch.units import bytes_size, human_size

STATS = Command("stats", "ketch stats [OPTIONS] [CONTAINER...]",
                "Display a live stream of container(s) resource usage statistics", (
    FlagSpec("all", "a", "bool", help="Show all containers (default shows just running)"),
    FlagSpec("format", None, "string", help="Format output using a custom template"),
    FlagSpec("no-stream", None, "bool", help="Disable streaming stats and only pull the first result"),
    FlagSpec("no-trunc", None, "bool", help="Do not truncate output"),
), aliases=("ketch container stats",))
TABLE = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
HEADERS = {"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
           "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
           "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}


class StatsRow:
    """docker/cli's stats formatter fields, computed as its stats_helpers.go does."""

    GO_TYPE = "*container.statsContext"
    FIELDS = ("BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs")

    def __init__(self, doc: dict, ref: str, trunc: bool) -> None:
        self._d = doc
        self.Container = ref
        self.ID = doc.get("id", "")[:12] if trunc else doc.get("id", "")
        self.Name = doc.get("name", "").lstrip("/")

    def _go_marshal_json(self) -> str:
        from ketch.cli.format.rows import Row  # the template engine loads only for stats
        return Row._go_marshal_json(self)

    @property
    def CPUPerc(self) -> str:
        cpu, pre = self._d.get("cpu_stats", {}), self._d.get("precpu_stats", {})
        delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get("cpu_usage", {}).get("total_usage", 0)
        system = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
        online = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or []) or 1
        pct = delta / system * online * 100 if system > 0 and delta > 0 else 0.0
        return f"{pct:.2f}%"

    def _mem(self) -> tuple[float, float]:
        mem = self._d.get("memory_stats", {})
        usage, stats = mem.get("usage", 0), mem.get("stats") or {}
        for key in ("total_inactive_file", "inactive_file"):  # v1, v2: docker's "no cache"
            if key in stats and stats[key] < usage:
                usage -= stats[key]
                break
        return float(usage), float(mem.get("limit", 0))

    @property
    def MemUsage(self) -> str:
        usage, limit = self._mem()
        return f"{bytes_size(usage)} / {bytes_size(limit)}"

    @property
    def MemPerc(self) -> str:
        usage, limit = self._mem()
        return f"{usage / limit * 100 if limit else 0:.2f}%"

    @property
    def NetIO(self) -> str:
        rx = sum(n.get("rx_bytes", 0) for n in (self._d.get("networks") or {}).values())
        tx = sum(n.get("tx_bytes", 0) for n in (self._d.get("networks") or {}).values())
        return f"{human_size(rx)} / {human_size(tx)}"

    @property
    def BlockIO(self) -> str:
        read = write = 0
        for e in (self._d.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
            op = e.get("op", "").lower()
            read += e["value"] if op == "read" else 0
            write += e["value"] if op == "write" else 0
        return f"{human_size(read)} / {human_size(write)}"

    @property
    def PIDs(self) -> str:
        return str((self._d.get("pids_stats") or {}).get("current", 0))


def _targets(cli, names: list[str], all_: bool) -> list[str]:
    if names:
        return names
    return [c["Id"] for c in cli.client.containers(all=all_)]


def _render(fmt: str, rows: list[StatsRow]) -> str:
    from ketch.cli.format import formatter
    try:
        return formatter.render(fmt, rows, HEADERS, TABLE)
    except formatter.FormatError as exc:
        raise StatusError(1, str(exc))


def stats(cli, args, path):
    opts, names = parse_args(STATS, args, path)
    fmt = opts["format"] or cli.setting("statsFormat")
    trunc = not opts["no-trunc"]
    try:
        targets = _targets(cli, names, opts["all"])
        streams = [(ref, cli.client.stats(ref, stream=not opts["no-stream"])) for ref in targets]
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    latest: dict[str, dict] = {}
    if opts["no-stream"]:
        for ref, resp in streams:
            latest[ref] = json.loads(resp.read() or b"{}")
        sys.stdout.write(_render(fmt, [StatsRow(latest[r], r, trunc) for r, _ in streams]))
        return 0
    by_fd = {resp.conn.sock.fileno(): (ref, resp.chunks()) for ref, resp in streams}
    buffers = {ref: b"" for ref, _ in streams}
    while by_fd:
        ready, _, _ = select.select(list(by_fd), [], [], 2.0)
        for fd in ready:
            ref, it = by_fd[fd]
            chunk = next(it, None)
            if chunk is None:
                del by_fd[fd]
                continue
            buffers[ref] += chunk
            *lines, buffers[ref] = buffers[ref].split(b"\n")
            for line in lines:
                if line.strip():
                    latest[ref] = json.loads(line)
        rows = [StatsRow(latest[r], r, trunc) for r, _ in streams if r in latest]
        sys.stdout.write("\033[2J\033[H" + _render(fmt, rows))
        sys.stdout.flush()
    return 0


UPDATE = Command("update", "ketch update [OPTIONS] CONTAINER [CONTAINER...]",
                 "Update configuration of one or more containers",
                 tuple(f for f in hostopts.FLAGS if f.name in (
                     "blkio-weight", "cpu-period", "cpu-quota", "cpu-shares", "cpus", "cpuset-cpus",
                     "cpuset-mems", "memory", "memory-reservation", "memory-swap", "pids-limit"))
                 + (FlagSpec("restart", None, "string",
                             help="Restart policy to apply when a container exits"),),
                 min_args=1, aliases=("ketch container update",))
_UPDATE_FIELDS = {"memory": "Memory", "memory-reservation": "MemoryReservation",
                  "memory-swap": "MemorySwap", "cpu-shares": "CpuShares", "cpu-period": "CpuPeriod",
                  "cpu-quota": "CpuQuota", "cpuset-cpus": "CpusetCpus", "cpuset-mems": "CpusetMems",
                  "cpus": "NanoCpus", "pids-limit": "PidsLimit", "blkio-weight": "BlkioWeight"}


def update(cli, args, path):
    opts, names = parse_args(UPDATE, args, path)
    if not opts.changed - {"help"}:
        raise StatusError(1, "you must provide one or more flags when using this command")
    body: dict = {}
    for flag, field in _UPDATE_FIELDS.items():
        if flag in opts.changed:
            value = opts[flag]
            if flag == "cpus":
                value = round(float(value) * 10**9)
            elif flag == "memory-swap":
                from ketch.units import parse_ram
                value = -1 if value == "-1" else parse_ram(value)
            body[field] = value
    if opts["restart"]:
        try:
            body["RestartPolicy"] = hostopts.restart_policy(opts["restart"])
        except hostopts.HostOptError as exc:
            raise StatusError(1, str(exc))
    failed = []
    for name in names:
        try:
            cli.client.update(name, body)
            print(name)
        except API_ERRORS as exc:
            print(daemon_error(exc), file=sys.stderr)
            failed.append(name)
    return 1 if failed else 0
