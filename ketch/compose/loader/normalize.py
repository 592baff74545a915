"""The merged canonical mapping -> the project's final form, as compose-go normalises it.

After merging every file: defaults (build context "." and dockerfile "Dockerfile",
secret targets under /run/secrets), relative paths made absolute against the project
directory (``~`` expanded), ``environment: [VAR]`` taken from the project's environment,
env_file read under environment, implicit dependencies (links, ``network_mode:
service:x``, ``volumes_from``), the ``default`` network for services that name none (and
in ``networks:`` when one uses it), and the engine names of networks, volumes, secrets
and configs (``<project>_<key>`` unless ``name:`` or external).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ketch.compose.errors import LoadError

Lookup = Callable[[str], "str | None"]


def expand_user(path: str) -> str:
    """paths.ExpandUser: a leading ``~`` is $HOME (``~user`` is not special, as in Go)."""
    if path.startswith("~"):
        home = os.environ.get("HOME") or os.path.expanduser("~")
        return os.path.normpath(os.path.join(home, path[1:].lstrip("/"))) if path[1:] else home
    return path


def abs_path(base: str, path: str) -> str:
    """compose-go's absPath: expand ~, join relative paths to base (filepath.Join cleans)."""
    if not path:
        return path
    path = expand_user(path)
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(base, path))


def _is_remote_context(context: str) -> bool:
    return ("://" in context or context.startswith("service:")
            or context.startswith(("github.com/", "git@")))


def resolve_paths(doc: dict, base: str) -> None:
    """paths.ResolveRelativePaths over a canonical mapping, in place."""
    for service in (doc.get("services") or {}).values():
        build = service.get("build")
        if isinstance(build, dict):
            if build.get("context") is not None and not _is_remote_context(build["context"]):
                build["context"] = abs_path(base, build["context"])
            contexts = build.get("additional_contexts") or {}
            for key, value in contexts.items():
                if not _is_remote_context(value):
                    contexts[key] = abs_path(base, value)
        for key in ("env_file", "label_file"):
            for entry in service.get(key) or []:
                entry["path"] = abs_path(base, entry["path"])
        extends = service.get("extends")
        if isinstance(extends, dict) and extends.get("file"):
            extends["file"] = abs_path(base, extends["file"])
        for vol in service.get("volumes") or []:
            if vol.get("type") == "bind":
                if not vol.get("source"):
                    raise LoadError('invalid mount config for type "bind": field Source must not be empty')
                vol["source"] = abs_path(base, vol["source"])
    for kind in ("secrets", "configs"):
        for obj in (doc.get(kind) or {}).values():
            if obj.get("file"):
                obj["file"] = abs_path(base, obj["file"])
    for vol in (doc.get("volumes") or {}).values():
        opts = vol.get("driver_opts") or {}
        if vol.get("driver") == "local" and opts.get("o") == "bind" and "device" in opts:
            opts["device"] = abs_path(base, opts["device"])


def _defaults(service: dict) -> None:
    build = service.get("build")
    if isinstance(build, dict):
        build.setdefault("context", ".")
        if build.get("dockerfile") is None and build.get("dockerfile_inline") is None:
            build["dockerfile"] = "Dockerfile"
    for ref in service.get("secrets") or []:
        ref.setdefault("target", f"/run/secrets/{ref['source']}")


def _implicit_dependencies(service: dict) -> None:
    """links, network_mode/ipc/pid/uts/cgroup ``service:x`` and volumes_from ``x`` are
    dependencies too (compose-go's Normalize)."""
    deps = service.setdefault("depends_on", {})

    def add(name: str, restart: bool) -> None:
        if name not in deps:
            deps[name] = {"condition": "service_started", "restart": restart, "required": True}

    for link in service.get("links") or []:
        parts = link.split(":")
        add(parts[0] if len(parts) == 2 else link, True)
    for key in ("network_mode", "ipc", "pid", "uts", "cgroup"):
        ref = service.get(key)
        if isinstance(ref, str) and ref.startswith("service:"):
            add(ref[len("service:"):], True)
    for ref in service.get("volumes_from") or []:
        if not ref.startswith("container:"):
            add(ref.split(":")[0], False)
    if not deps:
        del service["depends_on"]


