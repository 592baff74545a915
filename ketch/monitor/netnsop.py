"""Network namespaces for ketchd: made or entered in a child of the fork server.

ketchd is multithreaded and never enters a namespace (DESIGN.md). What it needs from
inside a container's network namespace is sockets: a netlink socket to configure the
interfaces there, and, on user-defined networks, the embedded DNS server's sockets on
127.0.0.11:53. A socket stays in the namespace it was made in, so a fresh child of the
single-threaded fork server makes them there and passes them back::

    ketchd ── {"netns": {"path", "create", "dns"}}\\n ──▶ fork server ── fork ──▶ child
        child: create: unshare(CLONE_NEWNET), bind /proc/self/ns/net on ``path``
               else:   setns(``path``)
               lo up; a netlink socket; with ``dns`` a UDP and a listening TCP
               socket on 127.0.0.11:53
    ketchd ◀── "ok\\n" and the sockets (SCM_RIGHTS), or "error <message>\\n" ──┘

The namespace lives as long as its bind mount (or a process in it): ketchd unmounts
``path`` when the container's network is torn down.
"""

import os
import socket

from ketch.linux import netdev
from ketch.linux import syscalls as sc
from ketch.monitor.forkchild import answer_in_child

DNS_ADDRESS = ("127.0.0.11", 53)


def _make_sockets(dns: bool) -> list[socket.socket]:
    netdev.loopback_up()
    # SOCK_DGRAM: asyncio's datagram transports (pyroute2's) refuse SOCK_RAW
    out = [socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, socket.NETLINK_ROUTE)]
    if dns:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(DNS_ADDRESS)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(DNS_ADDRESS)
        tcp.listen(64)
        out += [udp, tcp]
    return out


def _enter(path: str, create: bool) -> None:
    if not create:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            sc.setns(fd, sc.CLONE_NEWNET)
        finally:
            os.close(fd)
        return
    sc.unshare(sc.CLONE_NEWNET)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(fd)
    try:
        sc.mount("/proc/self/ns/net", path, None, sc.MS_BIND)
    except OSError:
        os.unlink(path)
        raise


def serve(conn: socket.socket, listener: socket.socket, doc: dict) -> None:
    """Answer one request in a child (the fork server goes on serving)."""
    def work() -> None:
        _enter(doc["path"], bool(doc.get("create")))
        socks = _make_sockets(bool(doc.get("dns")))
        socket.send_fds(conn, [b"ok\n"], [s.fileno() for s in socks])

    answer_in_child(conn, listener, work)
