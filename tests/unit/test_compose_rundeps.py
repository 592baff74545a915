"""`compose run`'s dependencies: the plan that brings them up ends with the executor's wait
steps for the run service's own depends_on (REVIEW F15: `required: false` is honoured)."""

import io

import pytest

from ketch.compose.errors import ComposeError
from ketch.compose.executor import ExecOptions, execute
from ketch.compose.observe import Observed
from ketch.compose.progress import Progress
from ketch.compose.rundeps import dependencies_plan
from tests.unit.test_compose_executor import FakeCtx, FakeEngine
from tests.unit.test_compose_plan import project


def _run(engine, proj, name="web"):
    plan = dependencies_plan(proj, name, Observed("p"), ["db"], {})
    out = io.StringIO()
    try:
        execute(plan, FakeCtx(engine), Progress(out, "plain"), ExecOptions(project=proj))
    finally:
        engine.output = out.getvalue()
    return plan


def test_run_waits_for_its_dependency_after_starting_it():
    engine = FakeEngine()
    plan = _run(engine, project())
    wait = [s for s in plan.steps if s.action == "wait"]
    assert [(s.name, s.detail, s.dependant) for s in wait] == [("db", "service_healthy", "web")]
    assert "start container p-db-1" in wait[0].after
    assert not any(s.service == "web" for s in plan.steps)  # the run service itself is not created
    lines = engine.output.splitlines()
    assert lines.index(" Container p-db-1  Waiting") < lines.index(" Container p-db-1  Healthy")


def test_required_unhealthy_dependency_fails_run():
    with pytest.raises(ComposeError, match="^dependency failed to start: container p-db-1 is unhealthy$"):
        _run(FakeEngine(health="unhealthy"), project())


def test_optional_dependency_is_skipped_with_a_warning():
    proj = project(web={"image": "busybox", "depends_on": {"db": {"condition": "service_healthy", "required": False}}})
    engine = FakeEngine(health="unhealthy")
    _run(engine, proj)
    assert 'Skipped: optional dependency "db" failed to start' in engine.output
    proj = project(web={"image": "busybox",
                        "depends_on": {"db": {"condition": "service_completed_successfully", "required": False}}})
    engine = FakeEngine(exit_code=2)
    _run(engine, proj)
    assert "Skipped: optional dependency" in engine.output


def test_service_started_needs_no_wait():
    proj = project(web={"image": "busybox", "depends_on": {"db": {"condition": "service_started"}}})
    assert not [s for s in dependencies_plan(proj, "web", Observed("p"), ["db"], {}).steps if s.action == "wait"]
