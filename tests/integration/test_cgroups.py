"""The cgroup managers on the real kernel: limits read back and enforced, OOM, freezer,
the device controller, destroy.

Every test works below a cgroup of its own, /ketch-test-<pid>-<n>, in every hierarchy;
the ``cg`` fixture removes it afterwards even if the test failed (with its own code,
not the manager's), killing only processes found inside it. Processes are started by
the test, told to go only once they are in the cgroup, and killed by pid.

The host's manager is whatever ``manager()`` picks (v1 on a v1 or hybrid host). On a
hybrid host the v2 manager is also run for real on the cgroup2 tree at
<root>/unified: it has no controllers there, but processes, freezing and the BPF
device program all work.
"""

import errno
import itertools
import os
import select
import signal
import subprocess
import sys
import time

import pytest

from ketch.errors import InvalidArgument
from ketch.runtime import cgroups
from ketch.runtime.cgroups import V2Manager

ROOT = "/sys/fs/cgroup"
UNIFIED = os.path.join(ROOT, "unified")
HYBRID = cgroups.detect(ROOT) == "v1" and os.path.exists(os.path.join(UNIFIED, "cgroup.controllers"))
MiB = 1 << 20

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not os.path.isdir(ROOT) or not os.access(ROOT, os.W_OK), reason="no writable cgroupfs"),
]

_serial = itertools.count()


def _hierarchies() -> list[str]:
    out, seen = [], set()
    for name in sorted(os.listdir(ROOT)):
        mount = os.path.join(ROOT, name)
        real = os.path.realpath(mount)
        if os.path.exists(os.path.join(mount, "cgroup.procs")) and real not in seen:
            seen.add(real)
            out.append(mount)
    return out


def _remove(tops: list[str]) -> None:
    """rmdir every cgroup at and below ``tops``, thawing them and killing what is inside
    first (only ever our own processes: the directories are this test's)."""
    for _ in range(200):
        tops = [t for t in tops if os.path.exists(t)]
        if not tops:
            return
        walks = [list(os.walk(t, topdown=False)) for t in tops]
        for walk in walks:
            for dirpath, _dirs, _files in walk:
                for name, thawed in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
                    if os.path.exists(os.path.join(dirpath, name)):
                        with open(os.path.join(dirpath, name), "w") as f:
                            f.write(thawed)
        for walk in walks:
            for dirpath, _dirs, _files in walk:
                with open(os.path.join(dirpath, "cgroup.procs")) as f:
                    for pid in f.read().split():
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except ProcessLookupError:
                            pass
        for walk in walks:
            for dirpath, _dirs, _files in walk:
                try:
                    os.rmdir(dirpath)
                except OSError:
                    pass
        time.sleep(0.02)
    raise AssertionError(f"could not remove {tops}")


