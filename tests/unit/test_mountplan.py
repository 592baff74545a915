"""A create's mount points (engine/volumes/mountplan.py) over a fake volume service:
moby's precedence, duplicates, --volumes-from, image volumes, and a failed create
leaving no volume it made."""

import asyncio

import pytest

from ketch import errors
from ketch.engine.volumes import mountplan, release
from ketch.engine.volumes.mountpoint import MountPoint
from ketch.volume.model import ANONYMOUS_LABEL, Volume


class FakeVolumes:
    """The VolumeAccess protocol in memory, failing where told to."""

    def __init__(self, *existing: str, fail_on: str = "") -> None:
        self.vols: dict[str, Volume] = {}
        self.fail_on = fail_on
        self.users: dict[str, list[str]] = {}
        self.sync_removes: list[str] = []  # removals that deleted data on the caller's thread
        self.serial = 0
        for name in existing:
            self.create(name)

    def create(self, name="", driver="", opts=None, labels=None, anonymous=False) -> Volume:
        if not name:
            self.serial += 1
            name, anonymous = f"{self.serial:064x}", True
        if driver not in ("", "local"):
            raise errors.NotFound(f'create {name}: error looking up volume plugin {driver}: '
                                  f'plugin "{driver}" not found')
        if name == self.fail_on:
            raise errors.Internal(f"create {name}: no space left on device")
        if name not in self.vols:
            labels = {**(labels or {}), **({ANONYMOUS_LABEL: ""} if anonymous else {})}
            self.vols[name] = Volume(name, "local", f"/vols/{name}/_data", "2026-01-01T00:00:00Z",
                                     labels, dict(opts or {}))
        return self.vols[name]

    def get(self, name):
        if name not in self.vols:
            raise errors.NotFound(f"get {name}: no such volume")
        return self.vols[name]

    def mount(self, name, container_id, attributes):
        return self.get(name).mountpoint

    def unmount(self, name, container_id):
        pass

    def remove(self, name, force=False):
        self.sync_removes.append(name)
        self._remove(name, force)

    async def remove_async(self, name, force=False):
        self._remove(name, force)

    def _remove(self, name, force):
        if name not in self.vols:
            if force:
                return
            raise errors.NotFound(f"get {name}: no such volume")
        if self.users.get(name):
            raise errors.Conflict(f"remove {name}: volume is in use - [{', '.join(self.users[name])}]")
        del self.vols[name]


def no_containers(ref):
    raise errors.no_such_container(ref)


def plan(vols, host_config, config_volumes=None, others=no_containers, data_root="/var/lib/ketch"):
    reqs = mountplan.requests(host_config, others)
    return mountplan.Planner(vols, data_root).plan(reqs, config_volumes)


def by_dest(points):
    return {mp.destination: mp for mp in points}


def test_a_named_volume_a_bind_and_an_image_volume():
    vols = FakeVolumes()
    points = by_dest(plan(vols, {"Binds": ["data:/data", "/srv/www:/www:ro"]}, {"/cache": {}}))
    data, www, cache = points["/data"], points["/www"], points["/cache"]
    assert (data.type, data.name, data.source, data.driver, data.mode, data.rw, data.named) == \
        ("volume", "data", "/vols/data/_data", "local", "z", True, True)
    assert (www.type, www.source, www.mode, www.rw, www.propagation, www.copy_data) == \
        ("bind", "/srv/www", "ro", False, "rprivate", False)
    assert www.options == {"create_source": True}  # a -v bind's missing source is made at start
    assert (cache.type, cache.mode, cache.named, cache.copy_data) == ("volume", "", False, True)
    assert vols.vols[cache.name].anonymous and not vols.vols["data"].anonymous


def test_binds_and_mounts_override_volumes_from_and_image_volumes_fill_the_rest():
    source = [MountPoint("volume", "/a", "/vols/va/_data", "va", "local", named=True),
              MountPoint("volume", "/b", "/vols/vb/_data", "vb", "local", mode="z"),
              MountPoint("bind", "/c", "/srv/c", propagation="rprivate")]
    vols = FakeVolumes("va", "vb")
    points = by_dest(plan(vols, {"VolumesFrom": ["src:ro"], "Binds": ["/host:/a"],
                                 "Mounts": [{"Type": "volume", "Target": "/b2"}]},
                          {"/b": {}, "/d": {}}, others=lambda ref: source))
    assert points["/a"].type == "bind"  # -v wins over --volumes-from
    assert points["/b"].name == "vb"  # the image's VOLUME /b is already covered: no new volume
    assert (points["/b"].rw, points["/b"].mode, points["/b"].copy_data) == (False, "", False)
    assert points["/c"].rw is False and points["/c"].source == "/srv/c"
    assert points["/b2"].mode == "z" and not points["/b2"].named  # --mount type=volume, no source
    assert points["/d"].type == "volume"
    assert sorted(vols.vols) == sorted(["va", "vb", points["/b2"].name, points["/d"].name])


