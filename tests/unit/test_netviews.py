"""A container's endpoint as API 1.45 shows it (moby 26.1's EndpointSettings)."""

from ketch.api.netviews import add_short_id_aliases, endpoint_json
from ketch.network.model import Endpoint, Network

CID = "0123456789ab" + "c" * 52


def test_aliases_are_the_users_and_the_short_id_is_in_dns_names():
    """From API 1.45 Aliases reflects exactly what create or connect was given; the short
    id the engine serves as a name shows in DNSNames only."""
    net = Network(id="n" * 64, name="mine", driver="bridge", created="2026-01-01T00:00:00Z")
    ep = Endpoint(id="e" * 64, network_id=net.id, container_id=CID, ipv4="10.231.240.9/24",
                  gateway4="10.231.240.1", aliases=("al", CID[:12]), dns=True)
    doc = endpoint_json("mine", {"Aliases": ["al"], "NetworkID": net.id}, ep, net, "web", "host1")
    assert doc["Aliases"] == ["al"]
    assert doc["DNSNames"] == ["web", "al", CID[:12], "host1"]
    assert (doc["IPAddress"], doc["IPPrefixLen"], doc["Gateway"]) == ("10.231.240.9", 24, "10.231.240.1")
    assert endpoint_json("mine", {"NetworkID": net.id}, ep, net, "web", "host1")["Aliases"] is None


def test_before_api_1_45_the_short_id_is_an_alias_on_user_defined_networks():
    networks = {"mine": {"Aliases": ["al"]}, "other": {"Aliases": None}, "again": {"Aliases": [CID[:12]]},
                "bridge": {"Aliases": None}, "host": {"Aliases": None}}
    add_short_id_aliases(networks, CID)
    assert networks == {"mine": {"Aliases": ["al", CID[:12]]}, "other": {"Aliases": [CID[:12]]},
                        "again": {"Aliases": [CID[:12]]}, "bridge": {"Aliases": None},
                        "host": {"Aliases": None}}
