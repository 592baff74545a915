"""Plans: what a compose command will do, as data, before anything is done.

A ``Plan`` is a list of ``Step`` values in an order that respects their dependencies
(``after``: the ids of steps that must finish first). The executor runs it with independent
steps in parallel; ``Plan.render()`` prints it (the unit tests' goldens, ``--dry-run``).
Planning is pure: it reads the project model and what ``observe`` found, nothing else.

``plan_up`` is Compose v2's convergence (pkg/compose/convergence.go, create.go, start.go)
spread out as a graph: networks and volumes first, a service's containers created after
its dependencies' and started after theirs (and after their depends_on conditions hold);
a container whose config hash (or image) differs is recreated, and the running containers
of the services that depend on it are stopped first and started again after it; scaling
down removes the highest numbers, scaling up takes the lowest free numbers.
The other commands' plans are in ``plan_ops``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ketch.compose import graph
from ketch.compose import labels as L
from ketch.compose.errors import ComposeError
from ketch.compose.model import Project, Service
from ketch.compose.observe import Observed, ObservedContainer

# Step.action: create_network create_volume | create recreate keep start stop remove |
# wait (a depends_on condition) | remove_network remove_volume | restart kill pause unpause
RECREATE_POLICIES = ("diverged", "force", "never")
START_PHASE = ("start", "wait")


@dataclass(frozen=True)
class Step:
    action: str
    kind: str  # Container | Network | Volume | Service: what the progress line names
    name: str  # the container's, network's or volume's engine name; the service for wait
    service: str | None = None
    number: int | None = None
    target: str | None = None  # the existing object's id
    key: str | None = None  # the project's key of a network or volume
    detail: str = ""  # keep: the state; wait: the condition; kill: the signal; remove: "v"
    dependant: str | None = None  # wait: the service waiting
    required: bool = True  # wait: a required dependency
    after: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        base = f"{self.action} {self.kind.lower()} {self.name}"
        return f"{base} {self.detail}" if self.action == "wait" else base

    def describe(self) -> str:
        text = f"{self.action} {self.kind.lower()} {self.name}"
        extra = [f"{k}={v}" for k, v in (("service", self.service), ("number", self.number),
                                          ("key", self.key), ("detail", self.detail or None),
                                          ("for", self.dependant)) if v is not None]
        if self.action == "wait" and not self.required:
            extra.append("optional")
        return text + (f" ({', '.join(extra)})" if extra else "")


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...] = ()
    warnings: tuple[str, ...] = ()

    def render(self) -> str:
        """One numbered line per step; ``<- 1, 3`` names the steps it waits for."""
        index = {s.id: i for i, s in enumerate(self.steps, 1)}
        lines = []
        for i, step in enumerate(self.steps, 1):
            after = ", ".join(str(index[a]) for a in step.after)
            lines.append(f"{i:>2} {step.describe()}" + (f"  <- {after}" if after else ""))
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines) + "\n"

    def __len__(self) -> int:
        return len(self.steps)

    def phases(self) -> tuple[Plan, Plan]:
        """(everything but starting, the starts and their waits): compose creates every
        container before it starts any, and an attached `up` attaches in between."""
        first = tuple(s for s in self.steps if s.action not in START_PHASE)
        ids = {s.id for s in self.steps if s.action in START_PHASE}
        second = tuple(dataclasses.replace(s, after=tuple(a for a in s.after if a in ids))
                       for s in self.steps if s.action in START_PHASE)
        return Plan(first, self.warnings), Plan(second)


class Builder:
    """Collects steps in order; ``add`` returns the step's id, dropping duplicates."""

    def __init__(self) -> None:
        self.steps: dict[str, Step] = {}
        self.warnings: list[str] = []

    def add(self, step: Step) -> str:
        missing = [a for a in step.after if a not in self.steps]
        if missing:
            raise AssertionError(f"{step.id} after unknown steps {missing}")
        self.steps.setdefault(step.id, step)
        return step.id

    def plan(self) -> Plan:
        return Plan(tuple(self.steps.values()), tuple(self.warnings))


@dataclass(frozen=True)
class UpOptions:
    services: tuple[str, ...] = ()  # named on the command line; () is every service
    no_deps: bool = False
    recreate: str = "diverged"  # for the named services: diverged | force | never
    recreate_deps: str = "diverged"  # for their dependencies
    scale: dict[str, int] = field(default_factory=dict)  # --scale
    remove_orphans: bool = False
    ignore_orphans: bool = False  # COMPOSE_IGNORE_ORPHANS
    start: bool = True  # False: `create`, `up --no-start`
    image_ids: dict[str, str] = field(default_factory=dict)  # service -> the image ID to run


def selected_services(project: Project, names, no_deps: bool = False) -> list[str]:
    """The services a command acts on, in start order: the named ones (all when none) and,
    unless ``no_deps``, what they depend on. An unknown name is compose's error."""
    for name in names:
        if name not in project.services:
            raise ComposeError(f"no such service: {name}")
    if not names:
        return graph.start_order(project)
    if no_deps:
        return graph.start_order(project, names)
    return graph.with_dependencies(project, names)


