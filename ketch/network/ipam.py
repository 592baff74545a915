"""IP address management, pure: moby's default IPAM driver as functions over values.

Pools. ``network_pools`` turns the IPAM.Config a user asked for into a network's pools as
moby 26.1 does: ``validate`` (moby's ValidateIPAM, its messages word for word), then per
family the requested subnets (refused when they overlap another network's: "Pool overlaps
with other one on this address space") or, with none requested, one picked by
``pick_subnet`` from the default address pools (172.17-31.0.0/16, then 192.168.0.0/16 in
/20s), skipping subnets taken by networks and those that overlap the host's routes and
nameservers (the caller lists those: moby avoids the destinations of the link-scope routes
and the resolv.conf nameservers). Like moby, the search starts after the last subnet picked
(``start``, kept by the caller in memory): a subnet just freed is not the next one handed out.
A user's subnet is never checked against the host's routes.

Addresses. The state of a network's addresses is the set of addresses handed out to its
endpoints, as strings without prefix length (what the engine stores, one row per endpoint
address, so it is rebuilt from the rows after a restart; releasing an address is dropping it
from the set). The network address, the IPv4 broadcast address, the gateway and the
auxiliary addresses are never handed out: they are computed from the pool, not stored.
moby's local allocator is not serial: ``assign`` hands out the lowest free address (of the
ip-range when there is one), so an address just released is the next one handed out
(dockerd 20.10: run a, b; rm a; run c: c gets a's address).
"""

import ipaddress
import random
from dataclasses import dataclass, replace
from typing import Collection, Iterable, Sequence

from ketch.errors import Internal, InvalidArgument, NotFound, PermissionDenied
from ketch.network.model import Network, Pool

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# moby's localScopeDefaultNetworks: (base, size of the subnets it is split into)
DEFAULT_ADDRESS_POOLS: tuple[tuple[str, int], ...] = (
    ("172.17.0.0/16", 16), ("172.18.0.0/16", 16), ("172.19.0.0/16", 16),
    ("172.20.0.0/14", 16), ("172.24.0.0/14", 16), ("172.28.0.0/14", 16),
    ("192.168.0.0/16", 20),
)

POOL_OVERLAPS = "Pool overlaps with other one on this address space"
ADDRESS_IN_USE = "Address already in use"
NO_ADDRESSES = "no available addresses on this pool"


# -- parsing as Go's net/netip parses ------------------------------------------------

def parse_prefix(text: str) -> "Prefix | None":
    """netip.ParsePrefix: an address, "/" and a bit count (no leading zeros); host bits
    may be set (``Prefix.is_masked`` says whether they are)."""
    addr, sep, bits = text.partition("/")
    if not sep or not bits.isascii() or not bits.isdigit() or (len(bits) > 1 and bits[0] == "0"):
        return None
    ip = parse_addr(addr)
    if ip is None or "%" in addr or int(bits) > ip.max_prefixlen:
        return None
    return Prefix(ip, int(bits))


def parse_addr(text: str) -> IPAddress | None:
    """netip.ParseAddr / net.ParseIP (no leading zeros in IPv4, no zone)."""
    if not text or "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Prefix:
    """A prefix with its address kept as written (netip.Prefix): ``10.1.0.1/16`` is not
    ``10.1.0.0/16``, which ``masked`` gives."""

    addr: IPAddress
    bits: int

    @property
    def masked(self) -> IPNetwork:
        return ipaddress.ip_network(f"{self.addr}/{self.bits}", strict=False)

    def is_masked(self) -> bool:
        return self.masked.network_address == self.addr

    def __str__(self) -> str:
        return f"{self.addr}/{self.bits}"


def _network(subnet: str) -> IPNetwork:
    return ipaddress.ip_network(subnet, strict=False)


def _family(version: int) -> str:
    return "IPv4" if version == 4 else "IPv6"


