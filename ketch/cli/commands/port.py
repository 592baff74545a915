"""``ketch port CONTAINER [PRIVATE_PORT[/PROTO]]``: where a container's ports are published
(docker/cli's runPort: from ``NetworkSettings.Ports`` of the inspect answer)."""

import sys

from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.flags import Command
from ketch.cli.main import StatusError

PORT = Command("port", "ketch port CONTAINER [PRIVATE_PORT[/PROTO]]",
               "List port mappings or a specific mapping for the container", (),
               min_args=1, max_args=2, aliases=("ketch container port", "ketch port"))


def port_lines(ports: dict | None, private: str | None, container: str) -> list[str]:
    """The lines ``port`` prints, natural-sorted; ``private`` is "80" or "80/udp" (tcp if
    no protocol is given). StatusError as docker words it for a port not published."""
    from ketch.apitypes.netaddr import join_host_port
    from ketch.apitypes.ports import PortSpecError, parse_uint16
    from ketch.cli.format.sortorder import natural_key
    ports = ports or {}
    if private is not None:
        number, _, proto = private.partition("/")
        try:
            parse_uint16(number)
        except PortSpecError as exc:
            raise StatusError(1, f"Error: invalid port ({number}): {exc}")
        frontends = ports.get(f"{number}/{proto or 'tcp'}")
        if not frontends:
            raise StatusError(1, f"Error: No public port '{private}' published for {container}")
        lines = [join_host_port(f.get("HostIp", ""), f.get("HostPort", "")) for f in frontends]
    else:
        lines = [f"{key} -> {join_host_port(f.get('HostIp', ''), f.get('HostPort', ''))}"
                 for key, frontends in ports.items() for f in frontends or ()]
    return sorted(lines, key=natural_key)


def port(cli, args, path):
    _, rest = parse_args(PORT, args, path)
    container = rest[0]
    try:
        doc = cli.client.inspect_container(container)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    lines = port_lines((doc.get("NetworkSettings") or {}).get("Ports"),
                       rest[1] if len(rest) > 1 else None, container)
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0
