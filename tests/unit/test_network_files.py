"""ketch.network.files: /etc/hosts, /etc/hostname, /etc/resolv.conf as Docker writes them.

HOSTS_DOCKER is what `docker run --rm -h h --add-host foo:1.2.3.4 busybox cat
/etc/hosts` printed on dockerd 20.10.24 (the container's own line last, after
--add-host entries). The --link lines follow moby's addLegacyLinks, the
environment moby v28.5.2's daemon/links (its tests' expectations, below).
resolv.conf is tested in test_network_resolvconf.
"""

import pytest

from ketch.network import files

LOOPBACK_HOSTS = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
HOSTS_DOCKER = LOOPBACK_HOSTS + "1.2.3.4\tfoo\n10.213.0.2\th\n"


@pytest.mark.parametrize("kwargs,expected", [
    ({}, LOOPBACK_HOSTS),
    ({"hostname": "h"}, LOOPBACK_HOSTS),  # no address (network none): no own line
    ({"hostname": "h", "address": "10.213.0.2", "extra": [("foo", "1.2.3.4")]}, HOSTS_DOCKER),
    ({"hostname": "c0ffee", "address": "172.17.0.2"}, LOOPBACK_HOSTS + "172.17.0.2\tc0ffee\n"),
    ({"extra": [("a", "10.0.0.1"), ("b", "::2")]}, LOOPBACK_HOSTS + "10.0.0.1\ta\n::2\tb\n"),
])
def test_hosts(kwargs, expected):
    assert files.hosts(**kwargs) == expected


def test_hostname_file():
    assert files.hostname_file("h") == "h\n"


def test_hosts_links_domainname_ipv6():
    """--add-host, then --link entries, then the own lines (v4, v6) with the FQDN first."""
    extra = [("foo", "1.2.3.4"), ("v6", "2001:0db8::0001"), files.link_host("db", "mydb", "5b1e0c2a8d3f", "172.17.0.3"),
             files.link_host("web", "web", "c0ffee000001", "172.17.0.4")]
    out = files.hosts("h", "172.17.0.2", extra, domainname="example.com", address6="fd00::2")
    assert out == LOOPBACK_HOSTS + (
        "1.2.3.4\tfoo\n"
        "2001:db8::1\tv6\n"
        "172.17.0.3\tdb 5b1e0c2a8d3f mydb\n"
        "172.17.0.4\tweb c0ffee000001\n"
        "172.17.0.2\th.example.com h\n"
        "fd00::2\th.example.com h\n")
    assert files.hosts("a.b.c", "10.0.0.2").endswith("10.0.0.2\ta.b.c a\n")


def test_hosts_without_ipv6():
    out = files.hosts("h", "10.0.0.2", [("v6", "::2"), ("v4", "10.0.0.9")], address6="fd00::2", ipv6=False)
    assert out == "127.0.0.1\tlocalhost\n10.0.0.9\tv4\n10.0.0.2\th\n"


def test_host_network_hosts():
    host = "127.0.0.1 localhost\n10.1.2.3 myhost # comment\n"
    assert files.host_network_hosts(host) == host
    assert files.host_network_hosts(host, [("x", "10.9.9.9")]) == LOOPBACK_HOSTS + "10.9.9.9\tx\n"


