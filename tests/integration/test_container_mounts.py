"""A container's mount points as create records them, and what `rm -v` and `--rm` remove,
through the ketch CLI (the expected texts are dockerd's, /work/wt/ORACLE11.md)."""

import json
import os
import shutil

import pytest


def volume_names(daemon) -> set[str]:
    """The volumes, as the local driver keeps them: <data-root>/volumes/<name>/_data."""
    root = os.path.join(daemon.data_root, "volumes")
    return {n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n, "_data"))}


def mounts(daemon, name) -> dict:
    res = daemon.ketch("inspect", "-f", "{{json .Mounts}}", name)
    assert res.returncode == 0, res.stderr
    return {m["Destination"]: m for m in json.loads(res.stdout)}


def remove_volumes(daemon, *names):
    for name in names:
        daemon.api("DELETE", f"/volumes/{name}?force=1")
        path = os.path.join(daemon.data_root, "volumes", name)
        if os.path.isdir(path):  # no volume API yet: the driver's directory
            shutil.rmtree(path)


def test_inspect_and_list_show_docker_s_mount_points(daemon, names, tmp_path):
    name, named, mnt = names(), names(), names()
    host = str(tmp_path)
    res = daemon.ketch("create", "--name", name, "-v", f"{named}:/named", "-v", f"{host}:/bind:ro",
                       "--mount", f"type=volume,src={mnt},dst=/m1,volume-nocopy",
                       "--mount", f"type=bind,src={host},dst=/m2,bind-propagation=rslave",
                       "--mount", "type=tmpfs,dst=/m3,tmpfs-size=1m", "-v", "/anon",
                       "--tmpfs", "/t2:size=2m", "busybox", "true")
    assert res.returncode == 0, res.stderr
    try:
        points = mounts(daemon, name)
        anon = points["/anon"]["Name"]
        vols = os.path.join(daemon.data_root, "volumes")
        assert points == {
            "/bind": {"Type": "bind", "Source": host, "Destination": "/bind", "Mode": "ro",
                      "RW": False, "Propagation": "rprivate"},
            "/named": {"Type": "volume", "Name": named, "Source": f"{vols}/{named}/_data",
                       "Destination": "/named", "Driver": "local", "Mode": "z", "RW": True,
                       "Propagation": ""},
            "/m1": {"Type": "volume", "Name": mnt, "Source": f"{vols}/{mnt}/_data", "Destination": "/m1",
                    "Driver": "local", "Mode": "z", "RW": True, "Propagation": ""},
            "/m2": {"Type": "bind", "Source": host, "Destination": "/m2", "Mode": "", "RW": True,
                    "Propagation": "rslave"},
            "/m3": {"Type": "tmpfs", "Source": "", "Destination": "/m3", "Mode": "", "RW": True,
                    "Propagation": ""},
            "/anon": {"Type": "volume", "Name": anon, "Source": f"{vols}/{anon}/_data",
                      "Destination": "/anon", "Driver": "local", "Mode": "", "RW": True,
                      "Propagation": ""},
        }
        assert len(anon) == 64 and {named, mnt, anon} <= volume_names(daemon)
        res = daemon.ketch("inspect", "-f", "{{json .HostConfig.Binds}} {{json .HostConfig.Tmpfs}} "
                           "{{json .Config.Volumes}} {{json .HostConfig.VolumesFrom}}", name)
        assert res.stdout == f'["{named}:/named","{host}:/bind:ro"] {{"/t2":"size=2m"}} {{"/anon":{{}}}} null\n'
        status, listed = daemon.api("GET", f"/containers/json?all=1&filters=%7B%22name%22%3A%5B%22{name}%22%5D%7D")
        assert status == 200 and sorted(listed[0]["Mounts"], key=lambda m: m["Destination"]) == \
            sorted(points.values(), key=lambda m: m["Destination"])
        for volume in (named, "/bind", host, "/m3"):  # a volume's name, a destination, a bind's source
            res = daemon.ketch("ps", "-aq", "--no-trunc", "--filter", f"volume={volume}")
            assert res.stdout.split() == [listed[0]["Id"]], volume
        assert daemon.ketch("ps", "-aq", "--filter", "volume=nope").stdout == ""
        res = daemon.ketch("ps", "-a", "--no-trunc", "--filter", f"name={name}", "--format", "{{.Mounts}}")
        assert sorted(res.stdout.strip().split(",")) == sorted([named, host, mnt, host, "", anon])
    finally:
        daemon.ketch("rm", "-v", name)
        remove_volumes(daemon, named, mnt)


