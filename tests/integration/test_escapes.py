"""What a default container must not be able to do, and ways out of it that must stay shut.

Negative tests run one default container per runtime (ketch's and runc) and check every
refusal against Docker's value and the two runtimes against each other. Every call that
would matter if it succeeded is made harmless by the probe: the clock is set to the value
just read, reboot gets a wrong magic, paths do not exist. The escape classes (descriptors
and working directories leaking in, a writable cgroupfs, reaching the runtime's own
binary) are checked under ketch's runtime.
"""

import os

import pytest

from tests.probe.image import RUNTIMES, probe_image, results, run_probe

V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")

# what each probe call gives in a default container (Docker's seccomp profile and
# capabilities); getpid and chroot are allowed controls, PTRACE_TRACEME is allowed by
# the profile on kernels >= 4.8
SYSCALLS = {
    "getpid": "OK", "chroot": "OK", "ptrace": "OK",
    "mount": "EPERM", "mount_cgroup": "EPERM", "mount_cgroup2": "EPERM", "umount2": "EPERM",
    "fsopen": "EPERM", "pivot_root": "EPERM", "unshare_user": "EPERM", "unshare_mnt": "EPERM",
    "setns": "EPERM", "init_module": "EPERM", "finit_module": "EPERM", "delete_module": "EPERM",
    "kexec_load": "EPERM", "clock_settime": "EPERM", "settimeofday": "EPERM", "keyctl": "EPERM",
    "add_key": "EPERM", "request_key": "EPERM", "reboot": "EPERM", "swapon": "EPERM",
    "swapoff": "EPERM", "acct": "EPERM", "open_by_handle_at": "EPERM", "bpf": "EPERM",
    "perf_event_open": "EPERM", "syslog": "EPERM", "ioperm": "EPERM", "iopl": "EPERM",
    "userfaultfd": "EPERM", "io_uring_setup": "EPERM",
}
# device nodes a container may create (CAP_MKNOD) but not open (the device cgroup)
DEVICES = {"sda": ("b", "8", "0"), "mem": ("c", "1", "1")}
# host files that would matter if written, where the host has them: all read-only inside
KERNEL_FILES = [p for p in ("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/modprobe",
                            "/proc/sys/vm/drop_caches", "/proc/sysrq-trigger", "/sys/kernel/uevent_helper",
                            "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/power/state")
                if os.path.exists(p)]
SYS_DIRS = ["/sys/probe", "/sys/kernel/probe", "/sys/class/probe"]

# the container's own cgroup, as it is mounted inside; release_agent only exists in a
# hierarchy's root, which the container never sees
if V2:
    CGROUP_FILES = {"/sys/fs/cgroup/cgroup.procs": "EROFS", "/sys/fs/cgroup/pids.max": "EROFS"}
    CGROUP_DIRS = {"/sys/fs/cgroup/probe": "EROFS"}
else:
    CGROUP_FILES = {"/sys/fs/cgroup/memory/notify_on_release": "EROFS",
                    "/sys/fs/cgroup/memory/release_agent": "ENOENT",
                    "/sys/fs/cgroup/memory/cgroup.procs": "EROFS",
                    "/sys/fs/cgroup/memory/memory.limit_in_bytes": "EROFS",
                    "/sys/fs/cgroup/devices/devices.allow": "EROFS"}
    CGROUP_DIRS = {"/sys/fs/cgroup/probe": "EROFS", "/sys/fs/cgroup/memory/probe": "EROFS"}


@pytest.fixture(scope="session")
def probe(daemon, tmp_path_factory):
    with probe_image(daemon, str(tmp_path_factory.mktemp("probe-escapes"))) as ref:
        yield ref


