"""A container's cgroup, on cgroup v1 or v2: plans as data, applied thinly.

    resources.parse    OCI linux.resources -> Resources (validated, errors name the field)
    plan.plan_v1/_v2   Resources -> {file: value}, in write order (pure, golden-tested)
    v1.V1Manager       the plan written into every v1 hierarchy (+ the hybrid cgroup2 tree)
    v2.V2Manager       the plan written into the one v2 directory (+ a device BPF program)
    stats              the same Stats read from either

The root is injected (``root=``), never assumed: tests pass a temporary directory
standing in for cgroupfs, and a v2 tree mounted anywhere works the same as
/sys/fs/cgroup.
"""

import os
from typing import Protocol

from ketch.errors import InvalidArgument
from ketch.runtime.cgroups.plan import plan_v1, plan_v2
from ketch.runtime.cgroups.resources import parse
from ketch.runtime.cgroups.stats import Stats
from ketch.runtime.cgroups.v1 import V1Manager
from ketch.runtime.cgroups.v2 import V2Manager

__all__ = ["Manager", "Stats", "V1Manager", "V2Manager", "detect", "manager", "plan"]


def detect(root: str = "/sys/fs/cgroup") -> str:
    """``"v2"`` if ``root`` is a cgroup2 mount, else ``"v1"`` (hybrid hosts included: their
    cgroup2 tree at ``<root>/unified`` holds processes but no controllers)."""
    return "v2" if os.path.exists(os.path.join(root, "cgroup.controllers")) else "v1"


def plan(resources: dict, version: str) -> dict[str, str]:
    """OCI ``linux.resources`` -> ``{file: value}`` in write order; see ``plan.py`` for the format."""
    if version == "v1":
        return plan_v1(parse(resources))
    if version == "v2":
        return plan_v2(parse(resources))
    raise InvalidArgument(f"unknown cgroup version {version!r}")


class Manager(Protocol):
    """One container's cgroup, in every hierarchy the host has.

    Errors are ``ketch.errors``: ``InvalidArgument`` for a value the kernel refused
    (naming the file and value), ``PermissionDenied`` when cgroupfs is not writable,
    ``Unavailable`` when processes will not freeze or die in time.
    """

    path: str     # cgroupsPath, absolute below the hierarchy root: "/ketch/<id>"
    version: str  # "v1" or "v2"

    def create(self) -> None:
        """mkdir the cgroup and any missing parents (v1: cpuset inherited from the parent;
        v2: cpu, io, memory and pids enabled in the parents). Undone on failure."""

    def apply(self, resources: dict) -> None:
        """Write ``plan(resources)``. Also what ``docker update`` calls (``update``)."""

    def update(self, resources: dict) -> None:
        """``apply`` with a partial ``linux.resources``: only the fields given change."""

    def add(self, pid: int) -> None:
        """Move ``pid`` (its whole thread group) into the cgroup in every hierarchy."""

    def pids(self) -> list[int]:
        """Every process in the cgroup and below it, sorted."""

    def stats(self) -> Stats:
        ...

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer has killed a process here."""

    def freeze(self) -> None:
        """Freeze every process, returning once the kernel reports it frozen."""

    def thaw(self) -> None:
        ...

    def destroy(self) -> None:
        """SIGKILL what is left, wait for it, rmdir the cgroup (and cgroups below it, and
        parents this object created), leaf first. Idempotent."""


def manager(path: str, root: str = "/sys/fs/cgroup") -> Manager:
    """The manager for ``cgroupsPath`` ``path`` on the host whose cgroupfs is at ``root``."""
    return V2Manager(path, root) if detect(root) == "v2" else V1Manager(path, root)


def remove_parent(path: str, root: str = "/sys/fs/cgroup") -> None:
    """Remove a parent cgroup (ketchd's "/ketch") in every hierarchy if nothing is left in it."""
    from ketch.runtime.cgroups import fs
    m = manager(path, root)
    for directory in (m.dirs() if isinstance(m, V1Manager) else [m.dir]):
        fs.remove_if_empty(directory)


def warm_attach(root: str = "/sys/fs/cgroup") -> None:
    """Write this process into the cgroup it is already in: a move that changes nothing
    but takes the kernel's cgroup attach lock. On a quiet host the first write to
    cgroup.procs waits for an RCU grace period (10-20 ms on a small VM) and later ones
    do not; done while a container is being prepared, that wait overlaps the work
    instead of delaying the container's own placement."""
    from ketch.runtime.cgroups import fs
    with open("/proc/self/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    if detect(root) == "v2":
        target = root + next(path for _hid, ctrl, path in lines if ctrl == "")
    else:
        pids = next((path for _hid, ctrl, path in lines if "pids" in ctrl.split(",")), None)
        if pids is None or not os.path.isdir(os.path.join(root, "pids")):
            return
        target = os.path.join(root, "pids") + pids
    try:
        fs.write(os.path.join(target, "cgroup.procs"), str(os.getpid()))
    except OSError:
        pass  # only an optimisation
