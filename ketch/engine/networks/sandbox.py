"""A container's network at start and exit: its namespace, endpoints, files and ports,
and `network connect`/`disconnect` while it runs.

Start (moby's ``daemon/container_operations.go`` initializeNetworking, then
``libnetwork`` sandbox and endpoint join), for bridge-driver networks:

1. the namespace: the fork server makes it and bind-mounts it on
   ``<exec-root>/netns/<id>``, handing back a netlink socket made inside (and the
   embedded DNS server's sockets on user-defined networks);
2. per network (internal ones last, as moby sorts them): the bridge exists and is up
   (``bridges.py``); an address is taken (an endpoint row); a veth pair joins the
   bridge, its peer made in the namespace as ``ethN``;
3. inside: addresses, links up, the default route through the first network that is
   not internal;
4. published ports and the firewall table; the embedded DNS for the container.

The bundle then writes /etc/hosts, /etc/resolv.conf and /etc/hostname from what this
returns, and the runtime joins the namespace by its path. The exit undoes it all in
the opposite order; an undo never fails the caller (it logs). Every change runs under
the container's lock (``ContainerLocks``: the lifecycle holds it for start and exit,
connect and disconnect take it), so none meets another halfway.

``none`` leaves the namespace to the runtime (a fresh one with ``lo``); ``host`` uses
the host's; ``container:X`` joins X's namespace (its bind mount) and shares X's files.
"""

import asyncio
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

from ketch import errors
from ketch.apitypes import network as apinet
from ketch.engine.containers.locks import ContainerLocks
from ketch.engine.containers.records import ContainerRecord, Registry
from ketch.engine.monitors import MonitorLauncher
from ketch.engine.networks import createcheck, etcfiles, modes
from ketch.engine.networks.bridges import Bridges
from ketch.engine.networks.etcmaker import EtcMaker, HostFiles
from ketch.engine.networks.firewall import Firewall, port_requests
from ketch.engine.networks.registry import NetworkRegistry
from ketch.engine.networks.settings import NetworkSettings
from ketch.linux import mount as mnt
from ketch.network import epsettings, ipam, netlink, nft
from ketch.network.dns.names import Directory, entry_for
from ketch.network.dns.server import DNSServer
from ketch.network.model import BRIDGE, Endpoint, Network
from ketch.network.portalloc import external_connectivity_failed

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


def _rewrite(path: str, change: Callable[[str], str]) -> None:
    """Rewrite a file a running container has bind-mounted: in place (a new inode would
    not reach it); a best effort, logged when it fails."""
    try:
        with open(path, "r+") as f:
            text = f.read()
            f.seek(0)
            f.truncate()
            f.write(change(text))
    except OSError as exc:
        log.warning("cannot rewrite %s: %s", path, exc)


def _addresses(endpoints: list[Endpoint]) -> tuple[str, ...]:
    return tuple(a for ep in endpoints for a in (ep.address4, ep.address6) if a)


