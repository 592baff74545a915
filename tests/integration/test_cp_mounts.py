"""`ketch cp` through a container's volumes and binds (moby's openContainerFS), running
and stopped; read-only mounts refused with Docker's message; export and commit leave the
mounts out; `ketch inspect` finds volumes in docker/cli's order of kinds."""

import io
import json
import os
import shutil
import subprocess
import tarfile
import time

import pytest

from tests.integration.conftest import PYTHON, REPO, wait_until


needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")


def _ok(res):
    assert (res.returncode, res.stderr) == (0, ""), (res.stdout, res.stderr)
    return res.stdout


def _volume_data(daemon, name) -> str:
    return os.path.join(daemon.data_root, "volumes", name, "_data")


def _remove_volumes(daemon, *names):
    for name in names:
        daemon.api("DELETE", f"/volumes/{name}?force=1")


def _host_mounts(daemon) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return sorted(line.split()[4] for line in f if daemon.root in line)


def _tar_out(daemon, ref: str) -> tarfile.TarFile:
    """`ketch cp CONTAINER:PATH -`: the tar as it comes."""
    raw = subprocess.run([PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                          "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO,
                          "cp", ref, "-"], capture_output=True, env=daemon.env(), timeout=60)
    assert raw.returncode == 0, raw.stderr
    return tarfile.open(fileobj=io.BytesIO(raw.stdout))


@pytest.fixture
def volume(daemon, names):
    name = names("vol")
    _ok(daemon.ketch("volume", "create", name))
    yield name
    _remove_volumes(daemon, name)


@pytest.mark.parametrize("state", ["running", "stopped"])
def test_cp_in_and_out_of_a_volume_and_a_bind(daemon, names, volume, tmp_path, state):
    bind = tmp_path / "bind"
    bind.mkdir()
    (bind / "from-host").write_text("bind host\n")
    name = names("cpm")
    verb = ("run", "-d") if state == "running" else ("create",)
    _ok(daemon.ketch(*verb, "--name", name, "-v", f"{volume}:/vol", "-v", f"{bind}:/srv/bind",
                     "busybox", "sleep", "600"))
    data = _volume_data(daemon, volume)
    with open(os.path.join(data, "from-volume"), "w") as f:
        f.write("volume host\n")
    src = tmp_path / "in.txt"
    src.write_text("copied in\n")
    _ok(daemon.ketch("cp", str(src), f"{name}:/vol/"))
    _ok(daemon.ketch("cp", str(src), f"{name}:/srv/bind/renamed"))
    # the copy went to the volume's data and the bind's source, not to the container's layer
    assert open(os.path.join(data, "in.txt")).read() == "copied in\n"
    assert (bind / "renamed").read_text() == "copied in\n"
    assert "/vol/in.txt" not in _ok(daemon.ketch("diff", name))
    out = tmp_path / "out"
    out.mkdir()
    _ok(daemon.ketch("cp", f"{name}:/vol/from-volume", str(out)))
    _ok(daemon.ketch("cp", f"{name}:/srv/bind/from-host", str(out)))
    assert (out / "from-volume").read_text() == "volume host\n"
    assert (out / "from-host").read_text() == "bind host\n"
    # a directory that holds a mount point is archived with what is mounted there
    members = {m.name for m in _tar_out(daemon, f"{name}:/srv")}
    assert {"srv/bind/from-host", "srv/bind/renamed"} <= members
    # the container sees what was copied
    if state == "stopped":
        _ok(daemon.ketch("start", name))
    seen = _ok(daemon.ketch("exec", name, "cat", "/vol/in.txt", "/srv/bind/renamed", "/vol/from-volume"))
    assert seen == "copied in\ncopied in\nvolume host\n"
    _ok(daemon.ketch("rm", "-f", name))
    assert _host_mounts(daemon) == []  # nothing of the copies stayed mounted