def _refusals(daemon, runtime: str) -> dict:
    sections = run_probe(daemon, runtime, [], ("syscall", *SYSCALLS),
                         *(("mknod-open", f"/tmp/{name}", *dev) for name, dev in DEVICES.items()),
                         ("exes",), ("open-write", *KERNEL_FILES), ("mkdir", *SYS_DIRS))
    return {
        "syscalls": results(sections[0]),
        **{f"device-{name}": results(sections[1 + i]) for i, name in enumerate(DEVICES)},
        "processes": sorted(tuple(line.split()[:2]) for line in sections[1 + len(DEVICES)]),
        "kernel-files": results(sections[2 + len(DEVICES)]),
        "sys-dirs": results(sections[3 + len(DEVICES)]),
    }


@pytest.fixture(scope="module")
def negative(daemon, probe):
    """runtime -> the default container's answers, from one container per runtime, run on
    first use (a runtime that cannot run it fails its own tests only)."""
    cache: dict[str, dict | AssertionError] = {}

    def answers(runtime: str) -> dict:
        if runtime not in cache:
            try:
                cache[runtime] = _refusals(daemon, runtime)
            except AssertionError as exc:
                cache[runtime] = exc
        if isinstance(cache[runtime], AssertionError):
            raise cache[runtime]
        return cache[runtime]
    return answers


EXPECTED = {
    "syscalls": SYSCALLS,
    **{f"device-{name}": {"mknod": "OK", "open": "EPERM"} for name in DEVICES},
    "processes": [("1", "/probe")],  # no host process is visible
    "kernel-files": dict.fromkeys(KERNEL_FILES, "EROFS"),
    "sys-dirs": dict.fromkeys(SYS_DIRS, "EROFS"),
}


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("check", EXPECTED)
def test_default_container_is_refused(negative, check, runtime):
    assert negative(runtime)[check] == EXPECTED[check]


@pytest.mark.parametrize("check", EXPECTED)
def test_ketch_and_runc_refuse_alike(negative, check):
    assert negative("ketch")[check] == negative("runc")[check]


# ---- escape classes, ketch's runtime -------------------------------------------------
@pytest.fixture(scope="module")
def inside(daemon, probe):
    """One ketch container: a shell as pid 1 running the probe as its child."""
    sections = run_probe(daemon, "ketch", [], ("fds", "1", "self"), ("cwd",), ("exes",),
                         ("open-write", *CGROUP_FILES), ("mkdir", *CGROUP_DIRS),
                         ("syscall", "mount_cgroup", "mount_cgroup2"), shell=True)
    return dict(zip(("fds", "cwd", "exes", "cgroup-files", "cgroup-dirs", "cgroup-mounts"), sections))


def test_only_stdio_reaches_the_container(inside):
    fds = {}
    for line in inside["fds"]:
        pid, fd, target = line.split(" ", 2)
        fds.setdefault(pid, {})[fd] = "pipe" if target.startswith("pipe:") else target
    stdio = {"0": "/dev/null", "1": "pipe", "2": "pipe"}
    assert fds == {"1": stdio, "self": stdio}


def test_working_directory_and_root_are_the_containers(inside):
    assert inside["cwd"] == ["getcwd /", "/proc/self/cwd /", "/proc/self/root /",
                             "/proc/1/cwd /", "/proc/1/root /"]


@pytest.mark.parametrize("fd", range(3, 8))
def test_workdir_through_a_descriptor_is_refused(daemon, probe, fd):
    """-w /proc/self/fd/N escapes if the runtime still holds a host directory open when it
    changes into the working directory (runc's CVE-2024-21626): the container must not start."""
    workdir = f"/proc/self/fd/{fd}"
    res = daemon.ketch("run", "--rm", "--runtime", "ketch", "-w", workdir, probe, "/probe", "cwd")
    assert res.returncode == 125 and workdir in res.stderr, (res.returncode, res.stdout, res.stderr)


def test_cgroupfs_is_read_only_inside(inside):
    assert results(inside["cgroup-files"]) == CGROUP_FILES
    assert results(inside["cgroup-dirs"]) == CGROUP_DIRS
    assert results(inside["cgroup-mounts"]) == {"mount_cgroup": "EPERM", "mount_cgroup2": "EPERM"}


def _forkserver(daemon) -> int:
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except (OSError, ValueError):
            continue
        if ppid == daemon.proc.pid and b"forkserver" in cmdline:
            return int(pid)
    raise AssertionError("no fork server under ketchd")


