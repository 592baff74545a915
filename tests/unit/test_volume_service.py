"""engine/volumes/service.py on the real local driver: records, events, users, counting."""

import os
import shutil
import sqlite3
import subprocess

import pytest

from ketch import errors
from ketch.engine.events import EventBus
from ketch.engine.store import SCHEMA_VERSION, Store
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
    svc.set_users(lambda: {"busy": ["c" * 64]})
    with pytest.raises(errors.Conflict, match=rf"^remove busy: volume is in use - \[{'c' * 64}\]$"):
        svc.remove("busy")
    assert os.path.isdir(root / "volumes" / "busy" / "_data")
    svc.set_users(lambda: {})
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
    assert store.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    store.close()


def test_prune_takes_unused_volumes_without_options(env):
    import asyncio
    svc, seen, root = env
    anon = svc.create()
    svc.create("named1")
    svc.create("busy1", anonymous=True)
    svc.create("tm", anonymous=True, opts={"type": "tmpfs", "device": "tmpfs"})
    with open(os.path.join(anon.mountpoint, "f"), "wb") as f:
        f.write(b"x" * 300)
    svc.set_users(lambda: {"busy1": ["c1"]})
    deleted, reclaimed = asyncio.run(svc.prune(lambda v: v.anonymous))
    assert (deleted, reclaimed) == ([anon.name], 300)
    assert sorted(v.name for v in svc.all()) == ["busy1", "named1", "tm"]
    assert seen[-2:] == [("destroy", anon.name, {"driver": "local"}), ("prune", "", {"reclaimed": "300"})]
    assert asyncio.run(svc.prune(lambda v: True)) == (["named1"], 0)


def test_remove_async_deletes_the_data(env):
    import asyncio
    svc, seen, root = env
    vol = svc.create("v1")
    os.makedirs(os.path.join(vol.mountpoint, "a", "b"))
    asyncio.run(svc.remove_async("v1"))
    assert not os.path.exists(root / "volumes" / "v1")
    assert seen[-1] == ("destroy", "v1", {"driver": "local"})
    asyncio.run(svc.remove_async("v1", force=True))
    with pytest.raises(errors.NotFound):
        asyncio.run(svc.remove_async("v1"))


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("chattr") is None, reason="chattr +i needs root")
def test_a_failed_data_removal_keeps_the_record_unless_forced(env):
    svc, _, root = env
    vol = svc.create("stuck")
    stuck = os.path.join(vol.mountpoint, "f")
    open(stuck, "w").close()
    subprocess.run(["chattr", "+i", stuck], check=True)  # its data cannot go
    try:
        with pytest.raises(errors.Internal, match="^remove stuck: error removing volume path"):
            svc.remove("stuck")
        assert svc.get("stuck") == vol and [d["Name"] for d in svc.store.all_volumes()] == ["stuck"]
        with pytest.raises(errors.Internal, match="^remove stuck: error removing volume path "
                           f"'{root / 'volumes' / 'stuck'}': operation not permitted$"):
            svc.remove("stuck", force=True)  # moby's PurgeOnError: forgotten all the same
        assert svc.all() == [] and svc.store.all_volumes() == []
        [tomb] = os.listdir(root / "volumes")  # what is left goes at the next start
        stuck = os.path.join(root, "volumes", tomb, "_data", "f")
        assert tomb.startswith(".stuck.removing-") and os.path.exists(stuck)
    finally:
        subprocess.run(["chattr", "-i", stuck], check=True)


def test_a_directory_without_a_record_is_adopted_and_only_tombstones_are_swept(env):
    svc, seen, root = env
    svc.create("kept")
    os.makedirs(root / "volumes" / "pgdata" / "_data")  # a data root copied without its database
    with open(root / "volumes" / "pgdata" / "_data" / "PG_VERSION", "w") as f:
        f.write("16\n")
    os.makedirs(root / "volumes" / "halfmade")  # a create cut short before its _data
    os.makedirs(root / "volumes" / ".gone.removing-0a1b2c3d" / "_data" / "x")  # a remove cut short
    os.makedirs(root / "volumes" / ".not-a-tombstone")  # nothing of ours: left alone
    events = len(seen)
    assert svc.recover() == ([".gone.removing-0a1b2c3d"], ["halfmade", "pgdata"])
    assert sorted(os.listdir(root / "volumes")) == [".not-a-tombstone", "halfmade", "kept", "pgdata"]
    with open(root / "volumes" / "pgdata" / "_data" / "PG_VERSION") as f:
        assert f.read() == "16\n"
    vol = svc.get("pgdata")
    assert (vol.labels, vol.options, vol.mountpoint) == ({}, {}, str(root / "volumes" / "pgdata" / "_data"))
    assert os.path.isdir(root / "volumes" / "halfmade" / "_data")
    assert len(seen) == events  # moby announces nothing for them
    again = VolumeService(svc.store, LocalDriver(str(root / "volumes")), EventBus())  # recorded now
    assert sorted(v.name for v in again.all()) == ["halfmade", "kept", "pgdata"]
    assert again.recover() == ([], [])