def replicas(service: Service, options: UpOptions) -> int:
    wanted = options.scale.get(service.name, service.replicas)
    if wanted > 1 and service.container_name:
        raise ComposeError(f'WARNING: The "{service.name}" service is using the custom container name '
                           f'"{service.container_name}". Docker requires each container to have a unique '
                           f"name. Remove the custom name to scale the service.\n")
    return wanted


def shared_with(service: Service) -> set[str]:
    """The services whose container this one's is made from (network_mode, ipc, pid
    ``service:x``, volumes_from): when theirs is recreated, this one must be too."""
    out = {mode[len("service:"):] for mode in (service.network_mode, service.ipc, service.pid)
           if mode and mode.startswith("service:")}
    out.update(v.split(":")[0] for v in service.volumes_from if not v.startswith("container:"))
    return out


def orphans(project: Project, observed: Observed) -> list[ObservedContainer]:
    """Containers of services the project does not define, and exited one-off ones."""
    known = set(project.services) | set(project.disabled_services)
    return [c for c in observed.containers
            if (c.state in ("exited", "dead") if c.oneoff else c.service not in known)]


def _resources(project: Project, observed: Observed, services: list[str], b: Builder) -> dict[str, list[str]]:
    """Steps creating the networks and volumes ``services`` use; service -> their ids."""
    needs: dict[str, list[str]] = {}
    made: dict[tuple[str, str], str | None] = {}
    for name in services:
        svc = project.services[name]
        keys = [("network", k) for k in (svc.networks if not svc.network_mode else {})]
        keys += [("volume", v.source) for v in svc.volumes if v.type == "volume" and v.source in project.volumes]
        ids = []
        for kind, key in keys:
            if (kind, key) not in made:
                made[(kind, key)] = (_network(project, observed, key, b) if kind == "network"
                                     else _volume(project, observed, key, b))
            if made[(kind, key)]:
                ids.append(made[(kind, key)])
        needs[name] = ids
    return needs


def _network(project: Project, observed: Observed, key: str, b: Builder) -> str | None:
    net = project.networks[key]
    found = observed.networks.get(net.name) or next(
        (n for n in observed.networks.values() if n.id == net.name), None)
    if net.external:
        if found is None:
            raise ComposeError(f"network {net.name} declared as external, but could not be found")
        return None
    if found is None:
        return b.add(Step("create_network", "Network", net.name, key=key))
    if L.PROJECT not in found.labels:
        b.warnings.append(f"a network with name {net.name} exists but was not created by compose.\n"
                          "Set `external: true` to use an existing network")
    elif found.labels[L.PROJECT] != project.name:
        b.warnings.append(f"a network with name {net.name} exists but was not created for project "
                          f'"{project.name}".\nSet `external: true` to use an existing network')
    if found.labels.get(L.NETWORK, "") != key:
        raise ComposeError(f"network {net.name} was found but has incorrect label {L.NETWORK} "
                           f'set to "{found.labels.get(L.NETWORK, "")}"')
    return None


def _volume(project: Project, observed: Observed, key: str, b: Builder) -> str | None:
    vol = project.volumes[key]
    found = observed.volumes.get(vol.name)
    if vol.external:
        if found is None:
            raise ComposeError(f'external volume "{vol.name}" not found')
        return None
    if found is None:
        return b.add(Step("create_volume", "Volume", vol.name, key=key))
    owner = found.labels.get(L.PROJECT)
    if owner is None:
        b.warnings.append(f'volume "{vol.name}" already exists but was not created by Docker Compose. '
                          "Use `external: true` to use an existing volume")
    elif owner != project.name:
        b.warnings.append(f'volume "{vol.name}" already exists but was created for project "{owner}" '
                          f'(expected "{project.name}"). Use `external: true` to use an existing volume')
    return None


def _free_numbers(used: set[int], count: int) -> list[int]:
    out, n = [], 1
    while len(out) < count:
        if n not in used:
            out.append(n)
        n += 1
    return out


def _container_name(project: Project, service: Service, number: int) -> str:
    return service.container_name or f"{project.name}-{service.name}-{number}"


