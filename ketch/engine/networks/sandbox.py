"""A container's network at start and exit: its namespace, endpoints, files and ports.

Start (moby's ``daemon/container_operations.go`` initializeNetworking, then
``libnetwork`` sandbox and endpoint join), for a bridge-driver network:

1. the namespace: the fork server makes it and bind-mounts it on
   ``<exec-root>/netns/<id>``, handing back a netlink socket made inside (and the
   embedded DNS server's sockets on user-defined networks);
2. per network: the bridge exists and is up; an address is taken (an endpoint row);
   a veth pair joins the bridge, its peer made in the namespace as ``ethN``;
3. inside: addresses, links up, the default route through the first network;
4. published ports and the firewall table; the embedded DNS for the container.

The bundle then writes /etc/hosts, /etc/resolv.conf and /etc/hostname from what this
returns, and the runtime joins the namespace by its path. The exit undoes it all in
the opposite order; an undo never fails the caller (it logs).

``none`` leaves the namespace to the runtime (a fresh one with ``lo``); ``host`` uses
the host's; ``container:X`` joins X's namespace through /proc/<pid>/ns/net and shares
X's files.
"""

import asyncio
import ipaddress
import logging
import os
import secrets
from dataclasses import dataclass, replace

from ketch import errors
from ketch.engine.containers.records import ContainerRecord, Registry
from ketch.engine.monitors import MonitorLauncher
from ketch.engine.networks import modes
from ketch.engine.networks.registry import NetworkRegistry
from ketch.engine.networks.settings import NetworkSettings
from ketch.linux import mount as mnt
from ketch.network import netlink
from ketch.network.model import BRIDGE, Endpoint, Network, Pool

log = logging.getLogger("ketchd.network")


@dataclass(frozen=True)
class NetSetup:
    """What a container's bundle needs from its networking."""
    kind: str  # modes.Mode.kind
    netns_path: str | None = None  # join this namespace (bridge and container modes)
    address: str = ""  # the container's first IPv4 address, for /etc/hosts
    files_of: str = ""  # container mode: the container whose hostname/hosts/resolv it shares
    dns: bool = False  # on a user-defined network: resolv.conf names the embedded DNS
    gateway: str = ""  # the first network's IPv4 gateway (host-gateway)


def mac_of(address: str) -> str:
    """moby's (20.10) MAC for an IPv4 address: 02:42 and the address's four bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(address).packed)


def _take_address(pool: Pool, in_use: set[str], cursor: str | None, preferred: str) -> str:
    """The next free address of ``pool`` after ``cursor`` (wrapping), or ``preferred``."""
    subnet = ipaddress.ip_network(pool.subnet)
    span = ipaddress.ip_network(pool.ip_range) if pool.ip_range else subnet
    reserved = {str(subnet.network_address), pool.gateway, *(a for _, a in pool.aux)}
    if subnet.version == 4:
        reserved.add(str(subnet.broadcast_address))
    if preferred:
        if ipaddress.ip_address(preferred) not in span:
            raise errors.InvalidArgument(
                f"no configured subnet or ip-range contain the IP address {preferred}")
        if preferred in in_use or preferred in reserved:
            raise errors.InvalidArgument("Address already in use")
        return preferred
    first, last = int(span.network_address), int(span.broadcast_address)
    start = int(ipaddress.ip_address(cursor)) + 1 if cursor else first
    size = last - first + 1
    for i in range(size):
        n = first + (start - first + i) % size
        candidate = str(ipaddress.ip_address(n))
        if candidate not in in_use and candidate not in reserved:
            return candidate
    raise errors.Unavailable(f"no available IPv{subnet.version} addresses on this network's address pools: {pool.subnet}")


def _check_address(net: Network, address: str, key: str) -> None:
    """moby's validateEndpointSettings for --ip/--ip6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise errors.InvalidArgument(f"invalid IPv{6 if key == 'IPv6Address' else 4} address: {address}") from None
    if net.predefined:
        raise errors.InvalidArgument("user specified IP address is supported on user defined networks only")
    if not any(ip in ipaddress.ip_network(p.subnet) for p in net.pools):
        raise errors.InvalidArgument(f"no configured subnet or ip-range contain the IP address {address}")


