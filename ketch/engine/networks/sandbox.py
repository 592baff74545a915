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
from ketch.engine.networks import etcfiles, modes
from ketch.engine.networks.firewall import Firewall, port_requests
from ketch.engine.networks.registry import NetworkRegistry
from ketch.engine.networks.settings import NetworkSettings
from ketch.linux import mount as mnt
from ketch.apitypes import network as apinet
from ketch.network import epsettings, ipam, netlink
from ketch.network.dns.names import Directory, entry_for
from ketch.network.dns.server import DNSServer
from ketch.network.portalloc import external_connectivity_failed
from ketch.network.model import BRIDGE, Endpoint, Network

log = logging.getLogger("ketchd.network")


@dataclass(frozen=True)
class NetSetup:
    """What a container's bundle needs from its networking."""
    kind: str  # modes.Mode.kind
    netns_path: str | None = None  # join this namespace (bridge and container modes)
    files: etcfiles.EtcFiles | None = None  # its hostname, hosts, resolv.conf
    files_of: str = ""  # container mode: the container whose hostname/hosts/resolv it shares
    env: tuple[str, ...] = ()  # --link variables


def _settings_doc(settings: apinet.EndpointSettings, network_id: str) -> dict:
    """An EndpointSettings as the record keeps it (Docker's field names)."""
    doc: dict = {"NetworkID": network_id}
    ipam_cfg = {k: v for k, v in (("IPv4Address", settings.ipv4_address),
                                  ("IPv6Address", settings.ipv6_address)) if v}
    if settings.link_local_ips:
        ipam_cfg["LinkLocalIPs"] = list(settings.link_local_ips)
    if ipam_cfg:
        doc["IPAMConfig"] = ipam_cfg
    for key, value in (("Aliases", list(settings.aliases)), ("Links", list(settings.links)),
                       ("MacAddress", settings.mac_address)):
        if value:
            doc[key] = value
    return doc


def _host_files() -> tuple[str, str]:
    out = []
    for path in ("/etc/hosts", "/etc/resolv.conf"):
        try:
            with open(path) as f:
                out.append(f.read())
        except OSError:
            out.append("")
    return out[0], out[1]


