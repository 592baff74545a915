"""Container networking on the real kernel, driven through the ketch CLI (issue 10).

Topologies: the default bridge; user-defined networks with names, aliases and
isolation; --internal; published ports reached from the host (127.0.0.1, the bridge's
address), from other containers and from the container itself (hairpin); outbound
traffic to a server the test runs in a network namespace of its own, behind a veth (no
other address is ever contacted); --network none|host|container:X; connect and
disconnect of a running container; a ketchd restart with live containers.

Subnets: the daemon's default bridge is a 10.213.N.0/24 of its own and its user
networks take ``daemon.subnet(k)`` (10.(180+k).N.0/24), so parallel daemons never
share one. NOTE: busybox's ``wget -T`` segfaults (busybox 1.35); timeouts here come
from ``timeout``.
"""

import ipaddress
import json
import os
import socket
import subprocess
import urllib.request

import pytest

from tests.integration.conftest import wait_until


def _ok(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 0, (res.returncode, res.stdout, res.stderr)
    return res.stdout


@pytest.fixture
def nets(daemon):
    """Network names for one test; removed (with their containers gone) afterwards."""
    used: list[str] = []

    def make(k: int, *flags: str) -> str:
        name = f"kn-{os.getpid()}-{len(used)}-{k}"
        _ok(daemon.ketch("network", "create", "--subnet", daemon.subnet(k), *flags, name))
        used.append(name)
        return name

    yield make
    for name in used:
        # this fixture is torn down before `names` (set up first): the test's containers
        # still sit on the network, and a network with endpoints cannot be removed
        _, net = daemon.api("GET", f"/networks/{name}")
        for cid in (net or {}).get("Containers") or {}:
            daemon.api("DELETE", f"/containers/{cid}?force=1")
        _ok(daemon.ketch("network", "rm", name))


def _run_d(daemon, names, *args: str) -> str:
    name = names()
    _ok(daemon.ketch("run", "-d", "--name", name, *args))
    return name


def _httpd(daemon, names, *args: str) -> str:
    """A busybox httpd serving /etc (so /hostname answers with the container's name)."""
    return _run_d(daemon, names, *args, "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")


def _inspect(daemon, name: str) -> dict:
    return json.loads(_ok(daemon.ketch("inspect", name)))[0]


def _ip(daemon, name: str, network: str = "bridge") -> str:
    return _inspect(daemon, name)["NetworkSettings"]["Networks"][network]["IPAddress"]


def _fetch(daemon, *args: str, url: str, seconds: int = 5) -> subprocess.CompletedProcess:
    return daemon.ketch("run", "--rm", *args, "busybox", "timeout", str(seconds), "wget", "-qO-", url)


def _get(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.read().decode()


def _gateway(daemon) -> str:
    return daemon.bip.split("/")[0]


# -- the default bridge --------------------------------------------------------------

def test_default_bridge_gives_an_address_a_route_and_a_hosts_line(daemon, names):
    name = names()
    out = _ok(daemon.ketch("run", "--name", name, "--hostname", "box", "busybox", "sh", "-c",
                           "ip -4 -o addr show eth0; ip route; tail -1 /etc/hosts; cat /etc/hostname"))
    lines = out.splitlines()
    address = lines[0].split()[3]
    subnet = ipaddress.ip_network(daemon.bip, strict=False)
    assert ipaddress.ip_interface(address).network == subnet
    assert f"default via {_gateway(daemon)} dev eth0" in lines[1]
    assert lines[-2:] == [f"{address.split('/')[0]}\tbox", "box"]
    # stopped: the address is released and inspect shows none, as Docker's
    net = _inspect(daemon, name)["NetworkSettings"]["Networks"]["bridge"]
    assert net["IPAddress"] == "" and net["NetworkID"]


def test_inspect_and_ps_show_the_network(daemon, names):
    name = _run_d(daemon, names, "-p", "127.0.0.1::80", "--expose", "90", "busybox", "sleep", "60")
    doc = _inspect(daemon, name)
    ns = doc["NetworkSettings"]
    bridge = ns["Networks"]["bridge"]
    assert ns["IPAddress"] == bridge["IPAddress"] and ns["Gateway"] == _gateway(daemon)
    assert bridge["MacAddress"] == "02:42:" + ":".join(
        f"{int(b):02x}" for b in bridge["IPAddress"].split("."))
    port = ns["Ports"]["80/tcp"][0]
    assert port["HostIp"] == "127.0.0.1" and int(port["HostPort"]) > 1024
    assert ns["Ports"]["90/tcp"] is None
    assert ns["SandboxKey"] and os.path.exists(ns["SandboxKey"])
    ports = _ok(daemon.ketch("ps", "--filter", f"name={name}", "--format", "{{.Ports}}")).strip()
    assert ports == f"90/tcp, 127.0.0.1:{port['HostPort']}->80/tcp"  # groups first, as docker
    assert _ok(daemon.ketch("port", name, "80")) == f"127.0.0.1:{port['HostPort']}\n"
    for flt in (f"publish={port['HostPort']}", "expose=90", "network=bridge"):
        listed = _ok(daemon.ketch("ps", "-f", flt, "-f", f"name={name}", "--format", "{{.Names}}"))
        assert listed == f"{name}\n", flt
    for flt in ("publish=90", "expose=91", "network=none"):
        assert _ok(daemon.ketch("ps", "-f", flt, "-f", f"name={name}", "-q")) == "", flt
    status, stats = daemon.api("GET", f"/containers/{name}/stats?stream=0&one-shot=1")
    assert status == 200 and set(stats["networks"]) == {"eth0"}
    assert list(stats["networks"]["eth0"])[:2] == ["rx_bytes", "rx_packets"]


def test_containers_on_the_default_bridge_reach_each_other_by_address(daemon, names):
    web = _httpd(daemon, names)
    hostname = _inspect(daemon, web)["Config"]["Hostname"] + "\n"
    assert _ok(_fetch(daemon, url=f"http://{_ip(daemon, web)}/hostname")) == hostname


# -- outbound ------------------------------------------------------------------------

class _Outside:
    """An HTTP server in a network namespace of the test's own, behind a veth pair whose
    host end is a /30 of 10.214.N.0/24 (N: the daemon's): "the internet" for these tests."""

    def __init__(self, daemon, n: int) -> None:
        self.ns = f"kt-out-{os.getpid()}-{n}"
        self.host_if = f"kto{os.getpid() % 100000}{n}"
        # the daemon's own /24 number (held by it alone) picks the /30: never shared
        base = ipaddress.ip_address(f"10.214.{daemon.bip.split('.')[2]}.0") + 4 * n
        self.host_ip, self.address = str(base + 1), str(base + 2)
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "_Outside":
        run = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True)  # noqa: E731
        run("ip", "netns", "add", self.ns)
        try:
            run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", "eth0", "netns", self.ns)
            run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            run("ip", "link", "set", self.host_if, "up")
            for cmd in (("ip", "addr", "add", f"{self.address}/30", "dev", "eth0"),
                        ("ip", "link", "set", "eth0", "up"), ("ip", "link", "set", "lo", "up")):
                run("ip", "netns", "exec", self.ns, *cmd)
            code = ("import http.server,sys\n"
                    "class H(http.server.BaseHTTPRequestHandler):\n"
                    "    def do_GET(self):\n"
                    "        body=self.client_address[0].encode()\n"
                    "        self.send_response(200); self.send_header('Content-Length',str(len(body)))\n"
                    "        self.end_headers(); self.wfile.write(body)\n"
                    "    def log_message(self,*a): pass\n"
                    f"http.server.HTTPServer(('{self.address}',8000),H).serve_forever()\n")
            self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, "python3", "-c", code])
            assert wait_until(self._listening, 10), "the outside server did not start"
        except BaseException:
            self.__exit__()
            raise
        return self

    def _listening(self) -> bool:
        try:
            with socket.create_connection((self.address, 8000), timeout=0.5):
                return True
        except OSError:
            return False

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)

    @property
    def url(self) -> str:
        return f"http://{self.address}:8000/"


