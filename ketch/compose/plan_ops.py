"""Plans of the commands that act on existing containers: down, stop, start, restart, rm,
kill, pause, unpause (Compose v2's down.go, stop.go, start.go, restart.go, remove.go...).

Without a compose file (``down -p name``), the dependencies come from the containers'
``com.docker.compose.depends_on`` labels, as compose rebuilds the project from them.
"""

from __future__ import annotations

from ketch.compose import graph
from ketch.compose import labels as L
from ketch.compose.errors import ComposeError
from ketch.compose.model import Project
from ketch.compose.observe import Observed, ObservedContainer
from ketch.compose.plan import Builder, Plan, Step, _uniq, orphans, replicas, selected_services, UpOptions


def dependency_edges(project: Project | None, observed: Observed) -> dict[str, list[str]]:
    """service -> the services it depends on: the project's, else the labels'."""
    if project is not None:
        return graph.edges(project)
    out: dict[str, list[str]] = {}
    for c in observed.containers:
        if not c.oneoff:
            out.setdefault(c.service, [])
            out[c.service] = list(dict.fromkeys(out[c.service] + list(c.depends_on())))
    return out


def _dependants(edges: dict[str, list[str]], names) -> set[str]:
    """``names`` and every service depending on them, transitively."""
    out, todo = set(names), list(names)
    while todo:
        name = todo.pop()
        for svc, deps in edges.items():
            if name in deps and svc not in out:
                out.add(svc)
                todo.append(svc)
    return out


def _stop_steps(b: Builder, containers: list[ObservedContainer], edges, *, remove: bool,
                volumes: bool = False) -> list[str]:
    """Stop (and remove) in reverse dependency order: a service's containers after those
    of the services depending on it. Returns the last step of each container."""
    by_service: dict[str, list[ObservedContainer]] = {}
    for c in containers:
        by_service.setdefault(c.service, []).append(c)
    last: dict[str, list[str]] = {}

    def visit(service: str) -> list[str]:
        if service in last:
            return last[service]
        last[service] = []
        pre = [i for dependant, deps in edges.items() if service in deps and dependant != service
               for i in visit(dependant)]
        ends = []
        for c in sorted(by_service.get(service, []), key=lambda c: c.number):
            stop = b.add(Step("stop", "Container", c.name, c.service, c.number, c.id, after=_uniq(pre)))
            if remove:
                stop = b.add(Step("remove", "Container", c.name, c.service, c.number, c.id,
                                  detail="v" if volumes else "", after=(stop,)))
            ends.append(stop)
        last[service] = ends
        return ends

    out = []
    for service in sorted(by_service):
        out += visit(service)
    return _uniq(out)


def plan_down(observed: Observed, project: Project | None, services=(), *, remove_orphans=False,
              volumes=False) -> Plan:
    """`down`: containers in reverse dependency order, then the project's networks and
    (``-v``) volumes. Named services: those and their dependants, no networks or volumes."""
    b = Builder()
    edges = dependency_edges(project, observed)
    known = set(project.services) | set(project.disabled_services) if project else None
    if project is not None:
        for name in services:
            if name not in project.services:
                raise ComposeError(f"no such service: {name}")
    scope = _dependants(edges, services) if services else None
    mine = [c for c in observed.containers if not c.oneoff and (known is None or c.service in known)
            and (scope is None or c.service in scope)]
    ends = list(_stop_steps(b, mine, edges, remove=True, volumes=volumes))
    if remove_orphans:
        # compose's down --remove-orphans takes the one-off containers down too, running or not
        extra = [c for c in observed.containers if c.oneoff]
        if project is not None:
            extra += [c for c in orphans(project, observed) if not c.oneoff]
        for c in extra:
            stop = b.add(Step("stop", "Container", c.name, c.service, c.number, c.id))
            ends.append(b.add(Step("remove", "Container", c.name, c.service, c.number, c.id, after=(stop,))))
    if not services:
        if project is not None:
            nets = [(k, n.name) for k, n in project.networks.items() if not n.external]
            vols = [(k, v.name) for k, v in project.volumes.items() if not v.external]
        else:
            nets = [(n.key, n.name) for n in observed.project_networks()]
            vols = [(v.key, v.name) for v in observed.project_volumes()]
        for key, name in nets:
            found = observed.networks.get(name)
            if found and found.labels.get(L.PROJECT) == observed.project and found.key == key:
                b.add(Step("remove_network", "Network", name, target=found.id, key=key, after=tuple(ends)))
        if volumes:
            for key, name in vols:
                if name in observed.volumes:
                    b.add(Step("remove_volume", "Volume", name, key=key, after=tuple(ends)))
    if not b.steps:
        b.warnings.append(f'Warning: No resource found to remove for project "{observed.project}".')
    return b.plan()


