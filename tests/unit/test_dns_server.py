"""ketch.network.dns.server on loopback sockets: the embedded DNS's answers, forwarding to
a fake upstream the test runs (127.0.0.1, never any outside address), TCP, truncation,
and the bounds on forwarded work."""

import asyncio
import socket
import struct
import time

import pytest
from dnslib import RCODE, DNSRecord, EDNS0

from ketch.network.dns import upstream as upstream_mod
from ketch.network.dns.answer import reverse_address
from ketch.network.dns.names import Directory, Entry
from ketch.network.dns.server import DNSServer
from tests.dns_helpers import FakeUpstream

CTX = "a1" * 32
DB = ["b%d" % i * 32 for i in range(3)]


def _directory():
    d = Directory()
    d.join("n1", "front", Entry(CTX, ("web",), "172.18.0.2", "fd00::2"))
    for i, cid in enumerate(DB):
        d.join("n1", "front", Entry(cid, (f"db{i}", "db"), f"172.18.0.{10 + i}"))
    d.join("n2", "back", Entry(DB[0], ("hidden",), "172.19.0.2"))
    return d


def _sockets():
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)
    return udp, tcp


class Harness:
    def __init__(self, host_upstreams=(), names=None, **attach):
        self.host_upstreams = list(host_upstreams)
        self.server = DNSServer(names or _directory(), lambda: self.host_upstreams, timeout=1.0)
        self.udp, self.tcp = _sockets()
        self.addr = self.udp.getsockname()
        self.tcp_addr = self.tcp.getsockname()
        self.server.attach(CTX, self.udp, self.tcp, **attach)

    async def query(self, name, qtype="A", edns=None, timeout=3.0) -> DNSRecord:
        q = DNSRecord.question(name, qtype)
        if edns:
            q.add_ar(EDNS0(udp_len=edns))
        return DNSRecord.parse(await self.raw(q.pack(), timeout))

    async def raw(self, data: bytes, timeout=3.0) -> bytes:
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setblocking(False)
            s.connect(self.addr)
            await loop.sock_sendall(s, data)
            async with asyncio.timeout(timeout):
                return await loop.sock_recv(s, 65535)

    async def tcp_queries(self, questions) -> list[DNSRecord]:
        reader, writer = await asyncio.open_connection(*self.tcp_addr)
        try:
            out = []
            for name, qtype in questions:
                data = DNSRecord.question(name, qtype).pack()
                writer.write(struct.pack("!H", len(data)) + data)
                await writer.drain()
                (n,) = struct.unpack("!H", await reader.readexactly(2))
                out.append(DNSRecord.parse(await reader.readexactly(n)))
            return out
        finally:
            writer.close()

    async def close(self):
        await self.server.close()
        assert self.udp.fileno() == -1 and self.tcp.fileno() == -1  # the server closed them


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def _addrs(reply):
    return [str(rr.rdata) for rr in reply.rr]


def test_container_names():
    async def main():
        h = Harness()
        try:
            r = await h.query("web")
            assert r.header.rcode == RCODE.NOERROR and _addrs(r) == ["172.18.0.2"]
            assert r.header.ra == 1 and r.header.aa == 0 and r.header.qr == 1
            assert r.rr[0].ttl == 600 and str(r.rr[0].rname) == "web."
            r = await h.query("WEB.front.", "AAAA")
            assert _addrs(r) == ["fd00::2"] and str(r.rr[0].rname) == "WEB.front."
            r = await h.query("db1", "AAAA")  # has an IPv4 address only: NOERROR, nothing
            assert r.header.rcode == RCODE.NOERROR and r.rr == []
            r = await h.query("11.0.18.172.in-addr.arpa", "PTR")
            assert _addrs(r) == ["db1.front."]
            r = await h.query("2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", "PTR")
            assert _addrs(r) == ["web.front."]
            r = await h.query("db0", "MX")  # a container name: an implicit MX
            assert r.header.rcode == RCODE.NOERROR and r.rr == []
        finally:
            await h.close()
    run(main())