def join_errors(errs: list[str]) -> str:
    """moby's internal/multierror.Join."""
    if len(errs) == 1:
        return errs[0].strip()
    return "* " + "\n* ".join(e.replace("\n", "\n\t") for e in errs)


# -- checking a request (moby 26.1's network.ValidateIPAM) ---------------------------

def validate(configs: Sequence[Pool], ipv6: bool) -> None:
    """Every error of every IPAM.Config entry, joined, as moby 26.1 reports them (a 400).
    IPv6 entries are not checked (and later not used) on a network without IPv6."""
    errs: list[str] = []
    for cfg in configs:
        subnet = parse_prefix(cfg.subnet)
        if subnet is None:
            errs.append(f"invalid subnet {cfg.subnet}: invalid CIDR block notation")
            continue
        version = subnet.addr.version
        if version == 6 and not ipv6:
            continue
        if not subnet.is_masked():
            errs.append(f"invalid subnet {subnet}: it should be {subnet.masked}")
        errs += _ip_range_errors(cfg.ip_range, subnet.masked, version)
        if (err := _address_error(cfg.gateway, subnet.masked, version)) is not None:
            errs.append(f"invalid gateway {cfg.gateway}: {err}")
        for name, aux in cfg.aux:
            if (err := _address_error(aux, subnet.masked, version)) is not None:
                errs.append(f"invalid auxiliary address {name}: {err}")
    if errs:
        raise InvalidArgument("invalid network config:\n" + join_errors(errs))


def _ip_range_errors(ip_range: str, subnet: IPNetwork, version: int) -> list[str]:
    if not ip_range:
        return []
    prefix = parse_prefix(ip_range)
    if prefix is None:
        return [f"invalid ip-range {ip_range}: invalid CIDR block notation"]
    if prefix.addr.version != version:
        return [f"invalid ip-range {ip_range}: parent subnet is an {_family(version)} block"]
    errs = []
    if prefix.bits < subnet.prefixlen:
        errs.append(f"invalid ip-range {ip_range}: CIDR block is bigger than its parent subnet {subnet}")
    if not prefix.is_masked():
        errs.append(f"invalid ip-range {prefix}: it should be {prefix.masked}")
    if not subnet.overlaps(prefix.masked):
        errs.append(f"invalid ip-range {ip_range}: parent subnet {subnet} doesn't contain ip-range")
    return errs


def _address_error(address: str, subnet: IPNetwork, version: int) -> str | None:
    if not address:
        return None
    addr = parse_addr(address)
    if addr is None:
        return "invalid address"
    if addr.version != version:
        return f"parent subnet is an {_family(version)} block"
    if addr not in subnet:
        return f"parent subnet {subnet} doesn't contain this address"
    return None


# -- subnets ---------------------------------------------------------------------------

def split_pools(pools: Iterable[tuple[str, int]]) -> tuple[str, ...]:
    """moby's ipamutils.SplitNetworks: each (base, size) as its subnets of that size, in
    order (daemon.json's default-address-pools: [{"base": ..., "size": ...}])."""
    out: list[str] = []
    for base, size in pools:
        try:
            net = _network(base)
        except ValueError as exc:
            raise InvalidArgument(f'invalid base pool "{base}": {exc}') from None
        if size <= 0 or size < net.prefixlen or size > net.max_prefixlen:
            raise InvalidArgument(f"invalid pools size: {size}")
        out += [str(s) for s in net.subnets(new_prefix=size)]
    return tuple(out)


def overlaps(a: str, b: str) -> bool:
    na, nb = _network(a), _network(b)
    return na.version == nb.version and na.overlaps(nb)


