"""Containers with volumes, binds and tmpfs mounts, driven by the real docker CLI and the
docker Python SDK, unchanged, against ketchd.

What Docker prints and does is the oracle (docker 28 against moby 26+, API 1.45; where the
tests' dockerd 20.10 differs, /work/wt/ORACLE11.md and the differential table say so).
Every test removes the containers and volumes it made (``volumes``: whatever is new when
it ends, containers first) and its host directories; ketchd's teardown checks that no
mount is left.
"""

import json
import os
import shutil
import tempfile
import time
import uuid

import pytest

needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")

ANONYMOUS = "com.docker.volume.anonymous"


def _vol() -> str:
    return f"kv-{uuid.uuid4().hex[:12]}"


def _volume_names(daemon) -> set[str]:
    status, body = daemon.api("GET", "/volumes")
    assert status == 200, body
    return {v["Name"] for v in body["Volumes"] or []}


def _container_ids(daemon) -> set[str]:
    status, body = daemon.api("GET", "/containers/json?all=1")
    assert status == 200, body
    return {c["Id"] for c in body}


@pytest.fixture
def volumes(daemon, names):
    """Removes the containers, then the volumes, the test made (this ends before ``names``
    does, and a volume in use cannot go)."""
    before, containers = _volume_names(daemon), _container_ids(daemon)
    yield
    for cid in _container_ids(daemon) - containers:
        daemon.api("DELETE", f"/containers/{cid}?force=1")
    for name in _volume_names(daemon) - before:
        daemon.api("DELETE", f"/volumes/{name}?force=1")
    assert _volume_names(daemon) <= before


@pytest.fixture
def hostdir():
    path = tempfile.mkdtemp(prefix="kv-host-", dir="/tmp")
    with open(os.path.join(path, "f"), "w") as f:
        f.write("from the host\n")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _ok(res):
    assert res.returncode == 0, f"exit {res.returncode}\nstdout: {res.stdout}\nstderr: {res.stderr}"
    return res.stdout


def _mount_line(daemon, *run_args: str, dest: str) -> list[str]:
    """The container's /proc/mounts line for ``dest``: [source, target, fstype, options]."""
    out = _ok(daemon.docker("run", "--rm", *run_args, "busybox", "grep", f" {dest} ", "/proc/mounts"))
    return out.split()[:4]


# -- the docker CLI ----------------------------------------------------------------------------

@needs_docker
def test_docker_named_volume_shared_by_two_containers(daemon, names, volumes):
    vol = _vol()
    assert _ok(daemon.docker("volume", "create", vol)) == f"{vol}\n"
    writer = names("vw")
    _ok(daemon.docker("run", "-d", "--name", writer, "-v", f"{vol}:/data", "busybox", "sh", "-c",
                      "echo one > /data/a; exec sleep 60"))
    # a second, running at the same time, sees the first one's file and writes its own
    reader = _ok(daemon.docker("run", "--rm", "-v", f"{vol}:/shared", "busybox", "sh", "-c",
                               "until [ -s /shared/a ]; do sleep 0.05; done; cat /shared/a; echo two > /shared/b"))
    assert reader == "one\n"
    assert _ok(daemon.docker("exec", writer, "cat", "/data/b")) == "two\n"

    wid = _ok(daemon.docker("inspect", "-f", "{{.Id}}", writer)).strip()
    res = daemon.docker("volume", "rm", vol)
    assert (res.returncode, res.stderr) == (1, f"Error response from daemon: remove {vol}: volume is in use - [{wid}]\n")
    res = daemon.docker("volume", "rm", "-f", vol)  # -f does not remove a volume in use either
    assert res.returncode == 1 and "volume is in use" in res.stderr
    assert _ok(daemon.docker("ps", "--filter", f"volume={vol}", "--format", "{{.Names}}")) == f"{writer}\n"
    assert _ok(daemon.docker("volume", "ls", "-q", "--filter", "dangling=false", "--filter", f"name={vol}")) == f"{vol}\n"

    _ok(daemon.docker("rm", "-f", writer))
    # the data outlives the containers; a named volume is no prune's business without --all
    _ok(daemon.docker("volume", "prune", "-f"))
    assert _ok(daemon.docker("run", "--rm", "-v", f"{vol}:/d", "busybox", "cat", "/d/a", "/d/b")) == "one\ntwo\n"
    assert _ok(daemon.docker("volume", "rm", vol)) == f"{vol}\n"
    res = daemon.docker("volume", "inspect", vol)
    assert (res.returncode, res.stdout, res.stderr) == (1, "[]\n", f"Error response from daemon: get {vol}: no such volume\n")


