"""ketch's nftables ruleset on the real kernel, proved with real traffic.

The topology lives in namespaces of the test's own (tests/integration/netns.py):

    out (192.0.2.2, 2001:db8::2; a server on :9000)
     |  uplink veth
    host (192.0.2.1, 2001:db8::1; ip_forward; ketch's tables go here)
     |- br-a 10.77.1.1/24 fd00:77:1::1/64   c1 .2 / ::2, c2 .3      (icc)
     |- br-b 10.77.2.1/24                   c3 .2, c5 .3            (icc=false)
     '- br-i 10.77.3.1/24                   c4 .2                   (internal)

Every container runs a server on :80 (tcp and udp) answering "<name> <peer address>".
The whole module runs twice: with br_netfilter's bridge-nf-call-ip(6)tables off and on
(the sysctls are per namespace), since bridged traffic meets different hooks in each.
"""

import dataclasses
import json
import os
import pathlib
import subprocess
import time

import pytest

from ketch.network import model, nft
from tests.integration.netns import Namespaces

pytestmark = pytest.mark.integration

TABLE = "kt-nft"
GOLDEN = pathlib.Path(__file__).parent.parent / "golden" / "nft_ruleset.nft"
BRIDGES = (
    nft.BridgeRules("br-a", ("10.77.1.0/24", "fd00:77:1::/64")),
    nft.BridgeRules("br-b", ("10.77.2.0/24",), icc=False),
    nft.BridgeRules("br-i", ("10.77.3.0/24",), internal=True),
)
PORTS = (
    model.PortForward("tcp", "", 8080, "10.77.1.2", 80, "br-a"),
    model.PortForward("udp", "", 5353, "10.77.1.2", 80, "br-a"),
    model.PortForward("tcp", "", 8080, "fd00:77:1::2", 80, "br-a"),
    model.PortForward("tcp", "127.0.0.1", 8081, "10.77.1.3", 80, "br-a"),
    model.PortForward("tcp", "", 8082, "10.77.2.2", 80, "br-b"),
)
RULESET = nft.Ruleset(TABLE, BRIDGES, PORTS)

_APPLY = """
import json
from ketch import errors
from ketch.network import model, nft
doc = json.loads(sys.stdin.read())
if doc["op"] == "remove":
    nft.remove(doc["table"])
elif doc["op"] == "raw":
    nft._run(doc["document"])
else:
    rs = nft.Ruleset(doc["table"], tuple(nft.BridgeRules(**dict(b, subnets=tuple(b["subnets"])))
                                          for b in doc["bridges"]),
                     tuple(model.PortForward(**p) for p in doc["ports"]))
    try:
        nft.apply(rs)
    except errors.KetchError as e:
        print(type(e).__name__, e); sys.exit(3)
"""


class Lab(Namespaces):
    def firewall(self, op: str, rs: "nft.Ruleset | None" = None, **extra) -> subprocess.CompletedProcess:
        doc = {"op": op, "table": rs.table if rs else TABLE, **extra}
        if rs:
            doc.update(bridges=[dataclasses.asdict(b) for b in rs.bridges],
                       ports=[dataclasses.asdict(p) for p in rs.ports])
        return self.python("host", _APPLY, json.dumps(doc))

    def apply(self, rs: nft.Ruleset = RULESET) -> None:
        r = self.firewall("apply", rs)
        assert r.returncode == 0, r.stdout + r.stderr

    def ruleset(self) -> str:
        return self.run("host", ["nft", "list", "ruleset"], check=True).stdout