# moby v28.5.2 daemon/links/links_test.go: TestLinkNaming, TestLinkEnv, TestLinkMultipleEnv
# (Docker's tests sort the result; the order is checked separately below)
@pytest.mark.parametrize("alias,ports,env,expected", [
    ("docker-1", [(6379, "tcp")], [], [
        "DOCKER_1_NAME=/db/docker-1",
        "DOCKER_1_PORT=tcp://172.0.17.2:6379",
        "DOCKER_1_PORT_6379_TCP=tcp://172.0.17.2:6379",
        "DOCKER_1_PORT_6379_TCP_ADDR=172.0.17.2",
        "DOCKER_1_PORT_6379_TCP_PORT=6379",
        "DOCKER_1_PORT_6379_TCP_PROTO=tcp",
    ]),
    ("docker", [(6379, "tcp")], ["PASSWORD=gordon"], [
        "DOCKER_ENV_PASSWORD=gordon",
        "DOCKER_NAME=/db/docker",
        "DOCKER_PORT=tcp://172.0.17.2:6379",
        "DOCKER_PORT_6379_TCP=tcp://172.0.17.2:6379",
        "DOCKER_PORT_6379_TCP_ADDR=172.0.17.2",
        "DOCKER_PORT_6379_TCP_PORT=6379",
        "DOCKER_PORT_6379_TCP_PROTO=tcp",
    ]),
    ("docker", [(6300, "udp"), (6379, "tcp"), (6380, "tcp"), (6381, "tcp"), (6382, "udp")],
     ["PASSWORD=gordon"], [
        "DOCKER_ENV_PASSWORD=gordon",
        "DOCKER_NAME=/db/docker",
        "DOCKER_PORT=tcp://172.0.17.2:6379",
        "DOCKER_PORT_6300_UDP=udp://172.0.17.2:6300",
        "DOCKER_PORT_6300_UDP_ADDR=172.0.17.2",
        "DOCKER_PORT_6300_UDP_PORT=6300",
        "DOCKER_PORT_6300_UDP_PROTO=udp",
        "DOCKER_PORT_6379_TCP=tcp://172.0.17.2:6379",
        "DOCKER_PORT_6379_TCP_ADDR=172.0.17.2",
        "DOCKER_PORT_6379_TCP_END=tcp://172.0.17.2:6381",
        "DOCKER_PORT_6379_TCP_PORT=6379",
        "DOCKER_PORT_6379_TCP_PORT_END=6381",
        "DOCKER_PORT_6379_TCP_PORT_START=6379",
        "DOCKER_PORT_6379_TCP_PROTO=tcp",
        "DOCKER_PORT_6379_TCP_START=tcp://172.0.17.2:6379",
        "DOCKER_PORT_6380_TCP=tcp://172.0.17.2:6380",
        "DOCKER_PORT_6380_TCP_ADDR=172.0.17.2",
        "DOCKER_PORT_6380_TCP_PORT=6380",
        "DOCKER_PORT_6380_TCP_PROTO=tcp",
        "DOCKER_PORT_6381_TCP=tcp://172.0.17.2:6381",
        "DOCKER_PORT_6381_TCP_ADDR=172.0.17.2",
        "DOCKER_PORT_6381_TCP_PORT=6381",
        "DOCKER_PORT_6381_TCP_PROTO=tcp",
        "DOCKER_PORT_6382_UDP=udp://172.0.17.2:6382",
        "DOCKER_PORT_6382_UDP_ADDR=172.0.17.2",
        "DOCKER_PORT_6382_UDP_PORT=6382",
        "DOCKER_PORT_6382_UDP_PROTO=udp",
    ]),
])
def test_link_env(alias, ports, env, expected):
    assert sorted(files.link_env(alias, "db", "172.0.17.2", ports, env)) == expected


def test_link_env_order():
    """Ports tcp first then by number (TestSortPorts); a range's variables come when the
    range ends, after the next port's; NAME after the ports; HOME and PATH of the child
    are not passed on."""
    out = files.link_env("db", "/web", "10.0.0.3", [(81, "tcp"), (53, "udp"), (80, "tcp")],
                         ["PATH=/bin", "HOME=/root", "A=1=2", "NOVALUE", "HOSTNAME=x"])
    assert out == [
        "DB_PORT=tcp://10.0.0.3:80",
        "DB_PORT_80_TCP=tcp://10.0.0.3:80", "DB_PORT_80_TCP_ADDR=10.0.0.3",
        "DB_PORT_80_TCP_PORT=80", "DB_PORT_80_TCP_PROTO=tcp",
        "DB_PORT_81_TCP=tcp://10.0.0.3:81", "DB_PORT_81_TCP_ADDR=10.0.0.3",
        "DB_PORT_81_TCP_PORT=81", "DB_PORT_81_TCP_PROTO=tcp",
        "DB_PORT_53_UDP=udp://10.0.0.3:53", "DB_PORT_53_UDP_ADDR=10.0.0.3",
        "DB_PORT_53_UDP_PORT=53", "DB_PORT_53_UDP_PROTO=udp",
        "DB_PORT_80_TCP_START=tcp://10.0.0.3:80", "DB_PORT_80_TCP_PORT_START=80",
        "DB_PORT_80_TCP_END=tcp://10.0.0.3:81", "DB_PORT_80_TCP_PORT_END=81",
        "DB_NAME=/web/db",
        "DB_ENV_A=1=2", "DB_ENV_HOSTNAME=x",
    ]
    assert files.link_env("db", "web", "10.0.0.3", [], []) == ["DB_NAME=/web/db"]