class ContainerNetworking:
    def __init__(self, networks: NetworkRegistry, containers: Registry, launcher: MonitorLauncher,
                 links: netlink.HostLinks, settings: NetworkSettings, firewall=None) -> None:
        self.networks = networks
        self.containers = containers
        self.launcher = launcher
        self.links = links
        self.settings = settings
        self.firewall = firewall
        self._bridges_up: set[str] = set()
        self._lock = asyncio.Lock()  # address allocation and bridge creation

    def netns_path(self, cid: str) -> str:
        return os.path.join(self.settings.netns_dir, cid)

    def attached(self, rec: ContainerRecord) -> list[tuple[Network, dict]]:
        """The networks ``rec`` joins at start, its mode's first, with their settings."""
        mode = modes.parse(rec.host_config.get("NetworkMode"))
        wanted = dict(getattr(rec, "networks", None) or {})
        if mode.kind == "bridge" and not wanted:
            wanted = {mode.target: {}}
        out = []
        for name, settings in wanted.items():
            out.append((self.networks.find(settings.get("NetworkID") or name), settings))
        out.sort(key=lambda item: item[0].name != (mode.target if mode.kind == "bridge" else ""))
        return out

    # -- create ---------------------------------------------------------------------
    def at_create(self, config: dict, host_config: dict, endpoints_config: dict | None) -> dict:
        """Check a create's networking (moby's verifyNetworkingConfig) and return what
        its record keeps: network name -> endpoint settings."""
        mode = modes.parse(host_config.get("NetworkMode"))
        modes.conflicts(mode, config, host_config)
        if mode.kind == "container":
            self.containers.get(mode.target)
            return {}
        if mode.kind in ("host", "none"):
            return {mode.kind: {**modes.endpoint_settings((endpoints_config or {}).get(mode.kind)),
                                "NetworkID": self.networks.find(mode.kind).id}}
        out = {}
        wanted = dict(endpoints_config or {})
        if mode.target not in wanted and not any(self._same(mode.target, k) for k in wanted):
            wanted[mode.target] = {}
        for ref, settings in wanted.items():
            net = self.networks.find("bridge" if ref == "default" else ref)
            settings = modes.endpoint_settings(settings)
            ipam = settings.get("IPAMConfig") or {}
            for key in ("IPv4Address", "IPv6Address"):
                if ipam.get(key):
                    _check_address(net, ipam[key], key)
            out[net.name] = {**settings, "NetworkID": net.id}
        return out

    def _same(self, a: str, b: str) -> bool:
        try:
            return self.networks.find(a).id == self.networks.find(b).id
        except errors.NotFound:
            return False

    # -- start ----------------------------------------------------------------------
    async def attach(self, rec: ContainerRecord) -> NetSetup:
        mode = modes.parse(rec.host_config.get("NetworkMode"))
        if mode.kind in ("none", "host"):
            return NetSetup(mode.kind)
        if mode.kind == "container":
            other = self.containers.get(mode.target)
            if not other.state.running:
                raise errors.Conflict(f"cannot join network of a non running container: {other.id}")
            return NetSetup("container", f"/proc/{other.state.pid}/ns/net", files_of=other.id)
        joins = self.attached(rec)
        await self.detach(rec.id)  # what a crash left of an earlier run
        path = self.netns_path(rec.id)
        os.makedirs(self.settings.netns_dir, mode=0o755, exist_ok=True)
        dns = any(not net.predefined for net, _ in joins)
        socks = await self.launcher.netns_sockets(path, create=True, dns=dns)
        try:
            ifaces, endpoints = [], []
            nsfd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                for i, (net, settings) in enumerate(joins):
                    ep, iface = await self._join(rec, net, settings, nsfd, f"eth{i}", first=(i == 0))
                    endpoints.append(ep)
                    ifaces.append(iface)
            finally:
                os.close(nsfd)
            await netlink.configure_inside(socks[0], ifaces)
        except BaseException:
            for s in socks:
                s.close()
            await self.detach(rec.id)
            raise
        for s in socks[1:]:
            s.close()  # the embedded DNS server is wired later; until then its sockets wait
        first = endpoints[0]
        return NetSetup("bridge", path, address=first.address4, dns=dns, gateway=first.gateway4)

    async def _ensure_bridge(self, net: Network) -> None:
        if net.bridge in self._bridges_up:
            return
        addresses = []
        for pool in net.pools:
            plen = ipaddress.ip_network(pool.subnet).prefixlen
            if pool.gateway:
                addresses.append(f"{pool.gateway}/{plen}")
        made = await self.links.ensure_bridge(net.bridge, addresses, net.mtu or self.settings.mtu)
        if made:
            log.info("created bridge %s for network %s", net.bridge, net.name)
        if self.settings.ip_forward and netlink.write_sysctl("net.ipv4.ip_forward", "1"):
            log.info("enabled IPv4 forwarding (net.ipv4.ip_forward=1) for container networks")
        # DNAT of published ports reached on 127.0.0.1 routes loopback sources out the bridge
        netlink.write_sysctl(f"net.ipv4.conf.{net.bridge}.route_localnet", "1")
        if self.firewall is not None:
            await self.firewall.refresh()
        self._bridges_up.add(net.bridge)

    async def _join(self, rec: ContainerRecord, net: Network, settings: dict, nsfd: int,
                    ifname: str, first: bool):
        if net.driver != BRIDGE:
            raise errors.InvalidArgument(f"container cannot be connected to network {net.name}: driver {net.driver}")
        await self._ensure_bridge(net)
        ipam = settings.get("IPAMConfig") or {}
        async with self._lock:
            ipv4 = gateway4 = cursor = None
            pools4 = net.pools_of(4)
            if pools4:
                pool = pools4[0]
                plen = ipaddress.ip_network(pool.subnet).prefixlen
                in_use = self.networks.addresses_in_use(net.id)
                address = _take_address(pool, in_use, self.networks.store.ipam_cursor(net.id, pool.subnet),
                                        ipam.get("IPv4Address") or "")
                ipv4, gateway4 = f"{address}/{plen}", pool.gateway
                if not ipam.get("IPv4Address"):
                    cursor = (pool.subnet, address)
            ipv6 = gateway6 = ""
            pools6 = net.pools_of(6)
            if pools6 and net.ipv6:
                pool = pools6[0]
                plen = ipaddress.ip_network(pool.subnet).prefixlen
                address = _take_address(pool, self.networks.addresses_in_use(net.id), None,
                                        ipam.get("IPv6Address") or "")
                ipv6, gateway6 = f"{address}/{plen}", pool.gateway
            mac = settings.get("MacAddress") or (mac_of(ipv4.partition("/")[0]) if ipv4 else "")
            aliases = tuple(settings.get("Aliases") or ())
            if not net.predefined:
                aliases = aliases + (rec.id[:12],)
            ep = Endpoint(id=secrets.token_hex(32), network_id=net.id, container_id=rec.id,
                          ipv4=ipv4 or "", ipv6=ipv6, mac=mac, gateway4=gateway4 or "",
                          gateway6=gateway6, aliases=aliases,
                          links=tuple(settings.get("Links") or ()),
                          ipam_ipv4=ipam.get("IPv4Address") or "", ipam_ipv6=ipam.get("IPv6Address") or "",
                          host_ifname=netlink.random_ifname(), ifname=ifname, dns=not net.predefined)
            self.networks.put_endpoint(ep, cursor)
        iface = netlink.Interface(
            ifname, ep.ipv4, ep.ipv6, mac,
            gateway4=ep.gateway4 if first and not net.internal else "",
            gateway6=ep.gateway6 if first and not net.internal else "",
            mtu=net.mtu or self.settings.mtu)
        try:
            await self.links.add_veth(ep.host_ifname, nsfd, iface, net.bridge, iface.mtu)
        except BaseException:
            self.networks.delete_endpoint(ep)
            raise
        return ep, iface

    # -- exit -----------------------------------------------------------------------
    async def detach(self, cid: str) -> None:
        """Undo ``attach``: endpoints, veths, ports, the namespace. Never raises."""
        for ep in self.networks.endpoints_of_container(cid):
            try:
                await self.links.delete(ep.host_ifname)
            except errors.KetchError as exc:
                log.warning("cannot delete %s of %s: %s", ep.host_ifname, cid[:12], exc)
            self.networks.delete_endpoint(ep)
        path = self.netns_path(cid)
        if os.path.exists(path):
            try:
                mnt.unmount(path, lazy=True)
            except OSError:
                pass  # not mounted: a crash between the file and its mount
            try:
                os.unlink(path)
            except OSError as exc:
                log.warning("cannot remove %s: %s", path, exc)

    async def sweep(self, alive: set[str]) -> None:
        """After a restart: undo what runs that are over left (a ketchd killed between
        a namespace and its bundle leaves a namespace no exit will find)."""
        try:
            found = set(os.listdir(self.settings.netns_dir))
        except FileNotFoundError:
            found = set()
        found |= {ep.container_id for ep in self.networks.endpoints.values()}
        for cid in sorted(found - alive):
            await self.detach(cid)

    async def shutdown(self) -> None:
        """ketchd stops: with no container attached, its bridges and firewall table go
        (made again on the next start's first container); else all stays for the live ones."""
        if self.networks.endpoints:
            return
        for net in self.networks.all():
            if net.driver == BRIDGE and net.bridge:
                try:
                    await self.links.delete(net.bridge)
                except errors.KetchError as exc:
                    log.warning("cannot delete bridge %s: %s", net.bridge, exc)
        if self.firewall is not None:
            await self.firewall.remove()
        self._bridges_up.clear()

    def endpoints(self, cid: str) -> list[Endpoint]:
        return self.networks.endpoints_of_container(cid)

    def with_ports(self, ep: Endpoint, ports) -> Endpoint:
        return replace(ep, ports=tuple(ports))
