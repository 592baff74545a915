"""/etc/hosts and /etc/hostname for a container, and the environment of its --link
entries (pure rendering; resolv.conf is in ``resolvconf``).

/etc/hosts follows libnetwork's etchosts and sandbox_dns_unix.go: the loopback names, then
--add-host entries, then the --link entries, then the container's own address lines. The
loopback lines are spelled as dockerd 20.10 through 27 write them (``fe00::0``; Docker
28 prints ``fe00::``): the dockerd the differential tests run is 20.10.
"""

import ipaddress
from typing import Sequence

_LOOPBACK4 = [("127.0.0.1", "localhost")]
_LOOPBACK6 = [
    ("::1", "localhost ip6-localhost ip6-loopback"),
    ("fe00::0", "ip6-localnet"),
    ("ff00::0", "ip6-mcastprefix"),
    ("ff02::1", "ip6-allnodes"),
    ("ff02::2", "ip6-allrouters"),
]


def _canonical(ip: str) -> str:
    """An address as Docker writes it: parsed and printed again, IPv4-mapped unmapped."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def own_names(hostname: str, domainname: str = "") -> str:
    """The names of the container's own line: the FQDN and, when it has a dot, the bare
    host name (``h.example.com h``)."""
    fqdn = f"{hostname}.{domainname}" if domainname else hostname
    short, dot, _ = fqdn.partition(".")
    return f"{fqdn} {short}" if dot else fqdn


def hosts(hostname: str = "", address: str | None = None, extra: Sequence[tuple[str, str]] = (), *,
          domainname: str = "", address6: str = "", ipv6: bool = True) -> str:
    """Docker's /etc/hosts. ``extra`` is (names, ip) in order: --add-host entries (with
    host-gateway already resolved), then --link entries (``link_host``). ``address`` and
    ``address6`` are the container's own addresses (none for --network none). Without
    IPv6 in the container (``ipv6=False``), IPv6 lines are left out (moby's BuildNoIPv6)."""
    records = list(_LOOPBACK4) + (list(_LOOPBACK6) if ipv6 else [])
    records += [(_canonical(ip), names) for names, ip in extra]
    records += [(ip, own_names(hostname, domainname)) for ip in (address, address6) if ip]
    if not ipv6:
        records = [(ip, names) for ip, names in records if ":" not in ip]
    return "".join(f"{ip}\t{names}\n" for ip, names in records)


def host_network_hosts(host_text: str, extra: Sequence[tuple[str, str]] = ()) -> str:
    """--network host: a copy of the host's /etc/hosts, unless --add-host is given; then
    Docker writes its own file, so the extra names can override the host's."""
    return hosts(extra=extra) if extra else host_text


def link_host(alias: str, name: str, hostname: str, address: str) -> tuple[str, str]:
    """The hosts entry of ``--link name:alias`` as (names, ip) for ``hosts(extra=...)``:
    the alias, the linked container's host name, and its name unless that is the alias
    (``172.17.0.2\\tdb 5b1e0c2a8d3f mydb``)."""
    names = f"{alias} {hostname}"
    if alias != name:
        names += f" {name}"
    return names, address


def hostname_file(hostname: str) -> str:
    return hostname + "\n"


def _port_key(port: tuple[int, str]) -> tuple:
    number, proto = port
    proto = proto.lower()
    return (proto != "tcp", proto if proto != "tcp" else "", number)  # tcp first (withTCPPriority)


def link_env(alias: str, parent_name: str, address: str, exposed_ports: Sequence[tuple[int, str]],
             env: Sequence[str]) -> list[str]:
    """The environment ``--link child:alias`` gives the container ``parent_name`` on the
    default bridge (Docker 28's daemon/links): ``ALIAS_NAME=/parent/alias``, ``ALIAS_PORT``
    for the first exposed port (tcp first, then by number), four variables per port,
    ``_START``/``_END`` for runs of consecutive ports, and the child's environment as
    ``ALIAS_ENV_*`` (except HOME and PATH). ``address`` is the child's IPv4 address."""
    prefix = alias.upper().replace("-", "_")
    ports = sorted(((n, p.lower()) for n, p in exposed_ports), key=_port_key)
    out: list[str] = []
    start = end = None
    for i, (number, proto) in enumerate(ports):
        if i == 0:
            start = end = (number, proto)
            out.append(f"{prefix}_PORT={proto}://{address}:{number}")
        var = f"{prefix}_PORT_{number}_{proto.upper()}"
        out += [f"{var}={proto}://{address}:{number}", f"{var}_ADDR={address}",
                f"{var}_PORT={number}", f"{var}_PROTO={proto}"]
        if number == end[0] + 1 and proto == start[1]:
            end = (number, proto)
            if i < len(ports) - 1:
                continue
        if end != start:
            var = f"{prefix}_PORT_{start[0]}_{start[1].upper()}"
            out += [f"{var}_START={start[1]}://{address}:{start[0]}", f"{var}_PORT_START={start[0]}",
                    f"{var}_END={end[1]}://{address}:{end[0]}", f"{var}_PORT_END={end[0]}"]
        start = end = (number, proto)
    out.append(f"{prefix}_NAME=/{parent_name.lstrip('/')}/{alias}")
    for item in env:
        key, sep, value = item.partition("=")
        if sep and key not in ("HOME", "PATH"):  # set by builds, meaningless in the linker
            out.append(f"{prefix}_ENV_{key}={value}")
    return out
