"""The project's cross-references checked as compose-go's ``checkConsistency`` does, with
its messages ("service \\"web\\" refers to undefined network foo: invalid compose project").

Runs on the model after profiles are applied: only enabled services are checked, and a
dependency on a disabled service is an error unless it is ``required: false``.
"""

from __future__ import annotations

from ketch.compose import graph
from ketch.compose.errors import LoadError
from ketch.compose.model import Project, Service

INVALID = "invalid compose project"


def _fail(message: str) -> None:
    raise LoadError(f"{message}: {INVALID}")


def _check_build(s: Service) -> None:
    b = s.build
    if b is None:
        return
    if b.dockerfile_inline and b.dockerfile:
        _fail(f'service "{s.name}" declares mutualy exclusive dockerfile and dockerfile_inline')
    if b.platforms and s.platform and s.platform not in b.platforms:
        _fail(f'service.build.platforms MUST include service.platform "{s.platform}"')


def _check_limits(s: Service) -> None:
    limits = s.deploy.resources.limits if s.deploy and s.deploy.resources else None
    reservations = s.deploy.resources.reservations if s.deploy and s.deploy.resources else None
    if s.scale is not None and s.deploy is not None and s.deploy.replicas is not None \
            and s.scale != s.deploy.replicas:
        _fail(f"services.{s.name}: can't set distinct values on 'scale' and 'deploy.replicas'")
    pairs = (("cpus", s.cpus, limits, "cpus", "limits"),
             ("mem_limit", s.mem_limit, limits, "memory", "limits"),
             ("mem_reservation", s.mem_reservation, reservations, "memory", "reservations"),
             ("pids_limit", s.pids_limit, limits, "pids", "limits"))
    for key, value, spec, field, where in pairs:
        if value and spec is not None and getattr(spec, field) != value:
            _fail(f"services.{s.name}: can't set distinct values on '{key}' and "
                  f"'deploy.resources.{where}.{field}'")
    if s.replicas > 1 and s.container_name:
        attr = "scale" if s.scale is not None else "deploy.replicas"
        _fail(f"services.{s.name}: can't set container_name and {attr} as container name must be unique")


def _check_references(project: Project, s: Service) -> None:
    for network in s.networks:
        if network not in project.networks:
            _fail(f'service "{s.name}" refers to undefined network {network}')
    for dep, spec in s.depends_on.items():
        if dep not in project.services and not (dep in project.disabled_services and not spec.required):
            _fail(f'service "{s.name}" depends on undefined service "{dep}"')
    if s.network_mode and s.network_mode.startswith("service:"):
        ref = s.network_mode[len("service:"):]
        if ref not in project.services:
            raise LoadError(f"service \"{ref}\" not found for network_mode 'service:{ref}'")
    for vol in s.volumes:
        if vol.type == "volume" and vol.source and vol.source not in project.volumes:
            _fail(f'service "{s.name}" refers to undefined volume {vol.source}')
    for secret in (s.build.secrets if s.build else []):
        if secret.source not in project.secrets:
            _fail(f'service "{s.name}" refers to undefined build secret {secret.source}')
    for config in s.configs:
        if config.source not in project.configs:
            _fail(f'service "{s.name}" refers to undefined config {config.source}')
    for secret in s.secrets:
        if secret.source not in project.secrets:
            _fail(f'service "{s.name}" refers to undefined secret {secret.source}')


def check(project: Project) -> None:
    """LoadError at the first inconsistency, in compose-go's order."""
    for s in project.services.values():
        if s.build is None and not s.image:
            _fail(f'service "{s.name}" has neither an image nor a build context specified')
        _check_build(s)
        if s.network_mode and s.networks:
            _fail(f"service {s.name} declares mutually exclusive `network_mode` and `networks`")
        if s.healthcheck and s.healthcheck.test and s.healthcheck.test[0] not in ("CMD", "CMD-SHELL", "NONE"):
            raise LoadError('healthcheck.test must start either by "CMD", "CMD-SHELL" or "NONE"')
        _check_references(project, s)
        _check_limits(s)
    for name, secret in project.secrets.items():
        if not secret.external and not secret.file and not secret.environment:
            _fail(f'secret "{name}" must declare either `file` or `environment`')
    graph.check_cycle(project)
