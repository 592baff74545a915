"""Differential conformance: the same probes in containers under ketch's runtime and runc.

Each row of ``PROBES`` is one question asked inside a container: the container it runs
in (``CONTAINERS``: run flags, expected exit code), the probe subcommand, how its output
is normalized (mount ids, device numbers, inode numbers and paths under the daemon's root
differ from run to run) and Docker's value on this host (DESIGN.md "Docker's security
defaults"; host-dependent parts such as which masked paths exist are read from the host).
Probes sharing a container run in one container per runtime. Every probe is checked
against Docker's value under each runtime, then the two runtimes' values are compared.

``--privileged`` is checked under ketch alone: runc cannot start privileged containers on
a host whose bounding set lacks a capability (CAP_SYS_RESOURCE here).
"""

import dataclasses
import os
import re
import stat
from typing import Callable

import pytest

from tests.probe.image import RUNTIMES, probe_image, results, run_probe

V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
DOCKER_CAPS = "00000000a80425fb"
MASKED = ("/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
          "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
          "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware")
READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
# /dev of a container without a TTY, as Docker makes it (/dev/core only where /proc/kcore is)
DOCKER_DEV = [
    "/dev/fd l /proc/self/fd", "/dev/full c 1:7 0666", "/dev/mqueue d 1777",
    "/dev/null c 1:3 0666", "/dev/ptmx l pts/ptmx", "/dev/pts d 0755",
    "/dev/random c 1:8 0666", "/dev/shm d 1777", "/dev/stderr l /proc/self/fd/2",
    "/dev/stdin l /proc/self/fd/0", "/dev/stdout l /proc/self/fd/1", "/dev/tty c 5:0 0666",
    "/dev/urandom c 1:9 0666", "/dev/zero c 1:5 0666", "/dev/pts/ptmx c 5:2 0666",
] + (["/dev/core l /proc/kcore"] if os.path.exists("/proc/kcore") else [])
# namespaces a default container gets a new one of (cgroup only on cgroup v2)
NEW_NAMESPACES = {"ipc", "mnt", "net", "pid", "pid_for_children", "uts"} | ({"cgroup"} if V2 else set())
# /proc/<pid>/limits row -> the probe's name for the limit
LIMIT_NAMES = {
    "Max cpu time": "cpu", "Max file size": "fsize", "Max data size": "data",
    "Max stack size": "stack", "Max core file size": "core", "Max resident set": "rss",
    "Max processes": "nproc", "Max open files": "nofile", "Max locked memory": "memlock",
    "Max address space": "as", "Max file locks": "locks", "Max pending signals": "sigpending",
    "Max msgqueue size": "msgqueue", "Max nice priority": "nice",
    "Max realtime priority": "rtprio", "Max realtime timeout": "rttime",
}
CPU_BAND = (0.3, 0.7)  # --cpus 0.5 on a small, noisy VM
# host devices a privileged container does not get as nodes: the console belongs to the
# container's TTY, ptmx is a link to its own devpts instance
NOT_COPIED = {"/dev/console", "/dev/ptmx"}
# masked files whose content is the same for every process (not /proc/keys, which
# depends on the reader's keyrings)
SYSTEM_WIDE = ("/proc/interrupts", "/proc/timer_list", "/proc/sched_debug")


@dataclasses.dataclass(frozen=True)
class Container:
    flags: tuple[str, ...]
    code: int = 0  # the exit code it must end with


CONTAINERS = {
    "default": Container(()),
    "user": Container(("-u", "1000:1000", "--group-add", "10", "--ulimit", "nofile=100:200")),
    "pids": Container(("--pids-limit", "32")),
    "memory": Container(("-m", "32m"), code=137),
    "cpus": Container(("--cpus", "0.5")),
}


# ---- the host: what Docker's values depend on ------------------------------------------
def _mountinfo(text: str) -> list[tuple[str, ...]]:
    rows = []
    for line in text.splitlines():
        head, _, tail = line.partition(" - ")
        fields, (fstype, source, super_opts) = head.split(), tail.split(" ", 2)
        rows.append((fields[3], fields[4], fields[5], fstype, source, super_opts))
    return rows