@needs_docker
def test_docker_named_volume_read_only(daemon, names, volumes):
    vol = _vol()
    res = daemon.docker("run", "--rm", "-v", f"{vol}:/d:ro", "busybox", "sh", "-c",
                        "touch /d/x; mount -o remount,rw /d 2>/dev/null && echo remounted; grep ' /d ' /proc/mounts")
    assert res.returncode == 0, res.stderr
    assert res.stderr == "touch: /d/x: Read-only file system\n"
    assert "remounted" not in res.stdout and res.stdout.split()[3].split(",")[0] == "ro"


@needs_docker
def test_docker_bind_mounts(daemon, names, volumes, hostdir):
    # -v /host:/path: the container writes on the host
    _ok(daemon.docker("run", "--rm", "-v", f"{hostdir}:/h", "busybox", "sh", "-c", "cat /h/f; echo back > /h/g"))
    with open(os.path.join(hostdir, "g")) as f:
        assert f.read() == "back\n"
    # :ro, and --mount ...,readonly
    for args in (("-v", f"{hostdir}:/h:ro"), ("--mount", f"type=bind,src={hostdir},dst=/h,readonly")):
        res = daemon.docker("run", "--rm", *args, "busybox", "sh", "-c", "cat /h/f; touch /h/x")
        assert (res.returncode, res.stdout, res.stderr) == (1, "from the host\n", "touch: /h/x: Read-only file system\n")
    assert not os.path.exists(os.path.join(hostdir, "x"))
    # a file bound over one of Docker's own (/etc/hostname)
    assert _ok(daemon.docker("run", "--rm", "-v", f"{hostdir}/f:/etc/hostname:ro", "busybox",
                             "cat", "/etc/hostname")) == "from the host\n"
    # -v creates a missing source directory (and its parents), --mount refuses it
    missing = os.path.join(hostdir, "new", "sub")
    assert _ok(daemon.docker("run", "--rm", "-v", f"{missing}:/d", "busybox", "ls", "-A", "/d")) == ""
    st = os.stat(missing)
    assert os.path.isdir(missing) and (st.st_mode & 0o7777, st.st_uid) == (0o755, 0)
    res = daemon.docker("run", "--rm", "--mount", f"type=bind,src={hostdir}/nope,dst=/d", "busybox", "true")
    assert res.returncode == 125
    assert res.stderr.startswith("docker: Error response from daemon: invalid mount config for type \"bind\": "
                                 f"bind source path does not exist: {hostdir}/nope\n"), res.stderr
    # binds make no volume
    assert _ok(daemon.docker("volume", "ls", "-q", "--filter", f"name={os.path.basename(hostdir)}")) == ""


