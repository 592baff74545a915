"""``run``/``create`` networking flags: the body docker 28 sends, and its errors.

tests/golden/netflags_docker28.jsonl holds what the docker 28.2.2 CLI did for each
command line (``docker create <argv> busybox`` against a fake Engine API that recorded
the request): the networking fields of the create body it sent, or its exit status and
stderr ("docker" read as "ketch"). ketch must build the same fields or fail the same way.
"""

import pytest

from ketch.cli import netopts, runconfig
from ketch.cli.flags import parse, render_help
from tests.createflag_helpers import create_outcome, golden_cases

CASES = golden_cases("netflags_docker28.jsonl")
HOST_FIELDS = ("PortBindings", "PublishAllPorts", "NetworkMode", "Links", "Dns", "DnsOptions",
               "DnsSearch", "ExtraHosts")


def _fields(body: dict) -> dict:
    return {"ExposedPorts": body.get("ExposedPorts"), "MacAddress": body.get("MacAddress"),
            "Hostname": body.get("Hostname"), "Domainname": body.get("Domainname"),
            **{k: body["HostConfig"].get(k) for k in HOST_FIELDS},
            "NC": body.get("NetworkingConfig")}


@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c["argv"]) or "(none)")
def test_create_body_and_errors_are_docker_28s(case):
    expected = {k: v for k, v in case.items() if k != "argv"}
    assert create_outcome(case["argv"], _fields) == expected


def test_the_golden_covers_the_flags():
    seen = {a.split("=")[0] for c in CASES for a in c["argv"] if a.startswith("-")}
    assert {"-p", "-P", "--expose", "--network", "--net", "--network-alias", "--net-alias", "--ip",
            "--ip6", "--mac-address", "--link", "--link-local-ip", "--dns", "--dns-option",
            "--dns-opt", "--dns-search", "--add-host"} <= seen
    assert sum("stderr" in c for c in CASES) >= 30


def test_hidden_spellings_share_their_flags_value_in_order():
    opts, _ = parse(runconfig.RUN, ["--net", "a", "--network", "b", "--dns-opt", "x",
                                    "--dns-option", "y", "--net-alias", "p", "busybox"])
    assert [n.target for n in opts["network"]] == ["a", "b"]
    assert (opts["dns-option"], opts["network-alias"]) == (["x", "y"], ["p"])
    assert "net" not in opts and "dns-opt" not in opts


def test_help_lists_the_flags_as_docker_does():
    text = render_help(runconfig.RUN, width=200)
    assert "      --network network " in text
    assert "  -p, --publish list " in text
    assert "--net " not in text and "--dns-opt " not in text and "--net-alias " not in text


def test_building_twice_from_the_same_values_gives_the_same_body():
    """The parsed --network values are not changed by the build (the old-syntax flags are
    applied to a copy)."""
    opts, args = parse(runconfig.RUN, ["--network", "foo", "--network-alias", "x", "busybox"])
    first = runconfig.build(opts, args, False)
    assert runconfig.build(opts, args, False) == first
    assert opts["network"][0].aliases == []


@pytest.mark.parametrize("value, ok", [
    ("02:42:ac:11:00:02", True), ("02-42-AC-11-00-02", True), ("0242.ac11.0002", True),
    ("02:42:ac:11:00:02:00:01", True), ("02:42:ac:11:00", False), ("02:42-ac:11:00:02", False),
    ("0242.ac11.000", False), ("zz:42:ac:11:00:02", False), ("", False),
])
def test_mac_addresses_as_go_parses_them(value, ok):
    from ketch.apitypes.netaddr import valid_mac
    assert valid_mac(value) is ok


@pytest.mark.parametrize("value, message", [
    ("a", None), ("name=a", None), ("a=b=c,name=x", "invalid field key a"),
    ("name=x,gw-priority=99999999999999999999", "invalid gw-priority (99999999999999999999): value out of range"),
    ('"name=x,alias=y', 'parse error on line 1, column 16: extraneous or missing " in quoted-field'),
])
def test_network_values(value, message):
    if message is None:
        assert netopts.parse_network(value).target in ("a", "x")
    else:
        with pytest.raises(ValueError) as exc:
            netopts.parse_network(value)
        assert str(exc.value) == message
