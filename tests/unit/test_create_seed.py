"""ContainerService.create's copy-up step (moby's populateVolumes at create): seeded before
the "create" event, under the container's lock; a seeding that fails undoes the create."""

import asyncio
import types

import pytest

from ketch import errors, timefmt
from ketch.engine.containers import state as S
from ketch.engine.containers.bundle import Paths
from ketch.engine.containers.records import ContainerRecord, Registry
from ketch.engine.containers.service import ContainerService
from ketch.engine.events import EventBus
from ketch.engine.store import Store
from ketch.engine.volumes.mountpoint import MountPoint


class Locks:
    def __init__(self):
        self.forgotten = []
        self.held = []

    def lock(self, cid):
        held = self.held

        class Lock:
            async def __aenter__(self):
                held.append(cid)

            async def __aexit__(self, *exc):
                held.remove(cid)
        return Lock()

    def forget(self, cid):
        self.forgotten.append(cid)


@pytest.fixture
def svc(tmp_path):
    bus = EventBus()
    locks = Locks()
    lifecycle = types.SimpleNamespace(machine=S.StateMachine(bus, lambda rec: None),
                                      paths=Paths(str(tmp_path / "data"), str(tmp_path / "exec")),
                                      lock=locks.lock, forget=locks.forget)
    registry = Registry(Store(str(tmp_path / "store.db")))
    service = ContainerService(registry, None, types.SimpleNamespace(removed=[]), lifecycle,
                               volumes=types.SimpleNamespace())  # the seeder is faked below
    service.snapshots.remove = service.snapshots.removed.append
    service.snapshots.fs = lambda name: f"/layers/{name}"
    service.locks = locks
    service.seen = []
    bus.subscribe(service.seen.append)
    return service


def _prepare(svc, points):
    rec = ContainerRecord(id="c" * 64, name="web", created=timefmt.now(), image="busybox",
                          image_id="sha256:" + "0" * 64, config={}, host_config={}, path="true",
                          args=[], snapshot="snap", parents=["p1"], mounts=[p.to_doc() for p in points])
    planner = types.SimpleNamespace(undone=False)
    planner.undo = lambda: setattr(planner, "undone", True)

    async def undo_async():
        planner.undo()
    planner.undo_async = undo_async

    def create(*args):
        svc.registry.add(rec, persist=False)  # as _create does
        return rec, planner, []
    svc._create = create
    return rec, planner


def _seeder(calls, fail=False):
    def seed(cid, points, layers, mount_image):
        calls.append((cid, [p.name for p in points], layers))
        if fail:
            raise errors.Internal("failed to populate volume: boom")
    return types.SimpleNamespace(seed=seed)


def test_seeded_under_the_containers_lock_before_the_create_event(svc):
    rec, planner = _prepare(svc, [MountPoint("volume", "/etc", name="data")])
    calls = []

    def seed(cid, points, layers, mount_image):
        assert svc.locks.held == [cid] and not [e for e in svc.seen if e.action == "create"]
        calls.append((cid, [p.name for p in points], layers))
    svc.__dict__["seeder"] = types.SimpleNamespace(seed=seed)
    assert asyncio.run(svc.create({}, "web")) == (rec.id, [])
    assert calls == [(rec.id, ["data"], ["/layers/p1"])]
    assert [e.action for e in svc.seen] == ["create"] and not planner.undone


def test_nothing_to_seed_takes_no_thread_nor_lock(svc):
    _prepare(svc, [MountPoint("volume", "/raw", name="v", copy_data=False),
                   MountPoint("bind", "/b", source="/h", copy_data=False)])
    calls = []
    svc.__dict__["seeder"] = _seeder(calls)
    asyncio.run(svc.create({}, "web"))
    assert calls == []


def test_a_failed_seeding_undoes_the_create(svc):
    rec, planner = _prepare(svc, [MountPoint("volume", "/etc", name="data")])
    svc.__dict__["seeder"] = _seeder([], fail=True)
    with pytest.raises(errors.Internal, match="^failed to populate volume: boom$"):
        asyncio.run(svc.create({}, "web"))
    assert rec.id not in svc.registry.by_id
    assert rec.state.status == S.REMOVING  # a start that waited for the lock is refused
    with pytest.raises(errors.Conflict, match="marked for removal"):
        svc.machine.apply(rec, "start")
    assert planner.undone and svc.snapshots.removed == ["snap"]
    assert svc.locks.forgotten == [rec.id]
    assert not [e for e in svc.seen if e.action == "create"]


