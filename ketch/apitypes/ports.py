"""Port specs as Docker writes them: ``-p``, ``--expose``, ``80/tcp`` keys and ``ps``'s PORTS.

The parsing is go-connections' ``nat`` package (v0.5, as docker 28 vendors it), errors
word for word: ``ParsePortSpec`` takes ``[ip:][host-port:]container-port[/proto]`` where
either port may be a range (``8000-8010:80-90``; a host range with one container port is
a range to pick from), and the ip may be bracketed IPv6 (``[::1]:8080:80``). docker/cli
adds the long form (``published=8080,target=80,protocol=udp``) and ``--expose`` ranges.

``displayable_ports`` is docker/cli's ``DisplayablePorts``, the PORTS column of ``ps``:
``0.0.0.0:8080->80/tcp, [::]:8080->80/tcp``, consecutive ports folded into ranges.
"""

from ketch.apitypes.netaddr import AddrError, join_host_port, parse_ip, split_host_port
from ketch.units import go_quote

PROTOCOLS = ("tcp", "udp", "sctp")


class PortSpecError(ValueError):
    """A port spec Docker refuses; the text is Docker's."""


class PortMapping:
    """One container port and where the host publishes it (nat.PortMapping). A plain
    class, not a dataclass: ``run`` parses ports, and dataclasses costs ~15 ms to import."""

    __slots__ = ("port", "host_ip", "host_port")

    def __init__(self, port: str, host_ip: str = "", host_port: str = "") -> None:
        self.port = port  # the key: "80/tcp"
        self.host_ip = host_ip
        self.host_port = host_port  # "" (any), "8080", or a range to pick from ("8000-8010")

    def __eq__(self, other) -> bool:
        return isinstance(other, PortMapping) and (self.port, self.host_ip, self.host_port) == (
            other.port, other.host_ip, other.host_port)

    def __repr__(self) -> str:
        return f"PortMapping({self.port!r}, {self.host_ip!r}, {self.host_port!r})"

    def binding(self) -> dict:
        return {"HostIp": self.host_ip, "HostPort": self.host_port}


def parse_uint16(text: str) -> int:
    """Go's ``strconv.ParseUint(text, 10, 16)``, with its error text."""
    if not text or not text.isascii() or not text.isdigit():
        raise PortSpecError(f"strconv.ParseUint: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    if value > 0xFFFF:
        raise PortSpecError(f"strconv.ParseUint: parsing {go_quote(text)}: value out of range")
    return value


def parse_port_range(ports: str) -> tuple[int, int]:
    """nat.ParsePortRange: ``80`` or ``8000-9000`` (a third part is ignored, as Go does)."""
    if not ports:
        raise PortSpecError("empty string specified for ports")
    if "-" not in ports:
        port = parse_uint16(ports)
        return port, port
    parts = ports.split("-")
    start, end = parse_uint16(parts[0]), parse_uint16(parts[1])
    if end < start:
        raise PortSpecError(f"invalid range specified for port: {ports}")
    return start, end


def split_proto_port(raw: str) -> tuple[str, str]:
    """nat.SplitProtoPort: ``80/udp`` -> ("udp", "80"); no protocol is tcp."""
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1 or not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def port_key(proto: str, port: str) -> str:
    """nat.NewPort: ``80/tcp``, or ``8000-8010/tcp`` for a range."""
    start, end = parse_port_range(port) if port else (0, 0)
    return f"{start}/{proto}" if start == end else f"{start}-{end}/{proto}"


def _split_parts(raw: str) -> tuple[str, str, str]:
    parts = raw.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def parse_port_spec(raw: str) -> list[PortMapping]:
    """nat.ParsePortSpec: one ``-p`` value -> a mapping per container port."""
    ip, host_port, container_port = _split_parts(raw)
    proto, container_port = split_proto_port(container_port)
    if ip.startswith("["):
        try:
            ip = split_host_port(ip + ":")[0]
        except AddrError as exc:
            raise PortSpecError(f"invalid IP address {ip}: {exc}") from None
    if ip and parse_ip(ip) is None:
        raise PortSpecError(f"invalid IP address: {ip}")
    if not container_port:
        raise PortSpecError(f"no port specified: {raw}<empty>")
    try:
        start, end = parse_port_range(container_port)
    except PortSpecError:
        raise PortSpecError(f"invalid containerPort: {container_port}") from None
    host_start = host_end = 0
    if host_port:
        try:
            host_start, host_end = parse_port_range(host_port)
        except PortSpecError:
            raise PortSpecError(f"invalid hostPort: {host_port}") from None
        if end - start != host_end - host_start and end != start:
            raise PortSpecError("invalid ranges specified for container and host Ports: "
                                f"{container_port} and {host_port}")
    if proto.lower() not in PROTOCOLS:
        raise PortSpecError(f"invalid proto: {proto}")
    mappings = []
    for i in range(end - start + 1):
        host = str(host_start + i) if host_port else ""
        if start == end and host_start != host_end:  # one port, a host range to pick from
            host = f"{host}-{host_end}"
        mappings.append(PortMapping(f"{start + i}/{proto.lower()}", ip, host))
    return mappings


def parse_port_specs(specs: list[str]) -> tuple[dict, dict]:
    """nat.ParsePortSpecs: (ExposedPorts, PortBindings) of the ``-p`` values."""
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict]] = {}
    for raw in specs:
        for mapping in parse_port_spec(raw):
            exposed.setdefault(mapping.port, {})
            bindings.setdefault(mapping.port, []).append(mapping.binding())
    return exposed, bindings


