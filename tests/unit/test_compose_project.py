"""ketch.compose.loader.project: compose files -> the canonical project (goldens).

Each directory of tests/golden/compose/loader/ is a project: its compose files, an
optional case.json ({"files", "environ", "profiles", "project_name"}), and what it loads
to: expected.json (the project's canonical form, the case's directory written $DIR) or
expected.err (the LoadError's text). KETCH_UPDATE_GOLDEN=1 rewrites them.
"""

import json
import os

import pytest

from tests.unit import compose_standins
from ketch.compose.errors import LoadError
from ketch.compose.loader import LoadOptions
from ketch.compose.loader.project import load_project, with_services
from ketch.compose.model import to_canonical

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "golden", "compose", "loader")
CASES = sorted(d for d in os.listdir(GOLDEN) if os.path.isdir(os.path.join(GOLDEN, d)))


@pytest.fixture(autouse=True)
def standins(monkeypatch):
    compose_standins.use(monkeypatch)
    monkeypatch.setenv("HOME", "/home/user")


def _options(case_dir: str, **extra) -> LoadOptions:
    spec = {}
    if os.path.exists(os.path.join(case_dir, "case.json")):
        with open(os.path.join(case_dir, "case.json")) as f:
            spec = json.load(f)
    spec.update(extra)
    return LoadOptions(files=spec.get("files", ["compose.yaml"]), working_dir=case_dir,
                       environ=spec.get("environ", {}), profiles=spec.get("profiles", []),
                       project_name=spec.get("project_name", "test"))


def _render(project, case_dir: str) -> str:
    doc = to_canonical(project)
    doc.pop("environment", None)
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    return text.replace(os.path.realpath(case_dir), "$DIR").replace(case_dir, "$DIR")


@pytest.mark.parametrize("case", CASES)
def test_golden(case):
    case_dir = os.path.realpath(os.path.join(GOLDEN, case))
    warnings = []
    try:
        got = _render(load_project(_options(case_dir), warn=warnings.append), case_dir)
        name = "expected.json"
    except LoadError as exc:
        got = str(exc).replace(case_dir, "$DIR") + "\n"
        name = "expected.err"
    path = os.path.join(case_dir, name)
    if os.environ.get("KETCH_UPDATE_GOLDEN"):
        for stale in ("expected.json", "expected.err"):
            if stale != name and os.path.exists(os.path.join(case_dir, stale)):
                os.remove(os.path.join(case_dir, stale))
        with open(path, "w") as f:
            f.write(got)
    assert os.path.exists(path), f"{case}: no {name}; got:\n{got}"
    with open(path) as f:
        assert got == f.read()


def test_with_services_enables_profiles():
    case_dir = os.path.realpath(os.path.join(GOLDEN, "profiles"))
    project = load_project(_options(case_dir, profiles=[]))
    assert list(project.services) == ["web"]
    enabled = with_services(project, ["all"])
    assert sorted(enabled.services) == ["all", "debug", "web"]  # tools and debug both active
    assert enabled.profiles == ["tools", "debug"]
    assert with_services(project, ["web"]) is project
    with pytest.raises(LoadError, match="no such service: nope"):
        with_services(project, ["nope"])


def test_star_profile_enables_everything():
    case_dir = os.path.realpath(os.path.join(GOLDEN, "profiles"))
    project = load_project(_options(case_dir, profiles=["*"]))
    assert sorted(project.services) == ["all", "debug", "other", "web"]


def test_version_warning(tmp_path):
    (tmp_path / "compose.yaml").write_text("version: '3.8'\nservices:\n  a: {image: x}\n")
    warnings = []
    load_project(LoadOptions(files=["compose.yaml"], working_dir=str(tmp_path), project_name="p"),
                 warn=warnings.append)
    assert warnings == [f"{tmp_path}/compose.yaml: the attribute `version` is obsolete, it will be "
                        "ignored, please remove it to avoid potential confusion"]


def test_project_name_interpolated_into_files(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "name: ${NAME:-fallback}\nservices:\n  a:\n    image: x\n    labels: [\"p=${COMPOSE_PROJECT_NAME}\"]\n")
    options = LoadOptions(files=["compose.yaml"], working_dir=str(tmp_path), environ={"NAME": "named"})
    project = load_project(options)
    assert project.name == "named"
    assert project.services["a"].labels == {"p": "named"}
    assert project.networks["default"].name == "named_default"


def test_no_consistency_and_no_path_resolution(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    networks: [nope]\n    volumes: [./d:/d]\n")
    project = load_project(LoadOptions(files=["compose.yaml"], working_dir=str(tmp_path), project_name="p",
                                       consistency=False, resolve_paths=False))
    assert project.services["a"].volumes[0].source == "./d"
