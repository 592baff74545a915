"""ketch/network/portmap.plan: which published port NAT serves and which the proxy serves."""

from ketch.network import portmap
from ketch.network.model import PortBinding, PortForward


def test_ipv4_container():
    bindings = (PortBinding("tcp", 80, "0.0.0.0", 8080), PortBinding("tcp", 80, "::", 8080),
                PortBinding("udp", 53, "127.0.0.1", 5353), PortBinding("udp", 53, "::", 5353),
                PortBinding("sctp", 9, "", 9000))
    p = portmap.plan(bindings, "172.18.0.2/16", "", "br-x")
    assert p.forwards == (PortForward("tcp", "", 8080, "172.18.0.2", 80, "br-x"),
                          PortForward("udp", "127.0.0.1", 5353, "172.18.0.2", 53, "br-x"),
                          PortForward("sctp", "", 9000, "172.18.0.2", 9, "br-x"))
    # IPv6 clients of an IPv4-only container: the proxy, tcp only
    assert p.proxied == (portmap.Proxied(bindings[1], ("172.18.0.2", 80)),)


def test_dual_stack_container():
    bindings = (PortBinding("tcp", 80, "0.0.0.0", 8080), PortBinding("tcp", 80, "::", 8080),
                PortBinding("tcp", 81, "2001:db8::1", 8081), PortBinding("udp", 53, "::", 53))
    p = portmap.plan(bindings, "172.18.0.2", "fd00::2/64", "br-x")
    assert p.forwards == (PortForward("tcp", "", 8080, "172.18.0.2", 80, "br-x"),
                          PortForward("tcp", "", 8080, "fd00::2", 80, "br-x"),
                          PortForward("tcp", "2001:db8::1", 8081, "fd00::2", 81, "br-x"),
                          PortForward("udp", "", 53, "fd00::2", 53, "br-x"))
    # NAT serves remote IPv6 clients; only [::1] needs the proxy
    assert p.proxied == (portmap.Proxied(bindings[1], ("fd00::2", 80)),)


def test_no_address_no_rule():
    assert portmap.plan((PortBinding("tcp", 80, "", 8080),), "", "", "br-x") == portmap.PortPlan((), ())
