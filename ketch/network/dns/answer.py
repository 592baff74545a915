"""The embedded DNS's own answers, as pure functions of a query and the Names
(moby v28.5 libnetwork/resolver.go: handleIPQuery, handlePTRQuery, handleMXQuery,
serveDNS).

- A/AAAA for a container name: every address of the family, shuffled (round robin), TTL
  600; NOERROR with no records when the name has addresses of the other family only;
- PTR for a container address: ``name.network.``;
- MX for a container name: NOERROR, no records (an "implicit MX");
- A/AAAA for an unknown single-label name when the container set ndots: NOERROR, no
  records (the client goes on with its search domains instead of leaking the name);
- anything else: None, for the server to forward upstream.

Replies carry RA and the query's id, opcode, RD and question, and never AA (Go's
SetReply); a UDP reply larger than the client takes (512 bytes, or its EDNS size) loses
records from the end and gets TC.
"""

import ipaddress
import logging
import random

from dnslib import AAAA, PTR, QTYPE, RCODE, RR, A, DNSHeader, DNSRecord

from ketch.network.dns.names import Names

log = logging.getLogger(__name__)

TTL = 600
MIN_UDP_SIZE = 512  # what a client without EDNS takes
MAX_SIZE = 65535


def reply_to(query: DNSRecord, rcode: int = RCODE.NOERROR) -> DNSRecord:
    h = query.header
    return DNSRecord(DNSHeader(id=h.id, qr=1, opcode=h.opcode, rd=h.rd, ra=1, rcode=rcode),
                     q=query.q)


def udp_size(query: DNSRecord) -> int:
    """How large a UDP reply the client takes (RFC 6891: the OPT record's class)."""
    for rr in query.ar:
        if rr.rtype == QTYPE.OPT:
            return max(MIN_UDP_SIZE, min(rr.rclass, MAX_SIZE))
    return MIN_UDP_SIZE


def pack(reply: DNSRecord, limit: int) -> bytes:
    """The reply's wire form within ``limit`` bytes: answers dropped from the end, TC set."""
    data = reply.pack()
    if len(data) <= limit:
        return data
    reply.header.tc = 1
    reply.ar, reply.auth = [], []
    while reply.rr and len(data := reply.pack()) > limit:
        reply.rr.pop()
    return reply.pack()


def reverse_address(qname: str) -> str | None:
    """The address a PTR name asks about ("4.3.2.1.in-addr.arpa." -> "1.2.3.4")."""
    labels = qname.lower().removesuffix(".").split(".")
    try:
        if labels[-2:] == ["in-addr", "arpa"] and len(labels) == 6:
            return str(ipaddress.IPv4Address(".".join(reversed(labels[:4]))))
        if labels[-2:] == ["ip6", "arpa"] and len(labels) == 34:
            nibbles = "".join(reversed(labels[:32]))
            if all(len(n) == 1 for n in labels[:32]):
                return str(ipaddress.IPv6Address(int(nibbles, 16)))
    except ValueError:
        pass
    return None


def _family(address: str) -> int:
    return 6 if ":" in address else 4


def local_answer(query: DNSRecord, names: Names, context: str, ndots_set: bool = False,
                 rng: random.Random | None = None) -> DNSRecord | None:
    """The reply the embedded DNS gives itself, or None to forward the query."""
    q = query.q
    qname = str(q.qname)
    name = qname.removesuffix(".")
    if q.qtype in (QTYPE.A, QTYPE.AAAA):
        found = names.lookup(context, name)
        if found is None:
            if ndots_set and "." not in name:
                return reply_to(query)
            return None
        family = 4 if q.qtype == QTYPE.A else 6
        addrs = [a for a in found if _family(a) == family]
        (rng or random).shuffle(addrs)
        reply = reply_to(query)
        rdata = A if family == 4 else AAAA
        for a in addrs:
            reply.add_answer(RR(q.qname, q.qtype, rdata=rdata(a), ttl=TTL))
        return reply
    if q.qtype == QTYPE.PTR:
        address = reverse_address(qname)
        host = names.reverse(context, address) if address else None
        if not host:
            return None
        reply = reply_to(query)
        reply.add_answer(RR(q.qname, QTYPE.PTR, rdata=PTR(host.removesuffix(".") + "."), ttl=TTL))
        return reply
    if q.qtype == QTYPE.MX and names.lookup(context, name) is not None:
        return reply_to(query)
    return None