@needs_docker
def test_docker_anonymous_volumes_and_rm_v(daemon, names, volumes):
    kept, removed = names("va"), names("vb")
    _ok(daemon.docker("create", "--name", kept, "-v", "/anon", "busybox", "true"))
    _ok(daemon.docker("create", "--name", removed, "-v", "/anon", "-v", f"{(named := _vol())}:/named", "busybox", "true"))
    anon_of = {}
    for c in (kept, removed):
        mounts = json.loads(_ok(daemon.docker("inspect", "-f", "{{json .Mounts}}", c)))
        anon = [m for m in mounts if m["Destination"] == "/anon"]
        assert len(anon) == 1 and anon[0]["Type"] == "volume" and len(anon[0]["Name"]) == 64, mounts
        anon_of[c] = anon[0]["Name"]
        labels = json.loads(_ok(daemon.docker("volume", "inspect", "-f", "{{json .Labels}}", anon[0]["Name"])))
        assert labels == {ANONYMOUS: ""}
    # rm -v: the anonymous volume goes, the named one stays
    assert _ok(daemon.docker("rm", "-v", removed)) == f"{removed}\n"
    left = set(_ok(daemon.docker("volume", "ls", "-q")).split())
    assert named in left and anon_of[removed] not in left and anon_of[kept] in left
    # rm without -v leaves the anonymous volume dangling; a prune takes it (and not the named one)
    _ok(daemon.docker("rm", kept))
    assert anon_of[kept] in _ok(daemon.docker("volume", "ls", "-q", "-f", "dangling=true")).split()
    pruned = _ok(daemon.docker("volume", "prune", "-f"))
    assert pruned.startswith("Deleted Volumes:\n") and anon_of[kept] in pruned.splitlines() and named not in pruned
    assert named in _ok(daemon.docker("volume", "ls", "-q")).split()
    # run --rm removes its anonymous volumes, not its named ones
    before = _volume_names(daemon)
    other = _vol()
    _ok(daemon.docker("run", "--rm", "-v", "/d", "-v", f"{other}:/e", "busybox", "true"))
    assert _volume_names(daemon) - before == {other}


@needs_docker
def test_docker_image_volume_copy_up(daemon, names, volumes):
    src, image = names("vsrc"), f"kv-img-{uuid.uuid4().hex[:8]}"
    _ok(daemon.docker("run", "--name", src, "busybox", "sh", "-c",
                      "mkdir -p /data/sub && echo img > /data/file && ln -s file /data/link "
                      "&& echo s > /data/sub/s && chown -R 1:2 /data/sub && chmod 750 /data/sub"))
    _ok(daemon.docker("commit", "-c", 'VOLUME ["/data"]', src, image))
    try:
        listing = "cd /data && stat -c '%n %a %u:%g %F' . * sub/* | sort && readlink link && cat file"
        expected = (". 755 0:0 directory\nfile 644 0:0 regular file\nlink 777 0:0 symbolic link\n"
                    "sub 750 1:2 directory\nsub/s 644 1:2 regular file\nfile\nimg\n")
        # the image's VOLUME: an anonymous volume seeded with the image's /data
        assert _ok(daemon.docker("run", "--rm", image, "sh", "-c", listing + "; grep -c ' /data ' /proc/mounts")) \
            == expected + "1\n"
        # a new named volume is seeded too, and keeps it afterwards
        vol = _vol()
        assert _ok(daemon.docker("run", "--rm", "-v", f"{vol}:/data", image, "sh", "-c", listing)) == expected
        assert _ok(daemon.docker("run", "--rm", "-v", f"{vol}:/v", "busybox", "cat", "/v/file")) == "img\n"
        # nocopy, in both syntaxes: left empty
        assert _ok(daemon.docker("run", "--rm", "-v", f"{_vol()}:/data:nocopy", image, "ls", "-A", "/data")) == ""
        assert _ok(daemon.docker("run", "--rm", "--mount", f"type=volume,src={_vol()},dst=/data,volume-nocopy",
                                 image, "ls", "-A", "/data")) == ""
        # a volume that already holds something is not seeded again
        full = _vol()
        _ok(daemon.docker("run", "--rm", "-v", f"{full}:/x", "busybox", "touch", "/x/mine"))
        assert _ok(daemon.docker("run", "--rm", "-v", f"{full}:/data", image, "ls", "-A", "/data")) == "mine\n"
    finally:
        daemon.api("DELETE", f"/containers/{src}?force=1")
        daemon.docker("rmi", "-f", image)


