"""ketch.network.ipam and epsettings: pools, subnets, addresses and MACs as moby hands them out.

"dockerd 20.10" marks what was observed on the installed dockerd (its own root and bridge,
--iptables=false); "moby 26.1" marks texts taken from moby v26.1's source (API 1.45), where
20.10 had none or said it differently (20.10 accepted an ip-range outside the subnet, for one).
"""

import pytest

from ketch import errors
from ketch.apitypes.network import EndpointSettings, IPAMConfig
from ketch.network import ipam
from ketch.network.epsettings import check_endpoint
from ketch.network.model import Network, Pool

DEFAULTS = ipam.split_pools(ipam.DEFAULT_ADDRESS_POOLS)


def net(*pools: Pool, name="n", predefined=False) -> Network:
    return Network(id="f" * 64, name=name, driver="bridge", created="", pools=pools, predefined=predefined)


def message(exc_info) -> str:
    return str(exc_info.value)


# -- the default address pools ---------------------------------------------------------

def test_default_pools_are_mobys_31():
    assert len(DEFAULTS) == 31
    assert DEFAULTS[:4] == ("172.17.0.0/16", "172.18.0.0/16", "172.19.0.0/16", "172.20.0.0/16")
    assert DEFAULTS[14] == "172.31.0.0/16"
    assert DEFAULTS[15:17] == ("192.168.0.0/20", "192.168.16.0/20")
    assert DEFAULTS[-1] == "192.168.240.0/20"


def test_split_pools_refuses_a_size_smaller_than_the_base():
    with pytest.raises(errors.InvalidArgument, match="invalid pools size: 8"):
        ipam.split_pools([("10.0.0.0/16", 8)])
    assert ipam.split_pools([("10.10.0.0/16", 24)])[:2] == ("10.10.0.0/24", "10.10.1.0/24")


def test_pick_subnet_in_order_skipping_taken_and_host_routes():
    assert ipam.pick_subnet(DEFAULTS, []) == ("172.17.0.0/16", 1)
    # dockerd 20.10 with --bip 10.213.7.1/24: n1 172.17, n2 172.18
    assert ipam.pick_subnet(DEFAULTS, ["10.213.7.0/24", "172.17.0.0/16"]) == ("172.18.0.0/16", 2)
    # a host route in the way (192.0.2.0/24 here does not matter; 172.17.5.0/24 does)
    assert ipam.pick_subnet(DEFAULTS, [], ["192.0.2.0/24", "172.17.5.0/24"]) == ("172.18.0.0/16", 2)
    # a nameserver, as a /32
    assert ipam.pick_subnet(DEFAULTS, [], ["172.17.0.53/32"])[0] == "172.18.0.0/16"
    # a big taken network covers several candidates
    assert ipam.pick_subnet(DEFAULTS, ["172.16.0.0/12"])[0] == "192.168.0.0/20"


def test_pick_subnet_starts_after_the_last_one_picked():
    # dockerd 20.10: create n1 (172.17), n2 (172.18), rm n1, create n3 -> 172.19, not 172.17
    subnet, start = ipam.pick_subnet(DEFAULTS, ["172.18.0.0/16"], start=2)
    assert (subnet, start) == ("172.19.0.0/16", 3)
    # it wraps around to the start of the list
    taken = DEFAULTS[1:]
    assert ipam.pick_subnet(DEFAULTS, taken, start=20) == ("172.17.0.0/16", 1)


def test_pick_subnet_exhausted_is_mobys_not_found():
    with pytest.raises(errors.NotFound) as exc:
        ipam.pick_subnet(DEFAULTS, ["0.0.0.0/0"])
    assert message(exc) == ("could not find an available, non-overlapping IPv4 address pool "
                            "among the defaults to assign to the network")


# -- a network's pools ------------------------------------------------------------------

def test_auto_pool_gets_the_first_address_as_gateway():
    pools, start = ipam.network_pools([], False, ["10.213.7.0/24"], DEFAULTS)
    assert pools == (Pool("172.17.0.0/16", "172.17.0.1"),)
    assert start == 1
    assert not pools[0].configured


def test_configured_pool_keeps_what_was_given():
    pools, _ = ipam.network_pools([Pool("10.214.0.0/16")], False, [], DEFAULTS)
    assert pools == (Pool("10.214.0.0/16", "10.214.0.1", configured=True),)
    cfg = Pool("10.216.0.0/16", "10.216.0.1", "10.216.5.0/24", (("q", "10.216.9.9"), ("r", "10.216.5.1")))
    (pool,), _ = ipam.network_pools([cfg], False, [], DEFAULTS)
    assert pool == Pool("10.216.0.0/16", "10.216.0.1", "10.216.5.0/24", cfg.aux,
                        configured=True, gateway_given=True)


