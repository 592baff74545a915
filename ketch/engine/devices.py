"""Host devices given to a container: ``--device`` and ``--privileged`` (moby's devices code)."""

import os
import stat

from ketch.errors import InvalidArgument

# Not devices of the host but per-container filesystems, or udev's bookkeeping.
_SKIP_DIRS = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}
ALLOW_ALL = {"allow": True, "access": "rwm"}


def _device(host_path: str, container_path: str, st: os.stat_result) -> dict:
    kind = "c" if stat.S_ISCHR(st.st_mode) else "b"
    return {"path": container_path, "type": kind, "major": os.major(st.st_rdev),
            "minor": os.minor(st.st_rdev), "fileMode": stat.S_IMODE(st.st_mode),
            "uid": st.st_uid, "gid": st.st_gid}


def _rule(dev: dict, access: str) -> dict:
    return {"allow": True, "type": dev["type"], "major": dev["major"], "minor": dev["minor"],
            "access": access}


def _walk(root: str):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS or dirpath != root]
        for name in sorted(filenames):
            yield os.path.join(dirpath, name)


def resolve(requests: list[dict]) -> tuple[list[dict], list[dict]]:
    """HostConfig.Devices -> (OCI linux.devices, device cgroup rules)."""
    devices, rules = [], []
    for req in requests or []:
        host = req.get("PathOnHost") or ""
        inside = req.get("PathInContainer") or host
        access = req.get("CgroupPermissions") or "rwm"
        if not host or any(c not in "rwm" for c in access):
            raise InvalidArgument(f"invalid device mapping: {host}:{inside}:{access}")
        try:
            st = os.stat(host)
        except OSError as exc:
            raise InvalidArgument(f'error gathering device information while adding custom '
                                  f'device "{host}": {exc.strerror.lower()}') from None
        if stat.S_ISDIR(st.st_mode):
            paths = [(p, os.path.join(inside, os.path.relpath(p, host))) for p in _walk(host)]
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            paths = [(host, inside)]
        else:
            raise InvalidArgument(f'error gathering device information while adding custom '
                                  f'device "{host}": not a device node')
        for h, c in paths:
            try:
                sub = os.stat(h)
            except OSError:
                continue
            if stat.S_ISCHR(sub.st_mode) or stat.S_ISBLK(sub.st_mode):
                dev = _device(h, c, sub)
                devices.append(dev)
                rules.append(_rule(dev, access))
    return devices, rules


def host_devices() -> list[dict]:
    """Every device node under the host's /dev (what --privileged gives a container)."""
    out = []
    for path in _walk("/dev"):
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            if path in ("/dev/console", "/dev/ptmx"):
                continue  # the container gets its own console, and ptmx of its own devpts
            out.append(_device(path, path, st))
    return out