def _host_mounts() -> list[tuple[str, ...]]:
    with open("/proc/self/mountinfo") as f:
        return _mountinfo(f.read())


def _host_status() -> dict[str, str]:
    with open("/proc/self/status") as f:
        return dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)


def _writable_file_under(path: str) -> str | None:
    """The first file under ``path`` (or ``path`` itself) the host lets root write."""
    if os.path.isfile(path):
        return path
    for dirpath, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(dirpath, name)
            try:
                mode = os.lstat(full).st_mode
                if stat.S_ISREG(mode) and mode & 0o200:
                    return full
            except OSError:
                pass
    return None


READONLY_FILES = [f for f in map(_writable_file_under, READONLY) if f]


# ---- normalizers: probe output -> comparable value -------------------------------------
def status(lines: list[str]) -> dict[str, str]:
    return dict(re.split(r":\s+", line, maxsplit=1) for line in lines)


def _keep_root(root: str) -> str:
    # "/", "/bus" (a /proc subtree) and "/null" (a masked file) say what is mounted;
    # longer roots are cgroup paths and host files, which differ per container
    return root if root.count("/") <= 1 else "<path>"


def mounts(lines: list[str]) -> list[tuple[str, ...]]:
    """(mount point, root, mount options, fstype, super options), sorted; overlay's
    layer directories and the host filesystem's options behind bind mounts left out."""
    out = []
    for root, point, opts, fstype, _source, super_opts in _mountinfo("\n".join(lines)):
        if fstype == "overlay":
            super_opts = ",".join(o for o in super_opts.split(",") if "=" not in o)
        elif point.startswith("/etc/"):
            super_opts = "<host>"
        out.append((point, _keep_root(root), opts, fstype, super_opts))
    return sorted(out)


def cgroup_root(lines: list[str]) -> list[tuple[str, ...]]:
    return [m for m in mounts(lines) if m[0] == "/sys/fs/cgroup"]


def other_mounts(lines: list[str]) -> list[tuple[str, ...]]:
    return [m for m in mounts(lines) if m[0] != "/sys/fs/cgroup"]


def read_results(lines: list[str]) -> dict[str, str]:
    return {path: "empty" if got in ("0 bytes", "0 entries") else got
            for path, got in results(lines).items()}


def namespaces(lines: list[str]) -> dict[str, str]:
    """Each namespace: "new", or "host" when it is the test process's own."""
    out = {}
    for line in lines:
        name, inode = line.split()
        out[name] = "host" if os.stat(f"/proc/self/ns/{name}").st_ino == int(inode) else "new"
    return out


def rlimits(lines: list[str]) -> dict[str, tuple[int, int]]:
    return {name: (int(soft), int(hard)) for name, soft, hard in map(str.split, lines)}


def ids(lines: list[str]) -> dict[str, list[int]]:
    out = {key: [int(v) for v in values] for key, *values in map(str.split, lines)}
    out["groups"].sort()
    return out


def first_line(lines: list[str]) -> str:
    return lines[0] if lines else ""


def cpu_share(lines: list[str]) -> str:
    fields = lines[0].split()
    share = int(fields[2]) / int(fields[4])
    low, high = CPU_BAND
    return f"{low} <= share <= {high}" if low <= share <= high else f"share {share:.2f}"


# ---- Docker's values on this host -------------------------------------------------------
def docker_status(daemon) -> dict[str, str]:
    return {"CapInh": "0" * 16, "CapPrm": DOCKER_CAPS, "CapEff": DOCKER_CAPS, "CapBnd": DOCKER_CAPS,
            "CapAmb": "0" * 16, "NoNewPrivs": "0", "Seccomp": "2"}


def docker_user_status(daemon) -> dict[str, str]:
    # a non-root user keeps only the bounding set
    return dict(docker_status(daemon), CapPrm="0" * 16, CapEff="0" * 16)