def test_round_robin_alias():
    async def main():
        h = Harness()
        try:
            orders = set()
            for _ in range(30):
                orders.add(tuple(_addrs(await h.query("db"))))
            assert {frozenset(o) for o in orders} == {frozenset({"172.18.0.10", "172.18.0.11", "172.18.0.12"})}
            assert len(orders) > 1  # shuffled: 30 draws of 6 orders all alike is a 1-in-10^23 event
        finally:
            await h.close()
    run(main())


def test_forwarding_and_other_networks():
    async def main():
        up = FakeUpstream()
        h = Harness([await up.start()])
        try:
            r = await h.query("example.test")
            assert _addrs(r) == ["192.0.2.1"] and r.header.rcode == RCODE.NOERROR
            # a name on a network the container is not on is not answered locally
            r = await h.query("hidden")
            assert _addrs(r) == ["192.0.2.1"]
            r = await h.query("example.test", "TXT")  # types the DNS does not own
            assert r.header.rcode == RCODE.NOERROR and r.rr == []
            assert up.asked == [("udp", "example.test"), ("udp", "hidden"), ("udp", "example.test")]
            r = await h.query("99.0.0.10.in-addr.arpa", "PTR")  # not a container address
            assert ("udp", "99.0.0.10.in-addr.arpa") in up.asked
        finally:
            await h.close()
            await up.stop()
    run(main())


def test_failing_upstreams():
    async def main():
        bad, good = FakeUpstream(rcode=RCODE.SERVFAIL), FakeUpstream()
        dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # bound, never answers
        dead.bind(("127.0.0.1", 0))
        h = Harness([await bad.start(), await good.start()])
        try:
            r = await h.query("a.test")
            assert _addrs(r) == ["192.0.2.1"]  # the SERVFAIL of the first, then the second
            h.host_upstreams = [f"127.0.0.1:{dead.getsockname()[1]}"]
            t0 = time.monotonic()
            r = await h.query("b.test")
            assert r.header.rcode == RCODE.SERVFAIL and 0.9 < time.monotonic() - t0 < 2.5
            h.host_upstreams = []
            r = await h.query("c.test")
            assert r.header.rcode == RCODE.SERVFAIL
        finally:
            await h.close()
            await bad.stop()
            await good.stop()
            dead.close()
    run(main())


def test_tcp_several_queries_per_connection():
    async def main():
        up = FakeUpstream()
        h = Harness([await up.start()])
        try:
            r1, r2, r3 = await h.tcp_queries([("web", "A"), ("x.test", "A"), ("db2", "A")])
            assert _addrs(r1) == ["172.18.0.2"]
            assert _addrs(r2) == ["192.0.2.1"]
            assert _addrs(r3) == ["172.18.0.12"]
            assert up.asked == [("tcp", "x.test")]  # forwarded over the client's transport
        finally:
            await h.close()
            await up.stop()
    run(main())


def test_truncated_upstream_reply():
    async def main():
        up = FakeUpstream(edns=False)
        h = Harness([await up.start()])
        try:
            # the client takes 4096 bytes, the upstream sent 512 with TC: the server asks
            # again over TCP and passes the whole answer on
            r = await h.query("big.test", edns=4096)
            assert r.header.tc == 0 and len(r.rr) == 40
            assert up.asked == [("udp", "big.test"), ("tcp", "big.test")]
            # no EDNS: 512 bytes; the whole answer does not fit, the client gets TC
            r = await h.query("big2.test")
            assert r.header.tc == 1 and len(r.rr) < 40
            (r,) = await h.tcp_queries([("big2.test", "A")])  # and comes back over TCP
            assert r.header.tc == 0 and len(r.rr) == 40
        finally:
            await h.close()
            await up.stop()
    run(main())


