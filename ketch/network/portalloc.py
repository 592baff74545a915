"""Host ports for published container ports: picked, reserved with a real socket, released.

Why sockets: the firewall (nft.py) forwards a published port with DNAT, which the kernel
applies before any socket sees the packet, so nothing at the NAT level notices a port
another program already serves, nor stops one from taking it later. Docker's answer is
docker-proxy, which listens on every published port; ketch holds the same reservation in
ketchd itself: a socket bound to (host_ip, host_port) per published port, for as long as
the port is published. So a port another process holds fails as it does with Docker, and
the port cannot be taken behind ketch's back.

- tcp: SO_REUSEADDR (as Go's listeners set it, so old TIME_WAIT connections do not block
  the port), bind, listen. Packets to the port are DNATed before they reach the socket, so
  it never accepts anything while the firewall is in place; an IPv6 socket (which NAT
  cannot serve for ::1 nor for an IPv4-only container) is bound but not listening, so a
  client is refused rather than left hanging, until the userland proxy (proxy.py) takes
  the socket (``socket_of``) and serves it.
- udp: bound (no SO_REUSEADDR, as Go's), with the smallest receive buffer.
- sctp: not bound (as Docker does not), only counted.

Picking follows moby's portallocator: ports come per (host_ip, proto) from the kernel's
ephemeral range (/proc/sys/net/ipv4/ip_local_port_range), starting after the last one
handed out, so a port just released is not reused at once; an explicit range
(``8000-8010:80``) gives its first port that is free. A random port whose bind fails is
retried with the next one (moby's 10 attempts); an explicit port is not. In a range, a
port another process holds is skipped (dockerd 20.10 fails on it instead: its allocator
does not know the port is in use until docker-proxy's bind fails, and it does not retry). Ports already
published by ketch fail with Docker's "port is already allocated"; ports held by another
process with Docker's userland-proxy message. ``allocate`` is all or nothing.

After a ketchd restart the engine calls ``restore`` with the bindings it recorded: they are
marked taken again and their sockets re-bound.
"""

import errno
import ipaddress
import os
import socket
import threading
from dataclasses import dataclass
from typing import Iterable, Sequence

from ketch import errors
from ketch.network import model

EPHEMERAL_FALLBACK = (49153, 65535)  # moby's range when the kernel's cannot be read
MAX_ATTEMPTS = 10  # moby's maxAllocatePortAttempts for a random port
_WILDCARD = {4: "0.0.0.0", 6: "::"}


@dataclass(frozen=True)
class PortRequest:
    """One ``-p``: host_port 0 picks from the ephemeral range; host_port_end > host_port
    picks the first free port of host_port..host_port_end."""
    proto: str
    container_port: int
    host_ip: str = ""  # "" is 0.0.0.0 (and :: too when the allocator is dual-stack)
    host_port: int = 0
    host_port_end: int = 0


class PortAlreadyAllocated(errors.Internal):
    """A port ketch already published (moby's ErrPortAlreadyAllocated; a 500 in Docker)."""


class BindFailed(errors.Internal):
    """The kernel refused the reservation, e.g. another process holds the port."""


class AllPortsAllocated(errors.Internal):
    pass


def external_connectivity_failed(endpoint: str, endpoint_id: str, exc: errors.KetchError) -> errors.KetchError:
    """The error Docker's bridge driver returns for a failed publication: ``driver failed
    programming external connectivity on endpoint NAME (ID): <reason>``."""
    return errors.wrapped(exc, f"driver failed programming external connectivity on endpoint {endpoint} "
                               f"({endpoint_id})")


