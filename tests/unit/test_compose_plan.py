"""The reconciler's plans, pure: a project model and what was observed -> the steps, checked
against text goldens in tests/golden/compose/plan/ (KETCH_UPDATE_GOLDEN=1 rewrites them)."""

import os
import pathlib

import pytest

from ketch.compose import labels as L
from ketch.compose.errors import ComposeError
from ketch.compose.model import Project, from_canonical
from ketch.compose.observe import Observed, ObservedContainer, ObservedNetwork, ObservedVolume
from ketch.compose.plan import UpOptions, plan_up
from ketch.compose.plan_ops import plan_down, plan_each, plan_restart, plan_start, plan_stop

GOLDEN = pathlib.Path(__file__).parent.parent / "golden" / "compose" / "plan"


def project(**services) -> Project:
    """The notes' shape: web depends on a healthy db, a user network, a named volume."""
    base = {
        "db": {"image": "busybox", "networks": {"back": None},
               "volumes": [{"type": "volume", "source": "data", "target": "/data"}],
               "healthcheck": {"test": ["CMD", "true"], "interval": "1s"}},
        "web": {"image": "busybox", "networks": {"back": None, "default": None},
                "depends_on": {"db": {"condition": "service_healthy"}}},
        "cache": {"image": "busybox", "networks": {"default": None}},
    }
    base.update(services)
    base = {k: v for k, v in base.items() if v is not None}
    return from_canonical(Project, {
        "name": "p", "working_dir": "/src",
        "services": {k: dict(v, name=k) for k, v in base.items()},
        "networks": {"default": {"name": "p_default"}, "back": {"name": "p_back"}},
        "volumes": {"data": {"name": "p_data"}},
    })


def running(proj: Project, service: str, number: int = 1, *, state="running", hash=None, **labels) -> ObservedContainer:
    svc = proj.services.get(service)
    return ObservedContainer(
        id=f"{service}{number}".ljust(64, "0"), name=f"p-{service}-{number}", service=service, number=number,
        state=state, config_hash=hash if hash is not None else L.config_hash(svc) if svc else "x",
        image_id="", oneoff=False, created=number, labels={L.PROJECT: "p", L.SERVICE: service, **labels})


def existing(*containers, resources=True) -> Observed:
    nets = {n: ObservedNetwork(f"id-{n}", n, {L.PROJECT: "p", L.NETWORK: n[2:]})
            for n in ("p_default", "p_back")} if resources else {}
    vols = {"p_data": ObservedVolume("p_data", {L.PROJECT: "p", L.VOLUME: "data"})} if resources else {}
    return Observed("p", list(containers), nets, vols)