def plan_up(project: Project, observed: Observed, options: UpOptions = UpOptions()) -> Plan:
    """Converge the selected services: what `up` (and `create`, `scale`) does."""
    b = Builder()
    services = selected_services(project, options.services, options.no_deps)
    chosen = set(services)
    named = set(options.services) or chosen
    edges = graph.edges(project)

    for c in orphans(project, observed):
        if options.remove_orphans:
            stop = b.add(Step("stop", "Container", c.name, c.service, c.number, c.id))
            b.add(Step("remove", "Container", c.name, c.service, c.number, c.id, after=(stop,)))
    found = [c.name for c in orphans(project, observed) if not c.oneoff]
    if found and not options.remove_orphans and not options.ignore_orphans:
        b.warnings.append(f"Found orphan containers ([{' '.join(found)}]) for this project. If you removed "
                          "or renamed this service in your compose file, you can run this command with "
                          "the --remove-orphans flag to clean it up.")

    needs = _resources(project, observed, services, b)

    # What becomes of each container: kept, recreated, removed (scale down), or new.
    fate: dict[str, list[tuple[str, ObservedContainer | None, int]]] = {}
    recreated: set[str] = set()
    for name in services:
        svc = project.services[name]
        policy = options.recreate if name in named else options.recreate_deps
        expected = replicas(svc, options)
        digest, image = L.config_hash(svc), options.image_ids.get(name)
        forced = policy != "never" and bool(shared_with(svc) & recreated)

        def obsolete(c: ObservedContainer) -> bool:
            if policy == "never":
                return False
            return (policy == "force" or forced or c.config_hash != digest
                    or bool(image and c.image_id and c.image_id != image))

        current = sorted(observed.of_service(name), key=lambda c: (not obsolete(c), c.number, c.created))
        plan_for = []
        for i, c in enumerate(current):
            plan_for.append(("remove" if i >= expected else "recreate" if obsolete(c) else "keep", c, c.number))
        used = {n for what, _, n in plan_for if what != "remove"}
        plan_for += [("create", None, n) for n in _free_numbers(used, expected - len(used))]
        fate[name] = plan_for
        if any(what == "recreate" for what, _, _ in plan_for):
            recreated.add(name)

    # Running containers of the services depending on a recreated one stop first.
    stopped: dict[str, str] = {}  # container name -> its stop step
    stops_before: dict[str, list[str]] = {}  # recreated service -> its dependants' stops
    for name in services:
        if name not in recreated:
            continue
        for dependant in graph.dependents(project, [name], recursive=False):
            for what, c, _ in fate.get(dependant, []):
                if c is not None and what != "remove" and c.running:
                    stopped[c.name] = b.add(Step("stop", "Container", c.name, dependant, c.number, c.id))
                    stops_before.setdefault(name, []).append(stopped[c.name])

    made: dict[str, list[str]] = {}  # service -> its create/recreate steps
    dropped: dict[str, list[str]] = {}  # service -> its scale-down removals
    to_start: dict[str, list[tuple[str, str | None, int, tuple[str, ...]]]] = {}
    for name in services:
        svc = project.services[name]
        deps = tuple(i for d in edges[name] if d in chosen for i in made.get(d, ()))
        made[name], to_start[name] = [], []
        for what, c, number in fate[name]:
            cname = _container_name(project, svc, number)
            if what == "remove":
                stop = b.add(Step("stop", "Container", c.name, name, c.number, c.id))
                dropped.setdefault(name, []).append(
                    b.add(Step("remove", "Container", c.name, name, c.number, c.id, after=(stop,))))
            elif what == "keep":
                # a dependent stopped for a recreated dependency is not "Running": its lines
                # are Stopping/Stopped, then Starting/Started
                b.add(Step("keep", "Container", c.name, name, c.number, c.id,
                           detail="stopped" if c.name in stopped else c.state))
                if c.name in stopped or c.state in ("created", "exited", "dead"):
                    to_start[name].append((c.name, c.id, number, (stopped[c.name],) if c.name in stopped else ()))
            else:
                pre = tuple(needs[name]) + deps
                if what == "recreate":
                    pre += ((stopped[c.name],) if c.name in stopped else ()) + tuple(stops_before.get(name, ()))
                step = b.add(Step(what, "Container", cname, name, number, c.id if c else None, after=_uniq(pre)))
                made[name].append(step)
                to_start[name].append((cname, None, number, (step,)))

    if options.start:
        # a depends_on wait looks at the converged service: after its scale-down removals
        _start_phase(project, services, options, to_start,
                     {n: made[n] + dropped.get(n, []) for n in made}, b)
    return b.plan()


def _uniq(ids) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))


def _start_phase(project: Project, services: list[str], options: UpOptions, to_start, made, b: Builder) -> None:
    """Start steps: after the dependencies' starts and their depends_on conditions."""
    chosen = set(services)
    started: dict[str, list[str]] = {}
    for name in services:
        svc = project.services[name]
        pre: list[str] = []
        for dep, spec in svc.depends_on.items():
            if dep not in chosen:
                continue  # --no-deps, or a disabled service: compose does not wait on it
            pre += started.get(dep, [])
            dep_svc = project.services[dep]
            if spec.condition == "service_started" or replicas(dep_svc, options) == 0:
                continue
            pre.append(b.add(Step("wait", "Service", dep, detail=spec.condition, dependant=name,
                                  required=spec.required,
                                  after=_uniq(started.get(dep, []) + made.get(dep, [])))))
        started[name] = [b.add(Step("start", "Container", cname, name, number, target,
                                    after=_uniq(list(own) + pre)))
                         for cname, target, number, own in to_start[name]]