def test_a_create_is_recorded_on_disk_only_once_seeded(svc):
    """A ketchd that dies while a create copies the image into its new volume must not
    come back with that container (created, never announced, its volume half-seeded):
    moby writes the container to disk after populateVolumes. What the crash leaves (the
    snapshot, the container's directory) is an orphan the start-up sweep removes."""
    rec, planner = _prepare(svc, [MountPoint("volume", "/etc", name="data")])
    on_disk = []

    def seed(cid, points, layers, mount_image):
        on_disk.append([c.id for c in Registry(svc.registry.store).all()])
        assert svc.registry.get(cid) is rec  # in memory: a start waits for its lock
    svc.__dict__["seeder"] = types.SimpleNamespace(seed=seed)
    asyncio.run(svc.create({}, "web"))
    assert on_disk == [[]]
    assert [c.id for c in Registry(svc.registry.store).all()] == [rec.id]


def test_a_create_naming_a_volume_being_removed_waits_for_the_removal(svc):
    """moby's per-name lock: `run -v data:/x` right after `volume rm data` (its data still
    being deleted) makes a new `data` once the removal is done, not a 409."""
    order = []

    async def removed(names):
        order.append(("waited", sorted(names)))
    svc.volumes = types.SimpleNamespace(removed=removed)
    rec, _ = _prepare(svc, [])
    real = svc._create
    svc._create = lambda *a: (order.append("planned"), real(*a))[1]
    body = {"HostConfig": {"Binds": ["data:/x", "/host:/h", "bad spec::"],
                           "Mounts": [{"Type": "volume", "Source": "other", "Target": "/o"},
                                      {"Type": "volume", "Target": "/anon"}]}}
    asyncio.run(svc.create(body, "web"))
    assert order == [("waited", ["data", "other"]), "planned"]


def test_a_failed_seeding_deletes_the_volumes_it_made_off_the_event_loop(svc):
    """A copy-up that fails part way (a full disk) may have copied gigabytes into the new
    volume: its removal deletes them in a thread, not on the event loop."""
    from ketch.engine.volumes.mountplan import Planner
    calls = []

    class Volumes:
        def remove(self, name, force=False):
            calls.append(("on the loop", name, force))

        async def remove_async(self, name, force=False):
            calls.append(("in a thread", name, force))
    rec, _ = _prepare(svc, [MountPoint("volume", "/etc", name="anon")])
    planner = Planner(Volumes(), made=["anon"])
    svc._create = lambda *a: (svc.registry.add(rec, persist=False), (rec, planner, []))[1]
    svc.__dict__["seeder"] = _seeder([], fail=True)
    with pytest.raises(errors.Internal):
        asyncio.run(svc.create({}, "web"))
    assert calls == [("in a thread", "anon", True)] and planner.made == []


def test_a_cancelled_create_undoes_itself_only_once_its_copy_has_ended(svc):
    """ketchd ending cancels a create while its thread still copies: the undo (the new
    volume, the snapshot the image's view is mounted from) waits for the copy to end."""
    import threading
    rec, planner = _prepare(svc, [MountPoint("volume", "/etc", name="data")])
    copying, finish = threading.Event(), threading.Event()
    undone_while_copying = []

    def seed(cid, points, layers, mount_image):
        copying.set()
        finish.wait(10)
        undone_while_copying.append(planner.undone)
    svc.__dict__["seeder"] = types.SimpleNamespace(seed=seed)

    async def main():
        create = asyncio.create_task(svc.create({}, "web"))
        await asyncio.to_thread(copying.wait, 10)
        create.cancel()
        await asyncio.sleep(0.05)
        assert not planner.undone  # the copy still runs: nothing is deleted under it
        finish.set()
        with pytest.raises(asyncio.CancelledError):
            await create

    asyncio.run(main())
    assert undone_while_copying == [False]
    assert planner.undone and svc.snapshots.removed == ["snap"]
    assert rec.id not in svc.registry.by_id
