"""Asking an upstream nameserver, on the event loop: one fresh socket per query (a
random source port, no id shared with other queries), a deadline on each exchange."""

import asyncio
import ipaddress
import socket
import struct
from dataclasses import dataclass

DNS_PORT = 53


@dataclass(frozen=True)
class Upstream:
    address: str  # an IP address
    port: int = DNS_PORT

    @classmethod
    def parse(cls, text: str) -> "Upstream":
        """"10.0.0.2", "10.0.0.2:5353", "fd00::53", "[fd00::53]:5353" (ValueError if none)."""
        text = text.strip()
        host, port = text, DNS_PORT
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            if rest:
                port = int(rest.removeprefix(":"))
        elif text.count(":") == 1:
            host, _, p = text.partition(":")
            port = int(p)
        ipaddress.ip_address(host.partition("%")[0])
        if not 0 < port < 65536:
            raise ValueError(f"bad port in {text!r}")
        return cls(host, port)

    @property
    def family(self) -> int:
        return socket.AF_INET6 if ":" in self.address else socket.AF_INET

    @property
    def sockaddr(self) -> tuple:
        return (self.address, self.port)

    def is_loopback(self) -> bool:
        return ipaddress.ip_address(self.address.partition("%")[0]).is_loopback

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


async def exchange_udp(up: Upstream, query: bytes, timeout: float) -> bytes | None:
    """The upstream's reply to ``query`` (same id), or None on timeout or refusal."""
    loop = asyncio.get_running_loop()
    qid = query[:2]
    with socket.socket(up.family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        try:
            sock.connect(up.sockaddr)  # a connected socket hears only from the upstream
            await loop.sock_sendall(sock, query)
            async with asyncio.timeout(timeout):
                while True:
                    data = await loop.sock_recv(sock, 65535)
                    if len(data) >= 12 and data[:2] == qid and data[2] & 0x80:
                        return data
        except (OSError, TimeoutError):
            return None


async def exchange_tcp(up: Upstream, query: bytes, timeout: float) -> bytes | None:
    """The same over TCP (RFC 1035 4.2.2: each message after its 2-byte length)."""
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(up.address, up.port)
            writer.write(struct.pack("!H", len(query)) + query)
            await writer.drain()
            (size,) = struct.unpack("!H", await reader.readexactly(2))
            data = await reader.readexactly(size)
            return data if len(data) >= 12 and data[:2] == query[:2] else None
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return None
    finally:
        if writer is not None:
            writer.close()
