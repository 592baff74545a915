"""The daemon's network settings (dockerd's flags and daemon.json keys of the same names)."""

from dataclasses import dataclass

DEFAULT_BRIDGE_NAME = "ketch0"
DEFAULT_MTU = 1500
DEFAULT_TABLE = "ketch"


@dataclass(frozen=True)
class NetworkSettings:
    bridge: str = DEFAULT_BRIDGE_NAME  # the default bridge's Linux name; "none": no default bridge
    bip: str = ""  # the default bridge's address and prefix ("172.17.0.1/16"); "": picked
    fixed_cidr: str = ""  # the default bridge's containers take addresses from here
    fixed_cidr_v6: str = ""
    ipv6: bool = False  # the default bridge has IPv6 (with fixed_cidr_v6)
    mtu: int = DEFAULT_MTU
    default_address_pools: tuple[tuple[str, int], ...] = ()  # (base, size); () moby's defaults
    iptables: bool = True  # ketch's nftables table; False: no NAT, no published ports by NAT
    ip_forward: bool = True  # turn net.ipv4.ip_forward on when a bridge is made
    ip_masq: bool = True  # outbound NAT of the default bridge
    icc: bool = True  # containers on the default bridge reach each other
    host_gateway_ip: str = ""  # what --add-host name:host-gateway means; "": the default bridge's gateway
    firewall_table: str = DEFAULT_TABLE  # the nftables table ketch owns (tests run daemons side by side)
    netns_dir: str = "/run/ketch/netns"  # <exec-root>/netns: containers' namespace files