def pick_subnet(candidates: Sequence[str], taken: Iterable[str], avoid: Iterable[str] = (),
                version: int = 4, start: int = 0) -> tuple[str, int]:
    """The first candidate of ``version`` from index ``start`` on (wrapping) that overlaps
    no subnet in ``taken`` (the networks') nor in ``avoid`` (the host's routes and
    nameservers), and the index to start from next time (moby's predefinedStartIndex)."""
    taken_nets = [_network(s) for s in taken]
    avoid_nets = [_network(s) for s in avoid]
    if not 0 <= start < len(candidates):
        start = 0
    order = list(range(start, len(candidates))) + list(range(start))
    for i in order:
        net = _network(candidates[i])
        if net.version != version:
            continue
        if any(net.version == t.version and net.overlaps(t) for t in (*taken_nets, *avoid_nets)):
            continue
        return str(net), (i + 1) % len(candidates)
    raise NotFound(f"could not find an available, non-overlapping IPv{version} address pool "
                   "among the defaults to assign to the network")


def network_pools(configs: Sequence[Pool], ipv6: bool, taken: Iterable[str],
                  candidates: Sequence[str] = (), avoid: Iterable[str] = (),
                  start: int = 0) -> tuple[tuple[Pool, ...], int]:
    """A new network's pools from the user's IPAM.Config entries (``Pool`` values as the
    request gave them: gateway "" when none was given), and the next ``start``.

    ``taken``: the subnets of the other networks. ``candidates``: the default address
    pools, split (``split_pools``). The gateway, when not given, is the lowest free
    address (of the ip-range when there is one), as moby allocates it; auxiliary
    addresses are reserved after it. IPv6 entries of a network without IPv6 are dropped
    (moby keeps and shows them, never allocating from them)."""
    validate(configs, ipv6)
    taken = list(taken)
    out: list[Pool] = []
    for version in (4, 6) if ipv6 else (4,):
        wanted = [c for c in configs if parse_prefix(c.subnet).addr.version == version]
        if not wanted:
            subnet, start = pick_subnet(candidates, taken, avoid, version, start)
            wanted = [Pool(subnet)]
            configured = False
        else:
            configured = True
        for cfg in wanted:
            pool = _allocate_pool(cfg, taken, configured)
            taken.append(pool.subnet)
            out.append(pool)
    return tuple(out), start


def _allocate_pool(cfg: Pool, taken: list[str], configured: bool) -> Pool:
    """moby's ipamAllocateVersion for one entry: the subnet, then the gateway, then the
    auxiliary addresses, each refused with moby's words."""
    subnet = _network(cfg.subnet)
    if any(overlaps(str(subnet), t) for t in taken):
        raise PermissionDenied(POOL_OVERLAPS)
    pool = Pool(str(subnet), "", str(_network(cfg.ip_range)) if cfg.ip_range else "",
                tuple(cfg.aux), configured=configured, gateway_given=bool(cfg.gateway))
    blocked = _fixed(subnet)
    if cfg.gateway:
        gateway = ipaddress.ip_address(cfg.gateway)
        if _ordinal(subnet, gateway) in blocked:
            raise Internal(f"failed to allocate gateway ({cfg.gateway}): {ADDRESS_IN_USE}")
    else:
        found = _lowest_free(subnet, _range(subnet, pool.ip_range), blocked)
        if found is None:
            raise Internal(f"failed to allocate gateway (): {NO_ADDRESSES}")
        gateway = _address(subnet, found)
    blocked.add(_ordinal(subnet, gateway))
    for name, value in sorted(cfg.aux):
        ordinal = _ordinal(subnet, ipaddress.ip_address(value))
        if ordinal in blocked:
            raise Internal(f"failed to allocate secondary ip address ({name}:{value}): {ADDRESS_IN_USE}")
        blocked.add(ordinal)
    return replace(pool, gateway=str(gateway))


# -- addresses ---------------------------------------------------------------------------

def _ordinal(subnet: IPNetwork, addr: IPAddress) -> int:
    return int(addr) - int(subnet.network_address)


def _address(subnet: IPNetwork, ordinal: int) -> IPAddress:
    return ipaddress.ip_address(int(subnet.network_address) + ordinal)


