"""A container's networking with the kernel faked: the order of its steps, what a failure
halfway leaves, and how concurrent operations (start, exit, connect, network rm) meet.

The fakes stand where ketchd meets the kernel: the fork server's namespace sockets
(``netns_sockets``: real socketpair halves, so what is closed and what leaks shows), the
host's links (``HostLinks``: a bridge and veth table, with hooks a test can make wait on
an event to interleave another operation), and the netlink calls made inside a namespace.
Everything else is real: the store, the registries, the locks, the firewall's port
allocator (counting ports without binding them), the embedded DNS's contexts.
"""

import asyncio
import os
import socket
from dataclasses import replace

import pytest

from ketch import errors, timefmt
from ketch.apitypes.network import EndpointSettings
from ketch.engine.containers.locks import ContainerLocks
from ketch.engine.containers.records import ContainerRecord, Registry
from ketch.engine.containers.state import ContainerState
from ketch.engine.events import EventBus
from ketch.engine.networks.etcmaker import HostFiles
from ketch.engine.networks.firewall import Firewall
from ketch.engine.networks.registry import NetworkRegistry
from ketch.engine.networks.sandbox import ContainerNetworking
from ketch.engine.networks.service import NetworkService
from ketch.engine.networks.settings import NetworkSettings
from ketch.engine.store import Store
from ketch.linux import mount as mnt
from ketch.network import netlink, nft
from ketch.network.model import BRIDGE, HOST, NULL, Network, Pool
from ketch.network.portalloc import PortAllocator


# -- fakes ------------------------------------------------------------------------------

class FakeLinks:
    """The host namespace's links as a table. ``hooks[method]`` (an async callable taking
    the method's arguments) runs first in that method: it may wait, or raise."""

    def __init__(self) -> None:
        self.present: dict[str, str] = {}  # ifname -> "bridge" or the veth's bridge
        self.calls: list[tuple] = []
        self.hooks: dict[str, object] = {}

    async def _enter(self, method: str, *args) -> None:
        self.calls.append((method, *args))
        hook = self.hooks.get(method)
        if hook is not None:
            await hook(*args)
        await asyncio.sleep(0)  # netlink is I/O: others run meanwhile

    def bridges(self) -> set[str]:
        return {name for name, kind in self.present.items() if kind == "bridge"}

    def veths(self) -> set[str]:
        return {name for name, kind in self.present.items() if kind != "bridge"}

    def deleted(self) -> list[str]:
        return [c[1] for c in self.calls if c[0] == "delete"]

    async def ensure_bridge(self, name: str, addresses: list[str], mtu: int) -> bool:
        await self._enter("ensure_bridge", name, addresses, mtu)
        made = name not in self.present
        self.present[name] = "bridge"
        return made

    async def add_veth(self, host_ifname: str, netns_fd: int, iface: netlink.Interface, bridge: str,
                       mtu: int) -> None:
        await self._enter("add_veth", host_ifname, netns_fd, iface, bridge, mtu)
        if self.present.get(bridge) != "bridge":
            raise errors.NotFound(f"bridge {bridge} is gone")
        self.present[host_ifname] = bridge

    async def delete(self, ifname: str) -> None:
        await self._enter("delete", ifname)
        self.present.pop(ifname, None)

    async def host_routes(self) -> list[str]:
        return []

    async def index(self, ifname: str) -> int | None:
        return 1 if ifname in self.present else None