def test_volumes_from_rw_keeps_what_was_read_only():
    source = [MountPoint("volume", "/a", "/v/_data", "va", "local", rw=False),
              MountPoint("volume", "/b", "/v/_data", "vb", "local")]
    points = by_dest(plan(FakeVolumes("va", "vb"), {"VolumesFrom": ["src"]}, others=lambda r: source))
    assert (points["/a"].rw, points["/b"].rw) == (False, True)


def test_volumes_from_an_unknown_container_or_a_bad_mode():
    with pytest.raises(errors.InvalidArgument, match="^No such container: nope$"):
        plan(FakeVolumes(), {"VolumesFrom": ["nope"]})
    with pytest.raises(errors.InvalidArgument, match="^invalid mode: nocopy$"):
        plan(FakeVolumes(), {"VolumesFrom": ["src:nocopy"]}, others=lambda r: [])


def test_volumes_from_a_container_with_a_tmpfs_mount_fails_as_docker_does():
    source = [MountPoint("tmpfs", "/t")]
    with pytest.raises(errors.NotFound, match="^get: no such volume$"):
        plan(FakeVolumes(), {"VolumesFrom": ["src"]}, others=lambda r: source)


def test_volumes_from_a_volume_that_is_gone():
    source = [MountPoint("volume", "/a", "/v/_data", "gone", "local")]
    with pytest.raises(errors.NotFound, match="^get gone: no such volume$"):
        plan(FakeVolumes(), {"VolumesFrom": ["src"]}, others=lambda r: source)


@pytest.mark.parametrize("host_config, shown", [
    ({"Binds": ["a:/x", "/h:/x/"]}, "/x"),
    ({"Binds": ["/h:/t"], "Tmpfs": {"/t": ""}}, "/t"),  # moby #10618
    ({"Binds": ["/h:/x"], "Mounts": [{"Type": "volume", "Target": "/x/"}]}, "/x/"),  # the raw Target
    ({"Mounts": [{"Type": "tmpfs", "Target": "/x"}, {"Type": "volume", "Target": "/x"}]}, "/x"),
])
def test_duplicate_mount_points_are_refused_before_any_volume_is_made(host_config, shown):
    vols = FakeVolumes()
    with pytest.raises(errors.InvalidArgument) as err:
        plan(vols, host_config, {"/img": {}})
    assert str(err.value) == f"Duplicate mount point: {shown}"
    assert vols.vols == {}


def test_a_tmpfs_destination_takes_the_place_of_an_image_volume():
    vols = FakeVolumes()
    assert plan(vols, {"Tmpfs": {"/img": "size=1m"}}, {"/img": {}}) == []
    assert vols.vols == {}


def test_a_bad_binds_entry_is_moby_s_plain_error():
    with pytest.raises(errors.Internal, match="^invalid volume specification: 'a:b:c:d'$"):
        plan(FakeVolumes(), {"Binds": ["a:b:c:d"]})
    with pytest.raises(errors.Internal, match="^invalid mode: bogus$"):
        plan(FakeVolumes(), {"Binds": ["a:/b:bogus"]})


def test_a_failed_create_removes_the_volumes_it_made_and_keeps_the_others():
    vols = FakeVolumes("old", fail_on="bad")
    with pytest.raises(errors.Internal, match="no space left"):
        plan(vols, {"Binds": ["old:/old", "new:/new", "bad:/bad"]}, {"/anon": {}})
    assert list(vols.vols) == ["old"]


def test_an_unknown_volume_driver_makes_nothing():
    vols = FakeVolumes()
    with pytest.raises(errors.NotFound, match='^create a: error looking up volume plugin nfs: plugin "nfs" not found$'):
        plan(vols, {"Binds": ["/h:/h", "a:/a", "v:/v"], "VolumeDriver": "nfs"})
    assert vols.vols == {}
    # a volume driver with binds alone is not used, as in moby
    assert [mp.type for mp in plan(vols, {"Binds": ["/h:/h"], "VolumeDriver": "nfs"})] == ["bind"]


def test_undo_after_a_later_failure_of_the_create():
    vols = FakeVolumes()
    planner = mountplan.Planner(vols)
    planner.plan(mountplan.requests({"Binds": ["n:/n"]}, no_containers), {"/a": {}})
    assert len(vols.vols) == 2
    planner.undo()
    assert vols.vols == {}


