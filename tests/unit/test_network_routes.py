"""/networks over real HTTP (the Engine API server on a loopback port, httpx) with an
in-memory NetworkBackend; the views and list filters on their own.

Expected bodies are dockerd 20.10's, captured on a dockerd of its own (its bridge on
10.213.7.0/24, --iptables=false), ids and times replaced by the fake backend's. Texts that
moby 26.1 (API 1.45) changed are 26.1's: "invalid filter 'nope'" (20.10: "Invalid"), a
refused body prefixed "invalid JSON: ".
"""

import asyncio
import json
import threading
from dataclasses import replace

import httpx
import pytest

from ketch import errors
from ketch.api.http import Router, Server
from ketch.api.httpstatus import error_response
from ketch.api.networkfilters import filter_networks
from ketch.api.networkviews import network_json
from ketch.api.routes.networks import NetworkRoutes
from ketch.apitypes.network import EndpointSettings, NetworkCreate
from ketch.apitypes.prune import PruneFilter
from ketch.network import ipam
from ketch.network.lookup import find_network
from ketch.network.model import Endpoint, Network, Pool

T0 = "2026-12-07T00:28:40.301105369Z"
BRIDGE_OPTIONS = {
    "com.docker.network.bridge.default_bridge": "true",
    "com.docker.network.bridge.enable_icc": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "false",
    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
    "com.docker.network.bridge.name": "kth4br0",
    "com.docker.network.driver.mtu": "1500",
}


def _id(n: int) -> str:
    return f"{n:x}" * 64 if n < 16 else f"{n:064x}"


def predefined() -> list[Network]:
    return [
        Network(_id(1), "bridge", "bridge", T0, (Pool("10.213.7.0/24", "10.213.7.1", configured=True,
                                                      gateway_given=True),),
                options=dict(BRIDGE_OPTIONS), bridge="kth4br0", predefined=True),
        Network(_id(2), "host", "host", T0, predefined=True),
        Network(_id(3), "none", "null", T0, predefined=True),
    ]


class FakeBackend:
    """NetworkBackend in memory, with moby's lookup (network.lookup)."""

    def __init__(self) -> None:
        self.nets: list[Network] = predefined()
        self.endpoints: dict[str, list[tuple[Endpoint, str]]] = {}
        self.calls: list[tuple] = []
        self.start = 0

    def networks(self) -> list[Network]:
        return list(self.nets)

    def find(self, ref: str) -> Network:
        return find_network(self.nets, ref)

    def attachments(self, network_id: str) -> list[tuple[Endpoint, str]]:
        return list(self.endpoints.get(network_id, []))

    async def create(self, req: NetworkCreate) -> tuple[Network, str]:
        self.calls.append(("create", req))
        if any(n.name == req.name for n in self.nets):
            raise errors.Conflict(f"network with name {req.name} already exists")
        pools, self.start = ipam.network_pools(
            req.ipam_config, req.enable_ipv6, [p.subnet for n in self.nets for p in n.pools],
            ipam.split_pools(ipam.DEFAULT_ADDRESS_POOLS), start=self.start)
        net = Network(_id(len(self.nets) + 1), req.name, req.driver or "bridge", T0, pools,
                      ipv6=req.enable_ipv6, internal=req.internal, attachable=req.attachable,
                      labels=req.labels, options=req.options, ipam_options=req.ipam_options)
        self.nets.append(net)
        return net, ""

    async def remove(self, ref: str) -> None:
        net = self.find(ref)
        self.nets.remove(net)

    async def connect(self, ref: str, container: str, settings: EndpointSettings) -> None:
        self.calls.append(("connect", self.find(ref).name, container, settings))

    async def disconnect(self, ref: str, container: str, force: bool) -> None:
        self.calls.append(("disconnect", self.find(ref).name, container, force))

    async def prune(self, matches: PruneFilter) -> list[str]:
        gone = [n for n in self.nets if not n.predefined and not self.endpoints.get(n.id)
                and matches.matches(0, n.labels)]
        for n in gone:
            self.nets.remove(n)
        return [n.name for n in gone]


