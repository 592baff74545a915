"""A service's networking as the Engine API takes it, and the networks and volumes compose
creates for a project.

Follows compose v2's ``defaultNetworkSettings``, ``createEndpointSettings`` and ``getLinks``:
``network_mode`` wins (``service:x`` becomes ``container:<x's first container>``); with no
project network the container gets ``none``; else it joins the highest-priority network
(then by name) at create, and the others are connected after create (an engine before API
1.44 takes one endpoint at create). Aliases are the container's name, then (for `up`, and
`run --use-aliases`) the service's name and its aliases on that network; the engine adds
the short ID itself. Names of other services' containers come from ``peers`` (what observe
saw), else from the project (numbers 1..replicas).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ketch.compose import labels as L
from ketch.compose.errors import ComposeError
from ketch.compose.model import Project, Service

Peers = Mapping[str, Sequence[str]]  # service -> its containers' names, lowest number first

SERVICE_PREFIX = "service:"
CONTAINER_PREFIX = "container:"


def container_name(project: Project, service: Service, number: int) -> str:
    """``container_name:`` or ``<project>-<service>-<number>``."""
    return service.container_name or f"{project.name}-{service.name}-{number}"


def service_containers(project: Project, name: str, peers: Peers | None) -> list[str]:
    if peers is not None:
        return list(peers.get(name, ()))
    other = project.services.get(name)
    if other is None:
        return []
    return [container_name(project, other, n) for n in range(1, other.replicas + 1)]


def shared_namespace(project: Project, mode: str | None, what: str, peers: Peers | None) -> str | None:
    """``service:x`` -> ``container:<x's first container>`` (network_mode, ipc, pid)."""
    if not mode or not mode.startswith(SERVICE_PREFIX):
        return mode or None
    name = mode[len(SERVICE_PREFIX):]
    found = service_containers(project, name, peers)
    if not found:
        raise ComposeError(f"cannot share {what} namespace with service {name}: container missing")
    return CONTAINER_PREFIX + found[0]


def volumes_from(project: Project, service: Service, peers: Peers | None) -> list[str]:
    """``service[:mode]`` -> ``<its first container>[:mode]``; ``container:name[:mode]`` -> name."""
    out = []
    for spec in service.volumes_from:
        parts = spec.split(":")
        if parts[0] == "container" and len(parts) > 1:
            out.append(":".join(parts[1:]))
            continue
        found = service_containers(project, parts[0], peers)
        if not found:
            raise ComposeError(f"cannot share volume with service {parts[0]}: container missing")
        out.append(":".join([found[0], *parts[1:]]))
    return out


def links(project: Project, service: Service, number: int, peers: Peers | None) -> list[str]:
    """compose's getLinks (itself V1's ``_get_links``): ``container:alias`` pairs. Its branch
    linking a `run` container to its own service's never fires in compose (it reads the
    oneoff label from the user's labels), so it is not here either."""
    out = []
    for raw in service.links:
        parts = raw.split(":")
        linked, alias = parts[0], parts[1] if len(parts) == 2 else parts[0]
        for name in service_containers(project, linked, peers):
            out += [f"{name}:{alias}", f"{name}:{linked}-{number}",
                    f"{name}:{project.name}-{linked}-{number}"]
    for raw in service.external_links:
        parts = raw.split(":")
        out.append(f"{parts[0]}:{parts[1] if len(parts) == 2 else parts[0]}")
    return out


def networks_by_priority(service: Service) -> list[str]:
    """compose-go's NetworksByPriority: highest priority first, then by key."""
    def priority(key: str) -> int:
        cfg = service.networks[key]
        return (cfg.priority or 0) if cfg is not None else 0
    return sorted(service.networks, key=lambda k: (-priority(k), k))


