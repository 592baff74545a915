"""ketch.apitypes.ports: go-connections' nat parsing and docker/cli's DisplayablePorts.

The PORTS strings were checked against the docker 28.2.2 CLI (``docker ps --format
'{{.Ports}}'`` over the same ``/containers/json`` answer from a fake daemon).
"""

import pytest

from ketch.apitypes import ports
from ketch.apitypes.netaddr import AddrError, canonical_ip, join_host_port, parse_cidr, split_host_port


def _m(spec):
    return [(m.port, m.host_ip, m.host_port) for m in ports.parse_port_spec(spec)]


@pytest.mark.parametrize("spec, mappings", [
    ("80", [("80/tcp", "", "")]),
    ("8080:80", [("80/tcp", "", "8080")]),
    ("8080:80/udp", [("80/udp", "", "8080")]),
    ("8080:80/UDP", [("80/udp", "", "8080")]),
    ("80/sctp", [("80/sctp", "", "")]),
    ("127.0.0.1:8080:80", [("80/tcp", "127.0.0.1", "8080")]),
    ("127.0.0.1::80", [("80/tcp", "127.0.0.1", "")]),
    ("[::1]:8080:80", [("80/tcp", "::1", "8080")]),
    ("::1:8080:80", [("80/tcp", "::1", "8080")]),
    ("[::1]::80/udp", [("80/udp", "::1", "")]),
    (":80", [("80/tcp", "", "")]),
    ("080:0080", [("80/tcp", "", "80")]),
    ("80-82", [("80/tcp", "", ""), ("81/tcp", "", ""), ("82/tcp", "", "")]),
    ("8000-8001:80-81", [("80/tcp", "", "8000"), ("81/tcp", "", "8001")]),
    ("8000-8010:80", [("80/tcp", "", "8000-8010")]),
    ("1-2-3", [("1/tcp", "", ""), ("2/tcp", "", "")]),  # Go ignores a third part
    ("8080:80/", [("80/tcp", "", "8080")]),
])
def test_port_specs(spec, mappings):
    assert _m(spec) == mappings


@pytest.mark.parametrize("spec, message", [
    ("abc", "invalid containerPort: abc"),
    ("70000", "invalid containerPort: 70000"),
    ("81-80", "invalid containerPort: 81-80"),
    ("80-", "invalid containerPort: 80-"),
    ("+80", "invalid containerPort: +80"),
    ("x:80", "invalid hostPort: x"),
    ("1.2.3:80:80", "invalid IP address: 1.2.3"),
    ("1.2.3.4%x:80:80", "invalid IP address: 1.2.3.4%x"),
    ("fe80::1%eth0:80:80", "invalid IP address: fe80::1%eth0"),
    ("[::1:80:80", "invalid IP address [::1: address [::1:: missing ']' in address"),
    ("[::1]x:80:80", "invalid IP address [::1]x: address [::1]x:: missing port in address"),
    ("80:80/xyz", "invalid proto: xyz"),
    ("8000-8010:80-85", "invalid ranges specified for container and host Ports: 80-85 and 8000-8010"),
    ("127.0.0.1::", "no port specified: 127.0.0.1::<empty>"),
    ("", "no port specified: <empty>"),
    ("/udp", "no port specified: /udp<empty>"),
])
def test_bad_port_specs(spec, message):
    with pytest.raises(ports.PortSpecError) as exc:
        ports.parse_port_spec(spec)
    assert str(exc.value) == message


def test_specs_merge_into_exposed_ports_and_bindings():
    exposed, bindings = ports.parse_port_specs(["80", "8080:80", "53:53/udp"])
    assert exposed == {"80/tcp": {}, "53/udp": {}}
    assert bindings == {"80/tcp": [{"HostIp": "", "HostPort": ""}, {"HostIp": "", "HostPort": "8080"}],
                        "53/udp": [{"HostIp": "", "HostPort": "53"}]}


@pytest.mark.parametrize("spec, standard", [
    ("published=8080,target=80", "8080:80/tcp"),
    ("target=80,protocol=udp", ":80/udp"),
    ("published=8080", "8080:/tcp"),
    ("8080:80", "8080:80"),
])
def test_long_publish_syntax(spec, standard):
    assert ports.standard_notation(spec) == standard


@pytest.mark.parametrize("values, keys", [
    (["80"], ["80/tcp"]), (["80/udp"], ["80/udp"]), (["8000-8002"], ["8000/tcp", "8001/tcp", "8002/tcp"]),
    (["80/"], ["80/tcp"]), (["53/sctp", "53"], ["53/sctp", "53/tcp"]),
])
def test_expose(values, keys):
    assert ports.parse_expose(values) == keys