def test_containers_reach_the_outside_through_nat(daemon, nets):
    with _Outside(daemon, 0) as outside:
        # the server sees the host's address: the container's was masqueraded
        assert _ok(_fetch(daemon, url=outside.url)) == outside.host_ip
        net = nets(1)
        assert _ok(_fetch(daemon, "--network", net, url=outside.url)) == outside.host_ip
        internal = nets(2, "--internal")
        res = _fetch(daemon, "--network", internal, url=outside.url, seconds=2)
        assert res.returncode != 0 and res.stdout == ""


# -- user-defined networks -----------------------------------------------------------

def test_user_network_names_aliases_and_isolation(daemon, names, nets):
    net, other = nets(3), nets(4)
    web = _httpd(daemon, names, "--network", net, "--network-alias", "www")
    web_ip = _ip(daemon, web, net)
    assert ipaddress.ip_address(web_ip) in ipaddress.ip_network(daemon.subnet(3))
    short = _inspect(daemon, web)["Id"][:12]
    out = _ok(daemon.ketch("run", "--rm", "--network", net, "busybox", "sh", "-c",
                           f"for n in {web} www {short} {web}.{net}; do nslookup $n 127.0.0.11 | "
                           "tail -n +3 | grep Address; done; cat /etc/resolv.conf | grep nameserver; "
                           "timeout 5 wget -qO- http://www/hostname"))
    assert out.splitlines() == [f"Address: {web_ip}"] * 4 + ["nameserver 127.0.0.11", short]
    # another network: the name does not resolve and the address is not reachable
    res = daemon.ketch("run", "--rm", "--network", other, "busybox", "sh", "-c",
                       f"nslookup {web} 127.0.0.11 >/dev/null 2>&1 && echo resolved; "
                       f"timeout 2 wget -qO- http://{web_ip}/hostname || echo unreachable")
    assert _ok(res) == "unreachable\n"
    # the default bridge has no names either
    res = daemon.ketch("run", "--rm", "busybox", "sh", "-c",
                       f"timeout 2 wget -qO- http://{web_ip}/hostname || echo unreachable")
    assert _ok(res) == "unreachable\n"


