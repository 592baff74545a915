"""Profiles and selection: which services and resources a command sees (compose-go's
WithProfiles, WithServicesEnabled, WithSelectedServices, WithoutUnnecessaryResources).

A service with ``profiles:`` is enabled only when one of them is active (--profile, else
COMPOSE_PROFILES; ``*`` is every profile); the others stay in ``disabled_services``, where
naming one on the command line finds it and enables it with its profiles.
"""

from __future__ import annotations

import dataclasses

from ketch.compose import model
from ketch.compose.errors import LoadError
from ketch.compose.loader import LoadOptions
from ketch.compose.model import Project


def active_profiles(options: LoadOptions, env: dict) -> list[str]:
    """--profile, else COMPOSE_PROFILES (comma-separated; from .env too)."""
    if options.profiles:
        return list(options.profiles)  # each --profile as given (compose's StringArray)
    raw = env.get("COMPOSE_PROFILES", "")
    return [p.strip() for p in raw.split(",") if p.strip()]


def _enabled(service: model.Service, profiles: list[str]) -> bool:
    return not service.profiles or "*" in profiles or any(p in profiles for p in service.profiles)


def with_profiles(project: Project, profiles: list[str]) -> Project:
    """Services split into enabled and disabled by the active profiles."""
    every = {**project.services, **project.disabled_services}
    order = [n for n in every]
    enabled = {n: every[n] for n in order if _enabled(every[n], profiles)}
    disabled = {n: every[n] for n in order if n not in enabled}
    return dataclasses.replace(project, services=enabled, disabled_services=disabled,
                               profiles=list(profiles))


def with_services(project: Project, names: list[str]) -> Project:
    """Services named on the command line enabled with their profiles (compose's
    WithServicesEnabled); an unknown name is compose's "no such service: x"."""
    profiles = list(project.profiles)
    for name in names:
        if name in project.services:
            continue
        if name not in project.disabled_services:
            raise LoadError(f"no such service: {name}")
        profiles += [p for p in project.disabled_services[name].profiles if p not in profiles]
    return with_profiles(project, profiles) if profiles != project.profiles else project


def with_selected_services(project: Project, names: list[str], *, dependencies: bool = True) -> Project:
    """The project narrowed to ``names`` (enabled first, as ``with_services``) and, unless
    told, what they depend on; the others move to ``disabled_services`` and depends_on keeps
    only the selected (compose-go's WithSelectedServices: ``config web``, ``up --no-deps``)."""
    if not names:
        return project
    from ketch.compose import graph
    project = with_services(project, names)
    keep = set(names) | (set(graph.dependencies(project, names)) if dependencies else set())
    services, disabled = {}, dict(project.disabled_services)
    for name, service in project.services.items():
        if name in keep:
            deps = {d: spec for d, spec in service.depends_on.items() if d in keep}
            services[name] = service if deps == service.depends_on else dataclasses.replace(service, depends_on=deps)
        else:
            disabled[name] = service
    return dataclasses.replace(project, services=services, disabled_services=disabled)


def without_unnecessary_resources(project: Project) -> Project:
    """Only the networks, volumes, secrets and configs an enabled service uses (compose's
    commands drop the others unless --all-resources: `up` does not create them)."""
    networks, volumes, secrets, configs = set(), set(), set(), set()
    for s in project.services.values():
        networks.update(s.networks)
        volumes.update(v.source for v in s.volumes if v.type == "volume" and v.source)
        secrets.update(r.source for r in s.secrets)
        secrets.update(r.source for r in (s.build.secrets if s.build else []))
        configs.update(r.source for r in s.configs)

    def keep(items: dict, used: set) -> dict:
        return {k: v for k, v in items.items() if k in used}
    return dataclasses.replace(project, networks=keep(project.networks, networks),
                               volumes=keep(project.volumes, volumes),
                               secrets=keep(project.secrets, secrets),
                               configs=keep(project.configs, configs))


def for_command(project: Project, services: list[str], *, all_resources: bool = False,
                dependencies: bool = True) -> Project:
    """What a compose command works on, as compose's ToProject makes it: the services named
    enabled (with their profiles), the project narrowed to them and (unless told) their
    dependencies, and, without --all-resources, the resources nothing uses left out."""
    project = with_selected_services(project, services, dependencies=dependencies)
    return project if all_resources else without_unnecessary_resources(project)
