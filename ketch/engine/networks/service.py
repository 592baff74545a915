"""The networks as the Engine API sees them: the predefined ones, create, remove,
connect, disconnect, prune. Each change is recorded before it is announced
(``network`` events: create, connect, disconnect, destroy)."""

import ipaddress
import secrets

from ketch import errors, timefmt
from ketch.engine.containers.records import Registry
from ketch.engine.events import EventBus
from ketch.engine.networks.registry import NetworkRegistry
from ketch.engine.networks.sandbox import ContainerNetworking
from ketch.engine.networks.settings import NetworkSettings
from ketch.network import model
from ketch.network.model import BRIDGE, HOST, NULL, Endpoint, Network, Pool

# moby's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s.
DEFAULT_POOLS = (("172.17.0.0/16", 16), ("172.18.0.0/16", 16), ("172.19.0.0/16", 16),
                 ("172.20.0.0/14", 16), ("172.24.0.0/14", 16), ("172.28.0.0/14", 16),
                 ("192.168.0.0/16", 20))


def candidate_subnets(pools: tuple[tuple[str, int], ...]):
    for base, size in pools or DEFAULT_POOLS:
        yield from ipaddress.ip_network(base).subnets(new_prefix=size)


def free_subnet(pools, taken: list[str]) -> str:
    """The first subnet of ``pools`` that overlaps none of ``taken`` (moby's)."""
    nets = [ipaddress.ip_network(t, strict=False) for t in taken]
    for sub in candidate_subnets(pools):
        if not any(sub.overlaps(n) for n in nets if n.version == sub.version):
            return str(sub)
    raise errors.Unavailable("could not find an available, non-overlapping IPv4 address pool "
                             "among the defaults to assign to the network")


class NetworkService:
    def __init__(self, networks: NetworkRegistry, containers: Registry, sandbox: ContainerNetworking,
                 settings: NetworkSettings, events: EventBus) -> None:
        self.registry = networks
        self.containers = containers
        self.sandbox = sandbox
        self.settings = settings
        self.events = events

    # -- boot -----------------------------------------------------------------------
    async def boot(self) -> None:
        """The predefined networks: bridge (unless ``bridge: none``), host, none."""
        for name, driver in (("host", HOST), ("none", NULL)):
            if self.registry.by_name(name) is None:
                self.registry.put(Network(id=secrets.token_hex(32), name=name, driver=driver,
                                          created=timefmt.now(), predefined=True))
        existing = self.registry.by_name("bridge")
        if self.settings.bridge == "none":
            if existing is not None and not self.registry.endpoints_of(existing.id):
                self.registry.delete(existing)
            return
        pool = await self._default_pool(existing)
        net = Network(
            id=existing.id if existing else secrets.token_hex(32), name="bridge", driver=BRIDGE,
            created=existing.created if existing else timefmt.now(), pools=(pool,),
            options={model.OPT_DEFAULT_BRIDGE: "true", model.OPT_ICC: str(self.settings.icc).lower(),
                     model.OPT_MASQUERADE: str(self.settings.ip_masq).lower(),
                     model.OPT_HOST_BINDING_IPV4: "0.0.0.0", model.OPT_BRIDGE_NAME: self.settings.bridge,
                     model.OPT_MTU: str(self.settings.mtu)},
            bridge=self.settings.bridge, mtu=self.settings.mtu, icc=self.settings.icc,
            masquerade=self.settings.ip_masq, predefined=True)
        if net != existing:
            self.registry.put(net)

    async def _default_pool(self, existing: Network | None) -> Pool:
        s = self.settings
        if s.bip:
            iface = ipaddress.ip_interface(s.bip)
            return Pool(str(iface.network), str(iface.ip), s.fixed_cidr)
        if existing is not None and existing.pools:
            old = existing.pools[0]
            return Pool(old.subnet, old.gateway, s.fixed_cidr)
        taken = await self.sandbox.links.host_routes()
        taken += [p.subnet for n in self.registry.all() for p in n.pools]
        subnet = ipaddress.ip_network(free_subnet(s.default_address_pools, taken))
        return Pool(str(subnet), str(next(subnet.hosts())), s.fixed_cidr)

    # -- queries --------------------------------------------------------------------
    def networks(self) -> list[Network]:
        return self.registry.all()

    def find(self, ref: str) -> Network:
        return self.registry.find(ref)

    def attachments(self, network_id: str) -> list[tuple[Endpoint, str]]:
        out = []
        for ep in self.registry.endpoints_of(network_id):
            rec = self.containers.find(ep.container_id)
            out.append((ep, rec.name if rec else ""))
        return out

    def endpoints_of_container(self, cid: str) -> list[tuple[Endpoint, Network]]:
        out = []
        for ep in self.registry.endpoints_of_container(cid):
            net = self.registry.by_id.get(ep.network_id)
            if net is not None:
                out.append((ep, net))
        return out
