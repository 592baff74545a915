"""ketch.compose.loader.extends: services built on others (same file, other files)."""

import pytest

from ketch.compose.errors import LoadError
from ketch.compose.loader.canonical import canonical
from ketch.compose.loader.extends import apply_extends


def extend(services, files=None, base_dir="/p"):
    files = {path: canonical(doc) for path, doc in (files or {}).items()}
    doc = canonical({"services": services})
    return apply_extends(doc, "/p/compose.yaml", base_dir, lambda path: files[path])["services"]


def test_same_file_chain_and_order_independent():
    got = extend({"c": {"extends": "b", "environment": {"L": "c"}},
                  "b": {"extends": {"service": "a"}, "environment": {"L": "b"}, "ports": ["81"]},
                  "a": {"image": "x", "environment": {"L": "a", "K": "1"}, "ports": ["80"]}})
    assert got["c"]["environment"] == {"L": "c", "K": "1"}
    assert [p["target"] for p in got["c"]["ports"]] == [80, 81]
    assert "extends" not in got["c"] and "extends" not in got["b"]
    assert got["a"] == {"image": "x", "environment": {"L": "a", "K": "1"},
                        "ports": [{"target": 80, "protocol": "tcp", "mode": "ingress"}]}


def test_other_file_paths_relative_to_it():
    got = extend({"web": {"extends": {"file": "lib/base.yaml", "service": "base"}, "command": "run"}},
                 {"/p/lib/base.yaml": {"services": {"base": {
                     "extends": {"file": "../common/root.yaml", "service": "root"},
                     "build": "./ctx", "volumes": ["./v:/v"], "command": "no"}}},
                  "/p/common/root.yaml": {"services": {"root": {"image": "r", "env_file": "r.env"}}}})
    web = got["web"]
    assert web["build"] == {"context": "/p/lib/ctx"}
    assert web["volumes"][0]["source"] == "/p/lib/v"
    assert web["env_file"] == [{"path": "/p/common/r.env", "required": True}]
    assert web["command"] == ["run"] and web["image"] == "r"


def test_missing_base(tmp_path):
    with pytest.raises(LoadError, match='cannot extend service "a" in /p/compose.yaml: service "b" not found$'):
        extend({"a": {"extends": "b"}})
    (tmp_path / "other.yaml").write_text("")
    path = str(tmp_path / "other.yaml")
    with pytest.raises(LoadError, match=f'cannot extend service "a" in /p/compose.yaml: service "b" not found in {path}'):
        extend({"a": {"extends": {"file": path, "service": "b"}}}, {path: {"services": {}}})
    with pytest.raises(LoadError, match=f'cannot extend service "a" in {path}: no services section'):
        extend({"a": {"extends": {"file": path, "service": "b"}}}, {path: {}})


def test_cycle():
    with pytest.raises(LoadError) as exc:
        extend({"a": {"extends": "b"}, "b": {"extends": "a"}})
    assert str(exc.value) == ("Circular reference:\n  a in /p/compose.yaml\n  extends b in /p/compose.yaml\n"
                              "  extends a in /p/compose.yaml")
