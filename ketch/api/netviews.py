"""A container's networking in Docker's shapes: ``NetworkSettings`` of inspect, ``Ports``
and ``NetworkSettings.Networks`` of the list (moby v26.1's api/types).

``attached`` is what the engine knows per network the container is on: its name, the
endpoint settings it asked for, and, while it runs, its endpoint and the network.
"""

from ketch.network.dns.names import dns_names
from ketch.network.model import Endpoint, Network

Attached = tuple[str, dict, Endpoint | None, Network | None]


def _prefix(cidr: str) -> int:
    return int(cidr.partition("/")[2] or 0)


def endpoint_json(name: str, settings: dict, ep: Endpoint | None, net: Network | None,
                  container: str = "", hostname: str = "") -> dict:
    """network.EndpointSettings, in its field order (API 1.45)."""
    # API 1.45: the aliases as the user gave them; the short id the engine adds for the
    # names it serves shows in DNSNames
    aliases = list(settings.get("Aliases") or ())
    dns = None
    if ep is not None and ep.dns:
        dns = list(dns_names(container, ep.aliases, ep.container_id, hostname))
    return {
        "IPAMConfig": settings.get("IPAMConfig") or None,
        "Links": list(settings.get("Links") or ()) or None,
        "Aliases": aliases or None,
        "MacAddress": ep.mac if ep is not None else settings.get("MacAddress") or "",
        "DriverOpts": settings.get("DriverOpts") or None,
        "NetworkID": net.id if net is not None else settings.get("NetworkID") or "",
        "EndpointID": ep.id if ep is not None else "",
        "Gateway": ep.gateway4 if ep is not None else "",
        "IPAddress": ep.address4 if ep is not None else "",
        "IPPrefixLen": _prefix(ep.ipv4) if ep is not None else 0,
        "IPv6Gateway": ep.gateway6 if ep is not None else "",
        "GlobalIPv6Address": ep.address6 if ep is not None else "",
        "GlobalIPv6PrefixLen": _prefix(ep.ipv6) if ep is not None else 0,
        "DNSNames": dns,
    }


def add_short_id_aliases(networks: dict, cid: str) -> None:
    """Before API 1.45 inspect's Aliases also held the container's short id on every
    user-defined network (moby v26's ContainerInspect for older clients; compose v1 and
    dockerd 20.10's clients see it there)."""
    short = cid[:12]
    for name, ep in networks.items():
        if name not in ("default", "bridge", "host", "none") and not name.startswith("container:"):
            aliases = ep.get("Aliases") or []
            ep["Aliases"] = aliases if short in aliases else aliases + [short]


def ports_json(exposed: dict | None, attached: list[Attached], running: bool) -> dict:
    """NetworkSettings.Ports: each exposed or published port -> its host bindings (null
    when only exposed); empty while the container does not run."""
    if not running:
        return {}
    out: dict = {key: None for key in exposed or {}}
    for _, _, ep, _ in attached:
        for b in ep.ports if ep is not None else ():
            key = f"{b.container_port}/{b.proto}"
            out[key] = (out.get(key) or []) + [{"HostIp": b.host_ip or "0.0.0.0",
                                                 "HostPort": str(b.host_port)}]
    return out


def port_list(exposed: dict | None, attached: list[Attached], running: bool) -> list[dict]:
    """The list's Ports: one entry per binding, and the exposed ports without one."""
    out = []
    for key, bindings in ports_json(exposed, attached, running).items():
        port, _, proto = key.partition("/")
        if not port.isdigit():
            continue
        if not bindings:
            out.append({"PrivatePort": int(port), "Type": proto or "tcp"})
            continue
        for b in bindings:
            out.append({"IP": b["HostIp"], "PrivatePort": int(port),
                        "PublicPort": int(b["HostPort"]), "Type": proto or "tcp"})
    return out


def network_settings(exposed: dict | None, attached: list[Attached], running: bool,
                     sandbox: tuple[str, str], container: str, hostname: str) -> dict:
    """Inspect's NetworkSettings; the deprecated top-level address fields are the default
    bridge's, as in moby. ``sandbox``: (SandboxID, SandboxKey) of a running container."""
    networks = {name: endpoint_json(name, settings, ep, net, container, hostname)
                for name, settings, ep, net in attached}
    top = networks.get("bridge") or {}
    return {
        "Bridge": "", "SandboxID": sandbox[0] if running else "",
        "SandboxKey": sandbox[1] if running else "",
        "Ports": ports_json(exposed, attached, running), "HairpinMode": False,
        "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None, "EndpointID": top.get("EndpointID", ""),
        "Gateway": top.get("Gateway", ""), "GlobalIPv6Address": top.get("GlobalIPv6Address", ""),
        "GlobalIPv6PrefixLen": top.get("GlobalIPv6PrefixLen", 0), "IPAddress": top.get("IPAddress", ""),
        "IPPrefixLen": top.get("IPPrefixLen", 0), "IPv6Gateway": top.get("IPv6Gateway", ""),
        "MacAddress": top.get("MacAddress", ""), "Networks": networks,
    }