def test_an_alias_shared_by_two_containers_answers_both(daemon, names, nets):
    net = nets(5)
    a = _run_d(daemon, names, "--network", net, "--network-alias", "db", "busybox", "sleep", "60")
    b = _run_d(daemon, names, "--network", net, "--network-alias", "db", "busybox", "sleep", "60")
    out = _ok(daemon.ketch("run", "--rm", "--network", net, "busybox", "sh", "-c",
                           "nslookup db 127.0.0.11 | tail -n +3 | grep Address"))
    assert sorted(out.split()[1::2]) == sorted([_ip(daemon, a, net), _ip(daemon, b, net)])


def test_inspect_before_api_1_45_lists_the_short_id_among_the_aliases(daemon, names, nets):
    # moby v26 for older clients (docker-compose 1.29 reads them; 1.45 moved it to DNSNames)
    net = nets(8)
    box = _run_d(daemon, names, "--network", net, "--network-alias", "al", "busybox", "sleep", "60")
    for version, aliases in (("1.45", ["al"]), ("1.44", ["al", "<short>"]), ("1.41", ["al", "<short>"])):
        status, doc = daemon.api("GET", f"/v{version}/containers/{box}/json")
        short = doc["Id"][:12]
        assert doc["NetworkSettings"]["Networks"][net]["Aliases"] == [a.replace("<short>", short) for a in aliases]
    status, doc = daemon.api("GET", f"/v1.41/containers/{_run_d(daemon, names, 'busybox', 'sleep', '60')}/json")
    assert doc["NetworkSettings"]["Networks"]["bridge"]["Aliases"] is None


def test_connect_and_disconnect_a_running_container(daemon, names, nets):
    net = nets(6)
    peer = _run_d(daemon, names, "--network", net, "busybox", "sleep", "60")
    box = _run_d(daemon, names, "busybox", "sleep", "60")
    _ok(daemon.ketch("network", "connect", "--alias", "extra", net, box))
    address = _ip(daemon, box, net)
    out = _ok(daemon.ketch("exec", box, "ip", "-4", "-o", "addr", "show", "eth1"))
    assert f"inet {address}/24" in out
    out = _ok(daemon.ketch("exec", peer, "nslookup", "extra", "127.0.0.11"))
    assert f"Address: {address}" in out
    res = daemon.ketch("network", "connect", net, box)
    assert res.returncode == 1
    assert f"endpoint with name {box} already exists in network {net}" in res.stderr
    _ok(daemon.ketch("network", "disconnect", net, box))
    assert "eth1" not in _ok(daemon.ketch("exec", box, "ip", "-o", "link"))
    assert net not in _inspect(daemon, box)["NetworkSettings"]["Networks"]
    res = daemon.ketch("network", "rm", net)  # peer is still attached
    assert res.returncode == 1 and "has active endpoints" in res.stderr