@needs_docker
def test_docker_tmpfs(daemon, names, volumes):
    before = _volume_names(daemon)
    source, target, fstype, options = _mount_line(daemon, "--tmpfs", "/t:size=1m", dest="/t")
    assert (source, target, fstype) == ("tmpfs", "/t", "tmpfs")
    assert options.split(",")[:4] == ["rw", "nosuid", "nodev", "noexec"] and "size=1024k" in options.split(",")
    # the size is a limit
    res = daemon.docker("run", "--rm", "--tmpfs", "/t:size=1m", "busybox", "sh", "-c",
                        "dd if=/dev/zero of=/t/f bs=1k count=2048 2>/dev/null; du -k /t/f")
    assert res.stdout.split()[0] == "1024", (res.stdout, res.stderr)
    # --mount type=tmpfs: mode and size
    out = _ok(daemon.docker("run", "--rm", "--mount", "type=tmpfs,dst=/m,tmpfs-mode=1770,tmpfs-size=2m",
                            "busybox", "sh", "-c", "stat -c %a /m; grep ' /m ' /proc/mounts"))
    mode, line = out.split("\n", 1)
    assert mode == "1770" and {"mode=1770", "size=2048k"} <= set(line.split()[3].split(","))
    # options given replace the defaults that conflict: ro, exec
    _, _, _, options = _mount_line(daemon, "--tmpfs", "/t:ro,exec,mode=700", dest="/t")
    assert options.split(",")[0] == "ro" and "noexec" not in options.split(",") and "mode=700" in options
    # a tmpfs on /dev/shm replaces Docker's own
    _, _, _, options = _mount_line(daemon, "--tmpfs", "/dev/shm:size=2m", dest="/dev/shm")
    assert "size=2048k" in options.split(",")
    assert _volume_names(daemon) == before  # tmpfs mounts make no volumes
    res = daemon.docker("run", "--rm", "--tmpfs", "relative", "busybox", "true")
    assert res.returncode == 125 and "invalid mount path: 'relative' mount path must be absolute" in res.stderr


@needs_docker
def test_docker_volumes_from(daemon, names, volumes, hostdir):
    src, vol = names("vfs"), _vol()
    _ok(daemon.docker("run", "--name", src, "-v", f"{vol}:/a", "-v", "/b", "-v", f"{hostdir}:/c",
                      "busybox", "sh", "-c", "echo a > /a/x; echo b > /b/x"))
    lines = "grep -E ' /(a|b|c) ' /proc/mounts | cut -d' ' -f2,4 | cut -d, -f1 | sort"
    res = daemon.docker("run", "--rm", "--volumes-from", f"{src}:ro", "busybox", "sh", "-c",
                        f"cat /a/x /b/x /c/f; touch /a/y; {lines}")
    assert res.stdout == "a\nb\nfrom the host\n/a ro\n/b ro\n/c ro\n", res.stderr
    assert res.stderr == "touch: /a/y: Read-only file system\n"
    assert _ok(daemon.docker("run", "--rm", "--volumes-from", src, "busybox", "sh", "-c",
                             f"touch /a/y && {lines}")) == "/a rw\n/b rw\n/c rw\n"
    # what the receiver records: VolumesFrom only; its Mounts are the source's, with its mode
    receiver = names("vfr")
    _ok(daemon.docker("create", "--name", receiver, "--volumes-from", f"{src}:ro", "-v", f"{_vol()}:/a",
                      "busybox", "true"))
    doc = json.loads(_ok(daemon.docker("inspect", receiver)))[0]
    # (HostConfig.Mounts is omitted when empty: omitempty in moby's HostConfig)
    assert doc["HostConfig"]["VolumesFrom"] == [f"{src}:ro"] and "Mounts" not in doc["HostConfig"]
    by_dest = {m["Destination"]: m for m in doc["Mounts"]}
    assert sorted(by_dest) == ["/a", "/b", "/c"]
    assert by_dest["/a"]["Name"] != vol and by_dest["/a"]["RW"] is True      # its own -v wins
    assert (by_dest["/b"]["Type"], by_dest["/b"]["RW"], by_dest["/b"]["Mode"]) == ("volume", False, "")
    assert (by_dest["/c"]["Type"], by_dest["/c"]["Source"], by_dest["/c"]["RW"]) == ("bind", hostdir, False)
    res = daemon.docker("run", "--rm", "--volumes-from", f"{src}:xx", "busybox", "true")
    assert res.returncode == 125 and res.stderr.startswith("docker: Error response from daemon: invalid mode: xx\n")
    res = daemon.docker("run", "--rm", "--volumes-from", "kv-nope-nope", "busybox", "true")
    assert res.returncode == 125
    assert res.stderr.startswith("docker: Error response from daemon: No such container: kv-nope-nope\n")


