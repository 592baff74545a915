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


def test_reset_and_override_tags(tmp_path):
    pytest.importorskip("ketch.compose.loader.yamlfile")
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: x\n    ports: ['8080:80']\n    environment: {FOO: bar, KEEP: k}\n"
        "    volumes: ['./a:/a']\n")
    (tmp_path / "override.yaml").write_text(
        "services:\n  app:\n    ports: !reset []\n    environment:\n      FOO: !reset null\n"
        "    volumes: !override ['./b:/b']\n")
    project = load_project(LoadOptions(files=["compose.yaml", "override.yaml"], working_dir=str(tmp_path),
                                       project_name="p"))
    app = project.services["app"]
    assert app.ports == [] and app.environment == {"KEEP": "k"}
    assert [v.source for v in app.volumes] == [f"{tmp_path}/b"]


def test_several_documents_in_a_file(tmp_path):
    pytest.importorskip("ketch.compose.loader.yamlfile")
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a: {image: x, dns: [1.1.1.1]}\n---\nservices:\n  a: {dns: [8.8.8.8]}\n  b: {image: y}\n")
    project = load_project(LoadOptions(files=["compose.yaml"], working_dir=str(tmp_path), project_name="p"))
    assert project.services["a"].dns == ["1.1.1.1", "8.8.8.8"] and "b" in project.services


def test_with_selected_services(tmp_path):
    from ketch.compose.loader.project import with_selected_services
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web: {image: w, depends_on: [api]}\n  api: {image: a, depends_on: [db]}\n"
        "  db: {image: d}\n  other: {image: o}\n  dbg: {image: b, profiles: [debug], depends_on: [db]}\n")
    project = load_project(LoadOptions(files=["compose.yaml"], working_dir=str(tmp_path), project_name="p"))
    sel = with_selected_services(project, ["web"])
    assert list(sel.services) == ["web", "api", "db"]
    assert sorted(sel.disabled_services) == ["dbg", "other"]
    alone = with_selected_services(project, ["web"], dependencies=False)
    assert list(alone.services) == ["web"] and alone.services["web"].depends_on == {}
    dbg = with_selected_services(project, ["dbg"])
    assert list(dbg.services) == ["db", "dbg"] and dbg.profiles == ["debug"]
    assert with_selected_services(project, []) is project


def test_reset_and_override_over_extends(tmp_path):
    pytest.importorskip("ketch.compose.loader.yamlfile")
    (tmp_path / "compose.yaml").write_text(
        "services:\n  init:\n    image: alpine\n    command: sleep infinity\n    ports: ['80:80']\n"
        "  base:\n    extends: {service: init}\n    command: !reset\n    ports: !override ['81:81']\n")
    project = load_project(LoadOptions(files=["compose.yaml"], working_dir=str(tmp_path), project_name="p"))
    base = project.services["base"]
    assert base.command is None and [p.target for p in base.ports] == [81]
    assert project.services["init"].command == ["sleep", "infinity"]


def test_for_command_drops_unused_resources(tmp_path):
    from ketch.compose.loader.project import for_command
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web: {image: w, networks: [front], volumes: ['data:/d'], secrets: [s]}\n"
        "  db: {image: d, networks: [back], volumes: ['dbdata:/d']}\n"
        "networks: {front: {}, back: {}, unused: {}}\nvolumes: {data: {}, dbdata: {}, spare: {}}\n"
        "secrets: {s: {file: ./s}, t: {file: ./t}}\n")
    project = load_project(LoadOptions(files=["compose.yaml"], working_dir=str(tmp_path), project_name="p"))
    all_of_it = for_command(project, [])
    assert list(all_of_it.networks) == ["front", "back"] and list(all_of_it.volumes) == ["data", "dbdata"]
    assert list(all_of_it.secrets) == ["s"]
    web = for_command(project, ["web"])
    assert list(web.services) == ["web"] and list(web.networks) == ["front"] and list(web.volumes) == ["data"]
    assert list(for_command(project, ["web"], all_resources=True).networks) == ["front", "back", "unused"]


def test_stdin(tmp_path, monkeypatch):
    import io
    monkeypatch.setattr("sys.stdin", io.StringIO("services:\n  a:\n    image: x\n    volumes: [./d:/d]\n"))
    project = load_project(LoadOptions(files=["-"], working_dir=str(tmp_path), project_name="p"))
    assert project.config_files == ["-"] and project.working_dir == str(tmp_path)
    assert project.services["a"].volumes[0].source == f"{tmp_path}/d"
