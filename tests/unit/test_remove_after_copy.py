"""``rm -v`` (and ``--rm``) of a container a ``cp`` still streams from: the copy holds its
volumes mounted for that container (the lock goes once the root is open, so a slow reader
blocks no rm), so removing the anonymous volumes at once would be refused as "in use" and
they would stay behind for good. They are removed once the copy ends (moby's rm waits for
the archive's reader)."""

import asyncio
import threading
import types

from ketch import errors, timefmt
from ketch.engine.containers import state as S
from ketch.engine.containers.archive import ContainerFiles
from ketch.engine.containers.bundle import Paths
from ketch.engine.containers.records import ContainerRecord, Registry
from ketch.engine.containers.service import ContainerService
from ketch.engine.events import EventBus
from ketch.engine.store import Store
from ketch.engine.volumes.mountpoint import MountPoint


class Locks:
    def lock(self, cid):
        return asyncio.Lock()

    def forget(self, cid):
        pass


class Volumes:
    """Refuses the removal of a volume a copy holds for a container (as the service does)."""
    def __init__(self):
        self.held: set[str] = set()
        self.removed: list[str] = []

    async def remove_async(self, name, force=False):
        if name in self.held:
            raise errors.Conflict(f"remove {name}: volume is in use - [{'c' * 64}]")
        self.removed.append(name)


def _service(tmp_path, volumes):
    tasks = []
    lifecycle = types.SimpleNamespace(
        machine=S.StateMachine(EventBus(), lambda rec: None),
        paths=Paths(str(tmp_path / "data"), str(tmp_path / "exec")),
        lock=Locks().lock, forget=Locks().forget,
        spawn=lambda coro: tasks.append(asyncio.get_running_loop().create_task(coro)))
    svc = ContainerService(Registry(Store(str(tmp_path / "store.db"))), None,
                           types.SimpleNamespace(), lifecycle, volumes=volumes)
    svc._delete_files = lambda rec: None
    return svc, tasks


def _record(svc):
    rec = ContainerRecord(id="c" * 64, name="web", created=timefmt.now(), image="busybox",
                          image_id="sha256:" + "0" * 64, config={}, host_config={}, path="true",
                          args=[], snapshot="snap", parents=[],
                          mounts=[MountPoint("volume", "/data", name="anon").to_doc()])
    svc.registry.add(rec)
    return rec


def test_the_copies_of_a_container_are_known_until_their_thread_ends(tmp_path):
    files = ContainerFiles(types.SimpleNamespace(), None, None)
    go = threading.Event()
    files._with_view = lambda rec, running, fn: go.wait(5)
    rec = types.SimpleNamespace(id="c" * 64, state=types.SimpleNamespace(alive=False))

    async def main():
        work = files._in_root(rec, lambda fd, root: None)
        (copy,) = files.copies(rec.id)
        work.cancel()  # the awaiting side gave up: the thread still holds the volumes
        await asyncio.sleep(0.01)
        assert files.copies(rec.id) == {copy}
        go.set()
        await copy
        await asyncio.sleep(0)
        assert files.copies(rec.id) == set()
    asyncio.run(main())


def test_rm_v_during_a_streaming_copy_removes_the_volume_when_the_copy_ends(tmp_path):
    volumes = Volumes()
    svc, tasks = _service(tmp_path, volumes)
    rec = _record(svc)

    async def main():
        copy = asyncio.get_running_loop().create_future()
        volumes.held.add("anon")
        svc.files.copies = lambda cid: {copy} if cid == rec.id and not copy.done() else set()
        await svc.remove(rec.id, volumes=True)
        assert rec.id not in svc.registry.by_id
        assert volumes.removed == []  # not while the copy holds it
        volumes.held.discard("anon")
        copy.set_result(None)
        await asyncio.gather(*tasks)
        assert volumes.removed == ["anon"]
    asyncio.run(main())


def test_rm_v_without_a_copy_removes_at_once(tmp_path):
    volumes = Volumes()
    svc, tasks = _service(tmp_path, volumes)
    rec = _record(svc)
    asyncio.run(svc.remove(rec.id, volumes=True))
    assert volumes.removed == ["anon"] and tasks == []
