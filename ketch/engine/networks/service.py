"""The networks as the Engine API sees them: the predefined ones, create, remove,
connect, disconnect, prune. Each change is recorded before it is announced
(``network`` events: create, connect, disconnect, destroy)."""

import asyncio
import ipaddress
import secrets
from dataclasses import replace

from ketch import errors, timefmt
from ketch.apitypes.network import EndpointSettings, NetworkCreate
from ketch.apitypes.prune import PruneFilter
from ketch.engine import unsupported
from ketch.engine.containers.records import Registry
from ketch.engine.events import Event, EventBus
from ketch.engine.networks.registry import NetworkRegistry
from ketch.engine.networks.sandbox import ContainerNetworking
from ketch.engine.networks.settings import NetworkSettings
from ketch.network import ipam, model
from ketch.network.model import BRIDGE, HOST, NULL, Endpoint, Network, Pool

class NetworkService:
    def __init__(self, networks: NetworkRegistry, containers: Registry, sandbox: ContainerNetworking,
                 settings: NetworkSettings, events: EventBus) -> None:
        self.registry = networks
        self.containers = containers
        self.sandbox = sandbox
        self.settings = settings
        self.events = events
        self._start = 0  # where the next default subnet is searched from (moby's)
        self._lock = asyncio.Lock()  # creates and removes, one at a time

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
            masquerade=self.settings.ip_masq, predefined=True,
            bridge_owned=bool(existing and existing.bridge_owned and existing.bridge == self.settings.bridge))
        if net != existing:
            self.registry.put(net)

    async def _default_pool(self, existing: Network | None) -> Pool:
        s = self.settings
        if s.bip:
            iface = ipaddress.ip_interface(s.bip)
            return Pool(str(iface.network), str(iface.ip), s.fixed_cidr, configured=True,
                        gateway_given=True)
        if existing is not None and existing.pools:
            return replace(existing.pools[0], ip_range=s.fixed_cidr)
        avoid = await self.sandbox.links.host_routes()
        taken = [p.subnet for n in self.registry.all() for p in n.pools]
        subnet, self._start = ipam.pick_subnet(self._candidates(), taken, avoid, 4, self._start)
        net = ipaddress.ip_network(subnet)
        return Pool(subnet, str(next(net.hosts())), s.fixed_cidr, configured=True, gateway_given=True)

    def _candidates(self) -> tuple[str, ...]:
        return ipam.split_pools(self.settings.default_address_pools or ipam.DEFAULT_ADDRESS_POOLS)

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

    # -- create, remove ---------------------------------------------------------------
    async def create(self, req: NetworkCreate) -> tuple[Network, str]:
        async with self._lock:
            net = await self._new_network(req)
            self.registry.put(net)
        self._event("create", net, {"type": net.driver})
        return net, ""

    async def _new_network(self, req: NetworkCreate) -> Network:
        if req.name in PREDEFINED:
            raise errors.PermissionDenied(f"operation is not permitted on predefined {req.name} network ")
        if self.registry.by_name(req.name) is not None:
            raise errors.Conflict(f"network with name {req.name} already exists")
        driver = req.driver or BRIDGE
        if driver in (HOST, NULL):
            raise errors.PermissionDenied(f'only one instance of "{driver}" network is allowed')
        if driver != BRIDGE:
            raise errors.NotFound(f'plugin "{driver}" not found')
        # libnetwork's NewNetwork on a node that is not in a swarm
        if req.ingress:
            raise errors.PermissionDenied("Ingress network can only be global scope network")
        if req.scope == "swarm":
            raise errors.PermissionDenied("cannot create a swarm scoped network when swarm is not active")
        if req.ipam_driver not in ("", "default"):
            raise errors.NotFound(f'plugin "{req.ipam_driver}" not found')
        for flag, asked in (("--config-only", req.config_only), ("--config-from", req.config_from),
                            ("--scope", req.scope not in ("", "local"))):
            if asked:
                raise errors.InvalidArgument(f"{flag} {unsupported.SUFFIX}")
        opts = dict(req.options)
        nid = secrets.token_hex(32)
        bridge = opts.get(model.OPT_BRIDGE_NAME) or f"br-{nid[:12]}"
        if len(bridge) > 15:
            # moby asks netlink for the link first (bridgeInterfaceExists): ERANGE
            raise errors.Internal("failed to check bridge interface existence: numerical result out of range")
        if any(n.bridge == bridge for n in self.registry.all()):
            raise errors.Conflict(f"bridge name {bridge} is already used by another network")
        mtu = 0
        if opts.get(model.OPT_MTU):
            try:
                mtu = int(opts[model.OPT_MTU])
            except ValueError:
                raise errors.Internal(f"failed to parse {model.OPT_MTU} value: {opts[model.OPT_MTU]} "
                                      f'(strconv.Atoi: parsing "{opts[model.OPT_MTU]}": invalid syntax)') from None
        taken = [p.subnet for n in self.registry.all() for p in n.pools]
        avoid = await self.sandbox.links.host_routes() if not req.ipam_config or \
            not any(":" not in c.subnet for c in req.ipam_config) else []
        pools, self._start = ipam.network_pools(req.ipam_config, req.enable_ipv6, taken,
                                                self._candidates(), avoid, self._start)
        return Network(
            id=nid, name=req.name, driver=BRIDGE, created=timefmt.now(), pools=pools,
            ipv6=req.enable_ipv6, internal=req.internal, attachable=req.attachable,
            labels=dict(req.labels), options=opts, bridge=bridge, mtu=mtu,
            icc=_opt_bool(opts, model.OPT_ICC), masquerade=_opt_bool(opts, model.OPT_MASQUERADE),
            ipam_options=req.ipam_options)

    async def remove(self, ref: str) -> None:
        async with self._lock:
            net = self.registry.find(ref)
            if net.predefined:
                raise errors.PermissionDenied(f"{net.name} is a pre-defined network and cannot be removed")
            bridges = self.sandbox.bridges
            async with bridges.lock:  # no endpoint can be added meanwhile (sandbox._join)
                # as it is now: a start this waited for may have made (and owns) its bridge
                net = self.registry.by_id[net.id]
                if self.registry.endpoints_of(net.id):
                    raise errors.PermissionDenied(
                        f"error while removing network: network {net.name} id {net.id} has active endpoints")
                await bridges.remove(net)
                self.registry.delete(net)
            if self.sandbox.firewall is not None:
                await self.sandbox.firewall.refresh()
        self._event("destroy", net, {"type": net.driver})

    async def prune(self, matches: PruneFilter) -> list[str]:
        out = []
        for net in sorted(self.registry.all(), key=lambda n: n.created):
            if net.predefined or self.registry.endpoints_of(net.id) or \
                    not matches.matches(timefmt.parse_ns(net.created), net.labels):
                continue
            try:
                await self.remove(net.id)
            except errors.KetchError:
                continue
            out.append(net.name)
        self.events.publish(Event("network", "prune", "", {"reclaimed": "0"}))
        return out

    # -- connect, disconnect ----------------------------------------------------------
    async def connect(self, ref: str, container: str, settings: EndpointSettings) -> None:
        net = self.registry.find(ref)
        rec = self.containers.get(container)
        await self.sandbox.connect(rec, net, settings)
        self._event("connect", net, {"container": rec.id, "type": net.driver})

    async def disconnect(self, ref: str, container: str, force: bool) -> None:
        net = self.registry.find(ref)
        rec = self.containers.find(container)
        if rec is None:
            if force:
                raise errors.NotFound(f"endpoint {container} not found")
            raise errors.no_such_container(container)
        await self.sandbox.disconnect(rec, net, force)
        self._event("disconnect", net, {"container": rec.id, "type": net.driver})

    def _event(self, action: str, net: Network, attrs: dict[str, str]) -> None:
        self.events.publish(Event("network", action, net.id, {**attrs, "name": net.name}))


PREDEFINED = ("bridge", "host", "none")


def _opt_bool(opts: dict[str, str], key: str) -> bool:
    value = opts.get(key, "true").lower()
    if value not in ("true", "false", "1", "0", "t", "f"):
        raise errors.InvalidArgument(f"failed to parse {key} value: {opts[key]}")
    return value in ("true", "1", "t")
