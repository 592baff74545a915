"""The Linux bridges of bridge networks: made with a network's first container, deleted
with the network or when ketchd stops with nothing attached, and only when ketch made
them (moby's bridge creator: a bridge the user gave, ``-b br0`` or the bridge.name
option on an existing one, is used, never deleted).

``lock`` orders the changes of a network's topology: an endpoint's address is taken and
recorded under it, and a network is removed under it, so a start and a ``network rm``
never interleave (the start finds the network gone, or the rm finds the endpoint).
"""

import asyncio
import ipaddress
import logging
from dataclasses import replace

from ketch import errors
from ketch.engine.networks.firewall import Firewall
from ketch.engine.networks.registry import NetworkRegistry
from ketch.engine.networks.settings import NetworkSettings
from ketch.network import netlink
from ketch.network.model import BRIDGE, Network

log = logging.getLogger("ketchd.network")


class Bridges:
    def __init__(self, networks: NetworkRegistry, links: netlink.HostLinks,
                 settings: NetworkSettings, firewall: Firewall | None) -> None:
        self.networks = networks
        self.links = links
        self.settings = settings
        self.firewall = firewall
        self.lock = asyncio.Lock()
        self._up: set[str] = set()  # bridges ready in this ketchd's life

    async def ensure(self, net: Network) -> None:
        """setupDevice, setupBridgeIPv4, setupDeviceUp, then forwarding and the firewall
        (caller holds ``lock``)."""
        if net.bridge in self._up:
            return
        addresses = [f"{p.gateway}/{ipaddress.ip_network(p.subnet).prefixlen}"
                     for p in net.pools if p.gateway]
        if await self.links.ensure_bridge(net.bridge, addresses, net.mtu or self.settings.mtu):
            log.info("created bridge %s for network %s", net.bridge, net.name)
            if not net.bridge_owned:
                self.networks.put(replace(net, bridge_owned=True))
        if self.settings.ip_forward and netlink.write_sysctl("net.ipv4.ip_forward", "1"):
            log.info("enabled IPv4 forwarding (net.ipv4.ip_forward=1) for container networks")
        if self.settings.ip_forward and net.ipv6 and \
                netlink.write_sysctl("net.ipv6.conf.all.forwarding", "1"):
            log.info("enabled IPv6 forwarding (net.ipv6.conf.all.forwarding=1) for container networks")
        if self.firewall is not None and self.settings.iptables:
            await self.firewall.refresh()
            # DNAT of ports published on 127.0.0.1 routes loopback sources out the bridge;
            # only once the table that drops what containers send to 127/8 is in place
            netlink.write_sysctl(f"net.ipv4.conf.{net.bridge}.route_localnet", "1")
        self._up.add(net.bridge)

    async def remove(self, net: Network) -> None:
        """The network is going: its bridge too, if ketch made it (caller holds ``lock``)."""
        self._up.discard(net.bridge)
        if net.bridge_owned:
            await self.links.delete(net.bridge)

    async def shutdown(self) -> None:
        """ketchd stops with no container attached: the bridges ketch made go (made again
        with the next start's first container)."""
        async with self.lock:
            for net in self.networks.all():
                if net.driver != BRIDGE or not net.bridge_owned:
                    continue
                try:
                    await self.links.delete(net.bridge)
                    self.networks.put(replace(net, bridge_owned=False))
                except errors.KetchError as exc:
                    log.warning("cannot delete bridge %s: %s", net.bridge, exc)
            self._up.clear()