class Running:
    def __init__(self) -> None:
        self.backend = FakeBackend()
        router = Router()
        NetworkRoutes(self.backend).install(router)
        self.server = Server(router, error_handler=error_response)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        _, port = asyncio.run_coroutine_threadsafe(self.server.serve_tcp("127.0.0.1", 0), self.loop).result(10)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    def call(self, method: str, path: str, body=None, **kw):
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            kw.setdefault("headers", {"Content-Type": "application/json"})
        r = self.client.request(method, path, content=body, **kw)
        return r.status_code, (r.json() if r.content else None)

    def stop(self) -> None:
        self.client.close()
        asyncio.run_coroutine_threadsafe(self.server.close(2), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def api():
    running = Running()
    yield running
    running.stop()


def filters(**f) -> dict:
    return {"filters": json.dumps(f)}


# -- views: dockerd 20.10's shapes ---------------------------------------------------------

def test_predefined_networks_as_dockerd_shows_them():
    bridge, host, none = predefined()
    assert network_json(bridge) == {
        "Name": "bridge", "Id": _id(1), "Created": T0, "Scope": "local", "Driver": "bridge",
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None,
                 "Config": [{"Subnet": "10.213.7.0/24", "Gateway": "10.213.7.1"}]},
        "Internal": False, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""},
        "ConfigOnly": False, "Containers": {}, "Options": BRIDGE_OPTIONS, "Labels": {}}
    for net, driver in ((host, "host"), (none, "null")):
        doc = network_json(net)
        assert (doc["Driver"], doc["IPAM"], doc["Options"], doc["Containers"]) == (
            driver, {"Driver": "default", "Options": None, "Config": []}, {}, {})
    # field order is Docker's
    assert list(network_json(host)) == ["Name", "Id", "Created", "Scope", "Driver", "EnableIPv6", "IPAM",
                                        "Internal", "Attachable", "Ingress", "ConfigFrom", "ConfigOnly",
                                        "Containers", "Options", "Labels"]


def test_ipam_config_as_given_or_as_picked():
    auto = Network(_id(5), "n2", "bridge", T0, (Pool("172.18.0.0/16", "172.18.0.1"),), internal=True,
                   attachable=True, labels={"a": "1"}, options={"com.docker.network.bridge.enable_icc": "false"})
    doc = network_json(auto)
    assert doc["IPAM"]["Config"] == [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]
    assert (doc["Internal"], doc["Attachable"], doc["Labels"], doc["Options"]) == (
        True, True, {"a": "1"}, {"com.docker.network.bridge.enable_icc": "false"})
    given = [
        (Pool("10.214.0.0/16", "10.214.0.1", configured=True), {"Subnet": "10.214.0.0/16"}),
        (Pool("10.215.0.0/16", "10.215.5.0", "10.215.5.0/24", configured=True),
         {"Subnet": "10.215.0.0/16", "IPRange": "10.215.5.0/24"}),
        (Pool("10.216.0.0/16", "10.216.0.1", "10.216.5.0/24", (("r", "10.216.5.1"), ("q", "10.216.9.9")),
              configured=True, gateway_given=True),
         {"Subnet": "10.216.0.0/16", "IPRange": "10.216.5.0/24", "Gateway": "10.216.0.1",
          "AuxiliaryAddresses": {"q": "10.216.9.9", "r": "10.216.5.1"}}),
    ]
    for pool, expected in given:
        doc = network_json(replace(auto, pools=(pool,)))
        assert doc["IPAM"]["Config"] == [expected]
    assert json.dumps(given[2][1]["AuxiliaryAddresses"]) == '{"q": "10.216.9.9", "r": "10.216.5.1"}'


def test_ipv6_config_follows_ipv4():
    net = Network(_id(5), "v6", "bridge", T0, (Pool("fd00:2::/64", "fd00:2::1", configured=True),
                                               Pool("192.168.80.0/20", "192.168.80.1")), ipv6=True)
    assert network_json(net)["IPAM"]["Config"] == [
        {"Subnet": "192.168.80.0/20", "Gateway": "192.168.80.1"}, {"Subnet": "fd00:2::/64"}]
    assert network_json(net)["EnableIPv6"] is True