class FakeLauncher:
    """The fork server's namespace sockets: the netlink socket, and the DNS server's UDP
    and TCP sockets when asked. ``create`` makes the namespace's file."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool, bool]] = []
        self.given: list[socket.socket] = []
        self._peers: list[socket.socket] = []
        self.fail: Exception | None = None

    async def netns_sockets(self, path: str, create: bool, dns: bool = False) -> list[socket.socket]:
        self.calls.append((path, create, dns))
        await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        if create:
            open(path, "w").close()
        elif not os.path.exists(path):
            raise errors.Internal(f"no namespace at {path}")
        out = []
        for _ in range(3 if dns else 1):
            mine, peer = socket.socketpair()
            self._peers.append(peer)
            out.append(mine)
        self.given += out
        return out

    def open_sockets(self) -> list[socket.socket]:
        return [s for s in self.given if s.fileno() != -1]

    def close(self) -> None:
        for s in self.given + self._peers:
            s.close()


class Inside:
    """netlink's calls through a namespace's socket (each closes its socket, as the real ones)."""

    def __init__(self) -> None:
        self.configured: list[list[netlink.Interface]] = []
        self.routes: list[tuple[str, str]] = []
        self.fail: Exception | None = None

    async def configure_inside(self, nl_sock, ifaces) -> None:
        nl_sock.close()
        await asyncio.sleep(0)
        if self.fail is not None:
            raise self.fail
        self.configured.append(list(ifaces))

    async def set_default_route(self, nl_sock, gateway4: str, gateway6: str) -> None:
        nl_sock.close()
        await asyncio.sleep(0)
        self.routes.append((gateway4, gateway6))


# -- the world ----------------------------------------------------------------------------

BRIDGE_ID, MINE_ID, OTHER_ID, LOCKED_ID = "b" * 64, "a" * 64, "e" * 64, "f" * 64


class World:
    def __init__(self, tmp_path, monkeypatch) -> None:
        self.tmp_path = tmp_path
        self.store = Store(str(tmp_path / "store.db"))
        self.nets = NetworkRegistry(self.store)
        now = timefmt.now()
        for name, driver in (("host", HOST), ("none", NULL)):
            self.nets.put(Network(id=name * 16, name=name, driver=driver, created=now, predefined=True))
        self.nets.put(_bridge_net(BRIDGE_ID, "bridge", "10.231.250", "ketch-t0", predefined=True))
        self.nets.put(_bridge_net(MINE_ID, "mine", "10.231.251", "br-mine"))
        self.nets.put(_bridge_net(OTHER_ID, "other", "10.231.252", "br-other"))
        self.nets.put(_bridge_net(LOCKED_ID, "locked", "10.231.253", "br-locked", internal=True))
        self.containers = Registry(self.store)
        self.locks = ContainerLocks()
        self.settings = NetworkSettings(iptables=False, ip_forward=False, bridge="ketch-t0",
                                        netns_dir=str(tmp_path / "netns"))
        self.ports = PortAllocator(ephemeral=(40000, 40100), bind=False)
        self.firewall = Firewall(self.nets, self.settings, self.ports)
        self.links = FakeLinks()
        self.launcher = FakeLauncher()
        self.inside = Inside()
        monkeypatch.setattr(netlink, "configure_inside", self.inside.configure_inside)
        monkeypatch.setattr(netlink, "set_default_route", self.inside.set_default_route)
        self.unmounted: list[str] = []
        monkeypatch.setattr(mnt, "unmount", lambda path, lazy=False: self.unmounted.append(path))
        (tmp_path / "hosts").write_text("127.0.0.1\tlocalhost\n")
        (tmp_path / "resolv.conf").write_text("nameserver 10.0.0.2\n")
        self.networking = self._networking(self.nets)
        self.service = NetworkService(self.nets, self.containers, self.networking, self.settings, EventBus())

    def _networking(self, nets: NetworkRegistry) -> ContainerNetworking:
        return ContainerNetworking(
            nets, self.containers, self.launcher, self.links, self.settings, self.locks, self.firewall,
            host_files=HostFiles((str(self.tmp_path / "hosts"), str(self.tmp_path / "resolv.conf"))))

    def container(self, name: str, networks: dict | None = None,
                  host_config: dict | None = None) -> ContainerRecord:
        cid = (name.encode().hex() * 64)[:64]
        nets = networks if networks is not None else {"bridge": {"NetworkID": BRIDGE_ID}}
        rec = ContainerRecord(id=cid, name=name, created=timefmt.now(), image="busybox",
                              image_id="sha256:" + "0" * 64, config={"Hostname": cid[:12]},
                              host_config={"NetworkMode": next(iter(nets), "default"), **(host_config or {})},
                              path="true", args=[], snapshot="s", parents=[], networks=dict(nets))
        self.containers.add(rec)
        return rec

    async def start(self, rec: ContainerRecord):
        """What the lifecycle does: attach under the container's lock, then it runs."""
        async with self.locks.lock(rec.id):
            try:
                setup = await self.networking.attach(rec)
            finally:
                await self.networking.settle()  # veths of an undone start go in the background
            rec.state = ContainerState("running", pid=1)
            self.containers.save(rec)
            return setup

    async def exit(self, rec: ContainerRecord) -> None:
        async with self.locks.lock(rec.id):
            rec.state = ContainerState("exited")
            await self.networking.detach(rec.id)
            self.containers.save(rec)
        await self.networking.settle()  # the veths go in the background

    def netns(self, rec: ContainerRecord) -> str:
        return os.path.join(self.settings.netns_dir, rec.id)

    def stored_endpoints(self) -> list[dict]:
        return self.store.all_endpoints()

    def stored_container(self, cid: str) -> bool:
        return any(doc["id"] == cid for doc in self.store.all_containers())