def test_no_anonymous_volume_over_a_file_of_the_image():
    vols = FakeVolumes()
    planner = mountplan.Planner(vols, file_at=lambda d: "/run/rootfs" + d if d == "/etc/passwd" else "")
    reqs = mountplan.requests({"Binds": ["n:/n"]}, no_containers)
    with pytest.raises(errors.Internal) as err:
        planner.plan(reqs, {"/a": {}, "/etc/passwd": {}})
    assert str(err.value) == "cannot mount volume over existing file, file exists /run/rootfs/etc/passwd"
    assert vols.vols == {}
    # covered by a -v, the file does not matter
    planner.plan(mountplan.requests({"Binds": ["n:/etc/passwd"]}, no_containers), {"/etc/passwd": {}})


def test_mount_options_reach_the_mount_point():
    points = by_dest(plan(FakeVolumes(), {"Mounts": [
        {"Type": "volume", "Source": "v", "Target": "/v", "ReadOnly": True,
         "VolumeOptions": {"NoCopy": True, "Labels": {"a": "b"}, "Subpath": "sub"}},
        {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o700}},
        {"Type": "bind", "Source": "/", "Target": "/host", "BindOptions": {"NonRecursive": True}},
    ]}))
    v, t, host = points["/v"], points["/t"], points["/host"]
    assert (v.rw, v.copy_data, v.mode, v.options) == (False, False, "z", {"subpath": "sub"})
    assert (t.type, t.source, t.rw, t.options) == ("tmpfs", "", True, {"tmpfs_size": 1 << 20, "tmpfs_mode": 0o700})
    assert host.options == {"non_recursive": True}
    assert host.propagation == "rslave"  # "/" holds the data root (moby's validateBindDaemonRoot)


def test_a_bind_within_the_data_root_must_be_rslave_or_rshared():
    assert plan(FakeVolumes(), {"Binds": ["/var/lib/ketch/x:/x:rshared"]})[0].propagation == "rshared"
    assert plan(FakeVolumes(), {"Binds": ["/srv:/x:shared"]})[0].propagation == "shared"
    with pytest.raises(errors.InvalidArgument, match='must use either propagation mode "rslave" or "rshared"'):
        plan(FakeVolumes(), {"Binds": ["/var/lib/ketch/x:/x:private"]})


def test_validate_checks_mount_sources_and_tmpfs_destinations_first():
    mountplan.validate({"Mounts": [{"Type": "bind", "Source": "/", "Target": "/x"}]})
    with pytest.raises(errors.InvalidArgument) as err:
        mountplan.validate({"Mounts": [{"Type": "bind", "Source": "/no/such/dir", "Target": "/x"}]})
    assert str(err.value) == 'invalid mount config for type "bind": bind source path does not exist: /no/such/dir'
    mountplan.validate({"Mounts": [{"Type": "bind", "Source": "/no/such", "Target": "/x",
                                    "BindOptions": {"CreateMountpoint": True}}]})
    with pytest.raises(errors.InvalidArgument, match="destination can't be '/'"):
        mountplan.validate({"Tmpfs": {"/": ""}})


def test_rm_v_removes_anonymous_volumes_only_and_those_no_other_container_uses():
    vols = FakeVolumes("named")
    points = plan(vols, {"Binds": ["named:/n"], "Mounts": [{"Type": "volume", "Target": "/m"}]},
                  {"/a": {}, "/shared": {}})
    shared = by_dest(points)["/shared"].name
    vols.users[shared] = ["other"]
    assert asyncio.run(release.remove_anonymous(vols, [mp.to_doc() for mp in points])) == []
    assert sorted(vols.vols) == sorted(["named", shared])
    assert vols.sync_removes == []  # remove_async: an image's big VOLUME must not stall the loop
    assert release.volume_names([mp.to_doc() for mp in points]) >= {"named", shared}


def test_mount_points_survive_the_record():
    for mp in plan(FakeVolumes(), {"Binds": ["v:/v", "/h:/h:ro,rslave"],
                                   "Mounts": [{"Type": "tmpfs", "Target": "/t",
                                               "TmpfsOptions": {"Options": [["exec"]]}}]}, {"/a": {}}):
        assert MountPoint.from_doc(mp.to_doc()) == mp


def test_clients_before_api_1_44_get_non_recursive_read_only_binds():
    reqs = mountplan.requests({"Binds": ["/a:/a:ro", "/b:/b"],
                               "Mounts": [{"Type": "bind", "Source": "/", "Target": "/c", "ReadOnly": True}]},
                              no_containers)
    old = by_dest(mountplan.Planner(FakeVolumes(), readonly_non_recursive=True).plan(reqs, None))
    assert [old[d].options.get("readonly_non_recursive") for d in ("/a", "/b", "/c")] == [True, None, True]
    new = by_dest(mountplan.Planner(FakeVolumes()).plan(reqs, None))
    assert not any(mp.options.get("readonly_non_recursive") for mp in new.values())