@needs_docker
def test_docker_inspect_and_ps_show_the_mounts(daemon, names, volumes, hostdir):
    c, vol, vol2 = names("vi"), _vol(), _vol()
    _ok(daemon.docker("create", "--name", c, "-v", f"{vol}:/named", "-v", "/anon", "-v", f"{hostdir}:/bind:ro",
                      "--mount", f"type=volume,src={vol2},dst=/m1,volume-nocopy,volume-label=l=1",
                      "--mount", f"type=bind,src={hostdir},dst=/m2,bind-propagation=rprivate",
                      "--mount", "type=tmpfs,dst=/m3,tmpfs-size=1m", "--tmpfs", "/t2:size=2m", "busybox", "true"))
    doc = json.loads(_ok(daemon.docker("inspect", c)))[0]
    assert sorted(doc["HostConfig"]["Binds"]) == sorted([f"{vol}:/named", f"{hostdir}:/bind:ro"])
    assert doc["HostConfig"]["Mounts"] == [
        {"Type": "volume", "Source": vol2, "Target": "/m1",
         "VolumeOptions": {"NoCopy": True, "Labels": {"l": "1"}, "DriverConfig": {}}},
        {"Type": "bind", "Source": hostdir, "Target": "/m2", "BindOptions": {"Propagation": "rprivate"}},
        {"Type": "tmpfs", "Target": "/m3", "TmpfsOptions": {"SizeBytes": 1048576}}]
    assert doc["Config"]["Volumes"] == {"/anon": {}} and doc["HostConfig"]["Tmpfs"] == {"/t2": "size=2m"}
    mounts = {m["Destination"]: m for m in doc["Mounts"]}
    anon = mounts["/anon"]["Name"]
    root = _ok(daemon.docker("info", "-f", "{{.DockerRootDir}}")).strip()
    assert mounts == {
        "/named": {"Type": "volume", "Name": vol, "Source": f"{root}/volumes/{vol}/_data", "Destination": "/named",
                   "Driver": "local", "Mode": "z", "RW": True, "Propagation": ""},
        "/anon": {"Type": "volume", "Name": anon, "Source": f"{root}/volumes/{anon}/_data", "Destination": "/anon",
                  "Driver": "local", "Mode": "", "RW": True, "Propagation": ""},
        "/bind": {"Type": "bind", "Source": hostdir, "Destination": "/bind", "Mode": "ro", "RW": False,
                  "Propagation": "rprivate"},
        "/m1": {"Type": "volume", "Name": vol2, "Source": f"{root}/volumes/{vol2}/_data", "Destination": "/m1",
                "Driver": "local", "Mode": "z", "RW": True, "Propagation": ""},
        "/m2": {"Type": "bind", "Source": hostdir, "Destination": "/m2", "Mode": "", "RW": True,
                "Propagation": "rprivate"},
        "/m3": {"Type": "tmpfs", "Source": "", "Destination": "/m3", "Mode": "", "RW": True, "Propagation": ""},
    }
    assert _ok(daemon.docker("volume", "inspect", "-f", "{{json .Labels}}", vol2)) == '{"l":"1"}\n'
    # ps: the volumes' names and the binds' sources, each cut to 15 runes unless --no-trunc
    full = _ok(daemon.docker("ps", "-a", "--no-trunc", "--filter", f"name={c}", "--format", "{{.Mounts}}"))
    assert sorted(full.strip().split(",")) == sorted([vol, anon, hostdir, vol2, hostdir, ""])
    short = _ok(daemon.docker("ps", "-a", "--filter", f"name={c}", "--format", "{{.Mounts}}"))
    assert sorted(short.strip().split(",")) == sorted([vol[:14] + "…" if len(vol) > 15 else vol, anon[:14] + "…",
                                                       hostdir[:14] + "…", vol2[:14] + "…" if len(vol2) > 15 else vol2,
                                                       hostdir[:14] + "…", ""])
    # the size of a volume in use (system df -v)
    _ok(daemon.docker("run", "--rm", "-v", f"{vol}:/d", "busybox", "sh", "-c", "head -c 100000 /dev/zero > /d/f"))
    df = json.loads(_ok(daemon.docker("system", "df", "-v", "--format", "{{json .Volumes}}")))
    row = [v for v in df if v["Name"] == vol][0]
    assert (row["Links"], row["Size"]) == ("1", "100kB")


