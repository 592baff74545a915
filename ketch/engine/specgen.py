"""Docker container config -> OCI ``config.json`` (pure; Docker's defaults live here as data).

The counterpart of moby's ``daemon/oci_linux.go``: everything Docker decides about a
container's process, mounts and namespaces is decided here, once, from plain inputs,
so the result can be printed and compared in tests.
"""

from dataclasses import dataclass

OCI_VERSION = "1.2.0"
DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)
DEFAULT_MOUNTS = (
    {"destination": "/proc", "type": "proc", "source": "proc",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
)
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
NAMESPACES = ("pid", "ipc", "uts", "mount", "network")
DEFAULT_SHM_SIZE = 64 * 1024 * 1024


@dataclass(frozen=True)
class SpecInput:
    """What the engine knows about a container when it starts it."""
    rootfs: str
    args: list[str]
    env: list[str]  # Config.Env, already merged with the image's
    hostname: str
    domainname: str
    working_dir: str
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    tty: bool
    hostname_path: str
    hosts_path: str
    resolv_conf_path: str
    readonly_rootfs: bool = False
    shm_size: int = 0
    console_size: tuple[int, int] | None = None  # HostConfig.ConsoleSize, for a TTY


def replace_or_append_env(base: list[str], overrides: list[str]) -> list[str]:
    """Docker's ReplaceOrAppendEnvValues: same key replaces in place, else appends."""
    out: list[str | None] = list(base)
    index = {e.split("=", 1)[0]: i for i, e in enumerate(out)}
    for item in overrides:
        key, sep, _ = item.partition("=")
        if not sep:  # a bare name unsets the variable
            if key in index:
                out[index[key]] = None
            continue
        if key in index and out[index[key]] is not None:
            out[index[key]] = item
        else:
            index[key] = len(out)
            out.append(item)
    return [e for e in out if e is not None]


def process_env(inp: SpecInput) -> list[str]:
    base = [DEFAULT_PATH_ENV, f"HOSTNAME={inp.hostname}"]
    if inp.tty:
        base.append("TERM=xterm")
    return replace_or_append_env(base, inp.env)


def _mounts(inp: SpecInput) -> list[dict]:
    mounts = [dict(m, options=list(m["options"])) for m in DEFAULT_MOUNTS]
    mounts.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                   "options": ["nosuid", "noexec", "nodev", "mode=1777",
                               f"size={inp.shm_size or DEFAULT_SHM_SIZE}"]})
    for dest, src in (("/etc/resolv.conf", inp.resolv_conf_path),
                      ("/etc/hostname", inp.hostname_path), ("/etc/hosts", inp.hosts_path)):
        options = ["rbind", "rprivate"] + (["ro"] if inp.readonly_rootfs else [])
        mounts.append({"destination": dest, "type": "bind", "source": src, "options": options})
    return mounts


def build(inp: SpecInput) -> dict:
    caps = list(DEFAULT_CAPABILITIES)
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": inp.tty,
            "user": {"uid": inp.uid, "gid": inp.gid,
                     **({"additionalGids": list(inp.additional_gids)} if inp.additional_gids else {})},
            "args": list(inp.args),
            "env": process_env(inp),
            **({"consoleSize": {"height": inp.console_size[0], "width": inp.console_size[1]}}
               if inp.tty and inp.console_size and any(inp.console_size) else {}),
            "cwd": inp.working_dir or "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": False,
        },
        "root": {"path": inp.rootfs, "readonly": inp.readonly_rootfs},
        "hostname": inp.hostname,
        **({"domainname": inp.domainname} if inp.domainname else {}),
        "mounts": _mounts(inp),
        "linux": {
            "namespaces": [{"type": ns} for ns in NAMESPACES],
            "maskedPaths": list(MASKED_PATHS),
            "readonlyPaths": list(READONLY_PATHS),
        },
    }