def docker_cgroup_root(daemon) -> list[tuple[str, ...]]:
    if V2:  # the cgroup2 filesystem itself, rooted at the container's cgroup
        host = [m[5] for m in _host_mounts() if m[1] == "/sys/fs/cgroup"]
        return [("/sys/fs/cgroup", "/", "ro,nosuid,nodev,noexec,relatime", "cgroup2", host[-1])]
    return [("/sys/fs/cgroup", "/", "ro,nosuid,nodev,noexec,relatime", "tmpfs", "ro,mode=755")]


def docker_mounts(daemon) -> list[tuple[str, ...]]:
    host = _host_mounts()
    holder = max((m for m in host if (daemon.data_root + "/").startswith(m[1].rstrip("/") + "/")),
                 key=lambda m: len(m[1]))
    dev_opts = ("rw,nosuid", "tmpfs", "rw,size=65536k,mode=755")
    out = [
        ("/", "/", "rw,relatime", "overlay", "rw"),
        ("/proc", "/", "rw,nosuid,nodev,noexec,relatime", "proc", "rw"),
        ("/dev", "/", *dev_opts),
        ("/dev/pts", "/", "rw,nosuid,noexec,relatime", "devpts", "rw,gid=5,mode=620,ptmxmode=666"),
        ("/sys", "/", "ro,nosuid,nodev,noexec,relatime", "sysfs", "ro"),
        ("/dev/mqueue", "/", "rw,nosuid,nodev,noexec,relatime", "mqueue", "rw"),
        ("/dev/shm", "/", "rw,nosuid,nodev,noexec,relatime", "tmpfs", "rw,size=65536k"),
    ]
    out += [(f"/etc/{name}", "<path>", holder[2], holder[3], "<host>")
            for name in ("hostname", "hosts", "resolv.conf")]
    if not V2:  # a read-only bind of the container's own cgroup in every v1 hierarchy
        out += [("/sys/fs/cgroup/" + os.path.basename(point), "<path>", "ro,nosuid,nodev,noexec,relatime",
                 "cgroup", super_opts)
                for _root, point, _opts, fstype, _src, super_opts in host
                if fstype == "cgroup" and os.path.dirname(point) == "/sys/fs/cgroup"]
    out += [(path, "/" + os.path.basename(path), "ro,nosuid,nodev,noexec,relatime", "proc", "rw")
            for path in READONLY if os.path.exists(path)]
    for path in MASKED:
        if os.path.isdir(path):
            out.append((path, "/", "ro,relatime", "tmpfs", "ro"))
        elif os.path.exists(path):
            out.append((path, "/null", *dev_opts))
    return sorted(out)


def docker_masked(daemon) -> dict[str, str]:
    return {path: "empty" if os.path.exists(path) else "ENOENT" for path in MASKED}


def docker_readonly(daemon) -> dict[str, str]:
    return {path: "EROFS" for path in READONLY_FILES}


def docker_namespaces(daemon) -> dict[str, str]:
    return {name: "new" if name in NEW_NAMESPACES else "host" for name in os.listdir("/proc/self/ns")}


def daemon_rlimits(daemon) -> dict[str, tuple[int, int]]:
    """Without --ulimit a container keeps the engine's own limits."""
    out = {}
    with open(f"/proc/{daemon.proc.pid}/limits") as f:
        for line in f.read().splitlines()[1:]:
            name, soft, hard = re.split(r"\s{2,}", line)[:3]
            out[LIMIT_NAMES[name]] = tuple(-1 if v == "unlimited" else int(v) for v in (soft, hard))
    return out


def ulimit_rlimits(daemon) -> dict[str, tuple[int, int]]:
    return dict(daemon_rlimits(daemon), nofile=(100, 200))


@dataclasses.dataclass(frozen=True)
class Probe:
    name: str
    container: str
    argv: tuple[str, ...] | None  # None: the container's end, "exit N" and "oomkilled B"
    normalize: Callable[[list[str]], object]
    expected: Callable[[object], object]