def _service_containers(observed: Observed, services, known=None) -> list[ObservedContainer]:
    return [c for c in observed.containers if not c.oneoff
            and (not services or c.service in services) and (known is None or c.service in known)]


def plan_stop(observed: Observed, project: Project | None, services=()) -> Plan:
    """`stop`: the services' containers, dependants first."""
    b = Builder()
    known = set(project.services) if project else None
    _stop_steps(b, _service_containers(observed, services, known), dependency_edges(project, observed),
                remove=False)
    return b.plan()


def plan_start(project: Project, observed: Observed, services=()) -> Plan:
    """`start`: existing containers not running, dependencies first, waiting on their
    depends_on conditions; a service without a container is compose's error."""
    b = Builder()
    chosen = selected_services(project, list(services))
    started: dict[str, list[str]] = {}
    for name in chosen:
        svc = project.services[name]
        containers = observed.of_service(name)
        if not containers:
            if svc.replicas == 0:
                continue
            raise ComposeError(f'service "{name}" has no container to start')
        pre: list[str] = []
        for dep, spec in svc.depends_on.items():
            if dep not in started:
                continue
            pre += started[dep]
            if spec.condition != "service_started" and replicas(project.services[dep], UpOptions()) > 0:
                pre.append(b.add(Step("wait", "Service", dep, detail=spec.condition, dependant=name,
                                      required=spec.required, after=_uniq(started[dep]))))
        started[name] = [b.add(Step("start", "Container", c.name, name, c.number, c.id, after=_uniq(pre)))
                         for c in containers if c.state != "running"]
    return b.plan()


def plan_restart(observed: Observed, project: Project | None, services=(), no_deps=False) -> Plan:
    """`restart`: dependencies first, but only along depends_on with ``restart: true``."""
    b = Builder()
    edges = {}
    if project is not None:
        edges = {n: [d for d, spec in s.depends_on.items() if spec.restart and d in project.services]
                 for n, s in project.services.items()}
    scope = set(services) if no_deps else _dependants(edges, services) if services else None
    containers = [c for c in _service_containers(observed, (), set(project.services) if project else None)
                  if scope is None or c.service in scope]
    done: dict[str, list[str]] = {}

    def visit(service: str) -> list[str]:
        if service not in done:
            done[service] = []
            pre = [i for d in edges.get(service, []) for i in visit(d)]
            done[service] = [b.add(Step("restart", "Container", c.name, c.service, c.number, c.id,
                                        after=_uniq(pre)))
                             for c in containers if c.service == service]
        return done[service]

    for service in sorted({c.service for c in containers}):
        visit(service)
    return b.plan()


def plan_each(action: str, containers: list[ObservedContainer], detail: str = "") -> Plan:
    """kill, pause, unpause, rm: one independent step per container."""
    b = Builder()
    for c in sorted(containers, key=lambda c: (c.service, c.number)):
        b.add(Step(action, "Container", c.name, c.service, c.number, c.id, detail=detail))
    return b.plan()
