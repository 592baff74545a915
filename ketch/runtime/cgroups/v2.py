"""cgroup v2: one tree, one directory per container, controllers enabled from the top down.

    <root>/                  cgroup.subtree_control: +cpu +io +memory +pids
        ketch/               cgroup.subtree_control: the same (no processes here)
            <id>/            the container: cgroup.procs, memory.max, ...

A controller's files appear in a cgroup only once every ancestor lists it in
``cgroup.subtree_control``. ``create`` enables what ``stats`` reads (cpu, io, memory,
pids) wherever the parent offers it; ``apply`` enables whatever else its plan needs
(cpuset, hugetlb, rdma, ...) and fails, naming the file, if the host cannot.
The device controller is a BPF program attached to the container's directory.
"""

import errno
import os

from ketch.errors import InvalidArgument
from ketch.linux import bpf
from ketch.runtime.cgroups import devices as devs
from ketch.runtime.cgroups import fs
from ketch.runtime.cgroups import stats as st
from ketch.runtime.cgroups.plan import FALLBACKS, controllers_v2, plan_v2
from ketch.runtime.cgroups.resources import parse

DEFAULT_CONTROLLERS = ("cpu", "io", "memory", "pids")


class V2Manager:
    version = "v2"

    def __init__(self, path: str, root: str = "/sys/fs/cgroup"):
        self.path = fs.clean_path(path)
        self.root = root
        self.dir = root + self.path
        self._created: list[str] = []

    def create(self) -> None:
        try:
            self._created += fs.makedirs(self.dir)
            self._enable(DEFAULT_CONTROLLERS)  # where offered: the host decides
        except OSError as exc:
            self._remove_created()
            raise fs.failure(f"create cgroup {self.path}", exc) from None

    def _enable(self, controllers) -> dict[str, str]:
        """Enable ``controllers`` in the subtree_control of the root and every ancestor;
        returns why each one that could not be enabled could not."""
        failed: dict[str, str] = {}
        parents = [self.root]
        for part in self.path.strip("/").split("/")[:-1]:
            parents.append(os.path.join(parents[-1], part))
        for parent in parents:
            available = fs.read(os.path.join(parent, "cgroup.controllers")).split()
            enabled = fs.read(os.path.join(parent, "cgroup.subtree_control")).split()
            for c in controllers:
                if c in enabled or c in failed:
                    continue
                if c not in available:
                    failed[c] = f"cgroup {parent} does not offer it"
                    continue
                try:
                    fs.write(os.path.join(parent, "cgroup.subtree_control"), f"+{c}")
                except OSError as exc:
                    failed[c] = f"cannot enable it in {parent}: {fs.reason(exc)}"
        return failed

    def apply(self, resources: dict) -> None:
        res = parse(resources)
        plan = plan_v2(res)
        rules = plan.pop("devices", None)
        failed = self._enable(controllers_v2(plan))
        for key, value in plan.items():
            controller = key.split(".", 1)[0]
            if controller in failed:
                raise InvalidArgument(f"cannot set {fs.label(key)} {value.splitlines()[0]}: the "
                                      f"{controller} cgroup controller is not available: {failed[controller]}")
        if res.check_before_update and res.memory_limit > 0:
            usage = st.integer(fs.read(os.path.join(self.dir, "memory.current")))
            if usage > res.memory_limit:
                raise InvalidArgument(f"cannot set memory limit {res.memory_limit}: "
                                      f"current usage {usage} is higher")
        fs.apply_plan(plan, lambda key: os.path.join(self.dir, key), FALLBACKS)
        if rules is not None:
            self._set_devices(rules)

    update = apply

    def _set_devices(self, rules: str) -> None:
        insns = devs.encode(devs.program(*devs.from_text(rules)))
        try:
            dirfd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise InvalidArgument(f"cannot set device rules: open {self.dir}: {fs.reason(exc)}") from None
        try:
            old = bpf.prog_query(dirfd)
            prog = bpf.prog_load_cgroup_device(insns)
            try:
                bpf.prog_attach(dirfd, prog)
            finally:
                os.close(prog)
            # Both programs run until the old one is gone: the window is only stricter.
            for prog_id in old:
                try:
                    fd = bpf.prog_get_fd_by_id(prog_id)
                except OSError as exc:
                    if exc.errno == errno.ENOENT:
                        continue
                    raise
                try:
                    bpf.prog_detach(dirfd, fd)
                finally:
                    os.close(fd)
        except OSError as exc:
            raise InvalidArgument(f"cannot set device rules on {self.dir}: bpf: {fs.reason(exc)}") from None
        finally:
            os.close(dirfd)

    def add(self, pid: int) -> None:
        try:
            fs.write(os.path.join(self.dir, "cgroup.procs"), str(pid))
        except OSError as exc:
            raise fs.failure(f"add process {pid} to cgroup {self.dir}", exc) from None

    def pids(self) -> list[int]:
        return sorted(set(fs.procs(self.dir)))

    def stats(self) -> st.Stats:
        def read(name: str) -> str:
            return fs.read(os.path.join(self.dir, name))

        cpu = st.flat_keyed(read("cpu.stat"))
        events = st.flat_keyed(read("memory.events"))
        return st.Stats(
            cpu=st.CpuStats(
                total_ns=cpu.get("usage_usec", 0) * 1000, user_ns=cpu.get("user_usec", 0) * 1000,
                system_ns=cpu.get("system_usec", 0) * 1000, periods=cpu.get("nr_periods", 0),
                throttled_periods=cpu.get("nr_throttled", 0),
                throttled_time_ns=cpu.get("throttled_usec", 0) * 1000),
            memory=st.MemoryStats(
                usage=st.integer(read("memory.current")), limit=st.limit(read("memory.max")),
                max_usage=st.integer(read("memory.peak")), failcnt=events.get("max", 0),
                stats=st.flat_keyed(read("memory.stat"))),
            pids=st.PidsStats(st.integer(read("pids.current")), st.limit(read("pids.max"))),
            blkio=st.io_stat_v2(read("io.stat")),
            oom_kill=events.get("oom_kill", 0))

    def oom_killed(self) -> bool:
        return st.flat_keyed(fs.read(os.path.join(self.dir, "memory.events"))).get("oom_kill", 0) > 0

    def freeze(self) -> None:
        fs.set_frozen_v2(self.dir, True, self.path)

    def thaw(self) -> None:
        fs.set_frozen_v2(self.dir, False, self.path)

    def destroy(self) -> None:
        # A frozen v2 cgroup still delivers SIGKILL: no thaw needed.
        fs.kill_all(self.pids, os.path.join(self.dir, "cgroup.kill"), self.path)
        fs.remove_tree(self.dir, self.path)
        self._remove_created()

    def _remove_created(self) -> None:
        for d in reversed(self._created):
            fs.remove_if_empty(d)
        self._created = []
