"""The package layers of DESIGN.md "Package layout", enforced by an AST walk over ketch/.

Every `import` and `from ... import` in every module counts, including imports
inside functions (lazy imports are still dependencies). A violation prints as
"<module> imports <forbidden module>".

    layer 0  errors signals detachkeys timefmt units fastjson value oci linux apitypes archive
             httpserver
             stdlib only; only layer 0. The one exception: httpserver may also import
             h11 (THIRD_PARTY), the HTTP/1.1 parser it is built on, and nothing else
             outside the standard library
    layer 1  image storage runtime monitor network build registry volume
             layers 0-1; runtime: only oci, linux, errors, signals, timefmt, fastjson, value;
             monitor: only runtime, linux, errors, timefmt
    layer 2  engine                                       layers 0-1
    layer 3  api      never linux or runtime (it calls the engine), nor other edges
             client   only errors, fastjson, apitypes, and the standard library
             cli      only cli, client, apitypes, oci (references, parsed client-side as
                      docker's client does), errors, signals, units, timefmt, fastjson,
                      detachkeys, archive (cp's tar rules), and the standard library
             compose  only client, cli (its parsing and rendering; the CLI never imports
                      compose back, it execs ketch.compose.main), apitypes, oci, archive,
                      errors, signals, units, timefmt, fastjson, detachkeys, value, the
                      standard library, and of the rest only yaml and jsonschema
             web      never cli or daemon
             daemon   anything (the composition root)

The root package (`from ketch import __version__`) is allowed everywhere.

A package may also start a module of a higher or forbidden layer in a fresh interpreter,
by name and never by import, when EXEC_EDGES lists it: the CLI runs with `python -IS`
(no site-packages), so `ketch registry serve|gc` exec the venv's interpreter on
ketch.registry.server.main. Every string constant of the form "ketch.x.y" counts as such
an edge.
"""

import ast
import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2] / "ketch"

LAYER = {
    "errors": 0, "signals": 0, "detachkeys": 0, "timefmt": 0, "units": 0, "fastjson": 0, "value": 0, "oci": 0, "linux": 0, "apitypes": 0, "archive": 0,
    "httpserver": 0,
    "image": 1, "storage": 1, "runtime": 1, "monitor": 1, "network": 1, "build": 1,
    "registry": 1, "volume": 1,
    "engine": 2,
    "api": 3, "client": 3, "cli": 3, "compose": 3, "web": 3, "daemon": 3,
}
BELOW_2 = {p for p, layer in LAYER.items() if layer <= 1}
EDGES = {p for p, layer in LAYER.items() if layer == 3}
ANY = set(LAYER)

# package -> (ketch packages it may import besides itself, stdlib only?)
RULES = {
    **{p: ({q for q, layer in LAYER.items() if layer == 0}, True) for p, layer in LAYER.items() if layer == 0},
    **{p: (BELOW_2, False) for p, layer in LAYER.items() if layer == 1},
    "runtime": ({"oci", "linux", "errors", "signals", "timefmt", "fastjson", "value"}, False),
    "monitor": ({"runtime", "linux", "errors", "timefmt", "value"}, False),
    "engine": (BELOW_2, False),
    "api": ((ANY - EDGES - {"linux", "runtime"}) | {"api"}, False),
    "client": ({"errors", "fastjson", "apitypes"}, True),
    "cli": ({"client", "apitypes", "oci", "errors", "signals", "units", "timefmt", "fastjson",
             "detachkeys", "archive"}, True),
    "compose": ({"client", "cli", "apitypes", "oci", "archive", "errors", "signals", "units",
                 "timefmt", "fastjson", "detachkeys", "value"}, True),
    "web": (ANY - {"cli", "daemon"}, False),
    "daemon": (ANY, False),
}

STDLIB = set(sys.stdlib_module_names) | {"__future__"}

# package -> the modules outside the standard library a stdlib-only package may import
THIRD_PARTY = {"httpserver": {"h11"}, "compose": {"yaml", "jsonschema"}}


