"""The embedded DNS server (Docker's 127.0.0.11) for every container on user-defined
networks, on ketchd's event loop.

The engine opens a UDP socket and a listening TCP socket on 127.0.0.11:53 inside each
container's network namespace (through the fork server) and attaches them here; ketchd
never enters the namespace. Sockets are watched with the loop's readers: no thread and
no task per container, one task per query that goes upstream and per TCP connection.

    container netns                      host netns (ketchd)
    client --UDP/TCP--> 127.0.0.11:53 ~~fd~~> DNSServer --> answer.local_answer (Names)
                                                   \\--> upstream nameservers (UDP, TCP
                                                        when truncated), SERVFAIL if none

Bounds: at most ``max_forwards`` queries upstream at once (more get REFUSED at once, as
Docker answers when its 1024 slots stay full), ``max_tcp`` client connections, and a
deadline on every exchange, so a slow upstream costs only the queries that wait on it.
"""

import asyncio
import logging
import random
import socket
import struct
from dataclasses import dataclass, field
from typing import Callable, Sequence

from dnslib import OPCODE, RCODE, DNSRecord

from ketch.network.dns.answer import MAX_SIZE, local_answer, pack, reply_to, udp_size
from ketch.network.dns.names import Names
from ketch.network.dns.upstream import Upstream, exchange_tcp, exchange_udp

log = logging.getLogger(__name__)

INTERNAL_NS = "127.0.0.11"
MAX_UPSTREAMS = 3  # resolv.conf's MAXNS, moby's maxExtDNS
UPSTREAM_TIMEOUT = 4.0  # moby's extIOTimeout
MAX_FORWARDS = 1024  # moby's maxConcurrent
MAX_TCP = 256
TCP_IDLE = 8.0  # seconds a client connection may wait between queries
UDP_BURST = 64  # datagrams read per wake-up before yielding to the loop


@dataclass
class _Context:
    udp: socket.socket
    tcp: socket.socket
    upstreams: tuple[Upstream, ...] | None  # None: the host's
    ndots_set: bool
    forward: bool
    tasks: set[asyncio.Task] = field(default_factory=set)
    conns: set[socket.socket] = field(default_factory=set)