def test_rm_v_removes_anonymous_volumes_no_container_uses_and_keeps_named_ones(daemon, names):
    src, user, named = names(), names(), names()
    daemon.ketch("create", "--name", src, "-v", f"{named}:/n", "-v", "/a", "busybox", "true", check=True)
    try:
        anon = mounts(daemon, src)["/a"]["Name"]
        # a second container takes them over (read-only): the first one's `rm -v` leaves them
        daemon.ketch("create", "--name", user, "--volumes-from", f"{src}:ro", "busybox", "true", check=True)
        taken = mounts(daemon, user)
        assert (taken["/a"]["Name"], taken["/a"]["RW"], taken["/n"]["Mode"]) == (anon, False, "")
        ids = [daemon.ketch("inspect", "-f", "{{.Id}}", c).stdout.strip() for c in (src, user)]
        res = daemon.ketch("volume", "rm", named)  # a container that has it, even stopped, uses it
        assert (res.returncode, res.stderr) == (1, f"Error response from daemon: remove {named}: volume is in use - [{', '.join(ids)}]\n")
        assert daemon.ketch("rm", "-v", src).stdout == f"{src}\n"
        assert {named, anon} <= volume_names(daemon)
        daemon.ketch("rm", "-v", user, check=True)  # the last user's rm -v takes the anonymous one
        left = volume_names(daemon)
        assert named in left and anon not in left
    finally:
        daemon.ketch("rm", "-f", src, user)
        remove_volumes(daemon, named)


def test_rm_without_v_keeps_anonymous_volumes(daemon, names):
    name = names()
    daemon.ketch("create", "--name", name, "-v", "/d", "busybox", "true", check=True)
    anon = mounts(daemon, name)["/d"]["Name"]
    daemon.ketch("rm", name, check=True)
    assert anon in volume_names(daemon)
    remove_volumes(daemon, anon)


def test_run_rm_removes_its_anonymous_volumes_only(daemon, names):
    name, named = names(), names()
    before = volume_names(daemon)
    res = daemon.ketch("run", "--rm", "--name", name, "-v", "/d", "-v", f"{named}:/e", "busybox", "true")
    assert res.returncode == 0, res.stderr
    try:
        assert volume_names(daemon) - before == {named}
    finally:
        remove_volumes(daemon, named)