def endpoint(project: Project, service: Service, key: str, name: str, link_list: list[str],
             use_aliases: bool) -> dict:
    """The EndpointSettings for network ``key`` (compose's createEndpointSettings)."""
    cfg = service.networks.get(key)
    aliases = [name]
    if use_aliases:
        aliases.append(service.name)
        if cfg is not None:
            aliases += cfg.aliases
    settings: dict = {"Aliases": aliases}
    if link_list:
        settings["Links"] = link_list
    if cfg is not None:
        ipam = _omitempty({"IPv4Address": cfg.ipv4_address, "IPv6Address": cfg.ipv6_address,
                           "LinkLocalIPs": cfg.link_local_ips})
        if ipam:
            settings["IPAMConfig"] = ipam
        mac = cfg.mac_address or (service.mac_address if key == networks_by_priority(service)[0] else None)
        settings.update(_omitempty({"MacAddress": mac, "DriverOpts": cfg.driver_opts}))
    elif service.mac_address and key == networks_by_priority(service)[0]:
        settings["MacAddress"] = service.mac_address
    return settings


def networking(project: Project, service: Service, name: str, link_list: list[str], *,
               use_aliases: bool, peers: Peers | None) -> tuple[str, dict | None, list[tuple[str, dict]]]:
    """(HostConfig.NetworkMode, NetworkingConfig or None, networks to connect after create)."""
    if service.network_mode:
        if service.network_mode == "disabled":
            return "none", None, []
        return shared_namespace(project, service.network_mode, "network", peers), None, []
    if not project.networks:
        return "none", None, []
    keys = networks_by_priority(service) or ["default"]
    mac = service.mac_address
    primary = service.networks.get(keys[0])
    if mac and primary is not None and primary.mac_address and primary.mac_address != mac:
        raise ComposeError(f"the service-level mac_address should have the same value as network {keys[0]}")

    def engine_name(key: str) -> str:
        net = project.networks.get(key)
        if net is None:
            raise ComposeError(f'service "{service.name}" refers to undefined network {key}: '
                               "invalid compose project")
        return net.name

    main = engine_name(keys[0])
    config = {"EndpointsConfig": {main: endpoint(project, service, keys[0], name, link_list, use_aliases)}}
    extra = [(engine_name(k), endpoint(project, service, k, name, link_list, use_aliases))
             for k in keys[1:]]
    return main, config, extra


def network_create(project: Project, key: str) -> dict:
    """The POST /networks/create body for network ``key`` (compose's resolveOrCreateNetwork)."""
    net = project.networks[key]
    # CheckDuplicate as compose sends it to engines before API 1.44 (dockerd 20.10 would
    # otherwise make a second network of the same name when two `up`s race); later engines
    # check anyway and ignore the field
    body: dict = {"Name": net.name, "CheckDuplicate": True}
    labels = dict(net.labels)
    labels.update({L.NETWORK: key, L.PROJECT: project.name, L.VERSION: L.COMPOSE_VERSION})
    body.update(_omitempty({"Driver": net.driver, "Options": net.driver_opts,
                            "Internal": net.internal, "Attachable": net.attachable,
                            "EnableIPv6": net.enable_ipv6}))
    if net.enable_ipv4 is not None:
        body["EnableIPv4"] = net.enable_ipv4
    if net.ipam is not None and (net.ipam.driver or net.ipam.config):
        ipam: dict = {}
        if net.ipam.driver:
            ipam["Driver"] = net.ipam.driver
        if net.ipam.config:
            ipam["Config"] = [_omitempty({"Subnet": p.subnet, "IPRange": p.ip_range,
                                          "Gateway": p.gateway, "AuxiliaryAddresses": p.aux_addresses})
                              for p in net.ipam.config]
        if net.ipam.options:
            ipam["Options"] = dict(net.ipam.options)
        body["IPAM"] = ipam
    body["Labels"] = labels
    return body


def volume_create(project: Project, key: str) -> dict:
    """The POST /volumes/create body for volume ``key`` (compose's createVolume)."""
    vol = project.volumes[key]
    labels = dict(vol.labels)
    labels.update({L.VOLUME: key, L.PROJECT: project.name, L.VERSION: L.COMPOSE_VERSION})
    body: dict = {"Name": vol.name}
    body.update(_omitempty({"Driver": vol.driver, "DriverOpts": vol.driver_opts}))
    body["Labels"] = labels
    return body


def _omitempty(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if v not in (None, "", False, [], {})}