@needs_docker
def test_docker_bad_specs(daemon, names, volumes):
    before = _volume_names(daemon)
    cases = [
        (("-v", "kv-dup1:/x", "-v", "kv-dup2:/x"), "docker: Error response from daemon: Duplicate mount point: /x\n"),
        (("--mount", "type=bind,dst=/x"),
         "docker: Error response from daemon: invalid mount config for type \"bind\": field Source must not be empty\n"),
        (("-v", "/x:/"), "docker: Error response from daemon: invalid volume specification: '/x:/': invalid mount "
                         "config for type \"bind\": invalid specification: destination can't be '/'\n"),
        (("-v", "a/b:/x"), "docker: Error response from daemon: create a/b: \"a/b\" includes invalid characters for "
                           "a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to "
                           "pass a host directory, use absolute path\n"),
        (("--mount", "type=foo,dst=/x"),
         "docker: Error response from daemon: invalid mount config for type \"foo\": mount type unknown\n"),
    ]
    for args, first in cases:
        res = daemon.docker("run", "--rm", *args, "busybox", "true")
        assert res.returncode == 125 and res.stderr.startswith(first), (args, res.stderr)
    # a create that fails leaves no volume behind (dockerd 20.10 left kv-dup1)
    assert _volume_names(daemon) == before


@needs_docker
def test_docker_volume_events(daemon, names, volumes):
    vol, c = _vol(), names("ve")
    since = time.time() - 1
    _ok(daemon.docker("volume", "create", vol))
    _ok(daemon.docker("create", "--name", c, "-v", f"{vol}:/d:ro", "busybox", "true"))
    cid = _ok(daemon.docker("inspect", "-f", "{{.Id}}", c)).strip()
    _ok(daemon.docker("start", "-a", c))
    _ok(daemon.docker("rm", c))
    _ok(daemon.docker("volume", "rm", vol))
    out = _ok(daemon.docker("events", "--since", f"{since:.3f}", "--until", f"{time.time() + 1:.3f}",
                            "--filter", f"volume={vol}", "--format", "{{.Type}} {{.Action}} {{.Actor.ID}} "
                            "{{json .Actor.Attributes}}", timeout=30))
    assert out.splitlines() == [
        f'volume create {vol} {{"driver":"local"}}',  # once: the container's reference makes none
        f'volume mount {vol} {{"container":"{cid}","destination":"/d","driver":"local","propagation":"",'
        '"read/write":"false"}',
        f'volume unmount {vol} {{"container":"{cid}","driver":"local"}}',
        f'volume destroy {vol} {{"driver":"local"}}',
    ]


# -- the SDK ----------------------------------------------------------------------------------------

