"""Compose files -> ``model.Project``, as compose-go loads them.

    discovery     which files (-f, COMPOSE_FILE, compose.yaml ... upwards, *.override.*),
                  the project directory and name
    dotenv        .env / --env-file, compose-go's dotenv syntax
    interpolate   ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+a}, ${VAR+a}, $$
    yamlfile      YAML with line numbers kept for errors; anchors and merge keys
    schema        the Compose specification's JSON schema, errors naming file, line and key
    merge         several files, the specification's merge rules; extends; include
    normalize     short syntax -> canonical form, paths absolute, defaults, profiles

``load(options)`` is the only entry point the rest of compose uses.
"""

from dataclasses import dataclass, field

from ketch.compose.model import Project


@dataclass(frozen=True)
class LoadOptions:
    files: list[str] = field(default_factory=list)  # -f, in order ("-" is stdin); [] discovers
    project_name: str | None = None  # -p; else COMPOSE_PROJECT_NAME, `name:`, the directory's
    project_directory: str | None = None  # --project-directory
    env_files: list[str] = field(default_factory=list)  # --env-file; [] means <project dir>/.env
    profiles: list[str] = field(default_factory=list)  # --profile; else COMPOSE_PROFILES
    environ: dict[str, str] = field(default_factory=dict)  # the process environment
    working_dir: str = "."  # where discovery starts
    interpolate: bool = True  # config --no-interpolate
    resolve_paths: bool = True  # config --no-path-resolution
    normalize: bool = True  # config --no-normalize
    consistency: bool = True  # config --no-consistency: skip the cross-reference checks


def load(options: LoadOptions) -> Project:
    """Discover, read, interpolate, validate, merge and normalise; LoadError on any problem."""
    from ketch.compose.loader.project import load_project
    return load_project(options)
