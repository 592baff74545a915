"""A container's /etc/hostname, /etc/hosts and /etc/resolv.conf, from its config and
what its network gave it (pure: the host's files are passed in as text).

By mode, as moby's initializeNetworking and sandbox_dns_unix.go write them: the host's
own files (host, with --dns/--add-host applied), the embedded DNS's resolv.conf (a
user-defined network), or the host's resolv.conf without loopback servers (the default
bridge and none).
"""

from dataclasses import dataclass

from ketch import errors
from ketch.network import files as netfiles
from ketch.network import resolvconf

HOST_GATEWAY = "host-gateway"


@dataclass(frozen=True)
class Link:
    """``--link name:alias`` as the linking container sees it (default bridge)."""
    alias: str
    name: str  # the linked container's name
    hostname: str
    address: str
    exposed: tuple[tuple[int, str], ...]
    env: tuple[str, ...]


@dataclass(frozen=True)
class EtcFiles:
    hostname: str
    hosts: str
    resolv: str
    upstreams: tuple[str, ...] | None = None  # the embedded DNS's (--dns), None: the host's
    ndots_set: bool = False


def extra_hosts(entries: list[str] | None, host_gateway: str) -> list[tuple[str, str]]:
    """HostConfig.ExtraHosts ("name:ip", "name=ip") as (name, ip); ``host-gateway``
    becomes the daemon's host gateway address."""
    out = []
    for entry in entries or ():
        sep = "=" if "=" in entry else ":"
        name, _, ip = entry.partition(sep)
        if not name or not ip:
            raise errors.InvalidArgument(f"invalid extra host: {entry}")
        if ip == HOST_GATEWAY:
            if not host_gateway:
                raise errors.InvalidArgument("unable to derive the IP value for host-gateway")
            ip = host_gateway
        out.append((name, ip.strip("[]")))
    return out


def render(config: dict, host_config: dict, kind: str, addresses: tuple[str, ...], dns: bool,
           host_hosts: str, host_resolv: str, host_gateway: str,
           links: tuple[Link, ...] = ()) -> EtcFiles:
    """``addresses``: the container's own, every network's (moby writes a line for each)."""
    hostname = config.get("Hostname") or ""
    domainname = config.get("Domainname") or ""
    extra = extra_hosts(host_config.get("ExtraHosts"), host_gateway)
    opts = {"dns": host_config.get("Dns") or (), "dns_search": host_config.get("DnsSearch") or (),
            "dns_options": host_config.get("DnsOptions") or ()}
    try:
        if kind == "host":
            return EtcFiles(hostname, netfiles.host_network_hosts(host_hosts, extra),
                            resolvconf.host_network_resolv_conf(host_resolv, **opts))
        extra += [netfiles.link_host(link.alias, link.name, link.hostname, link.address)
                  for link in links]
        v4 = [a for a in addresses if a and ":" not in a]
        v6 = [a for a in addresses if a and ":" in a]
        hosts = netfiles.hosts(hostname, v4[0] if v4 else None, extra, domainname=domainname,
                               address6=v6[0] if v6 else "", ipv6=True)
        names = netfiles.own_names(hostname, domainname)
        hosts += "".join(f"{ip}\t{names}\n" for ip in v4[1:] + v6[1:])
        if dns:
            emb = resolvconf.embedded_resolv_conf(host_resolv, **opts)
            return EtcFiles(hostname, hosts, emb.text, emb.upstreams, emb.ndots_set)
        return EtcFiles(hostname, hosts, resolvconf.resolv_conf(host_resolv, **opts))
    except ValueError as exc:
        raise errors.InvalidArgument(str(exc)) from None


def link_env(links: tuple[Link, ...], own_name: str) -> list[str]:
    out = []
    for link in links:
        out += netfiles.link_env(link.alias, own_name, link.address, link.exposed, link.env)
    return out


def hosts_with(text: str, config: dict, addresses: tuple[str, ...]) -> str:
    """/etc/hosts after a connect: the container's names for each new address appended
    (moby's sbJoin, updateHostsFile)."""
    names = netfiles.own_names(config.get("Hostname") or "", config.get("Domainname") or "")
    return text + "".join(f"{ip}\t{names}\n" for ip in addresses if ip)


def hosts_without(text: str, config: dict, addresses: tuple[str, ...]) -> str:
    """/etc/hosts after a disconnect: the lines hosts_with added removed (moby's sbLeave,
    deleteHostsEntries), whatever else the file holds kept."""
    names = netfiles.own_names(config.get("Hostname") or "", config.get("Domainname") or "")
    gone = {f"{ip}\t{names}" for ip in addresses if ip}
    return "".join(line for line in text.splitlines(keepends=True) if line.rstrip("\n") not in gone)
