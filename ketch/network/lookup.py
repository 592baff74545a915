"""A network by what a user calls it: moby's FindNetwork, pure.

A full id wins, then an exact name, then a unique id prefix; several networks of the
same name or id prefix are an ambiguity (a 400), none is moby's "network X not found".
"""

from typing import Iterable

from ketch.errors import InvalidArgument, NotFound
from ketch.network.model import Network


def not_found(ref: str) -> NotFound:
    return NotFound(f"network {ref} not found")  # libnetwork's ErrNoSuchNetwork


def find_network(networks: Iterable[Network], ref: str) -> Network:
    by_name: list[Network] = []
    by_prefix: list[Network] = []
    for network in networks:
        if network.id == ref:
            return network
        if network.id.startswith(ref):
            by_prefix.append(network)
        if network.name == ref:
            by_name.append(network)
    if len(by_name) == 1:
        return by_name[0]
    if by_name:
        raise InvalidArgument(f"network {ref} is ambiguous ({len(by_name)} matches found on name)")
    if len(by_prefix) == 1:
        return by_prefix[0]
    if by_prefix:
        raise InvalidArgument(f"network {ref} is ambiguous ({len(by_prefix)} matches found based on ID prefix)")
    raise not_found(ref)
