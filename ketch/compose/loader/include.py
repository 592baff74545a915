"""``include``: other compose projects' resources imported into this one (compose-go's
``ApplyInclude``, as Compose 2.29 has it).

Each entry is loaded as a project of its own: its files (``path``, one or a list, the
first one's directory its project directory unless ``project_directory`` says), its own
environment (the including project's plus ``env_file``, else its directory's ``.env``),
its own includes and extends, relative paths made absolute against its directory. Its
services, networks, volumes, secrets and configs are then added; one the including file
defines too must be the same ("services.web conflicts with imported resource").
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ketch.compose.errors import LoadError
from ketch.compose.loader.normalize import abs_path

# (paths, project directory, environment, included chain) -> the canonical mapping
LoadModel = Callable[[list[str], str, dict, list[str]], dict]
# (env files, environment) -> the variables they set
ReadEnv = Callable[[list[str], dict], dict]

_KINDS = ("services", "volumes", "networks", "secrets", "configs")


def _entries(value) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise LoadError(f"`include` must be a list, got {value}")
    out = []
    for entry in value:
        entry = {"path": entry} if isinstance(entry, str) else dict(entry)
        paths = entry.get("path")
        entry["path"] = [paths] if isinstance(paths, str) else list(paths or [])
        env_file = entry.get("env_file")
        entry["env_file"] = [env_file] if isinstance(env_file, str) else list(env_file or [])
        out.append(entry)
    return out


def _env_files(entry: dict, project_dir: str, working_dir: str) -> list[str]:
    if not entry["env_file"]:
        dotenv = os.path.join(project_dir, ".env")
        return [dotenv] if os.path.isfile(dotenv) else []
    files = []
    for f in entry["env_file"]:
        if f == "/dev/null":
            continue
        if not os.path.isabs(f):
            f = os.path.join(working_dir, f)
            if not os.path.exists(f):
                raise LoadError(f"stat {f}: no such file or directory")
            if os.path.isdir(f):
                raise LoadError(f"{f} is not a file")
        files.append(f)
    return files


def import_resources(source: dict, target: dict) -> None:
    for kind in _KINDS:
        imported = source.get(kind)
        if not imported:
            continue
        into = target.setdefault(kind, {})
        for name, value in imported.items():
            if name in into:
                if into[name] != value:
                    raise LoadError(f"{kind}.{name} conflicts with imported resource")
                continue
            into[name] = value


def apply_include(doc: dict, working_dir: str, environment: dict, included: list[str],
                  load_model: LoadModel, read_env: ReadEnv) -> dict:
    """Import every ``include`` entry of one file's canonical mapping, in place.
    ``included`` is the chain of files including this one (the last is this file)."""
    for entry in _entries(doc.pop("include", None)):
        paths = [abs_path(working_dir, p) for p in entry["path"]]
        if not paths:
            continue
        project_dir = entry.get("project_directory")
        project_dir = os.path.dirname(paths[0]) if not project_dir else abs_path(working_dir, project_dir)
        if paths[0] in included:
            chain = included + [paths[0]]
            raise LoadError("include cycle detected:\n" + chain[0] + "\n include "
                            + "\n include ".join(chain[1:]))
        env = dict(environment)
        env.update(read_env(_env_files(entry, project_dir, working_dir), environment))
        imported = load_model(paths, project_dir, env, included)
        import_resources(imported, doc)
    return doc
