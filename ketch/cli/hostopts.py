"""``run``/``create`` flags for privileges, limits, devices and cgroups -> HostConfig fields.

Parsing and error texts follow docker/cli's opts package (ulimits from go-units,
devices, sysctls, security options, NanoCPUs); the daemon validates the values again.
"""

from ketch import fastjson, units
from ketch.cli.flags import FlagSpec

_ULIMIT_NAMES = ("as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
                 "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack")
_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
            "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")


def _ulimit(text: str) -> str:
    """go-units ParseUlimit, for its errors; the value is kept as typed."""
    name, sep, limits = text.partition("=")
    if not sep:
        raise ValueError(f"invalid ulimit argument: {text}")
    if name not in _ULIMIT_NAMES:
        raise ValueError(f"invalid ulimit type: {name}")
    parts = limits.split(":")
    if len(parts) > 2:
        raise ValueError(f"too many limit value arguments - {limits}, can only have up to two, `soft[:hard]`")
    soft = units.parse_go_int(parts[0])
    hard = units.parse_go_int(parts[1]) if len(parts) == 2 else soft
    if soft > hard:
        raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return text


def _sysctl(text: str) -> str:
    key = text.partition("=")[0]
    if key not in _SYSCTLS and not key.startswith(("net.", "fs.mqueue.")):
        raise ValueError(f"sysctl '{text}' is not allowed")
    return text


def _device(text: str) -> str:
    parts = text.split(":")
    if not parts[0].startswith("/") or len(parts) > 3 or not all(parts):
        raise ValueError(f"bad format for path: {text}")
    return text


def _cpus(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"failed to parse {text} as a rational number") from None
    if value * 1e9 != int(value * 1e9) and len(text.partition(".")[2]) > 9:
        raise ValueError("value is too precise")
    return text


def _swap(text: str) -> str:
    if text != "-1":
        units.parse_ram(text)
    return text