def test_ip_and_mac_asked_for(daemon, names, nets):
    net = nets(7)
    want = str(ipaddress.ip_network(daemon.subnet(7))[50])
    name = _run_d(daemon, names, "--network", net, "--ip", want, "--mac-address", "02:42:00:00:00:99",
                  "busybox", "sleep", "60")
    out = _ok(daemon.ketch("exec", name, "ip", "-o", "link", "show", "eth0"))
    assert "02:42:00:00:00:99" in out and _ip(daemon, name, net) == want
    res = daemon.ketch("run", "--rm", "--network", net, "--ip", want, "busybox", "true")
    assert res.returncode == 125 and "Address already in use" in res.stderr
    res = daemon.ketch("run", "--rm", "--network", net, "--ip", "10.1.2.3", "busybox", "true")
    assert res.returncode == 125 and "10.1.2.3" in res.stderr
    res = daemon.ketch("run", "--rm", "--ip", "10.1.2.3", "busybox", "true")
    assert res.returncode == 125 and "user specified IP address is supported" in res.stderr


# -- published ports -------------------------------------------------------------------

def test_published_port_from_the_host_other_containers_and_itself(daemon, names, nets):
    web = _httpd(daemon, names, "-p", "80")
    hostname = _inspect(daemon, web)["Config"]["Hostname"] + "\n"
    port = int(_ok(daemon.ketch("port", web, "80/tcp")).splitlines()[0].rsplit(":", 1)[1])
    assert _get(f"http://127.0.0.1:{port}/hostname") == hostname
    assert _get(f"http://{_gateway(daemon)}:{port}/hostname") == hostname
    via_host = f"http://{_gateway(daemon)}:{port}/hostname"
    assert _ok(_fetch(daemon, url=via_host)) == hostname  # another container
    assert _ok(daemon.ketch("exec", web, "timeout", "5", "wget", "-qO-", via_host)) == hostname  # hairpin
    net = nets(8)
    assert _ok(_fetch(daemon, "--network", net, url=via_host)) == hostname  # another network


def test_a_port_already_allocated_fails_the_start_and_leaves_nothing(daemon, names):
    first = _run_d(daemon, names, "-p", "127.0.0.1::80", "busybox", "sleep", "60")
    port = _ok(daemon.ketch("port", first, "80")).split(":")[-1].strip()
    second = names()
    res = daemon.ketch("run", "-d", "--name", second, "-p", f"127.0.0.1:{port}:80", "busybox", "sleep", "60")
    assert res.returncode == 125
    assert (f"driver failed programming external connectivity on endpoint {second}" in res.stderr
            and f"Bind for 127.0.0.1:{port} failed: port is already allocated" in res.stderr), res.stderr
    assert _inspect(daemon, second)["State"]["Running"] is False
    assert not [e for e in os.listdir(os.path.join(daemon.exec_root, "netns"))
                if e.startswith(_inspect(daemon, second)["Id"])]
    # a port another program holds
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        taken = s.getsockname()[1]
        res = daemon.ketch("run", "--rm", "-p", f"127.0.0.1:{taken}:80", "busybox", "true")
        assert res.returncode == 125 and "address already in use" in res.stderr, res.stderr
    _ok(daemon.ketch("rm", "-f", first))
    _ok(daemon.ketch("run", "--rm", "-p", f"127.0.0.1:{port}:80", "busybox", "true"))  # released


def test_publish_all_exposed_ports(daemon, names):
    name = _run_d(daemon, names, "-P", "--expose", "80", "--expose", "81/udp", "busybox", "sleep", "60")
    ports = _inspect(daemon, name)["NetworkSettings"]["Ports"]
    assert set(ports) == {"80/tcp", "81/udp"} and all(ports[k] for k in ports)


# -- modes -------------------------------------------------------------------------------

def test_network_none_host_and_container_modes(daemon, names):
    out = _ok(daemon.ketch("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net"))
    assert out.split() == ["lo"]
    before = set(os.listdir("/sys/class/net"))  # other tests add and delete veths meanwhile
    out = _ok(daemon.ketch("run", "--rm", "--network", "host", "busybox", "sh", "-c",
                           "ls /sys/class/net; echo; hostname"))
    after = set(os.listdir("/sys/class/net"))
    links, host = out.split("\n\n")
    assert before & after <= set(links.split())  # what stayed the whole time, it saw
    assert host.strip() == socket.gethostname()
    box = _run_d(daemon, names, "busybox", "sleep", "60")
    out = _ok(daemon.ketch("run", "--rm", "--network", f"container:{box}", "busybox",
                           "ip", "-4", "-o", "addr", "show", "eth0"))
    assert f"inet {_ip(daemon, box)}/" in out
    res = daemon.ketch("run", "--rm", "--network", "container:nosuch-x", "busybox", "true")
    assert res.returncode == 125 and "No such container: nosuch-x" in res.stderr