def test_containers_by_id_with_their_endpoints():
    ep = Endpoint(_id(9), _id(5), "8d46" + "0" * 60, ipv4="10.214.0.3/16", mac="02:42:0a:d6:00:03")
    ep2 = Endpoint(_id(10), _id(5), "78e4" + "0" * 60, ipv4="10.214.0.2/16", mac="02:42:0a:d6:00:02")
    doc = network_json(Network(_id(5), "s1", "bridge", T0), [(ep, "c2"), (ep2, "c3")])
    assert list(doc["Containers"]) == [ep2.container_id, ep.container_id]  # Go sorts map keys
    assert doc["Containers"][ep.container_id] == {
        "Name": "c2", "EndpointID": _id(9), "MacAddress": "02:42:0a:d6:00:03",
        "IPv4Address": "10.214.0.3/16", "IPv6Address": ""}


# -- list filters ---------------------------------------------------------------------------

def nets_for_filters() -> list[Network]:
    extra = [Network(_id(4), "s1", "bridge", T0, labels={"a": "1", "b": ""}),
             Network(_id(5), "s2", "bridge", T0, labels={"a": "2"}),
             Network(_id(6), "web", "bridge", T0)]
    return predefined() + extra


def names(nets) -> list[str]:
    return [n.name for n in nets]


@pytest.mark.parametrize("f,expected", [
    ({}, ["bridge", "host", "none", "s1", "s2", "web"]),
    ({"driver": ["bridge"]}, ["bridge", "s1", "s2", "web"]),
    ({"driver": ["null", "host"]}, ["host", "none"]),
    ({"name": ["^s[12]$"]}, ["s1", "s2"]),  # dockerd 20.10: a regular expression
    ({"name": ["e"]}, ["bridge", "none", "web"]),  # unanchored: a substring
    ({"name": ["s1", "web"]}, ["s1", "web"]),
    ({"name": ["("]}, []),  # a bad expression matches nothing
    ({"id": [_id(4)[:6]]}, ["s1"]),
    ({"label": ["a"]}, ["s1", "s2"]),
    ({"label": ["a=1"]}, ["s1"]),
    ({"label": ["a", "b"]}, ["s1"]),
    ({"label": ["b="]}, ["s1"]),
    ({"scope": ["local"]}, ["bridge", "host", "none", "s1", "s2", "web"]),
    ({"scope": ["swarm"]}, []),
    ({"type": ["builtin"], "driver": ["bridge"]}, ["bridge"]),  # dockerd 20.10
    ({"type": ["custom"]}, ["s1", "s2", "web"]),
    ({"dangling": ["true"]}, ["s2", "web"]),
    ({"dangling": ["1"]}, ["s2", "web"]),
    ({"dangling": ["false"]}, ["bridge", "host", "none", "s1"]),
])
def test_list_filters(f, expected):
    in_use = {_id(4)}
    assert names(filter_networks(nets_for_filters(), f, lambda n: n.id in in_use)) == expected


@pytest.mark.parametrize("f,kind,text", [
    # dockerd 20.10, status and text
    ({"type": ["bad"]}, errors.Internal, "invalid filter: 'type'='bad'"),
    ({"dangling": ["bad"]}, errors.InvalidArgument,
     "invalid value for filter 'dangling', must be \"true\" (or \"1\"), or \"false\" (or \"0\")"),
    ({"dangling": ["true", "false"]}, errors.InvalidArgument, 'got more than one value for filter key "dangling"'),
])
def test_list_filter_errors(f, kind, text):
    with pytest.raises(kind) as exc:
        filter_networks(nets_for_filters(), f, lambda n: False)
    assert str(exc.value) == text


# -- the routes over HTTP ----------------------------------------------------------------------

def test_list_and_inspect(api):
    status, body = api.call("GET", "/networks")
    assert status == 200 and [n["Name"] for n in body] == ["bridge", "host", "none"]
    assert api.call("GET", "/networks/")[1] == body
    status, body = api.call("GET", "/networks", params=filters(nope=["x"]))
    assert (status, body) == (400, {"message": "invalid filter 'nope'"})
    status, body = api.call("GET", "/networks", params=filters(type=["bad"]))
    assert (status, body) == (500, {"message": "invalid filter: 'type'='bad'"})
    status, body = api.call("GET", "/networks/bridge")
    assert status == 200 and body["Id"] == _id(1) and body["Options"] == BRIDGE_OPTIONS
    assert api.call("GET", f"/networks/{_id(2)[:5]}")[1]["Name"] == "host"
    assert api.call("GET", "/networks/nosuch") == (404, {"message": "network nosuch not found"})