def check(name: str, plan) -> None:
    path = GOLDEN / f"{name}.txt"
    text = plan.render()
    if os.environ.get("KETCH_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


def test_up_fresh_project():
    check("up_fresh", plan_up(project(), existing(resources=False)))


def test_up_again_changes_nothing():
    p = project()
    check("up_unchanged", plan_up(p, existing(running(p, "db"), running(p, "web"), running(p, "cache"))))


def test_up_starts_stopped_containers():
    p = project()
    check("up_stopped", plan_up(p, existing(running(p, "db", state="exited"), running(p, "web", state="exited"),
                                            running(p, "cache"))))


def test_changed_config_recreates_it_and_restarts_dependants():
    p = project()
    old = existing(running(p, "db", hash="old"), running(p, "web"), running(p, "cache"))
    check("up_recreate_db", plan_up(p, old))


def test_force_and_never():
    p = project()
    old = existing(running(p, "db", hash="old"), running(p, "web"), running(p, "cache"))
    never = plan_up(p, old, UpOptions(recreate="never", recreate_deps="never"))
    assert [s.action for s in never.steps] == ["keep"] * 3 + ["wait"]  # compose waits again, as it does
    forced = plan_up(p, old, UpOptions(recreate="force", recreate_deps="force"))
    assert sorted(s.name for s in forced.steps if s.action == "recreate") == ["p-cache-1", "p-db-1", "p-web-1"]


def test_scale_up_takes_the_lowest_free_numbers():
    p = project()
    old = existing(running(p, "db"), running(p, "web", 2), running(p, "cache"))
    check("up_scale_up", plan_up(p, old, UpOptions(services=("web",), scale={"web": 3})))


def test_scale_down_removes_the_highest_numbers():
    p = project()
    old = existing(running(p, "db"), *(running(p, "web", n) for n in (1, 2, 3)), running(p, "cache"))
    check("up_scale_down", plan_up(p, old, UpOptions(scale={"web": 1})))


def test_no_deps_leaves_dependencies_alone():
    p = project()
    check("up_no_deps", plan_up(p, existing(), UpOptions(services=("web",), no_deps=True)))


def test_named_service_brings_its_dependencies():
    p = project()
    plan = plan_up(p, existing(), UpOptions(services=("web",)))
    assert {s.service for s in plan.steps if s.kind == "Container"} == {"db", "web"}


def test_orphans_warned_or_removed():
    p = project()
    old = existing(running(p, "db"), running(p, "web"), running(p, "cache"), running(p, "old"))
    assert "Found orphan containers ([p-old-1])" in plan_up(p, old).warnings[0]
    check("up_remove_orphans", plan_up(p, old, UpOptions(remove_orphans=True)))


def test_network_mode_service_recreated_with_its_target():
    p = project(sidecar={"image": "busybox", "network_mode": "service:cache",
                         "depends_on": {"cache": {"condition": "service_started"}}})
    old = existing(running(p, "db"), running(p, "web"), running(p, "cache", hash="old"), running(p, "sidecar"))
    check("up_shared_netns", plan_up(p, old))


def test_completed_successfully_and_create_only():
    p = project(init={"image": "busybox"},
                web={"image": "busybox", "depends_on": {"init": {"condition": "service_completed_successfully"}}})
    check("up_completed", plan_up(p, existing(resources=False), UpOptions(services=("web",))))
    created = plan_up(p, existing(resources=False), UpOptions(services=("web",), start=False))
    assert {s.action for s in created.steps} == {"create"}


def test_errors():
    p = project(web={"image": "busybox", "container_name": "web"})
    with pytest.raises(ComposeError, match='custom container name "web"'):
        plan_up(p, existing(), UpOptions(scale={"web": 2}))
    with pytest.raises(ComposeError, match="no such service: nope"):
        plan_up(p, existing(), UpOptions(services=("nope",)))
    ext = from_canonical(Project, {"name": "p", "working_dir": "/", "services": {
        "a": {"name": "a", "image": "x", "networks": {"outside": None}}},
        "networks": {"outside": {"name": "outside", "external": True}}})
    with pytest.raises(ComposeError, match="network outside declared as external, but could not be found"):
        plan_up(ext, existing())


def test_down():
    p = project()
    old = existing(running(p, "db"), running(p, "web"), running(p, "web", 2), running(p, "cache", state="exited"))
    check("down", plan_down(old, p))
    check("down_volumes_orphans", plan_down(existing(running(p, "db"), running(p, "gone")), p,
                                            remove_orphans=True, volumes=True))


def test_down_remove_orphans_takes_running_one_offs_too():
    import dataclasses
    p = project()
    oneoff = dataclasses.replace(running(p, "web", 7), name="p-web-run-1", oneoff=True)
    kept = plan_down(existing(running(p, "db"), oneoff), p)
    assert all(s.name != oneoff.name for s in kept.steps)
    for proj in (p, None):
        steps = plan_down(existing(running(p, "db"), oneoff), proj, remove_orphans=True).steps
        assert [s.action for s in steps if s.name == oneoff.name] == ["stop", "remove"]
        net = next(s for s in steps if s.action == "remove_network")
        assert f"remove container {oneoff.name}" in net.after


def test_down_without_a_file_reads_the_labels():
    p = project()
    old = existing(running(p, "db"), running(p, "web", **{L.DEPENDS_ON: "db:service_healthy:false"}))
    check("down_from_labels", plan_down(old, None, volumes=True))


def test_down_nothing_warns():
    plan = plan_down(Observed("p"), None)
    assert plan.warnings == ('Warning: No resource found to remove for project "p".',)


def test_stop_start_restart():
    p = project()
    old = existing(running(p, "db"), running(p, "web", state="exited"), running(p, "cache"))
    check("stop", plan_stop(old, p))
    check("start", plan_start(p, old))
    check("restart", plan_restart(old, p, ["db"]))
    with pytest.raises(ComposeError, match='service "cache" has no container to start'):
        plan_start(p, existing(running(p, "db")), ["cache"])


def test_each():
    p = project()
    plan = plan_each("kill", [running(p, "web"), running(p, "db")], "SIGTERM")
    assert plan.render() == (" 1 kill container p-db-1 (service=db, number=1, detail=SIGTERM)\n"
                             " 2 kill container p-web-1 (service=web, number=1, detail=SIGTERM)\n")