def test_a_remove_buries_the_directory_before_deleting_it(env, monkeypatch):
    """The crash windows of a remove: after the record is dropped the directory is a
    tombstone (not a volume's name), which the next start deletes."""
    svc, _, root = env
    svc.create("doomed")
    monkeypatch.setattr(svc.driver, "delete_tombstone", lambda tomb: (_ for _ in ()).throw(SystemExit))
    with pytest.raises(SystemExit):  # the process dies there
        svc.remove("doomed")
    left = os.listdir(root / "volumes")
    assert len(left) == 1 and left[0].startswith(".doomed.removing-")
    monkeypatch.undo()
    again = VolumeService(svc.store, LocalDriver(str(root / "volumes")), EventBus())
    assert again.all() == [] and again.recover() == (left, [])
    assert os.listdir(root / "volumes") == []


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")
def test_restore_after_a_restart_counts_without_mounting_again(env):
    svc, seen, root = env
    vol = svc.create("tm", opts={"type": "tmpfs", "device": "tmpfs"})
    svc.mount("tm", "c1", {})
    again = VolumeService(svc.store, LocalDriver(str(root / "volumes")), svc.events)  # a new ketchd
    events = len(seen)
    again.restore("tm", "c1")
    assert len(seen) == events  # no second mount event
    assert mnt.mounts_under(vol.mountpoint) == [vol.mountpoint]  # one mount, not two
    with pytest.raises(errors.Conflict, match=r"^remove tm: volume is in use - \[c1\]$"):
        again.remove("tm")
    again.unmount("tm", "c1")
    assert mnt.mounts_under(vol.mountpoint) == []
    assert seen[-1] == ("unmount", "tm", {"driver": "local", "container": "c1"})


