"""ketch-runtime's mounts: recursive attributes, read-only binds of files, propagation,
and the CVE-2021-30465 race (a destination swapped for a symlink while it is mounted).

Host-side mounts these tests need are made inside ``unshare -m`` (a private mount
namespace that dies with the shell), so nothing is left in the host's mount table.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.integration.conftest import PYTHON, REPO, _mounts_under

APPLETS = ("sh", "cat", "echo", "touch", "ls", "sleep", "grep", "[", "test")


def _runtime_script(tmp_path, runtime: str = "ketch") -> str:
    """ketch-runtime of this checkout (or runc, the referee) as one executable, for shell
    scripts to call."""
    path = tmp_path / "rt"
    if runtime == "runc":
        path.write_text(f"#!/bin/sh\nexec runc --root {tmp_path / 'state'} \"$@\"\n")
    else:
        path.write_text(f"#!/bin/sh\nexec {PYTHON} -I -S -c 'import sys; sys.path.insert(0, sys.argv[1]); "
                        f"from ketch.runtime.cli import main; sys.exit(main(sys.argv[2:]))' {REPO} "
                        f"--root {tmp_path / 'state'} \"$@\"\n")
    path.chmod(0o755)
    return str(path)


# runc (1.1 has the recursive attributes) runs the same bundles and must agree
RUNTIMES = ["ketch", pytest.param("runc", marks=pytest.mark.skipif(not shutil.which("runc"), reason="no runc"))]


def cid(name: str) -> str:
    """A container id of this test process's own: with no cgroupsPath in the spec runc
    puts a container in the cgroup /<id>, which two xdist workers' "c" would share."""
    return f"{name}-{os.getpid()}"


