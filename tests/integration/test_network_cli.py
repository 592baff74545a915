"""``ketch network``, ``ketch port``, ``-p`` and ``ps``'s PORTS against a real ketchd.

These need the engine's networks (issue 10). They enable themselves: each test first asks
the daemon, and skips while ``GET /networks`` does not list the predefined ``bridge`` or
while a create with ``-p`` is refused as "not supported by this version of ketch". Subnets are in 10.232.0.0/16,
which the tests assume the host does not use.
"""

import json
import re

import pytest

NOT_SUPPORTED = "is not supported by this version of ketch"


@pytest.fixture
def networks(daemon):
    """Network names for one test (the daemon must have /networks); removed afterwards."""
    status, listed = daemon.api("GET", "/v1.45/networks")
    if status != 200 or not any(n.get("Name") == "bridge" for n in listed or []):
        pytest.skip("ketchd has no networks yet (issue 10)")
    import secrets
    used: list[str] = []

    def make() -> str:
        used.append(f"kn-{secrets.token_hex(4)}")
        return used[-1]

    yield make
    for name in used:
        daemon.api("DELETE", f"/v1.45/networks/{name}")


def _create(daemon, name: str, *flags: str) -> str:
    res = daemon.ketch("network", "create", *flags, name)
    assert res.returncode == 0, res.stderr
    assert re.fullmatch(r"[0-9a-f]{64}\n", res.stdout), res.stdout
    return res.stdout.strip()


def test_create_ls_inspect_rm(daemon, networks):
    name = networks()
    nid = _create(daemon, name, "--subnet", "10.232.1.0/24", "--gateway", "10.232.1.1",
                  "--label", "k=v", "-o", "com.docker.network.driver.mtu=1400")
    res = daemon.ketch("network", "ls", "--filter", f"name={name}",
                       "--format", "{{.ID}} {{.Name}} {{.Driver}} {{.Scope}} {{.Labels}}")
    assert res.stdout == f"{nid[:12]} {name} bridge local k=v\n", res.stderr
    assert daemon.ketch("network", "ls", "-q", "--no-trunc", "-f", f"id={nid}").stdout == nid + "\n"
    fmt = "{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Labels.k}} {{.Options}}"
    res = daemon.ketch("network", "inspect", "-f", fmt, name)
    assert res.stdout == "10.232.1.0/24 10.232.1.1 v map[com.docker.network.driver.mtu:1400]\n"
    doc, = json.loads(daemon.ketch("network", "inspect", name).stdout)
    assert (doc["Name"], doc["Id"], doc["Driver"], doc["Internal"]) == (name, nid, "bridge", False)
    assert daemon.ketch("network", "rm", name).stdout == name + "\n"
    res = daemon.ketch("network", "rm", name)
    assert (res.returncode, res.stderr) == (
        1, f"Error response from daemon: network {name} not found\nexit status 1\n")
    assert daemon.ketch("network", "rm", "-f", name).returncode == 0


def test_the_predefined_networks_are_listed_and_kept(daemon, networks):
    names = daemon.ketch("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert {"bridge", "host", "none"} <= set(names)
    res = daemon.ketch("network", "rm", "bridge")
    assert res.returncode == 1
    assert res.stderr.startswith("Error response from daemon: bridge is a pre-defined network "
                                 "and cannot be removed\n")


def test_a_name_is_taken_once(daemon, networks):
    name = networks()
    _create(daemon, name)
    res = daemon.ketch("network", "create", name)
    assert (res.returncode, res.stderr) == (
        1, f"Error response from daemon: network with name {name} already exists\n")


def test_client_side_checks_send_nothing(daemon, networks):
    res = daemon.ketch("network", "create", "--subnet", "10.232.2.0/24", "--gateway", "10.232.3.1",
                       networks())
    assert (res.returncode, res.stderr) == (1, "no matching subnet for gateway 10.232.3.1\n")


def test_prune_removes_what_no_container_uses(daemon, networks):
    name = networks()
    _create(daemon, name, "--label", "pruneme=1")
    res = daemon.ketch("network", "prune", "-f", "--filter", "label=pruneme=1")
    assert res.stdout == f"Deleted Networks:\n{name}\n\n", res.stderr
    assert name not in daemon.ketch("network", "ls", "--format", "{{.Name}}").stdout.split()


def test_connect_and_disconnect_a_running_container(daemon, networks, names):
    first, second, ctr = networks(), networks(), names()
    _create(daemon, first, "--subnet", "10.232.4.0/24")
    _create(daemon, second, "--subnet", "10.232.5.0/24")
    res = daemon.ketch("run", "-d", "--name", ctr, "--network", first, "busybox", "sleep", "60")
    assert res.returncode == 0, res.stderr
    res = daemon.ketch("network", "connect", "--alias", "db", "--ip", "10.232.5.9", second, ctr)
    assert res.returncode == 0, res.stderr
    fmt = "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}"
    shown = daemon.ketch("inspect", "-f", fmt, ctr).stdout.split()
    assert f"{second}=10.232.5.9" in shown and len(shown) == 2
    fmt = "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}"
    assert daemon.ketch("network", "inspect", "-f", fmt, second).stdout == f"{ctr} 10.232.5.9/24\n"
    res = daemon.ketch("network", "rm", second)
    assert res.returncode == 1 and "has active endpoints" in res.stderr
    assert daemon.ketch("network", "disconnect", second, ctr).returncode == 0
    assert daemon.ketch("inspect", "-f", "{{len .NetworkSettings.Networks}}", ctr).stdout == "1\n"
    daemon.ketch("rm", "-f", ctr)


def test_published_port_in_port_and_ps(daemon, names):
    ctr = names()
    res = daemon.ketch("run", "-d", "--name", ctr, "-p", "127.0.0.1::80", "--expose", "81",
                       "busybox", "sleep", "60")
    if NOT_SUPPORTED in res.stderr:
        pytest.skip("ketchd does not publish ports yet (issue 10)")
    assert res.returncode == 0, res.stderr
    try:
        host = daemon.ketch("port", ctr, "80").stdout
        assert re.fullmatch(r"127\.0\.0\.1:\d+\n", host), host
        assert daemon.ketch("port", ctr).stdout == f"80/tcp -> {host}"
        res = daemon.ketch("port", ctr, "81")
        assert (res.returncode, res.stderr) == (1, f"Error: No public port '81' published for {ctr}\n")
        ports = daemon.ketch("ps", "--filter", f"name={ctr}", "--format", "{{.Ports}}").stdout
        assert ports == f"81/tcp, {host.strip()}->80/tcp\n"
    finally:
        daemon.ketch("rm", "-f", ctr)
