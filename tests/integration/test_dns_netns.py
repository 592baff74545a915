"""The embedded DNS across network namespaces, as the engine will run it: sockets bound to
127.0.0.11:53 inside a netns of the test's own (made by a helper process that enters it
and sends the fds back over a unix socketpair), served by a DNSServer on this process's
event loop in the host netns, queried from inside the netns with busybox nslookup (UDP)
and dnslib (TCP). Upstream is a fake nameserver on the host's 127.0.0.1, which only the
host netns can reach: the forwarded answer proves ketchd asks from there."""

import asyncio
import os
import socket
import subprocess
import sys

import pytest

from ketch.network.dns.names import Directory, Entry
from ketch.network.dns.server import DNSServer
from tests.dns_helpers import FakeUpstream

pytestmark = pytest.mark.integration

CTX = "a1" * 32

# Runs in a fresh process: enter the netns, bind, hand the sockets back.
OPEN_SOCKETS = r"""
import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/run/netns/" + sys.argv[1], os.O_RDONLY)
if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
    raise OSError(ctypes.get_errno(), "setns")
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.11", 53))
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("127.0.0.11", 53))
tcp.listen(64)
chan = socket.socket(fileno=int(sys.argv[2]))
socket.send_fds(chan, [b"fds"], [udp.fileno(), tcp.fileno()])
"""

TCP_QUERY = r"""
import sys
from dnslib import DNSRecord
r = DNSRecord.parse(DNSRecord.question(sys.argv[1], sys.argv[2]).send("127.0.0.11", 53, tcp=True, timeout=5))
print(r.header.rcode, *sorted(str(rr.rdata) for rr in r.rr))
"""


@pytest.fixture
def netns():
    name = f"kt-dns-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)
    assert not os.path.exists(f"/run/netns/{name}")


def _sockets_in(name: str) -> tuple[socket.socket, socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs:
        subprocess.run([sys.executable, "-c", OPEN_SOCKETS, name, str(theirs.fileno())],
                       pass_fds=[theirs.fileno()], check=True, timeout=30)
        _, fds, _, _ = socket.recv_fds(ours, 16, 2)
    udp, tcp = (socket.socket(fileno=fd) for fd in fds)
    assert udp.getsockname() == ("127.0.0.11", 53) and tcp.getsockname() == ("127.0.0.11", 53)
    return udp, tcp


async def _in_netns(name: str, *argv: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", name, *argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return out.decode()


def test_embedded_dns_in_a_netns(netns):
    udp, tcp = _sockets_in(netns)
    names = Directory()
    names.join("n1", "front", Entry(CTX, ("client",), "172.30.0.2"))
    names.join("n1", "front", Entry("b2" * 32, ("web", "www"), "172.30.0.3", "fd30::3"))
    names.join("n2", "back", Entry("c3" * 32, ("elsewhere",), "172.31.0.2"))

    async def main():
        up = FakeUpstream()
        host_upstreams = [await up.start()]
        server = DNSServer(names, lambda: host_upstreams, timeout=2.0)
        server.attach(CTX, udp, tcp)
        try:
            out = await _in_netns(netns, "busybox", "nslookup", "web", "127.0.0.11")
            assert "Address: 172.30.0.3" in out and "Address: fd30::3" in out, out
            out = await _in_netns(netns, "busybox", "nslookup", "-type=ptr",
                                  "3.0.30.172.in-addr.arpa", "127.0.0.11")
            assert "web.front" in out, out
            out = await _in_netns(netns, "busybox", "nslookup", "example.test", "127.0.0.11")
            assert "Address: 192.0.2.1" in out, out
            assert ("udp", "example.test") in up.asked
            # TCP from inside, one connection per query; a name of another network is
            # not answered locally (the fake upstream answers it)
            py = os.path.join(os.path.dirname(sys.executable), "python3")
            out = await _in_netns(netns, py, "-c", TCP_QUERY, "www", "A")
            assert out.split() == ["0", "172.30.0.3"], out
            out = await _in_netns(netns, py, "-c", TCP_QUERY, "elsewhere", "A")
            assert out.split() == ["0", "192.0.2.1"], out
            assert ("tcp", "elsewhere") in up.asked
        finally:
            await server.close()
            await up.stop()
        assert udp.fileno() == -1 and tcp.fileno() == -1

    asyncio.run(asyncio.wait_for(main(), 120))