def _busybox_rootfs(path) -> None:
    (path / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", path / "bin" / "busybox")
    for applet in APPLETS:
        os.link(path / "bin" / "busybox", path / "bin" / applet)


def _bundle(tmp_path, name: str, script: str, mounts: list, propagation: str = "") -> str:
    bundle = tmp_path / name
    _busybox_rootfs(bundle / "rootfs")
    spec = {
        "ociVersion": "1.2.0", "root": {"path": "rootfs"},
        "process": {"args": ["sh", "-c", script], "env": ["PATH=/bin"], "cwd": "/"},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                   {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
                   *mounts],
        "linux": {"namespaces": [{"type": t} for t in ("pid", "mount", "ipc", "uts")]},
    }
    if propagation:
        spec["linux"]["rootfsPropagation"] = propagation
    (bundle / "config.json").write_text(json.dumps(spec))
    return str(bundle)


def _in_private_ns(script: str, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-ec", script],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "src"
    (path / "sub").mkdir(parents=True)
    yield path
    assert not _mounts_under(str(tmp_path))
    assert not os.listdir(tmp_path / "state") if (tmp_path / "state").exists() else True


PROBE = "touch /mnt/top 2>/dev/null && echo top=rw || echo top=ro; " \
        "touch /mnt/sub/x 2>/dev/null && echo sub=rw || echo sub=ro"


@pytest.mark.parametrize("options,expect", [
    (["rbind"], ["top=rw", "sub=rw"]),
    (["rbind", "ro"], ["top=ro", "sub=rw"]),   # "ro" is the top mount's only
    (["rbind", "rro"], ["top=ro", "sub=ro"]),  # OCI 1.1: the whole tree
    (["rbind", "ro", "rrw"], ["top=rw", "sub=rw"]),
    (["bind", "rro"], ["top=ro", "sub=ro"]),  # no submount copied: sub is the plain directory
])
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_recursive_read_only(tmp_path, src, options, expect, runtime):
    rt = _runtime_script(tmp_path, runtime)
    bundle = _bundle(tmp_path, "b", PROBE, [
        {"destination": "/mnt", "type": "bind", "source": str(src), "options": options}])
    res = _in_private_ns(f"mount -t tmpfs sub {src}/sub; {rt} run -b {bundle} {cid('c')}")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == expect


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_bind_of_a_file_read_only_and_read_write(tmp_path, src, runtime):
    rt = _runtime_script(tmp_path, runtime)
    (src / "ro.txt").write_text("from the host\n")
    (src / "rw.txt").write_text("")
    script = "cat /etc/app/ro.txt; (echo changed > /etc/app/ro.txt) 2>/dev/null && echo ro=rw || echo ro=ro; " \
             "echo written > /etc/app/rw.txt && echo rw=rw"
    bundle = _bundle(tmp_path, "b", script, [
        {"destination": "/etc/app/ro.txt", "type": "bind", "source": str(src / "ro.txt"), "options": ["bind", "ro"]},
        {"destination": "/etc/app/rw.txt", "type": "bind", "source": str(src / "rw.txt"),
         "options": ["rbind", "rprivate"]}])
    res = subprocess.run([rt, "run", "-b", bundle, cid("c")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["from the host", "ro=ro", "rw=rw"]
    assert (src / "ro.txt").read_text() == "from the host\n"
    assert (src / "rw.txt").read_text() == "written\n"
    # the mount points were made inside the rootfs, as files
    assert os.path.isfile(os.path.join(bundle, "rootfs", "etc", "app", "ro.txt"))


@pytest.mark.parametrize("propagation,seen", [("rslave", ["seen"]), ("rprivate", [])])
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_propagation_from_the_host(tmp_path, src, propagation, seen, runtime):
    """A host mount made under a bind's source after the container started reaches it
    only if the bind is a slave (Docker's -v /src:/mnt:rslave)."""
    rt = _runtime_script(tmp_path, runtime)
    script = "touch /mnt/started; until [ -e /mnt/ready ]; do sleep 0.05; done; ls /mnt/sub"
    bundle = _bundle(tmp_path, "b", script, [
        {"destination": "/mnt", "type": "bind", "source": str(src), "options": ["rbind", propagation]}],
        propagation="rslave")
    res = _in_private_ns(f"""
        mount --bind {src} {src}; mount --make-shared {src}
        {rt} run -b {bundle} {cid('c')} > {tmp_path}/out 2>&1 &
        n=0; until [ -e {src}/started ]; do sleep 0.05; n=$((n+1)); [ $n -lt 400 ]; done
        mount -t tmpfs late {src}/sub; touch {src}/sub/seen; touch {src}/ready
        wait $!
    """)
    out = (tmp_path / "out").read_text()
    assert res.returncode == 0, res.stderr + out
    assert out.split() == seen


SWAPPER = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
# RENAME_EXCHANGE: /vol/x is a directory, then a symlink to the host path, then a directory...
while not os.path.exists("/vol/stop"):
    for _ in range(2000):
        libc.renameat2(-100, b"/vol/x", -100, b"/vol/y", 2)
"""


def test_a_swapped_destination_never_mounts_outside_the_root(tmp_path):
    """CVE-2021-30465. A container keeps exchanging a directory of a shared volume with a
    symlink to a host directory; other containers start with a tmpfs and a bind on paths
    through it. Each mount must be inside the container that made it (the container sees
    it after pivot_root), or the start fails; a mount sent to the host path would be lost
    with the old root, and the container would see none."""
    rt = _runtime_script(tmp_path)
    shared = tmp_path / "shared"
    host = tmp_path / "host"  # what the symlink names: a real host directory
    (host / "target").mkdir(parents=True)
    (shared / "x" / "target").mkdir(parents=True)
    (shared / "y").symlink_to(host)
    python = os.path.realpath(sys.executable if sys.executable.startswith("/usr/") else "/usr/bin/python3")
    swapper = tmp_path / "swapper"
    (swapper / "rootfs" / "usr").mkdir(parents=True)
    for link in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink("/" + link):
            (swapper / "rootfs" / link).symlink_to(os.readlink("/" + link))
    (swapper / "config.json").write_text(json.dumps({
        "ociVersion": "1.2.0", "root": {"path": "rootfs"},
        "process": {"args": [python, "-I", "-S", "-c", SWAPPER], "env": ["PATH=/usr/bin"], "cwd": "/"},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                   {"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]},
                   {"destination": "/vol", "type": "bind", "source": str(shared), "options": ["rbind"]}],
        "linux": {"namespaces": [{"type": t} for t in ("pid", "mount", "ipc", "uts")]}}))
    (shared / "x" / "bound").mkdir()
    (host / "bound").mkdir()
    bind_source = tmp_path / "race-bind-src"
    bind_source.mkdir()
    victim = _bundle(tmp_path, "victim", "echo $(grep -c race-marker /proc/self/mountinfo) "
                     "$(grep -c race-bind-src /proc/self/mountinfo)", [
        {"destination": "/vol", "type": "bind", "source": str(shared), "options": ["rbind"]},
        {"destination": "/vol/x/target", "type": "tmpfs", "source": "race-marker", "options": ["size=1m"]},
        {"destination": "/vol/x/bound", "type": "bind", "source": str(bind_source), "options": ["rbind", "ro"]}])
    swap = subprocess.Popen([rt, "run", "-b", str(swapper), cid("swapper")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    inside = refused = 0
    try:
        deadline = time.monotonic() + 10
        while not (shared / "y").is_dir() or (shared / "y").is_symlink():  # the swapper runs
            assert swap.poll() is None and time.monotonic() < deadline, swap.communicate()
        for i in range(30):
            res = subprocess.run([rt, "run", "-b", victim, cid(f"v{i}")], capture_output=True, text=True, timeout=60)
            assert not _mounts_under(str(host)), "a container's mount landed on the host"
            if res.returncode == 0:
                assert res.stdout.split() == ["1", "1"], f"run {i}: a mount is not inside the container"
                inside += 1
            else:
                # refusing to start is safe; the message says which path changed
                assert "OCI runtime create failed" in res.stderr, res.stderr
                refused += 1
    finally:
        (shared / "stop").touch()
        try:
            swap.wait(timeout=30)
        except subprocess.TimeoutExpired:
            swap.kill()
            swap.wait()
    assert swap.returncode == 0, swap.stderr
    print(f"race: {inside} started, {refused} refused")
    assert inside >= 10, f"only {inside} of 30 containers started ({refused} refused)"
    assert os.listdir(host / "target") == [] and os.listdir(host / "bound") == []
    assert not _mounts_under(str(tmp_path))


def test_masking_binds_only_the_null_device(tmp_path):
    """CVE-2025-31133: a /dev shared with others can have its null swapped for a link to
    a file; masking must not bind that file over the masked path. A real null masks."""
    rt = _runtime_script(tmp_path)
    shared_dev = tmp_path / "dev"
    shared_dev.mkdir()
    (shared_dev / "null").symlink_to("/etc/secret")

    def bundle(name, dev_mount):
        path = _bundle(tmp_path, name, "cat /etc/masked; echo end", [dev_mount])
        spec = json.loads((tmp_path / name / "config.json").read_text())
        spec["mounts"] = [m for m in spec["mounts"] if m["destination"] != "/dev"] + [dev_mount]
        spec["linux"]["maskedPaths"] = ["/etc/masked"]
        (tmp_path / name / "config.json").write_text(json.dumps(spec))
        (tmp_path / name / "rootfs" / "etc").mkdir()
        (tmp_path / name / "rootfs" / "etc" / "masked").write_text("hidden\n")
        (tmp_path / name / "rootfs" / "etc" / "secret").write_text("the file the link names\n")
        return path

    swapped = bundle("swapped", {"destination": "/dev", "type": "bind", "source": str(shared_dev),
                                 "options": ["rbind"]})
    res = subprocess.run([rt, "run", "-b", swapped, cid("c1")], capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "/dev/null is not the null device" in res.stderr, res.stdout + res.stderr
    real = bundle("real", {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]})
    res = subprocess.run([rt, "run", "-b", real, cid("c2")], capture_output=True, text=True, timeout=60)
    assert (res.returncode, res.stdout) == (0, "end\n"), res.stderr
    assert not _mounts_under(str(tmp_path))


@pytest.mark.parametrize("destination,type_,error", [
    ("/proc/sys/kernel/core_pattern", "bind", '"/proc/sys/kernel/core_pattern" cannot be mounted because it is inside /proc'),
    ("/via-link/sys/kernel/core_pattern", "bind", "cannot be mounted because it is inside /proc"),  # a link into /proc
    ("/proc/uptime", "bind", ""),  # lxcfs's files may be
    ("/proc", "tmpfs", '"/proc" cannot be mounted because it is not of type proc'),
])
def test_mounts_inside_proc_are_refused_as_runc_does(tmp_path, src, destination, type_, error):
    rt = _runtime_script(tmp_path)
    (src / "file").write_text("42.0 42.0\n")
    mount = ({"destination": destination, "type": "bind", "source": str(src / "file"), "options": ["bind", "ro"]}
             if type_ == "bind" else {"destination": destination, "type": "tmpfs", "source": "tmpfs"})
    bundle = _bundle(tmp_path, "b", "cat /proc/uptime", [mount])
    os.symlink("/proc", os.path.join(bundle, "rootfs", "via-link"))
    res = subprocess.run([rt, "run", "-b", bundle, cid("c")], capture_output=True, text=True, timeout=60)
    if error:
        assert res.returncode != 0 and error in res.stderr, res.stderr
        assert f'error mounting "{mount["source"]}" to rootfs at "{destination}": ' in res.stderr  # runc's words
    else:
        assert (res.returncode, res.stdout) == (0, "42.0 42.0\n"), res.stderr