def test_inspect_verbose_and_scope(api):
    assert api.call("GET", "/networks/bridge", params={"verbose": "true"})[0] == 200
    assert api.call("GET", "/networks/bridge", params={"verbose": "0"})[0] == 200
    # dockerd 20.10
    assert api.call("GET", "/networks/bridge", params={"verbose": "x"}) == (
        400, {"message": 'invalid value for verbose: x: strconv.ParseBool: parsing "x": invalid syntax'})
    assert api.call("GET", "/networks/bridge", params={"scope": "local"})[0] == 200
    assert api.call("GET", "/networks/bridge", params={"scope": "swarm"}) == (
        404, {"message": "network bridge not found"})


def test_inspect_shows_the_containers_and_the_list_does_not(api):
    ep = Endpoint(_id(9), _id(1), "c" * 64, ipv4="10.213.7.2/24", mac="02:42:0a:d5:07:02")
    api.backend.endpoints[_id(1)] = [(ep, "c10")]
    containers = api.call("GET", "/networks/bridge")[1]["Containers"]
    assert containers == {"c" * 64: {"Name": "c10", "EndpointID": _id(9), "MacAddress": "02:42:0a:d5:07:02",
                                     "IPv4Address": "10.213.7.2/24", "IPv6Address": ""}}
    assert api.call("GET", "/networks")[1][0]["Containers"] == {}
    assert api.call("GET", "/v1.27/networks")[1][0]["Containers"] == containers  # before 1.28: detailed
    assert [n["Name"] for n in api.call("GET", "/networks", params=filters(dangling=["false"]))[1]] == [
        "bridge", "host", "none"]


def test_create(api):
    status, body = api.call("POST", "/networks/create", {"Name": "n1", "Labels": {"a": "1"}})
    assert (status, body) == (201, {"Id": _id(4), "Warning": ""})
    doc = api.call("GET", "/networks/n1")[1]
    assert doc["IPAM"]["Config"] == [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]
    assert doc["Labels"] == {"a": "1"}
    status, body = api.call("POST", "/networks/create", {
        "Name": "s3", "IPAM": {"Config": [{"Subnet": "10.216.0.0/16", "IPRange": "10.216.5.0/24",
                                           "Gateway": "10.216.0.1", "AuxiliaryAddresses": {"r": "10.216.5.1"}}]}})
    assert status == 201
    assert api.call("GET", "/networks/s3")[1]["IPAM"]["Config"] == [
        {"Subnet": "10.216.0.0/16", "IPRange": "10.216.5.0/24", "Gateway": "10.216.0.1",
         "AuxiliaryAddresses": {"r": "10.216.5.1"}}]
    req = api.backend.calls[-1][1]
    assert (req.name, req.ipam_config[0].aux, req.ipam_options) == ("s3", (("r", "10.216.5.1"),), None)
    assert api.call("GET", "/networks/s3")[1]["IPAM"]["Options"] is None


def test_ipam_options_as_sent():
    """The docker CLI always sends IPAM.Options ({} without --ipam-opt): inspect shows {}."""
    from ketch.apitypes.network import decode_create
    assert decode_create(b'{"Name": "x", "IPAM": {"Driver": "default", "Options": {}, "Config": []}}').ipam_options == {}
    assert decode_create(b'{"Name": "x", "IPAM": {"Options": {"b": "2", "a": "1"}}}').ipam_options == {"b": "2", "a": "1"}
    assert decode_create(b'{"Name": "x", "IPAM": {"Options": null}}').ipam_options is None
    assert decode_create(b'{"Name": "x"}').ipam_options is None
    net = Network(_id(5), "cn3", "bridge", T0, ipam_options={"foo": "bar"})
    assert network_json(net)["IPAM"] == {"Driver": "default", "Options": {"foo": "bar"}, "Config": []}


