"""A userland proxy for the published-port connections NAT cannot serve.

Why it exists: ketch publishes ports with DNAT (nft.py), which serves IPv4 clients from
anywhere, 127.0.0.1 included. Two kinds of connection cannot be NATed: ``[::1]:PORT`` (a
packet from ::1 never leaves the host) and IPv6 clients of a container that has only an
IPv4 address (NAT does not translate between families). Those reach the socket ketchd
holds on the port (portalloc.py); this proxy accepts on that very socket and relays each
connection to the container, as docker-proxy does for Docker. With the firewall turned
off, it can serve every TCP port the same way.

TCP only: UDP through a relay needs a table of client flows (docker-proxy keeps one);
ketch's UDP is served by NAT alone, so UDP over [::1] is not published.

It runs on ketchd's event loop (asyncio streams); connections in flight end when ketchd
stops, since the proxy is part of it, and the engine starts the proxies again after
``PortAllocator.restore``.
"""

import asyncio
import socket

_CHUNK = 256 * 1024


class TcpProxy:
    """Relays connections accepted on ``sock`` (a bound socket; it is set listening) to
    ``target`` (address, port). ``close`` stops accepting, ends open relays and closes
    ``sock``."""

    def __init__(self, sock: socket.socket, target: tuple[str, int]) -> None:
        self.sock = sock
        self.target = target
        self._server: asyncio.AbstractServer | None = None
        self._relays: set[asyncio.Task] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accepted, sock=self.sock, backlog=128)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._relays):
            task.cancel()
        if self._relays:
            await asyncio.gather(*self._relays, return_exceptions=True)
        self.sock.close()

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._relays.add(task)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
            except OSError:
                return  # the container is not listening: the client sees its connection closed
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                up_writer.close()
        finally:
            writer.close()
            self._relays.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then pass the half-close on (HTTP clients that shut
    down their sending side still get the answer)."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()
