"""What a project has on the engine, found as Compose v2 finds it: through its labels.

``observe`` makes three list calls (containers of the project, all networks, all volumes)
and returns typed values the planner reads; the planner never talks to the engine. All
networks and volumes are listed, not only the labelled ones, because the plan needs to know
whether an external one, or one made by hand under the project's name, exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ketch.compose import labels as L


@dataclass(frozen=True)
class ObservedContainer:
    id: str
    name: str  # without the leading slash
    service: str
    number: int  # the container-number label; 0 when missing or bad
    state: str  # created | running | paused | restarting | exited | dead | removing
    config_hash: str
    image_id: str  # the com.docker.compose.image label (what it was made from), or ""
    oneoff: bool
    created: int
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting", "paused")

    def depends_on(self) -> dict[str, str]:
        """service -> condition, from the depends_on label (down without a compose file)."""
        out = {}
        for part in filter(None, self.labels.get(L.DEPENDS_ON, "").split(",")):
            name, _, rest = part.partition(":")
            out[name] = rest.partition(":")[0] or "service_started"
        return out


@dataclass(frozen=True)
class ObservedNetwork:
    id: str
    name: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str | None:
        return self.labels.get(L.NETWORK)


@dataclass(frozen=True)
class ObservedVolume:
    name: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str | None:
        return self.labels.get(L.VOLUME)


@dataclass(frozen=True)
class Observed:
    project: str
    containers: list[ObservedContainer] = field(default_factory=list)
    networks: dict[str, ObservedNetwork] = field(default_factory=dict)  # by name
    volumes: dict[str, ObservedVolume] = field(default_factory=dict)  # by name

    def of_service(self, service: str, *, oneoff: bool = False) -> list[ObservedContainer]:
        """A service's containers, by number."""
        return sorted((c for c in self.containers if c.service == service and c.oneoff == oneoff),
                      key=lambda c: (c.number, c.created))

    def project_networks(self) -> list[ObservedNetwork]:
        return [n for n in self.networks.values() if n.labels.get(L.PROJECT) == self.project]

    def project_volumes(self) -> list[ObservedVolume]:
        return [v for v in self.volumes.values() if v.labels.get(L.PROJECT) == self.project]


def container_from_summary(item: dict) -> ObservedContainer:
    """One /containers/json item."""
    labels = item.get("Labels") or {}
    names = item.get("Names") or []
    # the container's own name has one slash; legacy links add "/other/alias" names
    name = next((n[1:] for n in names if n.count("/") == 1), names[0].lstrip("/") if names else "")
    try:
        number = int(labels.get(L.CONTAINER_NUMBER, "0"))
    except ValueError:
        number = 0
    return ObservedContainer(
        id=item["Id"], name=name, service=labels.get(L.SERVICE, ""), number=number,
        state=item.get("State") or "", config_hash=labels.get(L.CONFIG_HASH, ""),
        image_id=labels.get(L.IMAGE, ""), oneoff=labels.get(L.ONEOFF) == "True",
        created=int(item.get("Created") or 0), labels=dict(labels))


def observe(client, project_name: str, *, resources: bool = True) -> Observed:
    """The project's containers (stopped and one-off ones too) and, unless ``resources`` is
    False, every network and volume of the engine."""
    items = client.containers(all=True, filters=L.project_filter(project_name, oneoff=None))
    containers = [container_from_summary(c) for c in items]
    networks: dict[str, ObservedNetwork] = {}
    volumes: dict[str, ObservedVolume] = {}
    if resources:
        for n in client.networks():
            networks[n["Name"]] = ObservedNetwork(n["Id"], n["Name"], dict(n.get("Labels") or {}))
        for v in client.volumes().get("Volumes") or []:
            volumes[v["Name"]] = ObservedVolume(v["Name"], dict(v.get("Labels") or {}))
    return Observed(project_name, containers, networks, volumes)
