"""The lifecycle commands' pure parts: --scale and `scale` specifiers, Go durations, the
split of an attached up's plan into its create and start phases, the attached services."""

import pytest

from ketch.cli import flags
from ketch.compose.commands.lifecycle import UP
from ketch.compose.commands.lifecycle_util import _scale_flags, split_scale
from ketch.compose.commands.upattach import attached_services
from ketch.compose.commands.updetach import go_duration
from ketch.compose.errors import ComposeError
from ketch.compose.observe import Observed
from ketch.compose.plan import UpOptions, plan_up
from tests.unit.test_compose_plan import project


def test_scale_specifiers():
    assert split_scale(["web=3", "db=0"]) == {"web": 3, "db": 0}
    with pytest.raises(ComposeError, match="^invalid scale specifier: web$"):
        split_scale(["web"])
    with pytest.raises(ComposeError, match="^invalid scale specifier: can't parse replica value as int: web=x$"):
        split_scale(["web=x"])
    p = project()
    assert _scale_flags(p, ["web=2"]) == {"web": 2}
    with pytest.raises(ComposeError, match='^invalid --scale option "web". Should be SERVICE=NUM$'):
        _scale_flags(p, ["web"])
    with pytest.raises(ComposeError, match='^strconv.Atoi: parsing "x": invalid syntax$'):
        _scale_flags(p, ["web=x"])
    with pytest.raises(ComposeError, match="^no such service: nope$"):
        _scale_flags(p, ["nope=1"])


def test_go_duration():
    assert [go_duration(s) for s in (0, 1, 59, 60, 61, 3600, 3725)] == ["0s", "1s", "59s", "1m0s", "1m1s",
                                                                          "1h0m0s", "1h2m5s"]


def test_attached_plan_creates_everything_before_starting():
    create, start = plan_up(project(), Observed("p")).phases()
    assert {s.action for s in create.steps} == {"create", "create_network", "create_volume"}
    assert [s.action for s in start.steps] == ["start", "start", "wait", "start"]
    ids = {s.id for s in start.steps}
    assert all(a in ids for s in start.steps for a in s.after)


def test_attached_services():
    p = project(cache={"image": "busybox", "attach": False})
    opts, _ = flags.parse(UP, [], "ketch compose up")
    assert attached_services(None, opts, p, UpOptions()) == ["db", "web"]
    assert attached_services(None, opts, p, UpOptions(services=("web",))) == ["web"]
    opts, _ = flags.parse(UP, ["--attach-dependencies", "--no-attach", "web"], "ketch compose up")
    assert attached_services(None, opts, p, UpOptions(services=("web",))) == ["db"]
    opts, _ = flags.parse(UP, ["--attach", "nope"], "ketch compose up")
    with pytest.raises(ComposeError, match="^cannot attach to services not included in up: nope$"):
        attached_services(None, opts, p, UpOptions())


def test_down_rmi_passes_remove_orphans(monkeypatch):
    from types import SimpleNamespace
    from ketch.compose import imageops
    from ketch.compose.commands import lifecycle
    asked = []
    monkeypatch.setattr(lifecycle, "project_or_name", lambda ctx: (project(), "p"))
    monkeypatch.setattr(lifecycle, "observe", lambda client, name: Observed("p"))
    monkeypatch.setattr(lifecycle, "run_plan", lambda *a, **k: None)
    monkeypatch.setattr(lifecycle, "warn", lambda *a: None)
    monkeypatch.setattr(lifecycle, "exec_options", lambda *a: None)
    monkeypatch.setattr(lifecycle, "progress", lambda ctx: SimpleNamespace(done=lambda: None))
    monkeypatch.setattr(imageops, "remove_images", lambda ctx, proj, rmi, **k: asked.append((rmi, k["remove_orphans"])))
    ctx = SimpleNamespace(client=lambda: None, options={})
    lifecycle.down(ctx, ["--rmi", "local", "--remove-orphans"], "down")
    lifecycle.down(ctx, ["--rmi", "all"], "down")
    assert asked == [("local", True), ("all", False)]