def test_the_request_may_be_the_apis_ipam_config():
    (pool,), _ = ipam.network_pools([IPAMConfig("10.9.0.0/24", gateway="10.9.0.254")], False, [])
    assert (pool.gateway, pool.gateway_given) == ("10.9.0.254", True)


def test_gateway_of_an_ip_range_is_its_first_address():
    # moby allocates the gateway in the ip-range, whose first address is not reserved;
    # dockerd 20.10: the container's Gateway 10.215.5.0, its address 10.215.5.1, and
    # --ip 10.215.5.0 "Address already in use"
    (pool,), _ = ipam.network_pools([Pool("10.215.0.0/16", ip_range="10.215.5.0/24")], False, [])
    assert pool.gateway == "10.215.5.0"
    assert ipam.assign(net(pool), 4, set()) == "10.215.5.1/16"
    with pytest.raises(errors.PermissionDenied, match="^Address already in use$"):
        ipam.assign(net(pool), 4, set(), "10.215.5.0")
    (pool,), _ = ipam.network_pools([Pool("10.215.0.0/16", ip_range="10.215.0.0/24")], False, [])
    assert pool.gateway == "10.215.0.1"


def test_overlapping_subnets_are_refused():
    # dockerd 20.10: 403 and this text, for another network's subnet or the default bridge's
    for taken in (["10.214.0.0/16"], ["10.214.1.0/24"], ["10.0.0.0/8"]):
        with pytest.raises(errors.PermissionDenied) as exc:
            ipam.network_pools([Pool("10.214.1.0/24")], False, taken)
        assert message(exc) == "Pool overlaps with other one on this address space"
    # two entries of the same request (dockerd 20.10: bad9)
    with pytest.raises(errors.PermissionDenied, match="^Pool overlaps"):
        ipam.network_pools([Pool("10.221.0.0/16"), Pool("10.221.0.0/24")], False, [])
    # a user's subnet may overlap the host's routes (only picked ones avoid them)
    ipam.network_pools([Pool("192.0.2.0/24")], False, [], DEFAULTS, avoid=["192.0.2.0/24"])


@pytest.mark.parametrize("cfg,ipv6,expected", [
    # moby 26.1's ValidateIPAM
    (Pool("10.217.0.0/16", "10.218.0.1"), False,
     "invalid gateway 10.218.0.1: parent subnet 10.217.0.0/16 doesn't contain this address"),
    (Pool("10.217.0.0/33"), False, "invalid subnet 10.217.0.0/33: invalid CIDR block notation"),
    (Pool("10.217.0.0"), False, "invalid subnet 10.217.0.0: invalid CIDR block notation"),
    (Pool(""), False, "invalid subnet : invalid CIDR block notation"),
    (Pool("bogus/8"), True, "invalid subnet bogus/8: invalid CIDR block notation"),
    (Pool("10.217.0.1/16"), False, "invalid subnet 10.217.0.1/16: it should be 10.217.0.0/16"),
    (Pool("fd00:1::1/64"), True, "invalid subnet fd00:1::1/64: it should be fd00:1::/64"),
    (Pool("10.217.0.0/16", ip_range="10.218.0.0/24"), False,
     "invalid ip-range 10.218.0.0/24: parent subnet 10.217.0.0/16 doesn't contain ip-range"),
    (Pool("10.217.0.0/16", ip_range="10.217.0.0/8"), False,
     "* invalid ip-range 10.217.0.0/8: CIDR block is bigger than its parent subnet 10.217.0.0/16\n"
     "* invalid ip-range 10.217.0.0/8: it should be 10.0.0.0/8"),
    (Pool("10.217.0.0/16", ip_range="10.217.1.1/24"), False,
     "invalid ip-range 10.217.1.1/24: it should be 10.217.1.0/24"),
    (Pool("10.217.0.0/16", ip_range="fd00::/64"), False,
     "invalid ip-range fd00::/64: parent subnet is an IPv4 block"),
    (Pool("10.217.0.0/16", ip_range="x"), False, "invalid ip-range x: invalid CIDR block notation"),
    (Pool("10.217.0.0/16", "zz"), False, "invalid gateway zz: invalid address"),
    (Pool("10.217.0.0/16", "fd00::1"), False, "invalid gateway fd00::1: parent subnet is an IPv4 block"),
    (Pool("10.217.0.0/16", aux=(("x", "10.218.0.1"),)), False,
     "invalid auxiliary address x: parent subnet 10.217.0.0/16 doesn't contain this address"),
    (Pool("fd00:1::/64", "10.0.0.1"), True, "invalid gateway 10.0.0.1: parent subnet is an IPv6 block"),
])
def test_validate_messages(cfg, ipv6, expected):
    with pytest.raises(errors.InvalidArgument) as exc:
        ipam.network_pools([cfg], ipv6, [], DEFAULTS)
    assert message(exc) == "invalid network config:\n" + expected


