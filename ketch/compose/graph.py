"""The services' dependency graph: start order, stop order, dependencies, cycles.

An edge ``web -> db`` means web depends on db (``depends_on``, and the implicit
dependencies normalize adds for links, ``network_mode: service:x``, ``volumes_from``).
Dependencies start first and stop last. Orders are stable: among services free to go at
the same time, the project's declaration order wins, so plans and output are repeatable.
Only the project's enabled services are vertices; an optional (``required: false``)
dependency on a service that is not there is no edge, as in compose-go.
"""

from __future__ import annotations

from collections.abc import Iterable

from ketch.compose.errors import LoadError
from ketch.compose.model import Project


def edges(project: Project) -> dict[str, list[str]]:
    """service -> the services it depends on (enabled ones only), in declaration order.
    A required dependency on a missing service is the error compose-go gives."""
    out: dict[str, list[str]] = {}
    for name, service in project.services.items():
        deps = []
        for dep, spec in service.depends_on.items():
            if dep in project.services:
                deps.append(dep)
            elif spec.required:
                if dep in project.disabled_services:
                    profiles = " ".join(project.disabled_services[dep].profiles)
                    raise LoadError(f'service "{dep}" is required by "{name}" but is disabled. '
                                       f'Can be enabled by profiles [{profiles}]')
                raise LoadError(f'service "{name}" depends on unknown service "{dep}"')
        out[name] = deps
    return out


def check_cycle(project: Project) -> None:
    """LoadError "dependency cycle detected: a -> b -> a" when depends_on loops."""
    graph = edges(project)
    done: set[str] = set()

    def visit(path: list[str]) -> None:
        for dep in graph[path[-1]]:
            if dep in path:
                cycle = path[path.index(dep):] + [dep]
                raise LoadError("dependency cycle detected: " + " -> ".join(cycle))
            if dep not in done:
                visit(path + [dep])
        done.add(path[-1])

    for name in graph:
        if name not in done:
            visit([name])


def _closure(graph: dict[str, list[str]], names: Iterable[str], recursive: bool) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        nxt = []
        for name in todo:
            for dep in graph.get(name, ()):
                if dep not in seen:
                    seen.add(dep)
                    nxt.append(dep)
        todo = nxt if recursive else []
    return seen


def _reverse(graph: dict[str, list[str]]) -> dict[str, list[str]]:
    rev: dict[str, list[str]] = {name: [] for name in graph}
    for name, deps in graph.items():
        for dep in deps:
            rev[dep].append(name)
    return rev


def dependencies(project: Project, names: Iterable[str], recursive: bool = True) -> list[str]:
    """The services ``names`` depend on (transitively unless told), in start order; a name
    appears only when another of ``names`` depends on it."""
    graph = edges(project)
    wanted = _closure(graph, names, recursive)
    return [n for n in start_order(project) if n in wanted]


def dependents(project: Project, names: Iterable[str], recursive: bool = True) -> list[str]:
    """The services that depend on ``names`` (transitively unless told), in start order."""
    wanted = _closure(_reverse(edges(project)), names, recursive)
    return [n for n in start_order(project) if n in wanted]


def with_dependencies(project: Project, names: Iterable[str]) -> list[str]:
    """``names`` and everything they depend on, in start order (what `up web` starts)."""
    names = list(names)
    wanted = set(names) | set(dependencies(project, names))
    return [n for n in start_order(project) if n in wanted]


def levels(project: Project, services: Iterable[str] | None = None) -> list[list[str]]:
    """Start order in batches: each batch depends only on earlier ones, so a batch can
    start in parallel. ``services`` restricts the vertices; one still waits for another it
    depends on through services left out."""
    graph = edges(project)
    check_cycle(project)
    chosen = list(graph) if services is None else [n for n in graph if n in set(services)]
    waits = {n: _closure(graph, [n], True) & set(chosen) for n in chosen}
    placed: set[str] = set()
    out = []
    remaining = chosen
    while remaining:
        batch = [n for n in remaining if waits[n] <= placed]
        out.append(batch)
        placed.update(batch)
        remaining = [n for n in remaining if n not in placed]
    return out


def start_order(project: Project, services: Iterable[str] | None = None) -> list[str]:
    """Dependencies first; ties in declaration order."""
    return [n for batch in levels(project, services) for n in batch]


def stop_order(project: Project, services: Iterable[str] | None = None) -> list[str]:
    """Dependents first: the reverse of the start order."""
    return list(reversed(start_order(project, services)))
