"""ketch's networking driven by the real docker CLI and the docker Python SDK, unchanged.

Each test makes networks of its own (unique names, a /24 of 10.231.0.0/16 each: the test
daemons' default bridges are in 10.213.0.0/16, the differential rows use 10.231.200+)
and removes them, and the containers it ran, before it ends.
"""

import ipaddress
import json
import os
import shutil
import time
import urllib.request
import uuid
from contextlib import contextmanager

import pytest

from tests.integration.conftest import wait_until

needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")

# busybox httpd serving "hello from <name>" on port 80
HTTPD = "mkdir /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"


def _net_name() -> str:
    return f"kn-{uuid.uuid4().hex[:12]}"


@contextmanager
def _network(daemon, *args: str):
    """``docker network create ARGS NAME``; removed afterwards (with what still uses it)."""
    name = _net_name()
    res = daemon.docker("network", "create", *args, name)
    assert res.returncode == 0, res.stderr
    try:
        yield name
    finally:
        status, doc = daemon.api("GET", f"/networks/{name}")
        if status == 200:
            for cid in doc.get("Containers") or {}:
                daemon.api("DELETE", f"/containers/{cid}?force=1")
            daemon.api("DELETE", f"/networks/{name}")


def _fetch(url: str, timeout: float = 10) -> str:
    """The body at ``url``, retried while the server inside the container comes up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _in(subnet: str, address: str) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(subnet, strict=False)


# -- docker network create / ls / inspect / rm ----------------------------------------------

@needs_docker
def test_docker_network_create_ls_inspect_rm(daemon):
    name = _net_name()
    res = daemon.docker("network", "create", "--subnet", "10.231.1.0/24", "--gateway", "10.231.1.254",
                        "--label", "team=a", "--internal", name)
    assert res.returncode == 0, res.stderr
    nid = res.stdout.strip()
    assert len(nid) == 64
    try:
        ls = daemon.docker("network", "ls", "--filter", f"name={name}",
                           "--format", "{{.ID}} {{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.Labels}}")
        assert ls.stdout == f"{nid[:12]} {name} bridge local true team=a\n", ls.stderr
        table = daemon.docker("network", "ls").stdout.splitlines()
        assert table[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
        assert {line.split()[1] for line in table[1:]} >= {"bridge", "host", "none", name}
        assert daemon.docker("network", "ls", "-q", "--filter", f"name={name}").stdout == nid[:12] + "\n"

        doc = json.loads(daemon.docker("network", "inspect", name).stdout)[0]
        assert (doc["Name"], doc["Id"], doc["Driver"], doc["Scope"]) == (name, nid, "bridge", "local")
        assert doc["IPAM"] == {"Driver": "default", "Options": {},
                               "Config": [{"Subnet": "10.231.1.0/24", "Gateway": "10.231.1.254"}]}
        assert (doc["Internal"], doc["Attachable"], doc["EnableIPv6"]) == (True, False, False)
        assert (doc["Labels"], doc["Containers"], doc["Options"]) == ({"team": "a"}, {}, {})
        fmt = daemon.docker("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}",
                            nid[:12])
        assert fmt.stdout == "10.231.1.0/24 10.231.1.254\n", fmt.stderr

        dup = daemon.docker("network", "create", name)
        assert (dup.returncode, dup.stderr) == (1, f"Error response from daemon: network with name {name} "
                                                   "already exists\n")
        overlap = daemon.docker("network", "create", "--subnet", "10.231.1.128/25", _net_name())
        assert overlap.returncode == 1
        assert overlap.stderr == "Error response from daemon: Pool overlaps with other one on this address space\n"
        outside = daemon.docker("network", "create", "--subnet", "10.231.2.0/24", "--gateway", "10.231.3.1",
                                _net_name())
        assert (outside.returncode, outside.stderr) == (1, "no matching subnet for gateway 10.231.3.1\n")
    finally:
        rm = daemon.docker("network", "rm", name)
    assert (rm.returncode, rm.stdout) == (0, f"{name}\n"), rm.stderr
    again = daemon.docker("network", "rm", name)
    assert again.returncode == 1
    assert again.stderr.startswith(f"Error response from daemon: network {name} not found\n")
    predefined = daemon.docker("network", "rm", "host")
    assert predefined.stderr.startswith("Error response from daemon: host is a pre-defined network "
                                        "and cannot be removed\n")


@needs_docker
def test_docker_network_prune(daemon, names):
    label = f"kn-prune={uuid.uuid4().hex[:8]}"
    with _network(daemon, "--subnet", "10.231.4.0/24", "--label", label) as used, \
            _network(daemon, "--subnet", "10.231.5.0/24", "--label", label) as unused:
        keeper = names()
        daemon.docker("run", "-d", "--name", keeper, "--network", used, "busybox", "sleep", "60", check=True)
        res = daemon.docker("network", "prune", "-f", "--filter", f"label={label}")
        assert (res.returncode, res.stdout) == (0, f"Deleted Networks:\n{unused}\n\n"), res.stderr
        left = daemon.docker("network", "ls", "--filter", f"label={label}", "--format", "{{.Name}}")
        assert left.stdout == f"{used}\n"
        assert daemon.docker("network", "prune", "-f", "--filter", f"label={label}").stdout == ""


# -- connect / disconnect, names and aliases through the embedded DNS -----------------------

@needs_docker
def test_docker_containers_resolve_each_other_by_name_and_alias(daemon, names):
    with _network(daemon, "--subnet", "10.231.6.0/24", "--gateway", "10.231.6.1") as net:
        server, client = names("srv"), names("cli")
        daemon.docker("run", "-d", "--name", server, "--network", net, "--network-alias", "web",
                      "busybox", "sh", "-c", HTTPD, check=True)
        daemon.docker("run", "-d", "--name", client, "busybox", "sleep", "60", check=True)  # default bridge

        # not on the network yet: the default bridge has no embedded DNS
        res = daemon.docker("exec", client, "nslookup", server)
        assert res.returncode != 0, res.stdout

        res = daemon.docker("network", "connect", "--alias", "cl", "--ip", "10.231.6.77", net, client)
        assert (res.returncode, res.stdout, res.stderr) == (0, "", "")
        again = daemon.docker("network", "connect", net, client)
        assert (again.returncode, again.stderr) == (
            1, f"Error response from daemon: endpoint with name {client} already exists in network {net}\n")

        server_ip = daemon.docker("inspect", "-f", f'{{{{(index .NetworkSettings.Networks "{net}").IPAddress}}}}',
                                  server).stdout.strip()
        assert _in("10.231.6.0/24", server_ip), server_ip
        hostname = daemon.docker("inspect", "-f", "{{.Config.Hostname}}", server).stdout.strip()
        for target in (server, "web", server_ip):
            body = daemon.docker("exec", client, "timeout", "5", "wget", "-q", "-O", "-", f"http://{target}/")
            assert body.stdout == f"hello from {hostname}\n", (target, body.stderr)
        short_id = daemon.docker("inspect", "-f", "{{.Id}}", server).stdout[:12]
        looked = daemon.docker("exec", client, "nslookup", short_id)
        assert looked.returncode == 0 and server_ip in looked.stdout, looked.stdout + looked.stderr
        for name in (client, "cl"):  # the server resolves the client by its name and its alias
            looked = daemon.docker("exec", server, "nslookup", name)
            assert looked.returncode == 0 and "10.231.6.77" in looked.stdout, (name, looked.stdout, looked.stderr)

        net_doc = json.loads(daemon.docker("network", "inspect", net).stdout)[0]
        inspected = net_doc["Containers"]
        assert sorted(c["Name"] for c in inspected.values()) == sorted([server, client])
        assert {c["Name"]: c["IPv4Address"] for c in inspected.values()}[client] == "10.231.6.77/24"
        settings = json.loads(daemon.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", client).stdout)
        assert set(settings) == {"bridge", net}
        assert "cl" in settings[net]["Aliases"] and settings[net]["IPAMConfig"]["IPv4Address"] == "10.231.6.77"

        in_use = daemon.docker("network", "rm", net)
        assert in_use.returncode == 1
        assert in_use.stderr.startswith(f"Error response from daemon: error while removing network: network {net} "
                                        f"id {net_doc['Id']} "
                                        "has active endpoints\n"), in_use.stderr

        res = daemon.docker("network", "disconnect", net, client)
        assert (res.returncode, res.stderr) == (0, "")
        assert json.loads(daemon.docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", client).stdout).keys() \
            == {"bridge"}
        looked = daemon.docker("exec", server, "nslookup", "cl")
        assert looked.returncode != 0, looked.stdout
        res = daemon.docker("network", "disconnect", net, client)
        assert res.returncode == 1
        assert res.stderr.endswith(f"is not connected to network {net}\n"), res.stderr
        daemon.docker("rm", "-f", server, client, check=True)
        assert daemon.docker("network", "rm", net).returncode == 0


@needs_docker
def test_docker_network_events(daemon, names):
    start = time.time() - 1
    container = names()
    daemon.docker("run", "-d", "--name", container, "busybox", "sleep", "60", check=True)
    with _network(daemon, "--subnet", "10.231.7.0/24") as net:
        daemon.docker("network", "connect", net, container, check=True)
        daemon.docker("network", "disconnect", net, container, check=True)
        daemon.docker("network", "rm", net, check=True)
    cid = daemon.docker("inspect", "-f", "{{.Id}}", container).stdout.strip()
    res = daemon.docker("events", "--filter", "type=network", "--filter", f"network={net}",
                        "--since", f"{start:.3f}", "--until", f"{time.time() + 1:.3f}",
                        "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}} "
                                    "{{.Actor.Attributes.type}} {{.Actor.Attributes.container}}")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        f"network create {net} bridge <no value>",
        f"network connect {net} bridge {cid}",
        f"network disconnect {net} bridge {cid}",
        f"network destroy {net} bridge <no value>",
    ]
    daemon.docker("rm", "-f", container, check=True)


# -- published ports --------------------------------------------------------------------------

@needs_docker
def test_docker_publish_port_then_port_ps_and_fetch(daemon, names):
    name = names()
    daemon.docker("run", "-d", "--name", name, "-p", "127.0.0.1::80", "busybox", "sh", "-c", HTTPD, check=True)
    port = daemon.docker("port", name)
    assert port.returncode == 0, port.stderr
    (line,) = port.stdout.splitlines()
    container_port, _, host = line.partition(" -> ")
    assert container_port == "80/tcp" and host.startswith("127.0.0.1:"), line
    host_port = int(host.rpartition(":")[2])
    assert daemon.docker("port", name, "80").stdout == f"{host}\n"
    assert daemon.docker("port", name, "80/tcp").stdout == f"{host}\n"
    missing = daemon.docker("port", name, "81")
    assert (missing.returncode, missing.stderr) == (1, f"Error: No public port '81' published for {name}\n")
    ps = daemon.docker("ps", "--filter", f"name={name}", "--format", "{{.Ports}}")
    assert ps.stdout == f"127.0.0.1:{host_port}->80/tcp\n", ps.stderr
    hostname = daemon.docker("inspect", "-f", "{{.Config.Hostname}}", name).stdout
    assert _fetch(f"http://127.0.0.1:{host_port}/") == f"hello from {hostname}"
    ports = json.loads(daemon.docker("inspect", "-f", "{{json .NetworkSettings.Ports}}", name).stdout)
    assert ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(host_port)}]}
    daemon.docker("rm", "-f", name, check=True)
    with pytest.raises(OSError):  # the port is closed with the container
        urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=2)


@needs_docker
def test_docker_publish_all_exposed_ports(daemon, names):
    name = names()
    daemon.docker("run", "-d", "--name", name, "-P", "--expose", "80", "--expose", "7000/udp",
                  "busybox", "sh", "-c", HTTPD, check=True)
    lines = daemon.docker("port", name).stdout.splitlines()
    ipv4 = [line for line in lines if "0.0.0.0:" in line]
    assert sorted(line.split(" -> ")[0] for line in ipv4) == ["7000/udp", "80/tcp"], lines
    host_port = int(next(line for line in ipv4 if line.startswith("80/tcp")).rpartition(":")[2])
    ps = daemon.docker("ps", "--filter", f"name={name}", "--format", "{{.Ports}}").stdout
    assert f"0.0.0.0:{host_port}->80/tcp" in ps, ps
    assert "hello from" in _fetch(f"http://127.0.0.1:{host_port}/")
    daemon.docker("rm", "-f", name, check=True)


# -- network modes, links, DNS options ----------------------------------------------------------

@needs_docker
def test_docker_network_modes(daemon, names):
    none = daemon.docker("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net")
    assert none.stdout == "lo\n", none.stderr
    host = daemon.docker("run", "--rm", "--network", "host", "-p", "80", "busybox", "readlink", "/proc/self/ns/net")
    assert host.stdout == os.readlink("/proc/self/ns/net") + "\n", host.stderr
    assert host.stderr == "WARNING: Published ports are discarded when using host network mode\n"
    owner = names()
    with _network(daemon, "--subnet", "10.231.8.0/24") as net:
        daemon.docker("run", "-d", "--name", owner, "--network", net, "busybox", "sleep", "60", check=True)
        ns = daemon.docker("exec", owner, "readlink", "/proc/self/ns/net").stdout
        joined = daemon.docker("run", "--rm", "--network", f"container:{owner}", "busybox", "sh", "-c",
                               "readlink /proc/self/ns/net; ip -4 -o addr show eth0")
        assert joined.stdout.startswith(ns), joined.stdout + joined.stderr
        assert " 10.231.8." in joined.stdout, joined.stdout
        unknown = daemon.docker("run", "--rm", "--network", _net_name(), "busybox", "true")
        assert unknown.returncode == 125
        assert "network kn-" in unknown.stderr and "not found" in unknown.stderr, unknown.stderr
        assert "Unable to find image" not in unknown.stderr  # a create-time 404 makes the CLI pull
        daemon.docker("rm", "-f", owner, check=True)


@needs_docker
def test_docker_link_on_the_default_bridge(daemon, names):
    server, client = names("srv"), names("cli")
    daemon.docker("run", "-d", "--name", server, "--expose", "80", "busybox", "sh", "-c", HTTPD, check=True)
    ip = daemon.docker("inspect", "-f", "{{.NetworkSettings.IPAddress}}", server).stdout.strip()
    res = daemon.docker("run", "--rm", "--name", client, "--link", f"{server}:web", "busybox", "sh", "-c",
                        "grep -w web /etc/hosts; echo $WEB_PORT; timeout 5 wget -q -O - http://web/")
    hosts_line, env, body = res.stdout.splitlines()
    assert hosts_line.split()[0] == ip and "web" in hosts_line.split()[1:], res.stdout + res.stderr
    assert env == f"tcp://{ip}:80"
    assert body.startswith("hello from ")
    daemon.docker("rm", "-f", server, check=True)


@needs_docker
def test_docker_dns_options_and_extra_hosts(daemon):
    with _network(daemon, "--subnet", "10.231.9.0/24") as net:
        res = daemon.docker("run", "--rm", "--network", net, "--dns", "192.0.2.53", "--dns-search", "example.com",
                            "--dns-option", "ndots:2", "--add-host", "h1:10.1.2.3", "--add-host", "gw:host-gateway",
                            "busybox", "sh", "-c", "grep -v '^#' /etc/resolv.conf | grep .; echo ---; "
                                                   "grep -E 'h1|gw' /etc/hosts")
        assert res.returncode == 0, res.stderr
        resolv, _, hosts = res.stdout.partition("---\n")
        # on a user network the container asks the embedded DNS, which forwards to --dns
        assert sorted(resolv.splitlines()) == ["nameserver 127.0.0.11", "options ndots:2", "search example.com"]
        bridge_gateway = daemon.docker("network", "inspect", "-f", "{{(index .IPAM.Config 0).Gateway}}",
                                       "bridge").stdout.strip()
        assert hosts.splitlines() == ["10.1.2.3\th1", f"{bridge_gateway}\tgw"]
    res = daemon.docker("run", "--rm", "--network", "none", "--dns", "192.0.2.53", "busybox",
                        "grep", "^nameserver", "/etc/resolv.conf")
    assert res.stdout == "nameserver 192.0.2.53\n", res.stderr


# -- the SDK --------------------------------------------------------------------------------------

def test_sdk_networks_create_connect_disconnect_remove(daemon):
    import docker
    from docker.types import IPAMConfig, IPAMPool
    client = daemon.sdk()
    name = _net_name()
    net = client.networks.create(name, driver="bridge", labels={"k": "v"},
                                 ipam=IPAMConfig(pool_configs=[IPAMPool(subnet="10.231.10.0/24",
                                                                        gateway="10.231.10.1")]))
    container = None
    try:
        assert [n.id for n in client.networks.list(names=[name])] == [net.id]
        assert name in [n.name for n in client.networks.list(filters={"label": "k=v"})]
        got = client.networks.get(name)
        assert got.attrs["IPAM"]["Config"] == [{"Subnet": "10.231.10.0/24", "Gateway": "10.231.10.1"}]
        assert got.attrs["Labels"] == {"k": "v"} and got.containers == []

        container = client.containers.run("busybox", "sleep 60", detach=True)
        net.connect(container, aliases=["sdk-alias"], ipv4_address="10.231.10.50")
        net.reload()
        assert [c.id for c in net.containers] == [container.id]
        container.reload()
        ep = container.attrs["NetworkSettings"]["Networks"][name]
        assert ep["IPAddress"] == "10.231.10.50" and ep["Gateway"] == "10.231.10.1" and ep["IPPrefixLen"] == 24
        assert "sdk-alias" in ep["Aliases"] and ep["NetworkID"] == net.id
        with pytest.raises(docker.errors.APIError) as err:
            net.remove()
        assert err.value.status_code == 403 and "has active endpoints" in err.value.explanation
        net.disconnect(container)
        container.reload()
        assert name not in container.attrs["NetworkSettings"]["Networks"]
        with pytest.raises(docker.errors.APIError) as err:
            net.disconnect(container)
        assert "is not connected to network" in err.value.explanation
    finally:
        if container is not None:
            container.remove(force=True)
        net.remove()
    with pytest.raises(docker.errors.NotFound):
        client.networks.get(name)
    pruned = client.networks.prune(filters={"label": "k=v"})
    assert name not in (pruned.get("NetworksDeleted") or [])


def test_sdk_published_ports(daemon):
    client = daemon.sdk()
    container = client.containers.run("busybox", ["sh", "-c", HTTPD], detach=True, ports={"80/tcp": None})
    try:
        container.reload()
        bindings = container.ports["80/tcp"]
        v4 = [b for b in bindings if b["HostIp"] == "0.0.0.0"]
        assert len(v4) == 1 and int(v4[0]["HostPort"]) > 0, bindings
        settings = container.attrs["NetworkSettings"]
        assert settings["Ports"] == container.ports
        bridge = settings["Networks"]["bridge"]
        assert settings["IPAddress"] == bridge["IPAddress"] and settings["Gateway"] == bridge["Gateway"]
        assert _in(f"{bridge['Gateway']}/{bridge['IPPrefixLen']}", bridge["IPAddress"])
        assert _fetch(f"http://127.0.0.1:{v4[0]['HostPort']}/") == f"hello from {container.attrs['Config']['Hostname']}\n"
    finally:
        container.remove(force=True)
    fixed = client.containers.run("busybox", ["sh", "-c", HTTPD], detach=True, ports={"80/tcp": ("127.0.0.1", None)})
    try:
        fixed.reload()
        assert [b["HostIp"] for b in fixed.ports["80/tcp"]] == ["127.0.0.1"]
        assert wait_until(lambda: "hello" in _fetch(f"http://127.0.0.1:{fixed.ports['80/tcp'][0]['HostPort']}/"), 10)
    finally:
        fixed.remove(force=True)