def test_validate_joins_every_error_of_every_entry():
    with pytest.raises(errors.InvalidArgument) as exc:
        ipam.validate([Pool("10.1.0.0/16", "10.2.0.1"), Pool("x")], False)
    assert message(exc) == ("invalid network config:\n"
                            "* invalid gateway 10.2.0.1: parent subnet 10.1.0.0/16 doesn't contain this address\n"
                            "* invalid subnet x: invalid CIDR block notation")


def test_ipv6_entries_without_ipv6():
    # moby skips checking them; dockerd 20.10 then picks an IPv4 subnet (bad5). ketch drops
    # the IPv6 entry (moby shows it in inspect without ever allocating from it)
    pools, _ = ipam.network_pools([Pool("fd00:1::1/64")], False, [], DEFAULTS)
    assert pools == (Pool("172.17.0.0/16", "172.17.0.1"),)


def test_ipv6_network():
    pools, _ = ipam.network_pools([Pool("fd00:2::/64")], True, [], DEFAULTS)
    assert pools == (Pool("172.17.0.0/16", "172.17.0.1"), Pool("fd00:2::/64", "fd00:2::1", configured=True))
    # dockerd 20.10 (v6b): no default IPv6 pools, a 404
    with pytest.raises(errors.NotFound, match="non-overlapping IPv6 address pool"):
        ipam.network_pools([], True, [], DEFAULTS)


def test_gateway_on_a_reserved_address():
    # dockerd 20.10 (bad7): a 500
    with pytest.raises(errors.Internal) as exc:
        ipam.network_pools([Pool("10.219.0.0/16", "10.219.0.0")], False, [])
    assert message(exc) == "failed to allocate gateway (10.219.0.0): Address already in use"
    with pytest.raises(errors.Internal, match=r"gateway \(10.219.255.255\): Address already in use"):
        ipam.network_pools([Pool("10.219.0.0/16", "10.219.255.255")], False, [])


def test_aux_address_taken_by_the_gateway():
    with pytest.raises(errors.Internal) as exc:
        ipam.network_pools([Pool("10.219.0.0/16", aux=(("r", "10.219.0.1"),))], False, [])
    assert message(exc) == "failed to allocate secondary ip address (r:10.219.0.1): Address already in use"


# -- addresses ---------------------------------------------------------------------------

S1 = net(Pool("10.214.0.0/16", "10.214.0.1", configured=True), name="s1")


def test_addresses_are_the_lowest_free_ones():
    # dockerd 20.10: run c1 (.2), c2 (.3), rm c1, run c3: .2 again
    assert ipam.assign(S1, 4, set()) == "10.214.0.2/16"
    assert ipam.assign(S1, 4, {"10.214.0.2"}) == "10.214.0.3/16"
    assert ipam.assign(S1, 4, {"10.214.0.3"}) == "10.214.0.2/16"
    assert ipam.assign(S1, 4, {"10.214.0.2/16", "10.214.0.3"}) == "10.214.0.4/16"


def test_addresses_come_from_the_ip_range_and_skip_aux():
    s3 = net(Pool("10.216.0.0/16", "10.216.0.1", "10.216.5.0/24", (("q", "10.216.9.9"), ("r", "10.216.5.1")),
                  configured=True, gateway_given=True))
    # dockerd 20.10: c9 on s3 got 10.216.5.0/16
    assert ipam.assign(s3, 4, set()) == "10.216.5.0/16"
    assert ipam.assign(s3, 4, {"10.216.5.0"}) == "10.216.5.2/16"
    assert ipam.reserved(s3.pools[0]) == {"10.216.0.0", "10.216.255.255", "10.216.0.1", "10.216.5.1", "10.216.9.9"}


@pytest.mark.parametrize("preferred", ["10.214.0.1", "10.214.255.255", "10.214.0.0", "10.214.0.9"])
def test_a_preferred_address_in_use(preferred):
    # dockerd 20.10: --ip of the gateway, the broadcast address, another container's: 403
    with pytest.raises(errors.PermissionDenied) as exc:
        ipam.assign(S1, 4, {"10.214.0.9"}, preferred)
    assert message(exc) == "Address already in use"


def test_a_preferred_address():
    assert ipam.assign(S1, 4, {"10.214.0.2"}, "10.214.0.9") == "10.214.0.9/16"
    s3 = net(Pool("10.216.0.0/16", "10.216.0.1", "10.216.5.0/24", configured=True))
    assert ipam.assign(s3, 4, set(), "10.216.9.10") == "10.216.9.10/16"  # outside the range: fine
    with pytest.raises(errors.InvalidArgument) as exc:
        ipam.assign(S1, 4, set(), "10.99.0.9")
    assert message(exc) == "invalid address 10.99.0.9: It does not belong to any of this network's subnets"


