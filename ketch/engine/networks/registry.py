"""The networks and the endpoints of running containers, in memory and in the store.

An endpoint row exists exactly while its container runs attached (moby releases a
container's addresses at stop): the address in it is taken while the row exists, so
IPAM's "in use" set is the endpoints' addresses, read back after a ketchd restart
(moby's local IPAM hands out the lowest free address: nothing else to keep).
"""

import dataclasses

from ketch.engine.store import Store
from ketch.network.lookup import find_network
from ketch.network.model import Endpoint, Network, PortBinding, Pool


def network_to_doc(net: Network) -> dict:
    return dataclasses.asdict(net)


def network_from_doc(doc: dict) -> Network:
    pools = tuple(Pool(**{**p, "aux": tuple(tuple(a) for a in p.get("aux") or ())})
                  for p in doc.get("pools") or ())
    known = {f.name for f in dataclasses.fields(Network)}
    return Network(**{**{k: v for k, v in doc.items() if k in known}, "pools": pools})


def endpoint_from_doc(doc: dict) -> Endpoint:
    known = {f.name for f in dataclasses.fields(Endpoint)}
    fields = {k: (tuple(v) if isinstance(v, list) else v) for k, v in doc.items() if k in known}
    fields["ports"] = tuple(PortBinding(**p) for p in doc.get("ports") or ())
    return Endpoint(**fields)


class NetworkRegistry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.by_id: dict[str, Network] = {}
        self.endpoints: dict[str, Endpoint] = {}
        for doc in store.all_networks():
            net = network_from_doc(doc)
            self.by_id[net.id] = net
        for doc in store.all_endpoints():
            ep = endpoint_from_doc(doc)
            self.endpoints[ep.id] = ep

    # -- networks ---------------------------------------------------------------------
    def all(self) -> list[Network]:
        return list(self.by_id.values())

    def by_name(self, name: str) -> Network | None:
        for net in self.by_id.values():
            if net.name == name:
                return net
        return None

    def find(self, ref: str) -> Network:
        """moby's order: full id, then name, then a unique id prefix."""
        return find_network(self.by_id.values(), ref)

    def put(self, net: Network) -> None:
        with self.store.transaction():
            self.store.put_network(net.id, net.name, network_to_doc(net))
        self.by_id[net.id] = net

    def delete(self, net: Network) -> None:
        with self.store.transaction():
            self.store.delete_network(net.id)
        self.by_id.pop(net.id, None)

    # -- endpoints --------------------------------------------------------------------
    def endpoints_of(self, network_id: str) -> list[Endpoint]:
        return [ep for ep in self.endpoints.values() if ep.network_id == network_id]

    def endpoints_of_container(self, container_id: str) -> list[Endpoint]:
        return [ep for ep in self.endpoints.values() if ep.container_id == container_id]

    def addresses_in_use(self, network_id: str) -> set[str]:
        out = set()
        for ep in self.endpoints_of(network_id):
            out.update(a for a in (ep.address4, ep.address6) if a)
        return out

    def put_endpoint(self, ep: Endpoint) -> None:
        """Record ``ep``: its addresses are taken from now on."""
        with self.store.transaction():
            self.store.put_endpoint(ep.id, ep.network_id, ep.container_id, dataclasses.asdict(ep))
        self.endpoints[ep.id] = ep

    def delete_endpoint(self, ep: Endpoint) -> None:
        with self.store.transaction():
            self.store.delete_endpoint(ep.id)
        self.endpoints.pop(ep.id, None)