def _bridge_net(nid: str, name: str, prefix: str, bridge: str, predefined: bool = False,
                internal: bool = False) -> Network:
    return Network(id=nid, name=name, driver=BRIDGE, created=timefmt.now(), bridge=bridge,
                   predefined=predefined, internal=internal,
                   pools=(Pool(f"{prefix}.0/24", f"{prefix}.1", configured=True, gateway_given=True),))


def _settings(*names: str) -> dict:
    ids = {"bridge": BRIDGE_ID, "mine": MINE_ID, "other": OTHER_ID, "locked": LOCKED_ID}
    return {name: {"NetworkID": ids[name]} for name in names}


@pytest.fixture
def world(tmp_path, monkeypatch):
    w = World(tmp_path, monkeypatch)
    yield w
    w.launcher.close()
    w.store.db.close()


class Gate:
    """A hook that holds the first call: ``entered`` is set when it arrives, and it waits
    until ``released`` is; later calls pass."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.released = asyncio.Event()
        self.args: list[tuple] = []

    async def __call__(self, *args) -> None:
        self.args.append(args)
        if len(self.args) > 1:
            return
        self.entered.set()
        await self.released.wait()


async def _settle() -> None:
    """Let every runnable task run until it waits on something."""
    for _ in range(20):
        await asyncio.sleep(0)


# -- start and exit ----------------------------------------------------------------------

def test_attach_then_detach_leaves_nothing(world):
    rec = world.container("web", _settings("mine", "other"), {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}})

    async def main():
        setup = await world.start(rec)
        assert setup.kind == "bridge" and setup.netns_path == world.netns(rec)
        assert os.path.exists(setup.netns_path)
        eps = world.networking.endpoints(rec.id)
        assert sorted(ep.network_id for ep in eps) == sorted([MINE_ID, OTHER_ID])
        assert len(world.stored_endpoints()) == 2
        assert world.links.veths() == {ep.host_ifname for ep in eps}
        assert world.links.bridges() == {"br-mine", "br-other"}
        assert [(8080, 80)] == [(b.host_port, b.container_port) for ep in eps for b in ep.ports]
        assert rec.id in world.networking.dns.attached()
        # the namespace's netlink socket went to configure_inside; only the DNS's stay open
        assert len(world.launcher.open_sockets()) == 2

        await world.exit(rec)
        assert world.networking.endpoints(rec.id) == [] and world.stored_endpoints() == []
        assert sorted(world.links.deleted()) == sorted(ep.host_ifname for ep in eps)
        assert world.links.veths() == set()
        assert rec.id not in world.networking.dns.attached()
        assert world.launcher.open_sockets() == []
        assert not os.path.exists(world.netns(rec)) and world.unmounted == [world.netns(rec)]
        assert world.ports.allocated() == frozenset()

        # the port is free again: another container publishes it
        again = world.container("again", _settings("mine"), {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}})
        await world.start(again)
        assert [b.host_port for ep in world.networking.endpoints(again.id) for b in ep.ports] == [8080]
        await world.exit(again)

    asyncio.run(main())


def test_a_port_published_twice_fails_the_second_start_cleanly(world):
    first = world.container("first", _settings("mine"), {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}})
    second = world.container("second", _settings("mine"), {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}})

    async def main():
        await world.start(first)
        with pytest.raises(errors.KetchError, match="driver failed programming external connectivity on "
                                                    "endpoint second .*port is already allocated"):
            await world.start(second)
        assert world.networking.endpoints(second.id) == []
        assert not os.path.exists(world.netns(second))
        assert world.ports.allocated() == frozenset({("0.0.0.0", "tcp", 8080)})  # still the first's
        await world.exit(first)

    asyncio.run(main())


def test_a_failed_veth_of_the_second_network_undoes_the_first(world):
    rec = world.container("web", _settings("mine", "other"))

    async def refuse(host_ifname, nsfd, iface, bridge, mtu):
        if bridge == "br-other":
            raise errors.Internal("cannot create veth: no space left on device")
    world.links.hooks["add_veth"] = refuse

    async def main():
        with pytest.raises(errors.Internal, match="no space left"):
            await world.start(rec)

    asyncio.run(main())
    assert world.nets.endpoints == {} and world.stored_endpoints() == []
    assert world.links.veths() == set()
    assert not os.path.exists(world.netns(rec))
    assert world.launcher.open_sockets() == []
    assert world.networking.dns.attached() == []


def test_a_failure_after_the_ports_are_published_releases_them(world):
    """--link to a stopped container is refused once the ports are taken: they go back."""
    world.container("db")
    rec = world.container("web", _settings("bridge"), {"Links": ["db:db"],
                                                      "PortBindings": {"80/tcp": [{"HostPort": "8080"}]}})

    async def main():
        with pytest.raises(errors.InvalidArgument, match="Cannot link to a non running container"):
            await world.start(rec)

    asyncio.run(main())
    assert world.ports.allocated() == frozenset()
    assert world.stored_endpoints() == [] and world.links.veths() == set()
    assert not os.path.exists(world.netns(rec))
    assert world.launcher.open_sockets() == []


def test_a_failure_inside_the_namespace_undoes_the_start(world):
    rec = world.container("web", _settings("mine"), {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}})
    world.inside.fail = errors.Internal("cannot configure the container's network: boom")

    async def main():
        with pytest.raises(errors.Internal, match="boom"):
            await world.start(rec)

    asyncio.run(main())
    assert world.stored_endpoints() == [] and world.links.veths() == set()
    assert world.ports.allocated() == frozenset()
    assert world.launcher.open_sockets() == []
    assert not os.path.exists(world.netns(rec))


def test_a_start_clears_what_a_crash_left_of_an_earlier_run(world):
    rec = world.container("web", _settings("mine"))

    async def main():
        await world.start(rec)
        stale = world.networking.endpoints(rec.id)[0]
        rec.state = ContainerState("exited")  # ketchd died: no exit undid the run
        await world.start(rec)
        eps = world.networking.endpoints(rec.id)
        assert len(eps) == 1 and eps[0].id != stale.id
        assert stale.host_ifname in world.links.deleted()
        assert eps[0].address4 == stale.address4  # the crash's address is free again
        await world.exit(rec)

    asyncio.run(main())


def test_an_undo_that_fails_does_not_stop_the_rest(world):
    rec = world.container("web", _settings("mine"), {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}})

    async def main():
        await world.start(rec)

        async def refuse(ifname):
            raise errors.Internal(f"cannot delete {ifname}: device or resource busy")
        world.links.hooks["delete"] = refuse
        await world.exit(rec)  # logs, does not raise
        assert world.stored_endpoints() == [] and world.ports.allocated() == frozenset()
        assert not os.path.exists(world.netns(rec))

    asyncio.run(main())


def test_the_firewall_forwards_a_port_only_while_it_is_reserved(world, monkeypatch):
    """Publish: the port is reserved before a rule sends it to the container. Unpublish:
    the rule goes before the port is released (no other start can take a port that
    still leads here)."""
    world.settings = replace(world.settings, iptables=True)
    world.firewall = Firewall(world.nets, world.settings, world.ports)
    world.networking = world._networking(world.nets)
    applied = []
    monkeypatch.setattr(nft, "apply", lambda rs: applied.append(
        ([(f.host_port, f.container_ip) for f in rs.ports], world.ports.allocated())))
    monkeypatch.setattr(nft, "remove", lambda table: applied.append(("removed", table)))
    monkeypatch.setattr(netlink, "write_sysctl", lambda key, value: False)
    rec = world.container("web", _settings("mine"), {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}})
    port = frozenset({("0.0.0.0", "tcp", 8080)})

    async def main():
        await world.start(rec)
        assert applied[-1] == ([(8080, "10.231.251.2")], port)
        await world.exit(rec)
        assert applied[-1] == ([], port)  # the rule went while the port was still held
        assert world.ports.allocated() == frozenset()
        await world.networking.shutdown()
        assert applied[-1] == ("removed", "ketch")

    asyncio.run(main())


# -- gateway --------------------------------------------------------------------------------

def test_the_default_route_goes_through_the_first_network_that_is_not_internal(world):
    rec = world.container("web", _settings("locked", "mine"))

    async def main():
        await world.start(rec)
        [ifaces] = world.inside.configured
        by_name = {i.ifname: i for i in ifaces}
        eps = {ep.network_id: ep for ep in world.networking.endpoints(rec.id)}
        # internal ones last (moby's order): mine is eth0 and routes out, locked has no route
        assert eps[MINE_ID].ifname == "eth0" and eps[LOCKED_ID].ifname == "eth1"
        assert by_name["eth0"].gateway4 == "10.231.251.1"
        assert by_name["eth1"].gateway4 == ""

        await world.networking.connect(rec, world.nets.find("other"), EndpointSettings())
        joined = world.inside.configured[-1]
        assert [(i.ifname, i.gateway4) for i in joined] == [("eth2", "")]  # mine still routes out

        await world.networking.disconnect(rec, world.nets.find("mine"), False)
        assert world.inside.routes == [("10.231.252.1", "")]  # moved to other, not to locked
        assert set(rec.networks) == {"locked", "other"}
        await world.exit(rec)

    asyncio.run(main())


def test_an_internal_only_container_gets_a_route_when_it_connects_out(world):
    rec = world.container("web", _settings("locked"))

    async def main():
        await world.start(rec)
        assert [i.gateway4 for i in world.inside.configured[0]] == [""]
        await world.networking.connect(rec, world.nets.find("mine"), EndpointSettings())
        assert [(i.ifname, i.gateway4) for i in world.inside.configured[-1]] == [("eth1", "10.231.251.1")]
        await world.networking.disconnect(rec, world.nets.find("locked"), False)
        assert world.inside.routes == []  # the route out was not the internal one's
        await world.exit(rec)

    asyncio.run(main())


def test_the_gateway_moves_after_a_restart_of_ketchd(world):
    """The endpoints read back from the store keep their order: the network with the
    default route is still known as such after a restart (its published ports rewrote
    its row)."""
    rec = world.container("web", _settings("mine", "other"), {"PortBindings": {"80/tcp": [{}]}})

    async def main():
        await world.start(rec)
        world.networking.dns.detach(rec.id)  # the old ketchd's sockets die with it
        world.nets = NetworkRegistry(world.store)
        world.networking = world._networking(world.nets)
        async with world.locks.lock(rec.id):
            await world.networking.restore(rec)
        await world.networking.disconnect(rec, world.nets.find("mine"), False)
        assert world.inside.routes == [("10.231.252.1", "")]
        await world.exit(rec)

    asyncio.run(main())


# -- connect, disconnect ----------------------------------------------------------------------

def test_two_connects_to_one_network_make_one_endpoint(world):
    rec = world.container("web", _settings("bridge"))
    gate = Gate()

    async def main():
        await world.start(rec)
        world.links.hooks["add_veth"] = gate
        net = world.nets.find("mine")
        first = asyncio.create_task(world.networking.connect(rec, net, EndpointSettings()))
        await gate.entered.wait()
        second = asyncio.create_task(world.networking.connect(rec, net, EndpointSettings()))
        await _settle()
        gate.released.set()
        results = await asyncio.gather(first, second, return_exceptions=True)
        assert results[0] is None
        assert isinstance(results[1], errors.PermissionDenied)
        assert str(results[1]) == "endpoint with name web already exists in network mine"
        assert len(world.nets.endpoints_of(MINE_ID)) == 1
        assert len(world.links.veths()) == 2  # bridge's and mine's
        assert set(rec.networks) == {"bridge", "mine"}
        # the first connect to a user-defined network brought the embedded DNS
        assert rec.id in world.networking.dns.attached()
        await world.exit(rec)

    asyncio.run(main())


def test_connect_meets_the_containers_exit(world):
    """The exit (under the container's lock) waits for the connect in flight; the connect
    does not write the removed container back, and nothing of it is left."""
    rec = world.container("web", _settings("bridge"))
    gate = Gate()

    async def exit_and_remove():
        async with world.locks.lock(rec.id):
            rec.state = ContainerState("exited")
            await world.networking.detach(rec.id)
            world.containers.delete(rec)
        world.locks.forget(rec.id)

    async def main():
        await world.start(rec)
        world.links.hooks["add_veth"] = gate
        connect = asyncio.create_task(world.networking.connect(rec, world.nets.find("mine"), EndpointSettings()))
        await gate.entered.wait()
        gone = asyncio.create_task(exit_and_remove())
        await _settle()
        assert world.stored_container(rec.id)  # the exit waits for the connect
        gate.released.set()
        await asyncio.gather(connect, gone, return_exceptions=True)
        assert not world.stored_container(rec.id)
        assert world.containers.find(rec.id) is None
        assert world.nets.endpoints == {} and world.stored_endpoints() == []
        assert world.links.veths() == set()
        assert world.networking.dns.attached() == []
        assert world.launcher.open_sockets() == []

    asyncio.run(main())


def test_a_connect_after_the_removal_is_refused(world):
    rec = world.container("web", _settings("bridge"))

    async def main():
        await world.start(rec)
        await world.exit(rec)
        world.containers.delete(rec)
        with pytest.raises(errors.NotFound, match="No such container"):
            await world.networking.connect(rec, world.nets.find("mine"), EndpointSettings())
        assert not world.stored_container(rec.id)

    asyncio.run(main())


def test_a_connect_that_fails_inside_leaves_no_endpoint(world):
    rec = world.container("web", _settings("bridge"))

    async def main():
        await world.start(rec)
        world.inside.fail = errors.Internal("cannot configure the container's network: boom")
        with pytest.raises(errors.Internal, match="boom"):
            await world.networking.connect(rec, world.nets.find("mine"), EndpointSettings())
        assert world.nets.endpoints_of(MINE_ID) == []
        assert set(rec.networks) == {"bridge"}
        assert world.containers.store.all_containers()[0]["networks"].keys() == {"bridge"}
        await world.exit(rec)

    asyncio.run(main())


def test_a_connect_whose_veth_fails_leaves_no_endpoint(world):
    rec = world.container("web", _settings("bridge"))

    async def refuse(*args):
        raise errors.Conflict("interface eth1 exists in the container")

    async def main():
        await world.start(rec)
        world.links.hooks["add_veth"] = refuse
        with pytest.raises(errors.Conflict, match="eth1 exists"):
            await world.networking.connect(rec, world.nets.find("mine"), EndpointSettings())
        assert world.nets.endpoints_of(MINE_ID) == [] and len(world.stored_endpoints()) == 1
        assert set(rec.networks) == {"bridge"}
        assert world.launcher.open_sockets() == []  # the netlink socket of the connect too
        await world.exit(rec)

    asyncio.run(main())


def test_a_connect_whose_dns_cannot_be_opened_leaves_no_endpoint(world):
    """The namespace's DNS sockets are the last step of a connect to a user-defined
    network: when the fork server cannot give them, the endpoint goes too."""
    rec = world.container("web", _settings("bridge"))
    real = world.launcher.netns_sockets

    async def no_dns(path, create, dns=False):
        if dns:
            raise errors.Internal("the fork server is gone")
        return await real(path, create, dns)

    async def main():
        await world.start(rec)
        world.launcher.netns_sockets = no_dns
        with pytest.raises(errors.Internal, match="fork server"):
            await world.networking.connect(rec, world.nets.find("mine"), EndpointSettings())
        assert world.nets.endpoints_of(MINE_ID) == [] and len(world.stored_endpoints()) == 1
        assert set(rec.networks) == {"bridge"}
        assert len(world.links.veths()) == 1
        assert world.networking.directory.lookup(rec.id, "web.mine") is None
        await world.exit(rec)

    asyncio.run(main())


def test_disconnect_releases_the_networks_endpoint_only(world):
    rec = world.container("web", _settings("mine", "other"))

    async def main():
        await world.start(rec)
        eps = {ep.network_id: ep for ep in world.networking.endpoints(rec.id)}
        await world.networking.disconnect(rec, world.nets.find("other"), False)
        assert world.links.deleted() == [eps[OTHER_ID].host_ifname]
        assert [ep.network_id for ep in world.networking.endpoints(rec.id)] == [MINE_ID]
        assert set(rec.networks) == {"mine"}
        assert world.inside.routes == []  # mine keeps the default route
        with pytest.raises(errors.Internal, match="is not connected to network other"):
            await world.networking.disconnect(rec, world.nets.find("other"), False)
        await world.exit(rec)

    asyncio.run(main())


# -- network rm against a start ------------------------------------------------------------

def test_network_rm_waits_for_a_start_inside_ensure_and_is_refused(world):
    rec = world.container("web", _settings("mine"))
    gate = Gate()
    world.links.hooks["ensure_bridge"] = gate

    async def main():
        start = asyncio.create_task(world.start(rec))
        await gate.entered.wait()
        rm = asyncio.create_task(world.service.remove("mine"))
        await _settle()
        assert not rm.done()
        gate.released.set()
        await start
        with pytest.raises(errors.PermissionDenied, match="network mine id .* has active endpoints"):
            await rm
        assert world.nets.by_name("mine") is not None and "br-mine" in world.links.bridges()
        await world.exit(rec)
        await world.service.remove("mine")  # now it may go, with the bridge ketch made
        assert "br-mine" not in world.links.bridges()

    asyncio.run(main())


@pytest.mark.parametrize("recorded, named", [(_settings("mine"), MINE_ID), ({"mine": {}}, "mine")])
def test_a_start_that_finds_its_network_removed_fails_and_makes_nothing(world, recorded, named):
    """network rm takes the topology lock first (deleting the bridge); the start waiting
    behind it finds the network gone: no endpoint and no bridge are made for it. The
    error names the network as the container recorded it: by id, else by name."""
    rec = world.container("web", recorded)
    world.links.present["br-mine"] = "bridge"
    world.nets.put(replace(world.nets.by_id[MINE_ID], bridge_owned=True))  # made by an earlier run
    gate = Gate()
    world.links.hooks["delete"] = gate

    async def main():
        rm = asyncio.create_task(world.service.remove("mine"))
        await gate.entered.wait()
        start = asyncio.create_task(world.start(rec))
        await _settle()
        assert world.launcher.calls  # the start is past its lookups, at the topology lock
        gate.released.set()
        await rm
        with pytest.raises(errors.NotFound, match=f"^network {named} not found$"):
            await start

    asyncio.run(main())
    assert world.nets.by_name("mine") is None
    assert world.stored_endpoints() == [] and world.nets.endpoints == {}
    assert world.links.bridges() == set()
    assert not any(c[0] == "ensure_bridge" for c in world.links.calls)
    assert not os.path.exists(world.netns(rec))


def test_network_rm_deletes_the_bridge_a_failed_start_made_meanwhile(world):
    """A start makes the network's first bridge, then fails (the address it asks for is
    the gateway's) while network rm waits: rm deletes the bridge as ketch's, as the
    network is then, not as rm first looked it up."""
    rec = world.container("web", {"mine": {"NetworkID": MINE_ID, "IPAMConfig": {"IPv4Address": "10.231.251.1"}}})
    gate = Gate()
    world.links.hooks["ensure_bridge"] = gate

    async def main():
        start = asyncio.create_task(world.start(rec))
        await gate.entered.wait()
        rm = asyncio.create_task(world.service.remove("mine"))
        await _settle()
        gate.released.set()
        with pytest.raises(errors.PermissionDenied, match="Address already in use"):
            await start
        await rm

    asyncio.run(main())
    assert world.nets.by_name("mine") is None
    assert world.links.bridges() == set()
    assert world.stored_endpoints() == []


# -- bridges --------------------------------------------------------------------------------

def test_shutdown_deletes_only_the_bridges_ketch_made(world):
    world.links.present["br-other"] = "bridge"  # the user's, before ketch used it
    a = world.container("a", _settings("mine"))
    b = world.container("b", _settings("other"))

    async def main():
        await world.start(a)
        await world.start(b)
        assert world.nets.by_id[MINE_ID].bridge_owned and not world.nets.by_id[OTHER_ID].bridge_owned
        await world.networking.shutdown()
        assert world.links.deleted() == []  # containers are attached: all stays
        await world.exit(a)
        await world.exit(b)
        await world.networking.shutdown()
        assert world.links.bridges() == {"br-other"}
        assert "br-other" not in world.links.deleted()
        assert not world.nets.by_id[MINE_ID].bridge_owned
        # the next start makes it again, and owns it again
        await world.start(a)
        assert "br-mine" in world.links.bridges() and world.nets.by_id[MINE_ID].bridge_owned
        await world.exit(a)

    asyncio.run(main())


def test_network_rm_deletes_its_bridge_only_if_ketch_made_it(world):
    world.links.present["br-other"] = "bridge"
    a = world.container("a", _settings("mine"))
    b = world.container("b", _settings("other"))

    async def main():
        for rec in (a, b):
            await world.start(rec)
            await world.exit(rec)
        await world.service.remove("other")
        assert "br-other" in world.links.bridges()
        await world.service.remove("mine")
        assert world.links.bridges() == {"br-other"}
        assert world.links.deleted().count("br-mine") == 1

    asyncio.run(main())


# -- restart of ketchd ------------------------------------------------------------------------

def test_restore_undoes_an_unrecorded_connect_and_serves_the_rest(world):
    rec = world.container("web", _settings("mine"), {"PortBindings": {"80/tcp": [{"HostPort": "8080"}]}})

    async def main():
        await world.start(rec)
        # a connect ketchd was killed in: its endpoint is made, the record never saved
        await world.networking.connect(rec, world.nets.find("other"), EndpointSettings())
        stray = next(ep for ep in world.networking.endpoints(rec.id) if ep.network_id == OTHER_ID)
        rec.networks.pop("other")
        world.containers.save(rec)
        # the restart: a new ketchd's registries, allocator and DNS, from the store
        world.networking.dns.detach(rec.id)
        world.ports = PortAllocator(ephemeral=(40000, 40100), bind=False)
        world.nets = NetworkRegistry(world.store)
        world.firewall = Firewall(world.nets, world.settings, world.ports)
        world.networking = world._networking(world.nets)
        async with world.locks.lock(rec.id):
            await world.networking.restore(rec)
        assert [ep.network_id for ep in world.networking.endpoints(rec.id)] == [MINE_ID]
        assert stray.host_ifname in world.links.deleted()
        assert len(world.stored_endpoints()) == 1
        assert world.ports.allocated() == frozenset({("0.0.0.0", "tcp", 8080)})
        assert world.networking.dns.attached() == [rec.id]
        assert world.networking.directory.lookup(rec.id, "web.mine") is not None
        assert world.networking.directory.lookup(rec.id, "web.other") is None
        await world.exit(rec)
        assert world.ports.allocated() == frozenset()

    asyncio.run(main())


def test_restore_keeps_an_endpoint_recorded_by_network_name(world):
    """A container created before its network (kept by name, without an id) and started
    once it exists: a restart of ketchd keeps its endpoint."""
    rec = world.container("web", {"mine": {}})

    async def main():
        await world.start(rec)
        [ep] = world.networking.endpoints(rec.id)
        world.networking.dns.detach(rec.id)
        world.nets = NetworkRegistry(world.store)
        world.networking = world._networking(world.nets)
        async with world.locks.lock(rec.id):
            await world.networking.restore(rec)
        assert world.networking.endpoints(rec.id) == [ep]
        assert ep.host_ifname not in world.links.deleted()
        await world.exit(rec)

    asyncio.run(main())


def test_concurrent_starts_on_a_new_network_take_distinct_addresses(world):
    recs = [world.container(f"c{i}", _settings("mine")) for i in range(3)]
    gate = Gate()
    world.links.hooks["ensure_bridge"] = gate

    async def main():
        starts = [asyncio.create_task(world.start(rec)) for rec in recs]
        await gate.entered.wait()
        await _settle()
        gate.released.set()
        await asyncio.gather(*starts)
        addresses = sorted(ep.address4 for ep in world.nets.endpoints_of(MINE_ID))
        assert addresses == ["10.231.251.2", "10.231.251.3", "10.231.251.4"]
        assert [c[0] for c in world.links.calls].count("ensure_bridge") == 1
        for rec in recs:
            await world.exit(rec)

    asyncio.run(main())


def test_sweep_undoes_runs_that_are_over(world):
    live = world.container("live", _settings("mine"))
    dead = world.container("dead", _settings("mine"))

    async def main():
        await world.start(live)
        await world.start(dead)
        os.makedirs(world.settings.netns_dir, exist_ok=True)
        open(os.path.join(world.settings.netns_dir, "0" * 64), "w").close()  # a namespace only
        await world.networking.sweep({live.id})
        assert [ep.container_id for ep in world.nets.endpoints.values()] == [live.id]
        assert os.listdir(world.settings.netns_dir) == [live.id]
        await world.exit(live)

    asyncio.run(main())