FLAGS = (
    FlagSpec("blkio-weight", None, "int", help="Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)"),
    FlagSpec("cap-add", None, "list", help="Add Linux capabilities"),
    FlagSpec("cap-drop", None, "list", help="Drop Linux capabilities"),
    FlagSpec("cgroup-parent", None, "string", help="Optional parent cgroup for the container"),
    FlagSpec("cgroupns", None, "string", help="Cgroup namespace to use (host|private)"),
    FlagSpec("cpu-period", None, "int", help="Limit CPU CFS (Completely Fair Scheduler) period"),
    FlagSpec("cpu-quota", None, "int", help="Limit CPU CFS (Completely Fair Scheduler) quota"),
    FlagSpec("cpu-shares", "c", "int", help="CPU shares (relative weight)"),
    FlagSpec("cpus", None, "string", convert=_cpus, metavar="decimal", help="Number of CPUs"),
    FlagSpec("cpuset-cpus", None, "string", help="CPUs in which to allow execution (0-3, 0,1)"),
    FlagSpec("cpuset-mems", None, "string", help="MEMs in which to allow execution (0-3, 0,1)"),
    FlagSpec("device", None, "list", convert=_device, help="Add a host device to the container"),
    FlagSpec("init", None, "bool", help="Run an init inside the container that forwards signals and reaps processes"),
    FlagSpec("memory", "m", "bytes", help="Memory limit"),
    FlagSpec("memory-reservation", None, "bytes", help="Memory soft limit"),
    FlagSpec("memory-swap", None, "string", convert=_swap, metavar="bytes",
             help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
    FlagSpec("memory-swappiness", None, "int", -1, help="Tune container memory swappiness (0 to 100)"),
    FlagSpec("oom-kill-disable", None, "bool", help="Disable OOM Killer"),
    FlagSpec("oom-score-adj", None, "int", help="Tune host's OOM preferences (-1000 to 1000)"),
    FlagSpec("pids-limit", None, "int", help="Tune container pids limit (set -1 for unlimited)"),
    FlagSpec("privileged", None, "bool", help="Give extended privileges to this container"),
    FlagSpec("restart", None, "string", "no", help="Restart policy to apply when a container exits"),
    FlagSpec("security-opt", None, "list", help="Security Options"),
    FlagSpec("sysctl", None, "map", convert=_sysctl, help="Sysctl options"),
    FlagSpec("ulimit", None, "list", convert=_ulimit, help="Ulimit options"),
)


class HostOptError(Exception):
    pass


def _security_opts(items: list[str]) -> list[str]:
    """docker/cli's parseSecurityOpts: a seccomp profile path is read and sent inline."""
    out = []
    for opt in items:
        key, sep, value = opt.partition("=")
        if not sep and key != "no-new-privileges":
            key, sep, value = opt.partition(":")
        if (not sep or not value) and key != "no-new-privileges":
            raise HostOptError(f"Invalid --security-opt: {units.go_quote(opt)}")
        if key == "seccomp" and value != "unconfined":
            opt = seccomp_inline(value, value)
        out.append(opt)
    return out


def seccomp_inline(name: str, path: str) -> str:
    """docker/cli's seccomp option: the profile file ``path`` (given as ``name``) read and
    sent inline as compact JSON, ``seccomp=<json>``; HostOptError worded as docker's."""
    try:
        with open(path, "rb") as f:
            doc = fastjson.loads(f.read())
    except OSError as exc:
        raise HostOptError(f"opening seccomp profile ({name}) failed: open {path}: "
                           f"{exc.strerror.lower()}") from None
    except ValueError as exc:
        raise HostOptError(f"compacting json for seccomp profile ({name}) failed: {exc}") from None
    return "seccomp=" + fastjson.dumps(doc)


def restart_policy(text: str) -> dict:
    """docker/cli's opts.ParseRestartPolicy: the name is the daemon's to check."""
    if not text:
        return {}
    name, colon, count = text.partition(":")
    if colon and not name:
        raise HostOptError("invalid restart policy format: no policy provided before colon")
    policy = {"Name": name, "MaximumRetryCount": 0}
    if count:
        digits = count[1:] if count[0] in "+-" else count  # Go's strconv.Atoi; no re: CLI start-up
        if not (digits.isascii() and digits.isdigit()) or not -2**63 <= int(count) < 2**63:
            raise HostOptError("invalid restart policy format: maximum retry count must be an integer")
        policy["MaximumRetryCount"] = int(count)
    return policy


def _ulimits(items: list[str]) -> list[dict]:
    out = []
    for text in items:
        name, _, limits = text.partition("=")
        parts = limits.split(":")
        soft = units.parse_go_int(parts[0])
        hard = units.parse_go_int(parts[1]) if len(parts) == 2 else soft
        out.append({"Name": name, "Hard": hard, "Soft": soft})
    return out


def _devices(items: list[str]) -> list[dict]:
    out = []
    for text in items:
        parts = text.split(":")
        host, inside, perms = parts[0], parts[0], "rwm"
        if len(parts) == 2:
            if all(c in "rwm" for c in parts[1]):
                perms = parts[1]
            else:
                inside = parts[1]
        elif len(parts) == 3:
            inside, perms = parts[1], parts[2]
        out.append({"PathOnHost": host, "PathInContainer": inside, "CgroupPermissions": perms})
    return out


def apply(opts, host_config: dict) -> None:
    """Add the flags' HostConfig fields to ``host_config``."""
    changed = getattr(opts, "changed", set())
    hc = host_config
    hc["CapAdd"] = opts["cap-add"] or None
    hc["CapDrop"] = opts["cap-drop"] or None
    hc["Privileged"] = opts["privileged"]
    hc["SecurityOpt"] = _security_opts(opts["security-opt"]) or None
    if opts["ulimit"]:
        hc["Ulimits"] = _ulimits(opts["ulimit"])
    if opts["sysctl"]:
        hc["Sysctls"] = dict(opts["sysctl"])
    if opts["device"]:
        hc["Devices"] = _devices(opts["device"])
    if opts["init"]:
        hc["Init"] = True
    hc["OomScoreAdj"] = opts["oom-score-adj"]
    hc["Memory"] = opts["memory"]
    hc["MemoryReservation"] = opts["memory-reservation"]
    if opts["memory-swap"]:
        hc["MemorySwap"] = -1 if opts["memory-swap"] == "-1" else units.parse_ram(opts["memory-swap"])
    if opts["memory-swappiness"] != -1:
        hc["MemorySwappiness"] = opts["memory-swappiness"]
    if opts["oom-kill-disable"]:
        hc["OomKillDisable"] = True
    if opts["cpus"]:
        hc["NanoCpus"] = round(float(opts["cpus"]) * 10**9)
    hc["CpuShares"] = opts["cpu-shares"]
    hc["CpuPeriod"] = opts["cpu-period"]
    hc["CpuQuota"] = opts["cpu-quota"]
    hc["CpusetCpus"] = opts["cpuset-cpus"]
    hc["CpusetMems"] = opts["cpuset-mems"]
    if "pids-limit" in changed:
        hc["PidsLimit"] = opts["pids-limit"]
    hc["BlkioWeight"] = opts["blkio-weight"]
    if opts["cgroupns"]:
        if opts["cgroupns"] not in ("host", "private"):
            raise HostOptError(f"--cgroupns: invalid CGROUP mode {opts['cgroupns']!r}")
        hc["CgroupnsMode"] = opts["cgroupns"]
    if opts["cgroup-parent"]:
        hc["CgroupParent"] = opts["cgroup-parent"]
    hc["RestartPolicy"] = restart_policy(opts["restart"])
    if hc.get("AutoRemove") and hc["RestartPolicy"].get("Name", "") not in ("", "no"):
        raise HostOptError("conflicting options: cannot specify both --restart and --rm")
