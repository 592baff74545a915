"""ketch's firewall table and published ports, kept in step with the networks.

The whole table is rendered from what is recorded (every bridge network, every running
endpoint's published ports) and replaced in one kernel transaction whenever either
changes (``network/nft.py``); nothing is patched rule by rule, so a restart or a crash
between two changes cannot leave rules that no record explains.

Host ports are reserved by sockets ketchd holds (``network/portalloc.py``): a port taken
by another program fails the container's start with Docker's error; connections NAT
cannot serve (``[::1]``) go through ketchd's proxy (``network/proxy.py``).
"""

import asyncio
import json
import logging

from ketch import errors
from ketch.apitypes import ports
from ketch.engine.networks.registry import NetworkRegistry
from ketch.engine.networks.settings import NetworkSettings
from ketch.network import model, nft, portmap
from ketch.network.model import BRIDGE, Endpoint, PortBinding
from ketch.network.portalloc import PortAllocator, PortRequest
from ketch.network.proxy import TcpProxy

log = logging.getLogger("ketchd.network")


def port_requests(host_config: dict, exposed: dict | None) -> list[PortRequest]:
    """HostConfig.PortBindings (and, with PublishAllPorts, every exposed port without a
    binding) as the allocator's requests; a bad port is moby's ``invalid port
    specification`` (its verifyContainerSettings, at create)."""
    bindings = dict(host_config.get("PortBindings") or {})
    if host_config.get("PublishAllPorts"):
        for key in exposed or {}:
            bindings.setdefault(key, [{"HostIp": "", "HostPort": ""}])
    out = []
    for key, items in bindings.items():
        proto, port = ports.split_proto_port(str(key))
        proto = proto.lower()
        c_first, c_last = _port_range(port)
        if proto not in model.PROTOCOLS:
            raise errors.InvalidArgument(f"invalid port specification: {json.dumps(str(key))}")
        for item in items or [{}]:
            host_ip = (item or {}).get("HostIp") or ""
            host = str((item or {}).get("HostPort") or "")
            h_first, h_last = _port_range(host) if host else (0, 0)
            for offset, c in enumerate(range(c_first, c_last + 1)):
                if c_last > c_first and h_first:  # 8000-8010:80-90, one to one
                    out.append(PortRequest(proto, c, host_ip, h_first + offset))
                else:  # one host port, a range to pick from, or any
                    out.append(PortRequest(proto, c, host_ip, h_first, h_last if h_last > h_first else 0))
    return out


def _port_range(text: str) -> tuple[int, int]:
    try:
        return ports.parse_port_range(text)
    except ValueError:
        raise errors.InvalidArgument(f"invalid port specification: {json.dumps(text)}") from None


def _forwarded(bindings, forwards):
    """The bindings NAT would serve, each with its forward (same host port and protocol)."""
    for f in forwards:
        for b in bindings:
            if (b.proto, b.host_port, b.container_port) == (f.proto, f.host_port, f.container_port) \
                    and ":" not in b.host_ip:
                yield b, f
                break


def _host_has_ipv6() -> bool:
    """Docker publishes on 0.0.0.0 and on :: when the host has IPv6."""
    try:
        with open("/proc/sys/net/ipv6/conf/all/disable_ipv6") as f:
            return f.read().strip() == "0"
    except OSError:
        return False


class Firewall:
    def __init__(self, networks: NetworkRegistry, settings: NetworkSettings,
                 ports: PortAllocator | None = None) -> None:
        self.networks = networks
        self.settings = settings
        self.ports = ports or PortAllocator(dual_stack=_host_has_ipv6())
        self._proxies: dict[str, list[TcpProxy]] = {}  # endpoint id -> its proxies
        self._lock = asyncio.Lock()

    def _ruleset(self) -> nft.Ruleset:
        bridges = tuple(nft.bridge_rules(n) for n in self.networks.all()
                        if n.driver == BRIDGE and n.bridge)
        forwards: list[model.PortForward] = []
        for ep in self.networks.endpoints.values():
            net = self.networks.by_id.get(ep.network_id)
            if ep.ports and net is not None:
                forwards += portmap.plan(ep.ports, ep.ipv4, ep.ipv6, net.bridge).forwards
        return nft.Ruleset(self.settings.firewall_table, bridges, tuple(forwards))

    async def refresh(self) -> None:
        """Replace ketch's table with what is recorded now."""
        if not self.settings.iptables:
            return
        async with self._lock:
            await asyncio.to_thread(nft.apply, self._ruleset())

    async def remove(self) -> None:
        if self.settings.iptables:
            async with self._lock:
                await asyncio.to_thread(nft.remove, self.settings.firewall_table)

    # -- ports --------------------------------------------------------------------------
    def reserve(self, requests: list[PortRequest]) -> tuple[PortBinding, ...]:
        """Host ports for ``requests``, all or none (Docker's errors when taken)."""
        return self.ports.allocate(requests) if requests else ()

    async def publish(self, ep: Endpoint) -> None:
        """``ep``'s ports are recorded: program NAT and start the proxies NAT cannot do."""
        await self.refresh()
        await self._start_proxies(ep)

    async def unpublish(self, endpoints: list[Endpoint]) -> None:
        """The ports of endpoints no longer recorded: proxies stopped, the table replaced,
        and only then the host ports released (no other start gets a port while a rule
        still sends it to the old container)."""
        for ep in endpoints:
            for proxy in self._proxies.pop(ep.id, []):
                await proxy.close()
        try:
            await self.refresh()
        finally:
            for ep in endpoints:
                self.ports.release(ep.ports)

    async def restore(self, endpoints: list[Endpoint]) -> None:
        """After a ketchd restart: reserve the live containers' ports again and program
        the table (it survived in the kernel; it is replaced with the same rules)."""
        for ep in endpoints:
            if ep.ports:
                lost = self.ports.restore(ep.ports)
                for b in lost:
                    log.warning("port %s:%d of %s is held by another program now",
                                b.host_ip, b.host_port, ep.container_id[:12])
        if self.networks.endpoints:
            await self.refresh()
        for ep in endpoints:
            if ep.ports:
                await self._start_proxies(ep)

    async def _start_proxies(self, ep: Endpoint) -> None:
        net = self.networks.by_id.get(ep.network_id)
        if net is None or ep.id in self._proxies:
            return
        proxies = []
        plan = portmap.plan(ep.ports, ep.ipv4, ep.ipv6, net.bridge)
        proxied = list(plan.proxied)
        if not self.settings.iptables:  # no NAT: the proxy serves what it can (TCP)
            proxied += [portmap.Proxied(b, (f.container_ip, f.container_port))
                        for b, f in _forwarded(ep.ports, plan.forwards) if f.proto == "tcp"]
        for item in proxied:
            sock = self.ports.socket_of(item.binding)
            if sock is not None:
                proxy = TcpProxy(sock, item.target)
                await proxy.start()
                proxies.append(proxy)
        if proxies:
            self._proxies[ep.id] = proxies

    async def close(self) -> None:
        for proxies in self._proxies.values():
            for proxy in proxies:
                await proxy.close()
        self._proxies.clear()
        self.ports.close()
