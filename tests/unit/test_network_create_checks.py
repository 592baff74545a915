"""What a container's create checks of its networking, and what it leaves to its start
(moby 26.1: create, updateContainerNetworkSettings, registerLinks, verifyContainerSettings).

A 404 at create makes the docker CLI believe the image is missing: it pulls and retries.
So an unknown network or ``container:X`` is only looked up at start, and an unknown
``--link`` target is a 400.
"""

import pytest

import asyncio

from ketch import errors, timefmt
from ketch.apitypes.network import NetworkCreate
from ketch.engine.containers.locks import ContainerLocks
from ketch.engine.containers.records import ContainerRecord, Registry
from ketch.engine.networks import modes
from ketch.engine.networks.etcmaker import HostFiles
from ketch.engine.networks.registry import NetworkRegistry
from ketch.engine.events import EventBus
from ketch.engine.networks.sandbox import ContainerNetworking
from ketch.engine.networks.service import NetworkService
from ketch.engine.networks.settings import NetworkSettings
from ketch.engine.store import Store
from ketch.network.model import BRIDGE, HOST, NULL, Network, Pool


@pytest.fixture
def networking(tmp_path):
    store = Store(str(tmp_path / "store.db"))
    nets = NetworkRegistry(store)
    for name, driver in (("host", HOST), ("none", NULL)):
        nets.put(Network(id=name * 16, name=name, driver=driver, created=timefmt.now(), predefined=True))
    nets.put(Network(id="b" * 64, name="bridge", driver=BRIDGE, created=timefmt.now(), predefined=True,
                     pools=(Pool("10.231.250.0/24", "10.231.250.1", configured=True, gateway_given=True),)))
    nets.put(Network(id="u" * 64, name="mine", driver=BRIDGE, created=timefmt.now(),
                     pools=(Pool("10.231.251.0/24", "10.231.251.1", configured=True, gateway_given=True),)))
    containers = Registry(store)
    containers.add(ContainerRecord(id="c" * 64, name="other", created=timefmt.now(), image="busybox",
                                   image_id="sha256:" + "0" * 64, config={}, host_config={}, path="true",
                                   args=[], snapshot="s", parents=[]))
    return ContainerNetworking(nets, containers, None, None, NetworkSettings(), ContainerLocks(),
                               host_files=HostFiles((str(tmp_path / "hosts"), str(tmp_path / "resolv.conf"))))


def test_an_unknown_network_is_kept_by_name_for_the_start_to_refuse(networking):
    assert networking.at_create({}, {"NetworkMode": "nope"}, None) == {"nope": {}}
    with pytest.raises(errors.NotFound, match="^network nope not found$"):
        networking.attached(_record({"NetworkMode": "nope"}, {"nope": {}}))


def test_an_unknown_network_still_has_its_addresses_checked(networking):
    with pytest.raises(errors.InvalidArgument) as err:
        networking.at_create({}, {"NetworkMode": "nope"}, {"nope": {"IPAMConfig": {"IPv4Address": "1.2.3"}}})
    assert str(err.value) == "invalid config for network nope: invalid endpoint settings:\ninvalid IPv4 address: 1.2.3"
    kept = networking.at_create({}, {"NetworkMode": "nope"}, {"nope": {"Aliases": ["a"]}})
    assert kept == {"nope": {"Aliases": ["a"]}}


def test_known_networks_are_recorded_with_their_id(networking):
    assert networking.at_create({}, {"NetworkMode": "mine"}, None) == {"mine": {"NetworkID": "u" * 64}}
    assert networking.at_create({}, {}, None) == {"bridge": {"NetworkID": "b" * 64}}


def test_container_mode_looks_its_container_up_at_start(networking):
    assert networking.at_create({}, {"NetworkMode": "container:nope"}, None) == {}


def test_an_unknown_link_is_a_bad_request_not_a_404(networking):
    with pytest.raises(errors.InvalidArgument) as err:
        networking.at_create({}, {"Links": ["nope:x"]}, None)
    assert str(err.value) == "could not get container for nope: No such container: nope"
    assert not isinstance(err.value, errors.NotFound)
    assert networking.at_create({}, {"Links": ["other:x"]}, None) == {"bridge": {"NetworkID": "b" * 64}}


def test_publishing_in_host_mode_warns():
    warning = ["Published ports are discarded when using host network mode"]
    assert modes.warnings({"NetworkMode": "host", "PortBindings": {"80/tcp": [{}]}}) == warning
    assert modes.warnings({"NetworkMode": "host", "PortBindings": {}, "PublishAllPorts": True}) == []
    assert modes.warnings({"NetworkMode": "bridge", "PortBindings": {"80/tcp": [{}]}}) == []


def _record(host_config: dict, networks: dict) -> ContainerRecord:
    return ContainerRecord(id="d" * 64, name="x", created=timefmt.now(), image="busybox",
                           image_id="sha256:" + "0" * 64, config={}, host_config=host_config, path="true",
                           args=[], snapshot="s", parents=[], networks=networks)


@pytest.mark.parametrize("req, message", [
    (NetworkCreate("x", ingress=True), "Ingress network can only be global scope network"),
    (NetworkCreate("x", scope="swarm"), "cannot create a swarm scoped network when swarm is not active"),
    (NetworkCreate("x", driver="nope", ingress=True), 'plugin "nope" not found'),
])
def test_swarm_only_networks_get_libnetworks_refusal(networking, req, message):
    """A node outside a swarm: libnetwork's Forbidden texts (dockerd 20.10 and moby 26 alike)."""
    service = NetworkService(networking.networks, networking.containers, networking, NetworkSettings(), EventBus())
    with pytest.raises(errors.KetchError) as err:
        asyncio.run(service.create(req))
    assert str(err.value) == message


def test_a_bridge_name_netlink_refuses_gets_mobys_error(networking):
    service = NetworkService(networking.networks, networking.containers, networking, NetworkSettings(), EventBus())
    req = NetworkCreate("x", options={"com.docker.network.bridge.name": "averyveryverylongname"})
    with pytest.raises(errors.KetchError) as err:
        asyncio.run(service.create(req))
    assert str(err.value) == "failed to check bridge interface existence: numerical result out of range"


def test_connect_refusals_in_mobys_order(networking):
    """connectToNetwork: a container-mode container first; then the endpoint settings
    (updateNetworkConfig); then the conflicts of none and host (updateNetworkSettings)."""
    from ketch.apitypes.network import EndpointSettings

    def registered(rec):  # connect acts on containers that exist
        networking.containers.by_id[rec.id] = rec
        return rec
    shared = registered(_record({"NetworkMode": "container:other"}, {}))
    with pytest.raises(errors.InvalidArgument, match="^container sharing network namespace with another "
                                                     "container or host cannot be connected to any other network$"):
        asyncio.run(networking.connect(shared, networking.networks.find("mine"), EndpointSettings()))
    bridged = registered(_record({"NetworkMode": "default"}, {"bridge": {"NetworkID": "b" * 64}}))
    with pytest.raises(errors.InvalidArgument) as err:
        asyncio.run(networking.connect(bridged, networking.networks.find("none"), EndpointSettings(aliases=("x",))))
    assert str(err.value) == ("invalid endpoint settings:\n"
                              "network-scoped alias is supported only for containers in user defined networks")
    with pytest.raises(errors.InvalidArgument, match="private \\(none\\) mode"):
        asyncio.run(networking.connect(bridged, networking.networks.find("none"), EndpointSettings()))
