"""Links, addresses and routes through netlink (pyroute2's AsyncIPRoute on ketchd's loop).

ketchd never enters a container's network namespace: what it configures inside one it
configures through a netlink socket that was opened inside (by the fork server, see
``monitor/netnsop.py``) and passed back; a socket stays bound to the namespace it was
made in. Links are created in the host namespace and their container end is created
directly in the container's (``IFLA_NET_NS_FD`` on the veth peer), so a container's
interface never exists under its name in the host namespace, where ``eth0`` is taken.

The bridge and veth steps are named after moby's libnetwork/drivers/bridge setup steps.
"""

import asyncio
import errno
import ipaddress
import os
import socket
from dataclasses import dataclass

from ketch import errors

AF_INET, AF_INET6 = socket.AF_INET, socket.AF_INET6


def _ipr():
    from pyroute2 import AsyncIPRoute  # ~150 ms to import: only where links are made
    return AsyncIPRoute


def warm() -> None:
    """Import pyroute2 now (~150 ms), off the path of a container's first start."""
    _ipr()


def netlink_error(exc: Exception, what: str) -> errors.KetchError:
    return errors.Internal(f"{what}: {getattr(exc, 'strerror', None) or exc}")


def _cidr(address: str) -> tuple[str, int]:
    iface = ipaddress.ip_interface(address)
    return str(iface.ip), iface.network.prefixlen


def _broadcast(addr: str, plen: int) -> dict:
    """An IPv4 address's broadcast, as Docker's netlink library sets it (``brd`` in ip addr)."""
    if ":" in addr or plen >= 31:
        return {}
    return {"broadcast": str(ipaddress.ip_network(f"{addr}/{plen}", strict=False).broadcast_address)}


@dataclass(frozen=True)
class Interface:
    """What goes inside a container's namespace for one endpoint."""
    ifname: str  # "eth0", "eth1", ...
    ipv4: str = ""  # "172.18.0.2/16"
    ipv6: str = ""
    mac: str = ""
    gateway4: str = ""  # "" on internal networks, and for all but the first network
    gateway6: str = ""
    mtu: int = 0


class HostLinks:
    """One netlink socket of the host namespace, opened once on ketchd's loop."""

    def __init__(self) -> None:
        self._ipr = None

    async def _open(self):
        if self._ipr is None:
            ipr = _ipr()()
            await ipr.setup_endpoint()
            self._ipr = ipr
        return self._ipr

    async def close(self) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    async def index(self, ifname: str) -> int | None:
        ipr = await self._open()
        found = await ipr.link_lookup(ifname=ifname)
        return found[0] if found else None

    async def ensure_bridge(self, name: str, addresses: list[str], mtu: int) -> bool:
        """setupDevice, setupBridgeIPv4, setupDeviceUp: the bridge ``name`` exists, has
        ``addresses`` and is up. True when it was made here."""
        ipr = await self._open()
        made = False
        idx = await self.index(name)
        if idx is None:
            kwargs = {"mtu": mtu} if mtu else {}
            try:
                await ipr.link("add", ifname=name, kind="bridge", **kwargs)
                made = True
            except Exception as exc:  # noqa: BLE001 - pyroute2 raises NetlinkError
                if getattr(exc, "code", None) != errno.EEXIST:
                    raise netlink_error(exc, f"cannot create bridge {name}") from None
            idx = await self.index(name)
        try:
            await self._address_and_up(ipr, name, idx, addresses)
        except BaseException:
            if made:  # not half-made: a bridge nobody records would never be deleted
                await self.delete(name)
            raise
        return made

    @staticmethod
    async def _address_and_up(ipr, name: str, idx: int, addresses: list[str]) -> None:
        have = {f"{a.get('address')}/{a.get('prefixlen')}"
                async for a in await ipr.addr("dump", index=idx)}
        for cidr in addresses:
            addr, plen = _cidr(cidr)
            if f"{addr}/{plen}" in have:
                continue
            try:
                await ipr.addr("add", index=idx, address=addr, prefixlen=plen, **_broadcast(addr, plen))
            except Exception as exc:  # noqa: BLE001
                if getattr(exc, "code", None) != errno.EEXIST:
                    raise netlink_error(exc, f"cannot add {cidr} to {name}") from None
        await ipr.link("set", index=idx, state="up")

    async def delete(self, ifname: str) -> None:
        """Delete a link if it exists (a veth's peer goes with it).

        From a worker thread, on a netlink socket of its own: the kernel handles the
        request inside the sending thread's sendmsg(), and deleting a link waits for an
        RCU grace period under the RTNL lock (15-30 ms here), which on the loop's socket
        would stall every other request of ketchd that long."""
        await asyncio.to_thread(_delete_link, ifname)

    async def add_veth(self, host_ifname: str, netns_fd: int, iface: Interface, bridge: str,
                       mtu: int) -> None:
        """A veth pair: ``host_ifname`` on ``bridge``, its peer made as ``iface.ifname``
        directly in the namespace of ``netns_fd``."""
        ipr = await self._open()
        peer = {"ifname": iface.ifname, "net_ns_fd": netns_fd}
        if iface.mac:
            peer["address"] = iface.mac
        if mtu:
            peer["mtu"] = mtu
        try:
            await ipr.link("add", ifname=host_ifname, kind="veth", peer=peer,
                           **({"mtu": mtu} if mtu else {}))
            master = await self.index(bridge)
            if master is None:
                raise errors.NotFound(f"bridge {bridge} is gone")
            await ipr.link("set", ifname=host_ifname, master=master, state="up")
            # hairpin: a container reaching its own published port through the host's
            # address gets its packets back through the port they came in by
            idx = await self.index(host_ifname)
            await ipr.brport("set", index=idx, mode=1)
        except errors.KetchError:
            await self.delete(host_ifname)
            raise
        except Exception as exc:  # noqa: BLE001
            await self.delete(host_ifname)
            if getattr(exc, "code", None) == errno.EEXIST:
                raise errors.Conflict(f"interface {iface.ifname} exists in the container") from None
            raise netlink_error(exc, f"cannot create veth {host_ifname}") from None

    async def host_routes(self) -> list[str]:
        """The host's IPv4 route destinations and interface networks, as CIDRs: what a
        default subnet must not overlap (moby's netutils.CheckRouteOverlaps)."""
        ipr = await self._open()
        out = []
        async for r in await ipr.route("dump", family=AF_INET):
            dst, plen = r.get("dst"), r.get("dst_len")
            if dst and plen:  # not the default route
                out.append(f"{dst}/{plen}")
        async for a in await ipr.addr("dump", family=AF_INET):
            out.append(str(ipaddress.ip_interface(f"{a.get('address')}/{a.get('prefixlen')}").network))
        return out


