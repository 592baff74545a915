"""Docker container config -> OCI ``config.json`` (pure; Docker's defaults live here as data).

The counterpart of moby's ``daemon/oci_linux.go``: everything Docker decides about a
container's process, mounts and namespaces is decided here, once, from plain inputs,
so the result can be printed and compared in tests.
"""

import posixpath
from dataclasses import dataclass

OCI_VERSION = "1.1.0"  # what runc 1.1 and crun 1.8 accept; nothing of 1.2 is used
DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

from ketch.engine.security import DEFAULT_CAPABILITIES
DEFAULT_MOUNTS = (
    {"destination": "/proc", "type": "proc", "source": "proc",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["ro", "nosuid", "noexec", "nodev"]},
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
# Docker sets these in every container with a network namespace of its own.
NETWORK_SYSCTLS = {"net.ipv4.ip_unprivileged_port_start": "0",
                   "net.ipv4.ping_group_range": "0 2147483647"}
INIT_PATH = "/sbin/docker-init"
# Docker's own mounts a read-only rootfs leaves writable (moby's withMounts)
READONLY_EXEMPT = ("/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev")


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
    capabilities: tuple[str, ...] = DEFAULT_CAPABILITIES
    privileged: bool = False
    no_new_privileges: bool = False
    seccomp: dict | None = None  # OCI linux.seccomp; None: unconfined
    unconfined_paths: bool = False  # no masked or read-only paths (privileged, systempaths)
    rlimits: tuple[dict, ...] = ()  # OCI process.rlimits
    sysctls: dict | None = None
    oom_score_adj: int = 0
    devices: tuple[dict, ...] = ()  # OCI linux.devices
    resources: dict | None = None  # OCI linux.resources
    cgroups_path: str = ""
    cgroupns: bool = False  # a private cgroup namespace
    init_path: str | None = None  # host path of the init bound at /sbin/docker-init (--init)
    netns_path: str = ""  # join this network namespace ("": a new one)
    host_network: bool = False  # --network host: no network namespace of its own
    shared_network: bool = False  # --network container:X: X's namespace (netns_path)
    link_env: tuple[str, ...] = ()  # --link variables, before the user's environment
    mounts: tuple[dict, ...] = ()  # the container's own OCI mounts (engine/volumes/mountsetup.py)
    recursive_readonly: bool = False  # the runtime takes "rro" (Docker 25+ uses it for ro binds)


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
    base += inp.link_env
    return replace_or_append_env(base, inp.env)


def _network_files(inp: SpecInput) -> list[dict]:
    """/etc/resolv.conf, /etc/hostname, /etc/hosts: mounted as the user's mounts are
    (moby's NetworkMounts), read-only with a read-only rootfs."""
    readonly = [("ro" if not inp.recursive_readonly else "rro")] if inp.readonly_rootfs else []
    return [{"destination": dest, "type": "bind", "source": src,
             "options": ["rbind", *readonly, "rprivate"]}
            for dest, src in (("/etc/resolv.conf", inp.resolv_conf_path),
                              ("/etc/hostname", inp.hostname_path), ("/etc/hosts", inp.hosts_path))]


def _depth(mount: dict) -> int:
    return posixpath.normpath(mount["destination"]).count("/")


def _mounts(inp: SpecInput) -> list[dict]:
    """moby's withMounts: Docker's own mounts but those a user mount replaces (all of
    /dev's with a user /dev), then the user's, sorted by depth so that none hides
    another (sortMounts; stable, as Go's sort is for so few)."""
    # a relative destination (an image's ``VOLUME rel``, kept as written in Config.Volumes
    # and the mount point) is under the root: runc resolves it so for moby
    user = [m if m["destination"].startswith("/") else dict(m, destination="/" + m["destination"])
            for m in inp.mounts]
    covered = {m["destination"] for m in user}
    user += [m for m in _network_files(inp) if m["destination"] not in covered]
    covered = {m["destination"] for m in user}
    own = list(DEFAULT_MOUNTS)
    own.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777",
                            f"size={inp.shm_size or DEFAULT_SHM_SIZE}"]})
    if inp.init_path:
        own.append({"destination": INIT_PATH, "type": "bind", "source": inp.init_path,
                    "options": ["bind", "ro"]})
    mounts = []
    for m in own:
        dest = m["destination"]
        if dest in covered or ("/dev" in covered and dest.startswith("/dev/")):
            continue
        options = list(m["options"])
        if inp.readonly_rootfs and dest not in READONLY_EXEMPT and "ro" not in options:
            options.append("ro")
        if inp.privileged and m["type"] in ("sysfs", "cgroup"):
            options = [o for o in options if o != "ro"] + ["rw"]  # privileged: writable /sys
        mounts.append(dict(m, options=options))
    return mounts + sorted((dict(m, options=list(m["options"])) for m in user), key=_depth)


def rootfs_propagation(mounts: list[dict]) -> str:
    """moby's withMounts: a shared bind needs a shared root, a slave one at least rslave."""
    propagation = ""
    for m in mounts:
        options = m.get("options") or ()
        if m["type"] != "bind":
            continue
        if any(o in ("shared", "rshared") for o in options):
            if propagation not in ("shared", "rshared"):
                propagation = "shared"
        elif any(o in ("slave", "rslave") for o in options):
            if propagation not in ("shared", "rshared", "slave", "rslave"):
                propagation = "rslave"
    return propagation


def _linux(inp: SpecInput, mounts: list[dict]) -> dict:
    namespaces = []
    for ns in NAMESPACES:
        if ns == "network" and inp.host_network:
            continue
        namespaces.append({"type": ns, "path": inp.netns_path} if ns == "network" and inp.netns_path
                          else {"type": ns})
    namespaces += [{"type": "cgroup"}] if inp.cgroupns else []
    own_network = not (inp.host_network or inp.shared_network)
    linux: dict = {"sysctl": {**(NETWORK_SYSCTLS if own_network else {}), **(inp.sysctls or {})}}
    if inp.resources is not None:
        linux["resources"] = inp.resources
    if inp.cgroups_path:
        linux["cgroupsPath"] = inp.cgroups_path
    propagation = rootfs_propagation(mounts)
    if propagation:
        linux["rootfsPropagation"] = propagation
    linux["namespaces"] = namespaces
    if inp.devices:
        linux["devices"] = list(inp.devices)
    if inp.seccomp is not None:
        linux["seccomp"] = inp.seccomp
    if not (inp.privileged or inp.unconfined_paths):
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    return linux


def build(inp: SpecInput) -> dict:
    caps = list(inp.capabilities)
    mounts = _mounts(inp)
    args = [INIT_PATH, "--"] + list(inp.args) if inp.init_path else list(inp.args)
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": inp.tty,
            "user": {"uid": inp.uid, "gid": inp.gid,
                     **({"additionalGids": list(inp.additional_gids)} if inp.additional_gids else {})},
            "args": args,
            "env": process_env(inp),
            **({"consoleSize": {"height": inp.console_size[0], "width": inp.console_size[1]}}
               if inp.tty and inp.console_size and any(inp.console_size) else {}),
            "cwd": inp.working_dir or "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            **({"rlimits": list(inp.rlimits)} if inp.rlimits else {}),
            "noNewPrivileges": inp.no_new_privileges,
            "oomScoreAdj": inp.oom_score_adj,
        },
        "root": {"path": inp.rootfs, "readonly": inp.readonly_rootfs},
        "hostname": inp.hostname,
        **({"domainname": inp.domainname} if inp.domainname else {}),
        "mounts": mounts,
        "linux": _linux(inp, mounts),
    }
