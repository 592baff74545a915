"""engine/networks/firewall.port_requests: PortBindings and -P as the allocator's requests."""

import pytest

from ketch.errors import InvalidArgument
from ketch.engine.networks.firewall import port_requests
from ketch.network.portalloc import PortRequest


def test_bindings_ranges_and_publish_all():
    hc = {"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                           "53/udp": [{"HostIp": "", "HostPort": ""}],
                           "90-91/tcp": [{"HostIp": "", "HostPort": "9000-9001"}],
                           "100/tcp": [{"HostIp": "", "HostPort": "7000-7010"}]},
          "PublishAllPorts": True}
    got = port_requests(hc, {"80/tcp": {}, "443/tcp": {}})
    assert got == [PortRequest("tcp", 80, "127.0.0.1", 8080), PortRequest("udp", 53, "", 0),
                   PortRequest("tcp", 90, "", 9000), PortRequest("tcp", 91, "", 9001),
                   PortRequest("tcp", 100, "", 7000, 7010), PortRequest("tcp", 443, "", 0)]
    assert port_requests({"PortBindings": {"80/tcp": [{}]}}, {"81/tcp": {}}) == [PortRequest("tcp", 80)]
    assert port_requests({}, {"80/tcp": {}}) == []


@pytest.mark.parametrize("bindings, words", [
    ({"abc/tcp": [{}]}, 'invalid port specification: "abc"'),
    ({"80/tcp": [{"HostPort": "x"}]}, 'invalid port specification: "x"'),
    ({"70000/tcp": [{}]}, 'invalid port specification: "70000"'),
    ({"80/xyz": [{}]}, 'invalid port specification: "80/xyz"'),
])
def test_bad_ports_are_moby_errors(bindings, words):
    with pytest.raises(InvalidArgument) as err:
        port_requests({"PortBindings": bindings}, None)
    assert str(err.value) == words
