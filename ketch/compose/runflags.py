"""``compose run -p/-v``: short syntax -> the model's PortConfig and ServiceVolume.

As compose-go's ParsePortConfig (docker's nat.ParsePortSpec, one entry per port of a
range) and format.ParseVolume (a source that looks like a path is a bind, created if
missing; a name is a volume; a lone target an anonymous volume; "ro" read-only).
"""

import os

from ketch.compose.errors import ComposeError
from ketch.compose.model import BindOptions, PortConfig, ServiceVolume


def parse_ports(text: str) -> list[PortConfig]:
    from ketch.apitypes.ports import PortSpecError, parse_port_spec
    try:
        mappings = parse_port_spec(text)
    except PortSpecError as exc:
        raise ComposeError(str(exc)) from None
    out = []
    for m in mappings:
        port, _, proto = m.port.partition("/")
        out.append(PortConfig(target=int(port), published=m.host_port or None,
                              host_ip=m.host_ip or None, protocol=proto or "tcp", mode="ingress"))
    return out


def parse_volume(text: str, base: str | None = None) -> ServiceVolume:
    """One -v value; a relative bind source is made absolute against ``base`` (the
    working directory by default)."""
    parts = text.split(":")
    mode = parts.pop() if len(parts) == 3 else ""
    if len(parts) == 1:
        return ServiceVolume(type="volume", target=parts[0])
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise ComposeError(f"invalid spec: {text}: too many colons")
    source, target = parts
    read_only = True if "ro" in mode.split(",") else None
    if source.startswith((".", "/", "~")):
        source = os.path.abspath(os.path.join(base or os.getcwd(), os.path.expanduser(source)))
        return ServiceVolume(type="bind", source=source, target=target, read_only=read_only,
                             bind=BindOptions(create_host_path=True))
    return ServiceVolume(type="volume", source=source, target=target, read_only=read_only)