def test_stopped_copy_leaves_nothing_mounted_and_makes_a_missing_destination(daemon, names,
                                                                            volume, tmp_path):
    name = names("cpd")
    # an image directory that does not exist: the copy makes the mount point in the layer
    _ok(daemon.ketch("create", "--name", name, "-v", f"{volume}:/new/place", "busybox", "true"))
    before = _host_mounts(daemon)
    (tmp_path / "f").write_text("x\n")
    _ok(daemon.ketch("cp", str(tmp_path / "f"), f"{name}:/new/place/f"))
    assert open(os.path.join(_volume_data(daemon, volume), "f")).read() == "x\n"
    assert _host_mounts(daemon) == before
    assert _ok(daemon.ketch("diff", name)).splitlines() == ["A /new", "A /new/place"]


@pytest.mark.parametrize("state", ["running", "stopped"])
def test_cp_into_a_read_only_mount_is_refused(daemon, names, volume, tmp_path, state):
    bind = tmp_path / "bind"
    bind.mkdir()
    (bind / "keep").write_text("kept\n")
    name = names("cpro")
    verb = ("run", "-d") if state == "running" else ("create",)
    _ok(daemon.ketch(*verb, "--name", name, "-v", f"{volume}:/ro:ro", "--mount",
                     f"type=bind,src={bind},dst=/rob,readonly", "--read-only", "-v", "/rw",
                     "busybox", "sleep", "600"))
    src = tmp_path / "f"
    src.write_text("x\n")
    refused = "Error response from daemon: mounted volume is marked read-only\n"
    for dest in ("/ro/", "/rob/", "/rob/keep"):
        res = daemon.ketch("cp", str(src), f"{name}:{dest}")
        assert (res.returncode, res.stderr) == (1, refused), dest
    assert os.listdir(_volume_data(daemon, volume)) == [] and os.listdir(bind) == ["keep"]
    # a writable volume of a read-only container takes the copy; its root does not
    _ok(daemon.ketch("cp", str(src), f"{name}:/rw/"))
    res = daemon.ketch("cp", str(src), f"{name}:/tmp/")
    assert (res.returncode, res.stderr) == (1, "Error response from daemon: container rootfs is marked read-only\n")
    # reading is fine
    out = tmp_path / "out"
    _ok(daemon.ketch("cp", f"{name}:/rob/keep", str(out)))
    assert out.read_text() == "kept\n"
    _ok(daemon.ketch("rm", "-fv", name))


def test_a_symlink_into_a_read_only_mount_is_refused_too(daemon, names, volume, tmp_path):
    name = names("cpl")
    _ok(daemon.ketch("run", "-d", "--name", name, "-v", f"{volume}:/ro:ro", "busybox", "sh", "-c",
                     "ln -s /ro /tmp/link && ln -s ../ro /tmp/rel && sleep 600"))
    (tmp_path / "f").write_text("x\n")
    for dest in ("/tmp/link", "/tmp/rel/"):
        for _ in range(50):  # the links are made just after the start
            res = daemon.ketch("cp", str(tmp_path / "f"), f"{name}:{dest}")
            if "Could not find" not in res.stderr:
                break
        assert (res.returncode, res.stderr) == (
            1, "Error response from daemon: mounted volume is marked read-only\n"), dest
    assert os.listdir(_volume_data(daemon, volume)) == []
    _ok(daemon.ketch("rm", "-f", name))


def test_cp_publishes_the_volume_mount_and_unmount_events(daemon, names, volume, tmp_path):
    name = names("cpe")
    cid = _ok(daemon.ketch("create", "--name", name, "-v", f"{volume}:/v", "busybox", "true")).strip()
    since = str(int(time.time()) - 1)
    (tmp_path / "f").write_text("x\n")
    _ok(daemon.ketch("cp", str(tmp_path / "f"), f"{name}:/v/"))
    until = str(int(time.time()) + 1)
    events = _ok(daemon.ketch("events", "--since", since, "--until", until, "--filter", "type=volume",
                              "--filter", f"volume={volume}", "--filter", "event=mount",
                              "--filter", "event=unmount",
                              "--format", "{{.Action}} {{.Actor.ID}} {{json .Actor.Attributes}}"))
    # one pair for the stat of the destination the client asks first, one for the copy
    assert events.splitlines() == 2 * [
        f'mount {volume} {{"container":"{cid}","destination":"/v","driver":"local",'
        f'"propagation":"","read/write":"true"}}',
        f'unmount {volume} {{"container":"{cid}","driver":"local"}}']
    _ok(daemon.ketch("rm", name))


