"""engine/volumes/service.py on the real local driver: records, events, users, counting."""

import os
import sqlite3

import pytest

from ketch import errors
from ketch.engine.events import EventBus
from ketch.engine.store import Store
from ketch.engine.volumes.service import VolumeService
from ketch.linux import mount as mnt
from ketch.volume.local import LocalDriver
from ketch.volume.model import ANONYMOUS_LABEL


@pytest.fixture
def env(tmp_path):
    store = Store(str(tmp_path / "ketch.db"))
    bus = EventBus()
    seen = []
    bus.subscribe(lambda e: seen.append((e.action, e.actor_id, e.attributes)))
    svc = VolumeService(store, LocalDriver(str(tmp_path / "volumes")), bus)
    yield svc, seen, tmp_path
    for point in mnt.mounts_under(str(tmp_path)):
        mnt.unmount(point, lazy=True)
    store.close()


def test_create_get_remove(env):
    svc, seen, root = env
    vol = svc.create("data", labels={"a": "b"})
    assert (vol.name, vol.driver, vol.labels, vol.anonymous) == ("data", "local", {"a": "b"}, False)
    assert vol.mountpoint == str(root / "volumes" / "data" / "_data") and os.path.isdir(vol.mountpoint)
    assert svc.get("data") == vol
    assert svc.create("data", labels={"other": "x"}) == vol  # idempotent: as it was
    svc.remove("data")
    assert not os.path.exists(root / "volumes" / "data")
    with pytest.raises(errors.NotFound, match="^get data: no such volume$"):
        svc.get("data")
    with pytest.raises(errors.NotFound, match="^get data: no such volume$"):
        svc.remove("data")
    svc.remove("data", force=True)  # purge on error
    assert seen == [("create", "data", {"driver": "local"}), ("destroy", "data", {"driver": "local"})]


def test_anonymous_volume(env):
    svc, seen, _ = env
    vol = svc.create()
    assert len(vol.name) == 64 and int(vol.name, 16) >= 0
    assert vol.anonymous and vol.labels == {ANONYMOUS_LABEL: ""}
    assert svc.create("named1", anonymous=True).anonymous


def test_unknown_driver(env):
    svc, _, root = env
    with pytest.raises(errors.NotFound, match='^create v1: error looking up volume plugin nfs: '
                       'plugin "nfs" not found$'):
        svc.create("v1", driver="nfs")
    assert os.listdir(root / "volumes") == []


def test_records_outlive_the_service(env):
    svc, _, root = env
    svc.create("keep", labels={"x": "y"}, opts={"type": "tmpfs", "device": "tmpfs"})
    again = VolumeService(svc.store, LocalDriver(str(root / "volumes")), EventBus())
    assert again.get("keep") == svc.get("keep")


def test_in_use_is_a_conflict(env):
    svc, seen, root = env
    svc.create("busy")
    svc.set_users(lambda name: ["c" * 64] if name == "busy" else [])
    with pytest.raises(errors.Conflict, match=rf"^remove busy: volume is in use - \[{'c' * 64}\]$"):
        svc.remove("busy")
    assert os.path.isdir(root / "volumes" / "busy" / "_data")
    svc.set_users(lambda name: [])
    svc.remove("busy")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")
def test_device_mounted_at_first_use_unmounted_at_last(env):
    svc, seen, root = env
    vol = svc.create("tm", opts={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    assert svc.mount("tm", "c1", {"destination": "/x"}) == vol.mountpoint
    assert mnt.mounts_under(vol.mountpoint) == [vol.mountpoint]
    svc.mount("tm", "c2", {})
    with pytest.raises(errors.Conflict, match=r"^remove tm: volume is in use - \[c1, c2\]$"):
        svc.remove("tm")
    svc.unmount("tm", "c1")
    assert mnt.mounts_under(vol.mountpoint) == [vol.mountpoint]
    svc.unmount("tm", "c2")
    assert mnt.mounts_under(vol.mountpoint) == []
    svc.unmount("tm", "c2")  # nothing held: nothing to undo, no event
    assert [s for s in seen if s[0] in ("mount", "unmount")] == [
        ("mount", "tm", {"driver": "local", "container": "c1", "destination": "/x"}),
        ("mount", "tm", {"driver": "local", "container": "c2"}),
        ("unmount", "tm", {"driver": "local", "container": "c1"}),
        ("unmount", "tm", {"driver": "local", "container": "c2"}),
    ]
    svc.remove("tm")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")
def test_a_failed_mount_says_so(env):
    svc, _, _ = env
    svc.create("nodev", opts={"type": "ext4", "device": "/nonexistent-dev", "o": "ro"})
    with pytest.raises(errors.Internal, match="^failed to mount local volume: "
                       "mount /nonexistent-dev:.*/_data, flags: 0x1: no such file or directory$"):
        svc.mount("nodev", "c1", {})
    with pytest.raises(errors.NotFound):
        svc.mount("missing", "c1", {})


def test_store_migrates_a_version_2_database(tmp_path):
    path = str(tmp_path / "old.db")
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "INSERT INTO meta VALUES ('schema_version', '2');")
    db.close()
    store = Store(path)
    with store.transaction():
        store.put_volume("v1", {"Name": "v1"})
    assert store.all_volumes() == [{"Name": "v1"}]
    assert store.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == "3"
    store.close()