def _default_networks(doc: dict) -> None:
    uses_default = False
    for service in (doc.get("services") or {}).values():
        if "network_mode" in service or "provider" in service:
            continue
        if not service.get("networks"):
            service["networks"] = {"default": None}
        if "default" in service["networks"]:
            uses_default = True
    networks = doc.get("networks") or {}
    if uses_default and "default" not in networks:
        networks["default"] = {}
    if networks:
        doc["networks"] = networks


def _names(doc: dict, project: str) -> None:
    for kind in ("networks", "volumes", "configs", "secrets"):
        for key, resource in list((doc.get(kind) or {}).items()):
            resource = {} if resource is None else resource
            if resource.get("name") is None:
                resource["name"] = key if resource.get("external") else f"{project}_{key}"
            doc[kind][key] = resource


def resolve_environment(doc: dict, lookup: Lookup) -> None:
    """compose-go's ResolveEnvironment: ``environment: [VAR]`` from the project's
    environment (left unset when it has none); secrets/configs ``environment:`` -> content."""
    for service in (doc.get("services") or {}).values():
        env = service.get("environment")
        if env:
            service["environment"] = {k: (lookup(k) if v is None else v) for k, v in env.items()}
    for kind in ("secrets", "configs"):
        for obj in (doc.get(kind) or {}).values():
            if obj and obj.get("environment") and obj.get("content") is None:
                value = lookup(obj["environment"])
                if value is not None:
                    obj["content"] = value


def _read(path: str, required: bool, what: str, read_env_file, lookup) -> dict:
    if not os.path.exists(path):
        if required:
            raise LoadError(f"{what} file {path} not found: stat {path}: no such file or directory")
        return {}
    return read_env_file(path, lookup)


def read_env_files(doc: dict, lookup: Lookup, read_env_file, base: str) -> None:
    """env_file under environment (compose-go's WithServicesEnvironmentResolved: ${VAR} in
    the files from the project environment, then the service's); label_file under labels;
    build args without a value taken from the environment, dropped when it has none."""
    for service in (doc.get("services") or {}).values():
        build = service.get("build")
        if isinstance(build, dict) and build.get("args"):
            build["args"] = {k: (v if v is not None else lookup(k)) for k, v in build["args"].items()
                             if v is not None or lookup(k) is not None}
        env = service.get("environment") or {}
        files = service.pop("env_file", None) or []
        if files:
            def env_lookup(name: str, env=env) -> str | None:
                found = lookup(name)
                return found if found is not None else env.get(name)
            merged: dict[str, str | None] = {}
            for entry in files:
                merged.update(_read(abs_path(base, entry["path"]), entry.get("required", True),
                                    "env", read_env_file, env_lookup))
            merged.update(env)
            service["environment"] = merged
        label_files = service.pop("label_file", None) or []
        if label_files:
            labels: dict[str, str] = {}
            for entry in label_files:
                labels.update(_read(abs_path(base, entry["path"]), True, "label", read_env_file,
                                    labels.get))
            labels.update(service.get("labels") or {})
            service["labels"] = labels


def normalize(doc: dict, *, project: str, working_dir: str, lookup: Lookup,
              read_env_file, resolve_paths_: bool = True, implicit: bool = True) -> dict:
    """The merged canonical mapping, normalised in place and returned. ``implicit=False``
    (config --no-normalize) leaves out the default network and implicit dependencies."""
    for service in (doc.get("services") or {}).values():
        _defaults(service)
    if resolve_paths_:
        resolve_paths(doc, working_dir)
    resolve_environment(doc, lookup)
    read_env_files(doc, lookup, read_env_file, working_dir)
    if implicit:
        _default_networks(doc)
        for service in (doc.get("services") or {}).values():
            _implicit_dependencies(service)
    _names(doc, project)
    return doc