def _build(lab: Lab, bridge_nf: str) -> None:
    lab.add("host", "out", "c1", "c2", "c3", "c5", "c4")
    lab.sysctl("host", "net.ipv4.ip_forward", "1")
    lab.sysctl("host", "net.ipv6.conf.all.forwarding", "1")
    for family in ("iptables", "ip6tables"):
        lab.sysctl("host", f"net.bridge.bridge-nf-call-{family}", bridge_nf)
    lab.veth("host", "uplink", "out")
    lab.ip("host", "addr", "add", "192.0.2.1/24", "dev", "uplink")
    lab.ip("host", "addr", "add", "2001:db8::1/64", "dev", "uplink", "nodad")
    lab.ip("out", "addr", "add", "192.0.2.2/24", "dev", "eth0")
    lab.ip("out", "addr", "add", "2001:db8::2/64", "dev", "eth0", "nodad")
    # a route back to the internal network only: its isolation must come from the rules,
    # not from the outside's lack of a route (the other bridges are reached through NAT)
    lab.ip("out", "route", "add", "10.77.3.0/24", "via", "192.0.2.1")
    for br, net in (("br-a", "10.77.1"), ("br-b", "10.77.2"), ("br-i", "10.77.3")):
        lab.ip("host", "link", "add", br, "type", "bridge")
        lab.ip("host", "addr", "add", f"{net}.1/24", "dev", br)
        lab.ip("host", "link", "set", br, "up")
        # what the lead's bridge setup does, so that DNAT of 127.0.0.1 is routed at all
        lab.sysctl("host", f"net.ipv4.conf.{br}.route_localnet", "1")
    lab.ip("host", "addr", "add", "fd00:77:1::1/64", "dev", "br-a", "nodad")
    for c, br, addr in (("c1", "br-a", "10.77.1.2"), ("c2", "br-a", "10.77.1.3"), ("c3", "br-b", "10.77.2.2"),
                        ("c5", "br-b", "10.77.2.3"), ("c4", "br-i", "10.77.3.2")):
        lab.veth("host", "v-" + c, c, br)
        lab.ip(c, "addr", "add", addr + "/24", "dev", "eth0")
        lab.ip(c, "route", "add", "default", "via", addr.rsplit(".", 1)[0] + ".1")
        lab.serve(c, 80)
    lab.ip("c1", "addr", "add", "fd00:77:1::2/64", "dev", "eth0", "nodad")
    lab.ip("c1", "-6", "route", "add", "default", "via", "fd00:77:1::1")
    lab.serve("out", 9000)
    # IPv6 neighbours and the new bridge ports take a moment after creation
    deadline = time.monotonic() + 10
    while _names(lab.probe("host", [("tcp", "fd00:77:1::2", 80), ("tcp", "10.77.1.2", 80)])) != ["c1", "c1"]:
        assert time.monotonic() < deadline, "the topology never came up"
        time.sleep(0.1)


@pytest.fixture(scope="module", params=["0", "1"], ids=["no-br_netfilter", "br_netfilter"])
def lab(request):
    lab = Lab()
    try:
        _build(lab, request.param)
        yield lab
    finally:
        lab.close()
        assert lab.leftovers() == []


def _names(answers: list) -> list:
    return [a.split()[0] if a else None for a in answers]


def test_isolation_needs_the_rules(lab):
    # the controls: without ketch's rules the host routes everything between bridges
    lab.firewall("remove")
    assert _names(lab.probe("c1", [("tcp", "10.77.2.2", 80)])) == ["c3"]
    assert _names(lab.probe("c3", [("tcp", "10.77.2.3", 80)])) == ["c5"]
    assert _names(lab.probe("c4", [("tcp", "10.77.1.2", 80), ("tcp", "192.0.2.2", 9000)])) == ["c1", "out"]
    assert lab.probe("c1", [("tcp", "192.0.2.2", 9000)]) == [None]  # no route back: needs NAT


def test_published_ports_from_the_host(lab):
    lab.apply()
    answers = lab.probe("host", [("tcp", "192.0.2.1", 8080), ("tcp", "127.0.0.1", 8080),
                                 ("tcp", "10.77.1.1", 8080), ("udp", "127.0.0.1", 5353),
                                 ("udp", "192.0.2.1", 5353), ("tcp", "127.0.0.1", 8081),
                                 ("tcp", "2001:db8::1", 8080)])
    assert _names(answers) == ["c1", "c1", "c1", "c1", "c1", "c2", "c1"]


def test_published_ports_from_outside(lab):
    lab.apply()
    answers = lab.probe("out", [("tcp", "192.0.2.1", 8080), ("udp", "192.0.2.1", 5353),
                                ("tcp", "2001:db8::1", 8080), ("tcp", "192.0.2.1", 8081)])
    # the container sees the real client; a port published on 127.0.0.1 only is not reachable
    assert answers[:3] == ["c1 192.0.2.2", "c1 192.0.2.2", "c1 2001:db8::2"]
    assert answers[3] is None


def test_published_ports_from_containers(lab):
    lab.apply()
    # hairpin: c1 to its own published port through the gateway and the uplink address
    assert _names(lab.probe("c1", [("tcp", "10.77.1.1", 8080), ("tcp", "192.0.2.1", 8080),
                                   ("tcp", "192.0.2.1", 8082)])) == ["c1", "c1", "c3"]
    assert _names(lab.probe("c2", [("tcp", "192.0.2.1", 8080), ("udp", "10.77.1.1", 5353)])) == ["c1", "c1"]
    assert _names(lab.probe("c3", [("tcp", "192.0.2.1", 8080)])) == ["c1"]


