"""ketch.compose.loader.include: other projects' resources imported (through load_project)."""

import pytest

from ketch.compose.errors import LoadError
from ketch.compose.loader import LoadOptions
from ketch.compose.loader.include import import_resources
from ketch.compose.loader.project import load_project
from tests.unit import compose_standins


@pytest.fixture(autouse=True)
def standins(monkeypatch):
    compose_standins.use(monkeypatch)


def load(tmp_path, **files):
    for name, text in files.items():
        path = tmp_path / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return load_project(LoadOptions(files=["compose.yaml"], working_dir=str(tmp_path), project_name="p"))


def test_project_directory_and_env(tmp_path):
    project = load(tmp_path, **{
        "compose.yaml": "include:\n  - path: lib/compose.yaml\n    project_directory: other\n"
                        "services:\n  web: {image: w}\n",
        "lib__compose.yaml": "services:\n  api:\n    image: api:${TAG}\n    volumes: [./d:/d]\n",
        "other__.env": "TAG=7\n",
    })
    api = project.services["api"]
    assert api.image == "api:7"
    assert api.volumes[0].source == f"{tmp_path}/other/d"
    assert project.networks["default"].name == "p_default"


def test_nested_include_and_same_definition_allowed(tmp_path):
    project = load(tmp_path, **{
        "compose.yaml": "include: [a/compose.yaml]\nservices:\n  db: {image: pg, networks: {default: null}}\n",
        "a__compose.yaml": "include: [../b/compose.yaml]\nservices:\n  a: {image: a}\n",
        "b__compose.yaml": "services:\n  db: {image: pg, networks: {default: null}}\n",
    })
    assert sorted(project.services) == ["a", "db"]


def test_env_file_missing(tmp_path):
    with pytest.raises(LoadError, match="stat .*/nope.env: no such file or directory"):
        load(tmp_path, **{"compose.yaml": "include:\n  - path: a.yaml\n    env_file: nope.env\n",
                          "a.yaml": "services:\n  a: {image: a}\n"})


def test_import_resources_conflict():
    target = {"volumes": {"v": {"driver": "local"}}}
    import_resources({"volumes": {"v": {"driver": "local"}, "w": {}}}, target)
    assert target == {"volumes": {"v": {"driver": "local"}, "w": {}}}
    with pytest.raises(LoadError, match="volumes.v conflicts with imported resource"):
        import_resources({"volumes": {"v": {"driver": "other"}}}, target)


def test_extends_file_missing(tmp_path):
    with pytest.raises(LoadError, match=f"open {tmp_path}/nope.yaml: no such file or directory"):
        load(tmp_path, **{"compose.yaml": "services:\n  a:\n    extends: {file: nope.yaml, service: b}\n"})


def test_including_environment_wins(tmp_path):
    (tmp_path / "compose.yaml").write_text("include:\n  - path: a.yaml\n    env_file: a.env\nservices: {}\n")
    (tmp_path / "a.yaml").write_text("services:\n  a: {image: 'a:${TAG}', labels: ['x=${ONLY}']}\n")
    (tmp_path / "a.env").write_text("TAG=file\nONLY=file-${TAG}\n")
    project = load_project(LoadOptions(files=["compose.yaml"], working_dir=str(tmp_path), project_name="p",
                                       environ={"TAG": "env"}))
    assert project.services["a"].image == "a:env"
    assert project.services["a"].labels == {"x": "file-env"}