def _fixed(subnet: IPNetwork) -> set[int]:
    """moby's newPoolData: the network address (not on an IPv4 /31 or /32) and the
    IPv4 broadcast address (only on a network bigger than a /31) are never handed out."""
    size = subnet.num_addresses
    out = set()
    if not (subnet.version == 4 and size <= 2):
        out.add(0)
    if subnet.version == 4 and size > 2:
        out.add(size - 1)
    return out


def _range(subnet: IPNetwork, ip_range: str) -> tuple[int, int]:
    if not ip_range:
        return 0, subnet.num_addresses - 1
    child = _network(ip_range)
    first = _ordinal(subnet, child.network_address)
    return first, first + child.num_addresses - 1


def _lowest_free(subnet: IPNetwork, bounds: tuple[int, int], blocked: set[int]) -> int | None:
    ordinal, last = bounds
    while ordinal <= last:  # at most len(blocked) + 1 steps
        if ordinal not in blocked:
            return ordinal
        ordinal += 1
    return None


def reserved(pool: Pool) -> frozenset[str]:
    """The addresses of a pool that are never handed out: network, broadcast, gateway, aux."""
    subnet = _network(pool.subnet)
    out = {str(_address(subnet, o)) for o in _fixed(subnet)}
    if pool.gateway:
        out.add(pool.gateway)
    out.update(v for _, v in pool.aux if ipaddress.ip_address(v) in subnet)
    return frozenset(out)


def _blocked(pool: Pool, subnet: IPNetwork, in_use: Collection[str]) -> set[int]:
    out = {_ordinal(subnet, ipaddress.ip_address(a)) for a in reserved(pool)}
    for text in in_use:
        addr = ipaddress.ip_address(text.partition("/")[0])
        if addr.version == subnet.version and addr in subnet:
            out.add(_ordinal(subnet, addr))
    return out


def assign(network: Network, version: int, in_use: Collection[str], preferred: str = "") -> str:
    """An address for a new endpoint on ``network``, "172.18.0.2/16" (with the pool's
    prefix length), or "" when the network has no pool of that family (IPv6 is optional).
    ``in_use``: the addresses of the network's endpoints. ``preferred`` (--ip, --ip6) is
    taken when free, else refused with moby's words (moby's assignAddressVersion)."""
    pools = network.pools_of(version)
    if not pools:  # (an address asked for is refused earlier: check_endpoint)
        return ""
    want = parse_addr(preferred) if preferred else None
    if preferred and want is None:
        raise InvalidArgument(f"invalid address {preferred}: It does not belong to any of this network's subnets")
    for pool in pools:
        subnet = _network(pool.subnet)
        if want is not None and (want.version != subnet.version or want not in subnet):
            continue
        blocked = _blocked(pool, subnet, in_use)
        if want is not None:
            if _ordinal(subnet, want) in blocked:
                raise PermissionDenied(ADDRESS_IN_USE)
            return f"{want}/{subnet.prefixlen}"
        found = _lowest_free(subnet, _range(subnet, pool.ip_range), blocked)
        if found is not None:
            return f"{_address(subnet, found)}/{subnet.prefixlen}"
    if want is not None:
        raise InvalidArgument(f"invalid address {preferred}: It does not belong to any of this network's subnets")
    raise Internal(f"no available IPv{version} addresses on this network's address pools: "
                   f"{network.name} ({network.id})")


def mac_address(ipv4: str = "") -> str:
    """The MAC address of an endpoint, as dockerd 20.10 and 26 make it: 02:42 and the four
    bytes of its IPv4 address (02:42:ac:11:00:02 for 172.17.0.2); random after 02:42
    without one. (Docker 28 makes every MAC random; 20.10's is kept: reproducible and
    what the API 1.45 daemon did.)"""
    address = ipv4.partition("/")[0]
    tail = ipaddress.IPv4Address(address).packed if address else bytes(random.randrange(256) for _ in range(4))
    return ":".join(f"{b:02x}" for b in (0x02, 0x42, *tail))
