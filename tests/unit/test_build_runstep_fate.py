"""Which RUN step containers stay (engine/builds/runstep.py): never one holding a secret
or naming the run directory's mount sources; --force-rm's removal is reported."""

import asyncio

import pytest

from ketch import errors
from ketch.build.backend import HistoryEntry, ImageState, RunSpec, SecretSource, Step
from ketch.engine.builds.runmounts import Prepared
from ketch.engine.builds.runstep import STEP_LABEL, StepRunner
from ketch.engine.containers.state import ContainerState

PARENT = ImageState("sha256:" + "a" * 64, {"config": {}})
STEP = Step(PARENT, {}, {}, HistoryEntry("/bin/sh -c false"), "")


class _Rec:
    def __init__(self, cid: str, body: dict) -> None:
        self.id, self.body, self.snapshot, self.parents = cid, body, "snap", []
        self.config = {"Env": list(body.get("Env") or [])}


class _Registry:
    def __init__(self) -> None:
        self.saved: list[list[str]] = []

    def save(self, rec) -> None:
        self.saved.append(list(rec.config["Env"]))


class _Sink:
    async def get(self):
        return None


class FakeContainers:
    """Create/start/wait/remove as the container service answers them; the run exits ``code``."""

    def __init__(self, code: int) -> None:
        self.code = code
        self.records: dict[str, _Rec] = {}
        self._exit: asyncio.Future | None = None
        self.registry = _Registry()
        self.env_at_removal: list[list[str]] = []

    async def create(self, body, name):
        cid = f"{len(self.records):064x}"
        self.records[cid] = _Rec(cid, body)
        return cid, []

    def get(self, cid):
        return self.records[cid]

    def attach(self, rec, stdout, stderr, hold=False):
        return _Sink()

    def detach(self, rec, sink):
        pass

    def wait(self, cid, condition):
        self._exit = asyncio.get_running_loop().create_future()
        return self._exit

    async def start(self, cid):
        self._exit.set_result(self.code)

    async def remove(self, cid, force=False, volumes=False):
        self.env_at_removal.append(self.records[cid].config.get("Env"))
        del self.records[cid]


class FakeMounts:
    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared

    async def prepare(self, spec, context_dir, description):
        return self.prepared

    async def release(self, prepared):
        pass


def _run(remove: str, prepared: Prepared, secrets=()) -> FakeContainers:
    containers = FakeContainers(code=1)
    runner = StepRunner(containers, FakeMounts(prepared))
    spec = RunSpec(("/bin/sh", "-c", "false"), (), remove=remove, secrets=secrets)

    async def go():
        with pytest.raises(errors.BuildStepFailed):
            await runner.run(None, None, STEP, spec, lambda data: None, lambda cid: None)
    asyncio.run(go())
    return containers


def test_a_failed_plain_step_stays_under_rm_as_mobys():
    assert len(_run("success", Prepared()).records) == 1
    assert len(_run("never", Prepared()).records) == 1
    assert _run("always", Prepared()).records == {}


def test_a_failed_step_with_a_secret_env_never_stays():
    prepared = Prepared(env=["TOKEN=s3cr3t"])
    secret = (SecretSource("tok", b"s3cr3t"),)
    for remove in ("success", "never"):
        assert _run(remove, prepared, secret).records == {}, remove


def test_a_failed_step_with_mounts_never_stays():
    # its mounts' sources are the run directory's pins, removed with the run
    prepared = Prepared(mounts=[{"Type": "bind", "Source": "/exec/builds/run-x/pins/0", "Target": "/c"}])
    for remove in ("success", "never"):
        assert _run(remove, prepared).records == {}, remove


def test_step_containers_are_labelled():
    containers = _run("never", Prepared())
    [rec] = containers.records.values()
    assert rec.body["Labels"] == {STEP_LABEL: "true"}


class _Left:
    def __init__(self, cid: str, labels: dict, status: str) -> None:
        self.id, self.config, self.state = cid, {"Labels": labels}, ContainerState(status)


def test_sweep_removes_the_step_containers_a_killed_ketchd_left_running():
    # REVIEW12 #11: a RUN cut short by a crash still ran after the restart, on swept mounts
    containers = FakeContainers(0)
    left = [_Left("a" * 64, {STEP_LABEL: "true"}, "running"),
            _Left("b" * 64, {STEP_LABEL: "true"}, "created"),
            _Left("c" * 64, {STEP_LABEL: "true"}, "exited"),  # a kept failed step: stays
            _Left("d" * 64, {"other": "x"}, "running")]  # not a build's
    containers.records = {rec.id: rec for rec in left}
    containers.list_all = lambda: list(containers.records.values())
    asyncio.run(StepRunner(containers, FakeMounts(Prepared())).sweep())
    assert sorted(containers.records) == ["c" * 64, "d" * 64]


class _Frames:
    """An attach queue holding ``n`` stdout frames, then the end."""

    def __init__(self, n: int) -> None:
        self.items = [(b"", 1, b"x")] * n + [None]
        self.taken = 0

    async def get(self):
        self.taken += 1
        return self.items.pop(0)


def test_the_output_pump_waits_for_a_slow_consumer():
    # REVIEW12 #9: the pump drained the attach queue whatever the client read
    from ketch.engine.builds.runstep import _pump

    async def go():
        sink = _Frames(3)
        room = asyncio.get_running_loop().create_future()
        got = []

        def output(data):
            got.append(data)
            return room
        pump = asyncio.ensure_future(_pump(sink, output))
        await asyncio.sleep(0.05)
        assert (got, sink.taken) == ([b"x"], 1)  # the next frame stays in the attach queue
        room.set_result(None)
        await asyncio.wait_for(pump, 5)
        assert got == [b"x"] * 3
    asyncio.run(go())


def test_a_running_steps_record_loses_its_secret_env():
    # REVIEW12 #2: TOKEN=<secret> stayed in the stored Config.Env (ketch inspect showed it)
    containers = _run("success", Prepared(env=["TOKEN=s3cr3t"]), (SecretSource("tok", b"s3cr3t"),))
    assert containers.registry.saved == [[]]  # saved without it once started
    assert containers.env_at_removal == [[]]


def test_a_held_attach_queue_holds_the_containers_output_back():
    # REVIEW12 #9: a container's output went into its attach queue whatever the reader did
    from ketch.engine.containers.attach import Attachments, OutputQueue

    async def go():
        attachments = Attachments(lambda cid: None)
        plain = attachments.attach("c", True, True)
        held = attachments.attach("c", True, True, hold=True)
        frame = b"x" * 4096
        waits = [attachments.output("c", frame, 1, frame) for _ in range(OutputQueue.LIMIT // 4096 + 1)]
        assert all(w is None for w in waits[:-1]) and waits[-1] is not None  # the monitor's reader waits
        assert plain.queued == held.queued  # the others still get every frame
        waiting = asyncio.ensure_future(waits[-1])
        await held.get()  # the build's pump takes one: room again
        await asyncio.wait_for(waiting, 5)
        again = attachments.output("c", frame, 1, frame)
        assert again is not None
        attachments.detach("c", held)  # the step ended (or was cancelled): nobody waits
        await asyncio.wait_for(again, 5)
        assert attachments.output("c", frame, 1, frame) is None
    asyncio.run(go())