PROBES = [
    Probe("capabilities", "default", ("status",), status, docker_status),
    Probe("cgroupfs-root", "default", ("cat", "/proc/self/mountinfo"), cgroup_root, docker_cgroup_root),
    Probe("mounts", "default", ("cat", "/proc/self/mountinfo"), other_mounts,
          lambda d: [m for m in docker_mounts(d) if m[0] != "/sys/fs/cgroup"]),
    Probe("masked-paths", "default", ("read", *MASKED), read_results, docker_masked),
    Probe("readonly-paths", "default", ("open-write", *READONLY_FILES), results, docker_readonly),
    Probe("devices", "default", ("dev",), sorted, lambda d: sorted(DOCKER_DEV)),
    Probe("namespaces", "default", ("ns",), namespaces, docker_namespaces),
    Probe("rlimits", "default", ("rlimits",), rlimits, daemon_rlimits),
    Probe("user-ids", "user", ("ids",), ids,
          lambda d: {"uid": [1000] * 3, "gid": [1000] * 3, "groups": [10, 1000]}),
    Probe("user-capabilities", "user", ("status",), status, docker_user_status),
    Probe("ulimit", "user", ("rlimits",), rlimits, ulimit_rlimits),
    # pid 1 is the probe itself, so the 31st fork reaches the limit
    Probe("pids-limit", "pids", ("forkbomb", "1000"), first_line, lambda d: "forkbomb: EAGAIN after 31"),
    # killed before it can print "allocated 256 MiB"
    Probe("memory-alloc", "memory", ("alloc", "256"), list, lambda d: []),
    Probe("memory-oom", "memory", None, list, lambda d: ["exit 137", "oomkilled true"]),
    Probe("cpus", "cpus", ("cpuburn", "2", "2"), cpu_share,
          lambda d: f"{CPU_BAND[0]} <= share <= {CPU_BAND[1]}"),
]

# Known differences, each asserting the right value and failing while it lasts.
RUNC_1_1_CGROUP_TMPFS = ("runc 1.1.5 leaves the cgroup v1 tmpfs at /sys/fs/cgroup read-write: it "
                         "mounts it without MS_RDONLY and never remounts it (strace), although the "
                         "spec asks for ro; ketch mounts it ro as Docker's defaults say")
KNOWN = {
    ("cgroupfs-root", "runc"): pytest.mark.xfail(not V2, reason=RUNC_1_1_CGROUP_TMPFS, strict=True),
    ("cgroupfs-root", "agree"): pytest.mark.xfail(not V2, reason=RUNC_1_1_CGROUP_TMPFS, strict=True),
}


class Runs:
    """Each container's probe output per runtime, run once on first use."""

    def __init__(self, daemon) -> None:
        self.daemon = daemon
        self.outputs: dict[tuple[str, str], dict[str, list[str]] | AssertionError] = {}

    def value(self, probe: Probe, runtime: str):
        key = (probe.container, runtime)
        if key not in self.outputs:
            try:
                self.outputs[key] = self._run(probe.container, runtime)
            except AssertionError as exc:  # a container that failed fails all its probes, once
                self.outputs[key] = exc
        if isinstance(self.outputs[key], AssertionError):
            raise self.outputs[key]
        return probe.normalize(self.outputs[key][probe.name])

    def _run(self, container: str, runtime: str) -> dict[str, list[str]]:
        spec = CONTAINERS[container]
        probes = [p for p in PROBES if p.container == container]
        argvs = [p.argv for p in probes if p.argv is not None]
        name = f"conf-{container}-{runtime}-{os.getpid()}"
        try:
            sections = run_probe(self.daemon, runtime, spec.flags, *argvs, code=spec.code, name=name)
            end = "exit {{.State.ExitCode}}\noomkilled {{.State.OOMKilled}}"
            state = self.daemon.ketch("inspect", "-f", end, name, check=True).stdout.splitlines()
        finally:
            self.daemon.api("DELETE", f"/containers/{name}?force=1")
        out = dict(zip((p.name for p in probes if p.argv is not None), sections))
        out.update({p.name: state for p in probes if p.argv is None})
        return out