def test_the_runtime_binary_is_out_of_reach(daemon, probe, inside):
    exe = os.readlink(f"/proc/{_forkserver(daemon)}/exe")  # the host python3 running the runtime
    st = os.stat(exe)
    seen = [line.split() for line in inside["exes"]]
    assert {pid: path for pid, path, _ in seen if pid == "1"} == {"1": "/bin/sh"}
    assert {path for _, path, _ in seen} == {"/bin/sh", "/probe"}  # no host process
    assert all(ident != f"{st.st_dev}:{st.st_ino}" and path != exe for _, path, ident in seen)
    got = run_probe(daemon, "ketch", [], ("open-write", "/proc/1/exe", "/proc/self/exe", exe))
    assert results(got[0]) == {"/proc/1/exe": "ETXTBSY", "/proc/self/exe": "ETXTBSY", exe: "ENOENT"}


# ---- images whose /dev, /etc or /sbin is a symlink out of the rootfs -------------------
# What the runtime creates under /dev (nodes, links, mount points), the engine's bind
# targets under /etc, --init's binary and the working directory must land inside the
# rootfs, where the container resolves them, never where the symlink points on the host.
DEV_CHECK = ("for f in null zero full random urandom tty; do test -c /dev/$f || echo no $f; done; "
             "for f in fd stdin stdout stderr ptmx; do readlink /dev/$f; done; "
             "for d in pts shm mqueue; do test -d /dev/$d || echo no $d; done; "
             "echo discarded > /dev/null; cat /etc/hostname")
DEV_LINKS = ["/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2", "pts/ptmx"]


def _import_symlinked(daemon, tmp_path, reference: str, name: str, target: str, mirror: str = "") -> None:
    """Import a busybox image whose top-level ``name`` is a symlink to ``target`` (and, with
    ``mirror``, a directory at that path inside the image)."""
    from ketch.image.archive import write_tar
    from ketch.image.embedded import BUSYBOX
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    for d in {"dev", "etc", "proc", "sbin", "sys"} - {name}:
        (root / d).mkdir()
    os.symlink(target, root / name)
    if mirror:
        (root / mirror.lstrip("/")).mkdir(parents=True)
    binary = root / "bin" / "busybox"
    binary.write_bytes(open(BUSYBOX, "rb").read())
    binary.chmod(0o755)
    for applet in ("sh", "test", "readlink", "cat", "echo"):
        os.link(binary, root / "bin" / applet)
    tar = tmp_path / "layer.tar"
    with open(tar, "wb") as out:
        write_tar(str(root), out, uid=0, gid=0)
    daemon.ketch("import", "-c", "ENV PATH=/bin", str(tar), reference, check=True)


@pytest.mark.parametrize("name", ["dev", "etc", "sbin"])
@pytest.mark.parametrize("form", ["absolute", "relative"])
@pytest.mark.parametrize("in_image", [True, False], ids=["target-in-image", "target-missing"])
def test_symlinked_top_directory_stays_inside(daemon, tmp_path, name, form, in_image):
    host = tmp_path / f"host-{name}"
    host.mkdir()
    # the rootfs sits a few levels below /: enough ".." reach the host's /
    target = str(host) if form == "absolute" else "../" * 16 + str(host).lstrip("/")
    reference = f"symlinked-{name}-{form}:latest"
    _import_symlinked(daemon, tmp_path, reference, name, target, str(host) if in_image else "")
    try:
        # the working directory too is created where the container sees it
        res = daemon.ketch("run", "--rm", "--runtime", "ketch", "--init", "-h", "boxname",
                           "-w", f"/{name}/work", reference, "sh", "-c", DEV_CHECK)
        created = sorted(os.listdir(host))
    finally:
        daemon.ketch("rmi", reference, check=True)
    assert created == []
    assert (res.returncode, res.stderr) == (0, ""), (res.stdout, res.stderr)
    assert res.stdout.splitlines() == [*DEV_LINKS, "boxname"]