def test_container_mode_keeps_the_joined_container_by_id_and_takes_its_names(daemon, names):
    # moby sets them at start (compose's network_mode: service:x relies on it)
    box, joined = names(), names()
    _ok(daemon.ketch("run", "-d", "--name", box, "--hostname", "ahost", "--domainname", "ex.test",
                     "busybox", "sleep", "60"))
    _ok(daemon.ketch("create", "--name", joined, "--network", f"container:{box}", "busybox",
                     "sleep", "60"))
    created = _inspect(daemon, joined)
    assert created["Config"]["Hostname"] == created["Id"][:12]
    # the other is kept by its id (moby's adaptSharedNamespaceContainer)
    assert created["HostConfig"]["NetworkMode"] == "container:" + _inspect(daemon, box)["Id"]
    _ok(daemon.ketch("start", joined))
    cfg = _inspect(daemon, joined)["Config"]
    assert (cfg["Hostname"], cfg["Domainname"]) == ("ahost", "ex.test")
    out = _ok(daemon.ketch("exec", joined, "sh", "-c", "hostname; cat /etc/hostname; hostname -d"))
    assert out.split() == ["ahost", "ahost", "ex.test"]


def test_dns_options_and_extra_hosts_in_the_files(daemon):
    out = _ok(daemon.ketch("run", "--rm", "--dns", "192.0.2.53", "--dns-search", "example.test",
                           "--dns-option", "ndots:3", "--add-host", "db:10.9.8.7",
                           "--add-host", "gw:host-gateway", "busybox", "sh", "-c",
                           "grep -v '^#' /etc/resolv.conf | grep .; grep -wE 'db|gw' /etc/hosts"))  # -w: a short id may hold 'db'
    assert out.splitlines() == ["nameserver 192.0.2.53", "search example.test", "options ndots:3",
                                "10.9.8.7\tdb", f"{_gateway(daemon)}\tgw"]


def test_link_on_the_default_bridge(daemon, names):
    web = _run_d(daemon, names, "--expose", "80", "-e", "SECRET=s3", "busybox", "sleep", "60")
    me = names()
    out = _ok(daemon.ketch("run", "--rm", "--name", me, "--link", f"{web}:db", "busybox", "sh", "-c",
                           "env | grep ^DB_ | sort; grep -w db /etc/hosts"))
    ip = _ip(daemon, web)
    assert f"DB_NAME=/{me}/db" in out and f"DB_PORT=tcp://{ip}:80" in out
    assert "DB_ENV_SECRET=s3" in out and f"{ip}\tdb " in out
    res = daemon.ketch("run", "--rm", "--link", "nosuch-y:db", "busybox", "true")
    assert res.returncode == 125 and "could not get container for nosuch-y" in res.stderr


# -- bad input -----------------------------------------------------------------------------

def test_bad_network_input_leaves_nothing(daemon, nets):
    before = _ok(daemon.ketch("network", "ls", "-q"))
    taken = nets(9)
    for flags, words in (
            (["--subnet", daemon.subnet(9)], "Pool overlaps with other one on this address space"),
            (["--subnet", daemon.subnet(10), "--gateway", "10.1.1.1"], "no matching subnet for gateway"),
            (["--subnet", "300.1.1.0/24"], "invalid")):
        res = daemon.ketch("network", "create", *flags, f"kn-bad-{os.getpid()}")
        assert res.returncode != 0 and words in res.stderr, (flags, res.stderr)
    res = daemon.ketch("network", "create", "--subnet", daemon.subnet(11), taken)
    assert res.returncode == 1 and f"network with name {taken} already exists" in res.stderr
    assert set(_ok(daemon.ketch("network", "ls", "-q")).split()) == set(before.split()) | {
        _ok(daemon.ketch("network", "inspect", "-f", "{{.Id}}", taken))[:12]}
    res = daemon.ketch("run", "--rm", "--network", "nosuch-net", "busybox", "true")
    assert res.returncode == 125 and "network nosuch-net not found" in res.stderr
    res = daemon.ketch("network", "rm", "bridge")
    assert res.returncode == 1 and "bridge is a pre-defined network and cannot be removed" in res.stderr


# -- restart -------------------------------------------------------------------------------

