"""/etc/hosts of a running container connected to, then disconnected from, a network
(moby's sbJoin updateHostsFile and sbLeave deleteHostsEntries)."""

from ketch.engine.networks.etcfiles import hosts_with, hosts_without

BASE = "127.0.0.1\tlocalhost\n10.231.236.5\t9d06001b104d\n"


def test_a_connect_appends_the_containers_names_for_its_new_addresses():
    config = {"Hostname": "9d06001b104d"}
    assert hosts_with(BASE, config, ("10.231.235.9", "")) == BASE + "10.231.235.9\t9d06001b104d\n"
    both = hosts_with(BASE, config, ("10.231.235.9", "fd00::9"))
    assert both.endswith("10.231.235.9\t9d06001b104d\nfd00::9\t9d06001b104d\n")
    assert hosts_with(BASE, {"Hostname": "h", "Domainname": "example.com"}, ("10.0.0.2",)).endswith(
        "10.0.0.2\th.example.com h\n")


def test_a_disconnect_removes_those_lines_only():
    config = {"Hostname": "9d06001b104d"}
    joined = hosts_with(BASE + "10.1.2.3\tmine\n", config, ("10.231.235.9",))
    assert hosts_without(joined, config, ("10.231.235.9", "")) == BASE + "10.1.2.3\tmine\n"
    assert hosts_without(BASE, config, ("10.9.9.9",)) == BASE
