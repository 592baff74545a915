"""The executor on a fake engine: dependency order, parallel steps, depends_on conditions
and their errors, stopping at the first failure; and the progress lines."""

import io
import threading

import pytest

from ketch.client.http import HTTPError
from ketch.compose.errors import ComposeError
from ketch.compose.executor import ExecOptions, execute
from ketch.compose.observe import Observed
from ketch.compose.plan import UpOptions, plan_up
from ketch.compose.progress import Progress
from tests.unit.test_compose_plan import project


class FakeEngine:
    """Records the calls; containers' health and exit answer as told."""

    def __init__(self, health="healthy", exit_code=None, fail_create=()):
        self.calls: list[tuple] = []
        self.lock = threading.Lock()
        self.health, self.exit_code, self.fail_create = health, exit_code, fail_create
        self.names: dict[str, str] = {}

    def record(self, *call):
        with self.lock:
            self.calls.append(call)

    def create_network(self, body):
        self.record("network", body["Name"])

    def create_volume(self, body):
        self.record("volume", body["Name"])

    def create_container(self, body, name=None, platform=None):
        if name in self.fail_create:
            raise HTTPError(500, f"cannot create {name}")
        self.record("create", name)
        self.names[f"id-{name}"] = name
        return {"Id": f"id-{name}"}

    def connect_network(self, network, cid, endpoint=None):
        self.record("connect", network, self.names[cid])

    def start(self, cid):
        self.record("start", self.names[cid])

    def inspect_container(self, cid):
        self.record("inspect", self.names[cid])
        status = "exited" if self.exit_code is not None else "running"
        return {"Name": "/" + self.names[cid], "Config": {"Healthcheck": {"Test": ["CMD", "true"]}},
                "State": {"Status": status, "ExitCode": self.exit_code or 0, "Health": {"Status": self.health}}}

    def close(self):
        pass


class FakeCtx:
    def __init__(self, engine):
        self.engine = engine

    def client(self):
        return self.engine


def run(engine, proj, options=UpOptions()):
    out = io.StringIO()
    plan = plan_up(proj, Observed("p"), options)
    try:
        execute(plan, FakeCtx(engine), Progress(out, "plain"), ExecOptions(project=proj))
    finally:
        engine.output = out.getvalue()


def order(engine, *calls):
    return [engine.calls.index(c) for c in calls]


def test_up_in_dependency_order():
    engine = FakeEngine()
    run(engine, project())
    a = order(engine, ("network", "p_back"), ("volume", "p_data"), ("create", "p-db-1"), ("start", "p-db-1"),
              ("inspect", "p-db-1"), ("start", "p-web-1"))
    assert a == sorted(a)
    assert engine.calls.index(("create", "p-db-1")) < engine.calls.index(("create", "p-web-1"))
    assert ("connect", "p_default", "p-web-1") in engine.calls or ("connect", "p_back", "p-web-1") in engine.calls
    lines = engine.output.splitlines()
    assert " Container p-db-1  Waiting" in lines and " Container p-db-1  Healthy" in lines
    assert lines.index(" Container p-db-1  Healthy") < lines.index(" Container p-web-1  Starting")
    assert ' Volume "p_data"  Created' in lines


def test_unhealthy_dependency_stops_the_run():
    engine = FakeEngine(health="unhealthy")
    with pytest.raises(ComposeError, match="^dependency failed to start: container p-db-1 is unhealthy$"):
        run(engine, project())
    assert ("start", "p-web-1") not in engine.calls
    assert " Container p-db-1  Error" in engine.output.splitlines()


def test_completed_successfully_needs_exit_zero():
    proj = project(web={"image": "busybox", "depends_on": {"db": {"condition": "service_completed_successfully"}}})
    engine = FakeEngine(exit_code=1)
    with pytest.raises(ComposeError, match="""^service "db" didn't complete successfully: exit 1$"""):
        run(engine, proj)
    engine = FakeEngine(exit_code=0)
    run(engine, proj)
    assert ("start", "p-web-1") in engine.calls
    assert " Container p-db-1  Exited" in engine.output.splitlines()


