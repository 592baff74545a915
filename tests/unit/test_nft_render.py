"""ketch/network/nft.render: the golden document of a representative ruleset, and the
properties every rendered document has (atomic replace, only ketch's tables, no foreign drops).

The golden ``tests/golden/nft_ruleset.json`` is ``render(RULESET)``; the kernel's own listing
of the same rules is checked by tests/integration/test_nft.py against
``tests/golden/nft_ruleset.nft``. Set KETCH_UPDATE_GOLDEN=1 to rewrite the golden.
"""

import json
import os
import pathlib

import pytest

from ketch import errors
from ketch.network import model, nft

GOLDEN = pathlib.Path(__file__).parent.parent / "golden" / "nft_ruleset.json"

BRIDGES = (
    nft.BridgeRules("ketch0", ("172.31.0.0/16",)),
    nft.BridgeRules("br-0123456789ab", ("10.77.1.0/24", "fd00:77:1::/64"), icc=False),
    nft.BridgeRules("br-internal", ("10.77.3.0/24",), internal=True, masquerade=True),
    nft.BridgeRules("br-nomasq", ("10.77.4.0/24",), masquerade=False),
)
PORTS = (
    model.PortForward("tcp", "", 8080, "172.31.0.2", 80, "ketch0"),
    model.PortForward("udp", "0.0.0.0", 5353, "172.31.0.2", 53, "ketch0"),
    model.PortForward("tcp", "127.0.0.1", 8081, "10.77.1.2", 80, "br-0123456789ab"),
    model.PortForward("sctp", "", 9000, "10.77.1.2", 9000, "br-0123456789ab"),
    model.PortForward("tcp", "::", 8080, "fd00:77:1::2", 80, "br-0123456789ab"),
)
RULESET = nft.Ruleset("ketch", BRIDGES, PORTS)


def test_golden():
    # one command a line: reviewable, and a diff names the rule that changed
    commands = nft.render(RULESET)["nftables"]
    text = '{"nftables": [\n' + ",\n".join(json.dumps(c) for c in commands) + "\n]}\n"
    if os.environ.get("KETCH_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def _commands(doc):
    return [c for c in doc["nftables"] if "metainfo" not in c]


def test_replaces_each_table_atomically_first():
    cmds = _commands(nft.render(RULESET))
    tables = [i for i, c in enumerate(cmds) if "table" in next(iter(c.values()))]
    families = []
    for i in tables[::3]:
        trio = cmds[i:i + 3]
        assert [next(iter(c)) for c in trio] == ["add", "delete", "add"]
        assert len({json.dumps(c[next(iter(c))]["table"]) for c in trio}) == 1
        families.append(trio[0]["add"]["table"]["family"])
    assert families == ["inet", "bridge"] and len(tables) == 6
    # every chain and rule of a family comes after its table's replacement
    for i, c in enumerate(cmds):
        obj = c.get("add", {}).get("chain") or c.get("add", {}).get("rule")
        if obj:
            start = tables[3 * families.index(obj["family"]) + 2]
            assert i > start


def test_table_name_is_the_callers_everywhere():
    doc = nft.render(nft.Ruleset("kt-test-7", BRIDGES, PORTS))
    for c in _commands(doc):
        (verb, body), = c.items()
        (kind, obj), = body.items()
        assert (obj["name"] if kind == "table" else obj["table"]) == "kt-test-7"
        assert obj["family"] in ("inet", "bridge")
    assert '"ketch"' not in json.dumps(doc)


def test_only_accept_policies_and_drops_name_ketchs_bridges():
    own = {b.bridge for b in BRIDGES} | {s.split("/")[0] for b in BRIDGES for s in b.subnets}
    for c in _commands(nft.render(RULESET)):
        chain = c.get("add", {}).get("chain")
        if chain and "hook" in chain:
            assert chain["policy"] == "accept"
        rule = c.get("add", {}).get("rule")
        if rule and {"drop": None} in rule["expr"]:
            text = json.dumps(rule["expr"])
            assert any(json.dumps(name) in text for name in own), rule


def test_ports_render_per_family():
    def rule_of(fwd):
        doc = nft.render(nft.Ruleset("t", BRIDGES, (fwd,)))
        return next(c["add"]["rule"] for c in _commands(doc)
                    if "rule" in c.get("add", {}) and c["add"]["rule"]["chain"] == "ports")
    any4 = rule_of(model.PortForward("tcp", "", 80, "10.0.0.2", 8000, "b"))
    assert any4["expr"][0] == {"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}}
    assert any4["expr"][-1] == {"dnat": {"family": "ip", "addr": "10.0.0.2", "port": 8000}}
    one6 = rule_of(model.PortForward("udp", "fd00::1", 53, "fd00:1::2", 53, "b"))
    assert one6["expr"][0]["match"]["left"] == {"payload": {"protocol": "ip6", "field": "daddr"}}
    assert one6["expr"][-1]["dnat"]["family"] == "ip6"


@pytest.mark.parametrize("fwd", [
    model.PortForward("tcp", "::", 80, "10.0.0.2", 80, "b"),
    model.PortForward("tcp", "192.168.1.1", 80, "fd00::2", 80, "b"),
    model.PortForward("icmp", "", 80, "10.0.0.2", 80, "b"),
])
def test_inconsistent_forwards_are_refused(fwd):
    with pytest.raises(errors.InvalidArgument):
        nft.render(nft.Ruleset("t", (), (fwd,)))


def test_isolation_only_between_several_bridges():
    doc = json.dumps(nft.render(nft.Ruleset("t", BRIDGES[:1])))
    assert "isolation" not in doc and '{"dnat": ' not in doc
    assert json.dumps(nft.render(nft.Ruleset("t"))).count('"add"') == 16  # 2 tables x2, 7 chains, 5 rules


def test_removal_is_idempotent_by_construction():
    assert nft.removal("kt-x") == {"nftables": [
        {"add": {"table": {"family": "inet", "name": "kt-x"}}},
        {"delete": {"table": {"family": "inet", "name": "kt-x"}}},
        {"add": {"table": {"family": "bridge", "name": "kt-x"}}},
        {"delete": {"table": {"family": "bridge", "name": "kt-x"}}},
    ]}


def test_bridge_rules_of_a_network():
    net = model.Network("ab" * 32, "web", model.BRIDGE, "2026-12-07T00:00:00.000000000Z",
                        pools=(model.Pool("10.9.0.0/24", "10.9.0.1"), model.Pool("fd00:9::/64")),
                        internal=True, icc=False, masquerade=False, bridge="br-abababababab")
    assert nft.bridge_rules(net) == nft.BridgeRules("br-abababababab", ("10.9.0.0/24", "fd00:9::/64"),
                                                    internal=True, icc=False, masquerade=False)