def test_export_and_commit_leave_volumes_and_binds_out(daemon, names, volume, tmp_path):
    bind = tmp_path / "bind"
    bind.mkdir()
    name = names("cpx")
    _ok(daemon.ketch("run", "-d", "--name", name, "-v", f"{volume}:/vol", "-v", f"{bind}:/bind",
                     "busybox", "sh", "-c", "echo in > /vol/by-container; echo in > /bind/by-container; "
                     "echo layer > /in-layer; sleep 600"))
    (tmp_path / "f").write_text("x\n")
    _ok(daemon.ketch("cp", str(tmp_path / "f"), f"{name}:/vol/by-cp"))
    _ok(daemon.ketch("cp", str(tmp_path / "f"), f"{name}:/bind/by-cp"))
    assert sorted(os.listdir(bind)) == ["by-container", "by-cp"]
    exported = tmp_path / "export.tar"
    _ok(daemon.ketch("export", "-o", str(exported), name))
    members = {m.name.rstrip("/") for m in tarfile.open(exported)}
    assert "in-layer" in members and {"vol", "bind"} <= members  # the mount points themselves
    assert not [m for m in members if m.startswith(("vol/", "bind/"))], members
    image = f"cp-commit-{name}:latest"
    _ok(daemon.ketch("commit", name, image))
    try:
        listing = _ok(daemon.ketch("run", "--rm", image, "sh", "-c", "cat /in-layer; ls -A /vol; ls -A /bind"))
        assert listing == "layer\n"
    finally:
        _ok(daemon.ketch("rm", "-f", name))
        daemon.ketch("rmi", image)


def test_inspect_finds_volumes(daemon, names, volume):
    vols = os.path.join(daemon.data_root, "volumes")
    doc = json.loads(_ok(daemon.ketch("inspect", volume)))
    assert [(d["Name"], d["Driver"], d["Mountpoint"], d["Scope"]) for d in doc] == [
        (volume, "local", f"{vols}/{volume}/_data", "local")]
    assert list(doc[0]) == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]
    assert _ok(daemon.ketch("inspect", "--type", "volume", "-f", "{{.Name}} {{.Mountpoint}}", volume)) == \
        f"{volume} {vols}/{volume}/_data\n"
    res = daemon.ketch("inspect", "--type", "volume", "nosuchvolume")
    assert (res.returncode, res.stdout, res.stderr) == (
        1, "[]\n", "Error response from daemon: get nosuchvolume: no such volume\n")
    res = daemon.ketch("inspect", "-f", "{{.Name}}", volume, "nosuchthing")
    assert (res.returncode, res.stdout, res.stderr) == (1, f"{volume}\n", "Error: No such object: nosuchthing\n")
    # a container of the same name comes first (docker/cli's order: container, image, network, volume)
    name = names("same")
    _ok(daemon.ketch("volume", "create", name))
    try:
        _ok(daemon.ketch("create", "--name", name, "busybox", "true"))
        assert _ok(daemon.ketch("inspect", "-f", "{{.Name}}", name)) == f"/{name}\n"
        assert _ok(daemon.ketch("inspect", "--type", "volume", "-f", "{{.Name}}", name)) == f"{name}\n"
    finally:
        daemon.ketch("rm", "-f", name)
        _remove_volumes(daemon, name)
    # a volume name no image reference can be (upper case) is found too: docker/cli skips
    # the image lookup's "invalid reference format"
    upper = "Upper" + volume
    _ok(daemon.ketch("volume", "create", upper))
    try:
        assert _ok(daemon.ketch("inspect", "-f", "{{.Name}}", upper)) == f"{upper}\n"
    finally:
        _remove_volumes(daemon, upper)


@pytest.mark.parametrize("state", ["running", "stopped"])
def test_cp_reads_the_container_s_own_network_files(daemon, names, state):
    name = names("cpn")
    _ok(daemon.ketch("run", "-d", "--name", name, "-h", "boxname", "--add-host", "marker.test:10.1.2.3",
                     "busybox", "sleep", "600"))
    if state == "stopped":
        _ok(daemon.ketch("stop", "-t", "0", name))
    files = {m.name: m for m in _tar_out(daemon, f"{name}:/etc")}
    hosts = _tar_out(daemon, f"{name}:/etc/hosts")
    assert "10.1.2.3\tmarker.test" in hosts.extractfile("hosts").read().decode()
    hostname = _tar_out(daemon, f"{name}:/etc/hostname")
    assert hostname.extractfile("hostname").read() == b"boxname\n"
    assert files["etc/hosts"].size == hosts.getmember("hosts").size
    _ok(daemon.ketch("rm", "-f", name))