def test_restart_keeps_live_containers_addresses_names_and_ports(fresh_daemon, names):
    d = fresh_daemon
    _ok(d.ketch("network", "create", "--subnet", d.subnet(0), "kn-live"))
    _ok(d.ketch("run", "-d", "--name", "web", "--network", "kn-live", "-p", "127.0.0.1::80",
                "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"))
    address = _ip(d, "web", "kn-live")
    port = _ok(d.ketch("port", "web", "80")).split(":")[-1].strip()
    d.restart()
    assert _ip(d, "web", "kn-live") == address
    hostname = _inspect(d, "web")["Config"]["Hostname"] + "\n"
    assert _get(f"http://127.0.0.1:{port}/hostname") == hostname
    out = _ok(d.ketch("run", "--rm", "--network", "kn-live", "busybox", "timeout", "5", "wget", "-qO-",
                      "http://web/hostname"))
    assert out == hostname
    res = d.ketch("run", "--rm", "-p", f"127.0.0.1:{port}:80", "busybox", "true")
    assert res.returncode == 125 and "port is already allocated" in res.stderr
    _ok(d.ketch("rm", "-f", "web"))
    _ok(d.ketch("network", "rm", "kn-live"))


def test_icc_false_keeps_a_networks_containers_apart(daemon, names, nets):
    net = nets(12, "-o", "com.docker.network.bridge.enable_icc=false")
    web = _httpd(daemon, names, "--network", net)
    res = daemon.ketch("run", "--rm", "--network", net, "busybox", "sh", "-c",
                       f"nslookup {web} 127.0.0.11 >/dev/null && echo resolved; "
                       f"timeout 2 wget -qO- http://{_ip(daemon, web, net)}/hostname || echo unreachable")
    assert _ok(res) == "resolved\nunreachable\n"  # names still resolve; traffic does not pass


def test_network_disabled_means_no_network(daemon, names):
    name = names()
    status, doc = daemon.api("POST", f"/containers/create?name={name}",
                             {"Image": "busybox", "Cmd": ["ls", "/sys/class/net"], "NetworkDisabled": True})
    assert status == 201, doc
    _ok(daemon.ketch("start", "-a", name))
    assert _ok(daemon.ketch("logs", name)).split() == ["lo"]


def test_without_iptables_published_tcp_ports_go_through_the_proxy(fresh_daemon):
    d = fresh_daemon
    d.stop()
    d.write_config(iptables=False)
    d.start()
    _ok(d.ketch("run", "-d", "--name", "web", "-p", "127.0.0.1::80", "busybox", "httpd", "-f", "-p", "80",
                "-h", "/etc"))
    port = _ok(d.ketch("port", "web", "80")).split(":")[-1].strip()
    assert _get(f"http://127.0.0.1:{port}/hostname") == _inspect(d, "web")["Config"]["Hostname"] + "\n"
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert d.firewall_table not in tables.split()
    _ok(d.ketch("rm", "-f", "web"))


def test_an_ipv6_network(daemon, names, nets):
    subnet6 = ipaddress.ip_network(f"fd00:213:{daemon.bip.split('.')[2]}::/64")
    net = nets(13, "--ipv6", "--subnet", str(subnet6))
    web = _httpd(daemon, names, "--network", net)
    doc = _inspect(daemon, web)["NetworkSettings"]["Networks"][net]
    v6 = doc["GlobalIPv6Address"]
    assert ipaddress.ip_address(v6) in subnet6, doc
    assert doc["IPv6Gateway"] == str(subnet6[1]) and doc["GlobalIPv6PrefixLen"] == 64
    out = _ok(daemon.ketch("run", "--rm", "--network", net, "busybox", "sh", "-c",
                           f"nslookup -type=aaaa {web} 127.0.0.11 | tail -n +3 | grep Address; "
                           f"timeout 5 wget -qO- http://[{v6}]/hostname"))
    assert out.splitlines() == [f"Address: {v6}", _inspect(daemon, web)["Config"]["Hostname"]]


def test_a_renamed_container_answers_to_its_new_name(daemon, names, nets):
    net = nets(14)
    old, new = names(), names()
    _ok(daemon.ketch("run", "-d", "--name", old, "--network", net, "busybox", "sleep", "60"))
    _ok(daemon.ketch("rename", old, new))
    out = _ok(daemon.ketch("run", "--rm", "--network", net, "busybox", "sh", "-c",
                           f"nslookup {new} 127.0.0.11 >/dev/null && echo new; "
                           f"nslookup {old} 127.0.0.11 >/dev/null && echo old; true"))
    assert out == "new\n"