@pytest.mark.parametrize("value, message", [
    ("1:2", "invalid port format for --expose: 1:2"),
    ("a-b", 'invalid range format for --expose: a-b, error: strconv.ParseUint: parsing "a": invalid syntax'),
    ("90-80", "invalid range format for --expose: 90-80, error: invalid range specified for port: 90-80"),
    ("99999", 'invalid range format for --expose: 99999, error: strconv.ParseUint: parsing "99999": value out of range'),
    ("/udp", "invalid range format for --expose: /udp, error: empty string specified for ports"),
])
def test_bad_expose(value, message):
    with pytest.raises(ports.PortSpecError) as exc:
        ports.parse_expose([value])
    assert str(exc.value) == message


def test_port_keys_and_protocols():
    assert ports.port_key("tcp", "80") == "80/tcp"
    assert ports.port_key("udp", "8000-8010") == "8000-8010/udp"
    assert ports.split_proto_port("80/udp") == ("udp", "80")
    assert ports.split_proto_port("80") == ("tcp", "80")
    assert ports.split_proto_port("") == ("", "")


def _p(private, kind="tcp", ip="", public=0):
    port = {"PrivatePort": private, "Type": kind}
    if ip:
        port.update(IP=ip, PublicPort=public)
    return port


@pytest.mark.parametrize("given, shown", [
    ([_p(80)], "80/tcp"),
    ([_p(80, ip="0.0.0.0", public=8080), _p(80, ip="::", public=8080)],
     "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"),
    ([_p(80), _p(81), _p(82), _p(84)], "80-82/tcp, 84/tcp"),
    ([_p(80, ip="0.0.0.0", public=80), _p(81, ip="0.0.0.0", public=81), _p(82, ip="::", public=82)],
     "0.0.0.0:80-81->80-81/tcp, [::]:82->82/tcp"),
    ([_p(80, "udp"), _p(81, "udp"), _p(80), _p(81)], "80-81/tcp, 80-81/udp"),
    ([_p(80), _p(82), _p(81, "udp"), _p(83), _p(84)], "80/tcp, 82-84/tcp, 81/udp"),
    ([_p(443, ip="127.0.0.1", public=443), _p(80, ip="127.0.0.1", public=8080), _p(22)],
     "22/tcp, 127.0.0.1:443->443/tcp, 127.0.0.1:8080->80/tcp"),
    ([_p(9000, ip="::1", public=9000), _p(9001, ip="::1", public=9001), _p(53, "udp", "0.0.0.0", 5353)],
     "[::1]:9000-9001->9000-9001/tcp, 0.0.0.0:5353->53/udp"),
    ([_p(80, ip="0.0.0.0", public=80), _p(82, ip="0.0.0.0", public=82), _p(81, ip="1.1.1.1", public=81),
      _p(83, "sctp")], "0.0.0.0:80->80/tcp, 0.0.0.0:82->82/tcp, 1.1.1.1:81->81/tcp, 83/sctp"),
    ([], ""),
])
def test_displayable_ports_as_docker_ps_shows_them(given, shown):
    assert ports.displayable_ports(given) == shown


def test_addresses_as_go_handles_them():
    assert canonical_ip("0:0::1") == "::1"
    assert canonical_ip("::ffff:1.2.3.4") == "1.2.3.4"
    assert canonical_ip("01.2.3.4") is None  # Go refuses leading zeros
    assert canonical_ip("fe80::1%eth0") is None  # and zones
    assert join_host_port("::", 80) == "[::]:80"
    assert join_host_port("1.2.3.4", "80") == "1.2.3.4:80"
    assert split_host_port("[::1]:80") == ("::1", "80")
    with pytest.raises(AddrError, match="address 1:2:3: too many colons in address"):
        split_host_port("1:2:3")
    address, network = parse_cidr("10.1.2.3/16")
    assert (str(address), str(network)) == ("10.1.2.3", "10.1.0.0/16")
    for bad in ("10.0.0.0", "10.0.0.0/33", "10.0.0.0/", "x/8", "fe80::/129"):
        with pytest.raises(AddrError, match=f"^invalid CIDR address: {bad}$"):
            parse_cidr(bad)


def test_ps_ports_column_uses_displayable_ports():
    from ketch.cli.format.rows import ContainerContext
    row = ContainerContext({"Ports": [_p(80, ip="0.0.0.0", public=8080), _p(81), _p(82)]})
    assert row.Ports == "81-82/tcp, 0.0.0.0:8080->80/tcp"
    assert ContainerContext({}).Ports == ""