def test_a_full_network():
    small = net(Pool("10.1.1.0/30", "10.1.1.1"), name="small")
    assert ipam.assign(small, 4, set()) == "10.1.1.2/30"
    with pytest.raises(errors.Internal) as exc:
        ipam.assign(small, 4, {"10.1.1.2"})
    assert message(exc) == f"no available IPv4 addresses on this network's address pools: small ({'f' * 64})"


def test_the_next_pool_when_one_is_full():
    two = net(Pool("10.1.1.0/30", "10.1.1.1"), Pool("10.2.0.0/24", "10.2.0.1"))
    assert ipam.assign(two, 4, {"10.1.1.2"}) == "10.2.0.2/24"


def test_ipv6_addresses():
    v6 = net(Pool("172.17.0.0/16", "172.17.0.1"), Pool("fd00:2::/64", "fd00:2::1", configured=True))
    assert ipam.assign(v6, 6, set()) == "fd00:2::2/64"
    assert ipam.assign(v6, 6, {"fd00:2::2"}) == "fd00:2::3/64"
    assert ipam.assign(S1, 6, set()) == ""  # no IPv6 pool: no IPv6 address


def test_state_is_only_the_addresses_handed_out():
    """After a restart the engine rebuilds the set from its endpoint rows: same answers."""
    handed = set()
    for _ in range(3):
        handed.add(ipam.assign(S1, 4, handed).partition("/")[0])
    assert handed == {"10.214.0.2", "10.214.0.3", "10.214.0.4"}
    handed.discard("10.214.0.3")  # released
    assert ipam.assign(S1, 4, frozenset(handed)) == "10.214.0.3/16"


def test_mac_addresses_from_ipv4():
    # dockerd 20.10: 02:42:0a:d6:00:02 for 10.214.0.2, 02:42:ac:1f:00:02 for 172.31.0.2
    assert ipam.mac_address("10.214.0.2/16") == "02:42:0a:d6:00:02"
    assert ipam.mac_address("172.31.0.2") == "02:42:ac:1f:00:02"
    assert ipam.mac_address().startswith("02:42:")


# -- endpoint settings (moby 26.1's validateEndpointSettings) ----------------------------

N3 = net(Pool("172.19.0.0/16", "172.19.0.1"), name="n3")
# moby configures the default bridge's pool (from --bip or the first free default) as given
BRIDGE = net(Pool("172.17.0.0/16", "172.17.0.1", configured=True, gateway_given=True), name="bridge",
             predefined=True)


@pytest.mark.parametrize("network,settings,expected", [
    # dockerd 20.10 said these without the "invalid endpoint settings:" line (c7, connect)
    (N3, EndpointSettings(ipv4_address="172.19.0.9"),
     "user specified IP address is supported only when connecting to networks with user configured subnets"),
    (S1, EndpointSettings(ipv4_address="10.99.0.9"),
     "no configured subnet or ip-range contain the IP address 10.99.0.9"),
    (BRIDGE, EndpointSettings(aliases=("x",)),
     "network-scoped alias is supported only for containers in user defined networks"),
    (S1, EndpointSettings(ipv4_address="bogus"),
     "* invalid IPv4 address: bogus\n"
     "* no configured subnet or ip-range contain the IP address bogus"),
    (None, EndpointSettings(ipv4_address="fd00::1", ipv6_address="10.0.0.1", link_local_ips=("x",)),
     "* invalid IPv4 address: fd00::1\n* invalid IPv6 address: 10.0.0.1\n* invalid link-local IP address: x"),
    (BRIDGE, EndpointSettings(ipv4_address="172.17.0.9"),
     "user specified IP address is supported on user defined networks only"),
    (BRIDGE, EndpointSettings(ipv4_address="10.0.0.9", aliases=("x",)),
     "* user specified IP address is supported on user defined networks only\n"
     "* network-scoped alias is supported only for containers in user defined networks\n"
     "* no configured subnet or ip-range contain the IP address 10.0.0.9"),
])
def test_endpoint_settings_messages(network, settings, expected):
    with pytest.raises(errors.InvalidArgument) as exc:
        check_endpoint(network, settings)
    assert message(exc) == "invalid endpoint settings:\n" + expected


def test_endpoint_settings_that_pass():
    check_endpoint(S1, EndpointSettings(ipv4_address="10.214.0.9", aliases=("a",), mac_address="02:42:0a:d6:00:09"))
    check_endpoint(N3, EndpointSettings(aliases=("a",)))
    with pytest.raises(errors.InvalidArgument, match="^invalid MAC address 02:42$"):
        check_endpoint(S1, EndpointSettings(mac_address="02:42"))
