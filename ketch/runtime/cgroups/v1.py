"""cgroup v1 (and hybrid): one directory per hierarchy, all at the same cgroupsPath.

    <root>/                     tmpfs
        cpu,cpuacct/ketch/<id>  a hierarchy per mount; cpu -> cpu,cpuacct symlinks are
        memory/ketch/<id>       how most hosts name co-mounted controllers
        systemd/ketch/<id>      named hierarchies are joined too (runc does)
        unified/ketch/<id>      hybrid hosts: the cgroup2 tree, processes only

A hierarchy is a directory of ``<root>`` holding ``cgroup.procs``; its controllers are
the comma-separated parts of its name. Controllers that are not mounted can hold no
limits: asking for one is an error rather than a silent no-op.
"""

import os

from ketch.errors import InvalidArgument, Unavailable
from ketch.runtime.cgroups import fs
from ketch.runtime.cgroups import stats as st
from ketch.runtime.cgroups.plan import FALLBACKS, plan_v1
from ketch.runtime.cgroups.resources import parse

_MEMSW = "memory/memory.memsw.limit_in_bytes"
_LIMIT = "memory/memory.limit_in_bytes"


class V1Manager:
    version = "v1"

    def __init__(self, path: str, root: str = "/sys/fs/cgroup"):
        self.path = fs.clean_path(path)
        self.root = root
        self._created: list[str] = []
        self._controllers: dict[str, str] | None = None

    # --- layout ---------------------------------------------------------------------
    def controllers(self) -> dict[str, str]:
        """controller -> its hierarchy's mount directory."""
        if self._controllers is None:
            found: dict[str, str] = {}
            names = sorted(os.listdir(self.root)) if os.path.isdir(self.root) else []
            # Mounts before the symlinks to them, so a hierarchy goes by its own name.
            names.sort(key=lambda n: os.path.islink(os.path.join(self.root, n)))
            for name in names:
                mount = os.path.join(self.root, name)
                if name == "unified" or not os.path.exists(os.path.join(mount, "cgroup.procs")):
                    continue
                for controller in name.split(","):
                    found.setdefault(controller, mount)
            self._controllers = found
        return self._controllers

    def _unified(self) -> str | None:
        mount = os.path.join(self.root, "unified")
        return mount if os.path.exists(os.path.join(mount, "cgroup.controllers")) else None

    def dirs(self) -> list[str]:
        """This cgroup's directory in every hierarchy (the unified one last)."""
        seen, out = set(), []
        for mount in self.controllers().values():
            real = os.path.realpath(mount)
            if real not in seen:
                seen.add(real)
                out.append(mount + self.path)
        unified = self._unified()
        return out + ([unified + self.path] if unified else [])

    def _dir(self, controller: str) -> str | None:
        mount = self.controllers().get(controller)
        return mount + self.path if mount else None

    # --- Manager ---------------------------------------------------------------------
    def create(self) -> None:
        try:
            for d in self.dirs():
                self._created += fs.makedirs(d)
            if "cpuset" in self.controllers():
                self._inherit_cpuset(self.controllers()["cpuset"])
        except OSError as exc:
            self._remove_created()
            raise fs.failure(f"create cgroup {self.path}", exc) from None

    def _inherit_cpuset(self, mount: str) -> None:
        # A new cpuset cgroup starts with empty cpus and mems and refuses tasks until
        # they are set: copy them down from the nearest ancestor, as runc does.
        parent = mount
        for part in self.path.strip("/").split("/"):
            d = os.path.join(parent, part)
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not fs.read(os.path.join(d, name)).strip():
                    fs.write(os.path.join(d, name), fs.read(os.path.join(parent, name)).strip())
            parent = d

    def apply(self, resources: dict) -> None:
        plan = plan_v1(parse(resources))
        for key, value in plan.items():
            controller, _ = key.split("/", 1)
            if controller not in self.controllers():
                raise InvalidArgument(f"cannot set {fs.label(key)} {value.splitlines()[0]}: the "
                                      f"{controller} cgroup controller is not mounted under {self.root}")
        if _MEMSW in plan and not os.path.exists(self._path(_MEMSW)):
            if plan[_MEMSW] != "-1":
                raise InvalidArgument(f"cannot set memory+swap limit {plan[_MEMSW]}: the kernel "
                                      "does not account swap (boot with swapaccount=1)")
            del plan[_MEMSW]
        if _LIMIT in plan and _MEMSW in plan:
            plan = order_memory(plan, st.limit(fs.read(self._path(_LIMIT))))
        fs.apply_plan(plan, self._path, FALLBACKS)

    update = apply

    def _path(self, key: str) -> str:
        controller, name = key.split("/", 1)
        return os.path.join(self.controllers()[controller] + self.path, name)

    def add(self, pid: int) -> None:
        for d in self.dirs():
            try:
                fs.write(os.path.join(d, "cgroup.procs"), str(pid))
            except OSError as exc:
                raise fs.failure(f"add process {pid} to cgroup {d}", exc) from None

    def pids(self) -> list[int]:
        return sorted({pid for d in self.dirs() for pid in fs.procs(d)})

    def stats(self) -> st.Stats:
        def read(controller: str, name: str) -> str:
            d = self._dir(controller)
            return fs.read(os.path.join(d, name)) if d else ""

        user, system = read("cpuacct", "cpuacct.usage_user"), read("cpuacct", "cpuacct.usage_sys")
        if user:
            user_ns, system_ns = st.integer(user), st.integer(system)
        else:
            ticks = st.flat_keyed(read("cpuacct", "cpuacct.stat"))
            per_tick = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
            user_ns, system_ns = ticks.get("user", 0) * per_tick, ticks.get("system", 0) * per_tick
        throttling = st.flat_keyed(read("cpu", "cpu.stat"))
        cpu = st.CpuStats(
            total_ns=st.integer(read("cpuacct", "cpuacct.usage")), user_ns=user_ns, system_ns=system_ns,
            per_cpu_ns=tuple(int(x) for x in read("cpuacct", "cpuacct.usage_percpu").split()),
            periods=throttling.get("nr_periods", 0), throttled_periods=throttling.get("nr_throttled", 0),
            throttled_time_ns=throttling.get("throttled_time", 0))
        memory = st.MemoryStats(
            usage=st.integer(read("memory", "memory.usage_in_bytes")),
            limit=st.limit(read("memory", "memory.limit_in_bytes")),
            max_usage=st.integer(read("memory", "memory.max_usage_in_bytes")),
            failcnt=st.integer(read("memory", "memory.failcnt")),
            stats=st.flat_keyed(read("memory", "memory.stat")))
        pids = st.PidsStats(st.integer(read("pids", "pids.current")), st.limit(read("pids", "pids.max")))
        blkio = st.BlkioStats()
        for prefix in ("blkio.", "blkio.bfq.", "blkio.throttle."):
            blkio = st.BlkioStats(st.blkio_v1(read("blkio", prefix + "io_service_bytes_recursive")),
                                  st.blkio_v1(read("blkio", prefix + "io_serviced_recursive")))
            if blkio.io_service_bytes or blkio.io_serviced:
                break
        oom = st.flat_keyed(read("memory", "memory.oom_control"))
        return st.Stats(cpu, memory, pids, blkio, oom.get("oom_kill", 0))

    def oom_killed(self) -> bool:
        d = self._dir("memory")
        oom = st.flat_keyed(fs.read(os.path.join(d, "memory.oom_control"))) if d else {}
        return oom.get("oom_kill", 0) > 0 or oom.get("under_oom", 0) == 1

    def freeze(self) -> None:
        self._set_frozen(True)

    def thaw(self) -> None:
        self._set_frozen(False)

    def _set_frozen(self, frozen: bool) -> None:
        d = self._dir("freezer")
        if d is None:
            unified = self._unified()
            if unified is None:
                raise InvalidArgument(f"cannot freeze cgroup {self.path}: no freezer cgroup is mounted")
            fs.set_frozen_v2(unified + self.path, frozen, self.path)
            return
        path, want = os.path.join(d, "freezer.state"), "FROZEN" if frozen else "THAWED"

        def done() -> bool:
            # Writing again is what unsticks a cgroup left in FREEZING (runc does the same).
            fs.write(path, want)
            return fs.read(path).strip() == want

        try:
            ok = fs.wait_for(done, 5.0)
        except OSError as exc:
            raise fs.failure(f"{'freeze' if frozen else 'thaw'} cgroup {self.path}", exc) from None
        if not ok:
            if frozen:
                fs.write(path, "THAWED")
            raise Unavailable(f"cannot {'freeze' if frozen else 'thaw'} cgroup {self.path}: "
                              f"{fs.read(path).strip()} after 5s")

    def destroy(self) -> None:
        freezer = self._dir("freezer")
        if freezer and fs.read(os.path.join(freezer, "freezer.state")).strip() not in ("", "THAWED"):
            fs.write(os.path.join(freezer, "freezer.state"), "THAWED")  # frozen tasks cannot die
        unified = self._unified()
        fs.kill_all(self.pids, unified + self.path + "/cgroup.kill" if unified else None, self.path)
        for d in self.dirs():
            fs.remove_tree(d, self.path)
        self._remove_created()

    def _remove_created(self) -> None:
        for d in reversed(self._created):
            fs.remove_if_empty(d)
        self._created = []


def order_memory(plan: dict[str, str], current_limit: int | None) -> dict[str, str]:
    """Put memory+swap before the memory limit when it raises the limit.

    The kernel keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every
    write, so which goes first depends on the current limit (runc's setMemoryAndSwap).
    """
    if _LIMIT not in plan or _MEMSW not in plan:
        return plan
    swap = int(plan[_MEMSW])
    if swap != -1 and (current_limit is None or current_limit >= swap):
        return plan
    out = {}
    for key, value in plan.items():
        if key == _LIMIT:
            out[_MEMSW] = plan[_MEMSW]
        if key != _MEMSW:
            out[key] = value
    return out
