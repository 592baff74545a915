"""A container's published ports, as the firewall and the userland proxy serve them (pure).

Why a module of its own: the allocator (portalloc.py) speaks ``PortBinding`` (what Docker
shows: host address and port), the firewall (nft.py) ``PortForward`` (where NAT sends
packets), and the proxy (proxy.py) takes the connections NAT cannot; which binding goes
where depends only on the binding and the container's addresses, so it is decided here,
once, by a function the tests can read:

  binding host_ip          container has   served by
  "" / 0.0.0.0 / IPv4      IPv4            DNAT to the IPv4 address
  :: / IPv6                IPv6            DNAT to the IPv6 address, plus the proxy (tcp) for [::1]
  :: / IPv6                IPv4 only       the proxy (tcp) to the IPv4 address, as docker-proxy

UDP and SCTP over IPv6 to an IPv4-only container are not served (no proxy for them).
"""

import ipaddress
from dataclasses import dataclass

from ketch.network import model


@dataclass(frozen=True)
class Proxied:
    """A binding whose TCP connections the userland proxy relays to (address, port)."""
    binding: model.PortBinding
    target: tuple[str, int]


@dataclass(frozen=True)
class PortPlan:
    forwards: tuple[model.PortForward, ...]
    proxied: tuple[Proxied, ...]


def plan(bindings: tuple[model.PortBinding, ...], ipv4: str, ipv6: str, bridge: str) -> PortPlan:
    """``ipv4``/``ipv6``: the container's addresses on ``bridge`` (bare, or with a prefix
    length, "" when it has none)."""
    ipv4, ipv6 = ipv4.partition("/")[0], ipv6.partition("/")[0]
    forwards, proxied = [], []
    for b in bindings:
        v6 = b.host_ip != "" and ipaddress.ip_address(b.host_ip).version == 6
        host_ip = "" if b.host_ip in ("", "0.0.0.0", "::") else b.host_ip
        if not v6:
            if ipv4:
                forwards.append(model.PortForward(b.proto, host_ip, b.host_port, ipv4, b.container_port, bridge))
            continue
        if ipv6:
            forwards.append(model.PortForward(b.proto, host_ip, b.host_port, ipv6, b.container_port, bridge))
        target = ipv6 or ipv4
        if b.proto == "tcp" and target and (not ipv6 or _covers_loopback(b.host_ip)):
            proxied.append(Proxied(b, (target, b.container_port)))
    return PortPlan(tuple(forwards), tuple(proxied))


def _covers_loopback(host_ip: str) -> bool:
    return host_ip in ("::", "::1")