class DNSServer:
    def __init__(self, names: Names, upstreams: Callable[[], list[str]], *,
                 timeout: float = UPSTREAM_TIMEOUT, max_forwards: int = MAX_FORWARDS,
                 max_tcp: int = MAX_TCP, tcp_idle: float = TCP_IDLE,
                 rng: random.Random | None = None) -> None:
        """``upstreams()`` gives the host's nameservers ("10.0.0.2", "[::1]:5353", ...),
        asked from the host's netns; it is called for each forwarded query."""
        self.names = names
        self.host_upstreams = upstreams
        self.timeout = timeout
        self.max_forwards = max_forwards
        self.max_tcp = max_tcp
        self.tcp_idle = tcp_idle
        self.rng = rng or random.Random()
        self._contexts: dict[str, _Context] = {}
        self._forwarding = 0  # queries upstream now, over both transports
        self._tcp_conns: set[socket.socket] = set()  # client connections, of every context
        self._orphans: set[asyncio.Task] = set()  # tasks of detached contexts, until done

    # -- contexts ---------------------------------------------------------------------

    def attach(self, context: str, udp: socket.socket, tcp: socket.socket, *,
               upstreams: Sequence[str] | None = None, ndots_set: bool = False,
               forward: bool = True) -> None:
        """Serve ``context``'s queries from these sockets (bound to 127.0.0.11:53 in its
        netns, ``tcp`` listening); the server owns and closes them from now on. Call on
        the event loop.

        ``upstreams``: the container's --dns servers (``EmbeddedResolvConf.upstreams``),
        used instead of the host's. They are addresses as the container sees them, asked
        from the host's netns: loopback ones cannot be reached from there and are left
        out. ``ndots_set``: the container's resolv.conf sets ndots. ``forward=False``
        (only internal networks): nothing is forwarded, unknown names get SERVFAIL."""
        loop = asyncio.get_running_loop()
        if context in self._contexts:
            self.detach(context)
        ups = None
        if upstreams is not None:
            ups = tuple(u for u in self._parse(upstreams)
                        if not u.is_loopback() and u.address != INTERNAL_NS)
        ctx = _Context(udp, tcp, ups, ndots_set, forward)
        udp.setblocking(False)
        tcp.setblocking(False)
        self._contexts[context] = ctx
        loop.add_reader(udp.fileno(), self._on_udp, context, ctx)
        loop.add_reader(tcp.fileno(), self._on_accept, context, ctx)

    def detach(self, context: str) -> None:
        """Stop serving ``context`` and close its sockets (call on the event loop)."""
        ctx = self._contexts.pop(context, None)
        if ctx is None:
            return
        loop = asyncio.get_running_loop()
        for sock in (ctx.udp, ctx.tcp):
            try:
                loop.remove_reader(sock.fileno())
            except (ValueError, OSError):
                pass
            sock.close()
        for task in ctx.tasks:
            task.cancel()
            self._orphans.add(task)
            task.add_done_callback(self._orphans.discard)
        for conn in ctx.conns:
            self._tcp_conns.discard(conn)
            conn.close()

    async def close(self) -> None:
        for context in list(self._contexts):
            self.detach(context)
        if self._orphans:
            await asyncio.gather(*self._orphans, return_exceptions=True)

    def attached(self) -> list[str]:
        return list(self._contexts)

    # -- UDP ----------------------------------------------------------------------------

    def _on_udp(self, context: str, ctx: _Context) -> None:
        for _ in range(UDP_BURST):
            try:
                data, peer = ctx.udp.recvfrom(MAX_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # e.g. ECONNREFUSED from an earlier reply's ICMP
                log.debug("dns %s: udp receive: %s", context[:12], e)
                continue
            query = self._parse_query(data)
            if query is None:
                continue
            if isinstance(query, bytes):
                self._send_udp(ctx, query, peer)
                continue
            limit = udp_size(query)
            reply = self._answer(context, ctx, query)
            if reply is not None:
                self._send_udp(ctx, pack(reply, limit), peer)
            elif self._forwarding >= self.max_forwards:
                self._send_udp(ctx, reply_to(query, RCODE.REFUSED).pack(), peer)
            else:
                # counted from now, not from when the task runs: a burst is bounded too
                self._forwarding += 1
                task = self._spawn(ctx, self._forward_udp(ctx, query, data, peer, limit))
                task.add_done_callback(self._forwarded)

    def _forwarded(self, _task) -> None:
        self._forwarding -= 1

    async def _forward_udp(self, ctx: _Context, query: DNSRecord, data: bytes, peer,
                           limit: int) -> None:
        self._send_udp(ctx, await self._forward(ctx, query, data, limit, tcp=False), peer)

    @staticmethod
    def _send_udp(ctx: _Context, data: bytes, peer) -> None:
        try:
            ctx.udp.sendto(data, peer)
        except OSError:  # a full buffer or a closed socket: the client asks again
            pass

    # -- TCP ----------------------------------------------------------------------------

    def _on_accept(self, context: str, ctx: _Context) -> None:
        while True:
            try:
                conn, _ = ctx.tcp.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                log.debug("dns %s: accept: %s", context[:12], e)
                return
            if len(self._tcp_conns) >= self.max_tcp:
                conn.close()
                continue
            conn.setblocking(False)
            ctx.conns.add(conn)
            self._tcp_conns.add(conn)
            self._spawn(ctx, self._serve_tcp(context, ctx, conn))

    async def _serve_tcp(self, context: str, ctx: _Context, conn: socket.socket) -> None:
        """Length-prefixed queries, answered one after the other, until the client
        closes or stays idle."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                async with asyncio.timeout(self.tcp_idle):
                    head = await self._recv_exactly(loop, conn, 2)
                    if head is None:
                        return
                    data = await self._recv_exactly(loop, conn, struct.unpack("!H", head)[0])
                    if data is None:
                        return
                query = self._parse_query(data)
                if query is None:
                    return
                if isinstance(query, bytes):
                    out = query
                elif (reply := self._answer(context, ctx, query)) is not None:
                    out = pack(reply, MAX_SIZE)
                elif self._forwarding >= self.max_forwards:
                    out = reply_to(query, RCODE.REFUSED).pack()
                else:
                    self._forwarding += 1
                    try:
                        out = await self._forward(ctx, query, data, MAX_SIZE, tcp=True)
                    finally:
                        self._forwarding -= 1
                await loop.sock_sendall(conn, struct.pack("!H", len(out)) + out)
        except (OSError, TimeoutError):
            pass
        finally:
            ctx.conns.discard(conn)
            self._tcp_conns.discard(conn)
            conn.close()

    @staticmethod
    async def _recv_exactly(loop, conn: socket.socket, n: int) -> bytes | None:
        buf = b""
        while len(buf) < n:
            chunk = await loop.sock_recv(conn, n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    # -- answering ------------------------------------------------------------------------

    def _spawn(self, ctx: _Context, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        ctx.tasks.add(task)
        task.add_done_callback(ctx.tasks.discard)
        return task

    @staticmethod
    def _parse_query(data: bytes) -> DNSRecord | bytes | None:
        """The query; or the bytes of an error reply (FORMERR, NOTIMP); or None to drop."""
        try:
            query = DNSRecord.parse(data)
        except Exception:  # dnslib raises several kinds on bad input
            if len(data) >= 12 and not data[2] & 0x80:
                # the id and opcode of the header, QR and FORMERR
                return data[:2] + bytes([0x80 | (data[2] & 0x78), 0x01]) + bytes(8)
            return None
        if query.header.qr:
            return None
        if query.header.opcode != OPCODE.QUERY:
            return bytes(DNSRecord(header=reply_to(query, RCODE.NOTIMP).header).pack())
        if len(query.questions) != 1:
            return bytes(DNSRecord(header=reply_to(query, RCODE.FORMERR).header).pack())
        return query

    def _answer(self, context: str, ctx: _Context, query: DNSRecord) -> DNSRecord | None:
        try:
            return local_answer(query, self.names, context, ctx.ndots_set, self.rng)
        except Exception:
            log.exception("dns %s: answering %s", context[:12], query.q.qname)
            return reply_to(query, RCODE.SERVFAIL)

    @staticmethod
    def _parse(texts) -> list[Upstream]:
        out = []
        for text in texts:
            try:
                out.append(Upstream.parse(text))
            except ValueError:
                log.warning("dns: ignoring upstream nameserver %r", text)
        return out

    def _upstreams(self, ctx: _Context) -> list[Upstream]:
        if ctx.upstreams is not None:
            return list(ctx.upstreams[:MAX_UPSTREAMS])
        try:
            texts = self.host_upstreams()
        except Exception:
            log.exception("dns: reading the host's nameservers")
            return []
        return self._parse(texts)[:MAX_UPSTREAMS]

    async def _forward(self, ctx: _Context, query: DNSRecord, data: bytes, limit: int, *,
                       tcp: bool) -> bytes:
        """The first usable upstream reply (over the client's transport), or SERVFAIL.
        A truncated UDP reply is asked again over TCP and passed on whole when it fits
        what the client takes; otherwise the client gets TC and comes back over TCP."""
        for up in self._upstreams(ctx) if ctx.forward else ():
            if tcp:
                raw = await exchange_tcp(up, data, self.timeout)
            else:
                raw = await exchange_udp(up, data, self.timeout)
            status = _parse_reply(raw, query)
            if status is None:
                continue
            if not tcp and status[1]:
                full = await exchange_tcp(up, data, self.timeout)
                if full is not None and len(full) <= limit and (again := _parse_reply(full, query)):
                    raw, status = full, again
            if status[0] in (RCODE.SERVFAIL, RCODE.REFUSED):
                continue  # maybe a transient state: try the next one, as Docker does
            return raw
        return reply_to(query, RCODE.SERVFAIL).pack()


def _parse_reply(raw: bytes | None, query: DNSRecord) -> tuple[int, bool] | None:
    """(rcode, truncated) of the upstream's reply if it answers this question. The header
    alone decides for a truncated reply, which may not parse to its end."""
    if raw is None or len(raw) < 12:
        return None
    rcode, tc = raw[3] & 0x0F, bool(raw[2] & 0x02)
    try:
        reply = DNSRecord.parse(raw)
    except Exception:
        return (rcode, tc) if tc else None
    if reply.questions and (str(reply.q.qname).lower() != str(query.q.qname).lower()
                            or reply.q.qtype != query.q.qtype):
        return None
    return rcode, tc
