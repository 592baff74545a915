"""Linux capabilities: names, the five sets, and applying them in runc's order.

The host may not be able to grant every capability (this one's bounding set lacks
CAP_SYS_RESOURCE): what is asked for is intersected with what the runtime holds, so
``--privileged`` means every capability the host can grant instead of a failure.
"""

import errno

from ketch.errors import InvalidArgument
from ketch.linux import syscalls as sc

NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
    "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON",
    "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
NUMBERS = {name: i for i, name in enumerate(NAMES)}
SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")


def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return len(NAMES) - 1


def mask(names: list[str], field: str) -> int:
    out = 0
    for name in names:
        if name not in NUMBERS:
            raise InvalidArgument(f'unknown capability "{name}" in {field}')
        out |= 1 << NUMBERS[name]
    return out


def parse(doc: dict) -> dict[str, int]:
    """OCI ``process.capabilities`` -> {set name: bit mask}; unknown names are errors."""
    return {s: mask(list(doc.get(s) or []), f"process.capabilities.{s}") for s in SETS}


def drop_bounding(bounding: int) -> None:
    """Drop every capability outside ``bounding`` from this process's bounding set."""
    for cap in range(last_cap() + 1):
        if not bounding & (1 << cap):
            try:
                sc.prctl(sc.PR_CAPBSET_DROP, cap)
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # a capability this kernel does not know
                    raise


def apply(sets: dict[str, int]) -> None:
    """Set effective, permitted, inheritable and ambient, limited to what we hold."""
    _eff, held, _inh = sc.capget()
    permitted = sets["permitted"] & held
    effective = sets["effective"] & permitted
    inheritable = sets["inheritable"] & held
    sc.capset(effective, permitted, inheritable)
    sc.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_CLEAR_ALL)
    ambient = sets["ambient"] & permitted & inheritable
    for cap in range(last_cap() + 1):
        if ambient & (1 << cap):
            sc.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_RAISE, cap)
