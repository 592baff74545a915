"""A container's exit does not wait for the kernel to delete its veth (sandbox.detach).

Deleting a link takes the kernel an RCU grace period under the RTNL lock (15-30 ms), which
was most of what the default bridge added to `run --rm` (bench/network.py). The endpoint
(and so its address) is released at once; the link goes in the background, and ketchd's
shutdown waits for it.
"""

import asyncio

from ketch import errors
from ketch.engine.containers.locks import ContainerLocks
from ketch.engine.networks.sandbox import ContainerNetworking
from ketch.engine.networks.registry import NetworkRegistry
from ketch.engine.networks.settings import NetworkSettings
from ketch.engine.store import Store
from ketch.network.model import BRIDGE, Endpoint, Network, Pool

CID = "c" * 64


class HeldLinks:
    """HostLinks whose deletions wait until ``release`` is set (and fail if ``fail``)."""

    def __init__(self, fail: bool = False) -> None:
        self.release = asyncio.Event()
        self.asked: list[str] = []
        self.deleted: list[str] = []
        self.fail = fail

    async def delete(self, ifname: str) -> None:
        self.asked.append(ifname)
        await self.release.wait()
        if self.fail:
            raise errors.Internal(f"cannot delete {ifname}: Device or resource busy")
        self.deleted.append(ifname)

    async def close(self) -> None:
        pass


def _networking(tmp_path, links) -> tuple[ContainerNetworking, NetworkRegistry]:
    registry = NetworkRegistry(Store(str(tmp_path / "ketch.db")))
    registry.put(Network(id="n" * 64, name="bridge", driver=BRIDGE, created="2026-12-07T00:00:00Z",
                         pools=(Pool("10.213.9.0/24", "10.213.9.1"),), bridge="kbtest0", predefined=True))
    registry.put_endpoint(Endpoint(id="e" * 64, network_id="n" * 64, container_id=CID,
                                   ipv4="10.213.9.2/24", host_ifname="veth1234abc", ifname="eth0"))
    settings = NetworkSettings(netns_dir=str(tmp_path / "netns"))
    return ContainerNetworking(registry, None, None, links, settings, ContainerLocks()), registry


def test_exit_releases_the_endpoint_without_waiting_for_the_link(tmp_path):
    async def scenario():
        links = HeldLinks()
        net, registry = _networking(tmp_path, links)
        await asyncio.wait_for(net.detach(CID), 2)  # before: waited for the deletion
        assert registry.endpoints_of_container(CID) == []
        assert registry.addresses_in_use("n" * 64) == set()
        await asyncio.sleep(0)
        assert links.asked == ["veth1234abc"] and links.deleted == []
        closing = asyncio.get_running_loop().create_task(net.close())
        await asyncio.sleep(0.05)
        assert not closing.done()  # shutdown waits for the link
        links.release.set()
        await asyncio.wait_for(closing, 2)
        assert links.deleted == ["veth1234abc"]

    asyncio.run(scenario())


def test_a_failed_deletion_is_logged_not_raised(tmp_path, caplog):
    async def scenario():
        links = HeldLinks(fail=True)
        net, _ = _networking(tmp_path, links)
        await asyncio.wait_for(net.detach(CID), 2)
        links.release.set()
        await asyncio.wait_for(net.settle(), 2)
        await net.close()

    asyncio.run(scenario())
    assert "cannot delete veth1234abc of cccccccccccc" in caplog.text
