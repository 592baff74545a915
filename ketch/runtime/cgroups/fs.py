"""cgroupfs is only files: the few operations both managers perform on them.

Everything here works the same on the kernel's cgroupfs and on a temporary directory
standing in for it (how the unit tests run). Files are never created: a write to a
file the kernel does not provide fails with ENOENT, on both.
"""

import errno
import os
import signal
import time
from typing import Callable

from ketch.errors import Internal, InvalidArgument, KetchError, PermissionDenied, Unavailable

# What a file sets, for error messages ("cannot set memory limit 4096: ...").
_LABELS = {
    "memory.limit_in_bytes": "memory limit", "memory.max": "memory limit",
    "memory.memsw.limit_in_bytes": "memory+swap limit", "memory.swap.max": "swap limit",
    "memory.soft_limit_in_bytes": "memory reservation", "memory.low": "memory reservation",
    "memory.swappiness": "memory swappiness", "memory.oom_control": "oom killer",
    "cpu.shares": "cpu shares", "cpu.weight": "cpu weight", "cpu.cfs_quota_us": "cpu quota",
    "cpu.cfs_period_us": "cpu period", "cpu.max": "cpu quota", "cpu.cfs_burst_us": "cpu burst",
    "cpu.max.burst": "cpu burst", "cpuset.cpus": "cpuset cpus", "cpuset.mems": "cpuset mems",
    "pids.max": "pids limit", "devices.allow": "device rule", "devices.deny": "device rule",
    "blkio.weight": "blkio weight", "blkio.bfq.weight": "blkio weight", "io.weight": "io weight",
    "io.bfq.weight": "io weight", "io.max": "io limit",
}


def write(path: str, value: str) -> None:
    """One write(2), as the kernel wants for a cgroup file."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def read(path: str, default: str = "") -> str:
    try:
        with open(path) as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
        return default


def reason(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def failure(action: str, exc: OSError) -> KetchError:
    """An error of the kernel's making, outside ``apply``: ``cannot <action>: <reason>``."""
    kind = PermissionDenied if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else Internal
    return kind(f"cannot {action}: {reason(exc)}")


def clean_path(path: str) -> str:
    """cgroupsPath -> an absolute path below the hierarchy root (relative paths are taken
    from the root too); never the root itself, never ``..``."""
    parts = [p for p in path.split("/") if p not in ("", ".")] if isinstance(path, str) else []
    if not parts or ".." in parts:
        raise InvalidArgument(f"invalid linux.cgroupsPath: {path!r}")
    return "/" + "/".join(parts)


def label(key: str) -> str:
    name = os.path.basename(key)
    return _LABELS.get(name, name)


def apply_plan(plan: dict[str, str], resolve: Callable[[str], str],
               fallbacks: dict[str, tuple[str, Callable[[str], str]]]) -> None:
    """Write a plan in order; ``resolve`` maps a plan key to its path."""
    for key, value in plan.items():
        path = resolve(key)
        if key in fallbacks and not os.path.exists(path):
            key, convert = fallbacks[key]
            path, value = resolve(key), convert(value)
        for line in value.splitlines() or [value]:
            try:
                write(path, line)
            except OSError as exc:
                raise InvalidArgument(f"cannot set {label(key)} {line}: write {path}: {reason(exc)}") from None


def makedirs(path: str) -> list[str]:
    """mkdir -p; returns the directories this call created, outermost first."""
    missing = []
    p = path
    while not os.path.isdir(p):
        missing.append(p)
        p = os.path.dirname(p)
    created = []
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o755)
        except FileExistsError:
            continue
        created.append(d)
    return created


def procs(path: str) -> list[int]:
    """The processes in the cgroup at ``path`` and in every cgroup below it."""
    out = []
    for dirpath, _dirs, _files in os.walk(path):
        out += [int(x) for x in read(os.path.join(dirpath, "cgroup.procs")).split()]
    return out


def kill_all(list_pids: Callable[[], list[int]], kill_file: str | None, what: str,
             timeout: float = 5.0) -> None:
    """SIGKILL every process until none is left; ``kill_file`` is v2's cgroup.kill, if any."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while pids := list_pids():
        if time.monotonic() > deadline:
            raise Unavailable(f"cannot destroy cgroup {what}: processes {pids[:8]} did not exit")
        if kill_file is not None and os.path.exists(kill_file):
            write(kill_file, "1")  # also catches children forked after the listing
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def remove_tree(path: str, what: str, timeout: float = 5.0) -> None:
    """rmdir ``path`` and every cgroup below it, leaves first; absent is fine."""
    deadline = time.monotonic() + timeout
    for dirpath, _dirs, _files in os.walk(path, topdown=False):
        while True:
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError as exc:
                # EBUSY while the last processes finish exiting.
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise Unavailable(f"cannot remove cgroup {what}: rmdir {dirpath}: {reason(exc)}") from None
                time.sleep(0.01)


def remove_if_empty(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass


def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return True


def set_frozen_v2(path: str, frozen: bool, what: str, timeout: float = 5.0) -> None:
    """cgroup.freeze, then wait for cgroup.events to say it took effect."""
    want = "1" if frozen else "0"
    try:
        write(os.path.join(path, "cgroup.freeze"), want)
    except OSError as exc:
        raise failure(f"{'freeze' if frozen else 'thaw'} cgroup {what}", exc) from None
    events = os.path.join(path, "cgroup.events")
    if not wait_for(lambda: flat_events(read(events)).get("frozen") == want, timeout):
        if frozen:
            write(os.path.join(path, "cgroup.freeze"), "0")
        raise Unavailable(f"cannot {'freeze' if frozen else 'thaw'} cgroup {what}: "
                          f"not done after {timeout:g}s")


def flat_events(text: str) -> dict[str, str]:
    return dict(line.split(None, 1) for line in text.splitlines() if " " in line)