def test_sdk_run_with_volumes_binds_tmpfs(daemon, names, volumes, hostdir):
    import docker
    from docker.types import Mount
    client = daemon.sdk()
    vol = client.volumes.create(_vol(), labels={"k": "v"})
    out = client.containers.run(
        "busybox", ["sh", "-c", "echo x > /v/x; cat /h/f; touch /h/y 2>&1; grep -E ' /(v|h|m|t|u) ' /proc/mounts "
                    "| cut -d' ' -f2,3,4 | cut -d, -f1 | sort"],
        volumes={vol.name: {"bind": "/v", "mode": "rw"}, hostdir: {"bind": "/h", "mode": "ro"}},
        mounts=[Mount("/m", None, type="volume"), Mount("/t", None, type="tmpfs", tmpfs_size="1m")],
        tmpfs={"/u": "size=1m"}, remove=True, name=names("vsdk"))
    lines = out.decode().splitlines()
    assert lines[:2] == ["from the host", "touch: /h/y: Read-only file system"]
    fstypes = {line.split()[0]: (line.split()[1], line.split()[2]) for line in lines[2:]}
    assert {k: v[1] for k, v in fstypes.items()} == {"/h": "ro", "/m": "rw", "/t": "rw", "/u": "rw", "/v": "rw"}
    assert fstypes["/t"][0] == fstypes["/u"][0] == "tmpfs"
    # --rm took the anonymous volume of /m; the named one keeps the data
    vol.reload()
    assert vol.attrs["Labels"] == {"k": "v"} and vol.attrs["Driver"] == "local"
    assert client.containers.run("busybox", "cat /v/x", volumes=[f"{vol.name}:/v"], remove=True) == b"x\n"

    keeper = client.containers.run("busybox", "sleep 60", detach=True, name=names("vsdk"),
                                   volumes=[f"{vol.name}:/v"], mounts=[Mount("/anon", None, type="volume")])
    try:
        keeper.reload()
        mounts = {m["Destination"]: m for m in keeper.attrs["Mounts"]}
        assert mounts["/v"]["Name"] == vol.name and mounts["/v"]["RW"] is True
        anon = client.volumes.get(mounts["/anon"]["Name"])
        assert anon.attrs["Labels"] == {"com.docker.volume.anonymous": ""}
        with pytest.raises(docker.errors.APIError) as err:
            vol.remove(force=True)
        assert err.value.status_code == 409
        assert err.value.explanation == f"remove {vol.name}: volume is in use - [{keeper.id}]"
        # volumes_from, read-only
        res = client.containers.run("busybox", ["sh", "-c", "cat /v/x; touch /v/z 2>&1; true"],
                                    volumes_from=[f"{keeper.id}:ro"], remove=True)
        assert res == b"x\ntouch: /v/z: Read-only file system\n"
        assert [c.name for c in client.containers.list(filters={"volume": vol.name})] == [keeper.name]
    finally:
        keeper.remove(force=True, v=True)
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get(mounts["/anon"]["Name"])
    vol.remove()
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get(vol.name)


def test_sdk_volumes_prune_and_errors(daemon, names, volumes):
    import docker
    client = daemon.sdk()
    named = client.volumes.create(_vol(), labels={"kv-prune": "1"})
    container = client.containers.create("busybox", "true", name=names("vp"), volumes=["/anon"])
    anon = container.attrs["Mounts"][0]["Name"]
    container.remove()
    report = client.volumes.prune(filters={"label": "kv-prune=1"})  # anonymous only: none has the label
    assert report["VolumesDeleted"] in (None, [])
    report = client.volumes.prune()
    assert anon in report["VolumesDeleted"] and named.name not in report["VolumesDeleted"]
    report = client.volumes.prune(filters={"all": "true", "label": "kv-prune=1"})
    assert report["VolumesDeleted"] == [named.name]
    with pytest.raises(docker.errors.APIError) as err:
        client.volumes.prune(filters={"all": "maybe"})
    assert err.value.status_code == 400
    with pytest.raises(docker.errors.APIError) as err:
        client.volumes.create("a/b")
    assert err.value.status_code == 400 and "includes invalid characters for a local volume name" in str(err.value)
    with pytest.raises(docker.errors.APIError) as err:
        client.containers.run("busybox", "true", mounts=[docker.types.Mount("/x", "/nonexistent-kv", type="bind")],
                              remove=True)
    assert err.value.status_code == 400
    assert err.value.explanation == ('invalid mount config for type "bind": bind source path does not exist: '
                                     "/nonexistent-kv")
