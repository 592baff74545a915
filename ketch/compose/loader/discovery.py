"""Which compose files, which project directory, which project name (compose-go's ``cli``).

Files: ``-f`` (several, in order; ``-"`` is stdin), else ``COMPOSE_FILE`` split by
``COMPOSE_PATH_SEPARATOR`` (default ``:``), else the first of compose.yaml, compose.yml,
docker-compose.yml, docker-compose.yaml found in the start directory (--project-directory,
else the working directory) or the nearest parent that has one, with its
``*.override.*`` beside it. COMPOSE_FILE may come from the start directory's ``.env``.

Directory: --project-directory, else the first file's directory, else the working directory.
Name: -p, else COMPOSE_PROJECT_NAME (both must already be valid names), else the files'
top-level ``name:``, else the directory's base name, the last two normalised as compose does.
"""

import os
import re

from ketch.compose.errors import LoadError, warn as stderr_warning
from ketch.compose.loader import dotenv
from ketch.compose.loader.interpolate import Warn, go_quote

FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_NAMES = ("compose.override.yml", "compose.override.yaml",
                  "docker-compose.override.yml", "docker-compose.override.yaml")


def config_files(options, *, warn: Warn | None = stderr_warning) -> list[str]:
    """The compose files, absolute (``-`` kept for stdin); LoadError when there is none or a
    named one does not exist."""
    if options.files:
        return _absolute(options, options.files)
    start = _abs(options, options.project_directory or options.working_dir)
    environ = dotenv.project_environment(options, start, warn=warn)
    if environ.get("COMPOSE_FILE"):
        separator = environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        return _absolute(options, [f for f in environ["COMPOSE_FILE"].split(separator) if f])
    directory = start
    while True:
        found = _existing(directory, FILE_NAMES, "config", warn)
        if found:
            override = _existing(directory, OVERRIDE_NAMES, "override", warn)
            return [found] + ([override] if override else [])
        parent = os.path.dirname(directory)
        if parent == directory:
            raise LoadError("no configuration file provided: not found")
        directory = parent


def project_directory(options, files: list[str]) -> str:
    """The directory relative paths of the project are resolved against, absolute."""
    if options.project_directory:
        return _abs(options, options.project_directory)
    for f in files:
        if f != "-":
            return os.path.dirname(_abs(options, f))
    return _abs(options, options.working_dir)


def normalize_project_name(name: str) -> str:
    """compose-go's NormalizeProjectName: lower case, only [a-z0-9_-], no leading _ or -."""
    return "".join(re.findall(r"[a-z0-9_-]", name.lower())).lstrip("_-")


def invalid_project_name(name: str) -> LoadError:
    return LoadError(f"invalid project name {go_quote(name)}: must consist only of lowercase alphanumeric "
                     "characters, hyphens, and underscores as well as start with a letter or number")


def project_name(options, project_dir: str, name_from_files: str | None, env: dict[str, str]) -> str:
    """-p > COMPOSE_PROJECT_NAME (``env``: the project environment) > ``name:`` (already
    interpolated) > the project directory's base name; LoadError when invalid or empty."""
    for given in (options.project_name, env.get("COMPOSE_PROJECT_NAME")):
        if given:
            if normalize_project_name(given) != given:
                raise invalid_project_name(given)
            return given
    name = normalize_project_name(name_from_files or "")
    if not name:
        name = normalize_project_name(os.path.basename(project_dir.rstrip("/")))
    if not name:
        raise LoadError("project name must not be empty")
    return name


def _abs(options, path: str) -> str:
    return os.path.normpath(os.path.join(os.path.abspath(options.working_dir), path))


def _absolute(options, files: list[str]) -> list[str]:
    paths = []
    for f in files:
        if f == "-":
            paths.append(f)
            continue
        path = _abs(options, f)
        if not os.path.exists(path):
            raise LoadError(f"stat {path}: no such file or directory")
        paths.append(path)
    return paths


def _existing(directory: str, names: tuple[str, ...], kind: str, warn: Warn | None) -> str | None:
    candidates = [os.path.join(directory, n) for n in names if os.path.exists(os.path.join(directory, n))]
    if len(candidates) > 1 and warn is not None:
        warn(f"Found multiple {kind} files with supported names: {', '.join(candidates)}")
        warn(f"Using {candidates[0]}")
    return candidates[0] if candidates else None