def test_local_answer_truncated_to_the_client():
    async def main():
        d = Directory()
        d.join("n", "net", Entry(CTX, ("web",), "10.0.0.1"))
        for i in range(60):
            d.join("n", "net", Entry("c%02d" % i * 32, ("many",), f"10.0.1.{i}"))
        h = Harness(names=d)
        try:
            r = await h.query("many")
            assert r.header.tc == 1 and 0 < len(r.rr) < 60 and len(r.pack()) <= 512
            r = await h.query("many", edns=4096)
            assert r.header.tc == 0 and len(r.rr) == 60
            (r,) = await h.tcp_queries([("many", "A")])
            assert r.header.tc == 0 and len(r.rr) == 60
        finally:
            await h.close()
    run(main())


def test_slow_upstream_blocks_nobody():
    async def main():
        up = FakeUpstream(slow={"slow.test": 0.8})
        h = Harness([await up.start()])
        try:
            slow = asyncio.ensure_future(h.query("slow.test"))
            await asyncio.sleep(0.05)
            t0 = time.monotonic()
            assert _addrs(await h.query("fast.test")) == ["192.0.2.1"]
            assert _addrs(await h.query("web")) == ["172.18.0.2"]
            assert time.monotonic() - t0 < 0.5
            assert not slow.done()
            assert _addrs(await slow) == ["192.0.2.1"]
        finally:
            await h.close()
            await up.stop()
    run(main())


def test_forwarded_queries_are_bounded():
    async def main():
        up = FakeUpstream(slow={"slow.test": 0.5})
        h = Harness([await up.start()])
        h.server.max_forwards = 1
        try:
            slow = asyncio.ensure_future(h.query("slow.test"))
            await asyncio.sleep(0.05)
            assert (await h.query("other.test")).header.rcode == RCODE.REFUSED
            assert _addrs(await h.query("web")) == ["172.18.0.2"]  # local answers still flow
            assert _addrs(await slow) == ["192.0.2.1"]
            assert _addrs(await h.query("other.test")) == ["192.0.2.1"]
        finally:
            await h.close()
            await up.stop()
    run(main())


def test_ndots_set_keeps_single_labels_home():
    async def main():
        up = FakeUpstream()
        h = Harness([await up.start()], ndots_set=True)
        try:
            r = await h.query("nosuch")
            assert r.header.rcode == RCODE.NOERROR and r.rr == []
            assert _addrs(await h.query("nosuch.test")) == ["192.0.2.1"]
            assert up.asked == [("udp", "nosuch.test")]
        finally:
            await h.close()
            await up.stop()
    run(main())


def test_no_forwarding_on_internal_networks():
    async def main():
        up = FakeUpstream()
        h = Harness([await up.start()], forward=False)
        try:
            assert (await h.query("x.test")).header.rcode == RCODE.SERVFAIL
            assert _addrs(await h.query("web")) == ["172.18.0.2"]
            assert up.asked == []
        finally:
            await h.close()
            await up.stop()
    run(main())


def test_container_upstreams(monkeypatch):
    """--dns servers replace the host's; loopback ones are the container's own loopback,
    which ketchd cannot reach, so they are left out."""
    async def main(loopback_reachable):
        host, own = FakeUpstream(), FakeUpstream()
        host_addr, own_addr = await host.start(), await own.start()
        h = Harness([host_addr], upstreams=[own_addr, "not-an-address"])
        try:
            r = await h.query("x.test")
            if loopback_reachable:
                assert _addrs(r) == ["192.0.2.1"] and own.asked and not host.asked
            else:
                assert r.header.rcode == RCODE.SERVFAIL and not own.asked and not host.asked
        finally:
            await h.close()
            await host.stop()
            await own.stop()
    run(main(False))
    monkeypatch.setattr(upstream_mod.Upstream, "is_loopback", lambda self: False)
    run(main(True))


def test_bad_queries():
    async def main():
        h = Harness()
        try:
            junk = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xff"
            r = await h.raw(junk)
            assert r[:2] == b"\x12\x34" and r[2] & 0x80 and r[3] & 0x0F == RCODE.FORMERR
            q = DNSRecord.question("web")
            q.header.opcode = 2  # STATUS
            r = DNSRecord.parse(await h.raw(q.pack()))
            assert r.header.rcode == RCODE.NOTIMP
            assert _addrs(await h.query("web")) == ["172.18.0.2"]
        finally:
            await h.close()
    run(main())