def ephemeral_range(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> tuple[int, int]:
    try:
        with open(path) as f:
            return parse_ephemeral(f.read())
    except (OSError, ValueError):
        return EPHEMERAL_FALLBACK


def parse_ephemeral(text: str) -> tuple[int, int]:
    """The two numbers of ip_local_port_range ("32768\\t60999")."""
    begin, end = (int(w) for w in text.split())
    if not 0 < begin <= end <= 65535:
        raise ValueError(f"bad port range {text.strip()!r}")
    return begin, end


def parse_range(text: str) -> tuple[int, int]:
    """A host port as -p writes it: "" -> (0, 0), "8080" -> (8080, 8080), "8000-8010" -> (8000, 8010)."""
    if not text:
        return 0, 0
    first, _, last = text.partition("-")
    try:
        begin, end = int(first), int(last or first)
    except ValueError:
        raise errors.InvalidArgument(f"invalid port range: {text}") from None
    if not 0 < begin <= end <= 65535:
        raise errors.InvalidArgument(f"invalid port range: {text}")
    return begin, end


def normalize_ip(host_ip: str) -> str:
    if host_ip == "":
        return _WILDCARD[4]
    try:
        return str(ipaddress.ip_address(host_ip))
    except ValueError:
        raise errors.InvalidArgument(f"invalid host IP {host_ip!r}") from None


def candidates(begin: int, end: int, last: int, taken) -> Iterable[int]:
    """Ports of begin..end not in ``taken``, starting after ``last`` and wrapping around
    (moby's round robin, so a port just released is the last to come back)."""
    span = end - begin + 1
    start = last + 1 if begin <= last < end else begin
    for i in range(span):
        port = begin + (start - begin + i) % span
        if port not in taken:
            yield port


class PortAllocator:
    """Thread-safe; one per ketchd. ``bind=False`` counts ports without sockets (tests)."""

    def __init__(self, ephemeral: tuple[int, int] | None = None, dual_stack: bool = False,
                 bind: bool = True) -> None:
        self.ephemeral = ephemeral or ephemeral_range()
        self.dual_stack = dual_stack
        self.bind = bind
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str, int], socket.socket | None] = {}  # (ip, proto, port)
        self._last: dict[tuple[str, str, int, int], int] = {}  # (ip, proto, begin, end) -> port

    # -- public ---------------------------------------------------------------------
    def allocate(self, requests: Sequence[PortRequest]) -> tuple[model.PortBinding, ...]:
        """A binding per request (two for a dual-stack wildcard: 0.0.0.0 and ::, same port),
        every port reserved; on any error none is."""
        out: list[model.PortBinding] = []
        with self._lock:
            try:
                for req in requests:
                    out += self._allocate(req)
            except BaseException:
                self._release(out)
                raise
        return tuple(out)

    def release(self, bindings: Iterable[model.PortBinding]) -> None:
        """Close the reservations of ``bindings`` (idempotent)."""
        with self._lock:
            self._release(bindings)

    def restore(self, bindings: Iterable[model.PortBinding]) -> tuple[model.PortBinding, ...]:
        """Take ``bindings`` again after a restart; returns those whose socket could not be
        re-bound (they stay counted as ketch's: the firewall still forwards them)."""
        lost = []
        with self._lock:
            for b in bindings:
                key = (normalize_ip(b.host_ip), b.proto, b.host_port)
                if key in self._held:
                    continue
                try:
                    self._held[key] = self._reserve(*key)
                except BindFailed:
                    self._held[key] = None
                    lost.append(b)
        return tuple(lost)

    def socket_of(self, binding: model.PortBinding) -> socket.socket | None:
        """The reservation socket of ``binding`` (for the userland proxy, which accepts on
        it); None for sctp, unbound allocators and ports restore could not re-bind."""
        with self._lock:
            return self._held.get((normalize_ip(binding.host_ip), binding.proto, binding.host_port))

    def allocated(self) -> frozenset[tuple[str, str, int]]:
        """(host_ip, proto, host_port) of every port ketch holds."""
        with self._lock:
            return frozenset(self._held)

    def close(self) -> None:
        with self._lock:
            for sock in self._held.values():
                if sock is not None:
                    sock.close()
            self._held.clear()

    # -- picking --------------------------------------------------------------------
    def _allocate(self, req: PortRequest) -> list[model.PortBinding]:
        if req.proto not in model.PROTOCOLS:
            raise errors.InvalidArgument("unknown protocol")
        ips = [normalize_ip(req.host_ip)]
        if req.host_ip == "" and self.dual_stack:
            ips.append(_WILDCARD[6])
        end = req.host_port_end or req.host_port
        if req.host_port and end < req.host_port:
            raise errors.InvalidArgument(f"invalid port range: {req.host_port}-{end}")
        if req.host_port and end == req.host_port:
            for ip in ips:
                if (ip, req.proto, req.host_port) in self._held:
                    raise PortAlreadyAllocated(
                        f"Bind for {_hostport(ip, req.host_port)} failed: port is already allocated")
            port = req.host_port
            self._take(ips, req.proto, port)
        else:
            port = self._pick(ips, req.proto, req.host_port, end)
        return [model.PortBinding(req.proto, req.container_port, ip, port) for ip in ips]

    def _pick(self, ips: list[str], proto: str, begin: int, end: int) -> int:
        random = begin == 0
        if random:
            begin, end = self.ephemeral
        range_key = (ips[0], proto, begin, end)
        taken = {port for (ip, p, port) in self._held if p == proto and any(_overlap(ip, mine) for mine in ips)}
        first_error: BindFailed | None = None
        attempts = 0
        for port in candidates(begin, end, self._last.get(range_key, end), taken):
            self._last[range_key] = port
            try:
                self._take(ips, proto, port)
                return port
            except BindFailed as e:
                first_error = first_error or e
                attempts += 1
                if random and attempts >= MAX_ATTEMPTS:
                    raise
        if first_error:
            raise first_error
        raise AllPortsAllocated("all ports are allocated")

    def _taken(self, ip: str, proto: str, port: int) -> bool:
        """Held by ketch on ``ip`` or on an address ``ip`` overlaps (the kernel only sees
        that overlap for listening sockets)."""
        return any(p == proto and q == port and _overlap(ip, held) for (held, p, q) in self._held)

    def _take(self, ips: list[str], proto: str, port: int) -> None:
        got = []
        try:
            for ip in ips:
                if self._taken(ip, proto, port):
                    raise BindFailed(_bind_error(ip, proto, port, errno.EADDRINUSE))
                self._held[(ip, proto, port)] = self._reserve(ip, proto, port)
                got.append((ip, proto, port))
        except BaseException:
            for key in got:
                sock = self._held.pop(key)
                if sock is not None:
                    sock.close()
            raise

    def _release(self, bindings: Iterable[model.PortBinding]) -> None:
        for b in bindings:
            sock = self._held.pop((normalize_ip(b.host_ip), b.proto, b.host_port), None)
            if sock is not None:
                sock.close()

    # -- the kernel ------------------------------------------------------------------
    def _reserve(self, ip: str, proto: str, port: int) -> socket.socket | None:
        if not self.bind or proto == "sctp":
            return None
        v6 = ipaddress.ip_address(ip).version == 6
        sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET,
                             socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
        try:
            if v6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if proto == "tcp":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            else:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
            sock.bind((ip, port))
            if proto == "tcp" and not v6:
                sock.listen(1)
        except OSError as e:
            sock.close()
            raise BindFailed(_bind_error(ip, proto, port, e.errno)) from None
        return sock


def _overlap(a: str, b: str) -> bool:
    """Whether binding ``a`` and ``b`` to one port collide: the same address, or a family's
    wildcard and any address of that family."""
    if a == b:
        return True
    va, vb = (ipaddress.ip_address(x).version for x in (a, b))
    return va == vb and _WILDCARD[va] in (a, b)


def _hostport(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _bind_error(ip: str, proto: str, port: int, err: int | None) -> str:
    """Go's net.Listen error inside docker-proxy's, as dockerd reports it:
    ``Error starting userland proxy: listen tcp4 0.0.0.0:8080: bind: address already in use``."""
    network = proto + ("6" if ":" in ip else "4")
    reason = os.strerror(err) if err else "unknown error"
    reason = reason[:1].lower() + reason[1:]
    return f"Error starting userland proxy: listen {network} {_hostport(ip, port)}: bind: {reason}"
