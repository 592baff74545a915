"""Volumes, binds and tmpfs in running containers, driven with the ketch CLI: data shared
between two running containers, read-only enforced, copy-up from the image, tmpfs limits,
bind propagation, volumes across `rm` and a ketchd restart. Under ketch's runtime and runc
where the runtime matters (the spec's mounts must work for both)."""

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from tests.integration.conftest import wait_until

RUNC = shutil.which("runc")
RUNTIMES = ["ketch", pytest.param("runc", marks=pytest.mark.skipif(RUNC is None, reason="no runc"))]


def _volume_dir(d, name: str) -> str:
    return os.path.join(d.data_root, "volumes", name, "_data")


def _ok(res):
    assert res.returncode == 0, res.stderr
    return res.stdout


def _host_mounts(prefix: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(prefix)]


@pytest.fixture
def volumes(daemon):
    """Volume names for one test; removed (with their data) afterwards."""
    used: list[str] = []

    def make(prefix: str = "kv") -> str:
        name = f"{prefix}{os.getpid()}x{len(used)}{secrets.token_hex(4)}"
        used.append(name)
        return name

    yield make
    for name in used:
        daemon.api("DELETE", f"/volumes/{name}?force=1")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_two_running_containers_share_a_named_volume(daemon, names, volumes, runtime):
    vol = volumes()
    a, b = names(), names()
    for name in (a, b):
        _ok(daemon.ketch("run", "-d", "--runtime", runtime, "--name", name, "-v", f"{vol}:/shared",
                         "busybox", "sleep", "60"))
    _ok(daemon.ketch("exec", a, "sh", "-c", "echo from-a > /shared/note"))
    assert _ok(daemon.ketch("exec", b, "cat", "/shared/note")) == "from-a\n"
    _ok(daemon.ketch("exec", b, "sh", "-c", "echo from-b >> /shared/note"))
    assert _ok(daemon.ketch("exec", a, "cat", "/shared/note")) == "from-a\nfrom-b\n"
    with open(os.path.join(_volume_dir(daemon, vol), "note")) as f:
        assert f.read() == "from-a\nfrom-b\n"
    _ok(daemon.ketch("rm", "-f", a, b))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_read_only_volume_and_bind_cannot_be_written_nor_remounted(daemon, volumes, runtime, tmp_path):
    vol = volumes()
    host = tmp_path / "ro"
    host.mkdir()
    script = ("for d in /v /b; do touch $d/x 2>&1; mount -o remount,rw $d 2>&1 && echo REMOUNTED; "
              "touch $d/y 2>&1; done; grep -E ' /(v|b) ' /proc/mounts | cut -d' ' -f2,4")
    res = daemon.ketch("run", "--rm", "--runtime", runtime, "-v", f"{vol}:/v:ro",
                       "--mount", f"type=bind,src={host},dst=/b,readonly", "busybox", "sh", "-c", script)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert "REMOUNTED" not in res.stdout
    assert sum("Read-only file system" in line for line in lines) == 4, res.stdout
    assert {line.split()[0]: line.split()[1].split(",")[0] for line in lines if line.startswith("/")} \
        == {"/v": "ro", "/b": "ro"}
    assert os.listdir(host) == [] and os.listdir(_volume_dir(daemon, vol)) == []


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_read_only_bind_is_recursive_where_the_runtime_can(daemon, runtime, tmp_path):
    """Docker 25+: a read-only bind is "rro" (mounts below it read-only too) when the
    runtime lists it in its features; else "ro", and the mount below stays writable."""
    import sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    from ketch.engine import runtimes as engine_runtimes
    recursive = not engine_runtimes.build(None, None, None).rro_error(runtime)
    host = tmp_path / "tree"
    (host / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(host / "sub")], check=True)
    try:
        res = daemon.ketch("run", "--rm", "--runtime", runtime, "-v", f"{host}:/t:ro", "busybox",
                           "sh", "-c", "touch /t/sub/f 2>&1; echo done")
        assert res.returncode == 0, res.stderr
        assert ("Read-only file system" in res.stdout) == recursive, res.stdout
    finally:
        subprocess.run(["umount", str(host / "sub")], check=True)