@pytest.mark.parametrize("body,status,message", [
    # dockerd 20.10's texts, with moby 26.1's "invalid JSON: " and statuses
    (b"", 400, "invalid name: "),
    (b"  ", 400, "invalid JSON: got EOF while reading request body"),
    (b"{}", 400, "invalid name: "),
    (b'{"Name": 1}', 400,
     "invalid JSON: json: cannot unmarshal number into Go struct field NetworkCreateRequest.Name of type string"),
    (b'{"Name": "x", "Labels": {"a": 1}}', 400,
     "invalid JSON: json: cannot unmarshal number into Go struct field NetworkCreateRequest.Labels of type string"),
    (b'{"Name": "x", "IPAM": {"Config": {"Subnet": "1"}}}', 400,
     "invalid JSON: json: cannot unmarshal object into Go struct field IPAM.IPAM.Config "
     "of type []network.IPAMConfig"),
    (b'{"Name": "x"} {}', 400, "unexpected content after JSON"),
    (b'{"Name": "x", "IPAM": {"Config": [{"Subnet": "10.213.7.0/25"}]}}', 403,
     "Pool overlaps with other one on this address space"),
    (b'{"Name": "x", "IPAM": {"Config": [{"Subnet": "10.217.0.0/16", "Gateway": "10.218.0.1"}]}}', 400,
     "invalid network config:\ninvalid gateway 10.218.0.1: parent subnet 10.217.0.0/16 doesn't contain this address"),
    (b'{"Name": "bridge"}', 409, "network with name bridge already exists"),  # the fake's rule
])
def test_create_refused(api, body, status, message):
    headers = {"Content-Type": "application/json"} if body else {}
    assert api.call("POST", "/networks/create", body, headers=headers) == (status, {"message": message})


def test_create_wants_json(api):
    status, body = api.call("POST", "/networks/create", b'{"Name": "x"}', headers={"Content-Type": "text/plain"})
    assert (status, body) == (400, {"message": "unsupported Content-Type header (text/plain): must be 'application/json'"})


def test_remove(api):
    api.call("POST", "/networks/create", {"Name": "a/b"})
    assert api.call("DELETE", "/networks/a/b") == (204, None)  # a name may hold a "/" (dockerd 20.10)
    assert api.call("DELETE", "/networks/a/b") == (404, {"message": "network a/b not found"})


def test_connect_and_disconnect(api):
    status, body = api.call("POST", "/networks/bridge/connect", {
        "Container": "c2", "EndpointConfig": {"Aliases": ["x"], "IPAMConfig": {"IPv4Address": "10.213.7.9"}}})
    assert (status, body) == (200, None)
    _, net, container, settings = api.backend.calls[-1]
    assert (net, container, settings.aliases, settings.ipv4_address) == ("bridge", "c2", ("x",), "10.213.7.9")
    assert api.call("POST", "/networks/host/disconnect", {"Container": "c2", "Force": True}) == (200, None)
    assert api.backend.calls[-1] == ("disconnect", "host", "c2", True)
    assert api.call("POST", "/networks/nosuch/connect", {"Container": "c2"}) == (
        404, {"message": "network nosuch not found"})
    assert api.call("POST", "/networks/bridge/connect", {"Container": 5}) == (400, {"message": (
        "invalid JSON: json: cannot unmarshal number into Go struct field NetworkConnect.Container of type string")})
    assert api.call("POST", "/networks/bridge/disconnect", {"Force": "yes"}) == (400, {"message": (
        "invalid JSON: json: cannot unmarshal string into Go struct field NetworkDisconnect.Force of type bool")})


def test_prune(api):
    for name, labels in (("n1", {"a": "1"}), ("n2", {}), ("busy", {"a": "1"})):
        api.call("POST", "/networks/create", {"Name": name, "Labels": labels})
    api.backend.endpoints[api.backend.find("busy").id] = [(Endpoint("e" * 64, "", "c" * 64), "c")]
    assert api.call("POST", "/networks/prune", params=filters(label=["a"])) == (200, {"NetworksDeleted": ["n1"]})
    assert api.call("POST", "/networks/prune", params=filters(nope=["a"])) == (400, {"message": "invalid filter 'nope'"})
    status, body = api.call("POST", "/networks/prune", params=filters(until=["bad"]))
    assert (status, body) == (400, {"message": 'failed to parse value as time or duration: "bad"'})
    assert api.call("POST", "/networks/prune") == (200, {"NetworksDeleted": ["n2"]})
    assert api.call("POST", "/networks/prune") == (200, {"NetworksDeleted": None})