@needs_docker
def test_docker_cli_copies_through_mounts_alike(daemon, names, volume, tmp_path):
    name = names("cpk")
    _ok(daemon.docker("run", "-d", "--name", name, "-v", f"{volume}:/vol", "-v", f"{tmp_path}:/ro:ro",
                      "busybox", "sleep", "600"))
    (tmp_path / "f").write_text("from docker\n")
    _ok(daemon.docker("cp", str(tmp_path / "f"), f"{name}:/vol/"))
    assert open(os.path.join(_volume_data(daemon, volume), "f")).read() == "from docker\n"
    res = daemon.docker("cp", str(tmp_path / "f"), f"{name}:/ro/g")
    assert (res.returncode, res.stderr) == (1, "Error response from daemon: mounted volume is marked read-only\n")
    _ok(daemon.docker("cp", f"{name}:/ro/f", str(tmp_path / "back")))
    assert (tmp_path / "back").read_text() == "from docker\n"
    _ok(daemon.docker("rm", "-f", name))


def test_cp_through_a_device_volume_mounts_it_for_the_copy_only(daemon, names, tmp_path):
    vol, name, other = names("dev"), names("cpv"), names("cpw")
    _ok(daemon.ketch("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", vol))
    data = _volume_data(daemon, vol)
    try:
        _ok(daemon.ketch("create", "--name", name, "-v", f"{vol}:/t", "busybox", "true"))
        (tmp_path / "f").write_text("x\n")
        _ok(daemon.ketch("cp", str(tmp_path / "f"), f"{name}:/t/"))
        assert data not in _host_mounts(daemon)  # mounted for the copy, unmounted after it
        # while a container runs with it, a copy goes to the same tmpfs it sees
        _ok(daemon.ketch("run", "-d", "--name", other, "-v", f"{vol}:/t", "busybox", "sleep", "600"))
        _ok(daemon.ketch("cp", str(tmp_path / "f"), f"{name}:/t/g"))
        assert _ok(daemon.ketch("exec", other, "cat", "/t/g")) == "x\n"
        _ok(daemon.ketch("rm", "-f", other))
        assert data not in _host_mounts(daemon)
    finally:
        daemon.ketch("rm", "-f", name, other)
        _remove_volumes(daemon, vol)


def test_rm_v_during_a_streaming_cp_removes_the_anonymous_volume_when_the_copy_ends(daemon, names):
    """The archive's lock goes once the root is open (a slow reader must not block rm), but
    the copy holds the container's volumes mounted until it ends: `rm -v` meanwhile must
    not leave the anonymous volume behind ("in use" by the removed container) for good."""
    import socket
    name = names("cps")
    _ok(daemon.ketch("run", "--name", name, "-v", "/data", "busybox", "sh", "-c",
                     "dd if=/dev/zero of=/data/f bs=1M count=16 2>/dev/null"))
    (anon,) = [m["Name"] for m in json.loads(_ok(daemon.ketch("inspect", name)))[0]["Mounts"]]
    s = socket.socket(socket.AF_UNIX)
    try:
        s.settimeout(30)
        s.connect(daemon.socket)
        s.sendall(f"GET /containers/{name}/archive?path=/data HTTP/1.1\r\nHost: d\r\n"
                  "Connection: close\r\n\r\n".encode())
        assert s.recv(65536).startswith(b"HTTP/1.1 200")  # the copy has begun, and stalls
        status, _ = daemon.api("DELETE", f"/containers/{name}?v=1")
        assert status == 204
        assert anon in _ok(daemon.ketch("volume", "ls", "-q")).split()  # held by the copy
        while s.recv(1 << 20):
            pass
    finally:
        s.close()
    assert wait_until(lambda: anon not in _ok(daemon.ketch("volume", "ls", "-q")).split(), 10)