def test_copy_up_keeps_owners_modes_and_symlinks_unless_nocopy(daemon, names, volumes, tmp_path):
    base, image = names(), f"kt-copyup-{os.getpid()}:1"
    with_volume = f"kt-copyup-{os.getpid()}:vol"
    _ok(daemon.ketch("run", "--name", base, "busybox", "sh", "-c",
                     "mkdir -p /data/sub && echo img > /data/file && chown 1:2 /data/file && "
                     "chmod 640 /data/file && ln -s file /data/link && chown 3:4 /data/sub && "
                     "chmod 750 /data/sub && chown 5:6 /data && chmod 711 /data && mkdir /raw /b && "
                     "echo img > /raw/r && echo img > /b/r"))
    _ok(daemon.ketch("commit", base, image))
    try:
        vol, raw = volumes(), volumes()
        show = ("cd /data && stat -c '%n %u:%g %a' . file sub && readlink link && cat file && "
                "ls -A /raw | wc -l && ls -A /b | wc -l")
        empty = tmp_path / "empty"
        empty.mkdir()
        out = _ok(daemon.ketch("run", "--rm", "-v", f"{vol}:/data", "-v", f"{raw}:/raw:nocopy",
                               "-v", f"{empty}:/b", image, "sh", "-c", show))
        assert out.splitlines()[:4] == [". 5:6 711", "file 1:2 640", "sub 3:4 750", "file"]
        assert out.splitlines()[4:] == ["img", "0", "0"]  # not into nocopy, nor a bind
        st = os.stat(_volume_dir(daemon, vol))
        assert (st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)) == (5, 6, "0o711")
        assert os.readlink(os.path.join(_volume_dir(daemon, vol), "link")) == "file"
        # a volume with content is not copied into again
        out = _ok(daemon.ketch("run", "--rm", "-v", f"{vol}:/data", image, "sh", "-c",
                               "rm /data/file; ls -A /data"))
        assert out.split() == ["link", "sub"]
        assert _ok(daemon.ketch("run", "--rm", "-v", f"{vol}:/data", image, "ls", "-A", "/data")).split() \
            == ["link", "sub"]
        # the image's VOLUME: an anonymous volume seeded the same way
        _ok(daemon.ketch("commit", "-c", "VOLUME /data", base, with_volume))
        out = _ok(daemon.ketch("run", "--rm", with_volume, "sh", "-c",
                               "stat -c '%u:%g %a' /data; cat /data/file; grep -c ' /data ' /proc/mounts"))
        assert out.splitlines() == ["5:6 711", "img", "1"]
    finally:
        daemon.ketch("rm", "-f", base)
        daemon.ketch("rmi", "-f", image, with_volume)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tmpfs_size_limit_and_default_options(daemon, runtime):
    script = ("for d in /x /y; do dd if=/dev/zero of=$d/f bs=1024 count=2048 2>&1 | "
              "grep -q 'No space left on device' && echo FULL || echo FIT; "
              "grep \" $d \" /proc/mounts | cut -d' ' -f3,4; done")
    res = daemon.ketch("run", "--rm", "--runtime", runtime, "--tmpfs", "/x:size=1m",
                       "--mount", "type=tmpfs,dst=/y,tmpfs-size=2097152,tmpfs-mode=1700",
                       "busybox", "sh", "-c", script)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "FULL"
    fstype, options = lines[1].split()
    assert fstype == "tmpfs"
    assert {"rw", "nosuid", "nodev", "noexec", "size=1024k"} <= set(options.split(","))
    assert lines[2] == "FIT"  # 2 MiB fit in 2 MiB
    assert {"rw", "nosuid", "nodev", "noexec", "size=2048k", "mode=1700"} <= set(lines[3].split()[1].split(","))


def test_tmpfs_exec_and_read_only(daemon):
    out = _ok(daemon.ketch("run", "--rm", "--tmpfs", "/t:ro,exec,mode=700", "busybox", "sh", "-c",
                           "grep ' /t ' /proc/mounts | cut -d' ' -f4"))
    options = out.strip().split(",")
    assert options[0] == "ro" and "noexec" not in options and "mode=700" in options


