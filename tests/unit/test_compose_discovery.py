"""discovery: which files (-f, COMPOSE_FILE incl. from .env, the default names upwards with
their override), the project directory and the project name."""

import os

import pytest

from ketch.compose.errors import LoadError
from ketch.compose.loader import LoadOptions, discovery


def opts(tmp_path, **kw):
    kw.setdefault("environ", {})
    kw.setdefault("working_dir", str(tmp_path))
    return LoadOptions(**kw)


def touch(path, text="services: {}\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_default_names_upwards_with_override(tmp_path):
    top = touch(tmp_path / "docker-compose.yml")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert discovery.config_files(opts(tmp_path, working_dir=str(deep))) == [top]
    override = touch(tmp_path / "docker-compose.override.yml")
    assert discovery.config_files(opts(tmp_path, working_dir=str(deep))) == [top, override]
    nearer = touch(tmp_path / "a" / "compose.yaml")
    assert discovery.config_files(opts(tmp_path, working_dir=str(deep))) == [nearer]


def test_several_names_warn_and_prefer_compose_yaml(tmp_path):
    touch(tmp_path / "docker-compose.yaml")
    first = touch(tmp_path / "compose.yaml")
    warnings = []
    assert discovery.config_files(opts(tmp_path), warn=warnings.append) == [first]
    assert warnings == [f"Found multiple config files with supported names: {first}, {tmp_path}/docker-compose.yaml",
                        f"Using {first}"]


def test_none_found(tmp_path, monkeypatch):
    # a compose file in a parent of the temporary directory (/tmp/compose.yaml) is not ours
    exists = os.path.exists
    monkeypatch.setattr(discovery.os.path, "exists", lambda p: p.startswith(str(tmp_path)) and exists(p))
    with pytest.raises(LoadError, match="^no configuration file provided: not found$"):
        discovery.config_files(opts(tmp_path))


def test_explicit_files_in_order(tmp_path):
    a, b = touch(tmp_path / "a.yml"), touch(tmp_path / "sub" / "b.yml")
    touch(tmp_path / "compose.yaml")
    assert discovery.config_files(opts(tmp_path, files=["a.yml", "sub/b.yml", "-"])) == [a, b, "-"]
    with pytest.raises(LoadError, match=f"^stat {tmp_path}/nope.yml: no such file or directory$"):
        discovery.config_files(opts(tmp_path, files=["nope.yml"]))


def test_compose_file_variable(tmp_path):
    a, b = touch(tmp_path / "a.yml"), touch(tmp_path / "b.yml")
    touch(tmp_path / "compose.yaml")
    assert discovery.config_files(opts(tmp_path, environ={"COMPOSE_FILE": "a.yml:b.yml"})) == [a, b]
    environ = {"COMPOSE_FILE": "a.yml;b.yml", "COMPOSE_PATH_SEPARATOR": ";"}
    assert discovery.config_files(opts(tmp_path, environ=environ)) == [a, b]
    # from the .env of the directory discovery starts in
    (tmp_path / ".env").write_text("COMPOSE_FILE=b.yml\n")
    assert discovery.config_files(opts(tmp_path)) == [b]
    # the shell wins over .env
    assert discovery.config_files(opts(tmp_path, environ={"COMPOSE_FILE": "a.yml"})) == [a]


def test_project_directory(tmp_path):
    f = touch(tmp_path / "sub" / "compose.yaml")
    assert discovery.project_directory(opts(tmp_path), [f]) == str(tmp_path / "sub")
    assert discovery.project_directory(opts(tmp_path, project_directory="other"), [f]) == str(tmp_path / "other")
    assert discovery.project_directory(opts(tmp_path), ["-"]) == str(tmp_path)
    assert discovery.project_directory(opts(tmp_path), ["-", f]) == str(tmp_path / "sub")


@pytest.mark.parametrize("raw,name", [
    ("My Project", "myproject"), ("_-abc", "abc"), ("a.b_c-D", "ab_c-d"), ("__", ""), ("déjà", "dj"),
])
def test_normalize(raw, name):
    assert discovery.normalize_project_name(raw) == name


def test_project_name_precedence(tmp_path):
    d = str(tmp_path / "My_Dir")
    env = {"COMPOSE_PROJECT_NAME": "fromenv"}
    assert discovery.project_name(opts(tmp_path, project_name="cli"), d, "file", env) == "cli"
    assert discovery.project_name(opts(tmp_path), d, "file", env) == "fromenv"
    assert discovery.project_name(opts(tmp_path), d, "From File", {}) == "fromfile"
    assert discovery.project_name(opts(tmp_path), d, None, {}) == "my_dir"
    assert discovery.project_name(opts(tmp_path), d, "--", {}) == "my_dir"
    assert discovery.project_name(opts(tmp_path), d, "", {"COMPOSE_PROJECT_NAME": ""}) == "my_dir"


@pytest.mark.parametrize("name", ["Bad", "-x", "a b"])
def test_invalid_names(tmp_path, name):
    with pytest.raises(LoadError) as info:
        discovery.project_name(opts(tmp_path, project_name=name), "/x", None, {})
    assert str(info.value) == (f'invalid project name "{name}": must consist only of lowercase alphanumeric characters, '
                               "hyphens, and underscores as well as start with a letter or number")
    with pytest.raises(LoadError, match="invalid project name"):
        discovery.project_name(opts(tmp_path), "/x", None, {"COMPOSE_PROJECT_NAME": name})


def test_empty_name(tmp_path):
    with pytest.raises(LoadError, match="^project name must not be empty$"):
        discovery.project_name(opts(tmp_path), os.sep + "__", None, {})
