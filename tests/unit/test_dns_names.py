"""ketch.network.dns.names: Docker's name rules for the embedded DNS (moby v28.5
sandbox.ResolveName, network.ResolveName/ResolveIP, daemon buildEndpointDNSNames)."""

from ketch.network.dns.names import Directory, Entry, dns_names, entry_for
from ketch.network.model import Endpoint

WEB = "a1" * 32
DB1 = "b2" * 32
DB2 = "c3" * 32
OTHER = "d4" * 32


def _directory() -> Directory:
    d = Directory()
    d.join("n1", "front", Entry(WEB, dns_names("web", (), WEB, "webhost"), "172.18.0.2", "fd00::2"))
    d.join("n1", "front", Entry(DB1, dns_names("db1", ("db",), DB1), "172.18.0.3"))
    d.join("n1", "front", Entry(DB2, dns_names("db2", ("db", "DB2"), DB2), "172.18.0.4"))
    d.join("n2", "back", Entry(OTHER, dns_names("other", ("db",), OTHER), "172.19.0.2"))
    d.join("n2", "back", Entry(DB1, dns_names("db1", (), DB1), "172.19.0.3"))
    return d


def test_dns_names_order_and_dedup():
    assert dns_names("/web", ("www", "web"), WEB, "a1a1a1a1a1a1") == ("web", "www", "a1a1a1a1a1a1")
    assert dns_names("web", (), WEB, "host") == ("web", "a1a1a1a1a1a1", "host")


def test_names_aliases_short_id_hostname_case():
    d = _directory()
    assert d.lookup(WEB, "db1") == ["172.18.0.3"]
    assert d.lookup(WEB, "DB1.") == ["172.18.0.3"]
    assert d.lookup(WEB, DB1[:12]) == ["172.18.0.3"]
    assert d.lookup(DB1, "webhost") == ["172.18.0.2", "fd00::2"]
    assert d.lookup(WEB, "web") == ["172.18.0.2", "fd00::2"]  # its own name too
    assert sorted(d.lookup(WEB, "db")) == ["172.18.0.3", "172.18.0.4"]  # shared alias
    assert d.lookup(WEB, "nosuch") is None


def test_other_networks_do_not_resolve():
    d = _directory()
    assert d.lookup(WEB, "other") is None
    assert d.lookup(OTHER, "web") is None
    assert d.lookup(OTHER, "db") == ["172.19.0.2"]  # "db" on back is other's alias
    assert d.lookup("unknown-context", "web") is None


def test_first_network_that_knows_the_name_answers():
    d = _directory()
    assert d.lookup(DB1, "db1") == ["172.18.0.3"]  # front joined first
    assert d.lookup(DB1, "db1.back") == ["172.19.0.3"]
    assert d.lookup(DB1, "db1.front") == ["172.18.0.3"]
    assert d.lookup(WEB, "db1.back") is None  # web is not on back
    assert d.lookup(DB1, "db1.Back") is None  # network names are case-sensitive


def test_dotted_names_and_networks():
    d = Directory()
    d.join("n", "my.net", Entry(WEB, ("a.b",), "10.0.0.2"))
    assert d.lookup(WEB, "a.b") == ["10.0.0.2"]
    assert d.lookup(WEB, "a.b.my.net") == ["10.0.0.2"]
    assert d.lookup(WEB, "a.b.my") is None


def test_name_without_addresses_of_the_family_exists():
    d = Directory()
    d.join("n", "v6only", Entry(WEB, ("six",), "", "fd00::6"))
    d.join("n", "v6only", Entry(DB1, ("none",)))  # no address yet: not a name
    assert d.lookup(WEB, "six") == ["fd00::6"]
    assert d.lookup(WEB, "none") is None


def test_links_are_seen_by_their_container_only():
    d = Directory()
    d.join("n", "net", Entry(WEB, ("web",), "10.0.0.2", links=(("mydb", "db1"), ("db2", "db1"))))
    d.join("n", "net", Entry(DB1, ("db1",), "10.0.0.3"))
    d.join("n", "net", Entry(DB2, ("db2",), "10.0.0.4"))
    assert d.lookup(WEB, "mydb") == ["10.0.0.3"]
    assert d.lookup(WEB, "MyDB.net") == ["10.0.0.3"]
    assert d.lookup(DB2, "mydb") is None
    # a link alias hides the container of the same name from the linking container
    assert d.lookup(WEB, "db2") == ["10.0.0.3"]
    assert d.lookup(DB1, "db2") == ["10.0.0.4"]


def test_reverse():
    d = _directory()
    assert d.reverse(WEB, "172.18.0.3") == "db1.front"
    assert d.reverse(WEB, "fd00:0::2") == "web.front"
    assert d.reverse(DB1, "172.19.0.2") == "other.back"
    assert d.reverse(WEB, "172.19.0.2") is None
    assert d.reverse(WEB, "10.9.9.9") is None


def test_leave_and_forget():
    d = _directory()
    d.leave("n1", DB2)
    assert d.lookup(WEB, "db") == ["172.18.0.3"]
    d.forget(DB1)
    assert d.lookup(WEB, "db") is None
    assert d.lookup(DB1, "web") is None
    assert d.lookup(OTHER, "db1") is None
    d.forget(WEB)
    d.forget(OTHER)
    assert d._networks == {} and d._joined == {}


def test_entry_for_endpoint():
    ep = Endpoint(id="e" * 64, network_id="n1", container_id=WEB, ipv4="172.18.0.2/16",
                  ipv6="fd00::2/64", aliases=("www", WEB[:12]), links=("db1:mydb", "/cache"))
    e = entry_for(ep, "/web", "webhost")
    assert e == Entry(WEB, ("web", "www", WEB[:12], "webhost"), "172.18.0.2", "fd00::2",
                      (("mydb", "db1"), ("cache", "cache")))