@pytest.fixture
def shared_dir():
    """A host directory that is a shared mount point of its own (the host's / is private
    here), with a tmpfs mounted below it by the test; all unmounted afterwards."""
    path = tempfile.mkdtemp(prefix="kt-prop-", dir="/tmp")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", path], check=True)
    subprocess.run(["mount", "--make-shared", path], check=True)
    os.mkdir(os.path.join(path, "sub"))
    yield path
    for target in sorted(_host_mounts(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False)
    os.rmdir(path)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_bind_propagation_from_the_host(daemon, names, shared_dir, runtime):
    """A mount made on the host below a bind's source after the start reaches an rslave
    or rshared bind, not a default (rprivate) one."""
    got = {}
    for mode in ("rslave", "rshared", "rprivate"):
        name = names()
        _ok(daemon.ketch("run", "-d", "--runtime", runtime, "--name", name, "-v",
                         f"{shared_dir}:/m:{mode}", "busybox", "sleep", "60"))
        got[mode] = name
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
                    os.path.join(shared_dir, "sub")], check=True)
    try:
        for mode, name in got.items():
            seen = daemon.ketch("exec", name, "grep", "-c", " /m/sub ", "/proc/mounts").stdout.strip()
            assert seen == ("0" if mode == "rprivate" else "1"), mode
    finally:
        subprocess.run(["umount", os.path.join(shared_dir, "sub")], check=True)
        daemon.ketch("rm", "-f", *got.values())


def test_shared_propagation_of_a_private_source_is_refused(daemon, names, tmp_path):
    name = names()
    res = daemon.ketch("run", "--name", name, "-v", f"{tmp_path}:/m:rshared", "busybox", "true")
    assert res.returncode != 0
    assert f"path {tmp_path} is mounted on / but it is not a shared mount" in res.stderr
    daemon.ketch("rm", "-f", name)


def test_v_bind_source_is_created_at_start(daemon, tmp_path):
    missing = tmp_path / "a" / "b"
    _ok(daemon.ketch("run", "--rm", "-v", f"{missing}:/d", "busybox", "touch", "/d/f"))
    assert (missing / "f").exists() and oct(missing.stat().st_mode & 0o777) == "0o755"


def test_named_and_anonymous_volumes_outlive_rm_and_a_ketchd_restart(fresh_daemon):
    d = fresh_daemon
    _ok(d.ketch("run", "--name", "writer", "-v", "keep:/k", "-v", "/anon", "busybox", "sh", "-c",
                "echo kept > /k/f; echo anon > /anon/f"))
    anon = _ok(d.ketch("inspect", "-f",
                       "{{range .Mounts}}{{if eq .Destination \"/anon\"}}{{.Name}}{{end}}{{end}}",
                       "writer")).strip()
    _ok(d.ketch("rm", "writer"))  # without -v: both stay
    d.restart()
    assert _ok(d.ketch("run", "--rm", "-v", "keep:/k", "-v", f"{anon}:/a", "busybox", "cat", "/k/f",
                       "/a/f")) == "kept\nanon\n"


def test_running_containers_volume_stays_mounted_and_counted_across_a_restart(fresh_daemon):
    """A volume whose data is a mount of its own (-o type=tmpfs) is mounted while a
    container uses it; after a ketchd restart the running container's use still counts,
    so its stop unmounts it (and says so), and the data seen before is still there."""
    d = fresh_daemon
    spec = "type=volume,src=dev,dst=/d,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=1m"
    _ok(d.ketch("run", "-d", "--name", "user", "--mount", spec, "busybox", "sleep", "300"))
    data = _volume_dir(d, "dev")
    assert _host_mounts(data) == [data]
    _ok(d.ketch("exec", "user", "sh", "-c", "echo before > /d/f"))
    d.restart()
    assert _host_mounts(data) == [data]
    assert _ok(d.ketch("exec", "user", "cat", "/d/f")) == "before\n"
    since = str(int(time.time()) - 1)
    _ok(d.ketch("stop", "-t", "0", "user"))
    assert wait_until(lambda: _host_mounts(data) == [], 10), _host_mounts(data)
    events = _ok(d.ketch("events", "--since", since, "--until", str(int(time.time()) + 1),
                         "--filter", "type=volume", "--format", "{{.Action}} {{.Actor.ID}}"))
    assert "unmount dev" in events.splitlines()
    _ok(d.ketch("rm", "user"))


