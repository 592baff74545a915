"""Networks -> Docker's JSON (types.NetworkResource, moby v26.1), in Docker's field order.

Checked against dockerd 20.10 for the predefined bridge, host and none networks and for
user networks with and without a subnet of their own: a subnet the user gave is shown as
given (no Gateway unless one was given), a subnet IPAM picked with its gateway; maps are
printed with sorted keys, as Go's encoding/json prints them.
"""

from ketch.network.model import Endpoint, Network, Pool

SCOPE = "local"


def ipam_config(pool: Pool) -> dict:
    """One IPAM.Config entry (network.IPAMConfig: every field omitted when empty)."""
    if not pool.configured:
        return {"Subnet": pool.subnet, "Gateway": pool.gateway}
    out = {"Subnet": pool.subnet}
    if pool.ip_range:
        out["IPRange"] = pool.ip_range
    if pool.gateway_given and pool.gateway:
        out["Gateway"] = pool.gateway
    if pool.aux:
        out["AuxiliaryAddresses"] = dict(sorted(pool.aux))
    return out


def endpoint_resource(endpoint: Endpoint, name: str) -> dict:
    """types.EndpointResource: a container on the network, ``name`` without its "/"."""
    return {"Name": name, "EndpointID": endpoint.id, "MacAddress": endpoint.mac,
            "IPv4Address": endpoint.ipv4, "IPv6Address": endpoint.ipv6}


def _sorted(doc: dict | None) -> dict | None:
    return None if doc is None else dict(sorted(doc.items()))


def network_json(network: Network, attachments: list[tuple[Endpoint, str]] | None = None) -> dict:
    """types.NetworkResource. ``attachments`` (endpoint, container name) fill Containers;
    None leaves it empty, as moby's list does (since API 1.28)."""
    v4 = [ipam_config(p) for p in network.pools_of(4)]
    v6 = [ipam_config(p) for p in network.pools_of(6)]
    containers = {}
    for endpoint, name in sorted(attachments or (), key=lambda a: a[0].container_id):
        containers[endpoint.container_id] = endpoint_resource(endpoint, name)
    return {
        "Name": network.name,
        "Id": network.id,
        "Created": network.created,
        "Scope": SCOPE,
        "Driver": network.driver,
        "EnableIPv6": network.ipv6,
        "IPAM": {"Driver": "default", "Options": _sorted(network.ipam_options), "Config": v4 + v6},
        "Internal": network.internal,
        "Attachable": network.attachable,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": containers,
        "Options": _sorted(network.options),
        "Labels": _sorted(network.labels),
    }
