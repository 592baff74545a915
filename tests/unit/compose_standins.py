"""Thin stand-ins for the loader's front (discovery, dotenv, interpolate, yamlfile,
schema) so the back (merge, extends, include, normalize, project) is tested alone.

``modules()`` gives the real modules when they are all there, else these; ``use(monkeypatch)``
installs them into ``ketch.compose.loader.project``.
"""

import os
import re
import types

import yaml


def _config_files(options):
    return [f if f == "-" else os.path.abspath(os.path.join(options.working_dir, f)) for f in options.files]


def _project_directory(options, files):
    if options.project_directory:
        return os.path.abspath(options.project_directory)
    return os.path.dirname(files[0]) if files[0] != "-" else os.path.abspath(options.working_dir)


def _project_name(options, project_dir, name_from_files, env):
    return options.project_name or name_from_files or os.path.basename(project_dir).lower()


discovery = types.SimpleNamespace(config_files=_config_files, project_directory=_project_directory,
                                  project_name=_project_name)

_VAR = re.compile(r"\$\$|\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


def _sub(text, lookup):
    def repl(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(3)
        value = lookup(name)
        if value is None or (value == "" and m.group(2) is not None):
            return m.group(2) or ""
        return value
    return _VAR.sub(repl, text)


def _interpolate(doc, lookup, file):
    if isinstance(doc, dict):
        return {k: _interpolate(v, lookup, file) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_interpolate(v, lookup, file) for v in doc]
    return _sub(doc, lookup) if isinstance(doc, str) else doc


interpolate = types.SimpleNamespace(interpolate=_interpolate)


def _parse(text, file, lookup):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        out[key.strip()] = _sub(value.strip().strip('"'), lambda n: out.get(n) or lookup(n)) if sep else None
    return out


def _read(path, lookup):
    with open(path) as f:
        return _parse(f.read(), path, lookup)


def _project_environment(options, project_dir):
    env = {}
    files = options.env_files or [os.path.join(project_dir, ".env")]
    for path in files:
        if os.path.exists(path):
            env.update({k: v for k, v in _read(path, env.get).items() if v is not None})
    env.update(options.environ)
    return env


dotenv = types.SimpleNamespace(parse=_parse, read=_read, project_environment=_project_environment)


class _YamlDoc:
    def __init__(self, data):
        self.data = data

    def line(self, path):
        return None


yamlfile = types.SimpleNamespace(load=lambda text, file: _YamlDoc(yaml.safe_load(text)))


def _warnings(doc, file):
    if "version" in doc:
        return [f"{file}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion"]
    return []


schema = types.SimpleNamespace(validate=lambda doc, file, ydoc: None, warnings=_warnings)


def modules():
    return discovery, dotenv, interpolate, schema, yamlfile


def use(monkeypatch):
    from ketch.compose.loader import project
    monkeypatch.setattr(project, "_h1", modules)