def test_a_failed_create_schedules_nothing_after_it():
    engine = FakeEngine(fail_create=("p-db-1",))
    with pytest.raises(HTTPError, match="cannot create p-db-1"):
        run(engine, project())
    assert not any(c[0] == "start" for c in engine.calls)
    assert ("create", "p-web-1") not in engine.calls


def test_progress_modes():
    out = io.StringIO()
    p = Progress(out, "plain")
    p.event("Container", "p-web-1", "Started")
    p.event("Network", "p_default", "Removing")
    assert out.getvalue() == " Container p-web-1  Started\n Network p_default  Removing\n"
    out = io.StringIO()
    Progress(out, "json").event("Container", "p-web-1", "Started")
    assert out.getvalue() == '{"id":"Container p-web-1","status":"Started"}\n'
    out = io.StringIO()
    Progress(out, "quiet").event("Container", "p-web-1", "Started")
    assert out.getvalue() == ""
    out = io.StringIO()
    Progress(out, "plain", dry_run=True).event("Container", "p-web-1", "Created")
    assert out.getvalue() == " DRY-RUN MODE -  Container p-web-1  Created\n"
    out = io.StringIO()
    p = Progress(out, "tty")
    p.event("Container", "p-web-1", "Starting")
    p.event("Container", "p-web-1", "Started")
    p.done()
    assert "[+] Running 1/1" in out.getvalue() and "✔ Container p-web-1" in out.getvalue()
    with pytest.raises(ComposeError):
        Progress(out, "fancy")


class StatefulEngine:
    """Containers with a state: a removed one answers 404; a started one is healthy once
    ``healthy_after`` seconds have passed; ``slow_stop`` ids take 0.5 s to stop."""

    def __init__(self, observed: Observed, healthy_after=0.0, slow_stop=()):
        self.lock = threading.Lock()
        self.state = {c.id: "running" for c in observed.containers}
        self.started: dict[str, float] = {}
        self.healthy_after, self.slow_stop = healthy_after, set(slow_stop)
        self.inspected: list[str] = []

    def create_network(self, body):
        pass

    def create_volume(self, body):
        pass

    def create_container(self, body, name=None, platform=None):
        with self.lock:
            cid = f"new-{name}"
            self.state[cid] = "created"
        return {"Id": cid}

    def connect_network(self, *args):
        pass

    def inspect_container(self, cid):
        import time
        with self.lock:
            self.inspected.append(cid)
            state = self.state.get(cid)
        if state is None:
            raise HTTPError(404, f"No such container: {cid}")
        ok = time.monotonic() - self.started.get(cid, 0.0) >= self.healthy_after
        return {"Name": "/" + cid, "Config": {"Healthcheck": {"Test": ["CMD", "true"]}}, "Mounts": [],
                "State": {"Status": state, "ExitCode": 0, "Health": {"Status": "healthy" if ok else "starting"}}}

    def start(self, cid):
        import time
        with self.lock:
            self.state[cid] = "running"
            self.started[cid] = time.monotonic()

    def stop(self, cid, timeout=None):
        import time
        if cid in self.slow_stop:
            time.sleep(0.5)
        with self.lock:
            self.state[cid] = "exited"

    def remove(self, cid, force=False, volumes=False):
        with self.lock:
            self.state.pop(cid, None)

    def rename(self, cid, name):
        pass

    def close(self):
        pass


def test_recreate_under_a_new_container_name_forgets_the_old_one():
    from tests.unit.test_compose_plan import existing, running
    proj = project(db={"image": "busybox", "container_name": "newdb", "networks": {"back": None},
                       "healthcheck": {"test": ["CMD", "true"], "interval": "1s"}})
    observed = existing(running(proj, "db", 1, hash="stale"), running(proj, "web", 1))
    engine = StatefulEngine(observed)
    out = io.StringIO()
    executor = execute(plan_up(proj, observed), FakeCtx(engine), Progress(out, "plain"),
                       ExecOptions(project=proj), observed)
    assert " Container p-db-1  Waiting" not in out.getvalue().splitlines()
    assert [n for n, _ in executor.containers_of("db")] == ["newdb"]
    assert executor.peers()["db"] == ["newdb"]