async def configure_inside(nl_sock: socket.socket, ifaces: list[Interface]) -> None:
    """Addresses, link state and routes inside a container's namespace, through a
    netlink socket opened there (``nl_sock`` is closed here)."""
    ipr = _inside(nl_sock)
    try:
        await ipr.setup_endpoint()
        for iface in ifaces:
            found = await ipr.link_lookup(ifname=iface.ifname)
            if not found:
                raise errors.Internal(f"{iface.ifname} did not reach the container's namespace")
            idx = found[0]
            for cidr in (iface.ipv4, iface.ipv6):
                if cidr:
                    addr, plen = _cidr(cidr)
                    # nodad: the address is ours alone (IPAM), and a v6 address in
                    # tentative state cannot be bound until DAD ends
                    extra = {"flags": 0x02} if ":" in addr else _broadcast(addr, plen)
                    await ipr.addr("add", index=idx, address=addr, prefixlen=plen, **extra)
            await ipr.link("set", index=idx, state="up")
            if iface.gateway4:
                await ipr.route("add", dst="0.0.0.0/0", gateway=iface.gateway4)
            if iface.gateway6:
                await ipr.route("add", family=AF_INET6, dst="::/0", gateway=iface.gateway6)
    except errors.KetchError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise netlink_error(exc, "cannot configure the container's network") from None
    finally:
        ipr.close()


async def set_default_route(nl_sock: socket.socket, gateway4: str, gateway6: str) -> None:
    """Point a container's default routes at new gateways (moby's updateGateway), through
    a netlink socket opened in its namespace (closed here)."""
    ipr = _inside(nl_sock)
    try:
        await ipr.setup_endpoint()
        if gateway4:
            await ipr.route("replace", dst="0.0.0.0/0", gateway=gateway4)
        if gateway6:
            await ipr.route("replace", family=AF_INET6, dst="::/0", gateway=gateway6)
    except Exception as exc:  # noqa: BLE001
        raise netlink_error(exc, "cannot set the container's default route") from None
    finally:
        ipr.close()


def _inside(nl_sock: socket.socket):
    """pyroute2 over a socket of a container's namespace. pyroute2 takes the descriptor
    over (it duplicates and closes it), so the socket object lets go of it first; if
    pyroute2 cannot be made, the descriptor is closed here (an open netlink socket would
    keep the namespace alive)."""
    fd = nl_sock.detach()
    try:
        return _ipr()(fileno=fd)
    except BaseException:
        os.close(fd)
        raise


def _delete_link(ifname: str) -> None:
    from pyroute2 import IPRoute
    try:
        with IPRoute() as ipr:
            ipr.link("del", ifname=ifname)
    except Exception as exc:  # noqa: BLE001 - pyroute2 raises NetlinkError
        if getattr(exc, "code", None) not in (errno.ENODEV, errno.ENOENT):
            raise netlink_error(exc, f"cannot delete {ifname}") from None


def write_sysctl(key: str, value: str) -> bool:
    """Set a sysctl of the host (``net.ipv4.ip_forward``); True if it changed."""
    path = "/proc/sys/" + key.replace(".", "/")
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return False
        with open(path, "w") as f:
            f.write(value)
        return True
    except OSError as exc:
        raise errors.Internal(f"cannot set {key}={value}: {exc.strerror}") from None


def random_ifname(prefix: str = "veth") -> str:
    """A host-side interface name (moby: "veth" and 7 hex digits)."""
    return prefix + os.urandom(4).hex()[:7]
