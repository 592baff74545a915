"""The loader's pipeline: compose files -> ``model.Project``, in compose-go's order.

    discovery (files, project directory, environment, name)
    per file: yamlfile.load -> interpolate -> schema.validate -> canonical
              -> include -> !reset/!override -> extends -> merge over the earlier files
    relative paths absolute, ``environment: [VAR]`` resolved
    normalize (defaults, env_file, default network, engine names, implicit depends_on)
    the model -> profiles -> consistency checks

``with_services`` (enable services named on the command line with their profiles),
``with_selected_services`` (narrow to them and their dependencies) and ``for_command``
(that, and unused networks/volumes/secrets/configs left out, as compose's ToProject) are
profiles.py's, here too for the commands.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import typing

from ketch.compose import model
from ketch.compose import errors
from ketch.compose.errors import LoadError
from ketch.compose.loader import LoadOptions, consistency
from ketch.compose.loader.canonical import canonical
from ketch.compose.loader.extends import apply_extends
from ketch.compose.loader.include import apply_include
from ketch.compose.loader.merge import merge, put_values, remove_paths, values_at
from ketch.compose.loader.normalize import normalize, resolve_environment, resolve_paths, set_defaults
from ketch.compose.loader.profiles import (active_profiles, for_command, with_profiles, with_selected_services,
                                           with_services, without_unnecessary_resources)
from ketch.compose.model import Project

__all__ = ["load_project", "to_project", "with_services", "with_selected_services", "for_command",
           "without_unnecessary_resources"]


def _h1():
    """H1's modules (discovery, dotenv, interpolate, yamlfile, schema), imported late."""
    from ketch.compose.loader import discovery, dotenv, interpolate, schema, yamlfile
    return discovery, dotenv, interpolate, schema, yamlfile


class _Loader:
    """One load: the options, the warnings sink and the files read so far (by path)."""

    def __init__(self, options: LoadOptions, warn=errors.warn) -> None:
        self.options = options
        self.warn = warn
        self._yaml: dict[str, object] = {}

    def yamldoc(self, path: str):
        if path not in self._yaml:
            _, _, _, _, yamlfile = _h1()
            if path == "-":
                text = sys.stdin.read()
            else:
                try:
                    with open(path, encoding="utf-8") as f:
                        text = f.read()
                except FileNotFoundError:
                    raise LoadError(f"open {path}: no such file or directory") from None
                except IsADirectoryError:
                    raise LoadError(f"read {path}: is a directory") from None
            self._yaml[path] = yamlfile.load(text, path)
        return self._yaml[path]

    def documents(self, path: str) -> list:
        """A file's YAML documents (a file may hold several, merged in order)."""
        ydoc = self.yamldoc(path)
        return [ydoc] + list(getattr(ydoc, "more", None) or [])

    def data(self, ydoc, path: str, env: dict, *, validate: bool) -> dict:
        """One document interpolated, validated and canonical (no include, no extends)."""
        _, _, interpolate, schema, _ = _h1()
        data = ydoc.data
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise LoadError("top-level object must be a mapping")
        if self.options.interpolate:
            data = interpolate.interpolate(data, env.get, path, warn=self.warn)
        if validate:
            schema.validate(data, path, ydoc)
            for warning in schema.warnings(data, path):
                self.warn(warning)
        data = {k: v for k, v in data.items() if k != "version"}
        return canonical(data, self.warn if validate else None)

    def file_data(self, path: str, env: dict) -> dict:
        """A file extended from: its documents merged, not validated (compose-go validates
        the result), without its includes."""
        merged: dict = {}
        for ydoc in self.documents(path):
            merged = merge(merged, self.data(ydoc, path, env, validate=False))
        return merged

    def model(self, paths: list[str], working_dir: str, env: dict, included: list[str]) -> dict:
        """Several files merged into one canonical mapping (compose-go's loadYamlModel)."""
        _, dotenv, _, _, _ = _h1()
        merged: dict = {}
        for path in paths:
            for ydoc in self.documents(path):
                doc = self.data(ydoc, path, env, validate=True)
                apply_include(doc, working_dir, env, included + [path],
                              lambda p, d, e, c: self.model(p, d, e, c),
                              lambda files, environ: _read_env_files(dotenv, files, environ))
                resets = list(getattr(ydoc, "resets", ()))
                overrides = list(getattr(ydoc, "overrides", ()))
                remove_paths(merged, resets + overrides)
                # over an extended service too: !reset drops what the base set, !override
                # replaces it (compose-go applies the file's reset processor to the base)
                overridden = values_at(doc, overrides)
                apply_extends(doc, path, working_dir, lambda p: self.file_data(p, env))
                remove_paths(doc, resets)
                put_values(doc, overridden)
                merged = merge(merged, doc)
        set_defaults(merged)
        if self.options.resolve_paths:
            resolve_paths(merged, working_dir)
        resolve_environment(merged, env.get)
        return merged