def test_outbound_masquerade(lab):
    lab.apply()
    assert lab.probe("c1", [("tcp", "192.0.2.2", 9000)]) == ["out 192.0.2.1"]
    assert lab.probe("c3", [("tcp", "192.0.2.2", 9000), ("udp", "192.0.2.2", 9000)]) == ["out 192.0.2.1"] * 2


def test_isolation_internal_and_icc(lab):
    lab.apply()
    assert lab.probe("c1", [("tcp", "10.77.2.2", 80), ("tcp", "10.77.3.2", 80)]) == [None, None]
    assert lab.probe("c3", [("tcp", "10.77.1.2", 80), ("tcp", "10.77.2.3", 80)]) == [None, None]
    assert lab.probe("c4", [("tcp", "10.77.1.2", 80), ("tcp", "192.0.2.2", 9000)]) == [None, None]
    assert lab.probe("out", [("tcp", "10.77.3.2", 80)]) == [None]
    # icc on br-a: neighbours still talk directly
    assert _names(lab.probe("c2", [("tcp", "10.77.1.2", 80)])) == ["c1"]


def test_apply_is_idempotent_and_atomic(lab):
    lab.apply()
    first = lab.ruleset()
    lab.apply()
    assert lab.ruleset() == first
    assert first.count(f"table inet {TABLE} ") == 1 and f"table bridge {TABLE} " in first
    # the kernel's own listing of what render() said, for review
    if os.environ.get("KETCH_UPDATE_GOLDEN"):
        GOLDEN.write_text(first)
    assert first == GOLDEN.read_text()

    bad = dataclasses.replace(RULESET, ports=RULESET.ports + (model.PortForward("tcp", "", 70000, "10.77.1.2", 80, "br-a"),))
    r = lab.firewall("apply", bad)
    assert r.returncode == 3 and r.stdout.startswith("NftError nftables: "), r.stdout + r.stderr
    assert lab.ruleset() == first

    # a document the kernel refuses after the table was already emptied in the same
    # transaction: the commit is all or nothing
    doc = nft.render(nft.Ruleset(TABLE, BRIDGES[:1]))
    doc["nftables"].append({"add": {"rule": {"family": "inet", "table": TABLE, "chain": "forward",
                                             "expr": [{"jump": {"target": "no-such-chain"}}]}}})
    r = lab.firewall("raw", document=doc)
    assert r.returncode != 0 and "NftError" in r.stderr
    assert lab.ruleset() == first
    assert _names(lab.probe("host", [("tcp", "127.0.0.1", 8080)])) == ["c1"]


def test_remove_leaves_nothing(lab):
    lab.apply()
    foreign = "table inet not-ketch {\n}\n"
    lab.run("host", ["nft", "add", "table", "inet", "not-ketch"], check=True)
    for _ in range(2):
        r = lab.firewall("remove")
        assert r.returncode == 0, r.stderr
        assert lab.ruleset() == foreign
    lab.run("host", ["nft", "delete", "table", "inet", "not-ketch"], check=True)
    assert lab.probe("host", [("tcp", "127.0.0.1", 8080)]) == [None]


_PROXY = """
import asyncio
from ketch.network import portalloc, proxy
async def main():
    pa = portalloc.PortAllocator()
    for port in (8080, 8090):
        binding, = pa.allocate([portalloc.PortRequest("tcp", 80, "::", port)])
        await proxy.TcpProxy(pa.socket_of(binding), ("10.77.1.2", 80)).start()
    print("ready", flush=True)
    await asyncio.sleep(60)
asyncio.run(main())
"""


def test_userland_proxy_serves_what_nat_cannot(lab):
    lab.apply()
    p = subprocess.Popen(["ip", "netns", "exec", lab.ns("host"), *lab.python_argv(_PROXY)],
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        # [::1] (8080 has a v6 DNAT rule, which must leave ::1 alone) and an IPv6 client of
        # an IPv4-only container, relayed from the host to c1's IPv4 address
        assert lab.probe("host", [("tcp", "::1", 8080), ("tcp", "::1", 8090)]) == ["c1 10.77.1.1"] * 2
        assert lab.probe("out", [("tcp", "2001:db8::1", 8090)]) == ["c1 10.77.1.1"]
    finally:
        p.kill()
        p.wait()