def _module_name(path: pathlib.Path, root: pathlib.Path = ROOT) -> str:
    parts = ["ketch", *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path, root: pathlib.Path = ROOT):
    """(imported module, line) for every import in the file, relative ones made absolute."""
    name = _module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[:len(parent) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                # `from ketch import errors` imports ketch.errors; `from ketch import
                # __version__` imports the root package itself
                if base == "ketch" and alias.name in LAYER:
                    yield f"ketch.{alias.name}", node.lineno
                else:
                    yield base, node.lineno


def _package(module: str) -> str:
    """The top-level ketch package of ``ketch.x.y`` ("x"), "" for the root itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


MODULES = sorted(ROOT.rglob("*.py"))


def violations(package: str, root: pathlib.Path = ROOT) -> list[str]:
    allowed, stdlib_only = RULES[package]
    out = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        if _package(module) != package:
            continue
        for imported, line in _imports(path, root):
            top = imported.split(".")[0]
            if top == "ketch":
                target = _package(imported)
                if target in ("", package) or target in allowed:
                    continue
            elif not stdlib_only or top in STDLIB or top in THIRD_PARTY.get(package, ()):
                continue
            out.append(f"{module} imports {imported}  ({path.relative_to(root.parent)}:{line})")
    return out


# package -> modules it may exec by name (a fresh interpreter), beyond what it may import
EXEC_EDGES = {"cli": {"ketch.registry.server.main", "ketch.compose.main"}}
_MODULE_NAME = re.compile(r"ketch(?:\.[a-z_][a-z0-9_]*)+")


def exec_violations(package: str, root: pathlib.Path = ROOT) -> list[str]:
    """Module names spelled out as strings (to exec or import dynamically) that the
    package may neither import nor exec."""
    allowed, _ = RULES[package]
    out = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        if _package(module) != package:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and _MODULE_NAME.fullmatch(node.value)):
                continue
            target = _package(node.value)
            if target not in LAYER:  # a file name such as "ketch.db", no module
                continue
            if target in ("", package) or target in allowed or node.value in EXEC_EDGES.get(package, ()):
                continue
            out.append(f"{module} names {node.value}  ({path.relative_to(root.parent)}:{node.lineno})")
    return out


@pytest.mark.parametrize("package", sorted(RULES))
def test_exec_edges(package):
    assert exec_violations(package) == []


def test_exec_edges_lead_to_entry_points():
    for modules in EXEC_EDGES.values():
        for name in modules:
            path = ROOT.parent / (name.replace(".", "/") + ".py")
            assert "\ndef main(" in path.read_text(), name


# package -> why it is expected to break its rule today (strict: fixing it fails the xfail)
KNOWN_VIOLATIONS: dict[str, str] = {}


@pytest.mark.parametrize("package", [
    pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=KNOWN_VIOLATIONS[p]))
    if p in KNOWN_VIOLATIONS else p
    for p in sorted(RULES)
])
def test_layer_rule(package):
    found = violations(package)
    for line in found:
        print(line)
    assert found == []


def test_every_package_has_a_layer():
    packages = {_package(_module_name(p)) for p in MODULES} - {""}
    assert packages - set(LAYER) == set()


def test_the_walk_sees_imports():
    """Guard against a walk that finds nothing and so passes everything."""
    found = {imported for p in MODULES for imported, _ in _imports(p)}
    assert {"ketch.errors", "ketch.engine.specgen", "ketch.client.http"} <= found


SYNTHETIC = {
    "__init__.py": "",
    "errors.py": "import json\n",
    "cli/__init__.py": "",
    "cli/ok.py": "import os\nfrom ketch import __version__, units\nfrom . import other\n"
                 "from ketch.client import http\n",
    "cli/bad.py": "import os\n\ndef f():\n    from ketch.engine import specgen\n"
                  "    import yaml\n    from ..runtime import specconv\n",
    "runtime/__init__.py": "",
    "runtime/bad.py": "from ketch import timefmt\nfrom ketch.monitor import protocol\n",
    "oci/__init__.py": "",
    "oci/bad.py": "import h11\nfrom ketch.image import content\n",
    "cli/launch.py": "SERVER = 'ketch.registry.server.main'\nOTHER = 'ketch.engine.specgen'\n",
    "httpserver/__init__.py": "",
    "httpserver/bad.py": "import h11\nimport httpx\nfrom ketch import errors\nfrom ketch.api import http\n",
}


@pytest.mark.parametrize("package,expected", [
    ("errors", []),
    ("cli", ["ketch.cli.bad imports ketch.engine  (ketch/cli/bad.py:4)",
             "ketch.cli.bad imports yaml  (ketch/cli/bad.py:5)",
             "ketch.cli.bad imports ketch.runtime  (ketch/cli/bad.py:6)"]),
    ("runtime", ["ketch.runtime.bad imports ketch.monitor  (ketch/runtime/bad.py:2)"]),
    ("oci", ["ketch.oci.bad imports h11  (ketch/oci/bad.py:1)",
             "ketch.oci.bad imports ketch.image  (ketch/oci/bad.py:2)"]),
    ("httpserver", ["ketch.httpserver.bad imports httpx  (ketch/httpserver/bad.py:2)",
                    "ketch.httpserver.bad imports ketch.api  (ketch/httpserver/bad.py:4)"]),
])
def test_the_walk_catches_violations(tmp_path, package, expected):
    root = tmp_path / "ketch"
    for name, text in SYNTHETIC.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    assert violations(package, root) == expected


def test_exec_edges_catch_strays(tmp_path):
    root = tmp_path / "ketch"
    for name, text in SYNTHETIC.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    assert exec_violations("cli", root) == [
        "ketch.cli.launch names ketch.engine.specgen  (ketch/cli/launch.py:2)"]