def standard_notation(spec: str) -> str:
    """docker/cli's convertToStandardNotation: ``published=8080,target=80[,protocol=udp]``
    becomes ``8080:80/udp``; a spec without ``=`` is left as it is."""
    if "=" not in spec:
        return spec
    params = {"protocol": "tcp"}
    for param in spec.split(","):
        key, sep, value = param.partition("=")
        if not sep or not key:
            raise PortSpecError(f"invalid publish opts format (should be name=value but got '{param}')")
        params[key] = value
    return f"{params.get('published', '')}:{params.get('target', '')}/{params['protocol']}"


def parse_expose(values: list[str]) -> list[str]:
    """docker/cli's ``--expose``: ``80``, ``80/udp`` or a range ``8000-8010[/proto]`` -> keys."""
    keys = []
    for raw in values:
        if ":" in raw:
            raise PortSpecError(f"invalid port format for --expose: {raw}")
        proto, port = split_proto_port(raw)
        try:
            start, end = parse_port_range(port)
        except PortSpecError as exc:
            raise PortSpecError(f"invalid range format for --expose: {raw}, error: {exc}") from None
        keys += [f"{n}/{proto}" for n in range(start, end + 1)]
    return keys


def _port_sort_key(port: dict) -> tuple:
    return (port.get("PrivatePort") or 0, port.get("IP") or "", port.get("PublicPort") or 0,
            port.get("Type") or "")


def displayable_ports(ports: list[dict]) -> str:
    """docker/cli's DisplayablePorts over ``/containers/json``'s ``Ports``: sorted, runs of
    consecutive ports with the same address folded (``0.0.0.0:80-81->80-81/tcp``), a port
    published elsewhere shown as ``host:port->port/proto`` at the end."""
    groups: dict[str, list[int]] = {}  # key -> [first, last], in order of creation
    result, host_mappings = [], []
    for port in sorted(ports, key=_port_sort_key):
        current = port.get("PrivatePort") or 0
        kind, ip = port.get("Type") or "", port.get("IP") or ""
        key = kind
        if ip:
            public = port.get("PublicPort") or 0
            if public != current:
                host_mappings.append(f"{join_host_port(ip, public)}->{current}/{kind}")
                continue
            key = f"{ip}/{kind}"
        group = groups.get(key)
        if group is None:
            groups[key] = [current, current]
        elif current == group[1] + 1:
            group[1] = current
        else:
            result.append(_form_group(key, *group))  # the run ends: shown before the rest
            groups[key] = [current, current]  # keeps its first place, as Go's key slice does
    return ", ".join(result + [_form_group(k, *g) for k, g in groups.items()] + host_mappings)


def _form_group(key: str, first: int, last: int) -> str:
    parts = key.split("/")
    ip, kind = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{join_host_port(ip, group)}->{group}"
    return f"{group}/{kind}"