def test_installed_beside_the_inactive_routes():
    """server.build_server installs these and then the inactive ones without theirs."""
    from ketch.api.routes import inactive
    router = Router()
    NetworkRoutes(FakeBackend()).install(router)
    inactive.add_routes(router, networks=False)
    handler, match = router.resolve("POST", "/networks/create")
    assert handler.__name__ == "create"
    with pytest.raises(ValueError, match="route already added"):
        inactive.add_routes(router)


# -- the real docker CLI against these routes ----------------------------------------------------

DOCKER = "/usr/local/bin/docker"


@pytest.fixture
def docker(api, tmp_path):
    import os
    import subprocess
    if not os.access(DOCKER, os.X_OK):
        pytest.skip(f"{DOCKER} (docker CLI 28) not installed")

    async def ping(request):
        from ketch.api.http import Response
        return Response(200, b"OK", {"Api-Version": "1.45", "Ostype": "linux"})
    api.server.router.add("GET", "/_ping", ping)
    api.server.router.add("HEAD", "/_ping", ping)
    env = {"PATH": os.environ.get("PATH", ""), "DOCKER_CONFIG": str(tmp_path),
           "DOCKER_HOST": str(api.client.base_url).replace("http://", "tcp://").rstrip("/")}

    def run(*args: str):
        res = subprocess.run([DOCKER, *args], env=env, capture_output=True, text=True, timeout=30)
        return res.returncode, res.stdout, res.stderr
    return run


def test_docker_cli_network_commands(docker, api):
    code, out, err = docker("network", "create", "--subnet", "10.214.0.0/16", "--label", "x=y", "s1")
    assert (code, err) == (0, "") and out.strip() == _id(4)
    code, out, _ = docker("network", "ls")
    assert code == 0
    lines = [line.split() for line in out.splitlines()]
    assert lines[0] == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [_id(4)[:12], "s1", "bridge", "local"] in lines
    code, out, _ = docker("network", "ls", "-q", "--filter", "label=x=y")
    assert out.split() == [_id(4)[:12]]
    code, out, _ = docker("network", "inspect", "s1")
    (doc,) = json.loads(out)
    # the docker CLI sends IPAM.Options {}: dockerd then shows {} (null for the predefined ones)
    assert doc["IPAM"] == {"Driver": "default", "Options": {}, "Config": [{"Subnet": "10.214.0.0/16"}]}
    assert doc["Labels"] == {"x": "y"}
    code, out, err = docker("network", "create", "--subnet", "10.214.1.0/24", "ov")
    assert (code, err.strip()) == (1, "Error response from daemon: Pool overlaps with other one on this address space")
    code, out, err = docker("network", "rm", "s1", "nosuch")
    assert (code, out, err.strip()) == (1, "s1\n", "Error response from daemon: network nosuch not found\nexit status 1")
    code, out, err = docker("network", "prune", "-f")
    assert (code, out, err) == (0, "", "")


def test_find_network_in_mobys_order():
    a = Network("ab" + "0" * 62, "x", "bridge", T0)
    b = Network("ac" + "0" * 62, "ab" + "0" * 62, "bridge", T0)  # named like a's id
    c = Network("d" * 64, "ac", "bridge", T0)  # named like b's id prefix
    nets = [a, b, c]
    assert find_network(nets, a.id) is a  # a full id first
    assert find_network(nets, "x") is a
    assert find_network(nets, "ac") is c  # an exact name before an id prefix
    assert find_network(nets, "ab0") is a
    with pytest.raises(errors.InvalidArgument) as exc:
        find_network(nets, "a")
    assert str(exc.value) == "network a is ambiguous (2 matches found based on ID prefix)"
    with pytest.raises(errors.InvalidArgument, match=r"^network x is ambiguous \(2 matches found on name\)$"):
        find_network([a, replace(c, name="x")], "x")
    with pytest.raises(errors.NotFound, match="^network nosuch not found$"):
        find_network(nets, "nosuch")
