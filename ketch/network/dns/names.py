"""The names the embedded DNS answers: what a container sees of the networks it is on.

Docker's rules (moby v28.5 libnetwork sandbox.ResolveName, network.ResolveName and the
daemon's buildEndpointDNSNames):

- an endpoint's DNS names are, in order, the container's name, its network aliases, its
  short id (12 hex) and its host name; the first one names its PTR record
  (``name.network``);
- a container resolves names only on the networks it is attached to, in the order it
  joined them; the first network that knows the name answers, with every address
  registered under it there (several containers sharing an alias: several addresses);
- ``name.network`` resolves ``name`` on that network only (for ``a.b.c``: ``a.b.c`` on
  every network, then ``a.b`` on network ``c``, then ``a`` on ``b.c``);
- a --link alias on a user-defined network is seen only by the container that made the
  link; a name that is a link alias of the asking endpoint is not looked up as a name;
- names are case-insensitive; network names are not;
- a name that exists with addresses of the other family only still exists: the server
  answers NOERROR with no records, never NXDOMAIN.
"""

import ipaddress
import threading
from dataclasses import dataclass
from typing import Protocol

from ketch.network.model import Endpoint


class Names(Protocol):
    """What the engine tells the embedded DNS. ``context`` is the asking container's id.
    Both are called on the event loop, for every query: answer from memory."""

    def lookup(self, context: str, name: str) -> list[str] | None:
        """Addresses (IPv4 and IPv6 mixed) of ``name`` (no trailing dot needed) as the
        container sees it; [] when it exists without addresses; None when it is not a
        name on the container's networks (the server forwards the query upstream)."""

    def reverse(self, context: str, address: str) -> str | None:
        """The PTR name of ``address`` on the container's networks (``web.mynet``), or None."""


@dataclass(frozen=True)
class Entry:
    """One container on one network, as the DNS sees it."""
    container_id: str
    names: tuple[str, ...]  # DNS names, the PTR name first
    ipv4: str = ""  # an address, no prefix length
    ipv6: str = ""
    links: tuple[tuple[str, str], ...] = ()  # (alias, container name): --link on this network

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(a for a in (self.ipv4, self.ipv6) if a)


def dns_names(name: str, aliases=(), container_id: str = "", hostname: str = "") -> tuple[str, ...]:
    """moby's buildEndpointDNSNames: name, aliases, short id, host name, without repeats."""
    out: list[str] = []
    for n in (name.lstrip("/"), *aliases, container_id[:12], hostname):
        if n and n not in out:
            out.append(n)
    return tuple(out)


def entry_for(endpoint: Endpoint, name: str, hostname: str = "") -> Entry:
    """The Entry of an endpoint of the container ``name`` (with --link as "container:alias")."""
    links = []
    for link in endpoint.links:
        target, _, alias = link.partition(":")
        target = target.lstrip("/")
        links.append((alias or target, target))
    return Entry(endpoint.container_id,
                 dns_names(name, endpoint.aliases, endpoint.container_id, hostname),
                 endpoint.address4, endpoint.address6, tuple(links))


def _normal(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address


class _Network:
    def __init__(self, name: str) -> None:
        self.name = name
        self.entries: dict[str, Entry] = {}  # container id -> entry, in join order

    def resolve(self, name: str) -> list[str] | None:
        found, addrs = False, []
        for e in self.entries.values():
            if e.addresses and name in (n.lower() for n in e.names):
                found = True
                addrs += [a for a in e.addresses if a not in addrs]
        if not found:
            return None
        return [a for a in addrs if ":" not in a] + [a for a in addrs if ":" in a]

    def ptr(self, address: str) -> str | None:
        for e in self.entries.values():
            if address in (_normal(a) for a in e.addresses) and e.names:
                return f"{e.names[0]}.{self.name}"
        return None


class Directory:
    """An in-memory Names: networks -> endpoints -> names. The engine joins and leaves
    endpoints as containers connect and disconnect (from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._networks: dict[str, _Network] = {}  # network id -> network
        self._joined: dict[str, list[str]] = {}  # container id -> network ids, in join order

    def join(self, network_id: str, network_name: str, entry: Entry) -> None:
        """Add (or replace) a container's entry on a network."""
        with self._lock:
            net = self._networks.setdefault(network_id, _Network(network_name))
            net.name = network_name
            net.entries[entry.container_id] = entry
            nets = self._joined.setdefault(entry.container_id, [])
            if network_id not in nets:
                nets.append(network_id)

    def leave(self, network_id: str, container_id: str) -> None:
        with self._lock:
            net = self._networks.get(network_id)
            if net is not None:
                net.entries.pop(container_id, None)
                if not net.entries:
                    del self._networks[network_id]
            nets = self._joined.get(container_id, [])
            if network_id in nets:
                nets.remove(network_id)
            if not nets:
                self._joined.pop(container_id, None)

    def forget(self, container_id: str) -> None:
        """Leave every network (the container stopped or is gone)."""
        for network_id in list(self._joined.get(container_id, ())):
            self.leave(network_id, container_id)

    def _endpoints(self, context: str) -> list[tuple[_Network, Entry]]:
        out = []
        for nid in self._joined.get(context, ()):
            net = self._networks.get(nid)
            if net is not None and context in net.entries:
                out.append((net, net.entries[context]))
        return out

    def lookup(self, context: str, name: str) -> list[str] | None:
        name = name.removesuffix(".")
        # (name, network): the whole name on every network, then split at each dot from
        # the right into a name on the network named by the rest
        candidates = [(name, "")]
        rest = name
        while (i := rest.rfind(".")) != -1:
            candidates.append((name[:i], name[i + 1:]))
            rest = rest[:i]
        with self._lock:
            endpoints = self._endpoints(context)
            for req, network in candidates:
                req = req.lower()
                for net, own in endpoints:  # this container's --link aliases first
                    if network and net.name != network:
                        continue
                    target = next((t for a, t in own.links if a.lower() == req), None)
                    if target is not None and (found := net.resolve(target.lower())) is not None:
                        return found
                for net, own in endpoints:
                    if network and net.name != network:
                        continue
                    if any(a.lower() == req for a, _ in own.links):
                        continue
                    if (found := net.resolve(req)) is not None:
                        return found
        return None

    def reverse(self, context: str, address: str) -> str | None:
        address = _normal(address)
        with self._lock:
            for net, _ in self._endpoints(context):
                if (name := net.ptr(address)) is not None:
                    return name
        return None
