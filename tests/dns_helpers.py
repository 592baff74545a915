"""A fake upstream nameserver for the embedded DNS's tests, on 127.0.0.1 only."""

import asyncio
import socket
import struct

from dnslib import QTYPE, RCODE, RR, A, DNSRecord


class FakeUpstream:
    """A nameserver on 127.0.0.1 (one port for UDP and TCP): A 192.0.2.1 for every name;
    a name in ``slow`` waits that long; ``rcode`` answers everything with that code;
    ``big...`` names get 40 A records (~670 bytes), truncated over UDP beyond 512 bytes or
    the query's EDNS size (which ``edns=False`` ignores, as some servers do)."""

    def __init__(self, rcode=RCODE.NOERROR, slow=None, edns=True):
        self.rcode, self.slow, self.edns = rcode, slow or {}, edns
        self.asked: list[tuple[str, str]] = []  # (transport, name)

    async def start(self):
        loop = asyncio.get_running_loop()
        for _ in range(20):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            try:
                self.tcp = await asyncio.start_server(self._tcp, "127.0.0.1", self.port)
                break
            except OSError:
                self.udp.close()
        self.udp.setblocking(False)
        self.tasks = set()
        loop.add_reader(self.udp.fileno(), self._udp)
        return f"127.0.0.1:{self.port}"

    def answer(self, data: bytes, transport: str) -> bytes:
        q = DNSRecord.parse(data)
        name = str(q.q.qname).rstrip(".")
        self.asked.append((transport, name))
        r = q.reply(aa=0)
        r.header.rcode = self.rcode
        if self.rcode == RCODE.NOERROR:
            if name.startswith("big"):
                for i in range(40):
                    r.add_answer(RR(q.q.qname, QTYPE.A, rdata=A(f"192.0.2.{i}"), ttl=5))
            elif q.q.qtype == QTYPE.A:
                r.add_answer(RR(q.q.qname, QTYPE.A, rdata=A("192.0.2.1"), ttl=5))
        out = r.pack()
        limit = 512
        for rr in q.ar if self.edns else ():
            if rr.rtype == QTYPE.OPT:
                limit = rr.rclass
        if transport == "udp" and len(out) > limit:
            out = r.truncate().pack()
        return out

    def _udp(self):
        data, peer = self.udp.recvfrom(65535)

        async def later():
            await asyncio.sleep(self.slow.get(str(DNSRecord.parse(data).q.qname).rstrip("."), 0))
            self.udp.sendto(self.answer(data, "udp"), peer)
        t = asyncio.get_running_loop().create_task(later())
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)

    async def _tcp(self, reader, writer):
        try:
            while True:
                (n,) = struct.unpack("!H", await reader.readexactly(2))
                out = self.answer(await reader.readexactly(n), "tcp")
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    async def stop(self):
        asyncio.get_running_loop().remove_reader(self.udp.fileno())
        for t in self.tasks:
            t.cancel()
        self.udp.close()
        self.tcp.close()
        await self.tcp.wait_closed()