class Children:
    """Processes this test started; each waits for a line on stdin before its real work."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, code: str, **kw) -> subprocess.Popen:
        script = "import sys\nsys.stdin.readline()\n" + code
        p = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
        self.procs.append(p)
        return p

    @staticmethod
    def go(p: subprocess.Popen) -> None:
        p.stdin.write("go\n")
        p.stdin.flush()

    def kill_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
            for pipe in (p.stdin, p.stdout, p.stderr):
                pipe.close()


@pytest.fixture
def children():
    c = Children()
    try:
        yield c
    finally:
        c.kill_all()


@pytest.fixture
def cg(request, children):
    """A unique parent path, removed from every hierarchy afterwards (before ``children``
    reaps its processes: a frozen one cannot die until its cgroup is thawed)."""
    parent = f"/ketch-test-{os.getpid()}-{next(_serial)}"
    failed = request.session.testsfailed
    yield parent
    leftovers = [mount + parent for mount in _hierarchies() if os.path.exists(mount + parent)]
    _remove(leftovers)
    # A test that passed destroyed its cgroup: anything left is the manager's fault.
    if request.session.testsfailed == failed:
        assert not leftovers, f"left behind: {leftovers}"


def cgfile(m, controller: str, v1name: str, v2name: str) -> str:
    if m.version == "v2":
        return os.path.join(m.dir, v2name)
    return os.path.join(m.controllers()[controller] + m.path, v1name)


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def test_limits_are_written_and_the_process_joins(cg, children):
    m = cgroups.manager(f"{cg}/c1")
    m.create()
    try:
        m.apply({"memory": {"limit": 32 * MiB, "reservation": 16 * MiB}, "pids": {"limit": 64},
                 "cpu": {"shares": 512, "quota": 50000, "period": 100000}})
        assert read(cgfile(m, "memory", "memory.limit_in_bytes", "memory.max")) == str(32 * MiB)
        assert read(cgfile(m, "pids", "pids.max", "pids.max")) == "64"
        if m.version == "v1":
            assert read(cgfile(m, "cpu", "cpu.cfs_quota_us", "")) == "50000"
            assert read(cgfile(m, "cpu", "cpu.shares", "")) == "512"
        else:
            assert read(cgfile(m, "cpu", "", "cpu.max")) == "50000 100000"
        p = children.start("import time; time.sleep(30)")
        m.add(p.pid)
        with open(f"/proc/{p.pid}/cgroup") as f:
            lines = f.read().splitlines()
        assert all(line.endswith(f":{cg}/c1") for line in lines), lines
        assert m.pids() == [p.pid]
        s = m.stats()
        assert s.memory.limit == 32 * MiB
        assert s.pids.current == 1 and s.pids.limit == 64
        assert not m.oom_killed()
    finally:
        m.destroy()
    assert p.wait(timeout=10) == -signal.SIGKILL


def test_kernel_refusal_names_file_and_value(cg):
    m = cgroups.manager(f"{cg}/c1")
    m.create()
    try:
        with pytest.raises(InvalidArgument) as e:
            m.apply({"cpu": {"cpus": "4095"}})  # no such CPU
        assert str(e.value).startswith("cannot set cpuset cpus 4095: write ")
        assert "cpuset.cpus: " in str(e.value)
    finally:
        m.destroy()


def test_update_raises_and_lowers_memory_with_swap(cg):
    m = cgroups.manager(f"{cg}/c1")
    m.create()
    try:
        m.apply({"memory": {"limit": 16 * MiB, "swap": 16 * MiB}})
        m.update({"memory": {"limit": 64 * MiB, "swap": 128 * MiB}})  # v1: memsw must go first
        assert m.stats().memory.limit == 64 * MiB
        m.update({"memory": {"limit": 32 * MiB, "swap": 32 * MiB}})   # v1: the limit must go first
        assert m.stats().memory.limit == 32 * MiB
        m.update({"memory": {"limit": -1}})
        assert m.stats().memory.limit is None
    finally:
        m.destroy()


def test_pids_limit_is_enforced(cg, children):
    m = cgroups.manager(f"{cg}/c1")
    m.create()
    try:
        m.apply({"pids": {"limit": 3}})
        p = children.start(
            "import os, time\n"
            "n = 0\n"
            "try:\n"
            "    while n < 10:\n"
            "        if os.fork() == 0:\n"
            "            time.sleep(30); os._exit(0)\n"
            "        n += 1\n"
            "except OSError as e:\n"
            "    print(n, e.errno, flush=True)\n"
            "time.sleep(30)\n")
        m.add(p.pid)
        children.go(p)
        assert p.stdout.readline().split() == ["2", str(errno.EAGAIN)]  # itself + 2 = 3
        assert len(m.pids()) == 3
        assert m.stats().pids.current == 3
    finally:
        m.destroy()  # also kills the two grandchildren, which only the cgroup knows
    assert m.pids() == []


def test_oom_kill_is_detected(cg, children):
    m = cgroups.manager(f"{cg}/c1")
    m.create()
    try:
        m.apply({"memory": {"limit": 16 * MiB, "swap": 16 * MiB}})
        p = children.start("b = b'x' * (64 << 20)\nprint('survived', flush=True)")
        m.add(p.pid)
        children.go(p)
        assert p.wait(timeout=30) == -signal.SIGKILL
        assert m.oom_killed()
        assert m.stats().oom_kill >= 1
    finally:
        m.destroy()


def _freeze_and_thaw(m, children) -> None:
    p = children.start("import sys, time\nwhile True:\n    print('x', flush=True)\n    time.sleep(0.005)\n")
    m.add(p.pid)
    children.go(p)
    fd = p.stdout.fileno()
    os.set_blocking(fd, False)

    def drain() -> int:
        """What is in the pipe now, without waiting."""
        n = 0
        try:
            while chunk := os.read(fd, 65536):
                n += len(chunk)
        except BlockingIOError:
            pass
        return n

    def output_within(seconds: float) -> bool:
        """Some output arrives before ``seconds`` are up (returns as soon as it does)."""
        return bool(select.select([fd], [], [], seconds)[0]) and drain() > 0

    assert output_within(10)
    m.freeze()  # returns once the cgroup is frozen
    drain()  # what was written before the freeze took hold
    assert not output_within(0.3)  # a negative check needs a window; nothing may come in it
    m.thaw()
    assert output_within(10)


def test_freeze_and_thaw(cg, children):
    m = cgroups.manager(f"{cg}/c1")
    m.create()
    try:
        _freeze_and_thaw(m, children)
    finally:
        m.destroy()


def test_destroy_kills_a_frozen_cgroup(cg, children):
    m = cgroups.manager(f"{cg}/a/b")
    m.create()
    p = children.start("import time; time.sleep(30)")
    m.add(p.pid)
    m.freeze()
    m.destroy()
    assert p.wait(timeout=10) == -signal.SIGKILL
    for mount in _hierarchies():
        assert not os.path.exists(mount + cg), mount  # parents it created went too
    m.destroy()  # idempotent


DEVICES = [{"allow": False, "access": "rwm"},
           {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"}]  # /dev/zero only
OPEN_DEVICES = (
    "import os\n"
    "for dev in ('/dev/null', '/dev/zero'):\n"
    "    try:\n"
    "        os.close(os.open(dev, os.O_RDWR)); print(dev, 'ok', flush=True)\n"
    "    except OSError as e:\n"
    "        print(dev, e.errno, flush=True)\n")


def _check_devices(m, children) -> None:
    m.apply({"devices": DEVICES})
    p = children.start(OPEN_DEVICES)
    m.add(p.pid)
    children.go(p)
    out, _ = p.communicate(timeout=30)
    assert out.splitlines() == [f"/dev/null {errno.EPERM}", "/dev/zero ok"]


def test_devices_deny(cg, children):
    m = cgroups.manager(f"{cg}/c1")
    m.create()
    try:
        _check_devices(m, children)
        if m.version == "v1":
            assert read(cgfile(m, "devices", "devices.list", "")) == "c 1:5 rwm"
    finally:
        m.destroy()


@pytest.mark.skipif(not HYBRID, reason="needs a hybrid host's cgroup2 tree at /sys/fs/cgroup/unified")
def test_v2_on_the_hybrid_unified_tree(cg, children):
    m = cgroups.manager(f"{cg}/c1", root=UNIFIED)
    assert isinstance(m, V2Manager)
    m.create()
    try:
        _check_devices(m, children)   # the BPF program, loaded and attached for real
        m.apply({"devices": DEVICES[:1] + [{"allow": True, "type": "c", "major": 1, "minor": 3}]})
        from ketch.linux import bpf
        fd = os.open(m.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            assert len(bpf.prog_query(fd)) == 1  # the update replaced the program
        finally:
            os.close(fd)
        _freeze_and_thaw(m, children)
        with pytest.raises(InvalidArgument, match="^cannot set memory limit 16777216: the memory "
                           "cgroup controller is not available"):
            m.apply({"memory": {"limit": 16 * MiB}})  # no controllers on a hybrid tree
    finally:
        m.destroy()
    assert not os.path.exists(UNIFIED + cg)


def test_stats_count_real_usage(cg, children):
    m = cgroups.manager(f"{cg}/c1")
    m.create()
    try:
        p = children.start("import time\nt = time.time()\nwhile time.time() - t < 0.3: pass\n"
                           "b = b'x' * (8 << 20)\nprint('done', flush=True)\ntime.sleep(30)\n")
        m.add(p.pid)
        children.go(p)
        assert p.stdout.readline() == "done\n"
        s = m.stats()
        assert s.cpu.total_ns > 100_000_000
        assert s.cpu.user_ns > 0
        assert s.memory.usage >= 8 * MiB
    finally:
        m.destroy()