@pytest.fixture(scope="session")
def probe(daemon, tmp_path_factory):
    with probe_image(daemon, str(tmp_path_factory.mktemp("probe-conformance"))) as ref:
        yield ref


@pytest.fixture(scope="module")
def runs(daemon, probe):
    return Runs(daemon)


def _cases(columns):
    return [pytest.param(p, c, id=f"{p.name}-{c}", marks=[KNOWN[(p.name, c)]] if (p.name, c) in KNOWN else [])
            for p in PROBES for c in columns]


@pytest.mark.parametrize("probe_row, runtime", _cases(RUNTIMES))
def test_probe_shows_dockers_value(daemon, runs, probe_row, runtime):
    assert runs.value(probe_row, runtime) == probe_row.expected(daemon)


@pytest.mark.parametrize("probe_row, column", _cases(["agree"]))
def test_ketch_and_runc_agree(runs, probe_row, column):
    assert runs.value(probe_row, "ketch") == runs.value(probe_row, "runc")


# ---- --privileged, under ketch alone --------------------------------------------------
def _host_device_dirs() -> list[str]:
    dirs = []
    for dirpath, subdirs, _files in os.walk("/dev"):
        subdirs[:] = sorted(d for d in subdirs if d not in ("pts", "shm", "mqueue") or dirpath != "/dev")
        dirs.append(dirpath)
    return dirs


def _host_devices() -> set[str]:
    """The host's device nodes as the probe prints them (path, type, numbers), no mode."""
    out = set()
    for dirpath in _host_device_dirs():
        for name in os.listdir(dirpath):
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                kind = "c" if stat.S_ISCHR(st.st_mode) else "b"
                out.add(f"{dirpath}/{name} {kind} {os.major(st.st_rdev)}:{os.minor(st.st_rdev)}")
    return out


@pytest.fixture(scope="module")
def privileged(daemon, probe):
    """One --privileged container under ketch (its run must succeed)."""
    readable = [p for p in SYSTEM_WIDE if os.path.exists(p)]
    sections = run_probe(daemon, "ketch", ["--privileged"], ("status",), ("cat", "/proc/self/mountinfo"),
                         ("dev", *_host_device_dirs()), ("read", *readable), ("open-write", *READONLY_FILES))
    return dict(zip(("status", "mounts", "dev", "read", "write"), sections))


def test_privileged_has_every_capability_and_no_seccomp(privileged):
    host_bounding = _host_status()["CapBnd"].strip()
    got = status(privileged["status"])
    sets = ("CapPrm", "CapEff", "CapBnd")
    assert {k: got[k] for k in sets} == dict.fromkeys(sets, host_bounding)
    assert (got["Seccomp"], got["NoNewPrivs"]) == ("0", "0")


def test_privileged_sees_every_host_device(privileged):
    seen = {" ".join(line.split()[:3]) for line in privileged["dev"] if line.split()[1] in ("b", "c")}
    missing = {d for d in _host_devices() if d.split()[0] not in NOT_COPIED} - seen
    assert not missing, sorted(missing)


def test_privileged_masks_nothing(privileged):
    got = mounts(privileged["mounts"])
    assert {m[0] for m in got} & set(MASKED + READONLY) == set()
    assert [m[2].split(",")[0] for m in got if m[0] == "/sys"] == ["rw"]
    read = privileged["read"]
    assert read and not any(r.endswith(" 0 bytes") for r in read), read
    assert results(privileged["write"]) == dict.fromkeys(READONLY_FILES, "OK")


def test_privileged_cgroup_hierarchies_are_writable(privileged):
    hierarchies = [m for m in mounts(privileged["mounts"]) if m[0].startswith("/sys/fs/cgroup/")]
    assert hierarchies and all(m[2].startswith("rw,") for m in hierarchies), hierarchies