@pytest.mark.parametrize("args, message", [
    (["-v", "a:/b:c:d"], "invalid volume specification: 'a:/b:c:d'"),
    (["-v", "a:/b:ro,rw"], "invalid mode: ro,rw"),
    (["-v", "/x:/"], "invalid volume specification: '/x:/': invalid mount config for type \"bind\": "
                     "invalid specification: destination can't be '/'"),
    (["-v", "{v1}:/x", "-v", "{v2}:/x"], "Duplicate mount point: /x"),
    (["-v", "{v1}:/x", "--mount", "type=volume,src={v2},dst=/x"], "Duplicate mount point: /x"),
    (["-v", "{v1}:/x", "--tmpfs", "/x"], "Duplicate mount point: /x"),
    (["-v", "{v1}:/x", "--mount", "type=bind,src=/no/such/kv-dir,dst=/y"],
     'invalid mount config for type "bind": bind source path does not exist: /no/such/kv-dir'),
    (["-v", "{v1}:/x", "--volumes-from", "no-such-kv-container"], "No such container: no-such-kv-container"),
    (["-v", "{v1}:/x", "--volumes-from", "x:bad"], "invalid mode: bad"),
    (["-v", "{v1}:/x", "-v", "/y", "--volume-driver", "nosuch"],
     'create {v1}: error looking up volume plugin nosuch: plugin "nosuch" not found'),
    (["--tmpfs", "/"], "invalid specification: destination can't be '/'"),
    (["-v", "{v1}:/x", "-v", "a/b:/y"], 'create a/b: "a/b" includes invalid characters for a local volume '
     'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
     'use absolute path'),
])
def test_bad_mounts_give_docker_s_messages_and_create_nothing(daemon, names, args, message):
    name, v1, v2 = names(), names(), names()
    args = [a.format(v1=v1, v2=v2) for a in args]
    before = volume_names(daemon)
    res = daemon.ketch("create", "--pull", "never", "--name", name, *args, "busybox", "true")
    assert res.returncode == 1, res.stdout  # docker create's exit for the daemon's refusal
    assert res.stderr == f"Error response from daemon: {message.format(v1=v1)}\n"
    assert volume_names(daemon) == before
    assert daemon.ketch("inspect", name).returncode == 1


def test_api_statuses_of_bad_mounts(daemon, names):
    def create(host_config, config_volumes=None):
        body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": host_config}
        if config_volumes:
            body["Volumes"] = config_volumes
        return daemon.api("POST", f"/containers/create?name={names()}", body)
    # moby returns ParseMountRaw's error as it is: a 500; the rest are InvalidParameter
    assert create({"Binds": ["a:/b:c:d"]}) == (500, {"message": "invalid volume specification: 'a:/b:c:d'"})
    assert create({"Binds": ["/a:/x", "/b:/x"]}) == (400, {"message": "Duplicate mount point: /x"})
    assert create({"VolumesFrom": ["nope-kv"]}) == (400, {"message": "No such container: nope-kv"})
    status, body = create({"VolumeDriver": "nosuch"}, {"/data": {}})
    assert status == 404 and body["message"].endswith(': error looking up volume plugin nosuch: plugin "nosuch" not found')
    # the deprecated top-level HostConfig is not read: refused rather than ignored
    status, body = daemon.api("POST", f"/containers/create?name={names()}",
                              {"Image": "busybox", "Binds": ["/a:/b"]})
    assert (status, body["message"]) == (400, "HostConfig.Binds (-v, --volume) is not supported by this version of ketch")


def test_image_volumes_become_anonymous_volumes_unless_covered(daemon, names):
    base, image, plain, covered, named = names(), names(), names(), names(), names()
    daemon.ketch("create", "--name", base, "busybox", "true", check=True)
    try:
        daemon.ketch("commit", "--change", 'VOLUME ["/data", "/cache"]', base, image, check=True)
        daemon.ketch("create", "--name", plain, image, "true", check=True)
        points = mounts(daemon, plain)
        assert sorted(points) == ["/cache", "/data"]
        assert {k: v for k, v in points["/data"].items() if k not in ("Name", "Source")} == {
            "Type": "volume", "Destination": "/data", "Driver": "local", "Mode": "", "RW": True,
            "Propagation": ""}
        daemon.ketch("create", "--name", covered, "-v", f"{named}:/data", "--tmpfs", "/cache", image,
                     "true", check=True)
        assert [(m["Destination"], m.get("Name")) for m in mounts(daemon, covered).values()] == [("/data", named)]
        before = volume_names(daemon)
        res = daemon.ketch("create", "-v", "/a", "-v", "/etc/passwd", "busybox", "true")
        assert res.returncode == 1
        assert res.stderr.startswith("Error response from daemon: cannot mount volume over existing "
                                     "file, file exists /") and res.stderr.endswith("/etc/passwd\n")
        assert volume_names(daemon) == before
    finally:
        daemon.ketch("rm", "-v", base, plain, covered)
        daemon.ketch("rmi", image)
        remove_volumes(daemon, named)
