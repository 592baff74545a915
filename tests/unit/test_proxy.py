"""ketch/network/proxy: a published port's [::1] connections relayed to an IPv4 "container"
(a server on 127.0.0.1), through the reservation socket of portalloc, loopback only."""

import asyncio
import socket

from ketch.network import portalloc, proxy
from ketch.network.portalloc import PortAllocator, PortRequest


def _free_port() -> tuple[int, int]:
    """A one-port range the kernel just found free on [::1] (not a fixed range: tests
    running side by side in other processes would pick the same port from it)."""
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    return port, port


async def _echo_upper(reader, writer):
    data = await reader.read()  # until the client's half-close
    writer.write(data.upper())
    await writer.drain()
    writer.close()


async def _exchange(port: int, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("::1", port)
    writer.write(payload)
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


def test_v6_loopback_is_relayed_to_the_container():
    async def main():
        server = await asyncio.start_server(_echo_upper, "127.0.0.1", 0)
        target = server.sockets[0].getsockname()[:2]
        pa = PortAllocator(_free_port())
        binding, = pa.allocate([PortRequest("tcp", 80, "::1")])
        sock = pa.socket_of(binding)
        # before the proxy takes it, the reservation refuses rather than hangs
        try:
            await _exchange(binding.host_port, b"x")
            raise AssertionError("connected to an unserved reservation")
        except ConnectionRefusedError:
            pass
        relay = proxy.TcpProxy(sock, target)
        await relay.start()
        try:
            big = b"hello " * 100_000
            answers = await asyncio.gather(*(_exchange(binding.host_port, big) for _ in range(5)))
            assert answers == [big.upper()] * 5
        finally:
            await relay.close()
            pa.release([binding])
            server.close()
            await server.wait_closed()
        # closed: nothing listens on the port any more (the relayed connections may
        # linger in TIME_WAIT on it, which SO_REUSEADDR lets a listener through)
        with socket.socket(socket.AF_INET6) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("::1", binding.host_port))
            s.listen()

    asyncio.run(main())


def test_a_container_not_listening_closes_the_client():
    async def main():
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        target = closed.getsockname()
        closed.close()  # nothing listens there
        pa = PortAllocator(_free_port())
        binding, = pa.allocate([PortRequest("tcp", 80, "::1")])
        relay = proxy.TcpProxy(pa.socket_of(binding), target)
        await relay.start()
        try:
            assert await _exchange(binding.host_port, b"x") == b""
        finally:
            await relay.close()
            pa.close()

    asyncio.run(main())


def test_socket_of():
    pa = PortAllocator((61000, 64999), bind=False)
    b, = pa.allocate([PortRequest("sctp", 80)])
    assert pa.socket_of(b) is None
    assert portalloc.PortAllocator().socket_of(b) is None