def test_wait_leaves_out_the_replicas_the_plan_removes():
    from tests.unit.test_compose_plan import existing, running
    proj = project()
    db2 = running(proj, "db", 2, hash="stale")
    observed = existing(running(proj, "db", 1, hash="stale"), db2, running(proj, "web", 1))
    engine = StatefulEngine(observed, healthy_after=0.3, slow_stop=(db2.id,))
    out = io.StringIO()
    execute(plan_up(proj, observed, UpOptions(scale={"db": 1})), FakeCtx(engine), Progress(out, "plain"),
            ExecOptions(project=proj), observed)
    lines = out.getvalue().splitlines()
    assert " Container p-db-2  Waiting" not in lines and " Container p-db-1  Healthy" in lines
    assert db2.id not in engine.inspected


def test_rm_v_removes_the_anonymous_volumes_a_recreated_container_inherited():
    from ketch.compose.plan_ops import plan_each
    from tests.unit.test_compose_plan import existing, running
    anon, named, old = "a" * 64, "p_data", "b" * 64
    web = running(project(), "web", 1)

    class Engine(StatefulEngine):
        removed: list = []

        def inspect_container(self, cid):
            return {"Mounts": [{"Type": "volume", "Name": anon, "Source": "/v/" + anon},
                               {"Type": "volume", "Name": named}, {"Type": "volume", "Name": old},
                               {"Type": "bind", "Source": "/src"}]}

        def inspect_volume(self, name):
            return {anon: {"Labels": {"com.docker.volume.anonymous": ""}},
                    named: {"Labels": {"com.docker.compose.volume": "data"}}, old: {"Labels": None}}[name]

        def remove(self, cid, force=False, volumes=False):
            self.removed.append(("container", cid, volumes))

        def remove_volume(self, name, force=False):
            self.removed.append(("volume", name))

    observed = existing(web)
    engine = Engine(observed)
    execute(plan_each("remove", [web], "v"), FakeCtx(engine), Progress(io.StringIO(), "plain"),
            ExecOptions(), observed)
    assert engine.removed == [("container", web.id, True), ("volume", anon), ("volume", old)]
    engine.removed.clear()
    execute(plan_each("remove", [web]), FakeCtx(engine), Progress(io.StringIO(), "plain"), ExecOptions(), observed)
    assert engine.removed == [("container", web.id, False)]


def test_ctrl_c_returns_at_once_without_waiting_for_the_running_stops():
    import signal
    import time
    from ketch.compose.plan_ops import plan_each
    from tests.unit.test_compose_plan import existing, running
    p = project()
    containers = [running(p, "web", n) for n in (1, 2)]
    observed = existing(*containers)
    engine = StatefulEngine(observed)
    engine.stop = lambda cid, timeout=None: time.sleep(2)  # a container ignoring SIGTERM

    def interrupt(signum, frame):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGINT, interrupt)
    timer = threading.Timer(0.2, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    begun = time.monotonic()
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            execute(plan_each("stop", containers), FakeCtx(engine), Progress(io.StringIO(), "plain"),
                    ExecOptions(), observed)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert time.monotonic() - begun < 1.5


def test_a_dependent_stopped_for_a_recreate_is_not_reported_running():
    from tests.unit.test_compose_plan import existing, running
    proj = project()
    observed = existing(running(proj, "db", 1, hash="stale"), running(proj, "web", 1))
    out = io.StringIO()
    execute(plan_up(proj, observed), FakeCtx(StatefulEngine(observed)), Progress(out, "plain"),
            ExecOptions(project=proj), observed)
    lines = out.getvalue().splitlines()
    assert " Container p-web-1  Running" not in lines
    assert lines.index(" Container p-web-1  Stopped") < lines.index(" Container p-web-1  Started")