def test_names_failure_is_servfail():
    class Broken:
        def lookup(self, context, name):
            raise RuntimeError("boom")

        def reverse(self, context, address):
            return None

    async def main():
        h = Harness(names=Broken())
        try:
            assert (await h.query("web")).header.rcode == RCODE.SERVFAIL
        finally:
            await h.close()
    run(main())


def test_detach_and_reattach():
    async def main():
        h = Harness()
        h.server.detach(CTX)
        assert h.udp.fileno() == -1 and h.server.attached() == []
        udp, tcp = _sockets()
        h.server.attach(CTX, udp, tcp)
        h.addr, h.udp, h.tcp = udp.getsockname(), udp, tcp
        try:
            assert _addrs(await h.query("web")) == ["172.18.0.2"]
        finally:
            await h.close()
    run(main())


@pytest.mark.parametrize("text,addr,port", [
    ("10.0.0.2", "10.0.0.2", 53), ("10.0.0.2:5353", "10.0.0.2", 5353),
    ("fd00::53", "fd00::53", 53), ("[fd00::53]:5300", "fd00::53", 5300), ("[::1]", "::1", 53),
])
def test_upstream_parse(text, addr, port):
    up = upstream_mod.Upstream.parse(text)
    assert (up.address, up.port) == (addr, port)


@pytest.mark.parametrize("text", ["", "name.example", "10.0.0.2:0", "10.0.0.2:x", "[fd00::1]:70000"])
def test_upstream_parse_rejects(text):
    with pytest.raises(ValueError):
        upstream_mod.Upstream.parse(text)


def test_burst_of_forwards_is_bounded():
    """Queries read in one wake-up count against the bound before their tasks run."""
    async def main():
        up = FakeUpstream(slow={f"s{i}.test": 0.3 for i in range(5)})
        h = Harness([await up.start()])
        h.server.max_forwards = 2
        try:
            loop = asyncio.get_running_loop()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.setblocking(False)
                s.connect(h.addr)
                for i in range(5):
                    s.send(DNSRecord.question(f"s{i}.test").pack())
                codes = []
                async with asyncio.timeout(3):
                    for _ in range(5):
                        codes.append(DNSRecord.parse(await loop.sock_recv(s, 65535)).header.rcode)
            assert sorted(codes) == [RCODE.NOERROR] * 2 + [RCODE.REFUSED] * 3
            assert h.server._forwarding == 0
        finally:
            await h.close()
            await up.stop()
    run(main())


def test_tcp_connections_are_bounded():
    async def main():
        h = Harness()
        h.server.max_tcp = 1
        try:
            r1, w1 = await asyncio.open_connection(*h.tcp_addr)
            await asyncio.sleep(0.05)
            r2, w2 = await asyncio.open_connection(*h.tcp_addr)
            assert await asyncio.wait_for(r2.read(1), 2) == b""  # closed at once
            w2.close()
            w1.close()
            await asyncio.sleep(0.05)
            (r,) = await h.tcp_queries([("web", "A")])
            assert _addrs(r) == ["172.18.0.2"]
        finally:
            await h.close()
    run(main())


@pytest.mark.parametrize("qname,address", [
    ("4.3.2.1.in-addr.arpa.", "1.2.3.4"),
    ("4.3.2.1.IN-ADDR.ARPA", "1.2.3.4"),
    ("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", "fd00::1"),
    ("3.2.1.in-addr.arpa.", None),  # a network, not an address
    ("256.3.2.1.in-addr.arpa.", None),
    ("x.3.2.1.in-addr.arpa.", None),
    ("10.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", None),
    ("example.com.", None),
])
def test_reverse_address(qname, address):
    assert reverse_address(qname) == address