def test_a_start_after_a_crash_unmounts_leftovers_adopts_unrecorded_volumes_and_sweeps_tombstones(fresh_daemon):
    """ketchd killed (SIGKILL) while a container used a -o type=tmpfs volume, the container
    exiting while ketchd is down: nothing counted the mount, the next start unmounts it
    (moby's local.New). A volume directory no record names (a data root copied without its
    database) is a volume again, its data kept; a removal's tombstone is deleted."""
    d = fresh_daemon
    spec = "type=volume,src=dev,dst=/d,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=1m"
    _ok(d.ketch("run", "-d", "--name", "user", "--mount", spec, "busybox", "sleep", "300"))
    data = _volume_dir(d, "dev")
    assert _host_mounts(data) == [data]
    pid = int(_ok(d.ketch("inspect", "-f", "{{.State.Pid}}", "user")))
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.proc = None
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 10)
    volumes = os.path.join(d.data_root, "volumes")
    os.makedirs(os.path.join(volumes, "copied", "_data"))
    with open(os.path.join(volumes, "copied", "_data", "f"), "w") as f:
        f.write("moved\n")
    tomb = os.path.join(volumes, ".old.removing-0123abcd")
    os.makedirs(os.path.join(tomb, "_data", "x"))
    d.start()
    assert _host_mounts(data) == []
    assert _ok(d.ketch("ps", "-a", "--format", "{{.Names}} {{.State}}")) == "user exited\n"
    assert _ok(d.ketch("volume", "ls", "--format", "{{.Driver}} {{.Name}}")).splitlines() == [
        "local copied", "local dev"]
    assert not os.path.exists(tomb)
    assert _ok(d.ketch("run", "--rm", "-v", "copied:/c", "busybox", "cat", "/c/f")) == "moved\n"
    _ok(d.ketch("rm", "-v", "user"))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_user_mounts_replace_dockers_own_files_and_shm(daemon, runtime, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("10.9.8.7 mine\n")
    res = daemon.ketch("run", "--rm", "--runtime", runtime, "-v", f"{hosts}:/etc/hosts:ro",
                       "--tmpfs", "/dev/shm:size=2m", "busybox", "sh", "-c",
                       "cat /etc/hosts; { echo x >> /etc/hosts; } 2>&1; "
                       "grep -E ' /dev/shm | /etc/hosts ' /proc/mounts | cut -d' ' -f2,4")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "10.9.8.7 mine"
    assert "Read-only file system" in lines[1]
    mounts = dict(line.split() for line in lines[2:])
    assert set(mounts) == {"/etc/hosts", "/dev/shm"}  # one each: Docker's own are gone
    assert "size=2048k" in mounts["/dev/shm"].split(",")
    assert hosts.read_text() == "10.9.8.7 mine\n"


def test_a_volume_that_cannot_be_mounted_fails_the_start_as_docker(daemon, names, volumes):
    vol, name = volumes(), names()
    _ok(daemon.ketch("volume", "create", "-o", "type=none", "-o", "device=/nonexistent-kv",
                     "-o", "o=bind", vol))
    res = daemon.ketch("run", "--name", name, "-v", f"{vol}:/d", "busybox", "true")
    data = _volume_dir(daemon, vol)
    assert res.returncode == 127  # docker/cli's code for "no such file or directory"
    assert res.stderr.startswith(
        f"ketch: Error response from daemon: error while mounting volume '{data}': failed to mount "
        f"local volume: mount /nonexistent-kv:{data}, flags: 0x1000: no such file or directory\n")
    _ok(daemon.ketch("rm", name))
    assert _ok(daemon.ketch("volume", "rm", vol)) == f"{vol}\n"  # nothing holds it


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_read_only_rootfs_keeps_rw_mounts_writable(daemon, volumes, runtime):
    vol = volumes()
    res = daemon.ketch("run", "--rm", "--read-only", "--runtime", runtime, "-v", f"{vol}:/v",
                       "--tmpfs", "/t", "busybox", "sh", "-c",
                       "touch /v/f /t/f && echo WROTE; for f in /etc/hosts /x; do "
                       "{ echo x >> $f; } 2>&1; done; true")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "WROTE"
    assert all("Read-only file system" in line for line in lines[1:]) and len(lines) == 3, lines


def test_volume_subpath_is_pinned_inside_the_volume(daemon, names, volumes):
    """--mount volume-subpath: the subpath is resolved inside the volume (a symlink to /
    there is the volume's root, not the host's) and pinned for the run, then let go."""
    vol = volumes()
    _ok(daemon.ketch("run", "--rm", "-v", f"{vol}:/v", "busybox", "sh", "-c",
                     "mkdir /v/sub && echo in-sub > /v/sub/f && ln -s / /v/esc"))
    for sub, expect in (("sub", "f\n"), ("esc", "esc\nsub\n")):
        out = _ok(daemon.ketch("run", "--rm", "--mount", f"type=volume,src={vol},dst=/d,volume-subpath={sub}",
                               "busybox", "ls", "/d"))
        assert out == expect
    res = daemon.ketch("run", "--rm", "--mount", f"type=volume,src={vol},dst=/d,volume-subpath=nosuch",
                       "busybox", "true")
    assert res.returncode != 0 and "cannot access path" in res.stderr, res.stderr
    pins = lambda: [m for m in _host_mounts(daemon.exec_root) if "/subpaths/" in m]  # noqa: E731
    name = names()
    _ok(daemon.ketch("run", "-d", "--name", name, "--mount",
                     f"type=volume,src={vol},dst=/d,volume-subpath=sub", "busybox", "sleep", "60"))
    cid = _ok(daemon.ketch("inspect", "-f", "{{.Id}}", name)).strip()
    assert pins() == [os.path.join(daemon.exec_root, "containers", cid, "subpaths", "0")]
    _ok(daemon.ketch("rm", "-f", name))
    assert pins() == []


def test_mount_and_unmount_events_frame_the_run(daemon, names, volumes):
    """moby: the volume's mount before the container's start, its unmount (at the run's
    cleanup) before the container's die."""
    vol, name = volumes(), names()
    since = str(int(time.time()) - 1)
    _ok(daemon.ketch("run", "--name", name, "-v", f"{vol}:/d:ro", "busybox", "true"))
    cid = _ok(daemon.ketch("inspect", "-f", "{{.Id}}", name)).strip()
    out = _ok(daemon.ketch("events", "--since", since, "--until", str(int(time.time()) + 1),
                           "--format", "{{.Type}} {{.Action}} {{.Actor.ID}} {{json .Actor.Attributes}}"))
    lines = [line.split(" ", 3) for line in out.splitlines()]
    lines = [(kind, action, attrs) for kind, action, actor, attrs in lines
             if actor in (vol, cid) and action in ("mount", "unmount", "start", "die")]
    assert [f"{kind} {action}" for kind, action, _ in lines] == [
        "volume mount", "container start", "volume unmount", "container die"], out
    assert lines[0][2] == (
        f'{{"container":"{cid}","destination":"/d","driver":"local","propagation":"","read/write":"false"}}')
    _ok(daemon.ketch("rm", name))


def test_copy_up_happens_at_create_into_the_subpath_too(daemon, names, volumes):
    """moby's populateVolumes runs at create: a created, never started container's new
    volume already holds the image's directory; with volume-subpath, the subpath does."""
    vol, sub_vol, created, created_sub = volumes(), volumes(), names(), names()
    _ok(daemon.ketch("create", "--name", created, "-v", f"{vol}:/etc", "busybox"))
    assert "passwd" in _ok(daemon.ketch("run", "--rm", "-v", f"{vol}:/x", "busybox", "ls", "/x")).split()
    _ok(daemon.ketch("run", "--rm", "-v", f"{sub_vol}:/v", "busybox", "sh", "-c",
                     "mkdir /v/sub && echo kept > /v/top"))
    _ok(daemon.ketch("create", "--name", created_sub, "--mount",
                     f"type=volume,src={sub_vol},dst=/etc,volume-subpath=sub", "busybox"))
    assert "passwd" in os.listdir(os.path.join(_volume_dir(daemon, sub_vol), "sub"))
    assert sorted(os.listdir(_volume_dir(daemon, sub_vol))) == ["sub", "top"]
    assert not [m for m in _host_mounts(daemon.exec_root) if "seed-" in m]
    _ok(daemon.ketch("rm", created, created_sub))


def test_volumes_from_at_run_time_sees_the_data_and_ro_is_enforced(daemon, names, volumes):
    vol, src = volumes(), names()
    _ok(daemon.ketch("run", "-d", "--name", src, "-v", f"{vol}:/data", "busybox", "sh", "-c",
                     "echo from-src > /data/f; sleep 60"))
    assert wait_until(lambda: os.path.exists(os.path.join(_volume_dir(daemon, vol), "f")), 10)
    assert _ok(daemon.ketch("run", "--rm", "--volumes-from", src, "busybox", "sh", "-c",
                            "cat /data/f; echo from-user >> /data/f")) == "from-src\n"
    res = daemon.ketch("run", "--rm", "--volumes-from", f"{src}:ro", "busybox", "sh", "-c",
                       "cat /data/f; touch /data/x 2>&1; mount -o remount,rw /data 2>&1 && echo REMOUNTED; true")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[:2] == ["from-src", "from-user"]
    assert "Read-only file system" in res.stdout and "REMOUNTED" not in res.stdout
    assert sorted(os.listdir(_volume_dir(daemon, vol))) == ["f"]
    _ok(daemon.ketch("rm", "-f", src))


def test_a_device_volume_shared_by_two_runs_is_unmounted_by_the_last_stop(daemon, names, volumes):
    vol, a, b = volumes(), names(), names()
    _ok(daemon.ketch("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", vol))
    data = _volume_dir(daemon, vol)
    for name in (a, b):
        _ok(daemon.ketch("run", "-d", "--name", name, "-v", f"{vol}:/d", "busybox", "sleep", "60"))
    assert _host_mounts(data) == [data]
    _ok(daemon.ketch("exec", a, "sh", "-c", "echo shared > /d/f"))
    _ok(daemon.ketch("stop", "-t", "0", a))
    assert _host_mounts(data) == [data]  # b still uses it
    assert _ok(daemon.ketch("exec", b, "cat", "/d/f")) == "shared\n"
    _ok(daemon.ketch("stop", "-t", "0", b))
    assert wait_until(lambda: _host_mounts(data) == [], 10), _host_mounts(data)
    _ok(daemon.ketch("rm", a, b))


def test_a_start_failing_after_its_first_volume_leaves_the_drivers_count_right(daemon, names, volumes):
    """Two volumes: the first (a tmpfs device) mounts, the second cannot. The failed start
    unmounts the first (the driver's count back to 0: not mounted on the host, removable)."""
    dev, bad, name = volumes(), volumes(), names()
    _ok(daemon.ketch("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", dev))
    _ok(daemon.ketch("volume", "create", "-o", "type=none", "-o", "device=/nonexistent-kv",
                     "-o", "o=bind", bad))
    since = str(int(time.time()) - 1)
    res = daemon.ketch("run", "--name", name, "-v", f"{dev}:/a", "-v", f"{bad}:/b", "busybox", "true")
    assert res.returncode != 0 and f"volumes/{bad}/_data" in res.stderr, res.stderr
    assert _host_mounts(_volume_dir(daemon, dev)) == []
    events = _ok(daemon.ketch("events", "--since", since, "--until", str(int(time.time()) + 1),
                              "--filter", "type=volume", "--format", "{{.Action}} {{.Actor.ID}}"))
    assert [line for line in events.splitlines() if line.endswith(dev) and "mount" in line] \
        == [f"mount {dev}", f"unmount {dev}"]
    # a second run mounts the device again (a count left at 1 would skip the mount)
    _ok(daemon.ketch("rm", name))
    assert _ok(daemon.ketch("run", "--rm", "-v", f"{dev}:/a", "busybox", "sh", "-c",
                            "grep ' /a ' /proc/mounts | cut -d' ' -f3")) == "tmpfs\n"
    assert _host_mounts(_volume_dir(daemon, dev)) == []
    assert _ok(daemon.ketch("volume", "rm", dev)) == f"{dev}\n"