class ContainerNetworking:
    def __init__(self, networks: NetworkRegistry, containers: Registry, launcher: MonitorLauncher,
                 links: netlink.HostLinks, settings: NetworkSettings,
                 firewall: Firewall | None = None, host_files=None) -> None:
        self.networks = networks
        # the host's /etc/hosts and /etc/resolv.conf, read at each start (tests pass their own)
        self.host_files = host_files or _host_files
        self.directory = Directory()
        self.dns = DNSServer(self.directory, self._host_upstreams)
        self.containers = containers
        self.launcher = launcher
        self.links = links
        self.settings = settings
        self.firewall = firewall
        self._bridges_up: set[str] = set()
        self._unlinking: set[asyncio.Task] = set()  # veths of runs that are over, being deleted
        self._lock_of: dict[str, asyncio.Lock] = {}  # per container: connects and disconnects
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
        for item in host_config.get("Links") or ():  # moby's registerLinks, at create
            name = item.partition(":")[0].strip("/")
            if self.containers.find(name) is None:
                raise errors.NotFound(f"could not get container for {name}")
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
            try:
                epsettings.check_endpoint(net, apinet.endpoint_settings(settings))
            except errors.KetchError as exc:
                raise type(exc)(f"invalid config for network {net.name}: {exc}") from None
            settings = modes.endpoint_settings(settings)
            if ref == mode.target and not net.predefined and host_config.get("Links"):
                # --link on a user-defined network: a name only the linking container resolves
                settings["Links"] = list(settings.get("Links") or ()) + list(host_config["Links"])
            out[net.name] = {**settings, "NetworkID": net.id}
        etcfiles.extra_hosts(host_config.get("ExtraHosts"), self.host_gateway())
        return out

    def _same(self, a: str, b: str) -> bool:
        try:
            return self.networks.find(a).id == self.networks.find(b).id
        except errors.NotFound:
            return False

    def _host_upstreams(self) -> list[str]:
        _, resolv = self.host_files()
        return [line.split()[1] for line in resolv.splitlines()
                if line.startswith("nameserver") and len(line.split()) > 1]

    def host_gateway(self) -> str:
        if self.settings.host_gateway_ip:
            return self.settings.host_gateway_ip
        net = self.networks.by_name("bridge")
        pools = net.pools_of(4) if net else ()
        return pools[0].gateway if pools else ""

    def _files(self, rec: ContainerRecord, kind: str, address: str = "", dns: bool = False,
               links: tuple[etcfiles.Link, ...] = ()) -> etcfiles.EtcFiles:
        hosts, resolv = self.host_files()
        return etcfiles.render(rec.config, rec.host_config, kind, address, dns, hosts, resolv,
                               self.host_gateway(), links)

    def _links(self, rec: ContainerRecord, net: Network) -> tuple[etcfiles.Link, ...]:
        """--link name:alias on the default bridge (moby's legacy links)."""
        out = []
        for item in rec.host_config.get("Links") or ():
            name, _, alias = item.partition(":")
            name = name.strip("/")
            alias = alias.rsplit("/", 1)[-1] or name
            target = self.containers.find(name)
            if target is None:
                raise errors.InvalidArgument(f"could not get container for {name}")
            if not target.state.running:
                raise errors.InvalidArgument(
                    f"Cannot link to a non running container: /{target.name} AS /{rec.name}/{alias}")
            eps = [ep for ep in self.networks.endpoints_of_container(target.id) if ep.network_id == net.id]
            if not eps:
                raise errors.InvalidArgument(
                    f"Cannot link to /{target.name}, as it does not belong to the default network")
            exposed = tuple((int(k.split("/")[0]), k.partition("/")[2] or "tcp")
                            for k in (target.config.get("ExposedPorts") or {}) if k.split("/")[0].isdigit())
            out.append(etcfiles.Link(alias, target.name, target.config.get("Hostname") or target.id[:12],
                                     eps[0].address4, exposed, tuple(target.config.get("Env") or ())))
        return tuple(out)

    # -- start ----------------------------------------------------------------------
    async def attach(self, rec: ContainerRecord) -> NetSetup:
        mode = modes.parse(rec.host_config.get("NetworkMode"))
        if mode.kind in ("none", "host"):
            return NetSetup(mode.kind, files=self._files(rec, mode.kind))
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
            await self._publish(rec, endpoints)
            first_net = joins[0][0]
            links = self._links(rec, first_net) if first_net.predefined else ()
            files = self._files(rec, "bridge", endpoints[0].address4, dns, links)
            if dns:
                self._serve_dns(rec, joins, endpoints, socks[1], socks[2], files)
        except BaseException:
            for s in socks:
                s.close()
            await self.detach(rec.id)
            raise
        return NetSetup("bridge", path, files=files, env=tuple(etcfiles.link_env(links, rec.name)))

    async def _publish(self, rec: ContainerRecord, endpoints: list[Endpoint]) -> None:
        """-p and -P, on the first network's endpoint (moby publishes through the
        network that gives the container its gateway)."""
        requests = port_requests(rec.host_config, rec.config.get("ExposedPorts"))
        if not requests or self.firewall is None:
            return
        ep = endpoints[0]
        try:
            bindings = self.firewall.reserve(requests)
        except errors.KetchError as exc:
            raise external_connectivity_failed(rec.name, ep.id, exc) from None
        ep = replace(ep, ports=bindings)
        self.networks.put_endpoint(ep)
        endpoints[0] = ep
        await self.firewall.publish(ep)

    def _serve_dns(self, rec: ContainerRecord, joins, endpoints, udp, tcp,
                   files: etcfiles.EtcFiles) -> None:
        hostname = rec.config.get("Hostname") or ""
        for (net, _), ep in zip(joins, endpoints):
            if ep.dns:
                self.directory.join(net.id, net.name, entry_for(ep, rec.name, hostname))
        forward = not all(net.internal for net, _ in joins if not net.predefined)
        self.dns.attach(rec.id, udp, tcp, upstreams=files.upstreams, ndots_set=files.ndots_set,
                        forward=forward)

    async def restore(self, rec: ContainerRecord) -> None:
        """ketchd restarted with ``rec`` running: reserve its ports and serve its names
        again (the sockets died with the old ketchd). A failure is logged: the container
        runs on, as it did."""
        try:
            await self._restore(rec)
        except (errors.KetchError, OSError) as exc:
            log.warning("cannot restore the network of %s: %s", rec.id[:12], exc)

    async def _restore(self, rec: ContainerRecord) -> None:
        endpoints = self.networks.endpoints_of_container(rec.id)
        if self.firewall is not None and any(ep.ports for ep in endpoints):
            await self.firewall.restore(endpoints)
        if not any(ep.dns for ep in endpoints):
            return
        joins = [(self.networks.by_id[ep.network_id], {}) for ep in endpoints
                 if ep.network_id in self.networks.by_id]
        try:
            socks = await self.launcher.netns_sockets(self.netns_path(rec.id), create=False, dns=True)
        except errors.KetchError as exc:
            log.warning("cannot serve names to %s again: %s", rec.id[:12], exc)
            return
        socks[0].close()
        files = self._files(rec, "bridge", endpoints[0].address4, True)
        self._serve_dns(rec, joins, endpoints, socks[1], socks[2], files)

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
        if self.settings.ip_forward and net.ipv6 and \
                netlink.write_sysctl("net.ipv6.conf.all.forwarding", "1"):
            log.info("enabled IPv6 forwarding (net.ipv6.conf.all.forwarding=1) for container networks")
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
        want = settings.get("IPAMConfig") or {}
        async with self._lock:
            in_use = self.networks.addresses_in_use(net.id)
            ipv4 = ipam.assign(net, 4, in_use, want.get("IPv4Address") or "")
            ipv6 = ipam.assign(net, 6, in_use, want.get("IPv6Address") or "") if net.ipv6 else ""
            pools4, pools6 = net.pools_of(4), net.pools_of(6)
            gateway4 = pools4[0].gateway if ipv4 and pools4 else ""
            gateway6 = pools6[0].gateway if ipv6 and pools6 else ""
            mac = settings.get("MacAddress") or ipam.mac_address(ipv4.partition("/")[0])
            aliases = tuple(settings.get("Aliases") or ())
            if not net.predefined:
                aliases = aliases + (rec.id[:12],)
            ep = Endpoint(id=secrets.token_hex(32), network_id=net.id, container_id=rec.id,
                          ipv4=ipv4 or "", ipv6=ipv6, mac=mac, gateway4=gateway4 or "",
                          gateway6=gateway6, aliases=aliases,
                          links=tuple(settings.get("Links") or ()),
                          ipam_ipv4=want.get("IPv4Address") or "", ipam_ipv6=want.get("IPv6Address") or "",
                          host_ifname=netlink.random_ifname(), ifname=ifname, dns=not net.predefined)
            self.networks.put_endpoint(ep)
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
        self.dns.detach(cid)
        self.directory.forget(cid)
        published = False
        for ep in self.networks.endpoints_of_container(cid):
            if ep.ports and self.firewall is not None:
                await self.firewall.unpublish(ep)
                published = True
            self._unlink(ep.host_ifname, cid)
            self.networks.delete_endpoint(ep)
        if published:
            try:
                await self.firewall.refresh()
            except errors.KetchError as exc:
                log.warning("cannot update the firewall after %s: %s", cid[:12], exc)
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

    def _unlink(self, ifname: str, cid: str) -> None:
        """Delete the host end of a veth whose container's run is over, in the background:
        the kernel deletes a link inside an RCU grace period under the RTNL lock (15-30 ms
        on a quiet host), which would otherwise delay every `run --rm` by that much
        (bench/network.py). Nothing waits for the link: its container end went down with
        the namespace, its address is released with the endpoint row (the MAC address
        comes from the address, so a new holder looks the same to the bridge), and a
        namespace the kernel destroys takes the pair with it (so this may find it gone).
        ``settle`` waits for the deletions (ketchd's shutdown)."""
        async def unlink() -> None:
            try:
                await self.links.delete(ifname)
            except errors.KetchError as exc:
                log.warning("cannot delete %s of %s: %s", ifname, cid[:12], exc)

        task = asyncio.get_running_loop().create_task(unlink())
        self._unlinking.add(task)
        task.add_done_callback(self._unlinking.discard)

    async def settle(self) -> None:
        """Wait for the veth deletions under way."""
        while self._unlinking:
            await asyncio.gather(*self._unlinking, return_exceptions=True)

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
        await self.settle()
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

    async def close(self) -> None:
        await self.settle()
        await self.dns.close()
        if self.firewall is not None:
            await self.firewall.close()

    # -- connect, disconnect --------------------------------------------------------
    async def connect(self, rec: ContainerRecord, net: Network, settings: apinet.EndpointSettings) -> None:
        """`docker network connect`: recorded on the container, joined at once if it runs."""
        mode = modes.parse(rec.host_config.get("NetworkMode"))
        if net.driver == "host" or mode.kind == "host":
            raise errors.InvalidArgument("container cannot be disconnected from host network or connected to host network")
        if net.driver == "null" or mode.kind in ("none", "container"):
            raise errors.InvalidArgument("container cannot be connected to multiple networks with one of the networks in private (none) mode")
        if any(self._same(name, net.id) for name in rec.networks):
            raise errors.PermissionDenied(f"endpoint with name {rec.name} already exists in network {net.name}")
        epsettings.check_endpoint(net, settings)
        doc = _settings_doc(settings, net.id)
        async with self._connecting(rec):
            if rec.state.running:
                await self._join_running(rec, net, doc)
            rec.networks = {**rec.networks, net.name: doc}
            self.containers.save(rec)

    def _connecting(self, rec: ContainerRecord) -> asyncio.Lock:
        return self._lock_of.setdefault(rec.id, asyncio.Lock())

    async def _join_running(self, rec: ContainerRecord, net: Network, doc: dict) -> None:
        path = self.netns_path(rec.id)
        used = {ep.ifname for ep in self.networks.endpoints_of_container(rec.id)}
        ifname = next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)
        socks = await self.launcher.netns_sockets(path, create=False, dns=False)
        nsfd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            ep, iface = await self._join(rec, net, doc, nsfd, ifname, first=False)
        except BaseException:
            socks[0].close()
            raise
        finally:
            os.close(nsfd)
        try:
            await netlink.configure_inside(socks[0], [iface])
        except BaseException:
            await self._leave(ep)
            raise
        if ep.dns:
            self.directory.join(net.id, net.name, entry_for(ep, rec.name, rec.config.get("Hostname") or ""))
            if rec.id not in self.dns.attached():
                await self._open_dns(rec)

    async def _open_dns(self, rec: ContainerRecord) -> None:
        try:
            socks = await self.launcher.netns_sockets(self.netns_path(rec.id), create=False, dns=True)
        except errors.KetchError as exc:
            log.warning("cannot serve names to %s: %s", rec.id[:12], exc)
            return
        socks[0].close()
        files = self._files(rec, "bridge", "", True)
        self.dns.attach(rec.id, socks[1], socks[2], upstreams=files.upstreams,
                        ndots_set=files.ndots_set)

    async def disconnect(self, rec: ContainerRecord, net: Network, force: bool) -> None:
        names = [name for name in rec.networks if self._same(name, net.id)]
        if not names:
            raise errors.Internal(f"container {rec.id} is not connected to network {net.name}")
        async with self._connecting(rec):
            for ep in self.networks.endpoints_of_container(rec.id):
                if ep.network_id == net.id:
                    await self._leave(ep)
                    self.directory.leave(net.id, rec.id)
            rec.networks = {k: v for k, v in rec.networks.items() if k not in names}
            self.containers.save(rec)

    async def _leave(self, ep: Endpoint) -> None:
        if ep.ports and self.firewall is not None:
            await self.firewall.unpublish(ep)
        await self.links.delete(ep.host_ifname)
        self.networks.delete_endpoint(ep)
        if ep.ports and self.firewall is not None:
            await self.firewall.refresh()

    def forget_bridge(self, bridge: str) -> None:
        self._bridges_up.discard(bridge)

    def view(self, rec: ContainerRecord) -> list[tuple[str, dict, Endpoint | None, Network | None]]:
        """Per network of ``rec``: its name, the settings asked for, and while it runs its
        endpoint and the network (what the API shows as NetworkSettings.Networks)."""
        eps = {ep.network_id: ep for ep in self.networks.endpoints_of_container(rec.id)}
        out = []
        for name, settings in (rec.networks or {}).items():
            net = self.networks.by_id.get(settings.get("NetworkID", "")) or self.networks.by_name(name)
            ep = eps.get(net.id) if net is not None and rec.state.running else None
            out.append((net.name if net is not None else name, settings, ep, net))
        return out

    def sandbox(self, rec: ContainerRecord) -> tuple[str, str]:
        """(SandboxID, SandboxKey) of a running container with a namespace of its own."""
        path = self.netns_path(rec.id)
        return (rec.id, path) if self.networks.endpoints_of_container(rec.id) else ("", "")

    def endpoints(self, cid: str) -> list[Endpoint]:
        return self.networks.endpoints_of_container(cid)

    def with_ports(self, ep: Endpoint, ports) -> Endpoint:
        return replace(ep, ports=tuple(ports))
