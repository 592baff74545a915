"""ketchd's network settings: dockerd's flags and daemon.json keys."""

import json

import pytest

from ketch.daemon.config import load
from ketch.errors import InvalidArgument


def _load(tmp_path, doc: dict, *flags: str):
    path = tmp_path / "daemon.json"
    path.write_text(json.dumps(doc))
    cfg, _ = load(["--config-file", str(path), "--exec-root", str(tmp_path / "exec"), *flags])
    return cfg.network


def test_defaults(tmp_path):
    net = _load(tmp_path, {})
    assert (net.bridge, net.bip, net.mtu, net.iptables, net.ip_forward, net.ip_masq, net.icc,
            net.firewall_table) == ("ketch0", "", 1500, True, True, True, True, "ketch")
    assert net.netns_dir == str(tmp_path / "exec" / "netns")


def test_file_and_flags(tmp_path):
    net = _load(tmp_path, {"bip": "10.9.0.1/24", "mtu": 1400, "icc": False,
                           "default-address-pools": [{"base": "10.10.0.0/16", "size": 24}]},
                "--bridge", "br9", "--iptables=false", "--default-address-pool", "base=10.11.0.0/16,size=24",
                "--firewall-table", "t9", "--host-gateway-ip", "10.9.0.254", "--fixed-cidr", "10.9.0.128/25")
    assert (net.bridge, net.bip, net.mtu, net.icc, net.iptables, net.firewall_table) == (
        "br9", "10.9.0.1/24", 1400, False, False, "t9")
    assert net.default_address_pools == (("10.10.0.0/16", 24), ("10.11.0.0/16", 24))
    assert (net.host_gateway_ip, net.fixed_cidr) == ("10.9.0.254", "10.9.0.128/25")


@pytest.mark.parametrize("doc, words", [
    ({"bip": "nonsense"}, "invalid bip"),
    ({"default-address-pools": [{"base": "10.0.0.0/8"}]}, "invalid default address pool"),
])
def test_bad_settings(tmp_path, doc, words):
    with pytest.raises(InvalidArgument, match=words):
        _load(tmp_path, doc)