def test_mounts_from_many_threads_count_as_one_device_mount(env):
    """Starts, stops and cp call mount/unmount from worker threads at once: the first user
    mounts a device volume once, the last unmounts it once."""
    import threading
    import time
    svc, _, _ = env
    svc.create("dev")

    class SlowDriver:  # the local driver's check-then-count, with time between
        def __init__(self):
            self.users, self.mounted, self.max_mounted = 0, 0, 0

        def mount(self, name, opts):
            if self.users == 0:
                time.sleep(0.02)
                self.mounted += 1
                self.max_mounted = max(self.max_mounted, self.mounted)
            self.users += 1
            return "/data"

        def unmount(self, name, opts):
            self.users -= 1
            if self.users == 0:
                time.sleep(0.02)
                self.mounted -= 1

    svc.driver = driver = SlowDriver()
    threads = [threading.Thread(target=svc.mount, args=("dev", f"c{i}", {})) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (driver.users, driver.mounted, driver.max_mounted) == (8, 1, 1)
    threads = [threading.Thread(target=svc.unmount, args=("dev", f"c{i}")) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (driver.users, driver.mounted) == (0, 0)


def test_a_failed_unmount_still_counts_down(env, monkeypatch):
    """moby's localVolume.Unmount: or the volume stays in use by a gone container."""
    svc, seen, _ = env
    svc.create("dev1", opts={"type": "tmpfs", "device": "tmpfs"})
    monkeypatch.setattr(svc.driver, "mount", lambda name, opts: "/x")

    def busy(name, opts):
        raise errors.Internal("unmount /x: device or resource busy")

    monkeypatch.setattr(svc.driver, "unmount", busy)
    svc.mount("dev1", "c1", {})
    with pytest.raises(errors.Internal, match="busy"):
        svc.unmount("dev1", "c1")
    assert svc.users("dev1") == []
    assert [s[0] for s in seen] == ["create", "mount"]  # moby logs unmount only when it worked
    svc.remove("dev1")


def test_users_come_from_one_scan_per_request(env):
    import asyncio
    svc, _, _ = env
    for i in range(5):
        svc.create(f"v{i}")
    scans = []

    def index():
        scans.append(1)
        return {"v1": ["c1"], "v3": ["c1", "c2"]}

    svc.set_users(index)
    svc.mount("v3", "c3", {})
    assert svc.users_index() == {"v1": ["c1"], "v3": ["c1", "c2", "c3"]}
    scans.clear()
    assert sorted((v.name, n) for v, n in svc.usage_records()) == [
        ("v0", 0), ("v1", 1), ("v2", 0), ("v3", 3), ("v4", 0)]
    assert len(scans) == 1
    scans.clear()
    assert sorted(asyncio.run(svc.prune(lambda v: True))[0]) == ["v0", "v2", "v4"]
    assert len(scans) == 4  # the prune's one, and each removal's own check (a use since)


def test_an_api_create_waits_for_the_removal_of_its_name(env, monkeypatch):
    """moby's per-name lock: a create during a removal of that name makes a new volume
    once the removal is done (the events in that order)."""
    import asyncio
    import threading
    svc, seen, root = env
    old = svc.create("data")
    with open(os.path.join(old.mountpoint, "old"), "w"):
        pass
    gate = threading.Event()
    real = svc.driver.delete_tombstone
    monkeypatch.setattr(svc.driver, "delete_tombstone", lambda tomb: (gate.wait(10), real(tomb)))

    async def run():
        removal = asyncio.create_task(svc.remove_async("data"))
        await asyncio.sleep(0.05)
        create = asyncio.create_task(svc.create_async("data", labels={"new": "1"}))
        await asyncio.sleep(0.05)
        assert not create.done()
        with pytest.raises(errors.Conflict, match="^create data: volume is being removed$"):
            svc.create("data")  # a caller that cannot wait
        waiting = asyncio.create_task(svc.removed(["other", "data"]))  # a container create's
        await asyncio.sleep(0.05)
        assert not waiting.done()
        gate.set()
        await waiting
        await removal
        return await create

    vol = asyncio.run(run())
    assert vol.labels == {"new": "1"} and os.listdir(vol.mountpoint) == []
    assert [s[:2] for s in seen] == [("create", "data"), ("destroy", "data"), ("create", "data")]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")
def test_start_up_unmounts_the_devices_no_one_holds(env):
    """moby's local.New: what an unclean shutdown left mounted is unmounted; a mount
    a running container's restore counted again stays as it is."""
    svc, _, root = env
    left = svc.create("left", opts={"type": "tmpfs", "device": "tmpfs"})
    held = svc.create("held", opts={"type": "tmpfs", "device": "tmpfs"})
    svc.create("plain")
    svc.mount("left", "c1", {})
    svc.mount("held", "c2", {})  # then ketchd dies; c1 exits meanwhile, c2 runs on
    again = VolumeService(svc.store, LocalDriver(str(root / "volumes")), EventBus())
    again.restore("held", "c2")
    assert again.unmount_stale() == ["left"]
    assert mnt.mounts_under(str(root)) == [held.mountpoint]
    assert not os.path.ismount(left.mountpoint)
    again.unmount("held", "c2")
    assert mnt.mounts_under(str(root)) == []


def test_a_mount_hanging_on_one_volume_holds_up_no_other(env):
    """A lock per volume: a device mount that hangs (a dead NFS server) keeps its own
    volume's users waiting, not another volume's mounts and unmounts."""
    import threading
    svc, _, _ = env
    svc.create("nfs")
    svc.create("other")
    entered, release = threading.Event(), threading.Event()

    class Driver:
        def mount(self, name, opts):
            if name == "nfs":
                entered.set()
                release.wait(10)
            return f"/{name}"

        def unmount(self, name, opts):
            pass

    svc.driver = Driver()
    hung = threading.Thread(target=svc.mount, args=("nfs", "c1", {}))
    hung.start()
    try:
        assert entered.wait(5)
        done = threading.Event()
        other = threading.Thread(target=lambda: (svc.mount("other", "c2", {}),
                                                 svc.unmount("other", "c2"), done.set()))
        other.start()
        assert done.wait(5), "another volume's mount waited for the hung one"
        other.join()
    finally:
        release.set()
        hung.join()
    svc.unmount("nfs", "c1")
    assert svc.users("nfs") == [] and svc.users("other") == []


def test_no_lock_is_kept_for_a_volume_no_one_mounts(env):
    """One lock per volume name only while it is taken: anonymous volumes have random
    names, so a lock kept per name ever mounted grows for as long as ketchd runs."""
    svc, _, _ = env
    for _ in range(20):
        vol = svc.create()
        svc.mount(vol.name, "c1", {})
        svc.restore(vol.name, "c2")
        svc.unmount(vol.name, "c1")
        svc.unmount(vol.name, "c2")
        svc.remove(vol.name)
    assert len(svc._name_locks) == 0
