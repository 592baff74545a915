"""engine/volumes/seed.py: copy-up at create (moby's populateVolumes).

The image view is a real bind of a layer directory, mounted in the seeding thread's own
mount namespace (root, as the unit suite runs); the host's mount table must not see it.
"""

import os

import pytest

from ketch import errors
from ketch.engine.volumes.mountpoint import MountPoint
from ketch.engine.volumes.namelocks import NameLocks
from ketch.engine.volumes.seed import Seeder, candidates
from ketch.linux import mount as mnt
from ketch.linux import syscalls as sc
from ketch.volume.model import Volume

CID = "c" * 64


class FakeVolumes:
    def __init__(self, root, options=None):
        self.root = root
        self.options = options or {}
        self.calls = []

    def get(self, name):
        path = os.path.join(self.root, name)
        os.makedirs(path, exist_ok=True)
        return Volume(name=name, driver="local", mountpoint=path, created_at="",
                      labels={}, options=self.options.get(name, {}))

    def mount(self, name, cid, attributes):
        self.calls.append(("mount", name))
        return self.get(name).mountpoint

    def unmount(self, name, cid):
        self.calls.append(("unmount", name))


def vol(dest, name, **kw):
    return MountPoint("volume", dest, source=f"/v/{name}/_data", name=name, driver="local", **kw)


@pytest.fixture
def image(tmp_path):
    layer = tmp_path / "layer"
    (layer / "etc" / "sub").mkdir(parents=True)
    (layer / "etc" / "passwd").write_text("root:x:0:0\n")
    (layer / "etc" / "sub" / "f").write_text("f")
    (layer / "bin").mkdir()
    (layer / "file").write_text("x")
    return str(layer)


def seeder(tmp_path, fake, copies=None):
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    def record(root, dest, path):
        copies.append((dest, path, sorted(os.listdir(root + dest))))
        return True
    return Seeder(fake, NameLocks(), str(scratch), record if copies is not None else None)


def bind_image(layer, mounted):
    def mount_image(target):
        mounted.append(target)
        sc.mount(layer, target, None, sc.MS_BIND | sc.MS_REC)
    return mount_image


def test_candidates_are_volumes_to_copy_onto_an_image_directory(image):
    points = [vol("/etc", "a"), vol("/nothing", "b"), vol("/file", "c"),
              vol("/bin", "d", copy_data=False), MountPoint("bind", "/etc", source="/h")]
    assert [mp.name for mp in candidates(points, [image])] == ["a"]


def test_nothing_to_copy_mounts_nothing(tmp_path, image):
    fake = FakeVolumes(str(tmp_path / "vols"))
    mounted = []
    seeder(tmp_path, fake).seed(CID, [vol("/nothing", "a"), vol("/bin", "b", copy_data=False)],
                                [image], bind_image(image, mounted))
    assert mounted == [] and fake.calls == []
    (tmp_path / "vols" / "full").mkdir(parents=True)
    (tmp_path / "vols" / "full" / "x").write_text("")
    seeder(tmp_path, fake).seed(CID, [vol("/etc", "full")], [image], bind_image(image, mounted))
    assert mounted == []  # a volume with data is never seeded: no image mount for it


def test_seeds_a_new_volume_from_the_image_in_a_private_namespace(tmp_path, image):
    fake = FakeVolumes(str(tmp_path / "vols"))
    mounted = []
    seeder(tmp_path, fake).seed(CID, [vol("/etc", "a")], [image], bind_image(image, mounted))
    assert sorted(os.listdir(tmp_path / "vols" / "a")) == ["passwd", "sub"]
    assert (tmp_path / "vols" / "a" / "passwd").read_text() == "root:x:0:0\n"
    assert len(mounted) == 1
    assert not [m for m in mnt.mountinfo() if m.mount_point.startswith(str(tmp_path))]
    assert os.listdir(tmp_path / "scratch") == []  # its scratch directory is gone


def test_seeds_into_the_subpath(tmp_path, image):
    """moby's populateVolume copies after mnt.Setup resolved the subpath."""
    fake = FakeVolumes(str(tmp_path / "vols"))
    sub = tmp_path / "vols" / "a" / "conf"
    sub.mkdir(parents=True)
    (tmp_path / "vols" / "a" / "other").write_text("kept")
    seeder(tmp_path, fake).seed(CID, [vol("/etc", "a", options={"subpath": "conf"})], [image],
                                bind_image(image, []))
    assert sorted(os.listdir(sub)) == ["passwd", "sub"]
    assert sorted(os.listdir(tmp_path / "vols" / "a")) == ["conf", "other"]
    assert not [m for m in mnt.mountinfo() if m.mount_point.startswith(str(tmp_path))]


def test_a_device_volume_is_mounted_for_the_copy_and_unmounted(tmp_path, image):
    fake = FakeVolumes(str(tmp_path / "vols"), {"dev": {"type": "tmpfs", "device": "tmpfs"}})
    copies = []
    seeder(tmp_path, fake, copies).seed(CID, [vol("/etc", "dev")], [image], bind_image(image, []))
    assert fake.calls == [("mount", "dev"), ("unmount", "dev")]
    assert copies == [("/etc", str(tmp_path / "vols" / "dev"), ["passwd", "sub"])]


def test_a_failed_copy_is_mobys_message_and_unmounts(tmp_path, image):
    fake = FakeVolumes(str(tmp_path / "vols"), {"dev": {"type": "tmpfs"}})

    def fail(*a):
        raise PermissionError(13, "Permission denied", "/x")
    s = Seeder(fake, NameLocks(), str(tmp_path), fail)
    with pytest.raises(errors.Internal, match="^failed to populate volume: "):
        s.seed(CID, [vol("/etc", "dev")], [image], bind_image(image, []))
    assert fake.calls[-1] == ("unmount", "dev")