def _read_env_files(dotenv, files: list[str], environ: dict) -> dict:
    out: dict = {}
    for path in files:
        def lookup(name: str) -> str | None:
            return environ[name] if name in environ else out.get(name)
        out.update({k: v for k, v in dotenv.read(path, lookup).items() if v is not None})
    return out


def _name_from_files(loader: _Loader, files: list[str], env: dict) -> str | None:
    """The last file's top-level ``name:``, interpolated (compose-go reads it first)."""
    _, _, interpolate, _, _ = _h1()
    name = None
    for path in files:
        data = loader.yamldoc(path).data
        if isinstance(data, dict) and data.get("name"):
            value = str(data["name"])
            if loader.options.interpolate:
                value = interpolate.interpolate({"name": value}, env.get, path, warn=None)["name"]
            name = value or name
    return name


# -- canonical mapping -> model ----------------------------------------------------------

@functools.cache
def _hints(cls) -> dict:
    return typing.get_type_hints(cls, vars(model))


def _dataclass_of(hint):
    if dataclasses.is_dataclass(hint):
        return hint
    for arg in typing.get_args(hint):
        found = _dataclass_of(arg)
        if found is not None:
            return found
    return None


def _fit(cls, data: dict) -> dict:
    """Keep the keys the model has (x-* into ``extensions`` where it has one), recursively:
    compose keys ketch does not model (develop, gpus, post_start...) are left out."""
    hints = _hints(cls)
    out = {}
    extensions = {}
    for key, value in data.items():
        if key.startswith("x-"):
            extensions[key] = value
            continue
        if key not in hints:
            continue
        hint = hints[key]
        inner = _dataclass_of(hint)
        origin = typing.get_origin(hint)
        if inner is not None and value is not None:
            if origin is list:
                value = [_fit(inner, v) if isinstance(v, dict) else v for v in value]
            elif origin is dict:
                value = {k: (_fit(inner, v) if isinstance(v, dict) else v) for k, v in value.items()}
            elif isinstance(value, dict):
                value = _fit(inner, value)
        out[key] = value
    if extensions and "extensions" in hints:
        out["extensions"] = extensions
    return out


def to_project(doc: dict, *, name: str, working_dir: str, files: list[str], env: dict) -> Project:
    services = {n: model.from_canonical(model.Service, _fit(model.Service, dict(s, name=n)))
                for n, s in (doc.get("services") or {}).items()}
    def resources(kind: str, cls) -> dict:
        return {k: model.from_canonical(cls, _fit(cls, v or {})) for k, v in (doc.get(kind) or {}).items()}
    return Project(name=name, working_dir=working_dir, config_files=list(files), services=services,
                   networks=resources("networks", model.Network), volumes=resources("volumes", model.Volume),
                   secrets=resources("secrets", model.FileObject), configs=resources("configs", model.FileObject),
                   environment=dict(env),
                   extensions={k: v for k, v in doc.items() if k.startswith("x-")})


def load_project(options: LoadOptions, warn=errors.warn) -> Project:
    """Discover, read, interpolate, validate, merge and normalise; LoadError on any problem."""
    discovery, dotenv, _, _, _ = _h1()
    loader = _Loader(options, warn)
    files = discovery.config_files(options, warn=warn)
    working_dir = discovery.project_directory(options, files)
    env = dict(dotenv.project_environment(options, working_dir))
    name = discovery.project_name(options, working_dir, _name_from_files(loader, files, env), env)
    env["COMPOSE_PROJECT_NAME"] = name
    doc = loader.model(files, working_dir, env, [])
    if not doc:
        raise LoadError("empty compose file")
    normalize(doc, project=name, working_dir=working_dir, lookup=env.get,
              read_env_file=dotenv.read, implicit=options.normalize)
    shown = [f if f == "-" else os.path.abspath(f) for f in files]
    project = to_project(doc, name=name, working_dir=working_dir, files=shown, env=env)
    project = with_profiles(project, active_profiles(options, env))
    if options.consistency:
        consistency.check(project)
    return project