class ContainerNetworking:
    def __init__(self, networks: NetworkRegistry, containers: Registry, launcher: MonitorLauncher,
                 links: netlink.HostLinks, settings: NetworkSettings, locks: ContainerLocks,
                 firewall: Firewall | None = None, host_files: HostFiles | None = None,
                 resolv_conf: Callable[[str], str] | None = None,
                 hosts: Callable[[str], str] | None = None) -> None:
        self.networks = networks
        # a container's resolv.conf and hosts on the host (bind-mounted: rewritten in place)
        self.resolv_conf = resolv_conf
        self.hosts = hosts
        self.containers = containers
        self.launcher = launcher
        self.links = links
        self.settings = settings
        self.locks = locks
        self.firewall = firewall
        self.bridges = Bridges(networks, links, settings, firewall)
        self.etc = EtcMaker(networks, containers, settings, host_files or HostFiles())
        self.directory = Directory()
        self.dns = DNSServer(self.directory, self.etc.host_files.upstreams)
        self._unlinking: set[asyncio.Task] = set()  # veths of runs that are over, being deleted

    def netns_path(self, cid: str) -> str:
        return os.path.join(self.settings.netns_dir, cid)

    def at_create(self, config: dict, host_config: dict, endpoints_config: dict | None) -> dict:
        return createcheck.check_create(self.networks, self.containers, self.etc.host_gateway(),
                                        config, host_config, endpoints_config)

    def create_warnings(self, host_config: dict) -> list[str]:
        return modes.warnings(host_config)

    def attached(self, rec: ContainerRecord) -> list[tuple[Network, dict]]:
        """The networks ``rec`` joins at start with their settings: its mode's first,
        internal ones last (moby's order; the gateway is the first one's)."""
        mode = modes.parse(rec.host_config.get("NetworkMode"))
        wanted = dict(rec.networks or {})
        if mode.kind == "bridge" and not wanted:
            wanted = {mode.target: {}}
        first = self.networks.find(mode.target).id if mode.kind == "bridge" else ""
        out = [(self.networks.find(settings.get("NetworkID") or name), settings)
               for name, settings in wanted.items()]
        out.sort(key=lambda item: (item[0].internal, item[0].id != first))
        return out

    # -- start ----------------------------------------------------------------------
    async def attach(self, rec: ContainerRecord) -> NetSetup:
        """The container's network, before its bundle (caller holds its lock)."""
        mode = modes.parse(rec.host_config.get("NetworkMode"))
        if rec.config.get("NetworkDisabled"):
            mode = modes.Mode("none")  # moby: no network at all, whatever the mode says
        if mode.kind in ("none", "host"):
            return NetSetup(mode.kind, files=self.etc.files(rec, mode.kind))
        if mode.kind == "container":
            other = self.containers.get(mode.target)
            if not other.state.running:
                raise errors.Conflict(f"cannot join network of a non running container: {other.id}")
            # its namespace's bind mount when it has one: a pid can be reused
            path = self.netns_path(other.id)
            if not os.path.exists(path):
                path = f"/proc/{other.state.pid}/ns/net"
            # moby's initializeNetworking: it takes the other's host and domain names too
            # (as its shared /etc/hostname says), kept in its Config as inspect shows them
            rec.config["Hostname"] = other.config.get("Hostname") or other.id[:12]
            rec.config["Domainname"] = other.config.get("Domainname") or ""
            return NetSetup("container", path, files_of=other.id)
        joins = self.attached(rec)
        await self.detach(rec.id)  # what a crash left of an earlier run
        path = self.netns_path(rec.id)
        os.makedirs(self.settings.netns_dir, mode=0o755, exist_ok=True)
        dns = any(not net.predefined for net, _ in joins)
        socks = await self.launcher.netns_sockets(path, create=True, dns=dns)
        try:
            endpoints, ifaces = await self._join_all(rec, path, joins)
            await netlink.configure_inside(socks[0], ifaces)
            await self._publish(rec, endpoints)
            first_net = joins[0][0]
            links = self.etc.links(rec, first_net) if first_net.predefined else ()
            files = self.etc.files(rec, "bridge", _addresses(endpoints), dns, links)
            if dns:
                self._join_directory(rec)
                self._attach_dns(rec, socks[1], socks[2], files)
        except BaseException:
            for s in socks:
                s.close()
            await self.detach(rec.id)
            raise
        return NetSetup("bridge", path, files=files, env=tuple(etcfiles.link_env(links, rec.name)))

    async def _join_all(self, rec: ContainerRecord, path: str, joins):
        endpoints, ifaces = [], []
        gateway = next((i for i, (net, _) in enumerate(joins) if not net.internal), -1)
        nsfd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            for i, (net, settings) in enumerate(joins):
                ep, iface = await self._join(rec, net, settings, nsfd, f"eth{i}", i == gateway)
                endpoints.append(ep)
                ifaces.append(iface)
        finally:
            os.close(nsfd)
        return endpoints, ifaces

    async def _join(self, rec: ContainerRecord, net: Network, settings: dict, nsfd: int,
                    ifname: str, gateway: bool) -> tuple[Endpoint, netlink.Interface]:
        """One endpoint: an address recorded, then its veth pair."""
        if net.driver != BRIDGE:
            raise errors.InvalidArgument(f"container cannot be connected to network {net.name}: driver {net.driver}")
        want = settings.get("IPAMConfig") or {}
        async with self.bridges.lock:
            name, net = net.name, self.networks.by_id.get(net.id)  # removed meanwhile? (rm holds the lock)
            if net is None:
                raise errors.NotFound(f"network {settings.get('NetworkID') or name} not found")
            await self.bridges.ensure(net)
            net = self.networks.by_id[net.id]
            in_use = self.networks.addresses_in_use(net.id)
            ipv4 = ipam.assign(net, 4, in_use, want.get("IPv4Address") or "")
            ipv6 = ipam.assign(net, 6, in_use, want.get("IPv6Address") or "") if net.ipv6 else ""
            pools4, pools6 = net.pools_of(4), net.pools_of(6)
            aliases = tuple(settings.get("Aliases") or ())
            if not net.predefined:
                aliases = aliases + (rec.id[:12],)
            ep = Endpoint(id=secrets.token_hex(32), network_id=net.id, container_id=rec.id,
                          ipv4=ipv4, ipv6=ipv6,
                          mac=settings.get("MacAddress") or ipam.mac_address(ipv4.partition("/")[0]),
                          gateway4=pools4[0].gateway if ipv4 and pools4 else "",
                          gateway6=pools6[0].gateway if ipv6 and pools6 else "", aliases=aliases,
                          links=tuple(settings.get("Links") or ()),
                          ipam_ipv4=want.get("IPv4Address") or "", ipam_ipv6=want.get("IPv6Address") or "",
                          host_ifname=netlink.random_ifname(), ifname=ifname, dns=not net.predefined)
            self.networks.put_endpoint(ep)
        iface = netlink.Interface(ifname, ep.ipv4, ep.ipv6, ep.mac,
                                  gateway4=ep.gateway4 if gateway else "",
                                  gateway6=ep.gateway6 if gateway else "",
                                  mtu=net.mtu or self.settings.mtu)
        try:
            await self.links.add_veth(ep.host_ifname, nsfd, iface, net.bridge, iface.mtu)
        except BaseException:
            self.networks.delete_endpoint(ep)
            raise
        return ep, iface

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

    # -- names ----------------------------------------------------------------------
    def _join_directory(self, rec: ContainerRecord) -> None:
        """The container's names on each of its user-defined networks (again: a rename,
        a restart of ketchd)."""
        hostname = rec.config.get("Hostname") or ""
        for ep in self.networks.endpoints_of_container(rec.id):
            net = self.networks.by_id.get(ep.network_id)
            if ep.dns and net is not None:
                self.directory.join(net.id, net.name, entry_for(ep, rec.name, hostname))

    async def _open_dns(self, rec: ContainerRecord, rewrite: bool = False) -> None:
        """The embedded DNS's sockets in a running container's namespace. ``rewrite``:
        it had none (default bridge, then a connect): its resolv.conf now names
        127.0.0.11, which forwards to what it asked before (moby's rebuildDNS)."""
        socks = await self.launcher.netns_sockets(self.netns_path(rec.id), create=False, dns=True)
        socks[0].close()
        try:
            files = self.etc.files(rec, "bridge", (), True)
            self._attach_dns(rec, socks[1], socks[2], files)  # the server owns them from here
        except BaseException:
            for sock in socks[1:]:
                sock.close()
            raise
        if rewrite and self.resolv_conf is not None:
            _rewrite(self.resolv_conf(rec.id), lambda _: files.resolv)

    def _attach_dns(self, rec: ContainerRecord, udp, tcp, files: etcfiles.EtcFiles) -> None:
        nets = [self.networks.by_id.get(ep.network_id) for ep in self.networks.endpoints_of_container(rec.id)]
        forward = not all(n.internal for n in nets if n is not None and not n.predefined)
        self.dns.attach(rec.id, udp, tcp, upstreams=files.upstreams, ndots_set=files.ndots_set,
                        forward=forward)

    def renamed(self, rec: ContainerRecord) -> None:
        """A running container's new name resolves, its old one no longer."""
        self._join_directory(rec)

    # -- restart of ketchd ------------------------------------------------------------
    async def restore(self, rec: ContainerRecord) -> None:
        """ketchd restarted with ``rec`` running (caller holds its lock): reserve its
        ports and serve its names again (the sockets died with the old ketchd). A failure
        is logged: the container runs on, as it did."""
        try:
            await self._restore(rec)
        except (errors.KetchError, OSError) as exc:
            log.warning("cannot restore the network of %s: %s", rec.id[:12], exc)

    async def _restore(self, rec: ContainerRecord) -> None:
        wanted = set()
        for name, settings in rec.networks.items():  # as attached() finds them: a network
            try:  # created after the container is recorded by its name only
                wanted.add(self.networks.find(settings.get("NetworkID") or name).id)
            except errors.KetchError:
                pass  # gone (then so is any endpoint on it)
        for ep in self.networks.endpoints_of_container(rec.id):
            if ep.network_id not in wanted:  # a connect a killed ketchd never recorded
                await self._leave(ep)
        endpoints = self.networks.endpoints_of_container(rec.id)
        if self.firewall is not None and any(ep.ports for ep in endpoints):
            await self.firewall.restore(endpoints)
        self._join_directory(rec)
        if any(ep.dns for ep in endpoints):
            await self._open_dns(rec)

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

    # -- exit -----------------------------------------------------------------------
    async def detach(self, cid: str) -> None:
        """Undo ``attach``: names, endpoints, veths, ports, the namespace (caller holds
        the container's lock, or nothing runs: sweep). Never raises."""
        self.dns.detach(cid)
        self.directory.forget(cid)
        published = []
        for ep in self.networks.endpoints_of_container(cid):
            self._unlink(ep.host_ifname, cid)
            self.networks.delete_endpoint(ep)
            if ep.ports:
                published.append(ep)
        await self._unpublish(published)
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

    async def _unpublish(self, endpoints: list[Endpoint]) -> None:
        """Ports of endpoints already deleted: rules first, then the host ports, so no
        other start gets a port while a rule still sends it here."""
        if not endpoints or self.firewall is None:
            return
        try:
            await self.firewall.unpublish(endpoints)
        except errors.KetchError as exc:
            log.warning("cannot update the firewall: %s", exc)

    # -- connect, disconnect --------------------------------------------------------
    async def connect(self, rec: ContainerRecord, net: Network, settings: apinet.EndpointSettings) -> None:
        """`docker network connect`: recorded on the container, joined at once if it runs."""
        async with self.locks.lock(rec.id):
            if self.containers.find(rec.id) is not rec:
                raise errors.no_such_container(rec.id)
            mode = modes.parse(rec.host_config.get("NetworkMode"))
            if mode.kind == "container":  # moby's connectToNetwork, first of all
                raise errors.InvalidArgument("container sharing network namespace with another container or host "
                                             "cannot be connected to any other network")
            epsettings.check_endpoint(net, settings)  # updateNetworkConfig, before the modes' conflicts
            if net.driver == "host" or mode.kind == "host":
                raise errors.InvalidArgument("container cannot be disconnected from host network or connected to host network")
            if net.driver == "null" or mode.kind == "none":
                raise errors.InvalidArgument("container cannot be connected to multiple networks with one of the networks in private (none) mode")
            if any(createcheck.same_network(self.networks, name, net.id) for name in rec.networks):
                raise errors.PermissionDenied(f"endpoint with name {rec.name} already exists in network {net.name}")
            before = dict(rec.networks)
            # recorded first: a ketchd killed halfway leaves an intent its restore completes
            # or undoes, never an endpoint nobody knows of
            rec.networks = {**before, net.name: _settings_doc(settings, net.id)}
            self.containers.save(rec)
            if not rec.state.running:
                return
            try:
                await self._join_running(rec, net, rec.networks[net.name])
            except BaseException:
                rec.networks = before
                self.containers.save(rec)
                raise

    async def _join_running(self, rec: ContainerRecord, net: Network, doc: dict) -> None:
        path = self.netns_path(rec.id)
        current = self.networks.endpoints_of_container(rec.id)
        used = {ep.ifname for ep in current}
        ifname = next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)
        gateway = not net.internal and not any(ep.gateway4 for ep in current if self._routes_out(ep))
        socks = await self.launcher.netns_sockets(path, create=False, dns=False)
        try:
            nsfd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                ep, iface = await self._join(rec, net, doc, nsfd, ifname, gateway)
            finally:
                os.close(nsfd)
        except BaseException:
            socks[0].close()
            raise
        try:
            await netlink.configure_inside(socks[0], [iface])
            if ep.dns:
                self._join_directory(rec)
                if rec.id not in self.dns.attached():
                    await self._open_dns(rec, rewrite=True)
        except BaseException:  # the connect fails whole: no endpoint its record does not name
            self.directory.leave(net.id, rec.id)
            await self._leave(ep)
            raise
        if self.hosts is not None:  # moby's sbJoin: the container's names for its new addresses
            _rewrite(self.hosts(rec.id), lambda text: etcfiles.hosts_with(
                text, rec.config, (ep.address4, ep.address6)))

    def _routes_out(self, ep: Endpoint) -> bool:
        net = self.networks.by_id.get(ep.network_id)
        return net is not None and not net.internal

    async def disconnect(self, rec: ContainerRecord, net: Network, force: bool) -> None:
        async with self.locks.lock(rec.id):
            names = [name for name in rec.networks if createcheck.same_network(self.networks, name, net.id)]
            if not names:
                raise errors.Internal(f"container {rec.id} is not connected to network {net.name}")
            current = self.networks.endpoints_of_container(rec.id)
            gateway = next((ep for ep in current if self._routes_out(ep)), None)
            for ep in current:
                if ep.network_id == net.id:
                    await self._leave(ep)
                    self.directory.leave(net.id, rec.id)
                    if self.hosts is not None:
                        _rewrite(self.hosts(rec.id), lambda text, ep=ep: etcfiles.hosts_without(
                            text, rec.config, (ep.address4, ep.address6)))
            rec.networks = {k: v for k, v in rec.networks.items() if k not in names}
            self.containers.save(rec)
            if gateway is not None and gateway.network_id == net.id and rec.state.running:
                await self._move_gateway(rec)

    async def _move_gateway(self, rec: ContainerRecord) -> None:
        """The network of the default route is gone: the next one routes out (moby's
        updateGateway)."""
        nxt = next((ep for ep in self.networks.endpoints_of_container(rec.id) if self._routes_out(ep)), None)
        if nxt is None:
            return
        try:
            socks = await self.launcher.netns_sockets(self.netns_path(rec.id), create=False)
            await netlink.set_default_route(socks[0], nxt.gateway4, nxt.gateway6)
        except errors.KetchError as exc:  # the disconnect itself is done and recorded
            log.warning("cannot move the default route of %s: %s", rec.id[:12], exc)

    async def _leave(self, ep: Endpoint) -> None:
        await self.links.delete(ep.host_ifname)
        self.networks.delete_endpoint(ep)
        if ep.ports:
            await self._unpublish([ep])

    # -- views ----------------------------------------------------------------------
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

    # -- ketchd's life ----------------------------------------------------------------
    def warm(self) -> None:
        """Load the netlink and nftables libraries (in a thread, once ketchd serves), so
        that the first container's start does not pay for them."""
        netlink.warm()
        if self.settings.iptables:
            nft.warm()

    async def close(self) -> None:
        await self.settle()
        await self.dns.close()
        if self.firewall is not None:
            await self.firewall.close()

    async def shutdown(self) -> None:
        """ketchd stops: with no container attached, its bridges and firewall table go
        (made again on the next start's first container); else all stays for the live ones."""
        await self.settle()
        if self.networks.endpoints:
            return
        await self.bridges.shutdown()
        if self.firewall is not None:
            await self.firewall.remove()
