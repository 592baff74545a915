"""The container service's top/export/prune edges that need no kernel: refusals in moby's
words and the events they publish."""

import asyncio
import types

import pytest

from ketch import errors, timefmt
from ketch.apitypes.prune import PruneFilter
from ketch.engine.containers import state as S
from ketch.engine.containers.bundle import Paths
from ketch.engine.containers.records import ContainerRecord, Registry
from ketch.engine.containers.service import ContainerService
from ketch.engine.events import EventBus
from ketch.engine.store import Store


class NoVolumes:
    """A volume service that has none (these tests make no mounts)."""

    def get(self, name):
        raise errors.NotFound(f"get {name}: no such volume")

    async def remove_async(self, name, force=False):
        self.get(name)


@pytest.fixture
def svc(tmp_path):
    bus = EventBus()
    lifecycle = types.SimpleNamespace(machine=S.StateMachine(bus, lambda rec: None),
                                      paths=Paths(str(tmp_path / "data"), str(tmp_path / "exec")))
    registry = Registry(Store(str(tmp_path / "store.db")))
    service = ContainerService(registry, None, None, lifecycle, volumes=NoVolumes())
    service.seen = []
    bus.subscribe(service.seen.append)
    return service


def _add(svc, name: str, status: str, labels=None) -> ContainerRecord:
    rec = ContainerRecord(id=name * 8, name=name, created=timefmt.now(), image="busybox",
                          image_id="sha256:" + "0" * 64, config={"Labels": labels or {}},
                          host_config={}, path="true", args=[], snapshot="s", parents=[])
    rec.state.status = rec.state.shown = status
    svc.registry.add(rec)
    return rec


def test_top_checks_its_arguments_first_then_wants_a_running_container(svc):
    with pytest.raises(errors.Internal, match='^specifying "x=PID" is not allowed$'):
        asyncio.run(svc.top("nosuch", "-o x=PID"))
    with pytest.raises(errors.NotFound):
        asyncio.run(svc.top("nosuch", ""))
    rec = _add(svc, "stopped", S.EXITED)
    with pytest.raises(errors.Conflict, match=f"^container {rec.id} is not running$"):
        asyncio.run(svc.top("stopped", ""))


def test_export_refusals_and_event(svc):
    dead = _add(svc, "dead", S.DEAD)
    with pytest.raises(errors.Conflict, match=f"^You cannot export container {dead.id} which is Dead$"):
        asyncio.run(svc.open_export("dead"))
    rec = _add(svc, "web", S.EXITED, {"tier": "db"})
    svc.exported(rec)
    event = svc.seen[-1]
    assert (event.type, event.action, event.actor_id) == ("container", "export", rec.id)
    assert event.attributes == {"name": "web", "image": "busybox", "tier": "db"}


def test_prune_publishes_what_it_reclaimed_and_runs_once_at_a_time(svc):
    _add(svc, "running", S.RUNNING)
    report = asyncio.run(svc.prune(PruneFilter(labels=("nosuch",))))
    assert report == ([], 0)
    event = svc.seen[-1]
    assert (event.type, event.action, event.attributes) == ("container", "prune", {"reclaimed": "0"})
    svc._pruning = True
    with pytest.raises(errors.Conflict, match="^a prune operation is already running$"):
        asyncio.run(svc.prune(PruneFilter()))


def test_volume_users_is_one_index_of_all_containers(svc):
    a, b = _add(svc, "a", S.EXITED), _add(svc, "b", S.CREATED)
    _add(svc, "c", S.EXITED)
    a.mounts = [{"type": "volume", "name": "v1"}, {"type": "volume", "name": "v2"},
                {"type": "bind", "source": "/h"}]
    b.mounts = [{"type": "volume", "name": "v2"}, {"type": "tmpfs"}]
    assert svc.volume_users() == {"v1": [a.id], "v2": [a.id, b.id]}
